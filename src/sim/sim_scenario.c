/*
 * sim_scenario.c — named fault scenarios.  Each builds a world from
 * sim_params_default (no random faults), drives faults by hand at chosen
 * moments, asserts what the protocol promises for that situation (bounded
 * failover, no churn, no term inflation, ...), and ends with sim_finish,
 * so every invariant of sim.c (election and lease safety, log matching,
 * committed entries, state-machine safety, liveness, linearizability)
 * holds as well.  Seeds are fixed: a scenario is a deterministic test.
 */
#include "sim/sim_scenario.h"

#include <stdarg.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

typedef struct {
	const char *name;
	FILE *out;
	int trace;
	bool failed;
	char reason[700];
	char detail[700];
} sc_ctx;

static void sc_fail(sc_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sc_fail(sc_ctx *x, const char *fmt, ...)
{
	if (x->failed)
		return;
	x->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
	va_end(ap);
}

static void sc_note(sc_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sc_note(sc_ctx *x, const char *fmt, ...)
{
	size_t len = strlen(x->detail);
	if (len + 4 >= sizeof(x->detail))
		return;
	if (len)
		x->detail[len++] = ';', x->detail[len++] = ' ', x->detail[len] = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->detail + len, sizeof(x->detail) - len, fmt, ap);
	va_end(ap);
}

/* The world failed an invariant: that is the scenario's failure. */
static bool sc_world_ok(sc_ctx *x, sim_world *w)
{
	if (w->failed)
		sc_fail(x, "%s", w->reason);
	return !x->failed;
}

static sim_world *sc_world(sc_ctx *x, const sim_params *p, uint64_t seed)
{
	char line[160];
	snprintf(line, sizeof(line), "scenario %s: replay with ./build/release/rasputin-sim scenario %s --trace",
	         x->name, x->name);
	sim_set_replay(line);
	sim_world *w = sim_world_create(p, seed, x->trace ? x->out : NULL, x->trace);
	sim_world_start(w, true, false);
	return w;
}

static void sc_end(sc_ctx *x, sim_world *w)
{
	if (!x->failed && !sim_finish(w))
		sc_fail(x, "%s", w->reason);
	sim_world_destroy(w);
	sim_set_replay(NULL);
}

static double sc_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

/* --- conditions ---------------------------------------------------------------- */

/* One node holds the lease and every live voter of its configuration
 * follows it. */
static bool cond_stable(sim_world *w, void *ctx)
{
	(void)ctx;
	sim_node *l = sim_lease_holder(w);
	if (l == NULL)
		return false;
	const hp_conf *conf = &l->rep[0].st.conf;
	for (uint32_t i = 0; i < conf->voter_count; i++) {
		sim_node *v = sim_node_by_id(w, conf->voters[i]);
		if (v == NULL || (v->up && v->rep[0].st.leader != l->id))
			return false;
	}
	return true;
}

typedef struct {
	hp_id not_id;  /* the lease holder must not be this node (0: any) */
	hp_id want_id; /* ... and must be this one (0: any) */
} sc_want;

static bool cond_holder(sim_world *w, void *ctx)
{
	const sc_want *want = ctx;
	sim_node *l = sim_lease_holder(w);
	return l && l->id != want->not_id && (want->want_id == 0 || l->id == want->want_id);
}

static bool cond_not_leader(sim_world *w, void *ctx)
{
	(void)w;
	const sim_node *n = ctx;
	return !n->up || !n->rep[0].st_valid || n->rep[0].st.role != HP_LEADER;
}

static sim_node *sc_wait_stable(sc_ctx *x, sim_world *w, uint64_t within_us, const char *when)
{
	if (!sim_run_cond(w, w->now_us + within_us, cond_stable, NULL)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "no stable leader within %.0f ms %s", sc_ms(within_us), when);
		return NULL;
	}
	return sim_lease_holder(w);
}

/* Waits for a lease holder per want; returns it, or NULL (failure set). */
static sim_node *sc_wait_holder(sc_ctx *x, sim_world *w, sc_want want, uint64_t within_us,
                                const char *what)
{
	if (!sim_run_cond(w, w->now_us + within_us, cond_holder, &want)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "%s: not within %.0f ms", what, sc_ms(within_us));
		return NULL;
	}
	return sim_lease_holder(w);
}

static uint64_t sc_committed(const sim_world *w)
{
	return w->stats.entries_committed;
}

