/*
 * server.h — rasputind's process-wide state and the pieces of the server
 * that share it (docs/server.md):
 *
 *   node.c     the consensus glue: one Harpoon group, the WAL (group commit
 *              on its writer thread), the RocksDB state machine; drives the
 *              core's ready batches exactly as harpoon.h says, applies
 *              committed entries and keeps the node address book
 *   exec.c     what happens to one request: answered locally, proposed to
 *              the log (leader), read under a read index (leader), or
 *              forwarded to the leader over the peer port; timeouts and the
 *              UNCERTAIN rule; joins and admin commands
 *   client.c   client connections: RESP parsing, per-connection state
 *              (protocol, auth, stale reads), replies in request order
 *   ident.c    the storage directory: lock, node identity file
 *   server.c   start-up, timers, signals, shutdown
 *
 * Threads: everything runs on the libuv loop thread except the WAL's
 * writer, which only hands durable sequence numbers over (wal_durable_cb ->
 * uv_async_send).  No fsync runs on the loop thread in the write path;
 * snapshot creation and installation (rare) do.
 */
#ifndef RASPUTIN_SERVER_SERVER_H
#define RASPUTIN_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "harpoon/harpoon.h"
#include "net/peer_transport.h"
#include "net/peer_wire.h"
#include "net/resp.h"
#include "server/cmd.h"
#include "server/config.h"
#include "server/idle_poll.h"
#include "storage/fs.h"
#include "storage/sm.h"
#include "storage/wal.h"
#include "util/hist.h"

enum {
	SRV_GROUP = 1,               /* the one consensus group until sharding */
	SRV_CONN_MAX_INFLIGHT = 1024, /* pipelined requests per connection before reads pause */
	SRV_APPLY_SLICE_BYTES = 256 << 10, /* committed entries applied per loop turn, at most
	                                      (and at least one entry): node.c */
	SRV_APPEND_BATCH_BYTES = 256 << 10, /* entries per APPEND, at most (at least one) */
	SRV_MAX_NODES = HP_MAX_MEMBERS,
	SRV_JOIN_RETRY_MS = 300,
	SRV_FORWARD_RETRY_MS = 50,
};

typedef struct srv srv;
typedef struct srv_conn srv_conn;
typedef struct srv_req srv_req;

/* Where a request came from, and so where its reply goes. */
typedef enum {
	SRV_ORIGIN_CLIENT = 1,  /* a client connection of this node */
	SRV_ORIGIN_FORWARD = 2, /* a FWD_REQ from another node (we are its leader) */
} srv_origin;

typedef enum {
	SRV_REQ_NEW = 0,
	SRV_REQ_PROPOSED,   /* in the log at (index, term); waiting for apply */
	SRV_REQ_READING,    /* waiting for a read index and the barrier */
	SRV_REQ_FORWARDED,  /* sent to the leader; waiting for FWD_RESP */
	SRV_REQ_WAIT_LEADER, /* no leader known; retried on the next timer */
	SRV_REQ_WALKING,    /* DBSIZE/KEYS: walking the keys a step per loop turn */
	SRV_REQ_DONE,       /* reply complete */
} srv_req_state;

/*
 * One request.  Owns a copy of its arguments (the parser's argv is only
 * borrowed until the next parse).  A client request sits in its
 * connection's queue until its reply goes out in order; a forwarded one is
 * freed when its FWD_RESP is sent.  At most one of the pending lists holds
 * it at a time (link).
 */
