/* Fuzz target: query-string decoding (http_query_param, src/api/http.c), the
 * only way a client names a file in GET /read_file.
 *
 * Input: one byte choosing the parameter name the API asks for (id,
 * rel_path, encoding, wait), then the query string, which ends at its first
 * NUL as the one FastCGI hands over does. Properties: the result agrees
 * with a reference decoder (the first '&'-separated segment that is "name"
 * or starts with "name=" decides; "%XX" is a byte, '+' a space, a '%' not
 * followed by two hex digits makes it malformed), the output is terminated,
 * no longer than the raw value, and the same as the raw value when that has
 * no '%' or '+'. */
#include "fuzz.h"

#include "api/http.h"

static const char *const names[] = {"id", "rel_path", "encoding", "wait"};

static int
hex(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c >= 'A' && c <= 'F')
		c = (char)(c - 'A' + 'a');
	p = c ? strchr(digits, c) : NULL;
	return p ? (int)(p - digits) : -1;
}

/* Returns 1 with the decoded value in out (room for strlen(q) bytes) and its
 * length in *olen, 0 when absent, -1 when the deciding segment is
 * malformed. Also returns where the raw value is, for the checks. */
static int
ref_param(const char *q, const char *name, char *out, size_t *olen, const char **raw,
    size_t *rawlen)
{
	size_t nlen = strlen(name);

	while (*q) {
		size_t seg = strcspn(q, "&");
		if (seg == nlen && strncmp(q, name, nlen) == 0) {
			*olen = 0;
			*raw = q + seg;
			*rawlen = 0;
			return 1;
		}
		if (seg > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			const char *v = q + nlen + 1;
			size_t vlen = seg - nlen - 1, o = 0;
			*raw = v;
			*rawlen = vlen;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] == '%') {
					if (vlen - i < 3 || hex(v[i + 1]) < 0 || hex(v[i + 2]) < 0)
						return -1;
					out[o++] = (char)(hex(v[i + 1]) << 4 | hex(v[i + 2]));
					i += 2;
				} else {
					out[o++] = v[i] == '+' ? ' ' : v[i];
				}
			}
			*olen = o;
			return 1;
		}
		q += seg;
		if (*q == '&')
			q++;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *name, *raw = NULL;
	char *q, *want, *out = NULL;
	size_t wlen = 0, olen = 0, rawlen = 0;
	int r, w;

	if (size < 1)
		return 0;
	name = names[data[0] % (sizeof names / sizeof names[0])];
	q = fuzz_strndup(data + 1, size - 1);
	want = malloc(strlen(q) + 1);
	w = ref_param(q, name, want, &wlen, &raw, &rawlen);
	r = http_query_param(q, name, &out, &olen);
	FUZZ_CHECK(r == w, "http_query_param(\"%s\") returned %d, reference %d", name, r, w);
	if (r == 1) {
		FUZZ_CHECK(out != NULL && out[olen] == '\0', "output not terminated");
		FUZZ_CHECK(olen == wlen && memcmp(out, want, olen) == 0,
		    "decoded %zu bytes, reference %zu (or different bytes)", olen, wlen);
		FUZZ_CHECK(olen <= rawlen, "decoded value longer than the raw one");
		if (memchr(raw, '%', rawlen) == NULL && memchr(raw, '+', rawlen) == NULL)
			FUZZ_CHECK(olen == rawlen && memcmp(out, raw, rawlen) == 0,
			    "a value without escapes changed");
		free(out);
	}
	free(want);
	free(q);
	return 0;
}
