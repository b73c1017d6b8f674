#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_prog[32] = "evald";
static char log_path[512];
static char log_tagname[32] = "main";
static char log_id[80];
static int log_fd = 2;
static enum log_level log_max = LOG_LVL_INFO;

int
log_open(const char *progname, const char *path, const char *level)
{
	snprintf(log_prog, sizeof log_prog, "%s", progname);
	if (level != NULL && *level) {
		if (strcmp(level, "error") == 0)
			log_max = LOG_LVL_ERROR;
		else if (strcmp(level, "warn") == 0)
			log_max = LOG_LVL_WARN;
		else if (strcmp(level, "info") == 0)
			log_max = LOG_LVL_INFO;
		else if (strcmp(level, "debug") == 0)
			log_max = LOG_LVL_DEBUG;
		else
			return -1;
	}
	snprintf(log_path, sizeof log_path, "%s", path ? path : "");
	log_reopen();
	return log_fd >= 0 ? 0 : -1;
}

void
log_reopen(void)
{
	int fd;

	if (log_path[0] == '\0') {
		log_fd = 2;
		return;
	}
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
}

void
log_tag(const char *tag)
{
	snprintf(log_tagname, sizeof log_tagname, "%s", tag);
}

void
log_set_id(const char *id)
{
	snprintf(log_id, sizeof log_id, "%s", id ? id : "");
}

int
log_level_enabled(enum log_level lvl)
{
	return lvl <= log_max;
}

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static void
vlog(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	char line[2048], msg[1536];
	struct tm tm;
	time_t t;
	int saved = errno;
	size_t n;

	if (lvl > log_max)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	t = time(NULL);
	gmtime_r(&t, &tm);
	n = (size_t)snprintf(
	    line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02dZ %s[%d] %s %s%s%s: %s%s%s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    log_prog, (int)getpid(), level_names[lvl], log_tagname, log_id[0] ? " " : "", log_id,
	    msg, with_errno ? ": " : "", with_errno ? strerror(saved) : "");
	if (n >= sizeof line)
		n = sizeof line - 1, line[n - 1] = '\n';
	/* One write per line so lines from several processes do not interleave. */
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved;
}

#define LOGFN(name, lvl, err)                                                                      \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(lvl, err, fmt, ap);                                                           \
		va_end(ap);                                                                        \
	}
LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

const char *
log_escape(const char *s, size_t len, size_t max)
{
	static char out[1024];
	size_t i, o = 0;

	if (s == NULL)
		return "(null)";
	for (i = 0; i < len && i < max && o + 8 < sizeof out; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
	}
	if (i < len && o + 4 < sizeof out)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = '\0';
	return out;
}
