/*
 * test_client.c — librasputin against a fake server: a thread on a loopback
 * port that parses commands with the real RESP codec and answers from a
 * script (a reply, a dropped connection, silence, a reply cut in two), and
 * when the script runs out, as a tiny key-value store that understands the
 * commands the library sends (SET, SET NX GET, GET, GETDEL, CAS, RASPUTIN
 * SEQ with a per-client reply cache, AUTH).  Every command the fake
 * receives is logged, so a test can check what went over the wire, e.g.
 * that a retry carried the same sequence number.
 */
#define _GNU_SOURCE
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_buf.h"
#include "cli/cli_cluster.h"
#include "client/rc_addr.h"
#include "client/rc_reply.h"
#include "net/resp.h"
#include "rasputin.h"
#include "util/err.h"

/* ---------------------------------------------------------------------------
 * The fake server.
 */
enum fake_kind {
	F_KV = 0,	  /* answer from the store (the script ran out) */
	F_REPLY,	  /* send bytes */
	F_DROP,		  /* close the connection without a reply */
	F_HANG,		  /* never answer */
	F_SPLIT,	  /* send bytes in two halves, 30 ms apart */
	F_EXEC_DROP,	  /* run it (kv), then close without a reply */
	F_EXEC_UNCERTAIN, /* run it (kv), then answer -UNCERTAIN */
};

struct fake_step {
	enum fake_kind kind;
	const char *bytes;
};

#define FAKE_STEPS 64
#define FAKE_LOG 512
#define FAKE_KEYS 256
#define FAKE_SESSIONS 16
#define FAKE_CONNS 8

struct fake_kv {
	char *key, *val;
	size_t klen, vlen;
};

struct fake_session {
	uint64_t id, seq;
	char *reply;
	size_t len;
};

struct fake_conn {
	int fd;
	struct resp_req req;
};

struct fake {
	int lfd;
	struct fake_conn conns[FAKE_CONNS]; /* fd -1: free */
	int ctl[2];			    /* 's' stop, 'k' close every connection */
	uint16_t port;
	char addr[32];
	pthread_t th;
	pthread_mutex_t mu; /* guards everything below */
	struct fake_step steps[FAKE_STEPS];
	size_t nsteps, next;
	bool kv; /* answer from the store once the script runs out */
	const char *password;
	const char *nodes_reply, *status_reply;
	char log[FAKE_LOG][160];
	size_t nlog;
	int accepts;
	int resets_left; /* reset this many connections when data arrives */
	int applies;	 /* session writes run (not answered from the cache) */
	struct fake_kv keys[FAKE_KEYS];
	size_t nkeys;
	struct fake_session sessions[FAKE_SESSIONS];
	size_t nsessions;
};

static void fake_send(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void fake_log(struct fake *f, const struct resp_cmd *cmd)
{
	if (f->nlog == FAKE_LOG)
		return;
	char *out = f->log[f->nlog++];
	size_t cap = sizeof(f->log[0]), n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < cmd->argc && n + 8 < cap; i++) {
		if (i > 0)
			out[n++] = ' ';
		for (size_t j = 0; j < cmd->argv[i].len && n + 8 < cap; j++) {
			unsigned char c = (unsigned char)cmd->argv[i].ptr[j];
			if (c >= 0x21 && c < 0x7f && c != '\\')
				out[n++] = (char)c;
			else
				n += (size_t)snprintf(out + n, cap - n, "\\x%02x", c);
		}
		if (cmd->argv[i].len > 64) { /* long values: length only */
			n = (size_t)(strrchr(out, ' ') ? strrchr(out, ' ') - out + 1 : 0);
			n += (size_t)snprintf(out + n, cap - n, "<%zu bytes>",
					      cmd->argv[i].len);
		}
	}
	out[n] = '\0';
}

static bool arg_is(const struct resp_arg *a, const char *s)
{
	return a->len == strlen(s) && strncasecmp(a->ptr, s, a->len) == 0;
}

static struct fake_kv *kv_find(struct fake *f, const struct resp_arg *k)
{
	for (size_t i = 0; i < f->nkeys; i++) {
		if (f->keys[i].klen == k->len &&
		    memcmp(f->keys[i].key, k->ptr, k->len) == 0)
			return &f->keys[i];
	}
	return NULL;
}

static void kv_put(struct fake *f, const struct resp_arg *k, const struct resp_arg *v)
{
	struct fake_kv *e = kv_find(f, k);
	if (e == NULL) {
		if (f->nkeys == FAKE_KEYS)
			abort();
		e = &f->keys[f->nkeys++];
		e->key = malloc(k->len + 1);
		memcpy(e->key, k->ptr, k->len);
		e->klen = k->len;
	} else {
		free(e->val);
	}
	e->val = malloc(v->len + 1);
	memcpy(e->val, v->ptr, v->len);
	e->vlen = v->len;
}

static void kv_remove(struct fake *f, struct fake_kv *e)
{
	free(e->key);
	free(e->val);
	*e = f->keys[--f->nkeys];
}

static void kv_free_all(struct fake *f)
{
	while (f->nkeys > 0)
		kv_remove(f, &f->keys[0]);
	for (size_t i = 0; i < f->nsessions; i++)
		free(f->sessions[i].reply);
	f->nsessions = 0;
}

static uint64_t arg_u64(const struct resp_arg *a)
{
	return strtoull(a->ptr, NULL, 10);
}

