#include "executor/grade.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/assignment.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/store.h"
#include "common/util.h"
#include "executor/compare.h"
#include "executor/runner.h"
#include "executor/sandbox.h"

#define MESSAGE_MAX 2000
#define SHOW_MAX 300

/* Reads a field of a trusted object (one this program built or validated). */
static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o != NULL)
		json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *
get_str(struct json_object *o, const char *key, const char *dflt)
{
	struct json_object *v = get(o, key);

	return v != NULL && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
	                                                             : dflt;
}

/* Appends one result row. message may be NULL (passed). */
static void
row_add(struct json_object *rows, const char *name, const char *vis, const char *status,
        double max_points, const char *message)
{
	struct json_object *r = json_object_new_object();
	int passed = strcmp(status, "passed") == 0;
	char cut[MESSAGE_MAX + 8];

	json_object_object_add(r, "name", json_object_new_string(name));
	json_object_object_add(r, "visibility", json_object_new_string(vis));
	json_object_object_add(r, "status", json_object_new_string(status));
	json_object_object_add(r, "points", jx_new_number(passed ? max_points : 0));
	json_object_object_add(r, "max_points", jx_new_number(max_points));
	if (message != NULL && strlen(message) > MESSAGE_MAX) {
		snprintf(cut, sizeof cut, "%.*s ...", MESSAGE_MAX, message);
		message = cut;
	}
	json_object_object_add(r, "message", json_object_new_string(message ? message : ""));
	json_object_array_add(rows, r);
}

/* "…" excerpt of output for a message: at most SHOW_MAX bytes, whole UTF-8
 * characters. */
static void
excerpt(struct buf *b, const char *s, size_t len)
{
	size_t n = len > SHOW_MAX ? SHOW_MAX : len;

	while (n > 0 && n < len && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	if (utf8_valid(s, n))
		buf_append(b, s, n);
	else
		buf_puts(b, "(bytes that are not UTF-8 text)");
	if (n < len)
		buf_puts(b, "...");
}

/* JSON numbers JSON-C cannot hold exactly (integers past 64 bits, long
 * decimals) become strings marked with "\x01#", so a message can show them
 * as the harness wrote them. Returns malloc'd text. */
static char *
quote_long_numbers(const char *s, size_t len, size_t *outlen)
{
	struct buf b;
	int in_str = 0;

	buf_init(&b);
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (in_str) {
			buf_append(&b, &c, 1);
			if (c == '\\' && i + 1 < len) {
				buf_append(&b, &s[i + 1], 1);
				i += 2;
				continue;
			}
			if (c == '"')
				in_str = 0;
			i++;
		} else if (c == '"') {
			in_str = 1;
			buf_append(&b, &c, 1);
			i++;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t n = strspn(s + i, "-+.eE0123456789");
			if (n > 15) {
				buf_puts(&b, "\"\\u0001#");
				buf_append(&b, s + i, n);
				buf_puts(&b, "\"");
			} else {
				buf_append(&b, s + i, n);
			}
			i += n;
		} else {
			buf_append(&b, &c, 1);
			i++;
		}
	}
	return buf_steal(&b, outlen);
}

/* A value for a message: JSON text, with marked long numbers unquoted. */
static void
display(struct buf *b, struct json_object *v)
{
	const char *t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	                                                      JSON_C_TO_STRING_NOSLASHESCAPE);

	for (const char *p = t; *p;) {
		const char *m = strstr(p, "\"\\u0001#");
		if (m == NULL) {
			buf_puts(b, p);
			break;
		}
		buf_append(b, p, (size_t)(m - p));
		m += 8;
		p = strchr(m, '"');
		if (p == NULL) {
			buf_puts(b, m);
			break;
		}
		buf_append(b, m, (size_t)(p - m));
		p++;
	}
}

/* The request for grade.py: the source, the limits, the pytest files and
 * the stdio inputs, each under its index in def's tests. */
