/*
 * sm_rocks.c — the RocksDB store under the state machine (sm_be.h): what a
 * server runs.  Column family "default" holds the user keys, "meta" the
 * applied indexes and the session table; one write batch per commit: one
 * entry (sm_apply) or a run of them (sm_apply_deferred).  Puts and deletes
 * go to the batch's key index (sm_overlay.h), through which a read inside
 * an apply sees the batch's own writes (much cheaper to keep than
 * RocksDB's indexed batch), and the commit builds RocksDB's write batch
 * from it: the newest write of each key only.  A key set many times in a
 * run costs one memtable insert, a skip-list search on every node, not
 * one per set (docs/performance.md).
 *
 * RocksDB's own WAL is OFF and atomic_flush is ON (docs/storage.md,
 * "Durability"): the consensus log already holds every committed entry, so
 * a second log of the same bytes buys nothing.  After a crash RocksDB comes
 * back with whatever its last flush made durable, and atomic_flush makes
 * every flush cover both column families at the same write-batch boundary,
 * so that state is exactly entries 1..k for the k its meta records; the
 * caller re-applies k+1.. from the consensus log.  Never flush one column
 * family by hand (RocksDB's C API here has no multi-family flush): only
 * automatic flushes, checkpoints and close, which all flush both at once.
 *
 * In-place memtable updates are ON: a put of a key whose newest version
 * sits in the active memtable, with a value no longer than that one,
 * overwrites it instead of adding a skiplist node (the applied-index
 * record on every batch, and a hot key set over and over).  That keeps the
 * memtable small and its inserts cheap (docs/performance.md).  What it
 * gives up is sequence-number isolation inside the active memtable, which
 * only RocksDB snapshots and long-lived iterators use; this store takes
 * neither (a scan's iterator lives within one call, on the one thread
 * that writes), and a flush only reads memtables that no longer change,
 * so every flush still ends at a write-batch boundary.
 *
 * Directory layout:
 *   <dir>/db                  the live database
 *   <dir>/snap-<index>        the current snapshot: a checkpoint plus its
 *                             index file ".rasputin-snapshot" (file names,
 *                             sizes, CRCs), complete once renamed from
 *   <dir>/snap.tmp            a snapshot being made
 *   <dir>/install             a snapshot being received
 * An install swaps install and db in one renameat2(RENAME_EXCHANGE), then
 * fsyncs <dir>: a crash before the swap is durable leaves the old db, after
 * it the new one; never a mix.  Open drops snap.tmp and install.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/sm_be.h"
#include "storage/sm_overlay.h"
#include "util/check.h"
#include "util/crc32c.h"
#include "util/hash.h"

static const char index_file_name[] = ".rasputin-snapshot";
static const uint8_t index_magic[8] = {'R', 'A', 'S', 'P', 'S', 'I', 'D', 'X'};
static const char *const cf_names[2] = {"default", "meta"};

enum { PATH_CAP = 4096, DIR_MAX = PATH_CAP - 128 };

typedef char name_buf[SM_ARCHIVE_NAME_MAX + 1];

/* A table file whose record CRC is known, and which file it is: a table
 * file never changes, and within one database its number is never reused,
 * but after an install the live db's files come from another node and
 * may share names and sizes with ours.  The inode tells them apart. */
typedef struct {
	name_buf name;
	uint64_t size;
	uint32_t crc;
	uint64_t dev, ino;
} sst_crc;

/* Such records in name order (sst_crc_find searches them). */
typedef struct {
	sst_crc *v;
	uint32_t count, cap;
} sst_crc_list;

typedef struct {
	sm_be base;
	char dir[PATH_CAP];
	uint64_t write_buffer_bytes;
	rocksdb_options_t *opts; /* DB options; also both families' options */
	rocksdb_t *db;
	rocksdb_column_family_handle_t *cf[2];
	rocksdb_readoptions_t *ropts;
	rocksdb_writeoptions_t *wopts;
	rocksdb_writebatch_t *wb;
	sm_overlay *ov; /* the open batch's writes, by key; wb is built from it */
	/* current snapshot */
	bool have_snap;
	uint64_t snap_index;
	name_buf *snap_names;
	uint32_t snap_count;
	/* The table files of the current snapshot, or of the installed
	 * archive the live db came from: the next snapshot takes their CRCs
	 * instead of reading them again (sst_crc_find). */
	sst_crc_list sst_crcs;
	int read_fd;
	uint32_t read_index;
	/* incoming snapshot */
	bool inst_open;
	int inst_fd;
	uint64_t inst_left;
	name_buf inst_name;
	uint64_t inst_size;
	sst_crc_list inst_crcs; /* its table files, CRCs checked on receipt */
	bool retired; /* a replaced snapshot waits for a sweep */
} rocks_be;

/* --- errors, paths, files ---------------------------------------------------- */

/* Records RocksDB's message (and frees it); returns code. */
static int rocks_fail_to(sm_be *eb, const char *what, char *err, int code)
{
	sm_be_set_error(eb, what, err);
	rocksdb_free(err);
	return code;
}

static int rocks_fail(rocks_be *b, const char *what, char *err, int code)
{
	return rocks_fail_to(&b->base, what, err, code);
}

/* Records a failed system call (errno) and maps it to err.h. */
static int sys_fail(sm_be *eb, const char *what, const char *path)
{
	int e = errno;
	char detail[PATH_CAP + 64];
	snprintf(detail, sizeof(detail), "%s: %s", path, strerror(e));
	sm_be_set_error(eb, what, detail);
	if (e == ENOSPC || e == EDQUOT)
		return RP_ERR_NOSPC;
	if (e == ENOMEM)
		return RP_ERR_NOMEM;
	return RP_ERR_IO;
}

/* A failed fsync is fatal (err.h, RP_ERR_FSYNC): the node stops. */
static int sync_fail(sm_be *eb, const char *what, const char *path)
{
	(void)sys_fail(eb, what, path);
	return RP_ERR_FSYNC;
}

static void path_of(const rocks_be *b, const char *name, char out[PATH_CAP])
{
	int n = snprintf(out, PATH_CAP, "%s/%s", b->dir, name);
	RP_CHECK(n > 0 && n < PATH_CAP);
}

