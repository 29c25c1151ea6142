/*
 * harpoon.h — the Harpoon consensus core: Raft's log replication with a
 * lease-based election that a partially partitioned node cannot preempt.
 *
 * The core is a pure, deterministic state machine (see docs/harpoon.md).
 * It performs no IO, reads no clock, starts no thread and allocates only
 * from the heap with bounds set in hp_config.  Every input is one of:
 *
 *   hp_step(node, now, msg)      a message from a peer
 *   hp_tick(node, now)           time passes
 *   hp_propose / hp_propose_conf / hp_read / hp_transfer / hp_compact
 *   hp_advance(node, seq)        the caller made ready batch `seq` durable
 *
 * and every output waits in a ready batch that the caller takes with
 * hp_ready(), then:
 *   1. sends rd.msgs at once (they depend on nothing unpersisted),
 *   2. persists, in this order, rd.snapshot (if any), rd.hard_state (if
 *      rd.hard_state_changed), the log truncation at rd.truncate_from (if
 *      non-zero) and rd.entries,
 *   3. calls hp_advance(node, rd.seq) once all of that is durable,
 *      and only then sends rd.msgs_after_persist, which claim durability,
 *   4. applies rd.committed in order (they are already durable locally),
 *   5. serves each rd.reads[i] once its state machine has applied
 *      rd.reads[i].index.
 * Ready batches may be persisted in a pipeline, but strictly in seq order.
 *
 * Time is an opaque monotonic microsecond count from the node's own clock;
 * nodes never compare their clocks with each other.  One hp_node is one
 * consensus group; a process hosts many, and every message names its group.
 *
 * Ownership: everything a ready batch points to (arrays, entry data, chunk
 * data) is borrowed and valid only until the next call into the same node.
 * Copy what must outlive that.  Messages passed to hp_step are borrowed for
 * the duration of the call.
 */
#ifndef RASPUTIN_HARPOON_H
#define RASPUTIN_HARPOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Node ids are non-zero; 0 means "nobody". */
typedef uint64_t hp_id;

enum {
	HP_MAX_VOTERS = 7,   /* voters in one group */
	HP_MAX_MEMBERS = 16, /* voters plus learners */
	HP_MAX_ENTRY_BYTES = 16 * 1024 * 1024,
};

/* Return codes: 0 on success, negative on failure. */
enum {
	HP_OK = 0,
	HP_ERR_NOT_LEADER = -1,   /* only the leader (with a valid lease) may do this */
	HP_ERR_BUSY = -2,         /* too many uncommitted entries or reads; retry later */
	HP_ERR_TOO_LARGE = -3,    /* an entry above cfg.max_entry_bytes */
	HP_ERR_TRANSFERRING = -4, /* a leadership transfer is under way */
	HP_ERR_CONF_PENDING = -5, /* a membership change is not yet committed, or the
	                             leader has not committed an entry of its term */
	HP_ERR_INVALID = -6,      /* bad argument (unknown node, would exceed limits, ...) */
	HP_ERR_NOT_CAUGHT_UP = -7, /* learner too far behind to be promoted */
	HP_ERR_NOMEM = -8,
	HP_ERR_CORRUPT = -9, /* restored state violates an invariant */
};
const char *hp_strerror(int rc);

typedef enum {
	HP_FOLLOWER = 0,
	HP_PRE_CANDIDATE = 1, /* pre-request round: changes no persistent state */
	HP_CANDIDATE = 2,
	HP_LEADER = 3,
} hp_role;
const char *hp_role_name(hp_role role);

typedef enum {
	HP_ENTRY_NORMAL = 0, /* opaque client command */
	HP_ENTRY_NOOP = 1,   /* appended by every new leader */
	HP_ENTRY_CONF = 2,   /* membership change; data is hp-encoded, see hp_conf_change */
} hp_entry_type;

typedef struct {
	uint64_t index;
	uint64_t term;
	uint8_t type; /* hp_entry_type */
	uint32_t size_bytes;
	const uint8_t *data; /* NULL when size_bytes == 0 */
} hp_entry;

/* A group's membership.  Invariant: ids non-zero, no id in both lists. */
typedef struct {
	uint32_t voter_count;
	uint32_t learner_count;
	hp_id voters[HP_MAX_VOTERS];
	hp_id learners[HP_MAX_MEMBERS];
} hp_conf;

typedef enum {
	HP_CONF_ADD_LEARNER = 1,
	HP_CONF_PROMOTE = 2, /* learner -> voter, only once caught up */
	HP_CONF_REMOVE = 3,  /* voter or learner; may name the leader itself */
} hp_conf_op;

