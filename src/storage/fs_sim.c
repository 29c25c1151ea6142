/*
 * fs_sim.c — the simulated disk (fault model in fs_sim.h).  Each file is an
 * inode holding ONE content, `cur` (what reads see), plus the ordered list
 * of operations since its last fdatasync, each with what it takes to undo
 * it: the extent the content had before it, and the held bytes it
 * overwrote (none for the usual append past the end).  The durable content
 * is cur with those undone, newest first; so a write is copied once (into
 * cur), and fdatasync only drops the undo records.  Names live in two
 * tables: durable names, current names, and the ordered list of directory
 * changes not yet made durable by fsync_dir.
 *
 * A crash unwinds every file to its durable content (keeping each unsynced
 * write's bytes), then walks the operations and the directory changes in
 * order and applies each whole, torn (writes only) or not at all.
 */
#define _GNU_SOURCE
#include "storage/fs_sim.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"

/* ------------------------------------------------------------- content */

/* bytes[0, stored) are held; [stored, size) read as zeros. */
typedef struct {
	uint8_t *bytes;
	uint64_t stored;
	uint64_t cap;
	uint64_t size;
} sim_content;

static int content_reserve(sim_content *c, uint64_t need)
{
	if (need <= c->cap)
		return 0;
	uint64_t cap = c->cap ? c->cap : 64 * 1024; /* a small WAL segment whole */
	while (cap < need) /* doubles: at most 64 rounds */
		cap *= 2;
	if (cap != (size_t)cap)
		return RP_ERR_NOMEM;
	uint8_t *b = realloc(c->bytes, (size_t)cap);
	if (!b)
		return RP_ERR_NOMEM;
	c->bytes = b;
	c->cap = cap;
	return 0;
}

static int content_write(sim_content *c, uint64_t off, const uint8_t *data, uint64_t len)
{
	if (len == 0)
		return 0;
	uint64_t end = off + len;
	int rc = content_reserve(c, end);
	if (rc != 0)
		return rc;
	if (off > c->stored)
		memset(c->bytes + c->stored, 0, (size_t)(off - c->stored));
	memcpy(c->bytes + off, data, (size_t)len);
	if (end > c->stored)
		c->stored = end;
	if (end > c->size)
		c->size = end;
	return 0;
}

static void content_truncate(sim_content *c, uint64_t size)
{
	c->size = size;
	if (c->stored > size)
		c->stored = size;
}

static void content_extend(sim_content *c, uint64_t size)
{
	if (c->size < size)
		c->size = size;
}

static uint64_t content_read(const sim_content *c, uint64_t off, uint8_t *buf, uint64_t len)
{
	if (off >= c->size)
		return 0;
	uint64_t n = c->size - off < len ? c->size - off : len;
	uint64_t held = 0;
	if (off < c->stored) {
		held = c->stored - off < n ? c->stored - off : n;
		memcpy(buf, c->bytes + off, (size_t)held);
	}
	memset(buf + held, 0, (size_t)(n - held));
	return n;
}

static void content_free(sim_content *c)
{
	free(c->bytes);
	memset(c, 0, sizeof(*c));
}

/* --------------------------------------------------------------- inodes */

enum { OP_WRITE = 1, OP_TRUNCATE = 2, OP_EXTEND = 3 };

typedef struct {
	uint8_t kind;
	uint64_t offset; /* OP_WRITE */
	uint64_t size;   /* bytes written, or the new size */
	/* Undo: cur's extent before the operation, and the bytes it destroyed
	 * that were held then (a write inside the held prefix; a truncation
	 * below it), undo_len bytes at undo_offset. */
	uint64_t old_stored;
	uint64_t old_size;
	uint64_t undo_offset;
	uint64_t undo_len;
	uint8_t *undo_bytes; /* owned; NULL when undo_len == 0 */
	uint8_t *data;       /* OP_WRITE while unwound (crash, bit flip): owned */
} sim_op;

typedef struct {
	sim_content cur; /* durable content + ops (invariant) */
	sim_op *ops;     /* unsynced, in order */
	size_t op_count;
	size_t op_cap;
	uint32_t handles; /* open fs_files */
} sim_inode;

