#include "executor/workdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/path.h"
#include "common/util.h"

/* Makes every directory above path (relative to dirfd). */
static int
make_parents(int dirfd, const char *path, int uid)
{
	char tmp[REL_PATH_MAX + 1];
	size_t len = strlen(path);

	if (len > REL_PATH_MAX)
		return -1;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdirat(dirfd, tmp, 0755) == 0) {
			if (fchownat(dirfd, tmp, uid, uid, AT_SYMLINK_NOFOLLOW) < 0)
				return -1;
		} else if (errno != EEXIST) {
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct sb_file *const *x = a, *const *y = b;
	return strcmp((*x)->path, (*y)->path);
}

/* Creates one entry; ENOENT means a parent is missing. */
static int
make_entry(int dirfd, const struct sb_file *f, int uid)
{
	int fd;

	switch (f->type) {
	case 'd':
		if (mkdirat(dirfd, f->path, 0755) < 0)
			return errno == EEXIST ? 0 : -1;
		return fchownat(dirfd, f->path, uid, uid, AT_SYMLINK_NOFOLLOW);
	case 'l':
		if (memchr(f->data, '\0', f->len) != NULL)
			return 0;
		if (symlinkat(f->data, dirfd, f->path) < 0)
			return errno == EEXIST ? 0 : -1;
		return fchownat(dirfd, f->path, uid, uid, AT_SYMLINK_NOFOLLOW);
	case 'f':
	case 'x':
		fd = openat(dirfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            f->type == 'x' ? 0755 : 0644);
		if (fd < 0)
			return errno == EEXIST ? 0 : -1;
		if (write_all(fd, f->data, f->len) < 0 || fchown(fd, uid, uid) < 0) {
			close(fd);
			errno = EIO;
			return -1;
		}
		close(fd);
		return 0;
	}
	return 0;
}

int
workdir_materialise(const char *root, const struct sb_file *files, size_t n, int uid)
{
	const struct sb_file **order;
	int dirfd, rc = 0;

	dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	/* In path order a directory comes before what is in it, so parents
	 * exist already and each entry costs one system call. */
	order = xcalloc(n + 1, sizeof *order);
	for (size_t i = 0; i < n; i++)
		order[i] = &files[i];
	qsort(order, n, sizeof *order, entry_cmp);
	const char *failed = NULL; /* a directory that could not be made */
	size_t flen = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct sb_file *f = order[i];

		if (path_rel_check(f->path, f->path_len) != NULL || strlen(f->path) != f->path_len)
			continue;
		/* Nothing under a directory that failed can be made: skip it
		 * rather than fail again once per entry. */
		if (failed != NULL && f->path_len > flen && memcmp(f->path, failed, flen) == 0 &&
		    f->path[flen] == '/')
			continue;
		errno = 0;
		if (make_entry(dirfd, f, uid) < 0 && errno == ENOENT) {
			/* a parent no entry named: make it, then retry */
			if (make_parents(dirfd, f->path, uid) < 0) {
				failed = f->path, flen = f->path_len;
				continue;
			}
			errno = 0;
			(void)make_entry(dirfd, f, uid);
		}
		if (errno != 0 && f->type == 'd')
			failed = f->path, flen = f->path_len;
		/* A write that failed loses data; a name that clashes (a file
		 * where a directory was) is left out. */
		if (errno == EIO)
			rc = -1;
	}
	free(order);
	close(dirfd);
	return rc;
}

struct walk {
	int fd;
	struct buf out;
	int64_t bytes, files, dirs, max_bytes, max_files;
	int over;
};

static void
record(struct buf *out, char type, const char *path, size_t plen, const char *data, size_t dlen)
{
	uint32_t a = (uint32_t)plen, b = (uint32_t)dlen;

	buf_append(out, &type, 1);
	buf_append(out, &a, 4);
	buf_append(out, &b, 4);
	buf_append(out, path, plen);
	buf_append(out, data, dlen);
}

static void
emit(struct walk *w, char type, const char *path, size_t plen, const char *data, size_t dlen)
{
	record(&w->out, type, path, plen, data, dlen);
}

void
workdir_encode(const struct sb_file *files, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++)
		record(out, files[i].type, files[i].path, files[i].path_len, files[i].data,
		       files[i].len);
	buf_append(out, "Z", 1);
}

