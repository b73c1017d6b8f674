#include "executor/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/path.h"
#include "common/store.h"
#include "common/util.h"
#include "executor/cgroup.h"
#include "executor/grade.h"
#include "executor/sandbox.h"

static char *harness, *zygote, *zygote_mod, *grader;
static size_t harness_len, zygote_len, zygote_mod_len, grader_len;
static int harness_is_source;
/* This slot's zygote sandbox for /evaluate_code (when sandbox_zygote). */
static struct sandbox *zyg;

/* This slot's sandboxes built ahead of their jobs: one with the harness
 * already started for /evaluate_code, one bare for /run. Each serves one job
 * and is replaced after it. */
static struct sandbox *ready_eval, *ready_run;
/* The grading harness (pytest loaded) is built ahead only once this slot
 * has graded something: a REPL-only deployment never pays for it. */
static struct sandbox *ready_grade, *zyg_grade;
static int grades_seen;

/* Compiles the harness once with the sandbox's interpreter, so no job
 * pays for it: a .pyc runs directly. Returns 0 with the bytes in *out. */
static int
harness_compile(const char *path, char **out, size_t *len)
{
	static const char prog[] =
	    "import sys, marshal, importlib.util as u\n"
	    "src = open(sys.argv[1], 'rb').read()\n"
	    "code = compile(src, '/run/evald/' + sys.argv[1].rsplit('/', 1)[-1], 'exec', "
	    "dont_inherit=True)\n"
	    "sys.stdout.buffer.write(u.MAGIC_NUMBER + bytes(12) + marshal.dumps(code))\n";
	char *cmd;
	struct buf b;
	char tmp[65536];
	size_t n;
	FILE *f;
	int rc;

	if (strchr(cfg.python, '\'') || strchr(path, '\''))
		return -1;
	cmd = xasprintf("'%s' -I -S - '%s' 2>/dev/null <<'EOF'\n%sEOF\n", cfg.python, path, prog);
	f = popen(cmd, "re");
	free(cmd);
	if (f == NULL)
		return -1;
	buf_init(&b);
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		buf_append(&b, tmp, n);
	rc = pclose(f);
	if (rc != 0 || b.len < 17) {
		buf_free(&b);
		return -1;
	}
	*out = buf_steal(&b, len);
	return 0;
}

void
runner_init(void)
{
	char *path = xasprintf("%s/zygote.py", cfg.harness_dir);

	if (cfg.sandbox_zygote && harness_compile(path, &zygote, &zygote_len) < 0)
		fatalx("cannot compile the zygote %s with %s (set sandbox_zygote = no to run "
		       "without it)",
		       path, cfg.python);
	free(path);
	path = xasprintf("%s/_zygote.so", cfg.harness_dir);
	if (cfg.sandbox_zygote && read_file(path, 16 << 20, &zygote_mod, &zygote_mod_len) < 0)
		fatal("cannot read the zygote's module %s (set sandbox_zygote = no to run without "
		      "it)",
		      path);
	free(path);
	path = xasprintf("%s/evaluate.py", cfg.harness_dir);

	if (access(path, R_OK) < 0)
		fatal("cannot read the evaluation harness %s", path);
	if (harness_compile(path, &harness, &harness_len) < 0) {
		/* The source runs too, only slower. */
		log_warnx("could not precompile %s with %s; running it from source", path,
		          cfg.python);
		if (read_file(path, 16 << 20, &harness, &harness_len) < 0)
			fatal("cannot read the evaluation harness %s", path);
		harness_is_source = 1;
	}
	free(path);
	path = xasprintf("%s/grade.py", cfg.harness_dir);
	if (harness_compile(path, &grader, &grader_len) < 0)
		fatalx("cannot compile the grading harness %s with %s", path, cfg.python);
	free(path);
}

/* A session's entries, from got (its HGETALL reply, read with the job's try
 * count; freed here) or, when got is NULL, read now. Returns 0 (a missing
 * session is empty), or -1 when Redis fails. */