/* Runs argv[0..argc) on the store, appending the reply to o. */
static void kv_exec(struct fake *f, size_t argc, const struct resp_arg *argv,
		    struct resp_out *o)
{
	if (argc >= 5 && arg_is(&argv[0], "RASPUTIN") && arg_is(&argv[1], "SEQ")) {
		uint64_t id = arg_u64(&argv[2]), seq = arg_u64(&argv[3]);
		struct fake_session *s = NULL;
		for (size_t i = 0; i < f->nsessions; i++)
			if (f->sessions[i].id == id)
				s = &f->sessions[i];
		if (s != NULL && seq == s->seq) {
			resp_add_raw(o, s->reply, s->len);
			return;
		}
		if (s != NULL && seq < s->seq) {
			resp_add_error(o, "ERR stale sequence number", 25);
			return;
		}
		if (s == NULL) {
			if (f->nsessions == FAKE_SESSIONS)
				abort();
			s = &f->sessions[f->nsessions++];
			s->id = id;
			s->reply = NULL;
		}
		size_t mark = o->len;
		kv_exec(f, argc - 4, argv + 4, o);
		free(s->reply);
		s->seq = seq;
		s->len = o->len - mark;
		s->reply = malloc(s->len);
		memcpy(s->reply, o->data + mark, s->len);
		f->applies++;
		return;
	}
	if (argc == 2 && arg_is(&argv[0], "RASPUTIN") && arg_is(&argv[1], "NODES") &&
	    f->nodes_reply) {
		resp_add_raw(o, f->nodes_reply, strlen(f->nodes_reply));
		return;
	}
	if (argc == 2 && arg_is(&argv[0], "RASPUTIN") && arg_is(&argv[1], "STATUS") &&
	    f->status_reply) {
		resp_add_raw(o, f->status_reply, strlen(f->status_reply));
		return;
	}
	if (argc == 2 && arg_is(&argv[0], "AUTH")) {
		if (f->password && argv[1].len == strlen(f->password) &&
		    memcmp(argv[1].ptr, f->password, argv[1].len) == 0)
			resp_add_simple(o, "OK", 2);
		else
			resp_add_error(o, "WRONGPASS invalid password", 26);
		return;
	}
	if (f->password != NULL) {
		/* Good enough: the library authenticates on every connection
		 * before anything else, and these tests check that it did. */
	}
	if (argc == 3 && arg_is(&argv[0], "SET")) {
		kv_put(f, &argv[1], &argv[2]);
		resp_add_simple(o, "OK", 2);
		return;
	}
	if (argc == 5 && arg_is(&argv[0], "SET") && arg_is(&argv[3], "NX") &&
	    arg_is(&argv[4], "GET")) {
		struct fake_kv *e = kv_find(f, &argv[1]);
		if (e != NULL) {
			resp_add_bulk(o, e->val, e->vlen);
		} else {
			kv_put(f, &argv[1], &argv[2]);
			resp_add_null(o, 2);
		}
		return;
	}
	if (argc == 2 && (arg_is(&argv[0], "GET") || arg_is(&argv[0], "GETDEL"))) {
		struct fake_kv *e = kv_find(f, &argv[1]);
		if (e == NULL) {
			resp_add_null(o, 2);
			return;
		}
		resp_add_bulk(o, e->val, e->vlen);
		if (arg_is(&argv[0], "GETDEL"))
			kv_remove(f, e);
		return;
	}
	if (argc == 4 && arg_is(&argv[0], "CAS")) {
		struct fake_kv *e = kv_find(f, &argv[1]);
		bool eq = e != NULL && e->vlen == argv[2].len &&
			  memcmp(e->val, argv[2].ptr, argv[2].len) == 0;
		if (eq)
			kv_put(f, &argv[1], &argv[3]);
		e = kv_find(f, &argv[1]);
		resp_add_array(o, 2);
		resp_add_int(o, eq ? 1 : 0);
		if (e != NULL)
			resp_add_bulk(o, e->val, e->vlen);
		else
			resp_add_null(o, 2);
		return;
	}
	resp_add_error(o, "ERR unknown command", 19);
}

/* Handles one command on connection fd; false if the fake closed it. */
static bool fake_command(struct fake *f, int fd, const struct resp_cmd *cmd)
{
	struct resp_out o;
	resp_out_init(&o, (size_t)1 << 30);
	pthread_mutex_lock(&f->mu);
	fake_log(f, cmd);
	struct fake_step step = {F_KV, NULL};
	if (f->next < f->nsteps)
		step = f->steps[f->next++];
	else if (!f->kv)
		step = (struct fake_step){F_REPLY, "-ERR unscripted\r\n"};
	if (step.kind == F_KV || step.kind == F_EXEC_DROP ||
	    step.kind == F_EXEC_UNCERTAIN)
		kv_exec(f, cmd->argc, cmd->argv, &o);
	pthread_mutex_unlock(&f->mu);

	bool keep = true;
	switch (step.kind) {
	case F_KV:
		fake_send(fd, o.data, o.len);
		break;
	case F_REPLY:
		fake_send(fd, step.bytes, strlen(step.bytes));
		break;
	case F_DROP:
	case F_EXEC_DROP:
		keep = false;
		break;
	case F_HANG:
		break;
	case F_SPLIT: {
		size_t n = strlen(step.bytes);
		fake_send(fd, step.bytes, n / 2);
		struct timespec ts = {0, 30 * 1000000L};
		nanosleep(&ts, NULL);
		fake_send(fd, step.bytes + n / 2, n - n / 2);
		break;
	}
	case F_EXEC_UNCERTAIN:
		fake_send(fd, "-UNCERTAIN try again\r\n", 22);
		break;
	}
	resp_out_deinit(&o);
	return keep;
}

static void conn_close(struct fake_conn *fc)
{
	close(fc->fd);
	fc->fd = -1;
	resp_req_deinit(&fc->req);
}

