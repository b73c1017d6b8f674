#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "tap.h"

int
main(void)
{
	struct config c;
	char err[256], path[] = "/tmp/evald-test-config-XXXXXX";
	FILE *f;
	int fd;

	config_defaults(&c);
	ok(c.api_workers == 16, "default api_workers");
	ok(c.session_max_bytes == 64LL * 1024 * 1024, "default session_max_bytes is 64 MiB");
	ok(c.session_max_files == 10000, "default session_max_files");
	ok(c.session_ttl_s == 86400, "default TTL is 24 h");
	ok(c.run_timeout_default_s == 30, "default /run timeout is 30 s");
	ok(c.case_timeout_s == 5, "default case timeout is 5 s");
	ok(c.listen_mode == 0660, "octal default");
	ok(config_set(&c, "api_workers = 4", err, sizeof err) == 0 && c.api_workers == 4,
	   "set an int");
	ok(config_set(&c, "api_workers=0", err, sizeof err) < 0 && strstr(err, "outside"),
	   "out of bounds refused: %s", err);
	ok(config_set(&c, "api_workers = many", err, sizeof err) < 0, "not a number refused");
	ok(config_set(&c, "nonsense = 1", err, sizeof err) < 0 && strstr(err, "unknown"),
	   "unknown key refused: %s", err);
	ok(config_set(&c, "anonymous_loopback_only = no", err, sizeof err) == 0 &&
	       c.anonymous_loopback_only == 0,
	   "bool");
	ok(config_set(&c, "anonymous_loopback_only = maybe", err, sizeof err) < 0, "bad bool");
	ok(config_set(&c, "listen_mode = 0666", err, sizeof err) == 0 && c.listen_mode == 0666,
	   "octal");
	ok(config_set(&c, "redis_password =", err, sizeof err) == 0 && *c.redis_password == '\0',
	   "empty string");
	ok(config_set(&c, "anonymous = repl, jobs", err, sizeof err) == 0, "list");
	ok(config_anonymous_allows(&c, "repl") && config_anonymous_allows(&c, "jobs") &&
	       !config_anonymous_allows(&c, "ops") && !config_anonymous_allows(&c, "rep"),
	   "anonymous groups");

	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fprintf(f, "# comment\n\nredis_port = 7000\n  log_level = debug  \n");
	fclose(f);
	ok(config_load(&c, path, err, sizeof err) == 0 && c.redis_port == 7000 &&
	       strcmp(c.log_level, "debug") == 0,
	   "file loads");
	f = fopen(path, "w");
	fprintf(f, "redis_port = 7000\nbogus line\n");
	fclose(f);
	ok(config_load(&c, path, err, sizeof err) < 0 && strstr(err, ":2:"),
	   "errors name the line: %s", err);
	unlink(path);
	ok(config_load(&c, "/nonexistent/evald.conf", err, sizeof err) < 0, "missing file");
	config_free(&c);
	return tap_done();
}
