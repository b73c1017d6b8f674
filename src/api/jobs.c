#include "api/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/path.h"
#include "common/store.h"
#include "common/util.h"

int
jobs_push(struct job *jobs, size_t n, int batch, struct response *resp)
{
	size_t nargs = 2 + 4 * n + 3, k = 0;
	const char **argv = xcalloc(nargs, sizeof *argv);
	size_t *lens = xcalloc(nargs, sizeof *lens);
	char **owned = xcalloc(3 * n + 1, sizeof *owned), depth[32], ttl[32], rttl[32];
	size_t nowned = 0;
	redisReply *r;
	int rc = -1;

	snprintf(depth, sizeof depth, "%lld", (long long)cfg.queue_max_depth);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	snprintf(rttl, sizeof rttl, "%lld", (long long)cfg.result_ttl_s);
	argv[k++] = KEY_PREFIX "queue";
	argv[k++] = KEY_PREFIX "alive";
	for (size_t i = 0; i < n; i++) {
		argv[k++] = owned[nowned++] = xasprintf(KEY_PREFIX "sess:%s", jobs[i].session);
		argv[k++] = owned[nowned++] = xasprintf(KEY_PREFIX "job:%s", jobs[i].id);
	}
	argv[k++] = depth;
	argv[k++] = ttl;
	argv[k++] = rttl;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		argv[k] = owned[nowned++] = job_encode(&jobs[i], &len);
		lens[k++] = len;
		argv[k++] = jobs[i].kind == JOB_RUN ? "1" : "0";
	}
	for (size_t i = 0; i < k; i++)
		if (lens[i] == 0)
			lens[i] = strlen(argv[i]);
	r = store_script(SCRIPT_JOB_PUSH, (int)(2 + 2 * n), (int)k, argv, lens);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	free(argv);
	free(lens);
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		log_warnx("job push: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		http_error(resp, ERR_INTERNAL, "the job could not be queued");
	} else if (r->element[0]->integer == -1) {
		http_error(resp, ERR_BUSY, "the queue is full (%lld jobs); retry shortly",
		           (long long)cfg.queue_max_depth);
	} else if (r->element[0]->integer == -2) {
		http_error(resp, ERR_UNAVAILABLE, "no executor is alive to run the job");
	} else if (r->element[0]->integer == -3) {
		size_t i = r->elements > 1 ? (size_t)r->element[1]->integer - 1 : 0;
		char where[40] = "";
		if (batch)
			snprintf(where, sizeof where, "jobs[%zu]: ", i);
		http_error(resp, ERR_NO_SESSION,
		           "%ssession '%s' does not exist; create it with /write_file first", where,
		           i < n ? jobs[i].session : "?");
	} else {
		rc = 0;
	}
	freeReplyObject(r);
	return rc;
}

char *
jobs_wait(const char *job_id, double wait_s, size_t *blen, int *job_failed, struct response *resp)
{
	struct json_object *env = NULL, *v;
	struct jx_err e;
	redisReply *r;
	const char *code = "internal_error", *detail = "the job failed", *body;
	long ms = (long)(wait_s * 1000);
	char *out;

	if (store_get() == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return NULL;
	}
	/* BLMOVE of a list onto itself waits without consuming, so any number
	 * of waiters see the one result. The socket timeout must outlast it. */
	store_set_timeout(ms + 2000);
	r = store_cmd("BLMOVE " KEY_PREFIX "done:%s " KEY_PREFIX "done:%s RIGHT LEFT %.3f", job_id,
	              job_id, wait_s);
	store_set_timeout(0);
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store became unreachable while waiting");
		return NULL;
	}
	if (r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		http_error(resp, ERR_TIMEOUT, "no executor answered within %.0f s", wait_s);
		return NULL;
	}
	if (r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		http_error(resp, ERR_INTERNAL, "unexpected reply while waiting for the job");
		return NULL;
	}
	body = job_envelope_body(r->str, r->len, blen);
	if (body != NULL) {
		out = xstrndup(body, *blen);
		freeReplyObject(r);
		return out;
	}
	env = jx_parse(r->str, r->len, 16, &e);
	freeReplyObject(r);
	if (env == NULL || !json_object_is_type(env, json_type_object)) {
		if (env)
			json_object_put(env);
		http_error(resp, ERR_INTERNAL, "the executor's result could not be read");
		return NULL;
	}
	if (json_object_object_get_ex(env, "code", &v) && json_object_is_type(v, json_type_string))
		code = json_object_get_string(v);
	if (json_object_object_get_ex(env, "detail", &v) &&
	    json_object_is_type(v, json_type_string))
		detail = json_object_get_string(v);
	http_error(resp, http_error_from_code(code), "%s", detail);
	if (job_failed)
		*job_failed = 1;
	json_object_put(env);
	return NULL;
}