static int
session_fetch(const char *id, redisReply *got, struct sb_file **out, size_t *n)
{
	redisReply *r = got != NULL ? got : store_cmd("HGETALL " KEY_PREFIX "sess:%s", id);
	struct sb_file *f;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return -1;
	}
	f = xcalloc(r->elements / 2 + 1, sizeof *f);
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		redisReply *k = r->element[i], *v = r->element[i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || v->len < 1)
			continue;
		if (path_rel_check(k->str, k->len) != NULL)
			continue; /* the counters, or something no route wrote */
		f[count].type = v->str[0];
		f[count].path = xstrndup(k->str, k->len);
		f[count].path_len = k->len;
		f[count].data = xstrndup(v->str + 1, v->len - 1);
		f[count].len = v->len - 1;
		count++;
	}
	freeReplyObject(r);
	*out = f;
	*n = count;
	return 0;
}

static int
file_cmp(const void *a, const void *b)
{
	const struct sb_file *x = a, *y = b;
	return strcmp(x->path, y->path);
}

/* Writes what the run changed back to the session: entries gone, entries
 * new or different. Returns 0, 1 when over the session's limits (nothing
 * saved), -1 when Redis fails. */
static int
session_save_back(const char *id, struct sb_file *before, size_t nb, struct sb_file *after,
                  size_t na)
{
	const char **argv;
	size_t *lens, argc = 0, i = 0, k = 0, ndel = 0;
	char key[200], ttl[32], maxb[32], maxf[32], nd[32];
	char **vals;
	size_t nvals = 0;
	redisReply *r;
	int rc = -1;

	qsort(before, nb, sizeof *before, file_cmp);
	qsort(after, na, sizeof *after, file_cmp);
	argv = xcalloc(nb + 2 * na + 8, sizeof *argv);
	lens = xcalloc(nb + 2 * na + 8, sizeof *lens);
	vals = xcalloc(na + 1, sizeof *vals);
	snprintf(key, sizeof key, KEY_PREFIX "sess:%s", id);
	snprintf(ttl, sizeof ttl, "%lld", (long long)cfg.session_ttl_s);
	snprintf(maxb, sizeof maxb, "%lld", (long long)cfg.session_max_bytes);
	snprintf(maxf, sizeof maxf, "%lld", (long long)cfg.session_max_files);
	argv[argc++] = key;
	argv[argc++] = ttl;
	argv[argc++] = maxb;
	argv[argc++] = maxf;
	argc++; /* ndel, filled below */
	/* deletions: in before, not in after */
	for (i = 0, k = 0; i < nb; i++) {
		while (k < na && strcmp(after[k].path, before[i].path) < 0)
			k++;
		if (k < na && strcmp(after[k].path, before[i].path) == 0)
			continue;
		lens[argc] = before[i].path_len;
		argv[argc++] = before[i].path;
		ndel++;
	}
	/* sets: in after, new or changed */
	for (i = 0, k = 0; i < na; i++) {
		while (k < nb && strcmp(before[k].path, after[i].path) < 0)
			k++;
		if (k < nb && strcmp(before[k].path, after[i].path) == 0 &&
		    before[k].type == after[i].type && before[k].len == after[i].len &&
		    memcmp(before[k].data, after[i].data, after[i].len) == 0)
			continue;
		vals[nvals] = xmalloc(after[i].len + 1);
		vals[nvals][0] = after[i].type;
		memcpy(vals[nvals] + 1, after[i].data, after[i].len);
		lens[argc] = after[i].path_len;
		argv[argc++] = after[i].path;
		lens[argc] = after[i].len + 1;
		argv[argc++] = vals[nvals++];
	}
	if (argc == 5) {
		rc = 0; /* nothing changed */
		goto out;
	}
	snprintf(nd, sizeof nd, "%zu", ndel);
	argv[4] = nd;
	for (i = 0; i < 5; i++)
		lens[i] = strlen(argv[i]);
	r = store_script(SCRIPT_SESS_SAVEBACK, 1, (int)argc, argv, lens);
	if (r != NULL) {
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "too_large", 9) == 0)
			rc = 1;
		else if (r->type == REDIS_REPLY_INTEGER)
			rc = 0;
		else
			log_warnx("save-back: %s",
			          r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
		freeReplyObject(r);
	}
out:
	for (i = 0; i < nvals; i++)
		free(vals[i]);
	free(vals);
	free(argv);
	free(lens);
	return rc;
}

/* Output may be any bytes; JSON needs UTF-8. Invalid sequences become
 * U+FFFD. */
