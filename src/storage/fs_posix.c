/*
 * fs_posix.c — the file interface (fs.h) on the real file system.  It maps
 * errno to util/err.h codes at every call so errno never leaves this file,
 * completes short reads and writes, retries EINTR a bounded number of
 * times, opens everything O_CLOEXEC, and preallocates with fallocate(2),
 * falling back to writing zeros where the file system does not support it.
 *
 * A failed fdatasync or directory fsync is reported as RP_ERR_FSYNC and
 * never retried here (not even after EINTR): Linux may have dropped the
 * dirty pages, so a second call could succeed while the data is gone.
 */
#define _GNU_SOURCE
#include "storage/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/check.h"

enum {
	POSIX_EINTR_TRIES = 100,            /* bound on EINTR retries per call */
	POSIX_IO_CHUNK_BYTES = 1 << 30,     /* per pread/pwrite call */
	POSIX_ZERO_CHUNK_BYTES = 1 << 20,   /* fallocate fallback */
	POSIX_LIST_MAX_ENTRIES = 1 << 20,   /* bound on a directory listing */
};

struct fs_file {
	int fd;
};

typedef struct {
	fs base;
} fs_posix;

static int posix_err(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return RP_ERR_NOSPC;
	case ENOENT:
	case ENOTDIR:
		return RP_ERR_NOTFOUND;
	case EEXIST:
		return RP_ERR_EXISTS;
	case ENOMEM:
		return RP_ERR_NOMEM;
	case EINVAL:
	case ENAMETOOLONG:
	case EBADF:
		return RP_ERR_INVALID;
	default:
		return RP_ERR_IO;
	}
}

static int posix_open(fs *vfs, const char *path, int flags, fs_file **out)
{
	(void)vfs;
	RP_CHECK(path != NULL && out != NULL);
	RP_CHECK(!(flags & FS_OPEN_EXCL) || (flags & FS_OPEN_CREATE));
	*out = NULL;
	if (strlen(path) > FS_PATH_MAX)
		return RP_ERR_INVALID;
	int oflags = O_CLOEXEC | ((flags & FS_OPEN_READ_ONLY) ? O_RDONLY : O_RDWR);
	if (flags & FS_OPEN_CREATE)
		oflags |= O_CREAT;
	if (flags & FS_OPEN_EXCL)
		oflags |= O_EXCL;
	fs_file *f = malloc(sizeof(*f));
	if (!f)
		return RP_ERR_NOMEM;
	int fd = -1;
	for (int i = 0; i < POSIX_EINTR_TRIES; i++) {
		fd = open(path, oflags, 0644);
		if (fd >= 0 || errno != EINTR)
			break;
	}
	if (fd < 0) {
		int rc = posix_err(errno);
		free(f);
		return rc;
	}
	f->fd = fd;
	*out = f;
	return 0;
}

static int posix_close(fs *vfs, fs_file *f)
{
	(void)vfs;
	RP_CHECK(f != NULL);
	/* No retry on EINTR: Linux has released the descriptor either way. */
	int rc = close(f->fd) == 0 ? 0 : posix_err(errno);
	free(f);
	return rc;
}

static int posix_pwrite(fs *vfs, fs_file *f, const void *buf, size_t size, uint64_t offset)
{
	(void)vfs;
	RP_CHECK(f != NULL && (buf != NULL || size == 0));
	const char *p = buf;
	int eintr = 0;
	/* Each round writes at least one byte or counts an EINTR. */
	while (size > 0) {
		size_t n = size < POSIX_IO_CHUNK_BYTES ? size : POSIX_IO_CHUNK_BYTES;
		ssize_t w = pwrite(f->fd, p, n, (off_t)offset);
		if (w < 0) {
			if (errno == EINTR && ++eintr < POSIX_EINTR_TRIES)
				continue;
			return posix_err(errno);
		}
		if (w == 0)
			return RP_ERR_IO;
		p += w;
		size -= (size_t)w;
		offset += (uint64_t)w;
	}
	return 0;
}

static int posix_pread(fs *vfs, fs_file *f, void *buf, size_t size, uint64_t offset,
                       size_t *read_bytes)
{
	(void)vfs;
	RP_CHECK(f != NULL && (buf != NULL || size == 0) && read_bytes != NULL);
	char *p = buf;
	size_t done = 0;
	int eintr = 0;
	while (done < size) {
		size_t n = size - done < POSIX_IO_CHUNK_BYTES ? size - done : POSIX_IO_CHUNK_BYTES;
		ssize_t r = pread(f->fd, p + done, n, (off_t)(offset + done));
		if (r < 0) {
			if (errno == EINTR && ++eintr < POSIX_EINTR_TRIES)
				continue;
			*read_bytes = done;
			return posix_err(errno);
		}
		if (r == 0)
			break; /* end of file */
		done += (size_t)r;
	}
	*read_bytes = done;
	return 0;
}