static void snap_dir_name(uint64_t index, char out[32])
{
	snprintf(out, 32, "snap-%020llu", (unsigned long long)index);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* Removes path and everything under it; a missing path is fine. */
static int rm_rf(sm_be *eb, const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? RP_OK : sys_fail(eb, "stat", path);
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		return sys_fail(eb, "remove", path);
	return RP_OK;
}

static int fsync_path(sm_be *eb, const char *path, bool dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	if (fd < 0)
		return sys_fail(eb, "open for fsync", path);
	int rc = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return rc == 0 ? RP_OK : sync_fail(eb, "fsync", path);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int pread_all(int fd, uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The regular files of dir except dot-files, sorted: the archive's file
 * list.  *names is malloc'd (caller frees). */
static int list_files(sm_be *eb, const char *dir, name_buf **names, uint32_t *count)
{
	*names = NULL;
	*count = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return sys_fail(eb, "opendir", dir);
	uint32_t cap = 0;
	int rc = RP_OK;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(e->d_name);
		if (!sm_archive_name_ok(e->d_name, len)) {
			sm_be_set_error(eb, "checkpoint file name not archivable",
					e->d_name);
			rc = RP_ERR_INVALID;
			break;
		}
		if (*count == SM_ARCHIVE_MAX_FILES) {
			rc = RP_ERR_NOSPC;
			break;
		}
		if (*count == cap) {
			cap = cap ? cap * 2 : 32;
			name_buf *p = realloc(*names, cap * sizeof(name_buf));
			if (p == NULL) {
				rc = RP_ERR_NOMEM;
				break;
			}
			*names = p;
		}
		memcpy((*names)[*count], e->d_name, len + 1);
		(*count)++;
	}
	closedir(d);
	if (rc != RP_OK) {
		free(*names);
		*names = NULL;
		*count = 0;
		return rc;
	}
	if (*count > 1)
		qsort(*names, *count, sizeof(name_buf), name_cmp);
	return RP_OK;
}

/* --- database open / close ------------------------------------------------------ */

static void db_close(rocks_be *b)
{
	for (int i = 0; i < 2; i++) {
		if (b->cf[i] != NULL)
			rocksdb_column_family_handle_destroy(b->cf[i]);
		b->cf[i] = NULL;
	}
	if (b->db != NULL)
		rocksdb_close(b->db);
	b->db = NULL;
}

static int db_open(rocks_be *b)
{
	char path[PATH_CAP];
	path_of(b, "db", path);
	const rocksdb_options_t *cf_opts[2] = {b->opts, b->opts};
	char *err = NULL;
	b->db = rocksdb_open_column_families(b->opts, path, 2, cf_names, cf_opts, b->cf,
					     &err);
	if (err != NULL) {
		b->db = NULL;
		b->cf[0] = b->cf[1] = NULL;
		return rocks_fail(b, "rocksdb open", err, RP_ERR_IO);
	}
	return RP_OK;
}

/* --- batch ---------------------------------------------------------------------- */

static int rocks_get(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size,
		     sm_buf *out, bool *found)
{
	rocks_be *b = (rocks_be *)be;
	if (b->db == NULL)
		return RP_ERR_CLOSED; /* a failed install left it closed */
	out->size = 0;
	const uint8_t *v = NULL;
	size_t len = 0;
	bool deleted = false;
	if (sm_overlay_find(b->ov, (uint8_t)cf, key, key_size, &v, &len, &deleted)) {
		/* The open batch wrote it: its newest write. */
		*found = !deleted;
		return deleted ? RP_OK : sm_buf_set(out, v, len);
	}
	/* As committed, the value pinned rather than copied twice. */
	char *err = NULL;
	rocksdb_pinnableslice_t *ps = rocksdb_get_pinned_cf(b->db, b->ropts, b->cf[cf],
							    (const char *)key, key_size, &err);
	if (err != NULL)
		return rocks_fail(b, "rocksdb get", err, RP_ERR_IO);
	*found = ps != NULL;
	if (ps == NULL)
		return RP_OK;
	const char *pv = rocksdb_pinnableslice_value(ps, &len);
	int rc = sm_buf_set(out, pv, len);
	rocksdb_pinnableslice_destroy(ps);
	return rc;
}

static int rocks_put(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size,
		     const uint8_t *value, size_t value_size)
{
	rocks_be *b = (rocks_be *)be;
	return sm_overlay_put(b->ov, (uint8_t)cf, key, key_size, value, value_size, false);
}

static int rocks_del(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size)
{
	rocks_be *b = (rocks_be *)be;
	return sm_overlay_put(b->ov, (uint8_t)cf, key, key_size, NULL, 0, true);
}

static void batch_add(void *ctx, uint8_t cf, const uint8_t *key, size_t key_size,
		      const uint8_t *value, size_t value_size, bool del)
{
	rocks_be *b = ctx;
	if (del)
		rocksdb_writebatch_delete_cf(b->wb, b->cf[cf], (const char *)key, key_size);
	else
		rocksdb_writebatch_put_cf(b->wb, b->cf[cf], (const char *)key, key_size,
					  (const char *)value, value_size);
}

static int rocks_commit(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	if (b->db == NULL)
		return RP_ERR_CLOSED; /* a failed install left it closed */
	if (sm_overlay_keys(b->ov) == 0)
		return RP_OK;
	/* wb is empty between commits: filled and cleared here only. */
	sm_overlay_each(b->ov, batch_add, b);
	char *err = NULL;
	/* WAL off, no sync: see the top of this file. */
	rocksdb_write(b->db, b->wopts, b->wb, &err);
	rocksdb_writebatch_clear(b->wb);
	if (err != NULL)
		return rocks_fail(b, "rocksdb write", err, RP_ERR_IO);
	sm_overlay_clear(b->ov);
	return RP_OK;
}

static void rocks_abort(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	sm_overlay_clear(b->ov);
}

static int rocks_scan(sm_be *be, sm_cf cf, const uint8_t *start, size_t start_size,
		      sm_be_scan_fn fn, void *ctx)
{
	rocks_be *b = (rocks_be *)be;
	if (b->db == NULL)
		return RP_ERR_CLOSED; /* a failed install left it closed */
	RP_CHECK(sm_overlay_keys(b->ov) == 0);
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(b->db, b->ropts, b->cf[cf]);
	if (start_size > 0)
		rocksdb_iter_seek(it, (const char *)start, start_size);
	else
		rocksdb_iter_seek_to_first(it);
	int rc = RP_OK;
	while (rocksdb_iter_valid(it)) {
		size_t ks = 0, vs = 0;
		const char *k = rocksdb_iter_key(it, &ks);
		const char *v = rocksdb_iter_value(it, &vs);
		int r = fn(ctx, (const uint8_t *)k, ks, (const uint8_t *)v, vs);
		if (r < 0) {
			rc = r;
			break;
		}
		if (r > 0)
			break;
		rocksdb_iter_next(it);
	}
	char *err = NULL;
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err != NULL)
		return rocks_fail(b, "rocksdb iterate", err, RP_ERR_IO);
	return rc;
}

/* --- walks ---------------------------------------------------------------------- */

/* A walk is one iterator kept open across steps: RocksDB pins the
 * memtables and files it started on and reads them as of its creation.
 * In-place updates (above) change a value under it but never a key's
 * existence (a delete, or a put over a delete, adds a record), and walks
 * read keys only.  sm.c closes every walk before an install swaps db. */
static int rocks_walk_open(sm_be *be, sm_cf cf, void **it)
{
	rocks_be *b = (rocks_be *)be;
	*it = NULL;
	if (b->db == NULL)
		return RP_ERR_CLOSED;
	RP_CHECK(sm_overlay_keys(b->ov) == 0);
	rocksdb_iterator_t *i = rocksdb_create_iterator_cf(b->db, b->ropts, b->cf[cf]);
	rocksdb_iter_seek_to_first(i);
	*it = i;
	return RP_OK;
}

static int rocks_walk_seek(sm_be *be, void *it, const uint8_t *start, size_t start_size)
{
	(void)be;
	rocksdb_iter_seek(it, (const char *)start, start_size);
	return RP_OK;
}

static int rocks_walk_step(sm_be *be, void *it, uint32_t count, sm_be_scan_fn fn, void *ctx,
			   bool *end)
{
	rocks_be *b = (rocks_be *)be;
	rocksdb_iterator_t *i = it;
	int rc = RP_OK;
	for (uint32_t n = 0; n < count && rocksdb_iter_valid(i); n++) {
		size_t ks = 0;
		const char *k = rocksdb_iter_key(i, &ks);
		int r = fn(ctx, (const uint8_t *)k, ks, NULL, 0);
		if (r < 0) {
			rc = r;
			break;
		}
		if (r > 0)
			break;
		rocksdb_iter_next(i);
	}
	char *err = NULL;
	rocksdb_iter_get_error(i, &err);
	if (err != NULL)
		return rocks_fail(b, "rocksdb iterate", err, RP_ERR_IO);
	*end = !rocksdb_iter_valid(i);
	return rc;
}

static void rocks_walk_close(sm_be *be, void *it)
{
	(void)be;
	if (it != NULL)
		rocksdb_iter_destroy(it);
}

/* --- snapshots ------------------------------------------------------------------ */

/* A snapshot being made (snap_begin .. snap_finish): the checkpoint in
 * <dir>/snap.tmp and what the work learns about it.  The work runs on
 * another thread and touches of the store only what its thread leaves
 * alone while a job is out: the database handle (RocksDB's calls are
 * thread-safe), its options, its directory's name and the current
 * snapshot with its CRC cache (replaced only by finish, an install's last
 * chunk and close, which all wait for the job). */
typedef struct {
	rocks_be *b;
	char tmp[PATH_CAP];
	uint8_t key[SM_ARCHIVE_NAME_MAX];
	size_t key_size;
	name_buf *names;
	uint32_t count;
	uint64_t *sizes;
	uint32_t *crcs;
	bool *crc_known; /* taken from sst_crcs (sst_crc_find) */
	struct stat *stats;
	/* the file the CRC pass reads, kept open across its chunks */
	int fd;
	uint32_t fd_index;
	const atomic_bool *cancel;
	sm_be *err;
} snap_job;

static void snap_job_free(snap_job *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->names);
	free(j->sizes);
	free(j->crcs);
	free(j->crc_known);
	free(j->stats);
	free(j);
}

