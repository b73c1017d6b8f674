/* evald's zygote module (_zygote): the zygote's job loop, and each job
 * process's namespaces and lock-down, in C.
 *
 * zygote.py loads the harness, then calls serve(), which never returns in
 * the zygote until its socket ends. Each fork is a fork of the whole warm
 * interpreter; everything a process writes after a fork costs it a page
 * copy. Written in Python, the loop and the lock-down touched about 200
 * pages in the zygote and 430 in each job process on every job; here they
 * touch a few. Python runs again only in a forked process, where serve()
 * returns: in a job process once its job has come (with its descriptors in
 * place and its limits set), and in a first case's process once it has the
 * job's stdin, stdout and stderr.
 *
 * A child never raises into Python: on any failure it says what failed on
 * its stderr and exits 125. The zygote raises OSError. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#define SANDBOX_UID 1000 /* as sandbox.c */
#define MAX_FDS 8

/* What serve() needs in every process it forks. */
struct zygote {
	int sock;      /* init's socket: "p tmpfs_bytes", or a job */
	int judge;     /* the judge's socket, or -1 */
	int devnull;   /* the runner's stdin */
	int own_pidns; /* the zygote's own PID namespace */
	struct sock_fprog prog;
	int split; /* the evaluation harness: a judge and a runner */
};

/* The job process made ahead of its job. */
struct ready {
	pid_t pid;
	int sock; /* the job comes on it */
};

/* ---- in a forked child: fail closed ---- */

static void __attribute__((noreturn)) child_fail(const char *who, const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof msg, "evald: %s failed: %s: %s\n", who, what, strerror(errno));

	if (n > 0 && write(2, msg, (size_t)n) < 0) {
		/* nothing more to say it with */
	}
	_exit(125);
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* Becomes root of a new user namespace that maps only the sandbox user. */
static int
enter_user_namespace(void)
{
	char map[64];

	snprintf(map, sizeof map, "%d %d 1\n", SANDBOX_UID, SANDBOX_UID);
	if (unshare(CLONE_NEWUSER) < 0)
		return -1;
	/* /proc/self of a non-dumpable process belongs to root: be dumpable
	 * just long enough to write the maps. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 ||
	    write_file("/proc/self/setgroups", "deny") < 0 ||
	    write_file("/proc/self/uid_map", map) < 0 || write_file("/proc/self/gid_map", map) < 0)
		return -1;
	return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* One message of at most len bytes (NUL-terminated) with up to MAX_FDS
 * descriptors. Returns its length (0 when the peer has gone), -1 on error. */
static ssize_t
recv_fds(int sock, char *buf, size_t len, int *fds, int *nfds)
{
	char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	struct iovec iov = {buf, len - 1};
	struct msghdr mh = {0};
	struct cmsghdr *c;
	ssize_t n;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k && *nfds < MAX_FDS; i++)
				memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
		}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}

static int
send_fds(int sock, const char *buf, size_t len, const int *fds, int nfds)
{
	char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	struct iovec iov = {(void *)buf, len};
	struct msghdr mh = {0};
	struct cmsghdr *c;

	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* fork() as os.fork() does it: the interpreter's locks and at-fork hooks. */
static pid_t
py_fork(void)
{
	pid_t pid;

	int saved;

	PyOS_BeforeFork();
	pid = fork();
	saved = errno;
	if (pid == 0)
		PyOS_AfterFork_Child();
	else
		PyOS_AfterFork_Parent();
	errno = saved;
	return pid;
}

/* The job's limits, "wall_ms cpu_s as_bytes nproc fsize nofile stack
 * tmpfs_bytes", parsed into v[8]. */
static int
parse_limits(const char *msg, long long v[8])
{
	const char *p = msg;

	for (int i = 0; i < 8; i++) {
		char *end;
		errno = 0;
		v[i] = strtoll(p, &end, 10);
		if (end == p || errno != 0)
			return -1;
		p = end;
	}
	return 0;
}

/* Sets the job's rlimits on pid (0: this process). */
static int
apply_job_limits(pid_t pid, const long long v[8])
{
	static const int res[] = {RLIMIT_CPU,   RLIMIT_AS,      RLIMIT_NPROC,
	                          RLIMIT_FSIZE, RLIMIT_NOFILE,  RLIMIT_STACK,
	                          RLIMIT_CORE,  RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE};

	for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
		long long x = i < 6 ? v[i + 1] : 0;
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = x < 0 ? RLIM_INFINITY : (rlim_t)x;
		if (prlimit(pid, res[i], &rl, NULL) < 0)
			return -1;
	}
	return 0;
}

/* What a forked child hands back to Python. */
static PyObject *
child_result(const char *kind, PyObject *first)
{
	PyObject *r = first != NULL ? Py_BuildValue("(sN)", kind, first) : NULL;

	if (r == NULL) {
		errno = ENOMEM;
		child_fail("a process of the zygote", "returning to Python");
	}
	return r;
}

