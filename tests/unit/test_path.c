#include <stdlib.h>
#include <string.h>

#include "common/path.h"
#include "tap.h"

static int
valid(const char *p)
{
	return path_rel_check(p, strlen(p)) == NULL;
}

int
main(void)
{
	char big[5000];
	size_t n;
	char *c;

	ok(path_session_id_valid("abc-DEF_123", 11), "letters, digits, - and _");
	ok(!path_session_id_valid("", 0), "empty id refused");
	ok(!path_session_id_valid("a/b", 3), "slash refused");
	ok(!path_session_id_valid("a.b", 3), "dot refused");
	ok(!path_session_id_valid("a b", 3), "space refused");
	memset(big, 'a', 129);
	ok(path_session_id_valid(big, 128), "128 characters accepted");
	ok(!path_session_id_valid(big, 129), "129 characters refused");

	ok(valid("a.py"), "plain file");
	ok(valid("dir/sub/a.py"), "nested");
	ok(valid("..a/b..c"), "dots inside names are fine");
	ok(valid("./a"), "a '.' component is allowed and cleaned");
	ok(!valid(""), "empty refused");
	ok(!valid("/etc/passwd"), "absolute refused");
	ok(!valid(".."), "'..' refused");
	ok(!valid("a/../b"), "'..' in the middle refused");
	ok(!valid("a/.."), "trailing '..' refused");
	ok(!valid("a//b"), "empty component refused");
	ok(!valid("a/"), "trailing slash refused");
	ok(path_rel_check("a\0b", 3) != NULL, "NUL refused");
	memset(big, 'a', sizeof big);
	for (int i = 100; i < 4500; i += 100)
		big[i] = '/';
	ok(path_rel_check(big, 4096) == NULL, "4096 bytes accepted");
	ok(path_rel_check(big, 4097) != NULL, "4097 bytes refused");
	memset(big, 'a', 300);
	ok(path_rel_check(big, 300) != NULL, "a 300-byte component refused");

	c = path_rel_clean("./a/./b", 7, &n);
	is_str(c, "a/b", "'.' components removed");
	ok(n == 3, "cleaned length");
	free(c);
	c = path_rel_clean(".", 1, &n);
	ok(n == 0, "'.' alone cleans to nothing");
	free(c);
	return tap_done();
}
