/*
 * sim_fault.c — the swarm's random faults during the fault period:
 * partitions of several shapes (a node isolated, often the leader; a
 * random split; one direction of a node's links; one link, in one or both
 * directions; a hub that alone reaches everyone), each healing after a
 * random while; crashes (often of the leader) with restarts after a random
 * downtime; and clock rate changes within the drift bound, often pinned at
 * its edges (the leader slow, everyone else fast: the case the lease's
 * drift margin exists for); and the disk's faults: write and sync errors
 * switched on for the fault period, and latent bit flips in the WAL of a
 * node that just crashed, on at most p.corrupt_nodes_max nodes per run
 * (the fault assumption in sim.c).  Inter-arrival times are uniform in
 * [0, 2 * mean].
 */
#include <stdio.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

static uint64_t fault_interval(sim_world *w, uint64_t mean_us)
{
	return 1 + rp_prng_below(&w->rng_fault, 2 * mean_us + 1);
}

/* A random live node, or the believed leader with probability leader_pct. */
static sim_node *fault_pick_node(sim_world *w, uint32_t leader_pct, bool up_only)
{
	if (rp_prng_below(&w->rng_fault, 100) < leader_pct) {
		sim_node *l = sim_believed_leader(w);
		if (l)
			return l;
	}
	sim_node *pool[SIM_MAX_NODES];
	uint32_t count = 0;
	for (uint32_t i = 0; i < w->node_count; i++) {
		sim_node *n = w->nodes[i];
		if (n->decommissioned || (up_only && !n->up))
			continue;
		pool[count++] = n;
	}
	if (count == 0)
		return NULL;
	return pool[rp_prng_below(&w->rng_fault, count)];
}

void sim_fault_start(sim_world *w)
{
	const sim_params *p = &w->p;
	w->chaos = true;
	for (uint32_t i = 0; i < w->node_count; i++)
		sim_disk_errors(&w->nodes[i]->disk, true);
	if (p->partition_mean_us)
		sim_schedule(w, w->now_us + fault_interval(w, p->partition_mean_us), SIM_EV_PARTITION,
		             0, 0, NULL);
	if (p->crash_mean_us)
		sim_schedule(w, w->now_us + fault_interval(w, p->crash_mean_us), SIM_EV_CRASH, 0, 0,
		             NULL);
	if (p->clock_mean_us)
		sim_schedule(w, w->now_us + fault_interval(w, p->clock_mean_us), SIM_EV_CLOCK, 0, 0,
		             NULL);
	if (p->power_mean_us)
		sim_schedule(w, w->now_us + fault_interval(w, p->power_mean_us), SIM_EV_POWER, 0, 0,
		             NULL);
}

static void cut(sim_partition *part, uint32_t from, uint32_t to)
{
	if (from != to)
		part->cut[from][to] = true;
}

