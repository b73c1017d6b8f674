/* The autograder's submission routes: submit, read a result (redacted for
 * students as the assignment's hidden_feedback says), list submissions,
 * the gradebook, and issuing tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "common/assignment.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/store.h"
#include "common/submission.h"
#include "common/token.h"
#include "common/util.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

static int
is_role(const struct request *req, const char *role)
{
	return strcmp(req->who.role, role) == 0;
}

void
submissions_submit(struct request *req, struct response *resp)
{
	struct json_object *body, *def = NULL, *v, *o;
	const char *slug, *source, *lang = NULL, *student = NULL;
	size_t slen, stlen = 0;
	char id[JOB_ID_LEN + 1];
	struct jx_err e;
	int found, late = 0;
	int64_t due_ms;
	enum submission_rc rc;

	if ((body = http_body_json(req, resp)) == NULL)
		return;
	if (jx_string(body, "assignment", 1, &slug, NULL, &e) < 0 ||
	    jx_string(body, "source", 1, &source, &slen, &e) < 0 ||
	    jx_string(body, "language", 0, &lang, NULL, &e) < 0 ||
	    jx_string(body, "student_id", 0, &student, &stlen, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		goto out;
	}
	if (slen > (size_t)cfg.submission_max_bytes) {
		http_error(resp, ERR_TOO_LARGE, "field 'source' is over %lld bytes",
		           (long long)cfg.submission_max_bytes);
		goto out;
	}
	if (memchr(source, '\0', slen) != NULL) {
		http_error(resp, ERR_VALIDATION, "field 'source' must not contain a NUL character");
		goto out;
	}
	if (lang != NULL && strcmp(lang, "python") != 0 && strcmp(lang, "python3") != 0) {
		http_error(resp, ERR_VALIDATION,
		           "field 'language': '%.40s' is not supported (python)", lang);
		goto out;
	}
	if (is_role(req, "student")) {
		/* a student submits as themselves, whatever the body says */
		if (student != NULL && strcmp(student, req->who.student_id) != 0) {
			http_error(resp, ERR_FORBIDDEN,
			           "a student token submits only for its own "
			           "student_id");
			goto out;
		}
		student = req->who.student_id;
		stlen = strlen(student);
	} else if (student == NULL) {
		http_error(resp, ERR_VALIDATION, "field 'student_id' is required with a %s token",
		           req->who.role);
		goto out;
	}
	if (!token_student_id_valid(student, stlen)) {
		http_error(resp, ERR_VALIDATION,
		           "field 'student_id' must be 1 to 128 letters, digits or . _ @ + -");
		goto out;
	}
	if (!assignment_slug_valid(slug, strlen(slug))) {
		http_error(resp, ERR_NOT_FOUND, "no assignment '%.64s'", slug);
		goto out;
	}
	/* the summary, not the definition: a submission needs only the due
	 * time and the points, not the assignment's files */
	def = assignment_summary(slug, &found);
	if (found == 0) {
		http_error(resp, ERR_NOT_FOUND, "no assignment '%s'", slug);
		goto out;
	}
	if (found < 0) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	if (json_object_object_get_ex(def, "due_at", &v) && v != NULL &&
	    assignment_time_parse(json_object_get_string(v), &due_ms) == 0)
		late = now_real_ms() > due_ms;
	json_object_object_get_ex(def, "max_points", &v);
	rc = submission_create(slug, student, source, slen, late, json_object_get_double(v), id);
	if (rc == SUB_BUSY) {
		http_error(resp, ERR_BUSY, "the grading queue is full (%lld jobs); retry shortly",
		           (long long)cfg.queue_max_depth);
		goto out;
	}
	if (rc == SUB_NO_ASSIGNMENT) {
		http_error(resp, ERR_NOT_FOUND, "no assignment '%s'", slug);
		goto out;
	}
	if (rc != SUB_OK) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "submission_id", json_object_new_string(id));
	json_object_object_add(o, "status", json_object_new_string("queued"));
	json_object_object_add(o, "late", json_object_new_boolean(late));
	http_json(resp, 202, o);