struct srv_req {
	srv_origin origin;
	srv_req_state state;
	srv_conn *conn;         /* CLIENT origin; NULL once the connection is gone */
	peer_conn *peer;        /* FORWARD origin: the connection the FWD_REQ came on;
	                           NULL once it closed */
	uint64_t fwd_req_id;    /* FORWARD origin: the sender's id */
	uint64_t id;            /* this node's id for the request (forwarding) */
	int proto;              /* 2 or 3 */
	uint64_t client, seq;   /* session (RASPUTIN SEQ); 0 = none */
	bool stale_ok;          /* the connection opted in to stale reads */
	bool counted_read;      /* CLIENT origin: in its connection's reads_out */
	const cmd_spec *spec;
	size_t argc;
	struct resp_arg *argv;  /* argv[i].ptr point into args_buf */
	char *args_buf;         /* both in the request's own allocation */
	uint64_t start_us;      /* monotonic, for latency */
	uint64_t deadline_us;
	/* PROPOSED */
	uint64_t index, term;
	cmd_plan plan;
	int kind;               /* SRV_KIND_* */
	/* READING */
	uint64_t read_batch;
	uint64_t barrier;       /* serve once applied >= max(read index, barrier):
	                           the last write its origin proposed before it */
	/* WALKING */
	cmd_walk *walk;         /* NULL: (re)started on its next step */
	/* FORWARDED */
	hp_id forwarded_to;
	uint64_t wait_since_us;  /* when it began waiting for a leader (0: not waiting) */
	bool may_have_applied;  /* a write left this node: a failure is UNCERTAIN */
	uint8_t fwd_status;     /* FORWARD origin: PEER_FWD_* sent with the reply */
	struct resp_out reply;
	srv_req *next;          /* connection queue */
	srv_req *plink_next, *plink_prev; /* the pending list it is on */
	int plist;              /* which pending list, SRV_PL_* */
};

enum { SRV_KIND_CMD = 0, SRV_KIND_CONF = 1, SRV_KIND_META = 2 };
enum {
	SRV_PL_NONE = 0,
	SRV_PL_WRITES,
	SRV_PL_READS,
	SRV_PL_FORWARDS,
	SRV_PL_WAITING,
	SRV_PL_WALKS,
	SRV_PL_COUNT
};

typedef struct {
	srv_req *head, *tail;
	size_t count;
} srv_plist;

/* A client connection. */
struct srv_conn {
	srv *s;
	uv_tcp_t tcp;
	uint64_t id;
	struct resp_req parser;
	int proto;
	bool authed;
	bool stale_ok;          /* READONLY */
	bool closing;
	bool reading_paused;
	bool close_after_flush;
	srv_req *qhead, *qtail; /* requests in arrival order */
	size_t inflight;
	uint64_t last_proposed; /* its last write proposed here: the barrier of its reads */
	size_t reads_out;       /* its reads dispatched and not answered yet */
	srv_req *held;          /* the first request held for program order (client.c);
	                           every one after it in the queue waits too */
	bool releasing;
	struct resp_out out;    /* replies not yet handed to a write */
	struct resp_out wbuf;   /* the write in flight */
	bool writing;
	uv_write_t wreq;
	char name[64];
	srv_conn *next, *prev;
};

/* One node of the address book: from the replicated meta keys, or learned
 * from a peer's HELLO (joining nodes). */
typedef struct {
	hp_id id;
	char peer_addr[PEER_ADDR_MAX + 1];
	char client_addr[PEER_ADDR_MAX + 1];
	bool replicated; /* from the state machine (else only from a HELLO) */
} srv_node_addr;

/* A ready batch waiting for the WAL: advanced and its after-persist
 * messages sent once wal_seq is durable. */
typedef struct {
	uint64_t rd_seq;
	uint64_t wal_seq;  /* 0: nothing of its own to persist */
	peer_buf frames;   /* msgs_after_persist, encoded */
	hp_id *to;         /* per frame */
	size_t *ends;      /* frame i is frames.data[ends[i-1] .. ends[i]) */
	size_t frame_count;
} srv_persist;

typedef struct {
	uint64_t id;
	bool has_index;
	uint64_t index;
	size_t waiting; /* requests still attached */
} srv_read_batch;