static void fault_partition(sim_world *w)
{
	sim_partition *part = NULL;
	uint32_t idx = 0;
	for (; idx < SIM_MAX_PARTITIONS; idx++) {
		if (!w->parts[idx].active) {
			part = &w->parts[idx];
			break;
		}
	}
	if (part == NULL || w->node_count < 2)
		return;
	memset(part, 0, sizeof(*part));
	uint32_t n = w->node_count;
	sim_node *x = fault_pick_node(w, 40, false);
	if (x == NULL)
		return;
	uint32_t a = x->slot;
	uint32_t b = (a + 1 + (uint32_t)rp_prng_below(&w->rng_fault, n - 1)) % n;
	unsigned long long ida = (unsigned long long)x->id, idb = (unsigned long long)b + 1;
	uint64_t shape = rp_prng_below(&w->rng_fault, 100);
	if (shape < 30) {
		for (uint32_t k = 0; k < n; k++)
			cut(part, a, k), cut(part, k, a);
		snprintf(part->what, sizeof(part->what), "n%llu isolated", ida);
	} else if (shape < 50) {
		bool side[SIM_MAX_NODES];
		int len = snprintf(part->what, sizeof(part->what), "split {");
		for (uint32_t k = 0; k < n; k++) {
			side[k] = rp_prng_below(&w->rng_fault, 2) == 1;
			if (side[k] && len > 0 && (size_t)len < sizeof(part->what) - 8)
				len += snprintf(part->what + len, sizeof(part->what) - (size_t)len, " n%u",
				                k + 1);
		}
		if (len > 0 && (size_t)len < sizeof(part->what) - 8)
			snprintf(part->what + len, sizeof(part->what) - (size_t)len, " } | rest");
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t k = 0; k < n; k++)
				if (side[i] != side[k])
					cut(part, i, k);
	} else if (shape < 62) {
		bool out = rp_prng_below(&w->rng_fault, 2) == 1;
		for (uint32_t k = 0; k < n; k++) {
			if (out)
				cut(part, a, k);
			else
				cut(part, k, a);
		}
		snprintf(part->what, sizeof(part->what), "n%llu cannot %s", ida,
		         out ? "send" : "receive");
	} else if (shape < 77) {
		cut(part, a, b);
		cut(part, b, a);
		snprintf(part->what, sizeof(part->what), "link n%llu<->n%llu cut", ida, idb);
	} else if (shape < 87) {
		cut(part, a, b);
		snprintf(part->what, sizeof(part->what), "link n%llu->n%llu cut", ida, idb);
	} else {
		/* Only the hub reaches everyone; the rest reach only the hub. */
		for (uint32_t i = 0; i < n; i++)
			for (uint32_t k = 0; k < n; k++)
				if (i != a && k != a)
					cut(part, i, k);
		snprintf(part->what, sizeof(part->what), "only hub n%llu connects the rest", ida);
	}
	part->active = true;
	part->generation = ++w->part_generation;
	uint64_t len_us = rp_prng_range(&w->rng_fault, w->p.partition_min_us, w->p.partition_max_us);
	part->end_us = w->now_us + len_us;
	w->stats.partitions++;
	sim_link_recompute(w);
	sim_trace(w, "PARTITION %s for %llu ms", part->what, (unsigned long long)(len_us / 1000));
	sim_schedule(w, part->end_us, SIM_EV_PARTITION_END, idx, part->generation, NULL);
}

static void fault_crash(sim_world *w)
{
	sim_node *x = fault_pick_node(w, w->p.crash_leader_pct, true);
	if (x == NULL || !x->up)
		return;
	sim_node_crash(w, x);
	uint64_t down = rp_prng_range(&w->rng_fault, w->p.down_min_us, w->p.down_max_us);
	sim_trace(w, "CRASH n%llu (down for %llu ms)", (unsigned long long)x->id,
	          (unsigned long long)(down / 1000));
	sim_fault_after_crash(w, x);
	sim_schedule(w, w->now_us + down, SIM_EV_RESTART, x->slot, x->incarnation, NULL);
}

/* A power failure: a majority of the live nodes (sometimes all) stop at
 * the same instant, the leader among them; each restarts after its own
 * short downtime. */
static void fault_power(sim_world *w)
{
	sim_node *pool[SIM_MAX_NODES];
	uint32_t count = 0;
	sim_node *l = sim_believed_leader(w);
	for (uint32_t i = 0; i < w->node_count; i++) {
		sim_node *n = w->nodes[i];
		if (n->up && !n->decommissioned && n != l)
			pool[count++] = n;
	}
	uint32_t total = count + (l ? 1 : 0);
	uint32_t victims = rp_prng_below(&w->rng_fault, 3) == 0 ? total : total / 2 + 1;
	char who[128];
	int len = 0;
	who[0] = 0;
	for (uint32_t k = 0; k < victims; k++) {
		sim_node *x;
		if (k == 0 && l) {
			x = l;
		} else {
			if (count == 0)
				break;
			uint32_t pick = (uint32_t)rp_prng_below(&w->rng_fault, count);
			x = pool[pick];
			pool[pick] = pool[--count];
		}
		sim_node_crash(w, x);
		uint64_t down = rp_prng_range(&w->rng_fault, w->p.down_min_us, w->p.down_max_us);
		sim_schedule(w, w->now_us + down, SIM_EV_RESTART, x->slot, x->incarnation, NULL);
		sim_fault_after_crash(w, x);
		if (len >= 0 && (size_t)len < sizeof(who) - 8)
			len += snprintf(who + len, sizeof(who) - (size_t)len, " n%llu",
			                (unsigned long long)x->id);
	}
	sim_trace(w, "POWER FAILURE:%s crash at once", who);
}

