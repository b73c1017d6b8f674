/* Fuzz target: job decoding (job_decode, src/common/job.c), what an executor
 * runs on every job it pops, and the result envelopes (job_envelope_*).
 *
 * The input is a job's JSON text, and also an envelope body. Properties:
 *   - job_decode either fails with a sentence and leaves the job zeroed, or
 *     fills every field its kind needs, each in its documented range, with
 *     a valid session id (run, evaluate) or submission id (grade);
 *   - a decoded job encodes (job_encode) and decodes back to the same job;
 *   - job_envelope_body finds a body exactly in what job_envelope_ok_raw
 *     wrapped (when that body is braced), returns it byte for byte, and
 *     never finds one in an error envelope, whatever its detail says. */
#include "fuzz.h"

#include <math.h>

#include "common/job.h"
#include "common/jsonx.h"
#include "common/path.h"

static int
is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void
check_fields(const struct job *j)
{
	FUZZ_CHECK(j->root != NULL, "no root");
	FUZZ_CHECK(j->id[JOB_ID_LEN] == '\0', "id not terminated");
	FUZZ_CHECK(j->created_ms >= 0, "created_ms %lld", (long long)j->created_ms);
	if (j->kind == JOB_GRADE) {
		FUZZ_CHECK(j->submission != NULL && strlen(j->submission) == JOB_ID_LEN &&
			       strspn(j->submission, "0123456789abcdef-") == JOB_ID_LEN,
		    "invalid submission id accepted");
		FUZZ_CHECK(j->session == NULL && j->cmd == NULL && j->code == NULL,
		    "grade job with other kinds' fields");
		return;
	}
	FUZZ_CHECK(j->session != NULL && path_session_id_valid(j->session, strlen(j->session)),
	    "invalid session id accepted");
	if (j->kind == JOB_RUN) {
		FUZZ_CHECK(j->cmd != NULL, "run job without cmd");
		FUZZ_CHECK(j->stdin_data != NULL || j->stdin_len == 0, "stdin length without data");
		FUZZ_CHECK(isfinite(j->timeout_s) && j->timeout_s >= 0.001 && j->timeout_s <= 86400,
		    "timeout_s %g", j->timeout_s);
		FUZZ_CHECK(j->code == NULL && j->io_cases == NULL, "run job with evaluate fields");
	} else {
		FUZZ_CHECK(j->kind == JOB_EVALUATE, "kind %d", (int)j->kind);
		FUZZ_CHECK(j->code != NULL && j->entry_point != NULL && j->language != NULL,
		    "evaluate job without code, entry_point or language");
		FUZZ_CHECK(json_object_is_type(j->io_cases, json_type_array), "io_cases type");
		FUZZ_CHECK(isfinite(j->case_timeout_s) && j->case_timeout_s >= 0.001 &&
			       j->case_timeout_s <= 86400,
		    "case_timeout_s %g", j->case_timeout_s);
		FUZZ_CHECK(j->case_memory_mb >= 1 && j->case_memory_mb <= (1 << 30),
		    "case_memory_mb %lld", (long long)j->case_memory_mb);
		FUZZ_CHECK(j->cmd == NULL, "evaluate job with cmd");
	}
}

static int
same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	if (a == NULL || b == NULL)
		return a == b;
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int
same_cstr(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check_round_trip(const struct job *j)
{
	struct job k;
	char err[256];
	size_t len, l1, l2;
	char *text;

	/* job_encode writes id, session, cmd, entry_point and language as C
	 * strings: it is the API's encoder, and the API makes ids itself. An
	 * id with an inner NUL (decodable from "\u0000") cannot come back. */
	if (strlen(j->id) != JOB_ID_LEN)
		return;
	text = job_encode(j, &len);
	FUZZ_CHECK(text != NULL && strlen(text) == len, "job_encode length");
	FUZZ_CHECK(job_decode(text, len, &k, err, sizeof err) == 0,
	    "an encoded job does not decode: %s\n  %.300s", err, text);
	FUZZ_CHECK(memcmp(k.id, j->id, sizeof k.id) == 0, "id changed");
	FUZZ_CHECK(k.kind == j->kind && k.created_ms == j->created_ms, "kind or created_ms");
	FUZZ_CHECK(same_cstr(k.session, j->session), "session changed");
	if (j->kind == JOB_GRADE) {
		FUZZ_CHECK(same_cstr(k.submission, j->submission), "submission changed");
	} else if (j->kind == JOB_RUN) {
		FUZZ_CHECK(same_cstr(k.cmd, j->cmd), "cmd changed");
		FUZZ_CHECK(same_bytes(k.stdin_data, k.stdin_len, j->stdin_data, j->stdin_len),
		    "stdin changed");
		FUZZ_CHECK(k.timeout_s == j->timeout_s, "timeout_s %.17g -> %.17g", j->timeout_s,
		    k.timeout_s);
	} else {
		FUZZ_CHECK(same_bytes(k.code, k.code_len, j->code, j->code_len), "code changed");
		FUZZ_CHECK(same_cstr(k.entry_point, j->entry_point), "entry_point changed");
		FUZZ_CHECK(same_cstr(k.language, j->language), "language changed");
		FUZZ_CHECK(k.case_timeout_s == j->case_timeout_s, "case_timeout_s changed");
		FUZZ_CHECK(k.case_memory_mb == j->case_memory_mb, "case_memory_mb changed");
		const char *a = jx_text(j->io_cases, &l1);
		const char *b = jx_text(k.io_cases, &l2);
		FUZZ_CHECK(same_bytes(a, l1, b, l2), "io_cases changed:\n  %.200s\n  %.200s", a, b);
	}
	job_free(&k);
	free(text);
}

static void
check_envelopes(const uint8_t *data, size_t size)
{
	char *env, *detail;
	const char *body;
	size_t elen, blen;
	int braced = size >= 2 && data[0] == '{' && data[size - 1] == '}';

	/* Whatever the input, it never reads a byte outside it. */
	body = job_envelope_body((const char *)data, size, &blen);
	if (body != NULL)
		FUZZ_CHECK(body > (const char *)data && blen >= 2 &&
			       body + blen < (const char *)data + size && body[0] == '{' &&
			       body[blen - 1] == '}',
		    "job_envelope_body returned a body outside its input");

	env = job_envelope_ok_raw((const char *)data, size, &elen);
	body = job_envelope_body(env, elen, &blen);
	FUZZ_CHECK((body != NULL) == braced, "a wrapped body %s found",
	    braced ? "was not" : "was");
	if (body != NULL)
		FUZZ_CHECK(same_bytes(body, blen, (const char *)data, size),
		    "the body came back changed");
	free(env);

	detail = fuzz_strndup(data, size);
	env = job_envelope_error("internal_error", detail, &elen);
	FUZZ_CHECK(job_envelope_body(env, elen, &blen) == NULL,
	    "an error envelope was read as a success: %.200s", env);
	free(env);
	free(detail);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job j;
	char err[256];

	memset(&j, 0xAA, sizeof j);
	memset(err, 0, sizeof err);
	if (job_decode((const char *)data, size, &j, err, sizeof err) == 0) {
		check_fields(&j);
		check_round_trip(&j);
		job_free(&j);
	} else {
		FUZZ_CHECK(err[0] != '\0', "job_decode failed without a sentence");
		FUZZ_CHECK(is_zero(&j, sizeof j), "job_decode failed and left the job dirty");
	}
	check_envelopes(data, size);
	return 0;
}
