#include "executor/filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

/* System calls refused outright. Each is either a way out of the sandbox's
 * namespaces, a kernel attack surface code under test never needs, or a
 * way to watch or change another process. */
static const char *const denied[] = {
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "open_by_handle_at",
    "name_to_handle_at",
    "lookup_dcookie",
    "fanotify_init",
    "iopl",
    "ioperm",
    "uselib",
    "vhangup",
    "nfsservctl",
    "personality",
    "sethostname",
    "setdomainname",
    "mbind",
    "migrate_pages",
    "move_pages",
    "set_mempolicy",
    "get_mempolicy",
    "landlock_create_ruleset",
    "landlock_add_rule",
    "landlock_restrict_self",
    "memfd_secret",
    "process_madvise",
    "pkey_alloc",
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define NS_FLAGS                                                                                   \
	(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | \
	 CLONE_NEWCGROUP | CLONE_NEWTIME)

int
filter_rule_count(void)
{
	return (int)(sizeof denied / sizeof denied[0]) + 8 + 2;
}

static scmp_filter_ctx
filter_build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

	if (ctx == NULL)
		return NULL;
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
		goto out;
	/* A binary search on the syscall number instead of a list: the kernel
	 * runs the program for every syscall number when a process loads it
	 * (to learn which are always allowed), about 80 us per job process
	 * with the list. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0)
		goto out;
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0) < 0)
			goto out;
	}
	/* clone with any namespace flag, one rule per flag. */
	for (unsigned bit = 0; bit < 32; bit++) {
		unsigned long f = 1UL << bit;
		if ((NS_FLAGS & f) == 0)
			continue;
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
		                     SCMP_A0(SCMP_CMP_MASKED_EQ, f, f)) < 0)
			goto out;
	}
	/* clone3 hides its flags in memory a filter cannot read: it answers
	 * ENOSYS and libc falls back to clone. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
		goto out;
	/* ioctl(TIOCSTI) pushes input into a terminal: never needed. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
	                     SCMP_A1(SCMP_CMP_EQ, 0x5412)) < 0)
		goto out;
	return ctx;
out:
	seccomp_release(ctx);
	return NULL;
}

/* The filter, compiled once by filter_init: a job process only hands the
 * ready program to the kernel, allocating nothing. */
static struct sock_filter *prog;
static unsigned short prog_len;

int
filter_init(void)
{
	scmp_filter_ctx ctx = filter_build();
	struct stat st;
	int fd = -1, rc = -1;

	if (ctx == NULL)
		return -1;
	fd = memfd_create("evald-filter", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) < 0 || fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > 65535)
		goto out;
	prog = xmalloc((size_t)st.st_size);
	if (pread(fd, prog, (size_t)st.st_size, 0) != st.st_size)
		goto out;
	prog_len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return rc;
}

int
filter_load(void)
{
	struct sock_fprog fp = {prog_len, prog};

	if (prog == NULL) {
		errno = EINVAL;
		return -1;
	}
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
}

int
filter_export(int fd)
{
	if (prog == NULL) {
		errno = EINVAL;
		return -1;
	}
	return write_all(fd, prog, (size_t)prog_len * sizeof *prog);
}
