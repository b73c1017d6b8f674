#include "executor/slot.h"

#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/job.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/store.h"
#include "common/util.h"
#include "executor/runner.h"
#include "executor/sandbox.h"

static volatile sig_atomic_t slot_stopping, slot_reopen;

static void
slot_signal(int sig)
{
	if (sig == SIGHUP)
		slot_reopen = 1;
	else
		slot_stopping = 1;
}

/* What a grade job's envelope means for its submission: returns its status
 * ("done" or "error"), the result document to store (malloc'd, in
 * *result), the score and max_points ("" when none). An error envelope (the
 * job failed, or was tried too often) makes an "error" submission that
 * says why. */
static const char *
grade_outcome(const char *env, size_t elen, char **result, char score[40], char maxp[40])
{
	const char *body, *st = "error";
	size_t blen;
	struct json_object *o = NULL, *v;
	struct jx_err e;

	if ((body = job_envelope_body(env, elen, &blen)) != NULL)
		o = jx_parse(body, blen, 64, &e);
	if (o != NULL && json_object_object_get_ex(o, "status", &v) &&
	    json_object_is_type(v, json_type_string)) {
		st = strcmp(json_object_get_string(v), "done") == 0 ? "done" : "error";
		if (json_object_object_get_ex(o, "score", &v) && v != NULL)
			snprintf(score, 40, "%.17g", json_object_get_double(v));
		if (json_object_object_get_ex(o, "max_points", &v) && v != NULL)
			snprintf(maxp, 40, "%.17g", json_object_get_double(v));
		*result = xstrndup(body, blen);
	} else {
		struct json_object *env_o = jx_parse(env, elen, 16, &e), *d = NULL;
		struct json_object *r = json_object_new_object();
		char why[400];
		if (env_o != NULL)
			json_object_object_get_ex(env_o, "detail", &d);
		snprintf(why, sizeof why, "the grader failed: %s",
		         d ? json_object_get_string(d) : "no result");
		json_object_object_add(r, "tests", json_object_new_array());
		json_object_object_add(r, "feedback",
		                       json_object_new_string("The grader could not grade this "
		                                              "submission; your teacher has been "
		                                              "told why."));
		json_object_object_add(r, "error", json_object_new_string(why));
		*result = xstrdup(jx_text(r, &blen));
		json_object_put(r);
		if (env_o)
			json_object_put(env_o);
	}
	if (o)
		json_object_put(o);
	return st;
}

/* Publishes env as job_id's result and drops payload from the processing
 * list, atomically. Returns 1 when written, 0 when a result existed, -1 on
 * store failure. */
