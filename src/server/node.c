/*
 * node.c — the consensus glue of rasputind: one Harpoon group on the real
 * WAL (threaded group commit) and the RocksDB state machine, driven as
 * harpoon.h's contract says:
 *
 *   after every input, while hp_has_ready: take the batch; send rd.msgs at
 *   once; install a received snapshot chunk (the last chunk swaps the state
 *   machine durably before the WAL's install mark is appended); append the
 *   batch's records to the WAL (wal_recs_from_ready) and queue the batch
 *   with its msgs_after_persist encoded; apply rd.committed; note
 *   rd.reads; compact on rd.compact_hint.  When the WAL's writer reports a
 *   sequence number durable (on its thread -> uv_async), the queued
 *   batches up to it are hp_advance'd in order and their after-persist
 *   messages leave.
 *
 * It also keeps the address book: each node's peer and client address,
 * replicated as meta keys in the state machine (cmd.h, CMD_META_PREFIX),
 * plus what HELLOs taught us about nodes not yet in it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/check.h"
#include "util/log.h"

/* ------------------------------------------------------------ address book */

const srv_node_addr *srv_addr_find(const srv *s, hp_id id)
{
	for (size_t i = 0; i < s->node_count; i++)
		if (s->nodes[i].id == id)
			return &s->nodes[i];
	return NULL;
}

void srv_addr_learn(srv *s, hp_id id, const char *peer_addr, const char *client_addr,
                    bool replicated)
{
	if (id == 0 || peer_addr == NULL || peer_addr[0] == '\0')
		return;
	srv_node_addr *a = (srv_node_addr *)srv_addr_find(s, id);
	if (a == NULL) {
		if (s->node_count == sizeof(s->nodes) / sizeof(s->nodes[0])) {
			/* Full: forget an unreplicated entry (a HELLO from a stranger). */
			size_t k = 0;
			while (k < s->node_count && s->nodes[k].replicated)
				k++;
			if (k == s->node_count)
				return;
			s->nodes[k] = s->nodes[--s->node_count];
		}
		a = &s->nodes[s->node_count++];
		memset(a, 0, sizeof(*a));
		a->id = id;
	} else if (a->replicated && !replicated) {
		return; /* the replicated address wins over what a HELLO says */
	}
	bool changed = strcmp(a->peer_addr, peer_addr) != 0;
	snprintf(a->peer_addr, sizeof(a->peer_addr), "%s", peer_addr);
	snprintf(a->client_addr, sizeof(a->client_addr), "%s", client_addr ? client_addr : "");
	a->replicated = a->replicated || replicated;
	if (id != s->node_id && (changed || replicated) && s->pt)
		peer_transport_set_addr(s->pt, id, a->peer_addr);
}

/* Meta key of a node: CMD_META_PREFIX "node:" decimal id. */
static size_t meta_key(hp_id id, char *out, size_t cap)
{
	/* The prefix holds a NUL byte: copied, not printed. */
	RP_CHECK(cap > CMD_META_PREFIX_LEN + 32);
	memcpy(out, CMD_META_PREFIX, CMD_META_PREFIX_LEN);
	int n = snprintf(out + CMD_META_PREFIX_LEN, cap - CMD_META_PREFIX_LEN, "node:%llu",
	                 (unsigned long long)id);
	RP_CHECK(n > 0 && (size_t)n < cap - CMD_META_PREFIX_LEN);
	return CMD_META_PREFIX_LEN + (size_t)n;
}

