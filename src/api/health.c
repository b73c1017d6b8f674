/* Operations routes: /healthz for load balancers and /metrics for
 * Prometheus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics.h"
#include "api/routes.h"
#include "common/store.h"
#include "common/util.h"

/* Reads executors alive and queue depth in one round trip. Returns 0 or -1. */
static int
health_read(long long *alive, long long *depth)
{
	redisContext *c = store_get();
	redisReply *r;
	long long now = (long long)now_real_ms();

	if (c == NULL)
		return -1;
	redisAppendCommand(c, "ZCOUNT " KEY_PREFIX "alive %lld +inf", now);
	redisAppendCommand(c, "LLEN " KEY_PREFIX "queue");
	for (int i = 0; i < 2; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL) {
			store_reset();
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			/* LOADING after a restart, or any refusal */
			freeReplyObject(r);
			while (++i < 2 && redisGetReply(c, (void **)&r) == REDIS_OK && r != NULL)
				freeReplyObject(r);
			return -1;
		}
		if (r->type == REDIS_REPLY_INTEGER)
			*(i == 0 ? alive : depth) = r->integer;
		freeReplyObject(r);
	}
	return 0;
}

void
health_healthz(struct request *req, struct response *resp)
{
	struct json_object *o = json_object_new_object();
	long long alive = 0, depth = 0;

	if (health_read(&alive, &depth) < 0) {
		json_object_object_add(o, "status", json_object_new_string("down"));
		json_object_object_add(o, "redis", json_object_new_string("unreachable"));
		json_object_object_add(o, "detail", json_object_new_string("Redis is unreachable"));
		json_object_object_add(o, "code", json_object_new_string("unavailable"));
		http_json(resp, 503, o);
		return;
	}
	json_object_object_add(o, "status", json_object_new_string(alive > 0 ? "ok" : "degraded"));
	json_object_object_add(o, "redis", json_object_new_string("ok"));
	json_object_object_add(o, "executors", json_object_new_int64(alive));
	json_object_object_add(o, "queue_depth", json_object_new_int64(depth));
	http_json(resp, 200, o);
}

void
health_metrics(struct request *req, struct response *resp)
{
	struct buf b;
	long long alive = 0, depth = 0;
	redisReply *r;
	char *text;

	if (health_read(&alive, &depth) < 0) {
		http_error(resp, ERR_UNAVAILABLE, "Redis is unreachable");
		return;
	}
	buf_init(&b);
	buf_printf(&b,
	           "# HELP evald_queue_depth Jobs waiting in the queue.\n"
	           "# TYPE evald_queue_depth gauge\nevald_queue_depth %lld\n",
	           depth);
	buf_printf(&b,
	           "# HELP evald_executors_alive Executors with a live lease.\n"
	           "# TYPE evald_executors_alive gauge\nevald_executors_alive %lld\n",
	           alive);
	r = store_cmd("HGETALL " KEY_PREFIX "stats");
	buf_puts(&b, "# HELP evald_jobs_total Jobs finished, by kind and status.\n"
	             "# TYPE evald_jobs_total counter\n");
	if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i + 1 < r->elements; i += 2) {
			char kind[32], status[32];
			if (sscanf(r->element[i]->str, "jobs:%31[a-z_]:%31[a-z_]", kind, status) ==
			    2)
				buf_printf(&b, "evald_jobs_total{kind=\"%s\",status=\"%s\"} %s\n",
				           kind, status, r->element[i + 1]->str);
		}
	}
	if (r)
		freeReplyObject(r);
	r = store_cmd("HGETALL " KEY_PREFIX "latency");
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
		/* buckets are stored per bucket; Prometheus wants them cumulative */
		static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
		                                  "0.25",  "0.5",  "1",     "2.5",  "5",
		                                  "10",    "30",   "60",    "+Inf"};
		long long cum = 0, count = 0;
		double sum = 0;
		buf_puts(&b, "# HELP evald_job_latency_seconds Time from queueing to result.\n"
		             "# TYPE evald_job_latency_seconds histogram\n");
		for (size_t i = 0; i < sizeof les / sizeof les[0]; i++) {
			for (size_t k = 0; k + 1 < r->elements; k += 2)
				if (strcmp(r->element[k]->str, les[i]) == 0)
					cum += atoll(r->element[k + 1]->str);
			buf_printf(&b, "evald_job_latency_seconds_bucket{le=\"%s\"} %lld\n", les[i],
			           cum);
		}
		for (size_t k = 0; k + 1 < r->elements; k += 2) {
			if (strcmp(r->element[k]->str, "sum_ms") == 0)
				sum = atof(r->element[k + 1]->str) / 1000.0;
		}
		count = cum;
		buf_printf(
		    &b,
		    "evald_job_latency_seconds_sum %.3f\nevald_job_latency_seconds_count %lld\n",
		    sum, count);
	}
	if (r)
		freeReplyObject(r);
	metrics_render(&b, routes_name);
	text = buf_steal(&b, NULL);
	http_text(resp, 200, "text/plain; version=0.0.4", text);
	free(text);
}
