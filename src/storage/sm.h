/*
 * sm.h — the replicated state machine: the key-value table that committed
 * log entries are applied to, with the per-group applied index, the client
 * session table that turns retried writes into replays of their first
 * result, and snapshots for followers that fell behind the log.
 *
 * One interface, two stores (docs/storage.md):
 *   sm_open_rocks  RocksDB in a directory: what a server runs
 *   sm_open_mem    an ordered in-memory map: what the simulator runs
 * Both run the same apply code (sm.c) and produce byte-identical results,
 * session decisions and snapshots' contents for the same entries.
 *
 * Contract for the caller (the server loop or the simulator):
 *  - Apply every committed entry of a group in index order with sm_apply,
 *    NOOP and CONF entries included (they advance the applied index; CONF
 *    entries also update the membership kept for snapshots).  After a
 *    restart, entries at or below sm_applied_index are refused with
 *    RP_ERR_EXISTS: skip them.  Any other error means the store failed
 *    or the caller broke the order; stop the node (never retry an apply
 *    after an IO error, never after RP_ERR_FSYNC).
 *  - Errors are util/err.h codes; sm_error_detail says more.
 *  - The applied index lives in the same atomic batch as the entry's data.
 *    The store does not promise durability of an apply: after a crash it
 *    comes back at some earlier applied index with exactly the state of
 *    entries 1..that index, and the caller re-applies the rest from the
 *    consensus log.  So the log must keep every entry above the store's
 *    durable applied index; sm_snapshot_create returns an index that is
 *    durable, and only up to it may the log prefix be removed.
 *  - Single-threaded: one thread calls into an sm at a time.
 *  - Point reads (sm_get, and those inside applies) go through a bounded
 *    value cache (sm_vcache.h, cfg.value_cache_bytes) that sm.c keeps
 *    equal to what the store would return; nothing outside sm.c writes
 *    the store, so nothing else has to know.
 *
 * Ownership: sm_open_* returns an sm the caller frees with sm_close.
 * Results (sm_result) are the caller's; values point into them.
 */
#ifndef RASPUTIN_STORAGE_SM_H
#define RASPUTIN_STORAGE_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"
#include "storage/sm_cmd.h"
#include "storage/sm_vcache.h"

enum {
	SM_MAX_GROUPS = 1024,		 /* groups with state in one sm */
	SM_MAX_SESSIONS_DEFAULT = 65536, /* per group */
};

typedef struct {
	/* Replicated semantics: these two must be equal on every replica of
	 * a group, or the replicas' states diverge. */
	uint32_t max_value_bytes; /* SET/APPEND/CAS values; <= SM_VALUE_MAX_BYTES_LIMIT */
	uint32_t max_sessions;	  /* per group, >= 1; the longest idle is evicted */
	/* Local. */
	uint64_t max_snapshot_bytes;	   /* an incoming archive above this is refused */
	uint64_t rocks_write_buffer_bytes; /* RocksDB memtable size: bounds what is
					      re-applied from the log after a crash */
	uint64_t value_cache_bytes; /* values kept for point reads (sm_vcache.h); 0: none */
	uint64_t mem_seed; /* sm_mem's tree shapes; never changes results */
} sm_config;

void sm_config_default(sm_config *cfg);

typedef struct sm sm;

/* Opens (creating if missing) a RocksDB state machine in directory dir.
 * An interrupted snapshot install or snapshot creation found there is
 * discarded.  Returns 0 and *out, or an error; then why[0..why_cap) (may
 * be NULL) says what failed, e.g. RocksDB's message. */
int sm_open_rocks(const char *dir, const sm_config *cfg, sm **out, char *why,
		  size_t why_cap);
/* An empty in-memory state machine. */
int sm_open_mem(const sm_config *cfg, sm **out);
/* Closes and frees; accepts NULL.  RocksDB flushes what is applied. */
void sm_close(sm *m);

/* The text of the last store error (RocksDB's message, a failed syscall),
 * "" if none.  Valid until the next call into m. */
const char *sm_error_detail(const sm *m);