/* Value: "peer_addr client_addr". */
static void meta_parse(srv *s, const uint8_t *key, size_t key_size, const uint8_t *value,
                       size_t value_size)
{
	const size_t plen = CMD_META_PREFIX_LEN + 5;
	if (key_size <= plen || key_size > plen + 20 ||
	    memcmp(key + CMD_META_PREFIX_LEN, "node:", 5) != 0)
		return;
	char idbuf[24];
	memcpy(idbuf, key + plen, key_size - plen);
	idbuf[key_size - plen] = '\0';
	char *end = NULL;
	errno = 0;
	unsigned long long id = strtoull(idbuf, &end, 10);
	if (errno || end == idbuf || *end != '\0' || id == 0)
		return;
	char buf[2 * PEER_ADDR_MAX + 4];
	if (value_size >= sizeof(buf))
		return;
	memcpy(buf, value, value_size);
	buf[value_size] = '\0';
	char *sp = strchr(buf, ' ');
	if (sp == NULL)
		return;
	*sp = '\0';
	srv_addr_learn(s, (hp_id)id, buf, sp + 1, true);
}

static int meta_scan_cb(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
                        size_t value_size)
{
	srv *s = ctx;
	if (key_size < CMD_META_PREFIX_LEN || memcmp(key, CMD_META_PREFIX, CMD_META_PREFIX_LEN))
		return 1; /* past the meta range */
	meta_parse(s, key, key_size, value, value_size);
	return 0;
}

static void addr_load(srv *s)
{
	int rc = sm_scan(s->sm, (const uint8_t *)CMD_META_PREFIX, CMD_META_PREFIX_LEN,
	                 SRV_MAX_NODES * 4, meta_scan_cb, s);
	if (rc != 0)
		RP_WARN("reading the address book: %s", rp_strerror(rc));
}

/* Builds the entry that records node id's addresses (a SET of its meta key). */
int srv_meta_entry(srv *s, hp_id id, const char *peer_addr, const char *client_addr,
                   sm_buf *out);
int srv_meta_entry(srv *s, hp_id id, const char *peer_addr, const char *client_addr,
                   sm_buf *out)
{
	char key[64];
	size_t klen = meta_key(id, key, sizeof(key));
	char val[2 * PEER_ADDR_MAX + 4];
	int n = snprintf(val, sizeof(val), "%s %s", peer_addr, client_addr);
	if (n < 0 || (size_t)n >= sizeof(val))
		return RP_ERR_INVALID;
	sm_cmd c;
	memset(&c, 0, sizeof(c));
	c.op = SM_OP_SET;
	c.key = (sm_value){.present = true, .size = (uint32_t)klen, .data = (const uint8_t *)key};
	c.value = (sm_value){.present = true, .size = (uint32_t)n, .data = (const uint8_t *)val};
	sm_cmd_limits lim = {.max_value_bytes = s->smcfg.max_value_bytes};
	out->size = 0;
	return sm_cmd_encode_buf(&c, &lim, out);
}

/* An applied entry that SETs a meta key updates the address book. */
static void meta_note_applied(srv *s, const hp_entry *e)
{
	if (e->type != HP_ENTRY_NORMAL || e->size_bytes < SM_CMD_HEADER_BYTES)
		return;
	sm_cmd c;
	sm_cmd_limits lim = {.max_value_bytes = s->smcfg.max_value_bytes};
	if (sm_cmd_decode(e->data, e->size_bytes, &lim, &c) != 0 || c.op != SM_OP_SET)
		return;
	if (c.key.size < CMD_META_PREFIX_LEN ||
	    memcmp(c.key.data, CMD_META_PREFIX, CMD_META_PREFIX_LEN) != 0)
		return;
	meta_parse(s, c.key.data, c.key.size, c.value.data, c.value.size);
}

/* -------------------------------------------------------------- messages */

void srv_send_msg(srv *s, const hp_msg *m)
{
	peer_buf_reset(&s->fbuf);
	if (peer_encode_msg(&s->fbuf, m) != 0) {
		RP_WARN("cannot encode a %s for n%llu", hp_msg_type_name(m->type),
		        (unsigned long long)m->to);
		return;
	}
	int rc = peer_send(s->pt, m->to, s->fbuf.data, s->fbuf.len);
	if (rc != 0 && rc != RP_ERR_BUSY && rc != RP_ERR_NOTFOUND)
		RP_DEBUG("send to n%llu: %s", (unsigned long long)m->to, rp_strerror(rc));
}

/* ----------------------------------------------------------- persistence */

