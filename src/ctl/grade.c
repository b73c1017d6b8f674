/* evalctl grade: grades submission files offline on this host, through the
 * same sandbox and grader as an executor, with no Redis. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/assignment.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "ctl/ctl.h"
#include "executor/cgroup.h"
#include "executor/filter.h"
#include "executor/grade.h"
#include "executor/runner.h"

static struct json_object *
field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Draws "[#####.....] i/n name" on the terminal's last line. */
static void
progress(size_t i, size_t n, const char *name)
{
	char bar[31];
	size_t fill = n ? i * 30 / n : 30;

	for (size_t k = 0; k < 30; k++)
		bar[k] = k < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r\033[K[%s] %zu/%zu %.40s", bar, i, n, name);
	fflush(stderr);
}

/* Counts the rows of r that passed. */
static size_t
passed_count(struct json_object *tests)
{
	size_t n = 0;

	for (size_t i = 0; i < json_object_array_length(tests); i++) {
		struct json_object *st = field(json_object_array_get_idx(tests, i), "status");
		if (st && strcmp(json_object_get_string(st), "passed") == 0)
			n++;
	}
	return n;
}

int
ctl_grade(int argc, char **argv)
{
	struct json_object *def, *all;
	char err[700];
	int json = 0, tty = isatty(2), failures = 0, width = 4;
	size_t nfiles;

	if (argc > 0 && strcmp(argv[0], "--json") == 0) {
		json = 1;
		argc--, argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: evalctl grade [--json] ASSIGNMENT_DIR FILE...\n");
		return 2;
	}
	if ((def = assignment_load_dir(argv[0], err, sizeof err)) == NULL) {
		fprintf(stderr, "evalctl: %s: %s\n", argv[0], err);
		return 1;
	}
	runner_init();
	if (filter_init() < 0) {
		fprintf(stderr, "evalctl: the seccomp filter cannot be compiled\n");
		json_object_put(def);
		return 1;
	}
	if (strcmp(cfg.sandbox_cgroup, "off") != 0 && !cgroup_init(err, sizeof err) &&
	    strcmp(cfg.sandbox_cgroup, "require") == 0) {
		fprintf(stderr, "evalctl: sandbox_cgroup = require, but %s\n", err);
		json_object_put(def);
		return 1;
	}
	runner_prepare(0);
	nfiles = (size_t)argc - 1;
	all = json_object_new_array();
	for (size_t i = 1; i <= nfiles; i++)
		if ((int)strlen(argv[i]) > width)
			width = (int)strlen(argv[i]);
	if (width > 60)
		width = 60;
	if (!json)
		printf("%-*s %9s %9s  %-6s %s\n", width, "FILE", "SCORE", "PASSED", "STATUS",
		       "FEEDBACK");
	for (size_t i = 0; i < nfiles; i++) {
		const char *path = argv[i + 1];
		struct json_object *res, *row;
		char *src;
		size_t len;

		if (tty)
			progress(i, nfiles, path);
		if (read_file(path, (size_t)cfg.submission_max_bytes, &src, &len) < 0) {
			if (tty)
				fprintf(stderr, "\r\033[K");
			fprintf(stderr, "evalctl: cannot read %s: %s\n", path,
			        errno ? strerror(errno) : "over submission_max_bytes");
			failures++;
			continue;
		}
		res = grade_run(def, src, len, 0);
		free(src);
		runner_prepare(0);
		if (tty)
			fprintf(stderr, "\r\033[K");
		if (strcmp(json_object_get_string(field(res, "status")), "done") != 0)
			failures++;
		if (json) {
			row = res;
			json_object_object_add(row, "file", json_object_new_string(path));
			json_object_array_add(all, row);
			continue;
		}
		{
			struct json_object *tests = field(res, "tests"), *sc = field(res, "score"),
			                   *fb = field(res, "feedback"), *er = field(res, "error");
			char score[40] = "-", passed[40];
			const char *text = er   ? json_object_get_string(er)
			                   : fb ? json_object_get_string(fb)
			                        : "";
			if (sc != NULL)
				snprintf(score, sizeof score, "%g/%g", json_object_get_double(sc),
				         json_object_get_double(field(res, "max_points")));
			snprintf(passed, sizeof passed, "%zu/%zu", passed_count(tests),
			         json_object_array_length(tests));
			printf("%-*s %9s %9s  %-6s %.*s\n", width, path, score, passed,
			       json_object_get_string(field(res, "status")),
			       (int)strcspn(text, "\n"), text);
			fflush(stdout);
		}
		json_object_put(res);
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
		                   all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	json_object_put(def);
	runner_discard();
	return failures ? 1 : 0;
}
