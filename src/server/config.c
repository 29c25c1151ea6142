/*
 * config.c — rasputind's settings (config.h).
 *
 * One table, srv_opts[], describes every setting once: its flag name, the
 * field it fills, how its value is parsed, its range, its --help group and
 * line.  The command line, the config file, srv_config_check and --help
 * all read that table, so a setting cannot be parseable in one place and
 * missing from another.
 *
 * Parsing runs in two passes over argv.  The first only splits arguments
 * into options and values, finds --help/--version (which win over any
 * error) and the --config path; the second applies the values, after the
 * file has been applied, so the command line overrides the file wherever
 * --config appears.  Error text is built as a body ("'abc' is not a port
 * number (1-65535)") to which the caller adds where it came from ("--peer-port: "
 * or "config FILE:LINE: peer-port: "), always as one line: values quoted in
 * a message are cut short and their control bytes replaced.
 */
#define _POSIX_C_SOURCE 200809L
#include "server/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storage/sm_vcache.h"
#include "util/check.h"
#include "util/err.h"
#include "util/log.h"

enum {
	CONFIG_FILE_MAX_BYTES = 1 << 20, /* a config file larger than this is refused */
	CONFIG_VALUE_MAX = 8192,	 /* one decoded value in a config file */
	MSG_MAX = 512,			 /* one error body */
	QUOTE_MAX = 64,			 /* bytes of a bad value shown in a message */
	OUTPUT_LIMIT_MARGIN_BYTES = 1024,
	HOSTNAME_MAX = 253,
	LABEL_MAX = 63,
};

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

typedef enum {
	K_BOOL,	    /* bool; no value on the command line means true */
	K_NOT_BOOL, /* bool stored inverted (--no-lease-reads) */
	K_NODE_ID,  /* uint64_t, decimal, non-zero */
	K_PORT,	    /* uint16_t, 1..65535 */
	K_U32,
	K_U64,
	K_I32,
	K_SIZE32, /* uint32_t with k/m/g suffixes */
	K_SIZE64, /* uint64_t with k/m/g suffixes */
	K_STR,	  /* char[size]; "" allowed where EMPTY_OK */
	K_HOST,	  /* char[SRV_ADDR_MAX]: address or host name, brackets removed */
	K_SEEDS,  /* seed_peers + seed_count */
	K_LEVEL,  /* char[16]: a log level, stored by its canonical name */
	K_CONFIG, /* --config: handled before the other options */
	K_HELP,
	K_VERSION,
} opt_kind;

typedef enum {
	G_CLUSTER,
	G_NETWORK,
	G_STORAGE,
	G_LIMITS,
	G_TIMING,
	G_DEBUG,
	G_GENERAL,
	G_COUNT,
} opt_group;

static const char *const group_title[G_COUNT] = {
    "Cluster",
    "Network",
    "Storage and logs",
    "Limits",
    "Consensus timing",
    "Debug (UNSAFE: for the fault-testing harness only, never in production)",
    "General",
};

enum { EMPTY_OK = 1 }; /* flags: "" is a valid value */

typedef struct {
	const char *name;  /* long flag without the dashes = config file name */
	const char *alias; /* another accepted name, or NULL */
	opt_kind kind;
	size_t off;  /* of the field in srv_config */
	size_t size; /* of the field (strings: buffer size) */
	int64_t lo;  /* numeric range, inclusive */
	uint64_t hi;
	unsigned flags;
	opt_group group;
	const char *metavar;	/* shown after the flag in --help; NULL for switches */
	const char *empty_text; /* --help's default column when the default is empty/0 */
	const char *help;	/* one line */
} srv_opt;

#define F(field) offsetof(srv_config, field), sizeof(((srv_config *)0)->field)
#define NOFIELD 0, 0

static const srv_opt srv_opts[] = {
    /* Cluster */
    {"node-id", NULL, K_NODE_ID, F(node_id), 1, UINT64_MAX, 0, G_CLUSTER, "N",
     "generated on first start", "this node's id, decimal, non-zero"},
    {"init", NULL, K_BOOL, F(init), 0, 1, 0, G_CLUSTER, NULL, "off",
     "bootstrap a new cluster, this node its first member"},
    {"seed-peers", NULL, K_SEEDS, NOFIELD, 0, 0, EMPTY_OK, G_CLUSTER, "HOST:PORT,...",
     "none", "peers to join through (their peer ports); at most 16"},
    {"replication-factor", NULL, K_U32, F(replication_factor), 1, 7, 0, G_CLUSTER, "N",
     NULL, "voting replicas wanted"},
    /* Network */
    {"bind", NULL, K_HOST, F(bind), 0, 0, 0, G_NETWORK, "HOST", NULL,
     "address both ports listen on"},
    {"advertise-addr", NULL, K_HOST, F(advertise), 0, 0, EMPTY_OK, G_NETWORK, "HOST",
     "the --bind address", "address others dial; needed if --bind is 0.0.0.0 or ::"},
    {"peer-port", NULL, K_PORT, F(peer_port), 1, 65535, 0, G_NETWORK, "PORT", NULL,
     "port for the other nodes"},
    {"cli-port", NULL, K_PORT, F(cli_port), 1, 65535, 0, G_NETWORK, "PORT", NULL,
     "port for clients (Redis protocol)"},
    {"requirepass", NULL, K_STR, F(requirepass), 0, 0, EMPTY_OK, G_NETWORK, "PASS",
     "none", "clients must AUTH; argv is public, so prefer --config"},
    {"idle-poll-us", NULL, K_U32, F(idle_poll_us), 0, 10000, 0, G_NETWORK, "US", NULL,
     "after a message, poll this long before sleeping; 0: sleep at once"},
    /* Storage and logs */
    {"storage-dir", "data-dir", K_STR, F(storage_dir), 0, 0, 0, G_STORAGE, "DIR", NULL,
     "where the log and the data live; alias --data-dir"},
    {"snapshot-entries", NULL, K_U64, F(snapshot_entries), 10, UINT64_C(1000000000000), 0,
     G_STORAGE, "N", NULL, "snapshot and compact the log every N applied entries"},
    {"snapshot-log-bytes", NULL, K_SIZE64, F(snapshot_log_bytes), 64 * (int64_t)KIB,
     64 * GIB, 0, G_STORAGE, "BYTES", NULL,
     "... or when they (held in memory) hold this much"},
    {"wal-segment-bytes", NULL, K_SIZE64, F(wal_segment_bytes), 64 * (int64_t)KIB,
     4 * GIB, 0, G_STORAGE, "BYTES", NULL, "size of one write-ahead log segment"},
    {"value-cache-bytes", NULL, K_SIZE64, F(value_cache_bytes), 0, 64 * GIB, 0, G_STORAGE,
     "BYTES", NULL, "values kept in memory for reads; 0 turns the cache off"},
    {"logfile", NULL, K_STR, F(logfile), 0, 0, EMPTY_OK, G_STORAGE, "FILE", "stderr",
     "append the log here; SIGHUP reopens it"},
    {"log-level", NULL, K_LEVEL, F(log_level), 0, 0, 0, G_STORAGE, "LEVEL", NULL,
     "debug, info, warn or error"},
    /* Limits */
    {"max-clients", NULL, K_U32, F(max_clients), 1, 1000000, 0, G_LIMITS, "N", NULL,
     "client connections at once; more are refused"},
    {"max-value-bytes", NULL, K_SIZE32, F(max_value_bytes), 1, 8 * MIB, 0, G_LIMITS,
     "BYTES", NULL, "largest value a client may store"},
    {"client-output-limit", NULL, K_SIZE64, F(client_output_limit_bytes),
     64 * (int64_t)KIB, 64 * GIB, 0, G_LIMITS, "BYTES", NULL,
     "reply bytes queued for a client before it is dropped"},
    {"max-inline-bytes", NULL, K_SIZE64, F(max_inline_bytes), (int64_t)KIB, 8 * MIB, 0,
     G_LIMITS, "BYTES", NULL, "longest inline (telnet-style) command"},
    {"max-multibulk-count", NULL, K_U32, F(max_multibulk), 16, INT32_MAX, 0, G_LIMITS,
     "N", NULL, "most arguments in one command"},
    {"request-timeout-ms", NULL, K_U32, F(request_timeout_ms), 100, 3600000, 0, G_LIMITS,
     "MS", NULL, "a write without an outcome by then gets UNCERTAIN"},
    /* Consensus timing */
    {"lease-ms", NULL, K_U32, F(lease_ms), 50, 60000, 0, G_TIMING, "MS", NULL,
     "leader lease; a dead leader is replaced in about two"},
    {"heartbeat-ms", NULL, K_U32, F(heartbeat_ms), 1, 19999, 0, G_TIMING, "MS", NULL,
     "lease renewal interval; under a third of --lease-ms"},
    {"clock-drift-ppm", NULL, K_U32, F(clock_drift_ppm), 0, 499999, 0, G_TIMING, "PPM",
     NULL, "bound on clock rate differences; shortens leases"},
    {"no-lease-reads", NULL, K_NOT_BOOL, F(lease_reads), 0, 1, 0, G_TIMING, NULL, "off",
     "confirm every read with a quorum round, not the lease"},
    /* Debug */
    {"debug-unsafe-follower-reads", NULL, K_BOOL, F(debug_stale_follower_reads), 0, 1, 0,
     G_DEBUG, NULL, "off", "followers answer reads locally: stale, NOT linearizable"},
    {"debug-clock-rate-ppm", NULL, K_I32, F(debug_clock_rate_ppm), -999999, 999999, 0,
     G_DEBUG, "PPM", NULL, "this node's clock runs N ppm fast (negative: slow)"},
    /* General */
    {"config", NULL, K_CONFIG, F(config_file), 0, 0, 0, G_GENERAL, "FILE", "none",
     "read settings from FILE first; flags override them"},
    {"help", NULL, K_HELP, NOFIELD, 0, 0, 0, G_GENERAL, NULL, "",
     "print this help (also -h)"},
    {"version", NULL, K_VERSION, NOFIELD, 0, 0, 0, G_GENERAL, NULL, "",
     "print the version"},
};

