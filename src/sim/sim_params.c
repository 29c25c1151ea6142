/*
 * sim_params.c — the swarm's parameter mix (see sim_params.h).  Every
 * choice comes from a PRNG seeded by the run's seed, so the parameters are
 * part of what a seed replays.  The mix is tuned so that each seeded bug
 * (make mutants) is found within about a thousand seeds while a correct
 * core passes: frequent leader partitions and crashes, clocks pinned at the
 * edges of the drift bound, slow disks, lagging followers and compaction.
 */
#include "sim/sim_params.h"

#include <string.h>

#include "sim/sim_kv.h"
#include "util/check.h"
#include "util/prng.h"

void sim_params_default(sim_params *p)
{
	*p = (sim_params){
		.voters = 5,
		.lease_us = 1000000,
		.heartbeat_us = 100000,
		.drift_ppm = 50000,
		.clock_ppm = 50000,
		.snapshot_chunk_bytes = 256,
		.compact_entries = 256,
		.tick_us = 25000,
		.net_min_us = 100,
		.net_max_us = 1000,
		.net_tail_ppm = 0,
		.net_tail_min_us = 50000,
		.net_tail_max_us = 500000,
		.drop_ppm = 0,
		.dup_ppm = 0,
		.disk_min_us = 50,
		.disk_max_us = 500,
		.disk_slow_ppm = 0,
		.disk_slow_max_us = 5000,
		.torn_ppm = 0,
		.segment_bytes = 64 * 1024,
		.inflight_pct = 0,
		.midround_ppm = 0,
		.write_eio_ppm = 0,
		.write_nospc_ppm = 0,
		.sync_eio_ppm = 0,
		.corrupt_nodes_max = 0,
		.corrupt_pct = 0,
		.clients = 5,
		.keys = 8,
		.think_max_us = 50000,
		.op_timeout_us = 5000000,
		.read_pct = 30,
		.fault_us = 0,
		.partition_mean_us = 0,
		.partition_min_us = 200000,
		.partition_max_us = 5000000,
		.crash_mean_us = 0,
		.down_min_us = 50000,
		.down_max_us = 5000000,
		.crash_leader_pct = 30,
		.clock_mean_us = 0,
		.member_mean_us = 0,
		.member_adds_max = 4,
		.liveness_us = 13000000,
	};
}

static uint64_t pick(rp_prng *rng, uint64_t lo, uint64_t hi)
{
	return rp_prng_range(rng, lo, hi);
}

static bool chance_pct(rp_prng *rng, uint32_t pct)
{
	return rp_prng_below(rng, 100) < pct;
}

