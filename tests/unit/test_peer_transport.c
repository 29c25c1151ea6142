/*
 * test_peer_transport.c — the peer transport on a real libuv loop and real
 * sockets on 127.0.0.1 with ephemeral ports: HELLO exchange, ordered
 * delivery, batching, replies on the incoming connection, calls back into
 * the transport from inside its callbacks, reconnect after a node comes
 * back on the same port, and refusal of everything a bad or foreign peer
 * can send (garbage, oversize frames, a first frame that is not HELLO, a
 * wrong cluster or node id, silence) without disturbing other connections.
 */
#define _GNU_SOURCE /* uv.h needs POSIX types */

#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "net/peer_transport.h"
#include "net/peer_wire.h"
#include "util/crc32c.h"
#include "util/err.h"

/* ---------------------------------------------------------------------------
 * A node: one transport and what its callbacks saw.
 */
#define LOG_MAX 20000

typedef struct node node;
struct node {
	uv_loop_t *loop;
	peer_transport *t;
	uint64_t id;
	uint64_t cluster;
	uint16_t port;
	char addr[32];
	char adv[32]; /* what its HELLO advertises as its peer address */
	/* callbacks */
	int hellos;
	uint64_t hello_from;
	uint64_t hello_cluster;
	char hello_peer_addr[PEER_ADDR_MAX + 1];
	char hello_client_addr[PEER_ADDR_MAX + 1];
	bool hello_outgoing;
	int closes;
	int frames;
	uint64_t from[LOG_MAX];
	uint64_t req[LOG_MAX];
	peer_conn *last_conn;
	bool last_outgoing;
	/* behaviour */
	bool reply;    /* answer every frame on its connection */
	node *forward; /* re-send every frame to this node, from the callback */
	bool destroy_on_frame;
	bool destroyed;
	int send_rc_in_cb;
};

static void on_done(void *ctx)
{
	((node *)ctx)->destroyed = true;
}

/* A FWD_RESP frame carrying req_id and `size` bytes of filler. */
static void make_frame(peer_buf *b, uint64_t req_id, size_t size)
{
	static uint8_t filler[4 << 20];
	CHECK(size <= sizeof(filler));
	for (size_t i = 0; i < size; i++)
		filler[i] = (uint8_t)(req_id + i);
	peer_fwd_resp r = {
	    .req_id = req_id, .status = PEER_FWD_OK, .reply = filler, .reply_len = size};
	CHECK_EQ(peer_encode_fwd_resp(b, &r), 0);
}

static void on_frame(void *ctx, peer_conn *c, uint64_t from, uint8_t type,
		     const uint8_t *payload, size_t len)
{
	node *n = ctx;
	peer_fwd_resp r;
	if (type != PEER_F_FWD_RESP || peer_decode_fwd_resp(payload, len, &r) != 0) {
		printf("    unexpected frame type %u\n", type);
		abort();
	}
	for (size_t i = 0; i < r.reply_len; i++)
		if (r.reply[i] != (uint8_t)(r.req_id + i))
			abort();
	if (n->frames < LOG_MAX) {
		n->from[n->frames] = from;
		n->req[n->frames] = r.req_id;
	}
	n->frames++;
	n->last_conn = c;
	n->last_outgoing = peer_conn_is_outgoing(c);
	if (from != peer_conn_remote_id(c))
		abort();
	peer_buf b;
	peer_buf_init(&b);
	if (n->reply) {
		peer_fwd_resp a = {.req_id = r.req_id + 1000000,
				   .status = PEER_FWD_UNCERTAIN};
		if (peer_encode_fwd_resp(&b, &a) != 0 ||
		    peer_reply(c, b.data, b.len) != 0)
			abort();
	}
	if (n->forward != NULL) {
		peer_buf_reset(&b);
		peer_fwd_resp a = {.req_id = r.req_id + 2000000, .status = PEER_FWD_OK};
		if (peer_encode_fwd_resp(&b, &a) != 0)
			abort();
		n->send_rc_in_cb = peer_send(n->t, n->forward->id, b.data, b.len);
	}
	peer_buf_deinit(&b);
	if (n->destroy_on_frame && !n->destroyed) {
		n->destroy_on_frame = false;
		peer_transport_destroy(n->t, on_done, n);
		/* everything refuses now, including a reply on c */
		peer_buf_init(&b);
		make_frame(&b, 1, 1);
		if (peer_reply(c, b.data, b.len) != RP_ERR_CLOSED ||
		    peer_send(n->t, 1, b.data, b.len) != RP_ERR_CLOSED)
			abort();
		peer_buf_deinit(&b);
	}
}

