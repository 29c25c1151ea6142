/* test_config.c — rasputind's settings: defaults, both flag forms, the
 * config file and its precedence, ranges, sizes, every error message (one
 * line, naming the flag or file:line), --help/--version, addresses. */
#define _POSIX_C_SOURCE 200809L
#include "test.h"
#include "server/config.h"
#include "util/err.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

static srv_config cfg;
static char err[1024];
static char out_text[65536];

/* Parses a NULL-terminated list of arguments (argv[0] added); --help
 * output lands in out_text. */
static int parse_list(const char *first, va_list ap)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"rasputind";
	for (const char *a = first; a != NULL; a = va_arg(ap, const char *)) {
		CHECK(argc < 63);
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	memset(out_text, 0, sizeof(out_text));
	FILE *out = fmemopen(out_text, sizeof(out_text) - 1, "w");
	CHECK(out != NULL);
	memset(err, 'Z', sizeof(err));
	int rc = srv_config_parse(argc, argv, &cfg, out, err, sizeof(err));
	fclose(out);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	return rc;
}

static int parse(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = parse_list(first, ap);
	va_end(ap);
	return rc;
}

/* Expects the parse to succeed. */
static void ok(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = parse_list(first, ap);
	va_end(ap);
	if (rc != 0)
		printf("    unexpected error: %s\n", err);
	CHECK_EQ(rc, 0);
}

/* Expects an error whose single line is exactly `want`. */
static void fails(const char *want, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = parse_list(first, ap);
	va_end(ap);
	CHECK(rc < 0);
	if (strcmp(err, want) != 0)
		printf("    got:  %s\n    want: %s\n", err, want);
	CHECK(strcmp(err, want) == 0);
	CHECK(strchr(err, '\n') == NULL);
}

/* Expects an error line that contains `part` (for messages with a path). */
static void fails_with(const char *part, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	int rc = parse_list(first, ap);
	va_end(ap);
	CHECK(rc < 0);
	if (strstr(err, part) == NULL)
		printf("    got:  %s\n    want: ...%s...\n", err, part);
	CHECK(strstr(err, part) != NULL);
	CHECK(strchr(err, '\n') == NULL);
}

static char tmp_dir[64];
static char conf_path[128];

static void remove_tmp_dir(void)
{
	unlink(conf_path);
	rmdir(tmp_dir);
}

/* Writes text to a fresh config file; its path is conf_path. */
static const char *conf(const char *text)
{
	if (tmp_dir[0] == '\0') {
		strcpy(tmp_dir, "/tmp/rp_test_config_XXXXXX");
		CHECK(mkdtemp(tmp_dir) != NULL);
		atexit(remove_tmp_dir);
	}
	snprintf(conf_path, sizeof(conf_path), "%s/r.conf", tmp_dir);
	FILE *f = fopen(conf_path, "wb");
	CHECK(f != NULL);
	CHECK(fwrite(text, 1, strlen(text), f) == strlen(text));
	CHECK(fclose(f) == 0);
	return conf_path;
}

/* "config <conf_path>:<line>: <rest>" */
static const char *at_line(int line, const char *rest)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "config %s:%d: %s", conf_path, line, rest);
	return buf;
}

/* ------------------------------------------------------------------------ */

TEST(defaults)
{
	srv_config d;
	srv_config_default(&d);
	CHECK_EQ(d.node_id, 0);
	CHECK(strcmp(d.bind, "127.0.0.1") == 0);
	CHECK_EQ(d.peer_port, 7101);
	CHECK_EQ(d.cli_port, 7001);
	CHECK(strcmp(d.advertise, "") == 0);
	CHECK(strcmp(d.storage_dir, "./rasputin-data") == 0);
	CHECK(strcmp(d.logfile, "") == 0);
	CHECK(strcmp(d.log_level, "info") == 0);
	CHECK_EQ(d.seed_count, 0);
	CHECK(!d.init);
	CHECK_EQ(d.replication_factor, 3);
	CHECK(strcmp(d.requirepass, "") == 0);
	CHECK_EQ(d.idle_poll_us, 200);
	CHECK_EQ(d.max_clients, 10000);
	CHECK_EQ(d.max_value_bytes, 1 << 20);
	CHECK_EQ(d.client_output_limit_bytes, 64ull << 20);
	CHECK_EQ(d.max_inline_bytes, 64 << 10);
	CHECK_EQ(d.max_multibulk, 1048576);
	CHECK_EQ(d.lease_ms, 1000);
	CHECK_EQ(d.heartbeat_ms, 100);
	CHECK_EQ(d.clock_drift_ppm, 10000);
	CHECK(d.lease_reads);
	CHECK_EQ(d.request_timeout_ms, 5000);
	CHECK_EQ(d.snapshot_entries, 100000);
	CHECK_EQ(d.wal_segment_bytes, 64ull << 20);
	CHECK(!d.debug_stale_follower_reads);
	CHECK_EQ(d.debug_clock_rate_ppm, 0);
	CHECK(strcmp(d.config_file, "") == 0);
	CHECK_EQ(srv_config_check(&d, err, sizeof(err)), 0);

	/* No arguments: the defaults, with advertise filled from bind. */
	ok(NULL);
	CHECK(strcmp(cfg.advertise, "127.0.0.1") == 0);
	strcpy(d.advertise, "127.0.0.1");
	CHECK(memcmp(&cfg, &d, sizeof(d)) == 0);
}

TEST(parse_resets_to_defaults_first)
{
	memset(&cfg, 0x5a, sizeof(cfg));
	ok(NULL);
	CHECK_EQ(cfg.lease_ms, 1000);
	CHECK_EQ(cfg.seed_count, 0);
}

/* One flag, one value, where the value lands. */
typedef enum { U8B, U16, U32, U64, I32, STR } field_kind;
struct flag_case {
	const char *flag;
	const char *value;
	size_t off;
	field_kind kind;
	long long want;	      /* numbers */
	const char *want_str; /* strings */
};

#define OFF(f) offsetof(srv_config, f)

