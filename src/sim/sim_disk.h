/*
 * sim_disk.h — a node's simulated durable storage: what survives a crash.
 * It holds the hard state, the current snapshot (meta and blob), the
 * snapshot being received chunk by chunk, and the log entries after the
 * snapshot, each owning a copy of its data.  The node's driving loop
 * writes here only when a ready batch's simulated persistence completes,
 * so everything not yet written here is lost by a crash; a restart
 * rebuilds the core from this image alone.
 *
 * Functions returning int give 0, or -1 when the write breaks the core's
 * contract (non-contiguous entries, truncating a snapshot, a chunk out of
 * order); the caller reports that as a failure of the run.
 */
#ifndef RASPUTIN_SIM_DISK_H
#define RASPUTIN_SIM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"

/* A snapshot being assembled from chunks (offsets must arrive in order). */
typedef struct {
	hp_snapshot_meta meta;
	uint8_t *data;
	size_t size_bytes;
	size_t capacity;
} sim_disk_stage;

typedef struct {
	hp_hard_state hard_state;
	hp_snapshot_meta snap; /* snap.index == 0: no snapshot */
	uint8_t *snap_blob;
	size_t snap_size_bytes;
	sim_disk_stage stage; /* incoming snapshot */
	/* log[i] is the entry at snap.index + 1 + i; data owned */
	hp_entry *log;
	size_t log_count;
	size_t log_capacity;
} sim_disk;

enum { SIM_DISK_STAGE_MAX_BYTES = 1 << 20 };

void sim_disk_init(sim_disk *disk);
void sim_disk_deinit(sim_disk *disk);

static inline uint64_t sim_disk_last_index(const sim_disk *disk)
{
	return disk->snap.index + disk->log_count;
}
/* The durable entry at index, or NULL. */
const hp_entry *sim_disk_entry(const sim_disk *disk, uint64_t index);
/* Term at index (the snapshot's at snap.index), 0 if unknown. */
uint64_t sim_disk_term(const sim_disk *disk, uint64_t index);

/* Removes entries >= from; from must be above the snapshot. */
int sim_disk_truncate(sim_disk *disk, uint64_t from);
/* Appends copies; entries[0].index must be last_index + 1, and the rest
 * contiguous. */
int sim_disk_append(sim_disk *disk, const hp_entry *entries, size_t count);
/* Replaces the snapshot by (meta, blob) taken by this node at an index it
 * holds durably (compaction); drops the log entries up to meta.index. */
int sim_disk_compact(sim_disk *disk, const hp_snapshot_meta *meta, const uint8_t *blob,
                     size_t size_bytes);
/* Installs a snapshot received from the leader: replaces the snapshot and
 * the whole log (the log is empty after it). */
void sim_disk_install(sim_disk *disk, const hp_snapshot_meta *meta, const uint8_t *blob,
                      size_t size_bytes);

void sim_disk_stage_init(sim_disk_stage *stage);
void sim_disk_stage_deinit(sim_disk_stage *stage);
/* Stores a chunk: offset 0 restarts the stage with chunk's meta; other
 * offsets must be at or below the bytes held, for the same snapshot. */
int sim_disk_stage_put(sim_disk_stage *stage, const hp_snap_chunk *chunk);

/* Copies of entry arrays (data included), for ready batches and messages. */
hp_entry *sim_disk_entries_copy(const hp_entry *entries, size_t count);
void sim_disk_entries_free(hp_entry *entries, size_t count);

#endif
