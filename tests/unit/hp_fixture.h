/*
 * hp_fixture.h — a tiny in-memory cluster for the consensus core's unit
 * tests: N nodes, one shared clock, a FIFO network with per-link cuts, and
 * a "disk" that persists each ready at once.  Header-only so each test
 * program can include it; the simulator (src/sim) is the real harness.
 */
#ifndef RASPUTIN_HP_FIXTURE_H
#define RASPUTIN_HP_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "harpoon/harpoon.h"
#include "util/prng.h"

enum { FX_MAX_NODES = 8, FX_MAX_MSGS = 4096, FX_MAX_APPLIED = 4096 };

typedef struct {
	hp_msg m;
	hp_entry *entries; /* deep copies */
	uint8_t *snap_data;
} fx_msg;

typedef struct {
	uint64_t index;
	uint64_t term;
	uint8_t type;
	uint8_t data[32];
	uint32_t size;
} fx_applied;

typedef struct {
	hp_node *node;
	bool up;
	/* durable image */
	hp_hard_state hs;
	hp_entry *log; /* entries after snap */
	uint64_t log_count;
	hp_snapshot_meta snap;
	/* state machine: applied entries */
	fx_applied applied[FX_MAX_APPLIED];
	uint64_t applied_count;
	uint64_t reads_ready[64];
	uint64_t read_index[64];
	uint32_t read_count;
	uint32_t snap_chunks_received;
	uint32_t sliced_readies; /* readies with committed_more set */
	uint64_t compact_hint;   /* the last rd.compact_hint seen (0: none yet) */
	bool hold_persist; /* if set, readies are not persisted (and acks not sent) */
} fx_node;

typedef struct {
	fx_node nodes[FX_MAX_NODES];
	uint32_t count;
	uint64_t now;
	bool cut[FX_MAX_NODES + 1][FX_MAX_NODES + 1]; /* [from][to], ids 1..count */
	fx_msg queue[FX_MAX_MSGS];
	uint32_t queue_count;
	rp_prng prng;
	hp_config cfg;
	uint32_t sent_by_type[16];
	/* APPENDs with entries, per destination: the highest entry index sent
	 * so far, and how many started at or below it (resends). */
	uint64_t sent_upto[FX_MAX_NODES + 1];
	uint32_t resent_to[FX_MAX_NODES + 1];
	uint32_t leader_changes;
	hp_id last_leader;
} fx_cluster;

static inline uint64_t fx_rand(void *ctx) { return rp_prng_next((rp_prng *)ctx); }

static inline int fx_snapshot_read(void *ctx, uint64_t group, uint64_t index, uint64_t offset,
                            uint8_t *buf, size_t cap, size_t *size, bool *last)
{
	(void)group;
	fx_node *fn = ctx;
	if (fn->snap.index != index)
		return -1;
	/* The snapshot's bytes: 100 bytes derived from the index. */
	uint64_t total = 100;
	if (offset > total)
		return -1;
	size_t n = (size_t)(total - offset);
	if (n > cap)
		n = cap;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(index + offset + i);
	*size = n;
	*last = offset + n == total;
	return 0;
}

static inline void fx_entry_copy(hp_entry *dst, const hp_entry *src)
{
	*dst = *src;
	if (src->size_bytes) {
		uint8_t *d = malloc(src->size_bytes);
		memcpy(d, src->data, src->size_bytes);
		dst->data = d;
	} else {
		dst->data = NULL;
	}
}

static inline void fx_node_start(fx_cluster *c, uint32_t i, const hp_conf *initial)
{
	fx_node *fn = &c->nodes[i];
	hp_config cfg = c->cfg;
	cfg.id = i + 1;
	cfg.rand = fx_rand;
	cfg.rand_ctx = &c->prng;
	cfg.snapshot_read = fx_snapshot_read;
	cfg.snapshot_ctx = fn;
	hp_restore r;
	memset(&r, 0, sizeof(r));
	r.hard_state = fn->hs;
	r.snapshot = fn->snap;
	r.entries = fn->log;
	r.entry_count = fn->log_count;
	int rc;
	fn->node = hp_create(&cfg, initial, &r, c->now, &rc);
	fn->up = fn->node != NULL;
	fn->applied_count = 0;
	fn->read_count = 0;
}