enum { OPT_COUNT = sizeof(srv_opts) / sizeof(srv_opts[0]) };

/* ------------------------------------------------------------------------
 * Small helpers */

static void put(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(char *buf, size_t cap, const char *fmt, ...)
{
	if (buf == NULL || cap == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* A value as shown inside '...' in a message: cut, control bytes as '?'. */
static const char *shown(const char *v, char *buf, size_t cap)
{
	RP_CHECK(cap > 4);
	size_t n = 0;
	for (; v[n] != '\0' && n < cap - 1; n++) {
		unsigned char c = (unsigned char)v[n];
		buf[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (v[n] != '\0' && n >= 3)
		memcpy(buf + n - 3, "...", 3);
	buf[n] = '\0';
	return buf;
}

static void *field(srv_config *cfg, const srv_opt *o)
{
	return (char *)cfg + o->off;
}

static const void *cfield(const srv_config *cfg, const srv_opt *o)
{
	return (const char *)cfg + o->off;
}

/* Finds an option by name (or alias); len bytes of name, not NUL-ended. */
static const srv_opt *opt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < OPT_COUNT; i++) {
		const srv_opt *o = &srv_opts[i];
		if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
			return o;
		if (o->alias != NULL && strlen(o->alias) == len &&
		    memcmp(o->alias, name, len) == 0)
			return o;
	}
	return NULL;
}

/* Levenshtein distance, both strings under 64 bytes (else a large number). */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b);
	if (la >= 64 || lb >= 64)
		return 64;
	size_t prev[64], cur[64];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t m = del < ins ? del : ins;
			cur[j] = m < sub ? m : sub;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

/* The closest option name within 2 edits, or NULL. */
static const char *suggest(const char *name, size_t len)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < OPT_COUNT; i++) {
		size_t d = edit_distance(name, len, srv_opts[i].name);
		if (d < best_d) {
			best_d = d;
			best = srv_opts[i].name;
		}
	}
	return best;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ------------------------------------------------------------------------
 * Numbers: decimal digits only (no sign, no spaces, no 0x), overflow checked. */

/* Parses the leading digits of s; returns a pointer past them or NULL
 * (no digits, or overflow). */
static const char *scan_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	for (; is_digit(*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
	}
	if (p == s)
		return NULL;
	*out = v;
	return p;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	const char *end = scan_u64(s, out);
	return end != NULL && *end == '\0';
}

/* Sizes: a number with an optional binary suffix b, k, kb, kib, m, mb,
 * mib, g, gb, gib (any case).  false on garbage; *overflow on overflow. */
static bool parse_size(const char *s, uint64_t *out, bool *overflow)
{
	*overflow = false;
	uint64_t v;
	const char *end = scan_u64(s, &v);
	if (end == NULL) {
		/* Digits that overflow are an overflow, not garbage. */
		const char *p = s;
		while (is_digit(*p))
			p++;
		*overflow = p != s;
		return false;
	}
	uint64_t mult;
	char c = (char)(*end | 0x20);
	if (*end == '\0') {
		mult = 1;
	} else if (c == 'b' && end[1] == '\0') {
		mult = 1;
	} else {
		if (c == 'k')
			mult = KIB;
		else if (c == 'm')
			mult = MIB;
		else if (c == 'g')
			mult = GIB;
		else
			return false;
		const char *rest = end + 1;
		if (!(strcasecmp(rest, "") == 0 || strcasecmp(rest, "b") == 0 ||
		      strcasecmp(rest, "ib") == 0))
			return false;
	}
	if (v > UINT64_MAX / mult) {
		*overflow = true;
		return false;
	}
	*out = v * mult;
	return true;
}

static void fmt_size(uint64_t v, char *buf, size_t cap)
{
	if (v != 0 && v % GIB == 0)
		snprintf(buf, cap, "%" PRIu64 "g", v / GIB);
	else if (v != 0 && v % MIB == 0)
		snprintf(buf, cap, "%" PRIu64 "m", v / MIB);
	else if (v != 0 && v % KIB == 0)
		snprintf(buf, cap, "%" PRIu64 "k", v / KIB);
	else
		snprintf(buf, cap, "%" PRIu64, v);
}

/* "50-60000", "1-8m", "-999999 to 999999" */
static void fmt_range(const srv_opt *o, char *buf, size_t cap)
{
	if (o->kind == K_SIZE32 || o->kind == K_SIZE64) {
		char lo[32], hi[32];
		fmt_size((uint64_t)o->lo, lo, sizeof(lo));
		fmt_size(o->hi, hi, sizeof(hi));
		snprintf(buf, cap, "%s-%s", lo, hi);
	} else if (o->lo < 0) {
		snprintf(buf, cap, "%" PRId64 " to %" PRIu64, o->lo, o->hi);
	} else {
		snprintf(buf, cap, "%" PRId64 "-%" PRIu64, o->lo, o->hi);
	}
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "1", "on"};
	static const char *const no[] = {"no", "false", "0", "off"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Hosts and addresses */

static bool parse_ipv6(const char *s, unsigned char out[16])
{
	return inet_pton(AF_INET6, s, out) == 1;
}

static bool parse_ipv4(const char *s, unsigned char out[4])
{
	return inet_pton(AF_INET, s, out) == 1;
}

static bool all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static bool is_wildcard(const char *host)
{
	unsigned char a[16];
	if (parse_ipv4(host, a))
		return all_zero(a, 4);
	if (parse_ipv6(host, a))
		return all_zero(a, 16);
	return false;
}

static bool valid_hostname(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > HOSTNAME_MAX)
		return false;
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool ok = is_digit(c) || (c >= 'a' && c <= 'z') ||
			  (c >= 'A' && c <= 'Z') || (c == '-' && label > 0);
		if (!ok || ++label > LABEL_MAX)
			return false;
	}
	return true;
}