/* Walks directory dfd whose path relative to the root is prefix. Links are
 * read, never followed; anything but files, links and directories is left
 * out. */
static void
walk_dir(struct walk *w, int dfd, const char *prefix, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (d == NULL) {
		close(dfd);
		return;
	}
	while (!w->over && (de = readdir(d)) != NULL) {
		struct stat st;
		char *path;
		size_t plen;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		path = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		plen = strlen(path);
		if (plen > REL_PATH_MAX || depth > REL_PATH_MAX / 2 + 1) {
			free(path);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;
			if (++w->dirs > w->max_files + 2048) {
				w->over = 1;
				free(path);
				break;
			}
			sub = openat(dfd, de->d_name,
			             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			emit(w, 'd', path, plen, "", 0);
			if (sub >= 0)
				walk_dir(w, sub, path, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			/* Static, not on the stack: this recursion is as deep as
			 * the job made its directories. */
			static char target[REL_PATH_MAX + 1];
			ssize_t n = readlinkat(dfd, de->d_name, target, sizeof target - 1);
			if (n >= 0) {
				if (++w->files > w->max_files || (w->bytes += n) > w->max_bytes)
					w->over = 1;
				else
					emit(w, 'l', path, plen, target, (size_t)n);
			}
		} else if (S_ISREG(st.st_mode)) {
			int fd =
			    openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
			char *data = NULL;
			size_t dlen = 0;
			if (++w->files > w->max_files || (w->bytes += st.st_size) > w->max_bytes) {
				w->over = 1;
			} else if (fd >= 0) {
				static char tmp[65536];
				struct buf b;
				ssize_t n;
				buf_init(&b);
				while ((n = read(fd, tmp, sizeof tmp)) > 0 &&
				       (int64_t)(b.len + (size_t)n) <= w->max_bytes)
					buf_append(&b, tmp, (size_t)n);
				data = buf_steal(&b, &dlen);
				emit(w, (st.st_mode & S_IXUSR) ? 'x' : 'f', path, plen, data, dlen);
				free(data);
			}
			if (fd >= 0)
				close(fd);
		}
		free(path);
	}
	closedir(d);
}

void
workdir_stream(const char *root, int fd, int64_t max_bytes, int64_t max_files)
{
	struct walk w = {.fd = fd, .max_bytes = max_bytes, .max_files = max_files};
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	struct rlimit rl;

	/* Every level of the walk holds a directory open, and a valid path
	 * can be 2048 levels deep. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4200) {
		rl.rlim_cur = rl.rlim_max < 4200 ? rl.rlim_max : 4200;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	buf_init(&w.out);
	if (dfd >= 0)
		walk_dir(&w, dfd, "", 0);
	if (w.over) {
		w.out.len = 0;
		buf_append(&w.out, "O", 1);
	} else {
		buf_append(&w.out, "Z", 1);
	}
	(void)write_all(fd, w.out.data, w.out.len);
	buf_free(&w.out);
}

int
workdir_parse(const char *data, size_t len, struct sb_file **out, size_t *n, int *overflow)
{
	struct sb_file *f = NULL;
	size_t cap = 0, count = 0, off = 0;

	*overflow = 0;
	for (;;) {
		uint32_t plen, dlen;
		char type;

		if (off >= len)
			goto bad;
		type = data[off++];
		if (type == 'Z')
			break;
		if (type == 'O') {
			*overflow = 1;
			break;
		}
		if (type != 'f' && type != 'x' && type != 'l' && type != 'd')
			goto bad;
		if (len - off < 8)
			goto bad;
		memcpy(&plen, data + off, 4);
		memcpy(&dlen, data + off + 4, 4);
		off += 8;
		if (plen > len - off || dlen > len - off - plen)
			goto bad;
		if (path_rel_check(data + off, plen) != NULL) {
			off += plen + dlen;
			continue; /* a name no client could have made: leave it out */
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 64;
			f = xrealloc(f, cap * sizeof *f);
		}
		f[count].type = type;
		f[count].path = xstrndup(data + off, plen);
		f[count].path_len = plen;
		f[count].data = xstrndup(data + off + plen, dlen);
		f[count].len = dlen;
		count++;
		off += plen + dlen;
	}
	*out = f;
	*n = count;
	return 0;
bad:
	sb_files_free(f, count);
	return -1;
}
