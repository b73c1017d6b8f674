#include "common/assignment.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/jsonx.h"
#include "common/log.h"
#include "common/path.h"
#include "common/store.h"
#include "common/util.h"

#define TESTS_MAX 1000
#define NAME_MAX_LEN 200

int
assignment_slug_valid(const char *slug, size_t len)
{
	if (len == 0 || len > SLUG_MAX || !isalnum((unsigned char)slug[0]))
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)slug[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
assignment_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0, sign = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || h < 0 || mi < 0 || sec < 0)
		return -1;
	p = s + 19;
	if (*p == '.') /* fractions of a second are accepted and dropped */
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
	       sign * (oh * 3600 + om * 60)) *
	      1000;
	return 0;
}

void
assignment_time_format(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A validation failure: the path of the field, then why. */
static void bad(char *err, size_t errlen, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
bad(char *err, size_t errlen, const char *where, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s%s%s", where, *where ? ": " : "", why);
}

/* Rejects fields a definition does not know: a misspelt key would otherwise
 * be silently ignored (a "hiden_feedback" leaking hidden tests). */
static int
only_known(struct json_object *o, const char *const *known, const char *where, char *err,
           size_t errlen)
{
	json_object_object_foreach(o, key, val)
	{
		int ok = 0;
		(void)val;
		for (const char *const *k = known; *k; k++)
			if (strcmp(*k, key) == 0)
				ok = 1;
		if (!ok) {
			bad(err, errlen, where, "unknown field '%.60s'", key);
			return -1;
		}
	}
	return 0;
}

/* Finds a file the definition names in its files map. */
static struct json_object *
file_named(struct json_object *files, const char *path, const char *where, char *err, size_t errlen)
{
	struct json_object *v = NULL;
	const char *why = path_rel_check(path, strlen(path));

	if (why != NULL) {
		bad(err, errlen, where, "'%.100s': %s", path, why);
		return NULL;
	}
	if (files == NULL || !json_object_object_get_ex(files, path, &v) ||
	    !json_object_is_type(v, json_type_string)) {
		bad(err, errlen, where, "file '%.100s' is missing", path);
		return NULL;
	}
	return v;
}

/* Validates tests[i] into a new normalised object, or NULL with err set. */
static struct json_object *
test_validate(struct json_object *t, size_t i, struct json_object *files, char *err, size_t errlen)
{
	static const char *const io_keys[] = {"name",  "kind",   "visibility",  "points",
	                                      "input", "output", "entry_point", NULL};
	static const char *const stdio_keys[] = {"name",    "kind",      "visibility",
	                                         "points",  "stdin",     "stdout",
	                                         "compare", "tolerance", NULL};
	static const char *const pytest_keys[] = {"name",   "kind", "visibility",
	                                          "points", "file", NULL};
	struct json_object *o = NULL, *src;
	const char *kind, *vis = "hidden", *name = NULL, *s;
	char where[40], defname[NAME_MAX_LEN + 60];
	double points = 1;
	struct jx_err e;
	size_t len;

	snprintf(where, sizeof where, "tests[%zu]", i);
	if (!json_object_is_type(t, json_type_object)) {
		bad(err, errlen, where, "must be an object");
		return NULL;
	}
	if (jx_string(t, "kind", 1, &kind, NULL, &e) < 0 ||
	    jx_string(t, "visibility", 0, &vis, NULL, &e) < 0 ||
	    jx_string(t, "name", 0, &name, &len, &e) < 0 ||
	    jx_number(t, "points", 0, 0, 1e6, &points, &e) < 0) {
		bad(err, errlen, where, "%s", e.detail);
		return NULL;
	}
	if (strcmp(vis, "public") != 0 && strcmp(vis, "hidden") != 0) {
		bad(err, errlen, where, "field 'visibility' must be 'public' or 'hidden'");
		return NULL;
	}
	if (name != NULL && (len == 0 || len > NAME_MAX_LEN)) {
		bad(err, errlen, where, "field 'name' must be 1 to %d characters", NAME_MAX_LEN);
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string(kind));
	json_object_object_add(o, "visibility", json_object_new_string(vis));
	json_object_object_add(o, "points", jx_new_number(points));
	if (strcmp(kind, "io") == 0) {
		const char *ep, *in, *out;
		if (only_known(t, io_keys, where, err, errlen) < 0)
			goto fail;
		if (jx_string(t, "entry_point", 1, &ep, &len, &e) < 0 ||
		    jx_string(t, "input", 1, &in, NULL, &e) < 0 ||
		    jx_string(t, "output", 1, &out, NULL, &e) < 0) {
			bad(err, errlen, where, "%s", e.detail);
			goto fail;
		}
		/* a name, or an expression of names, dots and calls without
		 * arguments, as /evaluate_code takes it: Solution().twoSum */
		if (len == 0 || len > 100 || !(isalpha((unsigned char)ep[0]) || ep[0] == '_') ||
		    strspn(ep,
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.()") !=
		        len) {
			bad(err, errlen, where,
			    "field 'entry_point' must be a function name or an expression like "
			    "Solution().add");
			goto fail;
		}
		json_object_object_add(o, "entry_point", json_object_new_string(ep));
		json_object_object_add(o, "input", json_object_new_string(in));
		json_object_object_add(o, "output", json_object_new_string(out));
		snprintf(defname, sizeof defname, "%s(%.100s)", ep, in);
	} else if (strcmp(kind, "stdio") == 0) {
		const char *in = "", *out, *cmp = "trim";
		size_t inlen = 0, outlen;
		double tol = 1e-6;
		if (only_known(t, stdio_keys, where, err, errlen) < 0)
			goto fail;
		if (jx_string(t, "stdin", 0, &in, &inlen, &e) < 0 ||
		    jx_string(t, "stdout", 1, &out, &outlen, &e) < 0 ||
		    jx_string(t, "compare", 0, &cmp, NULL, &e) < 0 ||
		    jx_number(t, "tolerance", 0, 0, 1e300, &tol, &e) < 0) {
			bad(err, errlen, where, "%s", e.detail);
			goto fail;
		}
		if (strcmp(cmp, "exact") && strcmp(cmp, "trim") && strcmp(cmp, "tokens") &&
		    strcmp(cmp, "float")) {
			bad(err, errlen, where,
			    "field 'compare' must be 'exact', 'trim', 'tokens' or 'float'");
			goto fail;
		}
		jx_add_strlen(o, "stdin", in, inlen);
		jx_add_strlen(o, "stdout", out, outlen);
		json_object_object_add(o, "compare", json_object_new_string(cmp));
		json_object_object_add(o, "tolerance", jx_new_number(tol));
		snprintf(defname, sizeof defname, "stdio test %zu", i + 1);
	} else if (strcmp(kind, "pytest") == 0) {
		if (only_known(t, pytest_keys, where, err, errlen) < 0)
			goto fail;
		if (jx_string(t, "file", 1, &s, &len, &e) < 0) {
			bad(err, errlen, where, "%s", e.detail);
			goto fail;
		}
		if (len < 4 || strcmp(s + len - 3, ".py") != 0) {
			bad(err, errlen, where, "field 'file' must name a .py file");
			goto fail;
		}
		if ((src = file_named(files, s, where, err, errlen)) == NULL)
			goto fail;
		json_object_object_add(o, "file", json_object_new_string(s));
		json_object_object_add(o, "source", json_object_get(src));
		snprintf(defname, sizeof defname, "%s", s);
	} else if (strcmp(kind, "sql") == 0) {
		bad(err, errlen, where,
		    "kind 'sql' is not supported yet (use io, stdio or pytest)");
		goto fail;
	} else {
		bad(err, errlen, where, "unknown kind '%.40s' (use io, stdio or pytest)", kind);
		goto fail;
	}
	json_object_object_add(o, "name", json_object_new_string(name ? name : defname));
	return o;
fail:
	json_object_put(o);
	return NULL;
}

struct json_object *
assignment_validate(struct json_object *def, const char *slug, char *err, size_t errlen)
{
	static const char *const known[] = {"title",  "description", "language", "max_points",
	                                    "due_at", "phase",       "starter",  "hidden_feedback",
	                                    "limits", "tests",       "files",    "support",
	                                    "slug",   NULL};
	struct json_object *o = NULL, *files = NULL, *tests, *limits = NULL, *support = NULL, *v,
	                   *arr, *used;
	const char *title, *desc = NULL, *lang = "python", *due = NULL, *starter = NULL,
	                   *hf = "summary", *s;
	double maxp, time_s = (double)cfg.case_timeout_s, mem = 256;
	int64_t due_ms = 0;
	size_t n, total = 0, len;
	struct jx_err e;

	if (!assignment_slug_valid(slug, strlen(slug))) {
		bad(err, errlen, "slug",
		    "must be 1 to 64 lowercase letters, digits, '.', '_' or '-', starting with a "
		    "letter or digit");
		return NULL;
	}
	if (!json_object_is_type(def, json_type_object)) {
		bad(err, errlen, "", "the assignment must be a JSON object");
		return NULL;
	}
	if (only_known(def, known, "", err, errlen) < 0)
		return NULL;
	if (jx_object(def, "files", 0, &files, &e) < 0 ||
	    jx_string(def, "title", 1, &title, &len, &e) < 0 ||
	    jx_string(def, "description", 0, &desc, NULL, &e) < 0 ||
	    jx_string(def, "language", 0, &lang, NULL, &e) < 0 ||
	    jx_number(def, "max_points", 1, 0, 1e6, &maxp, &e) < 0 ||
	    jx_string(def, "due_at", 0, &due, NULL, &e) < 0 ||
	    jx_string(def, "starter", 0, &starter, NULL, &e) < 0 ||
	    jx_string(def, "hidden_feedback", 0, &hf, NULL, &e) < 0 ||
	    jx_object(def, "limits", 0, &limits, &e) < 0 ||
	    jx_array(def, "tests", 1, &tests, &e) < 0 ||
	    jx_array(def, "support", 0, &support, &e) < 0) {
		bad(err, errlen, "", "%s", e.detail);
		return NULL;
	}
	if (len == 0 || len > NAME_MAX_LEN) {
		bad(err, errlen, "title", "must be 1 to %d characters", NAME_MAX_LEN);
		return NULL;
	}
	if (maxp <= 0) {
		bad(err, errlen, "max_points", "must be more than 0");
		return NULL;
	}
	if (strcmp(lang, "python") != 0 && strcmp(lang, "python3") != 0) {
		bad(err, errlen, "language", "'%.40s' is not supported yet (use python)", lang);
		return NULL;
	}
	if (due != NULL && assignment_time_parse(due, &due_ms) < 0) {
		bad(err, errlen, "due_at", "must be a time like 2026-12-01T23:59:00Z");
		return NULL;
	}
	if (strcmp(hf, "summary") && strcmp(hf, "names") && strcmp(hf, "full")) {
		bad(err, errlen, "hidden_feedback", "must be 'summary', 'names' or 'full'");
		return NULL;
	}
	if (limits != NULL) {
		static const char *const lk[] = {"time_s", "memory_mb", NULL};
		if (only_known(limits, lk, "limits", err, errlen) < 0)
			return NULL;
		if (jx_number(limits, "time_s", 0, 0.1, (double)cfg.case_timeout_max_s, &time_s,
		              &e) < 0 ||
		    jx_number(limits, "memory_mb", 0, 32, (double)cfg.sandbox_memory_mb, &mem, &e) <
		        0) {
			bad(err, errlen, "limits", "%s", e.detail);
			return NULL;
		}
	}
	if (files != NULL) {
		json_object_object_foreach(files, fpath, fval)
		{
			const char *why = path_rel_check(fpath, strlen(fpath));
			if (why != NULL) {
				bad(err, errlen, "files", "'%.100s': %s", fpath, why);
				return NULL;
			}
			if (!json_object_is_type(fval, json_type_string)) {
				bad(err, errlen, "files",
				    "'%.100s' must be a string (the file's text)", fpath);
				return NULL;
			}
			total += (size_t)json_object_get_string_len(fval) + strlen(fpath);
		}
	}
	if (total > (size_t)cfg.assignment_max_bytes) {
		bad(err, errlen, "files", "the files hold %zu bytes; the limit is %lld", total,
		    (long long)cfg.assignment_max_bytes);
		return NULL;
	}
	n = json_object_array_length(tests);
	if (n == 0 || n > TESTS_MAX) {
		bad(err, errlen, "tests", "must hold 1 to %d tests", TESTS_MAX);
		return NULL;
	}

	o = json_object_new_object();
	json_object_object_add(o, "slug", json_object_new_string(slug));
	json_object_object_add(o, "title", json_object_new_string(title));
	if (desc == NULL && files != NULL &&
	    json_object_object_get_ex(files, "description.md", &v) &&
	    json_object_is_type(v, json_type_string))
		desc = json_object_get_string(v);
	json_object_object_add(o, "description", json_object_new_string(desc ? desc : ""));
	json_object_object_add(o, "language", json_object_new_string("python"));
	json_object_object_add(o, "max_points", jx_new_number(maxp));
	json_object_object_add(o, "due_at", due ? json_object_new_string(due) : NULL);
	json_object_object_add(o, "due_ms", due ? json_object_new_int64(due_ms) : NULL);
	if (json_object_object_get_ex(def, "phase", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string) &&
		    !json_object_is_type(v, json_type_int)) {
			bad(err, errlen, "phase", "must be a string or an integer");
			goto fail;
		}
		json_object_object_add(o, "phase", json_object_get(v));
	} else {
		json_object_object_add(o, "phase", NULL);
	}
	if (starter != NULL) {
		struct json_object *st, *c = file_named(files, starter, "starter", err, errlen);
		if (c == NULL)
			goto fail;
		st = json_object_new_object();
		json_object_object_add(st, "name", json_object_new_string(starter));
		json_object_object_add(st, "content", json_object_get(c));
		json_object_object_add(o, "starter", st);
	} else {
		json_object_object_add(o, "starter", NULL);
	}
	json_object_object_add(o, "hidden_feedback", json_object_new_string(hf));
	v = json_object_new_object();
	json_object_object_add(v, "time_s", jx_new_number(time_s));
	json_object_object_add(v, "memory_mb", json_object_new_int64((int64_t)mem));
	json_object_object_add(o, "limits", v);
	arr = json_object_new_array_ext((int)n);
	json_object_object_add(o, "tests", arr);
	for (size_t i = 0; i < n; i++) {
		struct json_object *t =
		    test_validate(json_object_array_get_idx(tests, i), i, files, err, errlen);
		if (t == NULL)
			goto fail;
		json_object_array_add(arr, t);
	}
	used = json_object_new_object();
	json_object_object_add(o, "files", used);
	n = support ? json_object_array_length(support) : 0;
	for (size_t i = 0; i < n; i++) {
		char where[40];
		struct json_object *p = json_object_array_get_idx(support, i), *c;
		snprintf(where, sizeof where, "support[%zu]", i);
		if (!json_object_is_type(p, json_type_string)) {
			bad(err, errlen, where, "must be a path");
			goto fail;
		}
		s = json_object_get_string(p);
		if ((c = file_named(files, s, where, err, errlen)) == NULL)
			goto fail;
		if (strcmp(s, "submission.py") == 0) {
			bad(err, errlen, where, "'submission.py' is the student's file");
			goto fail;
		}
		json_object_object_add(used, s, json_object_get(c));
	}
	if (files != NULL) {
		/* a file the definition does not name would be stored and never
		 * used: most likely a support file missing from "support" */
		json_object_object_foreach(files, fp, fv)
		{
			int named = strcmp(fp, "description.md") == 0 ||
			            json_object_object_get_ex(used, fp, NULL) ||
			            (starter != NULL && strcmp(fp, starter) == 0);
			(void)fv;
			for (size_t i = 0; !named && i < json_object_array_length(tests); i++)
				named = jx_string(json_object_array_get_idx(tests, i), "file", 0,
				                  &s, NULL, &e) == 1 &&
				        strcmp(s, fp) == 0;
			if (!named) {
				bad(err, errlen, "files",
				    "'%.100s' is not named by the assignment (list files the tests "
				    "read in 'support')",
				    fp);
				goto fail;
			}
		}
	}
	json_object_object_add(o, "updated_at", json_object_new_int64(now_real_ms()));
	return o;
fail:
	json_object_put(o);
	return NULL;
}

/* Adds dir/rel to files (as its text), for assignment_load_dir. */
static int
load_one(const char *dir, const char *rel, struct json_object *files, const char *where, char *err,
         size_t errlen)
{
	char *path, *data;
	size_t len;
	const char *why = path_rel_check(rel, strlen(rel));

	if (why != NULL) {
		snprintf(err, errlen, "assignment.json: %s: '%.100s': %s", where, rel, why);
		return -1;
	}
	if (json_object_object_get_ex(files, rel, NULL))
		return 0;
	path = xasprintf("%s/%s", dir, rel);
	if (read_file(path, (size_t)cfg.assignment_max_bytes, &data, &len) < 0) {
		snprintf(err, errlen, "%s: %s: cannot read '%.100s': %s", rel, where, path,
		         errno ? strerror(errno) : "too large");
		free(path);
		return -1;
	}
	free(path);
	if (!utf8_valid(data, len) || memchr(data, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: %s: the file is not UTF-8 text", rel, where);
		free(data);
		return -1;
	}
	jx_add_strlen(files, rel, data, len);
	free(data);
	return 0;
}

struct json_object *
assignment_load_dir(const char *dir, char *err, size_t errlen)
{
	struct json_object *def = NULL, *files, *tests = NULL, *v, *out = NULL;
	char *path, *text = NULL, *base, slug[SLUG_MAX + 1], why[400];
	const char *s;
	size_t len;
	struct jx_err e;

	path = xasprintf("%s/assignment.json", dir);
	if (read_file(path, (size_t)cfg.assignment_max_bytes, &text, &len) < 0) {
		snprintf(err, errlen, "assignment.json: cannot read %s: %s", path,
		         errno ? strerror(errno) : "too large");
		free(path);
		return NULL;
	}
	free(path);
	def = jx_parse(text, len, 64, &e);
	free(text);
	if (def == NULL) {
		snprintf(err, errlen, "assignment.json: %s", e.detail);
		return NULL;
	}
	if (!json_object_is_type(def, json_type_object)) {
		snprintf(err, errlen, "assignment.json: must be a JSON object");
		goto out;
	}
	if (json_object_object_get_ex(def, "files", NULL)) {
		snprintf(err, errlen,
		         "assignment.json: field 'files' belongs to the PUT body; in a directory, "
		         "files are read from beside assignment.json");
		goto out;
	}
	files = json_object_new_object();
	json_object_object_add(def, "files", files);
	path = xasprintf("%s/description.md", dir);
	if (access(path, R_OK) == 0 &&
	    load_one(dir, "description.md", files, "description", err, errlen) < 0) {
		free(path);
		goto out;
	}
	free(path);
	if (json_object_object_get_ex(def, "starter", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    load_one(dir, json_object_get_string(v), files, "starter", err, errlen) < 0)
		goto out;
	if (json_object_object_get_ex(def, "support", &v) &&
	    json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *p = json_object_array_get_idx(v, i);
			char where[40];
			snprintf(where, sizeof where, "support[%zu]", i);
			if (json_object_is_type(p, json_type_string) &&
			    load_one(dir, json_object_get_string(p), files, where, err, errlen) < 0)
				goto out;
		}
	if (json_object_object_get_ex(def, "tests", &tests) &&
	    json_object_is_type(tests, json_type_array))
		for (size_t i = 0; i < json_object_array_length(tests); i++) {
			struct json_object *t = json_object_array_get_idx(tests, i);
			char where[40];
			snprintf(where, sizeof where, "tests[%zu].file", i);
			if (jx_string(t, "file", 0, &s, NULL, &e) == 1 &&
			    load_one(dir, s, files, where, err, errlen) < 0)
				goto out;
		}
	/* the slug is the directory's name */
	path = xstrdup(dir);
	len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	base = strrchr(path, '/');
	snprintf(slug, sizeof slug, "%s", base ? base + 1 : path);
	free(path);
	out = assignment_validate(def, slug, why, sizeof why);
	if (out != NULL)
		;
	else if (strncmp(why, "slug: ", 6) == 0)
		snprintf(err, errlen, "%s: the directory's name is the slug, and it %s", dir,
		         why + 6);
	else
		snprintf(err, errlen, "assignment.json: %s", why);
out:
	json_object_put(def);
	return out;
}

double
assignment_pytest_points(const char *source, int *count)
{
	const char *line = source;
	double total = 0, pending = -1;

	*count = 0;
	while (line && *line) {
		const char *p = line, *end = strchr(line, '\n');
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "@pytest.mark.points(", 20) == 0) {
			pending = strtod(p + 20, NULL);
		} else if (strncmp(p, "def test", 8) == 0 ||
		           strncmp(p, "async def test", 14) == 0) {
			(*count)++;
			total += pending >= 0 ? pending : 1;
			pending = -1;
		} else if (*p != '@' && *p != '#' && *p != '\n' && *p != '\0') {
			pending = -1;
		}
		line = end ? end + 1 : NULL;
	}
	return total;
}

struct json_object *
assignment_public_view(struct json_object *def)
{
	static const char *const copied[] = {
	    "slug",  "title",   "description",     "language", "max_points", "due_at",
	    "phase", "starter", "hidden_feedback", "limits",   NULL};
	struct json_object *o = json_object_new_object(), *tests, *pub, *hid, *v;
	double hpoints = 0;
	int hcount = 0;

	for (const char *const *k = copied; *k; k++)
		if (json_object_object_get_ex(def, *k, &v))
			json_object_object_add(o, *k, json_object_get(v));
	pub = json_object_new_array();
	if (json_object_object_get_ex(def, "tests", &tests))
		for (size_t i = 0; i < json_object_array_length(tests); i++) {
			struct json_object *t = json_object_array_get_idx(tests, i), *vis, *kind,
			                   *pts, *src;
			json_object_object_get_ex(t, "visibility", &vis);
			if (strcmp(json_object_get_string(vis), "public") == 0) {
				json_object_array_add(pub, json_object_get(t));
				continue;
			}
			json_object_object_get_ex(t, "kind", &kind);
			if (strcmp(json_object_get_string(kind), "pytest") == 0 &&
			    json_object_object_get_ex(t, "source", &src)) {
				int c;
				hpoints +=
				    assignment_pytest_points(json_object_get_string(src), &c);
				hcount += c;
			} else {
				json_object_object_get_ex(t, "points", &pts);
				hpoints += json_object_get_double(pts);
				hcount++;
			}
		}
	json_object_object_add(o, "tests", pub);
	hid = json_object_new_object();
	json_object_object_add(hid, "count", json_object_new_int(hcount));
	json_object_object_add(hid, "points", jx_new_number(hpoints));
	json_object_object_add(o, "hidden", hid);
	return o;
}

/* A summary row of the asgs hash. */
static struct json_object *
summary(struct json_object *def)
{
	static const char *const keys[] = {"slug",   "title",           "language", "max_points",
	                                   "due_at", "hidden_feedback", NULL};
	struct json_object *o = json_object_new_object(), *v;

	for (const char *const *k = keys; *k; k++)
		if (json_object_object_get_ex(def, *k, &v))
			json_object_object_add(o, *k, json_object_get(v));
	return o;
}

int
assignment_put(struct json_object *def)
{
	struct json_object *sum = summary(def), *v;
	const char *slug, *argv[7];
	size_t lens[7], slen;
	char key[100];
	redisReply *r;
	int rc = -1;

	json_object_object_get_ex(def, "slug", &v);
	slug = json_object_get_string(v);
	snprintf(key, sizeof key, KEY_PREFIX "asg:%s", slug);
	argv[0] = key;
	argv[1] = KEY_PREFIX "asgs";
	argv[2] = KEY_PREFIX "asggen";
	argv[3] = KEY_PREFIX "asgseq";
	argv[4] = jx_text(def, &lens[4]);
	argv[5] = jx_text(sum, &slen);
	lens[5] = slen;
	argv[6] = slug;
	lens[6] = strlen(slug);
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	/* one script so a reader never sees the summary without the
	 * definition */
	r = store_script(SCRIPT_ASG_PUT, 4, 7, argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		rc = r->integer ? 1 : 0;
	else if (r != NULL)
		log_warnx("assignment put: %s",
		          r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
	if (r)
		freeReplyObject(r);
	json_object_put(sum);
	return rc;
}

/* The JSON object in a GET or HGET reply (freed here): *found 1, 0 for a
 * missing key, -1 when Redis failed or the stored text is unreadable. */
static struct json_object *
stored_json(redisReply *r, const char *what, int *found)
{
	struct json_object *o = NULL;
	struct jx_err e;

	*found = -1;
	if (r == NULL)
		return NULL;
	if (r->type == REDIS_REPLY_STRING) {
		o = jx_parse(r->str, r->len, 64, &e);
		*found = o != NULL ? 1 : -1;
		if (o == NULL)
			log_warnx("assignment %s: stored text unreadable: %s", what, e.detail);
	} else if (r->type == REDIS_REPLY_NIL) {
		*found = 0;
	}
	freeReplyObject(r);
	return o;
}

struct json_object *
assignment_get(const char *slug, int *found)
{
	return stored_json(store_cmd("GET " KEY_PREFIX "asg:%s", slug), slug, found);
}

struct json_object *
assignment_summary(const char *slug, int *found)
{
	return stored_json(store_cmd("HGET " KEY_PREFIX "asgs %s", slug), slug, found);
}

int
assignment_delete(const char *slug)
{
	redisReply *r =
	    store_cmd("EVAL %s 3 " KEY_PREFIX "asg:%s " KEY_PREFIX "asgs " KEY_PREFIX "asggen %s",
	              "redis.call('HDEL', KEYS[2], ARGV[1]) redis.call('HDEL', KEYS[3], ARGV[1]) "
	              "return redis.call('DEL', KEYS[1])",
	              slug, slug);
	int rc = -1;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		rc = r->integer > 0 ? 1 : 0;
	if (r)
		freeReplyObject(r);
	return rc;
}

static int
slug_cmp(const void *a, const void *b)
{
	struct json_object *const *x = a, *const *y = b, *u, *v;

	json_object_object_get_ex(*x, "slug", &u);
	json_object_object_get_ex(*y, "slug", &v);
	return strcmp(json_object_get_string(u), json_object_get_string(v));
}

struct json_object *
assignment_list(void)
{
	redisReply *r = store_cmd("HVALS " KEY_PREFIX "asgs");
	struct json_object *arr;
	struct jx_err e;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return NULL;
	}
	arr = json_object_new_array_ext((int)r->elements);
	for (size_t i = 0; i < r->elements; i++) {
		struct json_object *o = jx_parse(r->element[i]->str, r->element[i]->len, 16, &e);
		if (o != NULL && json_object_object_get_ex(o, "slug", NULL))
			json_object_array_add(arr, o);
		else if (o)
			json_object_put(o);
	}
	freeReplyObject(r);
	json_object_array_sort(arr, slug_cmp);
	return arr;
}
