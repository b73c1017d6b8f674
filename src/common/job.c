#include "common/job.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <uuid/uuid.h>

#include "common/jsonx.h"
#include "common/path.h"
#include "common/util.h"

/* Random bytes for ids, drawn from the kernel's generator 4 KiB at a time
 * (one getrandom(2) per 256 ids; libuuid's uuid_generate_random() made six
 * system calls and reseeded random(3) for every id, and every request
 * needs one or two). A forked child starts with an empty pool
 * (pthread_atfork), so no two processes hand out the same bytes. evald's
 * processes are single-threaded. */
static unsigned char id_pool[4096];
static size_t id_pool_left;
static int id_pool_hooked;

static void
id_pool_forget(void)
{
	explicit_bzero(id_pool, sizeof id_pool);
	id_pool_left = 0;
}

static int
id_pool_take(unsigned char *out, size_t n)
{
	unsigned char *p;

	if (!id_pool_hooked) {
		if (pthread_atfork(NULL, NULL, id_pool_forget) != 0)
			return -1;
		id_pool_hooked = 1;
	}
	if (id_pool_left < n) {
		size_t got = 0;
		while (got < sizeof id_pool) {
			ssize_t k = getrandom(id_pool + got, sizeof id_pool - got, 0);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return -1;
			got += (size_t)k;
		}
		id_pool_left = sizeof id_pool;
	}
	p = id_pool + sizeof id_pool - id_pool_left;
	memcpy(out, p, n);
	explicit_bzero(p, n); /* handed out once */
	id_pool_left -= n;
	return 0;
}

void
job_new_id(char id[JOB_ID_LEN + 1])
{
	uuid_t u;

	if (id_pool_take(u, sizeof u) < 0) {
		uuid_generate_random(u);
		uuid_unparse_lower(u, id);
		return;
	}
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* variant 1 */
	uuid_unparse_lower(u, id);
}

const char *
job_kind_name(enum job_kind k)
{
	static const char *const names[] = {
	    [JOB_RUN] = "run", [JOB_EVALUATE] = "evaluate", [JOB_GRADE] = "grade"};
	return names[k];
}

char *
job_encode(const struct job *j, size_t *len)
{
	struct json_object *o = json_object_new_object();
	char *out;

	json_object_object_add(o, "id", json_object_new_string(j->id));
	json_object_object_add(o, "kind", json_object_new_string(job_kind_name(j->kind)));
	json_object_object_add(o, "created_ms", json_object_new_int64(j->created_ms));
	if (j->kind == JOB_GRADE) {
		json_object_object_add(o, "submission", json_object_new_string(j->submission));
	} else if (j->kind == JOB_RUN) {
		json_object_object_add(o, "session", json_object_new_string(j->session));
		json_object_object_add(o, "cmd", json_object_new_string(j->cmd));
		if (j->stdin_data)
			jx_add_strlen(o, "stdin", j->stdin_data, j->stdin_len);
		json_object_object_add(o, "timeout_s", json_object_new_double(j->timeout_s));
	} else {
		json_object_object_add(o, "session", json_object_new_string(j->session));
		jx_add_strlen(o, "code", j->code, j->code_len);
		json_object_object_add(o, "entry_point", json_object_new_string(j->entry_point));
		json_object_object_add(
		    o, "language", json_object_new_string(j->language ? j->language : "python"));
		json_object_object_add(o, "io_cases", json_object_get(j->io_cases));
		json_object_object_add(o, "case_timeout_s",
		                       json_object_new_double(j->case_timeout_s));
		json_object_object_add(o, "case_memory_mb",
		                       json_object_new_int64(j->case_memory_mb));
	}
	out = xstrdup(jx_text(o, len));
	json_object_put(o);
	return out;
}

