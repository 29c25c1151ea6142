/*
 * rasputin.h — librasputin, the C client of the rasputin key-value store.
 *
 * A blocking client over plain TCP sockets that speaks the Redis protocol
 * to any node of a cluster (every node forwards to the leader).  It mirrors
 * the original rasputin client: set, get, cas and del, where a CAS returns
 * the key's value after the operation and a success flag, a DEL returns the
 * last value, and a GET reports absence as absence, never as "".
 *
 * Exactly once.  Every write (set, cas, del) runs under a session: the
 * handle holds a random client id, numbers its writes 1, 2, 3, ... and sends
 * each as `RASPUTIN SEQ <client-id> <seq> <command...>`.  When an attempt's
 * fate is unknown (the connection broke, no answer in time, -UNCERTAIN) or
 * the cluster could not take it (-NOLEADER, -BUSY), the handle retries with
 * the SAME sequence number, on the same or another node, until the
 * operation's deadline; the server applies a (client id, seq) at most once
 * and answers a retry with the first result.  Reads are sent as they are
 * (the server makes them linearizable) and retried freely.
 *
 * Threads.  A handle may be shared by threads: a mutex inside serializes the
 * calls, so one call runs at a time per handle and the others wait (for up
 * to the running call's op_timeout_ms).  Use one handle per thread for
 * parallelism.  rasputin_close must not race with other calls on the handle.
 *
 * Signals.  Sockets are written with MSG_NOSIGNAL: a peer that goes away
 * never raises SIGPIPE in the caller.
 *
 * Return codes.  Every int-returning function returns RASPUTIN_OK (0) or
 * one of the negative RASPUTIN_ERR_* codes below; rasputin_strerror names
 * the code and rasputin_last_error says what exactly failed.
 */
#ifndef RASPUTIN_H
#define RASPUTIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RASPUTIN_VERSION "0.1.0"

enum {
	RASPUTIN_OK = 0,
	/* A bad argument: NULL where a value is needed, an address that is
	 * not "host:port", a timeout <= 0. */
	RASPUTIN_ERR_INVALID = -1,
	RASPUTIN_ERR_NOMEM = -2,
	/* No node could take the request before the deadline (none reachable,
	 * or every one answered NOLEADER or BUSY); a write was NOT applied. */
	RASPUTIN_ERR_UNAVAILABLE = -3,
	/* A read (or rasputin_command) was sent but no answer came in time. */
	RASPUTIN_ERR_TIMEOUT = -4,
	/* op_timeout_ms passed while a write's fate was unknown: it may or may
	 * not have been applied (exactly once, if at all). */
	RASPUTIN_ERR_UNCERTAIN = -5,
	/* The server refused the request; rasputin_last_error has its message
	 * (for example "ERR ..." or "SESSION ..."). */
	RASPUTIN_ERR_SERVER = -6,
	/* The server sent bytes that are not RESP, or a reply of the wrong
	 * shape for the command (a write's fate is then unknown). */
	RASPUTIN_ERR_PROTOCOL = -7,
};

/* Never NULL: a short description of rc ("unknown error" outside the table). */
const char *rasputin_strerror(int rc);

typedef struct rasputin rasputin;

typedef struct {
	/* Time to open one TCP connection (and AUTH on it).  Default 1000. */
	int connect_timeout_ms;
	/* The whole operation including every retry.  Default 10000. */
	int op_timeout_ms;
	/* One attempt (send + wait for the reply) before the handle gives up
	 * on that node and retries elsewhere; 0 means op_timeout_ms.
	 * Default 6000: longer than the server's request-timeout-ms (5000 by
	 * default), so a live node's verdict (-NOLEADER: nothing was done)
	 * arrives first and only a dead or frozen node runs out this clock. */
	int attempt_timeout_ms;
	/* The session id for writes; 0 picks a random non-zero one. */
	uint64_t client_id;
	/* Sent as `AUTH <password>` on every new connection; NULL for none.
	 * Copied by rasputin_connect. */
	const char *password;
} rasputin_options;

/* Fills *o with the defaults above. */
void rasputin_options_default(rasputin_options *o);

/*
 * Opens a handle on a cluster.  addrs[0..count) are "host:port" client
 * addresses of any nodes ("[::1]:7001" for IPv6 literals); they are copied.
 * The handle connects to the first one that accepts (in the order given)
 * and later moves on to the next one whenever a node fails.  opt may be
 * NULL for the defaults.
 *   RASPUTIN_OK           *out is the handle; free it with rasputin_close.
 *   RASPUTIN_ERR_INVALID  bad arguments (an address that is not host:port).
 *   RASPUTIN_ERR_UNAVAILABLE  no address accepted a connection; every
 *                         address was tried once, each for up to
 *                         connect_timeout_ms.
 *   RASPUTIN_ERR_SERVER   AUTH was refused.
 * On failure *out is NULL and rasputin_last_error(NULL) says why.
 * Host names are resolved (getaddrinfo) on every new connection; the
 * timeouts bound the connection, not a slow resolver.
 */
int rasputin_connect(const char *const *addrs, size_t count, const rasputin_options *opt,
		     rasputin **out);

/* Closes the connection and frees the handle.  NULL is fine. */
void rasputin_close(rasputin *c);

/*
 * The outcome of set, get, cas and del.  value is malloc'd by the library,
 * value_len bytes plus a NUL that is not counted (binary values may contain
 * NULs of their own); it is NULL when present is false.  The caller frees
 * it with rasputin_result_free (which also accepts a result that a failed
 * call left cleared).
 */
