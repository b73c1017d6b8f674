/*
 * evald-executor: registers itself in Redis, forks executor_slots slot
 * processes that pop and run jobs, renews its lease while it lives, and
 * reaps the jobs of executors whose lease expired. It refuses to start when
 * it cannot build a sandbox. SIGTERM drains: slots finish the job in hand
 * and take no more.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/job.h"
#include "common/log.h"
#include "common/store.h"
#include "common/util.h"
#include "executor/cgroup.h"
#include "executor/filter.h"
#include "executor/runner.h"
#include "executor/sandbox.h"
#include "executor/slot.h"

static const char usage[] = "usage: evald-executor [-t] [--self-test] [-c FILE] [-o key=value]...\n"
                            "  -c FILE       configuration file\n"
                            "  -o key=value  override one setting (see conf/evald.conf)\n"
                            "  -t            check the configuration and the sandbox, then exit\n";

static volatile sig_atomic_t got_term, got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig != SIGCHLD)
		got_term = 1;
}

/* Small fixed limits for the start-up probes, which are /bin/sh -c jobs
 * run as /run's are (the shell started ahead). */
static void
probe_spec(struct sandbox_spec *s, const char *const *argv)
{
	memset(s, 0, sizeof *s);
	s->shell_ahead = 1;
	s->argv = argv;
	s->wall_ms = 20000;
	s->cpu_s = 20;
	s->as_bytes = 1024 << 20;
	s->nproc = 64;
	s->fsize_bytes = 1 << 20;
	s->nofile = 64;
	s->stack_bytes = 8 << 20;
	s->tmpfs_bytes = 1 << 20;
	s->output_max = 65536;
	s->save_max_bytes = 1 << 20;
	s->save_max_files = 16;
}

static int
preflight(char *err, size_t errlen)
{
	const char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
	struct sandbox_spec s;
	struct sandbox_result r;
	int rc = -1;

	probe_spec(&s, argv);
	if (sandbox_run(&s, &r) < 0)
		snprintf(err, errlen, "%s", r.error);
	else if (r.exit_code != 7)
		snprintf(err, errlen, "a probe job did not run (status %s, exit %d): %.100s",
		         sandbox_status_name(r.status), r.exit_code, r.err.data ? r.err.data : "");
	else
		rc = 0;
	sandbox_result_free(&r);
	return rc;
}

/* Probes run inside a sandbox by --self-test: each line is "layer: what
 * was tried -> what happened", and says "stopped" when the layer held. */
static const char self_test_script[] =
    "p() { if eval \"$2\" >/dev/null 2>&1; then echo \"$1: $3 -> ALLOWED\"; "
    "else echo \"$1: $3 -> stopped\"; fi; }\n"
    "n() { if eval \"$2\" >/dev/null 2>&1; then echo \"$1: $3 -> holds\"; "
    "else echo \"$1: $3 -> FAILED\"; fi; }\n"
    "n user '[ \"$(id -u)\" = 1000 ] && ! grep -q \"^ *1000 *1000 \" /proc/self/uid_map' "
    "'runs as uid 1000, mapped to an unprivileged host id'\n"
    "n pid '[ \"$(ls -d /proc/[0-9]* | wc -l)\" -le 4 ]' 'sees only its own processes'\n"
    "p net 'python3 -c \"import socket; socket.create_connection((\\\"127.0.0.1\\\", 6379), 1)\"' "
    "'connect to 127.0.0.1:6379'\n"
    "n net '! grep -q \"^ *[a-z0-9]*: .* UP\" /proc/net/dev 2>/dev/null && "
    "[ \"$(wc -l < /proc/net/route)\" -le 1 ]' 'no interface up, no route'\n"
    "p mount 'touch /usr/evald-probe' 'write /usr'\n"
    "p mount 'cat /etc/shadow' 'read /etc/shadow'\n"
    "n mount 'touch /work/x && touch /tmp/x' 'write /work and /tmp'\n"
    "p ipc 'python3 -c \"import sys; sys.exit(0 if "
    "open(\\\"/proc/sysvipc/shm\\\").read().count(chr(10)) > 1 else 1)\"' "
    "'see the host SysV shared memory'\n"
    "n uts '[ \"$(cat /proc/sys/kernel/hostname)\" = sandbox ]' 'hostname is its own'\n"
    "p seccomp 'unshare -U true' 'unshare a user namespace'\n"
    "p seccomp 'python3 -c \"import ctypes,sys; sys.exit(ctypes.CDLL(None).syscall(101,0,0,0,0) != "
    "0)\"' "
    "'ptrace(PTRACE_TRACEME)'\n"
    "n caps 'grep -q \"^CapEff:.0000000000000000\" /proc/self/status && "
    "grep -q \"^CapBnd:.0000000000000000\" /proc/self/status' 'no capabilities at all'\n"
    "n nonewprivs 'grep -q \"^NoNewPrivs:.1\" /proc/self/status' 'no_new_privs set'\n"
    "n rlimits '[ \"$(ulimit -c)\" = 0 ] && [ \"$(ulimit -u)\" != unlimited ] && "
    "[ \"$(ulimit -v)\" != unlimited ]' 'core 0, processes and memory bounded'\n"
    "n env '[ -z \"$EVALD_CANARY\" ] && [ \"$(env | wc -l)\" -le 12 ]' 'a clean environment'\n"
    "n fds '[ \"$(ls /proc/self/fd | wc -l)\" -le 5 ]' 'only its own descriptors open'\n";

