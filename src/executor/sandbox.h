/* The sandbox: one fresh set of namespaces per job (user, PID, network,
 * mount, IPC, UTS), a minimal read-only root with a private tmpfs work
 * directory, rlimits, a clean environment, a wall-clock limit that ends
 * every process the job made, and output captured through capped pipes.
 *
 * Process shape: the slot process (which holds the Redis connection) clones
 * an init process into the new namespaces. Init closes every descriptor but
 * the job's pipes, builds the root, writes the job's files, then forks the
 * job process, which drops to an unprivileged id and execs. When the job
 * process ends (or the wall limit passes) init kills everything left in the
 * PID namespace, reports the status and streams the work directory back. */
#ifndef EVALD_SANDBOX_H
#define EVALD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* The verdicts of API.md. */
enum sandbox_status {
	SB_OK,             /* exited 0 */
	SB_RUNTIME_ERROR,  /* non-zero exit or a signal */
	SB_TIMEOUT,        /* wall or CPU limit */
	SB_MEMORY_LIMIT,   /* killed or failed for memory */
	SB_OUTPUT_LIMIT,   /* stdout + stderr over the cap */
	SB_INTERNAL_ERROR, /* the sandbox itself failed */
};

/* A file of a session, to materialise or as read back. */
struct sb_file {
	char type; /* 'f' file, 'x' executable, 'l' symlink, 'd' directory */
	char *path;
	size_t path_len;
	char *data; /* file content or link target */
	size_t len;
};

struct sandbox_spec {
	/* prepare time */
	int warm;                /* start argv at once; it waits for stdin (the harness) */
	int zygote;              /* argv[0] is python: start the zygote, serve many jobs */
	int shell_ahead;         /* every job is /bin/sh -c CMD: the shell is started before
	                          * its job and reads CMD as its script (sandbox.c) */
	const char *zygote_data; /* the zygote's compiled code */
	size_t zygote_len;
	const char *zygote_mod_data; /* its C module (_zygote.so) */
	size_t zygote_mod_len;
	const char *const *argv; /* argv[0] is a path inside the sandbox */
	const char *stdin_data;
	size_t stdin_len;
	const struct sb_file *files; /* written into /work before the run */
	size_t nfiles;
	const char *extra_name; /* a file placed at /run/evald/<name> (the harness) */
	const char *extra_data;
	size_t extra_len;
	int result_fd; /* give the job a pipe on fd 3 and collect it */
	/* Zygote only: return as soon as the result pipe is closed holding a
	 * whole JSON object (the harness's answer), status ok; how the job's
	 * processes ended is collected before the sandbox's next job. */
	int answer_early;
	int save_back; /* stream /work back when the job ends */
	int64_t wall_ms;
	int64_t cpu_s;
	int64_t as_bytes;
	int64_t nproc;
	int64_t fsize_bytes;
	int64_t nofile;
	int64_t stack_bytes;
	int64_t tmpfs_bytes;
	int64_t output_max;
	int64_t save_max_bytes; /* cap on what save-back may return */
	int64_t save_max_files;
	int slot; /* selects the unprivileged ids */
};

struct sandbox_result {
	enum sandbox_status status;
	int exit_code; /* exit status, or -signal as Python's subprocess */
	int term_signal;
	struct buf out, err, res;
	int truncated;
	int64_t time_ms, cpu_ms, memory_kb;
	struct sb_file *files; /* save-back, when asked */
	size_t nfiles;
	int save_overflow; /* the work directory was over the session limits */
	int cgroup;        /* a cgroup's limits applied, not only rlimits */
	char error[256];   /* for SB_INTERNAL_ERROR */
};

/* Runs spec. Returns 0 with res filled (any verdict), or -1 when the sandbox
 * could not be built (res->error says why). Free res with
 * sandbox_result_free either way. */
int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *res);

/* The same in two steps, so a sandbox can be built before its job arrives.
 * sandbox_prepare uses spec's limits, slot, extra file and result_fd, and
 * when spec->warm starts spec->argv at once (it blocks reading stdin).
 * NULL on failure with err set. */
struct sandbox *sandbox_prepare(const struct sandbox_spec *spec, char *err, size_t errlen);
/* Runs job's argv (unless warm), stdin, files, wall_ms, cpu_s and save_back
 * in sb, which is consumed whatever happens. Returns as sandbox_run. A
 * sandbox serves exactly one job. */
int sandbox_exec(struct sandbox *sb, const struct sandbox_spec *job, struct sandbox_result *res);
/* Runs job in a zygote sandbox (prepared with spec->zygote), which
 * survives it: each job gets its own nested user, mount, PID and IPC
 * namespaces, work directory, /tmp and limits, forked from the warm
 * harness. Returns 0 with res filled, 1 when the job could not be run but
 * the sandbox can serve the next, -1 when the sandbox must be discarded. */
int sandbox_zygote_exec(struct sandbox *sb, const struct sandbox_spec *job,
                        struct sandbox_result *res);
/* Reads the end of a zygote job that answered early (answer_early): waits,
 * until that job's deadline, for the report that its processes have ended.
 * Call before the slot starts any other job, so that no two jobs of a slot
 * ever run at once. Returns 0 (also when nothing is pending), or -1 with
 * err set when the zygote did not report, or reported a failure: discard
 * the sandbox then. */
int sandbox_settle(struct sandbox *sb, char *err, size_t errlen);
/* Makes this process's empty network namespace, shared by its sandboxes
 * one job at a time (call once per slot). Returns 0, or -1 with err set;
 * sandboxes then get a network namespace of their own each. */
int sandbox_netns_init(char *err, size_t errlen);
/* Reaps finished sandboxes' inits and removes their cgroups; block waits
 * for all of them (before the slot exits). */
void sandbox_reap(int block);
/* Ends a prepared sandbox that will not be used. */
void sandbox_discard(struct sandbox *sb);
void sandbox_result_free(struct sandbox_result *res);
const char *sandbox_status_name(enum sandbox_status s);
void sb_files_free(struct sb_file *f, size_t n);

#endif