static void inode_clear_ops(sim_inode *ino)
{
	for (size_t i = 0; i < ino->op_count; i++) {
		free(ino->ops[i].undo_bytes);
		free(ino->ops[i].data);
	}
	ino->op_count = 0;
}

static void inode_free(sim_inode *ino)
{
	inode_clear_ops(ino);
	free(ino->ops);
	content_free(&ino->cur);
	free(ino);
}

static uint64_t inode_durable_size(const sim_inode *ino)
{
	return ino->op_count ? ino->ops[0].old_size : ino->cur.size;
}

static int op_apply(sim_content *c, uint8_t kind, uint64_t offset, uint64_t size,
                    const uint8_t *data, uint64_t keep_bytes)
{
	switch (kind) {
	case OP_WRITE:
		return content_write(c, offset, data, keep_bytes);
	case OP_TRUNCATE:
		content_truncate(c, size);
		return 0;
	case OP_EXTEND:
		content_extend(c, size);
		return 0;
	}
	RP_CHECK(0);
}

/* Applies an operation to cur and records how to undo it.  On error
 * nothing changed. */
static int inode_push_op(sim_inode *ino, uint8_t kind, uint64_t offset, uint64_t size,
                         const void *data)
{
	if (ino->op_count == FS_SIM_MAX_PENDING_OPS)
		return RP_ERR_NOSPC;
	if (ino->op_count == ino->op_cap) {
		size_t cap = ino->op_cap ? ino->op_cap * 2 : 16;
		sim_op *ops = realloc(ino->ops, cap * sizeof(*ops));
		if (!ops)
			return RP_ERR_NOMEM;
		ino->ops = ops;
		ino->op_cap = cap;
	}
	sim_content *c = &ino->cur;
	sim_op *op = &ino->ops[ino->op_count];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->offset = offset;
	op->size = size;
	op->old_stored = c->stored;
	op->old_size = c->size;
	/* The held bytes this operation destroys. */
	uint64_t lo = 0, hi = 0;
	if (kind == OP_WRITE) {
		lo = offset;
		hi = offset + size < c->stored ? offset + size : c->stored;
	} else if (kind == OP_TRUNCATE) {
		lo = size;
		hi = c->stored;
	}
	if (lo < hi) {
		op->undo_offset = lo;
		op->undo_len = hi - lo;
		op->undo_bytes = malloc((size_t)op->undo_len);
		if (!op->undo_bytes)
			return RP_ERR_NOMEM;
		memcpy(op->undo_bytes, c->bytes + lo, (size_t)op->undo_len);
	}
	int rc = op_apply(c, kind, offset, size, data, size);
	if (rc != 0) {
		free(op->undo_bytes);
		return rc;
	}
	ino->op_count++;
	return 0;
}

/* cur := the durable content; each unsynced write keeps its bytes in
 * op->data (the ops stay listed, to be replayed or dropped). */
static void inode_unwind(sim_inode *ino)
{
	sim_content *c = &ino->cur;
	for (size_t k = ino->op_count; k-- > 0;) {
		sim_op *op = &ino->ops[k];
		/* cur is as right after op k: a write's bytes are all held. */
		if (op->kind == OP_WRITE && op->size > 0) {
			RP_CHECK(op->data == NULL);
			RP_CHECK(op->offset + op->size <= c->stored);
			op->data = malloc((size_t)op->size);
			RP_CHECK(op->data != NULL);
			memcpy(op->data, c->bytes + op->offset, (size_t)op->size);
		}
		if (op->undo_len)
			memcpy(c->bytes + op->undo_offset, op->undo_bytes, (size_t)op->undo_len);
		c->stored = op->old_stored;
		c->size = op->old_size;
	}
}

/* After inode_unwind: applies the unwound operations again (cur is back
 * to durable + ops, with fresh undo records). */
static int inode_rewind(sim_inode *ino)
{
	size_t count = ino->op_count;
	sim_op *ops = ino->ops;
	ino->ops = NULL;
	ino->op_count = 0;
	ino->op_cap = 0;
	int rc = 0;
	for (size_t k = 0; k < count; k++) {
		if (rc == 0)
			rc = inode_push_op(ino, ops[k].kind, ops[k].offset, ops[k].size, ops[k].data);
		free(ops[k].undo_bytes);
		free(ops[k].data);
	}
	free(ops);
	return rc;
}