static struct json_object *
harness_request(struct json_object *def, const char *source, size_t len, int *estimate)
{
	struct json_object *req = json_object_new_object(), *py = json_object_new_array(),
	                   *st = json_object_new_array(), *tests = get(def, "tests"),
	                   *limits = get(def, "limits"), *starter = get(def, "starter");
	const char *fname = starter ? get_str(starter, "name", "submission.py") : "submission.py";
	const char *slash = strrchr(fname, '/');

	*estimate = 2;
	jx_add_strlen(req, "source", source, len);
	json_object_object_add(req, "filename", json_object_new_string(slash ? slash + 1 : fname));
	json_object_object_add(req, "time_s", json_object_get(get(limits, "time_s")));
	json_object_object_add(req, "memory_mb", json_object_get(get(limits, "memory_mb")));
	json_object_object_add(req, "output_max", json_object_new_int64(cfg.output_max_bytes));
	json_object_object_add(req, "files", json_object_get(get(def, "files")));
	for (size_t i = 0; i < json_object_array_length(tests); i++) {
		struct json_object *t = json_object_array_get_idx(tests, i), *o;
		const char *kind = get_str(t, "kind", "");
		if (strcmp(kind, "pytest") == 0) {
			int count;
			assignment_pytest_points(get_str(t, "source", ""), &count);
			*estimate += count + 1;
			o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_int((int)i));
			json_object_object_add(o, "file", json_object_get(get(t, "file")));
			json_object_object_add(o, "source", json_object_get(get(t, "source")));
			json_object_array_add(py, o);
		} else if (strcmp(kind, "stdio") == 0) {
			(*estimate)++;
			o = json_object_new_object();
			json_object_object_add(o, "id", json_object_new_int((int)i));
			json_object_object_add(o, "stdin", json_object_get(get(t, "stdin")));
			json_object_array_add(st, o);
		}
	}
	json_object_object_add(req, "pytest", py);
	json_object_object_add(req, "stdio", st);
	return req;
}

/* The harness's answer entry with "id" == id in the array under key. */
static struct json_object *
answer_for(struct json_object *answer, const char *key, size_t id)
{
	struct json_object *arr = get(answer, key);

	if (arr == NULL || !json_object_is_type(arr, json_type_array))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *a = json_object_array_get_idx(arr, i), *v = get(a, "id");
		if (v != NULL && json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) == (int64_t)id)
			return a;
	}
	return NULL;
}

/* Rows of one pytest file from the harness's answer. Returns 0, or -1 with
 * why set when the file itself could not be run (the teacher's tests are
 * broken: a grader failure, not the student's). */
static int
pytest_rows(struct json_object *rows, struct json_object *t, struct json_object *a,
            const char *load_error, char *why, size_t whylen)
{
	const char *vis = get_str(t, "visibility", "hidden");
	struct json_object *list = get(a, "tests");
	const char *err = get_str(a, "error", NULL);

	if (load_error != NULL && (list == NULL || json_object_array_length(list) == 0)) {
		/* the file can only be collected with a submission that loads:
		 * the student's fault, one failed row for the file */
		row_add(rows, get_str(t, "file", "?"), vis, "failed", 1, load_error);
		return 0;
	}

	if (a == NULL || list == NULL || !json_object_is_type(list, json_type_array) ||
	    (json_object_array_length(list) == 0 && err != NULL)) {
		snprintf(why, whylen, "the tests in %s could not be collected: %s",
		         get_str(t, "file", "?"), err ? err : "the grader did not report them");
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *r = json_object_array_get_idx(list, i), *p = get(r, "points");
		const char *status = get_str(r, "status", "error");
		double pts = p && (json_object_is_type(p, json_type_int) ||
		                   json_object_is_type(p, json_type_double))
		                 ? json_object_get_double(p)
		                 : 1;
		if (strcmp(status, "passed") && strcmp(status, "failed") &&
		    strcmp(status, "error") && strcmp(status, "timeout"))
			status = "error";
		if (!isfinite(pts) || pts < 0 || pts > 1e6)
			pts = 1;
		row_add(rows, get_str(r, "name", "?"), vis, status, pts,
		        strcmp(status, "passed") ? get_str(r, "message", "") : NULL);
	}
	return 0;
}