out:
	if (def)
		json_object_put(def);
	json_object_put(body);
}

/* Hides hidden tests from a result as mode says: "summary" keeps only how
 * many passed and their points, "names" drops their messages, "full" keeps
 * them. Changes res in place. */
static void
redact(struct json_object *res, const char *mode)
{
	struct json_object *tests, *kept, *sum, *v;
	int total = 0, passed = 0;
	double pts = 0, maxp = 0;

	if (!json_object_object_get_ex(res, "tests", &tests) ||
	    !json_object_is_type(tests, json_type_array))
		return;
	kept = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(tests); i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		int hidden = json_object_object_get_ex(t, "visibility", &v) &&
		             strcmp(json_object_get_string(v), "hidden") == 0;
		if (!hidden) {
			json_object_array_add(kept, json_object_get(t));
			continue;
		}
		total++;
		if (json_object_object_get_ex(t, "status", &v) &&
		    strcmp(json_object_get_string(v), "passed") == 0)
			passed++;
		if (json_object_object_get_ex(t, "points", &v))
			pts += json_object_get_double(v);
		if (json_object_object_get_ex(t, "max_points", &v))
			maxp += json_object_get_double(v);
		if (strcmp(mode, "summary") == 0)
			continue;
		if (strcmp(mode, "names") == 0) {
			struct json_object *c = NULL;
			json_object_deep_copy(t, &c, NULL);
			json_object_object_add(c, "message", NULL);
			json_object_array_add(kept, c);
		} else {
			json_object_array_add(kept, json_object_get(t));
		}
	}
	json_object_object_add(res, "tests", kept);
	sum = json_object_new_object();
	json_object_object_add(sum, "count", json_object_new_int(total));
	json_object_object_add(sum, "passed", json_object_new_int(passed));
	json_object_object_add(sum, "points", jx_new_number(pts));
	json_object_object_add(sum, "max_points", jx_new_number(maxp));
	json_object_object_add(res, "hidden", sum);
}

void
submissions_result(struct request *req, struct response *resp)
{
	char id[JOB_ID_LEN + 1];
	struct json_object *res, *v, *def;
	const char *mode = "summary";
	int found;

	if (!submission_id_valid(req->params[0], req->param_len[0])) {
		http_error(resp, ERR_NOT_FOUND, "no such submission");
		return;
	}
	memcpy(id, req->params[0], JOB_ID_LEN);
	id[JOB_ID_LEN] = '\0';
	res = submission_get(id, 0, &found);
	if (found == 0) {
		http_error(resp, ERR_NOT_FOUND, "no submission %s", id);
		return;
	}
	if (found < 0) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	if (is_role(req, "student") &&
	    (!json_object_object_get_ex(res, "student_id", &v) ||
	     strcmp(json_object_get_string(v), req->who.student_id) != 0)) {
		json_object_put(res);
		http_error(resp, ERR_FORBIDDEN, "this submission belongs to another student");
		return;
	}
	if (!is_role(req, "admin")) {
		/* the assignment's current mode decides; the mode it was graded
		 * under stands in when the assignment is gone (and when another
		 * has its slug now) */
		def = submission_assignment(id, &found);
		if (found < 0) {
			json_object_put(res);
			http_error(resp, ERR_UNAVAILABLE,
			           "the store is unreachable; try again shortly");
			return;
		}
		if (def != NULL && json_object_object_get_ex(def, "hidden_feedback", &v))
			mode = json_object_get_string(v);
		else if (json_object_object_get_ex(res, "hidden_feedback", &v) && v != NULL)
			mode = json_object_get_string(v);
		redact(res, mode);
		if (def)
			json_object_put(def);
	}
	json_object_object_del(res, "hidden_feedback");
	if (is_role(req, "student") && json_object_object_get_ex(res, "error", &v) && v != NULL)
		/* why the grader failed may name hidden tests: for the teacher */
		json_object_object_add(res, "error",
		                       json_object_new_string("the grader failed; your teacher can "
		                                              "see why"));
	http_json(resp, 200, res);
}

