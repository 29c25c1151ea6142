/*
 * sm_be.h — private to src/storage/sm*.c: the store interface under the
 * state machine.  sm.c holds every rule (command semantics, sessions,
 * applied index, snapshot stream framing) and talks to a store only
 * through this table, so the RocksDB store (sm_rocks.c) and the
 * in-memory store (sm_mem.c) cannot drift apart in behaviour.
 *
 * A store holds two ordered maps of byte strings, SM_CF_DATA (user keys)
 * and SM_CF_META (applied indexes and sessions), plus one current snapshot
 * and at most one incoming one.
 *
 * Batches: get/put/del act on an open batch that commit makes visible
 * atomically and abort throws away.  get sees the batch's own writes;
 * scan sees only committed state (sm.c scans before it writes).
 */
#ifndef RASPUTIN_STORAGE_SM_BE_H
#define RASPUTIN_STORAGE_SM_BE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/sm.h"
#include "storage/sm_archive.h"
#include "storage/sm_cmd.h"

typedef enum { SM_CF_DATA = 0, SM_CF_META = 1 } sm_cf;

/* Scan callback: 0 to go on, 1 to stop, negative to fail with that code. */
typedef int (*sm_be_scan_fn)(void *ctx, const uint8_t *key, size_t key_size,
			     const uint8_t *value, size_t value_size);

typedef struct sm_be sm_be;

typedef struct {
	uint32_t kind; /* SM_ARCHIVE_KIND_* of its snapshots */

	/* Copies the value into *out (out->size = its length). */
	int (*get)(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size, sm_buf *out,
		   bool *found);
	int (*put)(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size,
		   const uint8_t *value, size_t value_size);
	int (*del)(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size);
	int (*commit)(sm_be *be);
	void (*abort)(sm_be *be);
	/* Keys >= start of committed state, in order, until fn says stop. */
	int (*scan)(sm_be *be, sm_cf cf, const uint8_t *start, size_t start_size,
		    sm_be_scan_fn fn, void *ctx);
	/* A walk (sm.h): a view of cf's keys as of walk_open, read a step at
	 * a time while the store goes on changing; step passes value NULL. */
	int (*walk_open)(sm_be *be, sm_cf cf, void **it);
	int (*walk_seek)(sm_be *be, void *it, const uint8_t *start, size_t start_size);
	int (*walk_step)(sm_be *be, void *it, uint32_t count, sm_be_scan_fn fn, void *ctx,
			 bool *end);
	void (*walk_close)(sm_be *be, void *it);

	/* A snapshot in steps (sm.h, sm_snapshot_begin):
	 * - snap_begin, on the sm's thread, starts *job; meta_key names the
	 *   record in SM_CF_META that says which index a state holds;
	 * - snap_capture, on any one thread, captures the committed state as
	 *   it is then (all that was committed before begin, maybe more) and
	 *   copies meta_key's value in it into *rec;
	 * - snap_work, on the same thread, sets h->kind and h->file_count,
	 *   builds the layout into *out (CRCs included) and makes the
	 *   captured files durable.
	 *   Both touch only the job and what the store's thread leaves alone
	 *   while a job is out (a RocksDB handle is safe to share), record a
	 *   failure's text in err (not in be) and return RP_ERR_CANCELED soon
	 *   after *cancel turns true;
	 * - snap_finish, on the sm's thread, makes it current, dropping the
	 *   previous one (out is the layout snap_work built); snap_abandon
	 *   throws it away.  Both free job.
	 * A store may leave what a dropped snapshot held for a sweep (NULL
	 * ops if it never does): sweep_begin, on the sm's thread, returns one
	 * (NULL when nothing waits); sweep_run, on any thread, removes it and
	 * touches nothing of the store (it may run past sm_close);
	 * sweep_free frees it. */
	int (*snap_begin)(sm_be *be, const uint8_t *meta_key, size_t key_size, void **job);
	int (*snap_capture)(void *job, sm_buf *rec, const atomic_bool *cancel, sm_be *err);
	int (*snap_work)(void *job, sm_archive_header *h, sm_archive_layout *out,
			 const atomic_bool *cancel, sm_be *err);
	int (*snap_finish)(sm_be *be, void *job, const sm_archive_layout *out);
	void (*snap_abandon)(sm_be *be, void *job);
	void *(*sweep_begin)(sm_be *be);
	void (*sweep_run)(void *sweep);
	void (*sweep_free)(void *sweep);
	/* The current snapshot kept from an earlier run, if any. */
	int (*snap_load)(sm_be *be, sm_archive_layout *out, bool *found);
	/* Reads file `index` of the current snapshot. */
	int (*snap_read)(sm_be *be, uint32_t index, uint64_t offset, uint8_t *buf,
			 size_t size);

	/* Incoming snapshot: begin (drops any staged one), the sink the
	 * archive reader writes files to (ctx = be), a read of the staged
	 * state's meta map, commit (atomically replaces the live state; the
	 * batch must be empty) and abort. */
	int (*install_begin)(sm_be *be);
	const sm_archive_sink *install_sink;
	int (*install_get_meta)(sm_be *be, const uint8_t *key, size_t key_size,
				sm_buf *out, bool *found);
	int (*install_commit)(sm_be *be);
	void (*install_abort)(sm_be *be);

	/* May be NULL (nothing to report): then sm_store_memory_stats
	 * reports zeros. */
	void (*memory_stats)(sm_be *be, sm_store_memory *out);

	void (*close)(sm_be *be);
} sm_be_ops;

struct sm_be {
	const sm_be_ops *ops;
	char error[256]; /* last error text, "" if none (sm_error_detail) */
	/* Bytes of file contents the current snapshot's making read for its
	 * CRCs (sm_snapshot_crc_bytes); set by snap_finish. */
	uint64_t snap_crc_bytes;
};

/* Wraps an opened store into an sm (sm.c); takes ownership of be, also on
 * failure, when why (may be NULL) receives the error text. */
int sm_open_be(sm_be *be, const sm_config *cfg, sm **out, char *why, size_t why_cap);
/* Records error text for sm_error_detail. */
void sm_be_set_error(sm_be *be, const char *what, const char *detail);
/* Checks a config; RP_ERR_INVALID if a field is out of range. */
int sm_config_check(const sm_config *cfg);

#endif