static void on_hello(void *ctx, peer_conn *c, const peer_hello *h)
{
	node *n = ctx;
	n->hellos++;
	n->hello_from = h->node_id;
	n->hello_cluster = h->cluster_id;
	memcpy(n->hello_peer_addr, h->peer_addr, h->peer_addr_len + 1);
	memcpy(n->hello_client_addr, h->client_addr, h->client_addr_len + 1);
	n->hello_outgoing = peer_conn_is_outgoing(c);
	if (peer_conn_remote_id(c) != h->node_id)
		abort();
}

static void on_close(void *ctx, peer_conn *c)
{
	node *n = ctx;
	(void)c;
	n->closes++;
	if (n->last_conn == c)
		n->last_conn = NULL;
}

static peer_transport_config node_config(node *n)
{
	peer_transport_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cluster_id = n->cluster;
	cfg.node_id = n->id;
	cfg.listen_host = "127.0.0.1";
	cfg.listen_port = n->port; /* 0 the first time */
	snprintf(n->adv, sizeof(n->adv), "n%llu.example:7101", (unsigned long long)n->id);
	cfg.advertise_peer = n->adv;
	cfg.advertise_client = "127.0.0.1:6379";
	cfg.on_frame_cb = on_frame;
	cfg.on_hello_cb = on_hello;
	cfg.on_close_cb = on_close;
	cfg.ctx = n;
	return cfg;
}

static void node_start_cfg(node *n, const peer_transport_config *cfg)
{
	char why[128];
	n->destroyed = false;
	CHECK_EQ(peer_transport_create(n->loop, cfg, &n->t, why, sizeof(why)), 0);
	n->port = peer_transport_port(n->t);
	CHECK(n->port != 0);
	snprintf(n->addr, sizeof(n->addr), "127.0.0.1:%u", (unsigned)n->port);
}

static void node_start(node *n, uv_loop_t *loop, uint64_t id, uint64_t cluster)
{
	memset(n, 0, sizeof(*n));
	n->loop = loop;
	n->id = id;
	n->cluster = cluster;
	peer_transport_config cfg = node_config(n);
	node_start_cfg(n, &cfg);
}

static peer_transport_stats stats(const node *n)
{
	peer_transport_stats st;
	peer_transport_get_stats(n->t, &st);
	return st;
}

/* ---------------------------------------------------------------------------
 * Running the loop until something holds.
 */
static void on_tick(uv_timer_t *h)
{
	(void)h;
}

typedef bool (*pred_fn)(void *arg);

static bool run_until(uv_loop_t *loop, pred_fn pred, void *arg, uint64_t timeout_ms)
{
	uv_timer_t tick;
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, on_tick, 2, 2);
	uv_update_time(loop);
	uint64_t end = uv_now(loop) + timeout_ms;
	bool ok;
	for (;;) {
		ok = pred(arg);
		if (ok || uv_now(loop) >= end)
			break;
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ok;
}

/* Runs the loop for ms, whatever happens. */
static bool never(void *arg)
{
	(void)arg;
	return false;
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
	(void)run_until(loop, never, NULL, ms);
}

static bool is_destroyed(void *arg)
{
	return ((node *)arg)->destroyed;
}

static void node_stop(node *n)
{
	if (!n->destroyed) {
		peer_transport_destroy(n->t, on_done, n);
		CHECK(run_until(n->loop, is_destroyed, n, 5000));
	}
	n->t = NULL;
}

