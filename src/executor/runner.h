/* Language runners: turn a job into a sandbox run and the run into the
 * result the API returns. /run is `/bin/sh -c cmd` over the session's
 * files, saved back afterwards; /evaluate_code is the Python harness. */
#ifndef EVALD_RUNNER_H
#define EVALD_RUNNER_H

#include <stddef.h>

#include "common/job.h"

/* Loads the harness from harness_dir; fatal when it is missing. */
void runner_init(void);
/* Builds this slot's sandboxes for the next jobs, when missing. */
void runner_prepare(int slot);
/* Ends them (before the slot exits). */
void runner_discard(void);
/* Runs one evaluation end to end (zygote or one-shot, as configured).
 * Returns 0 when it passed, else -1 with err set. */
int runner_probe(char *err, size_t errlen);
/* Runs j in slot's sandbox. Returns the malloc'd result envelope; *status is
 * set to the verdict's name for metrics. */
char *runner_run(const struct job *j, int slot, size_t *len, const char **status);

#endif
