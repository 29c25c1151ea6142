/*
 * config.h — rasputind's settings: defaults, the command line, the config
 * file, and the rules that tie settings together.
 *
 * Every setting has a long flag (`--lease-ms 1000` or `--lease-ms=1000`)
 * and the same name without the dashes in a config file (`lease-ms 1000`
 * or `lease-ms = 1000`).  Defaults come first, then the file named by
 * --config (wherever that flag appears), then the command line.  Every
 * value is checked for garbage and range; a bad one is reported as one
 * line that names the flag, or the file and line.  docs/configuration.md
 * lists every setting; `rasputind --help` prints the same list.
 */
#ifndef RASPUTIN_SERVER_CONFIG_H
#define RASPUTIN_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RASPUTIN_VERSION "0.1.0"

enum {
	SRV_MAX_SEEDS = 16,
	SRV_ADDR_MAX = 256, /* a host, or a seed's host:port, NUL included */
	SRV_HOSTPORT_MAX = SRV_ADDR_MAX + 8, /* "[host]:65535" for any host */
	SRV_PATH_MAX = 4096,
};

typedef struct {
	/* Cluster */
	uint64_t node_id; /* --node-id N, non-zero; 0 = generate one on first start */
	bool init;	  /* --init: this node bootstraps a new cluster */
	/* --seed-peers "h:p,h:p": peer addresses (peer ports) to join through.
	 * Stored as "host:port", IPv6 hosts bracketed ("[::1]:7101"), no
	 * duplicates; split with srv_config_split_hostport. */
	char seed_peers[SRV_MAX_SEEDS][SRV_ADDR_MAX];
	uint32_t seed_count; /* <= SRV_MAX_SEEDS */
	/* --replication-factor: voting replicas wanted, 1..7, default 3 */
	uint32_t replication_factor;

	/* Network.  Hosts are stored without brackets ("::1"). */
	char bind[SRV_ADDR_MAX]; /* --bind HOST, default 127.0.0.1 */
	/* --advertise-addr HOST: what other nodes and clients dial.  After a
	 * successful srv_config_parse it is never empty (defaults to bind);
	 * required when bind is a wildcard (0.0.0.0 or ::), never a wildcard. */
	char advertise[SRV_ADDR_MAX];
	uint16_t peer_port;    /* --peer-port, default 7101; != cli_port */
	uint16_t cli_port;     /* --cli-port, default 7001 */
	char requirepass[512]; /* --requirepass PASS: clients must AUTH; "" = none */
	/* --idle-poll-us, default 200, 0..10000: after a loop turn that handled
	 * a message, poll this long before blocking (server/idle_poll.h) */
	uint32_t idle_poll_us;

	/* Storage and logs */
	/* --storage-dir DIR (alias --data-dir), default ./rasputin-data */
	char storage_dir[SRV_PATH_MAX];
	/* --snapshot-entries, default 100000: snapshot + compact the log after
	 * this many entries */
	uint64_t snapshot_entries;
	uint64_t snapshot_log_bytes;
	uint64_t wal_segment_bytes; /* --wal-segment-bytes, default 64 MiB */
	uint64_t value_cache_bytes; /* --value-cache-bytes, default 32 MiB; 0 = off */
	char logfile[SRV_PATH_MAX]; /* --logfile FILE, default "" = stderr */
	/* --log-level debug|info|warn|error, default info; always stored as one
	 * of those four names (rp_log_parse_level reads it) */
	char log_level[16];

	/* Limits */
	uint32_t max_clients;	  /* --max-clients, default 10000 */
	uint32_t max_value_bytes; /* --max-value-bytes, default 1 MiB, <= 8 MiB */
	/* --client-output-limit, default 64 MiB; >= max_value_bytes + 1 KiB */
	uint64_t client_output_limit_bytes;
	uint64_t max_inline_bytes; /* --max-inline-bytes, default 64 KiB */
	uint32_t max_multibulk;	   /* --max-multibulk-count, default 1048576 */
	/* --request-timeout-ms, default 5000: a write without an outcome by
	 * then is answered UNCERTAIN */
	uint32_t request_timeout_ms;

	/* Consensus timing */
	uint32_t lease_ms;	  /* --lease-ms, default 1000, 50..60000 */
	uint32_t heartbeat_ms;	  /* --heartbeat-ms, default 100, < lease_ms / 3 */
	uint32_t clock_drift_ppm; /* --clock-drift-ppm, default 10000 (1%), < 500000 */
	/* default true; --no-lease-reads sets false: every read is confirmed by
	 * a quorum round */
	bool lease_reads;

	/* Debug flags for the fault-testing harness; documented as unsafe */
	/* --debug-unsafe-follower-reads: followers answer reads locally without
	 * a read index (breaks linearizability on purpose) */
	bool debug_stale_follower_reads;
	/* --debug-clock-rate-ppm N: this node's clock runs N ppm fast
	 * (negative: slow) */
	int32_t debug_clock_rate_ppm;

	char config_file[SRV_PATH_MAX]; /* --config FILE as given, "" if none */
} srv_config;

/* Fills *cfg with the defaults (advertise "" = same as bind). */
void srv_config_default(srv_config *cfg);

/*
 * Resets *cfg to the defaults, then reads the file named by --config (if
 * any, wherever it appears), then applies argv[1..argc-1] over it.  The
 * last value of a flag given twice on the command line wins; --seed-peers
 * accumulates, and its first use on the command line replaces the file's
 * list.  Ends with srv_config_check and fills advertise from bind.
 *
 * Returns 0: run with *cfg.
 *         1: --help / -h or --version was asked for (anywhere on the
 *            command line) and printed to `out` (NULL = stdout): exit 0.
 *       < 0: invalid; err holds ONE line without a newline, naming the flag
 *            ("--peer-port: 'abc' is not a port number (1-65535)") or the
 *            file and line ("config /etc/r.conf:12: unknown setting
 *            'leese-ms'"); main prints it to stderr and exits 2.  *cfg is
 *            then partly filled.
 * err may be NULL (err_cap 0).
 */
int srv_config_parse(int argc, char **argv, srv_config *cfg, FILE *out, char *err,
		     size_t err_cap);

/* Checks every field's range and the rules between fields (heartbeat vs
 * lease, bind vs advertise, distinct ports, output limit vs value size).
 * node_id 0 and advertise "" are accepted here.  Returns 0, or < 0 with one
 * line in err. */
int srv_config_check(const srv_config *cfg, char *err, size_t err_cap);

/* "host:port" of our peer / client port as others dial it: advertise (or
 * bind while advertise is ""), IPv6 bracketed.  cap >= SRV_HOSTPORT_MAX
 * always suffices. */
void srv_config_peer_addr(const srv_config *cfg, char *out, size_t cap);
void srv_config_client_addr(const srv_config *cfg, char *out, size_t cap);

/* Splits "host:port" or "[v6]:port" into host (brackets removed) and a
 * port 1..65535.  Returns 0, or < 0 with one line in err (may be NULL)
 * saying what is wrong. */
int srv_config_split_hostport(const char *s, char *host, size_t host_cap, uint16_t *port,
			      char *err, size_t err_cap);

/* Prints the --help text. */
void srv_config_usage(FILE *out);

#endif
