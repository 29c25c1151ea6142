/*
 * sim.c — rasputin's deterministic cluster simulator: the world, its event
 * loop, the liveness phase and the per-seed driver.  Whole clusters of the
 * real Harpoon core run on one thread against a simulated network, disk
 * and clocks; every random choice comes from PRNGs seeded by the run's
 * seed, so a failing seed replays exactly (`rasputin-sim run --seed S
 * --trace`).
 *
 * FAULT MODEL
 *   Time      Simulated real time in microseconds; events fire in (time,
 *             sequence) order.  Each node has its own clock,
 *             local = offset + real * rate, with |rate - 1| <= rho, and rho
 *             is the drift bound the core is configured with
 *             (cfg.drift_ppm; the swarm uses 20,000-100,000 ppm with leases
 *             of 0.5-1 s, so the drift margin matters).  Rates change from
 *             time to time, often to the edges of the bound (the leader
 *             slow, the others fast); a clock never runs backwards.  The
 *             core only ever sees its own node's clock.
 *   Network   Every message is copied.  Per message: dropped with
 *             probability p, duplicated with probability q, delayed by a
 *             usual latency (0.1-2 ms) or, with a small probability, a long
 *             tail (50-500 ms), which also reorders.  Links are directed;
 *             partitions cut sets of them: a node isolated (often the
 *             leader), a random split, one direction of a node's links, one
 *             link in one or both directions, a hub that alone reaches the
 *             others.  Partitions heal after a while.  A cut link eats what
 *             is in flight.  Messages to a crashed node are lost, including
 *             those in flight when it crashed.
 *   Disk      Each node has one simulated disk (storage/fs_sim.h) holding
 *             the REAL write-ahead log (storage/wal.h, synchronous mode,
 *             segments of 8-64 KiB drawn per seed, so segments roll over
 *             and are deleted) and its snapshot files (sim_disk.h).  Each
 *             ready batch is written (wal_append + wal_sync: one round)
 *             after a latency (50-500 us, now and then tens of ms; in some
 *             runs every write takes 0.5-10 ms), strictly in order, and
 *             only then hp_advance'd.  A crash loses every batch not yet
 *             written; in some runs it catches the next 1-4 batches in a
 *             write round whose sync had not returned, and fs_sim_crash
 *             keeps, loses or (torn writes on) tears each unsynced write
 *             at a 512-byte sector.  Per seed the disk may fail writes
 *             (EIO, ENOSPC) and syncs (fdatasync): the node stops at once
 *             (a failed fdatasync is fatal, never retried) and recovers
 *             from its disk later; recovery itself may fail and is
 *             retried.  Latent corruption: bits flipped in the written
 *             part of a WAL segment of a crashed node.
 *   Crashes   A node stops at any event boundary, losing all volatile
 *             state; it restarts later from its disk alone (wal_open,
 *             wal_restore_load, the snapshot file the WAL's mark names).
 *             Crashes often target the leader.  Power failures stop a
 *             majority, or every node, at the same instant (each through
 *             fs_sim_crash).  A "leader killer" crashes or cuts off some
 *             new leaders within 20 ms of their election (short-lived
 *             leaders leave unreplicated entries behind: the ingredients
 *             of Raft's figure 8).
 *   Members   Nodes are added (fresh ids, empty disks) as learners,
 *             promoted once caught up, and voters (sometimes the leader)
 *             removed, keeping 3-7 voters; removed nodes stop for good.
 *             A node whose recovery returns RP_ERR_CORRUPT stays down for
 *             good and is replaced: REMOVE its id, ADD_LEARNER + PROMOTE a
 *             fresh id with an empty disk, which catches up by snapshot.
 * FAULT ASSUMPTION (docs/storage.md, "Fault assumptions"): bit flips hit
 *   at most f = (voters - 1) / 2 nodes over the whole run (f = 1 when the
 *   operator may shrink the group to 3 voters), so a quorum of nodes whose
 *   disks kept every acknowledged batch always remains.  A node with a
 *   flipped bit counts as failed whether or not recovery notices.
 *   Clients   3-10 clients, one op outstanding each, talk to whichever
 *             node claims leadership; ops time out after 5 s.
 * After the fault period every link heals, every crashed node restarts,
 * drops, duplicates and long delays stop, and the cluster must recover
 * (LIVENESS below).
 *
 * INVARIANTS (checked after every event unless noted; a violation fails
 * the seed with a reason)
 *   1. Election safety: at most one node ever leads a given term.
 *   2. Lease safety, in real time: (a) no two nodes hold a valid lease at
 *      once; (b) while N holds a valid lease, the voters of its
 *      configuration (latest and applied) that do not promise N could not
 *      form a quorum.  A voter promises N if it is N, if it is up and its
 *      promise to N has not expired on its own clock, or if it is down and
 *      its durable hard state names N (it restores a fresh promise when it
 *      restarts).
 *   3. Log matching: an (index, term) names one entry content across every
 *      node that ever appended it; every 2 s and at the end, any two nodes
 *      that hold an entry with the same index and term hold the same terms
 *      below it.
 *   4. Committed entries are never lost or changed: every entry any node
 *      applies matches the global committed log or extends it by one; a
 *      new leader's log holds every entry committed while all terms were
 *      below its own (leader completeness); snapshots match the committed
 *      log.  A leader moves its commit index only onto an entry of its own
 *      term (Raft's commit rule, dissertation 3.6.2).
 *   5. State-machine safety: each node applies consecutive indexes (after a
 *      restart, from its snapshot), and the state after index i is the same
 *      on every node.
 *   6. Linearizability of the client history (at the end, lincheck).
 *   7. Disks: a recovery reports corruption only on a node whose bits were
 *      flipped, and a refused log is never used (the node stays down); a
 *      log that recovery accepts hands out only entries some node appended
 *      at that index and term; the WAL's snapshot mark always has its
 *      snapshot file; and at the end the leader's log holds every entry
 *      ever committed (no acknowledged entry lost with <= f corrupt nodes).
 *   Also the core's own claims: commit <= last index, applied <= commit,
 *   applied equals what the ready batches handed out, stable <= last, terms
 *   and commit indexes never go backwards, a valid lease only on a leader,
 *   ready batches numbered 1, 2, 3, ..., entries contiguous with the
 *   durable log, snapshot chunks in order (sim_check_refresh, sim_check.c).
 * LIVENESS: within 10 s plus three leases of the end of the faults, one
 * node holds a valid lease and every live voter of its configuration
 * follows it, and every client has completed an OK write and an OK read.
 * Nor may a run flood itself: more than SIM_READIES_MAX batches waiting for
 * one disk fails the seed (a message storm).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

enum { SIM_LOGCHECK_EVERY_US = 2000000 };

/* --- the assertion hook ---------------------------------------------------------- */

