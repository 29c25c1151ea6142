/*
 * server.c — rasputind's start-up, timers, signals and shutdown.
 *
 * Start-up: lock the storage directory and read the node's identity
 * (ident.c); open the state machine and the WAL and restore the consensus
 * core (node.c) — a corrupt log is moved aside and the node rejoins under
 * a new id; listen on the peer port and the client port; then run the
 * loop.  Three timers drive everything that is not IO: the core's tick
 * (every 10 ms, on the node's own clock), a slow timer (every 50 ms:
 * request timeouts, retries, joins, the leader's duties) and a prepare
 * hook at the end of every loop turn, which sends the turn's read batch
 * and drains the core — so all the proposals and messages that arrived in
 * one turn become one ready batch, one WAL append and one write per peer.
 *
 * Shutdown on SIGTERM/SIGINT: a leader first hands leadership to the most
 * caught-up voter (waiting up to 3 s), then the node stops taking clients,
 * answers what is pending (NOLEADER or UNCERTAIN), syncs the log and
 * exits 0.  SIGHUP reopens the log file.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"
#include "server/srv_main.h"
#include "util/log.h"

uint64_t srv_mono_us(void)
{
	return uv_hrtime() / 1000;
}

uint64_t srv_now_us(const srv *s)
{
	uint64_t real = srv_mono_us() - s->clock_base_hr_us;
	int32_t ppm = s->cfg.debug_clock_rate_ppm;
	if (ppm == 0)
		return real + 1000000;
	/* The debug skew: this node's clock runs ppm fast or slow. */
	double scaled = (double)real * (1.0 + (double)ppm / 1e6);
	return (uint64_t)scaled + 1000000;
}

void srv_fatal(srv *s, const char *what, int rc)
{
	RP_ERROR("%s: %s; the node stops (a restart recovers from the log)", what, rp_strerror(rc));
	rp_log_close();
	(void)s;
	/* Nothing more may be acknowledged: stop as a crash would. */
	_exit(1);
}

/* ---------------------------------------------------------------- timers */

static void tick_cb(uv_timer_t *t)
{
	srv *s = t->data;
	srv_node_tick(s);
}

static void stop_now(srv *s);

static void slow_cb(uv_timer_t *t)
{
	srv *s = t->data;
	srv_exec_timers(s);
	if (s->stopping == 1) {
		bool handed = !srv_is_leader(s);
		if (handed || srv_mono_us() >= s->stop_deadline_us) {
			if (!handed)
				RP_WARN("leadership was not handed over in time; stopping anyway");
			stop_now(s);
		}
	}
}

/* Runs before each wait while polling: an active idle handle makes that
 * wait return at once; on an empty turn any other runnable thread goes
 * first. */
static void ipoll_idle_cb(uv_idle_t *h)
{
	srv *s = h->data;
	s->ipoll.turns++;
	if (s->ipoll.quiet)
		sched_yield();
}

/* After every poll: open, extend or close the polling window. */
static void ipoll_check_cb(uv_check_t *h)
{
	srv *s = h->data;
	bool was = s->ipoll.polling;
	bool polling = idle_poll_turn(&s->ipoll, s->activity, uv_hrtime());
	if (polling && !was)
		uv_idle_start(&s->ipoll_idle, ipoll_idle_cb);
	else if (!polling && was)
		uv_idle_stop(&s->ipoll_idle);
}

static void prepare_cb(uv_prepare_t *p)
{
	srv *s = p->data;
	if (s->stopping == 2)
		return;
	srv_exec_flush_reads(s);
	srv_node_drain(s);
}

/* ----------------------------------------------------------------- peers */

static struct srv_peer_cid *cid_find(srv *s, const peer_conn *c)
{
	for (size_t i = 0; i < s->cid_count; i++)
		if (s->cids[i].conn == c)
			return &s->cids[i];
	return NULL;
}

/* Whether a frame on c may reach the core or the request path: only from
 * our own cluster, or from a joining node (HELLO cluster 0) that the log
 * already made a member.  Joins and their answers pass (they are how a
 * node learns its cluster).  A node of another cluster that happens to
 * reuse our node ids and addresses must never feed our log. */
static bool frame_allowed(srv *s, peer_conn *c, uint64_t from, uint8_t type)
{
	if (type == PEER_F_JOIN_REQ || type == PEER_F_JOIN_RESP)
		return true;
	if (s->cluster_id == 0)
		return false;
	const struct srv_peer_cid *e = cid_find(s, c);
	uint64_t cid = e ? e->cluster_id : 0;
	if (cid == s->cluster_id)
		return true;
	return cid == 0 && (hp_conf_is_voter(&s->st.conf, from) ||
	                    hp_conf_is_learner(&s->st.conf, from));
}

static void peer_frame_cb(void *ctx, peer_conn *c, uint64_t from, uint8_t type,
                          const uint8_t *payload, size_t len)
{
	srv *s = ctx;
	if (s->stopping == 2)
		return;
	srv_note_activity(s);
	if (!frame_allowed(s, c, from, type)) {
		if (s->foreign_frames++ % 1000 == 0)
			RP_WARN("ignoring frames from n%llu: it belongs to another cluster, or is not "
			        "a member yet (%llu ignored so far)",
			        (unsigned long long)from, (unsigned long long)s->foreign_frames);
		return;
	}
	srv_exec_peer_frame(s, c, from, type, payload, len);
}