/* Reads what arrived on one connection and answers every whole command. */
static void conn_readable(struct fake *f, struct fake_conn *fc)
{
	static _Thread_local char buf[65536];
	pthread_mutex_lock(&f->mu);
	bool reset = f->resets_left > 0;
	f->resets_left -= reset ? 1 : 0;
	pthread_mutex_unlock(&f->mu);
	if (reset) {
		/* FIN first, then RST while the client is still sending: its
		 * socket goes to CLOSE_WAIT and then fails with EPIPE, the case
		 * that raises SIGPIPE unless the send says MSG_NOSIGNAL. */
		shutdown(fc->fd, SHUT_WR);
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
		struct linger lg = {1, 0};
		setsockopt(fc->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		conn_close(fc);
		return;
	}
	ssize_t got = recv(fc->fd, buf, sizeof(buf), 0);
	if (got <= 0) {
		conn_close(fc);
		return;
	}
	size_t off = 0;
	while (fc->fd >= 0) {
		size_t used = 0;
		struct resp_cmd cmd;
		int rc =
		    resp_req_parse(&fc->req, buf + off, (size_t)got - off, &used, &cmd);
		off += used;
		if (rc <= 0)
			break;
		if (!fake_command(f, fc->fd, &cmd))
			conn_close(fc);
	}
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		struct pollfd p[2 + FAKE_CONNS];
		p[0] = (struct pollfd){f->ctl[0], POLLIN, 0};
		p[1] = (struct pollfd){f->lfd, POLLIN, 0};
		for (size_t i = 0; i < FAKE_CONNS; i++)
			p[2 + i] =
			    (struct pollfd){f->conns[i].fd, POLLIN, 0}; /* -1: ignored */
		int n = poll(p, 2 + FAKE_CONNS, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (p[0].revents) {
			char c = 0;
			if (read(f->ctl[0], &c, 1) != 1 || c == 's')
				break;
			for (size_t i = 0; c == 'k' && i < FAKE_CONNS; i++)
				if (f->conns[i].fd >= 0)
					conn_close(&f->conns[i]);
			continue;
		}
		if (p[1].revents) {
			int fd = accept(f->lfd, NULL, NULL);
			size_t i = 0;
			while (i < FAKE_CONNS && f->conns[i].fd >= 0)
				i++;
			if (fd >= 0 && i == FAKE_CONNS) {
				close(fd);
			} else if (fd >= 0) {
				f->conns[i].fd = fd;
				resp_req_init(&f->conns[i].req, NULL);
				pthread_mutex_lock(&f->mu);
				f->accepts++;
				pthread_mutex_unlock(&f->mu);
			}
		}
		for (size_t i = 0; i < FAKE_CONNS; i++)
			if (f->conns[i].fd >= 0 && p[2 + i].fd == f->conns[i].fd &&
			    p[2 + i].revents)
				conn_readable(f, &f->conns[i]);
	}
	for (size_t i = 0; i < FAKE_CONNS; i++)
		if (f->conns[i].fd >= 0)
			conn_close(&f->conns[i]);
	return NULL;
}

static struct fake *fake_start(bool kv)
{
	struct fake *f = calloc(1, sizeof(*f));
	CHECK(f != NULL);
	f->kv = kv;
	pthread_mutex_init(&f->mu, NULL);
	for (size_t i = 0; i < FAKE_CONNS; i++)
		f->conns[i].fd = -1;
	f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(f->lfd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(f->lfd, 16) == 0);
	socklen_t len = sizeof(sa);
	CHECK(getsockname(f->lfd, (struct sockaddr *)&sa, &len) == 0);
	f->port = ntohs(sa.sin_port);
	snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%u", (unsigned)f->port);
	CHECK(pipe(f->ctl) == 0);
	CHECK(pthread_create(&f->th, NULL, fake_main, f) == 0);
	return f;
}

/* Stops the fake: its port then refuses connections. */
static void fake_stop(struct fake *f)
{
	if (f == NULL)
		return;
	CHECK(write(f->ctl[1], "s", 1) == 1);
	pthread_join(f->th, NULL);
	close(f->lfd);
	close(f->ctl[0]);
	close(f->ctl[1]);
	kv_free_all(f);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* Closes the fake's connections (a server that went away). */
static void fake_kick(struct fake *f)
{
	CHECK(write(f->ctl[1], "k", 1) == 1);
	struct timespec ts = {0, 20 * 1000000L};
	nanosleep(&ts, NULL);
}

static void fake_script(struct fake *f, enum fake_kind kind, const char *bytes)
{
	pthread_mutex_lock(&f->mu);
	CHECK(f->nsteps < FAKE_STEPS);
	f->steps[f->nsteps++] = (struct fake_step){kind, bytes};
	pthread_mutex_unlock(&f->mu);
}

static int fake_accepts(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	int n = f->accepts;
	pthread_mutex_unlock(&f->mu);
	return n;
}

static int fake_applies(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	int n = f->applies;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* What AUTH, RASPUTIN NODES and RASPUTIN STATUS answer (NULL: unknown). */
static void fake_config(struct fake *f, const char *password, const char *nodes,
			const char *status)
{
	pthread_mutex_lock(&f->mu);
	f->password = password;
	f->nodes_reply = nodes;
	f->status_reply = status;
	pthread_mutex_unlock(&f->mu);
}

static size_t fake_nlog(struct fake *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->nlog;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* A copy of log line i (the fake may still be writing later lines). */
static const char *fake_line(struct fake *f, size_t i)
{
	static char line[160];
	pthread_mutex_lock(&f->mu);
	snprintf(line, sizeof(line), "%s", i < f->nlog ? f->log[i] : "(none)");
	pthread_mutex_unlock(&f->mu);
	return line;
}

#define CHECK_LINE(f, i, text)                                                           \
	do {                                                                             \
		const char *got_ = fake_line((f), (i));                                  \
		if (strcmp(got_, (text)) != 0) {                                         \
			printf("    log[%zu]: got '%s', want '%s'\n", (size_t)(i), got_, \
			       (text));                                                  \
			CHECK(0);                                                        \
		}                                                                        \
	} while (0)

/* "RASPUTIN SEQ <id> <seq> <rest>" for handle c. */
static const char *seq_line(rasputin *c, uint64_t seq, const char *rest)
{
	static char line[200];
	snprintf(line, sizeof(line), "RASPUTIN SEQ %" PRIu64 " %" PRIu64 " %s",
		 rasputin_client_id(c), seq, rest);
	return line;
}

/* A loopback port nobody listens on. */
static void dead_addr(char *out, size_t size)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	socklen_t len = sizeof(sa);
	CHECK(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	snprintf(out, size, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
}

static rasputin *open1(struct fake *f, const rasputin_options *o)
{
	const char *addrs[1] = {f->addr};
	rasputin *c = NULL;
	int rc = rasputin_connect(addrs, 1, o, &c);
	if (rc != RASPUTIN_OK)
		printf("    connect: %s: %s\n", rasputin_strerror(rc),
		       rasputin_last_error(NULL));
	CHECK_EQ(rc, RASPUTIN_OK);
	CHECK(c != NULL);
	return c;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool value_is(const rasputin_result *r, const char *s)
{
	return r->present && r->value != NULL && r->value_len == strlen(s) &&
	       memcmp(r->value, s, r->value_len) == 0 && r->value[r->value_len] == '\0';
}

static rasputin_options fast_opts(void)
{
	rasputin_options o;
	rasputin_options_default(&o);
	o.connect_timeout_ms = 200;
	o.op_timeout_ms = 2000;
	o.attempt_timeout_ms = 500;
	return o;
}

/* ---------------------------------------------------------------------------
 * Addresses, arguments, codes.
 */
TEST(addr_parse)
{
	struct rc_addr a;
	CHECK_EQ(rc_addr_parse("127.0.0.1:7001", &a), 0);
	CHECK(strcmp(a.host, "127.0.0.1") == 0 && strcmp(a.port, "7001") == 0);
	CHECK_EQ(rc_addr_parse("node-1.example:65535", &a), 0);
	CHECK(strcmp(a.host, "node-1.example") == 0);
	CHECK_EQ(rc_addr_parse("[::1]:7001", &a), 0);
	CHECK(strcmp(a.host, "::1") == 0 && strcmp(a.port, "7001") == 0);
	const char *bad[] = {"",     "host", "host:",	 ":7001", "h:0",     "h:65536",
			     "h:07", "h:7x", "::1:7001", "[]:1",  "h:123456"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(rc_addr_parse(bad[i], &a), RP_ERR_INVALID);
	CHECK_EQ(rc_addr_parse(NULL, &a), RP_ERR_INVALID);
}

TEST(connect_rejects_bad_arguments)
{
	rasputin *c = (rasputin *)1;
	const char *good[1] = {"127.0.0.1:1"};
	const char *bad[2] = {"127.0.0.1:1", "nope"};
	CHECK_EQ(rasputin_connect(good, 0, NULL, &c), RASPUTIN_ERR_INVALID);
	CHECK(c == NULL);
	CHECK_EQ(rasputin_connect(NULL, 1, NULL, &c), RASPUTIN_ERR_INVALID);
	CHECK_EQ(rasputin_connect(good, 1, NULL, NULL), RASPUTIN_ERR_INVALID);
	CHECK_EQ(rasputin_connect(bad, 2, NULL, &c), RASPUTIN_ERR_INVALID);
	CHECK(strstr(rasputin_last_error(NULL), "'nope'") != NULL);
	rasputin_options o;
	rasputin_options_default(&o);
	o.op_timeout_ms = 0;
	CHECK_EQ(rasputin_connect(good, 1, &o, &c), RASPUTIN_ERR_INVALID);
	/* Calls on a NULL handle fail cleanly. */
	rasputin_result r;
	CHECK_EQ(rasputin_get(NULL, "k", 1, &r), RASPUTIN_ERR_INVALID);
	CHECK(!r.present && r.value == NULL);
	rasputin_close(NULL);
	rasputin_result_free(NULL);
	rasputin_result_free(&r);
	rasputin_reply_free(NULL);
}

TEST(strerror_names_every_code)
{
	for (int rc = 0; rc >= RASPUTIN_ERR_PROTOCOL; rc--)
		CHECK(strcmp(rasputin_strerror(rc), "unknown error") != 0);
	CHECK(strcmp(rasputin_strerror(-99), "unknown error") == 0);
	rasputin_options o;
	rasputin_options_default(&o);
	CHECK_EQ(o.connect_timeout_ms, 1000);
	CHECK_EQ(o.op_timeout_ms, 10000);
	CHECK(o.attempt_timeout_ms > 5000); /* the server's request-timeout-ms */
	CHECK_EQ(o.client_id, 0);
	CHECK(o.password == NULL);
}

TEST(connect_fails_when_nothing_listens)
{
	char dead[2][32];
	dead_addr(dead[0], sizeof(dead[0]));
	dead_addr(dead[1], sizeof(dead[1]));
	const char *addrs[2] = {dead[0], dead[1]};
	rasputin *c = NULL;
	CHECK_EQ(rasputin_connect(addrs, 2, NULL, &c), RASPUTIN_ERR_UNAVAILABLE);
	CHECK(c == NULL);
	const char *m = rasputin_last_error(NULL);
	CHECK(strstr(m, dead[0]) != NULL);
	CHECK(strstr(m, dead[1]) != NULL);
	CHECK(strstr(m, "refused") != NULL);
}

/* ---------------------------------------------------------------------------
 * The operations and their results.
 */

/* The seed README's sequence, against the fake store. */
TEST(seed_readme_sequence)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	o.client_id = 42;
	rasputin *c = open1(f, &o);
	CHECK_EQ(rasputin_client_id(c), 42);
	CHECK(strcmp(rasputin_current_addr(c), f->addr) == 0);
	rasputin_result r;

	CHECK_EQ(rasputin_set(c, "k1", 2, "v1", 2, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "v1"));
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_get(c, "k1", 2, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "v1"));
	rasputin_result_free(&r);

	CHECK_EQ(rasputin_cas(c, "k1", 2, "v1", 2, "v12", 3, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "v12"));
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_cas(c, "k1", 2, "vNever", 6, "vNever2", 7, &r), RASPUTIN_OK);
	CHECK(!r.success && value_is(&r, "v12"));
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_cas(c, "k1", 2, "v12", 3, "v13", 3, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "v13"));
	rasputin_result_free(&r);

	CHECK_EQ(rasputin_del(c, "k1", 2, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "v13"));
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_get(c, "k1", 2, &r), RASPUTIN_OK);
	CHECK(!r.success && !r.present && r.value == NULL && r.value_len == 0);
	CHECK(strcmp(rasputin_last_error(c), "") == 0);

	/* What went over the wire: writes under the session, numbered from
	 * 1; reads plain. */
	CHECK_EQ(fake_nlog(f), 7);
	CHECK_LINE(f, 0, "RASPUTIN SEQ 42 1 SET k1 v1");
	CHECK_LINE(f, 1, "GET k1");
	CHECK_LINE(f, 2, "RASPUTIN SEQ 42 2 CAS k1 v1 v12");
	CHECK_LINE(f, 3, "RASPUTIN SEQ 42 3 CAS k1 vNever vNever2");
	CHECK_LINE(f, 4, "RASPUTIN SEQ 42 4 CAS k1 v12 v13");
	CHECK_LINE(f, 5, "RASPUTIN SEQ 42 5 GETDEL k1");
	CHECK_LINE(f, 6, "GET k1");
	CHECK_EQ(fake_accepts(f), 1);
	rasputin_close(c);
	fake_stop(f);
}

TEST(absent_values_are_not_empty_strings)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	rasputin_result r;

	/* Del of a missing key: nothing existed, no last value. */
	CHECK_EQ(rasputin_del(c, "nokey", 5, &r), RASPUTIN_OK);
	CHECK(!r.success && !r.present && r.value == NULL);
	/* A missing key never equals an expected string, not even "". */
	CHECK_EQ(rasputin_cas(c, "nokey", 5, "", 0, "x", 1, &r), RASPUTIN_OK);
	CHECK(!r.success && !r.present && r.value == NULL);
	/* Expecting absence: SET NX GET, and the key now holds the value. */
	CHECK_EQ(rasputin_cas(c, "nokey", 5, NULL, 0, "first", 5, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "first"));
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_cas(c, "nokey", 5, NULL, 0, "second", 6, &r), RASPUTIN_OK);
	CHECK(!r.success && value_is(&r, "first"));
	rasputin_result_free(&r);
	/* An empty value is present and "" (a real allocation). */
	CHECK_EQ(rasputin_set(c, "empty", 5, "", 0, NULL), RASPUTIN_OK);
	CHECK_EQ(rasputin_get(c, "empty", 5, &r), RASPUTIN_OK);
	CHECK(r.success && r.present && r.value != NULL && r.value_len == 0);
	CHECK_EQ(r.value[0], '\0');
	rasputin_result_free(&r);
	/* NULL with length 0 is an empty key or value. */
	CHECK_EQ(rasputin_set(c, NULL, 0, NULL, 0, NULL), RASPUTIN_OK);
	CHECK_EQ(rasputin_get(c, NULL, 0, &r), RASPUTIN_OK);
	CHECK(r.present && r.value_len == 0);
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_set(c, NULL, 1, "x", 1, NULL), RASPUTIN_ERR_INVALID);
	CHECK_EQ(rasputin_cas(c, "k", 1, NULL, 3, "x", 1, &r), RASPUTIN_ERR_INVALID);
	CHECK_LINE(f, 0, seq_line(c, 1, "GETDEL nokey"));
	CHECK_LINE(f, 1, seq_line(c, 2, "CAS nokey  x"));
	CHECK_LINE(f, 2, seq_line(c, 3, "SET nokey first NX GET"));
	CHECK_LINE(f, 3, seq_line(c, 4, "SET nokey second NX GET"));
	rasputin_close(c);
	fake_stop(f);
}