/* --self-test: runs the probes and prints what each layer stopped. Returns
 * 0 when every layer held. */
static int
self_test(void)
{
	const char *argv[] = {"/bin/sh", "-c", self_test_script, NULL};
	struct sandbox_spec s;
	struct sandbox_result r;
	int failed = 0;

	probe_spec(&s, argv);
	setenv("EVALD_CANARY", "the executor's environment", 1);
	if (sandbox_run(&s, &r) < 0) {
		printf("sandbox: cannot be built: %s\n", r.error);
		sandbox_result_free(&r);
		return 1;
	}
	fwrite(r.out.data ? r.out.data : "", 1, r.out.len, stdout);
	if (r.out.data && (strstr(r.out.data, "ALLOWED") || strstr(r.out.data, "FAILED")))
		failed = 1;
	printf("seccomp: %d rules loaded in every job process\n", filter_rule_count());
	printf("cgroup: %s\n",
	       cgroup_active() ? (r.cgroup ? "memory, pids and (where delegated) CPU limits applied" : "FAILED to apply")
	                       : "none delegated here; rlimits stand in");
	printf("%s\n",
	       failed ? "self-test: some layer did NOT hold" : "self-test: every layer held");
	sandbox_result_free(&r);
	return failed;
}

static int
heartbeat(const char *eid)
{
	long long until = (long long)now_real_ms() + cfg.lease_ms;
	redisReply *r = store_cmd("ZADD " KEY_PREFIX "alive %lld %s", until, eid);

	if (r == NULL)
		return -1;
	freeReplyObject(r);
	r = store_cmd("HSET " KEY_PREFIX "exec:%s slots %lld", eid, (long long)cfg.executor_slots);
	if (r)
		freeReplyObject(r);
	return 0;
}

static void
reap(void)
{
	char forget[32];
	const char *argv[] = {KEY_PREFIX "alive", KEY_PREFIX "queue", KEY_PREFIX, forget};
	redisReply *r;

	/* a day of silence: long past any job's limits */
	snprintf(forget, sizeof forget, "%lld", 86400000LL);
	r = store_script(SCRIPT_REAP, 2, 4, argv, NULL);

	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		log_warnx("reaper: put %lld jobs of dead executors back on the queue", r->integer);
	if (r)
		freeReplyObject(r);
}

