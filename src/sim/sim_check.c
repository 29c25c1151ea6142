/*
 * sim_check.c — the simulator's invariants, checked as the run goes
 * (see the list at the top of sim.c).  Bookkeeping is incremental so that
 * a check after every event stays cheap:
 *   - term -> leader, filled at every transition to leader;
 *   - (index, term) -> hash of the entry's type and data, filled by every
 *     entry any node appends: the first term seen at an index in an array
 *     by index, other terms in an open-addressing table;
 *   - the global committed log: index -> term, entry hash, state hash after
 *     applying it, the command's result, and the highest term in the
 *     cluster when the entry was first seen committed.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/check.h"

enum {
	CHECK_TERMS_MAX = 1 << 24,
	CHECK_SLOTS_MAX = 1 << 26,
	CHECK_COMMITS_MAX = 1 << 26,
};

void sim_check_init(sim_check *c)
{
	memset(c, 0, sizeof(*c));
}

void sim_check_deinit(sim_check *c)
{
	free(c->term_leader);
	free(c->firsts);
	free(c->slots);
	free(c->commits);
	memset(c, 0, sizeof(*c));
}

const sim_check_commit *sim_check_commit_at(const sim_world *w, uint32_t group_slot,
                                            uint64_t index)
{
	RP_CHECK(group_slot < SIM_GROUP_COUNT);
	const sim_check *c = &w->check[group_slot];
	if (index == 0 || index > c->commit_count)
		return NULL;
	return &c->commits[index - 1];
}

/* --- (index, term) -> entry hash -------------------------------------------- */

static size_t slot_home(const sim_check *c, uint64_t index, uint64_t term)
{
	return (size_t)(sim_kv_mix(index * 0x9e3779b97f4a7c15ULL ^ term) & (c->slot_capacity - 1));
}

static void slots_grow(sim_check *c)
{
	size_t old_capacity = c->slot_capacity;
	sim_check_slot *old = c->slots;
	size_t capacity = old_capacity ? old_capacity * 2 : 1024;
	RP_CHECK(capacity <= CHECK_SLOTS_MAX);
	c->slots = calloc(capacity, sizeof(*c->slots));
	RP_CHECK(c->slots != NULL);
	c->slot_capacity = capacity;
	for (size_t i = 0; i < old_capacity; i++) {
		if (old[i].term == 0)
			continue;
		size_t h = slot_home(c, old[i].index, old[i].term);
		while (c->slots[h].term != 0)
			h = (h + 1) & (capacity - 1);
		c->slots[h] = old[i];
	}
	free(old);
}

/* The hash held for (index, term) in the table; a new slot (hash unset)
 * when *fresh. */
static uint64_t *slot_get(sim_check *c, uint64_t index, uint64_t term, bool *fresh)
{
	if ((c->slot_count + 1) * 2 > c->slot_capacity)
		slots_grow(c);
	size_t h = slot_home(c, index, term);
	while (c->slots[h].term != 0) {
		if (c->slots[h].index == index && c->slots[h].term == term) {
			*fresh = false;
			return &c->slots[h].hash;
		}
		h = (h + 1) & (c->slot_capacity - 1);
	}
	c->slots[h].index = index;
	c->slots[h].term = term;
	c->slot_count++;
	*fresh = true;
	return &c->slots[h].hash;
}

/* The hash held for (index, term): the first term an index sees is kept
 * by index, the others in the table.  *fresh: a new one (hash unset). */
static uint64_t *entry_hash_get(sim_check *c, uint64_t index, uint64_t term, bool *fresh)
{
	if (index >= c->first_capacity) {
		size_t capacity = c->first_capacity ? c->first_capacity : 4096;
		while (capacity <= index)
			capacity *= 2;
		RP_CHECK(capacity <= CHECK_SLOTS_MAX);
		sim_check_first *firsts = realloc(c->firsts, capacity * sizeof(*firsts));
		RP_CHECK(firsts != NULL);
		memset(firsts + c->first_capacity, 0,
		       (capacity - c->first_capacity) * sizeof(*firsts));
		c->firsts = firsts;
		c->first_capacity = capacity;
	}
	sim_check_first *f = &c->firsts[index];
	if (f->term == 0) {
		f->term = term;
		*fresh = true;
		return &f->hash;
	}
	if (f->term == term) {
		*fresh = false;
		return &f->hash;
	}
	return slot_get(c, index, term, fresh);
}

