/*
 * harpoon.c — one node of one Harpoon consensus group.
 *
 * Harpoon is Raft's log replication (Raft dissertation ch. 3) with the
 * election replaced by leases that are not preempted (docs/harpoon.md):
 *
 *  - A follower promises its leader a lease; while the promise lasts
 *    (lease_us of its own clock since the leader's last message) it
 *    refuses every other candidate, whatever that candidate's term, and
 *    does not even adopt the candidate's term.  A node cut off from the
 *    leader while its peers still hear the leader can therefore neither
 *    win nor disturb anyone (no churn under partial partitions).
 *  - A candidate first runs a pre-request round that changes no
 *    persistent state, so a node that cannot win cannot inflate terms.
 *  - The leader dates its lease from the send time of the request a
 *    quorum answered, shortened by the clock-drift margin, renews it with
 *    every append round, and steps down (stopping all leader traffic) the
 *    moment it fails to renew it.
 *
 * Every function here is deterministic: time comes in as an argument,
 * randomness from cfg.rand, and all output waits in the ready batch.
 * Branches name the property they protect: [ELECTION], [LEASE], [LOG]
 * (log matching / leader completeness), [COMMIT], [NO-CHURN], [LIVENESS],
 * [DURABLE] (nothing leaves before what it claims is persisted).
 */
#include "harpoon/harpoon.h"

#include <stdlib.h>
#include <string.h>

#include "harpoon/hp_log.h"
#include "util/check.h"

enum { MAX_INFLIGHT = 64 };

typedef enum { PEER_PROBE, PEER_REPLICATE, PEER_SNAPSHOT } peer_state;

typedef struct {
	uint64_t last_index; /* last entry index carried by the append */
	uint64_t sent_us;
} inflight;

/* The leader's view of one other member (voter or learner). */
typedef struct {
	hp_id id;
	peer_state state;
	uint64_t match; /* highest index known durable on the peer */
	uint64_t progress_us; /* when an answer last raised match (0: never) */
	uint64_t next;  /* next index to send; match < next */
	uint64_t probe_sent_us; /* PROBE: when the outstanding probe left; 0 = none */
	inflight infl[MAX_INFLIGHT]; /* REPLICATE: appends not yet acknowledged */
	uint32_t infl_head;
	uint32_t infl_count;
	bool acked; /* acked in this term (ack_send_us valid) */
	uint64_t ack_send_us; /* newest of our send times it answered, this term */
	uint64_t snap_index;   /* SNAPSHOT: which snapshot */
	uint64_t snap_offset;  /* SNAPSHOT: bytes it holds durably */
	uint64_t snap_sent_us; /* SNAPSHOT: when the outstanding chunk left */
} peer;

typedef struct {
	hp_msg m;
	uint64_t first;      /* entries: first index (filled at take) */
	uint64_t log_epoch;  /* entries: the log's epoch when queued */
	uint8_t *snap_buf;   /* owned chunk data */
} out_msg;

typedef struct {
	out_msg *v;
	size_t count;
	size_t capacity;
} out_vec;

typedef struct {
	uint64_t index; /* entry that set this conf (or the snapshot index) */
	hp_conf conf;
} conf_rec;

typedef struct {
	uint64_t seq;
	uint64_t last_index;
} seq_rec;

typedef struct {
	uint64_t ctx;
	uint64_t read_us; /* leader clock when the read arrived */
} pending_read;

struct hp_node {
	hp_config cfg;
	uint64_t lease_leader_us; /* lease_us shortened by the drift margin */
	uint64_t now;

	/* Persistent (hard) state.  Invariant: term >= log's last term. */
	uint64_t term;
	hp_id vote;
	hp_id lease_holder;
	uint64_t commit;
	bool hs_dirty;

	/* Volatile. */
	hp_role role;
	hp_id leader;
	uint64_t promise_until; /* [LEASE] refuse others before this */
	uint64_t election_delay;
	uint64_t backoff_until;
	uint64_t election_started;
	hp_id granted[HP_MAX_VOTERS];
	uint32_t granted_count;
	uint64_t campaign_send_us;
	hp_id campaign_transfer_from;
	uint64_t campaign_transfer_term;
	uint64_t pull_sent_us;
	uint64_t needed_until; /* a non-voter asked for its vote campaigns until then */

	hp_log log;
	uint64_t log_epoch; /* bumped whenever entries are removed or replaced */
	conf_rec *confs;    /* history; last = current; first index <= snapshot */
	size_t conf_count;
	size_t conf_capacity;

	/* Leader. */
	peer peers[HP_MAX_MEMBERS];
	uint32_t peer_count;
	uint64_t lease_until;
	uint64_t term_start_index; /* the leader's no-op */
	uint64_t last_heartbeat_us;
	bool heartbeat_due;
	bool bcast_pending;
	hp_id transfer_target;
	uint64_t transfer_deadline;
	pending_read *reads;
	size_t read_head;
	size_t read_count;
	hp_read_state *ready_reads;
	size_t ready_read_count;

	/* Persistence tracking. */
	uint64_t unstable_from;    /* first index not yet handed out to persist */
	uint64_t pending_truncate; /* 0 = none */
	uint64_t stable;           /* last index known durable */
	uint64_t applied;          /* last index handed out in rd.committed */
	uint64_t applied_bytes;    /* entry data in (log.snap_index, applied]: what
	                              a compaction at applied would free */
	uint32_t hint_extra_pct;   /* the bounds' share of compact_hint_jitter_pct */
	uint64_t ready_seq;
	seq_rec *seqs;
	size_t seq_count;
	size_t seq_capacity;

	/* Snapshot reception (follower). */
	uint64_t rx_snap_index;
	uint64_t rx_offset;
	bool chunk_pending;
	hp_snap_chunk chunk;
	uint8_t *chunk_buf;
	uint8_t *chunk_buf_taken;

	out_vec out;       /* send at once */
	out_vec out_after; /* send after the ready is persisted [DURABLE] */
	out_vec taken;     /* buffers of the last ready, freed at the next take */
	hp_msg *rd_msgs;
	size_t rd_msgs_capacity;
	hp_msg *rd_after;
	size_t rd_after_capacity;
	bool corrupt;
};

/* ---------------------------------------------------------------- names */

const char *hp_strerror(int rc)
{
	switch (rc) {
	case HP_OK: return "ok";
	case HP_ERR_NOT_LEADER: return "not the leader";
	case HP_ERR_BUSY: return "too many requests in flight";
	case HP_ERR_TOO_LARGE: return "entry too large";
	case HP_ERR_TRANSFERRING: return "leadership transfer in progress";
	case HP_ERR_CONF_PENDING: return "a membership change is pending";
	case HP_ERR_INVALID: return "invalid argument";
	case HP_ERR_NOT_CAUGHT_UP: return "learner has not caught up";
	case HP_ERR_NOMEM: return "out of memory";
	case HP_ERR_CORRUPT: return "state is corrupt";
	}
	return "unknown error";
}

const char *hp_role_name(hp_role role)
{
	switch (role) {
	case HP_FOLLOWER: return "follower";
	case HP_PRE_CANDIDATE: return "pre-candidate";
	case HP_CANDIDATE: return "candidate";
	case HP_LEADER: return "leader";
	}
	return "?";
}

const char *hp_msg_type_name(int type)
{
	switch (type) {
	case HP_MSG_PRE_LEASE_REQ: return "PreLeaseReq";
	case HP_MSG_PRE_LEASE_RESP: return "PreLeaseResp";
	case HP_MSG_LEASE_REQ: return "LeaseReq";
	case HP_MSG_LEASE_RESP: return "LeaseResp";
	case HP_MSG_APPEND: return "Append";
	case HP_MSG_APPEND_RESP: return "AppendResp";
	case HP_MSG_SNAP_CHUNK: return "SnapChunk";
	case HP_MSG_SNAP_RESP: return "SnapResp";
	case HP_MSG_TIMEOUT_NOW: return "TimeoutNow";
	case HP_MSG_PULL_REQ: return "PullReq";
	case HP_MSG_PULL_RESP: return "PullResp";
	}
	return "?";
}

void hp_config_default(hp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->lease_us = 1000000;
	cfg->drift_ppm = 10000;
	cfg->heartbeat_us = 100000;
	cfg->election_jitter_us = 300000;
	cfg->election_timeout_us = 500000;
	cfg->max_inflight_appends = 8;
	cfg->max_batch_entries = 256;
	cfg->max_batch_bytes = 1 << 20;
	cfg->max_entry_bytes = 1 << 20;
	cfg->max_uncommitted_entries = 10000;
	cfg->max_pending_reads = 10000;
	cfg->snapshot_chunk_bytes = 64 * 1024;
	cfg->compact_hint_entries = 10000;
	cfg->promote_lag_entries = 100;
	cfg->lease_reads = true;
}

/* ------------------------------------------------------------- helpers */

static const hp_conf *conf_current(const hp_node *n)
{
	RP_CHECK(n->conf_count > 0);
	return &n->confs[n->conf_count - 1].conf;
}

static uint32_t quorum(const hp_node *n) { return conf_current(n)->voter_count / 2 + 1; }

static bool is_voter(const hp_node *n, hp_id id) { return hp_conf_is_voter(conf_current(n), id); }

/* [LIVENESS] Voters campaign, and so does a non-voter while it is needed
 * (needed_until): it refused a vote because its own log is more up to
 * date (refuse_as_non_voter).  Only a node whose configuration counts it
 * as a voter asks it, so that node holds a change this one lacks (a
 * promotion, or its own removal on a node still on the old
 * configuration) and cannot win without its vote, which its longer log
 * refuses; and its newer entries, uncommitted, cannot always be pulled
 * (they conflict with the asker's).  It counts votes in its own newest
 * configuration, its own excluded, as any candidate does, and like a
 * leader that removed itself it leads until its newest configuration
 * commits, then hands over (transfer_try). */