static const struct flag_case flag_cases[] = {
    {"node-id", "18446744073709551615", OFF(node_id), U64, -1, NULL},
    {"bind", "10.1.2.3", OFF(bind), STR, 0, "10.1.2.3"},
    {"peer-port", "9101", OFF(peer_port), U16, 9101, NULL},
    {"cli-port", "9001", OFF(cli_port), U16, 9001, NULL},
    {"advertise-addr", "node1.example.com", OFF(advertise), STR, 0, "node1.example.com"},
    {"storage-dir", "/var/lib/rasputin", OFF(storage_dir), STR, 0, "/var/lib/rasputin"},
    {"data-dir", "/srv/r", OFF(storage_dir), STR, 0, "/srv/r"},
    {"logfile", "/var/log/rasputin.log", OFF(logfile), STR, 0, "/var/log/rasputin.log"},
    {"log-level", "DEBUG", OFF(log_level), STR, 0, "debug"},
    {"replication-factor", "5", OFF(replication_factor), U32, 5, NULL},
    {"requirepass", "s3cret pass", OFF(requirepass), STR, 0, "s3cret pass"},
    {"idle-poll-us", "0", OFF(idle_poll_us), U32, 0, NULL},
    {"max-clients", "77", OFF(max_clients), U32, 77, NULL},
    {"max-value-bytes", "2m", OFF(max_value_bytes), U32, 2 << 20, NULL},
    {"client-output-limit", "128MB", OFF(client_output_limit_bytes), U64, 128ll << 20,
     NULL},
    {"max-inline-bytes", "4k", OFF(max_inline_bytes), U64, 4096, NULL},
    {"max-multibulk-count", "1000", OFF(max_multibulk), U32, 1000, NULL},
    {"lease-ms", "3000", OFF(lease_ms), U32, 3000, NULL},
    {"heartbeat-ms", "250", OFF(heartbeat_ms), U32, 250, NULL},
    {"clock-drift-ppm", "20000", OFF(clock_drift_ppm), U32, 20000, NULL},
    {"request-timeout-ms", "750", OFF(request_timeout_ms), U32, 750, NULL},
    {"snapshot-entries", "5000", OFF(snapshot_entries), U64, 5000, NULL},
    {"snapshot-log-bytes", "256m", OFF(snapshot_log_bytes), U64, 256ll << 20, NULL},
    {"wal-segment-bytes", "1g", OFF(wal_segment_bytes), U64, 1ll << 30, NULL},
    {"value-cache-bytes", "0", OFF(value_cache_bytes), U64, 0, NULL},
    {"debug-clock-rate-ppm", "-20000", OFF(debug_clock_rate_ppm), I32, -20000, NULL},
    {"seed-peers", "10.0.0.9:7101", OFF(seed_peers), STR, 0, "10.0.0.9:7101"},
    {"init", "yes", OFF(init), U8B, 1, NULL},
    {"no-lease-reads", "true", OFF(lease_reads), U8B, 0, NULL},
    {"debug-unsafe-follower-reads", "1", OFF(debug_stale_follower_reads), U8B, 1, NULL},
};

static void check_landed(const struct flag_case *c)
{
	const char *base = (const char *)&cfg + c->off;
	switch (c->kind) {
	case U8B:
		CHECK_EQ(*(const bool *)base, c->want);
		break;
	case U16:
		CHECK_EQ(*(const uint16_t *)base, c->want);
		break;
	case U32:
		CHECK_EQ(*(const uint32_t *)base, c->want);
		break;
	case U64:
		CHECK_EQ(*(const uint64_t *)base, c->want);
		break;
	case I32:
		CHECK_EQ(*(const int32_t *)base, c->want);
		break;
	case STR:
		CHECK(strcmp(base, c->want_str) == 0);
		break;
	}
}

TEST(every_flag_in_both_forms)
{
	size_t n = sizeof(flag_cases) / sizeof(flag_cases[0]);
	for (size_t i = 0; i < n; i++) {
		const struct flag_case *c = &flag_cases[i];
		char flag[64], joined[128];
		snprintf(flag, sizeof(flag), "--%s", c->flag);
		snprintf(joined, sizeof(joined), "--%s=%s", c->flag, c->value);
		/* lease-ms 3000 needs nothing else; heartbeat 250 needs a longer lease.
		 */
		const char *extra = strcmp(c->flag, "heartbeat-ms") == 0
					? "--lease-ms=1000"
					: "--lease-ms=3000";
		srv_config a, b;
		if (c->kind == U8B)
			ok(flag, extra, NULL); /* a switch alone means on */
		else
			ok(flag, c->value, extra, NULL);
		check_landed(c);
		a = cfg;
		ok(extra, joined, NULL);
		check_landed(c);
		b = cfg;
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	}
}

TEST(switches)
{
	ok("--init", NULL);
	CHECK(cfg.init);
	ok("--no-lease-reads", NULL);
	CHECK(!cfg.lease_reads);
	ok("--debug-unsafe-follower-reads", NULL);
	CHECK(cfg.debug_stale_follower_reads);
	const char *yes[] = {"yes", "YES", "true", "True", "1", "on"};
	const char *no[] = {"no", "No", "false", "FALSE", "0", "off"};
	for (size_t i = 0; i < 6; i++) {
		char a[64];
		snprintf(a, sizeof(a), "--init=%s", yes[i]);
		ok(a, NULL);
		CHECK(cfg.init);
		snprintf(a, sizeof(a), "--init=%s", no[i]);
		ok("--init", a, NULL); /* the last one wins */
		CHECK(!cfg.init);
		snprintf(a, sizeof(a), "--no-lease-reads=%s", no[i]);
		ok(a, NULL);
		CHECK(cfg.lease_reads);
	}
}

TEST(last_value_on_the_command_line_wins)
{
	ok("--lease-ms", "2000", "--lease-ms=3000", NULL);
	CHECK_EQ(cfg.lease_ms, 3000);
	ok("--storage-dir", "/a", "--data-dir", "/b", NULL);
	CHECK(strcmp(cfg.storage_dir, "/b") == 0);
}

