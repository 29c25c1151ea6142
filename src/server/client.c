/*
 * client.c — the client port: accepts connections, parses RESP requests
 * (net/resp.h, with the configured limits), answers the commands that
 * change the connection itself (HELLO, AUTH, SELECT, QUIT, RESET, CLIENT,
 * READONLY, READWRITE) and hands every other request to exec.c.
 *
 * Pipelining: requests run concurrently, but replies leave in request
 * order: each request carries its own reply buffer, and the connection
 * moves finished replies from the head of its queue to the socket.  A
 * connection with SRV_CONN_MAX_INFLIGHT requests pending stops being read
 * until some finish; one whose unsent output passes the configured limit
 * is closed (as Redis does), so no client can make the server hold
 * unbounded memory.  After a protocol error the connection gets the error
 * and is closed.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"
#include "util/check.h"
#include "util/log.h"

static void conn_close(srv_conn *c);
static void conn_flush(srv_conn *c);
static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void conn_read_start(srv_conn *c);

static void add_err(struct resp_out *o, const char *msg)
{
	(void)resp_add_error(o, msg, strlen(msg));
}

static bool arg_is(const struct resp_arg *a, const char *word)
{
	return a->len == strlen(word) && strncasecmp(a->ptr, word, a->len) == 0;
}

/* -------------------------------------------------------------- output */

static void write_cb(uv_write_t *w, int status)
{
	srv_conn *c = w->data;
	c->writing = false;
	resp_out_reset(&c->wbuf);
	if (status < 0) {
		conn_close(c);
		return;
	}
	conn_flush(c);
}

static void conn_flush(srv_conn *c)
{
	if (c->closing || c->writing)
		return;
	if (c->out.len == 0) {
		if (c->close_after_flush)
			conn_close(c);
		return;
	}
	/* The socket nearly always takes the whole output at once.  Writing it
	 * here needs no write request and no callback a loop iteration later;
	 * and libuv, after a uv_write completes, re-arms the socket's epoll
	 * registration (an epoll_ctl and a poll of the socket) per write:
	 * about 8% of the leader's CPU under 64 readers. */
	uv_buf_t now = {.base = c->out.data, .len = c->out.len}; /* size_t on Unix */
	int n = uv_try_write((uv_stream_t *)&c->tcp, &now, 1);
	if (n < 0 && n != UV_EAGAIN) {
		conn_close(c);
		return;
	}
	if (n > 0 && (size_t)n == c->out.len) {
		resp_out_reset(&c->out);
		if (c->close_after_flush)
			conn_close(c);
		return;
	}
	if (n > 0)
		resp_out_consume(&c->out, (size_t)n);
	/* The rest waits for room: swap, and new replies queue behind it. */
	struct resp_out tmp = c->wbuf;
	c->wbuf = c->out;
	c->out = tmp;
	uv_buf_t b = {.base = c->wbuf.data, .len = c->wbuf.len};
	c->wreq.data = c;
	c->writing = true;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
		c->writing = false;
		conn_close(c);
	}
}

/* Moves the finished replies at the head of the queue to the output. */
void srv_conn_req_done(srv_conn *c)
{
	while (c->qhead && c->qhead->state == SRV_REQ_DONE) {
		srv_req *r = c->qhead;
		c->qhead = r->next;
		if (c->qhead == NULL)
			c->qtail = NULL;
		c->inflight--;
		if (!c->closing && resp_add_raw(&c->out, r->reply.data, r->reply.len) != 0) {
			RP_WARN("client %llu: output over the limit of %llu bytes; closing it",
			        (unsigned long long)c->id,
			        (unsigned long long)c->s->cfg.client_output_limit_bytes);
			c->close_after_flush = true;
			c->out.len = 0;
		}
		srv_req_free(r);
	}
	conn_flush(c);
	if (c->reading_paused && c->inflight < SRV_CONN_MAX_INFLIGHT / 2 && !c->closing) {
		c->reading_paused = false;
		conn_read_start(c);
	}
}

