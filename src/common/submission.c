#include "common/submission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assignment.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/store.h"
#include "common/util.h"

int
submission_id_valid(const char *id, size_t len)
{
	return len == JOB_ID_LEN && strspn(id, "0123456789abcdef-") == len;
}

/* A grade job for submission id: its text (malloc'd) and, in jid, its id. */
static char *
grade_job(const char *sub_id, char jid[JOB_ID_LEN + 1], size_t *len)
{
	struct job j;

	memset(&j, 0, sizeof j);
	j.kind = JOB_GRADE;
	job_new_id(j.id);
	j.created_ms = now_real_ms();
	j.submission = sub_id;
	memcpy(jid, j.id, JOB_ID_LEN + 1);
	return job_encode(&j, len);
}

enum submission_rc
submission_create(const char *slug, const char *student, const char *source, size_t source_len,
                  int late, double max_points, char id[JOB_ID_LEN + 1])
{
	char k_sub[80], k_job[80], k_asg[120], k_stu[200], depth[32], ttl[32], created[32],
	    maxp[32], jid[JOB_ID_LEN + 1], *job;
	const char *argv[20];
	size_t lens[20], jlen;
	redisReply *r;
	enum submission_rc rc = SUB_STORE_FAILED;
	int64_t now = now_real_ms();

	job_new_id(id);
	job = grade_job(id, jid, &jlen);
	snprintf(k_sub, sizeof k_sub, KEY_PREFIX "sub:%s", id);
	snprintf(k_job, sizeof k_job, KEY_PREFIX "job:%s", jid);
	snprintf(k_asg, sizeof k_asg, KEY_PREFIX "subs:asg:%s", slug);
	snprintf(k_stu, sizeof k_stu, KEY_PREFIX "subs:stu:%s", student);
	snprintf(depth, sizeof depth, "%lld", (long long)cfg.queue_max_depth);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.result_ttl_s);
	snprintf(created, sizeof created, "%lld", (long long)now);
	snprintf(maxp, sizeof maxp, "%.17g", max_points);
	argv[0] = KEY_PREFIX "queue", argv[1] = KEY_PREFIX "asgs", argv[2] = k_sub;
	argv[3] = k_job, argv[4] = KEY_PREFIX "subs", argv[5] = k_asg, argv[6] = k_stu;
	argv[7] = KEY_PREFIX "asggen";
	argv[8] = depth, argv[9] = ttl, argv[10] = slug, argv[11] = job, argv[12] = id;
	argv[13] = student, argv[14] = source, argv[15] = late ? "1" : "0", argv[16] = created;
	argv[17] = maxp, argv[18] = jid, argv[19] = "python";
	for (int i = 0; i < 20; i++)
		lens[i] = strlen(argv[i]);
	lens[11] = jlen;
	lens[14] = source_len;
	r = store_script(SCRIPT_SUB_CREATE, 8, 20, argv, lens);
	free(job);
	if (r == NULL)
		return SUB_STORE_FAILED;
	if (r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		rc = SUB_OK;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == -1)
		rc = SUB_BUSY;
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == -4)
		rc = SUB_NO_ASSIGNMENT;
	else
		log_warnx("submission create: %s",
		          r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	freeReplyObject(r);
	return rc;
}

/* A time in ms (as stored) as an RFC 3339 string, or null. */
static struct json_object *
time_value(const char *ms)
{
	char t[40];

	if (ms == NULL || *ms == '\0')
		return NULL;
	assignment_time_format(atoll(ms), t, sizeof t);
	return json_object_new_string(t);
}

static struct json_object *
number_value(const char *s)
{
	char *end;
	double d;

	if (s == NULL || *s == '\0')
		return NULL;
	d = strtod(s, &end);
	if (*end != '\0')
		return NULL;
	return jx_new_number(d);
}

/* Field name -> value of an HGETALL or HMGET reply laid out as pairs. */
static const char *
hget(redisReply *r, const char *name)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->element[i]->str, name) == 0 &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			return r->element[i + 1]->str;
	return NULL;
}

/* The fields of a list row, in this order. */
#define ROW_FIELDS 9
#define ROW_HMGET "id assignment student_id status score max_points late created_ms graded_ms"

