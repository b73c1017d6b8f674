/* Fuzz target: assignment validation (assignment_validate and the public
 * view, src/common/assignment.c), what PUT /assignments/{slug} and
 * `evalctl assignment load` run on a teacher's definition, and the due-time
 * parser.
 *
 * The input is the definition's JSON text. Properties:
 *   - validation either fails with a sentence, or returns a definition whose
 *     every test has a known kind and visibility, points in 0..1e6, and (for
 *     pytest) its file's text;
 *   - the public view lists public tests only, and holds no hidden pytest
 *     file's text (when that text is distinctive enough to look for);
 *   - a due time that parses formats back to a time that parses to the same
 *     second. */
#include "fuzz.h"

#include <math.h>

#include "common/assignment.h"
#include "common/config.h"
#include "common/jsonx.h"

static const char *
str_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* 1 when needle is in a part of def that students may see anyway. */
static int
in_public(struct json_object *def, const char *needle)
{
	struct json_object *tests = NULL, *st = NULL;
	const char *parts[3] = {str_of(def, "title"), str_of(def, "description"), NULL};

	if (json_object_object_get_ex(def, "starter", &st) && st != NULL)
		parts[2] = str_of(st, "content");
	for (int i = 0; i < 3; i++)
		if (parts[i] && strstr(parts[i], needle))
			return 1;
	json_object_object_get_ex(def, "tests", &tests);
	for (size_t i = 0; i < json_object_array_length(tests); i++) {
		struct json_object *t = json_object_array_get_idx(tests, i);
		const char *vis = str_of(t, "visibility");
		if (vis && !strcmp(vis, "public") &&
		    strstr(json_object_to_json_string(t), needle))
			return 1;
	}
	return 0;
}

static void
check_valid(struct json_object *def)
{
	struct json_object *tests = NULL, *view, *vt = NULL;
	const char *text;
	size_t n, len;

	FUZZ_CHECK(json_object_object_get_ex(def, "tests", &tests) &&
		       json_object_is_type(tests, json_type_array),
	    "no tests array");
	n = json_object_array_length(tests);
	FUZZ_CHECK(n >= 1 && n <= 1000, "%zu tests", n);
	view = assignment_public_view(def);
	text = jx_text(view, &len);
	for (size_t i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tests, i), *p = NULL;
		const char *kind = str_of(t, "kind"), *vis = str_of(t, "visibility");
		FUZZ_CHECK(kind && (!strcmp(kind, "io") || !strcmp(kind, "stdio") ||
					   !strcmp(kind, "pytest")),
		    "kind %s", kind ? kind : "(none)");
		FUZZ_CHECK(vis && (!strcmp(vis, "public") || !strcmp(vis, "hidden")), "visibility");
		FUZZ_CHECK(str_of(t, "name") != NULL, "a test without a name");
		FUZZ_CHECK(json_object_object_get_ex(t, "points", &p) &&
			       isfinite(json_object_get_double(p)) &&
			       json_object_get_double(p) >= 0 && json_object_get_double(p) <= 1e6,
		    "points");
		if (!strcmp(kind, "pytest")) {
			const char *src = str_of(t, "source");
			FUZZ_CHECK(src != NULL, "a pytest test without its source");
			/* a hidden file's text never reaches the view, unless the
			 * same text is also something public */
			if (!strcmp(vis, "hidden") && strlen(src) >= 24 && !in_public(def, src))
				FUZZ_CHECK(strstr(text, src) == NULL,
				    "hidden test source in the public view: %.100s", src);
		}
	}
	FUZZ_CHECK(json_object_object_get_ex(view, "tests", &vt), "view without tests");
	for (size_t i = 0; i < json_object_array_length(vt); i++) {
		const char *vis = str_of(json_object_array_get_idx(vt, i), "visibility");
		FUZZ_CHECK(vis && !strcmp(vis, "public"), "a hidden test in the public view");
	}
	FUZZ_CHECK(!json_object_object_get_ex(view, "files", NULL), "files in the public view");
	json_object_put(view);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	struct json_object *def, *out;
	struct jx_err e;
	char err[512], *s;
	int64_t ms, ms2;

	if (!init) {
		config_defaults(&cfg);
		init = 1;
	}
	def = jx_parse((const char *)data, size, 64, &e);
	if (def != NULL) {
		memset(err, 0, sizeof err);
		out = assignment_validate(def, "fuzz", err, sizeof err);
		if (out == NULL) {
			FUZZ_CHECK(err[0] != '\0', "refused without a sentence");
		} else {
			check_valid(out);
			json_object_put(out);
		}
		json_object_put(def);
	}
	s = fuzz_strndup(data, size < 64 ? size : 64);
	if (assignment_time_parse(s, &ms) == 0) {
		char back[40];
		assignment_time_format(ms, back, sizeof back);
		FUZZ_CHECK(assignment_time_parse(back, &ms2) == 0 && ms2 / 1000 == ms / 1000,
		    "%s -> %lld -> %s", s, (long long)ms, back);
	}
	free(s);
	return 0;
}
