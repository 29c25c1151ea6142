/*
 * log.h — the project's logger: one line per event, written with a single
 * write(2), so that lines from several threads (the event loop, the WAL
 * writer) never interleave and no lock is needed.
 *
 * A line looks like
 *
 *     2026-11-22T00:40:00.123Z I n3 leader elected term=7
 *
 * UTC wall-clock time with milliseconds, a level letter (D I W E), the
 * prefix set with rp_log_set_prefix (omitted while empty) and the message.
 * A line is at most RP_LOG_LINE_MAX bytes including its newline; a longer
 * message is cut and ends in "...".  CR and LF inside a message become
 * spaces and other control bytes become '?', so one call is always exactly
 * one line and a logged key cannot forge lines or drive a terminal.
 *
 * Until rp_log_open is called, lines go to stderr at level info.
 *
 * Threads: rp_log, rp_log_enabled and rp_log_set_level may be called from
 * any thread at any time.  rp_log_open, rp_log_reopen, rp_log_close and
 * rp_log_set_prefix belong to the main thread; open and reopen swap the
 * file underneath a file descriptor number that stays the same (dup2), so
 * other threads may keep logging meanwhile.  rp_log_close must run only
 * after other threads have stopped logging.  Nothing here is
 * async-signal-safe: a SIGHUP handler sets a flag (or uses uv_signal) and
 * the loop calls rp_log_reopen.
 */
#ifndef RASPUTIN_UTIL_LOG_H
#define RASPUTIN_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
	RP_LOG_DEBUG = 0,
	RP_LOG_INFO = 1,
	RP_LOG_WARN = 2,
	RP_LOG_ERROR = 3,
} rp_log_level;

enum {
	RP_LOG_LINE_MAX = 4096, /* bytes in one line, newline included */
	RP_LOG_PREFIX_MAX = 64, /* bytes of prefix kept, NUL included */
};

/* Sends lines to `path`, opened for appending (created 0640 if missing),
 * or to stderr when path is NULL or "", and sets the level.  Replaces
 * any previous destination.  Returns 0, or a negative util/err.h code with
 * one line in err (which may be NULL) naming the path and the reason; the
 * previous destination is then kept. */
int rp_log_open(const char *path, rp_log_level level, char *err, size_t err_cap);

/* For log rotation (SIGHUP): opens the same path again, so lines go to
 * the new file once the old one has been renamed away.  If that fails,
 * logging continues into the old file, a warning there says why, and the
 * code is returned.  Logging to stderr: nothing to do, returns 0. */
int rp_log_reopen(void);

/* Closes the log file and goes back to stderr (level unchanged). */
void rp_log_close(void);

/* "debug", "info", "warn" (or "warning"), "error", any case.  Returns 0,
 * or RP_ERR_INVALID leaving *out alone. */
int rp_log_parse_level(const char *s, rp_log_level *out);
/* "debug", "info", "warn" or "error". */
const char *rp_log_level_name(rp_log_level level);

void rp_log_set_level(rp_log_level level);
rp_log_level rp_log_get_level(void);
/* Whether a line at this level would be written: a guard for log calls
 * whose arguments are expensive to compute. */
bool rp_log_enabled(rp_log_level level);

/* Node identity shown in every line, e.g. "n3"; NULL or "" for none.
 * Cut to RP_LOG_PREFIX_MAX - 1 bytes.  Call it from the main thread; a
 * change while another thread logs is safe, two changes in quick
 * succession while another thread logs are not. */
void rp_log_set_prefix(const char *prefix);

/* Writes one line if `level` passes the filter (checked before any
 * formatting).  Never fails visibly: a line that cannot be written is
 * counted in rp_log_dropped_count. */
void rp_log(rp_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Lines that could not be written (write error or short write). */
uint64_t rp_log_dropped_count(void);

#define RP_DEBUG(...) rp_log(RP_LOG_DEBUG, __VA_ARGS__)
#define RP_INFO(...) rp_log(RP_LOG_INFO, __VA_ARGS__)
#define RP_WARN(...) rp_log(RP_LOG_WARN, __VA_ARGS__)
#define RP_ERROR(...) rp_log(RP_LOG_ERROR, __VA_ARGS__)

#endif
