/*
 * sim_demo.c — the `make run` timeline.  A calm 5-node cluster under a
 * small client load goes through its first election, commits writes, has
 * its leader cut off, watches the old leader's lease run out and a new
 * leader take over, heals, and recovers; every invariant is checked as in
 * the swarm, and the client history is checked for linearizability at the
 * end.  The narration is short on purpose: one line per protocol event
 * that matters and one progress line per simulated second.
 */
#include "sim/sim_demo.h"

#include "sim/sim.h"

static void demo_progress(sim_world *w, uint64_t *last_committed)
{
	sim_node *l = sim_lease_holder(w);
	uint64_t c = w->stats.entries_committed;
	if (l)
		sim_narrate(w, "  leader n%llu (term %llu, lease valid): %llu entries committed (+%llu), "
		               "%llu client ops ok",
		            (unsigned long long)l->id, (unsigned long long)l->rep[0].st.term,
		            (unsigned long long)c, (unsigned long long)(c - *last_committed),
		            (unsigned long long)w->stats.ops_ok);
	else
		sim_narrate(w, "  no node holds a lease: %llu entries committed (+%llu)",
		            (unsigned long long)c, (unsigned long long)(c - *last_committed));
	*last_committed = c;
}

static bool demo_run_to(sim_world *w, uint64_t until_us, uint64_t *last_committed)
{
	while (w->now_us < until_us) {
		uint64_t next = (w->now_us / 1000000 + 1) * 1000000;
		if (next > until_us)
			next = until_us;
		if (!sim_run_until(w, next))
			return false;
		if (w->now_us % 1000000 == 0)
			demo_progress(w, last_committed);
	}
	return true;
}

/* Mean time from invocation to the OK of the writes completed so far. */
static double demo_write_ms(const sim_world *w)
{
	uint64_t sum = 0, count = 0;
	for (size_t i = 0; i < w->hist_count; i++) {
		const lc_op *op = &w->hist[i];
		if (op->kind == LC_GET || op->status != LC_STATUS_OK)
			continue;
		sum += op->complete_us - op->invoke_us;
		count++;
	}
	return count ? (double)sum / (double)count / 1000.0 : 0.0;
}

typedef struct {
	const sim_node *node;
	hp_id leader;
} demo_follow;

static bool demo_follows(sim_world *w, void *ctx)
{
	(void)w;
	const demo_follow *f = ctx;
	return f->node->up && f->node->rep[0].st_valid && f->node->rep[0].st.leader == f->leader &&
	       f->node->rep[0].st.commit >= w->stats.entries_committed;
}

