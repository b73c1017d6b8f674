/* Logging in the OpenBSD style: log_warn (with errno), log_warnx, log_info,
 * log_debug, fatal (with errno) and fatalx. Each line carries the program
 * name, a subsystem tag set with log_tag() and, when set, the current request
 * or job id. Tokens are never passed here; user input goes through
 * log_escape() first. */
#ifndef EVALD_LOG_H
#define EVALD_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LVL_ERROR, /* something failed that the operator must see */
	LOG_LVL_WARN,  /* something unusual that the service survived */
	LOG_LVL_INFO,  /* start, stop, one line per notable event */
	LOG_LVL_DEBUG, /* per-request detail */
};

/* Opens the log: path NULL or "" means stderr. Returns 0 or -1. */
int log_open(const char *progname, const char *path, const char *level);
/* Reopens the file after rotation (SIGHUP). */
void log_reopen(void);
/* Sets the subsystem tag and the request/job id included in each line. */
void log_tag(const char *tag);
void log_set_id(const char *id);
int log_level_enabled(enum log_level lvl);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Escapes non-printable bytes of untrusted s (at most max input bytes, then
 * "...") into a static buffer valid until the next call. */
const char *log_escape(const char *s, size_t len, size_t max);

#endif