static char sim_replay_line[512];
static const char *sim_replay_prog = "./build/release/rasputin-sim";
static const char *sim_replay_extra = "";

void sim_set_replay_command(const char *prog, const char *extra)
{
	sim_replay_prog = prog ? prog : "./build/release/rasputin-sim";
	sim_replay_extra = extra ? extra : "";
}

static void sim_check_hook(void)
{
	if (sim_replay_line[0])
		fprintf(stderr, "%s\n", sim_replay_line);
}

void sim_set_replay(const char *line)
{
	if (line == NULL) {
		sim_replay_line[0] = 0;
		rp_check_set_hook(NULL);
		return;
	}
	snprintf(sim_replay_line, sizeof(sim_replay_line), "%s", line);
	rp_check_set_hook(sim_check_hook);
}

/* --- output ---------------------------------------------------------------------- */

static void world_stamp(sim_world *w)
{
	fprintf(w->out, "%4llu.%06llu  ", (unsigned long long)(w->now_us / 1000000),
	        (unsigned long long)(w->now_us % 1000000));
}

void sim_trace(sim_world *w, const char *fmt, ...)
{
	if (!w->trace || w->out == NULL)
		return;
	world_stamp(w);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(w->out, fmt, ap);
	va_end(ap);
	fputc('\n', w->out);
}

void sim_narrate(sim_world *w, const char *fmt, ...)
{
	if (!w->narrate || w->out == NULL)
		return;
	fprintf(w->out, "%7.3f s  ", (double)w->now_us / 1e6);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(w->out, fmt, ap);
	va_end(ap);
	fputc('\n', w->out);
}