/* ---------------------------------------------------------------- names */

typedef struct {
	char *path;
	sim_inode *ino;
} sim_name;

typedef struct {
	sim_name *v;
	size_t count;
} sim_names;

enum { DIROP_LINK = 1, DIROP_UNLINK = 2, DIROP_RENAME = 3 };

typedef struct {
	uint8_t kind;
	char *path;
	char *path2; /* DIROP_RENAME: the new name */
	sim_inode *ino; /* DIROP_LINK */
} sim_dirop;

static sim_name *names_find(sim_names *t, const char *path)
{
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->v[i].path, path) == 0)
			return &t->v[i];
	return NULL;
}

static void names_remove(sim_names *t, sim_name *n)
{
	free(n->path);
	*n = t->v[--t->count];
}

static int names_add(sim_names *t, const char *path, sim_inode *ino)
{
	if (t->count == FS_SIM_MAX_FILES)
		return RP_ERR_NOSPC;
	char *p = strdup(path);
	if (!p)
		return RP_ERR_NOMEM;
	t->v[t->count].path = p;
	t->v[t->count].ino = ino;
	t->count++;
	return 0;
}

static void names_clear(sim_names *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->v[i].path);
	t->count = 0;
}

/* Applies a directory change; a change that no longer applies (its file
 * is gone) does nothing. */
static int dirop_apply(sim_names *t, const sim_dirop *op)
{
	sim_name *n = names_find(t, op->path);
	switch (op->kind) {
	case DIROP_LINK:
		if (n) {
			n->ino = op->ino;
			return 0;
		}
		return names_add(t, op->path, op->ino);
	case DIROP_UNLINK:
		if (n)
			names_remove(t, n);
		return 0;
	case DIROP_RENAME: {
		if (!n)
			return 0;
		sim_inode *ino = n->ino;
		names_remove(t, n);
		sim_name *to = names_find(t, op->path2);
		if (to) {
			to->ino = ino;
			return 0;
		}
		return names_add(t, op->path2, ino);
	}
	}
	RP_CHECK(0);
}

static void dirop_free(sim_dirop *op)
{
	free(op->path);
	free(op->path2);
	memset(op, 0, sizeof(*op));
}

/* ----------------------------------------------------------------- disk */

struct fs_file {
	sim_inode *ino;
	uint64_t generation; /* the disk's crash count when opened */
	bool read_only;
};

struct fs_sim {
	fs base; /* first: fs_sim_fs() and the vtable cast between them */
	pthread_mutex_t lock;
	sim_inode **inodes;
	size_t inode_count;
	sim_names durable_names;
	sim_names cur_names;
	sim_dirop *dirops; /* unsynced directory changes, in order */
	size_t dirop_count;
	char **dirs;
	size_t dir_count;
	uint64_t generation;
	fs_sim_faults faults;
	rp_prng *prng;
	uint32_t fail_countdown[2];
	int fail_rc[2];
	fs_sim_stats stats;
};

static fs_sim *sim_of(fs *f) { return (fs_sim *)(void *)f; }

/* Length of the directory part of path ("" when there is no '/'). */
static size_t dir_len(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? (size_t)(slash - path) : 0;
}

/* "." is the current directory, which holds the paths without a '/'. */
static const char *dir_norm(const char *dir) { return strcmp(dir, ".") == 0 ? "" : dir; }

static bool dir_exists(fs_sim *d, const char *path, size_t len)
{
	if (len == 0)
		return true; /* the current directory */
	for (size_t i = 0; i < d->dir_count; i++)
		if (strlen(d->dirs[i]) == len && memcmp(d->dirs[i], path, len) == 0)
			return true;
	return false;
}

static bool in_dir(const char *path, const char *dir)
{
	size_t len = dir_len(path);
	return strlen(dir) == len && memcmp(path, dir, len) == 0;
}

static bool path_ok(const char *path)
{
	size_t len = strlen(path);
	return len > 0 && len <= FS_PATH_MAX && path[len - 1] != '/' &&
	       len - dir_len(path) <= FS_NAME_MAX + 1;
}