static bool may_campaign(const hp_node *n)
{
	return is_voter(n, n->cfg.id) || n->now < n->needed_until;
}

/* A non-voter refuses a candidate whose log is behind its own: stand for
 * election for a while (may_campaign).  The window outlasts the gap
 * between the candidate's rounds (an election timeout and its jitter, plus
 * a lease for promises to lapse), so a candidate that keeps asking keeps
 * it open. */
static void refuse_as_non_voter(hp_node *n)
{
	if (is_voter(n, n->cfg.id))
		return;
	n->needed_until = n->now + n->cfg.lease_us + n->cfg.election_timeout_us +
	                  n->cfg.election_jitter_us;
}

static peer *peer_find(hp_node *n, hp_id id)
{
	for (uint32_t i = 0; i < n->peer_count; i++)
		if (n->peers[i].id == id)
			return &n->peers[i];
	return NULL;
}

static uint64_t draw(hp_node *n, uint64_t bound)
{
	if (bound == 0 || n->cfg.rand == NULL)
		return 0;
	return n->cfg.rand(n->cfg.rand_ctx) % bound;
}

/* A fresh share of the compaction bounds' jitter (hp_compact_hint). */
static void hint_redraw(hp_node *n)
{
	n->hint_extra_pct = (uint32_t)draw(n, n->cfg.compact_hint_jitter_pct + 1u);
}

static bool log_up_to_date(const hp_node *n, uint64_t last_index, uint64_t last_term)
{
#ifdef HP_MUTANT_GRANT_SHORTER_LOG
	(void)n;
	(void)last_index;
	(void)last_term;
	return true; /* mutant: grants leases to candidates with shorter logs */
#else
	uint64_t my_term = hp_log_last_term(&n->log);
	return last_term > my_term ||
	       (last_term == my_term && last_index >= hp_log_last_index(&n->log));
#endif
}

static bool lease_valid(const hp_node *n)
{
	return n->role == HP_LEADER && n->now < n->lease_until;
}

static int out_push(out_vec *v, const hp_msg *m, uint64_t first, uint64_t epoch,
                    uint8_t *snap_buf)
{
	if (v->count == v->capacity) {
		size_t cap = v->capacity ? v->capacity * 2 : 16;
		out_msg *grown = realloc(v->v, cap * sizeof(*grown));
		if (!grown) {
			free(snap_buf);
			return HP_ERR_NOMEM;
		}
		v->v = grown;
		v->capacity = cap;
	}
	out_msg *o = &v->v[v->count++];
	o->m = *m;
	o->first = first;
	o->log_epoch = epoch;
	o->snap_buf = snap_buf;
	return 0;
}

static void out_clear(out_vec *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->v[i].snap_buf);
	v->count = 0;
}

static void msg_init(const hp_node *n, hp_msg *m, uint8_t type, hp_id to)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->group = n->cfg.group;
	m->from = n->cfg.id;
	m->to = to;
	m->term = n->term;
}

static void send(hp_node *n, const hp_msg *m) { (void)out_push(&n->out, m, 0, 0, NULL); }

/* [DURABLE] For messages that claim what this node has persisted. */
static void send_after_persist(hp_node *n, const hp_msg *m)
{
	(void)out_push(&n->out_after, m, 0, 0, NULL);
}

/* ------------------------------------------------------- configuration */

static int conf_push(hp_node *n, uint64_t index, const hp_conf *conf)
{
	if (n->conf_count == n->conf_capacity) {
		size_t cap = n->conf_capacity ? n->conf_capacity * 2 : 8;
		conf_rec *grown = realloc(n->confs, cap * sizeof(*grown));
		if (!grown)
			return HP_ERR_NOMEM;
		n->confs = grown;
		n->conf_capacity = cap;
	}
	n->confs[n->conf_count].index = index;
	n->confs[n->conf_count].conf = *conf;
	n->conf_count++;
	return 0;
}

/* The membership in force at index (the last change at or before it). */
static const hp_conf *conf_at(const hp_node *n, uint64_t index)
{
	for (size_t i = n->conf_count; i-- > 0;)
		if (n->confs[i].index <= index)
			return &n->confs[i].conf;
	return &n->confs[0].conf;
}

/* Keeps one progress record per other member, preserving known progress. */
static void peers_sync(hp_node *n)
{
	const hp_conf *c = conf_current(n);
	peer old[HP_MAX_MEMBERS];
	uint32_t old_count = n->peer_count;
	memcpy(old, n->peers, sizeof(old));
	n->peer_count = 0;
	hp_id ids[HP_MAX_MEMBERS];
	uint32_t id_count = 0;
	for (uint32_t i = 0; i < c->voter_count; i++)
		ids[id_count++] = c->voters[i];
	for (uint32_t i = 0; i < c->learner_count && id_count < HP_MAX_MEMBERS; i++)
		ids[id_count++] = c->learners[i];
	for (uint32_t i = 0; i < id_count; i++) {
		if (ids[i] == n->cfg.id)
			continue;
		peer *p = &n->peers[n->peer_count++];
		bool found = false;
		for (uint32_t j = 0; j < old_count; j++) {
			if (old[j].id == ids[i]) {
				*p = old[j];
				found = true;
				break;
			}
		}
		if (!found) {
			memset(p, 0, sizeof(*p));
			p->id = ids[i];
			p->state = PEER_PROBE;
			p->next = hp_log_last_index(&n->log) + 1;
		}
	}
}

/* Called after an entry is appended to the log: CONF entries take effect
 * on append, not on commit (Raft dissertation 4.1). */
static void conf_on_append(hp_node *n, const hp_entry *e)
{
	if (e->type != HP_ENTRY_CONF)
		return;
	hp_conf c = *conf_current(n);
	if (hp_conf_entry_apply(&c, e->data, e->size_bytes) != 0) {
		/* The leader validated it against the same history. */
		n->corrupt = true;
		return;
	}
	if (conf_push(n, e->index, &c) != 0)
		n->corrupt = true;
	peers_sync(n);
}

static void conf_on_truncate(hp_node *n, uint64_t from)
{
	size_t before = n->conf_count;
	while (n->conf_count > 1 && n->confs[n->conf_count - 1].index >= from)
		n->conf_count--;
	if (n->conf_count != before)
		peers_sync(n);
}

/* Drops history no longer needed once the log starts after `index`. */
static void conf_on_compact(hp_node *n, uint64_t index)
{
	size_t keep_from = 0;
	for (size_t i = 0; i < n->conf_count; i++)
		if (n->confs[i].index <= index)
			keep_from = i;
	if (keep_from > 0) {
		memmove(n->confs, n->confs + keep_from,
		        (n->conf_count - keep_from) * sizeof(*n->confs));
		n->conf_count -= keep_from;
	}
}

/* -------------------------------------------------------------- the log */

static void stable_clamp(hp_node *n, uint64_t last)
{
	if (n->stable > last)
		n->stable = last;
	for (size_t i = 0; i < n->seq_count; i++)
		if (n->seqs[i].last_index > last)
			n->seqs[i].last_index = last;
}

static void log_truncate(hp_node *n, uint64_t from)
{
	RP_CHECK(from > n->commit); /* [COMMIT] committed entries are never removed */
	hp_log_truncate(&n->log, from);
	n->log_epoch++;
	if (n->unstable_from > from || n->unstable_from == 0)
		n->unstable_from = from;
	if (n->pending_truncate == 0 || from < n->pending_truncate)
		n->pending_truncate = from;
	stable_clamp(n, from - 1);
	conf_on_truncate(n, from);
}

static int log_append(hp_node *n, uint64_t term, uint8_t type, const uint8_t *data,
                      uint32_t size_bytes)
{
	int rc = hp_log_append(&n->log, term, type, data, size_bytes);
	if (rc != 0)
		return rc;
	conf_on_append(n, hp_log_at(&n->log, hp_log_last_index(&n->log)));
	return 0;
}

/* Appends entries that follow prev (already matched), replacing any
 * conflicting suffix.  Returns the index of the last entry given. */
static uint64_t log_merge(hp_node *n, uint64_t prev, const hp_entry *entries,
                          uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const hp_entry *e = &entries[i];
		RP_CHECK(e->index == prev + 1 + i);
		if (e->index <= n->log.snap_index)
			continue; /* covered by our snapshot: committed, identical */
		uint64_t have = hp_log_term_at(&n->log, e->index);
		if (have == e->term && e->index <= hp_log_last_index(&n->log))
			continue; /* [LOG] same index and term: same entry */
		if (e->index <= hp_log_last_index(&n->log))
			log_truncate(n, e->index);
		if (log_append(n, e->term, e->type, e->data, e->size_bytes) != 0) {
			n->corrupt = true; /* out of memory: stop trusting this node */
			return e->index - 1;
		}
	}
	return prev + count;
}

static void set_commit(hp_node *n, uint64_t commit)
{
	if (commit > n->commit) {
		RP_CHECK(commit <= hp_log_last_index(&n->log) || commit <= n->log.snap_index);
		n->commit = commit;
		n->hs_dirty = true;
	}
}

/* ------------------------------------------------------------ role moves */

static void reads_drop(hp_node *n)
{
	n->read_count = 0;
	n->read_head = 0;
}

static void become_follower(hp_node *n, uint64_t term, hp_id leader)
{
	if (term > n->term) {
		n->term = term;
		n->vote = 0;
		n->hs_dirty = true;
	}
	if (n->role == HP_LEADER)
		reads_drop(n);
	n->role = HP_FOLLOWER;
	n->leader = leader;
	n->lease_until = 0;
	n->transfer_target = 0;
	n->campaign_transfer_from = 0;
	n->backoff_until = n->now;
	n->election_delay = draw(n, n->cfg.election_jitter_us);
}

/* [LEASE] Promise `holder` a lease of lease_us from now on our clock. */
static void promise(hp_node *n, hp_id holder)
{
	if (n->lease_holder != holder) {
		n->lease_holder = holder;
		n->hs_dirty = true;
	}
	n->promise_until = n->now + n->cfg.lease_us;
}

