/*
 * rc_conn.h — one blocking TCP connection of librasputin, with a deadline
 * on every step: open (resolve, connect), send a whole request, read one
 * whole reply.  Sockets are non-blocking underneath and every wait is a
 * poll() bounded by the caller's deadline, so no call ever blocks longer
 * than asked.  Writes use MSG_NOSIGNAL (no SIGPIPE).
 *
 * Deadlines are absolute times on rc_now_ms()'s monotonic clock.  Errors
 * come back as RC_IO_* codes with a message in the caller's buffer; after
 * any error other than RC_IO_NOMEM the connection is unusable and the
 * caller closes it.
 */
#ifndef RASPUTIN_CLIENT_RC_CONN_H
#define RASPUTIN_CLIENT_RC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/resp.h"

enum {
	RC_IO_OK = 0,
	RC_IO_CLOSED = -1,   /* refused, reset, closed by the peer, or no route */
	RC_IO_TIMEOUT = -2,  /* the deadline passed */
	RC_IO_PROTOCOL = -3, /* the peer sent bytes that are not RESP */
	RC_IO_NOMEM = -4,
	RC_IO_INVALID = -5, /* the address does not resolve */
};

/* Milliseconds on a monotonic clock (CLOCK_MONOTONIC). */
int64_t rc_now_ms(void);

/* Sleeps until the monotonic clock reads at least until_ms. */
void rc_sleep_until_ms(int64_t until_ms);

/* Caller-owned.  fd < 0 means closed. */
struct rc_conn {
	int fd;
	struct resp_reader reader;
	bool reader_ready; /* reader is initialised (fd >= 0 implies it) */
	/* Bytes received but not yet fed to the reader: in[pos..len). */
	size_t in_pos, in_len;
	char in[16384];
};

/* Prepares a closed connection. */
void rc_conn_init(struct rc_conn *c);

/* Closes the socket (if open) and drops any partial reply. */
void rc_conn_close(struct rc_conn *c);

/*
 * Connects to host:port (host a name or a numeric address; every address
 * it resolves to is tried in turn) before deadline_ms.  The connection
 * must be closed.  On failure writes "connect: <reason>" into err.
 */
int rc_conn_open(struct rc_conn *c, const char *host, const char *port,
		 int64_t deadline_ms, char *err, size_t err_size);

/* Sends buf[0..len) completely before deadline_ms. */
int rc_conn_send(struct rc_conn *c, const char *buf, size_t len, int64_t deadline_ms,
		 char *err, size_t err_size);

/*
 * Reads the next reply before deadline_ms: *out is a tree the caller frees
 * with resp_value_free.  RESP3 push messages (out of band) are skipped.
 */
int rc_conn_read(struct rc_conn *c, int64_t deadline_ms, struct resp_value **out,
		 char *err, size_t err_size);

/* True if the peer has closed the connection (or it failed) while we were
 * not using it, e.g. a server that drops idle clients: checked before a
 * request so that it goes out on a fresh connection instead of being lost
 * (which would leave a write's fate unknown).  Never blocks. */
bool rc_conn_peer_closed(const struct rc_conn *c);

/* True if bytes of a reply nobody asked for are waiting (a desynchronised
 * stream: the caller should close the connection). */
bool rc_conn_has_stray_bytes(const struct rc_conn *c);

#endif