/* What must be durable before the messages that depend on it leave. */
typedef struct {
	uint64_t term;
	hp_id vote;         /* candidate granted a lease in `term`, 0 if none */
	hp_id lease_holder; /* whom this node promised a lease; restored as a
	                       fresh promise of a full lease_us after restart */
	uint64_t commit;
} hp_hard_state;

typedef struct {
	uint64_t index; /* last index covered by the snapshot */
	uint64_t term;  /* term of that entry */
	hp_conf conf;   /* membership as of index */
} hp_snapshot_meta;

typedef enum {
	HP_MSG_PRE_LEASE_REQ = 1,  /* "would you grant me a lease at term+1?" */
	HP_MSG_PRE_LEASE_RESP = 2,
	HP_MSG_LEASE_REQ = 3,      /* candidate asks for a vote + lease */
	HP_MSG_LEASE_RESP = 4,
	HP_MSG_APPEND = 5,         /* log entries; empty = heartbeat; renews the lease */
	HP_MSG_APPEND_RESP = 6,
	HP_MSG_SNAP_CHUNK = 7,     /* one chunk of an InstallSnapshot */
	HP_MSG_SNAP_RESP = 8,
	HP_MSG_TIMEOUT_NOW = 9,    /* leadership transfer: campaign now */
	HP_MSG_PULL_REQ = 10,      /* ask a peer for committed entries (or its snapshot) */
	HP_MSG_PULL_RESP = 11,     /* a peer's log after the asker's commit; a peer
	                              that compacted past the asker answers with
	                              SNAP_CHUNK (pull = true) instead */
} hp_msg_type;
const char *hp_msg_type_name(int type);

/*
 * One message.  Field meaning per type is listed in docs/harpoon.md; unused
 * fields are zero.  `send_us` is the sender's clock when a leader or
 * candidate sent a request, echoed unchanged in the response: it is how
 * the leader dates the lease a response renews.
 */
typedef struct {
	uint8_t type;
	bool reject;
	uint64_t group;
	hp_id from;
	hp_id to;
	uint64_t term;
	uint64_t log_index; /* APPEND: prev index; LEASE_REQ: last index; RESP: match/hint */
	uint64_t log_term;  /* APPEND: prev term;  LEASE_REQ: last term;  RESP: hint term */
	uint64_t commit;
	uint64_t send_us;
	bool pull;               /* SNAP_CHUNK answering a PULL_REQ, not from a leader */
	uint64_t last_index;     /* PRE_LEASE_RESP, PULL_RESP: sender's last log entry */
	uint64_t last_term;
	hp_id transfer_from;     /* LEASE_REQ after TIMEOUT_NOW: the leader that gave way */
	uint64_t transfer_term;  /* ... and its term */
	uint32_t entry_count;
	const hp_entry *entries;
	/* SNAP_CHUNK / SNAP_RESP */
	hp_snapshot_meta snap;
	uint64_t snap_offset; /* chunk offset; SNAP_RESP: bytes durably received */
	uint32_t snap_size_bytes;
	bool snap_last;
	const uint8_t *snap_data;
} hp_msg;

/*
 * Reads the leader's current snapshot for sending to a follower.  Copies up
 * to `cap` bytes at `offset` of the snapshot at `index` into buf, sets
 * *size_bytes and *last (true when the chunk reaches the end).  Returns 0,
 * or a negative value when that snapshot is gone (the core retries later).
 */
typedef int (*hp_snapshot_read_cb)(void *ctx, uint64_t group, uint64_t index,
                                   uint64_t offset, uint8_t *buf, size_t cap,
                                   size_t *size_bytes, bool *last);