static void loop_finish(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);	  /* nothing but closes is left */
	CHECK_EQ(uv_loop_close(loop), 0); /* every handle closed */
}

struct count_arg {
	node *n;
	int frames;
};

static bool has_frames(void *arg)
{
	struct count_arg *a = arg;
	return a->n->frames >= a->frames;
}

static void wait_frames(node *n, int frames)
{
	struct count_arg a = {n, frames};
	CHECK(run_until(n->loop, has_frames, &a, 5000));
}

static int send_to(node *from, const node *to, uint64_t req_id, size_t size)
{
	peer_buf b;
	peer_buf_init(&b);
	make_frame(&b, req_id, size);
	int rc = peer_send(from->t, to->id, b.data, b.len);
	peer_buf_deinit(&b);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Raw sockets, for bytes no transport would send.
 */
static int raw_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const void *p, size_t n)
{
	CHECK_EQ(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* The peer closed fd: reads reach EOF (after whatever it sent first). */
static bool raw_closed(void *arg)
{
	int fd = *(int *)arg;
	char buf[4096];
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0)
			return true;
		if (r < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void raw_hello(int fd, uint64_t node_id, uint64_t cluster)
{
	peer_buf b;
	peer_buf_init(&b);
	peer_hello h = {.version = 1, .cluster_id = cluster, .node_id = node_id};
	CHECK_EQ(peer_encode_hello(&b, &h), 0);
	raw_send(fd, b.data, b.len);
	peer_buf_deinit(&b);
}

/* ---------------------------------------------------------------------------
 * Tests.
 */

TEST(hello_exchange_and_delivery)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	node_start(&a, &loop, 1, 7);
	node_start(&b, &loop, 2, 7);
	CHECK_EQ(send_to(&a, &b, 1, 10), RP_ERR_NOTFOUND);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	CHECK_EQ(send_to(&a, &b, 1, 10), 0);
	wait_frames(&b, 1);
	CHECK_EQ(b.from[0], 1);
	CHECK_EQ(b.req[0], 1);
	CHECK(!b.last_outgoing);
	run_for(&loop, 20); /* let a's write callbacks run */
	/* both sides saw the other's HELLO, with its advertised addresses */
	CHECK_EQ(b.hellos, 1);
	CHECK_EQ(b.hello_from, 1);
	CHECK_EQ(b.hello_cluster, 7);
	CHECK(strcmp(b.hello_peer_addr, "n1.example:7101") == 0);
	CHECK(strcmp(a.hello_peer_addr, "n2.example:7101") == 0);
	CHECK(strcmp(b.hello_client_addr, "127.0.0.1:6379") == 0);
	CHECK(!b.hello_outgoing);
	CHECK_EQ(a.hellos, 1);
	CHECK_EQ(a.hello_from, 2);
	CHECK(a.hello_outgoing);
	peer_transport_stats sa = stats(&a), sb = stats(&b);
	CHECK_EQ(sa.connects, 1);
	CHECK_EQ(sa.connect_failures, 0);
	CHECK_EQ(sb.accepts, 1);
	CHECK_EQ(sa.frames_sent, 2); /* HELLO + 1 */
	CHECK_EQ(sb.frames_received, 2);
	CHECK_EQ(sa.conns_open, 1);
	CHECK_EQ(sb.conns_open, 1);
	CHECK_EQ(sa.bad_frames + sb.bad_frames, 0);
	node_stop(&a);
	/* destroy runs no callback on its own side; b sees its peer go */
	CHECK_EQ(a.closes, 0);
	run_for(&loop, 20);
	CHECK_EQ(b.closes, 1);
	node_stop(&b);
	CHECK_EQ(b.closes, 1);
	loop_finish(&loop);
}

TEST(three_nodes_in_order_and_batched)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node n[3];
	for (int i = 0; i < 3; i++)
		node_start(&n[i], &loop, (uint64_t)i + 1, 7);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			if (i != j)
				CHECK_EQ(
				    peer_transport_set_addr(n[i].t, n[j].id, n[j].addr),
				    0);
	/* every node sends 3000 frames of varied size to each other node, all
	 * queued in one loop turn */
	enum { PER = 3000 };
	for (int k = 0; k < PER; k++)
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 3; j++)
				if (i != j)
					CHECK_EQ(send_to(&n[i], &n[j],
							 (uint64_t)(i * 100000 + k),
							 (size_t)(k % 200)),
						 0);
	for (int j = 0; j < 3; j++)
		wait_frames(&n[j], 2 * PER);
	run_for(&loop, 20); /* let the write callbacks run */
	for (int j = 0; j < 3; j++) {
		CHECK_EQ(n[j].frames, 2 * PER);
		/* per sender, in the order sent */
		uint64_t next[3] = {0, 0, 0};
		for (int f = 0; f < n[j].frames; f++) {
			int i = (int)n[j].from[f] - 1;
			CHECK(i >= 0 && i < 3 && i != j);
			CHECK_EQ(n[j].req[f], (uint64_t)i * 100000 + next[i]);
			next[i]++;
		}
		peer_transport_stats st = stats(&n[j]);
		CHECK_EQ(st.frames_sent, 2 * PER + 4); /* + HELLO on 4 connections */
		/* batched: far fewer writes than frames */
		CHECK(st.writes * 20 < st.frames_sent);
		CHECK_EQ(st.frames_dropped, 0);
	}
	for (int i = 0; i < 3; i++)
		node_stop(&n[i]);
	loop_finish(&loop);
}