/* What the state machine knows about one group. */
typedef struct {
	uint64_t applied_index; /* last entry applied; 0 if none */
	uint64_t applied_term;	/* its term */
	hp_conf conf;		/* membership as of applied_index (from CONF entries) */
	uint32_t session_count;
} sm_group_state;

/* The last applied index of group (0 if nothing applied). */
uint64_t sm_applied_index(const sm *m, uint64_t group);
void sm_group_get(const sm *m, uint64_t group, sm_group_state *out);

/*
 * Applies committed entry e of group, atomically with the new applied
 * index.  e->index must be applied_index + 1, else nothing changes and
 * it returns RP_ERR_EXISTS (already applied: skip) or RP_ERR_INVALID (a
 * gap, or a term below the last applied one: a bug in the caller).  For HP_ENTRY_NORMAL
 * entries *res receives the command's result (a malformed command is applied as a no-op
 * with status SM_ST_BAD_CMD: every replica decides the same); for NOOP and CONF entries
 * it gets op SM_OP_NONE.  Returns 0, or an error (RP_ERR_IO, RP_ERR_NOMEM,
 * RP_ERR_CORRUPT, RP_ERR_NOSPC: more than SM_MAX_GROUPS groups) after which nothing of
 * the entry is applied.
 */
int sm_apply(sm *m, uint64_t group, const hp_entry *e, sm_result *res);

/*
 * The same apply without committing the store's batch: a run of entries
 * costs one store write and one applied-index record instead of one per
 * entry (docs/storage.md, "Deferred applies").  The results are what
 * sm_apply gives, and sm_get, sm_applied_index and every later apply see
 * the deferred entries at once; sm_apply_flush commits them.  Scans
 * (sm_scan, sm_digest), snapshots, installs and sm_close commit first, so
 * nothing can observe where the caller put its flushes; so do sessions'
 * evictions, which keeps every replica deciding alike whatever its
 * batches were.  A run is also committed every 4096 entries or 16 MiB of
 * commands (a restart replaying a long log, a follower's long run), so
 * its memory stays bounded.  After an error
 * with deferred entries open (the store failed) the state cannot be
 * trusted: every later apply, flush, read, scan and snapshot returns that
 * error; stop the node.
 */
int sm_apply_deferred(sm *m, uint64_t group, const hp_entry *e, sm_result *res);
int sm_apply_flush(sm *m);
/* Entries applied and not yet committed to the store (0 after a flush). */
uint32_t sm_apply_open(const sm *m);

/* Local read of the applied state (linearizability is the caller's: read
 * only after the read index is applied).  Copies the value into *value
 * and sets *found; an absent key is found == false, never "". */
int sm_get(sm *m, const uint8_t *key, size_t key_size, sm_buf *value, bool *found);
/* The same read without a copy: *value, *value_size borrow from the value
 * cache or the sm's own buffer, valid until the next call into m (NULL, 0
 * when not found). */
int sm_get_ref(sm *m, const uint8_t *key, size_t key_size, const uint8_t **value,
	       size_t *value_size, bool *found);

/* The value cache's size and counters (all zero when it is off). */
void sm_value_cache_stats(const sm *m, sm_vcache_stats *out);

/* What the store itself holds in memory, for INFO (all zero for the
 * in-memory store, whose map is the whole state).  RocksDB: its memtables
 * (bounded by rocks_write_buffer_bytes per column family and those being
 * flushed), its open tables' index and filter blocks (grow with the data
 * on disk), and its block cache (bounded by its capacity). */
typedef struct {
	uint64_t memtable_bytes;
	uint64_t table_readers_bytes;
	uint64_t block_cache_bytes;
	uint64_t block_cache_capacity_bytes;
} sm_store_memory;
void sm_store_memory_stats(sm *m, sm_store_memory *out);

/* Called for each key in order; key and value are borrowed for the call.
 * Return 0 to go on, non-zero to stop. */
typedef int (*sm_scan_cb)(void *ctx, const uint8_t *key, size_t key_size,
			  const uint8_t *value, size_t value_size);