void sim_check_appended(sim_world *w, sim_replica *r, const hp_entry *entries, size_t count)
{
	sim_check *c = &w->check[r->group_slot];
	unsigned long long id = (unsigned long long)r->node->id;
	for (size_t i = 0; i < count; i++) {
		const hp_entry *e = &entries[i];
		if (e->index == 0 || e->term == 0) {
			sim_fail(w, "n%llu appends an entry with index %llu, term %llu", id,
			         (unsigned long long)e->index, (unsigned long long)e->term);
			return;
		}
		if (i > 0 && (e->index != entries[i - 1].index + 1 || e->term < entries[i - 1].term)) {
			sim_fail(w, "n%llu appends %llu/%llu after %llu/%llu in one batch", id,
			         (unsigned long long)e->index, (unsigned long long)e->term,
			         (unsigned long long)entries[i - 1].index,
			         (unsigned long long)entries[i - 1].term);
			return;
		}
		uint64_t h = sim_kv_hash_entry(e->type, e->data, e->size_bytes);
		bool fresh;
		uint64_t *held = entry_hash_get(c, e->index, e->term, &fresh);
		if (fresh) {
			*held = h;
		} else if (*held != h) {
			sim_fail(w, "log matching: n%llu appends an entry at %llu/%llu whose content "
			            "differs from another node's entry at %llu/%llu",
			         id, (unsigned long long)e->index, (unsigned long long)e->term,
			         (unsigned long long)e->index, (unsigned long long)e->term);
			return;
		}
	}
}

/* --- the committed log -------------------------------------------------------- */

static const char *conf_op_name(hp_conf_op op)
{
	switch (op) {
	case HP_CONF_ADD_LEARNER:
		return "add learner";
	case HP_CONF_PROMOTE:
		return "promote";
	case HP_CONF_REMOVE:
		return "remove";
	}
	return "?";
}

void sim_check_committed(sim_world *w, sim_replica *r, const hp_entry *e, bool is_cmd,
                         const sim_kv_result *res)
{
	sim_check *c = &w->check[r->group_slot];
	unsigned long long id = (unsigned long long)r->node->id;
	uint64_t h = sim_kv_hash_entry(e->type, e->data, e->size_bytes);
	if (e->index <= c->commit_count) {
		const sim_check_commit *k = &c->commits[e->index - 1];
		if (k->term != e->term || k->hash != h) {
			sim_fail(w, "committed entry changed: n%llu applies %llu/%llu, but %llu/%llu was "
			            "committed there%s",
			         id, (unsigned long long)e->index, (unsigned long long)e->term,
			         (unsigned long long)e->index, (unsigned long long)k->term,
			         k->term == e->term ? " (same term, different content)" : "");
			return;
		}
		if (k->state_hash != r->kv.hash) {
			sim_fail(w, "state machines diverge: n%llu's state after applying %llu differs "
			            "from another replica's",
			         id, (unsigned long long)e->index);
			return;
		}
		return;
	}
	if (e->index != c->commit_count + 1) {
		sim_fail(w, "n%llu applies %llu, but only %llu entries are known committed", id,
		         (unsigned long long)e->index, (unsigned long long)c->commit_count);
		return;
	}
	if (c->commit_count == c->commit_capacity) {
		size_t capacity = c->commit_capacity ? c->commit_capacity * 2 : 1024;
		RP_CHECK(capacity <= CHECK_COMMITS_MAX);
		sim_check_commit *commits = realloc(c->commits, capacity * sizeof(*commits));
		RP_CHECK(commits != NULL);
		c->commits = commits;
		c->commit_capacity = capacity;
	}
	sim_check_commit *k = &c->commits[c->commit_count++];
	memset(k, 0, sizeof(*k));
	k->term = e->term;
	k->hash = h;
	k->state_hash = r->kv.hash;
	k->max_term = c->max_term;
	k->is_cmd = is_cmd;
	if (is_cmd) {
		k->res = *res;
		sim_kv_cmd cmd;
		if (sim_kv_cmd_decode(e->data, e->size_bytes, &cmd) == 0)
			sim_client_first_apply(w, &cmd, e->index, res);
	}
	w->stats.entries_committed = c->commit_count;
	if (e->type == HP_ENTRY_CONF) {
		hp_conf_op op = 0;
		hp_id who = 0;
		if (hp_conf_change_decode(e->data, e->size_bytes, &op, &who) == 0) {
			sim_trace(w, "committed %llu/%llu: conf change: %s n%llu",
			          (unsigned long long)e->index, (unsigned long long)e->term,
			          conf_op_name(op), (unsigned long long)who);
			sim_narrate(w, "membership change committed: %s n%llu", conf_op_name(op),
			            (unsigned long long)who);
		} else {
			sim_trace(w, "committed %llu/%llu: the whole membership (%u voters, %u learners)",
			          (unsigned long long)e->index, (unsigned long long)e->term,
			          r->kv.conf.voter_count, r->kv.conf.learner_count);
		}
	}
}

