/*
 * sim_disk.c — a simulated node's durable storage (see sim_disk.h): the
 * node's fs_sim disk, the real WAL on it in synchronous mode, snapshot
 * files written with the tmp/fdatasync/rename/fsync_dir protocol, crashes
 * through fs_sim_crash and latent bit flips in durable WAL data.  The
 * simulated disk is sparse and its segments small, so it stays cheap.
 */
#include "sim/sim_disk.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"

static const char sim_disk_wal_dir[] = "wal";
static const char sim_disk_snap_dir[] = "snap";
static const char sim_disk_snap_tmp[] = "snap/tmp";

void sim_disk_init(sim_disk *disk, uint64_t segment_bytes, uint64_t wal_id,
                   const fs_sim_faults *faults, rp_prng *rng)
{
	RP_CHECK(segment_bytes >= 4096);
	RP_CHECK(rng != NULL && faults != NULL);
	memset(disk, 0, sizeof(*disk));
	disk->media = fs_sim_create();
	RP_CHECK(disk->media != NULL);
	disk->segment_bytes = segment_bytes;
	disk->wal_id = wal_id;
	disk->faults = *faults;
	disk->rng = rng;
	fs_sim_set_faults(disk->media, faults, rng);
	fs *vfs = fs_sim_fs(disk->media);
	RP_CHECK(fs_mkdir(vfs, sim_disk_wal_dir) == 0);
	RP_CHECK(fs_mkdir(vfs, sim_disk_snap_dir) == 0);
}

void sim_disk_deinit(sim_disk *disk)
{
	sim_disk_close_log(disk);
	fs_sim_destroy(disk->media);
	memset(disk, 0, sizeof(*disk));
}

void sim_disk_errors(sim_disk *disk, bool on)
{
	fs_sim_faults f = disk->faults;
	if (!on) {
		f.write_eio_ppm = 0;
		f.write_nospc_ppm = 0;
		f.sync_eio_ppm = 0;
	}
	fs_sim_set_faults(disk->media, &f, disk->rng);
}

int sim_disk_open(sim_disk *disk, wal_report *rep)
{
	RP_CHECK(disk->log == NULL);
	wal_config cfg;
	wal_config_default(&cfg);
	cfg.vfs = fs_sim_fs(disk->media);
	cfg.dir = sim_disk_wal_dir;
	cfg.segment_bytes = disk->segment_bytes;
	cfg.max_pending_bytes = 1u << 22;
	cfg.max_segments = SIM_DISK_MAX_SEGMENTS;
	cfg.max_groups = 8;
	cfg.threaded = false;
	cfg.wal_id = disk->wal_id;
	return wal_open(&cfg, &disk->log, rep);
}

int sim_disk_persist(sim_disk *disk, const wal_rec *recs, size_t count)
{
	RP_CHECK(disk->log != NULL);
	RP_CHECK(count > 0);
	uint64_t seq = 0;
	int rc = wal_append(disk->log, recs, count, &seq);
	if (rc == 0)
		rc = wal_sync(disk->log);
	if (rc == 0)
		RP_CHECK(wal_durable_seq(disk->log) >= seq);
	return rc;
}

int sim_disk_queue(sim_disk *disk, const wal_rec *recs, size_t count)
{
	RP_CHECK(disk->log != NULL);
	if (count == 0)
		return 0;
	return wal_append(disk->log, recs, count, NULL);
}