TEST(values_may_start_with_a_dash_or_be_odd)
{
	ok("--debug-clock-rate-ppm", "-5", NULL);
	CHECK_EQ(cfg.debug_clock_rate_ppm, -5);
	ok("--debug-clock-rate-ppm=+7", NULL);
	CHECK_EQ(cfg.debug_clock_rate_ppm, 7);
	ok("--requirepass", "-x=y", NULL);
	CHECK(strcmp(cfg.requirepass, "-x=y") == 0);
	ok("--requirepass=a=b", NULL); /* only the first '=' splits */
	CHECK(strcmp(cfg.requirepass, "a=b") == 0);
	ok("--logfile=", NULL); /* explicitly stderr */
	CHECK(strcmp(cfg.logfile, "") == 0);
	ok("--log-level", "Warning", NULL);
	CHECK(strcmp(cfg.log_level, "warn") == 0);
	ok("--lease-ms", "000100", "--heartbeat-ms", "33",
	   NULL); /* leading zeros are decimal */
	CHECK_EQ(cfg.lease_ms, 100);
}

TEST(seed_peers)
{
	ok("--seed-peers", "10.0.0.1:7101, 10.0.0.2:7101,,[::1]:7102", "--seed-peers",
	   "db3.example:7101,10.0.0.1:7101", "--seed-peers=[2001:db8::1]:1", NULL);
	CHECK_EQ(cfg.seed_count, 5);
	CHECK(strcmp(cfg.seed_peers[0], "10.0.0.1:7101") == 0);
	CHECK(strcmp(cfg.seed_peers[1], "10.0.0.2:7101") == 0);
	CHECK(strcmp(cfg.seed_peers[2], "[::1]:7102") == 0);
	CHECK(strcmp(cfg.seed_peers[3], "db3.example:7101") == 0);
	CHECK(strcmp(cfg.seed_peers[4], "[2001:db8::1]:1") == 0);

	ok("--seed-peers", "", NULL);
	CHECK_EQ(cfg.seed_count, 0);

	char many[SRV_MAX_SEEDS * 24 + 32] = "";
	for (int i = 0; i < SRV_MAX_SEEDS; i++) {
		char one[32];
		snprintf(one, sizeof(one), "%s10.0.0.%d:7101", i ? "," : "", i + 1);
		strcat(many, one);
	}
	ok("--seed-peers", many, NULL);
	CHECK_EQ(cfg.seed_count, SRV_MAX_SEEDS);
	ok("--seed-peers", many, "--seed-peers", "10.0.0.1:7101", NULL); /* a duplicate */
	CHECK_EQ(cfg.seed_count, SRV_MAX_SEEDS);
	fails("--seed-peers: more than 16 seed peers", "--seed-peers", many,
	      "--seed-peers", "10.0.0.99:7101", NULL);
	fails("--seed-peers: '10.0.0.1' has no port (want host:port, e.g. 10.0.0.1:7101)",
	      "--seed-peers", "10.0.0.1", NULL);
	fails(
	    "--seed-peers: '::1:7101': put an IPv6 address in brackets, e.g. [::1]:7101",
	    "--seed-peers", "::1:7101", NULL);
	fails("--seed-peers: '10.0.0.1:0' has a bad port '0' (1-65535)", "--seed-peers",
	      "10.0.0.1:0", NULL);
	fails("--seed-peers: '10.0.0.1:' has a bad port '' (1-65535)", "--seed-peers",
	      "10.0.0.1:", NULL);
	fails("--seed-peers: ':7101' has no host", "--seed-peers", ":7101", NULL);
	fails("--seed-peers: '[::1]7101' has no port (want [address]:port, e.g. "
	      "[::1]:7101)",
	      "--seed-peers", "[::1]7101", NULL);
	fails("--seed-peers: '[::1:7101' has '[' without a closing ']'", "--seed-peers",
	      "[::1:7101", NULL);
	fails("--seed-peers: 'bad_host' is not an address or a host name", "--seed-peers",
	      "bad_host:7101", NULL);
}

TEST(split_hostport)
{
	char host[SRV_ADDR_MAX];
	uint16_t port = 0;
	CHECK_EQ(srv_config_split_hostport("10.0.0.1:7101", host, sizeof(host), &port,
					   err, sizeof(err)),
		 0);
	CHECK(strcmp(host, "10.0.0.1") == 0);
	CHECK_EQ(port, 7101);
	CHECK_EQ(srv_config_split_hostport("[fe80::1]:65535", host, sizeof(host), &port,
					   NULL, 0),
		 0);
	CHECK(strcmp(host, "fe80::1") == 0);
	CHECK_EQ(port, 65535);
	CHECK_EQ(
	    srv_config_split_hostport("localhost:1", host, sizeof(host), &port, NULL, 0),
	    0);
	CHECK(strcmp(host, "localhost") == 0);
	CHECK(srv_config_split_hostport("localhost:65536", host, sizeof(host), &port, err,
					sizeof(err)) < 0);
	CHECK(strcmp(err, "'localhost:65536' has a bad port '65536' (1-65535)") == 0);
	CHECK(srv_config_split_hostport("localhost:+1", host, sizeof(host), &port, NULL,
					0) < 0);
	CHECK(srv_config_split_hostport("[10.0.0.1]:1", host, sizeof(host), &port, NULL,
					0) < 0);
	CHECK(srv_config_split_hostport("", host, sizeof(host), &port, NULL, 0) < 0);
}

TEST(addresses_others_dial)
{
	char a[SRV_HOSTPORT_MAX];
	ok("--bind", "10.0.0.5", NULL);
	CHECK(strcmp(cfg.advertise, "10.0.0.5") == 0);
	srv_config_peer_addr(&cfg, a, sizeof(a));
	CHECK(strcmp(a, "10.0.0.5:7101") == 0);
	srv_config_client_addr(&cfg, a, sizeof(a));
	CHECK(strcmp(a, "10.0.0.5:7001") == 0);

	ok("--bind", "0.0.0.0", "--advertise-addr", "node7.example", "--cli-port", "6379",
	   NULL);
	srv_config_client_addr(&cfg, a, sizeof(a));
	CHECK(strcmp(a, "node7.example:6379") == 0);

	ok("--bind", "[::1]", NULL); /* brackets accepted, stored without */
	CHECK(strcmp(cfg.bind, "::1") == 0);
	srv_config_peer_addr(&cfg, a, sizeof(a));
	CHECK(strcmp(a, "[::1]:7101") == 0);

	ok("--bind", "::", "--advertise-addr", "2001:db8::7", NULL);
	srv_config_peer_addr(&cfg, a, sizeof(a));
	CHECK(strcmp(a, "[2001:db8::7]:7101") == 0);

	/* advertise "" in a hand-built config means bind. */
	srv_config d;
	srv_config_default(&d);
	srv_config_peer_addr(&d, a, sizeof(a));
	CHECK(strcmp(a, "127.0.0.1:7101") == 0);
}