void sim_check_snapshot(sim_world *w, sim_replica *r, const char *how)
{
	sim_check *c = &w->check[r->group_slot];
	uint64_t s = r->kv.applied;
	if (s == 0)
		return;
	if (s > c->commit_count) {
		sim_fail(w, "n%llu: %s snapshot at %llu is beyond the committed log (%llu)",
		         (unsigned long long)r->node->id, how, (unsigned long long)s,
		         (unsigned long long)c->commit_count);
		return;
	}
	const sim_check_commit *k = &c->commits[s - 1];
	if (k->term != r->kv.applied_term || k->state_hash != r->kv.hash)
		sim_fail(w, "n%llu: %s snapshot at %llu/%llu differs from the committed state there",
		         (unsigned long long)r->node->id, how, (unsigned long long)s,
		         (unsigned long long)r->kv.applied_term);
}

/* --- per-node status ------------------------------------------------------------ */

static void check_record_leader(sim_world *w, sim_replica *r, const hp_status *st)
{
	sim_check *c = &w->check[r->group_slot];
	unsigned long long id = (unsigned long long)st->id;
	uint64_t term = st->term;
	if (term >= c->term_capacity) {
		size_t capacity = c->term_capacity ? c->term_capacity : 256;
		while (capacity <= term)
			capacity *= 2;
		RP_CHECK(capacity <= CHECK_TERMS_MAX);
		hp_id *tl = realloc(c->term_leader, capacity * sizeof(*tl));
		RP_CHECK(tl != NULL);
		memset(tl + c->term_capacity, 0, (capacity - c->term_capacity) * sizeof(*tl));
		c->term_leader = tl;
		c->term_capacity = capacity;
	}
	if (c->term_leader[term] != 0 && c->term_leader[term] != st->id) {
		sim_fail(w, "election safety: n%llu and n%llu both lead term %llu",
		         (unsigned long long)c->term_leader[term], id, (unsigned long long)term);
		return;
	}
	c->term_leader[term] = st->id;
	c->elections++;
	w->stats.leader_changes++;
	sim_trace(w, "n%llu becomes LEADER of term %llu (log %llu/%llu, commit %llu, lease %s)", id,
	          (unsigned long long)term, (unsigned long long)st->last_index,
	          (unsigned long long)st->last_term, (unsigned long long)st->commit,
	          st->lease_valid ? "valid" : "not yet valid");
	sim_narrate(w, "n%llu is elected leader for term %llu", id, (unsigned long long)term);

	/* Leader completeness: every entry committed while the cluster's terms
	 * were all below this one must be in this leader's log. */
	if (st->snapshot_index > c->commit_count) {
		sim_fail(w, "n%llu leads term %llu with a snapshot at %llu beyond the committed log "
		            "(%llu)",
		         id, (unsigned long long)term, (unsigned long long)st->snapshot_index,
		         (unsigned long long)c->commit_count);
		return;
	}
	if (st->snapshot_index && c->commits[st->snapshot_index - 1].term != st->snapshot_term) {
		sim_fail(w, "leader completeness: n%llu leads term %llu from a snapshot %llu/%llu that "
		            "is not the committed entry there (term %llu)",
		         id, (unsigned long long)term, (unsigned long long)st->snapshot_index,
		         (unsigned long long)st->snapshot_term,
		         (unsigned long long)c->commits[st->snapshot_index - 1].term);
		return;
	}
	for (uint64_t i = st->snapshot_index + 1; i <= c->commit_count; i++) {
		const sim_check_commit *k = &c->commits[i - 1];
		if (k->max_term >= term)
			continue;
		uint64_t have = hp_log_term(r->core, i);
		if (have != k->term) {
			sim_fail(w, "leader completeness: n%llu leads term %llu without committed entry "
			            "%llu/%llu (its log has term %llu there, last %llu/%llu)",
			         id, (unsigned long long)term, (unsigned long long)i,
			         (unsigned long long)k->term, (unsigned long long)have,
			         (unsigned long long)st->last_index, (unsigned long long)st->last_term);
			return;
		}
	}
}