static srv_persist *persist_push(srv *s)
{
	if (s->persist_count == s->persist_cap) {
		size_t cap = s->persist_cap ? s->persist_cap * 2 : 64;
		srv_persist *ring = calloc(cap, sizeof(*ring));
		RP_CHECK(ring != NULL);
		for (size_t i = 0; i < s->persist_count; i++)
			ring[i] = s->persist[(s->persist_head + i) % s->persist_cap];
		free(s->persist);
		s->persist = ring;
		s->persist_cap = cap;
		s->persist_head = 0;
	}
	srv_persist *p = &s->persist[(s->persist_head + s->persist_count) % s->persist_cap];
	s->persist_count++;
	memset(p, 0, sizeof(*p));
	peer_buf_init(&p->frames);
	return p;
}

static void persist_free(srv_persist *p)
{
	peer_buf_deinit(&p->frames);
	free(p->to);
	free(p->ends);
	memset(p, 0, sizeof(*p));
}

static void persist_encode_after(srv *s, srv_persist *p, const hp_ready *rd)
{
	if (rd->msg_after_persist_count == 0)
		return;
	p->to = calloc(rd->msg_after_persist_count, sizeof(*p->to));
	p->ends = calloc(rd->msg_after_persist_count, sizeof(*p->ends));
	RP_CHECK(p->to && p->ends);
	for (size_t i = 0; i < rd->msg_after_persist_count; i++) {
		const hp_msg *m = &rd->msgs_after_persist[i];
		if (peer_encode_msg(&p->frames, m) != 0) {
			RP_WARN("cannot encode a %s", hp_msg_type_name(m->type));
			continue;
		}
		p->to[p->frame_count] = m->to;
		p->ends[p->frame_count] = p->frames.len;
		p->frame_count++;
	}
	(void)s;
}

/* Advances every queued batch that is durable, in order, and sends what
 * waited for it. */
static void persist_complete(srv *s)
{
	uint64_t durable = atomic_load(&s->wal_durable);
	while (s->persist_count) {
		srv_persist *p = &s->persist[s->persist_head];
		if (p->wal_seq > durable)
			break;
		hp_advance(s->core, p->rd_seq);
		size_t start = 0;
		for (size_t i = 0; i < p->frame_count; i++) {
			int rc = peer_send(s->pt, p->to[i], p->frames.data + start, p->ends[i] - start);
			(void)rc; /* a lost message is what the protocol tolerates */
			start = p->ends[i];
		}
		if (p->frame_count) /* acknowledgements: the leader is waiting */
			peer_transport_flush(s->pt);
		persist_free(p);
		s->persist_head = (s->persist_head + 1) % s->persist_cap;
		s->persist_count--;
	}
}

static void node_wal_durable_cb(void *ctx, uint64_t durable_seq, int rc)
{
	srv *s = ctx;
	if (rc < 0)
		atomic_store(&s->wal_rc, rc);
	else
		atomic_store(&s->wal_durable, durable_seq);
	uv_async_send(&s->wal_async);
}

static void wal_async_cb(uv_async_t *h)
{
	srv *s = h->data;
	srv_note_activity(s);
	srv_node_wal_durable(s);
}

void srv_node_wal_durable(srv *s)
{
	int rc = atomic_load(&s->wal_rc);
	if (rc < 0) {
		srv_fatal(s, "the write-ahead log failed", rc);
		return;
	}
	if (s->core == NULL)
		return;
	persist_complete(s);
	srv_node_drain(s);
}

/* Appends, waiting for room if the writer is behind (bounded by
 * max_pending_bytes: the loop stalls rather than dropping a batch). */
int srv_node_wal_append(srv *s, const wal_rec *recs, size_t n, uint64_t *seq)
{
	for (;;) {
		int rc = wal_append(s->wal, recs, n, seq);
		if (rc != RP_ERR_BUSY)
			return rc;
		rc = wal_wait(s->wal, wal_last_seq(s->wal));
		if (rc != 0)
			return rc;
	}
}