void sim_fail(sim_world *w, const char *fmt, ...)
{
	if (w->failed)
		return;
	w->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
	sim_trace(w, "FAIL: %s", w->reason);
}

/* --- the world ---------------------------------------------------------------------- */

sim_world *sim_world_create(const sim_params *p, uint64_t seed, FILE *out, int trace)
{
	RP_CHECK(p->voters >= 1 && p->voters <= HP_MAX_VOTERS);
	RP_CHECK(p->clock_ppm <= p->drift_ppm);
	RP_CHECK(p->tick_us > 0 && p->net_min_us > 0 && p->net_min_us <= p->net_max_us);
	sim_world *w = calloc(1, sizeof(*w));
	RP_CHECK(w != NULL);
	w->seed = seed;
	w->p = *p;
	w->out = out;
	w->trace = trace;
	sim_heap_init(&w->heap, SIM_EVENTS_MAX);
	sim_pool_init(&w->pool);
	rp_prng_init(&w->rng_net, seed ^ 0x6e6574ULL);
	rp_prng_init(&w->rng_disk, seed ^ 0x6469736bULL);
	rp_prng_init(&w->rng_fault, seed ^ 0x6661756cULL);
	rp_prng_init(&w->rng_clock, seed ^ 0x636c6f63ULL);
	rp_prng_init(&w->rng_member, seed ^ 0x6d656d62ULL);
	rp_prng_init(&w->rng_media, seed ^ 0x6d656469ULL);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++)
		sim_check_init(&w->check[g]);
	w->drop_ppm = p->drop_ppm;
	w->dup_ppm = p->dup_ppm;
	w->tail_ppm = p->net_tail_ppm;
	hp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.voter_count = p->voters;
	for (uint32_t i = 0; i < p->voters; i++)
		conf.voters[i] = i + 1;
	for (uint32_t i = 0; i < p->voters; i++)
		(void)sim_node_create(w, &conf, false);
	return w;
}

void sim_world_destroy(sim_world *w)
{
	if (w == NULL)
		return;
	sim_event ev;
	while (sim_heap_pop(&w->heap, &ev))
		if (ev.kind == SIM_EV_DELIVER)
			sim_net_free(w, ev.ptr);
	sim_heap_deinit(&w->heap);
	for (uint32_t i = 0; i < w->node_count; i++)
		sim_node_destroy(w, w->nodes[i]);
	sim_pool_deinit(&w->pool);
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++)
		sim_check_deinit(&w->check[g]);
	sim_client_deinit(w);
	free(w->hist);
	free(w->hist_meta);
	free(w);
}

void sim_schedule(sim_world *w, uint64_t at_us, sim_event_kind kind, uint32_t slot,
                  uint64_t arg, void *ptr)
{
	RP_CHECK(at_us >= w->now_us);
	if (!sim_heap_push(&w->heap, at_us, (uint32_t)kind, slot, arg, ptr)) {
		sim_fail(w, "event queue full (%zu events)", w->heap.count);
		if (kind == SIM_EV_DELIVER)
			sim_net_free(w, ptr);
	}
}

sim_node *sim_node_by_id(sim_world *w, hp_id id)
{
	if (id == 0 || id > w->node_count)
		return NULL;
	return w->nodes[id - 1];
}

sim_node *sim_lease_holder(sim_world *w)
{
	for (uint32_t i = 0; i < w->node_count; i++) {
		sim_node *n = w->nodes[i];
		if (!n->up || !n->rep[0].st_valid || n->rep[0].st.role != HP_LEADER)
			continue;
		hp_status st;
		hp_get_status(n->rep[0].core, sim_node_now(w, n), &st);
		if (st.lease_valid)
			return n;
	}
	return NULL;
}

sim_node *sim_believed_leader(sim_world *w)
{
	sim_node *best = NULL;
	for (uint32_t i = 0; i < w->node_count; i++) {
		sim_node *n = w->nodes[i];
		if (!n->up || !n->rep[0].st_valid || n->rep[0].st.role != HP_LEADER)
			continue;
		if (best == NULL || n->rep[0].st.term > best->rep[0].st.term)
			best = n;
	}
	return best;
}