bool sim_demo_run(FILE *out)
{
	sim_params p;
	sim_params_default(&p);
	sim_set_replay("demo: replay with ./build/release/rasputin-sim demo");
	sim_world *w = sim_world_create(&p, 2026, out, 0);
	w->narrate = true;
	fprintf(out, "rasputin demo: 5 Harpoon nodes (n1..n5) in the deterministic simulator.\n");
	fprintf(out, "lease %llu ms, heartbeat %llu ms, clocks drift up to +-%.0f%%; network "
	             "%llu-%llu us; %u clients.\n",
	        (unsigned long long)(p.lease_us / 1000), (unsigned long long)(p.heartbeat_us / 1000),
	        p.clock_ppm / 1e4, (unsigned long long)p.net_min_us,
	        (unsigned long long)p.net_max_us, p.clients);
	fprintf(out, "Every event is checked: one leader per term, no overlapping leases, logs "
	             "agree, nothing committed is lost.\n\n");
	uint64_t committed = 0;
	sim_narrate(w, "cluster starts; no leader yet");
	sim_narrate(w, "  the first node whose timer fires asks the others in a pre-vote round (no "
	               "term change), then for votes and a lease");
	sim_world_start(w, true, false);
	bool ok = demo_run_to(w, 1000000, &committed);
	sim_node *lead = sim_lease_holder(w);
	if (ok && lead)
		sim_narrate(w, "  every follower has promised n%llu its lease: for %llu ms of its own "
		               "clock it refuses any other candidate",
		            (unsigned long long)lead->id, (unsigned long long)(p.lease_us / 1000));
	if (ok)
		ok = demo_run_to(w, 2000000, &committed);
	if (ok)
		sim_narrate(w, "  client writes commit in %.2f ms on average: one round trip to a "
		               "quorum plus one disk write",
		            demo_write_ms(w));
	if (ok)
		ok = demo_run_to(w, 3000000, &committed);
	sim_node *old = sim_lease_holder(w);
	uint64_t appends0 = 0;
	if (ok && old) {
		sim_link_isolate(w, old->slot, true);
		appends0 = old->sent[HP_MSG_APPEND];
		hp_status st;
		hp_get_status(old->rep[0].core, sim_node_now(w, old), &st);
		uint64_t left = st.lease_until_us > sim_node_now(w, old)
		                        ? st.lease_until_us - sim_node_now(w, old)
		                        : 0;
		sim_narrate(w, "PARTITION: leader n%llu is cut off from the other four nodes",
		            (unsigned long long)old->id);
		sim_narrate(w, "  n%llu keeps its lease for another %llu ms of its clock: it counts from "
		               "its last heartbeat a quorum answered, shortened by the drift margin",
		            (unsigned long long)old->id, (unsigned long long)(left / 1000));
		sim_narrate(w, "  its followers' promises run out on their own clocks; nobody can be "
		               "elected before that");
	}
	if (ok)
		ok = demo_run_to(w, 4500000, &committed);
	sim_node *nl = sim_lease_holder(w);
	if (ok && nl && nl != old)
		sim_narrate(w, "  n%llu's first entry was a no-op of term %llu: once it committed, n%llu "
		               "knew the commit index and could serve reads from its lease",
		            (unsigned long long)nl->id, (unsigned long long)nl->rep[0].st.term,
		            (unsigned long long)nl->id);
	if (ok)
		ok = demo_run_to(w, 8000000, &committed);
	sim_node *now_leader = sim_lease_holder(w);
	if (ok && old) {
		const hp_status *st = &old->rep[0].st;
		sim_narrate(w, "  while cut off, n%llu sent %llu appends that reached nobody (none since "
		               "it stepped down)",
		            (unsigned long long)old->id,
		            (unsigned long long)(old->sent[HP_MSG_APPEND] - appends0));
		sim_narrate(w, "  its log ends at %llu but only %llu is committed there: the writes it "
		               "accepted after the cut can never commit",
		            (unsigned long long)st->last_index, (unsigned long long)st->commit);
		sim_link_isolate(w, old->slot, false);
		sim_narrate(w, "HEAL: n%llu is reachable again", (unsigned long long)old->id);
		if (now_leader) {
			demo_follow f = {.node = old, .leader = now_leader->id};
			if (sim_run_cond(w, w->now_us + 2000000, demo_follows, &f))
				sim_narrate(w, "  n%llu follows n%llu (term %llu); its uncommitted entries "
				               "were replaced by the new leader's log",
				            (unsigned long long)old->id, (unsigned long long)now_leader->id,
				            (unsigned long long)old->rep[0].st.term);
			ok = !w->failed;
		}
	}
	if (ok)
		ok = demo_run_to(w, 11000000, &committed);
	if (ok) {
		w->narrate = false;
		ok = sim_finish(w);
		w->narrate = true;
	}
	uint64_t info = w->stats.ops_info;
	fprintf(out, "\nsummary: %llu leader elections, %llu entries committed, %llu client ops ok "
	             "(%llu failed cleanly, %llu indeterminate), %llu messages.\n",
	        (unsigned long long)w->check[0].elections,
	        (unsigned long long)w->stats.entries_committed, (unsigned long long)w->stats.ops_ok,
	        (unsigned long long)w->stats.ops_fail, (unsigned long long)w->stats.ops_info,
	        (unsigned long long)w->stats.msgs_sent);
	if (ok) {
		fprintf(out, "the %llu writes whose clients never heard back were settled from the log: "
		             "each either applied once or never.\n",
		        (unsigned long long)info);
		fprintf(out, "history of %zu client ops: linearizable. All invariants held over %llu "
		             "events (election and lease safety,\nlog matching, committed entries, "
		             "state-machine safety).\n",
		        w->hist_count, (unsigned long long)w->stats.events);
	}
	else
		fprintf(out, "FAILED: %s\n", w->reason);
	sim_world_destroy(w);
	sim_set_replay(NULL);
	return ok;
}