/* ------------------------------------------------------------ the drain */

/* Applies one committed entry into the state machine's open batch (one
 * store write per drained batch: apply_flush) and answers its request. */
static void apply_committed(srv *s, const hp_entry *e)
{
	int rc = sm_apply_deferred(s->sm, SRV_GROUP, e, &s->result);
	if (rc == RP_ERR_EXISTS)
		return; /* applied before a restart */
	if (rc != 0) {
		RP_ERROR("applying entry %llu: %s (%s)", (unsigned long long)e->index, rp_strerror(rc),
		         sm_error_detail(s->sm));
		srv_fatal(s, "the state machine failed", rc);
		return;
	}
	meta_note_applied(s, e);
	srv_exec_applied(s, e, &s->result);
}

/*
 * When the applied entries go to the store.  The leader commits its
 * store's batch after every drained batch, as small as the log round:
 * a big commit would hold up its replies (runs of 4096 lost 12-22% of
 * the 64-client write rate).  A follower answers no client, and
 * only one of two followers is needed for a commit, so it lets its run
 * grow to the state machine's bound (4096 entries or 16 MiB) and commits
 * it in one store write, where a key set many times is written once
 * (docs/performance.md, "Session 16"), or when nothing was applied for a
 * tick.  Nothing can see where the flushes fall (sm.h), so this is a cost
 * choice only; a follower that wins an election commits the rest with
 * its first drained batch.
 */
static bool apply_flush_now(const srv *s)
{
	return s->st.role == HP_LEADER;
}

static void apply_flush(srv *s)
{
	int rc = sm_apply_flush(s->sm);
	if (rc != 0) {
		RP_ERROR("writing applied entries: %s (%s)", rp_strerror(rc), sm_error_detail(s->sm));
		srv_fatal(s, "the state machine failed", rc);
	}
}

/*
 * The commit index needs no durability: a restarted node learns it again
 * from the leader (and the core raises it to the snapshot index), and the
 * state machine skips what it applied already.  So a hard state that
 * differs from the last one written only in its commit index rides along
 * with a batch that writes something else, and is not worth a WAL round
 * (an fdatasync) of its own — which it cost on every commit before.
 * Term, vote and lease promise always go to the log.
 */
static size_t skip_commit_only_hard_state(srv *s, wal_rec *recs, size_t n)
{
	size_t hs_at = n;
	for (size_t i = 0; i < n; i++)
		if (recs[i].type == WAL_REC_HARD_STATE)
			hs_at = i;
	if (hs_at == n)
		return n;
	const hp_hard_state *hs = &recs[hs_at].hard_state;
	const hp_hard_state *w = &s->hs_written;
	bool commit_only = hs->term == w->term && hs->vote == w->vote &&
	                   hs->lease_holder == w->lease_holder;
	if (commit_only && n == 1)
		return 0;
	s->hs_written = *hs;
	return n;
}

static void refresh_status(srv *s)
{
	hp_role old_role = s->st.role;
	hp_id old_leader = s->st.leader;
	hp_get_status(s->core, srv_now_us(s), &s->st);
	if (!s->joined && (hp_conf_is_voter(&s->st.conf, s->node_id) ||
	                   hp_conf_is_learner(&s->st.conf, s->node_id))) {
		/* The log made us a member: serve (the cluster id follows with the
		 * join answer). */
		s->joined = true;
		RP_INFO("this node is now a member (%s)",
		        hp_conf_is_voter(&s->st.conf, s->node_id) ? "voter" : "learner");
	}
	if (s->st.leader != old_leader)
		srv_exec_leader_changed(s);
	if (s->st.leader != old_leader && s->st.leader != 0) {
		s->leader_changes++;
		const srv_node_addr *a = srv_addr_find(s, s->st.leader);
		RP_INFO("leader is now n%llu (%s) at term %llu", (unsigned long long)s->st.leader,
		        a ? a->peer_addr : "address unknown", (unsigned long long)s->st.term);
	}
	if (s->st.role != old_role) {
		RP_INFO("role %s -> %s (term %llu)", hp_role_name(old_role), hp_role_name(s->st.role),
		        (unsigned long long)s->st.term);
		srv_exec_role_changed(s, old_role, s->st.role);
	}
}