/* A reply made by the connection itself. */
static srv_req *local_req(srv_conn *c, const struct resp_cmd *cmd)
{
	srv_req *r = srv_req_create(c->s, SRV_ORIGIN_CLIENT, cmd->argc, cmd->argv);
	if (r == NULL)
		return NULL;
	r->conn = c;
	r->proto = c->proto;
	r->next = NULL;
	if (c->qtail)
		c->qtail->next = r;
	else
		c->qhead = r;
	c->qtail = r;
	c->inflight++;
	return r;
}

static void local_done(srv_conn *c, srv_req *r)
{
	r->state = SRV_REQ_DONE;
	srv_conn_req_done(c);
}

/* ------------------------------------------------- connection commands */

static bool check_password(srv *s, const struct resp_arg *pass)
{
	size_t n = strlen(s->cfg.requirepass);
	if (pass->len != n)
		return false;
	unsigned char diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(pass->ptr[i] ^ s->cfg.requirepass[i]);
	return diff == 0;
}

static void conn_hello(srv_conn *c, srv_req *r)
{
	srv *s = c->s;
	int proto = c->proto;
	size_t i = 1;
	if (r->argc >= 2) {
		const struct resp_arg *v = &r->argv[1];
		if (v->len == 1 && (v->ptr[0] == '2' || v->ptr[0] == '3')) {
			proto = v->ptr[0] - '0';
		} else {
			add_err(&r->reply, "NOPROTO unsupported protocol version");
			return;
		}
		i = 2;
	}
	for (; i < r->argc; i++) {
		if (arg_is(&r->argv[i], "AUTH") && i + 2 < r->argc) {
			if (s->cfg.requirepass[0] == '\0' || !check_password(s, &r->argv[i + 2])) {
				add_err(&r->reply, "WRONGPASS invalid username-password pair or user is "
				                     "disabled.");
				return;
			}
			c->authed = true;
			i += 2;
		} else if (arg_is(&r->argv[i], "SETNAME") && i + 1 < r->argc) {
			snprintf(c->name, sizeof(c->name), "%.*s", (int)r->argv[i + 1].len,
			         r->argv[i + 1].ptr);
			i += 1;
		} else {
			(void)resp_add_errorf(&r->reply, "ERR Syntax error in HELLO option '%.*s'",
			                      (int)(r->argv[i].len > 32 ? 32 : r->argv[i].len),
			                      r->argv[i].ptr);
			return;
		}
	}
	if (!c->authed) {
		add_err(&r->reply, "NOAUTH HELLO must be called with the client already "
		                                "authenticated, otherwise the HELLO <proto> AUTH <user> "
		                                "<pass> option can be used to authenticate the client "
		                                "and select the RESP protocol version at the same time");
		return;
	}
	c->proto = proto;
	r->proto = proto;
	hp_status st;
	hp_get_status(s->core, srv_now_us(s), &st);
	const char *role = st.role == HP_LEADER ? "master" : "replica";
	(void)cmd_hello_reply(proto, s->node_id, RASPUTIN_VERSION, role, &r->reply);
}

static void conn_client_cmd(srv_conn *c, srv_req *r)
{
	if (r->argc >= 2 && arg_is(&r->argv[1], "SETNAME") && r->argc == 3) {
		snprintf(c->name, sizeof(c->name), "%.*s", (int)r->argv[2].len, r->argv[2].ptr);
		(void)resp_add_simple(&r->reply, "OK", 2);
	} else if (r->argc == 2 && arg_is(&r->argv[1], "GETNAME")) {
		if (c->name[0])
			(void)resp_add_bulk(&r->reply, c->name, strlen(c->name));
		else
			(void)resp_add_null(&r->reply, c->proto);
	} else if (r->argc == 2 && arg_is(&r->argv[1], "ID")) {
		(void)resp_add_int(&r->reply, (int64_t)c->id);
	} else if (r->argc >= 2 && (arg_is(&r->argv[1], "SETINFO") || arg_is(&r->argv[1], "NO-EVICT") ||
	                            arg_is(&r->argv[1], "NO-TOUCH"))) {
		(void)resp_add_simple(&r->reply, "OK", 2);
	} else {
		add_err(&r->reply, "ERR unknown CLIENT subcommand; rasputin supports SETNAME, "
		                     "GETNAME, ID and SETINFO");
	}
}

