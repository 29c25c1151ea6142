/*
 * sim_disk.h — a simulated node's durable storage: ONE fs_sim disk
 * (storage/fs_sim.h) per node holding the node's real write-ahead log
 * (storage/wal.h, synchronous mode) in "wal/" and its state-machine
 * snapshots in "snap/", one file per (group, index).  Everything that
 * survives a crash is on that disk and nowhere else: a restart recovers
 * with wal_open + wal_restore_load and reads its snapshot back from its
 * file.  Crashes go through fs_sim_crash (unsynced writes kept, lost or
 * torn at 512-byte sectors); latent corruption flips bits in durable WAL
 * data.
 *
 * The snapshot protocol (docs/storage.md, "the caller makes the snapshot
 * itself durable first"): write snap/tmp, fdatasync, rename to
 * snap/<group>-<index>, fsync the directory; only then append the WAL's
 * snapshot mark.  Older snapshot files are deleted once a newer mark is
 * durable; at restart every file but the one the WAL's mark names goes.
 *
 * Every function that writes returns 0 or an RP_ERR_* code from the disk
 * or the WAL; any failure is fatal for the node (it stops and recovers).
 * Also here: the volatile snapshot stage (chunks as they arrive) and deep
 * copies of entry arrays for ready batches.
 */
#ifndef RASPUTIN_SIM_DISK_H
#define RASPUTIN_SIM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"
#include "sim/sim_pool.h"
#include "storage/fs_sim.h"
#include "storage/wal.h"
#include "util/prng.h"

/* A snapshot being assembled from chunks (offsets must arrive in order). */
typedef struct {
	hp_snapshot_meta meta;
	uint8_t *data;
	size_t size_bytes;
	size_t capacity;
} sim_disk_stage;

typedef struct {
	fs_sim *media;          /* the node's disk; survives crashes */
	wal *log;               /* NULL while the node is down */
	uint64_t segment_bytes; /* WAL segment size */
	uint64_t wal_id;
	fs_sim_faults faults;   /* as configured (errors may be switched off) */
	rp_prng *rng;           /* borrowed: the world's media PRNG */
	uint64_t segments_created; /* by WAL objects already closed */
	uint64_t segments_deleted;
} sim_disk;

enum {
	SIM_DISK_STAGE_MAX_BYTES = 1 << 20,
	SIM_DISK_MAX_SEGMENTS = 512,
	SIM_DISK_SNAPSHOT_MAX_BYTES = 1 << 16,
};

/* An empty disk.  rng is borrowed for the disk's lifetime. */
void sim_disk_init(sim_disk *disk, uint64_t segment_bytes, uint64_t wal_id,
                   const fs_sim_faults *faults, rp_prng *rng);
void sim_disk_deinit(sim_disk *disk);
/* Switches the probabilistic write/sync errors on or off. */
void sim_disk_errors(sim_disk *disk, bool on);

/* Opens and recovers the WAL (wal_open); on RP_ERR_CORRUPT, rep says where. */
int sim_disk_open(sim_disk *disk, wal_report *rep);
/* One atomic batch: wal_append, then wal_sync (one round). */
int sim_disk_persist(sim_disk *disk, const wal_rec *recs, size_t count);
/* A crash in the middle of a write round: sim_disk_queue appends batches
 * (wal_append, nothing written), then sim_disk_write_unsynced writes them
 * in one round whose sync fails, so they sit unsynced on the disk when
 * the crash comes.  The WAL is failed afterwards; only sim_disk_crash
 * may follow. */
int sim_disk_queue(sim_disk *disk, const wal_rec *recs, size_t count);
void sim_disk_write_unsynced(sim_disk *disk);
/* Closes the WAL object without writing anything more (a process
 * stop), keeping its statistics. */
void sim_disk_close_log(sim_disk *disk);
/* Segments created and deleted over the disk's life. */
void sim_disk_segment_stats(sim_disk *disk, uint64_t *created, uint64_t *deleted);
/* Power loss: drops the WAL object (nothing more is written), then
 * fs_sim_crash keeps, loses or tears each unsynced write. */
void sim_disk_crash(sim_disk *disk);

/* Writes a snapshot durably (tmp, fdatasync, rename, fsync_dir). */
int sim_disk_snapshot_write(sim_disk *disk, uint64_t group, uint64_t index,
                            const uint8_t *blob, size_t size_bytes);
/* Reads up to cap bytes at offset of snapshot (group, index); *size_bytes
 * read and *total_bytes the file's size.  RP_ERR_NOTFOUND if absent. */
int sim_disk_snapshot_read(sim_disk *disk, uint64_t group, uint64_t index, uint64_t offset,
                           uint8_t *buf, size_t cap, size_t *size_bytes, uint64_t *total_bytes);
/* Deletes every snapshot file of group but (group, keep) (and syncs the
 * directory). */
int sim_disk_snapshot_prune(sim_disk *disk, uint64_t group, uint64_t keep);

/* Latent corruption: flips `count` bits inside the written part of a
 * random WAL segment file (durable content).  Returns 0, or
 * RP_ERR_NOTFOUND when there is no written segment; *what names it. */
int sim_disk_corrupt(sim_disk *disk, uint32_t count, char *what, size_t what_size);

void sim_disk_stage_init(sim_disk_stage *stage);
void sim_disk_stage_deinit(sim_disk_stage *stage);
/* Stores a chunk: offset 0 restarts the stage with chunk's meta; other
 * offsets must be at or below the bytes held, for the same snapshot. */
int sim_disk_stage_put(sim_disk_stage *stage, const hp_snap_chunk *chunk);

/* A copy of an entry array with the entries' data, in one block of pool
 * (*block_bytes long: pass it to sim_disk_entries_free).  NULL when
 * count is 0. */
hp_entry *sim_disk_entries_copy(sim_pool *pool, const hp_entry *entries, size_t count,
                                size_t *block_bytes);
void sim_disk_entries_free(sim_pool *pool, hp_entry *entries, size_t block_bytes);

#endif