void
submissions_list(struct request *req, struct response *resp)
{
	char *slug = NULL, *student = NULL, *lim = NULL;
	size_t len;
	long limit = LIST_DEFAULT;
	struct json_object *arr;

	if (http_query_param(req->query, "assignment", &slug, &len) < 0 ||
	    http_query_param(req->query, "student_id", &student, &len) < 0 ||
	    http_query_param(req->query, "limit", &lim, &len) < 0) {
		http_error(resp, ERR_VALIDATION, "a query parameter is badly percent-encoded");
		goto out;
	}
	if (lim != NULL) {
		char *end;
		limit = strtol(lim, &end, 10);
		if (*end != '\0' || limit < 1 || limit > LIST_MAX) {
			http_error(resp, ERR_VALIDATION, "parameter 'limit' must be 1 to %d",
			           LIST_MAX);
			goto out;
		}
	}
	if (slug != NULL && *slug == '\0') {
		free(slug);
		slug = NULL;
	}
	if (student != NULL && *student == '\0') {
		free(student);
		student = NULL;
	}
	if (is_role(req, "student")) {
		if (student != NULL && strcmp(student, req->who.student_id) != 0) {
			http_error(resp, ERR_FORBIDDEN,
			           "a student lists only their own submissions");
			goto out;
		}
		free(student);
		student = xstrdup(req->who.student_id);
	}
	if ((slug != NULL && !assignment_slug_valid(slug, strlen(slug))) ||
	    (student != NULL && !token_student_id_valid(student, strlen(student)))) {
		http_json(resp, 200, json_object_new_array());
		goto out;
	}
	arr = submission_list(slug, student, (int)limit);
	if (arr == NULL)
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
	else
		http_json(resp, 200, arr);
out:
	free(slug);
	free(student);
	free(lim);
}

void
submissions_gradebook(struct request *req, struct response *resp)
{
	char *fmt = NULL, *csv;
	size_t len;
	struct json_object *gb;

	if (http_query_param(req->query, "format", &fmt, &len) < 0 ||
	    (fmt != NULL && strcmp(fmt, "csv") != 0 && strcmp(fmt, "json") != 0)) {
		free(fmt);
		http_error(resp, ERR_VALIDATION, "parameter 'format' must be 'json' or 'csv'");
		return;
	}
	gb = submission_gradebook();
	if (gb == NULL) {
		free(fmt);
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	if (fmt != NULL && strcmp(fmt, "csv") == 0) {
		csv = submission_gradebook_csv(gb, &len);
		http_text(resp, 200, "text/csv; charset=utf-8", csv);
		free(csv);
		json_object_put(gb);
	} else {
		http_json(resp, 200, gb);
	}
	free(fmt);
}

void
submissions_token(struct request *req, struct response *resp)
{
	struct json_object *body, *o;
	const char *role, *student = NULL;
	size_t stlen = 0;
	struct jx_err e;
	char *tok;

	if ((body = http_body_json(req, resp)) == NULL)
		return;
	if (jx_string(body, "role", 1, &role, NULL, &e) < 0 ||
	    jx_string(body, "student_id", 0, &student, &stlen, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		goto out;
	}
	if (!token_role_valid(role)) {
		http_error(resp, ERR_VALIDATION,
		           "field 'role' must be 'admin', 'client' or 'student'");
		goto out;
	}
	if (strcmp(role, "student") == 0 &&
	    (student == NULL || !token_student_id_valid(student, stlen))) {
		http_error(resp, ERR_VALIDATION,
		           "a student token needs field 'student_id': 1 to 128 letters, digits or "
		           ". _ @ + -");
		goto out;
	}
	if (strcmp(role, "student") != 0)
		student = NULL; /* only a student token carries one */
	tok = token_create(role, student);
	if (tok == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(tok));
	json_object_object_add(o, "role", json_object_new_string(role));
	json_object_object_add(o, "student_id", student ? json_object_new_string(student) : NULL);
	http_json(resp, 201, o);
	free(tok);
out:
	json_object_put(body);
}