static void status_prev_keep(const hp_status *st, sim_status_prev *prev)
{
	prev->role = st->role;
	prev->term = st->term;
	prev->commit = st->commit;
	prev->leader = st->leader;
	prev->lease_holder = st->lease_holder;
	prev->lease_until_us = st->lease_until_us;
	prev->promise_until_us = st->promise_until_us;
	prev->conf_index = st->conf_index;
	RP_CHECK(st->conf.voter_count <= HP_MAX_VOTERS);
	prev->voter_count = st->conf.voter_count;
	for (uint32_t i = 0; i < st->conf.voter_count; i++)
		prev->voters[i] = st->conf.voters[i];
}

/* The report of a status that breaks one of the core's claims (out of
 * the way of the checks, which pass after nearly every event). */
static void __attribute__((noinline, cold))
check_status_bad(sim_world *w, sim_replica *r, const hp_status *st, const char *bad)
{
	sim_fail(w, "n%llu status: %s (term %llu, role %s, commit %llu, applied %llu/%llu, "
	            "log %llu..%llu, stable %llu, snapshot %llu)",
	         (unsigned long long)r->node->id, bad, (unsigned long long)st->term,
	         hp_role_name(st->role), (unsigned long long)st->commit,
	         (unsigned long long)st->applied, (unsigned long long)r->kv.applied,
	         (unsigned long long)st->first_index, (unsigned long long)st->last_index,
	         (unsigned long long)st->stable_index, (unsigned long long)st->snapshot_index);
}

/* The status st just read from r's core, against the previous one (old:
 * NULL if none). */
