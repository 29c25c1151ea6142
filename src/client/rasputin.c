/*
 * rasputin.c — librasputin's public API (include/rasputin.h): the handle,
 * its connection to one node at a time, and the retry loop that gives
 * every write exactly-once semantics through a server-side session.
 *
 * The retry rule (rc_run): an operation gets one deadline, op_timeout_ms
 * from its start.  Each attempt sends the SAME encoded request (for a write
 * that includes the same client id and sequence number) and waits at most
 * attempt_timeout_ms.  What the answer says decides the next step:
 *
 *   a reply               done (an error reply other than the ones below
 *                         is final: RASPUTIN_ERR_SERVER with its text)
 *   connection lost,      the write may have been applied: remember that,
 *   no reply in time      drop the connection, move to the next node
 *   -UNCERTAIN            the write may have been applied: remember that,
 *                         back off briefly, ask the same node again
 *   -NOLEADER             nothing was done: back off 50-100 ms, next node
 *   -BUSY                 nothing was done: back off (doubling, up to 1 s)
 *   -SESSION              the server dropped our session: final error; the
 *                         handle starts a new session for later writes
 *
 * When the deadline passes, a write that may have been applied by any
 * attempt is RASPUTIN_ERR_UNCERTAIN, otherwise RASPUTIN_ERR_UNAVAILABLE (a
 * read that got no answer is RASPUTIN_ERR_TIMEOUT).  Retrying with the same
 * sequence number is what makes this safe: the server applies a (client
 * id, seq) at most once and answers a duplicate with the first result.
 */
#define _GNU_SOURCE
#include "rasputin.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "client/rc_addr.h"
#include "client/rc_conn.h"
#include "client/rc_reply.h"
#include "net/resp.h"
#include "util/check.h"
#include "util/err.h"
#include "util/prng.h"

/* Backoffs (ms): after -NOLEADER or when no node accepts a connection, a
 * random pause in [LO, HI] so that many clients do not retry in step. */
#define RC_BACKOFF_LO_MS 50
#define RC_BACKOFF_HI_MS 100
/* After -UNCERTAIN the same node is asked again sooner. */
#define RC_UNCERTAIN_LO_MS 20
#define RC_UNCERTAIN_HI_MS 60
/* After -BUSY the pause doubles from LO up to MAX. */
#define RC_BUSY_LO_MS 50
#define RC_BUSY_MAX_MS 1000

struct rasputin {
	pthread_mutex_t mu; /* held by every call for its whole duration */
	uint64_t uid;	    /* tags this handle's messages in rc_last_err */
	rasputin_options opt;
	char *password; /* opt.password points here (or NULL) */
	/* The addresses as given (for messages), and parsed. */
	char **addr_text;
	struct rc_addr *addrs;
	size_t addr_count; /* >= 1 */
	/* The next connection round starts at addr_next; addr_cur is the node
	 * of the open connection (valid while conn.fd >= 0).  Both < count. */
	size_t addr_next;
	size_t addr_cur;
	struct rc_conn conn;
	/* The session: client_id != 0; seq is the last sequence number used,
	 * so the next write carries seq + 1. */
	uint64_t client_id;
	uint64_t seq;
	rp_prng prng;	     /* backoff jitter only */
	struct resp_out req; /* the encoded request of the running call */
};

/* ---------------------------------------------------------------------------
 * Messages: per thread, tagged with the handle the call was on (see
 * rasputin_last_error).  Tag 0 is "no handle" (rasputin_connect).
 */
static _Thread_local struct {
	uint64_t uid;
	char msg[768];
} rc_last_err;

static atomic_uint_fast64_t rc_next_uid = 1;

static void err_begin(uint64_t uid)
{
	rc_last_err.uid = uid;
	rc_last_err.msg[0] = '\0';
}

__attribute__((format(printf, 1, 2))) static void err_set(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rc_last_err.msg, sizeof(rc_last_err.msg), fmt, ap);
	va_end(ap);
}

const char *rasputin_last_error(const rasputin *c)
{
	if (c != NULL && rc_last_err.uid != c->uid)
		return "";
	return rc_last_err.msg;
}

