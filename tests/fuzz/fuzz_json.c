/* Fuzz target: JSON request decoding (jx_parse and the jx_* getters,
 * src/common/jsonx.c, and http_body_json, src/api/http.c).
 *
 * The input is a request body. Properties:
 *   - jx_parse accepts only what an RFC 8259 reader written here accepts
 *     (plus the lax numbers json-c's strict mode lets through: "00", "-01",
 *     "1.", "-.5", see number()), in valid UTF-8, never nested deeper than the
 *     limit; and whenever the reader finds strict JSON of lesser depth,
 *     jx_parse accepts it (numbers json-c cannot hold and some top-level
 *     scalars aside, see ref_json);
 *   - on failure jx_parse returns NULL with a sentence in the error (the
 *     buffer is poisoned first, so "left unset" is caught);
 *   - a parsed object or array serialises (jx_text) to valid UTF-8 that
 *     parses back to the same text;
 *   - each jx_* getter, on every key of a parsed object and on a missing
 *     one, returns 1 exactly when the value has its type (and range), 0 for
 *     an absent optional field and -1 with a sentence otherwise;
 *   - http_body_json returns an object or NULL with a 400 or 413 JSON
 *     {detail, code} body that itself parses. */
#include "fuzz.h"

#include <math.h>

#include "api/http.h"
#include "common/jsonx.h"

#define DEPTH 64 /* what http_body_json and job_decode use */

/* ----------------------------------------------------- reference reader */

struct rd {
	const uint8_t *s;
	size_t len, i;
	int depth, max_depth;
	int num_ok; /* every number is in json-c's range */
	int lax;    /* a number used a form json-c allows and JSON does not */
};

static void
ws(struct rd *r)
{
	while (r->i < r->len && strchr(" \t\r\n", r->s[r->i]) && r->s[r->i])
		r->i++;
}

static int
eat(struct rd *r, char c)
{
	if (r->i < r->len && r->s[r->i] == (uint8_t)c) {
		r->i++;
		return 1;
	}
	return 0;
}

static int
digits(struct rd *r)
{
	size_t st = r->i;

	while (r->i < r->len && r->s[r->i] >= '0' && r->s[r->i] <= '9')
		r->i++;
	return r->i > st;
}

static int value(struct rd *r);

static int
string(struct rd *r)
{
	if (!eat(r, '"'))
		return 0;
	while (r->i < r->len) {
		uint8_t c = r->s[r->i++];
		if (c == '"')
			return 1;
		if (c < 0x20)
			return 0;
		if (c != '\\')
			continue;
		if (r->i >= r->len)
			return 0;
		c = r->s[r->i++];
		if (c == 'u') {
			for (int k = 0; k < 4; k++, r->i++)
				if (r->i >= r->len || !strchr("0123456789abcdefABCDEF", r->s[r->i]) ||
				    !r->s[r->i])
					return 0;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return 0;
		}
	}
	return 0;
}

/* A number by the grammar, also accepting the forms json-c's strict mode
 * lets through (leading zeros as in "00" or "-01", a point without digits
 * after it as in "1." or "1.e5", or before it after a minus as in "-.5")
 * with lax set. num_ok is cleared
 * when json-c cannot hold the number (an integer beyond 64 bits, a double
 * that overflows): it may clamp or reject those. */
static int
number(struct rd *r)
{
	size_t st = r->i;
	int frac = 0, neg;
	char tmp[64];

	neg = eat(r, '-');
	if (eat(r, '0')) {
		if (digits(r))
			r->lax = 1;
	} else if (!digits(r)) {
		if (!neg || r->i >= r->len || r->s[r->i] != '.')
			return 0;
		r->lax = 1;
	}
	if (eat(r, '.')) {
		frac = 1;
		if (!digits(r))
			r->lax = 1;
	}
	if (eat(r, 'e') || eat(r, 'E')) {
		frac = 1;
		if (!eat(r, '+'))
			eat(r, '-');
		if (!digits(r))
			return 0;
	}
	if (r->i - st >= sizeof tmp) {
		r->num_ok = 0;
		return 1;
	}
	memcpy(tmp, r->s + st, r->i - st);
	tmp[r->i - st] = '\0';
	if (frac) {
		if (!isfinite(strtod(tmp, NULL)))
			r->num_ok = 0;
	} else if (r->i - st > 18) {
		r->num_ok = 0; /* beyond what int64 surely holds */
	}
	return 1;
}

static int
literal(struct rd *r, const char *w)
{
	size_t n = strlen(w);

	if (r->len - r->i < n || memcmp(r->s + r->i, w, n) != 0)
		return 0;
	r->i += n;
	return 1;
}

