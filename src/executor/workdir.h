/* A session's files on either side of the sandbox: written into the work
 * directory before a job (materialise), streamed back out of it afterwards
 * without ever following a link (stream), and read back by the slot process,
 * which trusts nothing in the stream (parse).
 *
 * Stream records: type byte ('f', 'x', 'l', 'd'), u32 path length, u32 data
 * length, path, data; then 'Z' at the end, or 'O' when the directory was
 * over the limits and was not sent. */
#ifndef EVALD_WORKDIR_H
#define EVALD_WORKDIR_H

#include <stddef.h>
#include <stdint.h>

#include "executor/sandbox.h"

/* Creates files under root (an absolute directory), owned by uid. Entries
 * with an invalid path or type are skipped. Returns 0 or -1. */
int workdir_materialise(const char *root, const struct sb_file *files, size_t n, int uid);
/* Appends files to out in the stream format, ending with 'Z'. */
void workdir_encode(const struct sb_file *files, size_t n, struct buf *out);
/* Walks root and writes the stream to fd. */
void workdir_stream(const char *root, int fd, int64_t max_bytes, int64_t max_files);
/* Parses a stream. Every path is validated as a client path would be.
 * Returns 0 with a malloc'd array, or -1 when the stream is malformed. */
int workdir_parse(const char *data, size_t len, struct sb_file **out, size_t *n, int *overflow);

#endif
