#include "common/jsonx.h"

#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct json_object *
field(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v; /* json null is also NULL */
}

static int
absent(const char *key, int required, struct jx_err *e)
{
	if (!required)
		return 0;
	snprintf(e->detail, sizeof e->detail, "field '%s' is required", key);
	return -1;
}

static int
wrong(const char *key, const char *what, struct jx_err *e)
{
	snprintf(e->detail, sizeof e->detail, "field '%s' must be %s", key, what);
	return -1;
}

int
jx_string(struct json_object *obj, const char *key, int required, const char **s, size_t *len,
          struct jx_err *e)
{
	struct json_object *v = field(obj, key);

	if (v == NULL)
		return absent(key, required, e);
	if (!json_object_is_type(v, json_type_string))
		return wrong(key, "a string", e);
	*s = json_object_get_string(v);
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return 1;
}

int
jx_number(struct json_object *obj, const char *key, int required, double min, double max,
          double *out, struct jx_err *e)
{
	struct json_object *v = field(obj, key);
	double d;

	if (v == NULL)
		return absent(key, required, e);
	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return wrong(key, "a number", e);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < min || d > max) {
		snprintf(e->detail, sizeof e->detail, "field '%s' must be between %g and %g", key,
		         min, max);
		return -1;
	}
	*out = d;
	return 1;
}

int
jx_int(struct json_object *obj, const char *key, int required, int64_t min, int64_t max,
       int64_t *out, struct jx_err *e)
{
	struct json_object *v = field(obj, key);
	int64_t n;

	if (v == NULL)
		return absent(key, required, e);
	if (!json_object_is_type(v, json_type_int))
		return wrong(key, "an integer", e);
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		snprintf(e->detail, sizeof e->detail, "field '%s' must be between %lld and %lld",
		         key, (long long)min, (long long)max);
		return -1;
	}
	*out = n;
	return 1;
}

int
jx_bool(struct json_object *obj, const char *key, int required, int *out, struct jx_err *e)
{
	struct json_object *v = field(obj, key);

	if (v == NULL)
		return absent(key, required, e);
	if (!json_object_is_type(v, json_type_boolean))
		return wrong(key, "true or false", e);
	*out = json_object_get_boolean(v);
	return 1;
}

int
jx_array(struct json_object *obj, const char *key, int required, struct json_object **out,
         struct jx_err *e)
{
	struct json_object *v = field(obj, key);

	if (v == NULL)
		return absent(key, required, e);
	if (!json_object_is_type(v, json_type_array))
		return wrong(key, "an array", e);
	*out = v;
	return 1;
}

int
jx_object(struct json_object *obj, const char *key, int required, struct json_object **out,
          struct jx_err *e)
{
	struct json_object *v = field(obj, key);

	if (v == NULL)
		return absent(key, required, e);
	if (!json_object_is_type(v, json_type_object))
		return wrong(key, "an object", e);
	*out = v;
	return 1;
}

/* json-c accepts a few things JSON does not (single quotes, NaN,
 * Infinity, raw control characters in strings). Returns the offset of the
 * first such byte, or -1 when there is none. */
static long
jx_prescan(const char *s, size_t len)
{
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			else if (c < 0x20)
				return (long)i;
		} else if (c == '"') {
			in_str = 1;
		} else if (!strchr(" \t\r\n{}[],:0123456789+-.eEtrufalsn", c) || c == '\0') {
			return (long)i;
		}
	}
	return -1;
}

struct json_object *
jx_parse(const char *s, size_t len, int max_depth, struct jx_err *e)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	long bad;

	if (len > (size_t)INT32_MAX) {
		snprintf(e->detail, sizeof e->detail, "the body is too large to parse");
		return NULL;
	}
	if (!utf8_valid(s, len)) {
		snprintf(e->detail, sizeof e->detail, "the body is not valid UTF-8");
		return NULL;
	}
	if ((bad = jx_prescan(s, len)) >= 0) {
		snprintf(e->detail, sizeof e->detail,
		         "the body is not valid JSON: unexpected character at byte %ld", bad);
		return NULL;
	}
	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL) {
		snprintf(e->detail, sizeof e->detail, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		snprintf(e->detail, sizeof e->detail, "the body is not valid JSON: it ends early");
		goto fail;
	}
	if (jerr != json_tokener_success) {
		snprintf(e->detail, sizeof e->detail, "the body is not valid JSON: %s at byte %zu",
		         json_tokener_error_desc(jerr), json_tokener_get_parse_end(tok));
		goto fail;
	}
	if (json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok);
		while (end < len && strchr(" \t\r\n", s[end]) && s[end])
			end++;
		if (end < len) {
			snprintf(e->detail, sizeof e->detail,
			         "the body is not valid JSON: extra data at byte %zu", end);
			goto fail;
		}
	}
	if (obj == NULL) {
		/* the text was JSON null */
		snprintf(e->detail, sizeof e->detail, "the body is null, not a JSON object");
		goto fail;
	}
	json_tokener_free(tok);
	return obj;
fail:
	if (obj)
		json_object_put(obj);
	json_tokener_free(tok);
	return NULL;
}

void
jx_add_strlen(struct json_object *obj, const char *key, const char *s, size_t len)
{
	json_object_object_add(obj, key, json_object_new_string_len(s, (int)len));
}

const char *
jx_text(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

struct json_object *
jx_new_number(double d)
{
	char text[32];

	if (isfinite(d) && d == floor(d) && fabs(d) < 9e15)
		return json_object_new_int64((int64_t)d);
	/* the shortest text that reads back as d: 1e-06, not 9.99...95e-07 */
	snprintf(text, sizeof text, "%.15g", d);
	if (strtod(text, NULL) != d)
		snprintf(text, sizeof text, "%.17g", d);
	return json_object_new_double_s(d, text);
}
