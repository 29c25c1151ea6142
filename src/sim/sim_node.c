/*
 * sim_node.c — one simulated node: its clock, its simulated disk (the real
 * WAL on an fs_sim disk, sim_disk.h), its key-value state machine and, per
 * group, the real Harpoon core, driven exactly as harpoon.h's contract
 * says:
 *
 *   after every input, while hp_has_ready: take the batch, copy what must
 *   outlive the next call, send rd.msgs at once, schedule the batch's
 *   persistence (completions strictly in seq order, after a simulated disk
 *   latency), install a received snapshot and apply rd.committed to the
 *   state machine, queue rd.reads until the state machine has applied
 *   their index, and compact on rd.compact_hint.  When a batch's
 *   persistence completes: write a received snapshot's file durably, then
 *   the batch's records (wal_recs_from_ready: install mark, hard state,
 *   truncation, entries) with wal_append + wal_sync, hp_advance, and only
 *   then send rd.msgs_after_persist.  Compaction writes the snapshot file
 *   durably, then the WAL's snapshot mark, then calls hp_compact.
 *
 * A crash destroys the core and every batch not yet durable (the batches
 * of a write round caught in the middle may sit unsynced on the disk, and
 * fs_sim_crash keeps, loses or tears them); a restart recovers with
 * wal_open + wal_restore_load and the snapshot file the WAL's mark names.
 * A failed write or sync stops the node (it recovers later); a recovery
 * that reports RP_ERR_CORRUPT keeps the node down for good, and the
 * membership operator replaces it.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

static uint64_t node_rand(void *ctx)
{
	sim_replica *r = ctx;
	return rp_prng_next(&r->core_rng);
}

/* cfg.snapshot_read: chunks of the node's current durable snapshot. */
static int node_snapshot_read(void *ctx, uint64_t group, uint64_t index, uint64_t offset,
                              uint8_t *buf, size_t cap, size_t *size_bytes, bool *last)
{
	sim_replica *r = ctx;
	if (group != r->group || index == 0 || cap == 0)
		return -1;
	/* Served from the durable file: what a restarted node would serve. */
	size_t n = 0;
	uint64_t total = 0;
	if (sim_disk_snapshot_read(&r->node->disk, group, index, offset, buf, cap, &n, &total) != 0)
		return -1;
	*size_bytes = n;
	*last = offset + n == total;
	return 0;
}

void sim_node_set_clock_rate(sim_world *w, sim_node *n, int32_t rate_ppm)
{
	sim_clock_set_rate(&n->clock, w->now_us, rate_ppm);
	sim_check_leases_changed(w);
}

sim_node *sim_node_create(sim_world *w, const hp_conf *initial, bool added)
{
	RP_CHECK(w->node_count < SIM_MAX_NODES);
	sim_node *n = calloc(1, sizeof(*n));
	RP_CHECK(n != NULL);
	n->slot = w->node_count;
	n->id = (hp_id)n->slot + 1;
	n->added = added;
	uint64_t offset = rp_prng_range(&w->rng_clock, 1000000, 1000000000);
	int32_t rate = (int32_t)rp_prng_range(&w->rng_clock, 0, 2 * (uint64_t)w->p.clock_ppm) -
	               (int32_t)w->p.clock_ppm;
	sim_clock_init(&n->clock, offset, 0);
	sim_node_set_clock_rate(w, n, rate);
	fs_sim_faults faults;
	fs_sim_faults_default(&faults);
	faults.crash_torn_ppm = w->p.torn_ppm;
	faults.write_eio_ppm = w->p.write_eio_ppm;
	faults.write_nospc_ppm = w->p.write_nospc_ppm;
	faults.sync_eio_ppm = w->p.sync_eio_ppm;
	sim_disk_init(&n->disk, w->p.segment_bytes, n->id, &faults, &w->rng_media);
	sim_disk_errors(&n->disk, w->chaos);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		r->node = n;
		r->group_slot = g;
		r->group = g + 1;
		hp_config_default(&r->cfg);
		uint64_t default_lease = r->cfg.lease_us ? r->cfg.lease_us : 1;
		r->cfg.group = r->group;
		r->cfg.id = n->id;
		r->cfg.lease_us = w->p.lease_us;
		r->cfg.heartbeat_us = w->p.heartbeat_us;
		r->cfg.election_jitter_us = r->cfg.election_jitter_us * w->p.lease_us / default_lease;
		r->cfg.election_timeout_us = r->cfg.election_timeout_us * w->p.lease_us / default_lease;
		r->cfg.drift_ppm = w->p.drift_ppm;
		r->cfg.snapshot_chunk_bytes = w->p.snapshot_chunk_bytes;
		r->cfg.compact_hint_entries = w->p.compact_entries;
		r->cfg.compact_hint_bytes = w->p.compact_bytes;
		r->cfg.compact_hint_jitter_pct = w->p.compact_jitter_pct;
		if (w->p.max_batch_entries)
			r->cfg.max_batch_entries = w->p.max_batch_entries;
		if (w->p.max_inflight_appends)
			r->cfg.max_inflight_appends = w->p.max_inflight_appends;
		r->cfg.max_committed_bytes = w->p.max_committed_bytes;
		r->cfg.rand = node_rand;
		r->cfg.rand_ctx = r;
		r->cfg.snapshot_read = node_snapshot_read;
		r->cfg.snapshot_ctx = r;
		memset(&r->initial, 0, sizeof(r->initial));
		if (initial)
			r->initial = *initial;
		rp_prng_init(&r->core_rng, w->seed * 0x9e3779b97f4a7c15ULL + n->id * 131 + g);
		sim_disk_stage_init(&r->stage);
	}
	w->nodes[n->slot] = n;
	w->node_count++;
	sim_check_leases_changed(w);
	sim_link_recompute(w);
	return n;
}

