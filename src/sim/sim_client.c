/*
 * sim_client.c — the simulated workload and its history.  Each client has
 * at most one op outstanding: it thinks for a random while, picks an op
 * (GET/SET/CAS/DEL/INCR) on a random key, and sends it to the node that
 * says it leads (the simulator reads the cores' status: that models a
 * redirect).  Written values are unique (the op id), so a history is easy
 * to read.  Outcomes:
 *   OK    the proposer applied the entry at the (index, term) hp_propose
 *         gave, or a read was served once the state machine reached the
 *         read index;
 *   FAIL  the request never reached a live node, the core refused it, the
 *         proposer applied a different entry at that index, or a read
 *         timed out or lost its leader (a read has no effect);
 *   INFO  a write whose proposer crashed or that timed out: it may still
 *         take effect later, or never.
 * Every op lands in w->hist as an lc_op with real simulated times.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

static const char *kind_name(uint8_t kind)
{
	static const char *names[] = {"GET", "SET", "CAS", "DEL", "INCR"};
	return kind <= SIM_KV_INCR ? names[kind] : "?";
}

static lc_kind lc_kind_of(uint8_t kind)
{
	switch (kind) {
	case SIM_KV_GET:
		return LC_GET;
	case SIM_KV_SET:
		return LC_SET;
	case SIM_KV_CAS:
		return LC_CAS;
	case SIM_KV_DEL:
		return LC_DEL;
	default:
		RP_CHECK(kind == SIM_KV_INCR);
		return LC_INCR;
	}
}

static void client_think(sim_world *w, sim_client *c, uint64_t max_us)
{
	c->state = SIM_CLIENT_THINKING;
	c->timer_gen++;
	uint64_t delay = 1 + rp_prng_below(&c->rng, max_us + 1);
	sim_schedule(w, w->now_us + delay, SIM_EV_CLIENT_ISSUE, c->index, c->timer_gen, NULL);
}

void sim_client_init(sim_world *w)
{
	RP_CHECK(w->p.clients <= SIM_MAX_CLIENTS);
	RP_CHECK(w->p.keys >= 1 && w->p.keys <= SIM_KV_KEYS);
	w->client_count = w->p.clients;
	for (uint32_t i = 0; i < w->client_count; i++) {
		sim_client *c = &w->clients[i];
		memset(c, 0, sizeof(*c));
		c->index = i;
		rp_prng_init(&c->rng, w->seed * 0x2545f4914f6cdd1dULL + 0x636c69ULL + i);
		client_think(w, c, w->p.think_max_us);
	}
}

static void client_choose(sim_world *w, sim_client *c, sim_kv_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->client = c->index;
	cmd->op_id = c->op_id;
	cmd->key = (uint8_t)rp_prng_below(&c->rng, w->p.keys);
	if (w->liveness && c->ok_writes == 0) {
		cmd->kind = SIM_KV_SET;
	} else if (w->liveness && c->ok_reads == 0) {
		cmd->kind = SIM_KV_GET;
	} else if (rp_prng_below(&c->rng, 100) < w->p.read_pct) {
		cmd->kind = SIM_KV_GET;
	} else {
		uint64_t r = rp_prng_below(&c->rng, 100);
		cmd->kind = r < 40 ? SIM_KV_SET : r < 65 ? SIM_KV_CAS : r < 75 ? SIM_KV_DEL : SIM_KV_INCR;
	}
	switch (cmd->kind) {
	case SIM_KV_SET:
		cmd->value = c->op_id;
		break;
	case SIM_KV_CAS:
		cmd->value = c->op_id;
		cmd->expect_present = c->seen_present[cmd->key];
		cmd->expect = c->seen_value[cmd->key];
		if (rp_prng_below(&c->rng, 100) < 15)
			cmd->expect_present = !cmd->expect_present;
		if (!cmd->expect_present)
			cmd->expect = 0;
		break;
	case SIM_KV_INCR:
		cmd->value = rp_prng_range(&c->rng, 1, 5);
		break;
	default:
		break;
	}
}

void sim_client_issue(sim_world *w, sim_client *c)
{
	RP_CHECK(c->state == SIM_CLIENT_THINKING);
	if (!w->clients_on)
		return;
	sim_node *target = sim_believed_leader(w);
	if (target == NULL) {
		client_think(w, c, 100000); /* no leader known: ask again soon */
		return;
	}
	if (w->hist_count == w->hist_capacity) {
		if (w->hist_capacity >= SIM_HISTORY_MAX) {
			sim_fail(w, "client history full (%zu ops)", w->hist_count);
			return;
		}
		size_t capacity = w->hist_capacity ? w->hist_capacity * 2 : 4096;
		lc_op *hist = realloc(w->hist, capacity * sizeof(*hist));
		RP_CHECK(hist != NULL);
		sim_op_meta *meta = realloc(w->hist_meta, capacity * sizeof(*meta));
		RP_CHECK(meta != NULL);
		w->hist = hist;
		w->hist_meta = meta;
		w->hist_capacity = capacity;
	}
	if (c->counter == c->op_hist_capacity) {
		size_t capacity = c->op_hist_capacity ? c->op_hist_capacity * 2 : 256;
		size_t *op_hist = realloc(c->op_hist, capacity * sizeof(*op_hist));
		RP_CHECK(op_hist != NULL);
		c->op_hist = op_hist;
		c->op_hist_capacity = capacity;
	}
	c->counter++;
	c->op_id = ((uint64_t)(c->index + 1) << 32) | c->counter;
	client_choose(w, c, &c->cmd);
	c->hist = w->hist_count++;
	c->op_hist[c->counter - 1] = c->hist;
	memset(&w->hist_meta[c->hist], 0, sizeof(w->hist_meta[c->hist]));
	w->hist_meta[c->hist].op_id = c->op_id;
	lc_op *h = &w->hist[c->hist];
	memset(h, 0, sizeof(*h));
	h->client = c->index;
	h->key = c->cmd.key;
	h->kind = lc_kind_of(c->cmd.kind);
	h->status = LC_STATUS_INFO;
	h->invoke_us = w->now_us;
	h->complete_us = UINT64_MAX;
	h->value = c->cmd.value;
	h->expect_present = c->cmd.expect_present;
	h->expect = c->cmd.expect;
	c->state = SIM_CLIENT_SENDING;
	c->slot = target->slot;
	c->incarnation = target->incarnation;
	sim_trace(w, "c%u invokes %s k%u value %llu (op %zu) at n%llu", c->index,
	          kind_name(c->cmd.kind), c->cmd.key, (unsigned long long)c->cmd.value, c->hist,
	          (unsigned long long)target->id);
	uint64_t latency = rp_prng_range(&c->rng, w->p.net_min_us, w->p.net_max_us);
	sim_schedule(w, w->now_us + latency, SIM_EV_CLIENT_ARRIVE, c->index, c->op_id, NULL);
	c->deadline_us = w->now_us + w->p.op_timeout_us;
	if (!c->timeout_pending) {
		c->timeout_pending = true;
		sim_schedule(w, c->deadline_us, SIM_EV_CLIENT_TIMEOUT, c->index, 0, NULL);
	}
}

