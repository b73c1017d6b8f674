/* A cgroup per sandbox for memory and process limits, where the host
 * delegates one: cgroup v1 memory and pids controllers, or v2 with both
 * enabled. The kernel's own accounting then decides memory_limit. Where no
 * cgroup can be made, rlimits stand in and results say "rlimit". */
#ifndef EVALD_CGROUP_H
#define EVALD_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

struct cgroup {
	char mem[512];  /* v1 memory dir, or the v2 dir */
	char pids[512]; /* v1 pids dir; empty on v2 */
	char cpu[512];  /* v1 cpu dir, when that controller is there */
	int v2;
	/* The files read or written around every job, kept open from the
	 * group's making (no walk down the cgroup tree on a job's path):
	 * valid while files_open. */
	int files_open, oom_fd, peak_fd;
};

/* Finds the controllers and makes evald's parent groups. Returns 1 when
 * cgroups will be used, 0 when not (why says so). */
int cgroup_init(char *why, size_t whylen);
/* 1 once cgroup_init found a usable hierarchy. */
int cgroup_active(void);
/* Makes a group with the limits (memory bytes, processes, CPUs of
 * bandwidth where the cpu controller is delegated) and moves pid into it.
 * Returns 0 or -1. */
int cgroup_enter(struct cgroup *cg, pid_t pid, int64_t mem_bytes, int64_t pids, int64_t cpus);
/* Peak memory use since the last reset, in KiB (pages the group's
 * processes held, their tmpfs files included); -1 when unknown. */
int64_t cgroup_peak_kb(const struct cgroup *cg);
/* Starts peak accounting afresh (before the job starts). */
void cgroup_reset_peak(const struct cgroup *cg);
/* The kernel's count of processes it killed in the group for memory. */
int64_t cgroup_oom_count(const struct cgroup *cg);
/* Closes the files the group keeps open (removing it does too). */
void cgroup_close_files(struct cgroup *cg);
/* Removes the group if it is empty: 0, or -1 while it is still busy. */
int cgroup_try_remove(struct cgroup *cg);
/* Removes the group; its processes must be gone. */
void cgroup_remove(struct cgroup *cg);

#endif
