#include <string.h>

#include "executor/compare.h"
#include "tap.h"

static int
cmp(enum compare_mode m, const char *e, const char *g)
{
	return compare_output(m, e, strlen(e), g, strlen(g), 1e-6);
}

int
main(void)
{
	enum compare_mode m;

	ok(compare_mode_parse("trim", &m) == 0 && m == COMPARE_TRIM, "parse trim");
	ok(compare_mode_parse("fuzzy", &m) < 0, "unknown mode refused");

	ok(cmp(COMPARE_EXACT, "3\n", "3\n"), "exact: same");
	ok(!cmp(COMPARE_EXACT, "3\n", "3"), "exact: a missing newline differs");

	ok(cmp(COMPARE_TRIM, "1 2\n3\n", "1 2   \n3"), "trim: trailing blanks and final newline");
	ok(cmp(COMPARE_TRIM, "a\n", "a\r\n\n\n"), "trim: CRLF and trailing empty lines");
	ok(!cmp(COMPARE_TRIM, "a b\n", "a  b\n"), "trim: inner spaces count");
	ok(!cmp(COMPARE_TRIM, "a\nb\n", "a\n\nb\n"), "trim: an inner empty line counts");
	ok(!cmp(COMPARE_TRIM, "a\n", " a\n"), "trim: leading spaces count");
	ok(cmp(COMPARE_TRIM, "", "\n \n"), "trim: empty equals blank");

	ok(cmp(COMPARE_TOKENS, "1 2\n3", "1\n2 3\n\n"), "tokens: whitespace-insensitive");
	ok(!cmp(COMPARE_TOKENS, "1 2 3", "1 2"), "tokens: a missing token differs");
	ok(!cmp(COMPARE_TOKENS, "1 2", "1 2 3"), "tokens: an extra token differs");

	ok(cmp(COMPARE_FLOAT, "0.3333333", "0.33333333333"), "float: within tolerance");
	ok(!cmp(COMPARE_FLOAT, "0.333", "0.334"), "float: outside tolerance");
	ok(cmp(COMPARE_FLOAT, "1000000", "1000000.5e0"), "float: relative to the expected size");
	ok(!cmp(COMPARE_FLOAT, "1", "1.00001"), "float: near 1 the tolerance is absolute");
	ok(cmp(COMPARE_FLOAT, "1e12", "1000000000000.0001"), "float: relative for large values");
	ok(cmp(COMPARE_FLOAT, "x 1.0", "x 1"), "float: words must match, numbers compare");
	ok(cmp(COMPARE_FLOAT, "nan", "nan"), "float: equal text is equal, number or not");
	ok(!cmp(COMPARE_FLOAT, "1", "inf"), "float: inf is not a number here");
	return tap_done();
}