static bool promise_blocks(const hp_node *n, hp_id candidate)
{
	return n->lease_holder != 0 && n->lease_holder != candidate &&
	       n->now < n->promise_until;
}

static void peers_reset_acks(hp_node *n)
{
	for (uint32_t i = 0; i < n->peer_count; i++) {
		n->peers[i].acked = false;
		n->peers[i].ack_send_us = 0;
	}
}

static void become_leader(hp_node *n);

static bool granted_has(const hp_node *n, hp_id id)
{
	for (uint32_t i = 0; i < n->granted_count; i++)
		if (n->granted[i] == id)
			return true;
	return false;
}

static uint32_t granted_voters(const hp_node *n)
{
	uint32_t count = 0;
	for (uint32_t i = 0; i < n->granted_count; i++)
		count += is_voter(n, n->granted[i]);
	return count;
}

static void grant_record(hp_node *n, hp_id id)
{
	if (!granted_has(n, id) && n->granted_count < HP_MAX_VOTERS)
		n->granted[n->granted_count++] = id;
}

static void become_candidate(hp_node *n, hp_id transfer_from, uint64_t transfer_term)
{
	n->term++;
	n->vote = n->cfg.id;
	n->hs_dirty = true;
	promise(n, n->cfg.id); /* [LEASE] a candidate promises itself */
	n->role = HP_CANDIDATE;
	n->leader = 0;
	n->election_started = n->now;
	n->campaign_send_us = n->now;
	n->campaign_transfer_from = transfer_from;
	n->campaign_transfer_term = transfer_term;
	n->granted_count = 0;
	grant_record(n, n->cfg.id);
	peers_reset_acks(n);
	const hp_conf *c = conf_current(n);
	for (uint32_t i = 0; i < c->voter_count; i++) {
		if (c->voters[i] == n->cfg.id)
			continue;
		hp_msg m;
		msg_init(n, &m, HP_MSG_LEASE_REQ, c->voters[i]);
		m.log_index = hp_log_last_index(&n->log);
		m.log_term = hp_log_last_term(&n->log);
		m.send_us = n->campaign_send_us;
		m.transfer_from = transfer_from;
		m.transfer_term = transfer_term;
		send_after_persist(n, &m); /* [ELECTION] term and vote durable first */
	}
	if (granted_voters(n) >= quorum(n))
		become_leader(n);
}

static void become_pre_candidate(hp_node *n)
{
	n->role = HP_PRE_CANDIDATE;
	n->leader = 0;
	n->election_started = n->now;
	n->granted_count = 0;
	grant_record(n, n->cfg.id);
	const hp_conf *c = conf_current(n);
	for (uint32_t i = 0; i < c->voter_count; i++) {
		if (c->voters[i] == n->cfg.id)
			continue;
		hp_msg m;
		msg_init(n, &m, HP_MSG_PRE_LEASE_REQ, c->voters[i]);
		m.term = n->term + 1; /* the term it would campaign in */
		m.log_index = hp_log_last_index(&n->log);
		m.log_term = hp_log_last_term(&n->log);
		m.commit = n->commit;
		send(n, &m);
	}
	if (granted_voters(n) >= quorum(n))
		become_candidate(n, 0, 0);
}

/* [LEASE] The leader's lease ends lease_leader_us after the newest send
 * time that a quorum of voters has answered (itself counting as now). */
static void lease_update(hp_node *n)
{
	if (n->role != HP_LEADER && n->role != HP_CANDIDATE)
		return;
	const hp_conf *c = conf_current(n);
	uint64_t times[HP_MAX_VOTERS];
	uint32_t count = 0;
	for (uint32_t i = 0; i < c->voter_count; i++) {
		hp_id v = c->voters[i];
		if (v == n->cfg.id) {
			times[count++] = n->now;
			continue;
		}
		peer *p = peer_find(n, v);
		times[count++] = (p && p->acked) ? p->ack_send_us : 0;
	}
	/* Sort descending; the quorum-th value is what a quorum has confirmed. */
	for (uint32_t i = 1; i < count; i++)
		for (uint32_t j = i; j > 0 && times[j] > times[j - 1]; j--) {
			uint64_t t = times[j];
			times[j] = times[j - 1];
			times[j - 1] = t;
		}
	uint32_t q = quorum(n);
	if (count < q)
		return;
	uint64_t confirmed = times[q - 1];
	if (confirmed == 0)
		return;
	uint64_t until = confirmed + n->lease_leader_us;
	if (until > n->lease_until)
		n->lease_until = until;
}

static void become_leader(hp_node *n)
{
	RP_CHECK(n->role == HP_CANDIDATE);
	n->role = HP_LEADER;
	n->leader = n->cfg.id;
	n->transfer_target = 0;
	/* Grants were answers to the request sent at campaign_send_us. */
	for (uint32_t i = 0; i < n->peer_count; i++) {
		peer *p = &n->peers[i];
		if (granted_has(n, p->id)) {
			p->acked = true;
			p->ack_send_us = n->campaign_send_us;
		}
	}
	n->lease_until = 0;
	lease_update(n);
	if (n->lease_until == 0)
		n->lease_until = n->campaign_send_us + n->lease_leader_us;
	uint64_t last = hp_log_last_index(&n->log);
#ifdef HP_MUTANT_SKIP_NOOP
	n->term_start_index = 0; /* mutant: no no-op, reads use a stale commit */
#else
	/* [LOG][COMMIT] A no-op of the new term lets the leader commit, and so
	 * learn the commit index, without waiting for a client write. */
	n->term_start_index = last + 1;
	if (log_append(n, n->term, HP_ENTRY_NOOP, NULL, 0) != 0)
		n->corrupt = true;
#endif
	for (uint32_t i = 0; i < n->peer_count; i++) {
		peer *p = &n->peers[i];
		p->state = PEER_PROBE;
		p->match = 0;
		p->next = last + 1;
		p->probe_sent_us = 0;
		p->infl_count = 0;
		p->infl_head = 0;
	}
	n->heartbeat_due = true;
	n->bcast_pending = true;
}

/* ----------------------------------------------------- leader: sending */

static void infl_push(peer *p, uint64_t last_index, uint64_t now)
{
	RP_CHECK(p->infl_count < MAX_INFLIGHT);
	uint32_t slot = (p->infl_head + p->infl_count) % MAX_INFLIGHT;
	p->infl[slot].last_index = last_index;
	p->infl[slot].sent_us = now;
	p->infl_count++;
}

static void infl_free_to(peer *p, uint64_t index)
{
	while (p->infl_count > 0 && p->infl[p->infl_head].last_index <= index) {
		p->infl_head = (p->infl_head + 1) % MAX_INFLIGHT;
		p->infl_count--;
	}
}

static void to_probe(peer *p)
{
	p->state = PEER_PROBE;
	p->next = p->match + 1;
	p->infl_count = 0;
	p->infl_head = 0;
	p->probe_sent_us = 0;
}

static void send_snapshot_chunk(hp_node *n, peer *p)
{
	size_t cap = n->cfg.snapshot_chunk_bytes ? n->cfg.snapshot_chunk_bytes : 65536;
	if (n->cfg.snapshot_read == NULL) {
		to_probe(p);
		return;
	}
	if (p->snap_index != n->log.snap_index) {
		/* Compacted again since: send the current snapshot from the start. */
		p->snap_index = n->log.snap_index;
		p->snap_offset = 0;
	}
	uint8_t *buf = malloc(cap);
	if (!buf)
		return;
	size_t size = 0;
	bool last = false;
	int rc = n->cfg.snapshot_read(n->cfg.snapshot_ctx, n->cfg.group, p->snap_index,
	                              p->snap_offset, buf, cap, &size, &last);
	if (rc != 0 || size > cap) {
		free(buf);
		/* That snapshot is gone; start over with the current one. */
		p->snap_index = n->log.snap_index;
		p->snap_offset = 0;
		p->snap_sent_us = n->now; /* retry after a heartbeat interval */
		return;
	}
	hp_msg m;
	msg_init(n, &m, HP_MSG_SNAP_CHUNK, p->id);
	m.snap.index = p->snap_index;
	m.snap.term = hp_log_term_at(&n->log, p->snap_index);
	m.snap.conf = *conf_at(n, p->snap_index);
	m.snap_offset = p->snap_offset;
	m.snap_size_bytes = (uint32_t)size;
	m.snap_last = last;
	m.commit = n->commit;
	m.send_us = n->now;
	p->snap_sent_us = n->now;
	(void)out_push(&n->out, &m, 0, 0, buf);
}

static void start_snapshot(hp_node *n, peer *p)
{
	p->state = PEER_SNAPSHOT;
	p->snap_index = n->log.snap_index;
	p->snap_offset = 0;
	p->infl_count = 0;
	send_snapshot_chunk(n, p);
}

/* Queues one APPEND to p: entries from p->next (up to the batch limits),
 * or an empty heartbeat.  Returns whether a message was queued. */
static bool send_append(hp_node *n, peer *p, bool heartbeat)
{
	if (p->state == PEER_SNAPSHOT)
		return false;
	if (p->next <= n->log.snap_index) {
		start_snapshot(n, p);
		return true;
	}
	uint64_t last = hp_log_last_index(&n->log);
	uint64_t prev = p->next - 1;
	bool room = p->state == PEER_PROBE ? p->probe_sent_us == 0
	                                    : p->infl_count < n->cfg.max_inflight_appends;
	uint64_t count = 0;
	if (room) {
		uint64_t bytes = 0;
		while (prev + count < last && count < n->cfg.max_batch_entries) {
			const hp_entry *e = hp_log_at(&n->log, prev + count + 1);
			if (count > 0 && bytes + e->size_bytes > n->cfg.max_batch_bytes)
				break;
			bytes += e->size_bytes;
			count++;
		}
	}
	if (count == 0 && !heartbeat && !(p->state == PEER_PROBE && room))
		return false;
	hp_msg m;
	msg_init(n, &m, HP_MSG_APPEND, p->id);
	if (count == 0 && p->state == PEER_REPLICATE) {
		prev = p->match; /* a heartbeat names an index known to match */
		if (prev < n->log.snap_index)
			prev = n->log.snap_index;
	}
	m.log_index = prev;
	m.log_term = hp_log_term_at(&n->log, prev);
	m.commit = n->commit;
	m.send_us = n->now;
	m.entry_count = (uint32_t)count;
	if (p->state == PEER_PROBE) {
		if (room)
			p->probe_sent_us = n->now ? n->now : 1;
	} else if (count > 0) {
		p->next = prev + count + 1;
		infl_push(p, prev + count, n->now);
	}
	(void)out_push(&n->out, &m, prev + 1, n->log_epoch, NULL);
	return true;
}