const char *rasputin_strerror(int rc)
{
	switch (rc) {
	case RASPUTIN_OK:
		return "ok";
	case RASPUTIN_ERR_INVALID:
		return "invalid argument";
	case RASPUTIN_ERR_NOMEM:
		return "out of memory";
	case RASPUTIN_ERR_UNAVAILABLE:
		return "no node could take the request";
	case RASPUTIN_ERR_TIMEOUT:
		return "timed out waiting for the reply";
	case RASPUTIN_ERR_UNCERTAIN:
		return "timed out: the write may or may not have applied";
	case RASPUTIN_ERR_SERVER:
		return "the server refused the request";
	case RASPUTIN_ERR_PROTOCOL:
		return "protocol error";
	default:
		return "unknown error";
	}
}

void rasputin_options_default(rasputin_options *o)
{
	if (o == NULL)
		return;
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 1000;
	o->op_timeout_ms = 10000;
	o->attempt_timeout_ms = 6000;
	o->client_id = 0;
	o->password = NULL;
}

void rasputin_result_free(rasputin_result *r)
{
	if (r == NULL)
		return;
	free(r->value);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------------------
 * Session ids and jitter.
 */

/* A random non-zero id: the kernel's randomness, or failing that a mix of
 * the clock, the pid and a counter (still unique enough per process). */
static uint64_t random_id(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v) && v != 0)
		return v;
	static atomic_uint_fast64_t counter;
	rp_prng p;
	rp_prng_init(&p, (uint64_t)rc_now_ms() ^ ((uint64_t)getpid() << 32) ^
			     (uint64_t)atomic_fetch_add(&counter, 1));
	do {
		v = rp_prng_next(&p);
	} while (v == 0);
	return v;
}

/* Sleeps a random time in [lo_ms, hi_ms], never past deadline_ms. */
static void backoff(rasputin *c, int64_t deadline_ms, int lo_ms, int hi_ms)
{
	RP_CHECK(lo_ms > 0);
	RP_CHECK(lo_ms <= hi_ms);
	int64_t ms = (int64_t)rp_prng_range(&c->prng, (uint64_t)lo_ms, (uint64_t)hi_ms);
	int64_t until = rc_now_ms() + ms;
	rc_sleep_until_ms(until < deadline_ms ? until : deadline_ms);
}

static int64_t min_i64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* ---------------------------------------------------------------------------
 * Connections.
 */

/* Closes the connection; the next round starts at the node after it (it
 * failed us, so another node gets the next chance). */
static void drop_conn(rasputin *c)
{
	if (c->conn.fd >= 0)
		c->addr_next = (c->addr_cur + 1) % c->addr_count;
	rc_conn_close(&c->conn);
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	if (used + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/*
 * Before a request: a connection the server closed while we were idle is
 * reopened to the same node (it did not fail us; it dropped an idle
 * client), and one with bytes nobody asked for is dropped (the stream is
 * out of step).
 */
static void check_idle_conn(rasputin *c)
{
	if (c->conn.fd < 0)
		return;
	if (rc_conn_has_stray_bytes(&c->conn)) {
		drop_conn(c);
	} else if (rc_conn_peer_closed(&c->conn)) {
		rc_conn_close(&c->conn);
		c->addr_next = c->addr_cur;
	}
}

/* Writes the text of an error reply (or its absence) into buf. */
static void error_text(const struct resp_value *v, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)(v->len > 400 ? 400 : v->len),
		 v->str ? v->str : "");
}

/* AUTH on a fresh connection: RC_IO_OK, RC_IO_* on a connection failure,
 * or 1 if the server refused (why in err). */
static int do_auth(rasputin *c, int64_t deadline_ms, char *err, size_t err_size)
{
	struct resp_out o;
	resp_out_init(&o, (size_t)1 << 20);
	struct resp_arg argv[2] = {{"AUTH", 4}, {c->password, strlen(c->password)}};
	int rc = resp_add_command(&o, 2, argv);
	if (rc < 0) {
		resp_out_deinit(&o);
		snprintf(err, err_size, "AUTH: %s", resp_strerror(rc));
		return rc == RP_ERR_NOMEM ? RC_IO_NOMEM : 1;
	}
	rc = rc_conn_send(&c->conn, o.data, o.len, deadline_ms, err, err_size);
	resp_out_deinit(&o);
	if (rc != RC_IO_OK)
		return rc;
	struct resp_value *v = NULL;
	rc = rc_conn_read(&c->conn, deadline_ms, &v, err, err_size);
	if (rc != RC_IO_OK)
		return rc;
	if (v->type == RESP_T_ERROR) {
		char tmp[200];
		error_text(v, tmp, sizeof(tmp));
		snprintf(err, err_size, "AUTH refused: %s", tmp);
		resp_value_free(v);
		return 1;
	}
	resp_value_free(v);
	return RC_IO_OK;
}