/* The list row of a submission from its ROW_FIELDS values (NULL where a
 * field is missing). */
static struct json_object *
row_from(const char *const *v)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "submission_id", json_object_new_string(v[0]));
	json_object_object_add(o, "assignment", json_object_new_string(v[1]));
	json_object_object_add(o, "student_id", json_object_new_string(v[2]));
	json_object_object_add(o, "status", json_object_new_string(v[3]));
	json_object_object_add(o, "score", number_value(v[4]));
	json_object_object_add(o, "max_points", number_value(v[5]));
	json_object_object_add(o, "late", json_object_new_boolean(v[6] && *v[6] == '1'));
	json_object_object_add(o, "created_at", time_value(v[7]));
	json_object_object_add(o, "graded_at", time_value(v[8]));
	return o;
}

/* 1 when an HGETALL reply is a whole submission (not a half-deleted one). */
static int
complete(redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && hget(r, "id") &&
	       hget(r, "assignment") && hget(r, "student_id") && hget(r, "status");
}

struct json_object *
submission_get(const char *id, int with_source, int *found)
{
	redisReply *r = store_cmd("HGETALL " KEY_PREFIX "sub:%s", id);
	struct json_object *o, *res = NULL, *v;
	const char *text;
	struct jx_err e;

	*found = -1;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return NULL;
	}
	if (!complete(r)) {
		*found = 0;
		freeReplyObject(r);
		return NULL;
	}
	*found = 1;
	{
		static const char *const names[ROW_FIELDS] = {"id",     "assignment", "student_id",
		                                              "status", "score",      "max_points",
		                                              "late",   "created_ms", "graded_ms"};
		const char *vals[ROW_FIELDS];
		for (size_t k = 0; k < ROW_FIELDS; k++)
			vals[k] = hget(r, names[k]);
		o = row_from(vals);
	}
	text = hget(r, "result");
	if (text != NULL)
		res = jx_parse(text, strlen(text), 64, &e);
	if (res != NULL && json_object_object_get_ex(res, "tests", &v))
		json_object_object_add(o, "tests", json_object_get(v));
	else
		json_object_object_add(o, "tests", json_object_new_array());
	json_object_object_add(
	    o, "feedback",
	    res && json_object_object_get_ex(res, "feedback", &v) ? json_object_get(v) : NULL);
	if (res != NULL && json_object_object_get_ex(res, "error", &v) && v != NULL)
		json_object_object_add(o, "error", json_object_get(v));
	if (res != NULL && json_object_object_get_ex(res, "hidden_feedback", &v))
		json_object_object_add(o, "hidden_feedback", json_object_get(v));
	if (with_source)
		json_object_object_add(
		    o, "source",
		    json_object_new_string(hget(r, "source") ? hget(r, "source") : ""));
	if (res)
		json_object_put(res);
	freeReplyObject(r);
	return o;
}

struct json_object *
submission_list(const char *slug, const char *student, int limit)
{
	redisReply *ids;
	struct json_object *arr;
	int n = 0;

	/* The smaller index first; the other filter is applied row by row. */
	if (student != NULL)
		ids = store_cmd("ZREVRANGE " KEY_PREFIX "subs:stu:%s 0 -1", student);
	else if (slug != NULL)
		ids = store_cmd("ZREVRANGE " KEY_PREFIX "subs:asg:%s 0 -1", slug);
	else
		ids = store_cmd("ZREVRANGE " KEY_PREFIX "subs 0 %d", limit - 1);
	if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
		if (ids)
			freeReplyObject(ids);
		return NULL;
	}
	arr = json_object_new_array();
	for (size_t i = 0; i < ids->elements && n < limit; i++) {
		/* the row's fields only: not the source or the result */
		const char *v[ROW_FIELDS];
		redisReply *r =
		    store_cmd("HMGET " KEY_PREFIX "sub:%s " ROW_HMGET, ids->element[i]->str);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != ROW_FIELDS) {
			if (r)
				freeReplyObject(r);
			json_object_put(arr);
			arr = NULL;
			break;
		}
		for (size_t k = 0; k < ROW_FIELDS; k++)
			v[k] =
			    r->element[k]->type == REDIS_REPLY_STRING ? r->element[k]->str : NULL;
		if (v[0] && v[1] && v[2] && v[3] && (slug == NULL || strcmp(v[1], slug) == 0)) {
			json_object_array_add(arr, row_from(v));
			n++;
		}
		freeReplyObject(r);
	}
	freeReplyObject(ids);
	return arr;
}