static void broadcast(hp_node *n, bool heartbeat)
{
	for (uint32_t i = 0; i < n->peer_count; i++) {
		peer *p = &n->peers[i];
		bool sent = send_append(n, p, heartbeat);
		while (sent && p->state == PEER_REPLICATE && p->next <= hp_log_last_index(&n->log) &&
		       p->infl_count < n->cfg.max_inflight_appends)
			sent = send_append(n, p, false);
	}
}

/* --------------------------------------------------------- leader: commit */

static void reads_release(hp_node *n);
static void transfer_try(hp_node *n);

static void maybe_commit(hp_node *n)
{
	if (n->role != HP_LEADER)
		return;
	const hp_conf *c = conf_current(n);
	uint64_t matches[HP_MAX_VOTERS];
	uint32_t count = 0;
	for (uint32_t i = 0; i < c->voter_count; i++) {
		hp_id v = c->voters[i];
		if (v == n->cfg.id) {
			matches[count++] = n->stable;
		} else {
			peer *p = peer_find(n, v);
			matches[count++] = p ? p->match : 0;
		}
	}
	for (uint32_t i = 1; i < count; i++)
		for (uint32_t j = i; j > 0 && matches[j] > matches[j - 1]; j--) {
			uint64_t t = matches[j];
			matches[j] = matches[j - 1];
			matches[j - 1] = t;
		}
	uint64_t m = matches[quorum(n) - 1];
	if (m <= n->commit)
		return;
#ifndef HP_MUTANT_COMMIT_OLD_TERM
	/* [COMMIT] Only an entry of the leader's own term is committed by
	 * counting replicas (Raft dissertation 3.6.2, figure 3.7). */
	if (hp_log_term_at(&n->log, m) != n->term)
		return;
#endif
	set_commit(n, m);
	reads_release(n);
	transfer_try(n);
}

/* -------------------------------------------------------------- reads */

static void ready_read_push(hp_node *n, uint64_t ctx, uint64_t index)
{
	hp_read_state *grown =
	    realloc(n->ready_reads, (n->ready_read_count + 1) * sizeof(*grown));
	if (!grown)
		return; /* the read times out at the caller */
	n->ready_reads = grown;
	n->ready_reads[n->ready_read_count].ctx = ctx;
	n->ready_reads[n->ready_read_count].index = index;
	n->ready_read_count++;
}

static uint32_t acks_since(hp_node *n, uint64_t since_us)
{
	const hp_conf *c = conf_current(n);
	uint32_t count = 0;
	for (uint32_t i = 0; i < c->voter_count; i++) {
		if (c->voters[i] == n->cfg.id) {
			count++;
			continue;
		}
		peer *p = peer_find(n, c->voters[i]);
		if (p && p->acked && p->ack_send_us >= since_us)
			count++;
	}
	return count;
}

/* Releases the pending reads that are now safe to serve at the commit index. */
static void reads_release(hp_node *n)
{
	if (n->read_count == 0)
		return;
	if (n->role != HP_LEADER) {
		reads_drop(n);
		return;
	}
	/* The commit index is known to be current only once an entry of this
	 * term committed (the no-op). */
	if (n->commit < n->term_start_index)
		return;
	bool by_lease = n->cfg.lease_reads && lease_valid(n);
	size_t cap = n->cfg.max_pending_reads;
	while (n->read_count > 0) {
		pending_read *r = &n->reads[n->read_head];
		/* Read index: a quorum answered a message sent after the read. */
		if (!by_lease && acks_since(n, r->read_us) < quorum(n))
			break;
		ready_read_push(n, r->ctx, n->commit);
		n->read_head = (n->read_head + 1) % cap;
		n->read_count--;
	}
}

/* ------------------------------------------------------------- transfer */

static peer *best_voter_peer(hp_node *n)
{
	peer *best = NULL;
	for (uint32_t i = 0; i < n->peer_count; i++) {
		peer *p = &n->peers[i];
		if (!is_voter(n, p->id))
			continue;
		if (!best || p->match > best->match)
			best = p;
	}
	return best;
}

/* Sends TIMEOUT_NOW once the target holds the whole log, and gives the
 * lease away: from then on this node serves nothing as leader. */
static void transfer_try(hp_node *n)
{
	if (n->role != HP_LEADER)
		return;
	/* A leader that removed itself hands over once the removal committed. */
	if (!is_voter(n, n->cfg.id) && n->commit >= n->confs[n->conf_count - 1].index &&
	    n->transfer_target == 0) {
		peer *best = best_voter_peer(n);
		if (best) {
			n->transfer_target = best->id;
			n->transfer_deadline = n->now + n->cfg.election_timeout_us;
		}
	}
	if (n->transfer_target == 0)
		return;
	peer *p = peer_find(n, n->transfer_target);
	if (!p || !is_voter(n, p->id)) {
		n->transfer_target = 0;
		return;
	}
	if (p->match < hp_log_last_index(&n->log))
		return;
	hp_msg m;
	msg_init(n, &m, HP_MSG_TIMEOUT_NOW, p->id);
	m.transfer_from = n->cfg.id;
	m.transfer_term = n->term;
	send(n, &m);
	/* [LEASE] Relinquish before the target can be granted over our lease. */
	become_follower(n, n->term, 0);
	n->backoff_until = n->now + n->cfg.lease_us;
}

/* -------------------------------------------------------------- handlers */

static void reply_term(hp_node *n, const hp_msg *req, uint8_t type)
{
	hp_msg m;
	msg_init(n, &m, type, req->from);
	m.reject = true;
	m.send_us = req->send_us;
	m.log_index = hp_log_last_index(&n->log);
	m.commit = n->commit;
	send(n, &m);
}

static void on_pre_lease_req(hp_node *n, const hp_msg *req)
{
	hp_msg m;
	msg_init(n, &m, HP_MSG_PRE_LEASE_RESP, req->from);
	m.commit = n->commit;
	m.log_index = hp_log_last_index(&n->log);
	m.last_index = hp_log_last_index(&n->log);
	m.last_term = hp_log_last_term(&n->log);
	/* Like Raft (dissertation 4.1), a node answers without consulting its
	 * own membership: it may not yet hold the entry that made it a voter,
	 * and only the candidate's count of voters matters. */
	bool up_to_date = log_up_to_date(n, req->log_index, req->log_term);
	bool grant = req->term > n->term && n->role != HP_LEADER &&
	             !promise_blocks(n, req->from) && /* [NO-CHURN] */
	             up_to_date;
	if (!up_to_date)
		refuse_as_non_voter(n);
	m.reject = !grant;
	m.term = grant ? req->term : n->term;
	send(n, &m); /* changes nothing, persists nothing */
}

static void pull_from(hp_node *n, hp_id from)
{
	if (n->pull_sent_us != 0 && n->now - n->pull_sent_us < n->cfg.heartbeat_us)
		return;
	hp_msg m;
	msg_init(n, &m, HP_MSG_PULL_REQ, from);
	m.commit = n->commit;
	m.snap.index = n->rx_snap_index;
	m.snap_offset = n->rx_offset;
	send(n, &m);
	n->pull_sent_us = n->now ? n->now : 1;
}

static void on_pre_lease_resp(hp_node *n, const hp_msg *r)
{
	if (r->reject) {
		if (r->term > n->term) {
			/* Catch up on terms; harmless to everyone else. */
			become_follower(n, r->term, 0);
			return;
		}
		/* [LIVENESS] A peer with more committed entries, or a more up-to-
		 * date log, lets us catch up without a leader (the constrained-
		 * election topology). */
		bool ahead = r->last_term > hp_log_last_term(&n->log) ||
		             (r->last_term == hp_log_last_term(&n->log) &&
		              r->last_index > hp_log_last_index(&n->log));
		if (r->commit > n->commit || ahead)
			pull_from(n, r->from);
		return;
	}
	if (n->role != HP_PRE_CANDIDATE || r->term != n->term + 1)
		return;
	grant_record(n, r->from);
	if (granted_voters(n) >= quorum(n))
		become_candidate(n, 0, 0);
}

static void on_lease_req(hp_node *n, const hp_msg *req)
{
	if (req->term < n->term) {
		reply_term(n, req, HP_MSG_LEASE_RESP);
		return;
	}
	/* [NO-CHURN][LEASE] A valid lease, ours or one we promised, refuses
	 * the candidate without even adopting its term; only the holder that
	 * gave way (leadership transfer) can release it early. */
	bool released = req->transfer_from != 0 && req->transfer_from == n->lease_holder &&
	                req->transfer_term == n->term;
	if (lease_valid(n) || (promise_blocks(n, req->from) && !released)) {
		reply_term(n, req, HP_MSG_LEASE_RESP);
		return;
	}
	if (req->term > n->term)
		become_follower(n, req->term, 0);
	hp_msg m;
	msg_init(n, &m, HP_MSG_LEASE_RESP, req->from);
	m.send_us = req->send_us;
	bool up_to_date = log_up_to_date(n, req->log_index, req->log_term);
	if (!up_to_date)
		refuse_as_non_voter(n);
	if ((n->vote == 0 || n->vote == req->from) &&
	    (n->role == HP_FOLLOWER || n->role == HP_PRE_CANDIDATE) && up_to_date) {
		if (n->role == HP_PRE_CANDIDATE)
			become_follower(n, n->term, 0); /* gives up its own round */
		n->vote = req->from;
		n->hs_dirty = true;
		promise(n, req->from);
		send_after_persist(n, &m); /* [ELECTION][LEASE] vote durable first */
	} else {
		m.reject = true;
		send(n, &m);
	}
}