/* The first case's process, forked by the job process before its job: it
 * waits, holding nothing of a job's, for the job's stdin, stdout and
 * stderr on cs (sent once the job process has set the job's limits on
 * it), then returns ("case", (spec_r, rep_w, mark_w)) to run its case. */
static PyObject *
first_case_child(int cs, int spec_r, int rep_w, int mark_w)
{
	static const char *who = "the first case's process";
	char msg[16];
	int fds[MAX_FDS], got;
	ssize_t n = recv_fds(cs, msg, sizeof msg, fds, &got);

	if (n <= 0 || got != 3)
		_exit(0); /* no job: the job process ended first */
	close(cs);
	/* received close-on-exec: what the case runs inherits these three */
	for (int i = 0; i < 3; i++)
		if (fds[i] == i ? fcntl(i, F_SETFD, 0) < 0
		                : dup2(fds[i], i) < 0 || close(fds[i]) < 0)
			child_fail(who, "dup2");
	if (chdir("/work") < 0)
		child_fail(who, "chdir /work");
	return child_result("case", Py_BuildValue("(iii)", spec_r, rep_w, mark_w));
}

/* Forks the first case's process (see first_case_child). In the job
 * process, fills first[] with its pid, the job process's end of its
 * socket, the read ends of its report and marker pipes and the write end
 * of its spec pipe, and returns NULL; in the case's process, returns what
 * first_case_child does. */
static PyObject *
fork_first_case(int psock, int first[5])
{
	static const char *who = "the job process";
	int sp[2], rep[2], mark[2], spec[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(rep, O_CLOEXEC) < 0 || pipe2(mark, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(spec, O_CLOEXEC) < 0)
		child_fail(who, "making the first case's pipes");
	pid = py_fork();
	if (pid < 0)
		child_fail(who, "forking the first case's process");
	if (pid == 0) {
		close(psock);
		close(sp[0]);
		close(rep[0]);
		close(mark[0]);
		close(spec[1]);
		return first_case_child(sp[1], spec[0], rep[1], mark[1]);
	}
	close(sp[1]);
	close(rep[1]);
	close(mark[1]);
	close(spec[0]);
	(void)setpgid(pid, pid); /* it may already have run; it is its own group */
	first[0] = pid;
	first[1] = sp[0];
	first[2] = rep[0];
	first[3] = mark[0];
	first[4] = spec[1];
	return NULL;
}

/* Every capability gone, for good; no_new_privs; the seccomp filter. */
static void
lock_down(const struct zygote *z)
{
	static const char *who = "the job process";
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			if (errno == EINVAL)
				break; /* past the last capability this kernel has */
			child_fail(who, "PR_CAPBSET_DROP");
		}
	memset(data, 0, sizeof data);
	if (syscall(SYS_capset, &hdr, data) < 0)
		child_fail(who, "capset");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(who, "no_new_privs");
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &z->prog, 0, 0) < 0)
		child_fail(who, "seccomp");
}

/* A job process's state between job_process() and job(). */
static struct {
	int psock;    /* its job comes on it */
	int first[5]; /* its first case's process (fork_first_case), or -1s */
} pending = {-1, {-1, -1, -1, -1, -1}};

static void job_arrive(int first_out[4]);
static PyObject *run_cases(const int first_in[4]);

/* PID 1 of the job's namespace, made before its job arrives: its own mount
 * and IPC namespaces, a fresh /tmp, /dev/shm and /proc, the work
 * directory on /work, a user namespace of its own, locked down. With the
 * grading harness, returns ("job", None): the harness may get ready, then
 * calls job() for its job. With the evaluation harness, forks its first
 * case's process, waits for its job and is the runner (run_cases), which
 * never returns here; in the first case's process, returns ("case", ...)
 * (see first_case_child), in a later case's, ("later", ...). */
static PyObject *
job_process(const struct zygote *z, int psock, long long tmpfs)
{
	static const char *who = "the job process";
	char opts[64];
	PyObject *r;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		child_fail(who, "PR_SET_PDEATHSIG");
	if ((psock > 3 && syscall(SYS_close_range, 3, psock - 1, 0) < 0) ||
	    syscall(SYS_close_range, psock + 1, ~0U, 0) < 0)
		child_fail(who, "close_range");
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC) < 0)
		child_fail(who, "unshare(mount, ipc)");
	/* Slave, not private: the work directory init mounts on
	 * /run/evald/work when the job arrives must still reach /work. */
	snprintf(opts, sizeof opts, "size=%lld,mode=1777", tmpfs);
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0 ||
	    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0 ||
	    mount("/run/evald/work", "/work", NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
		child_fail(who, "mount");
	if (enter_user_namespace() < 0)
		child_fail(who, "entering a user namespace");
	/* Locked down before the job arrives, since none of this depends on
	 * the job. Redis hands each job to the slot that has waited longest,
	 * so with more than one slot this runs while the others take the
	 * next jobs. */
	lock_down(z);
	if (z->split && (r = fork_first_case(psock, pending.first)) != NULL)
		return r;
	pending.psock = psock;
	if (z->split) {
		int first[4];

		job_arrive(first);
		return run_cases(first);
	}
	Py_INCREF(Py_None);
	return child_result("job", Py_None);
}

