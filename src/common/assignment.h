/* Assignments of the autograder: validation of a definition (assignment.json
 * plus the files it names), loading one from a directory, the views a
 * student and an admin get, and their storage in Redis:
 *
 *   asg:{slug}   string  the normalised definition (JSON, with every file)
 *   asgs         hash    slug -> summary {slug, title, language, max_points,
 *                        due_at, hidden_feedback}
 *
 * The normalised definition is what graders and views read:
 *   {slug, title, description, language, max_points, due_at, due_ms, phase,
 *    starter: {name, content} | null, hidden_feedback, limits: {time_s,
 *    memory_mb}, tests: [{name, kind, visibility, points, ...}], files:
 *    {path: content}, updated_at}
 * where a pytest test carries its file's text as "source" and "files" holds
 * the support files written next to the submission. */
#ifndef EVALD_ASSIGNMENT_H
#define EVALD_ASSIGNMENT_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#define SLUG_MAX 64

/* 1 if slug is 1..64 of [a-z0-9._-], starting with a letter or digit. */
int assignment_slug_valid(const char *slug, size_t len);

/* Validates def (the body of PUT /assignments/{slug}: assignment.json with
 * a "files" map of path -> text). Returns the normalised definition (a new
 * object), or NULL with a sentence in err naming the field ("tests[2].kind:
 * ..."), or the file. def is not changed. */
struct json_object *assignment_validate(struct json_object *def, const char *slug, char *err,
                                        size_t errlen);

/* Reads dir/assignment.json, description.md when present, and every file it
 * names, and validates them as assignment_validate does; the slug is the
 * directory's name. NULL with err naming the file and field on failure. */
struct json_object *assignment_load_dir(const char *dir, char *err, size_t errlen);

/* What any role may see: description, starter, public tests in full,
 * hidden tests only as {count, points}. A new object. */
struct json_object *assignment_public_view(struct json_object *def);

/* The points a pytest file's test functions are worth, as far as reading
 * the text tells (`def test_*` and `@pytest.mark.points(n)` above it): *count
 * functions, returned total. A preview only; the grader collects for real. */
double assignment_pytest_points(const char *source, int *count);

/* Parses an RFC 3339 UTC or offset time ("2026-12-01T23:59:00Z",
 * "...+02:00") into ms since the epoch. 0 or -1. */
int assignment_time_parse(const char *s, int64_t *ms);
/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ" into out (>= 32). */
void assignment_time_format(int64_t ms, char *out, size_t outlen);

/* Storage. put returns 1 when created, 0 when replaced, -1 when Redis
 * fails. get returns the definition (caller puts it), or NULL with *found 0
 * (unknown) or -1 (Redis failed). delete returns 1, 0 (unknown) or -1. */
int assignment_put(struct json_object *def);
struct json_object *assignment_get(const char *slug, int *found);
int assignment_delete(const char *slug);
/* The summary {slug, title, language, max_points, due_at,
 * hidden_feedback} of one assignment (what submitting and reading a result
 * need, without its files), or NULL with
 * *found 0 (unknown) or -1 (Redis failed). */
struct json_object *assignment_summary(const char *slug, int *found);
/* The summaries of every assignment sorted by slug, or NULL when Redis
 * fails. */
struct json_object *assignment_list(void);

#endif
