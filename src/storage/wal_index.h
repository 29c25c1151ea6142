/*
 * wal_index.h — what the WAL knows about each consensus group while it
 * runs and after recovery: the last hard state, the snapshot mark, and
 * where each live entry lives (a reference per ENTRIES record, not the
 * entries themselves).  The same functions replay records at recovery and
 * track appends at run time, so both agree on what a record means.
 *
 * Record semantics (docs/storage.md, "Replay rules"):
 *   ENTRIES [a, b]    entries >= a are replaced: the log becomes ..a-1, a..b
 *   TRUNCATE from f   entries >= f are dropped
 *   HARD_STATE hs     replaces the hard state
 *   SNAPSHOT s        compaction: entries <= s.index dropped, the rest kept;
 *                     install: every entry dropped, the log starts at s.index+1
 *   GROUP_STATE       hard state + compaction mark, restated (idempotent)
 *   GROUP_DROP        the group is forgotten
 *
 * While replaying, a group's references may have a hole (its older entries
 * were in deleted segments and a later mark covers them); wal_index_check
 * verifies at the end that what is live is contiguous from mark + 1.
 *
 * Owned by one thread (the appender, or recovery before it).
 */
#ifndef RASPUTIN_STORAGE_WAL_INDEX_H
#define RASPUTIN_STORAGE_WAL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"

/* Live entries [first, last] of one ENTRIES record. */
typedef struct {
	uint64_t seg_seq; /* first seq of the segment holding the record */
	uint64_t offset;  /* of the record in that segment */
	uint64_t first;
	uint64_t last;
} wal_ref;

typedef struct {
	uint64_t id;
	hp_hard_state hard_state;
	hp_snapshot_meta snap;
	/* refs[head .. head + count): ordered by index and by position. */
	wal_ref *refs;
	size_t head;
	size_t count;
	size_t cap;
	uint64_t last_index; /* last live entry, or snap.index when none */
} wal_group;

typedef struct {
	wal_group **v; /* sorted by id */
	size_t count;
	size_t max;    /* bound on count */
} wal_index;

void wal_index_init(wal_index *ix, size_t max_groups);
void wal_index_deinit(wal_index *ix);
/* Forgets every group (used when recovery finds older segments to be
 * leftovers of an interrupted deletion). */
void wal_index_clear(wal_index *ix);

wal_group *wal_index_find(const wal_index *ix, uint64_t id);
/* Finds or creates; NULL with *rc = RP_ERR_NOSPC / RP_ERR_NOMEM. */
wal_group *wal_index_get(wal_index *ix, uint64_t id, int *rc);
void wal_index_drop(wal_index *ix, uint64_t id);

/* Applying records.  Each returns 0, RP_ERR_NOMEM, or RP_ERR_CORRUPT when
 * the record contradicts the group's state (strict = false, recovery) —
 * with strict = true (appending) a contradiction is a programmer error
 * and fails an assertion instead. */
int wal_group_entries(wal_group *g, const wal_ref *ref, bool strict);
int wal_group_truncate(wal_group *g, uint64_t from, bool strict);
int wal_group_snapshot(wal_group *g, const hp_snapshot_meta *meta, bool install,
                       bool strict);

/* Lowest seg_seq still referenced by a live entry of any group, or
 * UINT64_MAX. */
uint64_t wal_index_min_live_segment(const wal_index *ix);

/* RP_ERR_CORRUPT (with the group in *bad_group and the missing index in
 * *missing) if some group's live entries are not contiguous from its
 * snapshot index + 1. */
int wal_index_check(const wal_index *ix, uint64_t *bad_group, uint64_t *missing);

#endif