/*
 * One round: tries each address once, starting at addr_next, each for up
 * to connect_timeout_ms (and never past deadline_ms).  RASPUTIN_OK with the
 * connection open, RASPUTIN_ERR_UNAVAILABLE (why in why[]),
 * RASPUTIN_ERR_SERVER (AUTH refused; message set) or RASPUTIN_ERR_NOMEM.
 */
static int connect_round(rasputin *c, int64_t deadline_ms, char *why, size_t why_size)
{
	RP_CHECK(c->conn.fd < 0);
	why[0] = '\0';
	for (size_t i = 0; i < c->addr_count; i++) {
		size_t idx = (c->addr_next + i) % c->addr_count;
		int64_t now = rc_now_ms();
		if (now >= deadline_ms) {
			append(why, why_size, "%sout of time", why[0] ? "; " : "");
			break;
		}
		int64_t d = min_i64(deadline_ms, now + c->opt.connect_timeout_ms);
		char e[256];
		int rc = rc_conn_open(&c->conn, c->addrs[idx].host, c->addrs[idx].port, d,
				      e, sizeof(e));
		if (rc == RC_IO_OK && c->password != NULL) {
			rc = do_auth(c, d, e, sizeof(e));
			if (rc != RC_IO_OK)
				rc_conn_close(&c->conn);
			if (rc == 1) {
				err_set("%s: %s", c->addr_text[idx], e);
				return RASPUTIN_ERR_SERVER;
			}
		}
		if (rc == RC_IO_OK) {
			c->addr_cur = idx;
			c->addr_next = idx;
			return RASPUTIN_OK;
		}
		if (rc == RC_IO_NOMEM) {
			err_set("out of memory");
			return RASPUTIN_ERR_NOMEM;
		}
		append(why, why_size, "%s%s: %s", why[0] ? "; " : "", c->addr_text[idx],
		       e);
	}
	return RASPUTIN_ERR_UNAVAILABLE;
}

/* ---------------------------------------------------------------------------
 * The retry loop.
 */
enum err_class { EC_FINAL, EC_UNCERTAIN, EC_NOLEADER, EC_BUSY, EC_SESSION };

static bool has_code(const struct resp_value *v, const char *code)
{
	size_t n = strlen(code);
	if (v->str == NULL || v->len < n || memcmp(v->str, code, n) != 0)
		return false;
	return v->len == n || v->str[n] == ' ';
}

static enum err_class classify(const struct resp_value *v)
{
	RP_CHECK(v->type == RESP_T_ERROR);
	if (has_code(v, "UNCERTAIN"))
		return EC_UNCERTAIN;
	if (has_code(v, "NOLEADER"))
		return EC_NOLEADER;
	if (has_code(v, "BUSY"))
		return EC_BUSY;
	if (has_code(v, "SESSION"))
		return EC_SESSION;
	return EC_FINAL;
}

/*
 * Runs the request encoded in c->req until a reply or the deadline (see
 * the top of the file).  is_write: the request is a session write, whose
 * attempts may have been applied.  On RASPUTIN_OK *reply is a non-error
 * reply the caller frees; otherwise the message is set.
 */