/* Frees what q owns and leaves it empty.  (Field by field: a ready batch
 * is a few hundred bytes, mostly the chunk's, read only with has_chunk.) */
static void ready_free(sim_world *w, sim_ready *q)
{
	sim_disk_entries_free(&w->pool, q->entries, q->entries_block_bytes);
	q->entries = NULL;
	q->entry_count = 0;
	q->entries_block_bytes = 0;
	free((void *)q->chunk.data);
	q->chunk.data = NULL;
	q->has_chunk = false;
	free(q->snap_blob);
	q->snap_blob = NULL;
	q->snap_size_bytes = 0;
	while (q->after != NULL) {
		sim_msg *m = q->after;
		q->after = m->next;
		sim_net_free(w, m);
	}
	q->after_count = 0;
}

static void replica_clear_volatile(sim_world *w, sim_replica *r)
{
	while (r->ready_count) {
		ready_free(w, &r->readies[r->ready_head]);
		r->ready_head = (r->ready_head + 1) & (r->ready_capacity - 1);
		r->ready_count--;
	}
	r->ready_head = 0;
	hp_destroy(r->core);
	r->core = NULL;
	sim_disk_stage_deinit(&r->stage);
	r->read_count = 0;
	r->read_wait_count = 0;
	r->prop_count = 0;
	r->st_valid = false;
	r->touched = false;
}

void sim_node_destroy(sim_world *w, sim_node *n)
{
	if (n == NULL)
		return;
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		replica_clear_volatile(w, r);
		free(r->readies);
	}
	sim_disk_deinit(&n->disk);
	free(n);
}

/* --- persistence ---------------------------------------------------------- */

/* The WAL records of batch q, through the real wal_recs_from_ready (the
 * batch is rebuilt as an hp_ready from the copies it owns). */
static size_t ready_recs(const sim_replica *r, const sim_ready *q, hp_ready *rd,
                         wal_rec recs[WAL_READY_MAX_RECS])
{
	/* Every field but snap_chunk, which counts only with has_snap_chunk
	 * (set field by field: zeroing the whole batch first costs more than
	 * the rest of this). */
	rd->seq = q->seq;
	rd->hard_state_changed = q->hard_state_changed;
	rd->hard_state = q->hard_state;
	rd->truncate_from = q->truncate_from;
	rd->entries = q->entries;
	rd->entry_count = q->entry_count;
	rd->msgs = NULL;
	rd->msg_count = 0;
	rd->msgs_after_persist = NULL;
	rd->msg_after_persist_count = 0;
	rd->committed = NULL;
	rd->committed_count = 0;
	rd->reads = NULL;
	rd->read_count = 0;
	rd->has_snap_chunk = q->has_chunk;
	if (q->has_chunk)
		rd->snap_chunk = q->chunk;
	rd->compact_hint = 0;
	return wal_recs_from_ready(r->group, rd, recs);
}

static bool disk_fatal_code(int rc)
{
	return rc == RP_ERR_IO || rc == RP_ERR_NOSPC || rc == RP_ERR_FSYNC || rc == RP_ERR_CLOSED;
}

/* A write or sync failed: the node stops at once (the event queue runs
 * the crash before anything else can call into it) and recovers later.
 * Nothing of what failed is acknowledged. */
static void node_disk_failed(sim_world *w, sim_node *n, int rc, const char *what)
{
	if (!disk_fatal_code(rc)) {
		sim_fail(w, "n%llu: %s: %s (not a disk fault: the storage contract was broken)",
		         (unsigned long long)n->id, what, rp_strerror(rc));
		return;
	}
	sim_trace(w, "DISK n%llu: %s failed: %s; the node stops", (unsigned long long)n->id, what,
	          rp_strerror(rc));
	/* Its failed round's batches are gone: a later round (before the stop
	 * event runs) would append after a hole.  rasputind exits at once. */
	n->disk_failed = true;
	sim_schedule(w, w->now_us, SIM_EV_DISK_FAIL, n->slot, n->incarnation, NULL);
}

static bool disk_usable(const sim_node *n)
{
	return n->disk.log != NULL && !n->disk_failed && wal_failed(n->disk.log) == 0;
}

/* The checker's view of the disk after a durable round. */
static void replica_note_durable(sim_replica *r)
{
	wal_group_info info;
	if (wal_group_info_get(r->node->disk.log, r->group, &info) == 0) {
		r->dur_snap = info.snapshot.index;
		r->dur_last = info.last_index;
	}
}

static uint64_t disk_latency(sim_world *w)
{
	const sim_params *p = &w->p;
	if (p->disk_slow_ppm && rp_prng_chance_ppm(&w->rng_disk, p->disk_slow_ppm))
		return rp_prng_range(&w->rng_disk, p->disk_max_us,
		                     p->disk_slow_max_us > p->disk_max_us ? p->disk_slow_max_us
		                                                          : p->disk_max_us);
	return rp_prng_range(&w->rng_disk, p->disk_min_us, p->disk_max_us);
}