/* The row of one stdio test: the program's output compared here. */
static void
stdio_row(struct json_object *rows, struct json_object *t, struct json_object *a, double time_s,
          int64_t mem_mb, const char *load_error)
{
	const char *name = get_str(t, "name", "?"), *vis = get_str(t, "visibility", "hidden");
	double pts = json_object_get_double(get(t, "points"));
	const char *st = get_str(a, "status", NULL), *b64 = get_str(a, "stdout_b64", "");
	struct json_object *tr = get(a, "truncated");
	enum compare_mode mode = COMPARE_TRIM;
	char *out = NULL, msg[400];
	size_t outlen = 0;
	struct buf m;

	if (load_error != NULL) {
		row_add(rows, name, vis, "error", pts, load_error);
		return;
	}
	if (a == NULL || st == NULL) {
		row_add(rows, name, vis, "error", pts, "the program did not run (no report)");
		return;
	}
	if (strcmp(st, "timeout") == 0) {
		snprintf(msg, sizeof msg, "Timeout: the program ran longer than %g s", time_s);
		row_add(rows, name, vis, "timeout", pts, msg);
		return;
	}
	if (strcmp(st, "memory_limit") == 0) {
		snprintf(msg, sizeof msg, "MemoryError: the program used more than %lld MB",
		         (long long)mem_mb);
		row_add(rows, name, vis, "error", pts, msg);
		return;
	}
	if (strcmp(st, "output_limit") == 0 || (tr != NULL && json_object_get_boolean(tr))) {
		snprintf(msg, sizeof msg, "the program printed more than %lld bytes",
		         (long long)cfg.output_max_bytes);
		row_add(rows, name, vis, "failed", pts, msg);
		return;
	}
	if (strcmp(st, "ok") != 0) {
		row_add(rows, name, vis, "error", pts,
		        get_str(a, "error", "the program ended with an error"));
		return;
	}
	if (base64_decode(b64, strlen(b64), &out, &outlen) < 0) {
		row_add(rows, name, vis, "error", pts, "the program's output could not be read");
		return;
	}
	compare_mode_parse(get_str(t, "compare", "trim"), &mode);
	{
		struct json_object *exp = get(t, "stdout");
		const char *e = json_object_get_string(exp);
		size_t elen = (size_t)json_object_get_string_len(exp);
		if (compare_output(mode, e, elen, out, outlen,
		                   json_object_get_double(get(t, "tolerance")))) {
			row_add(rows, name, vis, "passed", pts, NULL);
		} else {
			buf_init(&m);
			buf_puts(&m, "the output is not what was expected\nexpected:\n");
			excerpt(&m, e, elen);
			buf_puts(&m, "\ngot:\n");
			excerpt(&m, out, outlen);
			row_add(rows, name, vis, "failed", pts, m.data);
			buf_free(&m);
		}
	}
	free(out);
}

/* Rows of the io tests, one /evaluate_code run per entry point, from the
 * module text the harness made of the submission. */
