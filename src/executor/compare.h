/* Output comparators for graded stdin/stdout tests (the autograder's
 * "stdio" kind): the verdict is decided here, in the executor, never in the
 * process that ran the student's code. */
#ifndef EVALD_COMPARE_H
#define EVALD_COMPARE_H

#include <stddef.h>

enum compare_mode {
	COMPARE_EXACT,  /* byte for byte */
	COMPARE_TRIM,   /* trailing whitespace of each line and trailing empty lines ignored */
	COMPARE_TOKENS, /* the same whitespace-separated tokens */
	COMPARE_FLOAT,  /* tokens; numbers equal within a tolerance */
};

/* Parses "exact", "trim", "tokens" or "float". Returns 0 or -1. */
int compare_mode_parse(const char *name, enum compare_mode *mode);
/* 1 when got matches expected under mode, else 0. tolerance is used by
 * COMPARE_FLOAT: |got - expected| <= tolerance * max(1, |expected|). */
int compare_output(enum compare_mode mode, const char *expected, size_t elen, const char *got,
                   size_t glen, double tolerance);

#endif