static sim_ready *ready_push(sim_world *w, sim_replica *r)
{
	if (r->ready_count == r->ready_capacity) {
		if (r->ready_capacity >= SIM_READIES_MAX) {
			sim_fail(w, "n%llu: %zu ready batches waiting for the disk (a message storm?)",
			         (unsigned long long)r->node->id, r->ready_count);
			return NULL;
		}
		/* A power of two: ring positions are taken with a mask. */
		size_t capacity = r->ready_capacity ? r->ready_capacity * 2 : 16;
		sim_ready *ring = calloc(capacity, sizeof(*ring));
		RP_CHECK(ring != NULL);
		for (size_t i = 0; i < r->ready_count; i++)
			ring[i] = r->readies[(r->ready_head + i) & (r->ready_capacity - 1)];
		free(r->readies);
		r->readies = ring;
		r->ready_capacity = capacity;
		r->ready_head = 0;
	}
	sim_ready *q = &r->readies[(r->ready_head + r->ready_count) & (r->ready_capacity - 1)];
	r->ready_count++;
	/* Empty since ready_free (or calloc); chunk is set with has_chunk. */
	RP_CHECK(q->entries == NULL && q->after == NULL && q->snap_blob == NULL);
	RP_CHECK(!q->has_chunk && q->chunk.data == NULL);
	q->seq = 0;
	q->done_us = 0;
	q->hard_state_changed = false;
	memset(&q->hard_state, 0, sizeof(q->hard_state));
	q->truncate_from = 0;
	return q;
}

static void ready_pop(sim_world *w, sim_replica *r)
{
	ready_free(w, &r->readies[r->ready_head]);
	r->ready_head = (r->ready_head + 1) & (r->ready_capacity - 1);
	r->ready_count--;
}

enum { SIM_GROUP_COMMIT_MAX = 64 }; /* batches per write round */

static void crash_inflight_write(sim_world *w, sim_node *n, size_t max_batches);

/* The node crashes in the middle of this write round: every batch queued
 * so far is written, the sync never returns, and the crash keeps, loses
 * or tears those writes.  It restarts after a random downtime. */
static void crash_midround(sim_world *w, sim_node *n)
{
	crash_inflight_write(w, n, SIM_GROUP_COMMIT_MAX);
	sim_node_crash(w, n);
	uint64_t down = rp_prng_range(&w->rng_media, w->p.down_min_us,
	                              w->p.down_max_us > w->p.down_min_us ? w->p.down_max_us
	                                                                  : w->p.down_min_us);
	sim_trace(w, "CRASH n%llu in the middle of a write round (down for %llu ms)",
	          (unsigned long long)n->id, (unsigned long long)(down / 1000));
	sim_schedule(w, w->now_us + down, SIM_EV_RESTART, n->slot, n->incarnation, NULL);
}

/*
 * The disk completes the batches due by now, as one group-commit round:
 * each batch is one wal_append (atomic), then one wal_sync makes them all
 * durable; a received snapshot's file is written (and synced) before its
 * batch's install mark is appended.  Only then hp_advance for each, in seq
 * order, and their msgs_after_persist go out.  Batches completed here ahead
 * of their own SIM_EV_DISK make that event find nothing due.
 */
void sim_node_disk_done(sim_world *w, sim_node *n, uint32_t group_slot)
{
	RP_CHECK(group_slot < SIM_GROUP_COUNT);
	sim_replica *r = &n->rep[group_slot];
	RP_CHECK(n->up && r->core != NULL);
	if (r->ready_count == 0 || r->readies[r->ready_head].done_us > w->now_us)
		return; /* completed with an earlier batch's round */
	int rc = disk_usable(n) ? 0 : RP_ERR_CLOSED;
	/* Aimed at rounds of several batches: they span sectors, so a crash
	 * can tear them (a round inside one sector is written atomically). */
	if (rc == 0 && w->chaos && w->p.midround_ppm && r->ready_count >= 3 &&
	    rp_prng_chance_ppm(&w->rng_media, w->p.midround_ppm)) {
		crash_midround(w, n);
		return;
	}
	size_t due = 0, installs = 0;
	while (rc == 0 && due < r->ready_count && due < SIM_GROUP_COMMIT_MAX) {
		sim_ready *q = &r->readies[(r->ready_head + due) & (r->ready_capacity - 1)];
		if (q->done_us > w->now_us)
			break;
		bool install = q->has_chunk && q->chunk.last;
		if (install && due > 0)
			break; /* an install starts a round of its own */
		if (install) {
			/* The snapshot itself is durable before its install mark. */
			if (q->chunk.meta.index < r->dur_snap) {
				sim_fail(w, "n%llu: installs snapshot %llu over its newer snapshot %llu",
				         (unsigned long long)n->id, (unsigned long long)q->chunk.meta.index,
				         (unsigned long long)r->dur_snap);
				return;
			}
			rc = sim_disk_snapshot_write(&n->disk, r->group, q->chunk.meta.index,
			                             q->snap_blob, q->snap_size_bytes);
			installs++;
		}
		hp_ready rd;
		wal_rec recs[WAL_READY_MAX_RECS];
		size_t count = ready_recs(r, q, &rd, recs);
		if (rc == 0 && count > 0)
			rc = sim_disk_queue(&n->disk, recs, count);
		due++;
		if (install)
			break;
	}
	if (rc == 0) {
		rc = wal_sync(n->disk.log);
		w->stats.disk_rounds++;
	}
	if (rc == 0 && installs)
		rc = sim_disk_snapshot_prune(&n->disk, r->group,
		                             r->readies[r->ready_head].chunk.meta.index);
	if (rc != 0) {
		if (disk_usable(n) || rc != RP_ERR_CLOSED)
			node_disk_failed(w, n, rc, "persisting ready batches");
		while (due-- > 0)
			ready_pop(w, r);
		return;
	}
	replica_note_durable(r);
	for (size_t k = 0; k < due && !w->failed; k++) {
		sim_ready *q = &r->readies[r->ready_head];
		if (q->hard_state_changed)
			r->dur_hs = q->hard_state;
		if (w->trace >= 2)
			sim_trace(w, "  n%llu ready %llu durable", (unsigned long long)n->id,
			          (unsigned long long)q->seq);
		hp_advance(r->core, q->seq);
		sim_replica_touch(w, r);
		while (q->after != NULL) {
			sim_msg *m = q->after;
			q->after = m->next;
			m->next = NULL;
			sim_net_send(w, n, group_slot, m);
		}
		q->after_count = 0;
		ready_pop(w, r);
	}
	sim_replica_drain(w, r);
}