typedef struct {
	bool success;	  /* the operation did what it was asked (see each) */
	bool present;	  /* the key has a value: value/value_len are it */
	uint8_t *value;	  /* owned by the result; NULL when !present */
	size_t value_len; /* bytes at value, not counting the NUL */
} rasputin_result;

/* Frees r->value and clears *r.  NULL is fine. */
void rasputin_result_free(rasputin_result *r);

/*
 * The operations.  key/key_len and the values are arbitrary bytes (a
 * pointer may be NULL only when its length is 0).  out may be NULL when
 * the caller does not want the result; otherwise it is cleared first, so
 * after an error it holds nothing to free (but freeing it is fine).
 *
 * Writes (set, cas, del) return RASPUTIN_ERR_UNCERTAIN when the deadline
 * passed after an attempt whose fate is unknown, RASPUTIN_ERR_UNAVAILABLE
 * when no attempt can have been applied.  All may return
 * RASPUTIN_ERR_SERVER (the message in rasputin_last_error), including for
 * "SESSION ..." (the server forgot this handle's session: the handle then
 * starts a new one with a new random client id for its next writes).
 */

/* SET key value.  success = present = true, value = a copy of value. */
int rasputin_set(rasputin *c, const void *key, size_t key_len, const void *value,
		 size_t value_len, rasputin_result *out);

/* GET key.  If the key exists: success = present = true and value is its
 * value (possibly empty).  If not: success = present = false, value NULL. */
int rasputin_get(rasputin *c, const void *key, size_t key_len, rasputin_result *out);

/*
 * Compare and swap: if the key's value equals expected, set it to new.
 * expected NULL means "expect the key to be absent" (expected_len must then
 * be 0); an absent key never equals any expected string, not even "".
 * success = the swap happened; present/value = the key's value after the
 * operation (the new value on success, the value that did not match
 * otherwise, absent if the key did not exist).
 */
int rasputin_cas(rasputin *c, const void *key, size_t key_len, const void *expected,
		 size_t expected_len, const void *new_value, size_t new_len,
		 rasputin_result *out);

/* Delete key.  success = the key existed; present/value = its last value
 * (present = false if there was none). */
int rasputin_del(rasputin *c, const void *key, size_t key_len, rasputin_result *out);

/*
 * The message for this thread's most recent failed call: the server's
 * error text ("ERR wrong number of arguments ..."), or what failed
 * ("127.0.0.1:7001: connect: Connection refused").  "" after a call that
 * succeeded.  The message is kept per thread, so handles shared between
 * threads do not mix their messages; with c != NULL it is "" unless that
 * call was on c, with c == NULL it is the last call on any handle
 * (use NULL after a failed rasputin_connect).  The string is valid until
 * this thread's next call into the library.
 */
const char *rasputin_last_error(const rasputin *c);

/* The session id this handle's writes carry. */
uint64_t rasputin_client_id(const rasputin *c);

/* "host:port" of the node the handle is connected to, NULL if none.  The
 * string lives as long as the handle. */
const char *rasputin_current_addr(const rasputin *c);

/* ---------------------------------------------------------------------------
 * A raw command, for rasputin-cli and for commands the API above lacks.
 */
enum rasputin_reply_type {
	RASPUTIN_REPLY_STATUS = 1, /* +OK: str */
	RASPUTIN_REPLY_ERROR,	   /* -ERR ...: str */
	RASPUTIN_REPLY_INTEGER,	   /* integer */
	RASPUTIN_REPLY_STRING,	   /* bulk string: str (binary safe, len) */
	RASPUTIN_REPLY_NIL,	   /* null bulk, null array, RESP3 null */
	RASPUTIN_REPLY_ARRAY,	   /* elems[0..count) */
	RASPUTIN_REPLY_MAP,	   /* elems alternate key, value; count = 2 * pairs */
	RASPUTIN_REPLY_SET,	   /* elems */
	RASPUTIN_REPLY_PUSH,	   /* elems (out-of-band data) */
	RASPUTIN_REPLY_DOUBLE,	   /* dbl, and str its text */
	RASPUTIN_REPLY_BOOL,	   /* integer 0 or 1 */
	RASPUTIN_REPLY_VERBATIM,   /* str (without the "txt:" prefix), format */
	RASPUTIN_REPLY_BIGNUM,	   /* str: the decimal digits */
};

struct rasputin_reply {
	enum rasputin_reply_type type;
	int64_t integer;
	double dbl;
	char *str; /* len bytes + NUL for the types marked str; else NULL */
	size_t len;
	char format[4]; /* VERBATIM: "txt", "mkd", ... */
	struct rasputin_reply *elems;
	size_t count;
};

/*
 * Sends argv[0..argc) (argv_len[i] bytes each; argv_len NULL means every
 * argument is a NUL-terminated string) as one command and returns the
 * reply tree in *reply (error replies included: check type ==
 * RASPUTIN_REPLY_ERROR).  No retries and no session: if there is no
 * connection, the handle tries each address once; if the connection fails
 * during the call it is closed and the next call reconnects.  Bounded by
 * op_timeout_ms.  Free *reply with rasputin_reply_free.
 *   RASPUTIN_ERR_UNAVAILABLE  no node reachable, or the connection broke;
 *   RASPUTIN_ERR_TIMEOUT      sent, but no reply in time.
 */
int rasputin_command(rasputin *c, size_t argc, const char *const *argv,
		     const size_t *argv_len, struct rasputin_reply **reply);

/* Frees a reply tree from rasputin_command.  NULL is fine. */
void rasputin_reply_free(struct rasputin_reply *reply);

#ifdef __cplusplus
}
#endif

#endif
