/* Fuzz target: the save-back stream (workdir_parse, src/executor/workdir.c),
 * which a sandboxed job's init writes and the slot process reads: the most
 * hostile input evald has, since the code under test controls the whole
 * directory it describes.
 *
 * The input is a stream (records: type byte f/x/l/d, u32 path length, u32
 * data length in host order, path, data; then 'Z', or 'O' for "over the
 * limits"). Properties:
 *   - workdir_parse agrees with a reference reader: the same success or
 *     failure, the same overflow flag and the same entries, where a record
 *     whose path path_rel_check rejects is left out;
 *   - every entry has a known type, a path that path_rel_check accepts and
 *     whose C string is exactly path_len long, and terminated data;
 *   - workdir_encode of the entries has the size the format implies and
 *     parses back to the same entries without overflow. */
#include "fuzz.h"

#include "common/path.h"
#include "executor/workdir.h"

struct ref_entry {
	char type;
	size_t path_off, path_len, data_off, data_len;
};

/* Returns the number of entries (filling e, which has room for size / 9),
 * or -1 when the stream is malformed. */
static long
ref_parse(const uint8_t *d, size_t size, struct ref_entry *e, int *overflow)
{
	size_t off = 0;
	long n = 0;

	*overflow = 0;
	for (;;) {
		uint32_t plen, dlen;
		uint8_t t;

		if (off == size)
			return -1;
		t = d[off++];
		if (t == 'Z')
			return n;
		if (t == 'O') {
			*overflow = 1;
			return n;
		}
		if (t != 'f' && t != 'x' && t != 'l' && t != 'd')
			return -1;
		if (size - off < 8)
			return -1;
		memcpy(&plen, d + off, 4);
		memcpy(&dlen, d + off + 4, 4);
		off += 8;
		if ((uint64_t)plen + dlen > size - off)
			return -1;
		if (path_rel_check((const char *)d + off, plen) == NULL) {
			e[n].type = (char)t;
			e[n].path_off = off;
			e[n].path_len = plen;
			e[n].data_off = off + plen;
			e[n].data_len = dlen;
			n++;
		}
		off += (size_t)plen + dlen;
	}
}

static void
check_entry(const struct sb_file *f)
{
	FUZZ_CHECK(f->type == 'f' || f->type == 'x' || f->type == 'l' || f->type == 'd',
	    "entry of type %d", f->type);
	FUZZ_CHECK(path_rel_check(f->path, f->path_len) == NULL, "entry path rejected: %s",
	    path_rel_check(f->path, f->path_len));
	FUZZ_CHECK(strlen(f->path) == f->path_len, "entry path has an inner NUL");
	FUZZ_CHECK(f->data != NULL && f->data[f->len] == '\0', "entry data not terminated");
}

static int
same_entry(const struct sb_file *a, const struct sb_file *b)
{
	return a->type == b->type && a->path_len == b->path_len &&
	       memcmp(a->path, b->path, a->path_len) == 0 && a->len == b->len &&
	       (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ref_entry *want = malloc((size / 9 + 1) * sizeof *want);
	struct sb_file *files = NULL, *again = NULL;
	size_t n = 0, n2 = 0, expect_len = 1;
	int overflow = -1, over2 = -1, wover;
	long wn = ref_parse(data, size, want, &wover);
	int r = workdir_parse((const char *)data, size, &files, &n, &overflow);
	struct buf enc;

	FUZZ_CHECK((r == 0) == (wn >= 0), "workdir_parse returned %d, reference %ld", r, wn);
	if (r < 0) {
		free(want);
		return 0;
	}
	FUZZ_CHECK(overflow == wover, "overflow %d, reference %d", overflow, wover);
	FUZZ_CHECK(n == (size_t)wn, "%zu entries, reference %ld", n, wn);
	for (size_t i = 0; i < n; i++) {
		const struct ref_entry *w = &want[i];
		check_entry(&files[i]);
		FUZZ_CHECK(files[i].type == w->type && files[i].path_len == w->path_len &&
			memcmp(files[i].path, data + w->path_off, w->path_len) == 0 &&
			files[i].len == w->data_len &&
			(w->data_len == 0 ||
			    memcmp(files[i].data, data + w->data_off, w->data_len) == 0),
		    "entry %zu differs from the reference", i);
		expect_len += 9 + files[i].path_len + files[i].len;
	}

	buf_init(&enc);
	workdir_encode(files, n, &enc);
	FUZZ_CHECK(enc.len == expect_len && enc.data[enc.len - 1] == 'Z',
	    "encoding is %zu bytes, expected %zu ending in 'Z'", enc.len, expect_len);
	FUZZ_CHECK(workdir_parse(enc.data, enc.len, &again, &n2, &over2) == 0,
	    "own encoding rejected");
	FUZZ_CHECK(over2 == 0 && n2 == n, "re-parse: %zu entries, overflow %d", n2, over2);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(same_entry(&files[i], &again[i]), "entry %zu changed in a round trip",
		    i);
	sb_files_free(again, n2);
	sb_files_free(files, n);
	buf_free(&enc);
	free(want);
	return 0;
}
