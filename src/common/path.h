/* Validation of the names clients give: session ids and relative paths
 * inside a session. These rules are API.md's, and the executor applies the
 * same ones to every path it reads back out of a sandbox. */
#ifndef EVALD_PATH_H
#define EVALD_PATH_H

#include <stddef.h>

#define SESSION_ID_MAX 128
#define REL_PATH_MAX 4096

/* 1 if id is 1..128 characters of [A-Za-z0-9_-]. */
int path_session_id_valid(const char *id, size_t len);

/* Checks a relative path. Returns NULL when valid, else a static sentence
 * saying what is wrong (for the `detail` of a 400 invalid_path). */
const char *path_rel_check(const char *p, size_t len);

/* Returns a malloc'd copy of a checked path without its '.' components
 * ("./a/./b" -> "a/b"); *outlen 0 means nothing is left. */
char *path_rel_clean(const char *p, size_t len, size_t *outlen);

#endif