TEST(reply_and_send_from_callbacks)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b, c;
	node_start(&a, &loop, 1, 7);
	node_start(&b, &loop, 2, 7);
	node_start(&c, &loop, 3, 7);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	CHECK_EQ(peer_transport_set_addr(b.t, 3, c.addr), 0);
	b.reply = true; /* answers on the incoming connection */
	b.forward = &c; /* and sends on to c, from inside on_frame_cb */
	for (uint64_t k = 0; k < 50; k++)
		CHECK_EQ(send_to(&a, &b, k, 3), 0);
	wait_frames(&a, 50);
	wait_frames(&c, 50);
	CHECK_EQ(b.send_rc_in_cb, 0);
	for (int k = 0; k < 50; k++) {
		CHECK_EQ(a.from[k], 2);
		CHECK_EQ(a.req[k], (uint64_t)k + 1000000);
		CHECK_EQ(c.from[k], 2);
		CHECK_EQ(c.req[k], (uint64_t)k + 2000000);
	}
	/* the answers came on a's own outgoing connection */
	CHECK(a.last_outgoing);
	CHECK_EQ(stats(&a).accepts, 0);
	node_stop(&a);
	node_stop(&b);
	node_stop(&c);
	loop_finish(&loop);
}

static bool reconnected(void *arg)
{
	node **p = arg; /* {a, b} */
	if (p[1]->frames > 0)
		return true;
	(void)send_to(p[0], p[1], 77, 5);
	return false;
}

TEST(reconnect_after_restart_on_same_port)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	node_start(&a, &loop, 1, 7);
	node_start(&b, &loop, 2, 7);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	CHECK_EQ(send_to(&a, &b, 1, 1), 0);
	wait_frames(&b, 1);
	uint16_t port = b.port;
	node_stop(&b);
	/* a notices the close and tells its server */
	run_for(&loop, 50);
	CHECK_EQ(a.closes, 1);
	/* sending while b is down: accepted (queued or lost), never an error */
	for (int i = 0; i < 10; i++) {
		CHECK_EQ(send_to(&a, &b, 100 + (uint64_t)i, 1), 0);
		run_for(&loop, 20);
	}
	CHECK(stats(&a).connect_failures >= 1);
	/* b comes back on the same port */
	b.frames = 0;
	b.port = port;
	peer_transport_config cfg = node_config(&b);
	node_start_cfg(&b, &cfg);
	CHECK_EQ(b.port, port);
	node *pair[2] = {&a, &b};
	CHECK(run_until(&loop, reconnected, pair, 5000));
	CHECK(stats(&a).connects >= 2);
	node_stop(&a);
	node_stop(&b);
	loop_finish(&loop);
}