void sim_disk_write_unsynced(sim_disk *disk)
{
	RP_CHECK(disk->log != NULL);
	if (wal_failed(disk->log) != 0)
		return;
	fs_sim_fail_nth(disk->media, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
	(void)wal_sync(disk->log);
	fs_sim_fail_nth(disk->media, FS_SIM_OP_SYNC, 0, 0);
}

void sim_disk_close_log(sim_disk *disk)
{
	if (disk->log == NULL)
		return;
	wal_stats st;
	wal_get_stats(disk->log, &st);
	disk->segments_created += st.segments_created;
	disk->segments_deleted += st.segments_deleted;
	wal_close(disk->log);
	disk->log = NULL;
}

void sim_disk_segment_stats(sim_disk *disk, uint64_t *created, uint64_t *deleted)
{
	*created = disk->segments_created;
	*deleted = disk->segments_deleted;
	if (disk->log) {
		wal_stats st;
		wal_get_stats(disk->log, &st);
		*created += st.segments_created;
		*deleted += st.segments_deleted;
	}
}

void sim_disk_crash(sim_disk *disk)
{
	sim_disk_close_log(disk);
	fs_sim_fail_nth(disk->media, FS_SIM_OP_SYNC, 0, 0);
	fs_sim_fail_nth(disk->media, FS_SIM_OP_WRITE, 0, 0);
	fs_sim_crash(disk->media, disk->rng);
}

/* --- snapshot files ------------------------------------------------------- */

static void snap_path(char *out, size_t cap, uint64_t group, uint64_t index)
{
	int n = snprintf(out, cap, "%s/%" PRIu64 "-%020" PRIu64, sim_disk_snap_dir, group, index);
	RP_CHECK(n > 0 && (size_t)n < cap);
}

int sim_disk_snapshot_write(sim_disk *disk, uint64_t group, uint64_t index,
                            const uint8_t *blob, size_t size_bytes)
{
	RP_CHECK(index > 0 && size_bytes > 0 && size_bytes <= SIM_DISK_SNAPSHOT_MAX_BYTES);
	fs *vfs = fs_sim_fs(disk->media);
	char path[64];
	snap_path(path, sizeof(path), group, index);
	fs_file *f = NULL;
	int rc = fs_open(vfs, sim_disk_snap_tmp, FS_OPEN_CREATE, &f);
	if (rc != 0)
		return rc;
	rc = fs_truncate(vfs, f, 0);
	if (rc == 0)
		rc = fs_pwrite(vfs, f, blob, size_bytes, 0);
	if (rc == 0)
		rc = fs_fdatasync(vfs, f);
	int crc = fs_close(vfs, f);
	if (rc == 0)
		rc = crc;
	if (rc == 0)
		rc = fs_rename(vfs, sim_disk_snap_tmp, path);
	if (rc == 0)
		rc = fs_fsync_dir(vfs, sim_disk_snap_dir);
	return rc;
}

int sim_disk_snapshot_read(sim_disk *disk, uint64_t group, uint64_t index, uint64_t offset,
                           uint8_t *buf, size_t cap, size_t *size_bytes, uint64_t *total_bytes)
{
	fs *vfs = fs_sim_fs(disk->media);
	char path[64];
	snap_path(path, sizeof(path), group, index);
	fs_file *f = NULL;
	int rc = fs_open(vfs, path, FS_OPEN_READ_ONLY, &f);
	if (rc != 0)
		return rc;
	uint64_t size = 0;
	rc = fs_size(vfs, f, &size);
	*size_bytes = 0;
	if (rc == 0 && offset > size)
		rc = RP_ERR_INVALID;
	if (rc == 0 && cap > 0)
		rc = fs_pread(vfs, f, buf, cap, offset, size_bytes);
	int crc = fs_close(vfs, f);
	if (rc == 0)
		rc = crc;
	*total_bytes = size;
	return rc;
}

typedef struct {
	uint64_t group;
	uint64_t keep;
	char names[16][FS_NAME_MAX + 1];
	size_t count;
} snap_prune_ctx;

static int snap_prune_cb(void *ctx, const char *name)
{
	snap_prune_ctx *p = ctx;
	uint64_t group = 0, index = 0;
	char tail = 0;
	if (sscanf(name, "%" SCNu64 "-%" SCNu64 "%c", &group, &index, &tail) != 2 ||
	    group != p->group || index == p->keep)
		return 0;
	if (p->count == sizeof(p->names) / sizeof(p->names[0]))
		return 1; /* the rest next time */
	snprintf(p->names[p->count++], FS_NAME_MAX + 1, "%s", name);
	return 0;
}

int sim_disk_snapshot_prune(sim_disk *disk, uint64_t group, uint64_t keep)
{
	fs *vfs = fs_sim_fs(disk->media);
	snap_prune_ctx p;
	memset(&p, 0, sizeof(p));
	p.group = group;
	p.keep = keep;
	int rc = fs_list(vfs, sim_disk_snap_dir, snap_prune_cb, &p);
	if (rc < 0)
		return rc;
	if (p.count == 0)
		return 0;
	for (size_t i = 0; i < p.count; i++) {
		char path[FS_NAME_MAX + 8];
		snprintf(path, sizeof(path), "%s/%s", sim_disk_snap_dir, p.names[i]);
		rc = fs_unlink(vfs, path);
		if (rc != 0 && rc != RP_ERR_NOTFOUND)
			return rc;
	}
	return fs_fsync_dir(vfs, sim_disk_snap_dir);
}

/* --- latent corruption ---------------------------------------------------- */

typedef struct {
	char names[SIM_DISK_MAX_SEGMENTS + 8][FS_NAME_MAX + 1];
	size_t count;
} seg_list_ctx;

static int seg_list_cb(void *ctx, const char *name)
{
	seg_list_ctx *s = ctx;
	size_t len = strlen(name);
	if (len < 5 || strcmp(name + len - 4, ".wal") != 0)
		return 0;
	if (s->count == sizeof(s->names) / sizeof(s->names[0]))
		return 1;
	snprintf(s->names[s->count++], FS_NAME_MAX + 1, "%s", name);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int sim_disk_corrupt(sim_disk *disk, uint32_t count, char *what, size_t what_size)
{
	RP_CHECK(count > 0);
	fs *vfs = fs_sim_fs(disk->media);
	seg_list_ctx *s = calloc(1, sizeof(*s));
	RP_CHECK(s != NULL);
	int rc = fs_list(vfs, sim_disk_wal_dir, seg_list_cb, s);
	if (rc < 0 || s->count == 0) {
		free(s);
		return RP_ERR_NOTFOUND;
	}
	/* The listing order is the disk's; sort so a seed replays exactly. */
	qsort(s->names, s->count, sizeof(s->names[0]), name_cmp);
	char path[FS_NAME_MAX + 8];
	snprintf(path, sizeof(path), "%s/%s", sim_disk_wal_dir,
	         s->names[rp_prng_below(disk->rng, s->count)]);
	free(s);
	/* Flip inside what was written: find the last non-zero byte. */
	fs_file *f = NULL;
	rc = fs_open(vfs, path, FS_OPEN_READ_ONLY, &f);
	if (rc != 0)
		return RP_ERR_NOTFOUND;
	uint64_t size = 0;
	rc = fs_size(vfs, f, &size);
	uint8_t *buf = NULL;
	size_t got = 0;
	if (rc == 0 && size > 0) {
		buf = malloc((size_t)size);
		RP_CHECK(buf != NULL);
		rc = fs_pread(vfs, f, buf, (size_t)size, 0, &got);
	}
	(void)fs_close(vfs, f);
	size_t written = 0;
	for (size_t i = got; rc == 0 && i > 0; i--) {
		if (buf[i - 1] != 0) {
			written = i;
			break;
		}
	}
	free(buf);
	if (rc != 0 || written == 0)
		return RP_ERR_NOTFOUND;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t bit = rp_prng_below(disk->rng, (uint64_t)written * 8);
		RP_CHECK(fs_sim_flip_bit_at(disk->media, path, bit / 8, (unsigned)(bit % 8)) == 0);
		if (i == 0 && what && what_size)
			snprintf(what, what_size, "%s byte %llu of %zu written", path,
			         (unsigned long long)(bit / 8), written);
	}
	return 0;
}

/* --- the volatile snapshot stage ------------------------------------------ */

void sim_disk_stage_init(sim_disk_stage *stage)
{
	memset(stage, 0, sizeof(*stage));
}

void sim_disk_stage_deinit(sim_disk_stage *stage)
{
	free(stage->data);
	memset(stage, 0, sizeof(*stage));
}

int sim_disk_stage_put(sim_disk_stage *stage, const hp_snap_chunk *chunk)
{
	if (chunk->offset == 0) {
		stage->meta = chunk->meta;
		stage->size_bytes = 0;
	} else if (stage->meta.index != chunk->meta.index ||
	           stage->meta.term != chunk->meta.term || chunk->offset > stage->size_bytes) {
		return -1;
	}
	uint64_t end = chunk->offset + chunk->size_bytes;
	if (end > SIM_DISK_STAGE_MAX_BYTES)
		return -1;
	if (end > stage->capacity) {
		size_t capacity = stage->capacity ? stage->capacity : 1024;
		while (capacity < end)
			capacity *= 2;
		uint8_t *data = realloc(stage->data, capacity);
		RP_CHECK(data != NULL);
		stage->data = data;
		stage->capacity = capacity;
	}
	if (chunk->size_bytes) {
		RP_CHECK(chunk->data != NULL);
		memcpy(stage->data + chunk->offset, chunk->data, chunk->size_bytes);
	}
	/* A chunk ends the stage: a resent earlier chunk overwrites in place
	 * and cuts what followed (it will be resent too). */
	stage->size_bytes = (size_t)end;
	return 0;
}

/* --- entry copies ---------------------------------------------------------- */

hp_entry *sim_disk_entries_copy(sim_pool *pool, const hp_entry *entries, size_t count,
                                size_t *block_bytes)
{
	*block_bytes = 0;
	if (count == 0)
		return NULL;
	size_t total = count * sizeof(hp_entry);
	for (size_t i = 0; i < count; i++) {
		RP_CHECK(entries[i].size_bytes == 0 || entries[i].data != NULL);
		total += entries[i].size_bytes;
	}
	hp_entry *copy = sim_pool_alloc(pool, total);
	uint8_t *data = (uint8_t *)(copy + count);
	for (size_t i = 0; i < count; i++) {
		copy[i] = entries[i];
		copy[i].data = NULL;
		if (entries[i].size_bytes) {
			memcpy(data, entries[i].data, entries[i].size_bytes);
			copy[i].data = data;
			data += entries[i].size_bytes;
		}
	}
	*block_bytes = total;
	return copy;
}

void sim_disk_entries_free(sim_pool *pool, hp_entry *entries, size_t block_bytes)
{
	if (entries != NULL)
		sim_pool_free(pool, entries, block_bytes);
}