static uint64_t sc_elections(const sim_world *w)
{
	return w->check[0].elections;
}

/* Runs for span_us and requires at least min_entries newly committed. */
static bool sc_commits(sc_ctx *x, sim_world *w, uint64_t span_us, uint64_t min_entries,
                       const char *when)
{
	uint64_t c0 = sc_committed(w);
	if (!sim_run_until(w, w->now_us + span_us))
		return sc_world_ok(x, w);
	uint64_t got = sc_committed(w) - c0;
	if (got < min_entries) {
		sc_fail(x, "only %llu entries committed in %.0f ms %s", (unsigned long long)got,
		        sc_ms(span_us), when);
		return false;
	}
	return true;
}

/* A node other than the ones given, by slot order. */
static sim_node *sc_other(sim_world *w, const sim_node *a, const sim_node *b)
{
	for (uint32_t i = 0; i < w->node_count; i++) {
		sim_node *n = w->nodes[i];
		if (n != a && n != b && n->up && !n->decommissioned)
			return n;
	}
	return NULL;
}

/* A membership change through the lease holder, retried until `done`
 * says the leader's committed configuration reflects it. */
typedef bool (*sc_conf_done)(const hp_conf *conf, hp_id id);

static bool done_learner(const hp_conf *conf, hp_id id)
{
	return hp_conf_is_learner(conf, id) || hp_conf_is_voter(conf, id);
}

static bool done_voter(const hp_conf *conf, hp_id id)
{
	return hp_conf_is_voter(conf, id);
}

static bool done_removed(const hp_conf *conf, hp_id id)
{
	return !hp_conf_is_learner(conf, id) && !hp_conf_is_voter(conf, id);
}

static bool sc_conf_change(sc_ctx *x, sim_world *w, hp_conf_op op, hp_id id, sc_conf_done done,
                           uint64_t within_us, const char *what)
{
	uint64_t deadline = w->now_us + within_us;
	uint32_t tries = 0;
	int last_rc = 0;
	while (w->now_us < deadline) {
		sim_node *l = sim_lease_holder(w);
		if (l) {
			const hp_status *st = &l->rep[0].st;
			if (st->conf_index <= st->commit && done(&st->conf, id))
				return true;
			if (st->conf_index <= st->commit) {
				last_rc = sim_member_propose(w, op, id);
				tries++;
			}
		}
		if (!sim_run_until(w, w->now_us + 200000))
			return sc_world_ok(x, w);
	}
	sc_fail(x, "%s: not committed within %.0f ms (%u proposals, last: %s)", what,
	        sc_ms(within_us), tries, last_rc ? hp_strerror(last_rc) : "ok");
	return false;
}

/* --- leader_isolated --------------------------------------------------------------- */

static void sc_leader_isolated(sc_ctx *x)
{
	sim_params p;
	sim_params_default(&p);
	sim_world *w = sc_world(x, &p, 101);
	sim_node *old = sc_wait_stable(x, w, 5000000, "after start");
	if (old == NULL || !sc_commits(x, w, 2000000, 20, "before the partition"))
		goto out;
	uint64_t t0 = w->now_us;
	uint64_t appends0 = old->sent[HP_MSG_APPEND];
	sim_link_isolate(w, old->slot, true);
	sim_trace(w, "SCENARIO: isolate leader n%llu", (unsigned long long)old->id);

	/* Its lease runs out (at most lease_us of real time after the last
	 * renewal, which was before t0) and it stops leading by itself. */
	uint64_t bound = p.lease_us + 2 * p.tick_us + 100000;
	if (!sim_run_cond(w, t0 + bound, cond_not_leader, old)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "isolated leader n%llu still leads %.0f ms later",
			        (unsigned long long)old->id, sc_ms(bound));
		goto out;
	}
	uint64_t t_down = w->now_us - t0;
	uint64_t appends_down = old->sent[HP_MSG_APPEND];

	sc_want want = {.not_id = old->id};
	uint64_t elect_bound = 2 * p.lease_us + 500000;
	sim_node *nl = sc_wait_holder(x, w, want, elect_bound - (w->now_us - t0),
	                              "a new leader among the majority");
	if (nl == NULL)
		goto out;
	uint64_t t_new = w->now_us - t0;

	/* Stays isolated for a while: it must not send another append. */
	if (!sc_commits(x, w, 3000000, 20, "under the new leader"))
		goto out;
	if (old->sent[HP_MSG_APPEND] != appends_down) {
		sc_fail(x, "old leader n%llu sent %llu appends after stepping down",
		        (unsigned long long)old->id,
		        (unsigned long long)(old->sent[HP_MSG_APPEND] - appends_down));
		goto out;
	}
	if (old->rep[0].st.role == HP_LEADER) {
		sc_fail(x, "old leader n%llu leads again while isolated", (unsigned long long)old->id);
		goto out;
	}
	sim_link_isolate(w, old->slot, false);
	sim_trace(w, "SCENARIO: heal");
	if (sc_wait_stable(x, w, 3000000, "after healing") == NULL ||
	    !sc_commits(x, w, 2000000, 20, "after healing"))
		goto out;
	sc_note(x, "old leader n%llu stepped down %.0f ms after isolation (%llu appends into the "
	           "void, none after), n%llu led after %.0f ms (bound %.0f)",
	        (unsigned long long)old->id, sc_ms(t_down),
	        (unsigned long long)(appends_down - appends0), (unsigned long long)nl->id,
	        sc_ms(t_new), sc_ms(elect_bound));
