/*
 * log.c — the logger of log.h.
 *
 * The destination is one file descriptor number, g_fd, read by every
 * logging thread without a lock.  It is 2 (stderr) until a file is opened;
 * after that the number never changes until rp_log_close: opening another
 * file or reopening after rotation moves the new open file description onto
 * the same number with dup2, which is atomic, so a concurrent writer writes
 * either to the old file or to the new one, never to a closed or reused
 * descriptor.
 *
 * Each line is formatted into a stack buffer and written with one write(2)
 * on an O_APPEND descriptor: lines from several threads do not interleave.
 */
#define _POSIX_C_SOURCE 200809L
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/check.h"
#include "util/err.h"

enum {
	LOG_PATH_MAX = 4096,
	LOG_EINTR_TRIES = 100,
	LOG_FILE_MODE = 0640,
};

static atomic_int g_fd = 2;  /* where lines go */
static atomic_bool g_own_fd; /* g_fd is ours (a file), not stderr */
static atomic_int g_level = RP_LOG_INFO;
static atomic_uint_fast64_t g_dropped;
/* Two prefix buffers: a change writes the one not in use, then publishes it. */
static char g_prefix[2][RP_LOG_PREFIX_MAX];
static atomic_int g_prefix_slot;
static char g_path[LOG_PATH_MAX]; /* "" while logging to stderr; main thread only */

static int errno_code(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		return RP_ERR_NOTFOUND;
	case ENOSPC:
	case EDQUOT:
		return RP_ERR_NOSPC;
	case ENOMEM:
		return RP_ERR_NOMEM;
	case EACCES:
	case EPERM:
	case EISDIR:
	case ENAMETOOLONG:
	case EROFS:
		return RP_ERR_INVALID;
	default:
		return RP_ERR_IO;
	}
}

static void set_err(char *err, size_t err_cap, const char *path, int e)
{
	if (err != NULL && err_cap > 0)
		snprintf(err, err_cap, "cannot open log file '%s': %s", path,
			 strerror(e));
}

static int open_append(const char *path)
{
	int fd;
	int tries = 0;
	do {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, LOG_FILE_MODE);
	} while (fd < 0 && errno == EINTR && ++tries < LOG_EINTR_TRIES);
	return fd;
}

/* Makes g_fd refer to what `fd` refers to, consuming `fd`. */
static int install_fd(int fd)
{
	if (!atomic_load(&g_own_fd)) {
		/* Writers that still hold 2 write to stderr: harmless. */
		atomic_store(&g_fd, fd);
		atomic_store(&g_own_fd, true);
		return 0;
	}
	int cur = atomic_load(&g_fd);
	int rc;
	int tries = 0;
	do {
		rc = dup2(fd, cur);
	} while (rc < 0 && errno == EINTR && ++tries < LOG_EINTR_TRIES);
	int e = errno;
	close(fd);
	if (rc < 0)
		return errno_code(e);
	return 0;
}

int rp_log_open(const char *path, rp_log_level level, char *err, size_t err_cap)
{
	RP_CHECK(level >= RP_LOG_DEBUG);
	RP_CHECK(level <= RP_LOG_ERROR);
	if (err != NULL && err_cap > 0)
		err[0] = '\0';
	if (path == NULL || path[0] == '\0') {
		if (atomic_load(&g_own_fd)) {
			int fd = dup(2);
			if (fd < 0) {
				int e = errno;
				if (err != NULL && err_cap > 0)
					snprintf(err, err_cap, "cannot log to stderr: %s",
						 strerror(e));
				return errno_code(e);
			}
			int rc = install_fd(fd);
			if (rc < 0) {
				if (err != NULL && err_cap > 0)
					snprintf(err, err_cap, "cannot log to stderr: %s",
						 rp_strerror(rc));
				return rc;
			}
		}
		g_path[0] = '\0';
		atomic_store(&g_level, (int)level);
		return 0;
	}
	size_t len = strlen(path);
	if (len >= sizeof(g_path)) {
		if (err != NULL && err_cap > 0)
			snprintf(err, err_cap, "log file path is longer than %d bytes",
				 LOG_PATH_MAX - 1);
		return RP_ERR_INVALID;
	}
	int fd = open_append(path);
	if (fd < 0) {
		int e = errno;
		set_err(err, err_cap, path, e);
		return errno_code(e);
	}
	int rc = install_fd(fd);
	if (rc < 0) {
		if (err != NULL && err_cap > 0)
			snprintf(err, err_cap, "cannot switch to log file '%s': %s", path,
				 rp_strerror(rc));
		return rc;
	}
	memcpy(g_path, path, len + 1);
	atomic_store(&g_level, (int)level);
	return 0;
}

int rp_log_reopen(void)
{
	if (g_path[0] == '\0')
		return 0;
	RP_CHECK(atomic_load(&g_own_fd));
	int fd = open_append(g_path);
	if (fd < 0) {
		int e = errno;
		RP_WARN("log: cannot reopen '%s' (%s); still writing to the old file",
			g_path, strerror(e));
		return errno_code(e);
	}
	int rc = install_fd(fd);
	if (rc < 0) {
		RP_WARN(
		    "log: cannot switch to the reopened '%s' (%s); still writing to the "
		    "old file",
		    g_path, rp_strerror(rc));
		return rc;
	}
	return 0;
}