static struct json_object *
text_value(const char *s, size_t len)
{
	struct buf b;
	struct json_object *o;

	if (utf8_valid(s, len))
		return json_object_new_string_len(s, (int)len);
	buf_init(&b);
	for (size_t i = 0; i < len;) {
		size_t n = 1;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0xc0 && c < 0xe0)
			n = 2;
		else if (c >= 0xe0 && c < 0xf0)
			n = 3;
		else if (c >= 0xf0)
			n = 4;
		if (i + n <= len && (c < 0x80 || (c >= 0xc0 && utf8_valid(s + i, n)))) {
			buf_append(&b, s + i, n);
			i += n;
		} else {
			buf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	o = json_object_new_string_len(b.data ? b.data : "", (int)b.len);
	buf_free(&b);
	return o;
}

static void
spec_defaults(struct sandbox_spec *s, int slot)
{
	memset(s, 0, sizeof *s);
	s->slot = slot;
	s->as_bytes = cfg.sandbox_memory_mb << 20;
	/* With a cgroup the kernel's accounting of real memory decides
	 * memory_limit; the address-space limit only stops the absurd. */
	if (cgroup_active())
		s->as_bytes *= 4;
	s->nproc = cfg.sandbox_procs;
	s->fsize_bytes = cfg.sandbox_fsize_mb << 20;
	s->nofile = cfg.sandbox_files;
	s->stack_bytes = cfg.sandbox_stack_mb << 20;
	s->tmpfs_bytes = cfg.sandbox_tmpfs_mb << 20;
	s->output_max = cfg.output_max_bytes;
	s->save_max_bytes = cfg.session_max_bytes;
	s->save_max_files = cfg.session_max_files;
}

/* A /run job's sandbox: /bin/sh -c CMD, the shell started before its job. */
static void
run_spec(struct sandbox_spec *s, int slot)
{
	spec_defaults(s, slot);
	s->shell_ahead = 1;
}

static void
eval_spec(struct sandbox_spec *s, int slot)
{
	static const char *argv[5];

	argv[0] = cfg.python;
	argv[1] = "-I";
	argv[2] = "-S";
	argv[3] = harness_is_source ? "/run/evald/evaluate.py" : "/run/evald/evaluate.pyc";
	argv[4] = NULL;
	spec_defaults(s, slot);
	s->warm = 1;
	s->argv = argv;
	s->extra_name = harness_is_source ? "evaluate.py" : "evaluate.pyc";
	s->extra_data = harness;
	s->extra_len = harness_len;
	s->result_fd = 1;
	/* The harness's own limits; each case sets its tighter ones. */
	s->as_bytes = (cfg.sandbox_memory_mb + 256) << 20;
	if (cgroup_active())
		s->as_bytes *= 4;
	s->cpu_s = cfg.case_timeout_max_s * cfg.max_cases + 60;
}

static void
grade_spec(struct sandbox_spec *s, int slot)
{
	static const char *argv[] = {NULL, "-I", "-S", "/run/evald/grade.pyc", NULL};

	argv[0] = cfg.python;
	spec_defaults(s, slot);
	s->warm = 1;
	s->argv = argv;
	s->extra_name = "grade.pyc";
	s->extra_data = grader;
	s->extra_len = grader_len;
	s->result_fd = 1;
	/* the harness and one test process at a time; each test process sets
	 * the assignment's own, tighter limits */
	s->as_bytes = (cfg.sandbox_memory_mb + 512) << 20;
	if (cgroup_active())
		s->as_bytes *= 4;
	s->cpu_s = cfg.grade_timeout_max_s + 60;
	s->output_max = 0;
}

/* Turns a harness spec into the spec of a zygote that serves it. */
static void
zygote_spec(struct sandbox_spec *s)
{
	s->warm = 0;
	s->zygote = 1;
	s->zygote_data = zygote;
	s->zygote_len = zygote_len;
	s->zygote_mod_data = zygote_mod;
	s->zygote_mod_len = zygote_mod_len;
	s->result_fd = 0;
}

void
runner_prepare(int slot)
{
	struct sandbox_spec s;
	char err[256];

	sandbox_reap(0);
	if (cfg.sandbox_zygote && zyg == NULL) {
		eval_spec(&s, slot);
		zygote_spec(&s);
		if ((zyg = sandbox_prepare(&s, err, sizeof err)) == NULL)
			log_warnx("zygote sandbox: %s", err);
	}
	if (ready_eval == NULL && (!cfg.sandbox_zygote || zyg == NULL)) {
		eval_spec(&s, slot);
		if ((ready_eval = sandbox_prepare(&s, err, sizeof err)) == NULL)
			log_warnx("sandbox: %s", err);
	}
	if (ready_run == NULL) {
		run_spec(&s, slot);
		if ((ready_run = sandbox_prepare(&s, err, sizeof err)) == NULL)
			log_warnx("sandbox: %s", err);
	}
	if (grades_seen && cfg.sandbox_zygote && zyg_grade == NULL) {
		/* a warm Python with pytest loaded, forking one sandbox per
		 * submission, as the evaluation zygote does */
		grade_spec(&s, slot);
		zygote_spec(&s);
		if ((zyg_grade = sandbox_prepare(&s, err, sizeof err)) == NULL)
			log_warnx("grading zygote sandbox: %s", err);
	}
	if (ready_grade == NULL && grades_seen && zyg_grade == NULL) {
		grade_spec(&s, slot);
		if ((ready_grade = sandbox_prepare(&s, err, sizeof err)) == NULL)
			log_warnx("sandbox: %s", err);
	}
}

void
runner_discard(void)
{
	sandbox_discard(ready_eval);
	sandbox_discard(ready_run);
	sandbox_discard(ready_grade);
	sandbox_discard(zyg);
	sandbox_discard(zyg_grade);
	ready_eval = ready_run = ready_grade = zyg = zyg_grade = NULL;
	sandbox_reap(1);
}

/* Takes the prepared sandbox, or builds one now. */
static int
run_in(struct sandbox **ready, const struct sandbox_spec *spec, struct sandbox_result *res)
{
	struct sandbox *sb = *ready;

	*ready = NULL;
	if (sb == NULL && (sb = sandbox_prepare(spec, res->error, sizeof res->error)) == NULL) {
		char why[256];
		snprintf(why, sizeof why, "%s", res->error);
		memset(res, 0, sizeof *res);
		snprintf(res->error, sizeof res->error, "%s", why);
		res->status = SB_INTERNAL_ERROR;
		return -1;
	}
	return sandbox_exec(sb, spec, res);
}

/* Runs spec in the zygote *zy when there is one; when the zygote (or the
 * job process it made) fails, the job runs in a one-shot sandbox (*ready, or
 * one built now) and the next job gets a new zygote. Returns as run_in. */
static int
run_warm(struct sandbox **zy, struct sandbox **ready, const struct sandbox_spec *spec,
         struct sandbox_result *res)
{
	if (*zy != NULL) {
		if (sandbox_zygote_exec(*zy, spec, res) == 0)
			return 0;
		log_warnx("zygote sandbox: %s; replacing it", res->error);
		sandbox_discard(*zy);
		*zy = NULL;
		sandbox_result_free(res);
	}
	return run_in(ready, spec, res);
}

static char *
run_job(const struct job *j, int slot, redisReply *sess, size_t *len, const char **status)
{
	const char *argv[] = {"/bin/sh", "-c", j->cmd, NULL};
	struct sandbox_spec spec;
	struct sandbox_result res;
	struct sb_file *files = NULL;
	size_t nfiles = 0;
	struct json_object *o;
	char *env;
	int saved = 0;

	if (session_fetch(j->session, sess, &files, &nfiles) < 0) {
		*status = JOB_STATUS_UNAVAILABLE;
		return job_envelope_error("unavailable",
		                          "the store failed while reading the session", len);
	}
	run_spec(&spec, slot);
	spec.argv = argv;
	spec.stdin_data = j->stdin_data;
	spec.stdin_len = j->stdin_len;
	spec.files = files;
	spec.nfiles = nfiles;
	spec.save_back = 1;
	spec.wall_ms = (int64_t)(j->timeout_s * 1000);
	spec.cpu_s = (int64_t)ceil(j->timeout_s) + 1;
	if (run_in(&ready_run, &spec, &res) < 0) {
		log_warnx("sandbox: %s", res.error);
		sandbox_result_free(&res);
		sb_files_free(files, nfiles);
		*status = "internal_error";
		return job_envelope_error("internal_error", "the sandbox could not run the job",
		                          len);
	}
	if (!res.save_overflow)
		saved = session_save_back(j->session, files, nfiles, res.files, res.nfiles);
	o = json_object_new_object();
	json_object_object_add(o, "stdout",
	                       text_value(res.out.data ? res.out.data : "", res.out.len));
	json_object_object_add(o, "stderr",
	                       text_value(res.err.data ? res.err.data : "", res.err.len));
	json_object_object_add(o, "exit_code", json_object_new_int(res.exit_code));
	json_object_object_add(o, "status",
	                       json_object_new_string(sandbox_status_name(res.status)));
	json_object_object_add(o, "time_ms", json_object_new_int64(res.time_ms));
	json_object_object_add(o, "cpu_ms", json_object_new_int64(res.cpu_ms));
	json_object_object_add(o, "memory_kb", json_object_new_int64(res.memory_kb));
	json_object_object_add(o, "truncated", json_object_new_boolean(res.truncated));
	json_object_object_add(o, "limits",
	                       json_object_new_string(res.cgroup ? "cgroup" : "rlimit"));
	if (res.save_overflow || saved == 1)
		json_object_object_add(
		    o, "save_error",
		    json_object_new_string("the files were not saved: the work directory is over "
		                           "the session's size or file limit"));
	else if (saved < 0)
		json_object_object_add(
		    o, "save_error",
		    json_object_new_string("the files were not saved: the store failed"));
	*status = sandbox_status_name(res.status);
	env = job_envelope_ok(o, len);
	sandbox_result_free(&res);
	sb_files_free(files, nfiles);
	return env;
}

/* Whatever went wrong, the evaluate answer keeps its shape: every case
 * failed, error saying why. */
static struct json_object *
eval_all_failed(const struct job *j, const char *why)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	size_t n = json_object_array_length(j->io_cases);

	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(j->io_cases, i), *cr, *in = NULL;
		cr = json_object_new_object();
		json_object_object_add(cr, "case", json_object_new_int64((int64_t)i));
		json_object_object_get_ex(c, "input", &in);
		json_object_object_add(cr, "input", json_object_get(in));
		json_object_object_add(cr, "passed", json_object_new_boolean(0));
		json_object_object_add(cr, "got", NULL);
		json_object_object_add(cr, "expected", NULL);
		json_object_object_add(cr, "error", json_object_new_string(why));
		json_object_array_add(arr, cr);
	}
	json_object_object_add(o, "passed", json_object_new_boolean(0));
	json_object_object_add(o, "case_results", arr);
	json_object_object_add(o, "error", json_object_new_string(why));
	return o;
}