/* fx_init with the default config changed by tune (may be NULL) before
 * any node starts. */
static inline void fx_init_with(fx_cluster *c, uint32_t count, uint64_t seed,
                                void (*tune)(hp_config *))
{
	memset(c, 0, sizeof(*c));
	c->count = count;
	c->now = 1000;
	rp_prng_init(&c->prng, seed);
	hp_config_default(&c->cfg);
	c->cfg.group = 7;
	c->cfg.snapshot_chunk_bytes = 32;
	if (tune)
		tune(&c->cfg);
	hp_conf conf;
	memset(&conf, 0, sizeof(conf));
	for (uint32_t i = 0; i < count; i++)
		conf.voters[conf.voter_count++] = i + 1;
	for (uint32_t i = 0; i < count; i++)
		fx_node_start(c, i, &conf);
}

static inline void fx_init(fx_cluster *c, uint32_t count, uint64_t seed)
{
	fx_init_with(c, count, seed, NULL);
}

static inline void fx_free_msg(fx_msg *fm)
{
	for (uint32_t i = 0; i < fm->m.entry_count; i++)
		free((void *)fm->entries[i].data);
	free(fm->entries);
	free(fm->snap_data);
}

static inline void fx_enqueue(fx_cluster *c, const hp_msg *m)
{
	if (m->type < 16)
		c->sent_by_type[m->type]++;
	if (m->type == HP_MSG_APPEND && m->entry_count && m->to <= FX_MAX_NODES) {
		uint64_t first = m->log_index + 1, last = m->log_index + m->entry_count;
		if (first <= c->sent_upto[m->to])
			c->resent_to[m->to]++;
		if (last > c->sent_upto[m->to])
			c->sent_upto[m->to] = last;
	}
	if (c->queue_count >= FX_MAX_MSGS)
		return;
	fx_msg *fm = &c->queue[c->queue_count++];
	fm->m = *m;
	fm->entries = NULL;
	fm->snap_data = NULL;
	if (m->entry_count) {
		fm->entries = calloc(m->entry_count, sizeof(hp_entry));
		for (uint32_t i = 0; i < m->entry_count; i++)
			fx_entry_copy(&fm->entries[i], &m->entries[i]);
		fm->m.entries = fm->entries;
	}
	if (m->snap_size_bytes) {
		fm->snap_data = malloc(m->snap_size_bytes);
		memcpy(fm->snap_data, m->snap_data, m->snap_size_bytes);
		fm->m.snap_data = fm->snap_data;
	}
}

static inline void fx_persist(fx_node *fn, const hp_ready *rd)
{
	if (rd->has_snap_chunk) {
		fn->snap_chunks_received++;
		if (rd->snap_chunk.last) {
			fn->snap = rd->snap_chunk.meta;
			for (uint64_t i = 0; i < fn->log_count; i++)
				free((void *)fn->log[i].data);
			fn->log_count = 0;
			fn->applied_count = 0;
		}
	}
	if (rd->hard_state_changed)
		fn->hs = rd->hard_state;
	if (rd->truncate_from) {
		while (fn->log_count > 0 &&
		       fn->log[fn->log_count - 1].index >= rd->truncate_from) {
			free((void *)fn->log[fn->log_count - 1].data);
			fn->log_count--;
		}
	}
	if (rd->entry_count) {
		fn->log = realloc(fn->log, (fn->log_count + rd->entry_count) * sizeof(hp_entry));
		for (size_t i = 0; i < rd->entry_count; i++)
			fx_entry_copy(&fn->log[fn->log_count++], &rd->entries[i]);
	}
}

