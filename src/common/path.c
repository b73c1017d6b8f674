#include "common/path.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>

int
path_session_id_valid(const char *id, size_t len)
{
	if (len < 1 || len > SESSION_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

const char *
path_rel_check(const char *p, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return "the path is empty";
	if (len > REL_PATH_MAX)
		return "the path is longer than 4096 bytes";
	if (memchr(p, '\0', len) != NULL)
		return "the path contains a NUL byte";
	if (!utf8_valid(p, len))
		return "the path is not valid UTF-8";
	if (p[0] == '/')
		return "the path must be relative (it starts with '/')";
	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		size_t n = i - start;
		if (n == 0)
			return "the path has an empty component ('//' or a trailing '/')";
		if (n == 2 && p[start] == '.' && p[start + 1] == '.')
			return "the path has a '..' component";
		if (n > 255)
			return "a path component is longer than 255 bytes";
		start = i + 1;
	}
	return NULL;
}

char *
path_rel_clean(const char *p, size_t len, size_t *outlen)
{
	char *out = xmalloc(len + 1);
	size_t o = 0, start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && p[i] != '/')
			continue;
		if (!(i - start == 1 && p[start] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p + start, i - start);
			o += i - start;
		}
		start = i + 1;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}
