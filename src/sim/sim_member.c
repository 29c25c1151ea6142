/*
 * sim_member.c — the membership operator of the swarm: one change at a
 * time through the node holding the lease, as an administrator would do
 * it: add a brand-new node (never a reused id) as a learner, promote it
 * once the core says it has caught up (retrying on HP_ERR_NOT_CAUGHT_UP
 * and HP_ERR_CONF_PENDING), and remove voters (sometimes the leader
 * itself), keeping between 3 and 7 voters.  A removed node is stopped for
 * good a little after its removal commits.  Progress is read from the
 * leader's committed configuration, so lost proposals are simply retried.
 *
 * Repair: a node whose recovery refused its log (RP_ERR_CORRUPT) stays
 * down and is replaced, during the faults and after them: REMOVE it
 * first (even from 3 voters down to 2), then ADD_LEARNER + PROMOTE a
 * fresh node with an empty disk (which catches up by snapshot).  Remove
 * first, and no random change while a corrupt node is a member: a
 * promotion into a group with a dead voter can deadlock, because the new
 * voter refuses to grant a lease until it has itself received the
 * PROMOTE entry (harpoon.c on_pre_lease_req / on_lease_req require the
 * granter to be a voter in its own configuration), and no leader can be
 * elected to send it (swarm seed 1237 with add-first repair).  For the
 * same reason no random change starts while a member's disk holds flipped
 * bits that its next restart has not yet found.
 */
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

enum {
	MEMBER_DECOMMISSION_AFTER_US = 2000000,
	MEMBER_REPAIR_EVERY_US = 200000, /* operator steps when only repairing */
};

static void member_schedule(sim_world *w, uint64_t after_us)
{
	if (w->member.scheduled)
		return;
	w->member.scheduled = true;
	sim_schedule(w, w->now_us + after_us, SIM_EV_MEMBER, 0, 0, NULL);
}

static uint64_t member_interval(sim_world *w)
{
	uint64_t mean = w->p.member_mean_us;
	if (mean == 0)
		return MEMBER_REPAIR_EVERY_US;
	return mean / 2 + rp_prng_below(&w->rng_member, mean + 1);
}

/* A member whose disk was corrupted (bits flipped and not yet seen by a
 * restart): no random change until it is found and replaced. */
static bool member_suspect_in(sim_world *w, const hp_conf *conf)
{
	for (uint32_t i = 0; i < conf->voter_count; i++) {
		sim_node *n = sim_node_by_id(w, conf->voters[i]);
		if (n && n->flip_unseen)
			return true;
	}
	for (uint32_t i = 0; i < conf->learner_count; i++) {
		sim_node *n = sim_node_by_id(w, conf->learners[i]);
		if (n && n->flip_unseen)
			return true;
	}
	return false;
}

/* A corrupt node still in conf, or NULL. */
static sim_node *member_corrupt_in(sim_world *w, const hp_conf *conf)
{
	for (uint32_t i = 0; i < conf->voter_count; i++) {
		sim_node *n = sim_node_by_id(w, conf->voters[i]);
		if (n && n->corrupt)
			return n;
	}
	for (uint32_t i = 0; i < conf->learner_count; i++) {
		sim_node *n = sim_node_by_id(w, conf->learners[i]);
		if (n && n->corrupt)
			return n;
	}
	return NULL;
}

static bool member_repair_due(sim_world *w)
{
	if (w->member.repairing)
		return true;
	for (uint32_t i = 0; i < w->node_count; i++)
		if (w->nodes[i]->corrupt && !w->nodes[i]->decommissioned)
			return true;
	return false;
}

void sim_member_corrupt(sim_world *w, sim_node *n)
{
	sim_trace(w, "MEMBER: n%llu is corrupt; the operator will replace it",
	          (unsigned long long)n->id);
	member_schedule(w, MEMBER_REPAIR_EVERY_US);
}

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
	sim_replica_touch(w, r);
	sim_trace(w, "n%llu proposes %s n%llu: %s%s", (unsigned long long)l->id, op_name(op),
	          (unsigned long long)id, rc == 0 ? "ok" : hp_strerror(rc), rc == 0 ? "" : "");
	sim_replica_drain(w, r);
	return rc;
}

void sim_member_start(sim_world *w)
{
	if (w->p.member_mean_us == 0)
		return;
	member_schedule(w, w->p.member_mean_us);
}

/* Starts replacing corrupt node `bad` (in conf). */
static void member_repair_start(sim_world *w, const hp_conf *conf, sim_node *bad)
{
	sim_member *m = &w->member;
	m->repairing = true;
	m->repair_id = bad->id;
	m->repair_add_after = false;
	m->repair_remove_after = false;
	m->goal = SIM_MEMBER_REMOVE;
	m->id = bad->id;
	m->repair_add_after = hp_conf_is_voter(conf, bad->id);
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
	w->member.scheduled = false;
	bool random_on = w->chaos && w->p.member_mean_us;
	if (!random_on && !member_repair_due(w))
		return;
	member_schedule(w, member_interval(w));
	sim_node *l = sim_lease_holder(w);
	if (l == NULL || !l->rep[0].st_valid)
		return;
	const hp_status *st = &l->rep[0].st;
	if (st->conf_index > st->commit)
		return; /* a change is in flight */
	const hp_conf *conf = &st->conf;
	sim_member *m = &w->member;
	if ((m->goal == SIM_MEMBER_ADD || m->goal == SIM_MEMBER_PROMOTE) && m->id) {
		/* The node being added went corrupt itself: give it up (the
		 * repair below takes it out if it made it into the group). */
		sim_node *x = sim_node_by_id(w, m->id);
		if (x && x->corrupt) {
			if (!hp_conf_is_voter(conf, x->id) && !hp_conf_is_learner(conf, x->id))
				sim_decommission(w, x);
			m->goal = SIM_MEMBER_IDLE;
			m->repairing = false;
		}
	}
	sim_node *bad = member_corrupt_in(w, conf);
	bool suspect = member_suspect_in(w, conf);
	if ((bad || suspect) && m->goal != SIM_MEMBER_IDLE && !m->repairing)
		m->goal = SIM_MEMBER_IDLE; /* repair first (see the top comment) */
	if (m->goal == SIM_MEMBER_IDLE) {
		if (bad)
			member_repair_start(w, conf, bad);
		else if (random_on && !suspect)
			member_choose(w, conf, l);
		else
			m->repairing = false;
	}
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
			if (m->repairing && m->repair_remove_after) {
				m->repair_remove_after = false;
				m->goal = SIM_MEMBER_REMOVE;
				m->id = m->repair_id;
			} else if (m->repairing) {
				m->repairing = false;
			}
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
			if (m->repairing && m->id == m->repair_id) {
				w->stats.nodes_replaced++;
				sim_trace(w, "MEMBER: corrupt n%llu removed", (unsigned long long)m->id);
				sim_node *n = m->repair_add_after ? sim_member_new_node(w) : NULL;
				m->repair_add_after = false;
				if (n) {
					m->goal = SIM_MEMBER_ADD;
					m->id = n->id;
				} else {
					m->repairing = false;
				}
			}
			return;
		}
		if (conf->voter_count <= 3 && !(m->repairing && m->id == m->repair_id)) {
			m->goal = SIM_MEMBER_IDLE;
			return;
		}
		(void)sim_member_propose(w, HP_CONF_REMOVE, m->id);
		return;
	}
}
