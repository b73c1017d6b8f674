/* The seccomp filter of the job process (libseccomp): everything allowed
 * but the system calls code under test never needs, which fail with EPERM;
 * foreign architectures (x32, i386 on x86_64) are killed outright. */
#ifndef EVALD_FILTER_H
#define EVALD_FILTER_H

/* Compiles the filter once, in the executor before any sandbox. Returns 0
 * or -1. */
int filter_init(void);
/* Loads the compiled filter into the calling process. Returns 0, or -1 with errno
 * set. Needs no_new_privs (or CAP_SYS_ADMIN) first. */
int filter_load(void);
/* Writes the filter as a raw BPF program to fd (for the zygote, which
 * loads it with prctl in each job process). Returns 0 or -1. */
int filter_export(int fd);
/* The number of rules, for --self-test. */
int filter_rule_count(void);

#endif