/* Handles a connection command; false if cmd is not one. */
static bool conn_command(srv_conn *c, srv_req *r)
{
	const struct resp_arg *name = &r->argv[0];
	if (arg_is(name, "HELLO")) {
		conn_hello(c, r);
	} else if (arg_is(name, "AUTH")) {
		const struct resp_arg *pass = r->argc == 2 ? &r->argv[1] : r->argc == 3 ? &r->argv[2] : NULL;
		if (pass == NULL) {
			add_err(&r->reply, "ERR wrong number of arguments for 'auth' command");
		} else if (c->s->cfg.requirepass[0] == '\0') {
			add_err(&r->reply, "ERR AUTH <password> called without any password configured "
			                     "for the default user. Are you sure your configuration is "
			                     "correct?");
		} else if (!check_password(c->s, pass)) {
			add_err(&r->reply, "WRONGPASS invalid username-password pair or user is disabled.");
		} else {
			c->authed = true;
			(void)resp_add_simple(&r->reply, "OK", 2);
		}
	} else if (arg_is(name, "SELECT")) {
		if (r->argc != 2)
			add_err(&r->reply, "ERR wrong number of arguments for 'select' command");
		else if (r->argv[1].len == 1 && r->argv[1].ptr[0] == '0')
			(void)resp_add_simple(&r->reply, "OK", 2);
		else
			add_err(&r->reply, "ERR DB index is out of range (rasputin has only "
			                                "database 0)");
	} else if (arg_is(name, "QUIT")) {
		(void)resp_add_simple(&r->reply, "OK", 2);
		c->close_after_flush = true;
	} else if (arg_is(name, "RESET")) {
		c->proto = 2;
		c->stale_ok = false;
		c->authed = c->s->cfg.requirepass[0] == '\0';
		c->name[0] = '\0';
		(void)resp_add_simple(&r->reply, "RESET", 5);
	} else if (arg_is(name, "READONLY")) {
		c->stale_ok = true;
		(void)resp_add_simple(&r->reply, "OK", 2);
	} else if (arg_is(name, "READWRITE")) {
		c->stale_ok = false;
		(void)resp_add_simple(&r->reply, "OK", 2);
	} else if (arg_is(name, "CLIENT")) {
		conn_client_cmd(c, r);
	} else {
		return false;
	}
	return true;
}

/* ------------------------------------------------------------- requests */

static bool noauth_ok(const struct resp_arg *name)
{
	return arg_is(name, "AUTH") || arg_is(name, "HELLO") || arg_is(name, "QUIT") ||
	       arg_is(name, "RESET");
}

/* ------------------------------------------------------ program order */

/* A connection's requests run concurrently, but in its program order as
 * Redis keeps it: a write that follows a read not answered yet is held,
 * and every request after it with it, until that read is answered.  The
 * read then sees the writes before it on its connection (its barrier,
 * exec.c) and none after: run at once, a pipeline SET k 1, GET k, SET k 2
 * read 2, and SET, GET, DEL read nothing.  Pipelines of only writes or
 * only reads never wait; a mixed one waits for each read before the
 * writes that follow it. */
static void conn_dispatch(srv_conn *c, srv_req *r, uint32_t kind)
{
	if (kind & CMD_F_READ) {
		c->reads_out++;
		r->counted_read = true;
	}
	srv_exec(c->s, r);
}