struct raw_arg {
	node *n;
	uint64_t bad;
};

static bool bad_reached(void *arg)
{
	struct raw_arg *r = arg;
	return stats(r->n).bad_frames >= r->bad;
}

TEST(bad_input_closes_only_that_connection)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	node_start(&a, &loop, 1, 7);
	memset(&b, 0, sizeof(b));
	b.loop = &loop;
	b.id = 2;
	b.cluster = 7;
	peer_transport_config cfg = node_config(&b);
	cfg.max_frame_bytes = 4096;
	node_start_cfg(&b, &cfg);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	CHECK_EQ(send_to(&a, &b, 1, 10), 0);
	wait_frames(&b, 1);

	peer_buf f;
	peer_buf_init(&f);
	struct raw_arg ra = {&b, 0};
	uint64_t bad = 0;
	/* 1. garbage */
	int fd = raw_connect(b.port);
	raw_send(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 2. a valid frame, but not a HELLO, first */
	fd = raw_connect(b.port);
	peer_buf_reset(&f);
	make_frame(&f, 5, 5);
	raw_send(fd, f.data, f.len);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 3. HELLO, then a header claiming more than max_frame_bytes */
	fd = raw_connect(b.port);
	raw_hello(fd, 50, 7);
	peer_buf_reset(&f);
	make_frame(&f, 6, 4097 - 13); /* payload 4097 bytes */
	raw_send(fd, f.data, PEER_HEADER_BYTES);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 3b. before any HELLO, a header claiming a 100 KiB HELLO (within
	 * max_frame_bytes of a default node, but no HELLO is that big) */
	fd = raw_connect(b.port);
	peer_buf_reset(&f);
	peer_hello big = {.version = 1, .cluster_id = 7, .node_id = 54};
	CHECK_EQ(peer_encode_hello(&f, &big), 0);
	put32(f.data + 4, 100 << 10);
	put32(f.data + 12, crc32c(f.data, 12));
	raw_send(fd, f.data, PEER_HEADER_BYTES);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 4. HELLO, then a frame whose payload CRC is wrong */
	fd = raw_connect(b.port);
	raw_hello(fd, 51, 7);
	peer_buf_reset(&f);
	make_frame(&f, 7, 100);
	f.data[f.len - 1] ^= 1;
	raw_send(fd, f.data, f.len);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 5. two HELLOs */
	fd = raw_connect(b.port);
	raw_hello(fd, 52, 7);
	raw_hello(fd, 52, 7);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 6. a HELLO with a bad header CRC, sent a byte at a time */
	fd = raw_connect(b.port);
	peer_buf_reset(&f);
	peer_hello h = {.version = 1, .cluster_id = 7, .node_id = 53};
	CHECK_EQ(peer_encode_hello(&f, &h), 0);
	f.data[13] ^= 0x80;
	for (size_t i = 0; i < PEER_HEADER_BYTES; i++) {
		raw_send(fd, f.data + i, 1);
		run_for(&loop, 1);
	}
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 7. a HELLO naming b itself */
	fd = raw_connect(b.port);
	raw_hello(fd, 2, 7);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 7b. a HELLO naming node 0, with correct CRCs (built by hand) */
	fd = raw_connect(b.port);
	peer_buf_reset(&f);
	CHECK_EQ(peer_encode_hello(&f, &h), 0);
	memset(f.data + PEER_HEADER_BYTES + 12, 0, 8);
	put32(f.data + 8, crc32c(f.data + PEER_HEADER_BYTES, f.len - PEER_HEADER_BYTES));
	put32(f.data + 12, crc32c(f.data, 12));
	raw_send(fd, f.data, f.len);
	ra.bad = ++bad;
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	/* 8. a good HELLO and frame split into 1-byte writes is served */
	fd = raw_connect(b.port);
	peer_buf_reset(&f);
	peer_hello h2 = {.version = 2, .cluster_id = 0, .node_id = 60};
	CHECK_EQ(peer_encode_hello(&f, &h2), 0);
	make_frame(&f, 8, 300);
	for (size_t i = 0; i < f.len; i++) {
		raw_send(fd, f.data + i, 1);
		if (i % 37 == 0)
			run_for(&loop, 1);
	}
	wait_frames(&b, 2);
	CHECK_EQ(b.from[1], 60);
	CHECK_EQ(b.req[1], 8);
	close(fd);

	/* none of it touched the a -> b connection */
	CHECK_EQ(send_to(&a, &b, 2, 10), 0);
	wait_frames(&b, 3);
	CHECK_EQ(b.from[2], 1);
	CHECK_EQ(b.req[2], 2);
	CHECK_EQ(a.closes, 0);
	CHECK_EQ(stats(&a).connects, 1);
	CHECK_EQ(stats(&b).bad_frames, bad);
	peer_buf_deinit(&f);
	node_stop(&a);
	node_stop(&b);
	loop_finish(&loop);
}

