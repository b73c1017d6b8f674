/* Submitting jobs and waiting for their results, for the synchronous REPL
 * routes and the async jobs API alike. */
#ifndef EVALD_API_JOBS_H
#define EVALD_API_JOBS_H

#include <json-c/json.h>

#include "api/http.h"
#include "common/job.h"

/* Pushes n jobs on the queue, all or none (batch: they came as a list, and
 * errors name the element). A /run job whose session does
 * not exist is ERR_NO_SESSION. Returns 0, or -1 with resp set (429, 503,
 * 400). */
int jobs_push(struct job *jobs, size_t n, int batch, struct response *resp);
/* Waits up to wait_s for job_id's result. Returns the result body as
 * malloc'd JSON text (a JSON object, *blen bytes) when the job succeeded;
 * NULL with resp set otherwise, including 504 on timeout; *job_failed (may
 * be NULL) is set when the job itself answered an error, as opposed to the
 * store failing. */
char *jobs_wait(const char *job_id, double wait_s, size_t *blen, int *job_failed,
                struct response *resp);

/* Fills a run or evaluate job from a request object (the fields of /run or
 * /evaluate_code). Returns 0, or -1 with resp set; on success the caller
 * sets j->root's reference aside: the job borrows strings from obj. For
 * evaluate jobs with an unknown language, returns 1 after setting resp to
 * the all-failed answer API.md asks for. */
int jobs_from_run_request(struct json_object *obj, struct job *j, struct response *resp);
int jobs_from_evaluate_request(struct json_object *obj, struct job *j, struct response *resp);

/* Runs a REPL job synchronously: push, wait, answer 200 with the result
 * body plus the session id, or an error. */
void jobs_run_sync(struct job *j, struct response *resp);

#endif