void srv_conn_read_done(srv_conn *c)
{
	RP_CHECK(c->reads_out > 0);
	c->reads_out--;
	if (c->reads_out > 0 || c->held == NULL || c->releasing)
		return;
	c->releasing = true; /* a read answered at once comes back here */
	while (c->held != NULL && !c->closing) {
		srv_req *r = c->held;
		uint32_t kind = srv_exec_kind(r);
		if ((kind & CMD_F_WRITE) && c->reads_out > 0)
			break;
		/* Answered connection commands sit among the held ones; only
		 * an answered request can be freed under us, so skip them now. */
		srv_req *next = r->next;
		while (next != NULL && next->state == SRV_REQ_DONE)
			next = next->next;
		c->held = next;
		conn_dispatch(c, r, kind);
	}
	c->releasing = false;
}

static void conn_command_in(srv_conn *c, const struct resp_cmd *cmd)
{
	srv_req *r = local_req(c, cmd);
	if (r == NULL) {
		RP_ERROR("client %llu: out of memory; closing it", (unsigned long long)c->id);
		c->close_after_flush = true;
		return;
	}
	if (!c->authed && !noauth_ok(&r->argv[0])) {
		add_err(&r->reply, "NOAUTH Authentication required.");
		local_done(c, r);
		return;
	}
	if (conn_command(c, r)) {
		local_done(c, r);
		return;
	}
	r->stale_ok = c->stale_ok;
	uint32_t kind = srv_exec_kind(r);
	if (c->held != NULL || ((kind & CMD_F_WRITE) && c->reads_out > 0)) {
		if (c->held == NULL)
			c->held = r;
		return;
	}
	conn_dispatch(c, r, kind);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	static char slab[64 * 1024];
	/* One loop thread and the bytes are parsed before the next read: one
	 * buffer serves every connection. */
	*buf = uv_buf_init(slab, sizeof(slab));
}

/* Reads the socket (again, after a pause).  A connection that cannot be
 * read is closed, never left waiting for input it will not see. */
static void conn_read_start(srv_conn *c)
{
	int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, conn_read_cb);
	if (rc != 0) {
		RP_WARN("client %llu: cannot read the socket: %s; closing it",
		        (unsigned long long)c->id, uv_strerror(rc));
		conn_close(c);
	}
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	srv_conn *c = st->data;
	srv_note_activity(c->s);
	if (nread < 0) {
		conn_close(c);
		return;
	}
	const char *p = buf->base;
	size_t left = (size_t)nread;
	while (!c->closing && !c->close_after_flush) {
		size_t used = 0;
		struct resp_cmd cmd;
		int rc = resp_req_parse(&c->parser, p, left, &used, &cmd);
		if (rc < 0) {
			struct resp_arg none = {.ptr = "", .len = 0};
			struct resp_cmd fake = {.argc = 1, .argv = &none};
			srv_req *r = local_req(c, &fake);
			if (r) {
				const char *m = resp_req_errmsg(&c->parser);
				(void)resp_add_errorf(&r->reply, "ERR %s", m[0] ? m : resp_strerror(rc));
				local_done(c, r);
			}
			c->close_after_flush = true;
			conn_flush(c);
			return;
		}
		p += used;
		left -= used;
		if (rc == 0)
			break;
		conn_command_in(c, &cmd);
	}
	if (!c->closing && c->inflight >= SRV_CONN_MAX_INFLIGHT && !c->reading_paused) {
		c->reading_paused = true;
		uv_read_stop((uv_stream_t *)&c->tcp);
	}
}

/* ------------------------------------------------------------- lifetime */

static void conn_free_cb(uv_handle_t *h)
{
	srv_conn *c = h->data;
	resp_req_deinit(&c->parser);
	resp_out_deinit(&c->out);
	resp_out_deinit(&c->wbuf);
	free(c);
}