static void check_status(sim_world *w, sim_replica *r, const sim_status_prev *old,
                         const hp_status *st)
{
	sim_check *c = &w->check[r->group_slot];
	unsigned long long id = (unsigned long long)r->node->id;
	const char *bad = NULL;
	if (st->id != r->node->id)
		bad = "status.id is not the node's id";
	else if (st->commit > st->last_index)
		bad = "commit > last_index";
	else if (st->applied > st->commit)
		bad = "applied > commit";
	else if (st->applied != r->kv.applied)
		bad = "applied differs from what its ready batches handed out";
	else if (st->first_index != st->snapshot_index + 1)
		bad = "first_index != snapshot_index + 1";
	else if (st->snapshot_index > st->applied)
		bad = "snapshot_index > applied";
	else if (st->stable_index > st->last_index)
		bad = "stable_index > last_index";
	else if (st->role == HP_LEADER && st->leader != st->id)
		bad = "a leader that names another leader";
	else if (st->lease_valid && st->role != HP_LEADER)
		bad = "a valid lease on a non-leader";
	else if (st->term < r->dur_hs.term)
		bad = "term below its durable term";
	else if (st->corrupt)
		bad = "the core reports corruption";
	else if (old && st->term < old->term)
		bad = "term went backwards";
	else if (old && st->commit < old->commit)
		bad = "commit went backwards";
	if (bad) {
		check_status_bad(w, r, st, bad);
		return;
	}
	if (st->term > c->max_term)
		c->max_term = st->term;

	/* Leader commit rule (Raft dissertation 3.6.2): while a node leads a
	 * term, its commit index only moves onto an entry of that term (an
	 * older entry is committed only indirectly, below one). */
	if (old && old->role == HP_LEADER && st->role == HP_LEADER && old->term == st->term &&
	    st->commit > old->commit) {
		uint64_t t = st->commit == st->snapshot_index ? st->snapshot_term
		                                              : hp_log_term(r->core, st->commit);
		if (t != st->term) {
			sim_fail(w, "leader commit rule: n%llu, leading term %llu, moved its commit from %llu "
			            "to %llu, an entry of term %llu",
			         id, (unsigned long long)st->term, (unsigned long long)old->commit,
			         (unsigned long long)st->commit, (unsigned long long)t);
			return;
		}
	}

	bool became_leader = st->role == HP_LEADER &&
	                     (old == NULL || old->role != HP_LEADER || old->term != st->term);
	if (became_leader) {
		check_record_leader(w, r, st);
		if (w->failed)
			return;
	}
	if (w->trace && old) {
		if (old->role != st->role && st->role != HP_LEADER)
			sim_trace(w, "n%llu %s -> %s (term %llu)", id, hp_role_name(old->role),
			          hp_role_name(st->role), (unsigned long long)st->term);
		else if (old->term != st->term && st->role != HP_LEADER)
			sim_trace(w, "n%llu term %llu -> %llu (%s)", id, (unsigned long long)old->term,
			          (unsigned long long)st->term, hp_role_name(st->role));
		if (old->lease_holder != st->lease_holder)
			sim_trace(w, "n%llu promises its lease to n%llu (until local %llu)", id,
			          (unsigned long long)st->lease_holder,
			          (unsigned long long)st->promise_until_us);
		if (old->leader != st->leader && st->role != HP_LEADER)
			sim_trace(w, "n%llu follows leader n%llu", id, (unsigned long long)st->leader);
		if (st->role == HP_LEADER && st->commit > r->commit_traced)
			sim_trace(w, "n%llu commit -> %llu", id, (unsigned long long)st->commit);
		if (old->conf_index != st->conf_index)
			sim_trace(w, "n%llu conf at %llu: %u voters, %u learners", id,
			          (unsigned long long)st->conf_index, st->conf.voter_count,
			          st->conf.learner_count);
	}
	if (old && old->role != HP_CANDIDATE && st->role == HP_CANDIDATE)
		sim_narrate(w, "n%llu asks for votes and a lease for term %llu", id,
		            (unsigned long long)st->term);
	if (old && old->role == HP_LEADER && st->role != HP_LEADER)
		sim_narrate(w, "n%llu steps down (term %llu, now %s)", id, (unsigned long long)st->term,
		            hp_role_name(st->role));
	if (st->commit > r->commit_traced)
		r->commit_traced = st->commit;
}

/* --- leases, in real time ---------------------------------------------------------- */

/*
 * The check runs after every event, but a node's lease and promise bounds
 * change only when its status does, and its clock's rate only now and
 * then: in between, "the clock reads below until_us" is "real time is
 * below a fixed deadline".  So each replica keeps the two bounds it last
 * saw with their real deadlines (sim_clock_real_at, exact), recomputed
 * when a bound or the clock's rate changed, and the check compares
 * integers.  The lease bound is the core's own: st is refreshed after
 * every call into the core, and hp_lease_valid is role == leader && local
 * now < lease_until (the core's clock never runs ahead of the node's).
 */
static void check_ends_recompute(const sim_world *w, const sim_node *n, sim_replica *r)
{
	r->lease_until_seen = r->st.lease_until_us;
	r->lease_end_us = sim_clock_real_at(&n->clock, w->now_us, r->lease_until_seen);
	r->promise_until_seen = r->st.promise_until_us;
	r->promise_end_us = sim_clock_real_at(&n->clock, w->now_us, r->promise_until_seen);
	r->ends_clock_generation = n->clock.generation;
	r->ends_valid = true;
}

static inline void check_ends_refresh(const sim_world *w, const sim_node *n, sim_replica *r)
{
	if (!r->ends_valid || r->ends_clock_generation != n->clock.generation ||
	    r->lease_until_seen != r->st.lease_until_us ||
	    r->promise_until_seen != r->st.promise_until_us)
		check_ends_recompute(w, n, r);
}

static inline sim_node *check_node_by_id(const sim_world *w, hp_id id)
{
	return id == 0 || id > w->node_count ? NULL : w->nodes[id - 1];
}

