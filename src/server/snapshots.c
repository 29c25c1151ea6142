/*
 * snapshots.c — the node's periodic snapshot, made beside the loop.  When
 * the core hints (rd.compact_hint: --snapshot-entries entries or
 * --snapshot-log-bytes bytes in the log since the last snapshot), a job
 * starts (sm_snapshot_begin, next to nothing on the loop) and a thread of
 * its own does the work (sm_snapshot_work: a RocksDB memtable flush and
 * checkpoint, the CRC of every file the previous snapshot does not share,
 * the fsyncs; seconds at several GB of new table files).  Back on the
 * loop the snapshot becomes current, a WAL record marks it and the log
 * before it goes (sm_snapshot_finish, hp_compact).  Done on the loop, the
 * work stopped this node's consensus for as long: a leader's lease lapsed
 * and the cluster changed leader (docs/server.md, "Other work that still
 * runs on the loop").
 *
 * While the thread works, the loop goes on applying, reading, walking and
 * serving the current snapshot to followers that need one; at most one
 * snapshot is under way.  Before an installed snapshot replaces the store
 * (the job's state would be older than it), and before the node closes,
 * the job is canceled and waited for: the work stops at its next 64 KiB
 * read, or when the checkpoint it is making is done.  A failed snapshot is
 * tried again at the next hint after SRV_SNAPSHOT_RETRY_US.
 *
 * The snapshot a new one replaced is only set aside on the loop; another
 * thread removes its files (sm_snapshot_sweep_*), one sweep at a time,
 * the next one started when it ends if more was set aside meanwhile.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include "server/server.h"
#include "util/check.h"
#include "util/log.h"

static void *snap_main(void *arg)
{
	srv *s = arg;
	pthread_setname_np(pthread_self(), "rp-snapshot"); /* for top -H, perf */
	(void)sm_snapshot_work(s->snap_job);
	atomic_store(&s->snap_worked, true);
	uv_async_send(&s->snap_async);
	return NULL;
}

static void *sweep_main(void *arg)
{
	srv *s = arg;
	pthread_setname_np(pthread_self(), "rp-sweep");
	sm_snapshot_sweep_run(s->sweep);
	atomic_store(&s->sweep_done, true);
	uv_async_send(&s->snap_async);
	return NULL;
}

static void sweep_join(srv *s)
{
	RP_CHECK(pthread_join(s->sweep_thread, NULL) == 0);
	sm_snapshot_sweep_free(s->sweep);
	s->sweep = NULL;
}

void srv_snapshot_sweep(srv *s)
{
	if (s->sweep != NULL || s->sm == NULL)
		return; /* its end starts the next one */
	s->sweep = sm_snapshot_sweep_begin(s->sm);
	if (s->sweep == NULL)
		return;
	atomic_store(&s->sweep_done, false);
	if (pthread_create(&s->sweep_thread, NULL, sweep_main, s) != 0) {
		RP_WARN("no thread to remove a replaced snapshot: removing it on the loop");
		sm_snapshot_sweep_run(s->sweep);
		sm_snapshot_sweep_free(s->sweep);
		s->sweep = NULL;
	}
}

void srv_snapshot_close(srv *s)
{
	if (s->sweep != NULL)
		sweep_join(s);
}

int srv_snapshot_mark(srv *s, const hp_snapshot_meta *meta)
{
	if (hp_log_term(s->core, meta->index) != meta->term)
		return 0;
	wal_rec mark;
	memset(&mark, 0, sizeof(mark));
	mark.type = WAL_REC_SNAPSHOT;
	mark.group = SRV_GROUP;
	mark.snapshot = *meta;
	int rc = srv_node_wal_append(s, &mark, 1, NULL);
	if (rc != 0)
		return rc;
	rc = hp_compact(s->core, meta->index);
	/* HP_ERR_INVALID: not applied that far yet (at startup the core
	 * applies again from its own snapshot); the next one compacts. */
	if (rc != 0 && rc != HP_ERR_INVALID)
		RP_WARN("hp_compact(%llu): %s", (unsigned long long)meta->index, hp_strerror(rc));
	return 0;
}

/* The snapshot meta describes is current in the store: mark it in the log
 * and let the core drop the entries it covers. */
static void compact_to(srv *s, const hp_snapshot_meta *meta)
{
	s->last_snapshot_index = meta->index;
	int rc = srv_snapshot_mark(s, meta);
	if (rc != 0)
		srv_fatal(s, "appending a snapshot mark", rc);
}

/* Joins the thread (it has returned or is about to) and finishes the job;
 * false if it did not become current. */
