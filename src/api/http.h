/* One API request and its response, as the FastCGI worker sees them, and
 * the one place where evald's errors become HTTP statuses and
 * {detail, code} bodies. */
#ifndef EVALD_HTTP_H
#define EVALD_HTTP_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/token.h"

#define ROUTE_PARAMS_MAX 2

struct request {
	const char *method;
	const char *path;
	const char *query;
	const char *remote_addr;
	const char *authorization; /* NULL when absent; never logged */
	char *body;
	size_t body_len;
	const char *params[ROUTE_PARAMS_MAX]; /* {name} segments of the route */
	size_t param_len[ROUTE_PARAMS_MAX];
	struct principal who; /* role "" when anonymous */
	char id[40];          /* request id, for logs */
	int route;            /* index in the route table; routes_count() if none */
};

struct response {
	int status;
	const char *content_type;
	char *body; /* malloc'd */
	size_t body_len;
	int retry_after; /* seconds, 0 for none */
};

/* Every error evald answers. Each maps to one status and one code. */
enum api_error {
	ERR_INVALID_JSON,    /* 400: the body is not JSON, or not an object */
	ERR_INVALID_PATH,    /* 400: a rel_path breaks the rules */
	ERR_INVALID_SESSION, /* 400: a session id breaks the rules */
	ERR_NO_SESSION,      /* 400: /run on a session that does not exist */
	ERR_NOT_UTF8,        /* 400: reading a binary file without base64 */
	ERR_IS_SYMLINK,      /* 400: a file route named a symbolic link */
	ERR_IS_DIRECTORY,    /* 400: a file route named a directory */
	ERR_UNAUTHORIZED,    /* 401: token missing or unknown */
	ERR_FORBIDDEN,       /* 403: the token's role may not do this */
	ERR_NOT_FOUND,       /* 404: unknown route, session, file or job */
	ERR_METHOD,          /* 405: known route, wrong method */
	ERR_TOO_LARGE,       /* 413: a configured size limit */
	ERR_VALIDATION,      /* 422: a field missing or of the wrong type */
	ERR_BUSY,            /* 429: the queue is full */
	ERR_INTERNAL,        /* 500: evald itself failed */
	ERR_UNAVAILABLE,     /* 503: Redis unreachable or no executor */
	ERR_TIMEOUT,         /* 504: no executor answered in time */
};

/* Sets resp to the error's status and a {detail, code} body. */
void http_error(struct response *resp, enum api_error err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps an error code string (from a job result envelope) back to the
 * error; unknown codes are ERR_INTERNAL. */
enum api_error http_error_from_code(const char *code);
/* Sets a JSON response; steals body's reference. */
void http_json(struct response *resp, int status, struct json_object *body);
/* Sets a JSON response from text already serialised (copied). */
void http_json_text(struct response *resp, int status, const char *text, size_t len);
void http_text(struct response *resp, int status, const char *ctype, const char *text);

/* Parses the body as a JSON object. On failure sets resp (400 or 413) and
 * returns NULL. The caller puts the object. */
struct json_object *http_body_json(struct request *req, struct response *resp);
/* Finds a query parameter, percent-decoded into a malloc'd string. Returns
 * 1 when present, 0 when absent, -1 when malformed. */
int http_query_param(const char *query, const char *name, char **out, size_t *len);

#endif