static bool timed_out(void *arg)
{
	return stats(arg).handshake_timeouts >= 1;
}

/* Frames far larger than one read arrive whole and intact (on_frame checks
 * every byte), interleaved with small ones, in order. */
TEST(large_frames_gathered)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	node_start(&a, &loop, 1, 7);
	node_start(&b, &loop, 2, 7);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	const size_t sizes[] = {100 << 10, 1, 1 << 20, 0, (3 << 20) + 17, 5, 65536 - 29};
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	/* the first round queued in one turn, the second one frame per turn */
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < N; i++) {
			CHECK_EQ(send_to(&a, &b, (uint64_t)(round * 100) + i, sizes[i]),
				 0);
			if (round == 1)
				run_for(&loop, 1);
		}
	}
	wait_frames(&b, 2 * N);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < N; i++)
			CHECK_EQ(b.req[(size_t)round * N + i],
				 (uint64_t)(round * 100) + i);
	node_stop(&a);
	node_stop(&b);
	loop_finish(&loop);
}

TEST(silent_connection_times_out)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node b;
	memset(&b, 0, sizeof(b));
	b.loop = &loop;
	b.id = 2;
	peer_transport_config cfg = node_config(&b);
	cfg.handshake_timeout_ms = 100;
	node_start_cfg(&b, &cfg);
	int fd = raw_connect(b.port);
	CHECK(run_until(&loop, timed_out, &b, 5000));
	CHECK(run_until(&loop, raw_closed, &fd, 5000));
	close(fd);
	CHECK_EQ(stats(&b).conns_open, 0);
	node_stop(&b);
	loop_finish(&loop);
}

struct fail_arg {
	node *n;
	uint64_t failures;
};

static bool failures_reached(void *arg)
{
	struct fail_arg *f = arg;
	return stats(f->n).connect_failures >= f->failures;
}