void rp_log_close(void)
{
	if (!atomic_load(&g_own_fd))
		return;
	int fd = atomic_load(&g_fd);
	atomic_store(&g_fd, 2);
	atomic_store(&g_own_fd, false);
	g_path[0] = '\0';
	close(fd);
}

int rp_log_parse_level(const char *s, rp_log_level *out)
{
	RP_CHECK(out != NULL);
	if (s == NULL)
		return RP_ERR_INVALID;
	if (strcasecmp(s, "debug") == 0)
		*out = RP_LOG_DEBUG;
	else if (strcasecmp(s, "info") == 0)
		*out = RP_LOG_INFO;
	else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		*out = RP_LOG_WARN;
	else if (strcasecmp(s, "error") == 0)
		*out = RP_LOG_ERROR;
	else
		return RP_ERR_INVALID;
	return 0;
}

const char *rp_log_level_name(rp_log_level level)
{
	switch (level) {
	case RP_LOG_DEBUG:
		return "debug";
	case RP_LOG_INFO:
		return "info";
	case RP_LOG_WARN:
		return "warn";
	case RP_LOG_ERROR:
		return "error";
	}
	RP_CHECK(0); /* a level outside the enum */
	return "?";
}

void rp_log_set_level(rp_log_level level)
{
	RP_CHECK(level >= RP_LOG_DEBUG);
	RP_CHECK(level <= RP_LOG_ERROR);
	atomic_store_explicit(&g_level, (int)level, memory_order_relaxed);
}

rp_log_level rp_log_get_level(void)
{
	return (rp_log_level)atomic_load_explicit(&g_level, memory_order_relaxed);
}

bool rp_log_enabled(rp_log_level level)
{
	return (int)level >= atomic_load_explicit(&g_level, memory_order_relaxed);
}

void rp_log_set_prefix(const char *prefix)
{
	int next = 1 - atomic_load(&g_prefix_slot);
	char *dst = g_prefix[next];
	size_t len = prefix == NULL ? 0 : strlen(prefix);
	if (len > RP_LOG_PREFIX_MAX - 1)
		len = RP_LOG_PREFIX_MAX - 1;
	if (len > 0)
		memcpy(dst, prefix, len);
	dst[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)dst[i];
		if (c < 0x20 || c == 0x7f)
			dst[i] = '?';
	}
	atomic_store(&g_prefix_slot, next);
}

uint64_t rp_log_dropped_count(void)
{
	return (uint64_t)atomic_load(&g_dropped);
}

static const char level_letter[] = {'D', 'I', 'W', 'E'};

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ L prefix " into buf; returns its length. */
static size_t format_header(char *buf, size_t cap, rp_log_level level)
{
	struct timespec ts;
	struct tm tm;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
		ts.tv_sec = 0;
		ts.tv_nsec = 0;
	}
	if (gmtime_r(&ts.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	const char *prefix = g_prefix[atomic_load(&g_prefix_slot)];
	int n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %c%s%s ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
			 tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000),
			 level_letter[level], prefix[0] != '\0' ? " " : "", prefix);
	RP_CHECK(n > 0);
	RP_CHECK((size_t)n < cap);
	return (size_t)n;
}

void rp_log(rp_log_level level, const char *fmt, ...)
{
	RP_CHECK(level >= RP_LOG_DEBUG);
	RP_CHECK(level <= RP_LOG_ERROR);
	if (!rp_log_enabled(level))
		return;

	char line[RP_LOG_LINE_MAX];
	size_t hdr = format_header(line, sizeof(line), level);
	/* Room for the message, its NUL while formatting, later the newline. */
	size_t room = sizeof(line) - hdr - 1;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + hdr, room + 1, fmt, ap);
	va_end(ap);
	size_t msg;
	if (n < 0) {
		const char *bad = "(log message could not be formatted)";
		msg = strlen(bad);
		memcpy(line + hdr, bad, msg);
	} else if ((size_t)n > room) {
		msg = room;
		memcpy(line + hdr + msg - 3, "...", 3);
	} else {
		msg = (size_t)n;
	}
	for (size_t i = hdr; i < hdr + msg; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '\r' || c == '\n')
			line[i] = ' ';
		else if ((c < 0x20 && c != '\t') || c == 0x7f)
			line[i] = '?';
	}
	line[hdr + msg] = '\n';
	size_t len = hdr + msg + 1;
	RP_CHECK(len <= RP_LOG_LINE_MAX);

	int fd = atomic_load_explicit(&g_fd, memory_order_acquire);
	ssize_t w;
	int tries = 0;
	do {
		w = write(fd, line, len);
	} while (w < 0 && errno == EINTR && ++tries < LOG_EINTR_TRIES);
	/* A short write is not completed: a second write could interleave
	 * with another thread's line.  The line is counted as dropped. */
	if (w < 0 || (size_t)w != len)
		atomic_fetch_add(&g_dropped, 1);
}
