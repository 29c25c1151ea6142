/*
 * wal.h — the node's write-ahead log: ONE log shared by every consensus
 * group on the node (per-group logs would multiply the fsyncs), holding
 * each group's entries, suffix truncations, hard state and snapshot marks.
 * Format, recovery rules and the fault assumptions are in docs/storage.md.
 *
 * Persisting a Harpoon ready batch (harpoon.h, "the caller persists"):
 *
 *     wal_rec recs[WAL_READY_MAX_RECS];
 *     size_t n = wal_recs_from_ready(group, &rd, recs);
 *     uint64_t seq;
 *     int rc = wal_append(w, recs, n, &seq);   // copies; rd may go now
 *     ...                                      // more groups, same loop turn
 *     // threaded: durable_cb(ctx, seq', 0) with seq' >= seq arrives on the
 *     //           writer thread; then hp_advance(node, rd.seq) on the loop.
 *     // sync:     rc = wal_sync(w); then hp_advance(node, rd.seq).
 *
 * One wal_append is one batch and is atomic: after a crash recovery finds
 * all of its records or none (so a ready batch's snapshot mark, hard state,
 * truncation and entries never survive in part).  Batches become durable
 * in append order.  Records from many groups may share one batch.
 *
 * Group commit: in threaded mode a background writer takes everything
 * appended since its last round and writes it with one pwrite and one
 * fdatasync per segment touched (a round crossing into a new segment syncs
 * the old one first), then reports the highest durable sequence number.
 * fdatasync never runs on the appending thread.  In sync mode (simulator,
 * tests) there is no thread and wal_sync runs the very same round code on
 * the caller's thread.
 *
 * Restoring after a restart:
 *
 *     wal *w; wal_report rep;
 *     rc = wal_open(&cfg, &w, &rep);     // scans, verifies, repairs the tail
 *     // RP_ERR_CORRUPT: rep.message says where; see "What the node does"
 *     for each id in wal_group_ids(...):
 *         wal_restore r;
 *         rc = wal_restore_load(w, id, &r);  // r.restore is an hp_restore
 *         node = hp_create(&hcfg, &initial, &r.restore, now, &hrc);
 *         wal_restore_free(&r);              // hp_create copied the entries
 *
 * Prefix removal: a segment file is deleted once it is not the newest and
 * every entry in it is covered by its group's snapshot mark or truncated,
 * for every group — a group that never snapshots keeps every segment from
 * its oldest live entry onwards alive.  Hard state and snapshot marks are
 * never lost with a deleted segment: each new segment starts with one
 * GROUP_STATE record per group restating them.
 *
 * Errors.  wal_append: RP_ERR_BUSY when the queue of unwritten bytes is at
 * cfg.max_pending_bytes (retry after the next durable_cb), RP_ERR_NOSPC
 * when cfg.max_segments or cfg.max_groups would be exceeded — neither
 * fails the WAL.  A batch holding entries may not take the last of
 * max_segments: that one is kept for batches without entries, so a full
 * log can still record the snapshot marks that let it delete segments.  Any write,
 * sync or create failure in a round makes the WAL failed for good: the
 * round's callback and every later call return that code — RP_ERR_FSYNC
 * (a sync failed; the node stops and must not retry), RP_ERR_NOSPC, or
 * RP_ERR_IO.  The node then stops; a restart recovers from the files.
 *
 * Threads: wal_append, wal_sync, wal_close and the restore calls belong to
 * one thread (the event loop); durable_cb runs on the writer thread in
 * threaded mode and must only hand the number over (e.g. wake the loop).
 * wal_wait (threaded mode), wal_durable_seq, wal_last_seq, wal_failed and
 * wal_get_stats may be called from any thread.
 */
#ifndef RASPUTIN_STORAGE_WAL_H
#define RASPUTIN_STORAGE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"
#include "storage/fs.h"

typedef struct wal wal;

