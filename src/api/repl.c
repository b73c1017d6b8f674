/* The REPL routes of API.md section 1: session files in Redis, /run and
 * /evaluate_code as jobs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/jobs.h"
#include "api/routes.h"
#include "common/config.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/path.h"
#include "common/store.h"
#include "common/util.h"

void
repl_ping(struct request *req, struct response *resp)
{
	http_text(resp, 200, "text/plain; charset=utf-8", "ping");
}

static int
check_session(const char *id, size_t len, struct response *resp)
{
	if (path_session_id_valid(id, len))
		return 0;
	http_error(resp, ERR_INVALID_SESSION,
	           "the session id must be 1 to 128 letters, digits, '-' or '_'");
	return -1;
}

/* Reads a session id and a path from a JSON body. *clean is then NULL or the
 * malloc'd cleaned path, which the caller frees whatever this returns. */
static int
body_id_path(struct json_object *obj, const char *pathkey, const char **id, char **clean,
             size_t *clean_len, struct response *resp)
{
	struct jx_err e;
	const char *p, *why;
	size_t idlen, plen;

	if (jx_string(obj, "id", 1, id, &idlen, &e) < 0 ||
	    jx_string(obj, pathkey, 1, &p, &plen, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		return -1;
	}
	if (check_session(*id, idlen, resp) < 0)
		return -1;
	if ((why = path_rel_check(p, plen)) != NULL) {
		http_error(resp, ERR_INVALID_PATH, "%s: %s", pathkey, why);
		return -1;
	}
	*clean = path_rel_clean(p, plen, clean_len);
	if (*clean_len == 0) {
		http_error(resp, ERR_INVALID_PATH, "%s: the path names the session itself",
		           pathkey);
		return -1;
	}
	return 0;
}

static void
sess_key(char *out, size_t n, const char *id)
{
	snprintf(out, n, KEY_PREFIX "sess:%s", id);
}

/* Maps a script's error reply to the response. */
static void
script_error(const char *err, const char *path, struct response *resp)
{
	if (strncmp(err, "too_large bytes", 15) == 0)
		http_error(resp, ERR_TOO_LARGE, "the session would exceed its %lld bytes",
		           (long long)cfg.session_max_bytes);
	else if (strncmp(err, "too_large files", 15) == 0)
		http_error(resp, ERR_TOO_LARGE, "the session would exceed its %lld files",
		           (long long)cfg.session_max_files);
	else if (strncmp(err, "too_large dirs", 14) == 0)
		http_error(resp, ERR_TOO_LARGE, "the session would exceed its %lld directories",
		           (long long)cfg.session_max_files + 2048);
	else if (strncmp(err, "conflict ", 9) == 0)
		http_error(resp, ERR_INVALID_PATH, "'%s' is a file, so it cannot hold '%s'",
		           log_escape(err + 9, strlen(err + 9), 200),
		           log_escape(path, strlen(path), 200));
	else if (strncmp(err, "isdir ", 6) == 0)
		http_error(resp, ERR_IS_DIRECTORY, "'%s' is a directory",
		           log_escape(err + 6, strlen(err + 6), 200));
	else if (strncmp(err, "inside ", 7) == 0)
		http_error(resp, ERR_INVALID_PATH, "a directory cannot be moved inside itself");
	else {
		log_warnx("session script: %s", err);
		http_error(resp, ERR_INTERNAL, "the session could not be changed");
	}
}

static struct json_object *
success(const char *id)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "success", json_object_new_boolean(1));
	json_object_object_add(o, "id", json_object_new_string(id));
	return o;
}

void
repl_write_file(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp), *o;
	struct jx_err e;
	const char *id, *content, *enc = "utf-8";
	char *path = NULL, *value = NULL, *bin = NULL, key[200], ttl[32], maxb[32], maxf[32];
	size_t plen, clen, binlen = 0;
	redisReply *r;

	if (obj == NULL)
		return;
	if (body_id_path(obj, "rel_path", &id, &path, &plen, resp) < 0)
		goto out;
	if (jx_string(obj, "content", 1, &content, &clen, &e) < 0 ||
	    jx_string(obj, "encoding", 0, &enc, NULL, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		goto out;
	}
	if (strcmp(enc, "base64") == 0) {
		if (base64_decode(content, clen, &bin, &binlen) < 0) {
			http_error(resp, ERR_VALIDATION, "field 'content' is not valid base64");
			goto out;
		}
		content = bin;
		clen = binlen;
	} else if (strcmp(enc, "utf-8") != 0 && strcmp(enc, "utf8") != 0) {
		http_error(resp, ERR_VALIDATION, "field 'encoding' must be 'utf-8' or 'base64'");
		goto out;
	}
	value = xmalloc(clen + 1);
	value[0] = 'f';
	memcpy(value + 1, content, clen);
	sess_key(key, sizeof key, id);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	snprintf(maxb, sizeof maxb, "%lld", (long long)cfg.session_max_bytes);
	snprintf(maxf, sizeof maxf, "%lld", (long long)cfg.session_max_files);
	{
		const char *argv[] = {key, path, value, ttl, maxb, maxf};
		size_t lens[] = {strlen(key), plen,         clen + 1,
		                 strlen(ttl), strlen(maxb), strlen(maxf)};
		r = store_script(SCRIPT_SESS_WRITE, 1, 6, argv, lens);
	}
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		script_error(r->str, path, resp);
	} else {
		o = success(id);
		json_object_object_add(o, "rel_path", json_object_new_string(path));
		http_json(resp, 200, o);
	}
	freeReplyObject(r);
