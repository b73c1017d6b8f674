#include "executor/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "executor/cgroup.h"
#include "executor/filter.h"
#include "executor/workdir.h"

/* Ids inside the sandbox: init runs as 0 (mapped to an unprivileged host
 * id), the job as SANDBOX_UID. */
#define SANDBOX_UID 1000
#define NEWROOT "/tmp"
#define GRACE_MS 10000

/* What init reports before streaming the work directory. */
struct sb_status {
	int wstatus;
	int timed_out;
	int stopped_early;
	int exec_failed;
	int64_t wall_ms;
	int64_t cpu_ms;
	int64_t maxrss_kb;
};

const char *
sandbox_status_name(enum sandbox_status s)
{
	static const char *const names[] = {"ok",           "runtime_error", "timeout",
	                                    "memory_limit", "output_limit",  "internal_error"};
	return names[s];
}

/* ---- inside the sandbox: init and the job process ---------------------- */

/* Reports a setup failure to the parent through the status pipe and exits:
 * the parent turns it into an internal_error naming the step. */
static void __attribute__((noreturn)) init_fail(int status_fd, const char *what)
{
	char msg[300];
	int n = snprintf(msg, sizeof msg, "E%s: %s", what, strerror(errno));
	if (n > 0 && write(status_fd, msg, (size_t)n) < 0)
		_exit(110);
	_exit(111);
}

/* Closes every descriptor except those in keep. */
static void
close_except(const int *keep, int nkeep)
{
	int lo = 0;

	for (;;) {
		int next = -1;
		for (int i = 0; i < nkeep; i++)
			if (keep[i] >= lo && (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0) {
			syscall(SYS_close_range, lo, ~0U, 0);
			return;
		}
		if (next > lo)
			syscall(SYS_close_range, lo, next - 1, 0);
		lo = next + 1;
	}
}

/* Bind-mounts src read-only onto dst, keeping the flags the kernel locks
 * on mounts inherited from a more privileged namespace. */
static int
bind_ro(const char *src, const char *dst)
{
	struct statvfs sv;
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID;

	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (statvfs(src, &sv) == 0) {
		if (sv.f_flag & ST_NODEV)
			flags |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			flags |= MS_NOEXEC;
		if (sv.f_flag & ST_NOATIME)
			flags |= MS_NOATIME;
		if (sv.f_flag & ST_NODIRATIME)
			flags |= MS_NODIRATIME;
		if (sv.f_flag & ST_RELATIME)
			flags |= MS_RELATIME;
	}
	return mount(NULL, dst, NULL, flags, NULL);
}

static int
write_text(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	int rc;

	if (fd < 0)
		return -1;
	rc = write_all(fd, data, len);
	close(fd);
	return rc;
}

static const char *const system_dirs[] = {"/usr",   "/bin",   "/sbin",  "/lib",
                                          "/lib64", "/lib32", "/libx32"};
static const char *const dev_nodes[] = {"null", "zero", "full", "random", "urandom"};

/* Mounts a job's work directory on path: an empty tmpfs the sandbox user
 * owns, of sandbox_tmpfs_mb, with room for the session's files. */
static int
mount_work(const struct sandbox_spec *spec, const char *path)
{
	char opts[160];

	snprintf(opts, sizeof opts, "size=%lld,mode=0755,uid=%d,gid=%d,nr_inodes=%lld",
	         (long long)spec->tmpfs_bytes, SANDBOX_UID, SANDBOX_UID,
	         (long long)spec->save_max_files * 2 + 8192);
	return mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts);
}

/* A shell started ahead of its job (spec->shell_ahead) is /bin/sh with the
 * script "sh", a link in /run/evald to the descriptor it reads its command
 * on: so $0 and every message of the shell's ("sh: 1: foo: not found")
 * are what `/bin/sh -c CMD` gives. Before CMD come the steps that make the
 * rest as -c would find it: the descriptor closed, the work directory
 * entered, and no OLDPWD from that. All on CMD's first line, so that line
 * numbers stay CMD's own. */
#define SHELL_FD 9
#define SHELL_FD_S STRINGIFY(SHELL_FD)
#define STRINGIFY(x) STRINGIFY_(x)
#define STRINGIFY_(x) #x
#define SHELL_DIR "/run/evald"
static const char *const shell_argv[] = {"/bin/sh", "sh", NULL};
static const char shell_prologue[] = "exec " SHELL_FD_S "<&-; cd /work; unset OLDPWD; ";