TEST(wildcard_bind_needs_advertise)
{
	fails("--bind '0.0.0.0' is a wildcard address: set --advertise-addr to the "
	      "address other "
	      "nodes and clients should dial",
	      "--bind", "0.0.0.0", NULL);
	fails("--bind '::' is a wildcard address: set --advertise-addr to the address "
	      "other "
	      "nodes and clients should dial",
	      "--bind", "::", NULL);
	fails_with("is a wildcard address", "--bind", "0:0::0", NULL);
	fails("--advertise-addr: '0.0.0.0' is a wildcard address; give one that other "
	      "nodes and "
	      "clients can dial",
	      "--bind", "0.0.0.0", "--advertise-addr", "0.0.0.0", NULL);
	fails_with("--advertise-addr: '::' is a wildcard", "--advertise-addr", "[::]",
		   NULL);
	ok("--bind", "0.0.0.0", "--advertise-addr", "10.0.0.1", NULL);
	CHECK(strcmp(cfg.bind, "0.0.0.0") == 0);
	CHECK(strcmp(cfg.advertise, "10.0.0.1") == 0);
}

TEST(host_errors)
{
	fails("--bind: '10.0.0.1:7101' looks like host:port; give the host alone (the "
	      "ports are "
	      "--peer-port and --cli-port)",
	      "--bind", "10.0.0.1:7101", NULL);
	fails("--bind: '300.1.1.1' is not an IPv4 address", "--bind", "300.1.1.1", NULL);
	fails("--bind: '1.2.3' is not an IPv4 address", "--bind", "1.2.3", NULL);
	fails("--bind: '[10.0.0.1]': only IPv6 addresses go in brackets", "--bind",
	      "[10.0.0.1]", NULL);
	fails("--bind: '[::1' has '[' without a closing ']'", "--bind", "[::1", NULL);
	fails("--bind: 'fe80::1::2' is not an IPv6 address", "--bind", "fe80::1::2",
	      NULL);
	fails("--bind: '-lead.example' is not an address or a host name", "--bind",
	      "-lead.example", NULL);
	fails("--bind: 'a..b' is not an address or a host name", "--bind", "a..b", NULL);
	fails("--bind: empty (give an address or a host name)", "--bind", "", NULL);
	fails("--advertise-addr: 'a b' is not an address or a host name",
	      "--advertise-addr", "a b", NULL);
	char label[80];
	memset(label, 'a', 64);
	label[64] = '\0';
	fails_with("is not an address or a host name", "--bind", label, NULL);
	label[63] = '\0';
	ok("--bind", label, NULL);
	ok("--bind", "localhost", NULL);
	ok("--advertise-addr", "", NULL); /* "" = same as bind */
	CHECK(strcmp(cfg.advertise, "127.0.0.1") == 0);
}

TEST(command_line_errors)
{
	fails("--peer-port: 'abc' is not a port number (1-65535)", "--peer-port", "abc",
	      NULL);
	fails("--peer-port: '0' is not a port number (1-65535)", "--peer-port=0", NULL);
	fails("--cli-port: '65536' is not a port number (1-65535)", "--cli-port", "65536",
	      NULL);
	fails("--cli-port: '-1' is not a port number (1-65535)", "--cli-port=-1", NULL);
	fails("unknown option '--leese-ms' (did you mean --lease-ms?)", "--leese-ms", "3",
	      NULL);
	fails("unknown option '--frobnicate' (see --help)", "--frobnicate", NULL);
	fails("unknown option '-p' (options are long, like --peer-port; see --help)",
	      "-p", "7101", NULL);
	fails("unexpected argument 'extra' (options start with --; see --help)", "extra",
	      NULL);
	fails("unexpected argument '--' (options start with --; see --help)", "--", NULL);
	fails("unexpected argument 'yes' (--init takes no separate value; write "
	      "--init=yes)",
	      "--init", "yes", NULL);
	fails("--lease-ms: missing value", "--lease-ms", NULL);
	fails("--logfile: missing value (the next argument '--init' is an option; write "
	      "--logfile=--init if you mean it)",
	      "--logfile", "--init", NULL);
	fails("--lease-ms: 'fast' is not a number (50-60000)", "--lease-ms", "fast",
	      NULL);
	fails("--lease-ms: '1e3' is not a number (50-60000)", "--lease-ms", "1e3", NULL);
	fails("--lease-ms: ' 100' is not a number (50-60000)", "--lease-ms", " 100",
	      NULL);
	fails("--lease-ms: '100 ' is not a number (50-60000)", "--lease-ms", "100 ",
	      NULL);
	fails("--lease-ms: '0x100' is not a number (50-60000)", "--lease-ms", "0x100",
	      NULL);
	fails("--lease-ms: '' is not a number (50-60000)", "--lease-ms=", NULL);
	fails("--lease-ms: '-100' is not a number (50-60000)", "--lease-ms=-100", NULL);
	fails("--lease-ms: '10' is out of range (50-60000)", "--lease-ms", "10", NULL);
	fails("--lease-ms: '99999999999999999999999' is out of range (50-60000)",
	      "--lease-ms", "99999999999999999999999", NULL);
	fails("--node-id: '0' is not a node id (a decimal number 1-18446744073709551615)",
	      "--node-id", "0", NULL);
	fails("--node-id: '18446744073709551616' is not a node id (a decimal number "
	      "1-18446744073709551615)",
	      "--node-id", "18446744073709551616", NULL);
	fails(
	    "--node-id: 'n3' is not a node id (a decimal number 1-18446744073709551615)",
	    "--node-id", "n3", NULL);
	fails("--init: 'maybe' is not yes/no, true/false, on/off or 1/0", "--init=maybe",
	      NULL);
	fails("--log-level: 'verbose' is not a log level (debug, info, warn, error)",
	      "--log-level", "verbose", NULL);
	fails("--storage-dir: empty", "--storage-dir", "", NULL);
	fails("--data-dir: empty", "--data-dir=", NULL); /* named as written */
	fails("--help takes no value", "--help=yes", NULL);
	fails("--requirepass: contains a control character", "--requirepass", "a\nb",
	      NULL);
	fails("--debug-clock-rate-ppm: '-1000000' is out of range (-999999 to 999999)",
	      "--debug-clock-rate-ppm", "-1000000", NULL);
	fails("--debug-clock-rate-ppm: '--5' is not a number (-999999 to 999999)",
	      "--debug-clock-rate-ppm=--5", NULL);
	/* The first error is the one reported. */
	fails("--cli-port: 'x' is not a port number (1-65535)", "--cli-port", "x",
	      "--lease-ms", "x", NULL);
}