out:
	sc_end(x, w);
}

/* --- follower_cut_from_leader -------------------------------------------------------- */

static void sc_follower_cut_one(sc_ctx *x, uint32_t voters)
{
	sim_params p;
	sim_params_default(&p);
	p.voters = voters;
	sim_world *w = sc_world(x, &p, 200 + voters);
	sim_node *l = sc_wait_stable(x, w, 5000000, "after start");
	if (l == NULL)
		goto out;
	sim_node *f = sc_other(w, l, NULL);
	uint64_t e0 = sc_elections(w);
	uint64_t term0 = f->rep[0].st.term;
	uint64_t c0 = sc_committed(w);
	sim_link_set_both(w, l->slot, f->slot, false);
	sim_trace(w, "SCENARIO: cut n%llu <-> n%llu", (unsigned long long)l->id,
	          (unsigned long long)f->id);
	for (int window = 0; window < 6; window++) {
		if (!sc_commits(x, w, 10000000, 50, "while the follower is cut off"))
			goto out;
		if (sim_lease_holder(w) != l) {
			sc_fail(x, "%u nodes: n%llu no longer holds the lease after %d s", voters,
			        (unsigned long long)l->id, (window + 1) * 10);
			goto out;
		}
	}
	if (sc_elections(w) != e0) {
		sc_fail(x, "%u nodes: %llu leader changes while only a follower was cut off", voters,
		        (unsigned long long)(sc_elections(w) - e0));
		goto out;
	}
	if (f->rep[0].st.term != term0) {
		sc_fail(x, "%u nodes: cut follower n%llu inflated its term %llu -> %llu", voters,
		        (unsigned long long)f->id, (unsigned long long)term0,
		        (unsigned long long)f->rep[0].st.term);
		goto out;
	}
	sc_note(x, "%u nodes: 0 leader changes in 60 s, %llu entries committed, follower term stayed "
	           "%llu",
	        voters, (unsigned long long)(sc_committed(w) - c0), (unsigned long long)term0);
	sim_link_set_both(w, l->slot, f->slot, true);
out:
	sc_end(x, w);
}

static void sc_follower_cut_from_leader(sc_ctx *x)
{
	sc_follower_cut_one(x, 3);
	if (!x->failed)
		sc_follower_cut_one(x, 5);
}

/* --- quorum_loss and constrained_election -------------------------------------------- */

/* Only the hub keeps links to everyone; every other node reaches only the
 * hub.  With `isolate_also`, that node reaches nobody at all. */
static void sc_hub_topology(sim_world *w, const sim_node *hub, const sim_node *isolate_also)
{
	for (uint32_t i = 0; i < w->node_count; i++) {
		for (uint32_t k = 0; k < w->node_count; k++) {
			if (i == k)
				continue;
			bool up = i == hub->slot || k == hub->slot;
			if (isolate_also && (i == isolate_also->slot || k == isolate_also->slot))
				up = false;
			sim_link_set(w, i, k, up);
		}
	}
}