static bool snap_finish(srv *s)
{
	RP_CHECK(s->snap_job != NULL);
	if (s->snap_thread_started)
		RP_CHECK(pthread_join(s->snap_thread, NULL) == 0);
	s->snap_thread_started = false;
	uint64_t t0 = srv_mono_us();
	int rc = sm_snapshot_finish(s->sm, s->snap_job, &s->snap_meta);
	s->snap_loop_us += srv_mono_us() - t0;
	s->snap_job = NULL;
	uint64_t loop_ms = s->snap_loop_us / 1000;
	uint64_t total_ms = (srv_mono_us() - s->snap_began_us) / 1000;
	if (rc == RP_ERR_CANCELED) {
		RP_INFO("snapshot abandoned after %llu ms", (unsigned long long)total_ms);
		return false;
	}
	if (rc != 0) {
		RP_WARN("snapshot failed: %s (%s); the log keeps growing", rp_strerror(rc),
		        sm_error_detail(s->sm));
		s->snap_retry_us = srv_mono_us() + SRV_SNAPSHOT_RETRY_US;
		if (rc == RP_ERR_FSYNC)
			srv_fatal(s, "a snapshot's fsync failed", rc);
		return false;
	}
	srv_snapshot_sweep(s);
	RP_INFO("snapshot at index %llu (term %llu) in %llu ms, %llu ms of it on the loop; "
	        "%llu KiB read for CRCs",
	        (unsigned long long)s->snap_meta.index, (unsigned long long)s->snap_meta.term,
	        (unsigned long long)total_ms, (unsigned long long)loop_ms,
	        (unsigned long long)(sm_snapshot_crc_bytes(s->sm) / 1024));
	return true;
}

static void snap_async_cb(uv_async_t *h)
{
	srv *s = h->data;
	if (s->sweep != NULL && atomic_load(&s->sweep_done)) {
		sweep_join(s);
		srv_snapshot_sweep(s);
	}
	if (s->snap_job == NULL || !atomic_load(&s->snap_worked))
		return; /* a job settled early (srv_snapshot_settle) */
	bool made = snap_finish(s);
	if (made && s->core != NULL && s->stopping != 2) {
		uint64_t t0 = srv_mono_us();
		compact_to(s, &s->snap_meta);
		RP_INFO("log compacted to %llu in %llu us", (unsigned long long)s->snap_meta.index,
		        (unsigned long long)(srv_mono_us() - t0));
		/* Applied meanwhile past another bound: the next one now, not at
		 * the next write (which may never come). */
		if (s->core != NULL && hp_compact_hint(s->core) != 0)
			srv_snapshot_maybe_start(s);
		srv_node_drain(s);
	}
}

void srv_snapshot_maybe_start(srv *s)
{
	uint64_t applied = sm_applied_index(s->sm, SRV_GROUP);
	if (s->snap_job != NULL || applied <= s->last_snapshot_index ||
	    srv_mono_us() < s->snap_retry_us)
		return;
	uint64_t began = srv_mono_us();
	sm_snap_job *job = NULL;
	hp_snapshot_meta meta;
	int rc = sm_snapshot_begin(s->sm, SRV_GROUP, &job, &meta);
	if (rc != 0) {
		RP_WARN("snapshot at %llu failed: %s (%s); the log keeps growing",
		        (unsigned long long)applied, rp_strerror(rc), sm_error_detail(s->sm));
		s->snap_retry_us = srv_mono_us() + SRV_SNAPSHOT_RETRY_US;
		return;
	}
	if (job == NULL) { /* the current snapshot already holds it */
		compact_to(s, &meta);
		return;
	}
	s->snap_job = job;
	s->snap_began_us = began;
	s->snap_loop_us = srv_mono_us() - began;
	atomic_store(&s->snap_worked, false);
	if (pthread_create(&s->snap_thread, NULL, snap_main, s) == 0) {
		s->snap_thread_started = true;
		return;
	}
	RP_WARN("no thread for the snapshot: making it on the loop");
	(void)sm_snapshot_work(job);
	if (snap_finish(s))
		compact_to(s, &s->snap_meta);
}

void srv_snapshot_settle(srv *s, const char *why)
{
	if (s->snap_job == NULL)
		return;
	RP_INFO("%s: stopping the snapshot under way", why);
	sm_snapshot_cancel(s->snap_job);
	(void)snap_finish(s);
}

void srv_snapshot_init(srv *s)
{
	uv_async_init(s->loop, &s->snap_async, snap_async_cb);
	s->snap_async.data = s;
}