static int job_read_fn(void *ctx, uint32_t index, uint64_t offset, uint8_t *buf,
		       size_t size)
{
	snap_job *j = ctx;
	if (atomic_load_explicit(j->cancel, memory_order_relaxed))
		return RP_ERR_CANCELED;
	char path[PATH_CAP];
	int n = snprintf(path, sizeof(path), "%s/%s", j->tmp, j->names[index]);
	RP_CHECK(n > 0 && n < PATH_CAP);
	if (j->fd < 0 || j->fd_index != index) {
		if (j->fd >= 0)
			close(j->fd);
		j->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (j->fd < 0)
			return sys_fail(j->err, "open", path);
		j->fd_index = index;
	}
	return pread_all(j->fd, buf, size, offset) == 0 ? RP_OK : sys_fail(j->err, "read", path);
}

/* The snapshot's own index: magic, header size, header, then per file
 * name length, name, size, CRC; a CRC32C of all of it last. */
static int index_write(sm_be *eb, const char *dir, const sm_archive_layout *l)
{
	sm_buf out;
	sm_buf_init(&out);
	uint8_t tmp[16];
	int rc = sm_buf_append(&out, index_magic, 8);
	sm_put_u32(tmp, (uint32_t)l->header_size);
	if (rc == RP_OK)
		rc = sm_buf_append(&out, tmp, 4);
	if (rc == RP_OK)
		rc = sm_buf_append(&out, l->header_bytes, l->header_size);
	for (uint32_t i = 0; rc == RP_OK && i < l->header.file_count; i++) {
		const sm_archive_file *f = &l->files[i];
		size_t len = strlen(f->name);
		sm_put_u16(tmp, (uint16_t)len);
		rc = sm_buf_append(&out, tmp, 2);
		if (rc == RP_OK)
			rc = sm_buf_append(&out, f->name, len);
		sm_put_u64(tmp, f->size);
		sm_put_u32(tmp + 8, f->crc);
		if (rc == RP_OK)
			rc = sm_buf_append(&out, tmp, 12);
	}
	sm_put_u32(tmp, crc32c(out.data, out.size));
	if (rc == RP_OK)
		rc = sm_buf_append(&out, tmp, 4);
	if (rc != RP_OK) {
		sm_buf_deinit(&out);
		return rc;
	}
	char path[PATH_CAP];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, index_file_name);
	RP_CHECK(n > 0 && n < PATH_CAP);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		sm_buf_deinit(&out);
		return sys_fail(eb, "create", path);
	}
	rc = RP_OK;
	if (write_all(fd, out.data, out.size) != 0)
		rc = sys_fail(eb, "write", path);
	else if (fsync(fd) != 0)
		rc = sync_fail(eb, "fsync", path);
	close(fd);
	sm_buf_deinit(&out);
	return rc;
}

