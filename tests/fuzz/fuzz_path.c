/* Fuzz target: the names clients give (src/common/path.c).
 *
 * The input is one candidate name, used whole as a relative path and as a
 * session id. Properties:
 *   - path_session_id_valid accepts exactly 1..128 bytes of [A-Za-z0-9_-];
 *   - path_rel_check accepts exactly the paths of API.md's rules (checked
 *     component by component here): 1..4096 bytes, no NUL, valid UTF-8, not
 *     starting with '/', no empty component, no ".." component, no
 *     component over 255 bytes; a rejected path gets a sentence;
 *   - path_rel_clean of an accepted path drops exactly the "." components,
 *     is accepted again (or empty), is no longer than its input, has no "."
 *     component left and is idempotent. */
#include "fuzz.h"

#include "common/path.h"

static int
session_id_ref(const uint8_t *p, size_t n)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789_-";

	if (n < 1 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\0' || strchr(ok, p[i]) == NULL)
			return 0;
	return 1;
}

/* Walks the '/'-separated components of p[0..n): calls back with each one;
 * stops and returns 0 when the callback does. */
static int
each_component(const uint8_t *p, size_t n, int (*fn)(const uint8_t *, size_t, void *),
    void *arg)
{
	const uint8_t *end = p + n;

	for (;;) {
		const uint8_t *slash = memchr(p, '/', (size_t)(end - p));
		const uint8_t *stop = slash ? slash : end;
		if (!fn(p, (size_t)(stop - p), arg))
			return 0;
		if (slash == NULL)
			return 1;
		p = slash + 1;
	}
}

static int
component_ok(const uint8_t *c, size_t n, void *arg)
{
	(void)arg;
	return n >= 1 && n <= 255 && !(n == 2 && c[0] == '.' && c[1] == '.');
}

static int
path_ref(const uint8_t *p, size_t n)
{
	if (n < 1 || n > 4096 || memchr(p, '\0', n) != NULL || !fuzz_utf8_ok(p, n) ||
	    p[0] == '/')
		return 0;
	return each_component(p, n, component_ok, NULL);
}

/* Appends the non-"." components of a path to a buffer, '/'-joined. */
struct joined {
	char *s;
	size_t len;
};

static int
join_not_dot(const uint8_t *c, size_t n, void *arg)
{
	struct joined *j = arg;

	if (n == 1 && c[0] == '.')
		return 1;
	if (j->len)
		j->s[j->len++] = '/';
	memcpy(j->s + j->len, c, n);
	j->len += n;
	return 1;
}

static int
no_dot(const uint8_t *c, size_t n, void *arg)
{
	(void)arg;
	return !(n == 1 && c[0] == '.');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *why;
	struct joined want;
	char *clean, *again;
	size_t clen, alen;

	FUZZ_CHECK(path_session_id_valid(p, size) == session_id_ref(data, size),
	    "path_session_id_valid disagrees with [A-Za-z0-9_-]{1,128} (len %zu)", size);

	why = path_rel_check(p, size);
	FUZZ_CHECK((why == NULL) == path_ref(data, size),
	    "path_rel_check says \"%s\" but the rules say %s (len %zu)", why ? why : "valid",
	    path_ref(data, size) ? "valid" : "invalid", size);
	if (why != NULL) {
		FUZZ_CHECK(*why != '\0', "an empty rejection sentence");
		return 0;
	}
	/* Spelled out, the guarantees callers rely on. */
	FUZZ_CHECK(size >= 1 && size <= REL_PATH_MAX, "accepted length %zu", size);
	FUZZ_CHECK(memchr(p, '\0', size) == NULL, "accepted a NUL byte");
	FUZZ_CHECK(fuzz_utf8_ok(data, size), "accepted invalid UTF-8");
	FUZZ_CHECK(p[0] != '/', "accepted an absolute path");

	clean = path_rel_clean(p, size, &clen);
	FUZZ_CHECK(clean != NULL, "path_rel_clean failed");
	FUZZ_CHECK(clean[clen] == '\0' && strlen(clean) == clen, "clean output not terminated");
	FUZZ_CHECK(clen <= size, "clean output longer than its input");
	want.s = malloc(size + 1);
	want.len = 0;
	each_component(data, size, join_not_dot, &want);
	FUZZ_CHECK(want.len == clen && memcmp(want.s, clean, clen) == 0,
	    "path_rel_clean did not drop exactly the '.' components");
	free(want.s);
	if (clen > 0) {
		FUZZ_CHECK(path_rel_check(clean, clen) == NULL, "clean output rejected: %s",
		    path_rel_check(clean, clen));
		FUZZ_CHECK(each_component((const uint8_t *)clean, clen, no_dot, NULL),
		    "clean output still has a '.' component");
	}
	again = path_rel_clean(clean, clen, &alen);
	FUZZ_CHECK(again != NULL && alen == clen && memcmp(again, clean, clen) == 0,
	    "path_rel_clean is not idempotent");
	free(again);
	free(clean);
	return 0;
}
