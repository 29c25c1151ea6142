/*
 * sim.h — the deterministic cluster simulator's shared types and entry
 * points.  A sim_world is one simulated run: simulated real time, the
 * event queue, the network's link matrix, the nodes (each running the
 * real Harpoon core over a simulated disk and clock), the clients and
 * their history, and the invariant checker's bookkeeping.  Everything is
 * single-threaded and every random choice comes from PRNGs seeded by the
 * run's seed, so a seed replays exactly.
 *
 * Files and prefixes: sim.c (world, event loop, liveness, the fault model
 * in its top comment), sim_node.c (a node and the core's driving loop),
 * sim_net.c (messages), sim_check.c (invariants), sim_client.c
 * (workload, history), sim_fault.c (the swarm's random faults),
 * sim_member.c (membership operator and repair of corrupt nodes),
 * sim_params.c, sim_kv.c, sim_disk.c (a node's fs_sim disk with the real
 * WAL and snapshot files), sim_clock.c, sim_heap.c (the event queue),
 * sim_pool.c (recycled blocks for message and batch copies); scenarios in
 * sim_scenario.c, the demo in sim_demo.c, the command line in sim_main.c.
 */
#ifndef RASPUTIN_SIM_H
#define RASPUTIN_SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "harpoon/harpoon.h"
#include "sim/lincheck.h"
#include "sim/sim_clock.h"
#include "sim/sim_disk.h"
#include "sim/sim_heap.h"
#include "sim/sim_kv.h"
#include "sim/sim_params.h"
#include "sim/sim_pool.h"
#include "util/prng.h"

enum {
	SIM_MAX_NODES = 24,      /* node slots per run; ids are slot + 1, never reused */
	SIM_GROUP_COUNT = 1,     /* consensus groups per node (group ids 1..) */
	SIM_MAX_CLIENTS = 16,
	SIM_MAX_PARTITIONS = 4,  /* random partitions active at once */
	SIM_READS_MAX = 1024,    /* read states waiting for the state machine */
	SIM_READIES_MAX = 4096,  /* ready batches being persisted, per replica */
	SIM_INFLIGHT_MAX = 200000, /* messages in flight; beyond: dropped */
	SIM_EVENTS_MAX = 1 << 20,
	SIM_HISTORY_MAX = 1 << 20, /* client ops recorded per run */
	SIM_MSG_TYPES = 12,
};

typedef struct sim_world sim_world;
typedef struct sim_node sim_node;

/* Event kinds (sim_event.kind); slot and arg meanings per kind. */
typedef enum {
	SIM_EV_DELIVER = 1,   /* ptr: sim_msg */
	SIM_EV_TICK,          /* slot: node; arg: incarnation */
	SIM_EV_DISK,          /* slot: node; arg: incarnation << 8 | group slot */
	SIM_EV_CLIENT_ISSUE,  /* slot: client; arg: the client's timer generation */
	SIM_EV_CLIENT_ARRIVE, /* slot: client; arg: op id */
	SIM_EV_CLIENT_TIMEOUT,/* slot: client (one queued per client at most) */
	SIM_EV_PARTITION,     /* start a random partition */
	SIM_EV_PARTITION_END, /* slot: partition index; arg: its generation */
	SIM_EV_CRASH,         /* crash a random node */
	SIM_EV_POWER,         /* crash a majority (or every node) at once */
	SIM_EV_KILL_LEADER,   /* slot: node; arg: term it was elected in */
	SIM_EV_RESTART,       /* slot: node; arg: incarnation it crashed in */
	SIM_EV_CLOCK,         /* change a random clock's rate */
	SIM_EV_MEMBER,        /* a membership operator step */
	SIM_EV_DECOMMISSION,  /* slot: node removed from the group: stop it for good */
	SIM_EV_LOGCHECK,      /* periodic pairwise log-matching check */
	SIM_EV_DISK_FAIL,     /* slot: node; arg: incarnation: a write or sync failed, stop */
} sim_event_kind;

/* --- messages (sim_net.c) ------------------------------------------------ */

/* A message in flight: hp_msg with its entries and chunk data copied into
 * the same allocation (the core's ready batch is only borrowed). */