/* Reads a snapshot directory's index back into a layout and its names. */
static int index_read(const char *dir, sm_archive_layout *l, name_buf **names)
{
	char path[PATH_CAP];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, index_file_name);
	RP_CHECK(n > 0 && n < PATH_CAP);
	*names = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return RP_ERR_CORRUPT;
	struct stat st;
	uint8_t *data = NULL;
	int rc = RP_ERR_CORRUPT;
	if (fstat(fd, &st) == 0 && st.st_size >= 16 && st.st_size <= (64 << 20)) {
		data = malloc((size_t)st.st_size);
		if (data != NULL && pread_all(fd, data, (size_t)st.st_size, 0) == 0)
			rc = RP_OK;
	}
	close(fd);
	if (rc != RP_OK) {
		free(data);
		return rc;
	}
	size_t size = (size_t)st.st_size;
	const uint8_t *p = data, *end = data + size - 4;
	rc = RP_ERR_CORRUPT;
	sm_archive_header h;
	uint32_t hsize;
	if (crc32c(data, size - 4) != sm_get_u32(end) || memcmp(p, index_magic, 8) != 0)
		goto out;
	hsize = sm_get_u32(p + 8);
	p += 12;
	if (hsize > (size_t)(end - p) || sm_archive_header_decode(p, hsize, &h) != RP_OK)
		goto out;
	p += hsize;
	if (h.kind != SM_ARCHIVE_KIND_ROCKS)
		goto out;
	if (sm_archive_layout_init(l, &h) != RP_OK)
		goto out;
	*names = calloc(h.file_count ? h.file_count : 1, sizeof(name_buf));
	if (*names == NULL)
		goto out_layout;
	for (uint32_t i = 0; i < h.file_count; i++) {
		if (end - p < 2)
			goto out_layout;
		uint16_t len = sm_get_u16(p);
		p += 2;
		if (len == 0 || len > SM_ARCHIVE_NAME_MAX ||
		    (size_t)(end - p) < (size_t)len + 12)
			goto out_layout;
		memcpy((*names)[i], p, len);
		(*names)[i][len] = '\0';
		p += len;
		uint64_t fsize = sm_get_u64(p);
		uint32_t crc = sm_get_u32(p + 8);
		p += 12;
		char fpath[PATH_CAP];
		n = snprintf(fpath, sizeof(fpath), "%s/%s", dir, (*names)[i]);
		RP_CHECK(n > 0 && n < PATH_CAP);
		struct stat fst;
		if (stat(fpath, &fst) != 0 || (uint64_t)fst.st_size != fsize)
			goto out_layout;
		if (sm_archive_layout_add(l, i, (*names)[i], fsize, crc) != RP_OK)
			goto out_layout;
	}
	if (p != end)
		goto out_layout;
	rc = RP_OK;
	goto out;
out_layout:
	sm_archive_layout_deinit(l);
	free(*names);
	*names = NULL;
out:
	free(data);
	return rc;
}

static void snap_forget(rocks_be *b)
{
	if (b->read_fd >= 0)
		close(b->read_fd);
	b->read_fd = -1;
	free(b->snap_names);
	b->snap_names = NULL;
	b->snap_count = 0;
	b->have_snap = false;
}

static bool is_sst(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".sst") == 0;
}

