/*
 * peer_transport.c — the peer port on libuv: listener, address book,
 * connections, batching, bounded reads, handshake and reconnect backoff
 * (contract in peer_transport.h).
 *
 * Objects and who frees them.  The transport counts in `open` every handle
 * and object whose close is still to come: its four own handles (listener,
 * prepare, check, sweep timer), one per destination (freed when its retry
 * timer has closed) and one per connection (freed when its TCP handle has
 * closed and no getaddrinfo is outstanding for it).  Closing never frees
 * synchronously, so a pointer stays valid for the rest of the callback
 * that closed it; the read loop checks `closing` after every callback.
 * Once destroying and `open` reaches zero, done_cb runs and t is freed.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types; SOCK_CLOEXEC */

#include "net/peer_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "util/check.h"
#include "util/crc32c.h"
#include "util/err.h"

enum {
	READ_BUF_BYTES = 64 << 10,
	SWEEP_MS = 250,
	KEEPALIVE_S = 10,
	LISTEN_BACKLOG = 511,
	BUF_KEEP_BYTES = 256 << 10, /* a buffer grown past this is freed once drained */
	LIMIT_MAX_BYTES = 1 << 30,
	/* the largest HELLO payload: version, cluster, node, two addresses */
	HELLO_MAX_BYTES = 4 + 8 + 8 + 2 * (4 + PEER_ADDR_MAX + 1),
	FRAME_BUF_MIN_BYTES = 4096,
};

typedef enum {
	CONN_WAITING = 1,    /* outgoing: backoff before connecting */
	CONN_RESOLVING = 2,  /* outgoing: getaddrinfo under way */
	CONN_CONNECTING = 3, /* outgoing: uv_tcp_connect under way */
	CONN_HELLO_WAIT = 4, /* connected, our HELLO sent, theirs awaited */
	CONN_READY = 5,	     /* HELLO accepted: frames flow */
} conn_state;

typedef struct peer_dest peer_dest;

struct peer_conn {
	peer_transport *t;
	peer_dest *dest; /* outgoing, while it serves dest (dest->conn == this) */
	uv_tcp_t tcp;
	uv_connect_t connect_req;
	uv_getaddrinfo_t gai_req;
	uv_write_t write_req;
	conn_state state;
	bool outgoing;
	bool closing;	 /* uv_close called; on_close_cb comes when freed */
	bool tcp_closed; /* its close callback ran */
	bool resolving;	 /* gai_req outstanding (it pins the memory) */
	bool writing;	 /* write_req in flight with `inflight` */
	bool dirty;	 /* on t->dirty: pending waits for a flush */
	bool announced;	 /* the server has seen it: on_close_cb owed */
	uint64_t remote_id;
	uint64_t deadline_ms; /* handshake must finish by then */
	/* Frames queued (pending) and being written (inflight); inflight is
	 * never touched while writing. */
	peer_buf pending, inflight;
	uint64_t pending_frames, inflight_frames;
	/* Read state: a header being gathered, then a payload; the payload is
	 * used in place in t->rbuf when it arrived whole in one read,
	 * otherwise gathered in frame (frame_cap <= max_frame_bytes). */
	uint8_t hdr[PEER_HEADER_BYTES];
	size_t hdr_len;
	uint8_t ftype;
	uint32_t flen, fcrc;
	uint8_t *frame;
	size_t frame_cap, frame_got;
	peer_conn *prev, *next;
	peer_conn *dirty_next;
};

struct peer_dest {
	peer_transport *t;
	uint64_t id; /* 0: an address-only destination (peer_send_addr) */
	char addr[PEER_ADDR_MAX + 1];
	peer_conn *conn; /* NULL, or the connection serving it */
	uv_timer_t timer;
	uint64_t backoff_ms; /* 0 after a good HELLO */
	/* A hostname may resolve to several addresses (::1 and 127.0.0.1):
	 * each failed attempt moves on to the next one. */
	uint32_t resolve_pick;
	uint64_t retry_at_ms; /* no new connection before this (uv_now) */
	peer_dest *prev, *next;
};

struct peer_transport {
	uv_loop_t *loop;
	uint64_t cluster_id;
	uint64_t node_id;
	char adv_peer[PEER_ADDR_MAX + 1];
	char adv_client[PEER_ADDR_MAX + 1];
	size_t max_frame_bytes;
	size_t max_queue_bytes;
	size_t max_incoming;
	uint64_t handshake_timeout_ms;
	uint64_t user_timeout_ms;
	void (*on_frame_cb)(void *, peer_conn *, uint64_t, uint8_t, const uint8_t *,
			    size_t);
	void (*on_hello_cb)(void *, peer_conn *, const peer_hello *);
	void (*on_close_cb)(void *, peer_conn *);
	void *ctx;

	uv_tcp_t listener;
	uv_prepare_t prepare;
	uv_check_t check;
	uv_timer_t sweep;
	uint16_t port;
	/* Every read lands here: libuv calls alloc and read callbacks in
	 * pairs on this thread, and a frame read in place is consumed before
	 * the read callback returns, so one buffer serves all connections. */
	uint8_t *rbuf;

	peer_conn *conns; /* every connection not yet freed */
	size_t incoming;  /* incoming ones not closing */
	peer_conn *dirty; /* connections with pending frames to flush */
	peer_dest *dests;
	size_t book_count, addr_dest_count;

