/*
 * sim_params.h — everything that shapes one simulated run: cluster size,
 * the core's configuration, network, disk, clock and fault rates, and the
 * client workload.  The swarm draws a fresh set from each seed
 * (sim_params_draw); scenarios start from sim_params_default (a calm
 * cluster: no random faults) and change what they need.
 */
#ifndef RASPUTIN_SIM_PARAMS_H
#define RASPUTIN_SIM_PARAMS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
	/* cluster and core */
	uint32_t voters;          /* initial voters, 3..7 */
	uint64_t lease_us;        /* cfg.lease_us */
	uint64_t heartbeat_us;    /* cfg.heartbeat_us */
	uint32_t drift_ppm;       /* cfg.drift_ppm: the bound the core assumes */
	uint32_t clock_ppm;       /* actual clock rates stay within +-clock_ppm (<= drift_ppm) */
	uint32_t snapshot_chunk_bytes;
	uint64_t compact_entries; /* cfg.compact_hint_entries */
	uint64_t tick_us;         /* local time between hp_tick calls */
	uint32_t max_batch_entries;    /* cfg.max_batch_entries (0: the core's default) */
	uint32_t max_inflight_appends; /* cfg.max_inflight_appends (0: default) */
	uint32_t max_committed_bytes;  /* cfg.max_committed_bytes (0: no limit) */
	uint64_t compact_bytes;        /* cfg.compact_hint_bytes (0: off) */
	uint32_t compact_jitter_pct;   /* cfg.compact_hint_jitter_pct */
	/* network: per message */
	uint64_t net_min_us, net_max_us;   /* usual one-way latency */
	uint32_t net_tail_ppm;             /* chance of a long delay */
	uint64_t net_tail_min_us, net_tail_max_us;
	uint32_t drop_ppm;
	uint32_t dup_ppm;
	/* disk: per ready batch */
	uint64_t disk_min_us, disk_max_us;
	uint32_t disk_slow_ppm;
	uint64_t disk_slow_max_us;
	uint32_t torn_ppm; /* fs_sim crash_torn_ppm: unsynced writes torn at sectors */
	uint64_t segment_bytes;     /* WAL segment size (small: rollover and deletion) */
	uint32_t inflight_pct;      /* a crash catches the next batches' write round unsynced */
	uint32_t midround_ppm;      /* per write round of >= 3 batches: the node crashes
	                               before its sync returns */
	uint32_t write_eio_ppm;     /* per write: RP_ERR_IO (the node stops) */
	uint32_t write_nospc_ppm;   /* per write: RP_ERR_NOSPC (the node stops) */
	uint32_t sync_eio_ppm;      /* per sync: RP_ERR_FSYNC (fatal: the node stops) */
	uint32_t corrupt_nodes_max; /* nodes whose WAL gets latent bit flips, <= f */
	uint32_t corrupt_pct;       /* chance a faulted crash flips bits (within the budget) */
	/* workload */
	uint32_t clients;
	uint32_t keys;            /* keys 0..keys-1 (<= SIM_KV_KEYS) */
	uint64_t think_max_us;    /* pause between a client's ops, uniform in [0, max] */
	uint64_t op_timeout_us;   /* a client gives up on an op after this */
	uint32_t read_pct;        /* GET share of ops, percent */
	/* faults during [0, fault_us) of the run; a mean of 0 disables a kind */
	uint64_t fault_us;
	uint64_t partition_mean_us, partition_min_us, partition_max_us;
	uint64_t crash_mean_us, down_min_us, down_max_us;
	uint32_t crash_leader_pct; /* share of crashes aimed at the leader */
	uint64_t power_mean_us;    /* power failures: a majority (or all) crash at once */
	uint32_t leader_kill_pct;  /* chance a new leader is crashed or cut off at once */
	uint64_t clock_mean_us;    /* clock rate changes */
	uint64_t member_mean_us;   /* membership operator steps */
	uint32_t member_adds_max;  /* nodes added per run */
	/* after the faults: recovery must happen within this */
	uint64_t liveness_us;
} sim_params;

/* Fault classes that --without can switch off (bit mask). */
enum {
	SIM_WITHOUT_PARTITIONS = 1 << 0,
	SIM_WITHOUT_CRASHES = 1 << 1,
	SIM_WITHOUT_CLOCKS = 1 << 2,   /* drift stays, rates never change */
	SIM_WITHOUT_MEMBERS = 1 << 3,  /* no membership changes */
	SIM_WITHOUT_LOSSY = 1 << 4,    /* no drops, duplicates or long delays */
	SIM_WITHOUT_TORN = 1 << 5,     /* crashes never tear a batch */
	SIM_WITHOUT_SLOWDISK = 1 << 6,
	SIM_WITHOUT_DISKERR = 1 << 7,  /* no EIO / ENOSPC / fsync failures */
	SIM_WITHOUT_CORRUPT = 1 << 8,  /* no latent bit flips */
};

/* Parses a comma-separated list of "partitions,crashes,clocks,members,
 * lossy,torn,slowdisk,diskerr,corrupt" into *mask; false on an unknown word. */
bool sim_params_parse_without(const char *list, uint32_t *mask);
/* Switches off the fault classes in mask. */
void sim_params_without(sim_params *p, uint32_t mask);

/* A calm 5-node cluster: lease 1 s, drift bound 50,000 ppm, small
 * latencies, no drops and no random faults, 5 clients. */
void sim_params_default(sim_params *p);
/* The swarm's mix, drawn from seed (deterministic). */
void sim_params_draw(sim_params *p, uint64_t seed);
/* Prints p, a few lines, each starting with prefix. */
void sim_params_print(FILE *f, const sim_params *p, const char *prefix);

#endif