static void
io_rows(struct json_object *rows, struct json_object *tests, size_t *order, const char *module,
        double time_s, int64_t mem_mb, const char *load_error, int slot)
{
	size_t n = json_object_array_length(tests);
	int *done = xcalloc(n + 1, sizeof *done);
	struct json_object **slot_rows = xcalloc(n + 1, sizeof *slot_rows);

	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i), *cases, *ans;
		const char *ep;
		struct job j;
		size_t k = 0;

		if (done[i] || strcmp(get_str(t, "kind", ""), "io") != 0)
			continue;
		ep = get_str(t, "entry_point", "");
		cases = json_object_new_array();
		for (size_t m = i; m < n; m++) {
			struct json_object *u = json_object_array_get_idx(tests, m), *c;
			if (strcmp(get_str(u, "kind", ""), "io") ||
			    strcmp(get_str(u, "entry_point", ""), ep))
				continue;
			c = json_object_new_object();
			json_object_object_add(c, "input", json_object_get(get(u, "input")));
			json_object_object_add(c, "output", json_object_get(get(u, "output")));
			json_object_array_add(cases, c);
		}
		ans = NULL;
		if (load_error == NULL) {
			memset(&j, 0, sizeof j);
			memcpy(j.id, "00000000-0000-0000-0000-000000000000", JOB_ID_LEN + 1);
			j.kind = JOB_EVALUATE;
			j.code = module;
			j.code_len = strlen(module);
			j.entry_point = ep;
			j.language = "python";
			j.io_cases = cases;
			j.case_timeout_s = time_s;
			j.case_memory_mb = mem_mb;
			size_t blen, qlen;
			char *raw = runner_evaluate(&j, slot, &blen), *q;
			struct jx_err e;
			if (raw != NULL) {
				q = quote_long_numbers(raw, blen, &qlen);
				ans = jx_parse(q, qlen, 512, &e);
				free(q);
				free(raw);
			}
		}
		for (size_t m = i; m < n; m++) {
			struct json_object *u = json_object_array_get_idx(tests, m), *cr = NULL,
			                   *one;
			const char *name, *vis, *err;
			double pts;
			struct buf b;
			if (strcmp(get_str(u, "kind", ""), "io") ||
			    strcmp(get_str(u, "entry_point", ""), ep))
				continue;
			done[m] = 1;
			name = get_str(u, "name", "?");
			vis = get_str(u, "visibility", "hidden");
			pts = json_object_get_double(get(u, "points"));
			one = json_object_new_array();
			if (ans != NULL && get(ans, "case_results") != NULL)
				cr = json_object_array_get_idx(get(ans, "case_results"), k);
			k++;
			err = get_str(cr, "error", NULL);
			if (load_error != NULL)
				row_add(one, name, vis, "error", pts, load_error);
			else if (cr == NULL)
				row_add(one, name, vis, "error", pts,
				        "the test did not run (no report)");
			else if (get(cr, "passed") && json_object_get_boolean(get(cr, "passed")))
				row_add(one, name, vis, "passed", pts, NULL);
			else if (err != NULL)
				row_add(one, name, vis,
				        strncmp(err, "Timeout", 7) == 0 ? "timeout" : "error", pts,
				        err);
			else {
				struct buf g;
				buf_init(&b);
				buf_init(&g);
				buf_puts(&b, "expected ");
				display(&b, get(cr, "expected"));
				display(&g, get(cr, "got"));
				/* JSON writes a tuple and a list alike */
				if (strcmp(b.data + 9, g.data) == 0)
					buf_puts(
					    &g,
					    " (equal when printed: the type differs, e.g. a tuple "
					    "where a list is expected)");
				buf_puts(&b, ", got ");
				buf_puts(&b, g.data);
				buf_free(&g);
				row_add(one, name, vis, "failed", pts, b.data);
				buf_free(&b);
			}
			slot_rows[m] = json_object_get(json_object_array_get_idx(one, 0));
			json_object_put(one);
		}
		if (ans)
			json_object_put(ans);
		json_object_put(cases);
	}
	/* back in the assignment's order */
	for (size_t i = 0; i < n; i++)
		if (slot_rows[i] != NULL) {
			order[i] = json_object_array_length(rows);
			json_object_array_add(rows, slot_rows[i]);
		}
	free(slot_rows);
	free(done);
}

/* A sentence for the student about the whole submission. */
static char *
feedback(struct json_object *rows, const char *load_error, double score, double maxp)
{
	size_t n = json_object_array_length(rows), passed = 0;
	struct json_object *first = NULL;
	struct buf b;

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(rows, i);
		if (strcmp(get_str(r, "status", ""), "passed") == 0)
			passed++;
		else if (first == NULL && strcmp(get_str(r, "visibility", ""), "public") == 0)
			first = r;
	}
	buf_init(&b);
	if (load_error != NULL) {
		buf_printf(&b, "Your code could not be loaded, so no test could pass: %s",
		           load_error);
		return buf_steal(&b, &n);
	}
	buf_printf(&b, "%zu of %zu tests passed: %g of %g points.", passed, n, score, maxp);
	if (first != NULL) {
		const char *st = get_str(first, "status", "");
		buf_printf(&b, " First problem, in '%s': ", get_str(first, "name", "?"));
		if (strcmp(st, "timeout") == 0)
			buf_puts(&b, "it took too long (an endless loop?). ");
		buf_puts(&b, get_str(first, "message", ""));
	} else if (passed < n) {
		buf_puts(&b, " Every public test passes; some hidden tests do not.");
	}
	return buf_steal(&b, &n);
}