typedef enum {
	WAL_REC_ENTRIES = 1,     /* group, entries (contiguous indexes) */
	WAL_REC_TRUNCATE = 2,    /* group, from: entries >= from are void */
	WAL_REC_HARD_STATE = 3,  /* group, hp_hard_state: the last one wins */
	WAL_REC_SNAPSHOT = 4,    /* group, snapshot meta: the prefix <= index is
	                            covered by a durable snapshot */
	WAL_REC_GROUP_STATE = 5, /* written by the WAL itself at segment start */
	WAL_REC_GROUP_DROP = 6,  /* group: forget everything about it */
} wal_rec_type;

/* One record to append.  Only the fields of its type are read.  Borrowed
 * for the duration of wal_append (which copies everything). */
typedef struct {
	uint8_t type; /* wal_rec_type, not GROUP_STATE */
	uint64_t group;
	/* ENTRIES: entries[0].index must be in (snapshot index, last index + 1];
	 * an index at or below the last one truncates from there first. */
	const hp_entry *entries;
	size_t entry_count;
	/* TRUNCATE: > snapshot index. */
	uint64_t truncate_from;
	/* HARD_STATE */
	hp_hard_state hard_state;
	/* SNAPSHOT: snapshot.index >= the previous mark's.  install = false
	 * (compaction, hp_compact): entries <= index are dropped, later ones
	 * stay.  install = true (a snapshot received from the leader): the
	 * whole log is replaced; it is empty after index. */
	hp_snapshot_meta snapshot;
	bool install;
} wal_rec;

/* Called with the highest sequence number now durable (every record with
 * seq <= durable_seq is on disk), or with rc < 0 once the WAL has failed. */
typedef void (*wal_durable_cb)(void *ctx, uint64_t durable_seq, int rc);

typedef struct {
	fs *vfs;          /* borrowed; outlives the wal */
	const char *dir;  /* the log's own directory (copied); created if missing */
	uint64_t segment_bytes;     /* preallocated size of a segment; default 64 MiB */
	uint64_t max_pending_bytes; /* unwritten bytes queued; default 64 MiB */
	uint32_t max_segments;      /* default 4096 */
	uint32_t max_groups;        /* default 65536 */
	bool threaded;              /* background writer; false: wal_sync does the IO */
	/* Threaded only: a second thread writes the next segment's zeros ahead
	 * of time ("spare.ready", renamed into place at rollover, and kept
	 * across a reopen when whole), so segments
	 * are written-through, not fallocated.  An fdatasync into a fallocated
	 * region must also record that its blocks now hold data (a metadata
	 * write per new block); into zeros already on disk it flushes the data
	 * alone.  Without a ready spare a rollover falls back to fallocate.
	 * The first segment of a fresh log waits for the first spare. */
	bool spare_segments;
	uint64_t wal_id;            /* stamped in a new log's segment headers */
	wal_durable_cb durable_cb;  /* may be NULL */
	void *durable_ctx;
} wal_config;

void wal_config_default(wal_config *cfg);

/* What recovery found; on RP_ERR_CORRUPT, where and why. */
typedef struct {
	uint32_t segments;         /* segment files in use after recovery */
	uint64_t records;          /* valid records replayed */
	uint64_t first_seq;        /* of the oldest kept segment; 0 = empty log */
	uint64_t last_seq;         /* last durable record; 0 = none */
	uint64_t torn_bytes;       /* tail bytes found damaged or incomplete and zeroed */
	uint64_t dropped_records;  /* valid records of an incomplete last batch */
	uint32_t removed_segments; /* empty tail segments and deletion leftovers */
	/* RP_ERR_CORRUPT only: */
	char segment[FS_NAME_MAX + 1];
	uint64_t offset;
	uint64_t seq;     /* the sequence number expected there */
	uint64_t group;   /* as read from the damaged header; see group_known */
	bool group_known; /* false when the header itself is unreadable */
	char message[320];
} wal_report;