TEST(long_or_binary_values_stay_one_short_line)
{
	static char big[5000];
	memset(big, '9', sizeof(big) - 1);
	big[100] = '\n';
	big[sizeof(big) - 1] = '\0';
	CHECK(parse("--lease-ms", big, NULL) < 0);
	CHECK(strchr(err, '\n') == NULL);
	CHECK(strlen(err) < 200);
	CHECK(strncmp(err, "--lease-ms: '99999", 18) == 0);
	CHECK(strstr(err, "...' is not a number (50-60000)") != NULL);
	CHECK(parse("--requirepass", big, NULL) < 0);
	CHECK(strcmp(err, "--requirepass: longer than 511 bytes") == 0);
	CHECK(parse("--bind", "\x1b[31m", NULL) < 0);
	CHECK(strcmp(err, "--bind: '?[31m' is not an address or a host name") == 0);
}

struct range_case {
	const char *flag;
	const char *lo, *below, *hi, *above;
	const char *range;
	const char *extra; /* a setting the in-range values need, or NULL */
};

TEST(ranges)
{
	static const struct range_case rc[] = {
	    {"replication-factor", "1", "0", "7", "8", "1-7", NULL},
	    {"max-clients", "1", "0", "1000000", "1000001", "1-1000000", NULL},
	    {"max-value-bytes", "1", "0", "8m", "8388609", "1-8m", NULL},
	    {"client-output-limit", "65536", "65535", "64g", "68719476737", "64k-64g",
	     "--max-value-bytes=1k"},
	    {"max-inline-bytes", "1k", "1023", "8m", "8388609", "1k-8m", NULL},
	    {"max-multibulk-count", "16", "15", "2147483647", "2147483648",
	     "16-2147483647", NULL},
	    {"lease-ms", "50", "49", "60000", "60001", "50-60000", "--heartbeat-ms=16"},
	    {"heartbeat-ms", "1", "0", "19999", "20000", "1-19999", "--lease-ms=60000"},
	    {"clock-drift-ppm", "0", NULL, "499999", "500000", "0-499999", NULL},
	    {"request-timeout-ms", "100", "99", "3600000", "3600001", "100-3600000",
	     NULL},
	    {"snapshot-entries", "10", "9", "1000000000000", "1000000000001",
	     "10-1000000000000", NULL},
	    {"snapshot-log-bytes", "64k", "65535", "64g", "68719476737", "64k-64g", NULL},
	    {"wal-segment-bytes", "64k", "65535", "4g", "4294967297", "64k-4g", NULL},
	    {"value-cache-bytes", "0", NULL, "64g", "68719476737", "0-64g", NULL},
	    {"idle-poll-us", "0", NULL, "10000", "10001", "0-10000", NULL},
	    {"debug-clock-rate-ppm", "-999999", "-1000000", "999999", "1000000",
	     "-999999 to 999999", NULL},
	};
	for (size_t i = 0; i < sizeof(rc) / sizeof(rc[0]); i++) {
		const struct range_case *c = &rc[i];
		char flag[64], want[256];
		snprintf(flag, sizeof(flag), "--%s", c->flag);
		const char *extra = c->extra != NULL ? c->extra : "--init=no";
		ok(flag, c->lo, extra, NULL);
		ok(flag, c->hi, extra, NULL);
		if (c->below != NULL) {
			snprintf(want, sizeof(want), "%s: '%s' is out of range (%s)",
				 flag, c->below, c->range);
			fails(want, flag, c->below, extra, NULL);
		}
		snprintf(want, sizeof(want), "%s: '%s' is out of range (%s)", flag,
			 c->above, c->range);
		fails(want, flag, c->above, extra, NULL);
	}
	ok("--peer-port", "1", NULL);
	ok("--peer-port", "65535", NULL);
	ok("--node-id", "1", NULL);
	CHECK_EQ(cfg.node_id, 1);
}

TEST(size_suffixes)
{
	static const struct {
		const char *text;
		unsigned long long bytes;
	} sizes[] = {
	    {"1048576", 1048576}, {"512b", 512},	{"512B", 512},
	    {"4k", 4096},	  {"4K", 4096},		{"4kb", 4096},
	    {"4KB", 4096},	  {"4KiB", 4096},	{"4kib", 4096},
	    {"2m", 2u << 20},	  {"2M", 2u << 20},	{"2mb", 2u << 20},
	    {"2MB", 2u << 20},	  {"2MiB", 2u << 20},	{"1g", 1ull << 30},
	    {"1GB", 1ull << 30},  {"3GiB", 3ull << 30}, {"0064k", 65536},
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (sizes[i].bytes <= 8u << 20) {
			ok("--max-value-bytes", sizes[i].text, NULL);
			CHECK_EQ(cfg.max_value_bytes, sizes[i].bytes);
		} else {
			ok("--wal-segment-bytes", sizes[i].text, NULL);
			CHECK_EQ(cfg.wal_segment_bytes, sizes[i].bytes);
		}
	}
	ok("--max-value-bytes", "512b", NULL);
	CHECK_EQ(cfg.max_value_bytes, 512);
	ok("--max-value-bytes", "8MiB", NULL);
	CHECK_EQ(cfg.max_value_bytes, 8u << 20);
	const char *bad[] = {"1.5m", "m",  "1mm", "1 m", "1t",
			     "1kbb", "k1", "-1k", "1mi", "+1k"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[200];
		snprintf(want, sizeof(want),
			 "--max-value-bytes: '%s' is not a size (bytes, or with a suffix "
			 "k, m or g: "
			 "1-8m)",
			 bad[i]);
		fails(want, "--max-value-bytes", bad[i], NULL);
	}
	fails("--wal-segment-bytes: '17179869184g' is out of range (64k-4g)",
	      "--wal-segment-bytes", "17179869184g", NULL); /* overflows 64 bits */
	fails("--wal-segment-bytes: '99999999999999999999' is out of range (64k-4g)",
	      "--wal-segment-bytes", "99999999999999999999", NULL);
	fails("--max-value-bytes: '4g' is out of range (1-8m)", "--max-value-bytes", "4g",
	      NULL);
}