void sim_client_arrive(sim_world *w, sim_client *c, uint64_t op_id)
{
	if (c->op_id != op_id || c->state != SIM_CLIENT_SENDING)
		return;
	sim_node *n = w->nodes[c->slot];
	if (!n->up || n->incarnation != c->incarnation) {
		sim_client_failed(w, c->index, op_id, false);
		return;
	}
	c->state = SIM_CLIENT_WAITING;
	sim_replica *r = &n->rep[0];
	int rc = c->cmd.kind == SIM_KV_GET ? sim_replica_read(w, r, c->index, op_id)
	                                   : sim_replica_propose(w, r, &c->cmd);
	if (rc != 0) {
		if (w->trace)
			sim_trace(w, "c%u op %zu refused by n%llu: %s", c->index, c->hist,
			          (unsigned long long)n->id, hp_strerror(rc));
		sim_client_failed(w, c->index, op_id, false);
	}
}

/* Forgets the op at its node, so stale proposals do not pile up there. */
static void client_forget(sim_world *w, sim_client *c)
{
	sim_node *n = w->nodes[c->slot];
	if (!n->up || n->incarnation != c->incarnation)
		return;
	sim_replica *r = &n->rep[0];
	for (size_t i = 0; i < r->prop_count; i++) {
		if (r->props[i].op_id == c->op_id) {
			r->props[i] = r->props[--r->prop_count];
			break;
		}
	}
	for (size_t i = 0; i < r->read_wait_count; i++) {
		if (r->read_waits[i].op_id == c->op_id) {
			r->read_waits[i] = r->read_waits[--r->read_wait_count];
			break;
		}
	}
}