static void on_lease_resp(hp_node *n, const hp_msg *r)
{
	if (r->term > n->term) {
		become_follower(n, r->term, 0);
		return;
	}
	if (n->role != HP_CANDIDATE || r->term != n->term || r->reject)
		return;
	grant_record(n, r->from);
	if (granted_voters(n) >= quorum(n))
		become_leader(n);
}

/* A message from the leader of `term` (>= ours): follow it and renew our
 * promise to it. */
static void follow(hp_node *n, const hp_msg *msg)
{
	/* [ELECTION] two leaders in one term would be a protocol bug */
	RP_CHECK(!(n->role == HP_LEADER && msg->term == n->term));
	if (msg->term > n->term || n->role != HP_FOLLOWER)
		become_follower(n, msg->term, msg->from);
	if (n->leader != msg->from) {
		RP_CHECK(n->leader == 0); /* [ELECTION] one leader per term */
		n->leader = msg->from;
	}
	promise(n, msg->from);
}

static void on_append(hp_node *n, const hp_msg *msg)
{
	hp_msg m;
	if (msg->term < n->term) {
		reply_term(n, msg, HP_MSG_APPEND_RESP);
		return;
	}
	follow(n, msg);
	msg_init(n, &m, HP_MSG_APPEND_RESP, msg->from);
	m.send_us = msg->send_us;
	uint64_t prev = msg->log_index;
	bool matched = prev <= n->log.snap_index ||
	               (prev <= hp_log_last_index(&n->log) &&
	                hp_log_term_at(&n->log, prev) == msg->log_term);
	if (!matched) {
		/* Fast backtracking: skip the whole conflicting term at once. */
		uint64_t hint;
		uint64_t floor = n->commit > n->log.snap_index ? n->commit : n->log.snap_index;
		if (prev > hp_log_last_index(&n->log)) {
			hint = hp_log_last_index(&n->log);
		} else {
			uint64_t t = hp_log_term_at(&n->log, prev);
			hint = prev - 1;
			while (hint > floor && hp_log_term_at(&n->log, hint) == t)
				hint--;
		}
		m.reject = true;
		m.log_index = hint;
		m.log_term = prev; /* which probe this answers */
	} else {
		uint64_t last_new = log_merge(n, prev, msg->entries, msg->entry_count);
		if (last_new < n->log.snap_index)
			last_new = n->log.snap_index;
		uint64_t c = msg->commit < last_new ? msg->commit : last_new;
		set_commit(n, c);
		m.log_index = last_new;
	}
	m.commit = n->commit;
#ifdef HP_MUTANT_ACK_BEFORE_PERSIST
	send(n, &m); /* mutant: acknowledges entries before they are durable */
#else
	send_after_persist(n, &m); /* [DURABLE] */
#endif
}

/* The part every answer to the leader shares: a higher term deposes it;
 * an answer of its own term dates a lease renewal [LEASE].  Returns the
 * answering peer, or NULL when there is nothing more to do. */
static peer *leader_take_answer(hp_node *n, const hp_msg *r)
{
	if (r->term > n->term) {
		become_follower(n, r->term, 0);
		return NULL;
	}
	if (n->role != HP_LEADER || r->term != n->term)
		return NULL;
	peer *p = peer_find(n, r->from);
	if (!p)
		return NULL;
	if (!p->acked || r->send_us > p->ack_send_us) {
		p->acked = true;
		p->ack_send_us = r->send_us;
	}
	lease_update(n);
	return p;
}

static void on_append_resp(hp_node *n, const hp_msg *r)
{
	peer *p = leader_take_answer(n, r);
	if (!p)
		return;
	if (r->reject) {
		uint64_t rejected_prev = r->log_term;
		if (p->state == PEER_SNAPSHOT)
			return;
		if (p->state == PEER_PROBE && rejected_prev != p->next - 1)
			return; /* an answer to an older probe */
		if (p->state == PEER_REPLICATE && rejected_prev < p->match)
			return;
		uint64_t next = r->log_index + 1;
		if (next > rejected_prev)
			next = rejected_prev;
		if (next < p->match + 1)
			next = p->match + 1;
		to_probe(p);
		p->next = next;
		n->bcast_pending = true;
	} else {
		if (r->log_index > hp_log_last_index(&n->log))
			return; /* cannot be: it answers something we sent */
		if (r->log_index > p->match) {
			p->match = r->log_index;
			p->progress_us = n->now;
		}
		if (p->next <= p->match)
			p->next = p->match + 1;
		infl_free_to(p, p->match);
		if (p->state == PEER_PROBE ||
		    (p->state == PEER_SNAPSHOT && p->match >= n->log.snap_index)) {
			/* A late answer can show a snapshot is not needed after all. */
			p->state = PEER_REPLICATE;
			p->next = p->match + 1;
			p->infl_count = 0;
			p->infl_head = 0;
		}
		if (p->next <= hp_log_last_index(&n->log))
			n->bcast_pending = true; /* more to send; otherwise nothing to do */
		maybe_commit(n);
		transfer_try(n);
	}
	reads_release(n);
}

/* Whether this node's log already covers a snapshot: it holds the entry at
 * the snapshot's index with the same term (so, by log matching, everything
 * before it too), or knows that index committed.  Installing it would then
 * throw away entries it may have acknowledged [DURABLE]. */
static bool snap_covered(const hp_node *n, const hp_snapshot_meta *meta)
{
	if (meta->index <= n->commit || meta->index <= n->log.snap_index)
		return true;
	return meta->index <= hp_log_last_index(&n->log) &&
	       hp_log_term_at(&n->log, meta->index) == meta->term;
}

/* Takes one chunk of a snapshot, from the leader or (pull) from any peer.
 * Returns false if the chunk was not taken: out of order, or a chunk of an
 * earlier ready is still waiting to be persisted. */
static bool snap_accept(hp_node *n, const hp_msg *msg)
{
	if (msg->snap_offset == 0) {
		n->rx_snap_index = msg->snap.index;
		n->rx_offset = 0;
	}
	if (n->chunk_pending || msg->snap.index != n->rx_snap_index ||
	    msg->snap_offset != n->rx_offset)
		return false;
	uint8_t *buf = NULL;
	if (msg->snap_size_bytes) {
		buf = malloc(msg->snap_size_bytes);
		if (!buf)
			return false;
		memcpy(buf, msg->snap_data, msg->snap_size_bytes);
	}
	free(n->chunk_buf);
	n->chunk_buf = buf;
	n->chunk_pending = true;
	n->chunk.meta = msg->snap;
	n->chunk.offset = msg->snap_offset;
	n->chunk.size_bytes = msg->snap_size_bytes;
	n->chunk.data = buf;
	n->chunk.last = msg->snap_last;
	n->rx_offset += msg->snap_size_bytes;
	if (!msg->snap_last)
		return true;
	/* Install: the caller replaces its state machine and its whole log
	 * when it persists this ready; the core moves now.  snap_covered()
	 * said no entry we hold survives the snapshot's index unchanged, so
	 * nothing we acknowledged is lost. */
	uint64_t idx = msg->snap.index;
	/* (Entries up to our commit go too: the snapshot covers them.) */
	if (hp_log_last_index(&n->log) > n->log.snap_index)
		hp_log_truncate(&n->log, n->log.snap_index + 1);
	hp_log_compact(&n->log, idx, msg->snap.term);
	n->log_epoch++;
	n->conf_count = 0;
	(void)conf_push(n, idx, &msg->snap.conf);
	peers_sync(n);
	n->commit = idx;
	n->hs_dirty = true;
	n->applied = idx;
	n->applied_bytes = 0;
	hint_redraw(n);
	stable_clamp(n, idx);
	n->stable = idx;
	/* Everything after idx is new to the caller. */
	n->unstable_from = idx + 1;
	n->pending_truncate = 0;
	n->rx_snap_index = 0;
	n->rx_offset = 0;
	return true;
}

static void on_snap_chunk(hp_node *n, const hp_msg *msg)
{
	if (msg->pull) {
		/* A snapshot pulled from a peer: committed state, no leadership,
		 * no term, no promise.  Ask for the next chunk at once. */
		if (n->role == HP_LEADER || n->role == HP_CANDIDATE)
			return;
		if (snap_covered(n, &msg->snap)) {
			/* Our entry at its index is the committed one (same index and
			 * term): commit up to it and ask for entries after it. */
			if (msg->snap.index > n->commit &&
			    msg->snap.index <= hp_log_last_index(&n->log)) {
				set_commit(n, msg->snap.index);
				n->pull_sent_us = 0;
				pull_from(n, msg->from);
			}
			return;
		}
		if (snap_accept(n, msg) && !msg->snap_last) {
			n->pull_sent_us = 0;
			pull_from(n, msg->from);
		}
		return;
	}
	if (msg->term < n->term) {
		reply_term(n, msg, HP_MSG_SNAP_RESP);
		return;
	}
	follow(n, msg);
	hp_msg m;
	msg_init(n, &m, HP_MSG_SNAP_RESP, msg->from);
	m.send_us = msg->send_us;
	m.snap.index = msg->snap.index;
	if (snap_covered(n, &msg->snap)) {
		/* Our log already matches the leader's at the snapshot index:
		 * have it continue with entries after it. */
		m.reject = true;
		send(n, &m);
		return;
	}
	if (!snap_accept(n, msg)) {
		m.snap_offset = n->rx_snap_index == msg->snap.index ? n->rx_offset : 0;
		send(n, &m); /* "send me this offset" claims nothing new */
		return;
	}
	m.snap_offset = n->rx_offset;
	m.snap_last = msg->snap_last;
	send_after_persist(n, &m); /* [DURABLE] */
}