static void fault_clock(sim_world *w)
{
	int32_t bound = (int32_t)w->p.clock_ppm;
	uint64_t what = rp_prng_below(&w->rng_fault, 100);
	if (what < 30) {
		/* The leader slow, everyone else fast. */
		sim_node *l = sim_believed_leader(w);
		for (uint32_t i = 0; i < w->node_count; i++) {
			sim_node *n = w->nodes[i];
			sim_node_set_clock_rate(w, n, n == l ? -bound : bound);
		}
		sim_trace(w, "CLOCKS leader n%llu slow (-%d ppm), the rest fast (+%d ppm)",
		          (unsigned long long)(l ? l->id : 0), bound, bound);
		w->stats.clock_changes++;
		return;
	}
	sim_node *x = fault_pick_node(w, 20, false);
	if (x == NULL)
		return;
	int32_t rate;
	if (what < 60)
		rate = -bound;
	else if (what < 90)
		rate = bound;
	else
		rate = (int32_t)rp_prng_below(&w->rng_fault, 2 * (uint64_t)bound + 1) - bound;
	sim_node_set_clock_rate(w, x, rate);
	w->stats.clock_changes++;
	sim_trace(w, "CLOCK n%llu runs at %+d ppm", (unsigned long long)x->id, rate);
}

void sim_fault_on_election(sim_world *w, sim_node *leader)
{
	if (!w->chaos || w->p.leader_kill_pct == 0 ||
	    rp_prng_below(&w->rng_fault, 100) >= w->p.leader_kill_pct)
		return;
	uint64_t delay = rp_prng_below(&w->rng_fault, 20000);
	sim_schedule(w, w->now_us + delay, SIM_EV_KILL_LEADER, leader->slot,
	             leader->rep[0].st.term, NULL);
}

static void fault_kill_leader(sim_world *w, sim_node *x, uint64_t term)
{
	if (!x->up || !x->rep[0].st_valid || x->rep[0].st.role != HP_LEADER ||
	    x->rep[0].st.term != term)
		return;
	if (rp_prng_below(&w->rng_fault, 2) == 0) {
		sim_node_crash(w, x);
		uint64_t down = rp_prng_range(&w->rng_fault, w->p.down_min_us, w->p.down_max_us);
		sim_trace(w, "KILL new leader n%llu (term %llu): crash, down for %llu ms",
		          (unsigned long long)x->id, (unsigned long long)term,
		          (unsigned long long)(down / 1000));
		sim_schedule(w, w->now_us + down, SIM_EV_RESTART, x->slot, x->incarnation, NULL);
		sim_fault_after_crash(w, x);
		return;
	}
	sim_partition *part = NULL;
	uint32_t idx = 0;
	for (; idx < SIM_MAX_PARTITIONS; idx++) {
		if (!w->parts[idx].active) {
			part = &w->parts[idx];
			break;
		}
	}
	if (part == NULL)
		return;
	memset(part, 0, sizeof(*part));
	for (uint32_t k = 0; k < w->node_count; k++)
		cut(part, x->slot, k), cut(part, k, x->slot);
	snprintf(part->what, sizeof(part->what), "new leader n%llu isolated",
	         (unsigned long long)x->id);
	part->active = true;
	part->generation = ++w->part_generation;
	uint64_t len_us = rp_prng_range(&w->rng_fault, w->p.partition_min_us, w->p.partition_max_us);
	part->end_us = w->now_us + len_us;
	w->stats.partitions++;
	sim_link_recompute(w);
	sim_trace(w, "KILL new leader n%llu (term %llu): isolated for %llu ms",
	          (unsigned long long)x->id, (unsigned long long)term,
	          (unsigned long long)(len_us / 1000));
	sim_schedule(w, part->end_us, SIM_EV_PARTITION_END, idx, part->generation, NULL);
}