typedef struct {
	uint64_t group;
	hp_id id;
	/* Lease: a node that grants a lease refuses every other candidate for
	 * lease_us of its own clock.  The leader counts its lease from the send
	 * time of the request that a quorum answered, for
	 * lease_us * (1e6 - drift_ppm) / (1e6 + drift_ppm) of its own clock
	 * (docs/harpoon.md, "Lease safety"). */
	uint64_t lease_us;
	uint32_t drift_ppm;          /* bound on |clock rate - 1|, in parts per million */
	uint64_t heartbeat_us;       /* leader renews this often; << lease_us */
	uint64_t election_jitter_us; /* random wait after a lease expires */
	uint64_t election_timeout_us; /* a (pre-)candidacy gives up after this */
	uint32_t max_inflight_appends; /* per follower (pipelining) */
	uint32_t max_batch_entries;    /* per APPEND */
	uint32_t max_batch_bytes;
	uint32_t max_entry_bytes;
	uint32_t max_uncommitted_entries; /* proposals beyond this get HP_ERR_BUSY */
	/* Committed entries handed out in one ready stop once they pass this
	 * many bytes (always at least one entry); the rest follow in later
	 * readies (rd.committed_more).  Lets a node that fell behind in
	 * applying catch up in slices, answering its peers between them.
	 * 0 = no limit. */
	uint32_t max_committed_bytes;
	uint32_t max_pending_reads;
	uint32_t snapshot_chunk_bytes;
	/* rd.compact_hint once this many applied entries are in the log past
	 * its snapshot, or this many bytes of their data (0: off): what a
	 * compaction at the applied index would free. */
	uint64_t compact_hint_entries;
	uint64_t compact_hint_bytes;
	/* Both bounds grow by a fresh random 0..this percent at every
	 * compaction (0: off, at most 100), so that nodes applying the same
	 * entries do not all snapshot at the same moment. */
	uint32_t compact_hint_jitter_pct;
	uint64_t promote_lag_entries;  /* a learner within this of the leader may be promoted */
	uint64_t (*rand)(void *ctx);   /* the only randomness */
	void *rand_ctx;
	hp_snapshot_read_cb snapshot_read;
	void *snapshot_ctx;
	/* false: every read is confirmed by a quorum round (read index) even
	 * when the lease is valid, for operators who distrust their clocks. */
	bool lease_reads;
} hp_config;

/* Fills cfg with defaults (lease 1 s, heartbeat 100 ms, ...). */
void hp_config_default(hp_config *cfg);

/* What a node restarts from; all zero for a brand-new node. */
typedef struct {
	hp_hard_state hard_state;
	hp_snapshot_meta snapshot; /* index 0 when none */
	const hp_entry *entries;   /* the log after snapshot.index, contiguous */
	uint64_t entry_count;
} hp_restore;

typedef struct {
	uint64_t ctx;   /* the caller's, from hp_read */
	uint64_t index; /* serve once applied >= index */
} hp_read_state;

typedef struct {
	hp_snapshot_meta meta;
	uint64_t offset;
	uint32_t size_bytes;
	const uint8_t *data;
	bool last; /* the snapshot is complete: install it atomically */
} hp_snap_chunk;

typedef struct {
	uint64_t seq; /* pass to hp_advance once persisted; 1, 2, 3, ... */
	bool hard_state_changed;
	hp_hard_state hard_state;
	uint64_t truncate_from; /* remove log entries >= this first; 0 = none */
	const hp_entry *entries;
	size_t entry_count;
	const hp_msg *msgs;
	size_t msg_count;
	const hp_msg *msgs_after_persist;
	size_t msg_after_persist_count;
	const hp_entry *committed; /* apply in order */
	size_t committed_count;
	bool committed_more; /* more committed entries wait (max_committed_bytes) */
	const hp_read_state *reads;
	size_t read_count;
	bool has_snap_chunk; /* persist the chunk; if last, install the snapshot,
	                        replacing state machine and log */
	hp_snap_chunk snap_chunk;
	uint64_t compact_hint; /* non-zero: consider hp_compact at an applied index */
} hp_ready;

/* Read-only view of a node, for tests, the simulator and INFO. */
typedef struct {
	hp_id id;
	hp_role role;
	uint64_t term;
	hp_id vote;
	hp_id leader;       /* as far as this node knows; 0 if unknown */
	hp_id lease_holder; /* whom this node currently promises, 0 if none */
	uint64_t promise_until_us; /* local clock; refuses others before this */
	bool lease_valid;          /* leader only: holds a valid lease at `now` */
	uint64_t lease_until_us;   /* leader only: local clock */
	uint64_t first_index; /* first entry in the log (snapshot.index + 1) */
	uint64_t last_index;
	uint64_t last_term;
	/* Memory the log's entries after the snapshot hold: their data and
	 * the entry array (which keeps the capacity it grew to). */
	uint64_t log_memory_bytes;
	uint64_t commit;
	uint64_t applied;      /* last index handed out in rd.committed */
	uint64_t stable_index; /* last index known durable */
	uint64_t snapshot_index;
	uint64_t snapshot_term;
	hp_conf conf;
	uint64_t conf_index; /* index of the entry that set conf (0: initial) */
	bool corrupt;
} hp_status;

typedef struct hp_node hp_node;