TEST(binary_keys_and_values)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	const char key[] = {'k', '\0', '\r', '\n', 'y'};
	const char val[] = {'\0', '\xff', '\r', '\n', '$', '-', '1', '\r', '\n', '*'};
	rasputin_result r;
	CHECK_EQ(rasputin_set(c, key, sizeof(key), val, sizeof(val), NULL), RASPUTIN_OK);
	CHECK_EQ(rasputin_get(c, key, sizeof(key), &r), RASPUTIN_OK);
	CHECK(r.success && r.present);
	CHECK_EQ(r.value_len, sizeof(val));
	CHECK(memcmp(r.value, val, sizeof(val)) == 0);
	CHECK_EQ(r.value[sizeof(val)], '\0');
	rasputin_result_free(&r);
	CHECK(r.value == NULL && !r.present);
	/* A key that differs only after the NUL is another key. */
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(!r.present);
	CHECK_EQ(rasputin_cas(c, key, sizeof(key), val, sizeof(val), "\0z", 2, &r),
		 RASPUTIN_OK);
	CHECK(r.success && r.value_len == 2 && memcmp(r.value, "\0z", 2) == 0);
	rasputin_result_free(&r);
	rasputin_close(c);
	fake_stop(f);
}

/* Replies the store does not make: RESP3 nulls and booleans, a reply
 * that arrives in two pieces, nils inside CAS. */
