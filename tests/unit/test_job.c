#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/job.h"
#include "common/jsonx.h"
#include "tap.h"

int
main(void)
{
	struct job j, d;
	char *text, err[300];
	size_t len;
	struct jx_err e;

	memset(&j, 0, sizeof j);
	job_new_id(j.id);
	ok(strlen(j.id) == 36, "ids are UUIDs");
	ok(j.id[8] == '-' && j.id[13] == '-' && j.id[18] == '-' && j.id[23] == '-' &&
	       j.id[14] == '4' && strchr("89ab", j.id[19]) != NULL &&
	       strspn(j.id, "0123456789abcdef-") == 36,
	   "ids are lower-case version 4 UUIDs: %s", j.id);
	{
		char other[JOB_ID_LEN + 1];
		int differ = 1;
		for (int i = 0; i < 1000 && differ; i++) {
			job_new_id(other);
			differ = strcmp(other, j.id) != 0 && other[14] == '4';
		}
		ok(differ, "a thousand more ids are new ones");
	}
	{
		/* The ids come from a pool of random bytes: a forked child must not
		 * hand out the bytes its parent hands out next. */
		char mine[JOB_ID_LEN + 1], theirs[JOB_ID_LEN + 1] = "";
		int fd[2];
		pid_t pid;

		job_new_id(mine); /* the pool is full now */
		if (pipe(fd) == 0 && (pid = fork()) >= 0) {
			if (pid == 0) {
				job_new_id(theirs);
				_exit(write(fd[1], theirs, JOB_ID_LEN) == JOB_ID_LEN ? 0 : 1);
			}
			close(fd[1]);
			if (read(fd[0], theirs, JOB_ID_LEN) != JOB_ID_LEN)
				theirs[0] = '\0';
			theirs[JOB_ID_LEN] = '\0';
			close(fd[0]);
			waitpid(pid, NULL, 0);
		}
		job_new_id(mine);
		ok(strlen(theirs) == 36 && strcmp(mine, theirs) != 0,
		   "a forked child draws ids of its own: %s, parent %s", theirs, mine);
	}
	j.kind = JOB_RUN;
	j.created_ms = 123;
	j.session = "s1";
	j.cmd = "echo hi";
	j.stdin_data = "in\0put";
	j.stdin_len = 6;
	j.timeout_s = 2.5;
	text = job_encode(&j, &len);
	ok(job_decode(text, len, &d, err, sizeof err) == 0, "run job round-trips");
	ok(d.kind == JOB_RUN && strcmp(d.id, j.id) == 0 && strcmp(d.cmd, "echo hi") == 0 &&
	       d.stdin_len == 6 && memcmp(d.stdin_data, "in\0put", 6) == 0 && d.timeout_s == 2.5,
	   "run fields survive, stdin binary-safe");
	job_free(&d);
	free(text);

	memset(&j, 0, sizeof j);
	job_new_id(j.id);
	j.kind = JOB_EVALUATE;
	j.session = "s2";
	j.code = "def f(): pass";
	j.code_len = strlen(j.code);
	j.entry_point = "f";
	text = "[{\"input\": \"\", \"output\": \"None\"}]";
	j.io_cases = jx_parse(text, strlen(text), 8, &e);
	j.case_timeout_s = 5;
	j.case_memory_mb = 256;
	text = job_encode(&j, &len);
	ok(job_decode(text, len, &d, err, sizeof err) == 0, "evaluate job round-trips");
	ok(d.kind == JOB_EVALUATE && json_object_array_length(d.io_cases) == 1 &&
	       strcmp(d.language, "python") == 0 && d.case_memory_mb == 256,
	   "evaluate fields survive");
	job_free(&d);
	free(text);
	json_object_put(j.io_cases);

	ok(job_decode("not json", 8, &d, err, sizeof err) < 0, "garbage refused");
	ok(job_decode("{\"id\": \"x\"}", 11, &d, err, sizeof err) < 0, "short id refused");
	text =
	    strdup("{\"id\": \"00000000-0000-0000-0000-000000000000\", \"kind\": \"run\", "
	           "\"created_ms\": 1, \"session\": \"../etc\", \"cmd\": \"x\", \"timeout_s\": 1}");
	ok(job_decode(text, strlen(text), &d, err, sizeof err) < 0 && strstr(err, "session"),
	   "bad session id refused: %s", err);
	free(text);
	text = strdup("{\"id\": \"00000000-0000-0000-0000-000000000000\", \"kind\": \"fly\", "
	              "\"created_ms\": 1, \"session\": \"s\"}");
	ok(job_decode(text, strlen(text), &d, err, sizeof err) < 0, "unknown kind refused");
	free(text);
	text = strdup("{\"id\": \"00000000-0000-0000-0000-000000000000\", \"kind\": \"run\", "
	              "\"created_ms\": 1, \"session\": \"s\", \"cmd\": 5, \"timeout_s\": 1}");
	ok(job_decode(text, strlen(text), &d, err, sizeof err) < 0 && strstr(err, "cmd"),
	   "mistyped field refused: %s", err);
	free(text);

	text = job_envelope_error("timeout", "too slow", &len);
	ok(strstr(text, "\"ok\":false") && strstr(text, "\"code\":\"timeout\""), "error envelope");
	free(text);
	return tap_done();
}