/* The answer of a grader that failed: status error and why. */
static struct json_object *
grade_failed(struct json_object *def, const char *why)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string("error"));
	json_object_object_add(o, "score", NULL);
	json_object_object_add(o, "max_points", json_object_get(get(def, "max_points")));
	json_object_object_add(o, "tests", json_object_new_array());
	json_object_object_add(o, "feedback",
	                       json_object_new_string("The grader could not grade this submission; "
	                                              "your teacher has been told why."));
	json_object_object_add(o, "error", json_object_new_string(why));
	json_object_object_add(o, "hidden_feedback",
	                       json_object_new_string(get_str(def, "hidden_feedback", "summary")));
	return o;
}

struct json_object *
grade_run(struct json_object *def, const char *source, size_t len, int slot)
{
	struct json_object *req, *answer = NULL, *tests = get(def, "tests"), *rows, *load, *o;
	struct json_object *limits = get(def, "limits");
	double time_s = json_object_get_double(get(limits, "time_s"));
	int64_t mem_mb = json_object_get_int64(get(limits, "memory_mb"));
	double maxp = json_object_get_double(get(def, "max_points")), earned = 0, total = 0, score;
	size_t n = json_object_array_length(tests), rlen, *order;
	struct sandbox_result res;
	const char *text, *load_error = NULL, *module;
	char why[600], *fb;
	int estimate, rc;
	int64_t wall_ms;
	struct jx_err e;

	req = harness_request(def, source, len, &estimate);
	text = jx_text(req, &rlen);
	wall_ms = (int64_t)((time_s + 1) * estimate * 1000) + 30000;
	if (wall_ms > cfg.grade_timeout_max_s * 1000)
		wall_ms = cfg.grade_timeout_max_s * 1000;
	rc = runner_grade(text, rlen, wall_ms, slot, &res);
	json_object_put(req);
	if (rc < 0) {
		snprintf(why, sizeof why, "the sandbox could not be built: %s", res.error);
		sandbox_result_free(&res);
		return grade_failed(def, why);
	}
	if (res.res.len > 0)
		answer = jx_parse(res.res.data, res.res.len, 64, &e);
	if (answer == NULL || !json_object_is_type(answer, json_type_object) ||
	    (load = get(answer, "load")) == NULL || get(load, "ok") == NULL) {
		snprintf(why, sizeof why, "the grading harness gave no answer (%s, exit %d%s)",
		         sandbox_status_name(res.status), res.exit_code,
		         res.status == SB_TIMEOUT ? ": grading took longer than its limit" : "");
		if (answer)
			json_object_put(answer);
		sandbox_result_free(&res);
		return grade_failed(def, why);
	}
	sandbox_result_free(&res);
	if (!json_object_get_boolean(get(load, "ok"))) {
		load_error = get_str(load, "error", "the code could not be loaded");
		if (strncmp(load_error, "internal:", 9) == 0) {
			snprintf(why, sizeof why, "the grading harness failed: %s", load_error);
			json_object_put(answer);
			return grade_failed(def, why);
		}
	}
	module = get_str(answer, "submission", "");

	/* io rows come from their own runs; place every row in test order */
	rows = json_object_new_array();
	order = xcalloc(n + 1, sizeof *order);
	{
		struct json_object *io = json_object_new_array(),
		                   *ordered = json_object_new_array();
		io_rows(io, tests, order, module, time_s, mem_mb, load_error, slot);
		for (size_t i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(tests, i);
			const char *kind = get_str(t, "kind", "");
			if (strcmp(kind, "io") == 0) {
				json_object_array_add(
				    ordered,
				    json_object_get(json_object_array_get_idx(io, order[i])));
			} else if (strcmp(kind, "stdio") == 0) {
				stdio_row(ordered, t, answer_for(answer, "stdio", i), time_s,
				          mem_mb, load_error);
			} else if (pytest_rows(ordered, t, answer_for(answer, "pytest", i),
			                       load_error, why, sizeof why) < 0) {
				json_object_put(io);
				json_object_put(ordered);
				json_object_put(rows);
				json_object_put(answer);
				free(order);
				return grade_failed(def, why);
			}
		}
		json_object_put(io);
		json_object_put(rows);
		rows = ordered;
	}
	free(order);
	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		struct json_object *r = json_object_array_get_idx(rows, i);
		earned += json_object_get_double(get(r, "points"));
		total += json_object_get_double(get(r, "max_points"));
	}
	score = total > 0 ? floor(maxp * earned / total + 0.5) : 0;
	fb = feedback(rows, load_error, score, maxp);
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("done"));
	json_object_object_add(o, "score", jx_new_number(score));
	json_object_object_add(o, "max_points", jx_new_number(maxp));
	json_object_object_add(o, "earned", jx_new_number(earned));
	json_object_object_add(o, "total", jx_new_number(total));
	json_object_object_add(o, "tests", rows);
	json_object_object_add(o, "feedback", json_object_new_string(fb));
	json_object_object_add(o, "error", NULL);
	json_object_object_add(o, "hidden_feedback",
	                       json_object_new_string(get_str(def, "hidden_feedback", "summary")));
	free(fb);
	json_object_put(answer);
	return o;
}