static void sc_quorum_loss(sc_ctx *x)
{
	sim_params p;
	sim_params_default(&p);
	sim_world *w = sc_world(x, &p, 301);
	sim_node *a = sc_wait_stable(x, w, 5000000, "after start");
	if (a == NULL || !sc_commits(x, w, 2000000, 20, "before the partition"))
		goto out;
	sim_node *c = w->nodes[(a->slot + 2) % w->node_count];
	uint64_t t0 = w->now_us;
	sc_hub_topology(w, c, NULL);
	sim_trace(w, "SCENARIO: quorum loss: only n%llu reaches everyone; leader n%llu reaches only it",
	          (unsigned long long)c->id, (unsigned long long)a->id);
	uint64_t bound = p.lease_us + 2 * p.tick_us + 100000;
	if (!sim_run_cond(w, t0 + bound, cond_not_leader, a)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "old leader n%llu, reaching no quorum, still leads after %.0f ms",
			        (unsigned long long)a->id, sc_ms(bound));
		goto out;
	}
	uint64_t t_down = w->now_us - t0;
	uint64_t elect_bound = 4 * p.lease_us;
	sc_want want = {.want_id = c->id};
	if (sc_wait_holder(x, w, want, t0 + elect_bound - w->now_us,
	                   "the only quorum-connected node as leader") == NULL)
		goto out;
	uint64_t t_new = w->now_us - t0;
	if (!sc_commits(x, w, 3000000, 20, "under the hub leader"))
		goto out;
	sc_note(x, "n%llu stepped down after %.0f ms; hub n%llu led after %.0f ms (bound %.0f)",
	        (unsigned long long)a->id, sc_ms(t_down), (unsigned long long)c->id, sc_ms(t_new),
	        sc_ms(elect_bound));
	sim_link_heal_all(w);
out:
	sc_end(x, w);
}

/* C lags `lag_us` of writes behind; with compact_entries large the lag
 * stays inside the peers' logs, otherwise it reaches past their
 * compaction point (pulling then needs a snapshot). */
static void sc_constrained_one(sc_ctx *x, bool past_compaction)
{
	sim_params p;
	sim_params_default(&p);
	p.compact_entries = past_compaction ? 64 : 100000;
	sim_world *w = sc_world(x, &p, past_compaction ? 402 : 401);
	const char *tag = past_compaction ? "(b) lag past the peers' compaction" : "(a) lag in the log";
	sim_node *a = sc_wait_stable(x, w, 5000000, "after start");
	if (a == NULL)
		goto out;
	sim_node *c = w->nodes[(a->slot + 2) % w->node_count];
	/* C falls behind while the others commit (and learn the commit). */
	sim_link_isolate(w, c->slot, true);
	sim_trace(w, "SCENARIO: n%llu cut off while writes commit", (unsigned long long)c->id);
	if (!sc_commits(x, w, 3000000, 50, "while the hub lags"))
		goto out;
	uint64_t lag = sc_committed(w) - c->rep[0].st.last_index;
	if (c->rep[0].st.last_index >= sc_committed(w)) {
		sc_fail(x, "%s: n%llu did not fall behind", tag, (unsigned long long)c->id);
		goto out;
	}
	/* Now C is the only node that reaches a quorum, and its log is the
	 * oldest; the old leader reaches nobody (so it cannot refresh C). */
	sim_link_isolate(w, c->slot, false);
	sc_hub_topology(w, c, a);
	uint64_t t0 = w->now_us;
	sim_trace(w, "SCENARIO: constrained election: hub n%llu lags %llu entries; n%llu isolated",
	          (unsigned long long)c->id, (unsigned long long)lag, (unsigned long long)a->id);
	uint64_t elect_bound = 6 * p.lease_us;
	sc_want want = {.want_id = c->id};
	char what[128];
	snprintf(what, sizeof(what), "%s: the lagging hub n%llu (%llu entries behind) as leader", tag,
	         (unsigned long long)c->id, (unsigned long long)lag);
	if (sc_wait_holder(x, w, want, elect_bound, what) == NULL)
		goto out;
	uint64_t t_new = w->now_us - t0;
	if (!sc_commits(x, w, 3000000, 20, "under the hub leader"))
		goto out;
	sc_note(x, "%s: hub n%llu, %llu entries behind, led after %.0f ms (bound %.0f)", tag,
	        (unsigned long long)c->id, (unsigned long long)lag, sc_ms(t_new), sc_ms(elect_bound));
	sim_link_heal_all(w);
out:
	sc_end(x, w);
}

static void sc_constrained_election(sc_ctx *x)
{
	sc_constrained_one(x, false);
	if (!x->failed)
		sc_constrained_one(x, true);
}