/* An injected error for the next operation of kind op, or 0. */
static int fault(fs_sim *d, fs_sim_op op)
{
	int rc = 0;
	if (d->fail_countdown[op] > 0 && --d->fail_countdown[op] == 0)
		rc = d->fail_rc[op];
	else if (d->prng && op == FS_SIM_OP_WRITE) {
		if (d->faults.write_eio_ppm && rp_prng_chance_ppm(d->prng, d->faults.write_eio_ppm))
			rc = RP_ERR_IO;
		else if (d->faults.write_nospc_ppm &&
		         rp_prng_chance_ppm(d->prng, d->faults.write_nospc_ppm))
			rc = RP_ERR_NOSPC;
	} else if (d->prng && op == FS_SIM_OP_SYNC) {
		if (d->faults.sync_eio_ppm && rp_prng_chance_ppm(d->prng, d->faults.sync_eio_ppm))
			rc = RP_ERR_FSYNC;
	}
	if (rc != 0)
		d->stats.injected_errors++;
	return rc;
}

static bool inode_named(fs_sim *d, const sim_inode *ino)
{
	for (size_t i = 0; i < d->cur_names.count; i++)
		if (d->cur_names.v[i].ino == ino)
			return true;
	for (size_t i = 0; i < d->durable_names.count; i++)
		if (d->durable_names.v[i].ino == ino)
			return true;
	for (size_t i = 0; i < d->dirop_count; i++)
		if (d->dirops[i].ino == ino)
			return true;
	return false;
}

/* Frees inodes that no name, pending change or open file refers to. */
static void inodes_collect(fs_sim *d)
{
	size_t i = 0;
	while (i < d->inode_count) {
		sim_inode *ino = d->inodes[i];
		if (ino->handles == 0 && !inode_named(d, ino)) {
			inode_free(ino);
			d->inodes[i] = d->inodes[--d->inode_count];
		} else {
			i++;
		}
	}
}

static uint64_t total_size(fs_sim *d)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < d->inode_count; i++)
		sum += d->inodes[i]->cur.size;
	return sum;
}

/* RP_ERR_NOSPC if growing ino to new_size would exceed the capacity. */
static int capacity_check(fs_sim *d, const sim_inode *ino, uint64_t new_size)
{
	if (d->faults.capacity_bytes == 0 || new_size <= ino->cur.size)
		return 0;
	if (total_size(d) + (new_size - ino->cur.size) > d->faults.capacity_bytes)
		return RP_ERR_NOSPC;
	return 0;
}

static int dirop_push(fs_sim *d, uint8_t kind, const char *path, const char *path2,
                      sim_inode *ino)
{
	if (d->dirop_count == FS_SIM_MAX_FILES)
		return RP_ERR_NOSPC; /* sync the directory more often */
	sim_dirop op;
	memset(&op, 0, sizeof(op));
	op.kind = kind;
	op.ino = ino;
	op.path = strdup(path);
	op.path2 = path2 ? strdup(path2) : NULL;
	if (!op.path || (path2 && !op.path2)) {
		dirop_free(&op);
		return RP_ERR_NOMEM;
	}
	int rc = dirop_apply(&d->cur_names, &op);
	if (rc != 0) {
		dirop_free(&op);
		return rc;
	}
	d->dirops[d->dirop_count++] = op;
	return 0;
}

/* ------------------------------------------------------------- vtable */

static int file_ok(fs_sim *d, fs_file *f)
{
	RP_CHECK(f != NULL && f->ino != NULL);
	return f->generation == d->generation ? 0 : RP_ERR_IO;
}