char *
grade_job(const struct job *j, int slot, size_t *len, const char **status)
{
	char key[80], slug[SLUG_MAX + 1];
	const char *argv[4];
	struct json_object *def, *o;
	struct jx_err e;
	redisReply *r;

	*status = "error";
	snprintf(key, sizeof key, KEY_PREFIX "sub:%s", j->submission);
	argv[0] = key;
	argv[1] = KEY_PREFIX "asggen";
	argv[2] = j->id;
	argv[3] = KEY_PREFIX;
	/* the submission, and in the same step the definition of the
	 * assignment it was made to */
	r = store_script(SCRIPT_SUB_START, 2, 4, argv, NULL);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		/* handed back to the queue: a later try grades it */
		*status = JOB_STATUS_UNAVAILABLE;
		return job_envelope_error("unavailable", "the store failed while starting to grade",
		                          len);
	}
	if (r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING || r->element[0]->len > SLUG_MAX) {
		freeReplyObject(r);
		return job_envelope_error(
		    "not_found", "the submission is gone or was queued again (regrade)", len);
	}
	memcpy(slug, r->element[0]->str, r->element[0]->len + 1);
	if (r->element[2]->len == 0) {
		/* deleted, perhaps made again since under the same slug: that one
		 * is another assignment */
		freeReplyObject(r);
		o = json_object_new_object();
		json_object_object_add(o, "assignment", json_object_new_string(slug));
		def = o;
		o = grade_failed(def,
		                 "the assignment was deleted before the submission was graded");
		json_object_put(def);
		return job_envelope_ok(o, len);
	}
	def = jx_parse(r->element[2]->str, r->element[2]->len, 64, &e);
	if (def == NULL) {
		log_warnx("assignment %s: stored text unreadable: %s", slug, e.detail);
		freeReplyObject(r);
		*status = JOB_STATUS_UNAVAILABLE;
		return job_envelope_error("unavailable",
		                          "the store failed while reading the assignment", len);
	}
	o = grade_run(def, r->element[1]->str, r->element[1]->len, slot);
	freeReplyObject(r);
	json_object_put(def);
	*status = get_str(o, "status", "error");
	*status = strcmp(*status, "done") == 0 ? "done" : "error";
	return job_envelope_ok(o, len);
}
