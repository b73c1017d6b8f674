#include "api/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/jsonx.h"
#include "common/util.h"

static const struct {
	int status;
	const char *code;
} errors[] = {
    [ERR_INVALID_JSON] = {400, "invalid_json"},
    [ERR_INVALID_PATH] = {400, "invalid_path"},
    [ERR_INVALID_SESSION] = {400, "invalid_session"},
    [ERR_NO_SESSION] = {400, "no_session"},
    [ERR_NOT_UTF8] = {400, "not_utf8"},
    [ERR_IS_SYMLINK] = {400, "is_symlink"},
    [ERR_IS_DIRECTORY] = {400, "is_directory"},
    [ERR_UNAUTHORIZED] = {401, "unauthorized"},
    [ERR_FORBIDDEN] = {403, "forbidden"},
    [ERR_NOT_FOUND] = {404, "not_found"},
    [ERR_METHOD] = {405, "method_not_allowed"},
    [ERR_TOO_LARGE] = {413, "too_large"},
    [ERR_VALIDATION] = {422, "validation_error"},
    [ERR_BUSY] = {429, "busy"},
    [ERR_INTERNAL] = {500, "internal_error"},
    [ERR_UNAVAILABLE] = {503, "unavailable"},
    [ERR_TIMEOUT] = {504, "timeout"},
};

void
http_error(struct response *resp, enum api_error err, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	json_object_object_add(o, "detail", json_object_new_string(detail));
	json_object_object_add(o, "code", json_object_new_string(errors[err].code));
	http_json(resp, errors[err].status, o);
	if (err == ERR_BUSY)
		resp->retry_after = 1;
}

enum api_error
http_error_from_code(const char *code)
{
	for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
		if (errors[i].code && strcmp(errors[i].code, code) == 0)
			return (enum api_error)i;
	return ERR_INTERNAL;
}

void
http_json_text(struct response *resp, int status, const char *text, size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = "application/json";
	resp->body = xstrndup(text, len);
	resp->body_len = len;
}

void
http_json(struct response *resp, int status, struct json_object *body)
{
	size_t len;
	const char *s = jx_text(body, &len);

	http_json_text(resp, status, s, len);
	json_object_put(body);
}

void
http_text(struct response *resp, int status, const char *ctype, const char *text)
{
	free(resp->body);
	resp->status = status;
	resp->content_type = ctype;
	resp->body = xstrdup(text);
	resp->body_len = strlen(text);
}

struct json_object *
http_body_json(struct request *req, struct response *resp)
{
	struct jx_err e;
	struct json_object *o;

	if (req->body_len == 0) {
		http_error(resp, ERR_INVALID_JSON, "the request needs a JSON object body");
		return NULL;
	}
	/* Requests are flat objects with a few arrays: 64 levels is plenty, and
	 * bounds the parser's work on a hostile body. */
	o = jx_parse(req->body, req->body_len, 64, &e);
	if (o == NULL) {
		http_error(resp, ERR_INVALID_JSON, "%s", e.detail);
		return NULL;
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		http_error(resp, ERR_INVALID_JSON, "the body must be a JSON object");
		return NULL;
	}
	return o;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
http_query_param(const char *query, const char *name, char **out, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p != NULL && *p) {
		const char *end = strchr(p, '&');
		size_t seglen = end ? (size_t)(end - p) : strlen(p);

		if (seglen > nlen && memcmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = seglen - nlen - 1, o = 0;
			char *d = xmalloc(vlen + 1);

			for (size_t i = 0; i < vlen; i++) {
				if (v[i] == '%') {
					int hi, lo;
					if (i + 2 >= vlen)
						goto bad;
					hi = hexval(v[i + 1]);
					lo = hexval(v[i + 2]);
					if (hi < 0 || lo < 0)
						goto bad;
					d[o++] = (char)(hi * 16 + lo);
					i += 2;
				} else if (v[i] == '+') {
					d[o++] = ' ';
				} else {
					d[o++] = v[i];
				}
			}
			d[o] = '\0';
			*out = d;
			*len = o;
			return 1;
		bad:
			free(d);
			return -1;
		} else if (seglen == nlen && memcmp(p, name, nlen) == 0) {
			*out = xstrdup("");
			*len = 0;
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}