static char *
evaluate_job(const struct job *j, int slot, redisReply *sess, size_t *len, const char **status)
{
	struct sandbox_spec spec;
	struct sandbox_result res;
	struct sb_file *files = NULL;
	size_t nfiles = 0, ncases = json_object_array_length(j->io_cases), rlen;
	struct json_object *req, *body = NULL, *v;
	struct jx_err e;
	const char *reqtext;
	char why[300];
	int raw_ok = 0;

	if (j->session != NULL && session_fetch(j->session, sess, &files, &nfiles) < 0) {
		*status = JOB_STATUS_UNAVAILABLE;
		return job_envelope_error("unavailable",
		                          "the store failed while reading the session", len);
	}
	req = json_object_new_object();
	jx_add_strlen(req, "code", j->code, j->code_len);
	json_object_object_add(req, "entry_point", json_object_new_string(j->entry_point));
	json_object_object_add(req, "io_cases", json_object_get(j->io_cases));
	json_object_object_add(req, "case_timeout_s", json_object_new_double(j->case_timeout_s));
	json_object_object_add(req, "case_memory_mb", json_object_new_int64(j->case_memory_mb));
	reqtext = jx_text(req, &rlen);

	eval_spec(&spec, slot);
	spec.stdin_data = reqtext;
	spec.stdin_len = rlen;
	spec.files = files;
	spec.nfiles = nfiles;
	spec.wall_ms = (int64_t)(((double)ncases * (j->case_timeout_s + 0.5) + 5) * 1000);
	if (spec.wall_ms > cfg.run_timeout_max_s * 1000)
		spec.wall_ms = cfg.run_timeout_max_s * 1000;
	/* What the code prints is not part of the result: drop it all. */
	spec.output_max = 0;
	/* The harness's answer is the result: publish it without waiting for
	 * the job's processes to be torn down. */
	spec.answer_early = 1;
	if (run_warm(&zyg, &ready_eval, &spec, &res) < 0) {
		log_warnx("sandbox: %s", res.error);
		body = eval_all_failed(j, "InternalError: the sandbox could not run the code");
		*status = "internal_error";
		goto out;
	}
	*status = sandbox_status_name(res.status);
	log_debug("evaluation: %s, %lld ms wall, %lld ms cpu, %lld KiB", *status,
	          (long long)res.time_ms, (long long)res.cpu_ms, (long long)res.memory_kb);
	if (res.res.len > 0)
		body = jx_parse(res.res.data, res.res.len, 512, &e);
	if (body == NULL || !json_object_is_type(body, json_type_object) ||
	    !json_object_object_get_ex(body, "passed", &v) ||
	    !json_object_object_get_ex(body, "case_results", &v) ||
	    !json_object_is_type(v, json_type_array)) {
		if (body)
			json_object_put(body);
		if (res.status == SB_TIMEOUT)
			snprintf(why, sizeof why,
			         "Timeout: the evaluation exceeded its time limit");
		else
			snprintf(
			    why, sizeof why,
			    "EvaluationError: the evaluation ended without a result (%s, exit %d)",
			    sandbox_status_name(res.status), res.exit_code);
		body = eval_all_failed(j, why);
	} else {
		raw_ok = 1;
		while (res.res.len > 0 && strchr(" \t\r\n", res.res.data[res.res.len - 1]))
			res.res.len--;
	}
out:
	json_object_put(req);
	if (raw_ok) {
		/* The harness's own text, so exact numbers stay exact. */
		char *env = job_envelope_ok_raw(res.res.data, res.res.len, len);
		json_object_put(body);
		sandbox_result_free(&res);
		sb_files_free(files, nfiles);
		return env;
	}
	sandbox_result_free(&res);
	sb_files_free(files, nfiles);
	return job_envelope_ok(body, len);
}