/* Visits up to count keys >= start in key order.  Returns 0 or an error. */
int sm_scan(sm *m, const uint8_t *start, size_t start_size, uint32_t count, sm_scan_cb cb,
	    void *ctx);

/*
 * Walks: a scan of the user keys taken a step at a time, so a caller with
 * other work between steps (the server's loop) is never held for the whole
 * key space.  A walk sees the keys as they were when it opened (deferred
 * applies are committed first), whatever is applied between its steps.
 * Keys only: the RocksDB store updates values in place, which a long-lived
 * view does not isolate, but a key's existence always changes through a
 * new record, which it does.  Every walk must be closed before a snapshot
 * install completes and before sm_close (checked).
 */
typedef struct sm_walk sm_walk;
/* Key callback: 0 to go on, non-zero to stop the step at this key (the
 * next step starts with it again unless the caller seeks). */
typedef int (*sm_walk_cb)(void *ctx, const uint8_t *key, size_t key_size);
int sm_walk_open(sm *m, sm_walk **out);
/* Moves to the first key >= start. */
int sm_walk_seek(sm_walk *w, const uint8_t *start, size_t start_size);
/* Visits up to count keys from the current one; *end when none is left. */
int sm_walk_step(sm_walk *w, uint32_t count, sm_walk_cb cb, void *ctx, bool *end);
void sm_walk_close(sm_walk *w);

/* The session of (group, client): found, its last seq and the index of
 * the entry that last touched it.  For tests and INFO. */
int sm_session_get(sm *m, uint64_t group, uint64_t client, bool *found, uint64_t *seq,
		   uint64_t *last_index);

/* A 64-bit digest of the whole replicated state (keys, values, applied
 * indexes, sessions): equal states give equal digests on either store. */
int sm_digest(sm *m, uint64_t *digest);

/*
 * Snapshots.  One current snapshot per sm (of the group it was made for):
 *  - sm_snapshot_create captures the state at group's applied index (> 0),
 *    makes it durable and makes it the current snapshot, replacing the
 *    previous one; *meta says which index, term and membership it holds.
 *    Then the caller may call hp_compact(meta->index).  A RocksDB store
 *    keeps the current snapshot across restarts.
 *  - sm_snapshot_current describes it (false if none).
 *  - sm_snapshot_read serves the archive stream of the current snapshot;
 *    it has hp_snapshot_read_cb's contract, and returns RP_ERR_NOTFOUND
 *    when (group, index) is not the current snapshot (the core then starts
 *    over with its own current one).  sm_snapshot_read_cb is the same
 *    function with ctx = the sm, to put in hp_config.snapshot_read.
 * A snapshot covers the whole sm, every group in it: until key ranges
 * have their own snapshots (sharding), give each group that takes
 * snapshots an sm of its own.  At startup, if sm_snapshot_current does not
 * match the snapshot index the log layer restored, create a new one and
 * hp_compact to it, so the core never points at a snapshot that is gone.
 * sm_snapshot_create returns RP_ERR_INVALID when nothing is applied yet.
 */
int sm_snapshot_create(sm *m, uint64_t group, hp_snapshot_meta *meta);

/*
 * The same in steps, so that its long part (a RocksDB memtable flush and
 * checkpoint, reading every new file for its CRC, the fsyncs) runs on
 * another thread while this one goes on applying:
 *  - sm_snapshot_begin, on the sm's thread, starts a job (*job); *job is
 *    NULL when the current snapshot already holds group's applied index
 *    (*meta then describes it: nothing to do).  RP_ERR_BUSY while another
 *    job is out; RP_ERR_INVALID when nothing is applied yet.
 *  - sm_snapshot_work, once, on any thread, while the sm's thread goes on
 *    applying, reading, walking and serving the current snapshot: captures
 *    the state as it is at some moment during the call (everything
 *    applied before begin, and maybe more) and makes it durable.
 *  - sm_snapshot_cancel, from any thread at any time before finish: a
 *    running or later sm_snapshot_work stops soon with RP_ERR_CANCELED,
 *    and finish throws the snapshot away even if the work was done.
 *  - sm_snapshot_finish, on the sm's thread once sm_snapshot_work has
 *    returned (or instead of it): makes the snapshot current as
 *    sm_snapshot_create does, *meta saying which index, term and
 *    membership it holds, and returns RP_OK; or throws it away and returns
 *    why (RP_ERR_CANCELED for a job canceled or never worked), the current
 *    snapshot staying.  Frees job.
 * A job must be finished before an install's last chunk (whose state
 * replaces the one the job captures) and before sm_close.
 */
