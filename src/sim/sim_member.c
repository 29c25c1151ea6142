/*
 * sim_member.c — the membership operator of the swarm: one change at a
 * time through the node holding the lease, as an administrator would do
 * it: add a brand-new node (never a reused id) as a learner, promote it
 * once the core says it has caught up (retrying on HP_ERR_NOT_CAUGHT_UP
 * and HP_ERR_CONF_PENDING), and remove voters (sometimes the leader
 * itself), keeping between 3 and 7 voters.  A removed node is stopped for
 * good a little after its removal commits.  Progress is read from the
 * leader's committed configuration, so lost proposals are simply retried.
 */
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

enum { MEMBER_DECOMMISSION_AFTER_US = 2000000 };

sim_node *sim_member_new_node(sim_world *w)
{
	if (w->node_count >= SIM_MAX_NODES)
		return NULL;
	hp_conf empty;
	memset(&empty, 0, sizeof(empty));
	sim_node *n = sim_node_create(w, &empty, true);
	sim_trace(w, "NEW NODE n%llu (empty)", (unsigned long long)n->id);
	sim_node_boot(w, n);
	return n;
}

static const char *op_name(hp_conf_op op)
{
	return op == HP_CONF_ADD_LEARNER ? "ADD_LEARNER" : op == HP_CONF_PROMOTE ? "PROMOTE" : "REMOVE";
}

int sim_member_propose(sim_world *w, hp_conf_op op, hp_id id)
{
	sim_node *l = sim_lease_holder(w);
	if (l == NULL)
		return HP_ERR_NOT_LEADER;
	sim_replica *r = &l->rep[0];
	uint64_t index = 0, term = 0;
	int rc = hp_propose_conf(r->core, sim_node_now(w, l), op, id, &index, &term);
	r->touched = true;
	sim_trace(w, "n%llu proposes %s n%llu: %s%s", (unsigned long long)l->id, op_name(op),
	          (unsigned long long)id, rc == 0 ? "ok" : hp_strerror(rc), rc == 0 ? "" : "");
	sim_replica_drain(w, r);
	return rc;
}

void sim_member_start(sim_world *w)
{
	if (w->p.member_mean_us == 0)
		return;
	sim_schedule(w, w->now_us + w->p.member_mean_us, SIM_EV_MEMBER, 0, 0, NULL);
}

static void member_choose(sim_world *w, const hp_conf *conf, const sim_node *leader)
{
	sim_member *m = &w->member;
	bool can_add = conf->voter_count < HP_MAX_VOTERS && m->adds < w->p.member_adds_max &&
	               w->node_count < SIM_MAX_NODES &&
	               conf->voter_count + conf->learner_count < HP_MAX_MEMBERS;
	bool can_remove = conf->voter_count > 3;
	if (!can_add && !can_remove)
		return;
	bool add = can_add && (!can_remove || rp_prng_below(&w->rng_member, 2) == 0);
	if (add) {
		sim_node *n = sim_member_new_node(w);
		if (n == NULL)
			return;
		m->adds++;
		m->goal = SIM_MEMBER_ADD;
		m->id = n->id;
		return;
	}
	hp_id victim = leader->id;
	if (rp_prng_below(&w->rng_member, 100) >= 25 || !hp_conf_is_voter(conf, victim))
		victim = conf->voters[rp_prng_below(&w->rng_member, conf->voter_count)];
	m->goal = SIM_MEMBER_REMOVE;
	m->id = victim;
}

void sim_member_step(sim_world *w)
{
	if (!w->chaos)
		return;
	sim_schedule(w,
	             w->now_us + w->p.member_mean_us / 2 +
	                     rp_prng_below(&w->rng_member, w->p.member_mean_us + 1),
	             SIM_EV_MEMBER, 0, 0, NULL);
	sim_node *l = sim_lease_holder(w);
	if (l == NULL || !l->rep[0].st_valid)
		return;
	const hp_status *st = &l->rep[0].st;
	if (st->conf_index > st->commit)
		return; /* a change is in flight */
	const hp_conf *conf = &st->conf;
	sim_member *m = &w->member;
	if (m->goal == SIM_MEMBER_IDLE)
		member_choose(w, conf, l);
	m->attempts++;
	switch (m->goal) {
	case SIM_MEMBER_IDLE:
		return;
	case SIM_MEMBER_ADD:
		if (hp_conf_is_learner(conf, m->id) || hp_conf_is_voter(conf, m->id)) {
			m->goal = SIM_MEMBER_PROMOTE;
			return;
		}
		(void)sim_member_propose(w, HP_CONF_ADD_LEARNER, m->id);
		return;
	case SIM_MEMBER_PROMOTE:
		if (hp_conf_is_voter(conf, m->id)) {
			m->promotes++;
			m->goal = SIM_MEMBER_IDLE;
			return;
		}
		if (!hp_conf_is_learner(conf, m->id)) {
			m->goal = SIM_MEMBER_ADD;
			return;
		}
		if (conf->voter_count >= HP_MAX_VOTERS) {
			m->goal = SIM_MEMBER_IDLE;
			return;
		}
		(void)sim_member_propose(w, HP_CONF_PROMOTE, m->id);
		return;
	case SIM_MEMBER_REMOVE:
		if (!hp_conf_is_voter(conf, m->id) && !hp_conf_is_learner(conf, m->id)) {
			sim_node *gone = sim_node_by_id(w, m->id);
			if (gone)
				sim_schedule(w, w->now_us + MEMBER_DECOMMISSION_AFTER_US,
				             SIM_EV_DECOMMISSION, gone->slot, 0, NULL);
			m->removes++;
			m->goal = SIM_MEMBER_IDLE;
			return;
		}
		if (conf->voter_count <= 3) {
			m->goal = SIM_MEMBER_IDLE;
			return;
		}
		(void)sim_member_propose(w, HP_CONF_REMOVE, m->id);
		return;
	}
}