/*
 * Whether the voters of conf that promise `holder` leave too few others
 * to form a quorum: a voter counts as promising if it is the holder
 * itself, a live voter whose promise to the holder has not expired on its
 * own clock, or a crashed voter whose durable hard state promises the
 * holder (it restores a fresh promise when it restarts).  With an odd
 * number of voters this is "a quorum promises"; with an even number, half
 * suffices (no disjoint quorum exists).
 */
static bool check_promises(sim_world *w, uint32_t g, const sim_node *holder, const hp_conf *conf,
                           uint64_t *until)
{
	hp_id hid = holder->id;
	uint32_t promised = 0;
	for (uint32_t i = 0; i < conf->voter_count; i++) {
		hp_id vid = conf->voters[i];
		if (vid == hid) {
			promised++;
			continue;
		}
		sim_node *v = check_node_by_id(w, vid);
		if (v == NULL)
			continue;
		sim_replica *vr = &v->rep[g];
		if (v->up) {
			if (!vr->st_valid || vr->st.lease_holder != hid)
				continue;
			check_ends_refresh(w, v, vr);
			if (w->now_us < vr->promise_end_us) {
				promised++;
				if (vr->promise_end_us < *until)
					*until = vr->promise_end_us;
			}
		} else if (vr->dur_hs.lease_holder == hid) {
			promised++;
		}
	}
	uint32_t quorum = conf->voter_count / 2 + 1;
	return conf->voter_count - promised < quorum;
}

static void check_lease_explain(sim_world *w, uint32_t g, sim_node *n, const hp_status *st,
                                const hp_conf *conf, const char *which)
{
	char who[320];
	size_t len = 0;
	who[0] = 0;
	for (uint32_t k = 0; k < conf->voter_count && len < sizeof(who) - 64; k++) {
		sim_node *v = sim_node_by_id(w, conf->voters[k]);
		if (v == NULL)
			continue;
		const sim_replica *vr = &v->rep[g];
		int m;
		if (v == n)
			m = snprintf(who + len, sizeof(who) - len, " n%llu:self", (unsigned long long)v->id);
		else if (v->up)
			m = snprintf(who + len, sizeof(who) - len, " n%llu:holder=n%llu,left=%lldus",
			             (unsigned long long)v->id, (unsigned long long)vr->st.lease_holder,
			             (long long)(vr->st.promise_until_us - sim_node_now(w, v)));
		else
			m = snprintf(who + len, sizeof(who) - len, " n%llu:down,durable=n%llu",
			             (unsigned long long)v->id,
			             (unsigned long long)vr->dur_hs.lease_holder);
		if (m > 0)
			len += (size_t)m;
	}
	sim_fail(w, "lease safety: n%llu holds a valid lease (term %llu, until local %llu, now %llu) "
	            "but the voters of its %s configuration that do not promise it could form a "
	            "quorum:%s",
	         (unsigned long long)n->id, (unsigned long long)st->term,
	         (unsigned long long)st->lease_until_us, (unsigned long long)sim_node_now(w, n),
	         which, who);
}

/* Same voters (check_promises reads nothing else of a configuration). */
static bool check_same_voters(const hp_conf *a, const hp_conf *b)
{
	if (a->voter_count != b->voter_count)
		return false;
	for (uint32_t i = 0; i < a->voter_count; i++)
		if (a->voters[i] != b->voters[i])
			return false;
	return true;
}

/*
 * The verdict is memoized.  With its inputs fixed, time only shrinks the
 * set of valid leases and of promises, so a check that passed passes
 * again until the earliest deadline it counted on (a lease or a promise
 * that expires); the memo says so.  Whatever changes an input clears it:
 * a status refresh that changes a role, a promise's holder, a
 * configuration or a lease or promise bound (check_lease_inputs), a
 * node going up or down (its durable hard state counts while down), a
 * clock's rate, a new node.  Two changes leave it standing, because they
 * cannot turn a pass into a failure before the memo's deadline:
 *   - a live voter's promise bound moves later, to the same holder (the
 *     voters promising any node only gain one; the deadline the memo
 *     counted on for that promise is now early, which is conservative);
 *   - the memo's own lease holder moves its lease bound later (until the
 *     old bound nothing changes, and the memo's deadline is at or before
 *     the old bound, so the check runs in full by then).
 */
void sim_check_leases_changed(sim_world *w)
{
	w->lease_memo_valid = false;
}

