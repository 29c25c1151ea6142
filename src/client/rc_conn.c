/*
 * rc_conn.c — a TCP connection whose every step ends by a deadline (see
 * rc_conn.h).  The socket is non-blocking; each step first tries the
 * system call and only then waits in poll() for what is left of the time,
 * so a reply that already arrived is read even at the deadline.
 */
#define _GNU_SOURCE
#include "client/rc_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/check.h"
#include "util/err.h"

int64_t rc_now_ms(void)
{
	struct timespec ts;
	int rc = clock_gettime(CLOCK_MONOTONIC, &ts);
	RP_CHECK(rc == 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rc_sleep_until_ms(int64_t until_ms)
{
	for (;;) {
		int64_t left = until_ms - rc_now_ms();
		if (left <= 0)
			return;
		struct timespec ts = {.tv_sec = (time_t)(left / 1000),
				      .tv_nsec = (long)(left % 1000) * 1000000L};
		nanosleep(&ts, NULL); /* EINTR: the loop sleeps the rest */
	}
}

/* errno's text without strerror's shared buffer (the GNU strerror_r). */
static const char *errno_text(int e, char *buf, size_t size)
{
	return strerror_r(e, buf, size);
}

static void set_err(char *err, size_t err_size, const char *what, int e)
{
	char tmp[128];
	snprintf(err, err_size, "%s: %s", what, errno_text(e, tmp, sizeof(tmp)));
}

/* Waits until fd is ready for events or the deadline passes: 1 ready (or
 * an error condition the next system call will report), 0 timed out. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - rc_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events, .revents = 0};
		int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 1; /* let the caller's syscall report it */
	}
}

void rc_conn_init(struct rc_conn *c)
{
	RP_CHECK(c != NULL);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void rc_conn_close(struct rc_conn *c)
{
	RP_CHECK(c != NULL);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->reader_ready)
		resp_reader_deinit(&c->reader);
	c->reader_ready = false;
	c->in_pos = 0;
	c->in_len = 0;
}

/* One non-blocking connect to one resolved address: fd or -errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline_ms)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (!wait_fd(fd, POLLOUT, deadline_ms)) {
			close(fd);
			return -ETIMEDOUT;
		}
		int so = 0;
		socklen_t len = sizeof(so);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0)
			so = errno;
		if (so != 0) {
			close(fd);
			return -so;
		}
	}
	/* Requests are small and each waits for its reply: no Nagle delay. */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int rc_conn_open(struct rc_conn *c, const char *host, const char *port,
		 int64_t deadline_ms, char *err, size_t err_size)
{
	RP_CHECK(c != NULL);
	RP_CHECK(c->fd < 0);
	RP_CHECK(host != NULL);
	RP_CHECK(port != NULL);

	struct addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		snprintf(err, err_size, "resolve: %s", gai_strerror(g));
		return g == EAI_MEMORY ? RC_IO_NOMEM : RC_IO_INVALID;
	}
	int fd = -ENOENT;
	for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		fd = connect_one(ai, deadline_ms);
		if (fd >= 0 || fd == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		set_err(err, err_size, "connect", -fd);
		return fd == -ETIMEDOUT ? RC_IO_TIMEOUT : RC_IO_CLOSED;
	}
	c->fd = fd;
	resp_reader_init(&c->reader, NULL);
	c->reader_ready = true;
	c->in_pos = 0;
	c->in_len = 0;
	return RC_IO_OK;
}

int rc_conn_send(struct rc_conn *c, const char *buf, size_t len, int64_t deadline_ms,
		 char *err, size_t err_size)
{
	RP_CHECK(c != NULL);
	RP_CHECK(c->fd >= 0);
	RP_CHECK(buf != NULL || len == 0);
	size_t done = 0;
	while (done < len) {
		ssize_t n =
		    send(c->fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!wait_fd(c->fd, POLLOUT, deadline_ms)) {
				snprintf(err, err_size, "send: timed out");
				return RC_IO_TIMEOUT;
			}
			continue;
		}
		set_err(err, err_size, "send", n < 0 ? errno : EPIPE);
		return RC_IO_CLOSED;
	}
	return RC_IO_OK;
}

bool rc_conn_peer_closed(const struct rc_conn *c)
{
	RP_CHECK(c != NULL);
	RP_CHECK(c->fd >= 0);
	struct pollfd p = {.fd = c->fd, .events = POLLIN, .revents = 0};
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
		return true;
	char byte;
	ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return true;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

bool rc_conn_has_stray_bytes(const struct rc_conn *c)
{
	RP_CHECK(c != NULL);
	return c->in_pos < c->in_len;
}

int rc_conn_read(struct rc_conn *c, int64_t deadline_ms, struct resp_value **out,
		 char *err, size_t err_size)
{
	RP_CHECK(c != NULL);
	RP_CHECK(c->fd >= 0);
	RP_CHECK(out != NULL);
	*out = NULL;
	for (;;) {
		if (c->in_pos < c->in_len) {
			size_t used = 0;
			struct resp_value *v = NULL;
			int rc = resp_reader_feed(&c->reader, c->in + c->in_pos,
						  c->in_len - c->in_pos, &used, &v);
			if (rc < 0) {
				const char *m = resp_reader_errmsg(&c->reader);
				snprintf(err, err_size, "bad reply: %s",
					 m[0] ? m : resp_strerror(rc));
				return rc == RP_ERR_NOMEM ? RC_IO_NOMEM : RC_IO_PROTOCOL;
			}
			c->in_pos += used;
			if (c->in_pos == c->in_len) {
				c->in_pos = 0;
				c->in_len = 0;
			}
			if (rc == 1) {
				RP_CHECK(v != NULL);
				if (v->type == RESP_T_PUSH) {
					resp_value_free(v);
					continue;
				}
				*out = v;
				return RC_IO_OK;
			}
			RP_CHECK(c->in_len == 0);
		}
		ssize_t n = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);
		if (n > 0) {
			c->in_pos = 0;
			c->in_len = (size_t)n;
			continue;
		}
		if (n == 0) {
			snprintf(err, err_size, "connection closed by the server");
			return RC_IO_CLOSED;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (!wait_fd(c->fd, POLLIN, deadline_ms)) {
				snprintf(err, err_size, "no reply in time");
				return RC_IO_TIMEOUT;
			}
			continue;
		}
		set_err(err, err_size, "recv", errno);
		return RC_IO_CLOSED;
	}
}