/* --- the state machine ----------------------------------------------------- */

static uint32_t op_client(uint64_t op_id)
{
	return (uint32_t)(op_id >> 32) - 1;
}

static void replica_serve_reads(sim_world *w, sim_replica *r)
{
	size_t keep = 0;
	for (size_t i = 0; i < r->read_count; i++) {
		sim_read rs = r->reads[i];
		if (rs.index > r->kv.applied) {
			r->reads[keep++] = rs;
			continue;
		}
		uint32_t ci = op_client(rs.ctx);
		if (ci >= w->client_count)
			continue;
		sim_client *c = &w->clients[ci];
		if (c->op_id != rs.ctx || c->state != SIM_CLIENT_WAITING ||
		    c->slot != r->node->slot)
			continue;
		sim_kv_result res;
		sim_kv_read(&r->kv, c->cmd.key, &res);
		sim_client_applied(w, ci, rs.ctx, &res);
	}
	r->read_count = keep;
}

/* Settles the proposals at or below the applied index: OK if the entry at
 * their index has their term, FAIL otherwise. */
static void replica_settle_props(sim_world *w, sim_replica *r, const hp_entry *e,
                                 const sim_kv_cmd *cmd, const sim_kv_result *res)
{
	size_t keep = 0;
	for (size_t i = 0; i < r->prop_count; i++) {
		sim_prop pr = r->props[i];
		if (pr.index > r->kv.applied) {
			r->props[keep++] = pr;
			continue;
		}
		if (e && pr.index == e->index) {
			if (pr.term == e->term) {
				if (cmd == NULL || cmd->op_id != pr.op_id) {
					sim_fail(w, "n%llu: the entry at %llu/%llu is not the op it proposed "
					            "there",
					         (unsigned long long)r->node->id,
					         (unsigned long long)pr.index, (unsigned long long)pr.term);
					return;
				}
				sim_client_applied(w, pr.client, pr.op_id, res);
			} else {
				sim_client_failed(w, pr.client, pr.op_id, false);
			}
			continue;
		}
		/* Skipped by a snapshot install: the global committed log knows. */
		const sim_check_commit *c = sim_check_commit_at(w, r->group_slot, pr.index);
		if (c == NULL) {
			sim_fail(w, "n%llu: applied past %llu but nothing is committed there",
			         (unsigned long long)r->node->id, (unsigned long long)pr.index);
			return;
		}
		if (c->term == pr.term && c->is_cmd)
			sim_client_applied(w, pr.client, pr.op_id, &c->res);
		else
			sim_client_failed(w, pr.client, pr.op_id, false);
	}
	r->prop_count = keep;
}

static void replica_apply(sim_world *w, sim_replica *r, const hp_entry *e)
{
	if (e->index != r->kv.applied + 1) {
		sim_fail(w, "n%llu: committed entry %llu does not follow its applied index %llu",
		         (unsigned long long)r->node->id, (unsigned long long)e->index,
		         (unsigned long long)r->kv.applied);
		return;
	}
	bool is_cmd = false;
	sim_kv_cmd cmd;
	sim_kv_result res;
	memset(&cmd, 0, sizeof(cmd));
	memset(&res, 0, sizeof(res));
	if (sim_kv_apply(&r->kv, e, &is_cmd, &cmd, &res) != 0) {
		sim_fail(w, "n%llu: committed entry %llu/%llu (type %u) cannot be applied",
		         (unsigned long long)r->node->id, (unsigned long long)e->index,
		         (unsigned long long)e->term, e->type);
		return;
	}
	sim_check_committed(w, r, e, is_cmd, &res);
	if (w->failed)
		return;
	replica_settle_props(w, r, e, is_cmd ? &cmd : NULL, &res);
}

static void replica_install(sim_world *w, sim_replica *r, const hp_snap_chunk *chunk)
{
	sim_kv kv;
	if (sim_kv_snapshot_decode(&kv, r->stage.data, r->stage.size_bytes) != 0) {
		sim_fail(w, "n%llu: received snapshot %llu/%llu does not decode (%zu bytes)",
		         (unsigned long long)r->node->id, (unsigned long long)chunk->meta.index,
		         (unsigned long long)chunk->meta.term, r->stage.size_bytes);
		return;
	}
	if (kv.applied != chunk->meta.index || kv.applied_term != chunk->meta.term) {
		sim_fail(w, "n%llu: snapshot meta %llu/%llu but its state is at %llu/%llu",
		         (unsigned long long)r->node->id, (unsigned long long)chunk->meta.index,
		         (unsigned long long)chunk->meta.term, (unsigned long long)kv.applied,
		         (unsigned long long)kv.applied_term);
		return;
	}
	if (kv.applied < r->kv.applied) {
		sim_fail(w, "n%llu: snapshot install moves its state machine back from %llu to %llu",
		         (unsigned long long)r->node->id, (unsigned long long)r->kv.applied,
		         (unsigned long long)kv.applied);
		return;
	}
	r->kv = kv;
	w->stats.snapshots_installed++;
	sim_trace(w, "n%llu installs snapshot %llu/%llu (%zu bytes)",
	          (unsigned long long)r->node->id, (unsigned long long)kv.applied,
	          (unsigned long long)kv.applied_term, r->stage.size_bytes);
	sim_check_snapshot(w, r, "installed");
	if (w->failed)
		return;
	replica_settle_props(w, r, NULL, NULL, NULL);
}