static int sim_open(fs *vfs, const char *path, int flags, fs_file **out)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(path != NULL && out != NULL);
	RP_CHECK(!(flags & FS_OPEN_EXCL) || (flags & FS_OPEN_CREATE));
	*out = NULL;
	if (!path_ok(path))
		return RP_ERR_INVALID;
	pthread_mutex_lock(&d->lock);
	int rc = 0;
	sim_name *n = names_find(&d->cur_names, path);
	sim_inode *ino = n ? n->ino : NULL;
	fs_file *f = NULL;
	if (!dir_exists(d, path, dir_len(path))) {
		rc = RP_ERR_NOTFOUND;
	} else if (n && (flags & FS_OPEN_EXCL)) {
		rc = RP_ERR_EXISTS;
	} else if (!n && !(flags & FS_OPEN_CREATE)) {
		rc = RP_ERR_NOTFOUND;
	} else if (!n && d->cur_names.count == FS_SIM_MAX_FILES) {
		rc = RP_ERR_NOSPC;
	}
	if (rc == 0) {
		f = calloc(1, sizeof(*f));
		if (!f)
			rc = RP_ERR_NOMEM;
	}
	if (rc == 0 && !ino) {
		ino = calloc(1, sizeof(*ino));
		sim_inode **grown = realloc(d->inodes, (d->inode_count + 1) * sizeof(*grown));
		if (grown)
			d->inodes = grown;
		if (!ino || !grown) {
			free(ino);
			rc = RP_ERR_NOMEM;
		} else {
			d->inodes[d->inode_count++] = ino;
			rc = dirop_push(d, DIROP_LINK, path, NULL, ino);
		}
	}
	if (rc == 0) {
		f->ino = ino;
		f->generation = d->generation;
		f->read_only = (flags & FS_OPEN_READ_ONLY) != 0;
		ino->handles++;
		d->stats.opens++;
		*out = f;
	} else {
		free(f);
		inodes_collect(d);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_close(fs *vfs, fs_file *f)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(f != NULL);
	pthread_mutex_lock(&d->lock);
	RP_CHECK(f->ino->handles > 0);
	f->ino->handles--;
	free(f);
	inodes_collect(d);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static int sim_pwrite(fs *vfs, fs_file *f, const void *buf, size_t size, uint64_t offset)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(buf != NULL || size == 0);
	pthread_mutex_lock(&d->lock);
	int rc = file_ok(d, f);
	if (rc == 0 && f->read_only)
		rc = RP_ERR_INVALID;
	if (rc == 0)
		rc = fault(d, FS_SIM_OP_WRITE);
	if (rc == 0)
		rc = capacity_check(d, f->ino, offset + size);
	if (rc == 0 && size > 0)
		rc = inode_push_op(f->ino, OP_WRITE, offset, size, buf);
	if (rc == 0) {
		d->stats.writes++;
		d->stats.write_bytes += size;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_pread(fs *vfs, fs_file *f, void *buf, size_t size, uint64_t offset,
                     size_t *read_bytes)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK((buf != NULL || size == 0) && read_bytes != NULL);
	pthread_mutex_lock(&d->lock);
	*read_bytes = 0;
	int rc = file_ok(d, f);
	if (rc == 0)
		*read_bytes = (size_t)content_read(&f->ino->cur, offset, buf, size);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_fdatasync(fs *vfs, fs_file *f)
{
	fs_sim *d = sim_of(vfs);
	pthread_mutex_lock(&d->lock);
	int rc = file_ok(d, f);
	if (rc == 0)
		rc = fault(d, FS_SIM_OP_SYNC);
	if (rc == 0) {
		/* cur is durable + ops: the durable content becomes cur by
		 * forgetting how to undo them. */
		inode_clear_ops(f->ino);
		d->stats.fdatasyncs++;
	}
	pthread_mutex_unlock(&d->lock);
	return rc == 0 ? 0 : RP_ERR_FSYNC;
}

static int sim_resize(fs *vfs, fs_file *f, uint64_t size, uint8_t kind)
{
	fs_sim *d = sim_of(vfs);
	pthread_mutex_lock(&d->lock);
	int rc = file_ok(d, f);
	if (rc == 0 && f->read_only)
		rc = RP_ERR_INVALID;
	if (rc == 0)
		rc = fault(d, FS_SIM_OP_WRITE);
	if (rc == 0)
		rc = capacity_check(d, f->ino, size);
	if (rc == 0 && !(kind == OP_EXTEND && f->ino->cur.size >= size))
		rc = inode_push_op(f->ino, kind, 0, size, NULL);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_truncate(fs *vfs, fs_file *f, uint64_t size)
{
	return sim_resize(vfs, f, size, OP_TRUNCATE);
}

static int sim_fallocate(fs *vfs, fs_file *f, uint64_t size)
{
	return sim_resize(vfs, f, size, OP_EXTEND);
}

static int sim_size(fs *vfs, fs_file *f, uint64_t *size)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(size != NULL);
	pthread_mutex_lock(&d->lock);
	int rc = file_ok(d, f);
	if (rc == 0)
		*size = f->ino->cur.size;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_rename(fs *vfs, const char *from, const char *to)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(from != NULL && to != NULL);
	if (!path_ok(from) || !path_ok(to) || dir_len(from) != dir_len(to) ||
	    memcmp(from, to, dir_len(from)) != 0)
		return RP_ERR_INVALID;
	pthread_mutex_lock(&d->lock);
	int rc = names_find(&d->cur_names, from) ? 0 : RP_ERR_NOTFOUND;
	if (rc == 0)
		rc = dirop_push(d, DIROP_RENAME, from, to, NULL);
	inodes_collect(d);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_unlink(fs *vfs, const char *path)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(path != NULL);
	pthread_mutex_lock(&d->lock);
	int rc = names_find(&d->cur_names, path) ? 0 : RP_ERR_NOTFOUND;
	if (rc == 0)
		rc = dirop_push(d, DIROP_UNLINK, path, NULL, NULL);
	inodes_collect(d);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_fsync_dir(fs *vfs, const char *dir)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(dir != NULL);
	dir = dir_norm(dir);
	pthread_mutex_lock(&d->lock);
	int rc = dir_exists(d, dir, strlen(dir)) ? 0 : RP_ERR_NOTFOUND;
	if (rc == 0)
		rc = fault(d, FS_SIM_OP_SYNC) == 0 ? 0 : RP_ERR_FSYNC;
	if (rc == 0) {
		/* Commit this directory's changes in order; keep the others. */
		size_t kept = 0;
		for (size_t i = 0; i < d->dirop_count; i++) {
			sim_dirop *op = &d->dirops[i];
			if (rc == 0 && in_dir(op->path, dir)) {
				rc = dirop_apply(&d->durable_names, op);
				dirop_free(op);
			} else {
				d->dirops[kept++] = *op;
			}
		}
		d->dirop_count = kept;
		if (rc == 0)
			d->stats.dir_syncs++;
		else
			rc = RP_ERR_FSYNC;
		inodes_collect(d);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_mkdir(fs *vfs, const char *dir)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(dir != NULL);
	if (!path_ok(dir))
		return RP_ERR_INVALID;
	pthread_mutex_lock(&d->lock);
	int rc = 0;
	if (dir_exists(d, dir, strlen(dir)))
		rc = RP_ERR_EXISTS;
	else if (d->dir_count == FS_SIM_MAX_DIRS)
		rc = RP_ERR_NOSPC;
	else if (!(d->dirs[d->dir_count] = strdup(dir)))
		rc = RP_ERR_NOMEM;
	else
		d->dir_count++;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int sim_list(fs *vfs, const char *dir, fs_list_cb cb, void *ctx)
{
	fs_sim *d = sim_of(vfs);
	RP_CHECK(dir != NULL && cb != NULL);
	dir = dir_norm(dir);
	pthread_mutex_lock(&d->lock);
	int rc = dir_exists(d, dir, strlen(dir)) ? 0 : RP_ERR_NOTFOUND;
	/* Copy the names first: the callback may call back into the disk. */
	char **names = NULL;
	size_t count = 0;
	if (rc == 0 && d->cur_names.count > 0) {
		names = calloc(d->cur_names.count, sizeof(*names));
		if (!names)
			rc = RP_ERR_NOMEM;
		for (size_t i = 0; rc == 0 && i < d->cur_names.count; i++) {
			const char *p = d->cur_names.v[i].path;
			if (!in_dir(p, dir))
				continue;
			names[count] = strdup(p + dir_len(p) + (dir_len(p) ? 1 : 0));
			if (!names[count])
				rc = RP_ERR_NOMEM;
			else
				count++;
		}
	}
	pthread_mutex_unlock(&d->lock);
	for (size_t i = 0; rc == 0 && i < count; i++)
		rc = cb(ctx, names[i]);
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

static void sim_destroy_fs(fs *vfs) { fs_sim_destroy(sim_of(vfs)); }

static const fs_vtable sim_vtable = {
	.open = sim_open,
	.close = sim_close,
	.pwrite = sim_pwrite,
	.pread = sim_pread,
	.fdatasync = sim_fdatasync,
	.truncate = sim_truncate,
	.fallocate = sim_fallocate,
	.size = sim_size,
	.rename = sim_rename,
	.unlink = sim_unlink,
	.fsync_dir = sim_fsync_dir,
	.mkdir = sim_mkdir,
	.list = sim_list,
	.destroy = sim_destroy_fs,
};

/* --------------------------------------------------------- public API */

void fs_sim_faults_default(fs_sim_faults *faults)
{
	memset(faults, 0, sizeof(*faults));
	faults->crash_keep_ppm = 500000;
}

fs_sim *fs_sim_create(void)
{
	fs_sim *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->base.vt = &sim_vtable;
	d->durable_names.v = calloc(FS_SIM_MAX_FILES, sizeof(sim_name));
	d->cur_names.v = calloc(FS_SIM_MAX_FILES, sizeof(sim_name));
	d->dirops = calloc(FS_SIM_MAX_FILES, sizeof(sim_dirop));
	d->dirs = calloc(FS_SIM_MAX_DIRS, sizeof(char *));
	if (!d->durable_names.v || !d->cur_names.v || !d->dirops || !d->dirs ||
	    pthread_mutex_init(&d->lock, NULL) != 0) {
		free(d->durable_names.v);
		free(d->cur_names.v);
		free(d->dirops);
		free(d->dirs);
		free(d);
		return NULL;
	}
	fs_sim_faults_default(&d->faults);
	return d;
}

void fs_sim_destroy(fs_sim *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->inode_count; i++) {
		RP_CHECK(d->inodes[i]->handles == 0); /* close every file first */
		inode_free(d->inodes[i]);
	}
	free(d->inodes);
	names_clear(&d->durable_names);
	names_clear(&d->cur_names);
	free(d->durable_names.v);
	free(d->cur_names.v);
	for (size_t i = 0; i < d->dirop_count; i++)
		dirop_free(&d->dirops[i]);
	free(d->dirops);
	for (size_t i = 0; i < d->dir_count; i++)
		free(d->dirs[i]);
	free(d->dirs);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

fs *fs_sim_fs(fs_sim *disk) { return &disk->base; }

void fs_sim_set_faults(fs_sim *d, const fs_sim_faults *faults, rp_prng *prng)
{
	RP_CHECK(faults != NULL);
	RP_CHECK(faults->crash_keep_ppm <= 1000000 && faults->crash_torn_ppm <= 1000000);
	pthread_mutex_lock(&d->lock);
	d->faults = *faults;
	d->prng = prng;
	pthread_mutex_unlock(&d->lock);
}

void fs_sim_fail_nth(fs_sim *d, fs_sim_op op, uint32_t n, int rc)
{
	RP_CHECK(op == FS_SIM_OP_WRITE || op == FS_SIM_OP_SYNC);
	RP_CHECK(n == 0 || rc < 0);
	pthread_mutex_lock(&d->lock);
	d->fail_countdown[op] = n;
	d->fail_rc[op] = rc;
	pthread_mutex_unlock(&d->lock);
}

/* The torn part of an unsynced write that does not survive whole: the
 * bytes of a prefix ending at a sector boundary inside it, or 0 (lost). */
static uint64_t crash_torn_bytes(fs_sim *d, const sim_op *op, rp_prng *prng)
{
	if (op->kind != OP_WRITE || d->faults.crash_torn_ppm == 0 ||
	    !rp_prng_chance_ppm(prng, d->faults.crash_torn_ppm))
		return 0;
	uint64_t first_boundary = (op->offset / FS_SIM_SECTOR_BYTES + 1) * FS_SIM_SECTOR_BYTES;
	uint64_t end = op->offset + op->size;
	if (first_boundary >= end)
		return 0; /* inside one sector: sector writes are atomic */
	uint64_t boundaries = (end - 1 - first_boundary) / FS_SIM_SECTOR_BYTES + 1;
	uint64_t cut = first_boundary + rp_prng_below(prng, boundaries) * FS_SIM_SECTOR_BYTES;
	RP_CHECK(cut > op->offset && cut < end);
	return cut - op->offset;
}

void fs_sim_crash(fs_sim *d, rp_prng *prng)
{
	RP_CHECK(prng != NULL);
	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->dirop_count; i++) {
		if (rp_prng_chance_ppm(prng, d->faults.crash_keep_ppm))
			RP_CHECK(dirop_apply(&d->durable_names, &d->dirops[i]) == 0);
		dirop_free(&d->dirops[i]);
	}
	d->dirop_count = 0;
	names_clear(&d->cur_names);
	for (size_t i = 0; i < d->durable_names.count; i++)
		RP_CHECK(names_add(&d->cur_names, d->durable_names.v[i].path,
		                   d->durable_names.v[i].ino) == 0);
	for (size_t i = 0; i < d->inode_count; i++) {
		sim_inode *ino = d->inodes[i];
		inode_unwind(ino); /* cur := durable */
		for (size_t k = 0; k < ino->op_count; k++) {
			const sim_op *op = &ino->ops[k];
			if (rp_prng_chance_ppm(prng, d->faults.crash_keep_ppm)) {
				RP_CHECK(op_apply(&ino->cur, op->kind, op->offset, op->size, op->data,
				                  op->size) == 0);
				continue;
			}
			uint64_t torn = crash_torn_bytes(d, op, prng);
			if (torn > 0)
				RP_CHECK(op_apply(&ino->cur, op->kind, op->offset, op->size, op->data,
				                  torn) == 0);
		}
		inode_clear_ops(ino);
	}
	d->generation++;
	d->stats.crashes++;
	inodes_collect(d);
	pthread_mutex_unlock(&d->lock);
}

int fs_sim_flip_bit_at(fs_sim *d, const char *path, uint64_t offset, unsigned bit)
{
	RP_CHECK(path != NULL && bit < 8);
	pthread_mutex_lock(&d->lock);
	int rc = 0;
	sim_name *n = names_find(&d->cur_names, path);
	if (!n)
		rc = RP_ERR_NOTFOUND;
	else if (offset >= inode_durable_size(n->ino))
		rc = RP_ERR_INVALID;
	if (rc == 0) {
		sim_inode *ino = n->ino;
		inode_unwind(ino); /* cur := durable */
		uint8_t byte = 0;
		content_read(&ino->cur, offset, &byte, 1);
		byte ^= (uint8_t)(1u << bit);
		rc = content_write(&ino->cur, offset, &byte, 1);
		int rrc = inode_rewind(ino);
		if (rc == 0)
			rc = rrc;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int fs_sim_flip_bits(fs_sim *d, const char *path, uint32_t count, rp_prng *prng)
{
	RP_CHECK(path != NULL && prng != NULL);
	pthread_mutex_lock(&d->lock);
	sim_name *n = names_find(&d->cur_names, path);
	uint64_t size = n ? inode_durable_size(n->ino) : 0;
	pthread_mutex_unlock(&d->lock);
	if (!n)
		return RP_ERR_NOTFOUND;
	if (size == 0)
		return RP_ERR_INVALID;
	int rc = 0;
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		uint64_t bit = rp_prng_below(prng, size * 8);
		rc = fs_sim_flip_bit_at(d, path, bit / 8, (unsigned)(bit % 8));
	}
	return rc;
}

void fs_sim_get_stats(fs_sim *d, fs_sim_stats *stats)
{
	pthread_mutex_lock(&d->lock);
	*stats = d->stats;
	pthread_mutex_unlock(&d->lock);
}

uint64_t fs_sim_unsynced_ops(fs_sim *d)
{
	pthread_mutex_lock(&d->lock);
	uint64_t n = d->dirop_count;
	for (size_t i = 0; i < d->inode_count; i++)
		n += d->inodes[i]->op_count;
	pthread_mutex_unlock(&d->lock);
	return n;
}