static int rc_run(rasputin *c, bool is_write, struct resp_value **reply)
{
	*reply = NULL;
	int64_t start = rc_now_ms();
	int64_t deadline = start + c->opt.op_timeout_ms;
	int attempt_ms = c->opt.attempt_timeout_ms > 0 ? c->opt.attempt_timeout_ms
						       : c->opt.op_timeout_ms;
	bool maybe_applied = false; /* an attempt of this write may have been applied */
	bool unanswered = false;    /* an attempt was sent and got no verdict */
	int busy_ms = 0;
	char last[512] = ""; /* why the latest attempt failed */
	char e[256];

	while (rc_now_ms() < deadline) {
		check_idle_conn(c);
		if (c->conn.fd < 0) {
			int rc = connect_round(c, deadline, last, sizeof(last));
			if (rc == RASPUTIN_ERR_UNAVAILABLE) {
				backoff(c, deadline, RC_BACKOFF_LO_MS, RC_BACKOFF_HI_MS);
				continue;
			}
			if (rc != RASPUTIN_OK)
				return rc;
		}
		const char *addr = c->addr_text[c->addr_cur];
		int64_t attempt_deadline = min_i64(deadline, rc_now_ms() + attempt_ms);
		int io = rc_conn_send(&c->conn, c->req.data, c->req.len, attempt_deadline,
				      e, sizeof(e));
		if (io != RC_IO_OK) {
			/* Not all of it left: the server cannot have run it. */
			snprintf(last, sizeof(last), "%s: %s", addr, e);
			drop_conn(c);
			continue;
		}
		struct resp_value *v = NULL;
		io = rc_conn_read(&c->conn, attempt_deadline, &v, e, sizeof(e));
		if (io == RC_IO_NOMEM || io == RC_IO_PROTOCOL) {
			drop_conn(c);
			err_set("%s: %s", addr, e);
			return io == RC_IO_NOMEM ? RASPUTIN_ERR_NOMEM
						 : RASPUTIN_ERR_PROTOCOL;
		}
		if (io != RC_IO_OK) {
			/* Sent but no verdict: it may have been applied. */
			maybe_applied |= is_write;
			unanswered = true;
			snprintf(last, sizeof(last), "%s: %s", addr, e);
			drop_conn(c);
			continue;
		}
		if (v->type != RESP_T_ERROR) {
			*reply = v;
			return RASPUTIN_OK;
		}
		char msg[420];
		error_text(v, msg, sizeof(msg));
		enum err_class cls = classify(v);
		resp_value_free(v);
		switch (cls) {
		case EC_UNCERTAIN:
			maybe_applied |= is_write;
			unanswered = true;
			snprintf(last, sizeof(last), "%s: %s", addr, msg);
			backoff(c, deadline, RC_UNCERTAIN_LO_MS, RC_UNCERTAIN_HI_MS);
			break;
		case EC_NOLEADER:
			snprintf(last, sizeof(last), "%s: %s", addr, msg);
			drop_conn(c);
			backoff(c, deadline, RC_BACKOFF_LO_MS, RC_BACKOFF_HI_MS);
			break;
		case EC_BUSY:
			snprintf(last, sizeof(last), "%s: %s", addr, msg);
			busy_ms = busy_ms == 0
				      ? RC_BUSY_LO_MS
				      : (busy_ms * 2 > RC_BUSY_MAX_MS ? RC_BUSY_MAX_MS
								      : busy_ms * 2);
			backoff(c, deadline, busy_ms, busy_ms + busy_ms / 2);
			break;
		case EC_SESSION:
			/* This write was refused, not applied.  Later writes
			 * need a session the server knows: a fresh one. */
			if (is_write) {
				c->client_id = random_id();
				c->seq = 0;
			}
			err_set("%s", msg);
			return RASPUTIN_ERR_SERVER;
		case EC_FINAL:
			err_set("%s", msg);
			return RASPUTIN_ERR_SERVER;
		}
	}

	int64_t spent = rc_now_ms() - start;
	if (maybe_applied) {
		err_set("gave up after %" PRId64
			" ms; the write may or may not have been applied "
			"(last: %s)",
			spent, last[0] ? last : "-");
		return RASPUTIN_ERR_UNCERTAIN;
	}
	if (unanswered) {
		err_set("no reply after %" PRId64 " ms (last: %s)", spent,
			last[0] ? last : "-");
		return RASPUTIN_ERR_TIMEOUT;
	}
	err_set("no node could take the request in %" PRId64 " ms (last: %s)", spent,
		last[0] ? last : "-");
	return RASPUTIN_ERR_UNAVAILABLE;
}

/* Encodes argv into c->req; a session write gets the next sequence number
 * and the RASPUTIN SEQ prefix. */