static void on_snap_resp(hp_node *n, const hp_msg *r)
{
	peer *p = leader_take_answer(n, r);
	if (!p)
		return;
	if (p->state != PEER_SNAPSHOT || r->snap.index != p->snap_index)
		return;
	if (r->reject) {
		/* Its log matches ours at the snapshot index; that is not a
		 * durable match, so probe from just after it. */
		to_probe(p);
		if (p->next < p->snap_index + 1)
			p->next = p->snap_index + 1;
	} else if (r->snap_last) {
		if (p->snap_index > p->match)
			p->match = p->snap_index;
		to_probe(p);
		maybe_commit(n);
	} else {
		p->snap_offset = r->snap_offset;
		send_snapshot_chunk(n, p);
		return;
	}
	n->bcast_pending = true;
}

static void on_timeout_now(hp_node *n, const hp_msg *msg)
{
	if (msg->term != n->term || msg->from != n->leader || !is_voter(n, n->cfg.id))
		return;
	if (n->role != HP_FOLLOWER)
		return;
	become_candidate(n, msg->transfer_from, msg->transfer_term);
}

static void on_pull_req(hp_node *n, const hp_msg *req)
{
	if (hp_log_last_index(&n->log) <= req->commit)
		return;
	if (req->commit < n->log.snap_index) {
		/* Compacted past the asker: serve our snapshot, one chunk per
		 * request, the asker saying how much it holds. */
		if (n->cfg.snapshot_read == NULL || n->log.snap_index == 0)
			return;
		uint64_t offset = req->snap.index == n->log.snap_index ? req->snap_offset : 0;
		size_t cap = n->cfg.snapshot_chunk_bytes ? n->cfg.snapshot_chunk_bytes : 65536;
		uint8_t *buf = malloc(cap);
		if (!buf)
			return;
		size_t size = 0;
		bool last = false;
		if (n->cfg.snapshot_read(n->cfg.snapshot_ctx, n->cfg.group, n->log.snap_index,
		                         offset, buf, cap, &size, &last) != 0 ||
		    size > cap) {
			free(buf);
			return;
		}
		hp_msg m;
		msg_init(n, &m, HP_MSG_SNAP_CHUNK, req->from);
		m.pull = true;
		m.snap.index = n->log.snap_index;
		m.snap.term = n->log.snap_term;
		m.snap.conf = *conf_at(n, n->log.snap_index);
		m.snap_offset = offset;
		m.snap_size_bytes = (uint32_t)size;
		m.snap_last = last;
		m.commit = n->commit;
		(void)out_push(&n->out, &m, 0, 0, buf);
		return;
	}
	hp_msg m;
	msg_init(n, &m, HP_MSG_PULL_RESP, req->from);
	uint64_t prev = req->commit;
	uint64_t count = hp_log_last_index(&n->log) - prev;
	m.last_index = hp_log_last_index(&n->log);
	m.last_term = hp_log_last_term(&n->log);
	if (count > n->cfg.max_batch_entries)
		count = n->cfg.max_batch_entries;
	m.log_index = prev;
	m.log_term = hp_log_term_at(&n->log, prev);
	m.commit = n->commit;
	m.entry_count = (uint32_t)count;
	(void)out_push(&n->out, &m, prev + 1, n->log_epoch, NULL);
}

/* Takes a peer's log after our commit, without a leader and without any
 * term change.  Its committed part is final everywhere (state-machine
 * safety), so it may replace conflicting uncommitted entries of ours.  Its
 * uncommitted part is only appended where it continues our log at a
 * matching entry: our log then is a prefix of the peer's, which satisfies
 * log matching and leader completeness exactly as the peer's does; we
 * never truncate anything uncommitted on a peer's word. */
static void on_pull_resp(hp_node *n, const hp_msg *msg)
{
	if (n->role == HP_LEADER || n->role == HP_CANDIDATE)
		return;
	uint64_t prev = msg->log_index;
	if (prev > hp_log_last_index(&n->log) || prev < n->log.snap_index)
		return;
	if (hp_log_term_at(&n->log, prev) != msg->log_term)
		return;
	uint64_t taken = prev;
	bool stopped = false;
	uint64_t last_before = hp_log_last_index(&n->log), commit_before = n->commit;
	for (uint32_t i = 0; i < msg->entry_count; i++) {
		const hp_entry *e = &msg->entries[i];
		if (e->index <= n->log.snap_index) {
			taken = e->index;
			continue;
		}
		uint64_t last = hp_log_last_index(&n->log);
		if (e->index <= last) {
			if (hp_log_term_at(&n->log, e->index) == e->term) {
				taken = e->index;
				continue;
			}
			if (e->index > msg->commit) {
				stopped = true; /* an uncommitted conflict: not ours to settle */
				break;
			}
			log_truncate(n, e->index); /* asserts e->index > our commit */
		}
		if (log_append(n, e->term, e->type, e->data, e->size_bytes) != 0) {
			n->corrupt = true;
			return;
		}
		taken = e->index;
	}
	set_commit(n, msg->commit < taken ? msg->commit : taken);
	bool more = msg->commit > n->commit ||
	            (!stopped && msg->last_index > hp_log_last_index(&n->log));
	/* Only a response that moved us on asks for more: duplicates and
	 * stale answers must not multiply into a storm. */
	bool moved = hp_log_last_index(&n->log) > last_before || n->commit > commit_before;
	if (more && moved) {
		n->pull_sent_us = 0;
		pull_from(n, msg->from);
	}
}

/* ------------------------------------------------------------ validation */

static bool msg_valid(const hp_node *n, const hp_msg *msg)
{
	if (msg->group != n->cfg.group || msg->to != n->cfg.id || msg->from == 0 ||
	    msg->from == n->cfg.id)
		return false;
	if (msg->type < HP_MSG_PRE_LEASE_REQ || msg->type > HP_MSG_PULL_RESP)
		return false;
	if (msg->entry_count > 0) {
		if (msg->type != HP_MSG_APPEND && msg->type != HP_MSG_PULL_RESP)
			return false;
		if (msg->entries == NULL || msg->entry_count > 1000000)
			return false;
		uint64_t prev_term = msg->log_term;
		for (uint32_t i = 0; i < msg->entry_count; i++) {
			const hp_entry *e = &msg->entries[i];
			if (e->index != msg->log_index + 1 + i || e->term < prev_term)
				return false;
			if (msg->type == HP_MSG_APPEND && e->term > msg->term)
				return false;
			if (e->type > HP_ENTRY_CONF || e->size_bytes > n->cfg.max_entry_bytes)
				return false;
			if (e->size_bytes > 0 && e->data == NULL)
				return false;
			prev_term = e->term;
		}
	}
	if (msg->type == HP_MSG_SNAP_CHUNK) {
		if (msg->snap_size_bytes > 0 && msg->snap_data == NULL)
			return false;
		if (msg->snap_size_bytes > HP_MAX_ENTRY_BYTES || msg->snap.index == 0)
			return false;
		const hp_conf *c = &msg->snap.conf;
		if (c->voter_count == 0 || c->voter_count > HP_MAX_VOTERS ||
		    c->learner_count > HP_MAX_MEMBERS)
			return false;
	}
	return true;
}

/* -------------------------------------------------------------- the clock */

static void clock_advance(hp_node *n, uint64_t now)
{
	if (now > n->now)
		n->now = now;
	/* [LEASE] A leader that failed to renew its lease steps down at once,
	 * and with it stops every leader message (openraft #2080). */
	if (n->role == HP_LEADER && n->now >= n->lease_until)
		become_follower(n, n->term, 0);
}

void hp_tick(hp_node *n, uint64_t now)
{
	clock_advance(n, now);
	if (n->corrupt)
		return;
	switch (n->role) {
	case HP_LEADER:
		lease_update(n); /* a single voter renews its own lease */
		if (n->now - n->last_heartbeat_us >= n->cfg.heartbeat_us)
			n->heartbeat_due = true;
		for (uint32_t i = 0; i < n->peer_count; i++) {
			peer *p = &n->peers[i];
			uint64_t timeout = 2 * n->cfg.heartbeat_us;
			/* [LIVENESS] An append was lost: probe again.  Lost means
			 * answers stopped raising match, not that the oldest append is
			 * old: under a load deeper than the follower drains in
			 * `timeout`, answers arrive late but steadily, and resending
			 * the window would only pile duplicates onto a follower that
			 * is already behind (answers then came ever later, until the
			 * lease lapsed with every node healthy). */
			if (p->state == PEER_REPLICATE && p->infl_count > 0 &&
			    n->now - p->infl[p->infl_head].sent_us >= timeout &&
			    n->now - p->progress_us >= timeout)
				to_probe(p);
			if (p->state == PEER_PROBE && p->probe_sent_us != 0 &&
			    n->now - p->probe_sent_us >= n->cfg.heartbeat_us)
				p->probe_sent_us = 0;
			if (p->state == PEER_SNAPSHOT && n->now - p->snap_sent_us >= timeout)
				send_snapshot_chunk(n, p);
		}
		if (n->transfer_target && n->now >= n->transfer_deadline)
			n->transfer_target = 0; /* gave up; keep leading */
		transfer_try(n);
		maybe_commit(n);
		reads_release(n);
		break;
	case HP_FOLLOWER: {
		if (!may_campaign(n))
			break; /* a non-voter campaigns only while needed */
		uint64_t from = n->promise_until > n->backoff_until ? n->promise_until
		                                                    : n->backoff_until;
		if (n->now >= from + n->election_delay)
			become_pre_candidate(n);
		break;
	}
	case HP_PRE_CANDIDATE:
	case HP_CANDIDATE:
		if (n->now - n->election_started >= n->cfg.election_timeout_us)
			become_follower(n, n->term, 0); /* retry after a new delay */
		break;
	}
}