/* Whether the voter lists a[0, count) and b[0, count) are the same. */
static bool check_voter_ids_same(const hp_id *a, const hp_id *b, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* After r's status was refreshed (old: the previous one, NULL if none):
 * clears the lease memo if anything the check reads of r changed. */
static void check_lease_inputs(sim_world *w, sim_replica *r, const sim_status_prev *old)
{
	const hp_status *st = &r->st;
	bool lease_kept = old != NULL && (old->lease_until_us == st->lease_until_us ||
	                                  (st->lease_until_us > old->lease_until_us &&
	                                   st->role == HP_LEADER && w->lease_memo_valid &&
	                                   w->lease_memo_holder[r->group_slot] == r->node->id));
	bool same = old != NULL && old->role == st->role && lease_kept &&
	            old->lease_holder == st->lease_holder &&
	            st->promise_until_us >= old->promise_until_us &&
	            old->voter_count == st->conf.voter_count &&
	            check_voter_ids_same(old->voters, st->conf.voters, old->voter_count) &&
	            r->kv_voter_count_seen == r->kv.conf.voter_count &&
	            check_voter_ids_same(r->kv_voters_seen, r->kv.conf.voters,
	                                 r->kv_voter_count_seen);
	if (!same) {
		RP_CHECK(r->kv.conf.voter_count <= HP_MAX_VOTERS);
		r->kv_voter_count_seen = r->kv.conf.voter_count;
		for (uint32_t i = 0; i < r->kv.conf.voter_count; i++)
			r->kv_voters_seen[i] = r->kv.conf.voters[i];
		w->lease_memo_valid = false;
	}
}

bool sim_check_refresh(sim_world *w, sim_replica *r, uint64_t now)
{
	sim_status_prev old;
	bool had = r->st_valid;
	if (had)
		status_prev_keep(&r->st, &old);
	hp_get_status(r->core, now, &r->st);
	r->st_valid = true;
	check_status(w, r, had ? &old : NULL, &r->st);
	check_lease_inputs(w, r, had ? &old : NULL);
	return had && old.role == HP_LEADER;
}

void sim_check_leases(sim_world *w)
{
	if (w->lease_memo_valid && w->now_us < w->lease_memo_until_us)
		return;
	uint64_t until = UINT64_MAX;
	hp_id holder_ids[SIM_GROUP_COUNT];
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		holder_ids[g] = 0;
		sim_node *holder = NULL;
		for (uint32_t i = 0; i < w->node_count; i++) {
			sim_node *n = w->nodes[i];
			if (!n->up)
				continue;
			sim_replica *r = &n->rep[g];
			if (!r->st_valid || r->st.role != HP_LEADER)
				continue;
			/* r->st was refreshed when the node was last touched; only
			 * lease validity moves with time alone. */
			check_ends_refresh(w, n, r);
			if (w->now_us >= r->lease_end_us)
				continue;
			if (holder != NULL) {
				sim_fail(w, "lease safety: n%llu and n%llu both hold a valid lease",
				         (unsigned long long)holder->id, (unsigned long long)n->id);
				return;
			}
			holder = n;
			holder_ids[g] = n->id;
			if (r->lease_end_us < until)
				until = r->lease_end_us;
			/* A competitor may use the latest configuration or the one
			 * before it (the applied one, during a change). */
			if (!check_promises(w, g, n, &r->st.conf, &until)) {
				check_lease_explain(w, g, n, &r->st, &r->st.conf, "latest");
				return;
			}
			if (!check_same_voters(&r->st.conf, &r->kv.conf) &&
			    !check_promises(w, g, n, &r->kv.conf, &until)) {
				check_lease_explain(w, g, n, &r->st, &r->kv.conf, "applied");
				return;
			}
		}
	}
	w->lease_memo_valid = true;
	w->lease_memo_until_us = until;
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++)
		w->lease_memo_holder[g] = holder_ids[g];
}

/* --- pairwise log matching ------------------------------------------------------------ */