TEST(cluster_and_node_mismatch_refused)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, d, e;
	node_start(&a, &loop, 1, 7);
	node_start(&d, &loop, 4, 8); /* another cluster */
	node_start(&e, &loop, 5, 0); /* joining: no cluster yet */
	CHECK_EQ(peer_transport_set_addr(a.t, 4, d.addr), 0);
	CHECK_EQ(send_to(&a, &d, 1, 1), 0);
	struct fail_arg fa = {&a, 1};
	CHECK(run_until(&loop, failures_reached, &fa, 5000));
	struct raw_arg ra = {&d, 1};
	CHECK(run_until(&loop, bad_reached, &ra, 5000));
	CHECK(stats(&a).bad_frames >= 1);
	CHECK_EQ(d.frames, 0);
	CHECK_EQ(a.hellos + d.hellos, 0);
	/* the book says node 9 lives where d (node 4) listens: refused by a */
	CHECK_EQ(peer_transport_set_addr(a.t, 9, d.addr), 0);
	peer_buf f;
	peer_buf_init(&f);
	make_frame(&f, 2, 2);
	CHECK_EQ(peer_send(a.t, 9, f.data, f.len), 0);
	fa.failures = stats(&a).connect_failures + 1;
	CHECK(run_until(&loop, failures_reached, &fa, 5000));
	/* a joining node (cluster 0) reaches a by address and gets an answer
	 * on the same connection */
	a.reply = true;
	CHECK_EQ(peer_send_addr(e.t, a.addr, f.data, f.len), 0);
	wait_frames(&a, 1);
	wait_frames(&e, 1);
	CHECK_EQ(e.from[0], 1);
	CHECK_EQ(e.req[0], 2 + 1000000);
	CHECK_EQ(a.from[0], 5);
	/* e joins: its cluster id changes; new connections carry it */
	peer_transport_set_cluster(e.t, 7);
	CHECK_EQ(peer_send_addr(e.t, "[::1]:1", f.data, f.len), 0); /* nothing there */
	CHECK_EQ(peer_send_addr(e.t, "no-port", f.data, f.len), RP_ERR_INVALID);
	peer_buf_deinit(&f);
	node_stop(&a);
	node_stop(&d);
	node_stop(&e);
	loop_finish(&loop);
}

TEST(queue_bound_drops_with_busy)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	memset(&a, 0, sizeof(a));
	a.loop = &loop;
	a.id = 1;
	peer_transport_config cfg = node_config(&a);
	cfg.max_queue_bytes = 1000;
	cfg.max_frame_bytes = 2000;
	node_start_cfg(&a, &cfg);
	node_start(&b, &loop, 2, 0);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	/* without running the loop nothing leaves: the queue fills */
	int ok = 0, busy = 0;
	for (uint64_t k = 0; k < 40; k++) {
		int rc = send_to(&a, &b, k, 87); /* 16 + 13 + 87 = 116 bytes */
		if (rc == 0)
			ok++;
		else if (rc == RP_ERR_BUSY)
			busy++;
		else
			CHECK(0);
	}
	CHECK_EQ(ok, 1000 / 116);
	CHECK_EQ(busy, 40 - 1000 / 116);
	CHECK_EQ(stats(&a).frames_dropped, (uint64_t)busy);
	/* a payload over max_frame_bytes is refused outright */
	CHECK_EQ(send_to(&a, &b, 99, 2000), RP_ERR_NOSPC);
	wait_frames(&b, ok);
	run_for(&loop, 20);
	CHECK_EQ(b.frames, ok);
	for (int k = 0; k < ok; k++)
		CHECK_EQ(b.req[k], (uint64_t)k);
	/* drained: a frame larger than the bound still goes into an empty
	 * queue, alone */
	CHECK_EQ(send_to(&a, &b, 500, 1500), 0);
	CHECK_EQ(send_to(&a, &b, 501, 1), RP_ERR_BUSY);
	wait_frames(&b, ok + 1);
	CHECK_EQ(b.req[ok], 500);
	node_stop(&a);
	node_stop(&b);
	loop_finish(&loop);
}

TEST(forget_address_closes_connection)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	node_start(&a, &loop, 1, 7);
	node_start(&b, &loop, 2, 7);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, "not an address"), RP_ERR_INVALID);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, "h:0"), RP_ERR_INVALID);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, "h:65536"), RP_ERR_INVALID);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, "::1:5"), RP_ERR_INVALID);
	CHECK_EQ(peer_transport_set_addr(a.t, 0, b.addr), RP_ERR_INVALID);
	/* a hostname, resolved asynchronously (localhost may give ::1 first,
	 * where nothing listens: the next attempt takes the next address) */
	char host_addr[64];
	snprintf(host_addr, sizeof(host_addr), "localhost:%u", (unsigned)b.port);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, host_addr), 0);
	node *pair[2] = {&a, &b};
	CHECK(run_until(&loop, reconnected, pair, 5000));
	CHECK_EQ(b.hellos, 1);
	/* forgetting b closes the connection, on both sides */
	CHECK_EQ(peer_transport_set_addr(a.t, 2, NULL), 0);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, NULL), 0);
	run_for(&loop, 50);
	CHECK_EQ(a.closes, 1);
	CHECK_EQ(b.closes, 1);
	CHECK_EQ(send_to(&a, &b, 1, 1), RP_ERR_NOTFOUND);
	CHECK_EQ(stats(&a).conns_open, 0);
	node_stop(&a);
	node_stop(&b);
	loop_finish(&loop);
}