int
job_decode(const char *text, size_t len, struct job *j, char *err, size_t errlen)
{
	struct jx_err e;
	const char *s;
	size_t n;
	double d;

	memset(j, 0, sizeof *j);
	j->root = jx_parse(text, len, 64, &e);
	if (j->root == NULL || !json_object_is_type(j->root, json_type_object)) {
		snprintf(err, errlen, "job is not a JSON object");
		goto fail;
	}
	if (jx_string(j->root, "id", 1, &s, &n, &e) < 0 || n != JOB_ID_LEN)
		goto bad;
	memcpy(j->id, s, JOB_ID_LEN + 1);
	if (jx_string(j->root, "kind", 1, &s, NULL, &e) < 0)
		goto bad;
	if (strcmp(s, "run") == 0)
		j->kind = JOB_RUN;
	else if (strcmp(s, "evaluate") == 0)
		j->kind = JOB_EVALUATE;
	else if (strcmp(s, "grade") == 0)
		j->kind = JOB_GRADE;
	else {
		snprintf(e.detail, sizeof e.detail, "unknown kind");
		goto bad;
	}
	if (jx_int(j->root, "created_ms", 1, 0, INT64_MAX, &j->created_ms, &e) < 0)
		goto bad;
	if (j->kind == JOB_GRADE) {
		if (jx_string(j->root, "submission", 1, &j->submission, &n, &e) < 0)
			goto bad;
		if (n != JOB_ID_LEN || strspn(j->submission, "0123456789abcdef-") != n) {
			snprintf(e.detail, sizeof e.detail, "invalid submission id");
			goto bad;
		}
		return 0;
	}
	if (jx_string(j->root, "session", 1, &j->session, &n, &e) < 0)
		goto bad;
	if (!path_session_id_valid(j->session, n)) {
		snprintf(e.detail, sizeof e.detail, "invalid session id");
		goto bad;
	}
	if (j->kind == JOB_RUN) {
		if (jx_string(j->root, "cmd", 1, &j->cmd, &n, &e) < 0)
			goto bad;
		if (memchr(j->cmd, '\0', n) != NULL) {
			snprintf(e.detail, sizeof e.detail, "cmd contains NUL");
			goto bad;
		}
		if (jx_string(j->root, "stdin", 0, &j->stdin_data, &j->stdin_len, &e) < 0)
			goto bad;
		if (jx_number(j->root, "timeout_s", 1, 0.001, 86400, &j->timeout_s, &e) < 0)
			goto bad;
	} else {
		if (jx_string(j->root, "code", 1, &j->code, &j->code_len, &e) < 0 ||
		    jx_string(j->root, "entry_point", 1, &j->entry_point, NULL, &e) < 0 ||
		    jx_string(j->root, "language", 1, &j->language, NULL, &e) < 0 ||
		    jx_array(j->root, "io_cases", 1, &j->io_cases, &e) < 0 ||
		    jx_number(j->root, "case_timeout_s", 1, 0.001, 86400, &d, &e) < 0 ||
		    jx_int(j->root, "case_memory_mb", 1, 1, 1 << 30, &j->case_memory_mb, &e) < 0)
			goto bad;
		j->case_timeout_s = d;
	}
	return 0;
bad:
	snprintf(err, errlen, "job is malformed: %s", e.detail);
fail:
	if (j->root)
		json_object_put(j->root);
	memset(j, 0, sizeof *j);
	return -1;
}

void
job_free(struct job *j)
{
	if (j->root)
		json_object_put(j->root);
	memset(j, 0, sizeof *j);
}

char *
job_envelope_ok(struct json_object *body, size_t *len)
{
	size_t blen;
	const char *text = jx_text(body, &blen);
	char *out = job_envelope_ok_raw(text, blen, len);

	json_object_put(body);
	return out;
}

char *
job_envelope_error(const char *code, const char *detail, size_t *len)
{
	struct json_object *o = json_object_new_object();
	char *out;

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "code", json_object_new_string(code));
	json_object_object_add(o, "detail", json_object_new_string(detail));
	out = xstrdup(jx_text(o, len));
	json_object_put(o);
	return out;
}

#define ENVELOPE_OK_PREFIX "{\"ok\":true,\"body\":"

char *
job_envelope_ok_raw(const char *body, size_t blen, size_t *len)
{
	struct buf b;

	buf_init(&b);
	buf_puts(&b, ENVELOPE_OK_PREFIX);
	buf_append(&b, body, blen);
	buf_puts(&b, "}");
	return buf_steal(&b, len);
}

const char *
job_envelope_body(const char *env, size_t len, size_t *blen)
{
	size_t plen = strlen(ENVELOPE_OK_PREFIX);

	if (len < plen + 3 || memcmp(env, ENVELOPE_OK_PREFIX, plen) != 0 || env[plen] != '{' ||
	    env[len - 1] != '}' || env[len - 2] != '}')
		return NULL;
	*blen = len - plen - 1;
	return env + plen;
}