void sim_params_draw(sim_params *p, uint64_t seed)
{
	rp_prng rng;
	rp_prng_init(&rng, seed ^ 0x70617261ULL); /* "para" */
	sim_params_default(p);

	uint64_t r = rp_prng_below(&rng, 100);
	p->voters = r < 40 ? 3 : r < 75 ? 5 : r < 83 ? 4 : r < 90 ? 6 : 7;

	p->lease_us = chance_pct(&rng, 75) ? 1000000 : 500000;
	p->heartbeat_us = p->lease_us / (chance_pct(&rng, 50) ? 10 : 5);
	p->tick_us = p->heartbeat_us / 4;
	p->drift_ppm = (uint32_t)pick(&rng, 20000, 100000);
	p->clock_ppm = p->drift_ppm;
	static const uint32_t chunks[] = {64, 128, 256};
	p->snapshot_chunk_bytes = chunks[rp_prng_below(&rng, 3)];
	p->compact_entries = chance_pct(&rng, 50) ? pick(&rng, 16, 64) : pick(&rng, 64, 512);
	/* Small batches make a lagging follower acknowledge old-term entries
	 * before a new leader's no-op: where a wrong commit rule bites. */
	p->max_batch_entries = chance_pct(&rng, 40) ? (uint32_t)pick(&rng, 1, 4) : 0;
	p->max_inflight_appends = chance_pct(&rng, 30) ? (uint32_t)pick(&rng, 1, 3) : 0;

	p->net_min_us = pick(&rng, 100, 500);
	p->net_max_us = pick(&rng, p->net_min_us, 2000);
	p->net_tail_ppm = chance_pct(&rng, 30) ? 0 : (uint32_t)pick(&rng, 1000, 50000);
	p->drop_ppm = chance_pct(&rng, 30) ? 0 : (uint32_t)pick(&rng, 1000, 100000);
	p->dup_ppm = chance_pct(&rng, 40) ? 0 : (uint32_t)pick(&rng, 1000, 50000);

	p->disk_min_us = 50;
	p->disk_max_us = pick(&rng, 100, 500);
	if (chance_pct(&rng, 25)) {
		/* Slow fsyncs (network storage): acknowledged-but-not-durable
		 * windows become milliseconds long. */
		p->disk_min_us = pick(&rng, 500, 2000);
		p->disk_max_us = pick(&rng, p->disk_min_us, 10000);
	}
	p->disk_slow_ppm = chance_pct(&rng, 50) ? 0 : (uint32_t)pick(&rng, 1000, 50000);
	p->disk_slow_max_us = pick(&rng, 2000, 30000);
	p->torn_ppm = chance_pct(&rng, 50) ? 0 : 500000;

	p->clients = (uint32_t)pick(&rng, 3, 10);
	r = rp_prng_below(&rng, 100);
	p->keys = r < 40 ? (uint32_t)pick(&rng, 1, 3) : (uint32_t)pick(&rng, 4, SIM_KV_KEYS);
	p->think_max_us = chance_pct(&rng, 50) ? pick(&rng, 5000, 50000) : pick(&rng, 50000, 300000);
	p->read_pct = (uint32_t)pick(&rng, 20, 60);

	p->fault_us = pick(&rng, 20, 60) * 1000000;
	if (!chance_pct(&rng, 10)) {
		p->partition_mean_us = pick(&rng, 1000, 10000) * 1000;
		p->partition_min_us = pick(&rng, 50, 500) * 1000;
		p->partition_max_us = pick(&rng, p->partition_min_us / 1000, 8000) * 1000;
	}
	if (chance_pct(&rng, 60)) {
		p->crash_mean_us = pick(&rng, 1000, 15000) * 1000;
		p->down_min_us = pick(&rng, 10, 200) * 1000;
		p->down_max_us = pick(&rng, p->down_min_us / 1000, 5000) * 1000;
		p->crash_leader_pct = (uint32_t)pick(&rng, 10, 60);
	}
	if (chance_pct(&rng, 30))
		p->power_mean_us = pick(&rng, 3000, 15000) * 1000;
	if (chance_pct(&rng, 20))
		p->leader_kill_pct = (uint32_t)pick(&rng, 20, 70);
	if (chance_pct(&rng, 80))
		p->clock_mean_us = pick(&rng, 500, 10000) * 1000;
	if (chance_pct(&rng, 30)) {
		p->member_mean_us = pick(&rng, 200, 2000) * 1000;
		p->member_adds_max = (uint32_t)pick(&rng, 1, 6);
	}
	p->liveness_us = 10000000 + 3 * p->lease_us;

	/* The disk (drawn last, so the draws above stay what they were). */
	/* 8-64 KiB, mostly small: fs_sim copies a file's content at each
	 * fdatasync, so the segment size is what a round costs. */
	p->segment_bytes = (chance_pct(&rng, 75) ? pick(&rng, 16, 32) : pick(&rng, 32, 128)) * 512;
	p->inflight_pct = chance_pct(&rng, 30) ? 0 : (uint32_t)pick(&rng, 20, 80);
	p->midround_ppm = p->inflight_pct ? (uint32_t)pick(&rng, 500, 5000) : 0;
	if (chance_pct(&rng, 40)) {
		p->write_eio_ppm = (uint32_t)pick(&rng, 0, 100);
		p->write_nospc_ppm = (uint32_t)pick(&rng, 0, 50);
		p->sync_eio_ppm = (uint32_t)pick(&rng, 0, 100);
	}
	if (chance_pct(&rng, 35)) {
		/* The fault assumption (sim.c): at most f = (voters - 1) / 2 nodes
		 * over the whole run; the operator may shrink a group to 3 voters,
		 * so with membership changes f = 1. */
		uint32_t f = (p->voters - 1) / 2;
		if (p->member_mean_us && f > 1)
			f = 1;
		p->corrupt_nodes_max = f;
		p->corrupt_pct = (uint32_t)pick(&rng, 10, 50);
	}
	/* Committed entries handed out in slices (cfg.max_committed_bytes, as
	 * rasputind runs): slower applies, and a node far behind answering its
	 * peers between slices. */
	p->max_committed_bytes = chance_pct(&rng, 40) ? (uint32_t)pick(&rng, 1, 256) : 0;
	/* Compaction also by the log's bytes (rasputind's --snapshot-log-bytes):
	 * snapshots at other points than every compact_entries. */
	p->compact_bytes = chance_pct(&rng, 30) ? pick(&rng, 256, 8192) : 0;
	/* Bounds grown by a random share at every compaction, as rasputind
	 * runs (cfg.compact_hint_jitter_pct). */
	p->compact_jitter_pct = chance_pct(&rng, 50) ? 50 : 0;
}