static bool replica_chunk_queued(const sim_replica *r)
{
	for (size_t i = 0; i < r->ready_count; i++)
		if (r->readies[(r->ready_head + i) & (r->ready_capacity - 1)].has_chunk)
			return true;
	return false;
}

static void replica_compact(sim_world *w, sim_replica *r)
{
	uint64_t a = r->kv.applied;
	sim_node *n = r->node;
	/* Only at an index the WAL holds durably, with no install on its way
	 * to the disk (a received snapshot is not durable yet: later). */
	if (!disk_usable(n) || a <= r->dur_snap || a > r->dur_last ||
	    hp_log_term(r->core, a) != r->kv.applied_term || replica_chunk_queued(r))
		return;
	uint8_t blob[SIM_KV_SNAPSHOT_BYTES];
	size_t size = sim_kv_snapshot_encode(&r->kv, blob, sizeof(blob));
	hp_snapshot_meta meta = {.index = a, .term = r->kv.applied_term, .conf = r->kv.conf};
	/* The snapshot durable first, then the WAL's mark (docs/storage.md). */
	int drc = sim_disk_snapshot_write(&n->disk, r->group, a, blob, size);
	if (drc == 0) {
		wal_rec mark;
		memset(&mark, 0, sizeof(mark));
		mark.type = WAL_REC_SNAPSHOT;
		mark.group = r->group;
		mark.snapshot = meta;
		mark.install = false;
		drc = sim_disk_persist(&n->disk, &mark, 1);
		w->stats.disk_rounds++;
	}
	if (drc == 0) {
		replica_note_durable(r);
		drc = sim_disk_snapshot_prune(&n->disk, r->group, a);
	}
	if (drc != 0) {
		node_disk_failed(w, n, drc, "compacting");
		return;
	}
	int rc = hp_compact(r->core, a);
	if (rc != 0) {
		sim_fail(w, "n%llu: hp_compact(%llu) failed: %s", (unsigned long long)r->node->id,
		         (unsigned long long)a, hp_strerror(rc));
		return;
	}
	w->stats.compactions++;
	sim_trace(w, "n%llu compacts its log up to %llu", (unsigned long long)r->node->id,
	          (unsigned long long)a);
}

/* --- the driving loop ------------------------------------------------------ */