int hp_step(hp_node *n, uint64_t now, const hp_msg *msg)
{
	if (!msg_valid(n, msg))
		return HP_ERR_INVALID;
	clock_advance(n, now);
	if (n->corrupt)
		return 0;
	switch (msg->type) {
	case HP_MSG_PRE_LEASE_REQ: on_pre_lease_req(n, msg); break;
	case HP_MSG_PRE_LEASE_RESP: on_pre_lease_resp(n, msg); break;
	case HP_MSG_LEASE_REQ: on_lease_req(n, msg); break;
	case HP_MSG_LEASE_RESP: on_lease_resp(n, msg); break;
	case HP_MSG_APPEND: on_append(n, msg); break;
	case HP_MSG_APPEND_RESP: on_append_resp(n, msg); break;
	case HP_MSG_SNAP_CHUNK: on_snap_chunk(n, msg); break;
	case HP_MSG_SNAP_RESP: on_snap_resp(n, msg); break;
	case HP_MSG_TIMEOUT_NOW: on_timeout_now(n, msg); break;
	case HP_MSG_PULL_REQ: on_pull_req(n, msg); break;
	case HP_MSG_PULL_RESP: on_pull_resp(n, msg); break;
	}
	return 0;
}

/* ------------------------------------------------------------- requests */

static int leader_check(hp_node *n, uint64_t now)
{
	clock_advance(n, now);
	if (n->corrupt || n->role != HP_LEADER)
		return HP_ERR_NOT_LEADER;
	if (n->transfer_target)
		return HP_ERR_TRANSFERRING;
	return 0;
}

int hp_propose(hp_node *n, uint64_t now, const uint8_t *data, uint32_t size_bytes,
               uint64_t *index, uint64_t *term)
{
	int rc = leader_check(n, now);
	if (rc != 0)
		return rc;
	if (size_bytes > n->cfg.max_entry_bytes)
		return HP_ERR_TOO_LARGE;
	if (size_bytes > 0 && data == NULL)
		return HP_ERR_INVALID;
	if (hp_log_last_index(&n->log) - n->commit >= n->cfg.max_uncommitted_entries)
		return HP_ERR_BUSY;
	rc = log_append(n, n->term, HP_ENTRY_NORMAL, data, size_bytes);
	if (rc != 0)
		return rc;
	*index = hp_log_last_index(&n->log);
	*term = n->term;
	n->bcast_pending = true;
	return 0;
}

int hp_propose_conf(hp_node *n, uint64_t now, hp_conf_op op, hp_id id, uint64_t *index,
                    uint64_t *term)
{
	int rc = leader_check(n, now);
	if (rc != 0)
		return rc;
	/* One change at a time, and only once this term's no-op committed
	 * (Raft dissertation 4.1, and the fix for its single-server bug). */
	if (n->confs[n->conf_count - 1].index > n->commit || n->commit < n->term_start_index ||
	    n->term_start_index == 0)
		return HP_ERR_CONF_PENDING;
	hp_conf c = *conf_current(n);
	if (hp_conf_apply(&c, op, id) != 0)
		return HP_ERR_INVALID;
	if (op == HP_CONF_PROMOTE) {
		peer *p = peer_find(n, id);
		uint64_t last = hp_log_last_index(&n->log);
		if (!p || p->match + n->cfg.promote_lag_entries < last)
			return HP_ERR_NOT_CAUGHT_UP;
	}
	uint8_t buf[HP_CONF_CHANGE_BYTES];
	hp_conf_change_encode(buf, op, id);
	rc = log_append(n, n->term, HP_ENTRY_CONF, buf, sizeof(buf));
	if (rc != 0)
		return rc;
	*index = hp_log_last_index(&n->log);
	*term = n->term;
	n->bcast_pending = true;
	lease_update(n);
	maybe_commit(n); /* the quorum may have changed */
	return 0;
}

int hp_read(hp_node *n, uint64_t now, uint64_t ctx)
{
	clock_advance(n, now);
	if (n->corrupt || n->role != HP_LEADER)
		return HP_ERR_NOT_LEADER;
	if (n->transfer_target)
		return HP_ERR_TRANSFERRING;
	size_t cap = n->cfg.max_pending_reads;
	if (n->read_count >= cap)
		return HP_ERR_BUSY;
	if (n->reads == NULL) {
		n->reads = calloc(cap, sizeof(*n->reads));
		if (!n->reads)
			return HP_ERR_NOMEM;
	}
	pending_read *r = &n->reads[(n->read_head + n->read_count) % cap];
	r->ctx = ctx;
	r->read_us = n->now;
	n->read_count++;
	if (!n->cfg.lease_reads)
		n->heartbeat_due = true;
	reads_release(n);
	return 0;
}

int hp_transfer(hp_node *n, uint64_t now, hp_id target)
{
	int rc = leader_check(n, now);
	if (rc != 0)
		return rc;
	if (target == 0) {
		peer *best = best_voter_peer(n);
		if (!best)
			return HP_ERR_INVALID;
		target = best->id;
	}
	if (target == n->cfg.id || !is_voter(n, target) || !peer_find(n, target))
		return HP_ERR_INVALID;
	n->transfer_target = target;
	n->transfer_deadline = n->now + n->cfg.election_timeout_us;
	n->bcast_pending = true;
	transfer_try(n);
	return 0;
}

int hp_compact(hp_node *n, uint64_t index)
{
	if (index <= n->log.snap_index)
		return 0;
	if (index > n->applied)
		return HP_ERR_INVALID;
	uint64_t term = hp_log_term_at(&n->log, index);
	RP_CHECK(term != 0);
	uint64_t held = n->log.size_bytes;
	hp_log_compact(&n->log, index, term);
	RP_CHECK(held - n->log.size_bytes <= n->applied_bytes); /* only applied entries go */
	n->applied_bytes -= held - n->log.size_bytes;
	hint_redraw(n);
	conf_on_compact(n, index);
	return 0;
}

/* Counted up to applied, what a compaction there frees: entries not
 * applied yet (a flood in flight, a commit waiting for a quorum) would
 * otherwise hint again right after every snapshot. */
static uint64_t grown(uint64_t bound, uint32_t pct)
{
	uint64_t extra = bound > UINT64_MAX / 100 ? bound / 100 * pct : bound * pct / 100;
	return bound + extra;
}

uint64_t hp_compact_hint(const hp_node *n)
{
	uint64_t entries = grown(n->cfg.compact_hint_entries, n->hint_extra_pct);
	uint64_t bytes = grown(n->cfg.compact_hint_bytes, n->hint_extra_pct);
	bool long_log = (entries && n->applied - n->log.snap_index >= entries) ||
	                (bytes && n->applied_bytes >= bytes);
	return long_log && n->applied > n->log.snap_index ? n->applied : 0;
}

/* ---------------------------------------------------------------- ready */

bool hp_has_ready(const hp_node *n)
{
	uint64_t last = hp_log_last_index(&n->log);
	uint64_t appliable = n->commit < n->stable ? n->commit : n->stable;
	return n->hs_dirty || n->pending_truncate != 0 || n->unstable_from <= last ||
	       n->out.count > 0 || n->out_after.count > 0 || n->applied < appliable ||
	       n->ready_read_count > 0 || n->chunk_pending ||
	       (n->role == HP_LEADER && (n->bcast_pending || n->heartbeat_due));
}

/* Turns queued messages into the caller's array, attaching entries. */
static size_t materialize(hp_node *n, out_vec *v, hp_msg **arr, size_t *capacity)
{
	if (*capacity < v->count) {
		hp_msg *grown = realloc(*arr, v->count * sizeof(*grown));
		if (!grown)
			return 0;
		*arr = grown;
		*capacity = v->count;
	}
	size_t count = 0;
	for (size_t i = 0; i < v->count; i++) {
		out_msg *o = &v->v[i];
		hp_msg m = o->m;
		if (m.entry_count > 0) {
			/* Entries replaced since the message was queued must not go
			 * out under the old promise [LOG]. */
			if (o->log_epoch != n->log_epoch || o->first <= n->log.snap_index ||
			    o->first + m.entry_count - 1 > hp_log_last_index(&n->log))
				continue;
			m.entries = hp_log_at(&n->log, o->first);
		}
		if (m.type == HP_MSG_SNAP_CHUNK)
			m.snap_data = o->snap_buf;
		(*arr)[count++] = m;
	}
	return count;
}

static void out_move(out_vec *dst, out_vec *src)
{
	for (size_t i = 0; i < src->count; i++) {
		if (src->v[i].snap_buf) {
			if (out_push(dst, &src->v[i].m, 0, 0, src->v[i].snap_buf) != 0)
				continue;
			src->v[i].snap_buf = NULL;
		}
	}
	src->count = 0;
}