out:
	free(value);
	free(bin);
	free(path);
	json_object_put(obj);
}

void
repl_read_file(struct request *req, struct response *resp)
{
	char *id = NULL, *path = NULL, *enc = NULL, *clean = NULL, key[200], ttl[32];
	size_t idlen, plen, elen, clen;
	const char *why;
	redisReply *r = NULL, *v;
	struct json_object *o;
	int base64 = 0;

	if (http_query_param(req->query, "id", &id, &idlen) != 1 ||
	    http_query_param(req->query, "rel_path", &path, &plen) != 1) {
		http_error(resp, ERR_VALIDATION,
		           "query parameters 'id' and 'rel_path' are required (percent-encoded)");
		goto out;
	}
	if (http_query_param(req->query, "encoding", &enc, &elen) == 1) {
		if (strcmp(enc, "base64") == 0)
			base64 = 1;
		else if (strcmp(enc, "utf-8") != 0 && strcmp(enc, "utf8") != 0) {
			http_error(resp, ERR_VALIDATION,
			           "parameter 'encoding' must be 'utf-8' or 'base64'");
			goto out;
		}
	}
	if (check_session(id, idlen, resp) < 0)
		goto out;
	if ((why = path_rel_check(path, plen)) != NULL) {
		http_error(resp, ERR_INVALID_PATH, "rel_path: %s", why);
		goto out;
	}
	clean = path_rel_clean(path, plen, &clen);
	if (clen == 0) {
		http_error(resp, ERR_INVALID_PATH, "rel_path: the path names the session itself");
		goto out;
	}
	sess_key(key, sizeof key, id);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	{
		const char *argv[] = {key, clean, ttl};
		size_t lens[] = {strlen(key), clen, strlen(ttl)};
		r = store_script(SCRIPT_SESS_READ, 1, 3, argv, lens);
	}
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		http_error(resp, ERR_INTERNAL, "unexpected reply from the store");
		goto out;
	}
	if (r->element[0]->integer == 0) {
		http_error(resp, ERR_NOT_FOUND, "session '%s' does not exist", id);
		goto out;
	}
	v = r->element[1];
	if (v->type != REDIS_REPLY_STRING || v->len < 1) {
		http_error(resp, ERR_NOT_FOUND, "file '%s' does not exist in the session",
		           log_escape(clean, clen, 200));
		goto out;
	}
	if (v->str[0] == 'l') {
		http_error(resp, ERR_IS_SYMLINK,
		           "'%s' is a symbolic link; the file routes do not follow links",
		           log_escape(clean, clen, 200));
		goto out;
	}
	if (v->str[0] == 'd') {
		http_error(resp, ERR_IS_DIRECTORY, "'%s' is a directory",
		           log_escape(clean, clen, 200));
		goto out;
	}
	o = json_object_new_object();
	if (base64) {
		size_t n;
		char *b = base64_encode(v->str + 1, v->len - 1, &n);
		jx_add_strlen(o, "content", b, n);
		free(b);
	} else {
		if (!utf8_valid(v->str + 1, v->len - 1)) {
			json_object_put(o);
			http_error(resp, ERR_NOT_UTF8,
			           "'%s' is not UTF-8 text; read it with encoding=base64",
			           log_escape(clean, clen, 200));
			goto out;
		}
		jx_add_strlen(o, "content", v->str + 1, v->len - 1);
	}
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "rel_path", json_object_new_string_len(clean, (int)clen));
	json_object_object_add(o, "encoding", json_object_new_string(base64 ? "base64" : "utf-8"));
	http_json(resp, 200, o);