static void apply_idle_cb(uv_idle_t *h)
{
	srv_node_drain(h->data);
}

/* Applies at most one slice of committed entries (hcfg.max_committed_bytes)
 * per call: a node that fell behind catches up over several loop turns,
 * reading and answering its peers between slices, instead of going deaf
 * for as long as the whole backlog takes (long enough, under a heavy
 * load on shared CPUs, for the leader's lease to lapse).  The idle handle
 * keeps the loop from sleeping while a slice waits. */
void srv_node_drain(srv *s)
{
	if (s->core == NULL || s->stopping == 2)
		return;
	if (s->draining) {
		s->drain_again = true;
		return;
	}
	s->draining = true;
	bool sliced = false;
	do {
		s->drain_again = false;
		while (s->core && !sliced && hp_has_ready(s->core)) {
			hp_ready rd;
			hp_ready_take(s->core, &rd);
			for (size_t i = 0; i < rd.msg_count; i++)
				srv_send_msg(s, &rd.msgs[i]);
			/* Messages leave before this node's own slow work (a snapshot
			 * install, a WAL append): the followers' fdatasyncs then run
			 * beside ours.  Otherwise (a commit index to pass on, say) the
			 * transport flushes them later in this loop iteration, after
			 * the replies to clients that this batch commits. */
			bool flush_first = rd.msg_count > 0;
			if (rd.has_snap_chunk && flush_first) {
				peer_transport_flush(s->pt);
				flush_first = false;
			}
			if (rd.has_snap_chunk) {
				if (rd.snap_chunk.last) {
					srv_walks_drop(s); /* they reopen on the new state */
					srv_snapshot_settle(s, "installing a snapshot from the leader");
				}
				uint64_t chunk_t0 = srv_mono_us();
				int rc = sm_install_chunk(s->sm, SRV_GROUP, &rd.snap_chunk);
				if (rc != 0) {
					/* The core would take the snapshot as installed: stop, and
					 * restart from what is durable. */
					RP_ERROR("installing snapshot %llu: %s (%s)",
					         (unsigned long long)rd.snap_chunk.meta.index, rp_strerror(rc),
					         sm_error_detail(s->sm));
					srv_fatal(s, "snapshot install failed", rc);
					break;
				}
				if (rd.snap_chunk.last) {
					s->last_snapshot_index = rd.snap_chunk.meta.index;
					RP_INFO("installed snapshot %llu from the leader (the last chunk took "
					        "%llu ms on the loop; %llu KiB read for CRCs)",
					        (unsigned long long)rd.snap_chunk.meta.index,
					        (unsigned long long)(srv_mono_us() - chunk_t0) / 1000,
					        (unsigned long long)(sm_snapshot_crc_bytes(s->sm) / 1024));
					srv_snapshot_sweep(s);
					addr_load(s);
				}
			}
			wal_rec recs[WAL_READY_MAX_RECS];
			size_t n = wal_recs_from_ready(SRV_GROUP, &rd, recs);
			n = skip_commit_only_hard_state(s, recs, n);
			uint64_t wal_seq = 0;
			if (n > 0) {
				if (flush_first)
					peer_transport_flush(s->pt);
				int rc = srv_node_wal_append(s, recs, n, &wal_seq);
				if (rc != 0) {
					srv_fatal(s, "appending to the write-ahead log", rc);
					break;
				}
			} else if (s->persist_count) {
				/* Nothing of its own: durable once the batch before it is. */
				wal_seq = s->persist[(s->persist_head + s->persist_count - 1) %
				                     s->persist_cap]
				              .wal_seq;
			}
			srv_persist *p = persist_push(s);
			p->rd_seq = rd.seq;
			p->wal_seq = wal_seq;
			persist_encode_after(s, p, &rd);
			for (size_t i = 0; i < rd.committed_count && s->stopping != 2; i++)
				apply_committed(s, &rd.committed[i]);
			sliced = rd.committed_more;
			if (rd.committed_count && s->stopping != 2 && apply_flush_now(s))
				apply_flush(s);
			for (size_t i = 0; i < rd.read_count; i++)
				srv_exec_read_state(s, rd.reads[i].ctx, rd.reads[i].index);
			if (rd.compact_hint)
				srv_snapshot_maybe_start(s);
			if (s->stopping == 2)
				break;
			/* Batches with nothing to persist complete at once. */
			if (wal_seq == 0 || wal_seq <= atomic_load(&s->wal_durable))
				persist_complete(s);
		}
		if (s->core && s->stopping != 2) {
			refresh_status(s);
			srv_exec_after_apply(s);
		}
	} while (s->drain_again && !sliced && s->stopping != 2);
	s->draining = false;
	if (s->stopping == 2)
		return;
	if (sliced)
		uv_idle_start(&s->apply_idle, apply_idle_cb);
	else
		uv_idle_stop(&s->apply_idle);
}