TEST(destroy_from_inside_a_callback)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a, b;
	node_start(&a, &loop, 1, 7);
	node_start(&b, &loop, 2, 7);
	CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
	b.destroy_on_frame = true;
	/* several frames arrive in one read: only the first is delivered */
	for (uint64_t k = 0; k < 20; k++)
		CHECK_EQ(send_to(&a, &b, k, 10), 0);
	CHECK(run_until(&loop, is_destroyed, &b, 5000));
	CHECK_EQ(b.frames, 1);
	run_for(&loop, 30);
	CHECK_EQ(a.closes, 1);
	node_stop(&a);
	loop_finish(&loop);
}

TEST(create_errors)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node a;
	node_start(&a, &loop, 1, 7);
	node b;
	memset(&b, 0, sizeof(b));
	b.loop = &loop;
	b.id = 2;
	peer_transport_config cfg = node_config(&b);
	cfg.listen_port = a.port; /* taken */
	peer_transport *t = NULL;
	char why[128];
	CHECK_EQ(peer_transport_create(&loop, &cfg, &t, why, sizeof(why)), RP_ERR_IO);
	CHECK(t == NULL);
	char want[64];
	snprintf(want, sizeof(want), "bind 127.0.0.1:%u: ", (unsigned)a.port);
	CHECK(strncmp(why, want, strlen(want)) == 0);
	cfg.listen_port = 0;
	cfg.listen_host = "no-such-host.invalid";
	CHECK_EQ(peer_transport_create(&loop, &cfg, &t, why, sizeof(why)), RP_ERR_IO);
	CHECK(strncmp(why, "resolve no-such-host.invalid:0: ", 32) == 0);
	cfg.listen_host = "127.0.0.1";
	cfg.node_id = 0;
	CHECK_EQ(peer_transport_create(&loop, &cfg, &t, NULL, 0), RP_ERR_INVALID);
	/* IPv6 with brackets, if the machine has ::1 */
	cfg.node_id = 2;
	cfg.listen_host = "[::1]";
	if (peer_transport_create(&loop, &cfg, &t, why, sizeof(why)) == 0) {
		b.t = t;
		b.port = peer_transport_port(t);
		snprintf(b.addr, sizeof(b.addr), "[::1]:%u", (unsigned)b.port);
		CHECK_EQ(peer_transport_set_addr(a.t, 2, b.addr), 0);
		CHECK_EQ(send_to(&a, &b, 3, 3), 0);
		wait_frames(&b, 1);
		node_stop(&b);
	} else {
		printf("    (no IPv6 loopback: %s)\n", why);
	}
	/* destroy(NULL) calls done_cb at once */
	b.destroyed = false;
	peer_transport_destroy(NULL, on_done, &b);
	CHECK(b.destroyed);
	node_stop(&a);
	loop_finish(&loop);
}

TEST(max_incoming)
{
	uv_loop_t loop;
	CHECK_EQ(uv_loop_init(&loop), 0);
	node b;
	memset(&b, 0, sizeof(b));
	b.loop = &loop;
	b.id = 2;
	peer_transport_config cfg = node_config(&b);
	cfg.max_incoming = 2;
	node_start_cfg(&b, &cfg);
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = raw_connect(b.port);
		run_for(&loop, 20);
	}
	/* the third is closed at once; the first two stay */
	CHECK(run_until(&loop, raw_closed, &fds[2], 5000));
	CHECK_EQ(stats(&b).accepts, 2);
	CHECK_EQ(stats(&b).conns_open, 2);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	node_stop(&b);
	loop_finish(&loop);
}

TEST_MAIN()
