#include "executor/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

static char mem_root[400], pids_root[400], cpu_root[400];
static int active, is_v2;
static unsigned seq;

int
cgroup_active(void)
{
	return active;
}

static int
write_str(const char *dir, const char *file, const char *val)
{
	char path[600];
	int fd, rc;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = write_all(fd, val, strlen(val));
	close(fd);
	return rc;
}

static int
read_str(const char *dir, const char *file, char *out, size_t n)
{
	char path[600];
	int fd;
	ssize_t got;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = read(fd, out, n - 1);
	close(fd);
	if (got < 0)
		return -1;
	out[got] = '\0';
	return 0;
}

/* Reads file in dir, through fd (at offset 0) when it is open. */
static int
read_str_at(int fd, const char *dir, const char *file, char *out, size_t n)
{
	ssize_t got;

	if (fd < 0)
		return read_str(dir, file, out, n);
	got = pread(fd, out, n - 1, 0);
	if (got < 0)
		return -1;
	out[got] = '\0';
	return 0;
}

/* Our own group in a hierarchy: the path after "<id>:<name>:" in
 * /proc/self/cgroup. */
static int
own_path(const char *controller, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];
	int found = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (b == NULL)
			continue;
		*b = '\0';
		line[strcspn(line, "\n")] = '\0';
		b[1 + strcspn(b + 1, "\n")] = '\0';
		if (strcmp(a + 1, controller) == 0 ||
		    (controller[0] == '\0' && strcmp(line, "0") == 0 && a[1] == '\0')) {
			snprintf(out, n, "%s", strcmp(b + 1, "/") == 0 ? "" : b + 1);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Removes groups left by slot processes that no longer exist (an
 * executor killed with SIGKILL leaves its groups behind). */
static void
sweep(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		int pid;
		char path[700];
		if (sscanf(de->d_name, "j%d-", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", root, de->d_name);
		(void)rmdir(path);
	}
	closedir(d);
}

int
cgroup_init(char *why, size_t whylen)
{
	char own[300], buf[256];

	/* cgroup v1: memory and pids hierarchies of their own. */
	if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0 &&
	    access("/sys/fs/cgroup/pids", F_OK) == 0 && own_path("memory", own, sizeof own) == 0) {
		snprintf(mem_root, sizeof mem_root, "/sys/fs/cgroup/memory%s/evald", own);
		if (own_path("pids", own, sizeof own) == 0)
			snprintf(pids_root, sizeof pids_root, "/sys/fs/cgroup/pids%s/evald", own);
		if ((mkdir(mem_root, 0755) == 0 || errno == EEXIST) &&
		    (mkdir(pids_root, 0755) == 0 || errno == EEXIST)) {
			sweep(mem_root);
			sweep(pids_root);
			/* CPU bandwidth where the cpu controller is there too */
			if (access("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", F_OK) == 0 &&
			    own_path("cpu", own, sizeof own) == 0) {
				snprintf(cpu_root, sizeof cpu_root, "/sys/fs/cgroup/cpu%s/evald",
				         own);
				if (mkdir(cpu_root, 0755) == 0 || errno == EEXIST)
					sweep(cpu_root);
				else
					cpu_root[0] = '\0';
			}
			active = 1;
			return 1;
		}
		snprintf(why, whylen, "cannot create %s: %s", mem_root, strerror(errno));
		return 0;
	}
	/* cgroup v2: a child of our own group with memory and pids enabled. */
	if (read_str("/sys/fs/cgroup", "cgroup.controllers", buf, sizeof buf) == 0 &&
	    strstr(buf, "memory") && strstr(buf, "pids") && own_path("", own, sizeof own) == 0) {
		char parent[360];
		snprintf(parent, sizeof parent, "/sys/fs/cgroup%.300s", own);
		snprintf(mem_root, sizeof mem_root, "%s/evald", parent);
		if ((mkdir(mem_root, 0755) == 0 || errno == EEXIST) &&
		    write_str(parent, "cgroup.subtree_control", "+memory +pids") == 0 &&
		    write_str(mem_root, "cgroup.subtree_control", "+memory +pids") == 0) {
			sweep(mem_root);
			/* CPU bandwidth too, where delegated */
			if (strstr(buf, "cpu") &&
			    write_str(parent, "cgroup.subtree_control", "+cpu") == 0 &&
			    write_str(mem_root, "cgroup.subtree_control", "+cpu") == 0)
				snprintf(cpu_root, sizeof cpu_root, "%s", mem_root);
			active = is_v2 = 1;
			return 1;
		}
		snprintf(why, whylen,
		         "cgroup v2 has no delegated memory and pids controllers here");
		return 0;
	}
	snprintf(why, whylen, "no cgroup memory and pids controllers are mounted");
	return 0;
}

static void
open_files(struct cgroup *cg)
{
	char path[600];

	snprintf(path, sizeof path, "%s/%s", cg->mem,
	         cg->v2 ? "memory.events" : "memory.oom_control");
	cg->oom_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof path, "%s/%s", cg->mem,
	         cg->v2 ? "memory.peak" : "memory.max_usage_in_bytes");
	cg->peak_fd = open(path, (cg->v2 ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	cg->files_open = 1;
}

void
cgroup_close_files(struct cgroup *cg)
{
	if (!cg->files_open)
		return;
	if (cg->oom_fd >= 0)
		close(cg->oom_fd);
	if (cg->peak_fd >= 0)
		close(cg->peak_fd);
	cg->files_open = 0;
}

int
cgroup_enter(struct cgroup *cg, pid_t pid, int64_t mem_bytes, int64_t pids, int64_t cpus)
{
	char val[64], name[64];

	memset(cg, 0, sizeof *cg);
	if (!active)
		return -1;
	snprintf(name, sizeof name, "j%d-%u", (int)getpid(), seq++);
	snprintf(cg->mem, sizeof cg->mem, "%s/%s", mem_root, name);
	cg->v2 = is_v2;
	if (mkdir(cg->mem, 0755) < 0)
		goto fail;
	snprintf(val, sizeof val, "%lld", (long long)mem_bytes);
	if (is_v2) {
		if (write_str(cg->mem, "memory.max", val) < 0 ||
		    (write_str(cg->mem, "memory.swap.max", "0") < 0 && errno != ENOENT))
			goto fail;
		snprintf(val, sizeof val, "%lld", (long long)pids);
		if (write_str(cg->mem, "pids.max", val) < 0)
			goto fail;
		if (cpu_root[0]) {
			snprintf(val, sizeof val, "%lld 100000", (long long)cpus * 100000);
			if (write_str(cg->mem, "cpu.max", val) < 0)
				goto fail;
		}
		snprintf(val, sizeof val, "%d", (int)pid);
		if (write_str(cg->mem, "cgroup.procs", val) < 0)
			goto fail;
		open_files(cg);
		return 0;
	}
	if (write_str(cg->mem, "memory.limit_in_bytes", val) < 0)
		goto fail;
	/* Without swap accounting the file is absent: fine. */
	(void)write_str(cg->mem, "memory.memsw.limit_in_bytes", val);
	snprintf(cg->pids, sizeof cg->pids, "%s/%s", pids_root, name);
	if (mkdir(cg->pids, 0755) < 0)
		goto fail;
	snprintf(val, sizeof val, "%lld", (long long)pids);
	if (write_str(cg->pids, "pids.max", val) < 0)
		goto fail;
	if (cpu_root[0]) {
		snprintf(cg->cpu, sizeof cg->cpu, "%s/%s", cpu_root, name);
		snprintf(val, sizeof val, "%lld", (long long)cpus * 100000);
		if (mkdir(cg->cpu, 0755) < 0 ||
		    write_str(cg->cpu, "cpu.cfs_period_us", "100000") < 0 ||
		    write_str(cg->cpu, "cpu.cfs_quota_us", val) < 0)
			goto fail;
	}
	snprintf(val, sizeof val, "%d", (int)pid);
	if (write_str(cg->mem, "cgroup.procs", val) < 0 ||
	    write_str(cg->pids, "cgroup.procs", val) < 0 ||
	    (cg->cpu[0] && write_str(cg->cpu, "cgroup.procs", val) < 0))
		goto fail;
	open_files(cg);
	return 0;
fail:
	log_warn("cgroup %s", cg->mem);
	cgroup_remove(cg);
	return -1;
}

void
cgroup_reset_peak(const struct cgroup *cg)
{
	if (cg->mem[0] == '\0' || cg->v2)
		return;
	if (cg->files_open && cg->peak_fd >= 0)
		(void)pwrite(cg->peak_fd, "0", 1, 0);
	else
		(void)write_str(cg->mem, "memory.max_usage_in_bytes", "0");
}

int64_t
cgroup_oom_count(const struct cgroup *cg)
{
	char buf[1024], *p;

	if (cg->mem[0] == '\0' ||
	    read_str_at(cg->files_open ? cg->oom_fd : -1, cg->mem,
	                cg->v2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) < 0)
		return 0;
	p = strstr(buf, "oom_kill ");
	return p != NULL ? atoll(p + 9) : 0;
}

int64_t
cgroup_peak_kb(const struct cgroup *cg)
{
	char buf[64];

	if (cg->mem[0] == '\0' ||
	    read_str_at(cg->files_open ? cg->peak_fd : -1, cg->mem,
	                cg->v2 ? "memory.peak" : "memory.max_usage_in_bytes", buf, sizeof buf) < 0)
		return -1;
	return atoll(buf) / 1024;
}

int
cgroup_try_remove(struct cgroup *cg)
{
	cgroup_close_files(cg);
	if (cg->mem[0] && rmdir(cg->mem) < 0 && errno == EBUSY)
		return -1;
	cg->mem[0] = '\0';
	if (cg->pids[0] && rmdir(cg->pids) < 0 && errno == EBUSY)
		return -1;
	cg->pids[0] = '\0';
	if (cg->cpu[0] && rmdir(cg->cpu) < 0 && errno == EBUSY)
		return -1;
	cg->cpu[0] = '\0';
	return 0;
}

void
cgroup_remove(struct cgroup *cg)
{
	cgroup_close_files(cg);
	for (int i = 0; i < 50; i++) {
		int busy = 0;
		if (cg->mem[0] && rmdir(cg->mem) < 0 && errno == EBUSY)
			busy = 1;
		if (cg->pids[0] && rmdir(cg->pids) < 0 && errno == EBUSY)
			busy = 1;
		if (cg->cpu[0] && rmdir(cg->cpu) < 0 && errno == EBUSY)
			busy = 1;
		if (!busy)
			break;
		usleep(2000); /* the last process is still being torn down */
	}
	cg->mem[0] = cg->pids[0] = cg->cpu[0] = '\0';
}