	size_t open; /* closes still to come (see the top of the file) */
	bool destroying;
	void (*done_cb)(void *);
	void *done_ctx;
	peer_transport_stats stats;
};

static void conn_close(peer_conn *c);

/* ------------------------------------------------------------ addresses */

/* Splits "host:port" / "[v6]:port" into host (NUL-terminated, brackets
 * removed) and port.  false if malformed. */
static bool addr_split(const char *addr, char host[PEER_ADDR_MAX + 1], uint16_t *port,
		       bool *bracketed)
{
	size_t n = strnlen(addr, PEER_ADDR_MAX + 1);
	if (n == 0 || n > PEER_ADDR_MAX)
		return false;
	const char *colon;
	const char *hs;
	size_t hn;
	*bracketed = addr[0] == '[';
	if (*bracketed) {
		const char *close = memchr(addr, ']', n);
		if (close == NULL || close[1] != ':')
			return false;
		hs = addr + 1;
		hn = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return false;
		hs = addr;
		hn = (size_t)(colon - addr);
		if (memchr(hs, ':', hn) != NULL)
			return false; /* a bare IPv6 address needs brackets */
	}
	if (hn == 0)
		return false;
	const char *ps = colon + 1;
	size_t pn = strlen(ps);
	if (pn == 0 || pn > 5 || ps[0] == '0')
		return false;
	uint32_t p = 0;
	for (size_t i = 0; i < pn; i++) {
		if (ps[i] < '0' || ps[i] > '9')
			return false;
		p = p * 10 + (uint32_t)(ps[i] - '0');
	}
	if (p == 0 || p > 65535)
		return false;
	memcpy(host, hs, hn);
	host[hn] = '\0';
	*port = (uint16_t)p;
	return true;
}

static bool addr_valid(const char *addr)
{
	char host[PEER_ADDR_MAX + 1];
	uint16_t port;
	bool br;
	return addr != NULL && addr_split(addr, host, &port, &br);
}