static int
publish(const char *proc, const struct job *j, const char *payload, size_t plen, const char *env,
        size_t elen, const char *status)
{
	char res[80], done[80], ttl[32], created[32], sub[80], score[40] = "", maxp[40] = "",
	                                                       graded[32];
	const char *argv[18], *job_id = j->id;
	size_t lens[18];
	char *result = NULL;
	redisReply *r;
	int rc = -1, stop_tries = 0, nkeys = 5, argc = 11;

	snprintf(res, sizeof res, KEY_PREFIX "res:%s", job_id);
	snprintf(done, sizeof done, KEY_PREFIX "done:%s", job_id);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.result_ttl_s);
	argv[0] = res, argv[1] = done, argv[2] = proc, argv[3] = KEY_PREFIX "stats";
	argv[4] = KEY_PREFIX "latency";
	argv[5] = env, argv[6] = ttl, argv[7] = payload, argv[8] = job_kind_name(j->kind);
	argv[9] = status, argv[10] = created;
	snprintf(created, sizeof created, "%lld", (long long)j->created_ms);
	if (j->kind == JOB_GRADE) {
		/* the submission learns its outcome in the same step */
		const char *sub_status = grade_outcome(env, elen, &result, score, maxp);
		snprintf(sub, sizeof sub, KEY_PREFIX "sub:%s", j->submission);
		snprintf(graded, sizeof graded, "%lld", (long long)now_real_ms());
		for (int i = 10; i > 4; i--)
			argv[i + 1] = argv[i];
		argv[5] = sub;
		nkeys = 6;
		argv[12] = job_id, argv[13] = sub_status, argv[14] = score, argv[15] = result;
		argv[16] = graded, argv[17] = maxp;
		argc = 18;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	lens[nkeys] = elen;
	lens[nkeys + 2] = plen;
	/* A result must not be lost to a Redis outage: retry until Redis is
	 * back (this slot has nothing better to do without it), or for 10 s
	 * once the executor is stopping. */
	for (int attempt = 0; rc < 0; attempt++) {
		r = store_script(SCRIPT_JOB_FINISH, nkeys, argc, argv, lens);
		if (r != NULL && r->type == REDIS_REPLY_INTEGER)
			rc = (int)r->integer;
		else if (r != NULL)
			log_warnx("publish: %s",
			          r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		if (r)
			freeReplyObject(r);
		if (rc >= 0)
			break;
		if (slot_stopping && ++stop_tries > 50)
			break;
		if (attempt % 25 == 0)
			log_warnx("cannot publish the result yet; retrying");
		usleep(200000);
	}
	free(result);
	return rc;
}

/* Puts back whatever a previous life of this slot (or a lost pop) left in
 * its list. Returns 0 when the list is empty, -1 when Redis failed. */
static int
recover(const char *proc)
{
	redisReply *r;
	int n = 0, rc;

	while ((r = store_cmd("LMOVE %s " KEY_PREFIX "queue RIGHT RIGHT", proc)) != NULL &&
	       r->type == REDIS_REPLY_STRING) {
		freeReplyObject(r);
		n++;
	}
	rc = r != NULL && r->type == REDIS_REPLY_NIL ? 0 : -1;
	if (r)
		freeReplyObject(r);
	if (n)
		log_info("put %d unfinished jobs back on the queue", n);
	return rc;
}

/* Moves the job in proc (a slot holds one) back to the front of the queue.
 * Returns 0, or -1 when Redis did not do it. */
static int
hand_back(const char *proc)
{
	redisReply *r = store_cmd("LMOVE %s " KEY_PREFIX "queue LEFT RIGHT", proc);
	int rc = r != NULL && r->type == REDIS_REPLY_STRING ? 0 : -1;

	if (r)
		freeReplyObject(r);
	return rc;
}

/* Set by handle(): the job it ran was a /run. */
static int last_run;
/* How long a slot waits after a /run before it builds its next sandbox:
 * bench/ab in blocks, /run `true` p50 -0.31 ms against no wait (6 of 6
 * blocks); /run throughput at 32 clients the same within noise. */
#define RUN_PREPARE_DELAY_US 400

/* Runs the job in payload and publishes its result. Returns 0, or -1 when
 * the job could not run for a store failure and could not be handed back
 * either (it is still in proc: recover it before the next pop). */
static int
handle(const char *proc, int index, const char *payload, size_t plen)
{
	struct job j;
	char err[300], key[100], skey[200], *env;
	size_t elen;
	const char *status = "internal_error";
	redisReply *r, *sess = NULL;
	long long tries = 0;
	int rc = 0;

	if (job_decode(payload, plen, &j, err, sizeof err) < 0) {
		/* Nothing to answer to: drop it so it cannot jam the queue. */
		log_warnx("%s; dropped: %s", err, log_escape(payload, plen, 120));
		r = store_cmd("LREM %s 1 %b", proc, payload, plen);
		if (r)
			freeReplyObject(r);
		return 0;
	}
	log_set_id(j.id);
	last_run = j.kind == JOB_RUN;
	snprintf(key, sizeof key, KEY_PREFIX "tries:%s", j.id);
	/* The session's files come in the same round trip. */
	if (j.session != NULL)
		snprintf(skey, sizeof skey, KEY_PREFIX "sess:%s", j.session);
	tries = store_incr_expire(key, (long long)cfg.result_ttl_s, j.session != NULL ? skey : NULL,
	                          &sess);
	if (tries < 0)
		tries = 0; /* the store failed: the job runs, and fails or is handed back */
	if (tries > cfg.job_max_tries) {
		snprintf(err, sizeof err, "the job was tried %lld times and never finished",
		         tries - 1);
		env = job_envelope_error("internal_error", err, &elen);
		log_warnx("%s", err);
		/* Kept for the operator (evalctl queue): the last 1000. */
		r = store_cmd("LPUSH " KEY_PREFIX "dead %b", payload, plen);
		if (r)
			freeReplyObject(r);
		r = store_cmd("LTRIM " KEY_PREFIX "dead 0 999");
		if (r)
			freeReplyObject(r);
		if (sess)
			freeReplyObject(sess);
	} else {
		int64_t t0 = now_mono_ms();
		env = runner_run(&j, index, sess, &elen, &status);
		log_debug("%s job done: %s in %lld ms", job_kind_name(j.kind), status,
		          (long long)(now_mono_ms() - t0));
	}
	if (strcmp(status, JOB_STATUS_UNAVAILABLE) == 0) {
		/* Not run: back to the front of the queue for another try (the
		 * try count still bounds it). */
		log_warnx("the store failed before the job could run; handing it back");
		rc = hand_back(proc);
	} else if (publish(proc, &j, payload, plen, env, elen, status) < 0) {
		log_warnx("could not publish the result; the job stays in %s for the reaper", proc);
	}
	free(env);
	job_free(&j);
	log_set_id(NULL);
	return rc;
}

void
slot_main(const char *eid, int index)
{
	struct sigaction sa;
	sigset_t none;
	char proc[200], tag[32];
	int lost_reply = 0;

	snprintf(tag, sizeof tag, "slot%d", index);
	log_tag(tag);
	/* A slot whose executor died holds no lease: it must not go on. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		exit(0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = slot_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	store_reset();
	{
		char err[200];
		if (sandbox_netns_init(err, sizeof err) < 0)
			log_warnx("%s; each sandbox makes its own network namespace", err);
	}
	snprintf(proc, sizeof proc, KEY_PREFIX "proc:%s:%d", eid, index);
	recover(proc);

	while (!slot_stopping) {
		redisReply *r;

		if (slot_reopen) {
			slot_reopen = 0;
			log_reopen();
		}
		if (last_run) {
			/* After a /run, the answer's way out (Redis, the API,
			 * nginx) gets the CPU before the next sandbox is built:
			 * building it at once (a fork, namespaces, mounts) kept
			 * nginx waiting behind it on a 2-core machine. */
			usleep(RUN_PREPARE_DELAY_US);
			last_run = 0;
		}
		runner_prepare(index);
		if (store_get() == NULL) {
			sleep(1);
			continue;
		}
		if (lost_reply) {
			/* A BLMOVE whose reply was lost (the connection broke) may
			 * still have moved a job into this slot's list: put it back
			 * before taking another, or it would sit there until this
			 * executor dies. Between jobs the list is empty. */
			lost_reply = recover(proc) < 0;
		}
		store_set_timeout(5000);
		r = store_cmd("BLMOVE " KEY_PREFIX "queue %s RIGHT LEFT 1", proc);
		store_set_timeout(0);
		if (r == NULL) {
			lost_reply = 1;
			usleep(200000);
			continue;
		}
		if (r->type == REDIS_REPLY_STRING && slot_stopping) {
			/* popped while draining (the pop outlived the signal): hand
			 * it back to the front of the queue */
			(void)hand_back(proc);
		} else if (r->type == REDIS_REPLY_STRING) {
			if (handle(proc, index, r->str, r->len) < 0)
				lost_reply = 1; /* the job is still in proc */
		} else if (r->type == REDIS_REPLY_ERROR) {
			usleep(200000); /* e.g. LOADING after a restart */
		}
		freeReplyObject(r);
	}
	runner_discard();
	store_reset();
	exit(0);
}