static void conn_close(srv_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->held = NULL; /* freed below with the other requests not running */
	srv *s = c->s;
	/* Requests still running finish on their own and free themselves. */
	srv_req *r = c->qhead;
	while (r) {
		srv_req *next = r->next;
		r->next = NULL;
		if (r->state == SRV_REQ_DONE || r->plist == SRV_PL_NONE)
			srv_req_free(r);
		else
			r->conn = NULL;
		r = next;
	}
	c->qhead = c->qtail = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->conn_count--;
	uv_close((uv_handle_t *)&c->tcp, conn_free_cb);
}

static void reject_close_cb(uv_handle_t *h)
{
	free(h);
}

static void reject_write_cb(uv_write_t *w, int status)
{
	(void)status;
	uv_close((uv_handle_t *)w->handle, reject_close_cb);
	free(w);
}

/* A connection that was never accepted: only the struct to free (the
 * handle is inside it, not at its start). */
static void conn_unaccepted_cb(uv_handle_t *h)
{
	free(h->data);
}

static void on_connection(uv_stream_t *server, int status)
{
	srv *s = server->data;
	if (status < 0)
		return;
	if (s->conn_count >= s->cfg.max_clients || s->stopping) {
		uv_tcp_t *t = malloc(sizeof(*t));
		if (t == NULL)
			return;
		uv_tcp_init(s->loop, t);
		if (uv_accept(server, (uv_stream_t *)t) != 0) {
			uv_close((uv_handle_t *)t, reject_close_cb);
			return;
		}
		s->rejected_connections++;
		static char msg[] = "-ERR max number of clients reached\r\n";
		uv_write_t *w = malloc(sizeof(*w));
		uv_buf_t b = uv_buf_init(msg, sizeof(msg) - 1);
		if (w == NULL || uv_write(w, (uv_stream_t *)t, &b, 1, reject_write_cb) != 0) {
			free(w);
			uv_close((uv_handle_t *)t, reject_close_cb);
		}
		return;
	}
	srv_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return;
	c->s = s;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		uv_close((uv_handle_t *)&c->tcp, conn_unaccepted_cb);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	c->id = ++s->next_conn_id;
	c->proto = 2;
	c->authed = s->cfg.requirepass[0] == '\0';
	struct resp_limits lim;
	resp_limits_default(&lim);
	lim.bulk_bytes_max = (size_t)s->cfg.max_value_bytes + 1024;
	lim.inline_bytes_max = s->cfg.max_inline_bytes;
	lim.count_max = s->cfg.max_multibulk;
	lim.total_bytes_max = (size_t)s->cfg.max_value_bytes * 2 + 16 * 1024 * 1024;
	resp_req_init(&c->parser, &lim);
	resp_out_init(&c->out, s->cfg.client_output_limit_bytes);
	resp_out_init(&c->wbuf, s->cfg.client_output_limit_bytes);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->conn_count++;
	s->total_connections++;
	conn_read_start(c);
}

int srv_clients_start(srv *s, char *why, size_t why_cap)
{
	struct sockaddr_storage ss;
	int rc = uv_ip4_addr(s->cfg.bind, s->cfg.cli_port, (struct sockaddr_in *)&ss);
	if (rc != 0)
		rc = uv_ip6_addr(s->cfg.bind, s->cfg.cli_port, (struct sockaddr_in6 *)&ss);
	if (rc != 0) {
		snprintf(why, why_cap, "--bind %s: not an IP address", s->cfg.bind);
		return RP_ERR_INVALID;
	}
	uv_tcp_init(s->loop, &s->listener);
	s->listener.data = s;
	rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
	if (rc != 0) {
		snprintf(why, why_cap, "client port %s:%u: %s", s->cfg.bind, s->cfg.cli_port,
		         uv_strerror(rc));
		return RP_ERR_INVALID;
	}
	return 0;
}

void srv_clients_stop(srv *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, NULL);
	while (s->conns)
		conn_close(s->conns);
}