void hp_ready_take(hp_node *n, hp_ready *rd)
{
	memset(rd, 0, sizeof(*rd));
	out_clear(&n->taken);
	free(n->chunk_buf_taken);
	n->chunk_buf_taken = NULL;

	if (n->role == HP_LEADER && !n->corrupt) {
		if (n->heartbeat_due) {
			broadcast(n, true);
			n->last_heartbeat_us = n->now;
		} else if (n->bcast_pending) {
			broadcast(n, false);
		}
	}
	n->heartbeat_due = false;
	n->bcast_pending = false;

	rd->seq = ++n->ready_seq;
	if (n->hs_dirty) {
		rd->hard_state_changed = true;
		rd->hard_state.term = n->term;
		rd->hard_state.vote = n->vote;
		rd->hard_state.lease_holder = n->lease_holder;
		rd->hard_state.commit = n->commit;
		n->hs_dirty = false;
	}
	if (n->chunk_pending) {
		rd->has_snap_chunk = true;
		rd->snap_chunk = n->chunk;
		n->chunk_buf_taken = n->chunk_buf;
		n->chunk_buf = NULL;
		n->chunk_pending = false;
	}
	rd->truncate_from = n->pending_truncate;
	n->pending_truncate = 0;
	uint64_t last = hp_log_last_index(&n->log);
	if (n->unstable_from <= n->log.snap_index)
		n->unstable_from = n->log.snap_index + 1;
	if (n->unstable_from <= last) {
		rd->entries = hp_log_at(&n->log, n->unstable_from);
		rd->entry_count = (size_t)(last - n->unstable_from + 1);
		n->unstable_from = last + 1;
	}
	if (n->seq_count == n->seq_capacity) {
		size_t cap = n->seq_capacity ? n->seq_capacity * 2 : 16;
		seq_rec *grown = realloc(n->seqs, cap * sizeof(*grown));
		if (grown) {
			n->seqs = grown;
			n->seq_capacity = cap;
		}
	}
	if (n->seq_count < n->seq_capacity) {
		n->seqs[n->seq_count].seq = rd->seq;
		n->seqs[n->seq_count].last_index = last;
		n->seq_count++;
	}

	rd->msg_count = materialize(n, &n->out, &n->rd_msgs, &n->rd_msgs_capacity);
	rd->msgs = n->rd_msgs;
	rd->msg_after_persist_count =
	    materialize(n, &n->out_after, &n->rd_after, &n->rd_after_capacity);
	rd->msgs_after_persist = n->rd_after;
	out_move(&n->taken, &n->out);
	n->out_after.count = 0;

	uint64_t appliable = n->commit < n->stable ? n->commit : n->stable;
	if (n->applied < appliable) {
		rd->committed = hp_log_at(&n->log, n->applied + 1);
		RP_CHECK(rd->committed != NULL);
		uint64_t count = appliable - n->applied;
		uint64_t bytes = 0, k = 0;
		while (k < count && (n->cfg.max_committed_bytes == 0 || k == 0 ||
		                     bytes < n->cfg.max_committed_bytes))
			bytes += rd->committed[k++].size_bytes;
		rd->committed_more = k < count;
		rd->committed_count = (size_t)k;
		n->applied += k;
		n->applied_bytes += bytes;
	}
	if (n->ready_read_count > 0) {
		rd->reads = n->ready_reads;
		rd->read_count = n->ready_read_count;
		n->ready_read_count = 0; /* the array stays valid until the next take */
	}
	rd->compact_hint = hp_compact_hint(n);
}

void hp_advance(hp_node *n, uint64_t seq)
{
	size_t done = 0;
	while (done < n->seq_count && n->seqs[done].seq <= seq) {
		if (n->seqs[done].last_index > n->stable)
			n->stable = n->seqs[done].last_index;
		done++;
	}
	memmove(n->seqs, n->seqs + done, (n->seq_count - done) * sizeof(*n->seqs));
	n->seq_count -= done;
	if (n->stable > hp_log_last_index(&n->log))
		n->stable = hp_log_last_index(&n->log);
	maybe_commit(n);
}

/* --------------------------------------------------------- create/status */

static bool config_valid(const hp_config *c)
{
	return c->id != 0 && c->lease_us > 0 && c->drift_ppm < 500000 &&
	       c->heartbeat_us > 0 && c->heartbeat_us < c->lease_us &&
	       c->election_timeout_us > 0 && c->max_inflight_appends > 0 &&
	       c->max_inflight_appends <= MAX_INFLIGHT && c->max_batch_entries > 0 &&
	       c->max_batch_bytes > 0 && c->max_entry_bytes > 0 &&
	       c->max_entry_bytes <= HP_MAX_ENTRY_BYTES && c->max_uncommitted_entries > 0 &&
	       c->max_pending_reads > 0 && c->compact_hint_jitter_pct <= 100;
}

hp_node *hp_create(const hp_config *cfg, const hp_conf *initial, const hp_restore *restore,
                   uint64_t now, int *rc)
{
	int dummy;
	if (!rc)
		rc = &dummy;
	*rc = HP_ERR_INVALID;
	if (!cfg || !config_valid(cfg))
		return NULL;
	hp_node *n = calloc(1, sizeof(*n));
	if (!n) {
		*rc = HP_ERR_NOMEM;
		return NULL;
	}
	n->cfg = *cfg;
	uint64_t ppm = 1000000;
	n->lease_leader_us = cfg->lease_us * (ppm - cfg->drift_ppm) / (ppm + cfg->drift_ppm);
#ifdef HP_MUTANT_NO_DRIFT_MARGIN
	n->lease_leader_us = cfg->lease_us; /* mutant: trusts clocks to run at one rate */
#endif
	n->now = now;
	n->role = HP_FOLLOWER;
	hint_redraw(n);

	hp_restore empty;
	memset(&empty, 0, sizeof(empty));
	if (!restore)
		restore = &empty;
	const hp_snapshot_meta *snap = &restore->snapshot;
	hp_log_init(&n->log, snap->index, snap->term);
	hp_conf base;
	memset(&base, 0, sizeof(base));
	if (snap->index > 0)
		base = snap->conf;
	else if (initial)
		base = *initial;
	if (base.voter_count > HP_MAX_VOTERS || base.learner_count > HP_MAX_MEMBERS ||
	    conf_push(n, snap->index, &base) != 0)
		goto fail;
	for (uint64_t i = 0; i < restore->entry_count; i++) {
		const hp_entry *e = &restore->entries[i];
		if (e->index != snap->index + 1 + i || e->term < hp_log_last_term(&n->log) ||
		    e->type > HP_ENTRY_CONF || (e->size_bytes && !e->data)) {
			*rc = HP_ERR_CORRUPT;
			goto fail;
		}
		if (log_append(n, e->term, e->type, e->data, e->size_bytes) != 0)
			goto fail;
	}
	if (n->corrupt) {
		*rc = HP_ERR_CORRUPT;
		goto fail;
	}
	const hp_hard_state *hs = &restore->hard_state;
	bool bootstrap = snap->index == 0 && restore->entry_count == 0 && hs->term == 0 &&
	                 base.voter_count > 0;
	if (bootstrap) {
		/* A new cluster: index 1 records the initial membership.  Every
		 * initial member writes the same entry, so logs still match. */
		uint8_t buf[HP_CONF_MAX_BYTES];
		size_t size = hp_conf_encode(&base, buf, sizeof(buf));
		if (size == 0 || hp_log_append(&n->log, 1, HP_ENTRY_CONF, buf, (uint32_t)size) != 0)
			goto fail;
	}
	n->term = hs->term;
	if (hp_log_last_term(&n->log) > n->term)
		n->term = hp_log_last_term(&n->log);
	n->vote = hs->term == n->term ? hs->vote : 0;
	n->lease_holder = hs->lease_holder;
	/* [LEASE] Whatever we promised before the restart, we keep promising
	 * for a full lease from now: the old deadline's clock is gone. */
	n->promise_until = n->lease_holder ? now + cfg->lease_us : now;
	uint64_t last = hp_log_last_index(&n->log);
	n->commit = hs->commit < snap->index ? snap->index : hs->commit;
	if (n->commit > last)
		n->commit = last;
	n->applied = snap->index;
	n->stable = last;
	n->unstable_from = last + 1;
	if (bootstrap) {
		n->commit = 1; /* on every initial member by construction */
		n->hs_dirty = true;
		n->stable = 0;
		n->unstable_from = 1;
	}
	n->backoff_until = now;
	n->election_delay = draw(n, cfg->election_jitter_us);
	peers_sync(n);
	*rc = 0;
	return n;
fail:
	hp_destroy(n);
	return NULL;
}

void hp_destroy(hp_node *n)
{
	if (!n)
		return;
	hp_log_deinit(&n->log);
	out_clear(&n->out);
	out_clear(&n->out_after);
	out_clear(&n->taken);
	free(n->out.v);
	free(n->out_after.v);
	free(n->taken.v);
	free(n->rd_msgs);
	free(n->rd_after);
	free(n->confs);
	free(n->seqs);
	free(n->reads);
	free(n->ready_reads);
	free(n->chunk_buf);
	free(n->chunk_buf_taken);
	free(n);
}

void hp_get_status(const hp_node *n, uint64_t now, hp_status *st)
{
	/* Every field is assigned below (no memset: the simulator calls this
	 * for every node after every event). */
	uint64_t t = now > n->now ? now : n->now;
	st->id = n->cfg.id;
	st->role = n->role;
	st->term = n->term;
	st->vote = n->vote;
	st->leader = n->leader;
	st->lease_holder = n->lease_holder;
	st->promise_until_us = n->promise_until;
	st->lease_valid = n->role == HP_LEADER && t < n->lease_until;
	st->lease_until_us = n->role == HP_LEADER ? n->lease_until : 0;
	st->first_index = n->log.snap_index + 1;
	st->last_index = hp_log_last_index(&n->log);
	st->last_term = hp_log_last_term(&n->log);
	st->log_memory_bytes = hp_log_memory_bytes(&n->log);
	st->commit = n->commit;
	st->applied = n->applied;
	st->stable_index = n->stable;
	st->snapshot_index = n->log.snap_index;
	st->snapshot_term = n->log.snap_term;
	const conf_rec *cur = &n->confs[n->conf_count - 1];
	st->conf.voter_count = cur->conf.voter_count;
	st->conf.learner_count = cur->conf.learner_count;
	memcpy(st->conf.voters, cur->conf.voters, cur->conf.voter_count * sizeof(hp_id));
	memcpy(st->conf.learners, cur->conf.learners, cur->conf.learner_count * sizeof(hp_id));
	st->conf_index = cur->index;
	st->corrupt = n->corrupt;
}

bool hp_lease_valid(const hp_node *n, uint64_t now)
{
	uint64_t t = now > n->now ? now : n->now;
	return n->role == HP_LEADER && t < n->lease_until;
}

uint64_t hp_log_term(const hp_node *n, uint64_t index) { return hp_log_term_at(&n->log, index); }

const hp_entry *hp_log_entry(const hp_node *n, uint64_t index) { return hp_log_at(&n->log, index); }