static int encode(rasputin *c, bool session, size_t argc, const struct resp_arg *argv)
{
	RP_CHECK(argc >= 1);
	RP_CHECK(argc <= 5);
	resp_out_reset(&c->req);
	int rc;
	if (session) {
		char id[24], seq[24];
		c->seq++;
		int id_len = snprintf(id, sizeof(id), "%" PRIu64, c->client_id);
		int seq_len = snprintf(seq, sizeof(seq), "%" PRIu64, c->seq);
		struct resp_arg all[9] = {{"RASPUTIN", 8},
					  {"SEQ", 3},
					  {id, (size_t)id_len},
					  {seq, (size_t)seq_len}};
		for (size_t i = 0; i < argc; i++)
			all[4 + i] = argv[i];
		rc = resp_add_command(&c->req, argc + 4, all);
	} else {
		rc = resp_add_command(&c->req, argc, argv);
	}
	if (rc == RP_ERR_NOMEM) {
		err_set("out of memory");
		return RASPUTIN_ERR_NOMEM;
	}
	if (rc < 0) {
		err_set("request too large");
		return RASPUTIN_ERR_INVALID;
	}
	return RASPUTIN_OK;
}

/* ---------------------------------------------------------------------------
 * Handles.
 */

static void handle_free(rasputin *c)
{
	if (c == NULL)
		return;
	rc_conn_close(&c->conn);
	resp_out_deinit(&c->req);
	if (c->addr_text != NULL) {
		for (size_t i = 0; i < c->addr_count; i++)
			free(c->addr_text[i]);
	}
	free(c->addr_text);
	free(c->addrs);
	free(c->password);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int rasputin_connect(const char *const *addrs, size_t count, const rasputin_options *opt,
		     rasputin **out)
{
	err_begin(0);
	if (out == NULL) {
		err_set("out is NULL");
		return RASPUTIN_ERR_INVALID;
	}
	*out = NULL;
	if (addrs == NULL || count == 0) {
		err_set("no addresses");
		return RASPUTIN_ERR_INVALID;
	}
	rasputin_options o;
	rasputin_options_default(&o);
	if (opt != NULL)
		o = *opt;
	if (o.connect_timeout_ms <= 0 || o.op_timeout_ms <= 0 ||
	    o.attempt_timeout_ms < 0) {
		err_set("timeouts must be positive");
		return RASPUTIN_ERR_INVALID;
	}
	for (size_t i = 0; i < count; i++) {
		struct rc_addr a;
		if (rc_addr_parse(addrs[i], &a) != 0) {
			err_set("bad address '%s' (want host:port)",
				addrs[i] ? addrs[i] : "(null)");
			return RASPUTIN_ERR_INVALID;
		}
	}

	rasputin *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		err_set("out of memory");
		return RASPUTIN_ERR_NOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	rc_conn_init(&c->conn);
	/* Values go up to the server's bulk limit (512 MiB by default). */
	resp_out_init(&c->req, (size_t)1 << 31);
	c->uid = (uint64_t)atomic_fetch_add(&rc_next_uid, 1);
	c->opt = o;
	c->addr_count = count;
	c->addr_text = calloc(count, sizeof(*c->addr_text));
	c->addrs = calloc(count, sizeof(*c->addrs));
	if (c->addr_text == NULL || c->addrs == NULL)
		goto nomem;
	for (size_t i = 0; i < count; i++) {
		c->addr_text[i] = strdup(addrs[i]);
		if (c->addr_text[i] == NULL)
			goto nomem;
		int rc = rc_addr_parse(addrs[i], &c->addrs[i]);
		RP_CHECK(rc == 0);
	}
	if (o.password != NULL) {
		c->password = strdup(o.password);
		if (c->password == NULL)
			goto nomem;
	}
	c->opt.password = c->password;
	c->client_id = o.client_id != 0 ? o.client_id : random_id();
	rp_prng_init(&c->prng, c->client_id ^ (uint64_t)rc_now_ms());

	/* One round; each address is bounded by connect_timeout_ms. */
	char why[512];
	int rc = connect_round(c, INT64_MAX / 4, why, sizeof(why));
	if (rc == RASPUTIN_ERR_UNAVAILABLE)
		err_set("no node reachable: %s", why);
	if (rc != RASPUTIN_OK) {
		handle_free(c);
		return rc;
	}
	*out = c;
	return RASPUTIN_OK;

nomem:
	handle_free(c);
	err_set("out of memory");
	return RASPUTIN_ERR_NOMEM;
}

void rasputin_close(rasputin *c)
{
	handle_free(c);
}

uint64_t rasputin_client_id(const rasputin *c)
{
	if (c == NULL)
		return 0;
	rasputin *m = (rasputin *)c; /* the mutex is not part of the value */
	pthread_mutex_lock(&m->mu);
	uint64_t id = c->client_id;
	pthread_mutex_unlock(&m->mu);
	return id;
}

const char *rasputin_current_addr(const rasputin *c)
{
	if (c == NULL)
		return NULL;
	rasputin *m = (rasputin *)c;
	pthread_mutex_lock(&m->mu);
	const char *a = c->conn.fd >= 0 ? c->addr_text[c->addr_cur] : NULL;
	pthread_mutex_unlock(&m->mu);
	return a;
}

/* ---------------------------------------------------------------------------
 * The operations.
 */

static const char *type_name(enum resp_type t)
{
	switch (t) {
	case RESP_T_SIMPLE:
		return "status";
	case RESP_T_ERROR:
		return "error";
	case RESP_T_INTEGER:
		return "integer";
	case RESP_T_BULK:
		return "bulk string";
	case RESP_T_NULL:
		return "nil";
	case RESP_T_ARRAY:
		return "array";
	case RESP_T_MAP:
		return "map";
	case RESP_T_SET:
		return "set";
	case RESP_T_PUSH:
		return "push";
	case RESP_T_DOUBLE:
		return "double";
	case RESP_T_BOOL:
		return "boolean";
	case RESP_T_VERBATIM:
		return "verbatim string";
	case RESP_T_BIGNUM:
		return "big number";
	}
	return "?";
}

static int bad_shape(const char *cmd, const struct resp_value *v)
{
	err_set("unexpected reply to %s: %s", cmd, type_name(v->type));
	return RASPUTIN_ERR_PROTOCOL;
}

/* out->value = a copy of s[0..n) plus a NUL; present = true. */
static int set_value(rasputin_result *out, const void *s, size_t n)
{
	uint8_t *p = malloc(n + 1);
	if (p == NULL) {
		err_set("out of memory");
		return RASPUTIN_ERR_NOMEM;
	}
	if (n > 0)
		memcpy(p, s, n);
	p[n] = '\0';
	out->value = p;
	out->value_len = n;
	out->present = true;
	return RASPUTIN_OK;
}

/* A bulk string or a null: the value of a key, or its absence. */
static bool is_value(const struct resp_value *v)
{
	return v->type == RESP_T_BULK || v->type == RESP_T_NULL;
}

/* Common entry: validates, locks, clears *out.  Returns with the lock held
 * only on RASPUTIN_OK. */
static int op_begin(rasputin *c, rasputin_result *out)
{
	err_begin(c != NULL ? c->uid : 0);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL) {
		err_set("handle is NULL");
		return RASPUTIN_ERR_INVALID;
	}
	pthread_mutex_lock(&c->mu);
	return RASPUTIN_OK;
}