/* Reads the session id every REPL route takes. */
static int
session_field(struct json_object *obj, const char *key, const char **id, struct response *resp)
{
	struct jx_err e;
	size_t len;

	if (jx_string(obj, key, 1, id, &len, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		return -1;
	}
	if (!path_session_id_valid(*id, len)) {
		http_error(resp, ERR_INVALID_SESSION,
		           "the session id must be 1 to 128 letters, digits, '-' or '_'");
		return -1;
	}
	return 0;
}

int
jobs_from_run_request(struct json_object *obj, struct job *j, struct response *resp)
{
	struct jx_err e;
	size_t len;
	double t = (double)cfg.run_timeout_default_s;

	memset(j, 0, sizeof *j);
	j->kind = JOB_RUN;
	if (session_field(obj, "id", &j->session, resp) < 0)
		return -1;
	if (jx_string(obj, "cmd", 1, &j->cmd, &len, &e) < 0 ||
	    jx_string(obj, "stdin", 0, &j->stdin_data, &j->stdin_len, &e) < 0 ||
	    jx_number(obj, "timeout", 0, 0.001, 1e9, &t, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		return -1;
	}
	if (memchr(j->cmd, '\0', len) != NULL) {
		http_error(resp, ERR_VALIDATION, "field 'cmd' must not contain a NUL character");
		return -1;
	}
	if (len > 1024 * 1024) {
		http_error(resp, ERR_TOO_LARGE, "field 'cmd' is longer than 1 MiB");
		return -1;
	}
	/* A timeout over the configured maximum is capped, not refused, as
	 * the original service did with its own limit. */
	if (t > (double)cfg.run_timeout_max_s)
		t = (double)cfg.run_timeout_max_s;
	j->timeout_s = t;
	job_new_id(j->id);
	j->created_ms = now_real_ms();
	return 0;
}

/* The answer for code that cannot be evaluated at all: every case failed,
 * with error saying why. */
static struct json_object *
all_failed(struct json_object *cases, const char *error)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	size_t n = json_object_array_length(cases);

	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cases, i), *cr, *in = NULL;
		cr = json_object_new_object();
		json_object_object_add(cr, "case", json_object_new_int64((int64_t)i));
		json_object_object_get_ex(c, "input", &in);
		json_object_object_add(cr, "input", json_object_get(in));
		json_object_object_add(cr, "passed", json_object_new_boolean(0));
		json_object_object_add(cr, "got", NULL);
		json_object_object_add(cr, "expected", NULL);
		json_object_object_add(cr, "error", json_object_new_string(error));
		json_object_array_add(arr, cr);
	}
	json_object_object_add(o, "passed", json_object_new_boolean(0));
	json_object_object_add(o, "case_results", arr);
	json_object_object_add(o, "error", json_object_new_string(error));
	return o;
}

int
jobs_from_evaluate_request(struct json_object *obj, struct job *j, struct response *resp)
{
	struct json_object *limits = NULL;
	struct jx_err e;
	double t = (double)cfg.case_timeout_s, mem = (double)cfg.case_memory_mb;
	size_t n;

	memset(j, 0, sizeof *j);
	j->kind = JOB_EVALUATE;
	if (session_field(obj, "id", &j->session, resp) < 0)
		return -1;
	if (jx_string(obj, "code", 1, &j->code, &j->code_len, &e) < 0 ||
	    jx_string(obj, "entry_point", 1, &j->entry_point, NULL, &e) < 0 ||
	    jx_array(obj, "io_cases", 1, &j->io_cases, &e) < 0 ||
	    jx_string(obj, "language", 0, &j->language, NULL, &e) < 0 ||
	    jx_object(obj, "limits", 0, &limits, &e) < 0 ||
	    jx_number(limits, "time_s", 0, 0.001, (double)cfg.case_timeout_max_s, &t, &e) < 0 ||
	    jx_number(limits, "memory_mb", 0, 16, (double)cfg.sandbox_memory_mb, &mem, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		return -1;
	}
	n = json_object_array_length(j->io_cases);
	if (n > (size_t)cfg.max_cases) {
		http_error(resp, ERR_TOO_LARGE, "io_cases has %zu cases; the limit is %lld", n,
		           (long long)cfg.max_cases);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(j->io_cases, i),
		                         json_type_object)) {
			http_error(resp, ERR_VALIDATION, "field 'io_cases[%zu]' must be an object",
			           i);
			return -1;
		}
	if (j->language == NULL)
		j->language = "python";
	if (strcmp(j->language, "python") != 0 && strcmp(j->language, "python3") != 0) {
		char why[200];
		snprintf(why, sizeof why,
		         "UnknownLanguage: language '%.60s' is not supported; use 'python'",
		         j->language);
		{
			struct json_object *o = all_failed(j->io_cases, why);
			json_object_object_add(o, "id", json_object_new_string(j->session));
			http_json(resp, 200, o);
		}
		return 1;
	}
	j->language = "python";
	j->case_timeout_s = t;
	j->case_memory_mb = (int64_t)mem;
	job_new_id(j->id);
	j->created_ms = now_real_ms();
	return 0;
}