TEST(reply_decoding)
{
	struct fake *f = fake_start(false);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	rasputin_result r;
	fake_script(f, F_REPLY, "_\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(!r.success && !r.present);
	fake_script(f, F_SPLIT, "$11\r\nhello world\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(value_is(&r, "hello world"));
	rasputin_result_free(&r);
	fake_script(f, F_REPLY, "*2\r\n#t\r\n$2\r\nv2\r\n");
	CHECK_EQ(rasputin_cas(c, "k", 1, "v1", 2, "v2", 2, &r), RASPUTIN_OK);
	CHECK(r.success && value_is(&r, "v2"));
	rasputin_result_free(&r);
	fake_script(f, F_REPLY, "*2\r\n:0\r\n$-1\r\n");
	CHECK_EQ(rasputin_cas(c, "k", 1, "v1", 2, "v2", 2, &r), RASPUTIN_OK);
	CHECK(!r.success && !r.present && r.value == NULL);
	/* A RESP3 push before the reply is skipped. */
	fake_script(f, F_REPLY, ">2\r\n+invalidate\r\n$1\r\nk\r\n$1\r\nv\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(value_is(&r, "v"));
	rasputin_result_free(&r);
	rasputin_close(c);
	fake_stop(f);
}

TEST(wrong_shapes_are_protocol_errors)
{
	struct fake *f = fake_start(false);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	rasputin_result r;
	fake_script(f, F_REPLY, ":1\r\n");
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, &r), RASPUTIN_ERR_PROTOCOL);
	CHECK(strstr(rasputin_last_error(c), "SET") != NULL);
	CHECK(!r.present && r.value == NULL);
	fake_script(f, F_REPLY, "*1\r\n:1\r\n");
	CHECK_EQ(rasputin_cas(c, "k", 1, "a", 1, "b", 1, &r), RASPUTIN_ERR_PROTOCOL);
	fake_script(f, F_REPLY, "*2\r\n:7\r\n$1\r\nb\r\n");
	CHECK_EQ(rasputin_cas(c, "k", 1, "a", 1, "b", 1, &r), RASPUTIN_ERR_PROTOCOL);
	fake_script(f, F_REPLY, "+OK\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_ERR_PROTOCOL);
	/* Bytes that are not RESP at all. */
	fake_script(f, F_REPLY, "?what\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_ERR_PROTOCOL);
	CHECK(strstr(rasputin_last_error(c), "Protocol error") != NULL);
	/* The handle recovers on a fresh connection. */
	fake_script(f, F_REPLY, "$1\r\nz\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(value_is(&r, "z"));
	rasputin_result_free(&r);
	rasputin_close(c);
	fake_stop(f);
}

/* ---------------------------------------------------------------------------
 * Retries: always with the same sequence number.
 */
TEST(retry_after_dropped_connection_keeps_seq)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	fake_script(f, F_DROP, NULL);
	rasputin_result r;
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, &r), RASPUTIN_OK);
	CHECK(r.success);
	rasputin_result_free(&r);
	CHECK_EQ(fake_nlog(f), 2);
	CHECK_LINE(f, 0, seq_line(c, 1, "SET k v"));
	CHECK_LINE(f, 1, seq_line(c, 1, "SET k v"));
	CHECK_EQ(fake_accepts(f), 2);
	/* The next write takes the next number. */
	CHECK_EQ(rasputin_set(c, "k", 1, "w", 1, NULL), RASPUTIN_OK);
	CHECK_LINE(f, 2, seq_line(c, 2, "SET k w"));
	rasputin_close(c);
	fake_stop(f);
}

/* The write was applied, the answer lost: the retry gets the first result
 * from the server's session cache and the store applied it once. */
TEST(retry_after_applied_but_lost_answer_applies_once)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	CHECK_EQ(rasputin_set(c, "k", 1, "v1", 2, NULL), RASPUTIN_OK);
	fake_script(f, F_EXEC_DROP, NULL);
	rasputin_result r;
	CHECK_EQ(rasputin_cas(c, "k", 1, "v1", 2, "v2", 2, &r), RASPUTIN_OK);
	/* Applying it twice would have answered "no swap, v2". */
	CHECK(r.success && value_is(&r, "v2"));
	rasputin_result_free(&r);
	CHECK_EQ(fake_applies(f), 2);
	CHECK_LINE(f, 1, seq_line(c, 2, "CAS k v1 v2"));
	CHECK_LINE(f, 2, seq_line(c, 2, "CAS k v1 v2"));
	rasputin_close(c);
	fake_stop(f);
}

TEST(retry_after_uncertain_keeps_seq)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	fake_script(f, F_EXEC_UNCERTAIN, NULL);
	fake_script(f, F_REPLY, "-UNCERTAIN still unknown\r\n");
	rasputin_result r;
	CHECK_EQ(rasputin_del(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(!r.success && !r.present);
	CHECK_EQ(fake_nlog(f), 3);
	for (size_t i = 0; i < 3; i++)
		CHECK_LINE(f, i, seq_line(c, 1, "GETDEL k"));
	CHECK_EQ(fake_accepts(f), 1); /* UNCERTAIN: ask the same node again */
	rasputin_close(c);
	fake_stop(f);
}

TEST(noleader_moves_to_another_node_with_same_seq)
{
	struct fake *a = fake_start(false);
	struct fake *b = fake_start(true);
	fake_script(a, F_REPLY, "-NOLEADER no leader known\r\n");
	rasputin_options o = fast_opts();
	const char *addrs[2] = {a->addr, b->addr};
	rasputin *c = NULL;
	CHECK_EQ(rasputin_connect(addrs, 2, &o, &c), RASPUTIN_OK);
	CHECK(strcmp(rasputin_current_addr(c), a->addr) == 0);
	int64_t t0 = now_ms();
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	CHECK(now_ms() - t0 >= 50); /* backed off first */
	CHECK(strcmp(rasputin_current_addr(c), b->addr) == 0);
	CHECK_EQ(fake_nlog(a), 1);
	CHECK_EQ(fake_nlog(b), 1);
	CHECK_LINE(a, 0, seq_line(c, 1, "SET k v"));
	CHECK_LINE(b, 0, seq_line(c, 1, "SET k v"));
	rasputin_close(c);
	fake_stop(a);
	fake_stop(b);
}

TEST(busy_backs_off_and_retries)
{
	struct fake *f = fake_start(true);
	fake_script(f, F_REPLY, "-BUSY overloaded\r\n");
	fake_script(f, F_REPLY, "-BUSY overloaded\r\n");
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	int64_t t0 = now_ms();
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	CHECK(now_ms() - t0 >= 50 + 100); /* 50 ms, then twice that */
	CHECK_EQ(fake_nlog(f), 3);
	CHECK_LINE(f, 2, seq_line(c, 1, "SET k v"));
	/* Reads retry on BUSY too (plain, no session). */
	fake_script(f, F_REPLY, "-BUSY overloaded\r\n");
	rasputin_result r;
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_OK);
	CHECK(value_is(&r, "v"));
	rasputin_result_free(&r);
	CHECK_LINE(f, 4, "GET k");
	rasputin_close(c);
	fake_stop(f);
}

