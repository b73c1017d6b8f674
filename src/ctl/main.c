/*
 * evalctl: the operator's command line. Talks to Redis directly with the
 * same configuration file as the services.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assignment.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/submission.h"
#include "common/log.h"
#include "common/store.h"
#include "common/token.h"
#include "common/util.h"
#include "ctl/ctl.h"

static const char usage[] =
    "usage: evalctl [-c FILE] [-o key=value]... COMMAND\n"
    "\n"
    "commands:\n"
    "  assignment load DIR     validate DIR/assignment.json and its files and store\n"
    "                          them (the slug is DIR's name; replaces one of that slug)\n"
    "  assignment list         list assignments\n"
    "  assignment show SLUG    print an assignment's definition (JSON, hidden tests too)\n"
    "  assignment delete SLUG  delete an assignment (its submissions are kept)\n"
    "  token add --role admin|client|student [--student ID]\n"
    "                          create a token and print it (shown once)\n"
    "  submissions [--assignment SLUG] [--student ID] [--limit N]\n"
    "                          list submissions, newest first\n"
    "  gradebook [--csv]       best score per student and assignment, and totals\n"
    "  grade ASSIGNMENT_DIR FILE...\n"
    "                          grade files offline on this host in the sandbox (no\n"
    "                          Redis needed) and print a score table\n"
    "  queue                   show queue depth, executors and the jobs they hold\n"
    "\n"
    "  -c FILE       configuration file (the services' evald.conf)\n"
    "  -o key=value  override one setting\n";

static int
unreachable(void)
{
	fprintf(stderr, "evalctl: Redis is unreachable (check redis_* in the configuration)\n");
	return 1;
}

static void
print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
}

static int
cmd_assignment(int argc, char **argv)
{
	struct json_object *o;
	char err[700];
	int rc, found;

	if (argc == 2 && strcmp(argv[0], "load") == 0) {
		struct json_object *v;
		if ((o = assignment_load_dir(argv[1], err, sizeof err)) == NULL) {
			fprintf(stderr, "evalctl: %s: %s\n", argv[1], err);
			return 1;
		}
		rc = assignment_put(o);
		json_object_object_get_ex(o, "slug", &v);
		if (rc >= 0)
			printf("%s %s\n", rc == 1 ? "created" : "replaced",
			       json_object_get_string(v));
		json_object_put(o);
		return rc < 0 ? unreachable() : 0;
	}
	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		if ((o = assignment_list()) == NULL)
			return unreachable();
		printf("%-24s %-8s %10s  %-20s  %s\n", "SLUG", "LANGUAGE", "MAX_POINTS", "DUE_AT",
		       "TITLE");
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			struct json_object *a = json_object_array_get_idx(o, i), *s, *l, *m, *d, *t;
			json_object_object_get_ex(a, "slug", &s);
			json_object_object_get_ex(a, "language", &l);
			json_object_object_get_ex(a, "max_points", &m);
			json_object_object_get_ex(a, "due_at", &d);
			json_object_object_get_ex(a, "title", &t);
			printf("%-24s %-8s %10g  %-20s  %s\n", json_object_get_string(s),
			       json_object_get_string(l), json_object_get_double(m),
			       d ? json_object_get_string(d) : "-", json_object_get_string(t));
		}
		json_object_put(o);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "show") == 0) {
		o = assignment_get(argv[1], &found);
		if (found < 0)
			return unreachable();
		if (found == 0 || !assignment_slug_valid(argv[1], strlen(argv[1]))) {
			fprintf(stderr, "evalctl: no assignment '%s'\n", argv[1]);
			return 1;
		}
		json_object_object_del(o, "due_ms");
		print_json(o);
		json_object_put(o);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "delete") == 0) {
		rc = assignment_slug_valid(argv[1], strlen(argv[1])) ? assignment_delete(argv[1])
		                                                     : 0;
		if (rc < 0)
			return unreachable();
		if (rc == 0) {
			fprintf(stderr, "evalctl: no assignment '%s'\n", argv[1]);
			return 1;
		}
		printf("deleted %s\n", argv[1]);
		return 0;
	}
	fprintf(stderr, "%s", usage);
	return 2;
}

static int
cmd_submissions(int argc, char **argv)
{
	const char *slug = NULL, *student = NULL;
	int limit = 100;
	struct json_object *arr;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--assignment") == 0 && i + 1 < argc)
			slug = argv[++i];
		else if (strcmp(argv[i], "--student") == 0 && i + 1 < argc)
			student = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
			limit = atoi(argv[++i]);
		else {
			fprintf(stderr, "evalctl: unknown argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	if (limit < 1 || limit > 100000) {
		fprintf(stderr, "evalctl: --limit must be 1 to 100000\n");
		return 2;
	}
	if ((arr = submission_list(slug, student, limit)) == NULL)
		return unreachable();
	printf("%-36s  %-20s %-20s %-8s %7s %5s  %s\n", "SUBMISSION", "ASSIGNMENT", "STUDENT",
	       "STATUS", "SCORE", "LATE", "CREATED_AT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *r = json_object_array_get_idx(arr, i), *v[8];
		static const char *const k[] = {"submission_id", "assignment", "student_id",
		                                "status",        "score",      "max_points",
		                                "late",          "created_at"};
		char score[40] = "-";
		for (int j = 0; j < 8; j++)
			json_object_object_get_ex(r, k[j], &v[j]);
		if (v[4] != NULL)
			snprintf(score, sizeof score, "%g/%g", json_object_get_double(v[4]),
			         json_object_get_double(v[5]));
		printf("%-36s  %-20s %-20s %-8s %7s %5s  %s\n", json_object_get_string(v[0]),
		       json_object_get_string(v[1]), json_object_get_string(v[2]),
		       json_object_get_string(v[3]), score,
		       json_object_get_boolean(v[6]) ? "late" : "", json_object_get_string(v[7]));
	}
	json_object_put(arr);
	return 0;
}

static int
cmd_gradebook(int argc, char **argv)
{
	struct json_object *gb;
	int csv = argc == 1 && strcmp(argv[0], "--csv") == 0;

	if (argc > 1 || (argc == 1 && !csv)) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if ((gb = submission_gradebook()) == NULL)
		return unreachable();
	if (csv) {
		size_t len;
		char *text = submission_gradebook_csv(gb, &len);
		fwrite(text, 1, len, stdout);
		free(text);
	} else {
		print_json(gb);
	}
	json_object_put(gb);
	return 0;
}

static int
cmd_token(int argc, char **argv)
{
	const char *role = NULL, *student = NULL;
	char *tok;

	if (argc < 1 || strcmp(argv[0], "add") != 0) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role = argv[++i];
		else if (strcmp(argv[i], "--student") == 0 && i + 1 < argc)
			student = argv[++i];
		else {
			fprintf(stderr, "evalctl: unknown argument '%s'\n", argv[i]);
			return 2;
		}
	}
	if (role == NULL || !token_role_valid(role)) {
		fprintf(stderr, "evalctl: --role must be admin, client or student\n");
		return 2;
	}
	if (strcmp(role, "student") == 0 &&
	    (student == NULL || !token_student_id_valid(student, strlen(student)))) {
		fprintf(stderr, "evalctl: a student token needs --student ID (1 to 128 letters, "
		                "digits or . _ @ + -)\n");
		return 2;
	}
	tok = token_create(role, student);
	if (tok == NULL) {
		fprintf(stderr, "evalctl: cannot store the token: Redis is unreachable\n");
		return 1;
	}
	printf("%s\n", tok);
	free(tok);
	return 0;
}

static int
cmd_queue(void)
{
	redisReply *r = store_cmd("LLEN " KEY_PREFIX "queue"), *e;

	if (r == NULL) {
		fprintf(stderr, "evalctl: Redis is unreachable\n");
		return 1;
	}
	printf("queue depth: %lld\n", r->integer);
	freeReplyObject(r);
	r = store_cmd("LRANGE " KEY_PREFIX "dead 0 9");
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		redisReply *n = store_cmd("LLEN " KEY_PREFIX "dead");
		printf("dead letters (jobs tried job_max_tries times): %lld\n",
		       n && n->type == REDIS_REPLY_INTEGER ? n->integer : 0);
		if (n)
			freeReplyObject(n);
		for (size_t i = 0; i < r->elements; i++)
			printf("  %.160s\n", r->element[i]->str);
	}
	if (r)
		freeReplyObject(r);
	e = store_cmd("ZRANGE " KEY_PREFIX "alive 0 -1 WITHSCORES");
	if (e == NULL || e->type != REDIS_REPLY_ARRAY) {
		if (e)
			freeReplyObject(e);
		return 1;
	}
	printf("executors: %zu\n", e->elements / 2);
	for (size_t i = 0; i + 1 < e->elements; i += 2) {
		long long until = atoll(e->element[i + 1]->str);
		long long left = until - (long long)now_real_ms();
		redisReply *s = store_cmd("HGET " KEY_PREFIX "exec:%s slots", e->element[i]->str);
		int slots = s && s->type == REDIS_REPLY_STRING ? atoi(s->str) : 0;
		long long held = 0;

		if (s)
			freeReplyObject(s);
		for (int k = 0; k < slots; k++) {
			redisReply *l =
			    store_cmd("LLEN " KEY_PREFIX "proc:%s:%d", e->element[i]->str, k);
			if (l && l->type == REDIS_REPLY_INTEGER)
				held += l->integer;
			if (l)
				freeReplyObject(l);
		}
		printf("  %-50s slots %d  processing %lld  lease %s %lld ms\n", e->element[i]->str,
		       slots, held, left >= 0 ? "left" : "EXPIRED", left >= 0 ? left : -left);
	}
	freeReplyObject(e);
	return 0;
}

int
main(int argc, char **argv)
{
	int test_only, first;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("%s", usage);
			return 0;
		}
	first = config_from_args(argc, argv, usage, &test_only);
	log_open("evalctl", "", "warn");
	token_init();
	if (first >= argc) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	if (strcmp(argv[first], "token") == 0)
		return cmd_token(argc - first - 1, argv + first + 1);
	if (strcmp(argv[first], "queue") == 0)
		return cmd_queue();
	if (strcmp(argv[first], "assignment") == 0)
		return cmd_assignment(argc - first - 1, argv + first + 1);
	if (strcmp(argv[first], "submissions") == 0)
		return cmd_submissions(argc - first - 1, argv + first + 1);
	if (strcmp(argv[first], "gradebook") == 0)
		return cmd_gradebook(argc - first - 1, argv + first + 1);
	if (strcmp(argv[first], "grade") == 0)
		return ctl_grade(argc - first - 1, argv + first + 1);
	fprintf(stderr, "evalctl: unknown command '%s'\n%s", argv[first], usage);
	return 2;
}
