/* Typed access to JSON objects that came from outside (request bodies, job
 * payloads), with a sentence naming the field when it is missing or of the
 * wrong type. */
#ifndef EVALD_JSONX_H
#define EVALD_JSONX_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

struct jx_err {
	char detail[256];
};

/* Each getter returns 1 when the field is present and valid, 0 when it is
 * absent (or null) and not required, -1 with e->detail set otherwise.
 * Strings point into obj and live as long as it. */
int jx_string(struct json_object *obj, const char *key, int required, const char **s, size_t *len,
              struct jx_err *e);
int jx_number(struct json_object *obj, const char *key, int required, double min, double max,
              double *out, struct jx_err *e);
int jx_int(struct json_object *obj, const char *key, int required, int64_t min, int64_t max,
           int64_t *out, struct jx_err *e);
int jx_bool(struct json_object *obj, const char *key, int required, int *out, struct jx_err *e);
int jx_array(struct json_object *obj, const char *key, int required, struct json_object **out,
             struct jx_err *e);
int jx_object(struct json_object *obj, const char *key, int required, struct json_object **out,
              struct jx_err *e);

/* Parses untrusted text: strict UTF-8, bounded depth. NULL on failure with
 * a sentence in e. */
struct json_object *jx_parse(const char *s, size_t len, int max_depth, struct jx_err *e);

/* A JSON number: an integer when d is integral (5, not 5.0). */
struct json_object *jx_new_number(double d);
/* Adds a string of known length (binary-safe) to obj. */
void jx_add_strlen(struct json_object *obj, const char *key, const char *s, size_t len);
/* Serialises without escaping '/', as compact text; the pointer lives as long
 * as obj. */
const char *jx_text(struct json_object *obj, size_t *len);

#endif