static void sst_crc_list_clear(sst_crc_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Adds a table file's record (others are skipped).  Only a cache: when
 * memory runs out, or a name comes out of order, the list empties and the
 * next snapshot reads every file. */
static void sst_crc_list_add(sst_crc_list *l, const char *name, uint64_t size, uint32_t crc,
			     const struct stat *st)
{
	if (!is_sst(name))
		return;
	if (l->count > 0 && strcmp(l->v[l->count - 1].name, name) >= 0) {
		sst_crc_list_clear(l);
		return;
	}
	if (l->count == l->cap) {
		uint32_t cap = l->cap ? l->cap * 2 : 64;
		sst_crc *grown = realloc(l->v, cap * sizeof(*grown));
		if (grown == NULL) {
			sst_crc_list_clear(l);
			return;
		}
		l->v = grown;
		l->cap = cap;
	}
	sst_crc *e = &l->v[l->count++];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->size = size;
	e->crc = crc;
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
}

/* The CRC of a table file whose record is in sst_crcs: the same name,
 * size and inode (st is the new checkpoint's hard link to it). */
static bool sst_crc_find(const rocks_be *b, const char *name, const struct stat *st,
			 uint32_t *crc)
{
	if (!is_sst(name))
		return false;
	const sst_crc_list *l = &b->sst_crcs;
	uint32_t lo = 0, hi = l->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(l->v[mid].name, name);
		if (c == 0) {
			const sst_crc *e = &l->v[mid];
			if (e->size != (uint64_t)st->st_size || e->dev != (uint64_t)st->st_dev ||
			    e->ino != (uint64_t)st->st_ino)
				return false;
			*crc = e->crc;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int rocks_snap_begin(sm_be *be, const uint8_t *meta_key, size_t key_size, void **job)
{
	rocks_be *b = (rocks_be *)be;
	if (b->db == NULL)
		return RP_ERR_CLOSED; /* a failed install left it closed */
	snap_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return RP_ERR_NOMEM;
	RP_CHECK(key_size <= sizeof(j->key));
	j->b = b;
	j->fd = -1;
	memcpy(j->key, meta_key, key_size);
	j->key_size = key_size;
	path_of(b, "snap.tmp", j->tmp);
	*job = j;
	return RP_OK;
}

/* Reads key of SM_CF_META in the database at dir, opened read-only for
 * the call (a checkpoint, or a received snapshot); *found says whether it
 * is there.  A failure is recorded in eb, as what_open / what_read, and
 * returns fail_rc. */
static int read_only_get_meta(rocks_be *b, const char *dir, const uint8_t *key,
			      size_t key_size, sm_buf *out, bool *found, sm_be *eb,
			      const char *what_open, const char *what_read, int fail_rc)
{
	const rocksdb_options_t *cf_opts[2] = {b->opts, b->opts};
	rocksdb_column_family_handle_t *cf[2] = {NULL, NULL};
	char *err = NULL;
	rocksdb_t *db = rocksdb_open_for_read_only_column_families(b->opts, dir, 2, cf_names,
								   cf_opts, cf, 0, &err);
	if (err != NULL)
		return rocks_fail_to(eb, what_open, err, fail_rc);
	size_t len = 0;
	char *v = rocksdb_get_cf(db, b->ropts, cf[SM_CF_META], (const char *)key, key_size,
				 &len, &err);
	int rc = RP_OK;
	if (err != NULL) {
		rc = rocks_fail_to(eb, what_read, err, fail_rc);
	} else {
		*found = v != NULL;
		out->size = 0;
		if (v != NULL)
			rc = sm_buf_set(out, v, len);
	}
	rocksdb_free(v);
	rocksdb_column_family_handle_destroy(cf[0]);
	rocksdb_column_family_handle_destroy(cf[1]);
	rocksdb_close(db);
	return rc;
}

/* A checkpoint into snap.tmp.  It flushes the memtables first (with
 * atomic_flush both families at once, at a write-batch boundary), which
 * also makes the state it captures durable in the live db, so the log
 * prefix up to it may go.  Which state that is, the checkpoint's own
 * applied-index record says: the store's thread goes on committing
 * meanwhile.  Its table files are hard links: the live db's compactions
 * may delete their names without touching them. */
static int rocks_snap_capture(void *job, sm_buf *rec, const atomic_bool *cancel, sm_be *err)
{
	snap_job *j = job;
	rocks_be *b = j->b;
	j->cancel = cancel;
	j->err = err;
	if (atomic_load(cancel))
		return RP_ERR_CANCELED;
	int rc = rm_rf(err, j->tmp);
	if (rc != RP_OK)
		return rc;
	char *e = NULL;
	rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(b->db, &e);
	if (e == NULL) {
		rocksdb_checkpoint_create(cp, j->tmp, 0, &e);
		rocksdb_checkpoint_object_destroy(cp);
	}
	if (e != NULL)
		return rocks_fail_to(err, "rocksdb checkpoint", e, RP_ERR_IO);
	/* The file list first: opening the checkpoint below may add a log. */
	rc = list_files(err, j->tmp, &j->names, &j->count);
	bool found = false;
	if (rc == RP_OK)
		rc = read_only_get_meta(b, j->tmp, j->key, j->key_size, rec, &found, err,
					"opening the checkpoint", "reading the checkpoint",
					RP_ERR_IO);
	if (rc == RP_OK && !found)
		rc = RP_ERR_NOTFOUND;
	if (rc == RP_OK && j->count > 0) {
		j->sizes = calloc(j->count, sizeof(*j->sizes));
		j->crcs = calloc(j->count, sizeof(*j->crcs));
		j->crc_known = calloc(j->count, sizeof(*j->crc_known));
		j->stats = calloc(j->count, sizeof(*j->stats));
		if (j->sizes == NULL || j->crcs == NULL || j->crc_known == NULL ||
		    j->stats == NULL)
			rc = RP_ERR_NOMEM;
	}
	for (uint32_t i = 0; rc == RP_OK && i < j->count; i++) {
		char fpath[PATH_CAP];
		int n = snprintf(fpath, sizeof(fpath), "%s/%s", j->tmp, j->names[i]);
		RP_CHECK(n > 0 && n < PATH_CAP);
		struct stat *st = &j->stats[i];
		if (stat(fpath, st) != 0) {
			rc = sys_fail(err, "stat", fpath);
			break;
		}
		j->sizes[i] = (uint64_t)st->st_size;
		j->crc_known[i] = sst_crc_find(b, j->names[i], st, &j->crcs[i]);
	}
	return rc;
}

/* On any thread: the CRCs not known yet (every byte of those files read
 * once), the layout, an fsync of every file, the index, the directory. */
static int rocks_snap_work(void *job, sm_archive_header *h, sm_archive_layout *out,
			   const atomic_bool *cancel, sm_be *err)
{
	snap_job *j = job;
	h->kind = SM_ARCHIVE_KIND_ROCKS;
	h->file_count = j->count;
	int rc = sm_archive_layout_init(out, h);
	for (uint32_t i = 0; rc == RP_OK && i < j->count; i++) {
		if (atomic_load(cancel)) {
			rc = RP_ERR_CANCELED;
			break;
		}
		if (!j->crc_known[i])
			rc = sm_archive_record_crc(j->names[i], j->sizes[i], i, job_read_fn, j,
						   &j->crcs[i]);
		if (rc == RP_OK)
			rc = sm_archive_layout_add(out, i, j->names[i], j->sizes[i], j->crcs[i]);
		if (rc == RP_OK) {
			char fpath[PATH_CAP];
			int n = snprintf(fpath, sizeof(fpath), "%s/%s", j->tmp, j->names[i]);
			RP_CHECK(n > 0 && n < PATH_CAP);
			rc = fsync_path(err, fpath, false);
		}
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	if (rc == RP_OK)
		rc = index_write(err, j->tmp, out);
	if (rc == RP_OK)
		rc = fsync_path(err, j->tmp, true);
	if (rc != RP_OK)
		sm_archive_layout_deinit(out);
	return rc;
}

static void rocks_snap_abandon(sm_be *be, void *job)
{
	rocks_be *b = (rocks_be *)be;
	snap_job *j = job;
	(void)rm_rf(&b->base, j->tmp); /* a leftover is removed at the next begin or open */
	snap_job_free(j);
}

/* A replaced snapshot, set aside on the store's thread with one rename
 * (unlinking its files took up to 120 ms of the loop in a bulk load:
 * the last links to the table files the live db has compacted away).
 * rocks_sweep_run removes it on another thread; rocks_snap_load removes
 * every snap-* but the newest at open, these included. */
static const char retired_prefix[] = "snap-retired-";

static void snap_retire(rocks_be *b, uint64_t index)
{
	char old[32], oldpath[PATH_CAP], name[64], path[PATH_CAP];
	snap_dir_name(index, old);
	path_of(b, old, oldpath);
	snprintf(name, sizeof(name), "%s%020llu", retired_prefix, (unsigned long long)index);
	path_of(b, name, path);
	if (rename(oldpath, path) == 0)
		b->retired = true;
	else
		(void)rm_rf(&b->base, oldpath); /* a leftover is removed at the next open */
}

typedef struct {
	char dir[PATH_CAP];
} rocks_sweep;

static void *rocks_sweep_begin(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	if (!b->retired)
		return NULL;
	rocks_sweep *w = malloc(sizeof(*w));
	if (w == NULL)
		return NULL;
	b->retired = false;
	memcpy(w->dir, b->dir, sizeof(w->dir));
	return w;
}

/* Any thread; only w's directory name. */
static void rocks_sweep_run(void *sweep)
{
	rocks_sweep *w = sweep;
	DIR *d = opendir(w->dir);
	if (d == NULL)
		return;
	sm_be scratch; /* errors stay here: a leftover goes at the next open */
	memset(&scratch, 0, sizeof(scratch));
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, retired_prefix, sizeof(retired_prefix) - 1) != 0)
			continue;
		char path[PATH_CAP];
		int n = snprintf(path, sizeof(path), "%s/%s", w->dir, e->d_name);
		if (n > 0 && n < PATH_CAP)
			(void)rm_rf(&scratch, path);
	}
	closedir(d);
}

static void rocks_sweep_free(void *sweep) { free(sweep); }

/* On the store's thread: snap.tmp becomes snap-<index>, the current one;
 * the previous one is set aside for a sweep. */
static int rocks_snap_finish(sm_be *be, void *job, const sm_archive_layout *out)
{
	rocks_be *b = (rocks_be *)be;
	snap_job *j = job;
	uint64_t index = out->header.index;
	char dname[32], final[PATH_CAP];
	snap_dir_name(index, dname);
	path_of(b, dname, final);
	if (b->have_snap && b->snap_index == index)
		snap_forget(b); /* replaced below */
	int rc = rm_rf(&b->base, final);
	if (rc == RP_OK && rename(j->tmp, final) != 0)
		rc = sys_fail(&b->base, "rename", final);
	if (rc == RP_OK)
		rc = fsync_path(&b->base, b->dir, true);
	if (rc != RP_OK) {
		rocks_snap_abandon(be, j);
		return rc;
	}
	/* The new snapshot is durable: the old one can go. */
	if (b->have_snap && b->snap_index != index) {
		uint64_t old_index = b->snap_index;
		snap_forget(b);
		snap_retire(b, old_index);
	}
	snap_forget(b);
	b->have_snap = true;
	b->snap_index = index;
	b->snap_names = j->names;
	b->snap_count = j->count;
	sst_crc_list_clear(&b->sst_crcs);
	b->base.snap_crc_bytes = 0;
	for (uint32_t i = 0; i < j->count; i++) {
		sst_crc_list_add(&b->sst_crcs, j->names[i], j->sizes[i], j->crcs[i], &j->stats[i]);
		if (!j->crc_known[i])
			b->base.snap_crc_bytes += j->sizes[i];
	}
	j->names = NULL;
	snap_job_free(j);
	return RP_OK;
}

/* Finds the newest complete snapshot directory, drops the others. */
static int rocks_snap_load(sm_be *be, sm_archive_layout *out, bool *found)
{
	rocks_be *b = (rocks_be *)be;
	*found = false;
	DIR *d = opendir(b->dir);
	if (d == NULL)
		return sys_fail(&b->base, "opendir", b->dir);
	uint64_t best = 0;
	bool any = false;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned long long idx;
		char tail;
		if (strncmp(e->d_name, "snap-", 5) != 0 || strlen(e->d_name) != 25 ||
		    sscanf(e->d_name + 5, "%20llu%c", &idx, &tail) != 1)
			continue;
		if (!any || idx > best)
			best = idx;
		any = true;
	}
	closedir(d);
	if (!any)
		return RP_OK;
	/* Remove every snap-* but the newest; keep the newest if its index
	 * reads back. */
	d = opendir(b->dir);
	if (d == NULL)
		return sys_fail(&b->base, "opendir", b->dir);
	char keep[32];
	snap_dir_name(best, keep);
	int rc = RP_OK;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "snap-", 5) != 0 || strcmp(e->d_name, keep) == 0)
			continue;
		char p[PATH_CAP];
		path_of(b, e->d_name, p);
		rc = rm_rf(&b->base, p);
		if (rc != RP_OK)
			break;
	}
	closedir(d);
	if (rc != RP_OK)
		return rc;
	char path[PATH_CAP];
	path_of(b, keep, path);
	name_buf *names = NULL;
	if (index_read(path, out, &names) != RP_OK)
		return rm_rf(&b->base, path); /* unreadable: as if never made */
	b->have_snap = true;
	b->snap_index = out->header.index;
	b->snap_names = names;
	b->snap_count = out->header.file_count;
	sst_crc_list_clear(&b->sst_crcs);
	for (uint32_t i = 0; i < out->header.file_count; i++) {
		const sm_archive_file *f = &out->files[i];
		char fpath[PATH_CAP];
		struct stat st;
		int n = snprintf(fpath, sizeof(fpath), "%s/%s", path, f->name);
		RP_CHECK(n > 0 && n < PATH_CAP);
		if (is_sst(f->name) && stat(fpath, &st) == 0)
			sst_crc_list_add(&b->sst_crcs, f->name, f->size, f->crc, &st);
	}
	*found = true;
	return RP_OK;
}

