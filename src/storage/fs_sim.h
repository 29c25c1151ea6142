/*
 * fs_sim.h — a simulated disk behind the file interface (fs.h), for the
 * simulator and the storage tests.  It keeps everything in memory and is
 * deterministic: every random choice comes from an rp_prng the caller
 * passes in, so a seed replays exactly.
 *
 * Fault model (what the disk may do to the storage code above it):
 *   - Per file it keeps the durable content and, separately, the writes
 *     (pwrite, truncate, preallocate) made since the last fdatasync of that
 *     file.  fs_sim_crash() takes each unsynced write in order and either
 *     keeps it, loses it, or — with torn writes enabled — tears it at a
 *     512-byte sector boundary, keeping a prefix of its sectors and losing
 *     the rest.  Sector writes themselves are atomic.
 *   - Directory changes (create, rename, unlink) are volatile until
 *     fs_fsync_dir of their directory; at a crash each unsynced one is
 *     independently kept or lost.  A file whose name is lost is gone.
 *     (Simplification: mkdir is durable at once.)
 *   - Latent corruption: fs_sim_flip_bits() flips bits in a file's durable
 *     content (what a later read returns, unless a newer unsynced write
 *     covers that byte).
 *   - Errors: a write (pwrite/truncate/fallocate) can fail with RP_ERR_IO
 *     or RP_ERR_NOSPC and then changes nothing; a sync (fdatasync,
 *     fsync_dir) can fail with RP_ERR_FSYNC and then makes nothing durable.
 *     Either by probability (fs_sim_set_faults) or on the n-th next call
 *     (fs_sim_fail_nth).  A capacity bound gives RP_ERR_NOSPC when the
 *     files' total size would exceed it.
 *   - A crash also invalidates every open fs_file: further calls on one
 *     return RP_ERR_IO; fs_close still frees it.
 * Not modelled: reads that fail, misdirected writes, sectors larger than
 * 512 bytes, and the disk lying about a sync that succeeded.
 *
 * Memory: content is stored sparsely — bytes past the highest written one
 * read as zeros without being stored, so preallocation costs nothing.
 * Bounds: at most FS_SIM_MAX_FILES files (names, durable or not) and
 * FS_SIM_MAX_DIRS directories.
 */
#ifndef RASPUTIN_STORAGE_FS_SIM_H
#define RASPUTIN_STORAGE_FS_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/fs.h"
#include "util/prng.h"

enum {
	FS_SIM_SECTOR_BYTES = 512,
	FS_SIM_MAX_FILES = 4096,
	FS_SIM_MAX_DIRS = 256,
	FS_SIM_MAX_PENDING_OPS = 1 << 20, /* unsynced writes per file */
};

typedef struct fs_sim fs_sim;

typedef struct {
	/* At a crash, each unsynced write or directory change survives whole
	 * with this chance (parts per million).  Default 500000. */
	uint32_t crash_keep_ppm;
	/* Of the writes that do not survive whole, this share is torn (a
	 * prefix of sectors kept) instead of lost.  0 disables torn writes. */
	uint32_t crash_torn_ppm;
	/* Chance that a pwrite/truncate/fallocate fails. */
	uint32_t write_eio_ppm;
	uint32_t write_nospc_ppm;
	/* Chance that an fdatasync or fsync_dir fails (RP_ERR_FSYNC). */
	uint32_t sync_eio_ppm;
	/* Total bytes of all files; 0 = unlimited. */
	uint64_t capacity_bytes;
} fs_sim_faults;

typedef enum {
	FS_SIM_OP_WRITE = 0, /* pwrite, truncate, fallocate */
	FS_SIM_OP_SYNC = 1,  /* fdatasync, fsync_dir */
} fs_sim_op;

typedef struct {
	uint64_t opens;
	uint64_t writes; /* pwrite calls that succeeded */
	uint64_t write_bytes;
	uint64_t fdatasyncs; /* successful fdatasync calls */
	uint64_t dir_syncs;
	uint64_t crashes;
	uint64_t injected_errors;
} fs_sim_stats;

/* An empty disk with no faults (crash_keep_ppm 500000, no torn writes).
 * NULL when out of memory.  Destroy with fs_destroy(fs_sim_fs(disk)) or
 * fs_sim_destroy (accepts NULL); every fs_file must be closed first. */
fs_sim *fs_sim_create(void);
void fs_sim_destroy(fs_sim *disk);
/* The file-interface view of the disk (same lifetime). */
fs *fs_sim_fs(fs_sim *disk);

void fs_sim_faults_default(fs_sim_faults *faults);
/* Sets the fault probabilities; prng is borrowed until the next call or
 * fs_sim_destroy, and only consulted when a probability is non-zero. */
void fs_sim_set_faults(fs_sim *disk, const fs_sim_faults *faults, rp_prng *prng);
/* Makes the n-th next operation of kind `op` (n >= 1) fail with rc
 * (RP_ERR_IO or RP_ERR_NOSPC for writes, RP_ERR_FSYNC for syncs).  One
 * pending one-shot per kind; n = 0 cancels it. */
void fs_sim_fail_nth(fs_sim *disk, fs_sim_op op, uint32_t n, int rc);

/* Power loss: unsynced writes and directory changes are kept, lost or torn
 * as described above, using prng; open files become invalid. */
void fs_sim_crash(fs_sim *disk, rp_prng *prng);

/* Flips `count` random bits in the durable content of the file at path
 * (RP_ERR_NOTFOUND if none, RP_ERR_INVALID if its durable content is
 * empty).  The bit positions come from prng. */
int fs_sim_flip_bits(fs_sim *disk, const char *path, uint32_t count, rp_prng *prng);
/* Flips one given bit (0..7) of the durable byte at offset. */
int fs_sim_flip_bit_at(fs_sim *disk, const char *path, uint64_t offset, unsigned bit);

void fs_sim_get_stats(fs_sim *disk, fs_sim_stats *stats);
/* Writes and directory changes not yet durable, over all files. */
uint64_t fs_sim_unsynced_ops(fs_sim *disk);

#endif
