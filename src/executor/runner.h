/* Language runners: turn a job into a sandbox run and the run into the
 * result the API returns. /run is `/bin/sh -c cmd` over the session's
 * files, saved back afterwards; /evaluate_code is the Python harness. */
#ifndef EVALD_RUNNER_H
#define EVALD_RUNNER_H

#include <hiredis/hiredis.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "common/job.h"
#include "executor/sandbox.h"

/* Loads the harness from harness_dir; fatal when it is missing. */
void runner_init(void);
/* Builds this slot's sandboxes for the next jobs, when missing. */
void runner_prepare(int slot);
/* Ends them (before the slot exits). */
void runner_discard(void);
/* Runs one evaluation end to end (zygote or one-shot, as configured).
 * Returns 0 when it passed, else -1 with err set. */
int runner_probe(char *err, size_t errlen);
/* Runs j in slot's sandbox. sess is the HGETALL reply of j's session, read
 * with its try count (runner_run frees it), or NULL to read it here. Returns
 * the malloc'd result envelope; *status is set to the verdict's name for
 * metrics. */
char *runner_run(const struct job *j, int slot, redisReply *sess, size_t *len, const char **status);
/* The *status of a job that did not run because the store failed before it
 * could (reading its session, say): the slot hands it back to the queue
 * instead of publishing an answer. */
#define JOB_STATUS_UNAVAILABLE "unavailable"

/* Runs an evaluate job (no session needed) and returns its answer
 * {passed, case_results, error} as the harness wrote it (malloc'd JSON
 * text, *blen bytes), or NULL when there was none. */
char *runner_evaluate(const struct job *j, int slot, size_t *blen);
/* Runs the grading harness on request in a sandbox with wall_ms to finish.
 * Returns as sandbox_exec; the harness's answer is in res->res. */
int runner_grade(const char *request, size_t len, int64_t wall_ms, int slot,
                 struct sandbox_result *res);

#endif