struct json_object *
submission_assignment(const char *id, int *found)
{
	redisReply *r =
	    store_cmd("EVAL %s 3 " KEY_PREFIX "sub:%s " KEY_PREFIX "asgs " KEY_PREFIX "asggen",
	              "local f = redis.call('HMGET', KEYS[1], 'assignment', 'gen') "
	              "if not f[1] or (f[2] or '') ~= (redis.call('HGET', KEYS[3], f[1]) or '') "
	              "then return false end "
	              "return redis.call('HGET', KEYS[2], f[1])",
	              id);
	struct json_object *o = NULL;
	struct jx_err e;

	*found = -1;
	if (r != NULL && r->type == REDIS_REPLY_NIL) {
		*found = 0;
	} else if (r != NULL && r->type == REDIS_REPLY_STRING) {
		o = jx_parse(r->str, r->len, 16, &e);
		*found = o != NULL ? 1 : -1;
	}
	if (r)
		freeReplyObject(r);
	return o;
}

int
submission_regrade(const char *slug)
{
	redisReply *ids = store_cmd("ZRANGE " KEY_PREFIX "subs:asg:%s 0 -1", slug), *r;
	const char **argv;
	size_t *lens, k = 0, n;
	char **owned, depth[32], ttl[32];
	int rc = SUB_STORE_FAILED;

	if (ids == NULL || ids->type != REDIS_REPLY_ARRAY) {
		if (ids)
			freeReplyObject(ids);
		return SUB_STORE_FAILED;
	}
	n = ids->elements;
	argv = xcalloc(6 + 3 * n, sizeof *argv);
	lens = xcalloc(6 + 3 * n, sizeof *lens);
	owned = xcalloc(2 * n + 1, sizeof *owned);
	snprintf(depth, sizeof depth, "%lld", (long long)cfg.queue_max_depth);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.result_ttl_s);
	argv[k++] = KEY_PREFIX "queue";
	argv[k++] = KEY_PREFIX "asggen";
	argv[k++] = depth;
	argv[k++] = ttl;
	argv[k++] = KEY_PREFIX;
	argv[k++] = slug;
	for (size_t i = 0; i < n; i++) {
		char jid[JOB_ID_LEN + 1];
		argv[k] = ids->element[i]->str;
		lens[k++] = ids->element[i]->len;
		owned[2 * i + 1] = grade_job(ids->element[i]->str, jid, &lens[k + 1]);
		argv[k++] = owned[2 * i] = xstrdup(jid);
		argv[k] = owned[2 * i + 1];
		k++;
	}
	for (size_t i = 0; i < k; i++)
		if (lens[i] == 0)
			lens[i] = strlen(argv[i]);
	r = store_script(SCRIPT_REGRADE, 2, (int)k, argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		rc = r->integer < 0 ? SUB_BUSY : (int)r->integer;
	else if (r != NULL)
		log_warnx("regrade: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	if (r)
		freeReplyObject(r);
	for (size_t i = 0; i < 2 * n; i++)
		free(owned[i]);
	free(owned);
	free(argv);
	free(lens);
	freeReplyObject(ids);
	return rc;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
student_cmp(const void *a, const void *b)
{
	struct json_object *const *x = a, *const *y = b, *u, *v;

	json_object_object_get_ex(*x, "student_id", &u);
	json_object_object_get_ex(*y, "student_id", &v);
	return strcmp(json_object_get_string(u), json_object_get_string(v));
}

struct json_object *
submission_gradebook(void)
{
	const char *argv[3] = {KEY_PREFIX "asgs", KEY_PREFIX "asggen", KEY_PREFIX};
	redisReply *r = store_script(SCRIPT_GRADEBOOK, 2, 3, argv, NULL), *slugs, *rows;
	struct json_object *o, *asgs, *students, *by_id;
	const char **names;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		if (r)
			freeReplyObject(r);
		return NULL;
	}
	slugs = r->element[0];
	rows = r->element[1];
	names = xcalloc(slugs->elements + 1, sizeof *names);
	for (size_t i = 0; i < slugs->elements; i++)
		names[i] = slugs->element[i]->str;
	qsort(names, slugs->elements, sizeof *names, str_cmp);
	o = json_object_new_object();
	asgs = json_object_new_array();
	for (size_t i = 0; i < slugs->elements; i++)
		json_object_array_add(asgs, json_object_new_string(names[i]));
	json_object_object_add(o, "assignments", asgs);
	free(names);
	by_id = json_object_new_object();
	for (size_t i = 0; i + 2 < rows->elements; i += 3) {
		const char *slug = rows->element[i]->str, *stu = rows->element[i + 1]->str;
		struct json_object *s, *scores, *tot;
		if (!json_object_object_get_ex(by_id, stu, &s)) {
			s = json_object_new_object();
			json_object_object_add(s, "student_id", json_object_new_string(stu));
			json_object_object_add(s, "scores", json_object_new_object());
			json_object_object_add(s, "total", json_object_new_int(0));
			json_object_object_add(by_id, stu, s);
		}
		json_object_object_get_ex(s, "scores", &scores);
		json_object_object_add(scores, slug, number_value(rows->element[i + 2]->str));
		json_object_object_get_ex(s, "total", &tot);
		if (rows->element[i + 2]->str[0] != '\0') {
			double t = json_object_get_double(tot) + atof(rows->element[i + 2]->str);
			json_object_object_add(s, "total", jx_new_number(t));
		}
	}
	students = json_object_new_array();
	json_object_object_foreach(by_id, sid, sobj)
	{
		struct json_object *scores;
		(void)sid;
		/* every assignment has its column: null where nothing is graded */
		json_object_object_get_ex(sobj, "scores", &scores);
		for (size_t i = 0; i < json_object_array_length(asgs); i++) {
			const char *slug =
			    json_object_get_string(json_object_array_get_idx(asgs, i));
			if (!json_object_object_get_ex(scores, slug, NULL))
				json_object_object_add(scores, slug, NULL);
		}
		json_object_array_add(students, json_object_get(sobj));
	}
	json_object_array_sort(students, student_cmp);
	json_object_object_add(o, "students", students);
	json_object_put(by_id);
	freeReplyObject(r);
	return o;
}

/* Appends one CSV field, quoted when it must be (RFC 4180). A field that a
 * spreadsheet would read as a formula is prefixed with a quote. */
static void
csv_field(struct buf *b, const char *s)
{
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	int formula = s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@';

	if (quote || formula)
		buf_puts(b, "\"");
	if (formula)
		buf_puts(b, "'");
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			buf_puts(b, "\"");
		buf_append(b, p, 1);
	}
	if (quote || formula)
		buf_puts(b, "\"");
}