static int
container(struct rd *r, char close, int is_obj)
{
	if (++r->depth > r->max_depth)
		r->max_depth = r->depth;
	ws(r);
	if (eat(r, close)) {
		r->depth--;
		return 1;
	}
	for (;;) {
		if (is_obj) {
			ws(r);
			if (!string(r))
				return 0;
			ws(r);
			if (!eat(r, ':'))
				return 0;
		}
		if (!value(r))
			return 0;
		if (eat(r, close)) {
			r->depth--;
			return 1;
		}
		if (!eat(r, ','))
			return 0;
	}
}

static int
value(struct rd *r)
{
	int ok;

	ws(r);
	if (r->i >= r->len)
		return 0;
	/* The reader is recursive: give up on depths json-c rejects anyway. */
	if (r->depth > 2 * DEPTH)
		return 0;
	switch (r->s[r->i]) {
	case '{':
		r->i++;
		ok = container(r, '}', 1);
		break;
	case '[':
		r->i++;
		ok = container(r, ']', 0);
		break;
	case '"':
		ok = string(r);
		break;
	case 't':
		ok = literal(r, "true");
		break;
	case 'f':
		ok = literal(r, "false");
		break;
	case 'n':
		ok = literal(r, "null");
		break;
	default:
		ok = number(r);
	}
	ws(r);
	return ok;
}

/* 1 when s is one JSON text by RFC 8259 (UTF-8 aside) or json-c's lax
 * numbers; *strict says it is RFC 8259 alone. *must says jx_parse has to
 * accept it when it is strict, valid UTF-8 and not too deep: not when a
 * number is out of json-c's range, nor for a bare scalar running to the
 * last byte ("2", "true": given a length, json-c waits for more and
 * jx_parse says the body "ends early"), nor for a top-level null (which has
 * no object to return). None of those is a valid request or job. */
static int
ref_json(const uint8_t *s, size_t len, int *max_depth, int *must, int *strict)
{
	struct rd r = {.s = s, .len = len, .num_ok = 1};
	int ok = value(&r) && r.i == len;
	size_t first = 0;

	while (first < len && strchr(" \t\r\n", s[first]) && s[first])
		first++;
	*max_depth = r.max_depth;
	*must = r.num_ok;
	*strict = ok && !r.lax;
	if (ok && r.max_depth == 0 && (!strchr(" \t\r\n", s[len - 1]) || s[first] == 'n'))
		*must = 0;
	return ok;
}

/* --------------------------------------------------------------- checks */

static void
poison(struct jx_err *e)
{
	memset(e->detail, 0xAA, sizeof e->detail);
}

static void
check_sentence(const struct jx_err *e, const char *what)
{
	FUZZ_CHECK(memchr(e->detail, '\0', sizeof e->detail) != NULL &&
		       (uint8_t)e->detail[0] != 0xAA && e->detail[0] != '\0',
	    "%s failed without setting its error sentence", what);
}

static void
check_getters(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL, *out;
	enum json_type t;
	struct jx_err e;
	const char *s;
	size_t len;
	double d;
	int64_t n;
	int b, r;

	json_object_object_get_ex(obj, key, &v);
	t = json_object_get_type(v); /* json_type_null for NULL */
	for (int req = 0; req <= 1; req++) {
		int absent_r = req ? -1 : 0;

		poison(&e);
		r = jx_string(obj, key, req, &s, &len, &e);
		if (t == json_type_string) {
			FUZZ_CHECK(r == 1, "jx_string on a string returned %d", r);
			FUZZ_CHECK(len == (size_t)json_object_get_string_len(v) && s[len] == '\0',
			    "jx_string length");
		} else {
			FUZZ_CHECK(r == (t == json_type_null ? absent_r : -1),
			    "jx_string on type %d returned %d", t, r);
		}
		if (r < 0)
			check_sentence(&e, "jx_string");

		poison(&e);
		r = jx_number(obj, key, req, -1e6, 1e6, &d, &e);
		if (t == json_type_int || t == json_type_double) {
			double x = json_object_get_double(v);
			int in = isfinite(x) && x >= -1e6 && x <= 1e6;
			FUZZ_CHECK(r == (in ? 1 : -1), "jx_number on %g returned %d", x, r);
			if (r == 1)
				FUZZ_CHECK(d == x, "jx_number gave %g for %g", d, x);
		} else {
			FUZZ_CHECK(r == (t == json_type_null ? absent_r : -1),
			    "jx_number on type %d returned %d", t, r);
		}
		if (r < 0)
			check_sentence(&e, "jx_number");

		poison(&e);
		r = jx_int(obj, key, req, -1000, 1000, &n, &e);
		if (t == json_type_int) {
			int64_t x = json_object_get_int64(v);
			FUZZ_CHECK(r == (x >= -1000 && x <= 1000 ? 1 : -1),
			    "jx_int on %lld returned %d", (long long)x, r);
			if (r == 1)
				FUZZ_CHECK(n == x, "jx_int value");
		} else {
			FUZZ_CHECK(r == (t == json_type_null ? absent_r : -1),
			    "jx_int on type %d returned %d", t, r);
		}
		if (r < 0)
			check_sentence(&e, "jx_int");

		poison(&e);
		r = jx_bool(obj, key, req, &b, &e);
		FUZZ_CHECK(r == (t == json_type_boolean ? 1 : t == json_type_null ? absent_r : -1),
		    "jx_bool on type %d returned %d", t, r);
		if (r == 1)
			FUZZ_CHECK(b == json_object_get_boolean(v), "jx_bool value");
		if (r < 0)
			check_sentence(&e, "jx_bool");

		poison(&e);
		r = jx_array(obj, key, req, &out, &e);
		FUZZ_CHECK(r == (t == json_type_array ? 1 : t == json_type_null ? absent_r : -1),
		    "jx_array on type %d returned %d", t, r);
		if (r == 1)
			FUZZ_CHECK(out == v, "jx_array value");
		if (r < 0)
			check_sentence(&e, "jx_array");

		poison(&e);
		r = jx_object(obj, key, req, &out, &e);
		FUZZ_CHECK(r == (t == json_type_object ? 1 : t == json_type_null ? absent_r : -1),
		    "jx_object on type %d returned %d", t, r);
		if (r == 1)
			FUZZ_CHECK(out == v, "jx_object value");
		if (r < 0)
			check_sentence(&e, "jx_object");
	}
}