static bool bytes_ok(const void *p, size_t n)
{
	return p != NULL || n == 0;
}

/* Runs a command whose reply decode() turns into *out. */
typedef int (*decode_fn)(const struct resp_value *v, rasputin_result *r, const void *arg,
			 size_t arg_len);

static int op_run(rasputin *c, bool is_write, size_t argc, const struct resp_arg *argv,
		  decode_fn decode, const void *arg, size_t arg_len, rasputin_result *out)
{
	rasputin_result tmp;
	memset(&tmp, 0, sizeof(tmp));
	int rc = encode(c, is_write, argc, argv);
	struct resp_value *v = NULL;
	if (rc == RASPUTIN_OK)
		rc = rc_run(c, is_write, &v);
	if (rc == RASPUTIN_OK) {
		rc = decode(v, &tmp, arg, arg_len);
		resp_value_free(v);
	}
	pthread_mutex_unlock(&c->mu);
	if (rc != RASPUTIN_OK)
		rasputin_result_free(&tmp);
	else if (out != NULL)
		*out = tmp;
	else
		rasputin_result_free(&tmp);
	return rc;
}

/* SET: +OK; the value after is the one written (arg). */
static int decode_set(const struct resp_value *v, rasputin_result *r, const void *arg,
		      size_t arg_len)
{
	if (v->type != RESP_T_SIMPLE)
		return bad_shape("SET", v);
	r->success = true;
	return set_value(r, arg, arg_len);
}