TEST(hung_attempt_times_out_and_retries_same_seq)
{
	struct fake *f = fake_start(true);
	fake_script(f, F_HANG, NULL);
	rasputin_options o = fast_opts();
	o.attempt_timeout_ms = 100;
	rasputin *c = open1(f, &o);
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	CHECK_EQ(fake_nlog(f), 2);
	CHECK_LINE(f, 0, seq_line(c, 1, "SET k v"));
	CHECK_LINE(f, 1, seq_line(c, 1, "SET k v"));
	CHECK_EQ(fake_accepts(f), 2); /* a timed-out connection is not reused */
	rasputin_close(c);
	fake_stop(f);
}

TEST(failover_when_first_address_refuses)
{
	char dead[32];
	dead_addr(dead, sizeof(dead));
	struct fake *f = fake_start(true);
	const char *addrs[2] = {dead, f->addr};
	rasputin_options o = fast_opts();
	rasputin *c = NULL;
	CHECK_EQ(rasputin_connect(addrs, 2, &o, &c), RASPUTIN_OK);
	CHECK(strcmp(rasputin_current_addr(c), f->addr) == 0);
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	CHECK_LINE(f, 0, seq_line(c, 1, "SET k v"));
	rasputin_close(c);
	fake_stop(f);
}

TEST(failover_when_connected_node_dies)
{
	struct fake *a = fake_start(true);
	struct fake *b = fake_start(true);
	const char *addrs[2] = {a->addr, b->addr};
	rasputin_options o = fast_opts();
	rasputin *c = NULL;
	CHECK_EQ(rasputin_connect(addrs, 2, &o, &c), RASPUTIN_OK);
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	fake_stop(a);
	CHECK_EQ(rasputin_set(c, "k", 1, "w", 1, NULL), RASPUTIN_OK);
	CHECK(strcmp(rasputin_current_addr(c), b->addr) == 0);
	CHECK_LINE(b, 0, seq_line(c, 2, "SET k w"));
	rasputin_close(c);
	fake_stop(b);
}

/* The server closes and then resets the connection while a large request
 * is still going out: the send fails with EPIPE, never SIGPIPE (which
 * would kill this process), and the write is retried with its seq. */
TEST(no_sigpipe_when_reset_mid_send)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	o.op_timeout_ms = 30000; /* 16 MiB under sanitizers takes a while */
	o.attempt_timeout_ms = 10000;
	rasputin *c = open1(f, &o);
	pthread_mutex_lock(&f->mu);
	f->resets_left = 1;
	pthread_mutex_unlock(&f->mu);
	size_t n = (size_t)16 << 20;
	char *big = malloc(n);
	CHECK(big != NULL);
	memset(big, 'x', n);
	rasputin_result r;
	CHECK_EQ(rasputin_set(c, "big", 3, big, n, &r), RASPUTIN_OK);
	CHECK(r.value_len == n);
	rasputin_result_free(&r);
	CHECK_EQ(rasputin_get(c, "big", 3, &r), RASPUTIN_OK);
	CHECK(r.value_len == n && memcmp(r.value, big, n) == 0);
	rasputin_result_free(&r);
	free(big);
	CHECK_EQ(fake_accepts(f), 2);
	CHECK_LINE(f, 0, seq_line(c, 1, "SET big <16777216 bytes>"));
	rasputin_close(c);
	fake_stop(f);
}

/* A server that dropped the idle connection: the next request notices
 * before sending and goes out once, on a new connection to the same node
 * (so a write is not left in doubt, and a raw command does not fail). */
TEST(idle_connection_closed_by_server_is_reopened)
{
	struct fake *a = fake_start(true);
	struct fake *b = fake_start(true);
	const char *addrs[2] = {a->addr, b->addr};
	rasputin_options o = fast_opts();
	rasputin *c = NULL;
	CHECK_EQ(rasputin_connect(addrs, 2, &o, &c), RASPUTIN_OK);
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	fake_kick(a);
	CHECK_EQ(rasputin_set(c, "k", 1, "w", 1, NULL), RASPUTIN_OK);
	CHECK_EQ(fake_nlog(a), 2);
	CHECK_LINE(a, 1, seq_line(c, 2, "SET k w"));
	CHECK_EQ(fake_accepts(a), 2);
	CHECK_EQ(fake_nlog(b), 0);
	fake_kick(a);
	const char *get[2] = {"GET", "k"};
	struct rasputin_reply *r = NULL;
	CHECK_EQ(rasputin_command(c, 2, get, NULL, &r), RASPUTIN_OK);
	CHECK(r->type == RASPUTIN_REPLY_STRING && strcmp(r->str, "w") == 0);
	rasputin_reply_free(r);
	CHECK_EQ(fake_accepts(a), 3);
	rasputin_close(c);
	fake_stop(a);
	fake_stop(b);
}

/* ---------------------------------------------------------------------------
 * Giving up: UNCERTAIN vs UNAVAILABLE vs TIMEOUT.
 */
TEST(op_timeout_after_unanswered_write_is_uncertain)
{
	struct fake *f = fake_start(false);
	for (int i = 0; i < 20; i++)
		fake_script(f, F_HANG, NULL);
	rasputin_options o = fast_opts();
	o.op_timeout_ms = 300;
	o.attempt_timeout_ms = 100;
	rasputin *c = open1(f, &o);
	int64_t t0 = now_ms();
	rasputin_result r;
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, &r), RASPUTIN_ERR_UNCERTAIN);
	int64_t took = now_ms() - t0;
	CHECK(took >= 290 && took < 1000);
	CHECK(!r.present && r.value == NULL);
	CHECK(strstr(rasputin_last_error(c), "may or may not") != NULL);
	size_t n = fake_nlog(f);
	CHECK(n >= 2);
	for (size_t i = 0; i < n; i++)
		CHECK_LINE(f, i, seq_line(c, 1, "SET k v"));
	/* A read that gets no answer is a plain timeout. */
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_ERR_TIMEOUT);
	rasputin_close(c);
	fake_stop(f);
}

TEST(uncertain_stays_uncertain_even_if_later_attempts_were_refused)
{
	struct fake *f = fake_start(false);
	fake_script(f, F_REPLY, "-UNCERTAIN lost the leader\r\n");
	for (int i = 0; i < 40; i++)
		fake_script(f, F_REPLY, "-NOLEADER none\r\n");
	rasputin_options o = fast_opts();
	o.op_timeout_ms = 300;
	rasputin *c = open1(f, &o);
	CHECK_EQ(rasputin_cas(c, "k", 1, "a", 1, "b", 1, NULL), RASPUTIN_ERR_UNCERTAIN);
	rasputin_close(c);
	fake_stop(f);
}

TEST(op_timeout_when_nothing_was_applied_is_unavailable)
{
	struct fake *f = fake_start(false);
	for (int i = 0; i < 40; i++)
		fake_script(f, F_REPLY, "-NOLEADER election in progress\r\n");
	rasputin_options o = fast_opts();
	o.op_timeout_ms = 300;
	rasputin *c = open1(f, &o);
	int64_t t0 = now_ms();
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_ERR_UNAVAILABLE);
	CHECK(now_ms() - t0 >= 290);
	CHECK(strstr(rasputin_last_error(c), "NOLEADER election in progress") != NULL);
	/* Every node gone: nothing could have been applied either. */
	fake_stop(f);
	t0 = now_ms();
	CHECK_EQ(rasputin_del(c, "k", 1, NULL), RASPUTIN_ERR_UNAVAILABLE);
	CHECK(now_ms() - t0 >= 290);
	CHECK(strstr(rasputin_last_error(c), "refused") != NULL);
	CHECK_EQ(rasputin_get(c, "k", 1, NULL), RASPUTIN_ERR_UNAVAILABLE);
	rasputin_close(c);
}

