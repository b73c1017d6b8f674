/* The Redis store: one connection per process, opened from the
 * configuration, reopened after an error with a short backoff; and the Lua
 * scripts that make every multi-key change atomic. Key layout (prefix
 * "evald:"):
 *
 *   sess:{id}        hash  rel_path -> type byte + data; "\0b" total bytes,
 *                          "\0n" files and links, "\0d" directories;
 *                          TTL renewed on every use
 *   latency          hash  job latency histogram: bucket -> count, sum_ms
 *   queue            list  job JSON, LPUSH by the API, BLMOVE'd by executors
 *   proc:{eid}:{n}   list  jobs slot n of executor eid is working on
 *   alive            zset  executor id -> lease expiry (ms since epoch)
 *   exec:{eid}       hash  slots (how many processing lists eid has)
 *   job:{job}        string "queued": the job exists (until result_ttl_s)
 *   res:{job}        string result envelope, written once (SET NX)
 *   done:{job}       list  the same envelope; waiters BLMOVE it onto itself,
 *                          so every waiter sees it
 *   tries:{job}      int   how many times a job was popped
 *   dead             list  jobs that failed job_max_tries times (last 1000)
 *   token:{hash}     hash  role, student_id, created
 *   asg:{slug}       string an assignment's definition (common/assignment.h)
 *   asgs             hash  slug -> summary of the assignment
 *   sub:{id}         hash  a submission: assignment student_id source language
 *                          status late created_ms job (the grading job id)
 *                          and, once graded, score max_points result graded_ms
 *   subs             zset  every submission id by created_ms
 *   subs:asg:{slug}  zset  an assignment's submissions by created_ms
 *   subs:stu:{id}    zset  a student's submissions by created_ms
 *   stats            hash  counters for /metrics
 */
#ifndef EVALD_STORE_H
#define EVALD_STORE_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#define KEY_PREFIX "evald:"

/* The scripts; each has a comment with its KEYS and ARGV in store.c. */
enum store_script {
	SCRIPT_SESS_WRITE,
	SCRIPT_SESS_READ,
	SCRIPT_SESS_DELETE,
	SCRIPT_SESS_RENAME,
	SCRIPT_SESS_FORK,
	SCRIPT_SESS_SAVEBACK,
	SCRIPT_JOB_PUSH,
	SCRIPT_JOB_FINISH,
	SCRIPT_REAP,
	SCRIPT_ASG_PUT,
	SCRIPT_SUB_CREATE,
	SCRIPT_SUB_START,
	SCRIPT_REGRADE,
	SCRIPT_GRADEBOOK,
	SCRIPT_COUNT,
};

/* Returns the process's connection, connecting (or reconnecting after an
 * error) first; NULL when Redis cannot be reached, with a warning logged at
 * most once per second. */
redisContext *store_get(void);
/* Drops the connection (after fork, or after a protocol error). */
void store_reset(void);
/* Like redisCommand on store_get(); NULL when unreachable. On a connection
 * error the connection is dropped so the next call reconnects. */
redisReply *store_cmd(const char *fmt, ...);
redisReply *store_cmdargv(int argc, const char **argv, const size_t *lens);
/* INCR key and EXPIRE key ttl_s, and HGETALL also unless it is NULL, in one
 * round trip: the new value, or -1 when the INCR failed. *also_reply is the
 * HGETALL's reply (the caller frees it), or NULL when that failed. */
long long store_incr_expire(const char *key, long long ttl_s, const char *also,
                            redisReply **also_reply);
/* Runs a script with EVALSHA (loading it on NOSCRIPT). argv holds KEYS then
 * ARGV. NULL when unreachable. A script error is returned as a reply of
 * type REDIS_REPLY_ERROR. */
redisReply *store_script(enum store_script s, int nkeys, int argc, const char **argv,
                         const size_t *lens);
/* Sets a read timeout for blocking commands on this connection; ms 0 means
 * the configured default. */
void store_set_timeout(long ms);

#endif