/*
 * Opens (or creates) the log in cfg->dir and recovers it: verifies every
 * record, truncates a torn tail, makes what it read durable, and builds
 * each group's state.  On success *out is the log, ready for appends; free
 * with wal_close.  Returns RP_ERR_CORRUPT when a record that was or may
 * have been acknowledged is damaged (report->message says where); nothing
 * of that log should then be trusted.  report may be NULL.
 */
int wal_open(const wal_config *cfg, wal **out, wal_report *report);

/* Stops the writer (after the round it is in), closes files and frees.
 * Records not yet durable are dropped, as a crash would: call wal_sync
 * first for a clean shutdown.  Accepts NULL. */
void wal_close(wal *w);

/* Appends one batch of `count` records (count >= 1, at most
 * WAL_BATCH_MAX_RECS after entry splitting).  On success *seq (if not
 * NULL) is the sequence number of the batch's last record: the batch is
 * durable once the durable sequence number reaches it. */
int wal_append(wal *w, const wal_rec *recs, size_t count, uint64_t *seq);

/* Sync mode: writes and syncs everything appended (one round), calling
 * durable_cb.  Threaded: waits until everything appended is durable.
 * Returns 0 or the WAL's failure code. */
int wal_sync(wal *w);
/* Waits until every record <= seq is durable (sync mode: runs a round if
 * needed).  Blocks: not for the event loop. */
int wal_wait(wal *w, uint64_t seq);
uint64_t wal_durable_seq(wal *w);
/* The sequence number of the last record appended (0 if none). */
uint64_t wal_last_seq(wal *w);
/* 0, or the code the WAL failed with. */
int wal_failed(wal *w);

enum {
	WAL_READY_MAX_RECS = 4,
	WAL_BATCH_MAX_RECS = 1 << 16,
};
/* Fills recs with what a ready batch asks to persist, in the core's order:
 * the installed snapshot mark (rd->has_snap_chunk with last set — the
 * caller makes the snapshot itself durable first), hard state, truncation,
 * entries.  Returns the count (0: nothing to persist).  recs borrow from rd. */
size_t wal_recs_from_ready(uint64_t group, const hp_ready *rd,
                           wal_rec recs[WAL_READY_MAX_RECS]);

/* ------------------------------------------------------ restoring state */

typedef struct {
	uint64_t group;
	hp_hard_state hard_state;
	hp_snapshot_meta snapshot;
	uint64_t first_index; /* snapshot.index + 1 */
	uint64_t last_index;  /* snapshot.index when the log is empty */
} wal_group_info;

/* Groups in ascending id order: copies up to cap ids, sets *count to the
 * total. */
void wal_group_ids(wal *w, uint64_t *ids, size_t cap, size_t *count);
/* RP_ERR_NOTFOUND for an unknown group. */
int wal_group_info_get(wal *w, uint64_t group, wal_group_info *info);

/* A group's state as hp_create wants it.  restore.entries points into
 * memory owned by this struct until wal_restore_free. */
typedef struct {
	hp_restore restore;
	hp_entry *entries;
	uint8_t **buffers; /* record payloads the entries point into */
	size_t buffer_count;
} wal_restore;

/* Reads the group's live entries back from the segments, verifying every
 * record's checksum again (RP_ERR_CORRUPT if one no longer matches).  An
 * unknown group gives an all-zero restore and 0.  Only when everything
 * appended is durable (right after wal_open, or after wal_sync). */
int wal_restore_load(wal *w, uint64_t group, wal_restore *out);
void wal_restore_free(wal_restore *r);

typedef struct {
	uint64_t rounds;        /* group-commit rounds written */
	uint64_t fdatasyncs;    /* of segment data, not counting creation */
	uint64_t batches;
	uint64_t records;
	uint64_t bytes_written;
	uint64_t segments_created;
	uint64_t segments_deleted;
	uint64_t spares_made;     /* zero-filled spare segments written */
	uint64_t spares_kept;     /* whole spares found at open and kept */
	uint64_t spares_used;     /* segments created from a spare */
	uint64_t spare_failures;  /* spares that could not be made (retried later) */
} wal_stats;
void wal_get_stats(wal *w, wal_stats *stats);

#endif