char *
runner_evaluate(const struct job *j, int slot, size_t *blen)
{
	size_t len;
	const char *status, *b;
	char *env = evaluate_job(j, slot, NULL, &len, &status), *out = NULL;

	if ((b = job_envelope_body(env, len, blen)) != NULL)
		out = xstrndup(b, *blen);
	free(env);
	return out;
}

int
runner_grade(const char *request, size_t len, int64_t wall_ms, int slot, struct sandbox_result *res)
{
	struct sandbox_spec spec;

	grades_seen = 1;
	grade_spec(&spec, slot);
	spec.stdin_data = request;
	spec.stdin_len = len;
	spec.wall_ms = wall_ms;
	return run_warm(&zyg_grade, &ready_grade, &spec, res);
}

int
runner_probe(char *err, size_t errlen)
{
	static const char req[] = "[{\"input\": \"a=2, b=3\", \"output\": \"5\"}]";
	struct jx_err e;
	struct job j;
	char *env;
	size_t len;
	const char *status;
	int ok;

	memset(&j, 0, sizeof j);
	memcpy(j.id, "00000000-0000-0000-0000-000000000000", JOB_ID_LEN + 1);
	j.kind = JOB_EVALUATE;
	j.session = NULL; /* no session: the probe needs no Redis */
	j.code = "def add(a, b):\n    return a + b\n";
	j.code_len = strlen(j.code);
	j.entry_point = "add";
	j.language = "python";
	j.io_cases = jx_parse(req, sizeof req - 1, 8, &e);
	j.case_timeout_s = 10;
	j.case_memory_mb = 256;
	runner_prepare(0);
	env = evaluate_job(&j, 0, NULL, &len, &status);
	ok = strstr(env, "\"passed\":true") != NULL;
	if (!ok)
		snprintf(err, errlen, "a probe evaluation did not pass: %.200s", env);
	free(env);
	json_object_put(j.io_cases);
	runner_discard();
	return ok ? 0 : -1;
}

char *
runner_run(const struct job *j, int slot, redisReply *sess, size_t *len, const char **status)
{
	char err[256];

	/* The last evaluation may have been answered before its processes
	 * ended: they end before this job starts, whatever sandbox it gets. */
	if (zyg != NULL && sandbox_settle(zyg, err, sizeof err) < 0) {
		log_warnx("zygote sandbox: %s; replacing it", err);
		sandbox_discard(zyg);
		zyg = NULL;
	}
	if (j->kind == JOB_RUN)
		return run_job(j, slot, sess, len, status);
	if (j->kind == JOB_GRADE) {
		if (sess != NULL)
			freeReplyObject(sess); /* a grading job reads no session */
		return grade_job(j, slot, len, status);
	}
	return evaluate_job(j, slot, sess, len, status);
}