char *
submission_gradebook_csv(struct json_object *gb, size_t *len)
{
	struct json_object *asgs, *students, *v;
	struct buf b;
	size_t na, ns;

	buf_init(&b);
	json_object_object_get_ex(gb, "assignments", &asgs);
	json_object_object_get_ex(gb, "students", &students);
	na = json_object_array_length(asgs);
	ns = json_object_array_length(students);
	buf_puts(&b, "student_id");
	for (size_t i = 0; i < na; i++) {
		buf_puts(&b, ",");
		csv_field(&b, json_object_get_string(json_object_array_get_idx(asgs, i)));
	}
	buf_puts(&b, ",total\r\n");
	for (size_t k = 0; k < ns; k++) {
		struct json_object *s = json_object_array_get_idx(students, k), *scores;
		json_object_object_get_ex(s, "student_id", &v);
		csv_field(&b, json_object_get_string(v));
		json_object_object_get_ex(s, "scores", &scores);
		for (size_t i = 0; i < na; i++) {
			const char *slug =
			    json_object_get_string(json_object_array_get_idx(asgs, i));
			buf_puts(&b, ",");
			if (json_object_object_get_ex(scores, slug, &v) && v != NULL)
				buf_puts(&b, json_object_to_json_string(v));
		}
		json_object_object_get_ex(s, "total", &v);
		buf_printf(&b, ",%s\r\n", json_object_to_json_string(v));
	}
	return buf_steal(&b, len);
}