/* GET: the value, or nil for absence. */
static int decode_get(const struct resp_value *v, rasputin_result *r, const void *arg,
		      size_t arg_len)
{
	(void)arg;
	(void)arg_len;
	if (!is_value(v))
		return bad_shape("GET", v);
	if (v->type == RESP_T_NULL)
		return RASPUTIN_OK;
	r->success = true;
	return set_value(r, v->str, v->len);
}

/* CAS: [1 or 0, the value after (bulk or nil)]. */
static int decode_cas(const struct resp_value *v, rasputin_result *r, const void *arg,
		      size_t arg_len)
{
	(void)arg;
	(void)arg_len;
	if (v->type != RESP_T_ARRAY || v->count != 2)
		return bad_shape("CAS", v);
	const struct resp_value *flag = &v->elems[0];
	const struct resp_value *after = &v->elems[1];
	if ((flag->type != RESP_T_INTEGER && flag->type != RESP_T_BOOL) ||
	    flag->integer < 0 || flag->integer > 1 || !is_value(after)) {
		err_set("unexpected reply to CAS: [%s, %s]", type_name(flag->type),
			type_name(after->type));
		return RASPUTIN_ERR_PROTOCOL;
	}
	r->success = flag->integer == 1;
	if (after->type == RESP_T_NULL)
		return RASPUTIN_OK;
	return set_value(r, after->str, after->len);
}

/* SET key new NX GET (a CAS that expects absence): nil = the key was
 * absent and now holds new (arg); a value = it was present, unchanged. */
static int decode_cas_absent(const struct resp_value *v, rasputin_result *r,
			     const void *arg, size_t arg_len)
{
	if (!is_value(v))
		return bad_shape("SET NX GET", v);
	if (v->type == RESP_T_NULL) {
		r->success = true;
		return set_value(r, arg, arg_len);
	}
	return set_value(r, v->str, v->len);
}

/* GETDEL: the last value, or nil if there was none. */
static int decode_del(const struct resp_value *v, rasputin_result *r, const void *arg,
		      size_t arg_len)
{
	(void)arg;
	(void)arg_len;
	if (!is_value(v))
		return bad_shape("GETDEL", v);
	if (v->type == RESP_T_NULL)
		return RASPUTIN_OK;
	r->success = true;
	return set_value(r, v->str, v->len);
}

static struct resp_arg arg(const void *p, size_t n)
{
	struct resp_arg a = {p != NULL ? (const char *)p : "", n};
	return a;
}

int rasputin_set(rasputin *c, const void *key, size_t key_len, const void *value,
		 size_t value_len, rasputin_result *out)
{
	int rc = op_begin(c, out);
	if (rc != RASPUTIN_OK)
		return rc;
	if (!bytes_ok(key, key_len) || !bytes_ok(value, value_len)) {
		pthread_mutex_unlock(&c->mu);
		err_set("NULL key or value with a non-zero length");
		return RASPUTIN_ERR_INVALID;
	}
	struct resp_arg argv[3] = {{"SET", 3}, arg(key, key_len), arg(value, value_len)};
	return op_run(c, true, 3, argv, decode_set, value, value_len, out);
}

int rasputin_get(rasputin *c, const void *key, size_t key_len, rasputin_result *out)
{
	int rc = op_begin(c, out);
	if (rc != RASPUTIN_OK)
		return rc;
	if (!bytes_ok(key, key_len)) {
		pthread_mutex_unlock(&c->mu);
		err_set("NULL key with a non-zero length");
		return RASPUTIN_ERR_INVALID;
	}
	struct resp_arg argv[2] = {{"GET", 3}, arg(key, key_len)};
	return op_run(c, false, 2, argv, decode_get, NULL, 0, out);
}

int rasputin_cas(rasputin *c, const void *key, size_t key_len, const void *expected,
		 size_t expected_len, const void *new_value, size_t new_len,
		 rasputin_result *out)
{
	int rc = op_begin(c, out);
	if (rc != RASPUTIN_OK)
		return rc;
	if (!bytes_ok(key, key_len) || !bytes_ok(new_value, new_len) ||
	    (expected == NULL && expected_len != 0)) {
		pthread_mutex_unlock(&c->mu);
		err_set("NULL key or value with a non-zero length");
		return RASPUTIN_ERR_INVALID;
	}
	if (expected == NULL) {
		struct resp_arg argv[5] = {{"SET", 3},
					   arg(key, key_len),
					   arg(new_value, new_len),
					   {"NX", 2},
					   {"GET", 3}};
		return op_run(c, true, 5, argv, decode_cas_absent, new_value, new_len,
			      out);
	}
	struct resp_arg argv[4] = {{"CAS", 3},
				   arg(key, key_len),
				   arg(expected, expected_len),
				   arg(new_value, new_len)};
	return op_run(c, true, 4, argv, decode_cas, NULL, 0, out);
}

