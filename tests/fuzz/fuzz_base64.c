/* Fuzz target: base64 and UTF-8 validation (src/common/util.c), which decode
 * the file contents clients write (encoding "base64") and vet every text
 * that becomes JSON.
 *
 * The input is used three ways. Properties:
 *   - base64_decode(input) agrees with an RFC 4648 reference decoder (padded,
 *     standard alphabet, no whitespace; non-zero pad bits are accepted, as
 *     section 3.5 permits, and decode to the same bytes);
 *   - when it decodes, encode -> decode gives the same bytes back, and the
 *     encoding is the input with its pad bits cleared (canonical form);
 *   - base64_encode(input) is 4*ceil(n/3) characters of the alphabet and
 *     decodes back to the input;
 *   - utf8_valid(input) agrees with the Unicode Standard's table 3-7. */
#include "fuzz.h"

#include "common/util.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
val(uint8_t c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* Reference decoder. Returns the decoded length, or -1 when malformed; out
 * has room for 3 * size / 4 bytes. */
static long
ref_decode(const uint8_t *s, size_t size, uint8_t *out)
{
	size_t o = 0;
	uint32_t acc;

	if (size % 4 != 0)
		return -1;
	for (size_t i = 0; i < size; i += 4) {
		int last = i + 4 == size;
		int pad = 0;

		if (last && s[i + 3] == '=')
			pad = s[i + 2] == '=' ? 2 : 1;
		acc = 0;
		for (int k = 0; k < 4 - pad; k++) {
			int v = val(s[i + k]);
			if (v < 0)
				return -1;
			acc = acc << 6 | (uint32_t)v;
		}
		acc <<= 6 * pad;
		out[o++] = (uint8_t)(acc >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(acc >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)acc;
	}
	return (long)o;
}

/* The input with the unused bits of its last character cleared: what an
 * encoder would have written for the same bytes. */
static char *
canonical(const uint8_t *s, size_t size)
{
	char *c = fuzz_strndup(s, size);
	size_t pad = 0;

	if (size >= 4 && s[size - 1] == '=')
		pad = s[size - 2] == '=' ? 2 : 1;
	if (pad) {
		int v = val(s[size - 1 - pad]);
		int mask = pad == 2 ? 0x30 : 0x3c;
		c[size - 1 - pad] = alphabet[v & mask];
	}
	return c;
}

static void
check_decode(const uint8_t *data, size_t size)
{
	uint8_t *want = malloc(size / 4 * 3 + 1);
	long wlen = ref_decode(data, size, want);
	char *out = NULL, *enc, *back = NULL, *canon;
	size_t olen = 0, elen, blen;
	int r = base64_decode((const char *)data, size, &out, &olen);

	FUZZ_CHECK((r == 0) == (wlen >= 0), "base64_decode returned %d, reference %ld", r, wlen);
	if (r == 0) {
		FUZZ_CHECK((long)olen == wlen && memcmp(out, want, olen) == 0,
		    "base64_decode gave %zu bytes, reference %ld (or different bytes)", olen,
		    wlen);
		FUZZ_CHECK(out[olen] == '\0', "decoded output not terminated");
		enc = base64_encode(out, olen, &elen);
		canon = canonical(data, size);
		FUZZ_CHECK(elen == size && memcmp(enc, canon, size) == 0,
		    "re-encoding is not the canonical form of the input");
		FUZZ_CHECK(base64_decode(enc, elen, &back, &blen) == 0 && blen == olen &&
			memcmp(back, out, olen) == 0,
		    "decode(encode(decode(x))) != decode(x)");
		free(canon);
		free(back);
		free(enc);
		free(out);
	}
	free(want);
}

static void
check_encode(const uint8_t *data, size_t size)
{
	size_t elen, blen;
	char *enc = base64_encode(data, size, &elen), *back = NULL;

	FUZZ_CHECK(elen == 4 * ((size + 2) / 3), "encoded length %zu for %zu bytes", elen, size);
	FUZZ_CHECK(enc[elen] == '\0' && strlen(enc) == elen, "encoding not terminated");
	for (size_t i = 0; i < elen; i++)
		FUZZ_CHECK(val((uint8_t)enc[i]) >= 0 || (enc[i] == '=' && i + 2 >= elen),
		    "character %zu of the encoding is '%c'", i, enc[i]);
	FUZZ_CHECK(base64_decode(enc, elen, &back, &blen) == 0, "own encoding rejected");
	FUZZ_CHECK(blen == size && (size == 0 || memcmp(back, data, size) == 0),
	    "encode -> decode lost bytes");
	free(back);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode(data, size);
	check_encode(data, size);
	FUZZ_CHECK(utf8_valid((const char *)data, size) == fuzz_utf8_ok(data, size),
	    "utf8_valid says %d, table 3-7 says %d", utf8_valid((const char *)data, size),
	    fuzz_utf8_ok(data, size));
	return 0;
}