/* Builds the new root under NEWROOT and pivots into it. */
static void
init_build_root(const struct sandbox_spec *spec, int sfd)
{
	char path[256], opts[128];
	static const char passwd[] = "root:x:0:0:root:/:/bin/sh\n"
	                             "sandbox:x:1000:1000:sandbox:/work:/bin/sh\n"
	                             "nobody:x:65534:65534:nobody:/:/bin/sh\n";
	static const char group[] = "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n";
	static const char hosts[] = "127.0.0.1 localhost\n::1 localhost\n";

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		init_fail(sfd, "making mounts private");
	if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755") < 0)
		init_fail(sfd, "mounting the root tmpfs");
	for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++) {
		struct stat st;
		char target[256];
		ssize_t n;

		if (lstat(system_dirs[i], &st) < 0)
			continue;
		snprintf(path, sizeof path, NEWROOT "%s", system_dirs[i]);
		if (S_ISLNK(st.st_mode)) {
			/* merged /usr: /bin -> usr/bin and friends */
			n = readlink(system_dirs[i], target, sizeof target - 1);
			if (n < 0)
				init_fail(sfd, "reading a system link");
			target[n] = '\0';
			if (symlink(target, path) < 0)
				init_fail(sfd, "linking a system directory");
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(path, 0755) < 0 || bind_ro(system_dirs[i], path) < 0)
				init_fail(sfd, system_dirs[i]);
		}
	}
	/* An /etc of our own: no shadow, no evald configuration, no secrets. */
	if (mkdir(NEWROOT "/etc", 0755) < 0 ||
	    write_text(NEWROOT "/etc/passwd", passwd, sizeof passwd - 1, 0644) < 0 ||
	    write_text(NEWROOT "/etc/group", group, sizeof group - 1, 0644) < 0 ||
	    write_text(NEWROOT "/etc/hosts", hosts, sizeof hosts - 1, 0644) < 0 ||
	    write_text(NEWROOT "/etc/hostname", "sandbox\n", 8, 0644) < 0)
		init_fail(sfd, "writing /etc");
	if (access("/etc/ld.so.cache", R_OK) == 0 &&
	    (write_text(NEWROOT "/etc/ld.so.cache", "", 0, 0644) < 0 ||
	     bind_ro("/etc/ld.so.cache", NEWROOT "/etc/ld.so.cache") < 0))
		init_fail(sfd, "/etc/ld.so.cache");
	if (access("/etc/alternatives", R_OK) == 0 &&
	    (mkdir(NEWROOT "/etc/alternatives", 0755) < 0 ||
	     bind_ro("/etc/alternatives", NEWROOT "/etc/alternatives") < 0))
		init_fail(sfd, "/etc/alternatives");

	/* The writable places: the work directory and /tmp, size-limited. */
	if (mkdir(NEWROOT "/work", 0755) < 0 || mount_work(spec, NEWROOT "/work") < 0)
		init_fail(sfd, "mounting /work");
	snprintf(opts, sizeof opts, "size=%lld,mode=1777", (long long)spec->tmpfs_bytes);
	if (mkdir(NEWROOT "/tmp", 0755) < 0 ||
	    mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		init_fail(sfd, "mounting /tmp");

	/* A minimal /dev: a few bound character devices and a private shm. */
	if (mkdir(NEWROOT "/dev", 0755) < 0)
		init_fail(sfd, "creating /dev");
	for (size_t i = 0; i < sizeof dev_nodes / sizeof dev_nodes[0]; i++) {
		char src[64];
		snprintf(src, sizeof src, "/dev/%s", dev_nodes[i]);
		snprintf(path, sizeof path, NEWROOT "/dev/%s", dev_nodes[i]);
		if (write_text(path, "", 0, 0666) < 0 || mount(src, path, NULL, MS_BIND, NULL) < 0)
			init_fail(sfd, src);
	}
	snprintf(opts, sizeof opts, "size=%lld,mode=1777", (long long)spec->tmpfs_bytes);
	if (mkdir(NEWROOT "/dev/shm", 01777) < 0 ||
	    mount("tmpfs", NEWROOT "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
		init_fail(sfd, "mounting /dev/shm");
	if (symlink("/proc/self/fd", NEWROOT "/dev/fd") < 0 ||
	    symlink("/proc/self/fd/0", NEWROOT "/dev/stdin") < 0 ||
	    symlink("/proc/self/fd/1", NEWROOT "/dev/stdout") < 0 ||
	    symlink("/proc/self/fd/2", NEWROOT "/dev/stderr") < 0)
		init_fail(sfd, "linking /dev/fd");

	/* A /proc of the new PID namespace: only the job's processes. */
	if (mkdir(NEWROOT "/proc", 0555) < 0 ||
	    mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") <
	        0)
		init_fail(sfd, "mounting /proc");

	/* evald's own files: the harness, stdin, a `python` command. */
	if (mkdir(NEWROOT "/run", 0755) < 0 || mkdir(NEWROOT "/run/evald", 0755) < 0 ||
	    mkdir(NEWROOT "/run/evald/bin", 0755) < 0 ||
	    symlink("/usr/bin/python3", NEWROOT "/run/evald/bin/python") < 0)
		init_fail(sfd, "writing /run/evald");
	if (spec->extra_name != NULL) {
		snprintf(path, sizeof path, NEWROOT "/run/evald/%s", spec->extra_name);
		if (write_text(path, spec->extra_data, spec->extra_len, 0444) < 0)
			init_fail(sfd, "writing the harness");
	}
	if (spec->shell_ahead && symlink("/proc/self/fd/" SHELL_FD_S, NEWROOT SHELL_DIR "/sh") < 0)
		init_fail(sfd, "linking the shell's script");
	if (spec->zygote) {
		int fd;
		if (write_text(NEWROOT "/run/evald/zygote.pyc", spec->zygote_data, spec->zygote_len,
		               0444) < 0 ||
		    write_text(NEWROOT "/run/evald/_zygote.so", spec->zygote_mod_data,
		               spec->zygote_mod_len, 0444) < 0 ||
		    mkdir(NEWROOT "/run/evald/work", 0755) < 0)
			init_fail(sfd, "writing the zygote");
		fd = open(NEWROOT "/run/evald/filter.bpf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		          0444);
		if (fd < 0 || filter_export(fd) < 0)
			init_fail(sfd, "exporting the seccomp filter");
		close(fd);
	}
	if (mkdir(NEWROOT "/oldroot", 0700) < 0 || chdir(NEWROOT) < 0 ||
	    syscall(SYS_pivot_root, ".", "oldroot") < 0)
		init_fail(sfd, "pivot_root");
	if (chroot(".") < 0 || chdir("/") < 0 || umount2("/oldroot", MNT_DETACH) < 0 ||
	    rmdir("/oldroot") < 0)
		init_fail(sfd, "detaching the old root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
	    0)
		init_fail(sfd, "making the root read-only");
	if (sethostname("sandbox", 7) < 0)
		init_fail(sfd, "sethostname");
}

static void
set_limit(int res, int64_t v, int sfd, const char *what)
{
	struct rlimit rl;

	rl.rlim_cur = rl.rlim_max = v < 0 ? RLIM_INFINITY : (rlim_t)v;
	if (setrlimit(res, &rl) < 0)
		init_fail(sfd, what);
}

#define ARGV_MAX 64

/* What init sends a job process made before its job, when the job comes:
 * its CPU limit, then argv_len bytes of argv (NUL-separated strings; none:
 * the spec's argv). */
struct sb_cmdhdr {
	int64_t cpu_s;
	uint32_t argv_len;
};

#define CMD_ARGV_MAX (1u << 21)

/* Reads that into *cpu_s and argv. Returns 0, or -1 at end of file (no
 * job). The job process reads it after its limits are set, so it allocates
 * nothing: the strings go to a static buffer (no page of it is touched
 * before a job process reads into it). */
static int
read_command(int fd, const struct sandbox_spec *spec, int64_t *cpu_s, const char **argv)
{
	static char blob[CMD_ARGV_MAX + 1];
	struct sb_cmdhdr h;
	size_t off = 0;
	int argc = 0;

	if (read_full(fd, &h, sizeof h) < 0 || h.argv_len > CMD_ARGV_MAX)
		return -1;
	*cpu_s = h.cpu_s;
	if (h.argv_len == 0) {
		for (argc = 0; argc < ARGV_MAX - 1 && spec->argv[argc] != NULL; argc++)
			argv[argc] = spec->argv[argc];
		argv[argc] = NULL;
		return 0;
	}
	if (read_full(fd, blob, h.argv_len) < 0)
		return -1;
	blob[h.argv_len] = '\0';
	while (off < h.argv_len && argc < ARGV_MAX - 1) {
		argv[argc++] = blob + off;
		off += strlen(blob + off) + 1;
	}
	argv[argc] = NULL;
	return 0;
}

/* The job process: limits, unprivileged ids, exec. With cmd_fd >= 0 it is
 * made before its job: everything but the CPU limit and the exec is done
 * while it waits, and the command comes on cmd_fd (read_command); with
 * spec->shell_ahead the exec too: it is the shell, and its command comes
 * as its script (shell_prologue), its CPU limit from init. With
 * zygote, it is a zygote sandbox's zygote: no seccomp filter (it makes
 * namespaces; each job process it forks loads the filter itself), and the
 * interpreter's symbols all bound at its start, so that no process forked
 * from it resolves one again (and copies the page it writes the address
 * to). Never returns. */
static void __attribute__((noreturn))
job_exec(const struct sandbox_spec *spec, const char *const *argv, int64_t cpu_s, int in_fd,
         int out_fd, int err_fd, int res_fd, int sfd, int zygote, int cmd_fd)
{
	const char *cmd_argv[ARGV_MAX];
	static char *const envp[] = {"LD_BIND_NOW=1", /* the zygote's only */
	                             "PATH=/run/evald/bin:/usr/bin:/bin",
	                             "HOME=/work",
	                             "LANG=C.UTF-8",
	                             "LC_ALL=C.UTF-8",
	                             "USER=sandbox",
	                             "LOGNAME=sandbox",
	                             "TERM=dumb",
	                             "TMPDIR=/tmp",
	                             "PYTHONDONTWRITEBYTECODE=1",
	                             NULL};

	setsid();
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		init_fail(sfd, "setting up the job's descriptors");
	if (res_fd >= 0 && dup2(res_fd, 3) < 0)
		init_fail(sfd, "setting up the result descriptor");
	/* sfd must survive until exec, for init_fail; it is close-on-exec. */
	fcntl(sfd, F_SETFD, FD_CLOEXEC);
	close_except((int[]){0, 1, 2, res_fd >= 0 ? 3 : 0, sfd, cmd_fd >= 0 ? cmd_fd : 0}, 6);
	if (cmd_fd < 0)
		set_limit(RLIMIT_CPU, cpu_s, sfd, "RLIMIT_CPU");
	set_limit(RLIMIT_AS, spec->as_bytes, sfd, "RLIMIT_AS");
	set_limit(RLIMIT_NPROC, spec->nproc, sfd, "RLIMIT_NPROC");
	set_limit(RLIMIT_FSIZE, spec->fsize_bytes, sfd, "RLIMIT_FSIZE");
	set_limit(RLIMIT_NOFILE, spec->nofile, sfd, "RLIMIT_NOFILE");
	set_limit(RLIMIT_CORE, 0, sfd, "RLIMIT_CORE");
	set_limit(RLIMIT_STACK, spec->stack_bytes, sfd, "RLIMIT_STACK");
	set_limit(RLIMIT_MEMLOCK, 0, sfd, "RLIMIT_MEMLOCK");
	set_limit(RLIMIT_MSGQUEUE, 0, sfd, "RLIMIT_MSGQUEUE");
	/* No capability can come back, even through a file capability. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the last capability this kernel has */
			init_fail(sfd, "dropping the capability bounding set");
		}
	if (setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) < 0 ||
	    setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID) < 0)
		init_fail(sfd, "dropping to the sandbox user");
	/* Changing every uid away from 0 cleared all capabilities; no setuid
	 * binary can give them back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		init_fail(sfd, "PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		init_fail(sfd, "PR_SET_PDEATHSIG");
	if (cmd_fd >= 0 && spec->shell_ahead) {
		/* The CPU limit comes from init with the job (prlimit). */
		if (cmd_fd == SHELL_FD ? fcntl(cmd_fd, F_SETFD, 0) < 0
		                       : dup2(cmd_fd, SHELL_FD) < 0 || close(cmd_fd) < 0)
			init_fail(sfd, "setting up the shell's descriptor");
		cmd_fd = -1;
		argv = shell_argv;
		if (chdir(SHELL_DIR) < 0)
			init_fail(sfd, "chdir " SHELL_DIR);
	} else if (chdir("/work") < 0)
		init_fail(sfd, "chdir /work");
	if (!zygote && filter_load() < 0)
		init_fail(sfd, "loading the seccomp filter");
	if (cmd_fd >= 0) {
		if (read_command(cmd_fd, spec, &cpu_s, cmd_argv) < 0)
			_exit(0); /* no job: the sandbox was discarded */
		close(cmd_fd);
		set_limit(RLIMIT_CPU, cpu_s, sfd, "RLIMIT_CPU");
		argv = cmd_argv;
	}
	execve(argv[0], (char *const *)argv, zygote ? envp : envp + 1);
	{
		/* Not a sandbox failure: the command does not exist. */
		char msg[300];
		int n = snprintf(msg, sizeof msg, "evald: cannot execute %s: %s\n", argv[0],
		                 strerror(errno));
		if (n > 0 && write(2, msg, (size_t)n) < 0)
			_exit(126);
		if (write(sfd, "X", 1) < 0)
			_exit(126);
	}
	_exit(127);
}

