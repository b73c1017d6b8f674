#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct config cfg;

enum cfg_type {
	CFG_INT,    /* decimal integer within [min, max] */
	CFG_OCTAL,  /* octal integer (file modes) within [min, max] */
	CFG_BOOL,   /* yes/no, true/false, on/off, 1/0 */
	CFG_STRING, /* anything up to the end of the line, may be empty */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	int64_t min, max;
	const char *def;
};

#define I(n, lo, hi, d)                                                                            \
	{                                                                                          \
#n, CFG_INT, offsetof(struct config, n), lo, hi, d                                 \
	}
#define S(n, d)                                                                                    \
	{                                                                                          \
#n, CFG_STRING, offsetof(struct config, n), 0, 0, d                                \
	}
#define B(n, d)                                                                                    \
	{                                                                                          \
#n, CFG_BOOL, offsetof(struct config, n), 0, 1, d                                  \
	}
#define MiB (1024LL * 1024)

static const struct cfg_key keys[] = {
    S(redis_host, "127.0.0.1"),
    I(redis_port, 1, 65535, "6379"),
    S(redis_socket, ""),
    S(redis_password, ""),
    S(redis_user, ""),
    I(redis_db, 0, 1024, "0"),
    I(redis_timeout_ms, 10, 600000, "5000"),
    S(listen, "/run/evald/api.sock"),
    {"listen_mode", CFG_OCTAL, offsetof(struct config, listen_mode), 0, 0777, "0660"},
    I(listen_backlog, 1, 65535, "1024"),
    I(api_workers, 1, 1024, "16"),
    I(max_body_bytes, 1024, 1024 * MiB, "16777216"),
    S(anonymous, "none"),
    B(anonymous_loopback_only, "yes"),
    S(log_file, ""),
    S(log_level, "info"),
    S(pid_file, ""),
    I(session_ttl_s, 1, 365LL * 86400, "86400"),
    I(session_max_bytes, 0, 16384 * MiB, "67108864"),
    I(session_max_files, 0, 10000000, "10000"),
    I(queue_max_depth, 1, 100000000, "10000"),
    I(jobs_batch_max, 1, 100000, "1000"),
    I(job_max_tries, 1, 100, "3"),
    I(job_wait_margin_s, 1, 3600, "10"),
    I(result_ttl_s, 10, 30LL * 86400, "3600"),
    I(lease_ms, 500, 3600000, "10000"),
    I(run_timeout_default_s, 1, 86400, "30"),
    I(run_timeout_max_s, 1, 86400, "300"),
    I(case_timeout_s, 1, 3600, "5"),
    I(case_timeout_max_s, 1, 3600, "60"),
    I(case_memory_mb, 16, 1024 * 1024, "512"),
    I(max_cases, 1, 1000000, "1000"),
    I(output_max_bytes, 1024, 1024 * MiB, "1048576"),
    I(sandbox_memory_mb, 32, 1024 * 1024, "1024"),
    I(sandbox_procs, 1, 100000, "64"),
    I(sandbox_files, 16, 1048576, "256"),
    I(sandbox_fsize_mb, 1, 1024 * 1024, "64"),
    I(sandbox_stack_mb, 1, 1024 * 1024, "64"),
    I(sandbox_cpus, 1, 1024, "1"),
    I(sandbox_tmpfs_mb, 1, 1024 * 1024, "256"),
    I(sandbox_uid_base, 1000, 4000000000LL, "200000"),
    B(sandbox_zygote, "yes"),
    S(sandbox_cgroup, "auto"),
    I(submission_max_bytes, 1, 64 * MiB, "1048576"),
    I(assignment_max_bytes, 1024, 1024 * MiB, "8388608"),
    I(grade_timeout_max_s, 1, 86400, "600"),
    I(executor_slots, 1, 1024, "2"),
    S(executor_id, ""),
    S(harness_dir, PKGDATADIR "/harness"),
    S(python, "/usr/bin/python3"),
};

static const struct cfg_key *
key_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
			return &keys[i];
	return NULL;
}

static int
key_apply(struct config *c, const struct cfg_key *k, const char *v, char *err, size_t errlen)
{
	char *field = (char *)c + k->offset;
	char *end;
	long long n;

	switch (k->type) {
	case CFG_STRING:
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return 0;
	case CFG_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
			*(int *)field = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") ||
		         !strcmp(v, "0"))
			*(int *)field = 0;
		else {
			snprintf(err, errlen, "%s: expected yes or no, got '%s'", k->name, v);
			return -1;
		}
		return 0;
	case CFG_INT:
	case CFG_OCTAL:
		errno = 0;
		n = strtoll(v, &end, k->type == CFG_OCTAL ? 8 : 10);
		if (errno || end == v || *end != '\0') {
			snprintf(err, errlen, "%s: expected an integer, got '%s'", k->name, v);
			return -1;
		}
		if (n < k->min || n > k->max) {
			snprintf(err, errlen, "%s: %lld is outside %lld..%lld", k->name, n,
			         (long long)k->min, (long long)k->max);
			return -1;
		}
		*(int64_t *)field = n;
		return 0;
	}
	return -1;
}

