/*
 * evald-api: the supervisor. It binds the one FastCGI socket, pre-forks
 * api_workers workers on it (the php-fpm model), respawns any that die,
 * stops gracefully on SIGTERM (workers finish the request in flight) and
 * reopens its log on SIGHUP. It waits with signals blocked and sigsuspend, so
 * no SIGCHLD is lost between a check and the wait.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/metrics.h"
#include "api/routes.h"
#include "api/worker.h"
#include "common/config.h"
#include "common/log.h"
#include "common/store.h"
#include "common/token.h"
#include "common/util.h"

static const char usage[] =
    "usage: evald-api [-t] [-c FILE] [-o key=value]...\n"
    "  -c FILE       configuration file (default: none, built-in defaults)\n"
    "  -o key=value  override one setting (see conf/evald.conf)\n"
    "  -t            check the configuration and exit\n";

static volatile sig_atomic_t got_chld, got_term, got_hup;

static void
on_signal(int sig)
{
	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
}

struct slot {
	pid_t pid;
	int64_t started_ms;
};

static int
open_listener(void)
{
	int fd;
	int is_unix = strchr(cfg.listen, '/') != NULL;

	if (is_unix)
		unlink(cfg.listen);
	fd = FCGX_OpenSocket(cfg.listen, (int)cfg.listen_backlog);
	if (fd < 0)
		fatal("cannot listen on %s", cfg.listen);
	if (is_unix && chmod(cfg.listen, (mode_t)cfg.listen_mode) < 0)
		fatal("chmod %s", cfg.listen);
	return fd;
}

static pid_t
spawn(int listen_fd, int index, sigset_t *oldmask)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		worker_main(listen_fd, index);
	}
	return pid;
}

/* Logs a worker's end that was not asked for: a clean exit is a worker
 * that recycled itself. */
static void
log_death(int index, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("worker %d (pid %d) died: killed by signal %d (%s); respawning", index,
		          (int)pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		log_warnx("worker %d (pid %d) died: exit status %d; respawning", index, (int)pid,
		          WEXITSTATUS(status));
}

static void
write_pidfile(void)
{
	FILE *f;

	if (cfg.pid_file == NULL || *cfg.pid_file == '\0')
		return;
	f = fopen(cfg.pid_file, "we");
	if (f == NULL)
		fatal("%s", cfg.pid_file);
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	sigset_t block, oldmask;
	struct slot *slots;
	int test_only, listen_fd, alive;
	int64_t deadline = 0, last_term = 0;

	config_from_args(argc, argv, usage, &test_only);
	if (test_only) {
		printf("configuration ok\n");
		return 0;
	}
	if (log_open("evald-api", cfg.log_file, cfg.log_level) < 0)
		fatalx("cannot open log %s or bad log_level %s", cfg.log_file, cfg.log_level);
	log_tag("supervisor");
	token_init();
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	listen_fd = open_listener();
	write_pidfile();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &oldmask);

	metrics_init((int)cfg.api_workers, routes_count());
	slots = xcalloc((size_t)cfg.api_workers, sizeof *slots);
	for (int i = 0; i < cfg.api_workers; i++) {
		slots[i].pid = spawn(listen_fd, i, &oldmask);
		slots[i].started_ms = now_mono_ms();
	}
	log_info("listening on %s with %lld workers", cfg.listen, (long long)cfg.api_workers);

	for (;;) {
		pid_t pid;
		int status;

		if (got_chld || got_term) {
			got_chld = 0;
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				for (int i = 0; i < cfg.api_workers; i++) {
					if (slots[i].pid != pid)
						continue;
					slots[i].pid = 0;
					if (!got_term) {
						log_death(i, pid, status);
						/* A worker that dies at once again and again
						 * is respawned at most once a second. */
						if (now_mono_ms() - slots[i].started_ms < 1000)
							sleep(1);
						slots[i].pid = spawn(listen_fd, i, &oldmask);
						slots[i].started_ms = now_mono_ms();
					}
				}
			}
		}
		if (got_hup) {
			got_hup = 0;
			log_reopen();
			for (int i = 0; i < cfg.api_workers; i++)
				if (slots[i].pid > 0)
					kill(slots[i].pid, SIGHUP);
		}
		if (got_term) {
			int64_t now = now_mono_ms();
			if (deadline == 0) {
				log_info("stopping: waiting for requests in flight");
				/* The longest request is a /run at its maximum timeout. */
				deadline =
				    now +
				    (cfg.run_timeout_max_s + cfg.job_wait_margin_s + 5) * 1000;
			}
			alive = 0;
			for (int i = 0; i < cfg.api_workers; i++)
				if (slots[i].pid > 0) {
					alive++;
					/* Repeated so a worker that was about to enter
					 * accept() when the first one came still wakes. */
					if (now - last_term >= 500)
						kill(slots[i].pid,
						     now > deadline ? SIGKILL : SIGTERM);
				}
			if (now - last_term >= 500)
				last_term = now;
			if (alive == 0)
				break;
			/* sigsuspend with a timer: an alarm brings us back to
			 * resend SIGTERM. */
			{
				struct timespec ts = {0, 100 * 1000 * 1000};
				sigset_t s;
				sigemptyset(&s);
				sigaddset(&s, SIGCHLD);
				if (sigtimedwait(&s, NULL, &ts) == SIGCHLD)
					got_chld = 1;
			}
			continue;
		}
		sigsuspend(&oldmask);
	}
	if (strchr(cfg.listen, '/') != NULL)
		unlink(cfg.listen);
	if (cfg.pid_file && *cfg.pid_file)
		unlink(cfg.pid_file);
	log_info("stopped");
	free(slots);
	config_free(&cfg);
	return 0;
}