static int rocks_snap_read(sm_be *be, uint32_t index, uint64_t offset, uint8_t *buf,
			   size_t size)
{
	rocks_be *b = (rocks_be *)be;
	if (!b->have_snap || index >= b->snap_count)
		return RP_ERR_NOTFOUND;
	if (b->read_fd < 0 || b->read_index != index) {
		if (b->read_fd >= 0)
			close(b->read_fd);
		char dname[32], path[PATH_CAP];
		snap_dir_name(b->snap_index, dname);
		int n = snprintf(path, sizeof(path), "%s/%s/%s", b->dir, dname,
				 b->snap_names[index]);
		RP_CHECK(n > 0 && n < PATH_CAP);
		b->read_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (b->read_fd < 0)
			return sys_fail(&b->base, "open", path);
		b->read_index = index;
	}
	if (pread_all(b->read_fd, buf, size, offset) != 0)
		return sys_fail(&b->base, "read", b->snap_names[index]);
	return RP_OK;
}

/* --- install -------------------------------------------------------------------- */

static void inst_close_file(rocks_be *b)
{
	if (b->inst_open)
		close(b->inst_fd);
	b->inst_open = false;
	b->inst_fd = -1;
}

static int rocks_install_begin(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	inst_close_file(b);
	char path[PATH_CAP];
	path_of(b, "install", path);
	sst_crc_list_clear(&b->inst_crcs);
	int rc = rm_rf(&b->base, path);
	if (rc != RP_OK)
		return rc;
	if (mkdir(path, 0755) != 0)
		return sys_fail(&b->base, "mkdir", path);
	return RP_OK;
}