typedef struct sm_snap_job sm_snap_job;
/*
 * Removing the files of a snapshot that another replaced (unlinking the
 * last links to hundreds of MB of table files) takes long too, so a
 * finish or an sm_snapshot_create only sets the old one aside:
 *  - sm_snapshot_sweep_begin, on the sm's thread: NULL when nothing waits
 *    to be removed, else a sweep of all that waits now;
 *  - sm_snapshot_sweep_run, on any thread: removes it.  It touches
 *    nothing of the sm and may run on after sm_close;
 *  - sm_snapshot_sweep_free, on any thread, after the run or instead.
 * What no sweep removed is removed at the next open.
 */
typedef struct sm_sweep sm_sweep;
sm_sweep *sm_snapshot_sweep_begin(sm *m);
void sm_snapshot_sweep_run(sm_sweep *w);
void sm_snapshot_sweep_free(sm_sweep *w);
int sm_snapshot_begin(sm *m, uint64_t group, sm_snap_job **job, hp_snapshot_meta *meta);
int sm_snapshot_work(sm_snap_job *job);
void sm_snapshot_cancel(sm_snap_job *job);
int sm_snapshot_finish(sm *m, sm_snap_job *job, hp_snapshot_meta *meta);
bool sm_snapshot_current(const sm *m, uint64_t *group, hp_snapshot_meta *meta);
/* Total size of the current snapshot's archive stream (0 if none). */
uint64_t sm_snapshot_size(const sm *m);
/* Bytes of file contents read to compute the CRCs of the snapshot made
 * last since open (0 if none): a RocksDB snapshot reads only the table
 * files whose CRCs neither the previous snapshot nor the installed
 * archive the store came from already gave. */
uint64_t sm_snapshot_crc_bytes(const sm *m);
int sm_snapshot_read(sm *m, uint64_t group, uint64_t index, uint64_t offset, uint8_t *buf,
		     size_t cap, size_t *size, bool *last);
int sm_snapshot_read_cb(void *ctx, uint64_t group, uint64_t index, uint64_t offset,
			uint8_t *buf, size_t cap, size_t *size, bool *last);

/*
 * Receives one chunk of a snapshot for group (rd.snap_chunk).  Chunks come
 * in order from offset 0; a chunk at offset 0 starts over, dropping any
 * partial transfer.  The chunk with `last` set completes the transfer:
 * the archive is checked (every CRC, the index and term against
 * chunk->meta, the group, the applied index inside it) and the state
 * machine is replaced atomically — a crash at any point leaves either the
 * old state or the new one.  Afterwards sm_applied_index(group) ==
 * chunk->meta.index and the installed state is also the current snapshot
 * (a node that installed one can serve it).  A transfer cut off before its
 * last chunk changes nothing; its staging is dropped at close and at the
 * next open.  The bytes of a chunk need no fsync of their own: neither the
 * core nor this store resumes a transfer across a restart.
 * Errors: RP_ERR_INVALID for a chunk out of order (nothing changes),
 * RP_ERR_CORRUPT / RP_ERR_NOSPC for a stream that fails a check or is
 * larger than cfg.max_snapshot_bytes (the transfer is dropped, the old
 * state stays), RP_ERR_IO / RP_ERR_FSYNC from the store: if that came after
 * the swap, the new state is in place on disk but the store is closed:
 * every later call that reads or changes state returns that error; stop
 * the node.
 */
int sm_install_chunk(sm *m, uint64_t group, const hp_snap_chunk *chunk);

#endif