/* What the slot sends init to start a job, followed by argv (NUL-separated
 * strings), stdin, and the session's files in the workdir stream format. */
struct sb_jobhdr {
	int64_t wall_ms;
	int64_t cpu_s;
	int32_t save_back;
	uint32_t argv_len;
	uint64_t stdin_len;
	uint64_t files_len;
};

/* Reads the job message from ctl into the pieces. Returns 0 or -1. */
static int
init_read_job(int ctl, const struct sandbox_spec *base, struct sb_jobhdr *h, char **blob,
              const char **argv, char **stdin_data, struct sb_file **files, size_t *nfiles)
{
	size_t off = 0;
	int argc = 0, over;

	if (read_full(ctl, h, sizeof *h) < 0)
		return -1;
	if (h->argv_len > CMD_ARGV_MAX || h->stdin_len > (1ull << 32) ||
	    h->files_len > (uint64_t)base->save_max_bytes * 2 + (1ull << 26))
		return -1;
	*blob = xmalloc(h->argv_len + 1);
	*stdin_data = xmalloc(h->stdin_len + 1);
	if (read_full(ctl, *blob, h->argv_len) < 0 || read_full(ctl, *stdin_data, h->stdin_len) < 0)
		return -1;
	(*blob)[h->argv_len] = '\0';
	while (off < h->argv_len && argc < ARGV_MAX - 1) {
		argv[argc++] = *blob + off;
		off += strlen(*blob + off) + 1;
	}
	argv[argc] = NULL;
	{
		char *fdata = xmalloc(h->files_len + 1);
		int rc;
		if (read_full(ctl, fdata, h->files_len) < 0) {
			free(fdata);
			return -1;
		}
		rc = workdir_parse(fdata, h->files_len, files, nfiles, &over);
		free(fdata);
		return rc;
	}
}

/* What the slot sends init for each job of a zygote sandbox, with five
 * descriptors attached (stdin, stdout, stderr, result, status), followed
 * by the session's files in the workdir stream format. */
struct sb_zjob {
	int64_t wall_ms;
	int64_t cpu_s;
	uint64_t files_len;
};

/* Receives one message of up to len bytes and up to nfds descriptors.
 * Returns the bytes received (0 at EOF) or -1. */
static ssize_t
recv_with_fds(int sock, void *buf, size_t len, int *fds, int nfds, int *got)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {buf, len};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c;
	ssize_t n;

	*got = 0;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	while (n < 0 && errno == EINTR);
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *p = (int *)CMSG_DATA(c);
			for (int i = 0; i < k; i++) {
				if (*got < nfds)
					fds[(*got)++] = p[i];
				else
					close(p[i]);
			}
		}
	return n;
}

static int
send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {(void *)buf, len};
	struct msghdr m = {.msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = cbuf,
	                   .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	ssize_t n;

	memset(cbuf, 0, sizeof cbuf);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n < len)
		return write_all(sock, (const char *)buf + n, len - (size_t)n);
	return 0;
}

/* Mounts the next job's work directory, an empty tmpfs, on
 * /run/evald/work (the last job's is gone), then tells the zygote to make
 * the next job process now ("p tmpfs_bytes"), which finds it there. Both
 * before the job arrives: the job only brings its files. */