/* ---------------------------------------------------------------------------
 * Final errors.
 */
TEST(server_error_is_final_with_its_message)
{
	struct fake *f = fake_start(true);
	fake_script(f, F_REPLY, "-ERR value is not what you think\r\n");
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	rasputin_result r;
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, &r), RASPUTIN_ERR_SERVER);
	CHECK(strcmp(rasputin_last_error(c), "ERR value is not what you think") == 0);
	CHECK(!r.present && r.value == NULL);
	CHECK_EQ(fake_nlog(f), 1); /* not retried */
	/* An error-looking prefix is not a retryable code. */
	fake_script(f, F_REPLY, "-BUSYNESS is not BUSY\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, &r), RASPUTIN_ERR_SERVER);
	CHECK_EQ(fake_nlog(f), 2);
	/* The next write moves on to the next sequence number. */
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	CHECK_LINE(f, 2, seq_line(c, 2, "SET k v"));
	CHECK(strcmp(rasputin_last_error(c), "") == 0);
	rasputin_close(c);
	fake_stop(f);
}

TEST(session_error_fails_and_starts_a_new_session)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	o.client_id = 7;
	rasputin *c = open1(f, &o);
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	fake_script(f, F_REPLY, "-SESSION expired, start a new one\r\n");
	CHECK_EQ(rasputin_set(c, "k", 1, "w", 1, NULL), RASPUTIN_ERR_SERVER);
	CHECK(strstr(rasputin_last_error(c), "SESSION expired") != NULL);
	uint64_t id = rasputin_client_id(c);
	CHECK(id != 7 && id != 0);
	CHECK_EQ(rasputin_set(c, "k", 1, "w", 1, NULL), RASPUTIN_OK);
	CHECK_LINE(f, 1, "RASPUTIN SEQ 7 2 SET k w");
	CHECK_LINE(f, 2, seq_line(c, 1, "SET k w"));
	rasputin_close(c);
	fake_stop(f);
}

TEST(auth_on_every_connection)
{
	struct fake *f = fake_start(true);
	fake_config(f, "s3cret", NULL, NULL);
	rasputin_options o = fast_opts();
	o.password = "wrong";
	const char *addrs[1] = {f->addr};
	rasputin *c = NULL;
	CHECK_EQ(rasputin_connect(addrs, 1, &o, &c), RASPUTIN_ERR_SERVER);
	CHECK(c == NULL);
	CHECK(strstr(rasputin_last_error(NULL), "WRONGPASS") != NULL);
	char pw[16];
	snprintf(pw, sizeof(pw), "s3cret");
	o.password = pw;
	c = open1(f, &o);
	memset(pw, 0, sizeof(pw)); /* the handle kept its own copy */
	fake_script(f, F_DROP, NULL);
	CHECK_EQ(rasputin_set(c, "k", 1, "v", 1, NULL), RASPUTIN_OK);
	CHECK_EQ(fake_nlog(f), 5);
	CHECK_LINE(f, 0, "AUTH wrong");
	CHECK_LINE(f, 1, "AUTH s3cret");
	CHECK_LINE(f, 3, "AUTH s3cret"); /* again on the new connection */
	CHECK_LINE(f, 4, seq_line(c, 1, "SET k v"));
	rasputin_close(c);
	fake_stop(f);
}

/* ---------------------------------------------------------------------------
 * Raw commands, messages per thread, threads sharing a handle.
 */
TEST(raw_command_returns_the_reply_tree)
{
	struct fake *f = fake_start(false);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	fake_script(
	    f, F_REPLY,
	    "*4\r\n:1\r\n*2\r\n$1\r\na\r\n_\r\n%1\r\n+k\r\n,1.5\r\n-ERR inner\r\n");
	const char *argv[3] = {"MY", "cmd", "x\0y"};
	size_t lens[3] = {2, 3, 3};
	struct rasputin_reply *r = NULL;
	CHECK_EQ(rasputin_command(c, 3, argv, lens, &r), RASPUTIN_OK);
	CHECK_LINE(f, 0, "MY cmd x\\x00y");
	CHECK(r->type == RASPUTIN_REPLY_ARRAY && r->count == 4);
	CHECK(r->elems[0].type == RASPUTIN_REPLY_INTEGER && r->elems[0].integer == 1);
	CHECK(r->elems[1].type == RASPUTIN_REPLY_ARRAY && r->elems[1].count == 2);
	CHECK(r->elems[1].elems[0].type == RASPUTIN_REPLY_STRING);
	CHECK(strcmp(r->elems[1].elems[0].str, "a") == 0);
	CHECK(r->elems[1].elems[1].type == RASPUTIN_REPLY_NIL);
	CHECK(r->elems[2].type == RASPUTIN_REPLY_MAP && r->elems[2].count == 2);
	CHECK(r->elems[2].elems[0].type == RASPUTIN_REPLY_STATUS);
	CHECK(r->elems[2].elems[1].type == RASPUTIN_REPLY_DOUBLE);
	CHECK(r->elems[2].elems[1].dbl == 1.5);
	CHECK(strcmp(r->elems[2].elems[1].str, "1.5") == 0);
	CHECK(r->elems[3].type == RASPUTIN_REPLY_ERROR);
	CHECK(strcmp(r->elems[3].str, "ERR inner") == 0);
	rasputin_reply_free(r);
	/* An error reply is a reply, not a failure of the call. */
	fake_script(f, F_REPLY, "-NOLEADER none\r\n");
	const char *ping[1] = {"PING"};
	CHECK_EQ(rasputin_command(c, 1, ping, NULL, &r), RASPUTIN_OK);
	CHECK(r->type == RASPUTIN_REPLY_ERROR);
	rasputin_reply_free(r);
	/* A lost connection fails the call; the next call reconnects. */
	fake_script(f, F_DROP, NULL);
	CHECK_EQ(rasputin_command(c, 1, ping, NULL, &r), RASPUTIN_ERR_UNAVAILABLE);
	CHECK(r == NULL);
	CHECK(rasputin_current_addr(c) == NULL);
	fake_script(f, F_REPLY, "+PONG\r\n");
	CHECK_EQ(rasputin_command(c, 1, ping, NULL, &r), RASPUTIN_OK);
	CHECK(r->type == RASPUTIN_REPLY_STATUS && strcmp(r->str, "PONG") == 0);
	rasputin_reply_free(r);
	CHECK_EQ(fake_accepts(f), 2);
	/* No answer in time. */
	fake_script(f, F_HANG, NULL);
	rasputin_close(c);
	o.op_timeout_ms = 100;
	c = open1(f, &o);
	CHECK_EQ(rasputin_command(c, 1, ping, NULL, &r), RASPUTIN_ERR_TIMEOUT);
	CHECK_EQ(rasputin_command(c, 0, ping, NULL, &r), RASPUTIN_ERR_INVALID);
	rasputin_close(c);
	fake_stop(f);
}