void
config_defaults(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (key_apply(c, &keys[i], keys[i].def, err, sizeof err) < 0)
			abort(); /* a bad default is a programming error */
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
config_set(struct config *c, const char *assignment, char *err, size_t errlen)
{
	const struct cfg_key *k;
	char *copy = xstrdup(assignment), *eq, *name, *value;
	int rc = -1;

	eq = strchr(copy, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "expected key = value, got '%.60s'", assignment);
		goto out;
	}
	*eq = '\0';
	name = trim(copy);
	value = trim(eq + 1);
	k = key_find(name, strlen(name));
	if (k == NULL) {
		snprintf(err, errlen, "unknown setting '%.60s'", name);
		goto out;
	}
	rc = key_apply(c, k, value, err, errlen);
out:
	free(copy);
	return rc;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char line[4096], why[256];
	FILE *f = fopen(path, "re");
	int lineno = 0, rc = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *s;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (config_set(c, s, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

void
config_free(struct config *c)
{
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].type == CFG_STRING) {
			char **p = (char **)((char *)c + keys[i].offset);
			free(*p);
			*p = NULL;
		}
}

int
config_check(const struct config *c, char *err, size_t errlen)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	static const char *const groups[] = {"none", "repl", "jobs", "ops"};
	const char *p = c->anonymous;
	int ok = 0;

	for (size_t i = 0; i < 4; i++)
		ok |= strcmp(c->log_level, levels[i]) == 0;
	if (!ok) {
		snprintf(err, errlen, "log_level: expected error, warn, info or debug, got '%s'",
		         c->log_level);
		return -1;
	}
	while (*p) {
		size_t n = strcspn(p, ", ");
		ok = 0;
		for (size_t i = 0; i < 4; i++)
			ok |= strlen(groups[i]) == n && memcmp(groups[i], p, n) == 0;
		if (!ok && n > 0) {
			snprintf(err, errlen,
			         "anonymous: unknown route group '%.*s' (none, repl, jobs, ops)",
			         (int)n, p);
			return -1;
		}
		p += n;
		p += strspn(p, ", ");
	}
	if (strcmp(c->sandbox_cgroup, "auto") != 0 && strcmp(c->sandbox_cgroup, "require") != 0 &&
	    strcmp(c->sandbox_cgroup, "off") != 0) {
		snprintf(err, errlen, "sandbox_cgroup: expected auto, require or off, got '%s'",
		         c->sandbox_cgroup);
		return -1;
	}
	if (c->run_timeout_default_s > c->run_timeout_max_s) {
		snprintf(err, errlen, "run_timeout_default_s is above run_timeout_max_s");
		return -1;
	}
	if (c->case_timeout_s > c->case_timeout_max_s) {
		snprintf(err, errlen, "case_timeout_s is above case_timeout_max_s");
		return -1;
	}
	return 0;
}

int
config_from_args(int argc, char **argv, const char *usage, int *test_only)
{
	char err[512];
	const char *file = NULL;
	char **overrides = xcalloc((size_t)argc, sizeof *overrides);
	int n = 0, ch;

	*test_only = 0;
	config_defaults(&cfg);
	while ((ch = getopt(argc, argv, "+c:o:th")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			overrides[n++] = optarg;
			break;
		case 't':
			*test_only = 1;
			break;
		case 'h':
			printf("%s", usage);
			exit(0);
		default:
			fprintf(stderr, "%s", usage);
			exit(2);
		}
	}
	if (file != NULL && config_load(&cfg, file, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		exit(2);
	}
	for (int i = 0; i < n; i++)
		if (config_set(&cfg, overrides[i], err, sizeof err) < 0) {
			fprintf(stderr, "%s: -o %s\n", argv[0], err);
			exit(2);
		}
	free(overrides);
	if (config_check(&cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", argv[0], err);
		exit(2);
	}
	return optind;
}

int
config_anonymous_allows(const struct config *c, const char *group)
{
	const char *p = c->anonymous;
	size_t glen = strlen(group);

	while (*p) {
		size_t n = strcspn(p, ", ");
		if (n == glen && memcmp(p, group, n) == 0)
			return 1;
		p += n;
		p += strspn(p, ", ");
	}
	return 0;
}
