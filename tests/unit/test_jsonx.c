#include <stdlib.h>
#include <string.h>

#include "common/jsonx.h"
#include "tap.h"

int
main(void)
{
	struct jx_err e;
	struct json_object *o;
	const char *s;
	size_t len;
	double d;
	int64_t n;
	char *deep;
	const char *text;

	text = "{\"id\": \"x\", \"n\": 3, \"f\": 1.5, \"a\": [1]}";
	o = jx_parse(text, strlen(text), 64, &e);
	ok(o != NULL, "parses an object");
	ok(jx_string(o, "id", 1, &s, &len, &e) == 1 && strcmp(s, "x") == 0, "string field");
	ok(jx_string(o, "missing", 0, &s, &len, &e) == 0, "absent optional field");
	ok(jx_string(o, "missing", 1, &s, &len, &e) == -1 && strstr(e.detail, "'missing'"),
	   "absent required field is named: %s", e.detail);
	ok(jx_string(o, "n", 1, &s, &len, &e) == -1 && strstr(e.detail, "must be a string"),
	   "wrong type is named: %s", e.detail);
	ok(jx_number(o, "f", 1, 0, 10, &d, &e) == 1 && d == 1.5, "number field");
	ok(jx_number(o, "f", 1, 2, 10, &d, &e) == -1, "number out of range");
	ok(jx_int(o, "n", 1, 0, 10, &n, &e) == 1 && n == 3, "int field");
	ok(jx_int(o, "f", 1, 0, 10, &n, &e) == -1, "float is not an int");
	ok(jx_array(o, "a", 1, &(struct json_object *){NULL}, &e) == 1, "array field");
	json_object_put(o);

	ok(jx_parse("{\"a\": ", 6, 64, &e) == NULL, "truncated JSON refused: %s", e.detail);
	ok(jx_parse("{} x", 4, 64, &e) == NULL, "trailing garbage refused");
	ok(jx_parse("{\"a\": \"\xff\"}", 10, 64, &e) == NULL, "invalid UTF-8 refused");
	ok(jx_parse("{'a': 1}", 8, 64, &e) == NULL, "single quotes refused");
	o = jx_parse("{\"a\": 1}  \n", 11, 64, &e);
	ok(o != NULL, "trailing whitespace accepted");
	json_object_put(o);

	deep = malloc(200001);
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	deep[200000] = '\0';
	ok(jx_parse(deep, 200000, 64, &e) == NULL, "100 000 levels deep refused");
	free(deep);

	o = jx_parse("{\"s\": \"a\\u0000b\"}", 17, 64, &e);
	ok(o != NULL && jx_string(o, "s", 1, &s, &len, &e) == 1 && len == 3,
	   "strings with NUL keep their length");
	json_object_put(o);
	return tap_done();
}