typedef struct sim_msg {
	hp_msg m;                /* pointers point into this allocation */
	uint32_t from_slot;
	uint32_t to_slot;
	uint32_t to_incarnation; /* dropped if the target restarted since */
	uint32_t group_slot;
	size_t size_bytes;       /* of the allocation (a world.pool block) */
	struct sim_msg *next;    /* the next one of a ready batch's after-persist list */
} sim_msg;

/* --- nodes (sim_node.c) -------------------------------------------------- */

/* A ready batch copied out of the core, waiting for its persistence to
 * complete (they complete strictly in seq order). */
typedef struct {
	uint64_t seq;
	uint64_t done_us; /* real time its persistence completes */
	bool hard_state_changed;
	hp_hard_state hard_state;
	uint64_t truncate_from;
	hp_entry *entries; /* owned copies, one world.pool block */
	size_t entry_count;
	size_t entries_block_bytes;
	bool has_chunk;
	hp_snap_chunk chunk; /* data owned */
	uint8_t *snap_blob;  /* chunk.last: the whole snapshot received (owned) */
	size_t snap_size_bytes;
	sim_msg *after;      /* msgs_after_persist, sent at completion: a list
	                        in order, through sim_msg.next */
	size_t after_count;
} sim_ready;

typedef struct {
	uint64_t index;
	uint64_t term;
	uint32_t client;
	uint64_t op_id;
} sim_prop; /* a client write this replica proposed: resolved when it applies index */

typedef struct {
	uint64_t ctx; /* op id */
	uint64_t index;
} sim_read; /* a read state from the core, served once applied >= index */

typedef struct {
	uint32_t client;
	uint64_t op_id;
} sim_read_wait; /* hp_read accepted; waiting for the core's read state */

typedef struct sim_replica {
	sim_node *node;
	uint64_t group;      /* group id (group_slot + 1) */
	uint32_t group_slot;
	hp_config cfg;
	hp_conf initial;     /* membership for a brand-new start (empty if added) */
	rp_prng core_rng;    /* cfg.rand */
	/* What the node's disk holds for this group, as of the last durable
	 * WAL round (or the last recovery): the checker's view of it. */
	hp_hard_state dur_hs;
	uint64_t dur_snap;   /* the WAL's snapshot mark */
	uint64_t dur_last;   /* the WAL's last index */
	/* volatile: rebuilt at restart */
	hp_node *core;       /* NULL while the node is down */
	sim_kv kv;
	sim_disk_stage stage; /* snapshot chunks taken (installed at take time) */
	sim_ready *readies;  /* ring; ready_capacity is a power of two */
	size_t ready_head;
	size_t ready_count;
	size_t ready_capacity;
	uint64_t ready_next_seq;
	uint64_t last_done_us;
	sim_read reads[SIM_READS_MAX];
	size_t read_count;
	sim_read_wait read_waits[SIM_MAX_CLIENTS];
	size_t read_wait_count;
	sim_prop props[SIM_MAX_CLIENTS];
	size_t prop_count;
	/* the core's status after the last input (valid while up) */
	hp_status st;
	bool st_valid;
	bool touched; /* called into during the current event */
	/* For the lease check after every event (sim_check.c): the local
	 * bounds lease_until and promise_until last seen in st, as real-time
	 * deadlines on the node's clock.  While now < lease_end_us the clock
	 * reads below lease_until; likewise promise_end_us.  Recomputed when
	 * the bound or the clock's rate (ends_clock_generation) changes. */
	uint64_t lease_until_seen, lease_end_us;
	uint64_t promise_until_seen, promise_end_us;
	uint64_t ends_clock_generation;
	bool ends_valid;
	/* kv.conf's voters when the lease memo last saw them */
	uint32_t kv_voter_count_seen;
	hp_id kv_voters_seen[HP_MAX_VOTERS];
	uint64_t commit_traced;
} sim_replica;

struct sim_node {
	hp_id id;
	uint32_t slot;
	bool up;
	bool decommissioned; /* removed from the group and stopped for good */
	bool added;          /* created by a membership change */
	uint32_t incarnation; /* +1 at every crash */
	sim_disk disk;        /* durable: fs_sim + WAL + snapshot files */
	bool corrupt;         /* recovery refused its log: stays down until replaced */
	bool bit_flipped;     /* latent corruption was injected into its WAL */
	bool flip_unseen;     /* ... and it has not restarted since */
	bool disk_failed;     /* a fatal disk error: no more write rounds until it stops */
	sim_clock clock;
	uint64_t down_since_us;
	sim_replica rep[SIM_GROUP_COUNT];
	uint64_t sent[SIM_MSG_TYPES]; /* messages handed to the network, by type */
};