/* In a job process: waits for its job on the zygote's socket: the job's
 * limits and descriptors, which become 0.. in order (the first case's ends
 * follow them); sets the limits on the first case's process and on itself,
 * sends the first case its stdin, stdout and stderr. Fills first[] with the
 * first case's pid and its report, marker and spec descriptors (pid 0: no
 * first case). Ends the process when no job comes. */
static void
job_arrive(int first_out[4])
{
	static const char *who = "the job process";
	char msg[4096];
	int fds[MAX_FDS], got, mine[MAX_FDS + 4], high[MAX_FDS + 4], n = 0;
	const int *first = pending.first;
	long long v[8];

	if (recv_fds(pending.psock, msg, sizeof msg, fds, &got) <= 0)
		_exit(0); /* the zygote went away, or discarded this one */
	close(pending.psock);
	pending.psock = -1;
	if (parse_limits(msg, v) < 0 || got < 3) {
		errno = EINVAL;
		child_fail(who, "the job's limits and descriptors");
	}
	/* out of the way first, so that no dup2 below lands on one still
	 * needed */
	for (int i = 0; i < got; i++)
		mine[n++] = fds[i];
	if (first[0] > 0)
		for (int i = 1; i < 5; i++)
			mine[n++] = first[i];
	for (int i = 0; i < n; i++)
		if ((high[i] = fcntl(mine[i], F_DUPFD, 100)) < 0)
			child_fail(who, "F_DUPFD");
	for (int i = 0; i < n; i++)
		close(mine[i]);
	for (int i = 0; i < n; i++)
		if (dup2(high[i], i) < 0)
			child_fail(who, "dup2");
	if (syscall(SYS_close_range, n, ~0U, 0) < 0)
		child_fail(who, "close_range");
	first_out[0] = 0;
	if (first[0] > 0) {
		/* the first case's process: the job's limits, then its stdin,
		 * stdout and stderr, which let it go on */
		if (apply_job_limits(first[0], v) < 0)
			child_fail(who, "setting the first case's limits");
		if (send_fds(got, "j", 1, (const int[]){0, 1, 2}, 3) < 0)
			child_fail(who, "handing the first case its descriptors");
		close(got);
		first_out[0] = first[0];
		first_out[1] = got + 1;
		first_out[2] = got + 2;
		first_out[3] = got + 3;
	}
	if (apply_job_limits(0, v) < 0)
		child_fail(who, "setting the job's limits");
	if (chdir("/work") < 0)
		child_fail(who, "chdir /work");
}

/* job(), in a job process of the grading harness: waits for its job (see
 * job_arrive); the harness then runs. */
static PyObject *
job(PyObject *self, PyObject *args)
{
	int first[4];

	(void)self;
	(void)args;
	if (pending.psock < 0) {
		PyErr_SetString(PyExc_RuntimeError, "not a job process waiting for its job");
		return NULL;
	}
	job_arrive(first);
	Py_RETURN_NONE;
}

/* ---- the runner ---- */

/* The evaluation harness's runner is the job process itself, in C from its
 * fork to its exit: it runs no Python, so it copies none of the zygote's
 * pages for Python's sake, and a later case's process is forked from a
 * process that holds nothing but the job's setup. The protocol is
 * evaluate.py's (_runner_main, the same loop for a harness without this
 * module): the judge writes the setup, then each case's spec, as frames (an
 * 8-byte big-endian length, then the bytes) on RUN_CTRL; for each case the
 * runner writes on RUN_REP a frame holding a 4-byte header length, a JSON
 * header saying how the case ended, and the case's report. */