struct srv {
	srv_config cfg;
	uv_loop_t *loop;
	char peer_addr[PEER_ADDR_MAX + 1];
	char client_addr[PEER_ADDR_MAX + 1];
	uint64_t node_id;
	uint64_t cluster_id;
	bool joined;  /* a member (or bootstrapping): no join needed */
	int lock_fd;
	uint64_t started_us;
	/* clock */
	uint64_t clock_base_hr_us;
	/* consensus */
	hp_config hcfg;
	hp_node *core;
	hp_status st; /* refreshed after every drain */
	hp_role last_role;
	hp_id last_leader;
	uint64_t leader_changes;
	fs *vfs;
	wal *wal;
	sm *sm;
	sm_config smcfg;
	cmd_limits lim;
	cmd_cursors *cursors;
	uv_async_t wal_async;
	uv_idle_t apply_idle; /* active while committed entries wait to be applied */
	uint32_t apply_open_seen; /* sm_apply_open at the last tick (node.c) */
	uv_idle_t walk_idle;  /* active while a DBSIZE or KEYS walks the keys */
	_Atomic uint64_t wal_durable;
	_Atomic int wal_rc;
	srv_persist *persist; /* ring of pending batches */
	size_t persist_head, persist_count, persist_cap;
	uint64_t last_snapshot_index;
	/* the snapshot under way (snapshots.c), NULL if none */
	sm_snap_job *snap_job;
	hp_snapshot_meta snap_meta;
	pthread_t snap_thread;
	bool snap_thread_started;
	_Atomic bool snap_worked;
	uv_async_t snap_async;
	uint64_t snap_began_us, snap_loop_us;
	uint64_t snap_retry_us; /* not before this after a failure */
	/* removing replaced snapshots' files (snapshots.c), NULL if idle */
	sm_sweep *sweep;
	pthread_t sweep_thread;
	_Atomic bool sweep_done;
	hp_hard_state hs_written; /* the last hard state appended to the WAL */
	bool draining;
	bool drain_again;
	/* requests */
	srv_plist plists[SRV_PL_COUNT];
	uint64_t next_req_id;
	uint64_t next_read_batch;
	srv_read_batch *rbatches; /* open read batches */
	size_t rbatch_count, rbatch_cap;
	uint64_t open_read_batch; /* batch collecting reads in this loop turn, 0 = none */
	/* The barriers of forwarded reads (exec.c, read_barrier): the last
	 * write each forwarding node had proposed here; a node pushed out of
	 * the table leaves its barrier in fwd_barrier_floor. */
	struct {
		hp_id node;
		uint64_t index;
	} fwd_barriers[SRV_MAX_NODES];
	size_t fwd_barrier_count;
	uint64_t fwd_barrier_floor;
	sm_result result;
	sm_buf entry_buf;    /* the encoded entry being proposed (reused) */
	peer_buf fbuf;       /* scratch frame buffer */
	peer_scratch scratch;
	/* address book */
	srv_node_addr nodes[SRV_MAX_NODES * 2];
	size_t node_count;
	/* peers */
	peer_transport *pt;
	/* The cluster id each live connection's HELLO named: consensus frames
	 * are taken only from our own cluster (a joining node says 0). */
	struct srv_peer_cid {
		peer_conn *conn;
		uint64_t cluster_id;
	} *cids;
	size_t cid_count, cid_cap;
	uint64_t foreign_frames;
	/* clients */
	uv_tcp_t listener;
	srv_conn *conns;
	uint64_t conn_count, next_conn_id;
	/* timers and signals */
	uv_timer_t tick_timer;
	uv_timer_t slow_timer;   /* 50 ms: timeouts, joins, promotion */
	uv_prepare_t prepare;    /* end of loop turn: flush read batches */
	/* Polling before sleeping (idle_poll.h): activity counts the messages
	 * handled (srv_note_activity); a check hook after every poll feeds it
	 * to ipoll, and ipoll_idle, active while polling, keeps the loop's
	 * waits from blocking and yields the CPU on empty turns. */
	uint64_t activity;
	idle_poll ipoll;
	uv_check_t ipoll_check;
	uv_idle_t ipoll_idle;
	uv_signal_t sig_term, sig_int, sig_hup;
	int stopping; /* 0 running, 1 handing leadership over, 2 closing */
	uint64_t stop_deadline_us;
	uint64_t join_next_us;
	uint64_t meta_sent_us;   /* the leader last proposed its own addresses */
	uint32_t join_seed_index;
	int exit_code;
	/* stats */
	uint64_t total_connections, rejected_connections, total_commands;
	uint64_t writes, reads, forwarded, uncertain, errors;
	rp_hist write_hist, read_hist;
};

/* server.c */
/* A client read, a peer frame or a durable log round: the loop polls a
 * while after it (idle_poll.h). */
static inline void srv_note_activity(srv *s)
{
	s->activity++;
}
uint64_t srv_now_us(const srv *s);      /* the node's (possibly skewed) monotonic clock */
uint64_t srv_mono_us(void);             /* the real monotonic clock, for latencies */
void srv_fatal(srv *s, const char *what, int rc);
void srv_request_stop(srv *s);