/* --- invariants (sim_check.c) -------------------------------------------- */

/* What the checks compare a replica's fresh status against, kept from
 * its previous one (sim_check_refresh; the whole hp_status is larger). */
typedef struct {
	hp_role role;
	uint64_t term;
	uint64_t commit;
	hp_id leader;
	hp_id lease_holder;
	uint64_t lease_until_us;
	uint64_t promise_until_us;
	uint64_t conf_index;
	uint32_t voter_count;
	hp_id voters[HP_MAX_VOTERS]; /* [0, voter_count) */
} sim_status_prev;

typedef struct {
	uint64_t term;       /* of the entry */
	uint64_t hash;       /* of its type and data */
	uint64_t state_hash; /* of the state machine after applying it */
	uint64_t max_term;   /* highest term in the cluster when first seen committed */
	bool is_cmd;
	sim_kv_result res;   /* the command's result (for proposers that missed it) */
} sim_check_commit;

typedef struct {
	uint64_t index;
	uint64_t term;
	uint64_t hash;
} sim_check_slot;

typedef struct {
	uint64_t term; /* 0: no entry seen at this index yet */
	uint64_t hash;
} sim_check_first;

typedef struct {
	hp_id *term_leader; /* term -> the node that led it */
	size_t term_capacity;
	/* (index, term) -> entry hash.  Nearly every index only ever sees one
	 * term, so the first term seen at an index sits in an array by index
	 * (appends walk it in order: cache-friendly); any other term at that
	 * index goes to the open-addressing table `slots`. */
	sim_check_first *firsts; /* firsts[index] */
	size_t first_capacity;
	sim_check_slot *slots;
	size_t slot_capacity;
	size_t slot_count;
	sim_check_commit *commits; /* commits[i - 1]: the committed entry at i */
	size_t commit_count;
	size_t commit_capacity;
	uint64_t max_term; /* highest term any node has reached */
	uint64_t elections;
} sim_check;

/* --- clients (sim_client.c) ---------------------------------------------- */

typedef enum {
	SIM_CLIENT_THINKING = 0, /* an ISSUE event is scheduled */
	SIM_CLIENT_SENDING,      /* the request travels to the node */
	SIM_CLIENT_WAITING,      /* proposed or reading; waiting for the outcome */
} sim_client_state;

typedef struct {
	uint32_t index;
	sim_client_state state;
	uint64_t counter;  /* ops issued */
	uint64_t op_id;    /* current op */
	uint64_t timer_gen;
	uint64_t deadline_us;   /* the current op times out then */
	bool timeout_pending;   /* a TIMEOUT event is queued (at most one) */
	sim_kv_cmd cmd;
	size_t hist;       /* the op's place in the history */
	uint32_t slot;     /* target node */
	uint32_t incarnation;
	bool seen_present[SIM_KV_KEYS]; /* what this client last saw: CAS expectations */
	uint64_t seen_value[SIM_KV_KEYS];
	uint32_t ok_writes; /* since the last sim_client_mark */
	uint32_t ok_reads;
	rp_prng rng;
	size_t *op_hist;    /* op_hist[counter - 1]: the op's place in the history */
	size_t op_hist_capacity;
} sim_client;

/* What the simulator knows about a recorded op beyond what its client saw:
 * whether (and when first) its command was applied anywhere. */
typedef struct {
	uint64_t op_id;
	uint64_t applied_us; /* first apply on any replica */
	uint64_t index;      /* where it was applied */
	bool applied;
	sim_kv_result res;   /* the result of that apply */
} sim_op_meta;

/* --- random faults (sim_fault.c) ----------------------------------------- */

typedef struct {
	bool active;
	uint64_t generation;
	uint64_t end_us;
	bool cut[SIM_MAX_NODES][SIM_MAX_NODES]; /* [from][to] */
	char what[96];
} sim_partition;

/* --- membership operator (sim_member.c) ---------------------------------- */

typedef enum {
	SIM_MEMBER_IDLE = 0,
	SIM_MEMBER_ADD,     /* make `id` a learner */
	SIM_MEMBER_PROMOTE, /* make learner `id` a voter */
	SIM_MEMBER_REMOVE,  /* remove voter `id` */
} sim_member_goal;

