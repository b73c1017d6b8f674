/* Small helpers shared by every evald program: allocation that never returns
 * NULL, a growable byte buffer, base64, UTF-8 validation and clocks. */
#ifndef EVALD_UTIL_H
#define EVALD_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Like asprintf, but fatal() on allocation failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; data is always NUL-terminated for convenience. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};
void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the buffer's storage to the caller and resets the buffer. */
char *buf_steal(struct buf *b, size_t *len);

/* Base64 (RFC 4648, standard alphabet, padded). base64_decode returns -1 on
 * malformed input; whitespace is not accepted. Output is malloc'd. */
char *base64_encode(const void *src, size_t len, size_t *outlen);
int base64_decode(const char *src, size_t len, char **out, size_t *outlen);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t len);

/* Milliseconds from CLOCK_MONOTONIC / CLOCK_REALTIME. */
int64_t now_mono_ms(void);
int64_t now_real_ms(void);

/* Writes all of buf to fd, retrying on EINTR/short writes. 0 or -1. */
int write_all(int fd, const void *buf, size_t len);
/* Reads exactly len bytes. 0 on success, -1 on error or early EOF. */
int read_full(int fd, void *buf, size_t len);
/* Reads a whole file into a malloc'd buffer (at most max bytes). 0 or -1. */
int read_file(const char *path, size_t max, char **out, size_t *outlen);

#endif
