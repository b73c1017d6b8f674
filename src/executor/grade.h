/* The autograder's grading: one submission against one assignment, in the
 * sandbox. The grading harness (harness/grade.py) loads the submission
 * (turning a marimo notebook into the module `submission`), runs the
 * pytest files and the stdio programs; io tests run through the
 * /evaluate_code harness; stdio output is compared here, by compare.c, and
 * scores and feedback are decided here, never in a process that ran the
 * student's code. */
#ifndef EVALD_GRADE_H
#define EVALD_GRADE_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/job.h"

/* Grades source against def (a normalised assignment, see
 * common/assignment.h) in slot's sandboxes. Returns a new object:
 *   {status: "done"|"error", score, max_points, earned, total,
 *    tests: [{name, visibility, status, points, max_points, message}],
 *    feedback, error, hidden_feedback}
 * status "error" (with error saying why) only when the grader itself
 * failed; a submission that does not load is "done" with score 0. */
struct json_object *grade_run(struct json_object *def, const char *source, size_t len, int slot);

/* Runs a JOB_GRADE job: marks its submission grading, fetches it and its
 * assignment from Redis, grades, and returns the result envelope whose
 * body is grade_run's object. *status is "done" or "error". */
char *grade_job(const struct job *j, int slot, size_t *len, const char **status);

#endif