/* Checks a host (IPv4, IPv6 with or without brackets, or a host name) and
 * copies it without brackets to out.  msg: the body of an error. */
static int check_host(const char *s, char *out, size_t cap, char *msg, size_t mcap)
{
	char q[QUOTE_MAX];
	size_t len = strlen(s);
	if (len == 0) {
		put(msg, mcap, "empty (give an address or a host name)");
		return RP_ERR_INVALID;
	}
	const char *h = s;
	size_t hlen = len;
	if (s[0] == '[') {
		if (s[len - 1] != ']') {
			put(msg, mcap, "'%s' has '[' without a closing ']'",
			    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		h = s + 1;
		hlen = len - 2;
	}
	if (hlen + 1 > cap || hlen + 1 > SRV_ADDR_MAX) {
		put(msg, mcap, "'%s' is too long (at most %d bytes)",
		    shown(s, q, sizeof(q)), SRV_ADDR_MAX - 1);
		return RP_ERR_INVALID;
	}
	char tmp[SRV_ADDR_MAX];
	memcpy(tmp, h, hlen);
	tmp[hlen] = '\0';
	unsigned char a[16];
	if (strchr(tmp, ':') != NULL) {
		if (!parse_ipv6(tmp, a)) {
			const char *colon = strchr(tmp, ':');
			if (h == s && strchr(colon + 1, ':') == NULL)
				put(msg, mcap,
				    "'%s' looks like host:port; give the host alone "
				    "(the ports are --peer-port and --cli-port)",
				    shown(s, q, sizeof(q)));
			else
				put(msg, mcap, "'%s' is not an IPv6 address",
				    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
	} else if (h != s) {
		put(msg, mcap, "'%s': only IPv6 addresses go in brackets",
		    shown(s, q, sizeof(q)));
		return RP_ERR_INVALID;
	} else if (strspn(tmp, "0123456789.") == hlen) {
		if (!parse_ipv4(tmp, a)) {
			put(msg, mcap, "'%s' is not an IPv4 address",
			    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
	} else if (!valid_hostname(tmp)) {
		put(msg, mcap, "'%s' is not an address or a host name",
		    shown(s, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	memcpy(out, tmp, hlen + 1);
	return 0;
}

static bool parse_port(const char *s, uint16_t *out)
{
	uint64_t v;
	if (!parse_u64(s, &v) || v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

int srv_config_split_hostport(const char *s, char *host, size_t host_cap, uint16_t *port,
			      char *err, size_t err_cap)
{
	RP_CHECK(s != NULL);
	RP_CHECK(host != NULL);
	RP_CHECK(port != NULL);
	char q[QUOTE_MAX], qp[QUOTE_MAX];
	const char *colon;
	char hostpart[SRV_ADDR_MAX + 2];
	size_t hlen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			put(err, err_cap, "'%s' has '[' without a closing ']'",
			    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		if (close[1] != ':') {
			put(err, err_cap,
			    "'%s' has no port (want [address]:port, e.g. [::1]:7101)",
			    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		colon = close + 1;
		hlen = (size_t)(close + 1 - s); /* keeps the brackets for check_host */
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			put(err, err_cap,
			    "'%s' has no port (want host:port, e.g. 10.0.0.1:7101)",
			    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			put(err, err_cap,
			    "'%s': put an IPv6 address in brackets, e.g. [::1]:7101",
			    shown(s, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		hlen = (size_t)(colon - s);
	}
	if (!parse_port(colon + 1, port)) {
		put(err, err_cap, "'%s' has a bad port '%s' (1-65535)",
		    shown(s, q, sizeof(q)), shown(colon + 1, qp, sizeof(qp)));
		return RP_ERR_INVALID;
	}
	if (hlen >= sizeof(hostpart)) {
		put(err, err_cap, "'%s' is too long", shown(s, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	memcpy(hostpart, s, hlen);
	hostpart[hlen] = '\0';
	char msg[MSG_MAX];
	if (hlen == 0) {
		put(err, err_cap, "'%s' has no host", shown(s, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	if (check_host(hostpart, host, host_cap, msg, sizeof(msg)) != 0) {
		put(err, err_cap, "%s", msg);
		return RP_ERR_INVALID;
	}
	return 0;
}

static void join_hostport(const char *host, uint16_t port, char *out, size_t cap)
{
	if (strchr(host, ':') != NULL)
		snprintf(out, cap, "[%s]:%u", host, (unsigned)port);
	else
		snprintf(out, cap, "%s:%u", host, (unsigned)port);
}

void srv_config_peer_addr(const srv_config *cfg, char *out, size_t cap)
{
	RP_CHECK(cfg != NULL);
	RP_CHECK(out != NULL && cap > 0);
	join_hostport(cfg->advertise[0] != '\0' ? cfg->advertise : cfg->bind,
		      cfg->peer_port, out, cap);
}

void srv_config_client_addr(const srv_config *cfg, char *out, size_t cap)
{
	RP_CHECK(cfg != NULL);
	RP_CHECK(out != NULL && cap > 0);
	join_hostport(cfg->advertise[0] != '\0' ? cfg->advertise : cfg->bind,
		      cfg->cli_port, out, cap);
}

/* Adds the comma-separated peers in v to cfg's seed list. */
static int add_seeds(srv_config *cfg, const char *v, char *msg, size_t mcap)
{
	const char *p = v;
	while (*p != '\0') {
		while (is_space(*p))
			p++;
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *stop = end;
		while (stop > p && is_space(stop[-1]))
			stop--;
		size_t len = (size_t)(stop - p);
		if (len > 0) {
			char one[SRV_HOSTPORT_MAX];
			char q[QUOTE_MAX];
			if (len >= sizeof(one)) {
				char tmp[QUOTE_MAX];
				memcpy(tmp, p, sizeof(tmp) - 1);
				tmp[sizeof(tmp) - 1] = '\0';
				put(msg, mcap, "'%s' is too long",
				    shown(tmp, q, sizeof(q)));
				return RP_ERR_INVALID;
			}
			memcpy(one, p, len);
			one[len] = '\0';
			char host[SRV_ADDR_MAX];
			uint16_t port;
			int rc = srv_config_split_hostport(one, host, sizeof(host), &port,
							   msg, mcap);
			if (rc != 0)
				return rc;
			char norm[SRV_HOSTPORT_MAX];
			join_hostport(host, port, norm, sizeof(norm));
			if (strlen(norm) >= SRV_ADDR_MAX) {
				put(msg, mcap, "'%s' is too long (at most %d bytes)",
				    shown(one, q, sizeof(q)), SRV_ADDR_MAX - 1);
				return RP_ERR_INVALID;
			}
			bool dup = false;
			for (uint32_t i = 0; i < cfg->seed_count; i++)
				dup = dup || strcmp(cfg->seed_peers[i], norm) == 0;
			if (!dup) {
				if (cfg->seed_count == SRV_MAX_SEEDS) {
					put(msg, mcap, "more than %d seed peers",
					    SRV_MAX_SEEDS);
					return RP_ERR_INVALID;
				}
				memcpy(cfg->seed_peers[cfg->seed_count], norm,
				       strlen(norm) + 1);
				cfg->seed_count++;
			}
		}
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Applying one value */

typedef struct {
	bool seeds_from_cmdline; /* the command line has started its own seed list */
	uint32_t file_line[OPT_COUNT]; /* where the file set each option; 0 = not */
} parse_ctx;

static bool opt_takes_value(const srv_opt *o)
{
	return o->kind != K_BOOL && o->kind != K_NOT_BOOL && o->kind != K_HELP &&
	       o->kind != K_VERSION;
}

static int apply_number(srv_config *cfg, const srv_opt *o, const char *v, char *msg,
			size_t mcap)
{
	char q[QUOTE_MAX], range[64];
	fmt_range(o, range, sizeof(range));
	const char *sv = shown(v, q, sizeof(q));
	uint64_t u = 0;
	bool ok, overflow = false;
	bool negative = false;
	switch (o->kind) {
	case K_PORT: {
		uint16_t port;
		if (!parse_port(v, &port)) {
			put(msg, mcap, "'%s' is not a port number (1-65535)", sv);
			return RP_ERR_INVALID;
		}
		*(uint16_t *)field(cfg, o) = port;
		return 0;
	}
	case K_NODE_ID:
		if (!parse_u64(v, &u) || u == 0) {
			put(msg, mcap, "'%s' is not a node id (a decimal number %s)", sv,
			    range);
			return RP_ERR_INVALID;
		}
		*(uint64_t *)field(cfg, o) = u;
		return 0;
	case K_SIZE32:
	case K_SIZE64:
		ok = parse_size(v, &u, &overflow);
		if (!ok && !overflow) {
			put(msg, mcap,
			    "'%s' is not a size (bytes, or with a suffix k, m or g: %s)",
			    sv, range);
			return RP_ERR_INVALID;
		}
		break;
	case K_I32:
		negative = v[0] == '-';
		ok = parse_u64(v + (v[0] == '-' || v[0] == '+'), &u);
		if (!ok) {
			const char *p = v + (v[0] == '-' || v[0] == '+');
			overflow = *p != '\0' && strspn(p, "0123456789") == strlen(p);
		}
		if (!ok && !overflow) {
			put(msg, mcap, "'%s' is not a number (%s)", sv, range);
			return RP_ERR_INVALID;
		}
		break;
	default:
		ok = parse_u64(v, &u);
		if (!ok) {
			overflow = *v != '\0' && strspn(v, "0123456789") == strlen(v);
			if (!overflow) {
				put(msg, mcap, "'%s' is not a number (%s)", sv, range);
				return RP_ERR_INVALID;
			}
		}
		break;
	}
	bool in_range;
	if (overflow)
		in_range = false;
	else if (negative)
		in_range = o->lo < 0 && u <= (uint64_t)(-(o->lo + 1)) + 1;
	else
		in_range = u >= (uint64_t)(o->lo < 0 ? 0 : o->lo) && u <= o->hi;
	if (!in_range) {
		put(msg, mcap, "'%s' is out of range (%s)", sv, range);
		return RP_ERR_INVALID;
	}
	switch (o->kind) {
	case K_U32:
	case K_SIZE32:
		*(uint32_t *)field(cfg, o) = (uint32_t)u;
		break;
	case K_U64:
	case K_SIZE64:
		*(uint64_t *)field(cfg, o) = u;
		break;
	case K_I32:
		*(int32_t *)field(cfg, o) =
		    negative ? (int32_t)(-(int64_t)u) : (int32_t)u;
		break;
	default:
		RP_CHECK(0); /* only number kinds reach here */
	}
	return 0;
}

static int apply_string(srv_config *cfg, const srv_opt *o, const char *v, char *msg,
			size_t mcap)
{
	size_t len = strlen(v);
	if (len == 0 && !(o->flags & EMPTY_OK)) {
		put(msg, mcap, "empty");
		return RP_ERR_INVALID;
	}
	if (len >= o->size) {
		put(msg, mcap, "longer than %zu bytes", o->size - 1);
		return RP_ERR_INVALID;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c < 0x20 || c == 0x7f) {
			put(msg, mcap, "contains a control character");
			return RP_ERR_INVALID;
		}
	}
	memcpy(field(cfg, o), v, len + 1);
	return 0;
}

/* Applies one option's value; has_value false = the option alone (a
 * switch).  On error writes the body of the message to msg. */
static int apply(srv_config *cfg, parse_ctx *ctx, const srv_opt *o, const char *v,
		 bool has_value, bool from_cmdline, char *msg, size_t mcap)
{
	char q[QUOTE_MAX];
	if (!has_value && opt_takes_value(o)) {
		put(msg, mcap, "missing value");
		return RP_ERR_INVALID;
	}
	switch (o->kind) {
	case K_BOOL:
	case K_NOT_BOOL: {
		bool b = true;
		if (has_value && !parse_bool(v, &b)) {
			put(msg, mcap, "'%s' is not yes/no, true/false, on/off or 1/0",
			    shown(v, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		*(bool *)field(cfg, o) = o->kind == K_BOOL ? b : !b;
		return 0;
	}
	case K_NODE_ID:
	case K_PORT:
	case K_U32:
	case K_U64:
	case K_I32:
	case K_SIZE32:
	case K_SIZE64:
		return apply_number(cfg, o, v, msg, mcap);
	case K_STR:
		return apply_string(cfg, o, v, msg, mcap);
	case K_HOST: {
		if (v[0] == '\0' && (o->flags & EMPTY_OK)) {
			((char *)field(cfg, o))[0] = '\0';
			return 0;
		}
		return check_host(v, field(cfg, o), o->size, msg, mcap);
	}
	case K_SEEDS:
		if (from_cmdline && !ctx->seeds_from_cmdline) {
			cfg->seed_count = 0;
			ctx->seeds_from_cmdline = true;
		}
		return add_seeds(cfg, v, msg, mcap);
	case K_LEVEL: {
		rp_log_level level;
		if (rp_log_parse_level(v, &level) != 0) {
			put(msg, mcap,
			    "'%s' is not a log level (debug, info, warn, error)",
			    shown(v, q, sizeof(q)));
			return RP_ERR_INVALID;
		}
		const char *name = rp_log_level_name(level);
		RP_CHECK(strlen(name) < o->size);
		memcpy(field(cfg, o), name, strlen(name) + 1);
		return 0;
	}
	case K_CONFIG:
	case K_HELP:
	case K_VERSION:
		break;
	}
	RP_CHECK(0); /* config, help and version are handled by the caller */
	return RP_ERR_INVALID;
}

/* ------------------------------------------------------------------------
 * The config file */

/* Reads the whole file into a fresh buffer (NUL-terminated); *len its size. */
static int read_file(const char *path, char **out, size_t *len, char *err, size_t err_cap)
{
	char q[QUOTE_MAX * 4];
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;
		put(err, err_cap, "--config: cannot open '%s': %s",
		    shown(path, q, sizeof(q)), strerror(e));
		return e == ENOENT ? RP_ERR_NOTFOUND : RP_ERR_IO;
	}
	char *buf = malloc(CONFIG_FILE_MAX_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		put(err, err_cap, "--config: out of memory");
		return RP_ERR_NOMEM;
	}
	size_t n = fread(buf, 1, CONFIG_FILE_MAX_BYTES + 1, f);
	int e = errno;
	bool failed = ferror(f) != 0;
	fclose(f);
	if (failed) {
		free(buf);
		put(err, err_cap, "--config: cannot read '%s': %s",
		    shown(path, q, sizeof(q)), strerror(e));
		return RP_ERR_IO;
	}
	if (n > CONFIG_FILE_MAX_BYTES) {
		free(buf);
		put(err, err_cap,
		    "config %s: larger than %d KiB; is this the right file?",
		    shown(path, q, sizeof(q)), CONFIG_FILE_MAX_BYTES / 1024);
		return RP_ERR_INVALID;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Decodes the value part of a line (after the name and separator) into
 * out.  Returns 0, or < 0 with the body of an error in msg. */
static int file_value(const char *p, const char *end, char *out, size_t cap,
		      bool *has_value, char *msg, size_t mcap)
{
	size_t n = 0;
	*has_value = false;
	if (p < end && (*p == '"' || *p == '\'')) {
		char quote = *p++;
		*has_value = true;
		for (;;) {
			if (p >= end) {
				put(msg, mcap, "unterminated %s quote",
				    quote == '"' ? "double" : "single");
				return RP_ERR_INVALID;
			}
			char c = *p++;
			if (c == quote)
				break;
			if (quote == '"' && c == '\\') {
				if (p >= end || (*p != '"' && *p != '\\')) {
					put(msg, mcap,
					    "only \\\" and \\\\ are escapes inside "
					    "double quotes");
					return RP_ERR_INVALID;
				}
				c = *p++;
			}
			if (n + 1 >= cap) {
				put(msg, mcap, "value longer than %zu bytes", cap - 1);
				return RP_ERR_INVALID;
			}
			out[n++] = c;
		}
		while (p < end && is_space(*p))
			p++;
		if (p < end && *p != '#') {
			put(msg, mcap, "text after the closing quote");
			return RP_ERR_INVALID;
		}
	} else {
		/* Unquoted: up to a '#' that starts a word, trailing blanks cut. */
		const char *stop = p;
		while (stop < end && !(*stop == '#' && (stop == p || is_space(stop[-1]))))
			stop++;
		while (stop > p && is_space(stop[-1]))
			stop--;
		size_t len = (size_t)(stop - p);
		if (len + 1 > cap) {
			put(msg, mcap, "value longer than %zu bytes", cap - 1);
			return RP_ERR_INVALID;
		}
		memcpy(out, p, len);
		n = len;
		*has_value = len > 0;
	}
	out[n] = '\0';
	return 0;
}

/* Applies one line; returns 0, or < 0 with the whole error line in err. */
static int file_line(srv_config *cfg, parse_ctx *ctx, const char *path, uint32_t lineno,
		     const char *line, const char *end, char *value, char *err,
		     size_t err_cap)
{
	char q[QUOTE_MAX], qp[QUOTE_MAX * 4];
	const char *sp = shown(path, qp, sizeof(qp));
	const char *p = line;
	while (p < end && is_space(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	const char *name = p;
	while (p < end && !is_space(*p) && *p != '=' && *p != '#')
		p++;
	size_t nlen = (size_t)(p - name);
	char norm[64];
	const srv_opt *o = NULL;
	if (nlen < sizeof(norm)) {
		for (size_t i = 0; i < nlen; i++)
			norm[i] = name[i] == '_' ? '-' : name[i];
		norm[nlen] = '\0';
		o = opt_find(norm, nlen);
	} else {
		memcpy(norm, name, sizeof(norm) - 1);
		norm[sizeof(norm) - 1] = '\0';
	}
	if (o == NULL) {
		char written[QUOTE_MAX];
		size_t wlen = nlen < sizeof(written) ? nlen : sizeof(written) - 1;
		memcpy(written, name, wlen);
		written[wlen] = '\0';
		shown(written, q, sizeof(q));
		const srv_opt *undashed = NULL;
		if (nlen > 2 && nlen < sizeof(norm) && norm[0] == '-' && norm[1] == '-')
			undashed = opt_find(norm + 2, nlen - 2);
		const char *hint = nlen < sizeof(norm) ? suggest(norm, nlen) : NULL;
		if (undashed != NULL)
			put(err, err_cap,
			    "config %s:%u: unknown setting '%s' (write it without the "
			    "dashes: '%s')",
			    sp, lineno, q, undashed->name);
		else if (hint != NULL)
			put(err, err_cap,
			    "config %s:%u: unknown setting '%s' (did you mean '%s'?)", sp,
			    lineno, q, hint);
		else
			put(err, err_cap, "config %s:%u: unknown setting '%s'", sp,
			    lineno, q);
		return RP_ERR_INVALID;
	}
	if (o->kind == K_CONFIG || o->kind == K_HELP || o->kind == K_VERSION) {
		put(err, err_cap, "config %s:%u: '%s' cannot be set in a config file", sp,
		    lineno, o->name);
		return RP_ERR_INVALID;
	}
	size_t idx = (size_t)(o - srv_opts);
	if (ctx->file_line[idx] != 0) {
		put(err, err_cap, "config %s:%u: %s is already set on line %u", sp,
		    lineno, o->name, ctx->file_line[idx]);
		return RP_ERR_INVALID;
	}
	ctx->file_line[idx] = lineno;

	while (p < end && is_space(*p))
		p++;
	bool has_equals = p < end && *p == '=';
	if (has_equals) {
		p++;
		while (p < end && is_space(*p))
			p++;
	}
	char msg[MSG_MAX];
	bool has_value;
	int rc =
	    file_value(p, end, value, CONFIG_VALUE_MAX, &has_value, msg, sizeof(msg));
	if (rc == 0) {
		/* "name =" with nothing after it is the empty value. */
		rc = apply(cfg, ctx, o, value, has_value || has_equals, false, msg,
			   sizeof(msg));
	}
	if (rc != 0) {
		put(err, err_cap, "config %s:%u: %s: %s", sp, lineno, o->name, msg);
		return rc;
	}
	return 0;
}

static int load_file(srv_config *cfg, parse_ctx *ctx, const char *path, char *err,
		     size_t err_cap)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = read_file(path, &buf, &len, err, err_cap);
	if (rc != 0)
		return rc;
	char *value = malloc(CONFIG_VALUE_MAX);
	if (value == NULL) {
		free(buf);
		put(err, err_cap, "--config: out of memory");
		return RP_ERR_NOMEM;
	}
	const char *p = buf;
	const char *file_end = buf + len;
	/* A UTF-8 byte order mark, as some editors write, is not a setting. */
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	uint32_t lineno = 0;
	char qp[QUOTE_MAX * 4];
	while (p < file_end && rc == 0) {
		lineno++;
		const char *nl = memchr(p, '\n', (size_t)(file_end - p));
		const char *end = nl != NULL ? nl : file_end;
		const char *next = nl != NULL ? nl + 1 : file_end;
		if (end > p && end[-1] == '\r')
			end--;
		if (memchr(p, '\0', (size_t)(end - p)) != NULL) {
			put(err, err_cap,
			    "config %s:%u: contains a NUL byte; is this a text file?",
			    shown(path, qp, sizeof(qp)), lineno);
			rc = RP_ERR_INVALID;
			break;
		}
		rc = file_line(cfg, ctx, path, lineno, p, end, value, err, err_cap);
		p = next;
	}
	free(value);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------------
 * The command line */

typedef struct {
	const srv_opt *opt;
	const char *flag; /* as written, up to flag_len: "--data-dir" */
	int flag_len;
	const char *value;
	bool has_value;
} cmd_tok;

/* Splits the argument(s) at argv[*i] into one option and its value and
 * advances *i.  Returns 0, or < 0 with the whole error line in err. */
static int next_tok(int argc, char **argv, int *i, cmd_tok *t, char *err, size_t err_cap)
{
	char q[QUOTE_MAX];
	const char *a = argv[*i];
	(*i)++;
	memset(t, 0, sizeof(*t));
	if (strcmp(a, "-h") == 0) {
		t->opt = opt_find("help", 4);
		t->flag = a;
		t->flag_len = 2;
		return 0;
	}
	if (a[0] != '-' || strcmp(a, "--") == 0 || strcmp(a, "-") == 0) {
		/* After a switch, a word is most likely meant as its value. */
		const char *prev = *i >= 2 ? argv[*i - 2] : "";
		const srv_opt *po = NULL;
		if (prev[0] == '-' && prev[1] == '-' && strchr(prev, '=') == NULL)
			po = opt_find(prev + 2, strlen(prev + 2));
		if (po != NULL && (po->kind == K_BOOL || po->kind == K_NOT_BOOL))
			put(err, err_cap,
			    "unexpected argument '%s' (--%s takes no separate value; "
			    "write --%s=%s)",
			    shown(a, q, sizeof(q)), po->name, po->name, q);
		else
			put(err, err_cap,
			    "unexpected argument '%s' (options start with --; see "
			    "--help)",
			    shown(a, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	if (a[1] != '-') {
		put(err, err_cap,
		    "unknown option '%s' (options are long, like --peer-port; see "
		    "--help)",
		    shown(a, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	const char *name = a + 2;
	const char *eq = strchr(name, '=');
	size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
	t->flag = a;
	t->flag_len = (int)(nlen + 2 < 200 ? nlen + 2 : 200);
	t->opt = opt_find(name, nlen);
	if (t->opt == NULL) {
		const char *hint = suggest(name, nlen);
		char nm[QUOTE_MAX];
		size_t shown_len = nlen + 2 < sizeof(nm) ? nlen + 2 : sizeof(nm) - 1;
		memcpy(nm, a, shown_len);
		nm[shown_len] = '\0';
		if (hint != NULL)
			put(err, err_cap, "unknown option '%s' (did you mean --%s?)",
			    shown(nm, q, sizeof(q)), hint);
		else
			put(err, err_cap, "unknown option '%s' (see --help)",
			    shown(nm, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	if (eq != NULL) {
		if (t->opt->kind == K_HELP || t->opt->kind == K_VERSION) {
			put(err, err_cap, "--%s takes no value", t->opt->name);
			return RP_ERR_INVALID;
		}
		t->value = eq + 1;
		t->has_value = true;
		return 0;
	}
	if (!opt_takes_value(t->opt))
		return 0;
	if (*i >= argc) {
		put(err, err_cap, "%.*s: missing value", t->flag_len, t->flag);
		return RP_ERR_INVALID;
	}
	const char *next = argv[*i];
	if (next[0] == '-' && next[1] == '-' && next[2] != '\0') {
		put(err, err_cap,
		    "%.*s: missing value (the next argument '%s' is an option; "
		    "write %.*s=%s if you mean it)",
		    t->flag_len, t->flag, shown(next, q, sizeof(q)), t->flag_len, t->flag,
		    shown(next, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	(*i)++;
	t->value = next;
	t->has_value = true;
	return 0;
}

/* ------------------------------------------------------------------------
 * Defaults, --help, checks */

void srv_config_default(srv_config *cfg)
{
	RP_CHECK(cfg != NULL);
	memset(cfg, 0, sizeof(*cfg));
	cfg->node_id = 0;
	cfg->init = false;
	cfg->seed_count = 0;
	cfg->replication_factor = 3;
	strcpy(cfg->bind, "127.0.0.1");
	cfg->advertise[0] = '\0';
	cfg->peer_port = 7101;
	cfg->cli_port = 7001;
	cfg->requirepass[0] = '\0';
	strcpy(cfg->storage_dir, "./rasputin-data");
	cfg->snapshot_entries = 100000;
	cfg->snapshot_log_bytes = 64 * (uint64_t)MIB;
	cfg->wal_segment_bytes = 64 * MIB;
	cfg->value_cache_bytes = 32 * MIB;
	cfg->idle_poll_us = 200;
	cfg->logfile[0] = '\0';
	strcpy(cfg->log_level, "info");
	cfg->max_clients = 10000;
	cfg->max_value_bytes = (uint32_t)MIB;
	cfg->client_output_limit_bytes = 64 * MIB;
	cfg->max_inline_bytes = 64 * KIB;
	cfg->max_multibulk = 1048576;
	cfg->request_timeout_ms = 5000;
	cfg->lease_ms = 1000;
	cfg->heartbeat_ms = 100;
	cfg->clock_drift_ppm = 10000;
	cfg->lease_reads = true;
	cfg->debug_stale_follower_reads = false;
	cfg->debug_clock_rate_ppm = 0;
	cfg->config_file[0] = '\0';
}

/* The default of one option as --help shows it. */
static void fmt_default(const srv_opt *o, const srv_config *d, char *buf, size_t cap)
{
	const void *f = cfield(d, o);
	switch (o->kind) {
	case K_BOOL:
		snprintf(buf, cap, "%s", *(const bool *)f ? "on" : "off");
		return;
	case K_NOT_BOOL:
		snprintf(buf, cap, "%s", *(const bool *)f ? "off" : "on");
		return;
	case K_NODE_ID:
	case K_U64:
		if (*(const uint64_t *)f == 0 && o->empty_text != NULL)
			snprintf(buf, cap, "%s", o->empty_text);
		else
			snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)f);
		return;
	case K_PORT:
		snprintf(buf, cap, "%u", (unsigned)*(const uint16_t *)f);
		return;
	case K_U32:
		snprintf(buf, cap, "%" PRIu32, *(const uint32_t *)f);
		return;
	case K_I32:
		snprintf(buf, cap, "%" PRId32, *(const int32_t *)f);
		return;
	case K_SIZE32:
		fmt_size(*(const uint32_t *)f, buf, cap);
		return;
	case K_SIZE64:
		fmt_size(*(const uint64_t *)f, buf, cap);
		return;
	case K_STR:
	case K_HOST:
	case K_LEVEL:
	case K_CONFIG:
		if (((const char *)f)[0] == '\0' && o->empty_text != NULL)
			snprintf(buf, cap, "%s", o->empty_text);
		else
			snprintf(buf, cap, "%s", (const char *)f);
		return;
	case K_SEEDS:
	case K_HELP:
	case K_VERSION:
		snprintf(buf, cap, "%s", o->empty_text != NULL ? o->empty_text : "");
		return;
	}
}

static const char usage_head[] =
    "Usage: rasputind [OPTIONS]\n"
    "\n"
    "rasputind runs one node of a rasputin cluster, a linearizable key-value\n"
    "store that speaks the Redis protocol on its client port.\n"
    "\n"
    "Options take a value as --name VALUE or --name=VALUE; switches take none\n"
    "(or --name=yes|no).  Sizes are bytes or take a binary suffix: 64k, 1m, 2g.\n"
    "Every option except --config can be set in a config file as \"name value\";\n"
    "the command line overrides the file.  See docs/configuration.md.\n";

static const char usage_examples[] =
    "\n"
    "Examples:\n"
    "  # Bootstrap a new cluster on 10.0.0.1 (once; restarts need no --init):\n"
    "  rasputind --node-id 1 --bind 10.0.0.1 --storage-dir /var/lib/rasputin \\\n"
    "            --init\n"
    "\n"
    "  # Join it from 10.0.0.2 (and likewise 10.0.0.3) through its peer port:\n"
    "  rasputind --node-id 2 --bind 10.0.0.2 --storage-dir /var/lib/rasputin \\\n"
    "            --seed-peers 10.0.0.1:7101\n"
    "\n"
    "  # Listen on every interface and announce a routable address:\n"
    "  rasputind --bind 0.0.0.0 --advertise-addr 10.0.0.3 \\\n"
    "            --config /etc/rasputin.conf\n";

void srv_config_usage(FILE *out)
{
	if (out == NULL)
		out = stdout;
	srv_config d;
	srv_config_default(&d);
	fputs(usage_head, out);
	for (int g = 0; g < G_COUNT; g++) {
		fprintf(out, "\n%s:\n", group_title[g]);
		for (size_t i = 0; i < OPT_COUNT; i++) {
			const srv_opt *o = &srv_opts[i];
			if ((int)o->group != g)
				continue;
			char flag[96], def[64], range[64];
			if (o->metavar != NULL)
				snprintf(flag, sizeof(flag), "--%s %s", o->name,
					 o->metavar);
			else
				snprintf(flag, sizeof(flag), "--%s", o->name);
			fmt_default(o, &d, def, sizeof(def));
			range[0] = '\0';
			if (o->kind == K_U32 || o->kind == K_U64 || o->kind == K_I32 ||
			    o->kind == K_SIZE32 || o->kind == K_SIZE64) {
				char r[48];
				fmt_range(o, r, sizeof(r));
				snprintf(range, sizeof(range), ", range %s", r);
			}
			fprintf(out, "  %-30s %s\n", flag, o->help);
			if (def[0] != '\0')
				fprintf(out, "  %-30s default %s%s\n", "", def, range);
		}
	}
	fputs(usage_examples, out);
}

/* Checks one table field's range (numbers) or form (strings). */
static int check_field(const srv_config *cfg, const srv_opt *o, char *err, size_t err_cap)
{
	const void *f = cfield(cfg, o);
	char range[64];
	uint64_t u = 0;
	int64_t s = 0;
	bool is_signed = false;
	switch (o->kind) {
	case K_BOOL:
	case K_NOT_BOOL:
	case K_NODE_ID: /* 0 = generate one */
	case K_SEEDS:
	case K_HELP:
	case K_VERSION:
		return 0;
	case K_PORT:
		if (*(const uint16_t *)f == 0) {
			put(err, err_cap, "--%s: 0 is not a port number (1-65535)",
			    o->name);
			return RP_ERR_INVALID;
		}
		return 0;
	case K_U32:
	case K_SIZE32:
		u = *(const uint32_t *)f;
		break;
	case K_U64:
	case K_SIZE64:
		u = *(const uint64_t *)f;
		break;
	case K_I32:
		s = *(const int32_t *)f;
		is_signed = true;
		break;
	case K_STR:
	case K_HOST:
	case K_LEVEL:
	case K_CONFIG: {
		const char *str = f;
		char msg[MSG_MAX], tmp[SRV_ADDR_MAX];
		if (memchr(str, '\0', o->size) == NULL) {
			put(err, err_cap, "--%s: not NUL-terminated", o->name);
			return RP_ERR_INVALID;
		}
		if (str[0] == '\0') {
			if (o->flags & EMPTY_OK || o->kind == K_CONFIG)
				return 0;
			put(err, err_cap, "--%s: empty", o->name);
			return RP_ERR_INVALID;
		}
		if (o->kind == K_HOST &&
		    check_host(str, tmp, sizeof(tmp), msg, sizeof(msg)) != 0) {
			put(err, err_cap, "--%s: %s", o->name, msg);
			return RP_ERR_INVALID;
		}
		for (const char *c = str; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				put(err, err_cap, "--%s: contains a control character",
				    o->name);
				return RP_ERR_INVALID;
			}
		}
		if (o->kind == K_LEVEL) {
			rp_log_level l;
			if (rp_log_parse_level(str, &l) != 0) {
				put(err, err_cap, "--%s: '%s' is not a log level",
				    o->name, shown(str, tmp, QUOTE_MAX));
				return RP_ERR_INVALID;
			}
		}
		return 0;
	}
	}
	bool ok = is_signed ? (s >= o->lo && (s < 0 || (uint64_t)s <= o->hi))
			    : (u >= (uint64_t)o->lo && u <= o->hi);
	if (!ok) {
		fmt_range(o, range, sizeof(range));
		if (is_signed)
			put(err, err_cap, "--%s: %" PRId64 " is out of range (%s)",
			    o->name, s, range);
		else
			put(err, err_cap, "--%s: %" PRIu64 " is out of range (%s)",
			    o->name, u, range);
		return RP_ERR_INVALID;
	}
	return 0;
}

int srv_config_check(const srv_config *cfg, char *err, size_t err_cap)
{
	RP_CHECK(cfg != NULL);
	for (size_t i = 0; i < OPT_COUNT; i++) {
		int rc = check_field(cfg, &srv_opts[i], err, err_cap);
		if (rc != 0)
			return rc;
	}
	if (cfg->seed_count > SRV_MAX_SEEDS) {
		put(err, err_cap, "--seed-peers: more than %d seed peers", SRV_MAX_SEEDS);
		return RP_ERR_INVALID;
	}
	for (uint32_t i = 0; i < cfg->seed_count; i++) {
		char host[SRV_ADDR_MAX], msg[MSG_MAX];
		uint16_t port;
		if (memchr(cfg->seed_peers[i], '\0', SRV_ADDR_MAX) == NULL) {
			put(err, err_cap,
			    "--seed-peers: entry %" PRIu32 " is not NUL-terminated", i);
			return RP_ERR_INVALID;
		}
		if (srv_config_split_hostport(cfg->seed_peers[i], host, sizeof(host),
					      &port, msg, sizeof(msg)) != 0) {
			put(err, err_cap, "--seed-peers: %s", msg);
			return RP_ERR_INVALID;
		}
	}
	char q[QUOTE_MAX];
	if (cfg->advertise[0] == '\0' && is_wildcard(cfg->bind)) {
		put(err, err_cap,
		    "--bind '%s' is a wildcard address: set --advertise-addr to "
		    "the address other nodes and clients should dial",
		    shown(cfg->bind, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	if (cfg->advertise[0] != '\0' && is_wildcard(cfg->advertise)) {
		put(err, err_cap,
		    "--advertise-addr: '%s' is a wildcard address; give one "
		    "that other nodes and clients can dial",
		    shown(cfg->advertise, q, sizeof(q)));
		return RP_ERR_INVALID;
	}
	if (cfg->peer_port == cfg->cli_port) {
		put(err, err_cap,
		    "--peer-port and --cli-port are both %u: they must differ",
		    (unsigned)cfg->peer_port);
		return RP_ERR_INVALID;
	}
	if ((uint64_t)cfg->heartbeat_ms * 3 >= cfg->lease_ms) {
		put(err, err_cap,
		    "--heartbeat-ms (%" PRIu32
		    ") must be less than a third of --lease-ms (%" PRIu32 ")",
		    cfg->heartbeat_ms, cfg->lease_ms);
		return RP_ERR_INVALID;
	}
	if (cfg->value_cache_bytes > 0 && cfg->value_cache_bytes < SM_VCACHE_BYTES_MIN) {
		put(err, err_cap,
		    "--value-cache-bytes (%" PRIu64 ") must be 0 (no cache) or at least 1k",
		    cfg->value_cache_bytes);
		return RP_ERR_INVALID;
	}
	if (cfg->client_output_limit_bytes <
	    (uint64_t)cfg->max_value_bytes + OUTPUT_LIMIT_MARGIN_BYTES) {
		char a[32], b[32];
		fmt_size(cfg->client_output_limit_bytes, a, sizeof(a));
		fmt_size(cfg->max_value_bytes, b, sizeof(b));
		put(err, err_cap,
		    "--client-output-limit (%s) must be at least "
		    "--max-value-bytes (%s) + 1k, to hold a reply with the "
		    "largest value",
		    a, b);
		return RP_ERR_INVALID;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * The whole parse */

int srv_config_parse(int argc, char **argv, srv_config *cfg, FILE *out, char *err,
		     size_t err_cap)
{
	RP_CHECK(argc >= 0);
	RP_CHECK(argc == 0 || argv != NULL);
	RP_CHECK(cfg != NULL);
	if (out == NULL)
		out = stdout;
	put(err, err_cap, "%s", "");
	srv_config_default(cfg);
	parse_ctx ctx;
	memset(&ctx, 0, sizeof(ctx));
	char first_err[MSG_MAX * 2];
	first_err[0] = '\0';
	int first_rc = 0;
	const char *config_path = NULL;

	/* Pass 1: --help and --version win; find --config; syntax errors. */
	for (int i = 1; i < argc;) {
		cmd_tok t;
		char msg[MSG_MAX * 2];
		int rc = next_tok(argc, argv, &i, &t, msg, sizeof(msg));
		if (rc != 0) {
			if (first_rc == 0) {
				first_rc = rc;
				snprintf(first_err, sizeof(first_err), "%s", msg);
			}
			continue;
		}
		if (t.opt->kind == K_HELP) {
			srv_config_usage(out);
			return 1;
		}
		if (t.opt->kind == K_VERSION) {
			fprintf(out, "rasputind %s\n", RASPUTIN_VERSION);
			return 1;
		}
		if (t.opt->kind == K_CONFIG && first_rc == 0) {
			char q[QUOTE_MAX];
			if (config_path != NULL) {
				first_rc = RP_ERR_INVALID;
				snprintf(first_err, sizeof(first_err),
					 "--config: given twice (only one config file is "
					 "read)");
			} else if (t.value[0] == '\0') {
				first_rc = RP_ERR_INVALID;
				snprintf(first_err, sizeof(first_err), "--config: empty");
			} else if (strlen(t.value) >= sizeof(cfg->config_file)) {
				first_rc = RP_ERR_INVALID;
				snprintf(first_err, sizeof(first_err),
					 "--config: '%s' is longer than %zu bytes",
					 shown(t.value, q, sizeof(q)),
					 sizeof(cfg->config_file) - 1);
			} else {
				config_path = t.value;
			}
		}
	}
	if (first_rc != 0) {
		put(err, err_cap, "%s", first_err);
		return first_rc;
	}

	if (config_path != NULL) {
		memcpy(cfg->config_file, config_path, strlen(config_path) + 1);
		int rc = load_file(cfg, &ctx, config_path, err, err_cap);
		if (rc != 0)
			return rc;
	}

	/* Pass 2: the command line over the file. */
	for (int i = 1; i < argc;) {
		cmd_tok t;
		char msg[MSG_MAX * 2];
		int rc = next_tok(argc, argv, &i, &t, msg, sizeof(msg));
		RP_CHECK(rc == 0); /* pass 1 found no syntax error */
		if (t.opt->kind == K_CONFIG)
			continue;
		rc =
		    apply(cfg, &ctx, t.opt, t.value, t.has_value, true, msg, sizeof(msg));
		if (rc != 0) {
			put(err, err_cap, "%.*s: %s", t.flag_len, t.flag, msg);
			return rc;
		}
	}

	int rc = srv_config_check(cfg, err, err_cap);
	if (rc != 0)
		return rc;
	if (cfg->advertise[0] == '\0')
		memcpy(cfg->advertise, cfg->bind, strlen(cfg->bind) + 1);
	return 0;
}