void sim_link_recompute(sim_world *w)
{
	for (uint32_t a = 0; a < SIM_MAX_NODES; a++) {
		for (uint32_t b = 0; b < SIM_MAX_NODES; b++) {
			bool up = a != b && !w->manual_cut[a][b];
			for (uint32_t k = 0; up && k < SIM_MAX_PARTITIONS; k++)
				if (w->parts[k].active && w->parts[k].cut[a][b])
					up = false;
			w->link_up[a][b] = up;
		}
	}
}

void sim_link_set(sim_world *w, uint32_t from_slot, uint32_t to_slot, bool up)
{
	RP_CHECK(from_slot < SIM_MAX_NODES && to_slot < SIM_MAX_NODES);
	w->manual_cut[from_slot][to_slot] = !up;
	sim_link_recompute(w);
}

void sim_link_set_both(sim_world *w, uint32_t a_slot, uint32_t b_slot, bool up)
{
	sim_link_set(w, a_slot, b_slot, up);
	sim_link_set(w, b_slot, a_slot, up);
}

void sim_link_isolate(sim_world *w, uint32_t slot, bool isolated)
{
	for (uint32_t k = 0; k < SIM_MAX_NODES; k++) {
		if (k == slot)
			continue;
		w->manual_cut[slot][k] = isolated;
		w->manual_cut[k][slot] = isolated;
	}
	sim_link_recompute(w);
}

void sim_link_heal_all(sim_world *w)
{
	memset(w->manual_cut, 0, sizeof(w->manual_cut));
	for (uint32_t k = 0; k < SIM_MAX_PARTITIONS; k++)
		w->parts[k].active = false;
	sim_link_recompute(w);
}

/* Whether sim_node_observe has anything to do for n (the same test it
 * makes; here so that a node without a live touched replica costs no
 * call). */
static bool world_needs_observe(const sim_node *n)
{
	if (!n->up)
		return false;
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++)
		if (n->rep[g].touched || !n->rep[g].st_valid)
			return true;
	return false;
}

/*
 * Observes the nodes in slot order, as a walk over every node would, but
 * visits only the slots in observe_mask: a replica is touched (and its
 * bit set) by every call into its core, and a live one without a valid
 * status was just booted, which drains it (touched too).  The mask is
 * read as the walk goes, so a node touched during it is observed in the
 * same walk if its slot is still ahead, and after the next event if not,
 * exactly as before.
 */
static void world_observe(sim_world *w)
{
	for (uint32_t i = 0; !w->failed && i < 32; i++) {
		uint32_t ahead = w->observe_mask >> i;
		if (ahead == 0)
			break;
		i += (uint32_t)__builtin_ctz(ahead); /* the next slot in the mask */
		uint32_t bit = (uint32_t)1 << i;
		w->observe_mask &= ~bit;
		RP_CHECK(i < w->node_count);
		if (world_needs_observe(w->nodes[i]))
			sim_node_observe(w, w->nodes[i]);
	}
	if (!w->failed)
		sim_check_leases(w);
	if (!w->failed && w->check[0].elections != w->elections_seen) {
		w->elections_seen = w->check[0].elections;
		sim_node *l = sim_believed_leader(w);
		if (l)
			sim_fault_on_election(w, l);
	}
}

void sim_world_start(sim_world *w, bool clients, bool chaos)
{
	for (uint32_t i = 0; i < w->node_count; i++)
		if (!w->nodes[i]->up && !w->nodes[i]->decommissioned)
			sim_node_boot(w, w->nodes[i]);
	world_observe(w);
	sim_schedule(w, w->now_us + SIM_LOGCHECK_EVERY_US, SIM_EV_LOGCHECK, 0, 0, NULL);
	if (clients) {
		w->clients_on = true;
		sim_client_init(w);
	}
	if (chaos && w->p.fault_us) {
		sim_fault_start(w);
		sim_member_start(w);
	}
}

void sim_decommission(sim_world *w, sim_node *n)
{
	if (n->decommissioned)
		return;
	if (n->up)
		sim_node_crash(w, n);
	n->decommissioned = true;
	sim_trace(w, "DECOMMISSION n%llu (removed from the group)", (unsigned long long)n->id);
}