/* --- chained ------------------------------------------------------------------------------ */

static void sc_chained_one(sc_ctx *x, bool leader_in_middle)
{
	sim_params p;
	sim_params_default(&p);
	p.voters = 3;
	sim_world *w = sc_world(x, &p, leader_in_middle ? 502 : 501);
	sim_node *l = sc_wait_stable(x, w, 5000000, "after start");
	if (l == NULL)
		goto out;
	sim_node *o1 = sc_other(w, l, NULL), *o2 = sc_other(w, l, o1);
	/* The chain A - B - C: cut A <-> C. */
	sim_node *a, *b, *c;
	if (leader_in_middle)
		a = o1, b = l, c = o2;
	else
		a = l, b = o1, c = o2;
	sim_link_set_both(w, a->slot, c->slot, false);
	sim_trace(w, "SCENARIO: chain n%llu - n%llu - n%llu, leader n%llu", (unsigned long long)a->id,
	          (unsigned long long)b->id, (unsigned long long)c->id, (unsigned long long)l->id);
	uint64_t e0 = sc_elections(w);
	uint64_t term_c = c->rep[0].st.term, term_a = a->rep[0].st.term;
	if (!sc_commits(x, w, 20000000, 100, "along the chain"))
		goto out;
	if (sc_elections(w) != e0 || sim_lease_holder(w) != l) {
		sc_fail(x, "leader at %s: %llu leader changes while the chain held",
		        leader_in_middle ? "B" : "A", (unsigned long long)(sc_elections(w) - e0));
		goto out;
	}
	sim_node *end_node = leader_in_middle ? a : c;
	uint64_t end_term = leader_in_middle ? term_a : term_c;
	if (end_node->rep[0].st.term != end_term) {
		sc_fail(x, "leader at %s: n%llu (cut from the far end) inflated its term",
		        leader_in_middle ? "B" : "A", (unsigned long long)end_node->id);
		goto out;
	}
	sim_node_crash(w, l);
	uint64_t t0 = w->now_us;
	sim_trace(w, "SCENARIO: crash leader n%llu", (unsigned long long)l->id);
	if (!leader_in_middle) {
		/* B and C still form a quorum. */
		sc_want want = {.not_id = l->id};
		uint64_t bound = 2 * p.lease_us + 500000;
		if (sc_wait_holder(x, w, want, bound, "a new leader after the chain's end crashed") ==
		    NULL)
			goto out;
		sc_note(x, "leader at A: 0 changes in 20 s, after A crashed n%llu led in %.0f ms",
		        (unsigned long long)sim_lease_holder(w)->id, sc_ms(w->now_us - t0));
	} else {
		/* A and C cannot reach each other: nobody reaches a quorum until
		 * B is back. */
		if (!sim_run_until(w, w->now_us + 3 * p.lease_us) || !sc_world_ok(x, w))
			goto out;
		if (sim_lease_holder(w) != NULL) {
			sc_fail(x, "a leader without a quorum while B is down");
			goto out;
		}
		sim_trace(w, "SCENARIO: restart n%llu", (unsigned long long)l->id);
		sim_node_boot(w, l);
		uint64_t t1 = w->now_us;
		sc_want want = {0};
		uint64_t bound = 2 * p.lease_us + 500000;
		if (sc_wait_holder(x, w, want, bound, "a leader once B restarted") == NULL)
			goto out;
		sc_note(x, "leader at B: 0 changes in 20 s, no leader while B was down, n%llu led %.0f "
		           "ms after B restarted",
		        (unsigned long long)sim_lease_holder(w)->id, sc_ms(w->now_us - t1));
	}
	if (!sc_commits(x, w, 2000000, 20, "after the failover"))
		goto out;
	sim_link_heal_all(w);
out:
	sc_end(x, w);
}

static void sc_chained(sc_ctx *x)
{
	sc_chained_one(x, false);
	if (!x->failed)
		sc_chained_one(x, true);
}

/* --- leader_crash_loop ----------------------------------------------------------------------- */