void sim_check_log_matching(sim_world *w)
{
	for (uint32_t a = 0; a < w->node_count; a++) {
		sim_node *na = w->nodes[a];
		if (!na->up || !na->rep[0].st_valid)
			continue;
		for (uint32_t b = a + 1; b < w->node_count; b++) {
			sim_node *nb = w->nodes[b];
			if (!nb->up || !nb->rep[0].st_valid)
				continue;
			const hp_status *sa = &na->rep[0].st, *sb = &nb->rep[0].st;
			uint64_t lo = sa->first_index > sb->first_index ? sa->first_index : sb->first_index;
			uint64_t hi = sa->last_index < sb->last_index ? sa->last_index : sb->last_index;
			uint64_t i = hi;
			for (; i >= lo && i > 0; i--) {
				uint64_t ta = hp_log_term(na->rep[0].core, i);
				if (ta != 0 && ta == hp_log_term(nb->rep[0].core, i))
					break;
			}
			if (i < lo || i == 0)
				continue;
			uint64_t top = i, top_term = hp_log_term(na->rep[0].core, i);
			for (uint64_t j = top; j >= lo && j > 0; j--) {
				uint64_t ta = hp_log_term(na->rep[0].core, j);
				uint64_t tb = hp_log_term(nb->rep[0].core, j);
				if (ta != tb) {
					sim_fail(w, "log matching: n%llu and n%llu agree at %llu/%llu but differ "
					            "at %llu (terms %llu and %llu)",
					         (unsigned long long)na->id, (unsigned long long)nb->id,
					         (unsigned long long)top, (unsigned long long)top_term,
					         (unsigned long long)j, (unsigned long long)ta,
					         (unsigned long long)tb);
					return;
				}
			}
		}
	}
}

/* --- linearizability ------------------------------------------------------------------ */

bool sim_check_linearizable(sim_world *w)
{
	lc_result res;
	memset(&res, 0, sizeof(res));
	int rc = lc_check(w->hist, w->hist_count, 0, &res);
	w->stats.lincheck_states = res.states_explored;
	if (rc != 0) {
		sim_fail(w, "linearizability checker error: %s", lc_strerror(rc));
		return false;
	}
	if (res.exhausted) {
		w->stats.lincheck_exhausted = true;
		sim_trace(w, "lincheck: budget exhausted on key %llu (verdict unknown there)",
		          (unsigned long long)res.exhausted_key);
	}
	if (!res.linearizable) {
		if (w->out) {
			fprintf(w->out, "history of key %llu:\n", (unsigned long long)res.bad_key);
			lc_print_key_history(w->out, w->hist, w->hist_count, res.bad_key);
		}
		sim_fail(w, "the client history is not linearizable (key %llu, %zu ops)",
		         (unsigned long long)res.bad_key, w->hist_count);
		return false;
	}
	return true;
}

/* --- nothing acknowledged is lost ---------------------------------------------- */

/*
 * At the end of a run: the leader's log holds every entry any node ever
 * applied (the global committed log), with the same term and content, or
 * covers it with its snapshot.  With at most f corrupt or replaced nodes
 * no acknowledged entry may be missing, whatever the disks tore or lost.
 */
void sim_check_nothing_lost(sim_world *w, sim_node *leader)
{
	if (leader == NULL || !leader->up)
		return;
	for (uint32_t g = 0; g < SIM_GROUP_COUNT; g++) {
		const sim_check *c = &w->check[g];
		sim_replica *r = &leader->rep[g];
		hp_status st;
		hp_get_status(r->core, sim_node_now(w, leader), &st);
		if (st.last_index < c->commit_count) {
			sim_fail(w, "acknowledged entries lost: leader n%llu's log ends at %llu but %zu "
			            "entries were committed",
			         (unsigned long long)leader->id, (unsigned long long)st.last_index,
			         c->commit_count);
			return;
		}
		for (uint64_t i = st.snapshot_index + 1; i <= c->commit_count; i++) {
			const sim_check_commit *want = &c->commits[i - 1];
			const hp_entry *e = hp_log_entry(r->core, i);
			if (e == NULL || e->term != want->term ||
			    sim_kv_hash_entry(e->type, e->data, e->size_bytes) != want->hash) {
				sim_fail(w, "acknowledged entry lost: leader n%llu's entry at %llu is not the "
				            "committed %llu/%llu",
				         (unsigned long long)leader->id, (unsigned long long)i,
				         (unsigned long long)i, (unsigned long long)want->term);
				return;
			}
		}
	}
}