static int inst_file_begin(void *ctx, const char *name, uint64_t size)
{
	rocks_be *b = ctx;
	RP_CHECK(!b->inst_open);
	char dir[PATH_CAP], path[PATH_CAP];
	path_of(b, "install", dir);
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	RP_CHECK(n > 0 && n < PATH_CAP);
	/* O_EXCL: a name twice in one archive is an error, not an overwrite. */
	b->inst_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (b->inst_fd < 0)
		return errno == EEXIST ? RP_ERR_CORRUPT : sys_fail(&b->base, "create", path);
	b->inst_open = true;
	b->inst_left = size;
	b->inst_size = size;
	snprintf(b->inst_name, sizeof(b->inst_name), "%s", name);
	return RP_OK;
}

static int inst_file_data(void *ctx, const uint8_t *data, size_t size)
{
	rocks_be *b = ctx;
	RP_CHECK(b->inst_open);
	RP_CHECK(size <= b->inst_left);
	if (write_all(b->inst_fd, data, size) != 0)
		return sys_fail(&b->base, "write", "install");
	b->inst_left -= size;
	return RP_OK;
}

static int inst_file_end(void *ctx, uint32_t crc)
{
	rocks_be *b = ctx;
	RP_CHECK(b->inst_open);
	RP_CHECK(b->inst_left == 0);
	/* Each file is durable before the swap can happen. */
	int rc =
	    fdatasync(b->inst_fd) == 0 ? RP_OK : sync_fail(&b->base, "fdatasync", "install");
	struct stat st;
	if (rc == RP_OK && is_sst(b->inst_name) && fstat(b->inst_fd, &st) == 0)
		sst_crc_list_add(&b->inst_crcs, b->inst_name, b->inst_size, crc, &st);
	inst_close_file(b);
	return rc;
}

static const sm_archive_sink rocks_sink = {inst_file_begin, inst_file_data,
					   inst_file_end};

static int rocks_install_get_meta(sm_be *be, const uint8_t *key, size_t key_size,
				  sm_buf *out, bool *found)
{
	rocks_be *b = (rocks_be *)be;
	char path[PATH_CAP];
	path_of(b, "install", path);
	return read_only_get_meta(b, path, key, key_size, out, found, &b->base,
				  "rocksdb open received snapshot",
				  "rocksdb read received snapshot", RP_ERR_CORRUPT);
}

static int rocks_install_commit(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	RP_CHECK(!b->inst_open);
	RP_CHECK(sm_overlay_keys(b->ov) == 0);
	char inst[PATH_CAP], live[PATH_CAP];
	path_of(b, "install", inst);
	path_of(b, "db", live);
	int rc = fsync_path(&b->base, inst, true);
	if (rc != RP_OK) {
		(void)rm_rf(&b->base, inst);
		return rc;
	}
	db_close(b);
	/* The new db's table files are the ones received, their CRCs checked. */
	sst_crc_list_clear(&b->sst_crcs);
	b->sst_crcs = b->inst_crcs;
	memset(&b->inst_crcs, 0, sizeof(b->inst_crcs));
	/* The one step that switches states. */
	if (renameat2(AT_FDCWD, inst, AT_FDCWD, live, RENAME_EXCHANGE) != 0) {
		rc = sys_fail(&b->base, "renameat2(RENAME_EXCHANGE)", live);
		(void)rm_rf(&b->base, inst);
		int rc2 = db_open(b);
		return rc2 != RP_OK ? rc2 : rc;
	}
	/* Until this fsync returns, a crash may leave either state, both whole.
	 * A failed fsync stops the node (never retried): db stays closed. */
	rc = fsync_path(&b->base, b->dir, true);
	if (rc != RP_OK)
		return rc;
	(void)rm_rf(&b->base, inst); /* the old db; a leftover is removed at open */
	return db_open(b);
}

static void rocks_install_abort(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	inst_close_file(b);
	sst_crc_list_clear(&b->inst_crcs);
	char path[PATH_CAP];
	path_of(b, "install", path);
	(void)rm_rf(&b->base, path);
}

/* --- open / close ----------------------------------------------------------------- */

/* --- memory --------------------------------------------------------------------- */