static void
check_round_trip(struct json_object *obj)
{
	struct json_object *again;
	struct jx_err e;
	const char *text, *text2;
	size_t len, len2;

	text = jx_text(obj, &len);
	FUZZ_CHECK(text != NULL && strlen(text) == len, "jx_text length");
	FUZZ_CHECK(fuzz_utf8_ok((const uint8_t *)text, len), "jx_text wrote invalid UTF-8");
	poison(&e);
	again = jx_parse(text, len, DEPTH, &e);
	FUZZ_CHECK(again != NULL, "jx_text's output does not parse back: %.200s", e.detail);
	text2 = jx_text(again, &len2);
	FUZZ_CHECK(len2 == len && memcmp(text, text2, len) == 0,
	    "jx_text -> jx_parse -> jx_text changed the text");
	json_object_put(again);
}

static void
check_http_body(const uint8_t *data, size_t size)
{
	struct request req = {0};
	struct response resp = {0};
	struct json_object *o, *err;
	struct jx_err e;
	const char *code;

	req.body = fuzz_strndup(data, size);
	req.body_len = size;
	o = http_body_json(&req, &resp);
	if (o != NULL) {
		FUZZ_CHECK(json_object_is_type(o, json_type_object), "body is not an object");
		FUZZ_CHECK(resp.body == NULL, "a response body set on success");
		json_object_put(o);
	} else {
		FUZZ_CHECK(resp.status == 400 || resp.status == 413, "status %d", resp.status);
		FUZZ_CHECK(resp.body != NULL && strlen(resp.body) == resp.body_len,
		    "error body length");
		poison(&e);
		err = jx_parse(resp.body, resp.body_len, DEPTH, &e);
		FUZZ_CHECK(err != NULL && json_object_is_type(err, json_type_object),
		    "the error body is not a JSON object: %.300s", resp.body);
		FUZZ_CHECK(jx_string(err, "code", 1, &code, NULL, &e) == 1 &&
			       jx_string(err, "detail", 1, &code, NULL, &e) == 1,
		    "the error body lacks code or detail");
		json_object_put(err);
	}
	free(resp.body);
	free(req.body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *obj;
	struct jx_err e;
	int depth, must, strict, ok = ref_json(data, size, &depth, &must, &strict);
	int utf8 = fuzz_utf8_ok(data, size);

	poison(&e);
	obj = jx_parse((const char *)data, size, DEPTH, &e);
	if (obj == NULL) {
		/* Every caller reads a NULL as "failed" and reports e.detail,
		 * so a NULL without a sentence (as for the text "null") leaves
		 * them printing an uninitialised buffer. */
		check_sentence(&e, "jx_parse");
		FUZZ_CHECK(!(strict && utf8 && must && depth < DEPTH),
		    "jx_parse rejected valid JSON (depth %d): %s", depth, e.detail);
	} else {
		FUZZ_CHECK(utf8, "jx_parse accepted invalid UTF-8");
		FUZZ_CHECK(ok, "jx_parse accepted text that is not JSON");
		FUZZ_CHECK(depth <= DEPTH, "jx_parse accepted depth %d", depth);
		if (json_object_is_type(obj, json_type_object) ||
		    json_object_is_type(obj, json_type_array))
			check_round_trip(obj);
		if (json_object_is_type(obj, json_type_object)) {
			json_object_object_foreach(obj, key, val)
			{
				(void)val;
				check_getters(obj, key);
			}
			check_getters(obj, "no such key \x01");
		}
		json_object_put(obj);
	}
	if (size > 0)
		check_http_body(data, size);
	return 0;
}