static pid_t
spawn_slot(const char *eid, int i, sigset_t *oldmask)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		slot_main(eid, i);
	}
	if (pid < 0)
		log_warn("fork");
	return pid;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, oldmask;
	char eid[200], host[100], err[512];
	pid_t *slots;
	int test_only, want_self_test = 0, stopping = 0;
	int64_t last_beat = 0, last_reap = 0;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--self-test") == 0) {
			want_self_test = 1;
			argv[i] = "-t";
		}
	config_from_args(argc, argv, usage, &test_only);
	if (log_open("evald-executor", cfg.log_file, cfg.log_level) < 0)
		fatalx("cannot open log %s or bad log_level %s", cfg.log_file, cfg.log_level);
	runner_init();
	if (filter_init() < 0)
		fatal("refusing to start: the seccomp filter cannot be compiled");
	if (strcmp(cfg.sandbox_cgroup, "off") != 0 && !cgroup_init(err, sizeof err)) {
		if (strcmp(cfg.sandbox_cgroup, "require") == 0)
			fatalx("refusing to start: sandbox_cgroup = require, but %s", err);
		log_warnx("no cgroup for sandboxes (%s); rlimits stand in", err);
	}
	if (preflight(err, sizeof err) < 0)
		fatalx("refusing to start: the sandbox cannot be built: %s", err);
	if (runner_probe(err, sizeof err) < 0)
		fatalx("refusing to start: %s%s", err,
		       cfg.sandbox_zygote ? " (if nested user namespaces are refused here, set "
		                            "sandbox_zygote = no)"
		                          : "");
	if (want_self_test)
		return self_test();
	if (test_only) {
		printf("sandbox ok: user, pid, network, mount, ipc and uts namespaces; "
		       "pivot_root into a read-only root; rlimits; no_new_privs; no capabilities; "
		       "seccomp (%d rules); %s; a probe evaluation passed%s\n",
		       filter_rule_count(),
		       cgroup_active() ? "cgroup memory and pids limits"
		                       : "no cgroup (rlimits stand in)",
		       cfg.sandbox_zygote ? " through a zygote" : "");
		return 0;
	}
	if (cfg.executor_id && *cfg.executor_id)
		snprintf(eid, sizeof eid, "%s", cfg.executor_id);
	else {
		char rnd[JOB_ID_LEN + 1];
		gethostname(host, sizeof host);
		host[sizeof host - 1] = '\0';
		job_new_id(rnd);
		snprintf(eid, sizeof eid, "%s-%d-%.8s", host, (int)getpid(), rnd);
	}
	if (cfg.pid_file && *cfg.pid_file) {
		FILE *f = fopen(cfg.pid_file, "we");
		if (f == NULL)
			fatal("%s", cfg.pid_file);
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &oldmask);

	while (heartbeat(eid) < 0 && !got_term)
		sleep(1);
	slots = xcalloc((size_t)cfg.executor_slots, sizeof *slots);
	for (int i = 0; i < cfg.executor_slots; i++)
		slots[i] = spawn_slot(eid, i, &oldmask);
	log_info("executor %s running %lld slots", eid, (long long)cfg.executor_slots);

	for (;;) {
		struct timespec ts = {0, 250 * 1000 * 1000};
		int64_t now = now_mono_ms();
		int status, alive = 0;
		pid_t pid;

		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			for (int i = 0; i < cfg.executor_slots; i++)
				if (slots[i] == pid) {
					slots[i] = 0;
					if (!stopping) {
						log_warnx("slot %d died (status %d); respawning", i,
						          status);
						slots[i] = spawn_slot(eid, i, &oldmask);
					}
				}
		if (got_hup) {
			got_hup = 0;
			log_reopen();
			for (int i = 0; i < cfg.executor_slots; i++)
				if (slots[i] > 0)
					kill(slots[i], SIGHUP);
		}
		if (got_term && !stopping) {
			stopping = 1;
			log_info("draining: finishing the jobs in hand");
			for (int i = 0; i < cfg.executor_slots; i++)
				if (slots[i] > 0)
					kill(slots[i], SIGTERM);
		}
		for (int i = 0; i < cfg.executor_slots; i++)
			alive += slots[i] > 0;
		if (stopping && alive == 0)
			break;
		/* The lease is renewed while any slot may hold a job. */
		if (now - last_beat >= cfg.lease_ms / 3) {
			if (heartbeat(eid) == 0)
				last_beat = now;
		}
		if (!stopping && now - last_reap >= cfg.lease_ms / 2) {
			reap();
			last_reap = now;
		}
		{
			/* Signals stay blocked; they are taken here, not in handlers. */
			int sig = sigtimedwait(&block, NULL, &ts);
			if (sig == SIGTERM || sig == SIGINT)
				got_term = 1;
			else if (sig == SIGHUP)
				got_hup = 1;
		}
	}
	{
		/* Anything still in our lists (a result that could not be
		 * published) goes back on the queue before we are forgotten. */
		redisReply *r;
		int left = 0;
		for (int i = 0; i < cfg.executor_slots; i++) {
			while ((r = store_cmd("LMOVE " KEY_PREFIX "proc:%s:%d " KEY_PREFIX
			                      "queue RIGHT RIGHT",
			                      eid, i)) != NULL &&
			       r->type == REDIS_REPLY_STRING) {
				freeReplyObject(r);
				left++;
			}
			if (r)
				freeReplyObject(r);
		}
		if (left)
			log_warnx("put %d unfinished jobs back on the queue", left);
		r = store_cmd("ZREM " KEY_PREFIX "alive %s", eid);
		if (r)
			freeReplyObject(r);
		r = store_cmd("DEL " KEY_PREFIX "exec:%s", eid);
		if (r)
			freeReplyObject(r);
	}
	if (cfg.pid_file && *cfg.pid_file)
		unlink(cfg.pid_file);
	log_info("stopped");
	free(slots);
	return 0;
}