static void sc_leader_crash_loop(sc_ctx *x)
{
	sim_params p;
	sim_params_default(&p);
	sim_world *w = sc_world(x, &p, 601);
	uint64_t worst = 0, total = 0;
	uint64_t bound = 2 * p.lease_us + 500000;
	for (int round = 0; round < 10; round++) {
		sim_node *l = sc_wait_stable(x, w, 10000000, "between crashes");
		if (l == NULL || !sc_commits(x, w, 2000000, 10, "between crashes"))
			goto out;
		l = sim_lease_holder(w);
		if (l == NULL) {
			sc_fail(x, "round %d: the lease lapsed without a fault", round + 1);
			goto out;
		}
		sim_node_crash(w, l);
		uint64_t t0 = w->now_us;
		sim_trace(w, "SCENARIO: crash leader n%llu (round %d)", (unsigned long long)l->id,
		          round + 1);
		sc_want want = {.not_id = l->id};
		char what[64];
		snprintf(what, sizeof(what), "round %d: a new leader after crashing n%llu", round + 1,
		         (unsigned long long)l->id);
		if (sc_wait_holder(x, w, want, bound, what) == NULL)
			goto out;
		uint64_t took = w->now_us - t0;
		total += took;
		if (took > worst)
			worst = took;
		if (!sim_run_until(w, w->now_us + 1000000) || !sc_world_ok(x, w))
			goto out;
		sim_node_boot(w, l);
	}
	sc_note(x, "10 leader crashes: new leader after %.0f ms on average, %.0f ms at worst (bound "
	           "%.0f)",
	        sc_ms(total / 10), sc_ms(worst), sc_ms(bound));
out:
	sc_end(x, w);
}

/* --- membership_during_partition ----------------------------------------------------------- */

static bool cond_conf_converged(sim_world *w, void *ctx)
{
	(void)ctx;
	sim_node *l = sim_lease_holder(w);
	if (l == NULL)
		return false;
	const hp_status *ls = &l->rep[0].st;
	if (ls->conf_index > ls->commit)
		return false;
	const hp_conf *conf = &ls->conf;
	hp_id members[HP_MAX_VOTERS + HP_MAX_MEMBERS];
	uint32_t count = 0;
	for (uint32_t i = 0; i < conf->voter_count; i++)
		members[count++] = conf->voters[i];
	for (uint32_t i = 0; i < conf->learner_count; i++)
		members[count++] = conf->learners[i];
	for (uint32_t i = 0; i < count; i++) {
		sim_node *n = sim_node_by_id(w, members[i]);
		if (n == NULL || !n->up || !n->rep[0].st_valid)
			return false;
		const hp_status *st = &n->rep[0].st;
		/* Same membership (after a snapshot install the core dates its
		 * conf by the snapshot's index, so indexes may differ). */
		if (st->conf.voter_count != conf->voter_count ||
		    st->conf.learner_count != conf->learner_count)
			return false;
		for (uint32_t k = 0; k < conf->voter_count; k++)
			if (!hp_conf_is_voter(&st->conf, conf->voters[k]))
				return false;
		for (uint32_t k = 0; k < conf->learner_count; k++)
			if (!hp_conf_is_learner(&st->conf, conf->learners[k]))
				return false;
	}
	return true;
}

static void sc_membership_during_partition(sc_ctx *x)
{
	sim_params p;
	sim_params_default(&p);
	sim_world *w = sc_world(x, &p, 701);
	sim_node *l = sc_wait_stable(x, w, 5000000, "after start");
	if (l == NULL)
		goto out;
	/* A minority {m1, m2} cut off from the rest. */
	sim_node *m1 = sc_other(w, l, NULL), *m2 = sc_other(w, l, m1);
	for (uint32_t i = 0; i < w->node_count; i++) {
		if (i == m1->slot || i == m2->slot)
			continue;
		sim_link_set_both(w, i, m1->slot, false);
		sim_link_set_both(w, i, m2->slot, false);
	}
	sim_trace(w, "SCENARIO: minority {n%llu, n%llu} cut off", (unsigned long long)m1->id,
	          (unsigned long long)m2->id);
	if (!sc_commits(x, w, 1000000, 10, "with a minority cut off"))
		goto out;
	sim_node *nn = sim_member_new_node(w);
	RP_CHECK(nn != NULL);
	sim_link_set_both(w, nn->slot, m1->slot, false);
	sim_link_set_both(w, nn->slot, m2->slot, false);
	if (!sc_conf_change(x, w, HP_CONF_ADD_LEARNER, nn->id, done_learner, 5000000,
	                    "adding learner") ||
	    !sc_conf_change(x, w, HP_CONF_PROMOTE, nn->id, done_voter, 20000000, "promoting it") ||
	    !sc_conf_change(x, w, HP_CONF_REMOVE, m2->id, done_removed, 10000000,
	                    "removing a cut-off voter"))
		goto out;
	if (!sc_commits(x, w, 1000000, 10, "after the changes"))
		goto out;
	sim_link_heal_all(w);
	sim_trace(w, "SCENARIO: heal");
	uint64_t t0 = w->now_us;
	if (!sim_run_cond(w, w->now_us + 10000000, cond_conf_converged, NULL)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "the configuration did not converge on every member within 10 s");
		goto out;
	}
	sc_note(x, "added n%llu, promoted it, removed n%llu under a minority partition; every "
	           "member agreed %.0f ms after healing",
	        (unsigned long long)nn->id, (unsigned long long)m2->id, sc_ms(w->now_us - t0));
	sim_decommission(w, m2);
