/* evald configuration: one flat file of `key = value` lines shared by
 * evald-api, evald-executor and evalctl, parsed against one table of keys
 * (name, type, bounds, default). Every key can be overridden on the command
 * line with -o key=value. conf/evald.conf documents each key. */
#ifndef EVALD_CONFIG_H
#define EVALD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct config {
	/* Redis */
	char *redis_host;
	int64_t redis_port;
	char *redis_socket;
	char *redis_password;
	char *redis_user;
	int64_t redis_db;
	int64_t redis_timeout_ms;
	/* API */
	char *listen;
	int64_t listen_mode;
	int64_t listen_backlog;
	int64_t api_workers;
	int64_t max_body_bytes;
	char *anonymous;
	int anonymous_loopback_only;
	/* logging and processes */
	char *log_file;
	char *log_level;
	char *pid_file;
	/* sessions */
	int64_t session_ttl_s;
	int64_t session_max_bytes;
	int64_t session_max_files;
	/* queue and jobs */
	int64_t queue_max_depth;
	int64_t jobs_batch_max;
	int64_t job_max_tries;
	int64_t job_wait_margin_s;
	int64_t result_ttl_s;
	int64_t lease_ms;
	/* limits */
	int64_t run_timeout_default_s;
	int64_t run_timeout_max_s;
	int64_t case_timeout_s;
	int64_t case_timeout_max_s;
	int64_t case_memory_mb;
	int64_t max_cases;
	int64_t output_max_bytes;
	int64_t sandbox_memory_mb;
	int64_t sandbox_procs;
	int64_t sandbox_files;
	int64_t sandbox_fsize_mb;
	int64_t sandbox_stack_mb;
	int64_t sandbox_cpus;
	int64_t sandbox_tmpfs_mb;
	int64_t sandbox_uid_base;
	int sandbox_zygote;
	char *sandbox_cgroup;
	/* autograder */
	int64_t submission_max_bytes;
	int64_t assignment_max_bytes;
	int64_t grade_timeout_max_s;
	/* executor */
	int64_t executor_slots;
	char *executor_id;
	char *harness_dir;
	char *python;
};

extern struct config cfg;

/* Sets every key to its default. */
void config_defaults(struct config *c);
/* Applies one `key=value` (or `key = value`) assignment. On error returns -1
 * and writes a sentence naming the key into err. */
int config_set(struct config *c, const char *assignment, char *err, size_t errlen);
/* Reads a file of assignments. On error returns -1 with "file:line: why" in
 * err. A missing file is an error. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
/* Checks what single keys cannot: enumerations and keys that bound each
 * other. Returns 0, or -1 with a sentence in err. */
int config_check(const struct config *c, char *err, size_t errlen);
/* Frees the strings. */
void config_free(struct config *c);

/* Parses the common command line (-c FILE, -o key=value, -t) into cfg and
 * returns the index of the first unparsed argument; exits with usage on
 * error. *test_only is set by -t. */
int config_from_args(int argc, char **argv, const char *usage, int *test_only);

/* 1 if the comma-separated anonymous policy contains group. */
int config_anonymous_allows(const struct config *c, const char *group);

#endif
