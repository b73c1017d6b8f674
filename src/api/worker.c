#include "api/worker.h"

#include <fcgiapp.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/http.h"
#include "api/metrics.h"
#include "api/routes.h"
#include "common/config.h"
#include "common/job.h"
#include "common/log.h"
#include "common/store.h"
#include "common/util.h"

static volatile sig_atomic_t worker_stopping;
static int worker_index;
static volatile sig_atomic_t worker_reopen;

static void
worker_signal(int sig)
{
	if (sig == SIGTERM || sig == SIGINT)
		worker_stopping = 1;
	else if (sig == SIGHUP)
		worker_reopen = 1;
}

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

/* Reads the body into req. Returns 0, or -1 with resp set. */
static int
read_body(FCGX_Request *fr, struct request *req, struct response *resp)
{
	const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	char *end;
	long long n;

	if (cl == NULL || *cl == '\0')
		return 0;
	n = strtoll(cl, &end, 10);
	if (*end != '\0' || n < 0) {
		http_error(resp, ERR_INVALID_JSON, "the Content-Length header is not a number");
		return -1;
	}
	if (n > cfg.max_body_bytes) {
		http_error(resp, ERR_TOO_LARGE, "the body is %lld bytes; the limit is %lld", n,
		           (long long)cfg.max_body_bytes);
		return -1;
	}
	req->body = xmalloc((size_t)n + 1);
	while (req->body_len < (size_t)n) {
		int got = FCGX_GetStr(req->body + req->body_len, (int)((size_t)n - req->body_len),
		                      fr->in);
		if (got <= 0)
			break;
		req->body_len += (size_t)got;
	}
	req->body[req->body_len] = '\0';
	if (req->body_len != (size_t)n) {
		http_error(resp, ERR_INVALID_JSON, "the body ended before Content-Length bytes");
		return -1;
	}
	return 0;
}

static void
serve(FCGX_Request *fr)
{
	struct request req;
	struct response resp;
	const char *uri, *rid;
	char *path_copy = NULL, head[512];
	int hlen;
	int64_t t0 = now_mono_ms();

	memset(&req, 0, sizeof req);
	req.route = routes_count();
	memset(&resp, 0, sizeof resp);
	req.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	uri = FCGX_GetParam("DOCUMENT_URI", fr->envp);
	if (uri == NULL) {
		/* Without nginx's DOCUMENT_URI, cut the query off REQUEST_URI. */
		const char *ru = FCGX_GetParam("REQUEST_URI", fr->envp);
		if (ru != NULL) {
			path_copy = xstrndup(ru, strcspn(ru, "?"));
			uri = path_copy;
		}
	}
	req.path = uri ? uri : "/";
	req.query = FCGX_GetParam("QUERY_STRING", fr->envp);
	req.remote_addr = FCGX_GetParam("REMOTE_ADDR", fr->envp);
	req.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", fr->envp);
	rid = FCGX_GetParam("HTTP_X_REQUEST_ID", fr->envp);
	if (rid != NULL && *rid != '\0' && strlen(rid) < sizeof req.id &&
	    strspn(rid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
	        strlen(rid))
		snprintf(req.id, sizeof req.id, "%s", rid);
	else
		job_new_id(req.id);
	log_set_id(req.id);
	if (req.method == NULL)
		req.method = "GET";

	if (read_body(fr, &req, &resp) == 0)
		routes_dispatch(&req, &resp);
	if (resp.body == NULL)
		http_error(&resp, ERR_INTERNAL, "the handler produced no response");

	/* libfcgi's own printf knows no %zu: format here. */
	hlen = snprintf(head, sizeof head,
	                "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                "Cache-Control: no-store\r\nX-Request-Id: %s\r\n",
	                resp.status, status_text(resp.status), resp.content_type, resp.body_len,
	                req.id);
	if (resp.retry_after)
		hlen += snprintf(head + hlen, sizeof head - (size_t)hlen, "Retry-After: %d\r\n",
		                 resp.retry_after);
	hlen += snprintf(head + hlen, sizeof head - (size_t)hlen, "\r\n");
	FCGX_PutStr(head, hlen, fr->out);
	if (strcmp(req.method, "HEAD") != 0 && resp.body_len)
		FCGX_PutStr(resp.body, (int)resp.body_len, fr->out);
	metrics_count(worker_index, req.route, resp.status, (double)(now_mono_ms() - t0));
	if (log_level_enabled(LOG_LVL_DEBUG))
		log_debug("%s %s -> %d in %lld ms", req.method,
		          log_escape(req.path, strlen(req.path), 200), resp.status,
		          (long long)(now_mono_ms() - t0));
	else if (resp.status >= 500)
		log_warnx("%s %s -> %d", req.method, log_escape(req.path, strlen(req.path), 200),
		          resp.status);
	log_set_id(NULL);
	free(resp.body);
	free(req.body);
	free(path_copy);
	/* A large request leaves the heap large: give it back, so a worker
	 * stays small between requests. */
	if (req.body_len > 65536 || resp.body_len > 65536)
		malloc_trim(0);
}

void
worker_main(int listen_fd, int index)
{
	FCGX_Request fr;
	struct sigaction sa;
	sigset_t none;
	char tag[32];

	worker_index = index;
	snprintf(tag, sizeof tag, "worker%d", index);
	log_tag(tag);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = worker_signal; /* no SA_RESTART: accept must see EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	store_reset(); /* never share the supervisor's connection */
	FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR);
	while (!worker_stopping) {
		if (worker_reopen) {
			worker_reopen = 0;
			log_reopen();
		}
		if (FCGX_Accept_r(&fr) < 0) {
			if (worker_stopping)
				break;
			continue;
		}
		serve(&fr);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	store_reset();
	exit(0);
}