void srv_node_tick(srv *s)
{
	if (s->core == NULL)
		return;
	hp_tick(s->core, srv_now_us(s));
	srv_node_drain(s);
	if (s->core == NULL || s->stopping == 2)
		return;
	/* A run that did not grow since the last tick is committed. */
	uint32_t open = sm_apply_open(s->sm);
	if (open > 0 && open == s->apply_open_seen) {
		apply_flush(s);
		open = 0;
	}
	s->apply_open_seen = open;
}

void srv_node_step(srv *s, const hp_msg *m)
{
	if (s->core == NULL)
		return;
	(void)hp_step(s->core, srv_now_us(s), m);
	srv_node_drain(s);
}

bool srv_is_leader(const srv *s)
{
	return s->core && s->st.role == HP_LEADER;
}

/* ------------------------------------------------------------ open/close */

static uint64_t node_rand(void *ctx)
{
	(void)ctx;
	uint64_t v = 0;
	/* Randomness only spreads elections; quality matters little. */
	v = ((uint64_t)random() << 33) ^ ((uint64_t)random() << 11) ^ (uint64_t)random();
	return v;
}

static bool restore_pristine(const hp_restore *rs)
{
	return rs->snapshot.index == 0 && rs->entry_count == 0 && rs->hard_state.term == 0 &&
	       rs->hard_state.vote == 0 && rs->hard_state.lease_holder == 0 &&
	       rs->hard_state.commit == 0;
}

void srv_node_init_handles(srv *s)
{
	uv_async_init(s->loop, &s->wal_async, wal_async_cb);
	s->wal_async.data = s;
	uv_idle_init(s->loop, &s->apply_idle);
	s->apply_idle.data = s;
	srv_snapshot_init(s);
}