#define RUN_CTRL 3
#define RUN_REP 4
#define REPORT_MAX (64LL << 20) /* evaluate.py's MAX_FRAME */

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long
big_endian(const unsigned char *p, int n)
{
	unsigned long long x = 0;

	for (int i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

static void
put_big_endian(unsigned char *p, unsigned long long x, int n)
{
	for (int i = n - 1; i >= 0; i--, x >>= 8)
		p[i] = (unsigned char)x;
}

/* Writes every byte of iov; -1 when the reader has gone. */
static int
write_iov(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t k = writev(fd, iov, cnt);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		while (cnt > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

/* n bytes from fd; 0 at its end (or on an error), 1 when read. */
static int
read_full(int fd, void *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = read(fd, buf, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return 0;
		buf = (char *)buf + k;
		n -= (size_t)k;
	}
	return 1;
}

/* One frame from the judge into *buf (grown as needed, the old one wiped).
 * Returns its length, -1 at the end of the judge's pipe. */
static long long
read_frame(char **buf, size_t *cap)
{
	unsigned char head[8];
	unsigned long long n;

	if (!read_full(RUN_CTRL, head, 8))
		return -1;
	n = big_endian(head, 8);
	if (n > (unsigned long long)REPORT_MAX) {
		errno = EMSGSIZE;
		child_fail("the runner", "a frame from the judge");
	}
	if (n > *cap || *buf == NULL) {
		char *b = malloc(n > 4096 ? n : 4096);
		if (b == NULL)
			child_fail("the runner", "malloc");
		if (*buf != NULL) {
			explicit_bzero(*buf, *cap);
			free(*buf);
		}
		*buf = b;
		*cap = n > 4096 ? n : 4096;
	}
	if (!read_full(RUN_CTRL, *buf, n))
		return -1;
	return (long long)n;
}

/* The case time limit, in seconds, from the setup's header: the judge
 * writes it first, {"timeout":<seconds>,...}. -1 when it is not there. */
static double
setup_timeout(const char *setup, long long len)
{
	static const char key[] = "{\"timeout\":";
	char num[64];
	unsigned long long hlen;
	size_t i = 0;
	const char *p;
	char *end;
	double t;

	if (len < 4)
		return -1;
	hlen = big_endian((const unsigned char *)setup, 4);
	if (hlen > (unsigned long long)len - 4 || hlen < sizeof key ||
	    memcmp(setup + 4, key, sizeof key - 1) != 0)
		return -1;
	p = setup + 4 + sizeof key - 1;
	while (p + i < setup + 4 + hlen && p[i] != ',' && p[i] != '}' && i < sizeof num - 1) {
		num[i] = p[i];
		i++;
	}
	num[i] = '\0';
	t = strtod(num, &end);
	return i > 0 && *end == '\0' && t > 0 && t <= 86400 ? t : -1;
}

/* A later case's process: forked with its report and marker pipes, held
 * (gate >= 0) until the last case's process has been reaped. Returns
 * ("later", (setup, spec, rep_w, mark_w)) to run its case. */
static PyObject *
later_case_child(const char *setup, long long setup_len, const char *spec, long long n, int rep_w,
                 int mark_w, int gate)
{
	char g;

	close(RUN_CTRL);
	close(RUN_REP);
	if (gate >= 0) {
		if (!read_full(gate, &g, 1))
			_exit(0); /* the runner has gone */
		close(gate);
	}
	return child_result("later", Py_BuildValue("(y#y#ii)", setup, (Py_ssize_t)setup_len, spec,
	                                           (Py_ssize_t)n, rep_w, mark_w));
}

/* Waits (without reaping it) until pid has ended or deadline has passed;
 * 1 when the deadline passed first. */
static int
await_end(pid_t pid, double deadline)
{
	double pause = 0.0005;

	for (;;) {
		siginfo_t si;
		double left;

		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid != 0)
			return 0;
		left = deadline - mono();
		if (left <= 0)
			return 1;
		if (pause > left)
			pause = left;
		struct timespec ts = {(time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9)};
		nanosleep(&ts, NULL);
		pause = pause * 2 > 0.02 ? 0.02 : pause * 2;
	}
}

/* Ends and reaps every child of this process but keep (the next case's
 * process, held on its pipe): the last case's process, killed already,
 * and whatever it started that left its process group (setsid, setpgid),
 * which becomes this process's child (PID 1 of the job's namespace) when
 * its parent ends, and is killed then. keep 0: every child. Returns when
 * no other child is left; fails closed when it cannot tell. */
static void
reap_others(pid_t keep)
{
	for (;;) {
		char buf[4096];
		int fd = open("/proc/thread-self/children", O_RDONLY | O_CLOEXEC), waited = 0;
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);

		if (fd >= 0)
			close(fd);
		if (n < 0)
			child_fail("the runner", "reading its children");
		buf[n] = '\0';
		for (char *p = buf, *end;; p = end) {
			long c = strtol(p, &end, 10);

			if (end == p)
				break;
			if (c != keep) {
				(void)kill((pid_t)c, SIGKILL);
				(void)waitpid((pid_t)c, NULL, __WALL);
				waited = 1;
			}
		}
		if (!waited)
			return;
	}
}

/* The runner (see above). first: the first case's process, made before the
 * job, and its report, marker and spec descriptors. Never returns in the
 * job process; in a later case's process returns what later_case_child
 * does. */
static PyObject *
run_cases(const int first_in[4])
{
	static const char *who = "the runner";
	char *setup = NULL, *spec = NULL, *rb;
	size_t setup_cap = 0, spec_cap = 0, rb_cap = 4096, rn = 0;
	long long setup_len, n;
	int first[4];
	pid_t prev = 0; /* the last case's process, killed, not reaped */
	double timeout;

	memcpy(first, first_in, sizeof first);
	setup_len = read_frame(&setup, &setup_cap);
	if (setup_len < 0)
		_exit(0);
	timeout = setup_timeout(setup, setup_len);
	if (timeout < 0) {
		errno = EINVAL;
		child_fail(who, "the setup's case time limit");
	}
	if ((rb = malloc(rb_cap)) == NULL)
		child_fail(who, "malloc");
	for (;;) {
		const char *problem = "null";
		char code[16] = "null", sig[16] = "null", body[160];
		unsigned char head[12];
		long long p0 = -1, size = 0;
		int r, mr, timed_out = 0, blen;
		double start, deadline;
		pid_t pid;
		char mark;

		if ((n = read_frame(&spec, &spec_cap)) < 0)
			_exit(0); /* the judge is done */
		if (first[0] > 0) {
			/* The first case's process is already there: it gets the
			 * setup and its spec (and nothing more) on its own pipe. */
			unsigned char h1[8], h2[8];
			struct iovec iov[4] = {
			    {h1, 8}, {setup, (size_t)setup_len}, {h2, 8}, {spec, (size_t)n}};

			put_big_endian(h1, (unsigned long long)setup_len, 8);
			put_big_endian(h2, (unsigned long long)n, 8);
			(void)write_iov(first[3], iov, 4); /* gone: how it ended is its verdict */
			close(first[3]);
			explicit_bzero(spec, (size_t)n); /* no later case may find it */
			pid = first[0];
			r = first[1];
			mr = first[2];
			first[0] = 0;
		} else {
			int rp[2], mp[2], gp[2], fork_err;

			/* the marker is read only once the case has ended, so that it
			 * wakes nobody while the case runs; while what the last case
			 * left still exits, this one is forked but held on a pipe: it
			 * runs none of the code until all of that is reaped (its
			 * memory freed, its pids gone from every count) */
			if (pipe2(rp, O_CLOEXEC) < 0 || pipe2(mp, O_CLOEXEC | O_NONBLOCK) < 0 ||
			    pipe2(gp, O_CLOEXEC) < 0)
				child_fail(who, "making a case's pipes");
			pid = py_fork();
			if (pid < 0) {
				/* what the last case left may be what this fork ran
				 * out of (RLIMIT_NPROC): end it all, then fork again */
				reap_others(0);
				prev = 0;
				pid = py_fork();
			}
			if (pid == 0) {
				close(rp[0]);
				close(mp[0]);
				close(gp[1]);
				return later_case_child(setup, setup_len, spec, n, rp[1], mp[1],
				                        gp[0]);
			}
			fork_err = errno;
			/* the next case's process must not find it */
			explicit_bzero(spec, (size_t)n);
			close(rp[1]);
			close(mp[1]);
			close(gp[0]);
			if (pid < 0) {
				unsigned char fh[12];
				struct iovec iov[2];

				blen = snprintf(body, sizeof body,
				                "{\"fork_error\":\"[Errno %d] %s\"}", fork_err,
				                strerror(fork_err));
				close(rp[0]);
				close(mp[0]);
				close(gp[1]);
				put_big_endian(fh, 4 + (unsigned long long)blen, 8);
				put_big_endian(fh + 8, (unsigned long long)blen, 4);
				iov[0] = (struct iovec){fh, 12};
				iov[1] = (struct iovec){body, (size_t)blen};
				if (write_iov(RUN_REP, iov, 2) < 0)
					_exit(0);
				continue;
			}
			(void)setpgid(pid, pid);
			if (prev > 0)
				(void)waitpid(prev, NULL, __WALL);
			prev = 0;
			reap_others(pid);
			(void)write(gp[1], "g", 1); /* gone: how it ended is its verdict */
			close(gp[1]);
			r = rp[0];
			mr = mp[0];
		}
		start = mono();

		/* the report: "R", its size (8 bytes) and the JSON, within the
		 * case's wall limit */
		deadline = start + timeout;
		for (;;) {
			double left = deadline - mono();
			struct pollfd pfd = {r, POLLIN, 0};
			struct timespec ts;
			ssize_t k;
			int pr;

			if (left <= 0) {
				timed_out = 1;
				break;
			}
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
			pr = ppoll(&pfd, 1, &ts, NULL);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr <= 0) {
				timed_out = 1;
				break;
			}
			if (rn == rb_cap) {
				char *grown = malloc(2 * rb_cap);
				if (grown == NULL)
					child_fail(who, "malloc");
				memcpy(grown, rb, rn);
				explicit_bzero(rb, rb_cap);
				free(rb);
				rb = grown;
				rb_cap *= 2;
			}
			k = read(r, rb + rn, rb_cap - rn);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			rn += (size_t)k;
			if (rb[0] != 'R') {
				problem = "\"malformed\"";
				break;
			}
			if (rn >= 9) {
				unsigned long long want = big_endian((unsigned char *)rb + 1, 8);
				if (want > (unsigned long long)REPORT_MAX) {
					problem = "\"too_large\"";
					break;
				}
				if (rn >= 9 + want) {
					p0 = 9;
					size = (long long)want;
					break;
				}
			}
		}
		/* the pipe closed without a report: wait (within the limit) for
		 * the process to end, without reaping it, so that its group id
		 * stays its own */
		if (p0 < 0 && strcmp(problem, "null") == 0 && !timed_out)
			timed_out = await_end(pid, deadline);
		/* SIGKILL the case's process and whatever is left in its group
		 * (what left the group is ended before the next case runs:
		 * reap_others) */
		(void)killpg(pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		close(r);
		if (p0 < 0) {
			/* how it ended is the verdict: reap now */
			int status;
			if (waitpid(pid, &status, 0) == pid) {
				if (WIFSIGNALED(status))
					snprintf(sig, sizeof sig, "%d", WTERMSIG(status));
				else if (WIFEXITED(status))
					snprintf(code, sizeof code, "%d", WEXITSTATUS(status));
			}
			pid = 0;
		}
		/* whether the module ran: "M" on the marker pipe (written before
		 * the report, or the case is gone by now) */
		mark = 0;
		if (read(mr, &mark, 1) != 1)
			mark = 0;
		close(mr);

		/* relay the report; its reaping overlaps the judge's work */
		blen = snprintf(body, sizeof body,
		                "{\"marker\":%s,\"timeout\":%s,\"problem\":%s,\"exit\":%s,"
		                "\"signal\":%s,\"payload\":%s}",
		                mark == 'M' ? "true" : "false", timed_out ? "true" : "false",
		                problem, code, sig, p0 >= 0 ? "true" : "false");
		put_big_endian(head, 4 + (unsigned long long)blen + (unsigned long long)size, 8);
		put_big_endian(head + 8, (unsigned long long)blen, 4);
		{
			struct iovec iov[3] = {{head, 12},
			                       {body, (size_t)blen},
			                       {rb + (p0 >= 0 ? p0 : 0), (size_t)size}};
			int w = write_iov(RUN_REP, iov, 3);

			explicit_bzero(rb, rn); /* nor this report */
			rn = 0;
			if (w < 0)
				_exit(0); /* the judge has stopped reading: done */
		}
		/* the module did not run: every case fails with its error, so
		 * the judge reads no further report, and a case it sent ahead
		 * must not run */
		if (mark != 'M')
			_exit(0);
		if (pid > 0)
			prev = pid; /* reaped while the next case is forked */
	}
}

/* Forks the next job process into a new PID namespace, where it makes its
 * namespaces and mounts while no job waits for it. Returns NULL in the
 * zygote (with *rd filled, or an exception set), the job process's result
 * in the job process. */
static PyObject *
prepare(const struct zygote *z, long long tmpfs, struct ready *rd, int *err)
{
	int sp[2], saved;
	pid_t pid;

	*err = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		goto fail;
	if (unshare(CLONE_NEWPID) < 0) {
		saved = errno;
		close(sp[0]);
		close(sp[1]);
		errno = saved;
		goto fail;
	}
	pid = py_fork();
	if (pid == 0) {
		close(sp[0]);
		return job_process(z, sp[1], tmpfs);
	}
	saved = errno;
	/* the next child is the zygote's own again */
	if (setns(z->own_pidns, CLONE_NEWPID) < 0)
		goto fail;
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		errno = saved;
		goto fail;
	}
	rd->pid = pid;
	rd->sock = sp[0];
	return NULL;
fail:
	*err = errno;
	return NULL;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
report_line(int fd, const char *text)
{
	if (write(fd, text, strlen(text)) < 0) {
		/* init has gone: nobody to tell */
	}
}

/* Hands the job (limits text, fds[5]) to the prepared job process, holds
 * its wall clock, reports how it ended on fds[4]: "wstatus timed_out
 * wall_ms cpu_ms maxrss_kb". Closes fds. When it cannot hand the job over
 * or watch it, says so on fds[4] and ends the zygote (the job process
 * dies with it), so that the executor builds a new one. */
static void
run_job(const struct zygote *z, struct ready *rd, const char *limits, const long long v[8],
        int fds[5])
{
	int job_fds[5] = {fds[0], fds[1], fds[2], fds[3], -1}, njob = 4,
	    pipes[4] = {-1, -1, -1, -1};
	int report = fds[4], pidfd, timed_out = 0, status = 0;
	long long t0;
	struct rusage ru;
	struct pollfd pfd;
	char line[160];

	if (z->judge >= 0) {
		/* The judge reads the request and writes the answer; the job
		 * process gets the code and the inputs from it, case by case. */
		if (pipe2(pipes, O_CLOEXEC) < 0 || pipe2(pipes + 2, O_CLOEXEC) < 0 ||
		    send_fds(z->judge, "j", 1, (const int[]){fds[0], fds[3], pipes[1], pipes[2]},
		             4) < 0)
			goto fail;
		job_fds[0] = z->devnull;
		job_fds[3] = pipes[0];
		job_fds[4] = pipes[3];
		njob = 5;
	}
	t0 = now_ms();
	if (send_fds(rd->sock, limits, strlen(limits), job_fds, njob) < 0)
		goto fail;
	close(rd->sock);
	for (int i = 0; i < 4; i++) {
		close(fds[i]);
		if (pipes[i] >= 0)
			close(pipes[i]);
	}
	pidfd = (int)syscall(SYS_pidfd_open, rd->pid, 0);
	if (pidfd < 0) {
		kill(rd->pid, SIGKILL); /* its clock cannot be held: end it */
		goto fail;
	}
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	for (;;) {
		long long left = v[0] - (now_ms() - t0);
		int n = left > 0 ? poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			kill(rd->pid, SIGKILL); /* its clock cannot be held: end it */
			goto fail;
		}
		if (n == 0 && left > INT_MAX)
			continue;
		if (n == 0) {
			timed_out = 1;
			kill(rd->pid, SIGKILL);
		}
		break;
	}
	close(pidfd);
	while (wait4(rd->pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			goto fail;
	snprintf(line, sizeof line, "%d %d %lld %lld %ld\n", status, timed_out, now_ms() - t0,
	         (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	             (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000,
	         ru.ru_maxrss);
	report_line(report, line);
	close(report);
	return;
fail:
	snprintf(line, sizeof line, "E the zygote cannot run the job: %s\n", strerror(errno));
	report_line(report, line);
	_exit(1);
}

/* serve(sock, judge, devnull, own_pidns, filter, split): the zygote's
 * loop. In the zygote, returns None when init closes sock and raises
 * OSError when the zygote cannot go on; in a process it forks, returns
 * ("job", None) or ("case", (spec_r, rep_w, mark_w)) (see job_process). */
static PyObject *
serve(PyObject *self, PyObject *args)
{
	struct zygote z;
	struct ready rd = {-1, -1};
	Py_buffer filter;
	PyObject *r = NULL;

	(void)self;
	if (!PyArg_ParseTuple(args, "iiiiy*p", &z.sock, &z.judge, &z.devnull, &z.own_pidns, &filter,
	                      &z.split))
		return NULL;
	if (filter.len == 0 || filter.len % sizeof(struct sock_filter) != 0 ||
	    filter.len / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		PyBuffer_Release(&filter);
		PyErr_SetString(PyExc_ValueError, "not a seccomp filter");
		return NULL;
	}
	z.prog.len = (unsigned short)(filter.len / sizeof(struct sock_filter));
	z.prog.filter = filter.buf;
	for (;;) {
		char msg[4096];
		int fds[MAX_FDS], got, err = 0;
		long long v[8];
		ssize_t n = recv_fds(z.sock, msg, sizeof msg, fds, &got);

		if (n < 0 && errno != ECONNRESET) {
			PyErr_SetFromErrno(PyExc_OSError);
			break;
		}
		if (n <= 0) {
			Py_INCREF(Py_None);
			r = Py_None;
			break;
		}
		if (msg[0] == 'p') {
			/* "p tmpfs_bytes": the last job's work directory is
			 * gone; make the next job process now, before its job */
			for (int i = 0; i < got; i++)
				close(fds[i]);
			if (rd.pid < 0 && (r = prepare(&z, atoll(msg + 1), &rd, &err)) != NULL)
				break;
		} else if (got != 5 || parse_limits(msg, v) < 0) {
			for (int i = 0; i < got; i++)
				close(fds[i]);
			continue;
		} else {
			if (rd.pid < 0 && (r = prepare(&z, v[7], &rd, &err)) != NULL)
				break;
			if (rd.pid >= 0) {
				run_job(&z, &rd, msg, v, fds);
				rd.pid = -1;
				continue;
			}
		}
		if (err != 0) {
			errno = err;
			PyErr_SetFromErrno(PyExc_OSError);
			break;
		}
	}
	PyBuffer_Release(&filter);
	return r;
}

/* ---- the interpreter's code on huge pages ---- */

#define HUGE_PAGE (2UL << 20)
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/* The run of mappings of one file around addr, from /proc/self/maps:
 * consecutive, each readable and none writable. Returns 0 and sets *lo and
 * *hi, or -1. */
static int
code_run(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	unsigned long a, b, ino, file = 0;
	char perm[8];
	int found = 0;

	if (f == NULL)
		return -1;
	*lo = *hi = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &a, &b, perm, &ino) != 4)
			continue;
		if (found && (a != *hi || ino != file || perm[0] != 'r' || perm[1] == 'w'))
			break; /* the run around addr has ended */
		if (ino == 0 || perm[0] != 'r' || perm[1] == 'w') {
			*lo = *hi = 0;
			continue;
		}
		if (a != *hi || ino != file)
			*lo = a; /* a new run */
		*hi = b;
		file = ino;
		if (a <= addr && addr < b)
			found = 1;
	}
	fclose(f);
	return found ? 0 : -1;
}

/* huge_text(): puts the 2 MiB-aligned part of the interpreter's read-only
 * image (its code, and the read-only data around it) on anonymous huge
 * pages, at the same addresses, read-only and executable. A file's code is
 * mapped again, 16 pages a fault, by every process forked from here, and
 * unmapped at each one's exit; a huge page's single entry is copied at
 * fork instead. Returns True when done, False when the image has no whole
 * 2 MiB block or the kernel gives no huge page (nothing has changed then).
 * Only in a process with one thread. */
static PyObject *
huge_text(PyObject *self, PyObject *args)
{
	uintptr_t lo, hi, a;
	size_t n;
	char *raw;

	(void)self;
	(void)args;
	if (code_run((uintptr_t)&PyEval_EvalCode, &lo, &hi) < 0)
		Py_RETURN_FALSE;
	lo = (lo + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	hi &= ~(HUGE_PAGE - 1);
	if (hi <= lo)
		Py_RETURN_FALSE;
	n = hi - lo;
	raw = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		Py_RETURN_FALSE;
	a = ((uintptr_t)raw + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if (a > (uintptr_t)raw)
		munmap(raw, a - (uintptr_t)raw);
	munmap((char *)a + n, (uintptr_t)raw + HUGE_PAGE - a);
	if (madvise((void *)a, n, MADV_HUGEPAGE) < 0)
		goto undo;
	memcpy((void *)a, (void *)lo, n);
	/* answers 0 only when every block is one huge page */
	if (madvise((void *)a, n, MADV_COLLAPSE) < 0 ||
	    mprotect((void *)a, n, PROT_READ | PROT_EXEC) < 0)
		goto undo;
	/* One step: the code that runs this call is replaced by the same bytes.
	 * (Should the kernel fail after it has unmapped lo, this process dies,
	 * as a zygote that fails at its start.) */
	if (mremap((void *)a, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)lo) != (void *)lo)
		goto undo;
	Py_RETURN_TRUE;
undo:
	munmap((void *)a, n);
	Py_RETURN_FALSE;
}

/* user_namespace(): this process becomes root of a new user namespace that
 * maps only the sandbox user (the zygote's own, at its start). */
static PyObject *
user_namespace(PyObject *self, PyObject *args)
{
	(void)self;
	(void)args;
	if (enter_user_namespace() < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_RETURN_NONE;
}

/* prctl(option, arg): the zygote's own undumpable and parent-death signal. */
static PyObject *
py_prctl(PyObject *self, PyObject *args)
{
	int option;
	unsigned long arg;

	(void)self;
	if (!PyArg_ParseTuple(args, "ik", &option, &arg))
		return NULL;
	if (prctl(option, arg, 0, 0, 0) < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_RETURN_NONE;
}

/* unshare(flags): the zygote's own PID namespace. */
static PyObject *
py_unshare(PyObject *self, PyObject *args)
{
	int flags;

	(void)self;
	if (!PyArg_ParseTuple(args, "i", &flags))
		return NULL;
	if (unshare(flags) < 0)
		return PyErr_SetFromErrno(PyExc_OSError);
	Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"serve", serve, METH_VARARGS, "The zygote's job loop."},
    {"job", job, METH_NOARGS, "In a job process: wait for the job."},
    {"user_namespace", user_namespace, METH_NOARGS, "Enter a user namespace of one's own."},
    {"prctl", py_prctl, METH_VARARGS, "prctl(option, arg)."},
    {"unshare", py_unshare, METH_VARARGS, "unshare(flags)."},
    {"huge_text", huge_text, METH_NOARGS, "The interpreter's code on huge pages."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_zygote", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC
PyInit__zygote(void)
{
	return PyModule_Create(&module);
}