/* Copies s (NULL = "") into dst of PEER_ADDR_MAX + 1 bytes; false if too long. */
static bool copy_str(char dst[PEER_ADDR_MAX + 1], const char *s)
{
	if (s == NULL)
		s = "";
	size_t n = strnlen(s, PEER_ADDR_MAX + 1);
	if (n > PEER_ADDR_MAX)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static void why_set(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t cap, const char *fmt, ...)
{
	if (why == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/* --------------------------------------------------------- bookkeeping */

static void t_release(peer_transport *t)
{
	RP_CHECK(t->open > 0);
	t->open--;
	if (t->destroying && t->open == 0) {
		void (*cb)(void *) = t->done_cb;
		void *ctx = t->done_ctx;
		free(t->rbuf);
		free(t);
		if (cb != NULL)
			cb(ctx);
	}
}

static void on_own_handle_closed(uv_handle_t *h)
{
	t_release(h->data);
}

static void dirty_add(peer_conn *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->dirty_next = c->t->dirty;
	c->t->dirty = c;
}

static void dirty_remove(peer_conn *c)
{
	if (!c->dirty)
		return;
	for (peer_conn **pp = &c->t->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
		if (*pp == c) {
			*pp = c->dirty_next;
			break;
		}
	}
	c->dirty = false;
	c->dirty_next = NULL;
}

/* ---------------------------------------------------------- connections */

static peer_conn *conn_new(peer_transport *t, bool outgoing)
{
	peer_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	if (uv_tcp_init(t->loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	c->t = t;
	c->outgoing = outgoing;
	c->tcp.data = c;
	c->connect_req.data = c;
	c->gai_req.data = c;
	c->write_req.data = c;
	peer_buf_init(&c->pending);
	peer_buf_init(&c->inflight);
	c->next = t->conns;
	if (t->conns != NULL)
		t->conns->prev = c;
	t->conns = c;
	t->open++;
	t->stats.conns_open++;
	if (!outgoing)
		t->incoming++;
	return c;
}

/* Frees c once its handle has closed and no resolve pins it. */
static void conn_maybe_free(peer_conn *c)
{
	if (!c->tcp_closed || c->resolving)
		return;
	RP_CHECK(c->closing);
	RP_CHECK(!c->writing);
	peer_transport *t = c->t;
	if (c->announced && !t->destroying && t->on_close_cb != NULL)
		t->on_close_cb(t->ctx, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		t->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	peer_buf_deinit(&c->pending);
	peer_buf_deinit(&c->inflight);
	free(c->frame);
	free(c);
	t_release(t);
}

static void on_conn_closed(uv_handle_t *h)
{
	peer_conn *c = h->data;
	c->tcp_closed = true;
	conn_maybe_free(c);
}

/* Closes c (idempotent).  An outgoing connection hands its destination a
 * reconnect wait: PEER_BACKOFF_MIN_MS after a connection that worked,
 * doubling after one that never completed its handshake. */
static void conn_close(peer_conn *c)
{
	if (c->closing)
		return;
	peer_transport *t = c->t;
	c->closing = true;
	t->stats.conns_open--;
	if (!c->outgoing)
		t->incoming--;
	peer_dest *d = c->dest;
	if (d != NULL) {
		RP_CHECK(d->conn == c);
		if (c->state != CONN_READY)
			d->resolve_pick++;
		if (c->state == CONN_READY || d->backoff_ms == 0)
			d->backoff_ms = PEER_BACKOFF_MIN_MS;
		else if (d->backoff_ms < PEER_BACKOFF_MAX_MS)
			d->backoff_ms = d->backoff_ms * 2 < PEER_BACKOFF_MAX_MS
					    ? d->backoff_ms * 2
					    : PEER_BACKOFF_MAX_MS;
		d->retry_at_ms = uv_now(t->loop) + d->backoff_ms;
		d->conn = NULL;
		c->dest = NULL;
	}
	t->stats.frames_dropped += c->pending_frames;
	c->pending_frames = 0;
	dirty_remove(c);
	if (c->resolving)
		(void)uv_cancel((uv_req_t *)&c->gai_req); /* may be too late: fine */
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* A connection that never completed its handshake failed. */
static void conn_fail(peer_conn *c)
{
	if (c->closing)
		return;
	if (c->outgoing && c->state != CONN_READY)
		c->t->stats.connect_failures++;
	conn_close(c);
}

/* The remote sent something a correct peer never sends. */
static void conn_bad(peer_conn *c)
{
	if (c->closing)
		return;
	c->t->stats.bad_frames++;
	if (c->outgoing && c->state != CONN_READY)
		c->t->stats.connect_failures++;
	conn_close(c);
}

/* ---------------------------------------------------------------- writes */

static void on_write(uv_write_t *req, int status);

/* An emptied output buffer: kept for reuse unless it grew large. */
static void buf_drained(peer_buf *b)
{
	if (b->cap > BUF_KEEP_BYTES)
		peer_buf_deinit(b);
	else
		peer_buf_reset(b);
}

/* Starts a write of c->inflight from byte `from` (what a try_write left). */
static void conn_write(peer_conn *c, size_t from)
{
	RP_CHECK(!c->writing);
	RP_CHECK(c->inflight.len > from);
	RP_CHECK(c->inflight.len - from <= UINT32_MAX);
	uv_buf_t buf =
	    uv_buf_init((char *)c->inflight.data + from, (unsigned)(c->inflight.len - from));
	int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write);
	if (rc != 0) {
		c->t->stats.frames_dropped += c->inflight_frames;
		c->inflight_frames = 0;
		peer_buf_reset(&c->inflight);
		conn_fail(c);
		return;
	}
	c->writing = true;
	c->t->stats.writes++;
}

/*
 * Moves everything pending into one write.  The socket usually has room:
 * the bytes go out in this call (uv_try_write), and only a remainder
 * waits for a uv_write and its callback.  (A uv_write alone also writes at
 * once, but its callback comes a loop iteration later, and until then the
 * next frames to this peer would wait behind it: an acknowledgement or an
 * append would lose a whole iteration.)
 */
static void conn_flush(peer_conn *c)
{
	if (c->closing || c->writing || c->state != CONN_READY || c->pending.len == 0)
		return;
	RP_CHECK(c->inflight.len == 0);
	peer_transport *t = c->t;
	size_t len = c->pending.len;
	RP_CHECK(len <= UINT32_MAX);
	uv_buf_t buf = uv_buf_init((char *)c->pending.data, (unsigned)len);
	int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
	if (n < 0 && n != UV_EAGAIN) {
		t->stats.frames_dropped += c->pending_frames;
		c->pending_frames = 0;
		peer_buf_reset(&c->pending);
		conn_fail(c);
		return;
	}
	if (n == (int)len) {
		t->stats.writes++;
		t->stats.frames_sent += c->pending_frames;
		t->stats.bytes_sent += len;
		c->pending_frames = 0;
		buf_drained(&c->pending);
		return;
	}
	peer_buf tmp = c->inflight;
	c->inflight = c->pending;
	c->pending = tmp;
	c->inflight_frames = c->pending_frames;
	c->pending_frames = 0;
	conn_write(c, n > 0 ? (size_t)n : 0);
}

static void on_write(uv_write_t *req, int status)
{
	peer_conn *c = req->data;
	peer_transport *t = c->t;
	c->writing = false;
	if (status < 0) {
		t->stats.frames_dropped += c->inflight_frames;
	} else {
		t->stats.frames_sent += c->inflight_frames;
		t->stats.bytes_sent += c->inflight.len;
	}
	c->inflight_frames = 0;
	buf_drained(&c->inflight);
	if (status < 0) {
		conn_fail(c);
		return;
	}
	if (!c->closing && c->pending.len > 0 && c->state == CONN_READY)
		dirty_add(c);
}

static void flush_dirty(peer_transport *t)
{
	while (t->dirty != NULL) {
		peer_conn *c = t->dirty;
		t->dirty = c->dirty_next;
		c->dirty = false;
		c->dirty_next = NULL;
		conn_flush(c);
	}
}

void peer_transport_flush(peer_transport *t)
{
	RP_CHECK(t != NULL);
	if (!t->destroying)
		flush_dirty(t);
}

static void on_prepare(uv_prepare_t *h)
{
	flush_dirty(h->data);
}

static void on_check(uv_check_t *h)
{
	flush_dirty(h->data);
}

/* Appends whole frames (`frames` of them) to c's pending buffer. */
static int conn_queue(peer_conn *c, const uint8_t *frame, size_t len, uint64_t frames)
{
	peer_transport *t = c->t;
	if (c->closing)
		return RP_ERR_CLOSED;
	/* An empty queue takes any one frame; after that, the bound. */
	if (c->pending.len > 0 && (c->pending.len > t->max_queue_bytes ||
				   len > t->max_queue_bytes - c->pending.len)) {
		t->stats.frames_dropped += frames;
		return RP_ERR_BUSY;
	}
	int rc = peer_buf_append(&c->pending, frame, len);
	if (rc != 0) {
		c->pending.err = 0; /* the queue itself is intact */
		t->stats.frames_dropped += frames;
		return rc;
	}
	c->pending_frames += frames;
	if (c->state == CONN_READY && !c->writing)
		dirty_add(c);
	return 0;
}

/* Checks that frame[0..len) is whole frames we may send, and counts them
 * in *frames.  Anything but whole frames is a programmer error. */
static int frame_check(const peer_transport *t, const uint8_t *frame, size_t len,
		       uint64_t *frames)
{
	RP_CHECK(frame != NULL);
	RP_CHECK(len >= PEER_HEADER_BYTES);
	*frames = 0;
	size_t off = 0;
	while (off < len) {
		RP_CHECK(len - off >= PEER_HEADER_BYTES);
		uint8_t type;
		uint32_t plen, pcrc;
		int rc = peer_frame_header(frame + off, SIZE_MAX, &type, &plen, &pcrc);
		RP_CHECK(rc == 0);		/* not a frame */
		RP_CHECK(type != PEER_F_HELLO); /* the transport sends those */
		RP_CHECK(plen <= len - off - PEER_HEADER_BYTES); /* cut short */
		if (plen > t->max_frame_bytes)
			return RP_ERR_NOSPC;
		off += PEER_HEADER_BYTES + plen;
		(*frames)++;
	}
	return 0;
}

/* ------------------------------------------------------------ handshake */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* c is connected: start reading and send our HELLO. */
static void conn_start(peer_conn *c)
{
	peer_transport *t = c->t;
	(void)uv_tcp_nodelay(&c->tcp, 1);
	(void)uv_tcp_keepalive(&c->tcp, 1, KEEPALIVE_S);
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
		unsigned int ms = (unsigned int)t->user_timeout_ms;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	}
	c->state = CONN_HELLO_WAIT;
	c->deadline_ms = uv_now(t->loop) + t->handshake_timeout_ms;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		conn_fail(c);
		return;
	}
	peer_hello h = {
	    .version = PEER_VERSION,
	    .cluster_id = t->cluster_id,
	    .node_id = t->node_id,
	    .peer_addr = t->adv_peer,
	    .peer_addr_len = strlen(t->adv_peer),
	    .client_addr = t->adv_client,
	    .client_addr_len = strlen(t->adv_client),
	};
	RP_CHECK(c->inflight.len == 0);
	int rc = peer_encode_hello(&c->inflight, &h);
	if (rc != 0) {
		RP_CHECK(rc == RP_ERR_NOMEM);
		peer_buf_deinit(&c->inflight);
		conn_fail(c);
		return;
	}
	c->inflight_frames = 1;
	conn_write(c, 0);
}

/* The remote's first frame.  Refusals are listed in peer_transport.h. */
static void conn_hello(peer_conn *c, const uint8_t *p, size_t n)
{
	peer_transport *t = c->t;
	peer_hello h;
	if (peer_decode_hello(p, n, &h) != 0 || h.node_id == t->node_id) {
		conn_bad(c);
		return;
	}
	/* A joining node (cluster 0) may talk to anyone; two clusters never. */
	if (h.cluster_id != 0 && t->cluster_id != 0 && h.cluster_id != t->cluster_id) {
		conn_bad(c);
		return;
	}
	/* We dialed node X; someone else answered (the book is stale). */
	if (c->dest != NULL && c->dest->id != 0 && c->dest->id != h.node_id) {
		conn_bad(c);
		return;
	}
	c->remote_id = h.node_id;
	c->state = CONN_READY;
	c->announced = true;
	if (c->dest != NULL)
		c->dest->backoff_ms = 0;
	if (t->on_hello_cb != NULL)
		t->on_hello_cb(t->ctx, c, &h);
	if (!c->closing && c->pending.len > 0 && !c->writing)
		dirty_add(c);
}

/* One complete frame arrived on c (its header already checked). */
static void conn_frame(peer_conn *c, const uint8_t *p, size_t n)
{
	peer_transport *t = c->t;
	if (crc32c(p, n) != c->fcrc) {
		conn_bad(c);
		return;
	}
	t->stats.frames_received++;
	if (c->state != CONN_READY) {
		if (c->ftype != PEER_F_HELLO) {
			conn_bad(c);
			return;
		}
		conn_hello(c, p, n);
		return;
	}
	if (c->ftype == PEER_F_HELLO) {
		conn_bad(c);
		return;
	}
	t->on_frame_cb(t->ctx, c, c->remote_id, c->ftype, p, n);
}

/* --------------------------------------------------------------- reads */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	peer_conn *c = h->data;
	*buf = uv_buf_init((char *)c->t->rbuf, READ_BUF_BYTES);
}

/* Consumes in[0..n): headers, payloads, whole frames.  Stops as soon as a
 * callback or a refusal closes c. */
static void conn_consume(peer_conn *c, const uint8_t *in, size_t n)
{
	peer_transport *t = c->t;
	size_t off = 0;
	while (off < n && !c->closing) {
		if (c->hdr_len < PEER_HEADER_BYTES) {
			size_t k = PEER_HEADER_BYTES - c->hdr_len;
			if (k > n - off)
				k = n - off;
			memcpy(c->hdr + c->hdr_len, in + off, k);
			c->hdr_len += k;
			off += k;
			if (c->hdr_len < PEER_HEADER_BYTES)
				break;
			if (peer_frame_header(c->hdr, t->max_frame_bytes, &c->ftype,
					      &c->flen, &c->fcrc) != 0) {
				conn_bad(c);
				break;
			}
			/* Before its HELLO a remote may send nothing else, so it
			 * cannot make us hold more than a HELLO's bytes. */
			if (c->state != CONN_READY &&
			    (c->ftype != PEER_F_HELLO || c->flen > HELLO_MAX_BYTES)) {
				conn_bad(c);
				break;
			}
			c->frame_got = 0;
			/* The whole payload is here: use it in place. */
			if (c->flen <= n - off) {
				const uint8_t *p = in + off;
				off += c->flen;
				c->hdr_len = 0;
				conn_frame(c, p, c->flen);
				continue;
			}
		}
		size_t k = c->flen - c->frame_got;
		if (k > n - off)
			k = n - off;
		/* The gather buffer grows with the bytes that came, not with
		 * the length the header claims (at most doubling them). */
		if (c->frame_got + k > c->frame_cap) {
			size_t cap = c->frame_cap ? c->frame_cap : FRAME_BUF_MIN_BYTES;
			while (cap < c->frame_got + k)
				cap *= 2;
			if (cap > c->flen)
				cap = c->flen;
			uint8_t *grown = realloc(c->frame, cap);
			if (grown == NULL) {
				conn_fail(c);
				break;
			}
			c->frame = grown;
			c->frame_cap = cap;
		}
		memcpy(c->frame + c->frame_got, in + off, k);
		c->frame_got += k;
		off += k;
		if (c->frame_got == c->flen) {
			c->hdr_len = 0;
			conn_frame(c, c->frame, c->flen);
			if (c->frame_cap > BUF_KEEP_BYTES) {
				free(c->frame);
				c->frame = NULL;
				c->frame_cap = 0;
			}
		}
	}
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	peer_conn *c = s->data;
	if (c->closing)
		return;
	if (nread < 0) {
		if (c->state == CONN_READY)
			conn_close(c);
		else
			conn_fail(c);
		return;
	}
	if (nread == 0)
		return;
	c->t->stats.bytes_received += (uint64_t)nread;
	conn_consume(c, (const uint8_t *)buf->base, (size_t)nread);
}

/* ------------------------------------------------------------- outgoing */

static void on_connect(uv_connect_t *req, int status)
{
	peer_conn *c = req->data;
	if (c->closing)
		return;
	if (status < 0) {
		conn_fail(c);
		return;
	}
	c->t->stats.connects++;
	conn_start(c);
}

static void conn_connect_to(peer_conn *c, const struct sockaddr *sa)
{
	c->state = CONN_CONNECTING;
	if (uv_tcp_connect(&c->connect_req, &c->tcp, sa, on_connect) != 0)
		conn_fail(c);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	peer_conn *c = req->data;
	c->resolving = false;
	if (c->closing) {
		uv_freeaddrinfo(res);
		conn_maybe_free(c);
		return;
	}
	uint32_t count = 0;
	for (const struct addrinfo *ai = res; status == 0 && ai != NULL; ai = ai->ai_next)
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
			count++;
	if (count == 0 || c->dest == NULL) {
		uv_freeaddrinfo(res);
		conn_fail(c);
		return;
	}
	uint32_t pick = c->dest->resolve_pick % count;
	const struct addrinfo *ai = res;
	for (;; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (pick-- == 0)
			break;
	}
	conn_connect_to(c, ai->ai_addr); /* copies the address */
	uv_freeaddrinfo(res);
}

/* Starts resolving/connecting c to its destination's address. */
static void conn_connect(peer_conn *c)
{
	peer_transport *t = c->t;
	RP_CHECK(c->state == CONN_WAITING);
	RP_CHECK(c->dest != NULL);
	c->deadline_ms = uv_now(t->loop) + t->handshake_timeout_ms;
	char host[PEER_ADDR_MAX + 1];
	uint16_t port;
	bool bracketed;
	/* the address was checked when it was set */
	RP_CHECK(addr_split(c->dest->addr, host, &port, &bracketed));
	struct sockaddr_in6 sa6;
	struct sockaddr_in sa4;
	if (!bracketed && uv_ip4_addr(host, port, &sa4) == 0) {
		conn_connect_to(c, (const struct sockaddr *)&sa4);
		return;
	}
	if (bracketed) {
		if (uv_ip6_addr(host, port, &sa6) == 0)
			conn_connect_to(c, (const struct sockaddr *)&sa6);
		else
			conn_fail(c);
		return;
	}
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	c->state = CONN_RESOLVING;
	if (uv_getaddrinfo(t->loop, &c->gai_req, on_resolved, host, service, &hints) !=
	    0) {
		conn_fail(c);
		return;
	}
	c->resolving = true;
}

static void on_dest_timer(uv_timer_t *timer)
{
	peer_dest *d = timer->data;
	if (d->conn != NULL && d->conn->state == CONN_WAITING && !d->conn->closing)
		conn_connect(d->conn);
}

static int dest_send(peer_dest *d, const uint8_t *frame, size_t len, uint64_t frames)
{
	peer_transport *t = d->t;
	peer_conn *c = d->conn;
	bool fresh = false;
	if (c == NULL) {
		c = conn_new(t, true);
		if (c == NULL)
			return RP_ERR_NOMEM;
		c->state = CONN_WAITING;
		c->dest = d;
		d->conn = c;
		fresh = true;
	}
	int rc = conn_queue(c, frame, len, frames);
	if (fresh) {
		uint64_t now = uv_now(t->loop);
		/* a failure to start connecting drops the frame: a lost frame */
		if (now >= d->retry_at_ms)
			conn_connect(c);
		else
			uv_timer_start(&d->timer, on_dest_timer, d->retry_at_ms - now, 0);
	}
	return rc;
}

static void on_dest_closed(uv_handle_t *h)
{
	peer_dest *d = h->data;
	peer_transport *t = d->t;
	free(d);
	t_release(t);
}

static peer_dest *dest_new(peer_transport *t, uint64_t id, const char *addr)
{
	peer_dest *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return NULL;
	RP_CHECK(copy_str(d->addr, addr));
	d->t = t;
	d->id = id;
	RP_CHECK(uv_timer_init(t->loop, &d->timer) == 0);
	d->timer.data = d;
	d->next = t->dests;
	if (t->dests != NULL)
		t->dests->prev = d;
	t->dests = d;
	t->open++;
	if (id != 0)
		t->book_count++;
	else
		t->addr_dest_count++;
	return d;
}

static void dest_remove(peer_dest *d)
{
	peer_transport *t = d->t;
	if (d->conn != NULL)
		conn_close(d->conn);
	RP_CHECK(d->conn == NULL);
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		t->dests = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	if (d->id != 0)
		t->book_count--;
	else
		t->addr_dest_count--;
	uv_close((uv_handle_t *)&d->timer, on_dest_closed);
}

static peer_dest *dest_find_id(peer_transport *t, uint64_t id)
{
	for (peer_dest *d = t->dests; d != NULL; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

static peer_dest *dest_find_addr(peer_transport *t, const char *addr)
{
	for (peer_dest *d = t->dests; d != NULL; d = d->next)
		if (d->id == 0 && strcmp(d->addr, addr) == 0)
			return d;
	return NULL;
}

/* ------------------------------------------------------------- incoming */

static void on_rejected_closed(uv_handle_t *h)
{
	peer_transport *t = h->data;
	free(h);
	t_release(t);
}

/* Accepts and at once closes a connection we will not serve: libuv stops
 * listening until the pending connection is accepted. */
static void reject_connection(peer_transport *t)
{
	uv_tcp_t *h = malloc(sizeof(*h));
	if (h == NULL || uv_tcp_init(t->loop, h) != 0) {
		free(h);
		return; /* nothing left to accept with; the next accept retries */
	}
	h->data = t;
	t->open++;
	(void)uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)h);
	uv_close((uv_handle_t *)h, on_rejected_closed);
}

static void on_connection(uv_stream_t *server, int status)
{
	peer_transport *t = server->data;
	if (status < 0 || t->destroying)
		return;
	peer_conn *c = t->incoming < t->max_incoming ? conn_new(t, false) : NULL;
	if (c == NULL) {
		reject_connection(t);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	t->stats.accepts++;
	conn_start(c);
}

/* Closes every handshake that overran its deadline. */
static void on_sweep(uv_timer_t *timer)
{
	peer_transport *t = timer->data;
	uint64_t now = uv_now(t->loop);
	for (peer_conn *c = t->conns; c != NULL; c = c->next) {
		if (c->closing || c->state == CONN_READY || c->state == CONN_WAITING)
			continue;
		if (now < c->deadline_ms)
			continue;
		t->stats.handshake_timeouts++;
		conn_fail(c);
	}
}

/* --------------------------------------------------------------- create */

/* Resolves host (brackets allowed) for binding.  0 or RP_ERR_IO. */
static int listen_addr(const char *host, uint16_t port, struct sockaddr_storage *ss,
		       socklen_t *sslen, char *why, size_t why_cap)
{
	char h[PEER_ADDR_MAX + 1];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
	} else {
		memcpy(h, host, n + 1);
	}
	memset(ss, 0, sizeof(*ss));
	if (uv_ip4_addr(h, port, (struct sockaddr_in *)ss) == 0) {
		*sslen = sizeof(struct sockaddr_in);
		return 0;
	}
	if (uv_ip6_addr(h, port, (struct sockaddr_in6 *)ss) == 0) {
		*sslen = sizeof(struct sockaddr_in6);
		return 0;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	int rc = getaddrinfo(h, service, &hints, &res);
	if (rc != 0 || res == NULL) {
		why_set(why, why_cap, "resolve %s:%u: %s", host, (unsigned)port,
			rc != 0 ? gai_strerror(rc) : "no address");
		return RP_ERR_IO;
	}
	RP_CHECK(res->ai_addrlen <= sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A listening socket on host:port, or -1 with why set. */
static int listen_socket(const char *host, uint16_t port, uint16_t *bound, char *why,
			 size_t why_cap)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (listen_addr(host, port, &ss, &sslen, why, why_cap) != 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		why_set(why, why_cap, "socket for %s:%u: %s", host, (unsigned)port,
			strerror(errno));
		return -1;
	}
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
		why_set(why, why_cap, "bind %s:%u: %s", host, (unsigned)port,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, LISTEN_BACKLOG) != 0) {
		why_set(why, why_cap, "listen %s:%u: %s", host, (unsigned)port,
			strerror(errno));
		close(fd);
		return -1;
	}
	struct sockaddr_storage got;
	socklen_t gotlen = sizeof(got);
	if (getsockname(fd, (struct sockaddr *)&got, &gotlen) != 0) {
		why_set(why, why_cap, "getsockname %s:%u: %s", host, (unsigned)port,
			strerror(errno));
		close(fd);
		return -1;
	}
	if (got.ss_family == AF_INET)
		*bound = ntohs(((struct sockaddr_in *)&got)->sin_port);
	else
		*bound = ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
	return fd;
}

int peer_transport_create(uv_loop_t *loop, const peer_transport_config *cfg,
			  peer_transport **out, char *why, size_t why_cap)
{
	RP_CHECK(loop != NULL);
	RP_CHECK(cfg != NULL);
	RP_CHECK(out != NULL);
	*out = NULL;
	if (why != NULL && why_cap > 0)
		why[0] = '\0';
	const char *host = cfg->listen_host ? cfg->listen_host : "";
	if (cfg->node_id == 0 || cfg->on_frame_cb == NULL || host[0] == '\0' ||
	    strlen(host) > PEER_ADDR_MAX || cfg->max_frame_bytes > LIMIT_MAX_BYTES ||
	    cfg->max_queue_bytes > LIMIT_MAX_BYTES) {
		why_set(why, why_cap, "invalid peer transport config");
		return RP_ERR_INVALID;
	}
	peer_transport *t = calloc(1, sizeof(*t));
	if (t != NULL) {
		t->rbuf = malloc(READ_BUF_BYTES);
		if (t->rbuf == NULL) {
			free(t);
			t = NULL;
		}
	}
	if (t == NULL) {
		why_set(why, why_cap, "out of memory");
		return RP_ERR_NOMEM;
	}
	if (!copy_str(t->adv_peer, cfg->advertise_peer) ||
	    !copy_str(t->adv_client, cfg->advertise_client)) {
		free(t->rbuf);
		free(t);
		why_set(why, why_cap, "advertised address longer than %d bytes",
			PEER_ADDR_MAX);
		return RP_ERR_INVALID;
	}
	t->loop = loop;
	t->cluster_id = cfg->cluster_id;
	t->node_id = cfg->node_id;
	t->max_frame_bytes =
	    cfg->max_frame_bytes ? cfg->max_frame_bytes : PEER_MAX_FRAME_BYTES_DEFAULT;
	t->max_queue_bytes =
	    cfg->max_queue_bytes ? cfg->max_queue_bytes : PEER_MAX_QUEUE_BYTES_DEFAULT;
	t->max_incoming =
	    cfg->max_incoming ? cfg->max_incoming : PEER_MAX_INCOMING_DEFAULT;
	t->handshake_timeout_ms = cfg->handshake_timeout_ms
				      ? cfg->handshake_timeout_ms
				      : PEER_HANDSHAKE_TIMEOUT_MS_DEFAULT;
	t->user_timeout_ms = cfg->user_timeout_ms ? cfg->user_timeout_ms
						  : PEER_USER_TIMEOUT_MS_DEFAULT;
	t->on_frame_cb = cfg->on_frame_cb;
	t->on_hello_cb = cfg->on_hello_cb;
	t->on_close_cb = cfg->on_close_cb;
	t->ctx = cfg->ctx;

	int fd = listen_socket(host, cfg->listen_port, &t->port, why, why_cap);
	if (fd < 0) {
		free(t->rbuf);
		free(t);
		return RP_ERR_IO;
	}
	/* From here on the handles are on the loop: failures cannot be undone
	 * without running it, and none of these fail on a valid socket. */
	RP_CHECK(uv_tcp_init(loop, &t->listener) == 0);
	t->listener.data = t;
	int rc = uv_tcp_open(&t->listener, (uv_os_sock_t)fd);
	if (rc != 0)
		close(fd); /* not the handle's yet */
	else
		rc =
		    uv_listen((uv_stream_t *)&t->listener, LISTEN_BACKLOG, on_connection);
	RP_CHECK(uv_prepare_init(loop, &t->prepare) == 0);
	RP_CHECK(uv_check_init(loop, &t->check) == 0);
	RP_CHECK(uv_timer_init(loop, &t->sweep) == 0);
	t->prepare.data = t;
	t->check.data = t;
	t->sweep.data = t;
	t->open = 4;
	if (rc != 0) {
		why_set(why, why_cap, "listen %s:%u: %s", host,
			(unsigned)cfg->listen_port, uv_strerror(rc));
		peer_transport_destroy(t, NULL, NULL); /* freed once the loop runs */
		return RP_ERR_IO;
	}
	uv_prepare_start(&t->prepare, on_prepare);
	uv_check_start(&t->check, on_check);
	uv_timer_start(&t->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
	/* housekeeping alone must not keep the loop alive */
	uv_unref((uv_handle_t *)&t->prepare);
	uv_unref((uv_handle_t *)&t->check);
	uv_unref((uv_handle_t *)&t->sweep);
	*out = t;
	return 0;
}

/* ------------------------------------------------------------------ API */

uint16_t peer_transport_port(const peer_transport *t)
{
	RP_CHECK(t != NULL);
	return t->port;
}

void peer_transport_set_cluster(peer_transport *t, uint64_t cluster_id)
{
	RP_CHECK(t != NULL);
	t->cluster_id = cluster_id;
}

int peer_transport_set_addr(peer_transport *t, uint64_t id, const char *addr)
{
	RP_CHECK(t != NULL);
	if (t->destroying)
		return RP_ERR_CLOSED;
	if (id == 0)
		return RP_ERR_INVALID;
	peer_dest *d = dest_find_id(t, id);
	if (addr == NULL) {
		if (d != NULL)
			dest_remove(d);
		return 0;
	}
	if (!addr_valid(addr))
		return RP_ERR_INVALID;
	if (d != NULL) {
		if (strcmp(d->addr, addr) == 0)
			return 0;
		if (d->conn != NULL)
			conn_close(d->conn);
		RP_CHECK(copy_str(d->addr, addr));
		d->backoff_ms = 0; /* a new place: no reason to wait */
		d->retry_at_ms = 0;
		return 0;
	}
	if (t->book_count >= PEER_MAX_BOOK)
		return RP_ERR_BUSY;
	return dest_new(t, id, addr) ? 0 : RP_ERR_NOMEM;
}

int peer_send(peer_transport *t, uint64_t to, const uint8_t *frame, size_t len)
{
	RP_CHECK(t != NULL);
	if (t->destroying)
		return RP_ERR_CLOSED;
	uint64_t frames;
	int rc = frame_check(t, frame, len, &frames);
	if (rc != 0)
		return rc;
	if (to == 0 || to == t->node_id)
		return RP_ERR_INVALID;
	peer_dest *d = dest_find_id(t, to);
	if (d == NULL)
		return RP_ERR_NOTFOUND;
	return dest_send(d, frame, len, frames);
}

int peer_send_addr(peer_transport *t, const char *addr, const uint8_t *frame, size_t len)
{
	RP_CHECK(t != NULL);
	if (t->destroying)
		return RP_ERR_CLOSED;
	uint64_t frames;
	int rc = frame_check(t, frame, len, &frames);
	if (rc != 0)
		return rc;
	if (!addr_valid(addr))
		return RP_ERR_INVALID;
	peer_dest *d = dest_find_addr(t, addr);
	if (d == NULL) {
		if (t->addr_dest_count >= PEER_MAX_ADDR_DESTS) {
			/* forget the oldest idle one (the list is newest first) */
			peer_dest *idle = NULL;
			for (peer_dest *x = t->dests; x != NULL; x = x->next)
				if (x->id == 0 && x->conn == NULL)
					idle = x;
			if (idle == NULL)
				return RP_ERR_BUSY;
			dest_remove(idle);
		}
		d = dest_new(t, 0, addr);
		if (d == NULL)
			return RP_ERR_NOMEM;
	}
	return dest_send(d, frame, len, frames);
}

int peer_reply(peer_conn *c, const uint8_t *frame, size_t len)
{
	RP_CHECK(c != NULL);
	peer_transport *t = c->t;
	if (t->destroying || c->closing)
		return RP_ERR_CLOSED;
	uint64_t frames;
	int rc = frame_check(t, frame, len, &frames);
	if (rc != 0)
		return rc;
	return conn_queue(c, frame, len, frames);
}

uint64_t peer_conn_remote_id(const peer_conn *c)
{
	RP_CHECK(c != NULL);
	return c->remote_id;
}

bool peer_conn_is_outgoing(const peer_conn *c)
{
	RP_CHECK(c != NULL);
	return c->outgoing;
}

void peer_transport_destroy(peer_transport *t, void (*done_cb)(void *ctx), void *ctx)
{
	if (t == NULL) {
		if (done_cb != NULL)
			done_cb(ctx);
		return;
	}
	RP_CHECK(!t->destroying);
	t->destroying = true;
	t->done_cb = done_cb;
	t->done_ctx = ctx;
	t->dirty = NULL;
	for (peer_conn *c = t->conns; c != NULL; c = c->next)
		c->dirty = false;
	while (t->dests != NULL)
		dest_remove(t->dests);
	for (peer_conn *c = t->conns; c != NULL; c = c->next)
		conn_close(c);
	uv_close((uv_handle_t *)&t->listener, on_own_handle_closed);
	uv_close((uv_handle_t *)&t->prepare, on_own_handle_closed);
	uv_close((uv_handle_t *)&t->check, on_own_handle_closed);
	uv_close((uv_handle_t *)&t->sweep, on_own_handle_closed);
}

void peer_transport_get_stats(const peer_transport *t, peer_transport_stats *st)
{
	RP_CHECK(t != NULL);
	RP_CHECK(st != NULL);
	*st = t->stats;
}