void sim_replica_drain(sim_world *w, sim_replica *r)
{
	sim_node *n = r->node;
	sim_replica_touch(w, r);
	for (uint32_t rounds = 0; r->core && hp_has_ready(r->core); rounds++) {
		if (w->failed)
			return;
		RP_CHECK(rounds < 100000);
		hp_ready rd; /* hp_ready_take fills all of it */
		hp_ready_take(r->core, &rd);
		if (rd.seq != r->ready_next_seq) {
			sim_fail(w, "n%llu: ready batch seq %llu, expected %llu",
			         (unsigned long long)n->id, (unsigned long long)rd.seq,
			         (unsigned long long)r->ready_next_seq);
			return;
		}
		r->ready_next_seq++;
		if (w->trace >= 2)
			sim_trace(w, "  n%llu ready %llu: entries %llu..%llu, truncate %llu, hs %s(t%llu "
			             "v%llu l%llu c%llu), chunk %s%llu+%u%s, committed %llu..%llu, reads %zu, "
			             "msgs %zu+%zu%s",
			          (unsigned long long)n->id, (unsigned long long)rd.seq,
			          (unsigned long long)(rd.entry_count ? rd.entries[0].index : 0),
			          (unsigned long long)(rd.entry_count ? rd.entries[rd.entry_count - 1].index
			                                              : 0),
			          (unsigned long long)rd.truncate_from, rd.hard_state_changed ? "" : "same ",
			          (unsigned long long)rd.hard_state.term,
			          (unsigned long long)rd.hard_state.vote,
			          (unsigned long long)rd.hard_state.lease_holder,
			          (unsigned long long)rd.hard_state.commit, rd.has_snap_chunk ? "" : "none ",
			          (unsigned long long)rd.snap_chunk.offset, rd.snap_chunk.size_bytes,
			          rd.has_snap_chunk && rd.snap_chunk.last ? " last" : "",
			          (unsigned long long)(rd.committed_count ? rd.committed[0].index : 0),
			          (unsigned long long)(rd.committed_count
			                                       ? rd.committed[rd.committed_count - 1].index
			                                       : 0),
			          rd.read_count, rd.msg_count, rd.msg_after_persist_count,
			          rd.compact_hint ? ", compact hint" : "");

		/* 1. messages that depend on nothing unpersisted */
		for (size_t i = 0; i < rd.msg_count; i++)
			sim_net_send(w, n, r->group_slot, sim_net_copy(w, &rd.msgs[i]));

		/* 2. persistence, completed later in seq order */
		sim_check_appended(w, r, rd.entries, rd.entry_count);
		if (w->failed)
			return;
		sim_ready *q = ready_push(w, r);
		if (q == NULL)
			return;
		q->seq = rd.seq;
		q->hard_state_changed = rd.hard_state_changed;
		q->hard_state = rd.hard_state;
		q->truncate_from = rd.truncate_from;
		q->entries = sim_disk_entries_copy(&w->pool, rd.entries, rd.entry_count,
		                                   &q->entries_block_bytes);
		q->entry_count = rd.entry_count;
		if (rd.has_snap_chunk) {
			q->has_chunk = true;
			q->chunk = rd.snap_chunk;
			uint8_t *data = NULL;
			if (rd.snap_chunk.size_bytes) {
				data = malloc(rd.snap_chunk.size_bytes);
				RP_CHECK(data != NULL);
				memcpy(data, rd.snap_chunk.data, rd.snap_chunk.size_bytes);
			}
			q->chunk.data = data;
		}
		sim_msg **after_tail = &q->after;
		for (size_t i = 0; i < rd.msg_after_persist_count; i++) {
			*after_tail = sim_net_copy(w, &rd.msgs_after_persist[i]);
			after_tail = &(*after_tail)->next;
		}
		q->after_count = rd.msg_after_persist_count;
		uint64_t done = w->now_us + disk_latency(w);
		if (done < r->last_done_us)
			done = r->last_done_us;
		r->last_done_us = done;
		q->done_us = done;
		sim_schedule(w, done, SIM_EV_DISK, n->slot,
		             (uint64_t)n->incarnation << 8 | r->group_slot, NULL);

		/* 3. a received snapshot replaces the state machine */
		if (rd.has_snap_chunk) {
			if (sim_disk_stage_put(&r->stage, &rd.snap_chunk) != 0) {
				sim_fail(w, "n%llu: snapshot chunk at offset %llu does not continue the "
				            "%zu bytes received (snapshot %llu/%llu)",
				         (unsigned long long)n->id,
				         (unsigned long long)rd.snap_chunk.offset, r->stage.size_bytes,
				         (unsigned long long)rd.snap_chunk.meta.index,
				         (unsigned long long)rd.snap_chunk.meta.term);
				return;
			}
			if (rd.snap_chunk.last) {
				q->snap_blob = malloc(r->stage.size_bytes ? r->stage.size_bytes : 1);
				RP_CHECK(q->snap_blob != NULL);
				memcpy(q->snap_blob, r->stage.data, r->stage.size_bytes);
				q->snap_size_bytes = r->stage.size_bytes;
				replica_install(w, r, &rd.snap_chunk);
			}
		}

		/* 4. committed entries, in order */
		for (size_t i = 0; i < rd.committed_count && !w->failed; i++)
			replica_apply(w, r, &rd.committed[i]);

		/* 5. reads, served once applied */
		for (size_t i = 0; i < rd.read_count && !w->failed; i++) {
			bool known = false;
			for (size_t k = 0; k < r->read_wait_count; k++) {
				if (r->read_waits[k].op_id != rd.reads[i].ctx)
					continue;
				r->read_waits[k] = r->read_waits[--r->read_wait_count];
				known = true;
				break;
			}
			if (!known)
				continue;
			RP_CHECK(r->read_count < SIM_READS_MAX);
			r->reads[r->read_count++] = (sim_read){rd.reads[i].ctx, rd.reads[i].index};
		}
		if (w->failed)
			return;
		replica_serve_reads(w, r);

		/* Done with the borrowed batch; hp_compact calls into the core. */
		if (rd.compact_hint)
			replica_compact(w, r);
	}
}

/* --- inputs --------------------------------------------------------------- */

static bool restore_pristine(const hp_restore *rs)
{
	return rs->snapshot.index == 0 && rs->entry_count == 0 && rs->hard_state.term == 0 &&
	       rs->hard_state.vote == 0 && rs->hard_state.lease_holder == 0 &&
	       rs->hard_state.commit == 0;
}

/* Recovery could not read or repair the disk (an injected error): the node
 * stays down and tries again a little later. */
static void boot_retry(sim_world *w, sim_node *n, int rc, const char *what)
{
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++)
		replica_clear_volatile(w, &n->rep[g]);
	sim_disk_crash(&n->disk);
	w->stats.disk_errors++;
	uint64_t later = rp_prng_range(&w->rng_media, 10000, 500000);
	sim_trace(w, "DISK n%llu: recovery failed (%s: %s); retry in %llu ms",
	          (unsigned long long)n->id, what, rp_strerror(rc),
	          (unsigned long long)(later / 1000));
	sim_schedule(w, w->now_us + later, SIM_EV_RESTART, n->slot, n->incarnation, NULL);
}

/* Recovery refused the log: the node must neither vote nor serve with it
 * (docs/storage.md, "What the node does on RP_ERR_CORRUPT").  It stays
 * down; the membership operator replaces it. */
static void boot_corrupt(sim_world *w, sim_node *n, const char *message)
{
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++)
		replica_clear_volatile(w, &n->rep[g]);
	sim_disk_close_log(&n->disk);
	w->stats.corrupt_detected++;
	sim_trace(w, "CORRUPT n%llu: recovery refuses its log (%s); it stays down", 
	          (unsigned long long)n->id, message);
	if (!n->bit_flipped) {
		sim_fail(w, "n%llu: recovery reports corruption although no bit of its disk was "
		            "flipped: %s",
		         (unsigned long long)n->id, message);
		return;
	}
	n->corrupt = true;
	sim_member_corrupt(w, n);
}

