#include "executor/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
compare_mode_parse(const char *name, enum compare_mode *mode)
{
	static const struct {
		const char *name;
		enum compare_mode mode;
	} modes[] = {{"exact", COMPARE_EXACT},
	             {"trim", COMPARE_TRIM},
	             {"tokens", COMPARE_TOKENS},
	             {"float", COMPARE_FLOAT}};

	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
		if (strcmp(name, modes[i].name) == 0) {
			*mode = modes[i].mode;
			return 0;
		}
	return -1;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* The length of s once trailing whitespace and trailing empty lines are
 * cut, and the next line of s from *pos (its end without trailing blanks).
 * Returns 0 at the end. */
static int
next_line(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
	size_t p = *pos, e;

	if (p >= len)
		return 0;
	*start = p;
	while (p < len && s[p] != '\n')
		p++;
	e = p;
	while (e > *start && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'))
		e--;
	*end = e;
	*pos = p < len ? p + 1 : p;
	return 1;
}

/* s without its trailing whitespace (so trailing empty lines go too). */
static size_t
trimmed_len(const char *s, size_t len)
{
	while (len > 0 && is_space(s[len - 1]))
		len--;
	return len;
}

static int
compare_trim(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t pa = 0, pb = 0, sa, ea, sb, eb;
	int ha, hb;

	alen = trimmed_len(a, alen);
	blen = trimmed_len(b, blen);
	for (;;) {
		ha = next_line(a, alen, &pa, &sa, &ea);
		hb = next_line(b, blen, &pb, &sb, &eb);
		if (!ha || !hb)
			return ha == hb;
		if (ea - sa != eb - sb || memcmp(a + sa, b + sb, ea - sa) != 0)
			return 0;
	}
}

/* The next whitespace-separated token from *pos. Returns 0 at the end. */
static int
next_token(const char *s, size_t len, size_t *pos, size_t *start, size_t *tlen)
{
	size_t p = *pos;

	while (p < len && is_space(s[p]))
		p++;
	if (p >= len)
		return 0;
	*start = p;
	while (p < len && !is_space(s[p]))
		p++;
	*tlen = p - *start;
	*pos = p;
	return 1;
}

/* Parses a whole token as a finite number. Returns 1 on success. */
static int
token_number(const char *s, size_t len, double *out)
{
	char buf[128], *end;

	if (len == 0 || len >= sizeof buf)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, &end);
	return *end == '\0' && isfinite(*out);
}

static int
compare_tokens(const char *a, size_t alen, const char *b, size_t blen, int numeric,
               double tolerance)
{
	size_t pa = 0, pb = 0, sa, la, sb, lb;
	int ha, hb;

	for (;;) {
		ha = next_token(a, alen, &pa, &sa, &la);
		hb = next_token(b, blen, &pb, &sb, &lb);
		if (!ha || !hb)
			return ha == hb;
		if (la == lb && memcmp(a + sa, b + sb, la) == 0)
			continue;
		if (numeric) {
			double x, y;
			if (token_number(a + sa, la, &x) && token_number(b + sb, lb, &y) &&
			    fabs(x - y) <= tolerance * fmax(1.0, fabs(x)))
				continue;
		}
		return 0;
	}
}

int
compare_output(enum compare_mode mode, const char *expected, size_t elen, const char *got,
               size_t glen, double tolerance)
{
	switch (mode) {
	case COMPARE_EXACT:
		return elen == glen && memcmp(expected, got, elen) == 0;
	case COMPARE_TRIM:
		return compare_trim(expected, elen, got, glen);
	case COMPARE_TOKENS:
		return compare_tokens(expected, elen, got, glen, 0, 0);
	case COMPARE_FLOAT:
		return compare_tokens(expected, elen, got, glen, 1, tolerance);
	}
	return 0;
}
