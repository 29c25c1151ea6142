/*
 * fs.h — the file interface through which storage reaches the disk.  It is
 * a vtable so that the simulator can substitute a disk that loses unsynced
 * writes, tears them, flips bits and fails (fs_sim.h); production uses
 * fs_posix.  Only what the log and the state machine need: open, close,
 * pwrite, pread, fdatasync, truncate, preallocate, size, rename, unlink,
 * fsync of a directory, mkdir and a directory listing.
 *
 * Durability model (both implementations honour it; fs_sim enforces it):
 *   - file content and size become durable only at fs_fdatasync of that
 *     file; before that a crash may keep, lose or tear each write;
 *   - names (create, rename, unlink) become durable only at fs_fsync_dir
 *     of the directory that holds them;
 *   - a failed fs_fdatasync or fs_fsync_dir returns RP_ERR_FSYNC, which is
 *     fatal (util/err.h): the caller stops, it never retries the sync.
 *
 * Every function returns 0 or a negative code from util/err.h.  Paths are
 * NUL-terminated, at most FS_PATH_MAX bytes; a directory path names the
 * directory itself ("data/wal"), a file path is "dir/name".  An fs_file is
 * owned by whoever opened it and must be closed with fs_close, which also
 * frees it (even when it returns an error).
 *
 * Threads: fs_posix may be called from any thread.  fs_sim serialises its
 * calls with a lock, but one fs_file must not be used by two threads at a
 * time with either implementation.
 */
#ifndef RASPUTIN_STORAGE_FS_H
#define RASPUTIN_STORAGE_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum {
	FS_PATH_MAX = 1024,
	FS_NAME_MAX = 255,
};

/* fs_open flags.  Files are always opened for reading and writing unless
 * FS_OPEN_READ_ONLY; FS_OPEN_EXCL needs FS_OPEN_CREATE. */
enum {
	FS_OPEN_CREATE = 1 << 0,    /* create the file if it does not exist */
	FS_OPEN_EXCL = 1 << 1,      /* ... and fail with RP_ERR_EXISTS if it does */
	FS_OPEN_READ_ONLY = 1 << 2,
};

typedef struct fs fs;
typedef struct fs_file fs_file; /* defined by each implementation */

/* Called once per directory entry (not "." or ".."); a non-zero return
 * stops the listing and is returned by fs_list. */
typedef int (*fs_list_cb)(void *ctx, const char *name);

typedef struct {
	int (*open)(fs *vfs, const char *path, int flags, fs_file **out);
	int (*close)(fs *vfs, fs_file *file);
	/* Writes all size_bytes at offset (short writes are completed inside). */
	int (*pwrite)(fs *vfs, fs_file *file, const void *buf, size_t size_bytes,
	              uint64_t offset);
	/* Reads up to size_bytes at offset; *read_bytes < size_bytes only at EOF. */
	int (*pread)(fs *vfs, fs_file *file, void *buf, size_t size_bytes, uint64_t offset,
	             size_t *read_bytes);
	int (*fdatasync)(fs *vfs, fs_file *file);
	int (*truncate)(fs *vfs, fs_file *file, uint64_t size_bytes);
	/* Makes the file at least size_bytes long, the new bytes reading as
	 * zeros and their blocks reserved (ENOSPC now rather than later). */
	int (*fallocate)(fs *vfs, fs_file *file, uint64_t size_bytes);
	int (*size)(fs *vfs, fs_file *file, uint64_t *size_bytes);
	/* Both paths in the same directory; replaces `to` atomically. */
	int (*rename)(fs *vfs, const char *from, const char *to);
	int (*unlink)(fs *vfs, const char *path);
	int (*fsync_dir)(fs *vfs, const char *dir);
	/* Creates a directory; RP_ERR_EXISTS if it exists. */
	int (*mkdir)(fs *vfs, const char *dir);
	/* Lists entries in no particular order. */
	int (*list)(fs *vfs, const char *dir, fs_list_cb cb, void *ctx);
	void (*destroy)(fs *vfs);
} fs_vtable;

/* Implementations embed this as their first member. */
struct fs {
	const fs_vtable *vt;
};

static inline int fs_open(fs *vfs, const char *path, int flags, fs_file **out)
{
	return vfs->vt->open(vfs, path, flags, out);
}
static inline int fs_close(fs *vfs, fs_file *file) { return vfs->vt->close(vfs, file); }
static inline int fs_pwrite(fs *vfs, fs_file *file, const void *buf, size_t size_bytes,
                            uint64_t offset)
{
	return vfs->vt->pwrite(vfs, file, buf, size_bytes, offset);
}
static inline int fs_pread(fs *vfs, fs_file *file, void *buf, size_t size_bytes,
                           uint64_t offset, size_t *read_bytes)
{
	return vfs->vt->pread(vfs, file, buf, size_bytes, offset, read_bytes);
}
static inline int fs_fdatasync(fs *vfs, fs_file *file) { return vfs->vt->fdatasync(vfs, file); }
static inline int fs_truncate(fs *vfs, fs_file *file, uint64_t size_bytes)
{
	return vfs->vt->truncate(vfs, file, size_bytes);
}
static inline int fs_fallocate(fs *vfs, fs_file *file, uint64_t size_bytes)
{
	return vfs->vt->fallocate(vfs, file, size_bytes);
}
static inline int fs_size(fs *vfs, fs_file *file, uint64_t *size_bytes)
{
	return vfs->vt->size(vfs, file, size_bytes);
}
static inline int fs_rename(fs *vfs, const char *from, const char *to)
{
	return vfs->vt->rename(vfs, from, to);
}
static inline int fs_unlink(fs *vfs, const char *path) { return vfs->vt->unlink(vfs, path); }
static inline int fs_fsync_dir(fs *vfs, const char *dir) { return vfs->vt->fsync_dir(vfs, dir); }
static inline int fs_mkdir(fs *vfs, const char *dir) { return vfs->vt->mkdir(vfs, dir); }
static inline int fs_list(fs *vfs, const char *dir, fs_list_cb cb, void *ctx)
{
	return vfs->vt->list(vfs, dir, cb, ctx);
}
/* Accepts NULL. */
static inline void fs_destroy(fs *vfs)
{
	if (vfs)
		vfs->vt->destroy(vfs);
}

/* Reads exactly size_bytes at offset: RP_ERR_IO if the file is shorter. */
static inline int fs_pread_full(fs *vfs, fs_file *file, void *buf, size_t size_bytes,
                                uint64_t offset)
{
	size_t got = 0;
	int rc = fs_pread(vfs, file, buf, size_bytes, offset, &got);
	if (rc == 0 && got != size_bytes)
		rc = RP_ERR_IO;
	return rc;
}

/* The real file system.  Returns NULL when out of memory. */
fs *fs_posix_create(void);

#endif