static void peer_hello_cb(void *ctx, peer_conn *c, const peer_hello *h)
{
	srv *s = ctx;
	(void)c;
	char pa[PEER_ADDR_MAX + 1], ca[PEER_ADDR_MAX + 1];
	snprintf(pa, sizeof(pa), "%.*s", (int)h->peer_addr_len, h->peer_addr);
	snprintf(ca, sizeof(ca), "%.*s", (int)h->client_addr_len, h->client_addr);
	struct srv_peer_cid *e = cid_find(s, c);
	if (e == NULL) {
		if (s->cid_count == s->cid_cap) {
			size_t cap = s->cid_cap ? s->cid_cap * 2 : 16;
			struct srv_peer_cid *grown = realloc(s->cids, cap * sizeof(*grown));
			if (grown == NULL)
				return; /* unknown connection: its frames are ignored */
			s->cids = grown;
			s->cid_cap = cap;
		}
		e = &s->cids[s->cid_count++];
		e->conn = c;
	}
	e->cluster_id = h->cluster_id;
	/* Addresses only from our own cluster or a joining node. */
	if (h->cluster_id == 0 || s->cluster_id == 0 || h->cluster_id == s->cluster_id)
		srv_addr_learn(s, h->node_id, pa, ca, false);
}

static void peer_close_cb(void *ctx, peer_conn *c)
{
	srv *s = ctx;
	struct srv_peer_cid *e = cid_find(s, c);
	if (e)
		*e = s->cids[--s->cid_count];
	if (s->stopping == 2)
		return;
	srv_exec_peer_closed(s, c);
}

/* --------------------------------------------------------------- signals */

static void stop_done_cb(void *ctx)
{
	srv *s = ctx;
	uv_stop(s->loop);
}

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop_now(srv *s)
{
	if (s->stopping == 2)
		return;
	RP_INFO("stopping");
	srv_exec_fail_all(s, "the node is shutting down");
	s->stopping = 2;
	srv_clients_stop(s);
	close_handle((uv_handle_t *)&s->tick_timer);
	close_handle((uv_handle_t *)&s->slow_timer);
	close_handle((uv_handle_t *)&s->prepare);
	close_handle((uv_handle_t *)&s->ipoll_check);
	close_handle((uv_handle_t *)&s->ipoll_idle);
	close_handle((uv_handle_t *)&s->sig_term);
	close_handle((uv_handle_t *)&s->sig_int);
	close_handle((uv_handle_t *)&s->sig_hup);
	/* Closing the handles restored the default actions: a second signal
	 * must not kill a node that is already stopping cleanly. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	srv_node_close(s);
	close_handle((uv_handle_t *)&s->wal_async);
	close_handle((uv_handle_t *)&s->snap_async);
	close_handle((uv_handle_t *)&s->apply_idle);
	close_handle((uv_handle_t *)&s->walk_idle);
	if (s->pt) {
		peer_transport *pt = s->pt;
		s->pt = NULL;
		peer_transport_destroy(pt, stop_done_cb, s);
	} else {
		uv_stop(s->loop);
	}
}

void srv_request_stop(srv *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	s->stop_deadline_us = srv_mono_us() + 3000000;
	if (srv_is_leader(s) && s->st.conf.voter_count > 1) {
		int hrc = hp_transfer(s->core, srv_now_us(s), 0);
		RP_INFO("handing leadership over before stopping: %s",
		        hrc == HP_OK ? "started" : hp_strerror(hrc));
		if (hrc == HP_OK)
			return; /* slow_cb stops once it moved, or at the deadline */
	}
	stop_now(s);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	srv *s = h->data;
	if (signum == SIGHUP) {
		RP_INFO("SIGHUP: reopening the log file");
		(void)rp_log_reopen();
		return;
	}
	RP_INFO("%s received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	srv_request_stop(s);
}

/* ---------------------------------------------------------------- start */