int srv_node_open(srv *s, char *why, size_t why_cap)
{
	char path[4200];
	s->vfs = fs_posix_create();
	if (s->vfs == NULL) {
		snprintf(why, why_cap, "out of memory");
		return RP_ERR_NOMEM;
	}
	/* The state machine first: its applied index bounds what the log replays. */
	sm_config_default(&s->smcfg);
	s->smcfg.max_value_bytes = s->cfg.max_value_bytes;
	s->smcfg.value_cache_bytes = s->cfg.value_cache_bytes;
	snprintf(path, sizeof(path), "%s/sm", s->cfg.storage_dir);
	char smwhy[512] = "";
	int rc = sm_open_rocks(path, &s->smcfg, &s->sm, smwhy, sizeof(smwhy));
	if (rc != 0) {
		snprintf(why, why_cap, "opening the state machine in %s: %s (%s)", path,
		         rp_strerror(rc), smwhy);
		return rc;
	}
	wal_config wcfg;
	wal_config_default(&wcfg);
	snprintf(path, sizeof(path), "%s/wal", s->cfg.storage_dir);
	wcfg.vfs = s->vfs;
	wcfg.dir = path;
	wcfg.segment_bytes = s->cfg.wal_segment_bytes;
	wcfg.threaded = true;
	wcfg.spare_segments = true; /* written-through segments: cheaper fdatasyncs */
	wcfg.wal_id = s->node_id;
	wcfg.durable_cb = node_wal_durable_cb;
	wcfg.durable_ctx = s;
	wal_report rep;
	memset(&rep, 0, sizeof(rep));
	rc = wal_open(&wcfg, &s->wal, &rep);
	if (rc != 0) {
		if (rc == RP_ERR_CORRUPT)
			snprintf(why, why_cap, "the write-ahead log in %s is corrupt: %s", path,
			         rep.message);
		else
			snprintf(why, why_cap, "opening the write-ahead log in %s: %s", path,
			         rp_strerror(rc));
		return rc;
	}
	if (rep.torn_bytes || rep.dropped_records)
		RP_WARN("recovery cut a torn tail of the log (%llu bytes, %llu records of an "
		        "incomplete batch)",
		        (unsigned long long)rep.torn_bytes, (unsigned long long)rep.dropped_records);
	/* Both as this log has them (an open retried after a log was moved
	 * aside starts clean). */
	atomic_store(&s->wal_durable, wal_durable_seq(s->wal));
	atomic_store(&s->wal_rc, 0);
	RP_INFO("log recovered: %u segments, %llu records, last seq %llu", rep.segments,
	        (unsigned long long)rep.records, (unsigned long long)rep.last_seq);

	wal_restore wr;
	rc = wal_restore_load(s->wal, SRV_GROUP, &wr);
	if (rc != 0) {
		snprintf(why, why_cap, "reading the log back: %s", rp_strerror(rc));
		return rc;
	}
	const hp_restore *rs = &wr.restore;
	bool pristine = restore_pristine(rs);
	s->hs_written = rs->hard_state;
	hp_config_default(&s->hcfg);
	s->hcfg.group = SRV_GROUP;
	s->hcfg.id = s->node_id;
	s->hcfg.lease_us = (uint64_t)s->cfg.lease_ms * 1000;
	s->hcfg.heartbeat_us = (uint64_t)s->cfg.heartbeat_ms * 1000;
	s->hcfg.drift_ppm = s->cfg.clock_drift_ppm;
	s->hcfg.election_jitter_us = s->hcfg.lease_us / 4;
	s->hcfg.election_timeout_us = s->hcfg.lease_us;
	s->hcfg.lease_reads = s->cfg.lease_reads;
	s->hcfg.max_entry_bytes = s->cfg.max_value_bytes + 4096 > HP_MAX_ENTRY_BYTES
	                              ? HP_MAX_ENTRY_BYTES
	                              : s->cfg.max_value_bytes + 4096;
	/* What a follower has in flight (max_inflight_appends of these) is
	 * how far behind the send its answers come: it must drain well inside
	 * a lease, which the leader renews only with answers to what it sent
	 * within the lease.  A larger entry still goes, alone. */
	s->hcfg.max_batch_bytes = SRV_APPEND_BATCH_BYTES;
	s->hcfg.compact_hint_entries = s->cfg.snapshot_entries;
	s->hcfg.compact_hint_bytes = s->cfg.snapshot_log_bytes;
	/* Up to half as much again, drawn anew at every snapshot: the nodes
	 * apply the same entries, and all snapshotting at once (a memtable
	 * flush, a checkpoint, the CRC reads and the fsyncs on every node
	 * together) stalled every log's fsync on a shared disk until the
	 * leader's lease ran out (docs/performance.md). */
	s->hcfg.compact_hint_jitter_pct = 50;
	s->hcfg.max_committed_bytes = SRV_APPLY_SLICE_BYTES;
	s->hcfg.rand = node_rand;
	s->hcfg.rand_ctx = s;
	s->hcfg.snapshot_read = sm_snapshot_read_cb;
	s->hcfg.snapshot_ctx = s->sm;
	hp_conf initial;
	memset(&initial, 0, sizeof(initial));
	if (pristine && s->cfg.init && !s->joined) {
		initial.voter_count = 1;
		initial.voters[0] = s->node_id;
	}
	int hrc = 0;
	s->core = hp_create(&s->hcfg, &initial, pristine ? NULL : rs, srv_now_us(s), &hrc);
	uint64_t snap_index = rs->snapshot.index;
	wal_restore_free(&wr);
	if (s->core == NULL) {
		snprintf(why, why_cap, "restoring the consensus state: %s", hp_strerror(hrc));
		return RP_ERR_CORRUPT;
	}
	if (pristine && s->cfg.init && !s->joined) {
		s->joined = true;
		RP_INFO("bootstrapping a new cluster %016llx with this node as its only voter",
		        (unsigned long long)s->cluster_id);
	}
	if (!pristine)
		s->joined = true;
	/* The core serves the snapshot the WAL names; the state machine must
	 * hold it (docs/storage.md, "startup"). */
	uint64_t cur_group = 0;
	hp_snapshot_meta cur;
	bool have = sm_snapshot_current(s->sm, &cur_group, &cur);
	if (snap_index && (!have || cur_group != SRV_GROUP || cur.index != snap_index)) {
		hp_snapshot_meta meta;
		rc = sm_snapshot_create(s->sm, SRV_GROUP, &meta);
		if (rc != 0) {
			/* Only a follower that needs a snapshot from this node waits:
			 * the next snapshot is tried at the next hint. */
			RP_WARN("making the snapshot the log starts from: %s (%s)", rp_strerror(rc),
			        sm_error_detail(s->sm));
		} else if (meta.index >= snap_index && (rc = srv_snapshot_mark(s, &meta)) != 0) {
			snprintf(why, why_cap, "appending a snapshot mark to the write-ahead log: %s",
			         rp_strerror(rc));
			return rc;
		}
	}
	s->last_snapshot_index = snap_index;
	s->lim.max_entry_bytes = s->hcfg.max_entry_bytes;
	s->cursors = cmd_cursors_create(4096, s->node_id ^ srv_mono_us());
	RP_CHECK(s->cursors != NULL);
	cmd_cursors_set_limits(s->cursors, &s->lim);
	sm_result_init(&s->result);
	sm_buf_init(&s->entry_buf);
	addr_load(s);
	hp_get_status(s->core, srv_now_us(s), &s->st);
	RP_INFO("consensus state: term %llu, commit %llu, log %llu..%llu, applied %llu, %u voters, "
	        "%u learners",
	        (unsigned long long)s->st.term, (unsigned long long)s->st.commit,
	        (unsigned long long)s->st.first_index, (unsigned long long)s->st.last_index,
	        (unsigned long long)sm_applied_index(s->sm, SRV_GROUP), s->st.conf.voter_count,
	        s->st.conf.learner_count);
	srv_snapshot_sweep(s); /* what the snapshot made above replaced */
	return 0;
}

void srv_node_close(srv *s)
{
	srv_snapshot_settle(s, "closing");
	srv_snapshot_close(s);
	if (s->wal) {
		int rc = wal_sync(s->wal);
		if (rc != 0)
			RP_WARN("final log sync: %s", rp_strerror(rc));
		wal_close(s->wal);
		s->wal = NULL;
	}
	while (s->persist_count) {
		persist_free(&s->persist[s->persist_head]);
		s->persist_head = (s->persist_head + 1) % s->persist_cap;
		s->persist_count--;
	}
	free(s->persist);
	s->persist = NULL;
	hp_destroy(s->core);
	s->core = NULL;
	sm_close(s->sm);
	s->sm = NULL;
	sm_result_deinit(&s->result);
	sm_buf_deinit(&s->entry_buf);
	cmd_cursors_destroy(s->cursors);
	s->cursors = NULL;
	fs_destroy(s->vfs);
	s->vfs = NULL;
}
