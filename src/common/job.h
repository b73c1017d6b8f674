/* Jobs: what the API pushes on the queue and an executor pops. A job is a
 * JSON object; job_decode validates one completely (an executor trusts
 * nothing it pops) and job_encode writes one. Results travel back as an
 * envelope: {"ok": true, "body": {...}} or {"ok": false, "code", "detail"}. */
#ifndef EVALD_JOB_H
#define EVALD_JOB_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

enum job_kind {
	JOB_RUN,      /* /run: a shell command in the session's files */
	JOB_EVALUATE, /* /evaluate_code: a function against io cases */
	JOB_GRADE,    /* an autograder submission, graded against its assignment */
};

#define JOB_ID_LEN 36

struct job {
	char id[JOB_ID_LEN + 1];
	enum job_kind kind;
	int64_t created_ms;
	const char *session; /* session id; set for run and evaluate jobs */
	/* JOB_RUN */
	const char *cmd;
	const char *stdin_data;
	size_t stdin_len;
	double timeout_s;
	/* JOB_EVALUATE */
	const char *code;
	size_t code_len;
	const char *entry_point;
	const char *language;
	struct json_object *io_cases; /* borrowed from root */
	double case_timeout_s;
	int64_t case_memory_mb;
	/* JOB_GRADE: the submission (its source and assignment are in Redis) */
	const char *submission;
	/* the decoded document the pointers above borrow from */
	struct json_object *root;
};

/* Fills a fresh random id. */
void job_new_id(char id[JOB_ID_LEN + 1]);
/* Serialises j. Returns a malloc'd string. */
char *job_encode(const struct job *j, size_t *len);
/* Parses and validates text into j. On error returns -1 with a sentence in
 * err and leaves nothing to free. On success job_free releases j. */
int job_decode(const char *text, size_t len, struct job *j, char *err, size_t errlen);
void job_free(struct job *j);
const char *job_kind_name(enum job_kind k);

/* Builds result envelopes; the returned strings are malloc'd. body's
 * reference is stolen. */
char *job_envelope_ok(struct json_object *body, size_t *len);
char *job_envelope_error(const char *code, const char *detail, size_t *len);
/* The same from a body already serialised as a JSON object (kept byte for
 * byte, so numbers JSON-C cannot hold, like 2**100, survive). */
char *job_envelope_ok_raw(const char *body, size_t blen, size_t *len);
/* The body of a success envelope written by job_envelope_ok*, pointing into
 * env; NULL when env is not one (an error envelope). */
const char *job_envelope_body(const char *env, size_t len, size_t *blen);

#endif