static int
zygote_prepare(int zsock, const struct sandbox_spec *spec)
{
	char msg[64];
	int n;

	if (mount_work(spec, "/run/evald/work") < 0)
		return -1;
	n = snprintf(msg, sizeof msg, "p %lld", (long long)spec->tmpfs_bytes);
	return send(zsock, msg, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* Init of a zygote sandbox: starts the Python zygote, then serves jobs until
 * the slot closes ctl. Each job gets a fresh tmpfs work directory, mounted
 * before the job and written here when it comes; it reaches the waiting
 * job process's /work through the shared mount. Never returns. */
static void __attribute__((noreturn)) zygote_init(const struct sandbox_spec *spec, int ctl, int sfd)
{
	static const char *argv[] = {NULL, "-I", "-S", "/run/evald/zygote.pyc", NULL};
	int zs[2], xfd[2], null_fd;
	pid_t zpid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, zs) < 0 ||
	    pipe2(xfd, O_CLOEXEC) < 0 || (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		init_fail(sfd, "socketpair");
	/* The zygote makes each job process before its job arrives; the
	 * job's work directory, mounted here before that and written when the
	 * job comes, reaches the job's mount namespace (a slave copy of this
	 * one) through this shared mount. */
	if (mount("/run/evald/work", "/run/evald/work", NULL, MS_BIND, NULL) < 0 ||
	    mount(NULL, "/run/evald/work", NULL, MS_SHARED, NULL) < 0)
		init_fail(sfd, "sharing /run/evald/work");
	argv[0] = spec->argv[0];
	zpid = fork();
	if (zpid < 0)
		init_fail(sfd, "fork");
	if (zpid == 0) {
		close(zs[0]);
		/* no filter: the zygote makes namespaces; it never runs the
		 * job's code, whose process loads the filter itself */
		job_exec(spec, argv, -1, null_fd, null_fd, null_fd, zs[1], xfd[1], 1, -1);
	}
	close(zs[1]);
	close(xfd[1]);
	if (zygote_prepare(zs[0], spec) < 0 || write_all(sfd, "R", 1) < 0)
		_exit(115);
	close(sfd);
	for (;;) {
		struct sb_zjob h;
		struct sb_status st;
		struct sb_file *files = NULL;
		size_t nfiles = 0;
		int fds[5], got, over, jr[2];
		char *blob, line[256];
		size_t ll = 0;
		ssize_t n = recv_with_fds(ctl, &h, sizeof h, fds, 5, &got);

		if (n <= 0)
			_exit(0); /* the slot is done with this sandbox */
		if (n != sizeof h || got != 5 ||
		    h.files_len > (uint64_t)spec->save_max_bytes * 2 + (1ull << 26))
			_exit(116);
		blob = xmalloc(h.files_len + 1);
		if (read_full(ctl, blob, h.files_len) < 0 ||
		    workdir_parse(blob, h.files_len, &files, &nfiles, &over) < 0)
			_exit(117);
		free(blob);
		if (workdir_materialise("/run/evald/work", files, nfiles, SANDBOX_UID) < 0)
			_exit(118);
		sb_files_free(files, nfiles);
		if (pipe2(jr, O_CLOEXEC) < 0)
			_exit(119);
		n = snprintf(line, sizeof line, "%lld %lld %lld %lld %lld %lld %lld %lld\n",
		             (long long)h.wall_ms, (long long)h.cpu_s, (long long)spec->as_bytes,
		             (long long)spec->nproc, (long long)spec->fsize_bytes,
		             (long long)spec->nofile, (long long)spec->stack_bytes,
		             (long long)spec->tmpfs_bytes);
		{
			int zf[5] = {fds[0], fds[1], fds[2], fds[3], jr[1]};
			if (send_with_fds(zs[0], line, (size_t)n, zf, 5) < 0)
				_exit(120);
		}
		for (int i = 0; i < 4; i++)
			close(fds[i]);
		close(jr[1]);
		/* The zygote reports when the job process has ended; the
		 * slot's own deadline covers a zygote that never does. */
		while (ll < sizeof line - 1 &&
		       (n = read(jr[0], line + ll, sizeof line - 1 - ll)) > 0)
			ll += (size_t)n;
		close(jr[0]);
		line[ll] = '\0';
		memset(&st, 0, sizeof st);
		{
			long long ws, to, wall, cpu, rss;
			if (sscanf(line, "%lld %lld %lld %lld %lld", &ws, &to, &wall, &cpu, &rss) !=
			    5) {
				/* the zygote failed (and ended): say so through the status pipe */
				char msg[300];
				int m =
				    snprintf(msg, sizeof msg, "Ethe zygote failed: %.200s", line);
				if (write_all(fds[4], msg, (size_t)m) < 0)
					_exit(121);
				close(fds[4]);
				if (umount2("/run/evald/work", MNT_DETACH) < 0 ||
				    zygote_prepare(zs[0], spec) < 0)
					_exit(122);
				continue;
			}
			st.wstatus = (int)ws;
			st.timed_out = (int)to;
			st.wall_ms = wall;
			st.cpu_ms = cpu;
			st.maxrss_kb = rss;
		}
		if (write_all(fds[4], "S", 1) < 0 || write_all(fds[4], &st, sizeof st) < 0 ||
		    write_all(fds[4], "Z", 1) < 0)
			_exit(121);
		close(fds[4]);
		if (umount2("/run/evald/work", MNT_DETACH) < 0 || zygote_prepare(zs[0], spec) < 0)
			_exit(122);
	}
}

/* Init's side of a shell started ahead (shell_prologue): the job's CPU
 * limit on the shell, then its command, with the prologue, on fd. A
 * command longer than a pipe surely holds goes through a helper process,
 * so that a shell that stops reading (its first line sleeps) cannot block
 * init. The job must be /bin/sh -c CMD, or it fails closed. */
static void
feed_shell(pid_t job, int fd, int64_t cpu_s, const char *const *argv, int sfd)
{
	struct rlimit rl;
	size_t len;
	pid_t feeder = -1;

	if (argv[0] == NULL || strcmp(argv[0], "/bin/sh") != 0 || argv[1] == NULL ||
	    strcmp(argv[1], "-c") != 0 || argv[2] == NULL || argv[3] != NULL) {
		errno = EINVAL;
		init_fail(sfd, "a job for the shell started ahead that is not /bin/sh -c");
	}
	rl.rlim_cur = rl.rlim_max = cpu_s < 0 ? RLIM_INFINITY : (rlim_t)cpu_s;
	if (prlimit(job, RLIMIT_CPU, &rl, NULL) < 0)
		init_fail(sfd, "RLIMIT_CPU of the shell");
	len = strlen(argv[2]);
	if (sizeof shell_prologue - 1 + len > PIPE_BUF && (feeder = fork()) < 0)
		init_fail(sfd, "fork");
	if (feeder <= 0) {
		/* A shell gone before it read this ends as it ended. */
		if (write_all(fd, shell_prologue, sizeof shell_prologue - 1) == 0)
			(void)write_all(fd, argv[2], len);
		if (feeder == 0)
			_exit(0);
	}
	close(fd);
}

/* Init: PID 1 of the new namespace. Builds the root, starts the job
 * process at once when the sandbox is warm (it waits on stdin), reports
 * ready, then waits for the job on ctl. Never returns. */
static void __attribute__((noreturn)) init_main(const struct sandbox_spec *spec, int go_fd, int ctl,
                                                int out_fd, int err_fd, int res_fd, int sfd)
{
	struct sb_status st;
	struct sb_jobhdr h;
	struct rusage ru;
	struct sb_file *files = NULL;
	size_t nfiles = 0;
	const char *argv[ARGV_MAX];
	char *blob = NULL, *stdin_data = NULL;
	sigset_t set;
	pid_t job = -1, feeder;
	char c;
	int64_t t0, deadline;
	int have_status = 0, xfd[2], in[2], cmd[2] = {-1, -1};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	close_except((int[]){go_fd, ctl, out_fd, err_fd, res_fd, sfd}, 6);
	/* Hold 0, 1 and 2 so no pipe made later lands on them. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(114);
	if (read(go_fd, &c, 1) != 1)
		_exit(112); /* the parent gave up */
	close(go_fd);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		init_fail(sfd, "becoming root of the user namespace");
	prctl(PR_SET_DUMPABLE, 0);
	init_build_root(spec, sfd);
	if (spec->zygote) {
		close(out_fd);
		close(err_fd);
		if (res_fd >= 0)
			close(res_fd);
		zygote_init(spec, ctl, sfd);
	}

	/* exec failures of the command come back on a close-on-exec pipe;
	 * stdin reaches the job through a pipe fed by a helper process. */
	if (pipe2(xfd, O_CLOEXEC) < 0 || pipe2(in, O_CLOEXEC) < 0)
		init_fail(sfd, "pipe");
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	memset(&st, 0, sizeof st);
	if (spec->warm) {
		job = fork();
		if (job < 0)
			init_fail(sfd, "fork");
		if (job == 0) {
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			job_exec(spec, spec->argv, spec->cpu_s, in[0], out_fd, err_fd, res_fd,
			         xfd[1], 0, -1);
		}
	} else {
		/* The job process is made now, and locks itself down while the
		 * slot waits for work: the job brings only its command. */
		if (pipe2(cmd, O_CLOEXEC) < 0)
			init_fail(sfd, "pipe");
		/* a shell started ahead opens its end again, by its link */
		if (spec->shell_ahead && fchown(cmd[0], SANDBOX_UID, SANDBOX_UID) < 0)
			init_fail(sfd, "giving the shell its script");
		job = fork();
		if (job < 0)
			init_fail(sfd, "fork");
		if (job == 0) {
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			job_exec(spec, spec->argv, -1, in[0], out_fd, err_fd, res_fd, xfd[1], 0,
			         cmd[0]);
		}
		close(cmd[0]);
		/* init only: a job process gone before its command must not
		 * take init with it */
		signal(SIGPIPE, SIG_IGN);
	}
	if (write_all(sfd, "R", 1) < 0)
		_exit(115);
	if (init_read_job(ctl, spec, &h, &blob, argv, &stdin_data, &files, &nfiles) < 0)
		_exit(0); /* discarded, or the slot is gone */
	close(ctl);
	if (workdir_materialise("/work", files, nfiles, SANDBOX_UID) < 0)
		init_fail(sfd, "writing the session's files");
	sb_files_free(files, nfiles);
	t0 = now_mono_ms();
	if (!spec->warm && spec->shell_ahead) {
		feed_shell(job, cmd[1], h.cpu_s, argv, sfd);
	} else if (!spec->warm) {
		struct sb_cmdhdr msg;

		memset(&msg, 0, sizeof msg);
		msg.cpu_s = h.cpu_s;
		msg.argv_len = argv[0] ? h.argv_len : 0;
		/* A job process gone before it read this ends as it ended. */
		if (write_all(cmd[1], &msg, sizeof msg) == 0 && msg.argv_len > 0)
			(void)write_all(cmd[1], blob, msg.argv_len);
		close(cmd[1]);
	}
	/* Empty stdin is an immediate end of file; anything else is written
	 * by a helper so a job that never reads cannot block init. */
	feeder = h.stdin_len > 0 ? fork() : -1;
	if (feeder == 0) {
		(void)write_all(in[1], stdin_data, h.stdin_len);
		_exit(0);
	}
	free(stdin_data);
	free(blob);
	close(in[0]);
	close(in[1]);
	close(xfd[1]);
	close(out_fd);
	close(err_fd);
	if (res_fd >= 0)
		close(res_fd);
	deadline = t0 + h.wall_ms;
	while (!have_status) {
		struct timespec ts;
		int64_t left = deadline - now_mono_ms();
		int sig, ws;
		pid_t p;

		while ((p = waitpid(-1, &ws, WNOHANG)) > 0)
			if (p == job) {
				st.wstatus = ws;
				have_status = 1;
			}
		if (have_status)
			break;
		if (left <= 0) {
			st.timed_out = 1;
			break;
		}
		ts.tv_sec = left / 1000;
		ts.tv_nsec = (left % 1000) * 1000000;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGUSR1) {
			/* the parent saw the output cap exceeded */
			st.stopped_early = 1;
			break;
		}
	}
	st.wall_ms = now_mono_ms() - t0;
	/* End everything the job started, then collect it all. */
	kill(-1, SIGKILL);
	for (;;) {
		int ws;
		pid_t p = waitpid(-1, &ws, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			break;
		if (p == job && !have_status) {
			st.wstatus = ws;
			have_status = 1;
		}
	}
	if (read(xfd[0], &c, 1) == 1)
		st.exec_failed = 1;
	getrusage(RUSAGE_CHILDREN, &ru);
	st.cpu_ms = (int64_t)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
	            (int64_t)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
	st.maxrss_kb = ru.ru_maxrss;
	if (write_all(sfd, "S", 1) < 0 || write_all(sfd, &st, sizeof st) < 0)
		_exit(113);
	if (h.save_back)
		workdir_stream("/work", sfd, spec->save_max_bytes, spec->save_max_files);
	/* The slot has all it needs once this closes, and was woken on this
	 * CPU: let it answer before this process's exit takes the sandbox's
	 * namespaces and mounts down (the end of the file would otherwise come
	 * only with that exit). */
	close(sfd);
	sched_yield();
	_exit(0);
}

/* ---- outside: the slot process ---------------------------------------- */

static int
write_map(pid_t pid, const char *file, const char *text)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	return write_text(path, text, strlen(text), 0);
}

static void
pipe_close(int *p)
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

/* Reads what is available on fd into b up to cap (the rest is read and
 * dropped). Returns 0 on EOF, 1 while open, and sets *over when data was
 * dropped. */
static int
drain(int fd, struct buf *b, size_t cap, int *over)
{
	char tmp[65536];
	ssize_t n = read(fd, tmp, sizeof tmp);

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	if (b->len < cap) {
		size_t take = (size_t)n;
		if (take > cap - b->len) {
			take = cap - b->len;
			*over = 1;
		}
		buf_append(b, tmp, take);
	} else {
		*over = 1;
	}
	return 1;
}

/* Sandboxes whose job is answered but whose init may still be exiting:
 * tearing down its namespaces and mounts takes the kernel a while, and no
 * caller should wait for that. Reaped later, without blocking. */
#define GRAVES_MAX 64
static struct grave {
	pid_t pid;
	struct cgroup cg;
} graves[GRAVES_MAX];
static int ngraves;

void
sandbox_reap(int block)
{
	for (int i = 0; i < ngraves;) {
		int ws;
		pid_t p = graves[i].pid > 0 ? waitpid(graves[i].pid, &ws, block ? 0 : WNOHANG) : -1;
		if (p == 0 || (p < 0 && errno == EINTR && graves[i].pid > 0)) {
			i++;
			continue;
		}
		/* reaped (or gone): its group is empty now, or soon */
		if (cgroup_try_remove(&graves[i].cg) < 0 && !block) {
			graves[i].pid = -1; /* keep only the group */
			i++;
			continue;
		}
		graves[i] = graves[--ngraves];
	}
}

static void
bury(pid_t pid, const struct cgroup *cg)
{
	if (ngraves == GRAVES_MAX)
		sandbox_reap(1);
	graves[ngraves].pid = pid;
	graves[ngraves].cg = *cg;
	ngraves++;
}

/* The slot's empty network namespace (no interface up, no route), made
 * once: creating and destroying one per job costs the kernel about 0.8 ms
 * of CPU. Only one job of a slot runs at a time, so no two running jobs
 * ever share it; what a job leaves in it (an abstract socket) dies with
 * the job's processes. -1 until sandbox_netns_init. */
static int slot_netns = -1, host_netns = -1;

int
sandbox_netns_init(char *err, size_t errlen)
{
	int p[2];
	pid_t pid;
	char c, path[64];

	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
		(void)write(p[1], &c, 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
		snprintf(err, errlen, "cannot create a network namespace");
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	close(p[0]);
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	slot_netns = open(path, O_RDONLY | O_CLOEXEC);
	host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (slot_netns < 0 || host_netns < 0) {
		snprintf(err, errlen, "cannot open a network namespace: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Clones init into new user, PID, mount, IPC and UTS namespaces and the
 * slot's empty network namespace (or a new one). The slot enters that
 * namespace only for the clone: its own sockets, Redis's among them, were
 * made before and stay where they are. */
static pid_t
clone_sandbox(void)
{
	unsigned long flags =
	    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
	pid_t pid;

	if (slot_netns < 0 || setns(slot_netns, CLONE_NEWNET) < 0)
		return (pid_t)syscall(SYS_clone, flags | CLONE_NEWNET, NULL, NULL, NULL, NULL);
	pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid == 0)
		return 0;
	if (setns(host_netns, CLONE_NEWNET) < 0) {
		/* never go on outside the host's network namespace */
		log_warn("setns back to the host network namespace");
		abort();
	}
	return pid;
}

/* A prepared sandbox: init waiting for its job. */
struct sandbox {
	struct cgroup cg;
	pid_t pid;
	int ctl, out, err, res, st; /* our ends */
	int warm;
	int64_t save_max_bytes, save_max_files;
	/* A zygote job answered early (answer_early): its stdout, stderr and
	 * status pipes, still to be read to their end by tail_hard. */
	int tail[3];
	int64_t tail_hard;
};

static void
tail_close(struct sandbox *sb)
{
	for (int i = 0; i < 3; i++)
		if (sb->tail[i] >= 0)
			close(sb->tail[i]), sb->tail[i] = -1;
}

void
sandbox_discard(struct sandbox *sb)
{
	if (sb == NULL)
		return;
	kill(sb->pid, SIGKILL);
	for (int *fd = &sb->ctl; fd <= &sb->st; fd++)
		if (*fd >= 0)
			close(*fd);
	tail_close(sb);
	bury(sb->pid, &sb->cg);
	free(sb);
}

struct sandbox *
sandbox_prepare(const struct sandbox_spec *spec, char *errbuf, size_t errlen)
{
	int go[2] = {-1, -1}, ctl[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	int rp[2] = {-1, -1}, sp[2] = {-1, -1};
	struct sandbox *sb = NULL;
	char map[128], msg[256];
	unsigned host;
	pid_t pid;
	ssize_t n;
	struct pollfd pf;

	if (pipe2(go, O_CLOEXEC) < 0 ||
	    (spec->zygote ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl)
	                  : pipe2(ctl, O_CLOEXEC)) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || pipe2(sp, O_CLOEXEC) < 0 ||
	    (spec->result_fd && pipe2(rp, O_CLOEXEC) < 0)) {
		snprintf(errbuf, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	pid = clone_sandbox();
	if (pid < 0) {
		snprintf(errbuf, errlen, "clone with new namespaces: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		init_main(spec, go[0], ctl[0], out[1], err[1], spec->result_fd ? rp[1] : -1, sp[1]);
	sb = xcalloc(1, sizeof *sb);
	sb->pid = pid;
	sb->tail[0] = sb->tail[1] = sb->tail[2] = -1;
	/* Into its cgroup before it runs anything of the job's. */
	if (cgroup_active() &&
	    cgroup_enter(&sb->cg, pid, (cfg.sandbox_memory_mb << 20) + spec->tmpfs_bytes,
	                 spec->nproc + 8, cfg.sandbox_cpus) < 0) {
		snprintf(errbuf, errlen, "cannot put the sandbox in a cgroup");
		goto fail;
	}
	sb->ctl = ctl[1], ctl[1] = -1;
	sb->out = out[0], out[0] = -1;
	sb->err = err[0], err[0] = -1;
	sb->res = rp[0], rp[0] = -1;
	sb->st = sp[0], sp[0] = -1;
	sb->warm = spec->warm;
	sb->save_max_bytes = spec->save_max_bytes;
	sb->save_max_files = spec->save_max_files;
	pipe_close(ctl);
	pipe_close(out);
	pipe_close(err);
	pipe_close(rp);
	pipe_close(sp);
	close(go[0]), go[0] = -1;

	/* Map root of the namespace and the job user onto two unprivileged
	 * host ids of this slot's own. */
	host = (unsigned)(cfg.sandbox_uid_base + (int64_t)spec->slot * 2);
	snprintf(map, sizeof map, "0 %u 1\n%d %u 1\n", host, SANDBOX_UID, host + 1);
	if (write_map(pid, "setgroups", "deny") < 0 || write_map(pid, "uid_map", map) < 0 ||
	    write_map(pid, "gid_map", map) < 0) {
		snprintf(errbuf, errlen, "writing the user namespace map: %s", strerror(errno));
		goto fail;
	}
	if (write(go[1], "g", 1) != 1) {
		snprintf(errbuf, errlen, "starting init: %s", strerror(errno));
		goto fail;
	}
	close(go[1]), go[1] = -1;
	/* Wait for "ready", or the reason it failed. */
	pf = (struct pollfd){sb->st, POLLIN, 0};
	if (poll(&pf, 1, GRACE_MS) <= 0) {
		snprintf(errbuf, errlen, "the sandbox was not ready within %d s", GRACE_MS / 1000);
		goto fail;
	}
	n = read(sb->st, msg, 1);
	if (n == 1 && msg[0] == 'R')
		return sb;
	if (n == 1 && msg[0] == 'E') {
		n = read(sb->st, msg, sizeof msg - 1);
		msg[n > 0 ? n : 0] = '\0';
		snprintf(errbuf, errlen, "sandbox setup failed: %s", msg);
	} else {
		snprintf(errbuf, errlen, "the sandbox's init ended during setup");
	}
fail:
	pipe_close(go);
	pipe_close(ctl);
	pipe_close(out);
	pipe_close(err);
	pipe_close(rp);
	pipe_close(sp);
	sandbox_discard(sb);
	return NULL;
}

/* Sends the job message to init. */
static int
send_job(struct sandbox *sb, const struct sandbox_spec *job)
{
	struct sb_jobhdr h;
	struct buf m, files;
	int rc;

	buf_init(&m);
	buf_init(&files);
	memset(&h, 0, sizeof h);
	h.wall_ms = job->wall_ms;
	h.cpu_s = job->cpu_s;
	h.save_back = job->save_back;
	h.stdin_len = job->stdin_len;
	workdir_encode(job->files, job->nfiles, &files);
	h.files_len = files.len;
	buf_append(&m, &h, sizeof h);
	if (!sb->warm)
		for (int i = 0; i < ARGV_MAX - 1 && job->argv[i] != NULL; i++)
			buf_append(&m, job->argv[i], strlen(job->argv[i]) + 1);
	h.argv_len = (uint32_t)(m.len - sizeof h);
	memcpy(m.data, &h, sizeof h);
	buf_append(&m, job->stdin_data ? job->stdin_data : "", job->stdin_len);
	buf_append(&m, files.data ? files.data : "", files.len);
	rc = write_all(sb->ctl, m.data, m.len);
	buf_free(&m);
	buf_free(&files);
	close(sb->ctl);
	sb->ctl = -1;
	return rc;
}

/* Decides a job's verdict from init's report and what the slot saw: the
 * output cap, the kernel's OOM kills and the CPU limit. */
static void
verdict(const struct sb_status *st, int out_over, int oom, int64_t cpu_s,
        struct sandbox_result *res)
{
	res->time_ms = st->wall_ms;
	res->cpu_ms = st->cpu_ms;
	res->memory_kb = st->maxrss_kb;
	res->truncated = out_over;
	if (WIFEXITED(st->wstatus)) {
		res->exit_code = WEXITSTATUS(st->wstatus);
	} else if (WIFSIGNALED(st->wstatus)) {
		res->term_signal = WTERMSIG(st->wstatus);
		res->exit_code = -res->term_signal;
	}
	if (out_over)
		res->status = SB_OUTPUT_LIMIT;
	else if (oom && res->exit_code != 0)
		res->status = SB_MEMORY_LIMIT;
	else if (st->timed_out || res->term_signal == SIGXCPU ||
	         (res->term_signal == SIGKILL && st->cpu_ms >= cpu_s * 1000))
		res->status = SB_TIMEOUT;
	else if (res->exit_code == 0 && !st->exec_failed)
		res->status = SB_OK;
	else
		res->status = SB_RUNTIME_ERROR;
}

/* Reads init's report at the start of sbuf into *st and decides the
 * verdict. Returns 0; 1 when init reported that the job could not be set
 * up (res->error says why); -1 when there is no report. */
static int
take_status(const struct buf *sbuf, const struct sandbox *sb, const struct sandbox_spec *job,
            int out_over, int64_t oom_before, struct sb_status *st, struct sandbox_result *res)
{
	int64_t peak;

	if (sbuf->len > 0 && sbuf->data[0] == 'E') {
		snprintf(res->error, sizeof res->error, "sandbox setup failed: %.*s",
		         (int)(sbuf->len - 1 > 200 ? 200 : sbuf->len - 1), sbuf->data + 1);
		return 1;
	}
	if (sbuf->len < 1 + sizeof *st || sbuf->data[0] != 'S') {
		snprintf(res->error, sizeof res->error,
		         "the sandbox's init ended without a status");
		return -1;
	}
	memcpy(st, sbuf->data + 1, sizeof *st);
	verdict(st, out_over, cgroup_oom_count(&sb->cg) > oom_before, job->cpu_s, res);
	res->cgroup = sb->cg.mem[0] != '\0';
	if (res->cgroup && (peak = cgroup_peak_kb(&sb->cg)) > res->memory_kb)
		res->memory_kb = peak;
	return 0;
}

int
sandbox_exec(struct sandbox *sb, const struct sandbox_spec *job, struct sandbox_result *res)
{
	int64_t oom_before = cgroup_oom_count(&sb->cg);
	struct buf sbuf;
	int64_t t0 = now_mono_ms(), hard;
	int out_over = 0, res_over = 0, stat_over = 0, asked_stop = 0, dropped = 0, rc = -1;

	sandbox_reap(0);
	memset(res, 0, sizeof *res);
	buf_init(&res->out);
	buf_init(&res->err);
	buf_init(&res->res);
	buf_init(&sbuf);
	cgroup_reset_peak(&sb->cg);
	if (send_job(sb, job) < 0) {
		snprintf(res->error, sizeof res->error, "sending the job to the sandbox: %s",
		         strerror(errno));
		goto out;
	}
	hard = t0 + job->wall_ms + GRACE_MS;
	{
		struct pollfd pf[4];
		int open_out = 1, open_err = 1, open_res = sb->res >= 0, open_st = 1;
		size_t stat_cap =
		    (size_t)sb->save_max_bytes + (size_t)sb->save_max_files * 4200 + 4096;

		while (open_out || open_err || open_res || open_st) {
			int n = 0, left = (int)(hard - now_mono_ms());
			if (left <= 0) {
				kill(sb->pid, SIGKILL);
				snprintf(res->error, sizeof res->error,
				         "the sandbox did not finish within its limit plus %d s",
				         GRACE_MS / 1000);
				break;
			}
			pf[0] = (struct pollfd){open_out ? sb->out : -1, POLLIN, 0};
			pf[1] = (struct pollfd){open_err ? sb->err : -1, POLLIN, 0};
			pf[2] = (struct pollfd){open_res ? sb->res : -1, POLLIN, 0};
			pf[3] = (struct pollfd){open_st ? sb->st : -1, POLLIN, 0};
			n = poll(pf, 4, left);
			if (n < 0 && errno != EINTR)
				break;
			if (n <= 0)
				continue;
			/* output_max 0: the output is not wanted; read and drop
			 * it all without stopping the job. */
			if (pf[0].revents)
				open_out = drain(
				    sb->out, &res->out,
				    job->output_max ? (size_t)job->output_max - res->err.len : 0,
				    job->output_max ? &out_over : &dropped);
			if (pf[1].revents)
				open_err = drain(
				    sb->err, &res->err,
				    job->output_max ? (size_t)job->output_max - res->out.len : 0,
				    job->output_max ? &out_over : &dropped);
			if (pf[2].revents)
				open_res = drain(sb->res, &res->res, 64u << 20, &res_over);
			if (pf[3].revents)
				open_st = drain(sb->st, &sbuf, stat_cap, &stat_over);
			if (out_over && !asked_stop) {
				/* Stop the job but keep its files. */
				kill(sb->pid, SIGUSR1);
				asked_stop = 1;
			}
		}
	}
	if (res->error[0])
		goto out;
	{
		struct sb_status st;
		if (take_status(&sbuf, sb, job, out_over, oom_before, &st, res) != 0)
			goto out;
		if (job->save_back &&
		    workdir_parse(sbuf.data + 1 + sizeof st, sbuf.len - 1 - sizeof st, &res->files,
		                  &res->nfiles, &res->save_overflow) < 0) {
			snprintf(res->error, sizeof res->error,
			         "the sandbox returned a malformed work directory");
			goto out;
		}
		if (stat_over)
			res->save_overflow = 1;
	}
	rc = 0;
out:
	buf_free(&sbuf);
	/* Every pipe is at EOF: the job and all it started are gone. Init
	 * is exiting; reap it later. */
	if (rc < 0)
		kill(sb->pid, SIGKILL);
	for (int *fd = &sb->ctl; fd <= &sb->st; fd++)
		if (*fd >= 0)
			close(*fd);
	bury(sb->pid, &sb->cg);
	free(sb);
	if (rc < 0)
		res->status = SB_INTERNAL_ERROR;
	return rc;
}

int
sandbox_settle(struct sandbox *sb, char *err, size_t errlen)
{
	struct buf sbuf, junk;
	int over = 0, dropped = 0, open[3] = {1, 1, 1}, rc = -1;

	if (sb->tail[2] < 0)
		return 0;
	buf_init(&sbuf);
	buf_init(&junk);
	for (int i = 0; i < 2; i++)
		open[i] = sb->tail[i] >= 0;
	while (open[0] || open[1] || open[2]) {
		struct pollfd pf[3];
		/* past the deadline, still take what is already there: the
		 * slot may have been idle for far longer since the answer */
		int n, left = (int)(sb->tail_hard - now_mono_ms());
		if (left < 0)
			left = 0;
		for (int i = 0; i < 3; i++)
			pf[i] = (struct pollfd){open[i] ? sb->tail[i] : -1, POLLIN, 0};
		n = poll(pf, 3, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (int i = 0; i < 2; i++)
			if (pf[i].revents)
				open[i] = drain(sb->tail[i], &junk, 0, &dropped);
		if (pf[2].revents)
			open[2] = drain(sb->tail[2], &sbuf, 4096, &over);
	}
	if (!open[2] && sbuf.len >= 1 + sizeof(struct sb_status) && sbuf.data[0] == 'S') {
		struct sb_status st;
		memcpy(&st, sbuf.data + 1, sizeof st);
		if (st.timed_out || !WIFEXITED(st.wstatus) || WEXITSTATUS(st.wstatus) != 0)
			log_debug("the job answered before it ended (wstatus %d, timed out %d)",
			          st.wstatus, st.timed_out);
		rc = 0;
	} else if (sbuf.len > 1 && sbuf.data[0] == 'E') {
		snprintf(err, errlen, "the zygote failed after the last job's answer: %.*s",
		         (int)(sbuf.len - 1 > 200 ? 200 : sbuf.len - 1), sbuf.data + 1);
	} else {
		snprintf(err, errlen, "the zygote did not report the end of the last job");
	}
	buf_free(&sbuf);
	buf_free(&junk);
	tail_close(sb);
	return rc;
}

/* Whether the result is one whole JSON object, as far as its last byte
 * says: the harness writes its answer in one piece and then closes. */
static int
answer_complete(const struct buf *b)
{
	size_t n = b->len;

	while (n > 0 && strchr(" \t\r\n", b->data[n - 1]) != NULL)
		n--;
	return n > 0 && b->data[0] == '{' && b->data[n - 1] == '}';
}

int
sandbox_zygote_exec(struct sandbox *sb, const struct sandbox_spec *job, struct sandbox_result *res)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, rp[2] = {-1, -1};
	int sp[2] = {-1, -1}, out_over = 0, res_over = 0, dropped = 0, stat_over = 0, rc = -1;
	size_t in_off = 0;
	struct sb_zjob h;
	struct buf sbuf, files;
	int64_t hard, oom_before, t0 = now_mono_ms();

	memset(res, 0, sizeof *res);
	buf_init(&res->out);
	buf_init(&res->err);
	buf_init(&res->res);
	buf_init(&sbuf);
	buf_init(&files);
	if (sandbox_settle(sb, res->error, sizeof res->error) < 0)
		goto out;
	oom_before = cgroup_oom_count(&sb->cg);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(rp, O_CLOEXEC) < 0 || pipe2(sp, O_CLOEXEC) < 0) {
		snprintf(res->error, sizeof res->error, "pipe: %s", strerror(errno));
		goto out;
	}
	cgroup_reset_peak(&sb->cg);
	workdir_encode(job->files, job->nfiles, &files);
	h.wall_ms = job->wall_ms;
	h.cpu_s = job->cpu_s;
	h.files_len = files.len;
	{
		int fds[5] = {in[0], out[1], err[1], rp[1], sp[1]};
		if (send_with_fds(sb->ctl, &h, sizeof h, fds, 5) < 0 ||
		    write_all(sb->ctl, files.data, files.len) < 0) {
			snprintf(res->error, sizeof res->error, "sending the job to the zygote: %s",
			         strerror(errno));
			goto out;
		}
	}
	close(in[0]), in[0] = -1;
	close(out[1]), out[1] = -1;
	close(err[1]), err[1] = -1;
	close(rp[1]), rp[1] = -1;
	close(sp[1]), sp[1] = -1;
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (job->stdin_len == 0)
		close(in[1]), in[1] = -1;
	hard = now_mono_ms() + job->wall_ms + GRACE_MS;
	{
		struct pollfd pf[5];
		int open_out = 1, open_err = 1, open_res = 1, open_st = 1;

		while (open_out || open_err || open_res || open_st) {
			int n, left = (int)(hard - now_mono_ms());
			if (left <= 0) {
				snprintf(
				    res->error, sizeof res->error,
				    "the zygote did not finish the job within its limit plus %d s",
				    GRACE_MS / 1000);
				goto out;
			}
			pf[0] = (struct pollfd){open_out ? out[0] : -1, POLLIN, 0};
			pf[1] = (struct pollfd){open_err ? err[0] : -1, POLLIN, 0};
			pf[2] = (struct pollfd){open_res ? rp[0] : -1, POLLIN, 0};
			pf[3] = (struct pollfd){open_st ? sp[0] : -1, POLLIN, 0};
			pf[4] = (struct pollfd){in[1], POLLOUT, 0};
			n = poll(pf, 5, left);
			if (n < 0 && errno != EINTR)
				break;
			if (n <= 0)
				continue;
			if (pf[0].revents)
				open_out = drain(
				    out[0], &res->out,
				    job->output_max ? (size_t)job->output_max - res->err.len : 0,
				    job->output_max ? &out_over : &dropped);
			if (pf[1].revents)
				open_err = drain(
				    err[0], &res->err,
				    job->output_max ? (size_t)job->output_max - res->out.len : 0,
				    job->output_max ? &out_over : &dropped);
			if (pf[2].revents) {
				open_res = drain(rp[0], &res->res, 64u << 20, &res_over);
				if (!open_res && open_st && sbuf.len == 0 && job->answer_early &&
				    !res_over && answer_complete(&res->res)) {
					/* The answer is whole and no report has come
					 * yet (one that has is read here, below): the
					 * rest is collected before this sandbox's next
					 * job. */
					sb->tail[0] = open_out ? out[0] : -1;
					sb->tail[1] = open_err ? err[0] : -1;
					sb->tail[2] = sp[0];
					if (open_out)
						out[0] = -1;
					if (open_err)
						err[0] = -1;
					sp[0] = -1;
					sb->tail_hard = hard;
					res->status = SB_OK;
					res->time_ms = now_mono_ms() - t0;
					rc = 0;
					goto out;
				}
			}
			if (pf[3].revents)
				open_st = drain(sp[0], &sbuf, 4096, &stat_over);
			if (in[1] >= 0 && pf[4].revents) {
				ssize_t w =
				    write(in[1], job->stdin_data + in_off, job->stdin_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) ||
				    in_off == job->stdin_len)
					close(in[1]), in[1] = -1;
			}
		}
	}
	{
		struct sb_status st;
		int t = take_status(&sbuf, sb, job, 0, oom_before, &st, res);
		if (t != 0) {
			rc = t > 0 ? 1 : -1; /* 1: the job failed, the sandbox is fine */
			goto out;
		}
	}
	rc = 0;
out:
	pipe_close(in);
	pipe_close(out);
	pipe_close(err);
	pipe_close(rp);
	pipe_close(sp);
	buf_free(&sbuf);
	buf_free(&files);
	if (rc < 0)
		res->status = SB_INTERNAL_ERROR;
	return rc;
}

int
sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *res)
{
	struct sandbox *sb = sandbox_prepare(spec, res->error, sizeof res->error);

	if (sb == NULL) {
		char why[256];
		snprintf(why, sizeof why, "%s", res->error);
		memset(res, 0, sizeof *res);
		snprintf(res->error, sizeof res->error, "%s", why);
		res->status = SB_INTERNAL_ERROR;
		return -1;
	}
	return sandbox_exec(sb, spec, res);
}

void
sb_files_free(struct sb_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].path);
		free(f[i].data);
	}
	free(f);
}

void
sandbox_result_free(struct sandbox_result *res)
{
	buf_free(&res->out);
	buf_free(&res->err);
	buf_free(&res->res);
	sb_files_free(res->files, res->nfiles);
	res->files = NULL;
	res->nfiles = 0;
}