out:
	if (r)
		freeReplyObject(r);
	free(id);
	free(path);
	free(enc);
	free(clean);
}

void
repl_delete_file(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp), *o;
	const char *id;
	char *path = NULL, key[200], ttl[32];
	size_t plen;
	redisReply *r;

	if (obj == NULL)
		return;
	if (body_id_path(obj, "rel_path", &id, &path, &plen, resp) < 0)
		goto out;
	sess_key(key, sizeof key, id);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	{
		const char *argv[] = {key, path, ttl};
		size_t lens[] = {strlen(key), plen, strlen(ttl)};
		r = store_script(SCRIPT_SESS_DELETE, 1, 3, argv, lens);
	}
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR)
		script_error(r->str, path, resp);
	else if (r->integer == -1)
		http_error(resp, ERR_NOT_FOUND, "session '%s' does not exist", id);
	else if (r->integer == 0)
		http_error(resp, ERR_NOT_FOUND, "file '%s' does not exist in the session",
		           log_escape(path, plen, 200));
	else {
		o = success(id);
		json_object_object_add(o, "rel_path", json_object_new_string(path));
		http_json(resp, 200, o);
	}
	freeReplyObject(r);
out:
	free(path);
	json_object_put(obj);
}

void
repl_rename_file(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp), *o;
	const char *id;
	char *from = NULL, *to = NULL, key[200], ttl[32], maxf[32];
	size_t flen, tlen;
	redisReply *r;

	if (obj == NULL)
		return;
	if (body_id_path(obj, "old_path", &id, &from, &flen, resp) < 0 ||
	    body_id_path(obj, "new_path", &id, &to, &tlen, resp) < 0)
		goto out;
	sess_key(key, sizeof key, id);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	snprintf(maxf, sizeof maxf, "%lld", (long long)cfg.session_max_files);
	{
		const char *argv[] = {key, from, to, ttl, maxf};
		size_t lens[] = {strlen(key), flen, tlen, strlen(ttl), strlen(maxf)};
		r = store_script(SCRIPT_SESS_RENAME, 1, 5, argv, lens);
	}
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR)
		script_error(r->str, to, resp);
	else if (r->integer == -1)
		http_error(resp, ERR_NOT_FOUND, "session '%s' does not exist", id);
	else if (r->integer == 0)
		http_error(resp, ERR_NOT_FOUND, "file '%s' does not exist in the session",
		           log_escape(from, flen, 200));
	else {
		o = success(id);
		json_object_object_add(o, "old_path", json_object_new_string(from));
		json_object_object_add(o, "new_path", json_object_new_string(to));
		http_json(resp, 200, o);
	}
	freeReplyObject(r);
out:
	free(from);
	free(to);
	json_object_put(obj);
}

void
repl_fork_session(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp), *o;
	struct jx_err e;
	const char *id;
	char newid[JOB_ID_LEN + 1], src[200], dst[200], ttl[32];
	size_t idlen;
	redisReply *r;

	if (obj == NULL)
		return;
	if (jx_string(obj, "id", 1, &id, &idlen, &e) < 0) {
		http_error(resp, ERR_VALIDATION, "%s", e.detail);
		goto out;
	}
	if (check_session(id, idlen, resp) < 0)
		goto out;
	job_new_id(newid);
	sess_key(src, sizeof src, id);
	sess_key(dst, sizeof dst, newid);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	{
		const char *argv[] = {src, dst, ttl};
		r = store_script(SCRIPT_SESS_FORK, 2, 3, argv, NULL);
	}
	if (r == NULL) {
		http_error(resp, ERR_UNAVAILABLE, "the store is unreachable; try again shortly");
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR)
		script_error(r->str, "", resp);
	else if (r->integer == 0)
		http_error(resp, ERR_NOT_FOUND, "session '%s' does not exist", id);
	else {
		o = json_object_new_object();
		json_object_object_add(o, "new_id", json_object_new_string(newid));
		json_object_object_add(o, "id", json_object_new_string(id));
		http_json(resp, 200, o);
	}
	freeReplyObject(r);
out:
	json_object_put(obj);
}

void
repl_run(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp);
	struct job j;

	if (obj == NULL)
		return;
	if (jobs_from_run_request(obj, &j, resp) == 0)
		jobs_run_sync(&j, resp);
	json_object_put(obj);
}

void
repl_evaluate_code(struct request *req, struct response *resp)
{
	struct json_object *obj = http_body_json(req, resp);
	struct job j;

	if (obj == NULL)
		return;
	if (jobs_from_evaluate_request(obj, &j, resp) == 0)
		jobs_run_sync(&j, resp);
	json_object_put(obj);
}