/* node.c */
/* The loop handles other threads signal (the WAL writer's wal_async, the
 * snapshot threads' snap_async) and apply_idle; once, before
 * srv_node_open. */
void srv_node_init_handles(srv *s);
int srv_node_open(srv *s, char *why, size_t why_cap);
void srv_node_close(srv *s);
void srv_node_drain(srv *s);             /* process every ready batch */
void srv_node_tick(srv *s);
void srv_node_step(srv *s, const hp_msg *m);
void srv_node_wal_durable(srv *s);
/* A WAL append that waits for room while the writer is behind. */
int srv_node_wal_append(srv *s, const wal_rec *recs, size_t n, uint64_t *seq);
bool srv_is_leader(const srv *s);
const srv_node_addr *srv_addr_find(const srv *s, hp_id id);
void srv_addr_learn(srv *s, hp_id id, const char *peer_addr, const char *client_addr,
                    bool replicated);
void srv_send_msg(srv *s, const hp_msg *m);

/* exec.c */
void srv_exec(srv *s, srv_req *r);                 /* dispatch a new request */
uint32_t srv_exec_kind(srv_req *r); /* CMD_F_READ, CMD_F_WRITE or 0 (looks up r->spec) */
void srv_exec_applied(srv *s, const hp_entry *e, const sm_result *res);
void srv_exec_read_state(srv *s, uint64_t ctx, uint64_t index);
void srv_exec_after_apply(srv *s);               /* serve reads now allowed */
void srv_exec_role_changed(srv *s, hp_role old_role, hp_role new_role);
void srv_exec_leader_changed(srv *s);            /* redo what went to the old leader */
void srv_exec_flush_reads(srv *s);               /* end of loop turn */
void srv_exec_timers(srv *s);                    /* every slow tick */
void srv_exec_peer_frame(srv *s, peer_conn *c, uint64_t from, uint8_t type,
                         const uint8_t *payload, size_t len);
void srv_exec_peer_closed(srv *s, peer_conn *c);
void srv_exec_fail_all(srv *s, const char *why);
srv_req *srv_req_create(srv *s, srv_origin origin, size_t argc, const struct resp_arg *argv);
void srv_req_free(srv_req *r);
void srv_req_finish(srv *s, srv_req *r);         /* reply complete: deliver */
void srv_req_error(srv *s, srv_req *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void srv_plist_add(srv *s, srv_req *r, int which); /* at the tail */
void srv_plist_remove(srv *s, srv_req *r);

/* snapshots.c: the periodic snapshot, its long part on a thread */
enum { SRV_SNAPSHOT_RETRY_US = 10000000 };
void srv_snapshot_init(srv *s);
void srv_snapshot_maybe_start(srv *s);                 /* after applying */
void srv_snapshot_settle(srv *s, const char *why); /* cancel and wait for it */
void srv_snapshot_sweep(srv *s); /* after a snapshot replaced another */
/* Marks the current snapshot meta describes in the WAL and compacts the
 * core's log to it; a WAL error is returned (the log is unusable). */
int srv_snapshot_mark(srv *s, const hp_snapshot_meta *meta);
void srv_snapshot_close(srv *s); /* waits for the sweep under way */

/* walks.c: DBSIZE and KEYS a step per loop turn */
enum { SRV_WALK_STEP_KEYS = 8192, SRV_WALKS_MAX = 16 };
void srv_walk_begin(srv *s, srv_req *r); /* the read is safe now: start walking */
void srv_walks_drop(srv *s);             /* before a snapshot install swaps the store */
void srv_walk_free(srv_req *r);          /* with the request */
void srv_status_reply(srv *s, srv_req *r);
void srv_fill_info(srv *s, cmd_info *info);

/* client.c */
int srv_clients_start(srv *s, char *why, size_t why_cap);
void srv_clients_stop(srv *s);
void srv_conn_req_done(srv_conn *c);             /* a request at some position finished */
void srv_conn_read_done(srv_conn *c);            /* one of its counted reads was answered */

/* ident.c */
int srv_ident_load(srv *s, char *why, size_t why_cap);
int srv_ident_save(srv *s, char *why, size_t why_cap);
int srv_ident_move_aside(srv *s, char *why, size_t why_cap);

#endif