typedef struct {
	sim_member_goal goal;
	hp_id id;
	uint32_t adds;
	uint32_t removes;
	uint32_t promotes;
	uint64_t attempts;
	bool scheduled;       /* a SIM_EV_MEMBER event is queued */
	bool repairing;       /* the goal replaces repair_id */
	hp_id repair_id;      /* the corrupt node being replaced */
	bool repair_remove_after; /* REMOVE repair_id once the new node is a voter */
	bool repair_add_after;    /* ADD + PROMOTE a new node once repair_id is removed */
} sim_member;

/* --- the world (sim.c) --------------------------------------------------- */

typedef struct {
	uint64_t events;
	uint64_t msgs_sent, msgs_delivered, msgs_dropped, msgs_duplicated, msgs_overflow;
	uint64_t by_type[SIM_MSG_TYPES];
	uint64_t entries_committed; /* global committed index */
	uint64_t crashes, restarts, partitions, clock_changes, snapshots_installed, compactions;
	uint64_t ops_ok, ops_fail, ops_info;
	uint64_t leader_changes;
	uint64_t lincheck_states;
	bool lincheck_exhausted;
	/* disk */
	uint64_t disk_rounds;       /* WAL batches persisted (append + sync) */
	uint64_t disk_errors;       /* injected write/sync failures that stopped a node */
	uint64_t inflight_writes;   /* crashes that caught a write round unsynced */
	uint64_t torn_tails;        /* recoveries that cut a torn or incomplete tail */
	uint64_t torn_bytes;
	uint64_t bit_flips;         /* nodes given latent corruption */
	uint64_t corrupt_detected;  /* recoveries that returned RP_ERR_CORRUPT */
	uint64_t nodes_replaced;    /* corrupt nodes removed and replaced */
	uint64_t segments_created, segments_deleted;
} sim_stats;

struct sim_world {
	uint64_t seed;
	sim_params p;
	uint64_t now_us;
	sim_heap heap;
	sim_pool pool; /* message and batch copies */
	rp_prng rng_net, rng_disk, rng_fault, rng_clock, rng_member;
	rp_prng rng_media; /* the simulated disks: crashes, errors, bit flips */
	sim_node *nodes[SIM_MAX_NODES];
	uint32_t node_count;
	/* network */
	bool link_up[SIM_MAX_NODES][SIM_MAX_NODES];     /* [from][to]: derived */
	bool manual_cut[SIM_MAX_NODES][SIM_MAX_NODES];  /* set by scenarios */
	sim_partition parts[SIM_MAX_PARTITIONS];
	uint64_t part_generation;
	uint32_t drop_ppm, dup_ppm, tail_ppm; /* current (zeroed for liveness) */
	size_t inflight;
	/* phases */
	bool chaos;    /* random faults on */
	bool liveness; /* recovery phase */
	bool clients_on;
	/* Node slots with a replica touched since it was last observed (bit
	 * i: slot i; sim_replica_touch): world_observe visits only those. */
	uint32_t observe_mask;
	/* checking */
	sim_check check[SIM_GROUP_COUNT];
	/* The lease check's memo (sim_check.c): its last verdict passed and
	 * stands while now < lease_memo_until_us, unless an input changed
	 * (sim_check_leases_changed clears lease_memo_valid). */
	bool lease_memo_valid;
	uint64_t lease_memo_until_us;
	hp_id lease_memo_holder[SIM_GROUP_COUNT]; /* the lease holder it saw (0: none) */
	uint64_t next_logcheck_us;
	uint64_t elections_seen; /* for the leader-killer fault */
	/* workload */
	sim_client clients[SIM_MAX_CLIENTS];
	uint32_t client_count;
	lc_op *hist;
	sim_op_meta *hist_meta; /* parallel to hist */
	size_t hist_count;
	size_t hist_capacity;
	sim_member member;
	/* outcome */
	bool failed;
	char reason[512];
	sim_stats stats;
	/* output: trace 0 = silent, 1 = protocol timeline, 2 = also messages */
	FILE *out;
	int trace;
	bool narrate; /* the demo's concise timeline */
};

_Static_assert(SIM_MAX_NODES <= 32, "sim_world.observe_mask has a bit per node slot");