TEST(cross_field_rules)
{
	fails("--heartbeat-ms (400) must be less than a third of --lease-ms (1000)",
	      "--heartbeat-ms", "400", NULL);
	fails("--heartbeat-ms (334) must be less than a third of --lease-ms (1000)",
	      "--heartbeat-ms", "334", NULL);
	ok("--heartbeat-ms", "333", NULL);
	fails("--heartbeat-ms (100) must be less than a third of --lease-ms (300)",
	      "--lease-ms", "300", NULL);
	fails("--peer-port and --cli-port are both 7101: they must differ", "--cli-port",
	      "7101", NULL);
	fails("--client-output-limit (64k) must be at least --max-value-bytes (64k) + "
	      "1k, to "
	      "hold a reply with the largest value",
	      "--client-output-limit", "64k", "--max-value-bytes", "64k", NULL);
	ok("--client-output-limit", "65k", "--max-value-bytes", "64k", NULL);
	fails("--value-cache-bytes (1023) must be 0 (no cache) or at least 1k",
	      "--value-cache-bytes", "1023", NULL);
	ok("--value-cache-bytes", "1k", NULL);
	ok("--value-cache-bytes", "0", NULL);
}

TEST(check_hand_built_configs)
{
	srv_config d;
	srv_config_default(&d);
	d.node_id = 0; /* generate */
	CHECK_EQ(srv_config_check(&d, err, sizeof(err)), 0);
	d.lease_ms = 10;
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	CHECK(strcmp(err, "--lease-ms: 10 is out of range (50-60000)") == 0);
	srv_config_default(&d);
	d.peer_port = 0;
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	CHECK(strcmp(err, "--peer-port: 0 is not a port number (1-65535)") == 0);
	srv_config_default(&d);
	d.debug_clock_rate_ppm = -1000000;
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	CHECK(
	    strcmp(
		err,
		"--debug-clock-rate-ppm: -1000000 is out of range (-999999 to 999999)") ==
	    0);
	srv_config_default(&d);
	strcpy(d.log_level, "loud");
	CHECK(srv_config_check(&d, NULL, 0) < 0);
	srv_config_default(&d);
	d.storage_dir[0] = '\0';
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	CHECK(strcmp(err, "--storage-dir: empty") == 0);
	srv_config_default(&d);
	d.seed_count = 1;
	strcpy(d.seed_peers[0], "nope");
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	CHECK(strncmp(err, "--seed-peers: 'nope' has no port", 32) == 0);
	srv_config_default(&d);
	d.seed_count = SRV_MAX_SEEDS + 1;
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	srv_config_default(&d);
	memset(d.bind, 'a', sizeof(d.bind));
	CHECK(srv_config_check(&d, err, sizeof(err)) < 0);
	CHECK(strcmp(err, "--bind: not NUL-terminated") == 0);
	/* A small err buffer is cut, never overrun. */
	char small[8];
	srv_config_default(&d);
	d.lease_ms = 1;
	CHECK(srv_config_check(&d, small, sizeof(small)) < 0);
	CHECK(strcmp(small, "--lease") == 0);
}

/* ------------------------------------------------------------------------
 * The config file */

TEST(config_file_forms)
{
	conf("\xEF\xBB\xBF# rasputind settings\n"
	     "\n"
	     "node-id 42\n"
	     "   bind = 10.0.0.7   # trailing comment\n"
	     "peer-port=9101\n"
	     "cli_port\t9001\r\n" /* underscore spelling, a tab, CRLF */
	     "storage-dir \"/var/lib/ras putin\"\n"
	     "logfile '/var/log/r#1.log'\n"
	     "requirepass pa#ss word # '#' inside a word is kept\n"
	     "log-level WARN\n"
	     "seed-peers 10.0.0.1:7101, 10.0.0.2:7101\n"
	     "init\n" /* a bare switch is on */
	     "no-lease-reads = yes\n"
	     "max-value-bytes 2m\n"
	     "   # indented comment\n"
	     "lease-ms 2000\n"
	     "debug-clock-rate-ppm -300\n"
	     "advertise-addr \"\"\n"
	     "debug-unsafe-follower-reads false"); /* no final newline */
	ok("--config", conf_path, NULL);
	CHECK_EQ(cfg.node_id, 42);
	CHECK(strcmp(cfg.bind, "10.0.0.7") == 0);
	CHECK(strcmp(cfg.advertise, "10.0.0.7") == 0);
	CHECK_EQ(cfg.peer_port, 9101);
	CHECK_EQ(cfg.cli_port, 9001);
	CHECK(strcmp(cfg.storage_dir, "/var/lib/ras putin") == 0);
	CHECK(strcmp(cfg.logfile, "/var/log/r#1.log") == 0);
	CHECK(strcmp(cfg.requirepass, "pa#ss word") == 0);
	CHECK(strcmp(cfg.log_level, "warn") == 0);
	CHECK_EQ(cfg.seed_count, 2);
	CHECK(strcmp(cfg.seed_peers[1], "10.0.0.2:7101") == 0);
	CHECK(cfg.init);
	CHECK(!cfg.lease_reads);
	CHECK_EQ(cfg.max_value_bytes, 2u << 20);
	CHECK_EQ(cfg.lease_ms, 2000);
	CHECK_EQ(cfg.debug_clock_rate_ppm, -300);
	CHECK(!cfg.debug_stale_follower_reads);
	CHECK(strcmp(cfg.config_file, conf_path) == 0);
}