/* Drains every ready of node i: send, persist, advance, send-after, apply. */
static inline void fx_drain(fx_cluster *c, uint32_t i)
{
	fx_node *fn = &c->nodes[i];
	while (fn->up && !fn->hold_persist && hp_has_ready(fn->node)) {
		hp_ready rd;
		hp_ready_take(fn->node, &rd);
		for (size_t k = 0; k < rd.msg_count; k++)
			fx_enqueue(c, &rd.msgs[k]);
		fx_persist(fn, &rd);
		for (size_t k = 0; k < rd.msg_after_persist_count; k++)
			fx_enqueue(c, &rd.msgs_after_persist[k]);
		fn->sliced_readies += rd.committed_more;
		if (rd.compact_hint)
			fn->compact_hint = rd.compact_hint;
		for (size_t k = 0; k < rd.committed_count; k++) {
			const hp_entry *e = &rd.committed[k];
			if (fn->applied_count < FX_MAX_APPLIED) {
				fx_applied *a = &fn->applied[fn->applied_count++];
				a->index = e->index;
				a->term = e->term;
				a->type = e->type;
				a->size = e->size_bytes < 32 ? e->size_bytes : 32;
				if (a->size)
					memcpy(a->data, e->data, a->size);
			}
		}
		for (size_t k = 0; k < rd.read_count && fn->read_count < 64; k++) {
			fn->reads_ready[fn->read_count] = rd.reads[k].ctx;
			fn->read_index[fn->read_count++] = rd.reads[k].index;
		}
		hp_advance(fn->node, rd.seq);
	}
}

/* Delivers every queued message (and whatever they cause) until quiet. */
static inline void fx_deliver_all(fx_cluster *c)
{
	for (int rounds = 0; rounds < 1000; rounds++) {
		for (uint32_t i = 0; i < c->count; i++)
			fx_drain(c, i);
		if (c->queue_count == 0)
			return;
		uint32_t n = c->queue_count;
		fx_msg *batch = malloc(n * sizeof(fx_msg));
		memcpy(batch, c->queue, n * sizeof(fx_msg));
		c->queue_count = 0;
		for (uint32_t k = 0; k < n; k++) {
			hp_msg *m = &batch[k].m;
			uint32_t to = (uint32_t)m->to - 1;
			if (to < c->count && c->nodes[to].up && !c->cut[m->from][m->to])
				hp_step(c->nodes[to].node, c->now, m);
			fx_free_msg(&batch[k]);
		}
		free(batch);
	}
}

static inline hp_id fx_leader(fx_cluster *c)
{
	hp_id leader = 0;
	for (uint32_t i = 0; i < c->count; i++) {
		if (!c->nodes[i].up)
			continue;
		hp_status st;
		hp_get_status(c->nodes[i].node, c->now, &st);
		if (st.role == HP_LEADER && st.lease_valid)
			leader = st.id;
	}
	return leader;
}

/* Advances time by `us` in steps of `step` us, ticking and delivering. */
static inline void fx_run(fx_cluster *c, uint64_t us, uint64_t step)
{
	for (uint64_t t = 0; t < us; t += step) {
		c->now += step;
		for (uint32_t i = 0; i < c->count; i++)
			if (c->nodes[i].up)
				hp_tick(c->nodes[i].node, c->now);
		fx_deliver_all(c);
		hp_id l = fx_leader(c);
		if (l && l != c->last_leader) {
			if (c->last_leader)
				c->leader_changes++;
			c->last_leader = l;
		}
	}
}

static inline hp_status fx_status(fx_cluster *c, hp_id id)
{
	hp_status st;
	hp_get_status(c->nodes[id - 1].node, c->now, &st);
	return st;
}

static inline void fx_crash(fx_cluster *c, hp_id id)
{
	fx_node *fn = &c->nodes[id - 1];
	hp_destroy(fn->node);
	fn->node = NULL;
	fn->up = false;
}

static inline void fx_destroy(fx_cluster *c)
{
	for (uint32_t i = 0; i < FX_MAX_NODES; i++) {
		fx_node *fn = &c->nodes[i];
		hp_destroy(fn->node);
		for (uint64_t k = 0; k < fn->log_count; k++)
			free((void *)fn->log[k].data);
		free(fn->log);
	}
	for (uint32_t k = 0; k < c->queue_count; k++)
		fx_free_msg(&c->queue[k]);
}

static inline void fx_isolate(fx_cluster *c, hp_id id, bool cut)
{
	for (hp_id j = 1; j <= c->count; j++) {
		if (j == id)
			continue;
		c->cut[id][j] = cut;
		c->cut[j][id] = cut;
	}
}

static inline int fx_propose(fx_cluster *c, hp_id leader, const char *s)
{
	uint64_t index, term;
	return hp_propose(c->nodes[leader - 1].node, c->now, (const uint8_t *)s,
	                  (uint32_t)strlen(s), &index, &term);
}

#endif