/* Marks r as called into during this event: its status is refreshed and
 * checked after the event (sim_node_observe). */
static inline void sim_replica_touch(sim_world *w, sim_replica *r)
{
	r->touched = true;
	w->observe_mask |= (uint32_t)1 << r->node->slot;
}

/* World lifecycle and the event loop (sim.c). */
sim_world *sim_world_create(const sim_params *p, uint64_t seed, FILE *out, int trace);
void sim_world_destroy(sim_world *w);
/* Boots the initial voters, starts clients, and (if p.fault_us) the faults. */
void sim_world_start(sim_world *w, bool clients, bool chaos);
/* Runs events up to real time until_us.  False once the run has failed. */
bool sim_run_until(sim_world *w, uint64_t until_us);
/* Runs until cond holds (checked after every event) or deadline_us.
 * True when cond held; false on deadline or failure. */
bool sim_run_cond(sim_world *w, uint64_t deadline_us, bool (*cond)(sim_world *, void *),
                  void *ctx);
/* Ends the run: stops the faults, heals every link, restarts every node
 * (not decommissioned ones), requires recovery within p.liveness_us, then
 * the final checks (pairwise log matching, linearizability). */
bool sim_finish(sim_world *w);
/* Fails the run with a reason (the first one sticks). */
void sim_fail(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A timeline line (when tracing). */
void sim_trace(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_narrate(sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_schedule(sim_world *w, uint64_t at_us, sim_event_kind kind, uint32_t slot,
                  uint64_t arg, void *ptr);
/* The node whose lease is valid now, or NULL. */
sim_node *sim_lease_holder(sim_world *w);
/* An up node whose core says it leads (highest term), or NULL. */
sim_node *sim_believed_leader(sim_world *w);
sim_node *sim_node_by_id(sim_world *w, hp_id id);
/* Links: scenario control (manual cuts); recomputes the link matrix. */
void sim_link_set(sim_world *w, uint32_t from_slot, uint32_t to_slot, bool up);
void sim_link_set_both(sim_world *w, uint32_t a_slot, uint32_t b_slot, bool up);
void sim_link_isolate(sim_world *w, uint32_t slot, bool isolated);
void sim_link_heal_all(sim_world *w);
void sim_link_recompute(sim_world *w);
/* Stops a node for good (it was removed from the group). */
void sim_decommission(sim_world *w, sim_node *n);
/* The assertion hook's replay line (printed when an RP_CHECK fails). */
void sim_set_replay(const char *line);
/* How sim_run_seed words its replay line: the program to run and extra
 * flags (e.g. "--without members"); NULL for the defaults. */
void sim_set_replay_command(const char *prog, const char *extra);
/* Runs one swarm seed; prints parameters and the outcome to out when
 * verbose; `without` switches fault classes off (SIM_WITHOUT_*).  Returns
 * true on pass; *reason gets the failure. */
bool sim_run_seed(uint64_t seed, uint32_t without, FILE *out, int trace, bool verbose,
                  sim_stats *stats,
                  uint64_t *simulated_us, char *reason, size_t reason_size);

/* Nodes (sim_node.c). */
sim_node *sim_node_create(sim_world *w, const hp_conf *initial, bool added);
void sim_node_destroy(sim_world *w, sim_node *n);
void sim_node_boot(sim_world *w, sim_node *n);   /* start or restart from disk */
void sim_node_crash(sim_world *w, sim_node *n);
void sim_node_tick(sim_world *w, sim_node *n);
void sim_node_deliver(sim_world *w, sim_node *n, const sim_msg *msg);
void sim_node_disk_done(sim_world *w, sim_node *n, uint32_t group_slot);
/* A write or sync failed on a live node: it stops (SIM_EV_DISK_FAIL). */
void sim_node_disk_fail(sim_world *w, sim_node *n);
/* n's local clock now. */
static inline uint64_t sim_node_now(const sim_world *w, const sim_node *n)
{
	return sim_clock_local(&n->clock, w->now_us);
}
/* From now on n's clock runs at rate_ppm (sim_clock_set_rate). */
void sim_node_set_clock_rate(sim_world *w, sim_node *n, int32_t rate_ppm);
/* After an event: refreshes the cached status of touched replicas and
 * checks the per-node invariants. */
void sim_node_observe(sim_world *w, sim_node *n);
void sim_replica_drain(sim_world *w, sim_replica *r);
/* Client entry points; return an HP_* code. */
int sim_replica_propose(sim_world *w, sim_replica *r, const sim_kv_cmd *cmd);
int sim_replica_read(sim_world *w, sim_replica *r, uint32_t client, uint64_t op_id);

/* Network (sim_net.c). */
/* A deep copy of m in one block of w->pool; free with sim_net_free. */
sim_msg *sim_net_copy(sim_world *w, const hp_msg *m);
void sim_net_free(sim_world *w, sim_msg *msg);
/* Takes ownership: drops, duplicates, delays and schedules delivery. */
void sim_net_send(sim_world *w, sim_node *from, uint32_t group_slot, sim_msg *msg);
void sim_net_deliver(sim_world *w, sim_msg *msg); /* frees msg */
const char *sim_net_type_name(int type);

/* Invariants (sim_check.c). */
void sim_check_init(sim_check *c);
void sim_check_deinit(sim_check *c);
void sim_check_appended(sim_world *w, sim_replica *r, const hp_entry *entries, size_t count);
void sim_check_committed(sim_world *w, sim_replica *r, const hp_entry *e, bool is_cmd,
                         const sim_kv_result *res);
void sim_check_snapshot(sim_world *w, sim_replica *r, const char *how);
/* Refreshes r->st from r's core (at local time now) and checks it: the
 * core's own claims, against its previous status too, and whether the
 * lease check's memo still holds.  Returns whether r led before. */
bool sim_check_refresh(sim_world *w, sim_replica *r, uint64_t now);
void sim_check_leases(sim_world *w);
/* Something the lease check reads changed (a node went up or down, a
 * clock's rate, a node was added): its memo no longer holds. */
void sim_check_leases_changed(sim_world *w);
void sim_check_log_matching(sim_world *w);
/* At the end: the leader's log holds every committed entry. */
void sim_check_nothing_lost(sim_world *w, sim_node *leader);
bool sim_check_linearizable(sim_world *w);
const sim_check_commit *sim_check_commit_at(const sim_world *w, uint32_t group_slot,
                                            uint64_t index);

/* Clients (sim_client.c). */
void sim_client_init(sim_world *w);
void sim_client_issue(sim_world *w, sim_client *c);
void sim_client_arrive(sim_world *w, sim_client *c, uint64_t op_id);
void sim_client_timeout(sim_world *w, sim_client *c);
/* Outcomes reported by replicas. */
void sim_client_applied(sim_world *w, uint32_t client, uint64_t op_id, const sim_kv_result *res);
void sim_client_failed(sim_world *w, uint32_t client, uint64_t op_id, bool indeterminate);
/* Zeroes the per-client OK counters (liveness counts from here). */
void sim_client_mark(sim_world *w);
/* Closes every outstanding op at the end of a run. */
void sim_client_close(sim_world *w);
/* A command was applied for the first time anywhere (global index). */
void sim_client_first_apply(sim_world *w, const sim_kv_cmd *cmd, uint64_t index,
                            const sim_kv_result *res);
/* Settles indeterminate writes with what the run shows (applied: OK at
 * the first apply; never applied: FAIL) and checks that every OK write was
 * applied with the result its client saw, and no FAIL write was. */
void sim_client_settle(sim_world *w);
void sim_client_deinit(sim_world *w);

/* Random faults (sim_fault.c). */
void sim_fault_start(sim_world *w);
void sim_fault_event(sim_world *w, const sim_event *ev);
void sim_fault_stop(sim_world *w);
/* A node just became leader (the leader-killer fault may strike). */
void sim_fault_on_election(sim_world *w, sim_node *leader);
/* A node crashed by a fault: latent corruption may strike its WAL now
 * (within the run's budget of corrupt nodes). */
void sim_fault_after_crash(sim_world *w, sim_node *n);

/* Membership operator (sim_member.c). */
void sim_member_start(sim_world *w);
void sim_member_step(sim_world *w);
/* One proposal through the current lease holder; an HP_* code. */
int sim_member_propose(sim_world *w, hp_conf_op op, hp_id id);
/* A new empty node (not yet a member); NULL when no slot is left. */
sim_node *sim_member_new_node(sim_world *w);
/* A node's recovery refused its log: have the operator replace it. */
void sim_member_corrupt(sim_world *w, sim_node *n);

#endif