void sim_params_print(FILE *f, const sim_params *p, const char *prefix)
{
	fprintf(f, "%svoters %u, lease %llu ms, heartbeat %llu ms, drift bound %u ppm (clocks %u), "
	           "compact every %llu entries or %llu bytes (0: off) + up to %u%%, snapshot chunks %u B\n",
	        prefix, p->voters, (unsigned long long)(p->lease_us / 1000),
	        (unsigned long long)(p->heartbeat_us / 1000), p->drift_ppm, p->clock_ppm,
	        (unsigned long long)p->compact_entries, (unsigned long long)p->compact_bytes,
	        p->compact_jitter_pct, p->snapshot_chunk_bytes);
	fprintf(f, "%snet %llu-%llu us, tail %.1f%% (%llu-%llu ms), drop %.1f%%, dup %.1f%%; "
	           "disk %llu-%llu us, slow %.1f%% (<= %llu ms), torn %s\n",
	        prefix, (unsigned long long)p->net_min_us, (unsigned long long)p->net_max_us,
	        p->net_tail_ppm / 1e4, (unsigned long long)(p->net_tail_min_us / 1000),
	        (unsigned long long)(p->net_tail_max_us / 1000), p->drop_ppm / 1e4,
	        p->dup_ppm / 1e4, (unsigned long long)p->disk_min_us,
	        (unsigned long long)p->disk_max_us, p->disk_slow_ppm / 1e4,
	        (unsigned long long)(p->disk_slow_max_us / 1000), p->torn_ppm ? "yes" : "no");
	fprintf(f, "%sDisk: WAL segments %llu KiB, %u%% of crashes catch a write round unsynced, "
	           "%u ppm of rounds (of >= 3 batches) crash before their sync returns, torn writes %s, write EIO %u ppm, write ENOSPC %u ppm, fsync EIO %u ppm, "
	           "bit flips on <= %u nodes (%u%% of crashes)\n",
	        prefix, (unsigned long long)(p->segment_bytes / 1024), p->inflight_pct,
	        p->midround_ppm, p->torn_ppm ? "yes" : "no", p->write_eio_ppm, p->write_nospc_ppm, p->sync_eio_ppm,
	        p->corrupt_nodes_max, p->corrupt_pct);
	fprintf(f, "%sworkload %u clients, %u keys, think <= %llu ms, %u%% reads, timeout %llu ms\n",
	        prefix, p->clients, p->keys, (unsigned long long)(p->think_max_us / 1000),
	        p->read_pct, (unsigned long long)(p->op_timeout_us / 1000));
	fprintf(f, "%sbatches <= %u entries, <= %u appends in flight (0: core default), committed "
	           "handed out <= %u bytes at a time (0: all); %u%% of new leaders crashed or cut "
	           "off at once\n",
	        prefix, p->max_batch_entries, p->max_inflight_appends, p->max_committed_bytes,
	        p->leader_kill_pct);
	fprintf(f, "%sfaults for %llu s: partitions every ~%llu ms (%llu-%llu ms), crashes every ~%llu ms "
	           "(down %llu-%llu ms, %u%% leader), power failures every ~%llu ms, clock changes "
	           "every ~%llu ms, membership every ~%llu ms (<= %u adds); liveness within %llu ms\n",
	        prefix, (unsigned long long)(p->fault_us / 1000000),
	        (unsigned long long)(p->partition_mean_us / 1000),
	        (unsigned long long)(p->partition_min_us / 1000),
	        (unsigned long long)(p->partition_max_us / 1000),
	        (unsigned long long)(p->crash_mean_us / 1000),
	        (unsigned long long)(p->down_min_us / 1000),
	        (unsigned long long)(p->down_max_us / 1000), p->crash_leader_pct,
	        (unsigned long long)(p->power_mean_us / 1000),
	        (unsigned long long)(p->clock_mean_us / 1000),
	        (unsigned long long)(p->member_mean_us / 1000), p->member_adds_max,
	        (unsigned long long)(p->liveness_us / 1000));
}

