/*
 * peer_transport.h — moves peer_wire frames between rasputind nodes over
 * TCP, on a libuv loop.  One transport per process: it listens on the peer
 * port, keeps an address book (node id -> "host:port"), opens one outgoing
 * connection per destination on demand, and hands every complete,
 * CRC-checked frame that arrives, on any connection, to on_frame_cb.
 *
 * Connections.  Each side sends HELLO first and expects HELLO first.  A
 * connection is refused (closed, counted in bad_frames) when the remote's
 * first frame is not a HELLO, a header or CRC is bad, a frame is larger
 * than max_frame_bytes, a second HELLO arrives, or the HELLO names node 0,
 * our own node id, a non-zero cluster id different from our non-zero one,
 * or (on a connection we opened to node X from the book) a node other than
 * X.  Frames we queue wait until the remote's HELLO has been accepted, so
 * nothing but our HELLO reaches a node that turns out to be the wrong one.
 * A connection that has not finished its handshake (resolve, connect,
 * HELLO both ways) within handshake_timeout_ms is closed.
 *
 * Delivery is best effort, like the network the consensus core is built
 * for: a frame accepted by peer_send may still be lost (the connection
 * breaks, the queue is full, the peer is down) without any callback.
 * Whoever waits for an answer (FWD_RESP, JOIN_RESP) keeps a timeout.
 * Frames on one connection arrive in the order they were queued.
 *
 * Batching.  Frames queued during one loop turn leave in one uv_write: a
 * connection has a pending buffer (frames being queued) and an in-flight
 * buffer (the write under way); they swap when the write completes.  The
 * flush runs from a prepare and a check handle, i.e. after the callbacks of
 * the current loop phase.
 *
 * Threading and re-entrancy.  Single-threaded: every function must be
 * called on the loop's thread.  Callbacks run only from the loop, never
 * from inside a call into the transport.  Inside on_frame_cb,
 * on_hello_cb and on_close_cb the server may call any function here,
 * including peer_send, peer_send_addr, peer_reply (also on the connection
 * being served), peer_transport_set_addr (even one that closes the
 * connection being served: later frames already read from it are then not
 * delivered) and peer_transport_destroy.
 *
 * Lifetimes.  A peer_conn is seen by the server only after its HELLO was
 * accepted (on_hello_cb is the first callback naming it); from then on
 * on_close_cb is called exactly once for it, after which the pointer is
 * invalid.  After peer_transport_destroy no callback but done_cb runs, and
 * every peer_conn pointer is invalid.
 *
 * Return codes: 0 or a negative code from util/err.h.
 */
#ifndef RASPUTIN_NET_PEER_TRANSPORT_H
#define RASPUTIN_NET_PEER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/peer_wire.h"

/* libuv's loop type; the header does not need <uv.h> (which needs a POSIX
 * feature macro before it).  C11 allows this typedef to repeat uv.h's. */
typedef struct uv_loop_s uv_loop_t;

enum {
	PEER_MAX_QUEUE_BYTES_DEFAULT = 32 << 20,
	PEER_MAX_INCOMING_DEFAULT = 256, /* incoming connections at once */
	PEER_HANDSHAKE_TIMEOUT_MS_DEFAULT = 5000,
	PEER_MAX_BOOK = 1024,	  /* node ids in the address book */
	PEER_MAX_ADDR_DESTS = 64, /* peer_send_addr destinations kept */
	PEER_BACKOFF_MIN_MS = 20, /* reconnect wait after a failure, doubling */
	PEER_BACKOFF_MAX_MS = 1000,
};

typedef struct peer_transport peer_transport;
/* One TCP connection, either direction; frames flow both ways. */
typedef struct peer_conn peer_conn;

enum { PEER_USER_TIMEOUT_MS_DEFAULT = 2000 };

typedef struct {
	/* sent in our HELLO; cluster_id may change later via
	 * peer_transport_set_cluster.  node_id non-zero. */
	uint64_t cluster_id;
	uint64_t node_id;
	/* bind address of the peer port: IPv4 dotted, IPv6 (with or without
	 * brackets) or a hostname; port 0 = ephemeral (see peer_transport_port) */
	const char *listen_host;
	uint16_t listen_port;
	/* "host:port" strings put in our HELLO (NULL = empty); copied */
	const char *advertise_peer;
	const char *advertise_client;
	/* payload bytes: a larger incoming frame closes that connection, a
	 * larger outgoing one is refused.  0 = PEER_MAX_FRAME_BYTES_DEFAULT;
	 * at most 1 GiB. */
	size_t max_frame_bytes;
	/* per connection: frames queued beyond it are dropped (RP_ERR_BUSY);
	 * consensus tolerates loss.  One frame is always accepted into an
	 * empty queue, whatever its size.  The write in flight does not count.
	 * 0 = PEER_MAX_QUEUE_BYTES_DEFAULT; at most 1 GiB. */
	size_t max_queue_bytes;
	/* 0 = the defaults above */
	size_t max_incoming;
	uint64_t handshake_timeout_ms;
	/* TCP_USER_TIMEOUT of every connection: one whose sent data stays
	 * unacknowledged this long is closed (and an outgoing one redialled),
	 * so a link that was cut and healed recovers in about this time rather
	 * than after TCP's backed-off retransmissions (tens of seconds).
	 * 0 = PEER_USER_TIMEOUT_MS_DEFAULT. */
	uint64_t user_timeout_ms;
	/* A complete, CRC-checked frame arrived on c (never a HELLO: those
	 * go to on_hello_cb).  from = the node id c's HELLO named (never 0).
	 * payload (len bytes) is borrowed for the call.  Required. */
	void (*on_frame_cb)(void *ctx, peer_conn *c, uint64_t from, uint8_t type,
			    const uint8_t *payload, size_t len);
	/* The remote's HELLO was accepted (so the server learns its
	 * addresses); h and its strings are borrowed for the call.  May be
	 * NULL. */
	void (*on_hello_cb)(void *ctx, peer_conn *c, const peer_hello *h);
	/* The connection is gone; c is invalid after the call.  May be NULL. */
	void (*on_close_cb)(void *ctx, peer_conn *c);
	void *ctx;
} peer_transport_config;