void sim_fault_event(sim_world *w, const sim_event *ev)
{
	const sim_params *p = &w->p;
	switch (ev->kind) {
	case SIM_EV_PARTITION:
		if (!w->chaos)
			return;
		fault_partition(w);
		sim_schedule(w, w->now_us + fault_interval(w, p->partition_mean_us), SIM_EV_PARTITION,
		             0, 0, NULL);
		return;
	case SIM_EV_PARTITION_END: {
		RP_CHECK(ev->slot < SIM_MAX_PARTITIONS);
		sim_partition *part = &w->parts[ev->slot];
		if (!part->active || part->generation != ev->arg)
			return;
		part->active = false;
		sim_link_recompute(w);
		sim_trace(w, "HEAL %s", part->what);
		return;
	}
	case SIM_EV_CRASH:
		if (!w->chaos)
			return;
		fault_crash(w);
		sim_schedule(w, w->now_us + fault_interval(w, p->crash_mean_us), SIM_EV_CRASH, 0, 0,
		             NULL);
		return;
	case SIM_EV_POWER:
		if (!w->chaos)
			return;
		fault_power(w);
		sim_schedule(w, w->now_us + fault_interval(w, p->power_mean_us), SIM_EV_POWER, 0, 0,
		             NULL);
		return;
	case SIM_EV_KILL_LEADER:
		if (!w->chaos)
			return;
		RP_CHECK(ev->slot < w->node_count);
		fault_kill_leader(w, w->nodes[ev->slot], ev->arg);
		return;
	case SIM_EV_RESTART: {
		RP_CHECK(ev->slot < w->node_count);
		sim_node *n = w->nodes[ev->slot];
		if (n->up || n->decommissioned || n->incarnation != ev->arg)
			return;
		sim_trace(w, "RESTART n%llu", (unsigned long long)n->id);
		w->stats.restarts++;
		sim_node_boot(w, n);
		return;
	}
	case SIM_EV_CLOCK:
		if (!w->chaos)
			return;
		fault_clock(w);
		sim_schedule(w, w->now_us + fault_interval(w, p->clock_mean_us), SIM_EV_CLOCK, 0, 0,
		             NULL);
		return;
	default: {
		const bool not_a_fault_event = false;
		RP_CHECK(not_a_fault_event);
	}
	}
}

void sim_fault_after_crash(sim_world *w, sim_node *n)
{
	const sim_params *p = &w->p;
	if (!w->chaos || p->corrupt_nodes_max == 0 || n->bit_flipped || n->decommissioned)
		return;
	uint32_t flipped = 0;
	for (uint32_t i = 0; i < w->node_count; i++)
		flipped += w->nodes[i]->bit_flipped ? 1u : 0u;
	if (flipped >= p->corrupt_nodes_max || rp_prng_below(&w->rng_media, 100) >= p->corrupt_pct)
		return;
	char what[160];
	uint32_t bits = (uint32_t)rp_prng_range(&w->rng_media, 1, 3);
	if (sim_disk_corrupt(&n->disk, bits, what, sizeof(what)) != 0)
		return;
	n->bit_flipped = true;
	n->flip_unseen = true;
	w->stats.bit_flips++;
	sim_trace(w, "BIT FLIP n%llu: %u bit(s) flipped in its durable WAL (%s)",
	          (unsigned long long)n->id, bits, what);
}

void sim_fault_stop(sim_world *w)
{
	w->chaos = false;
	for (uint32_t i = 0; i < w->node_count; i++)
		sim_disk_errors(&w->nodes[i]->disk, false);
	for (uint32_t i = 0; i < SIM_MAX_PARTITIONS; i++)
		w->parts[i].active = false;
	sim_link_recompute(w);
}