bool sim_params_parse_without(const char *list, uint32_t *mask)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} kinds[] = {
		{"partitions", SIM_WITHOUT_PARTITIONS}, {"crashes", SIM_WITHOUT_CRASHES},
		{"clocks", SIM_WITHOUT_CLOCKS},         {"members", SIM_WITHOUT_MEMBERS},
		{"lossy", SIM_WITHOUT_LOSSY},           {"torn", SIM_WITHOUT_TORN},
		{"slowdisk", SIM_WITHOUT_SLOWDISK},     {"diskerr", SIM_WITHOUT_DISKERR},
		{"corrupt", SIM_WITHOUT_CORRUPT},
	};
	*mask = 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool found = false;
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			if (strlen(kinds[i].name) == len && strncmp(kinds[i].name, p, len) == 0) {
				*mask |= kinds[i].bit;
				found = true;
			}
		}
		if (!found)
			return false;
		p += len;
		if (*p == ',')
			p++;
	}
	return true;
}

void sim_params_without(sim_params *p, uint32_t mask)
{
	if (mask & SIM_WITHOUT_PARTITIONS)
		p->partition_mean_us = 0;
	if (mask & SIM_WITHOUT_CRASHES) {
		p->crash_mean_us = 0;
		p->power_mean_us = 0;
		p->leader_kill_pct = 0;
	}
	if (mask & SIM_WITHOUT_CLOCKS)
		p->clock_mean_us = 0;
	if (mask & SIM_WITHOUT_MEMBERS)
		p->member_mean_us = 0;
	if (mask & SIM_WITHOUT_LOSSY) {
		p->drop_ppm = 0;
		p->dup_ppm = 0;
		p->net_tail_ppm = 0;
	}
	if (mask & SIM_WITHOUT_TORN) {
		p->torn_ppm = 0;
		p->inflight_pct = 0;
		p->midround_ppm = 0;
	}
	if (mask & SIM_WITHOUT_SLOWDISK)
		p->disk_slow_ppm = 0;
	if (mask & SIM_WITHOUT_DISKERR) {
		p->write_eio_ppm = 0;
		p->write_nospc_ppm = 0;
		p->sync_eio_ppm = 0;
	}
	if (mask & SIM_WITHOUT_CORRUPT) {
		p->corrupt_nodes_max = 0;
		p->corrupt_pct = 0;
	}
}
