/* Submissions of the autograder and the gradebook, in Redis (the keys are
 * listed in store.h). A submission is created together with its grading
 * job; the executor that grades it writes the outcome into it when the job
 * finishes (store.c's JOB_FINISH), so no submission stays queued or
 * grading once its job has ended, however it ended. Shared by the API and
 * evalctl. */
#ifndef EVALD_SUBMISSION_H
#define EVALD_SUBMISSION_H

#include <json-c/json.h>
#include <stddef.h>

#include "common/job.h"

/* What submission_create and submission_regrade can say. */
enum submission_rc {
	SUB_OK = 0,             /* done */
	SUB_STORE_FAILED = -1,  /* Redis unreachable or failing */
	SUB_BUSY = -2,          /* the queue is over queue_max_depth */
	SUB_NO_ASSIGNMENT = -4, /* the assignment does not exist (any more) */
};

/* Stores a submission and queues its grading job, atomically. id receives
 * the new submission id. */
enum submission_rc submission_create(const char *slug, const char *student, const char *source,
                                     size_t source_len, int late, double max_points,
                                     char id[JOB_ID_LEN + 1]);

/* The submission as GET /results shows it to an admin: submission_id,
 * assignment, student_id, status, score, max_points, late, created_at,
 * graded_at, tests, feedback, error (when status is error), and
 * hidden_feedback (the mode it was graded under). NULL with *found 0
 * (unknown id) or -1 (Redis failed). with_source adds "source". */
struct json_object *submission_get(const char *id, int with_source, int *found);

/* The summary (as in GET /assignments) of the assignment submission id was
 * made to, in one round trip. NULL with *found 0 when that assignment was
 * deleted (another may have been made under the same slug since), -1 when
 * Redis failed or the stored text is unreadable. */
struct json_object *submission_assignment(const char *id, int *found);

/* Rows {submission_id, assignment, student_id, status, score, max_points,
 * late, created_at, graded_at}, newest first, filtered by slug and/or
 * student (either may be NULL), at most limit. NULL when Redis fails. */
struct json_object *submission_list(const char *slug, const char *student, int limit);

/* Queues every submission of slug for grading again. Returns how many, or
 * a negative enum submission_rc. */
int submission_regrade(const char *slug);

/* {assignments: [slug...], students: [{student_id, scores: {slug: best},
 * total}]}: the best graded score per student and assignment (null when
 * none is graded yet), students sorted by id. NULL when Redis fails. */
struct json_object *submission_gradebook(void);
/* The same as CSV text: student_id, one column per assignment, total.
 * malloc'd. */
char *submission_gradebook_csv(struct json_object *gradebook, size_t *len);

/* 1 if id looks like a submission id (a lowercase UUID). */
int submission_id_valid(const char *id, size_t len);

#endif