void sim_node_boot(sim_world *w, sim_node *n)
{
	RP_CHECK(!n->up);
	RP_CHECK(!n->decommissioned);
	sim_check_leases_changed(w); /* its durable hard state may change */
	if (n->corrupt)
		return; /* kept out for good */
	n->flip_unseen = false;
	wal_report rep;
	int rc = sim_disk_open(&n->disk, &rep);
	if (rc == RP_ERR_CORRUPT) {
		boot_corrupt(w, n, rep.message);
		return;
	}
	if (rc != 0) {
		boot_retry(w, n, rc, "wal_open");
		return;
	}
	if (rep.torn_bytes || rep.dropped_records) {
		w->stats.torn_tails++;
		w->stats.torn_bytes += rep.torn_bytes;
		sim_trace(w, "n%llu recovery: torn tail cut (%llu bytes zeroed, %llu records of an "
		             "incomplete batch dropped), log ends at seq %llu",
		          (unsigned long long)n->id, (unsigned long long)rep.torn_bytes,
		          (unsigned long long)rep.dropped_records, (unsigned long long)rep.last_seq);
	}
	uint64_t now = sim_node_now(w, n);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		wal_restore wr;
		rc = wal_restore_load(n->disk.log, r->group, &wr);
		if (rc == RP_ERR_CORRUPT) {
			boot_corrupt(w, n, "wal_restore_load: a record no longer matches its checksum");
			return;
		}
		if (rc != 0) {
			boot_retry(w, n, rc, "wal_restore_load");
			return;
		}
		const hp_restore *rs = &wr.restore;
		if (rs->snapshot.index) {
			/* The mark is durable only after its snapshot file was. */
			uint8_t blob[SIM_KV_SNAPSHOT_BYTES + 64];
			size_t got = 0;
			uint64_t total = 0;
			rc = sim_disk_snapshot_read(&n->disk, r->group, rs->snapshot.index, 0, blob,
			                            sizeof(blob), &got, &total);
			if (rc != 0 || got != total ||
			    sim_kv_snapshot_decode(&r->kv, blob, got) != 0 ||
			    r->kv.applied != rs->snapshot.index ||
			    r->kv.applied_term != rs->snapshot.term) {
				sim_fail(w, "n%llu: the WAL's snapshot mark %llu/%llu has no durable snapshot "
				            "file that decodes (%s, %zu of %llu bytes)",
				         (unsigned long long)n->id, (unsigned long long)rs->snapshot.index,
				         (unsigned long long)rs->snapshot.term,
				         rc ? rp_strerror(rc) : "read", got, (unsigned long long)total);
				wal_restore_free(&wr);
				return;
			}
		} else {
			sim_kv_init(&r->kv, &r->initial);
		}
		rc = sim_disk_snapshot_prune(&n->disk, r->group, rs->snapshot.index);
		if (rc != 0) {
			wal_restore_free(&wr);
			boot_retry(w, n, rc, "removing old snapshots");
			return;
		}
		/* A corrupt record is never handed out: every restored entry must
		 * be one that some node appended at that index and term. */
		sim_check_appended(w, r, rs->entries, (size_t)rs->entry_count);
		if (w->failed) {
			wal_restore_free(&wr);
			return;
		}
		int hrc = 0;
		r->core = hp_create(&r->cfg, &r->initial, restore_pristine(rs) ? NULL : rs, now, &hrc);
		if (r->core == NULL) {
			sim_fail(w, "n%llu: hp_create from its durable state failed: %s (term %llu, "
			            "commit %llu, snapshot %llu/%llu, log %llu..%llu)",
			         (unsigned long long)n->id, hp_strerror(hrc),
			         (unsigned long long)rs->hard_state.term,
			         (unsigned long long)rs->hard_state.commit,
			         (unsigned long long)rs->snapshot.index,
			         (unsigned long long)rs->snapshot.term,
			         (unsigned long long)(rs->snapshot.index + 1),
			         (unsigned long long)(rs->snapshot.index + rs->entry_count));
			wal_restore_free(&wr);
			return;
		}
		r->dur_hs = rs->hard_state;
		r->dur_snap = rs->snapshot.index;
		r->dur_last = rs->snapshot.index + rs->entry_count;
		wal_restore_free(&wr);
		/* A transfer cut off by the crash starts again from offset 0. */
		sim_disk_stage_init(&r->stage);
		r->ready_next_seq = 1;
		r->last_done_us = w->now_us;
		r->st_valid = false;
		r->commit_traced = r->dur_hs.commit;
	}
	n->up = true;
	sim_check_leases_changed(w);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		if (n->rep[g].kv.applied)
			sim_check_snapshot(w, &n->rep[g], "restored");
		sim_replica_drain(w, &n->rep[g]);
	}
	sim_schedule(w, sim_clock_real_after(&n->clock, w->now_us, w->p.tick_us), SIM_EV_TICK,
	             n->slot, n->incarnation, NULL);
}

/* A crash may catch a write round in the middle: the next few batches
 * (up to a received snapshot, whose file comes first) reach the disk
 * unsynced, and fs_sim_crash keeps, loses or tears their writes. */
static void crash_inflight_write(sim_world *w, sim_node *n, size_t max_batches)
{
	if (!disk_usable(n))
		return;
	size_t queued = 0;
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		size_t take = max_batches;
		for (size_t i = 0; i < r->ready_count && i < take; i++) {
			const sim_ready *q = &r->readies[(r->ready_head + i) & (r->ready_capacity - 1)];
			if (q->has_chunk)
				break;
			hp_ready rd;
			wal_rec recs[WAL_READY_MAX_RECS];
			size_t count = ready_recs(r, q, &rd, recs);
			if (count == 0)
				continue;
			if (sim_disk_queue(&n->disk, recs, count) != 0)
				break;
			queued++;
		}
	}
	if (queued == 0)
		return;
	sim_disk_write_unsynced(&n->disk);
	w->stats.inflight_writes++;
	sim_trace(w, "n%llu: the crash catches a write round of %zu batches unsynced",
	          (unsigned long long)n->id, queued);
}