out:
	sc_end(x, w);
}

/* --- snapshot_catch_up ------------------------------------------------------------------------- */

static bool cond_snapshot_past(sim_world *w, void *ctx)
{
	const uint64_t *need = ctx;
	sim_node *l = sim_lease_holder(w);
	return l && l->rep[0].st.snapshot_index > *need;
}

typedef struct {
	sim_node *f;
	sim_node *l;
	uint64_t index;
} sc_caught_up;

static bool cond_caught_up(sim_world *w, void *ctx)
{
	(void)w;
	const sc_caught_up *c = ctx;
	return c->f->up && c->f->rep[0].st_valid && c->f->rep[0].kv.applied >= c->index &&
	       c->f->rep[0].st.leader == c->l->id;
}

static void sc_snapshot_catch_up(sc_ctx *x)
{
	sim_params p;
	sim_params_default(&p);
	p.voters = 3;
	p.compact_entries = 32;
	p.snapshot_chunk_bytes = 64;
	sim_world *w = sc_world(x, &p, 801);
	sim_node *l = sc_wait_stable(x, w, 5000000, "after start");
	if (l == NULL || !sc_commits(x, w, 1000000, 10, "before the crash"))
		goto out;
	sim_node *f = sc_other(w, l, NULL);
	sim_node_crash(w, f);
	uint64_t durable = f->rep[0].dur_last;
	uint64_t need = durable + 2 * p.compact_entries;
	sim_trace(w, "SCENARIO: crash follower n%llu at durable index %llu", (unsigned long long)f->id,
	          (unsigned long long)durable);
	if (!sim_run_cond(w, w->now_us + 30000000, cond_snapshot_past, &need)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "the leader did not compact past %llu", (unsigned long long)need);
		goto out;
	}
	l = sim_lease_holder(w);
	uint64_t chunks0 = w->stats.by_type[HP_MSG_SNAP_CHUNK];
	uint64_t installs0 = w->stats.snapshots_installed;
	sc_caught_up cu = {.f = f, .l = l, .index = l->rep[0].st.snapshot_index};
	sim_node_boot(w, f);
	sim_trace(w, "SCENARIO: restart n%llu; the leader's log starts at %llu",
	          (unsigned long long)f->id, (unsigned long long)l->rep[0].st.first_index);
	uint64_t t0 = w->now_us;
	if (!sim_run_cond(w, w->now_us + 10000000, cond_caught_up, &cu)) {
		if (sc_world_ok(x, w))
			sc_fail(x, "n%llu did not catch up to %llu within 10 s (applied %llu)",
			        (unsigned long long)f->id, (unsigned long long)cu.index,
			        (unsigned long long)f->rep[0].kv.applied);
		goto out;
	}
	uint64_t chunks = w->stats.by_type[HP_MSG_SNAP_CHUNK] - chunks0;
	if (chunks == 0 || w->stats.snapshots_installed == installs0) {
		sc_fail(x, "n%llu caught up without a snapshot (%llu chunks sent)",
		        (unsigned long long)f->id, (unsigned long long)chunks);
		goto out;
	}
	sc_note(x, "n%llu (durable to %llu) caught up past the leader's compaction at %llu in %.0f "
	           "ms: %llu chunks of %u bytes sent, snapshot installed, same state",
	        (unsigned long long)f->id, (unsigned long long)durable, (unsigned long long)cu.index,
	        sc_ms(w->now_us - t0), (unsigned long long)chunks, p.snapshot_chunk_bytes);
out:
	sc_end(x, w);
}

/* --- leader_transfer ----------------------------------------------------------------------------- */

