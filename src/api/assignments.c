/* The autograder's assignment routes: list, read (a student's view or an
 * admin's), create or replace, delete, and regrade. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "common/assignment.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/store.h"
#include "common/submission.h"

/* Copies the {slug} parameter; answers 404 for one no assignment could
 * have. Returns 0 or -1. */
static int
slug_param(struct request *req, char slug[SLUG_MAX + 1], struct response *resp)
{
	if (!assignment_slug_valid(req->params[0], req->param_len[0])) {
		http_error(resp, ERR_NOT_FOUND, "no such assignment");
		return -1;
	}
	memcpy(slug, req->params[0], req->param_len[0]);
	slug[req->param_len[0]] = '\0';
	return 0;
}

/* Fetches the assignment named by the path, answering 404 or 503 when it
 * cannot. The caller puts the result. */
static struct json_object *
fetch(struct request *req, char slug[SLUG_MAX + 1], struct response *resp)
{
	struct json_object *def;
	int found;

	if (slug_param(req, slug, resp) < 0)
		return NULL;
	def = assignment_get(slug, &found);
	if (found == 0)
		http_error(resp, ERR_NOT_FOUND, "no assignment '%s'", slug);
	else if (found < 0)
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
	return def;
}

void
assignments_list(struct request *req, struct response *resp)
{
	struct json_object *arr = assignment_list();

	(void)req;
	if (arr == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	http_json(resp, 200, arr);
}

void
assignments_get(struct request *req, struct response *resp)
{
	char slug[SLUG_MAX + 1];
	struct json_object *def = fetch(req, slug, resp);

	if (def == NULL)
		return;
	if (strcmp(req->who.role, "admin") == 0) {
		json_object_object_del(def, "due_ms");
		http_json(resp, 200, def);
		return;
	}
	http_json(resp, 200, assignment_public_view(def));
	json_object_put(def);
}

void
assignments_put(struct request *req, struct response *resp)
{
	char slug[SLUG_MAX + 1], err[512];
	struct json_object *body, *def, *o, *v;
	int rc;

	if (!assignment_slug_valid(req->params[0], req->param_len[0])) {
		http_error(resp, ERR_VALIDATION,
		           "the slug must be 1 to 64 lowercase letters, digits, '.', '_' or '-', "
		           "starting with a letter or digit");
		return;
	}
	memcpy(slug, req->params[0], req->param_len[0]);
	slug[req->param_len[0]] = '\0';
	if (req->body_len > (size_t)cfg.assignment_max_bytes + 65536) {
		http_error(resp, ERR_TOO_LARGE, "the assignment is over %lld bytes",
		           (long long)cfg.assignment_max_bytes);
		return;
	}
	if ((body = http_body_json(req, resp)) == NULL)
		return;
	if (json_object_object_get_ex(body, "slug", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     strcmp(json_object_get_string(v), slug) != 0)) {
		json_object_put(body);
		http_error(resp, ERR_VALIDATION, "field 'slug' must match the path ('%s')", slug);
		return;
	}
	def = assignment_validate(body, slug, err, sizeof err);
	json_object_put(body);
	if (def == NULL) {
		http_error(resp, strstr(err, "; the limit is") ? ERR_TOO_LARGE : ERR_VALIDATION,
		           "%s", err);
		return;
	}
	rc = assignment_put(def);
	if (rc < 0) {
		json_object_put(def);
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	o = assignment_public_view(def);
	json_object_put(def);
	http_json(resp, rc == 1 ? 201 : 200, o);
}

void
assignments_delete(struct request *req, struct response *resp)
{
	char slug[SLUG_MAX + 1];
	int rc;

	if (slug_param(req, slug, resp) < 0)
		return;
	rc = assignment_delete(slug);
	if (rc < 0)
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
	else if (rc == 0)
		http_error(resp, ERR_NOT_FOUND, "no assignment '%s'", slug);
	else
		http_text(resp, 204, "application/json", "");
}

void
assignments_regrade(struct request *req, struct response *resp)
{
	char slug[SLUG_MAX + 1];
	struct json_object *def = fetch(req, slug, resp), *o;
	int n;

	if (def == NULL)
		return;
	json_object_put(def);
	n = submission_regrade(slug);
	if (n == SUB_BUSY) {
		http_error(resp, ERR_BUSY,
		           "the queue cannot take every submission of '%s' now; retry when it is "
		           "shorter",
		           slug);
		return;
	}
	if (n < 0) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "queued", json_object_new_int(n));
	http_json(resp, 202, o);
}
