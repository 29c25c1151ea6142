/*
 * sim_net.c — the simulated network.  A message is deep-copied when the
 * core hands it over (ready contents are borrowed only until the next call
 * into the node), then dropped, duplicated and delayed per the run's
 * parameters; delays are drawn per copy, so messages also reorder.  Links
 * are directed: link_up[from][to] is checked when a message is sent and
 * again when it arrives, so a partition also eats what was in flight.  A
 * message to a node that crashed (or crashed and restarted) after it was
 * sent is dropped: the receiver's volatile buffers died with it.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

const char *sim_net_type_name(int type)
{
	return hp_msg_type_name(type);
}

static size_t net_align(size_t n)
{
	size_t a = alignof(max_align_t);
	return (n + a - 1) / a * a;
}

sim_msg *sim_net_copy(sim_world *w, const hp_msg *m)
{
	RP_CHECK(m != NULL);
	RP_CHECK(m->entry_count == 0 || m->entries != NULL);
	RP_CHECK(m->snap_size_bytes == 0 || m->snap_data != NULL);
	size_t head = net_align(sizeof(sim_msg));
	size_t entries_bytes = (size_t)m->entry_count * sizeof(hp_entry);
	size_t data_bytes = m->snap_size_bytes;
	for (uint32_t i = 0; i < m->entry_count; i++) {
		RP_CHECK(m->entries[i].size_bytes == 0 || m->entries[i].data != NULL);
		data_bytes += m->entries[i].size_bytes;
	}
	size_t total = head + entries_bytes + data_bytes;
	uint8_t *block = sim_pool_alloc(&w->pool, total);
	sim_msg *msg = (sim_msg *)(void *)block;
	/* msg->m = *m, as two copies of under 256 bytes, which the compiler
	 * makes plain vector moves (one copy of the whole becomes a string
	 * instruction that is slow to start, at every message). */
	memcpy(&msg->m, m, offsetof(hp_msg, snap));
	memcpy((uint8_t *)&msg->m + offsetof(hp_msg, snap), (const uint8_t *)m + offsetof(hp_msg, snap),
	       sizeof(hp_msg) - offsetof(hp_msg, snap));
	msg->from_slot = 0;
	msg->to_slot = 0;
	msg->to_incarnation = 0;
	msg->group_slot = 0;
	msg->size_bytes = total;
	msg->next = NULL;
	hp_entry *entries = (hp_entry *)(void *)(block + head);
	uint8_t *data = block + head + entries_bytes;
	for (uint32_t i = 0; i < m->entry_count; i++) {
		entries[i] = m->entries[i];
		if (m->entries[i].size_bytes) {
			memcpy(data, m->entries[i].data, m->entries[i].size_bytes);
			entries[i].data = data;
			data += m->entries[i].size_bytes;
		} else {
			entries[i].data = NULL;
		}
	}
	msg->m.entries = m->entry_count ? entries : NULL;
	if (m->snap_size_bytes) {
		memcpy(data, m->snap_data, m->snap_size_bytes);
		msg->m.snap_data = data;
	} else {
		msg->m.snap_data = NULL;
	}
	return msg;
}

static sim_msg *net_clone(sim_world *w, const sim_msg *msg)
{
	sim_msg *copy = sim_net_copy(w, &msg->m);
	copy->from_slot = msg->from_slot;
	copy->to_slot = msg->to_slot;
	copy->to_incarnation = msg->to_incarnation;
	copy->group_slot = msg->group_slot;
	return copy;
}

void sim_net_free(sim_world *w, sim_msg *msg)
{
	if (msg != NULL)
		sim_pool_free(&w->pool, msg, msg->size_bytes);
}

static uint64_t net_delay(sim_world *w)
{
	const sim_params *p = &w->p;
	if (w->tail_ppm && rp_prng_chance_ppm(&w->rng_net, w->tail_ppm))
		return rp_prng_range(&w->rng_net, p->net_tail_min_us, p->net_tail_max_us);
	return rp_prng_range(&w->rng_net, p->net_min_us, p->net_max_us);
}