/* One TIMEOUT event per client at a time: when it fires early (the op it
 * was queued for finished), it re-arms for the current op. */
void sim_client_timeout(sim_world *w, sim_client *c)
{
	c->timeout_pending = false;
	if (c->state == SIM_CLIENT_THINKING)
		return;
	if (c->deadline_us > w->now_us) {
		c->timeout_pending = true;
		sim_schedule(w, c->deadline_us, SIM_EV_CLIENT_TIMEOUT, c->index, 0, NULL);
		return;
	}
	client_forget(w, c);
	sim_client_failed(w, c->index, c->op_id, c->state == SIM_CLIENT_WAITING);
}

void sim_client_applied(sim_world *w, uint32_t client, uint64_t op_id, const sim_kv_result *res)
{
	RP_CHECK(client < w->client_count);
	sim_client *c = &w->clients[client];
	if (c->op_id != op_id || c->state != SIM_CLIENT_WAITING)
		return;
	lc_op *h = &w->hist[c->hist];
	h->status = LC_STATUS_OK;
	h->complete_us = w->now_us;
	h->found = res->found;
	h->out = res->out;
	h->success = res->success;
	uint8_t key = c->cmd.key;
	if (c->cmd.kind == SIM_KV_DEL) {
		c->seen_present[key] = false;
		c->seen_value[key] = 0;
	} else {
		c->seen_present[key] = res->found;
		c->seen_value[key] = res->found ? res->out : 0;
	}
	if (c->cmd.kind == SIM_KV_GET)
		c->ok_reads++;
	else
		c->ok_writes++;
	w->stats.ops_ok++;
	if (w->trace)
		sim_trace(w, "c%u %s k%u -> ok found=%d out=%llu%s (op %zu)", client,
		          kind_name(c->cmd.kind), key, res->found ? 1 : 0,
		          (unsigned long long)res->out,
		          c->cmd.kind == SIM_KV_CAS ? (res->success ? " swapped" : " no swap") : "",
		          c->hist);
	client_think(w, c, w->p.think_max_us);
}

void sim_client_failed(sim_world *w, uint32_t client, uint64_t op_id, bool indeterminate)
{
	RP_CHECK(client < w->client_count);
	sim_client *c = &w->clients[client];
	if (c->op_id != op_id || c->state == SIM_CLIENT_THINKING)
		return;
	lc_op *h = &w->hist[c->hist];
	if (indeterminate && c->cmd.kind != SIM_KV_GET) {
		h->status = LC_STATUS_INFO;
		h->complete_us = UINT64_MAX;
		w->stats.ops_info++;
		/* Its effect is unknown: forget what this client saw of the key. */
		c->seen_present[c->cmd.key] = false;
	} else {
		h->status = LC_STATUS_FAIL;
		h->complete_us = w->now_us;
		w->stats.ops_fail++;
	}
	if (w->trace)
		sim_trace(w, "c%u %s k%u -> %s (op %zu)", client, kind_name(c->cmd.kind), c->cmd.key,
		          h->status == LC_STATUS_INFO ? "info (indeterminate)" : "fail", c->hist);
	client_think(w, c, w->p.think_max_us);
}