static uint64_t prop_sum(rocks_be *b, const char *name)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < 2; i++) {
		uint64_t v = 0;
		if (b->cf[i] != NULL &&
		    rocksdb_property_int_cf(b->db, b->cf[i], name, &v) == 0)
			sum += v;
	}
	return sum;
}

static void rocks_memory_stats(sm_be *be, sm_store_memory *out)
{
	rocks_be *b = (rocks_be *)be;
	if (b->db == NULL)
		return; /* a failed install left it closed */
	out->memtable_bytes = prop_sum(b, "rocksdb.cur-size-all-mem-tables");
	out->table_readers_bytes = prop_sum(b, "rocksdb.estimate-table-readers-mem");
	/* Both column families share one table factory, so one block cache. */
	uint64_t v = 0;
	if (rocksdb_property_int(b->db, "rocksdb.block-cache-usage", &v) == 0)
		out->block_cache_bytes = v;
	if (rocksdb_property_int(b->db, "rocksdb.block-cache-capacity", &v) == 0)
		out->block_cache_capacity_bytes = v;
}

static void rocks_close(sm_be *be)
{
	rocks_be *b = (rocks_be *)be;
	inst_close_file(b);
	snap_forget(b);
	sst_crc_list_clear(&b->sst_crcs);
	sst_crc_list_clear(&b->inst_crcs);
	db_close(b);
	if (b->wb != NULL)
		rocksdb_writebatch_destroy(b->wb);
	sm_overlay_destroy(b->ov);
	if (b->ropts != NULL)
		rocksdb_readoptions_destroy(b->ropts);
	if (b->wopts != NULL)
		rocksdb_writeoptions_destroy(b->wopts);
	if (b->opts != NULL)
		rocksdb_options_destroy(b->opts);
	free(b);
}

static const sm_be_ops rocks_ops = {
    .kind = SM_ARCHIVE_KIND_ROCKS,
    .get = rocks_get,
    .put = rocks_put,
    .del = rocks_del,
    .commit = rocks_commit,
    .abort = rocks_abort,
    .scan = rocks_scan,
    .walk_open = rocks_walk_open,
    .walk_seek = rocks_walk_seek,
    .walk_step = rocks_walk_step,
    .walk_close = rocks_walk_close,
    .snap_begin = rocks_snap_begin,
    .snap_capture = rocks_snap_capture,
    .snap_work = rocks_snap_work,
    .snap_finish = rocks_snap_finish,
    .snap_abandon = rocks_snap_abandon,
    .sweep_begin = rocks_sweep_begin,
    .sweep_run = rocks_sweep_run,
    .sweep_free = rocks_sweep_free,
    .snap_load = rocks_snap_load,
    .snap_read = rocks_snap_read,
    .install_begin = rocks_install_begin,
    .install_sink = &rocks_sink,
    .install_get_meta = rocks_install_get_meta,
    .install_commit = rocks_install_commit,
    .install_abort = rocks_install_abort,
    .memory_stats = rocks_memory_stats,
    .close = rocks_close,
};

static int rocks_prepare(rocks_be *b)
{
	if (mkdir(b->dir, 0755) != 0 && errno != EEXIST)
		return sys_fail(&b->base, "mkdir", b->dir);
	char path[PATH_CAP];
	path_of(b, "install", path);
	int rc = rm_rf(&b->base, path);
	path_of(b, "snap.tmp", path);
	if (rc == RP_OK)
		rc = rm_rf(&b->base, path);
	if (rc != RP_OK)
		return rc;

	b->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(b->opts, 1);
	rocksdb_options_set_create_missing_column_families(b->opts, 1);
	/* WAL off (below) requires it: see the top of this file. */
	rocksdb_options_set_atomic_flush(b->opts, 1);
	rocksdb_options_set_write_buffer_size(b->opts, (size_t)b->write_buffer_bytes);
	rocksdb_options_set_keep_log_file_num(b->opts, 4);
	/* Overwrites of a key already in the memtable with a value no longer
	 * than the old one happen in place: see the top of this file. */
	rocksdb_options_set_allow_concurrent_memtable_write(b->opts, 0);
	rocksdb_options_set_inplace_update_support(b->opts, 1);
	b->ropts = rocksdb_readoptions_create();
	b->wopts = rocksdb_writeoptions_create();
	rocksdb_writeoptions_disable_WAL(b->wopts, 1);
	rocksdb_writeoptions_set_sync(b->wopts, 0);
	b->wb = rocksdb_writebatch_create();
	b->ov = sm_overlay_create(rp_hash_seed());
	if (b->ov == NULL) {
		sm_be_set_error(&b->base, "the write batch's key index", "out of memory");
		return RP_ERR_NOMEM;
	}
	/* RocksDB's per-thread perf counters off on the store's thread (the
	 * library's default counts): otherwise every key comparison in a
	 * memtable search reads two thread-locals, each a __tls_get_addr call
	 * in the shared library (docs/performance.md). */
	rocksdb_set_perf_level(rocksdb_disable);
	return db_open(b);
}

int sm_open_rocks(const char *dir, const sm_config *cfg, sm **out, char *why,
		  size_t why_cap)
{
	*out = NULL;
	if (why != NULL && why_cap > 0)
		why[0] = '\0';
	int rc = sm_config_check(cfg);
	if (rc != RP_OK)
		return rc;
	if (dir == NULL || dir[0] == '\0' || strlen(dir) > DIR_MAX)
		return RP_ERR_INVALID;
	rocks_be *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return RP_ERR_NOMEM;
	b->base.ops = &rocks_ops;
	memcpy(b->dir, dir, strlen(dir) + 1);
	b->write_buffer_bytes = cfg->rocks_write_buffer_bytes;
	b->read_fd = -1;
	b->inst_fd = -1;
	rc = rocks_prepare(b);
	if (rc != RP_OK) {
		/* The caller has no sm to ask sm_error_detail. */
		if (why != NULL && why_cap > 0)
			snprintf(why, why_cap, "%s", b->base.error);
		rocks_close(&b->base);
		return rc;
	}
	return sm_open_be(&b->base, cfg, out, why, why_cap);
}
