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
/* Runs j in slot's sandbox. Returns the malloc'd result envelope; *status is
 * set to the verdict's name for metrics. */
char *runner_run(const struct job *j, int slot, size_t *len, const char **status);

#endif