static void crash_inflight(sim_world *w, sim_node *n)
{
	if (!disk_usable(n) || w->p.inflight_pct == 0 ||
	    rp_prng_below(&w->rng_media, 100) >= w->p.inflight_pct)
		return;
	crash_inflight_write(w, n, 4);
}

void sim_node_crash(sim_world *w, sim_node *n)
{
	RP_CHECK(n->up);
	crash_inflight(w, n);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		for (size_t i = 0; i < r->prop_count; i++)
			sim_client_failed(w, r->props[i].client, r->props[i].op_id, true);
		r->prop_count = 0;
		for (size_t i = 0; i < r->read_wait_count; i++)
			sim_client_failed(w, r->read_waits[i].client, r->read_waits[i].op_id, false);
		r->read_wait_count = 0;
		for (size_t i = 0; i < r->read_count; i++)
			sim_client_failed(w, op_client(r->reads[i].ctx), r->reads[i].ctx, false);
		r->read_count = 0;
		replica_clear_volatile(w, r);
	}
	sim_disk_crash(&n->disk);
	n->up = false;
	n->disk_failed = false;
	sim_check_leases_changed(w);
	n->incarnation++;
	n->down_since_us = w->now_us;
	w->stats.crashes++;
}

void sim_node_disk_fail(sim_world *w, sim_node *n)
{
	if (!n->up)
		return;
	sim_node_crash(w, n);
	w->stats.disk_errors++;
	uint64_t down = rp_prng_range(&w->rng_media, 10000, 500000);
	sim_trace(w, "CRASH n%llu after a disk failure (down for %llu ms)",
	          (unsigned long long)n->id, (unsigned long long)(down / 1000));
	sim_schedule(w, w->now_us + down, SIM_EV_RESTART, n->slot, n->incarnation, NULL);
}

void sim_node_tick(sim_world *w, sim_node *n)
{
	uint64_t now = sim_node_now(w, n);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		hp_tick(r->core, now);
		sim_replica_drain(w, r);
	}
	sim_schedule(w, sim_clock_real_after(&n->clock, w->now_us, w->p.tick_us), SIM_EV_TICK,
	             n->slot, n->incarnation, NULL);
}

void sim_node_deliver(sim_world *w, sim_node *n, const sim_msg *msg)
{
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		if (r->group != msg->m.group)
			continue;
		int rc = hp_step(r->core, sim_node_now(w, n), &msg->m);
		if (rc != 0 && w->trace >= 2)
			sim_trace(w, "n%llu: hp_step(%s) returned %s", (unsigned long long)n->id,
			          sim_net_type_name(msg->m.type), hp_strerror(rc));
		sim_replica_drain(w, r);
		return;
	}
}

int sim_replica_propose(sim_world *w, sim_replica *r, const sim_kv_cmd *cmd)
{
	if (r->core == NULL)
		return HP_ERR_NOT_LEADER;
	if (r->prop_count >= SIM_MAX_CLIENTS)
		return HP_ERR_BUSY;
	uint8_t data[SIM_KV_CMD_BYTES];
	sim_kv_cmd_encode(cmd, data);
	uint64_t index = 0, term = 0;
	int rc = hp_propose(r->core, sim_node_now(w, r->node), data, SIM_KV_CMD_BYTES, &index,
	                    &term);
	sim_replica_touch(w, r);
	if (rc == 0) {
		if (index <= r->kv.applied) {
			sim_fail(w, "n%llu: hp_propose placed an entry at %llu, already applied",
			         (unsigned long long)r->node->id, (unsigned long long)index);
			return rc;
		}
		r->props[r->prop_count++] =
			(sim_prop){.index = index, .term = term, .client = cmd->client, .op_id = cmd->op_id};
	}
	sim_replica_drain(w, r);
	return rc;
}

int sim_replica_read(sim_world *w, sim_replica *r, uint32_t client, uint64_t op_id)
{
	if (r->core == NULL)
		return HP_ERR_NOT_LEADER;
	if (r->read_wait_count >= SIM_MAX_CLIENTS)
		return HP_ERR_BUSY;
	int rc = hp_read(r->core, sim_node_now(w, r->node), op_id);
	sim_replica_touch(w, r);
	if (rc == 0)
		r->read_waits[r->read_wait_count++] = (sim_read_wait){client, op_id};
	sim_replica_drain(w, r);
	return rc;
}

void sim_node_observe(sim_world *w, sim_node *n)
{
	if (!n->up)
		return;
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		sim_replica *r = &n->rep[g];
		if (!r->touched && r->st_valid)
			continue;
		r->touched = false;
		bool was_leader = sim_check_refresh(w, r, sim_node_now(w, n));
		/* Losing leadership, the node answers its clients: a read the
		 * core accepted but never confirmed failed (reads have no effect);
		 * a write's outcome is unknown (a later leader may commit it). */
		if (was_leader && r->st.role != HP_LEADER) {
			for (size_t i = 0; i < r->read_wait_count; i++)
				sim_client_failed(w, r->read_waits[i].client, r->read_waits[i].op_id,
				                  false);
			r->read_wait_count = 0;
			for (size_t i = 0; i < r->prop_count; i++)
				sim_client_failed(w, r->props[i].client, r->props[i].op_id, true);
			r->prop_count = 0;
		}
	}
}
