/*
 * hp_log.h — the consensus core's in-memory view of one group's log: the
 * entries after the last snapshot.
 *
 * Internal to src/harpoon.  Indexes are absolute; the entry at index i
 * lives at entries[i - snap_index - 1].  Entry pointers stay valid until
 * the next append, truncate or compact; an entry's data stays where it is
 * until that entry is truncated or compacted away.
 *
 * Entries' data is packed in order into slabs of HP_LOG_SLAB_BYTES (an
 * entry larger than HP_LOG_OWN_SLAB_BYTES gets a slab of its own size, so
 * that no slab is left more than a sixteenth empty), not allocated entry
 * by entry: an append is a copy, and since entries leave the log only from
 * its two ends (compaction takes a prefix, truncation a suffix), whole
 * slabs are freed at once instead of thousands of small blocks whose
 * holes the allocator would keep.  What the slabs hold beyond
 * size_bytes: at the end of each full slab, less than the entry that did
 * not fit, and the unused parts of the oldest and newest slabs.
 */
#ifndef RASPUTIN_HP_LOG_H
#define RASPUTIN_HP_LOG_H

#include "harpoon/harpoon.h"

enum { HP_LOG_SLAB_BYTES = 256 * 1024, HP_LOG_OWN_SLAB_BYTES = HP_LOG_SLAB_BYTES / 16 };

typedef struct hp_log_slab hp_log_slab;

typedef struct {
	hp_entry *entries;
	uint64_t count;
	uint64_t capacity;
	uint64_t snap_index; /* entries <= snap_index are compacted away */
	uint64_t snap_term;
	uint64_t size_bytes;	      /* data bytes held */
	hp_log_slab *oldest, *newest; /* the slabs, oldest first */
	uint64_t slab_bytes;	      /* their total size */
} hp_log;

void hp_log_init(hp_log *log, uint64_t snap_index, uint64_t snap_term);
void hp_log_deinit(hp_log *log);

static inline uint64_t hp_log_last_index(const hp_log *log)
{
	return log->snap_index + log->count;
}
uint64_t hp_log_last_term(const hp_log *log);
/* Term at index; the snapshot's term at snap_index; 0 if unknown. */
uint64_t hp_log_term_at(const hp_log *log, uint64_t index);
/* NULL if index is not in memory (compacted or beyond the end). */
const hp_entry *hp_log_at(const hp_log *log, uint64_t index);
/* Appends a copy at last_index + 1.  Returns 0 or HP_ERR_NOMEM. */
int hp_log_append(hp_log *log, uint64_t term, uint8_t type, const uint8_t *data,
		  uint32_t size_bytes);
/* Removes every entry >= from (from > snap_index). */
void hp_log_truncate(hp_log *log, uint64_t from);
/* Drops entries <= index; if index is beyond the log, the log becomes
 * empty and starts after index. */
void hp_log_compact(hp_log *log, uint64_t index, uint64_t term);
/* Memory held: the slabs and the entry array. */
uint64_t hp_log_memory_bytes(const hp_log *log);

#endif