static int start(srv *s, char *why, size_t why_cap)
{
	int rc = srv_ident_load(s, why, why_cap);
	if (rc != 0)
		return rc;
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "n%llu", (unsigned long long)s->node_id);
	rp_log_set_prefix(prefix);
	srv_config_peer_addr(&s->cfg, s->peer_addr, sizeof(s->peer_addr));
	srv_config_client_addr(&s->cfg, s->client_addr, sizeof(s->client_addr));
	bool was_joined = s->joined;
	/* Before the log opens: its writer thread signals wal_async from the
	 * first append on (the startup snapshot's mark among them), and
	 * uv_async_send on a handle not yet initialized crashes. */
	srv_node_init_handles(s);
	rc = srv_node_open(s, why, why_cap);
	if (rc == RP_ERR_CORRUPT && s->cfg.seed_count > 0) {
		RP_ERROR("%s", why);
		srv_node_close(s);
		rc = srv_ident_move_aside(s, why, why_cap);
		if (rc != 0)
			return rc;
		snprintf(prefix, sizeof(prefix), "n%llu", (unsigned long long)s->node_id);
		rp_log_set_prefix(prefix);
		was_joined = false;
		rc = srv_node_open(s, why, why_cap);
	} else if (rc == RP_ERR_CORRUPT) {
		size_t n = strlen(why);
		snprintf(why + n, why_cap - n,
		         "; restart it with --seed-peers so it can rejoin as a fresh learner");
	}
	if (rc != 0)
		return rc;
	if (s->joined != was_joined && srv_ident_save(s, why, why_cap) != 0)
		return RP_ERR_IO;

	peer_transport_config pc;
	memset(&pc, 0, sizeof(pc));
	pc.cluster_id = s->joined ? s->cluster_id : 0;
	pc.node_id = s->node_id;
	pc.listen_host = s->cfg.bind;
	pc.listen_port = s->cfg.peer_port;
	pc.advertise_peer = s->peer_addr;
	pc.advertise_client = s->client_addr;
	pc.max_frame_bytes = PEER_MAX_FRAME_BYTES_DEFAULT;
	pc.max_queue_bytes = 256u << 20;
	/* A healed link must come back within a few leases. */
	pc.user_timeout_ms = 2 * (uint64_t)s->cfg.lease_ms < 1000 ? 1000 : 2 * (uint64_t)s->cfg.lease_ms;
	pc.on_frame_cb = peer_frame_cb;
	pc.on_hello_cb = peer_hello_cb;
	pc.on_close_cb = peer_close_cb;
	pc.ctx = s;
	rc = peer_transport_create(s->loop, &pc, &s->pt, why, why_cap);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < s->node_count; i++)
		if (s->nodes[i].id != s->node_id)
			peer_transport_set_addr(s->pt, s->nodes[i].id, s->nodes[i].peer_addr);
	rc = srv_clients_start(s, why, why_cap);
	if (rc != 0)
		return rc;

	uv_timer_init(s->loop, &s->tick_timer);
	s->tick_timer.data = s;
	uv_timer_start(&s->tick_timer, tick_cb, 10, 10);
	uv_idle_init(s->loop, &s->walk_idle);
	s->walk_idle.data = s;
	uv_timer_init(s->loop, &s->slow_timer);
	s->slow_timer.data = s;
	uv_timer_start(&s->slow_timer, slow_cb, 50, 50);
	uv_prepare_init(s->loop, &s->prepare);
	s->prepare.data = s;
	uv_prepare_start(&s->prepare, prepare_cb);
	idle_poll_init(&s->ipoll, s->cfg.idle_poll_us);
	uv_idle_init(s->loop, &s->ipoll_idle);
	uv_check_init(s->loop, &s->ipoll_check);
	s->ipoll_idle.data = s->ipoll_check.data = s;
	if (s->cfg.idle_poll_us > 0)
		uv_check_start(&s->ipoll_check, ipoll_check_cb);
	uv_signal_init(s->loop, &s->sig_term);
	uv_signal_init(s->loop, &s->sig_int);
	uv_signal_init(s->loop, &s->sig_hup);
	s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
	uv_signal_start(&s->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&s->sig_int, signal_cb, SIGINT);
	uv_signal_start(&s->sig_hup, signal_cb, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	RP_INFO("rasputind %s ready: node %llu, clients on %s, peers on %s, data in %s%s",
	        RASPUTIN_VERSION, (unsigned long long)s->node_id, s->client_addr, s->peer_addr,
	        s->cfg.storage_dir, s->joined ? "" : " (joining through the seed peers)");
	return 0;
}

int srv_main_run(const srv_config *cfg)
{
	srv *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		fprintf(stderr, "rasputind: out of memory\n");
		return 1;
	}
	s->cfg = *cfg;
	s->loop = uv_default_loop();
	s->lock_fd = -1;
	s->clock_base_hr_us = srv_mono_us();
	s->started_us = srv_mono_us();
	cmd_limits_default(&s->lim);
	s->lim.max_value_bytes = cfg->max_value_bytes;
	rp_hist_init(&s->write_hist);
	rp_hist_init(&s->read_hist);
	peer_buf_init(&s->fbuf);
	peer_scratch_init(&s->scratch);
	srand48((long)s->clock_base_hr_us);
	srandom((unsigned)(s->clock_base_hr_us ^ (uint64_t)getpid()));
	char why[1024] = "";
	/* Signals wait until their handlers are in place; the threads started
	 * meanwhile (WAL writer, RocksDB) inherit the mask and never take them. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	int rc = start(s, why, sizeof(why));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		RP_ERROR("cannot start: %s", why);
		fprintf(stderr, "rasputind: %s\n", why);
		return 1;
	}
	uv_run(s->loop, UV_RUN_DEFAULT);
	/* Let the handles closed by stop_now finish closing. */
	uv_run(s->loop, UV_RUN_NOWAIT);
	peer_buf_deinit(&s->fbuf);
	peer_scratch_deinit(&s->scratch);
	free(s->rbatches);
	free(s->cids);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	int code = s->exit_code;
	free(s);
	RP_INFO("stopped");
	return code;
}