void sim_client_mark(sim_world *w)
{
	for (uint32_t i = 0; i < w->client_count; i++) {
		w->clients[i].ok_writes = 0;
		w->clients[i].ok_reads = 0;
	}
}

void sim_client_close(sim_world *w)
{
	for (uint32_t i = 0; i < w->client_count; i++) {
		sim_client *c = &w->clients[i];
		if (c->state != SIM_CLIENT_THINKING)
			sim_client_failed(w, i, c->op_id, true);
	}
	w->clients_on = false;
}

/* The history entry of op_id, or NULL. */
static size_t client_find(sim_world *w, uint64_t op_id, bool *found)
{
	uint32_t ci = (uint32_t)(op_id >> 32) - 1;
	uint64_t counter = op_id & 0xffffffffu;
	*found = false;
	if (ci >= w->client_count || counter == 0 || counter > w->clients[ci].counter)
		return 0;
	size_t h = w->clients[ci].op_hist[counter - 1];
	if (h >= w->hist_count || w->hist_meta[h].op_id != op_id)
		return 0;
	*found = true;
	return h;
}

void sim_client_first_apply(sim_world *w, const sim_kv_cmd *cmd, uint64_t index,
                            const sim_kv_result *res)
{
	bool found;
	size_t h = client_find(w, cmd->op_id, &found);
	if (!found) {
		sim_fail(w, "entry %llu carries op %llx, which no client issued",
		         (unsigned long long)index, (unsigned long long)cmd->op_id);
		return;
	}
	sim_op_meta *m = &w->hist_meta[h];
	if (m->applied) {
		sim_fail(w, "exactly once: op %zu (c%u) applied twice, at %llu and at %llu", h,
		         cmd->client, (unsigned long long)m->index, (unsigned long long)index);
		return;
	}
	if (w->hist[h].status == LC_STATUS_FAIL) {
		sim_fail(w, "op %zu (c%u) was reported failed to its client but is applied at %llu", h,
		         cmd->client, (unsigned long long)index);
		return;
	}
	m->applied = true;
	m->applied_us = w->now_us;
	m->index = index;
	m->res = *res;
}

void sim_client_settle(sim_world *w)
{
	for (size_t h = 0; h < w->hist_count && !w->failed; h++) {
		lc_op *op = &w->hist[h];
		const sim_op_meta *m = &w->hist_meta[h];
		if (op->kind == LC_GET)
			continue;
		switch (op->status) {
		case LC_STATUS_OK:
			if (!m->applied || m->res.found != op->found || m->res.out != op->out ||
			    m->res.success != op->success)
				sim_fail(w, "op %zu (c%u) was reported done to its client but %s", h,
				         op->client,
				         m->applied ? "with another result than the one applied"
				                    : "was never applied");
			break;
		case LC_STATUS_FAIL:
			if (m->applied)
				sim_fail(w, "op %zu (c%u) was reported failed but was applied at %llu", h,
				         op->client, (unsigned long long)m->index);
			break;
		case LC_STATUS_INFO:
			if (m->applied) {
				op->status = LC_STATUS_OK;
				op->complete_us = m->applied_us;
				op->found = m->res.found;
				op->out = m->res.out;
				op->success = m->res.success;
			} else {
				op->status = LC_STATUS_FAIL;
				op->complete_us = op->invoke_us;
			}
			break;
		}
	}
}

void sim_client_deinit(sim_world *w)
{
	for (uint32_t i = 0; i < w->client_count; i++) {
		free(w->clients[i].op_hist);
		w->clients[i].op_hist = NULL;
	}
}