static void world_dispatch(sim_world *w, const sim_event *ev)
{
	switch ((sim_event_kind)ev->kind) {
	case SIM_EV_DELIVER:
		sim_net_deliver(w, ev->ptr);
		return;
	case SIM_EV_TICK: {
		sim_node *n = w->nodes[ev->slot];
		if (n->up && n->incarnation == ev->arg)
			sim_node_tick(w, n);
		return;
	}
	case SIM_EV_DISK: {
		sim_node *n = w->nodes[ev->slot];
		if (n->up && n->incarnation == (ev->arg >> 8))
			sim_node_disk_done(w, n, (uint32_t)(ev->arg & 0xff));
		return;
	}
	case SIM_EV_CLIENT_ISSUE: {
		sim_client *c = &w->clients[ev->slot];
		if (c->state == SIM_CLIENT_THINKING && c->timer_gen == ev->arg)
			sim_client_issue(w, c);
		return;
	}
	case SIM_EV_CLIENT_ARRIVE:
		sim_client_arrive(w, &w->clients[ev->slot], ev->arg);
		return;
	case SIM_EV_CLIENT_TIMEOUT:
		sim_client_timeout(w, &w->clients[ev->slot]);
		return;
	case SIM_EV_PARTITION:
	case SIM_EV_PARTITION_END:
	case SIM_EV_CRASH:
	case SIM_EV_POWER:
	case SIM_EV_KILL_LEADER:
	case SIM_EV_RESTART:
	case SIM_EV_CLOCK:
		sim_fault_event(w, ev);
		return;
	case SIM_EV_MEMBER:
		sim_member_step(w);
		return;
	case SIM_EV_DECOMMISSION:
		sim_decommission(w, w->nodes[ev->slot]);
		return;
	case SIM_EV_LOGCHECK:
		sim_check_log_matching(w);
		sim_schedule(w, w->now_us + SIM_LOGCHECK_EVERY_US, SIM_EV_LOGCHECK, 0, 0, NULL);
		return;
	case SIM_EV_DISK_FAIL: {
		sim_node *n = w->nodes[ev->slot];
		if (n->up && n->incarnation == ev->arg)
			sim_node_disk_fail(w, n);
		return;
	}
	}
	const bool unknown_event_kind = false;
	RP_CHECK(unknown_event_kind);
}

/* One event at or before until_us; false when there is none. */
static bool world_step(sim_world *w, uint64_t until_us)
{
	sim_event ev;
	if (!sim_heap_pop_due(&w->heap, until_us, &ev))
		return false;
	RP_CHECK(ev.time_us >= w->now_us);
	w->now_us = ev.time_us;
	w->stats.events++;
	world_dispatch(w, &ev);
	if (!w->failed)
		world_observe(w);
	return true;
}

bool sim_run_until(sim_world *w, uint64_t until_us)
{
	while (!w->failed && world_step(w, until_us))
		;
	if (!w->failed && w->now_us < until_us)
		w->now_us = until_us;
	return !w->failed;
}

bool sim_run_cond(sim_world *w, uint64_t deadline_us, bool (*cond)(sim_world *, void *),
                  void *ctx)
{
	if (w->failed)
		return false;
	if (cond(w, ctx))
		return true;
	while (!w->failed && world_step(w, deadline_us))
		if (!w->failed && cond(w, ctx))
			return true;
	if (!w->failed && w->now_us < deadline_us)
		w->now_us = deadline_us;
	return false;
}

/* --- the end of a run ------------------------------------------------------------------ */

static bool liveness_reached(sim_world *w, void *ctx)
{
	(void)ctx;
	sim_node *l = sim_lease_holder(w);
	if (l == NULL)
		return false;
	const hp_conf *conf = &l->rep[0].st.conf;
	for (uint32_t i = 0; i < conf->voter_count; i++) {
		sim_node *v = sim_node_by_id(w, conf->voters[i]);
		if (v != NULL && v->corrupt)
			continue; /* a failed node, until the operator replaces it */
		if (v == NULL || !v->up || !v->rep[0].st_valid || v->rep[0].st.leader != l->id)
			return false;
	}
	if (w->clients_on)
		for (uint32_t i = 0; i < w->client_count; i++)
			if (w->clients[i].ok_writes == 0 || w->clients[i].ok_reads == 0)
				return false;
	return true;
}