static int posix_fdatasync(fs *vfs, fs_file *f)
{
	(void)vfs;
	RP_CHECK(f != NULL);
	return fdatasync(f->fd) == 0 ? 0 : RP_ERR_FSYNC;
}

static int posix_truncate(fs *vfs, fs_file *f, uint64_t size)
{
	(void)vfs;
	RP_CHECK(f != NULL);
	for (int i = 0; i < POSIX_EINTR_TRIES; i++) {
		if (ftruncate(f->fd, (off_t)size) == 0)
			return 0;
		if (errno != EINTR)
			break;
	}
	return posix_err(errno);
}

static int posix_size(fs *vfs, fs_file *f, uint64_t *size)
{
	(void)vfs;
	RP_CHECK(f != NULL && size != NULL);
	struct stat st;
	if (fstat(f->fd, &st) != 0)
		return posix_err(errno);
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Fallback for file systems without fallocate: append zeros. */
static int posix_zero_fill(fs *vfs, fs_file *f, uint64_t from, uint64_t to)
{
	char *zeros = calloc(1, POSIX_ZERO_CHUNK_BYTES);
	if (!zeros)
		return RP_ERR_NOMEM;
	int rc = 0;
	while (rc == 0 && from < to) { /* (to - from) / 1 MiB rounds */
		uint64_t n = to - from < POSIX_ZERO_CHUNK_BYTES ? to - from : POSIX_ZERO_CHUNK_BYTES;
		rc = posix_pwrite(vfs, f, zeros, (size_t)n, from);
		from += n;
	}
	free(zeros);
	return rc;
}

static int posix_prealloc(fs *vfs, fs_file *f, uint64_t size)
{
	RP_CHECK(f != NULL);
	uint64_t cur;
	int rc = posix_size(vfs, f, &cur);
	if (rc != 0)
		return rc;
	if (cur >= size)
		return 0;
	for (int i = 0; i < POSIX_EINTR_TRIES; i++) {
		if (fallocate(f->fd, 0, (off_t)cur, (off_t)(size - cur)) == 0)
			return 0;
		if (errno == EOPNOTSUPP || errno == ENOSYS)
			return posix_zero_fill(vfs, f, cur, size);
		if (errno != EINTR)
			break;
	}
	return posix_err(errno);
}

static int posix_rename(fs *vfs, const char *from, const char *to)
{
	(void)vfs;
	RP_CHECK(from != NULL && to != NULL);
	return rename(from, to) == 0 ? 0 : posix_err(errno);
}

static int posix_unlink(fs *vfs, const char *path)
{
	(void)vfs;
	RP_CHECK(path != NULL);
	return unlink(path) == 0 ? 0 : posix_err(errno);
}

static int posix_fsync_dir(fs *vfs, const char *dir)
{
	(void)vfs;
	RP_CHECK(dir != NULL);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return posix_err(errno);
	int rc = fsync(fd) == 0 ? 0 : RP_ERR_FSYNC;
	close(fd);
	return rc;
}

static int posix_mkdir(fs *vfs, const char *dir)
{
	(void)vfs;
	RP_CHECK(dir != NULL);
	return mkdir(dir, 0755) == 0 ? 0 : posix_err(errno);
}

static int posix_list(fs *vfs, const char *dir, fs_list_cb cb, void *ctx)
{
	(void)vfs;
	RP_CHECK(dir != NULL && cb != NULL);
	DIR *d = opendir(dir);
	if (!d)
		return posix_err(errno);
	int rc = RP_ERR_NOSPC; /* unless the end comes within the bound */
	for (int i = 0; i < POSIX_LIST_MAX_ENTRIES; i++) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (!e) {
			rc = errno != 0 ? posix_err(errno) : 0;
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		int cb_rc = cb(ctx, e->d_name);
		if (cb_rc != 0) {
			rc = cb_rc;
			break;
		}
	}
	closedir(d);
	return rc;
}

static void posix_destroy(fs *vfs) { free(vfs); }

static const fs_vtable posix_vtable = {
	.open = posix_open,
	.close = posix_close,
	.pwrite = posix_pwrite,
	.pread = posix_pread,
	.fdatasync = posix_fdatasync,
	.truncate = posix_truncate,
	.fallocate = posix_prealloc,
	.size = posix_size,
	.rename = posix_rename,
	.unlink = posix_unlink,
	.fsync_dir = posix_fsync_dir,
	.mkdir = posix_mkdir,
	.list = posix_list,
	.destroy = posix_destroy,
};

fs *fs_posix_create(void)
{
	fs_posix *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.vt = &posix_vtable;
	return &p->base;
}