static void net_trace(sim_world *w, const char *what, const sim_msg *msg)
{
	if (w->trace < 2)
		return;
	const hp_msg *m = &msg->m;
	char snap[96] = "";
	if (m->type == HP_MSG_SNAP_CHUNK || m->type == HP_MSG_SNAP_RESP)
		snprintf(snap, sizeof(snap), " snap %llu/%llu offset %llu size %u%s",
		         (unsigned long long)m->snap.index, (unsigned long long)m->snap.term,
		         (unsigned long long)m->snap_offset, m->snap_size_bytes,
		         m->snap_last ? " last" : "");
	sim_trace(w, "  msg %s n%llu->n%llu %s term %llu idx %llu/%llu commit %llu n=%u send_us %llu%s%s",
	          what, (unsigned long long)m->from, (unsigned long long)m->to,
	          sim_net_type_name(m->type), (unsigned long long)m->term,
	          (unsigned long long)m->log_index, (unsigned long long)m->log_term,
	          (unsigned long long)m->commit, m->entry_count, (unsigned long long)m->send_us,
	          m->reject ? " reject" : "", snap);
}

static void net_drop(sim_world *w, sim_msg *msg, const char *why)
{
	w->stats.msgs_dropped++;
	net_trace(w, why, msg);
	sim_net_free(w, msg);
}

void sim_net_send(sim_world *w, sim_node *from, uint32_t group_slot, sim_msg *msg)
{
	RP_CHECK(group_slot < SIM_GROUP_COUNT);
	msg->from_slot = from->slot;
	msg->group_slot = group_slot;
	int type = msg->m.type;
	w->stats.msgs_sent++;
	if (type > 0 && type < SIM_MSG_TYPES) {
		w->stats.by_type[type]++;
		from->sent[type]++;
	}
	if (msg->m.from != from->id || msg->m.group != from->rep[group_slot].group) {
		sim_fail(w, "n%llu sent a message claiming to be from n%llu group %llu",
		         (unsigned long long)from->id, (unsigned long long)msg->m.from,
		         (unsigned long long)msg->m.group);
		sim_net_free(w, msg);
		return;
	}
	sim_node *to = sim_node_by_id(w, msg->m.to);
	if (to == NULL || to == from) {
		net_drop(w, msg, "drop(no such node)");
		return;
	}
	msg->to_slot = to->slot;
	msg->to_incarnation = to->incarnation;
	if (!w->link_up[from->slot][to->slot]) {
		net_drop(w, msg, "drop(link down)");
		return;
	}
	if (!to->up) {
		net_drop(w, msg, "drop(target down)");
		return;
	}
	if (w->drop_ppm && rp_prng_chance_ppm(&w->rng_net, w->drop_ppm)) {
		net_drop(w, msg, "drop(random)");
		return;
	}
	bool dup = w->dup_ppm && rp_prng_chance_ppm(&w->rng_net, w->dup_ppm);
	for (int copy = 0; copy < (dup ? 2 : 1); copy++) {
		sim_msg *one = copy == 0 ? msg : net_clone(w, msg);
		if (copy == 1)
			w->stats.msgs_duplicated++;
		if (w->inflight >= SIM_INFLIGHT_MAX) {
			w->stats.msgs_overflow++;
			net_drop(w, one, "drop(network full)");
			continue;
		}
		w->inflight++;
		net_trace(w, copy == 0 ? "send" : "dup", one);
		sim_schedule(w, w->now_us + net_delay(w), SIM_EV_DELIVER, to->slot, 0, one);
	}
}

void sim_net_deliver(sim_world *w, sim_msg *msg)
{
	RP_CHECK(w->inflight > 0);
	w->inflight--;
	RP_CHECK(msg->to_slot < w->node_count);
	sim_node *to = w->nodes[msg->to_slot];
	if (!to->up || to->incarnation != msg->to_incarnation) {
		net_drop(w, msg, "drop(target crashed)");
		return;
	}
	if (!w->link_up[msg->from_slot][msg->to_slot]) {
		net_drop(w, msg, "drop(partitioned in flight)");
		return;
	}
	w->stats.msgs_delivered++;
	net_trace(w, "recv", msg);
	sim_node_deliver(w, to, msg);
	sim_net_free(w, msg);
}