/*
 * Creates a node.  `initial` is the membership used when neither restore
 * holds a snapshot nor the log holds a CONF entry (a new cluster); it is
 * ignored otherwise.  `restore` may be NULL for a brand-new node.  The
 * first hp_tick/hp_step `now` starts the node's clock.  Returns NULL on
 * allocation failure or an invalid config or restore (see *rc).
 * Destroy with hp_destroy (accepts NULL).
 */
hp_node *hp_create(const hp_config *cfg, const hp_conf *initial,
                   const hp_restore *restore, uint64_t now_us, int *rc);
void hp_destroy(hp_node *node);

/* Inputs.  All may generate output for the next hp_ready. */
void hp_tick(hp_node *node, uint64_t now_us);
/* Messages for another group or node, or malformed, are dropped (returns
 * HP_ERR_INVALID); any other message returns 0. */
int hp_step(hp_node *node, uint64_t now_us, const hp_msg *msg);

/* Leader only.  Copies data.  On success *index and *term say where the
 * entry sits; it is committed iff it later appears in rd.committed with
 * that term. */
int hp_propose(hp_node *node, uint64_t now_us, const uint8_t *data,
               uint32_t size_bytes, uint64_t *index, uint64_t *term);
int hp_propose_conf(hp_node *node, uint64_t now_us, hp_conf_op op, hp_id id,
                    uint64_t *index, uint64_t *term);

/* Linearizable read.  Leader only.  The read state appears in rd.reads:
 * at once when the lease is valid and an entry of this term is committed,
 * otherwise after a quorum confirms leadership (read index). */
int hp_read(hp_node *node, uint64_t now_us, uint64_t ctx);

/* Hands leadership to `target` (a caught-up voter); 0 = most caught up. */
int hp_transfer(hp_node *node, uint64_t now_us, hp_id target);

/* The caller snapshotted its state machine at `index` (<= applied); the
 * core drops the log up to it and will serve it to lagging followers
 * through cfg.snapshot_read. */
int hp_compact(hp_node *node, uint64_t index);
/* What rd.compact_hint would say now (0: no compaction is due): for a
 * caller that compacted while more entries were applied, and would
 * otherwise wait for the next ready to learn that another is due. */
uint64_t hp_compact_hint(const hp_node *node);

/* Output. */
bool hp_has_ready(const hp_node *node);
void hp_ready_take(hp_node *node, hp_ready *rd);
void hp_advance(hp_node *node, uint64_t seq);

void hp_get_status(const hp_node *node, uint64_t now_us, hp_status *st);
/* Just status.lease_valid, cheaply: leader with a valid lease at now_us. */
bool hp_lease_valid(const hp_node *node, uint64_t now_us);
/* Term of the entry at index, or 0 if not in the log (compacted/absent). */
uint64_t hp_log_term(const hp_node *node, uint64_t index);
/* Entry at index, or NULL; borrowed until the next call into node. */
const hp_entry *hp_log_entry(const hp_node *node, uint64_t index);

/* HP_ENTRY_CONF data is either one change (9 bytes: op, id little-endian)
 * or a whole membership (HP_CONF_FULL_TAG, voter count, learner count, ids
 * little-endian).  A new cluster's log starts with the whole membership at
 * index 1, so a node replaying the log from the start (a joining learner)
 * learns it. */
enum {
	HP_CONF_CHANGE_BYTES = 9,
	HP_CONF_FULL_TAG = 0xC0,
	HP_CONF_MAX_BYTES = 3 + 8 * (HP_MAX_VOTERS + HP_MAX_MEMBERS),
};
/* Returns the encoded size (<= cap), or 0 if cap is too small. */
size_t hp_conf_encode(const hp_conf *conf, uint8_t *buf, size_t cap);
/* Decodes either form of CONF entry data onto *conf (a change is applied
 * to the membership already in *conf).  Returns 0 or HP_ERR_INVALID. */
int hp_conf_entry_apply(hp_conf *conf, const uint8_t *data, uint32_t size_bytes);
void hp_conf_change_encode(uint8_t out[HP_CONF_CHANGE_BYTES], hp_conf_op op, hp_id id);
int hp_conf_change_decode(const uint8_t *data, uint32_t size_bytes,
                          hp_conf_op *op, hp_id *id);
/* Applies a change to a conf; returns HP_ERR_INVALID if it does not fit. */
int hp_conf_apply(hp_conf *conf, hp_conf_op op, hp_id id);
bool hp_conf_is_voter(const hp_conf *conf, hp_id id);
bool hp_conf_is_learner(const hp_conf *conf, hp_id id);

#endif