static void liveness_explain(sim_world *w)
{
	char buf[384];
	size_t len = 0;
	buf[0] = 0;
	sim_node *l = sim_lease_holder(w);
	for (uint32_t i = 0; i < w->node_count && len < sizeof(buf) - 80; i++) {
		sim_node *n = w->nodes[i];
		if (n->decommissioned)
			continue;
		const hp_status *st = &n->rep[0].st;
		int m = n->corrupt ? snprintf(buf + len, sizeof(buf) - len, " n%llu:corrupt",
		                              (unsigned long long)n->id)
		        : n->up && n->rep[0].st_valid
		                ? snprintf(buf + len, sizeof(buf) - len, " n%llu:%s/t%llu/leader=n%llu",
		                           (unsigned long long)n->id, hp_role_name(st->role),
		                           (unsigned long long)st->term, (unsigned long long)st->leader)
		                : snprintf(buf + len, sizeof(buf) - len, " n%llu:down",
		                           (unsigned long long)n->id);
		if (m > 0)
			len += (size_t)m;
	}
	uint32_t waiting = 0;
	for (uint32_t i = 0; i < w->client_count; i++)
		if (w->clients[i].ok_writes == 0 || w->clients[i].ok_reads == 0)
			waiting++;
	sim_fail(w, "liveness: no recovery within %llu ms after the faults (lease holder %s%llu; "
	            "%u clients without an OK write and read;%s)",
	         (unsigned long long)(w->p.liveness_us / 1000), l ? "n" : "none ",
	         (unsigned long long)(l ? l->id : 0), waiting, buf);
}

bool sim_finish(sim_world *w)
{
	if (w->failed)
		return false;
	sim_fault_stop(w);
	w->liveness = true;
	sim_link_heal_all(w);
	w->drop_ppm = 0;
	w->dup_ppm = 0;
	w->tail_ppm = 0;
	sim_trace(w, "FAULTS END: links healed, drops and duplicates stop, crashed nodes restart");
	for (uint32_t i = 0; i < w->node_count; i++) {
		sim_node *n = w->nodes[i];
		if (!n->up && !n->decommissioned) {
			sim_trace(w, "RESTART n%llu", (unsigned long long)n->id);
			sim_node_boot(w, n);
		}
	}
	world_observe(w);
	sim_client_mark(w);
	uint64_t deadline = w->now_us + w->p.liveness_us;
	if (!sim_run_cond(w, deadline, liveness_reached, NULL)) {
		if (!w->failed)
			liveness_explain(w);
		return false;
	}
	sim_trace(w, "LIVENESS reached");
	sim_check_log_matching(w);
	if (w->failed)
		return false;
	sim_check_nothing_lost(w, sim_lease_holder(w));
	if (w->failed)
		return false;
	sim_client_close(w);
	sim_client_settle(w);
	if (w->failed)
		return false;
	return sim_check_linearizable(w);
}

bool sim_run_seed(uint64_t seed, uint32_t without, FILE *out, int trace, bool verbose,
                  sim_stats *stats, uint64_t *simulated_us, char *reason, size_t reason_size)
{
	sim_params p;
	sim_params_draw(&p, seed);
	sim_params_without(&p, without);
	char line[400];
	snprintf(line, sizeof(line), "seed %llu: replay with %s run --seed %llu --trace%s%s",
	         (unsigned long long)seed, sim_replay_prog, (unsigned long long)seed,
	         sim_replay_extra[0] ? " " : "", sim_replay_extra);
	sim_set_replay(line);
	if (verbose && out) {
		fprintf(out, "seed %llu\n", (unsigned long long)seed);
		sim_params_print(out, &p, "  ");
	}
	sim_world *w = sim_world_create(&p, seed, verbose ? out : NULL, trace);
	sim_world_start(w, true, true);
	sim_run_until(w, p.fault_us);
	bool ok = sim_finish(w);
	for (uint32_t i = 0; i < w->node_count; i++) {
		uint64_t created = 0, deleted = 0;
		sim_disk_segment_stats(&w->nodes[i]->disk, &created, &deleted);
		w->stats.segments_created += created;
		w->stats.segments_deleted += deleted;
	}
	if (stats)
		*stats = w->stats;
	if (simulated_us)
		*simulated_us = w->now_us;
	if (reason && reason_size)
		snprintf(reason, reason_size, "%s", ok ? "" : w->reason);
	sim_world_destroy(w);
	sim_set_replay(NULL);
	return ok;
}