/*
 * Binds and listens (synchronously: a hostname is resolved here), copies
 * what it needs of cfg, and sets *out.  On failure returns RP_ERR_INVALID
 * (a bad config), RP_ERR_IO (resolve, bind or listen failed) or
 * RP_ERR_NOMEM, writes a message into why (e.g. "bind 127.0.0.1:7101:
 * Address already in use"; why may be NULL).  Every failure a config or
 * the system can cause (bad host, port in use, ...) happens before anything
 * is put on the loop; only if libuv then refuses the bound socket (not
 * seen in practice) do handles wait on the loop to be freed by running it.
 */
int peer_transport_create(uv_loop_t *loop, const peer_transport_config *cfg,
			  peer_transport **out, char *why, size_t why_cap);

/* The port actually bound (useful with listen_port 0). */
uint16_t peer_transport_port(const peer_transport *t);

/* Changes the cluster id for HELLOs sent and checked from now on;
 * connections already open stay. */
void peer_transport_set_cluster(peer_transport *t, uint64_t cluster_id);

/*
 * The address book: where node `id` (non-zero) listens, "host:port" (host
 * IPv4 dotted, "[IPv6]" or a hostname; port 1..65535), copied.  A changed
 * address closes the old outgoing connection; the same address is a no-op.
 * NULL forgets the node and closes its outgoing connection (0 even if it
 * was unknown).  RP_ERR_INVALID (bad id or address), RP_ERR_BUSY (more
 * than PEER_MAX_BOOK nodes), RP_ERR_NOMEM, RP_ERR_CLOSED (destroyed).
 */
int peer_transport_set_addr(peer_transport *t, uint64_t id, const char *addr);

/*
 * Queues an already-encoded frame frame[0..len) (bytes copied; one or more
 * whole frames back to back, none a HELLO: anything else is a programmer
 * error and fails an assertion) on the outgoing connection to node `to`,
 * connecting
 * (with our HELLO first) if needed.  After a failure the next connection
 * is attempted PEER_BACKOFF_MIN_MS later, doubling up to
 * PEER_BACKOFF_MAX_MS; a HELLO accepted resets the wait.  Frames queued
 * while waiting go out once connected; frames still queued when a
 * connection fails are dropped.
 *   0                 queued
 *   RP_ERR_NOTFOUND   no address for `to`
 *   RP_ERR_BUSY       queue full, frame dropped (counted in frames_dropped)
 *   RP_ERR_NOSPC      payload larger than max_frame_bytes
 *   RP_ERR_INVALID    to is 0 or our own id
 *   RP_ERR_NOMEM, RP_ERR_CLOSED (destroyed)
 */
int peer_send(peer_transport *t, uint64_t to, const uint8_t *frame, size_t len);

/* Same, to an address not in the book (a joining node contacting a seed);
 * the connection is kept per address (at most PEER_MAX_ADDR_DESTS; the
 * oldest idle one is forgotten to make room, else RP_ERR_BUSY).  Any node
 * id may answer.  RP_ERR_INVALID for a bad address. */
int peer_send_addr(peer_transport *t, const char *addr, const uint8_t *frame, size_t len);

/* Queues a frame back on the connection c a frame came in on (answers:
 * JOIN_RESP, FWD_RESP).  Codes as peer_send; RP_ERR_CLOSED if c is
 * closing (its on_close_cb is coming). */
int peer_reply(peer_conn *c, const uint8_t *frame, size_t len);

/* Writes what is queued on every ready connection now, instead of at the
 * loop's next prepare or check phase (which the transport also does).  A
 * caller about to block or to do slow work first flushes what it sent. */
void peer_transport_flush(peer_transport *t);

/* The node id c's HELLO named. */
uint64_t peer_conn_remote_id(const peer_conn *c);
/* True if we opened c (peer_send / peer_send_addr), false if accepted. */
bool peer_conn_is_outgoing(const peer_conn *c);

/*
 * Stops listening and closes every connection and timer; calls
 * done_cb(ctx) once all handles are closed (the loop must keep running
 * until then), after which t is freed.  No other callback runs after this
 * call.  t NULL: done_cb (if any) is called at once.
 */
void peer_transport_destroy(peer_transport *t, void (*done_cb)(void *ctx), void *ctx);

typedef struct {
	uint64_t frames_sent, frames_received; /* HELLOs included */
	uint64_t bytes_sent, bytes_received;
	uint64_t frames_dropped;   /* queue full, or queued on a connection that failed */
	uint64_t connects;	   /* outgoing TCP connections established */
	uint64_t connect_failures; /* resolve/connect failed, or closed before HELLO */
	uint64_t bad_frames;	   /* connections refused for what the remote sent */
	uint64_t writes;	   /* uv_write calls (batching: writes < frames) */
	uint64_t accepts;	   /* incoming connections accepted */
	uint64_t handshake_timeouts;
	uint64_t conns_open; /* connections open now, either direction */
} peer_transport_stats;

void peer_transport_get_stats(const peer_transport *t, peer_transport_stats *st);

#endif