/* Seconds a synchronous caller waits for a job: its own limit plus the
 * configured margin for queueing and start-up. */
static double
job_wait_s(const struct job *j)
{
	if (j->kind == JOB_RUN)
		return j->timeout_s + (double)cfg.job_wait_margin_s;
	double t = (double)json_object_array_length(j->io_cases) * (j->case_timeout_s + 0.5) + 5;

	/* An evaluation is bounded like the longest /run. */
	if (t > (double)cfg.run_timeout_max_s)
		t = (double)cfg.run_timeout_max_s;
	return t + (double)cfg.job_wait_margin_s;
}

/* Fills one job from one element of POST /jobs. Returns 0, or -1 with resp
 * set; where names the element in messages ("" for a single job). */
static int
job_from_element(struct json_object *obj, struct job *j, const char *where, struct response *resp)
{
	struct jx_err e;
	const char *kind;
	int rc;

	if (!json_object_is_type(obj, json_type_object)) {
		http_error(resp, ERR_VALIDATION, "%.*s must be an object",
		           (int)(strlen(where) > 2 ? strlen(where) - 2 : 0), where);
		return -1;
	}
	if (jx_string(obj, "kind", 1, &kind, NULL, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s%s", where, e.detail);
		return -1;
	}
	if (strcmp(kind, "run") == 0)
		rc = jobs_from_run_request(obj, j, resp);
	else if (strcmp(kind, "evaluate") == 0)
		rc = jobs_from_evaluate_request(obj, j, resp);
	else {
		http_error(resp, ERR_VALIDATION, "%sfield 'kind' must be 'run' or 'evaluate'",
		           where);
		return -1;
	}
	if (rc == 1) { /* an unknown language is answered at once, not queued */
		http_error(resp, ERR_VALIDATION, "%sfield 'language' names no known language",
		           where);
		return -1;
	}
	if (rc != 0 && where[0]) {
		/* name the element in the detail the request builder wrote */
		struct json_object *b = json_tokener_parse(resp->body), *d, *c;
		if (b && json_object_object_get_ex(b, "detail", &d) &&
		    json_object_object_get_ex(b, "code", &c)) {
			char msg[600];
			snprintf(msg, sizeof msg, "%s%s", where, json_object_get_string(d));
			json_object_object_add(b, "detail", json_object_new_string(msg));
			http_json(resp, resp->status, json_object_get(b));
		}
		if (b)
			json_object_put(b);
	}
	return rc != 0 ? -1 : 0;
}

void
jobs_create(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp), *o, *list = NULL, *ids;
	struct jx_err e;
	struct job *jobs = NULL;
	size_t n = 1;

	if (obj == NULL)
		return;
	if (jx_array(obj, "jobs", 0, &list, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		goto out;
	}
	if (list != NULL) {
		n = json_object_array_length(list);
		if (n == 0 || n > (size_t)cfg.jobs_batch_max) {
			http_error(resp, n ? ERR_TOO_LARGE : ERR_VALIDATION,
			           "field 'jobs' must hold 1 to %lld jobs",
			           (long long)cfg.jobs_batch_max);
			goto out;
		}
	}
	jobs = xcalloc(n, sizeof *jobs);
	for (size_t i = 0; i < n; i++) {
		char where[40] = "";
		if (list != NULL)
			snprintf(where, sizeof where, "jobs[%zu]: ", i);
		if (job_from_element(list ? json_object_array_get_idx(list, i) : obj, &jobs[i],
		                     where, resp) < 0)
			goto out;
	}
	if (jobs_push(jobs, n, list != NULL, resp) < 0)
		goto out;
	o = json_object_new_object();
	if (list == NULL) {
		json_object_object_add(o, "job_id", json_object_new_string(jobs[0].id));
	} else {
		ids = json_object_new_array_ext((int)n);
		for (size_t i = 0; i < n; i++)
			json_object_array_add(ids, json_object_new_string(jobs[i].id));
		json_object_object_add(o, "job_ids", ids);
	}
	json_object_object_add(o, "status", json_object_new_string("queued"));
	http_json(resp, 202, o);
out:
	free(jobs);
	json_object_put(obj);
}

void
jobs_get(struct request *req, struct response *resp)
{
	char id[JOB_ID_LEN + 1], *w = NULL;
	size_t wlen;
	double wait_s = 0;
	struct json_object *o;
	char *body;
	size_t blen;
	int job_failed = 0, q;
	redisReply *r;

	if (req->param_len[0] != JOB_ID_LEN) {
		http_error(resp, ERR_NOT_FOUND, "no such job");
		return;
	}
	memcpy(id, req->params[0], JOB_ID_LEN);
	id[JOB_ID_LEN] = '\0';
	if (strspn(id, "0123456789abcdef-") != JOB_ID_LEN) {
		http_error(resp, ERR_NOT_FOUND, "no such job");
		return;
	}
	q = http_query_param(req->query, "wait", &w, &wlen);
	if (q < 0) {
		http_error(resp, ERR_VALIDATION, "parameter 'wait' is badly percent-encoded");
		return;
	}
	if (q == 1) {
		char *end;
		wait_s = strtod(w, &end);
		/* nginx gives up on a request after 360 s */
		if (*end != '\0' || wait_s < 0 || wait_s > 300) {
			free(w);
			http_error(resp, ERR_VALIDATION,
			           "parameter 'wait' must be 0 to 300 seconds");
			return;
		}
	}
	free(w);
	r = store_cmd("EXISTS " KEY_PREFIX "res:%s " KEY_PREFIX "job:%s", id, id);
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
		freeReplyObject(r);
		http_error(resp, ERR_NOT_FOUND, "no job %s (unknown, or its result expired)", id);
		return;
	}
	freeReplyObject(r);
	r = store_cmd("EXISTS " KEY_PREFIX "res:%s", id);
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 0 && wait_s <= 0) {
		freeReplyObject(r);
		o = json_object_new_object();
		json_object_object_add(o, "job_id", json_object_new_string(id));
		json_object_object_add(o, "status", json_object_new_string("pending"));
		http_json(resp, 200, o);
		return;
	}
	freeReplyObject(r);
	body = jobs_wait(id, wait_s > 0 ? wait_s : 0.01, &blen, &job_failed, resp);
	if (body != NULL) {
		struct buf b;
		char *text;
		size_t tlen;

		buf_init(&b);
		buf_printf(&b, "{\"job_id\":\"%s\",\"status\":\"done\",\"result\":", id);
		buf_append(&b, body, blen);
		buf_puts(&b, "}");
		text = buf_steal(&b, &tlen);
		http_json_text(resp, 200, text, tlen);
		free(text);
		free(body);
		return;
	}
	if (!job_failed && resp->status != 504)
		return; /* the store failed us, not the job: answer that error */
	o = json_object_new_object();
	json_object_object_add(o, "job_id", json_object_new_string(id));
	if (resp->status == 504) {
		json_object_object_add(o, "status", json_object_new_string("pending"));
	} else {
		json_object_object_add(o, "status", json_object_new_string("error"));
		json_object_object_add(o, "error", json_tokener_parse(resp->body));
	}
	http_json(resp, 200, o);
}

void
jobs_run_sync(struct job *j, struct response *resp)
{
	struct buf b;
	char *body, *text;
	size_t blen, tlen;

	if (jobs_push(j, 1, 0, resp) < 0)
		return;
	body = jobs_wait(j->id, job_wait_s(j), &blen, NULL, resp);
	if (body == NULL)
		return;
	/* Splice the session id in without re-encoding the body. */
	buf_init(&b);
	buf_printf(&b, "{\"id\":\"%s\"%s", j->session, blen > 2 ? "," : "");
	buf_append(&b, body + 1, blen - 1);
	text = buf_steal(&b, &tlen);
	http_json_text(resp, 200, text, tlen);
	free(text);
	free(body);
}