static void sc_leader_transfer(sc_ctx *x)
{
	sim_params p;
	sim_params_default(&p);
	sim_world *w = sc_world(x, &p, 901);
	sim_node *l = sc_wait_stable(x, w, 5000000, "after start");
	if (l == NULL || !sc_commits(x, w, 2000000, 20, "before the transfer"))
		goto out;
	sim_node *t = sc_other(w, l, NULL);
	sim_replica *r = &l->rep[0];
	int rc = hp_transfer(r->core, sim_node_now(w, l), t->id);
	sim_replica_touch(w, r);
	sim_replica_drain(w, r);
	sim_trace(w, "SCENARIO: n%llu transfers leadership to n%llu: %s", (unsigned long long)l->id,
	          (unsigned long long)t->id, hp_strerror(rc));
	if (rc != 0) {
		sc_fail(x, "hp_transfer(n%llu) refused: %s", (unsigned long long)t->id, hp_strerror(rc));
		goto out;
	}
	uint64_t t0 = w->now_us;
	sc_want want = {.want_id = t->id};
	if (sc_wait_holder(x, w, want, p.lease_us / 2, "the transfer target leading") == NULL)
		goto out;
	uint64_t took = w->now_us - t0;
	if (!sc_commits(x, w, 2000000, 20, "after the transfer"))
		goto out;

	/* The leader removes itself. */
	sim_trace(w, "SCENARIO: leader n%llu removes itself", (unsigned long long)t->id);
	uint64_t t1 = w->now_us;
	if (!sc_conf_change(x, w, HP_CONF_REMOVE, t->id, done_removed, 10000000,
	                    "removing the leader itself"))
		goto out;
	sc_want other = {.not_id = t->id};
	if (sc_wait_holder(x, w, other, 3 * p.lease_us, "another leader after self-removal") == NULL)
		goto out;
	uint64_t took_remove = w->now_us - t1;
	if (!sc_commits(x, w, 2000000, 20, "after the self-removal"))
		goto out;
	if (t->rep[0].st.role == HP_LEADER) {
		sc_fail(x, "removed node n%llu still acts as leader", (unsigned long long)t->id);
		goto out;
	}
	sc_note(x, "n%llu led %.0f ms after the transfer (bound %.0f); after removing itself, n%llu "
	           "led %.0f ms later and n%llu no longer leads",
	        (unsigned long long)t->id, sc_ms(took), sc_ms(p.lease_us / 2),
	        (unsigned long long)sim_lease_holder(w)->id, sc_ms(took_remove),
	        (unsigned long long)t->id);
	sim_decommission(w, t);
out:
	sc_end(x, w);
}

/* --- the table -------------------------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*fn)(sc_ctx *x);
} sc_table[] = {
	{"leader_isolated", sc_leader_isolated},
	{"follower_cut_from_leader", sc_follower_cut_from_leader},
	{"quorum_loss", sc_quorum_loss},
	{"constrained_election", sc_constrained_election},
	{"chained", sc_chained},
	{"leader_crash_loop", sc_leader_crash_loop},
	{"membership_during_partition", sc_membership_during_partition},
	{"snapshot_catch_up", sc_snapshot_catch_up},
	{"leader_transfer", sc_leader_transfer},
};

int sim_scenario_count(void)
{
	return (int)(sizeof(sc_table) / sizeof(sc_table[0]));
}

const char *sim_scenario_name(int i)
{
	RP_CHECK(i >= 0 && i < sim_scenario_count());
	return sc_table[i].name;
}

int sim_scenario_run(const char *name, FILE *out, int trace)
{
	for (int i = 0; i < sim_scenario_count(); i++) {
		if (strcmp(sc_table[i].name, name) != 0)
			continue;
		sc_ctx x;
		memset(&x, 0, sizeof(x));
		x.name = name;
		x.out = out;
		x.trace = trace;
		sc_table[i].fn(&x);
		if (x.failed) {
			fprintf(out, "FAIL %s: %s\n", name, x.reason);
			if (x.detail[0])
				fprintf(out, "    (passed before that: %s)\n", x.detail);
			fprintf(out, "  replay: ./build/release/rasputin-sim scenario %s --trace\n", name);
			return 0;
		}
		fprintf(out, "ok %s\n", name);
		if (x.detail[0])
			fprintf(out, "    %s\n", x.detail);
		return 1;
	}
	return -1;
}