TEST(config_file_quotes_and_escapes)
{
	conf("requirepass \"a \\\"quoted\\\" \\\\ word\"  # comment\n"
	     "logfile 'single \\ \"kept\"'\n");
	ok("--config", conf_path, NULL);
	CHECK(strcmp(cfg.requirepass, "a \"quoted\" \\ word") == 0);
	CHECK(strcmp(cfg.logfile, "single \\ \"kept\"") == 0);
}

TEST(config_file_empty_and_comment_only)
{
	conf("");
	ok("--config", conf_path, NULL);
	CHECK_EQ(cfg.lease_ms, 1000);
	conf("# nothing\n\n   \n\t# here\n");
	ok("--config", conf_path, NULL);
	CHECK_EQ(cfg.peer_port, 7101);
}

TEST(command_line_overrides_file_wherever_config_appears)
{
	conf("lease-ms 2000\nheartbeat-ms 200\nstorage-dir /from/file\n");
	ok("--lease-ms", "3000", "--config", conf_path, NULL);
	CHECK_EQ(cfg.lease_ms, 3000);
	CHECK_EQ(cfg.heartbeat_ms, 200);
	ok("--config", conf_path, "--lease-ms", "3000", NULL);
	CHECK_EQ(cfg.lease_ms, 3000);
}

TEST(config_given_wrongly)
{
	conf("lease-ms 2000\n");
	fails("--config: given twice (only one config file is read)", "--config",
	      conf_path, "--config", conf_path, NULL);
	fails("--config: empty", "--config=", NULL);
	fails("--config: missing value", "--config", NULL);
	fails("--config: cannot open '/nonexistent/r.conf': No such file or directory",
	      "--config", "/nonexistent/r.conf", NULL);
	/* A syntax error elsewhere on the command line comes before the file. */
	fails("unknown option '--bogus' (see --help)", "--bogus", "--config",
	      "/nonexistent/r.conf", NULL);
}

TEST(command_line_seeds_replace_the_files)
{
	conf("seed-peers 10.0.0.1:7101,10.0.0.2:7101\n");
	ok("--config", conf_path, NULL);
	CHECK_EQ(cfg.seed_count, 2);
	ok("--seed-peers", "10.0.0.3:7101", "--config", conf_path, "--seed-peers",
	   "10.0.0.4:7101", NULL);
	CHECK_EQ(cfg.seed_count, 2);
	CHECK(strcmp(cfg.seed_peers[0], "10.0.0.3:7101") == 0);
	CHECK(strcmp(cfg.seed_peers[1], "10.0.0.4:7101") == 0);
	ok("--config", conf_path, "--seed-peers=", NULL);
	CHECK_EQ(cfg.seed_count, 0);
}

TEST(config_file_errors_name_file_and_line)
{
	conf("lease-ms 2000\n\n# x\nleese-ms 3000\n");
	fails(at_line(4, "unknown setting 'leese-ms' (did you mean 'lease-ms'?)"),
	      "--config", conf_path, NULL);
	conf("frobnicate on\n");
	fails(at_line(1, "unknown setting 'frobnicate'"), "--config", conf_path, NULL);
	conf("--lease-ms 2000\n");
	fails(
	    at_line(
		1,
		"unknown setting '--lease-ms' (write it without the dashes: 'lease-ms')"),
	    "--config", conf_path, NULL);
	conf("peer-port 7101\npeer-port abc\n");
	fails(at_line(2, "peer-port is already set on line 1"), "--config", conf_path,
	      NULL);
	conf("peer-port abc\n");
	fails(at_line(1, "peer-port: 'abc' is not a port number (1-65535)"), "--config",
	      conf_path, NULL);
	conf("storage-dir /a\ndata-dir /b\n");
	fails(at_line(2, "storage-dir is already set on line 1"), "--config", conf_path,
	      NULL);
	conf("lease-ms\n");
	fails(at_line(1, "lease-ms: missing value"), "--config", conf_path, NULL);
	conf("lease-ms =\n");
	fails(at_line(1, "lease-ms: '' is not a number (50-60000)"), "--config",
	      conf_path, NULL);
	conf("lease-ms 10\n");
	fails(at_line(1, "lease-ms: '10' is out of range (50-60000)"), "--config",
	      conf_path, NULL);
	conf("init maybe\n");
	fails(at_line(1, "init: 'maybe' is not yes/no, true/false, on/off or 1/0"),
	      "--config", conf_path, NULL);
	conf("logfile \"/var/log/r.log\n");
	fails(at_line(1, "logfile: unterminated double quote"), "--config", conf_path,
	      NULL);
	conf("logfile '/var/log/r.log\n");
	fails(at_line(1, "logfile: unterminated single quote"), "--config", conf_path,
	      NULL);
	conf("logfile \"/var/log/r.log\" extra\n");
	fails(at_line(1, "logfile: text after the closing quote"), "--config", conf_path,
	      NULL);
	conf("logfile \"a\\nb\"\n");
	fails(at_line(1, "logfile: only \\\" and \\\\ are escapes inside double quotes"),
	      "--config", conf_path, NULL);
	conf("config /etc/other.conf\n");
	fails(at_line(1, "'config' cannot be set in a config file"), "--config",
	      conf_path, NULL);
	conf("help\n");
	fails(at_line(1, "'help' cannot be set in a config file"), "--config", conf_path,
	      NULL);
	conf("lease-ms 2000\nbind 0.0.0.0:7101\n");
	fails(
	    at_line(2,
		    "bind: '0.0.0.0:7101' looks like host:port; give the host alone (the "
		    "ports are --peer-port and --cli-port)"),
	    "--config", conf_path, NULL);
	conf("seed-peers 10.0.0.1\n");
	fails(at_line(1, "seed-peers: '10.0.0.1' has no port (want host:port, e.g. "
			 "10.0.0.1:7101)"),
	      "--config", conf_path, NULL);
	{
		FILE *f = fopen(conf_path, "wb");
		CHECK(f != NULL);
		CHECK(fwrite("lease-ms 2000\nrequirepass a\0b\n", 1, 30, f) == 30);
		fclose(f);
	}
	fails(at_line(2, "contains a NUL byte; is this a text file?"), "--config",
	      conf_path, NULL);
	/* The cross-field rules apply to what the file set too. */
	conf("heartbeat-ms 500\n");
	fails("--heartbeat-ms (500) must be less than a third of --lease-ms (1000)",
	      "--config", conf_path, NULL);
	/* ...and the command line can repair it. */
	ok("--config", conf_path, "--lease-ms", "2000", NULL);
}