int rasputin_del(rasputin *c, const void *key, size_t key_len, rasputin_result *out)
{
	int rc = op_begin(c, out);
	if (rc != RASPUTIN_OK)
		return rc;
	if (!bytes_ok(key, key_len)) {
		pthread_mutex_unlock(&c->mu);
		err_set("NULL key with a non-zero length");
		return RASPUTIN_ERR_INVALID;
	}
	struct resp_arg argv[2] = {{"GETDEL", 6}, arg(key, key_len)};
	return op_run(c, true, 2, argv, decode_del, NULL, 0, out);
}

/* ---------------------------------------------------------------------------
 * Raw commands.
 */

static int command_locked(rasputin *c, size_t argc, const char *const *argv,
			  const size_t *argv_len, struct rasputin_reply **reply)
{
	resp_out_reset(&c->req);
	int rc = resp_add_array(&c->req, argc);
	for (size_t i = 0; rc == 0 && i < argc; i++) {
		size_t n = argv_len != NULL ? argv_len[i] : strlen(argv[i]);
		rc = resp_add_bulk(&c->req, argv[i], n);
	}
	if (rc == RP_ERR_NOMEM) {
		err_set("out of memory");
		return RASPUTIN_ERR_NOMEM;
	}
	if (rc < 0) {
		err_set("request too large");
		return RASPUTIN_ERR_INVALID;
	}

	int64_t deadline = rc_now_ms() + c->opt.op_timeout_ms;
	char why[512];
	check_idle_conn(c);
	if (c->conn.fd < 0) {
		rc = connect_round(c, deadline, why, sizeof(why));
		if (rc == RASPUTIN_ERR_UNAVAILABLE)
			err_set("no node reachable: %s", why);
		if (rc != RASPUTIN_OK)
			return rc;
	}
	const char *addr = c->addr_text[c->addr_cur];
	char e[256];
	int io = rc_conn_send(&c->conn, c->req.data, c->req.len, deadline, e, sizeof(e));
	struct resp_value *v = NULL;
	if (io == RC_IO_OK)
		io = rc_conn_read(&c->conn, deadline, &v, e, sizeof(e));
	if (io != RC_IO_OK) {
		drop_conn(c);
		err_set("%s: %s", addr, e);
		switch (io) {
		case RC_IO_TIMEOUT:
			return RASPUTIN_ERR_TIMEOUT;
		case RC_IO_PROTOCOL:
			return RASPUTIN_ERR_PROTOCOL;
		case RC_IO_NOMEM:
			return RASPUTIN_ERR_NOMEM;
		default:
			return RASPUTIN_ERR_UNAVAILABLE;
		}
	}
	rc = rc_reply_from_resp(v, reply);
	resp_value_free(v);
	if (rc < 0) {
		err_set("out of memory");
		return RASPUTIN_ERR_NOMEM;
	}
	return RASPUTIN_OK;
}

int rasputin_command(rasputin *c, size_t argc, const char *const *argv,
		     const size_t *argv_len, struct rasputin_reply **reply)
{
	err_begin(c != NULL ? c->uid : 0);
	if (reply != NULL)
		*reply = NULL;
	if (c == NULL || reply == NULL || argc == 0 || argv == NULL) {
		err_set("bad arguments");
		return RASPUTIN_ERR_INVALID;
	}
	for (size_t i = 0; i < argc; i++) {
		if (argv[i] == NULL && (argv_len == NULL || argv_len[i] != 0)) {
			err_set("argument %zu is NULL", i);
			return RASPUTIN_ERR_INVALID;
		}
	}
	pthread_mutex_lock(&c->mu);
	int rc = command_locked(c, argc, argv, argv_len, reply);
	pthread_mutex_unlock(&c->mu);
	return rc;
}
