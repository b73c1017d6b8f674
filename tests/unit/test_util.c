#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tap.h"

int
main(void)
{
	char *enc, *dec;
	size_t n, m;
	const char bin[] = {0, 1, 2, (char)0xff, (char)0xfe, 'a'};

	for (size_t len = 0; len <= sizeof bin; len++) {
		enc = base64_encode(bin, len, &n);
		ok(base64_decode(enc, n, &dec, &m) == 0 && m == len && memcmp(dec, bin, len) == 0,
		   "base64 round trip of %zu bytes (%s)", len, enc);
		free(enc);
		free(dec);
	}
	ok(base64_decode("abc", 3, &dec, &m) < 0, "base64 length not a multiple of 4");
	ok(base64_decode("ab!d", 4, &dec, &m) < 0, "base64 bad character");
	ok(base64_decode("a=bc", 4, &dec, &m) < 0, "base64 padding in the middle");

	ok(utf8_valid("plain", 5), "ascii");
	ok(utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15), "multi-byte");
	ok(!utf8_valid("\xff", 1), "0xff");
	ok(!utf8_valid("\xc3", 1), "truncated sequence");
	ok(!utf8_valid("\xc0\xaf", 2), "overlong");
	ok(!utf8_valid("\xed\xa0\x80", 3), "surrogate");
	ok(!utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
	return tap_done();
}