TEST(config_file_too_big_is_refused)
{
	conf("");
	FILE *f = fopen(conf_path, "wb");
	CHECK(f != NULL);
	static char blank[4096];
	memset(blank, '\n', sizeof(blank));
	for (int i = 0; i < 257; i++)
		CHECK(fwrite(blank, 1, sizeof(blank), f) == sizeof(blank));
	fclose(f);
	char want[256];
	snprintf(want, sizeof(want),
		 "config %s: larger than 1024 KiB; is this the right file?", conf_path);
	fails(want, "--config", conf_path, NULL);
}

TEST(config_file_that_is_a_directory)
{
	conf("");
	fails_with("--config: cannot read '", "--config", tmp_dir, NULL);
}

/* ------------------------------------------------------------------------
 * --help and --version */

TEST(version)
{
	CHECK_EQ(parse("--version", NULL), 1);
	CHECK(strcmp(out_text, "rasputind 0.1.0\n") == 0);
	CHECK(strcmp(out_text, "rasputind " RASPUTIN_VERSION "\n") == 0);
}

TEST(help_lists_every_option_by_group_with_defaults)
{
	CHECK_EQ(parse("--help", NULL), 1);
	const char *t = out_text;
	CHECK(strncmp(t, "Usage: rasputind [OPTIONS]\n", 27) == 0);
	const char *groups[] = {"\nCluster:\n",		 "\nNetwork:\n",
				"\nStorage and logs:\n", "\nLimits:\n",
				"\nConsensus timing:\n", "\nDebug (UNSAFE",
				"\nGeneral:\n",		 "\nExamples:\n"};
	const char *prev = t;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const char *g = strstr(t, groups[i]);
		CHECK(g != NULL);
		CHECK(g > prev); /* in this order */
		prev = g;
	}
	const char *flags[] = {"--node-id N",
			       "--init",
			       "--seed-peers HOST:PORT",
			       "--bind HOST",
			       "--advertise-addr HOST",
			       "--peer-port PORT",
			       "--cli-port PORT",
			       "--storage-dir DIR",
			       "--data-dir",
			       "--logfile FILE",
			       "--log-level LEVEL",
			       "--replication-factor N",
			       "--requirepass PASS",
			       "--idle-poll-us US",
			       "--max-clients N",
			       "--max-value-bytes BYTES",
			       "--client-output-limit BYTES",
			       "--max-inline-bytes BYTES",
			       "--max-multibulk-count N",
			       "--lease-ms MS",
			       "--heartbeat-ms MS",
			       "--clock-drift-ppm PPM",
			       "--no-lease-reads",
			       "--request-timeout-ms MS",
			       "--snapshot-entries N",
			       "--snapshot-log-bytes BYTES",
			       "--wal-segment-bytes BYTES",
			       "--value-cache-bytes BYTES",
			       "--debug-unsafe-follower-reads",
			       "--debug-clock-rate-ppm PPM",
			       "--config FILE",
			       "--help",
			       "--version"};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (strstr(t, flags[i]) == NULL)
			printf("    missing %s\n", flags[i]);
		CHECK(strstr(t, flags[i]) != NULL);
	}
	const char *defaults[] = {"default 7101\n",
				  "default 7001\n",
				  "default 127.0.0.1\n",
				  "default ./rasputin-data\n",
				  "default stderr\n",
				  "default info\n",
				  "default 1000, range 50-60000\n",
				  "default 100, range 1-19999\n",
				  "default 1m, range 1-8m\n",
				  "default 64m, range 64k-64g\n",
				  "default 64k, range 1k-8m\n",
				  "default 3, range 1-7\n",
				  "default 10000, range 0-499999\n",
				  "default 5000, range",
				  "default 100000, range",
				  "default 64m, range 64k-4g\n",
				  "default 1048576, range",
				  "default 200, range 0-10000\n",
				  "default generated on first start\n"};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		if (strstr(t, defaults[i]) == NULL)
			printf("    missing %s\n", defaults[i]);
		CHECK(strstr(t, defaults[i]) != NULL);
	}
	/* The two examples: bootstrap with --init, join with --seed-peers. */
	const char *ex = strstr(t, "\nExamples:\n");
	CHECK(strstr(ex, "--init\n") != NULL);
	CHECK(strstr(ex, "--seed-peers 10.0.0.1:7101") != NULL);
	/* Readable on a terminal. */
	for (const char *l = t; *l;) {
		const char *nl = strchr(l, '\n');
		CHECK(nl != NULL);
		CHECK(nl - l <= 100);
		l = nl + 1;
	}
}

TEST(help_wins_over_errors_and_short_h_works)
{
	CHECK_EQ(parse("-h", NULL), 1);
	CHECK(strncmp(out_text, "Usage: rasputind", 16) == 0);
	CHECK_EQ(parse("--lease-ms", "nonsense", "--bogus", "--help", NULL), 1);
	CHECK(strncmp(out_text, "Usage: rasputind", 16) == 0);
	CHECK_EQ(parse("--config", "/nonexistent", "--version", NULL), 1);
	CHECK(strcmp(out_text, "rasputind 0.1.0\n") == 0);
	/* A value that happens to be "--help" is not a request for help. */
	CHECK_EQ(parse("--requirepass=--help", NULL), 0);
	CHECK(strcmp(cfg.requirepass, "--help") == 0);
}

TEST_MAIN()