TEST(double_text_round_trips)
{
	char buf[64];
	rc_reply_format_double(1.5, buf, sizeof(buf));
	CHECK(strcmp(buf, "1.5") == 0);
	rc_reply_format_double(0.1, buf, sizeof(buf));
	CHECK(strcmp(buf, "0.1") == 0);
	rc_reply_format_double(-3e100, buf, sizeof(buf));
	CHECK(strcmp(buf, "-3e+100") == 0);
	rc_reply_format_double(1.0 / 3.0, buf, sizeof(buf));
	CHECK(strtod(buf, NULL) == 1.0 / 3.0);
	rc_reply_format_double(1e308 * 10, buf, sizeof(buf));
	CHECK(strcmp(buf, "inf") == 0);
	rc_reply_format_double(-1e308 * 10, buf, sizeof(buf));
	CHECK(strcmp(buf, "-inf") == 0);
}

struct thread_arg {
	rasputin *c;
	int id;
	int failures;
};

static void *writer(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 50; i++) {
		char key[32];
		int n = snprintf(key, sizeof(key), "t%d-%d", a->id, i);
		rasputin_result r;
		if (rasputin_set(a->c, key, (size_t)n, key, (size_t)n, &r) !=
			RASPUTIN_OK ||
		    !r.success || r.value_len != (size_t)n)
			a->failures++;
		rasputin_result_free(&r);
		if (strcmp(rasputin_last_error(a->c), "") != 0)
			a->failures++;
	}
	return NULL;
}

TEST(threads_share_a_handle)
{
	struct fake *f = fake_start(true);
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	pthread_t th[4];
	struct thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){c, i, 0};
		CHECK(pthread_create(&th[i], NULL, writer, &args[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(args[i].failures, 0);
	}
	/* Every write went out once, numbered 1..200 in order. */
	CHECK_EQ(fake_nlog(f), 200);
	for (size_t i = 0; i < 200; i++) {
		char want[64];
		snprintf(want, sizeof(want), "RASPUTIN SEQ %" PRIu64 " %zu SET ",
			 rasputin_client_id(c), i + 1);
		CHECK(strncmp(fake_line(f, i), want, strlen(want)) == 0);
	}
	rasputin_close(c);
	fake_stop(f);
}

static void *fail_once(void *p)
{
	rasputin *c = p;
	rasputin_result r;
	(void)rasputin_set(c, "k", 1, "v", 1, &r); /* scripted to fail */
	return NULL;
}

TEST(last_error_is_per_thread)
{
	struct fake *f = fake_start(true);
	fake_script(f, F_REPLY, "-ERR for the other thread\r\n");
	rasputin_options o = fast_opts();
	rasputin *c = open1(f, &o);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, fail_once, c) == 0);
	pthread_join(th, NULL);
	CHECK(strcmp(rasputin_last_error(c), "") == 0);
	fake_script(f, F_REPLY, "-ERR mine\r\n");
	CHECK_EQ(rasputin_get(c, "k", 1, NULL), RASPUTIN_ERR_SERVER);
	CHECK(strcmp(rasputin_last_error(c), "ERR mine") == 0);
	CHECK(strcmp(rasputin_last_error(NULL), "ERR mine") == 0);
	/* Another handle's message is not this one's. */
	rasputin *d = open1(f, &o);
	CHECK(strcmp(rasputin_last_error(d), "") == 0);
	rasputin_close(d);
	rasputin_close(c);
	fake_stop(f);
}

/* ---------------------------------------------------------------------------
 * rasputin-cli's `cluster status` over the network (its parsing and table
 * are tested in test_cli.c).
 */
TEST(cli_cluster_status_asks_every_node)
{
	struct fake *a = fake_start(true);
	struct fake *b = fake_start(true);
	char dead[32];
	dead_addr(dead, sizeof(dead));
	static char nodes[512];
	snprintf(
	    nodes, sizeof(nodes),
	    "*3\r\n"
	    "*4\r\n$1\r\n1\r\n$14\r\n127.0.0.1:9001\r\n$%zu\r\n%s\r\n$5\r\nvoter\r\n"
	    "*4\r\n$1\r\n2\r\n$14\r\n127.0.0.1:9002\r\n$%zu\r\n%s\r\n$5\r\nvoter\r\n"
	    "*4\r\n$1\r\n3\r\n$14\r\n127.0.0.1:9003\r\n$%zu\r\n%s\r\n$7\r\nlearner\r\n",
	    strlen(a->addr), a->addr, strlen(b->addr), b->addr, strlen(dead), dead);
	/* RESP2 flat array from the leader, RESP3 map from the follower. */
	const char *a_status =
	    "*16\r\n$7\r\nnode_id\r\n:1\r\n$4\r\nrole\r\n$6\r\nleader\r\n"
	    "$4\r\nterm\r\n:3\r\n$9\r\nleader_id\r\n:1\r\n"
	    "$12\r\ncommit_index\r\n:120\r\n$13\r\napplied_index\r\n:119\r\n"
	    "$5\r\nlease\r\n$5\r\nvalid\r\n$18\r\nlease_remaining_ms\r\n:812\r\n";
	const char *b_status =
	    "%5\r\n$4\r\nrole\r\n$8\r\nfollower\r\n$4\r\nterm\r\n:3\r\n"
	    "$12\r\ncommit_index\r\n:120\r\n$13\r\napplied_index\r\n:120\r\n"
	    "$5\r\nlease\r\n$4\r\nnone\r\n";
	fake_config(a, NULL, nodes, a_status);
	fake_config(b, NULL, NULL, b_status);
	rasputin_options o = fast_opts();
	rasputin *c = open1(a, &o);
	struct cli_buf out;
	cli_buf_init(&out);
	char err[256] = "";
	CHECK_EQ(cli_cluster_status(c, &o, &out, err, sizeof(err)), RASPUTIN_OK);
	const char *t = cli_buf_str(&out);
	CHECK(strstr(t, "ID  CLIENT ADDR") == t);
	CHECK(strstr(t, "leader") != NULL);
	CHECK(strstr(t, "valid 812ms") != NULL);
	CHECK(strstr(t, "follower") != NULL);
	CHECK(strstr(t, "unreachable") != NULL);
	CHECK(strstr(t, "learner") != NULL);
	CHECK(strstr(t, "119") != NULL);
	CHECK_LINE(a, 0, "RASPUTIN NODES");
	CHECK_LINE(a, 1, "RASPUTIN STATUS");
	CHECK_LINE(b, 0, "RASPUTIN STATUS");
	cli_buf_deinit(&out);
	/* A node that does not know the command: the error is reported. */
	fake_config(a, NULL, NULL, a_status);
	cli_buf_init(&out);
	CHECK_EQ(cli_cluster_status(c, &o, &out, err, sizeof(err)), RASPUTIN_ERR_SERVER);
	CHECK(strstr(err, "ERR unknown command") != NULL);
	cli_buf_deinit(&out);
	rasputin_close(c);
	fake_stop(a);
	fake_stop(b);
}

TEST_MAIN()
