/*
 * evalctl: the operator's command line. Talks to Redis directly with the
 * same configuration file as the services.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/store.h"
#include "common/token.h"
#include "common/util.h"

static const char usage[] =
    "usage: evalctl [-c FILE] [-o key=value]... COMMAND\n"
    "\n"
    "commands:\n"
    "  token add --role admin|client|student [--student ID]\n"
    "                      create a token and print it (shown once)\n"
    "  queue               show queue depth, executors and the jobs they hold\n"
    "\n"
    "  -c FILE       configuration file (the services' evald.conf)\n"
    "  -o key=value  override one setting\n";

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
	if (strcmp(role, "student") == 0 && (student == NULL || *student == '\0')) {
		fprintf(stderr, "evalctl: a student token needs --student ID\n");
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
	fprintf(stderr, "evalctl: unknown command '%s'\n%s", argv[first], usage);
	return 2;
}
