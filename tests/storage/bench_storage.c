/*
 * bench_storage.c — `make bench-storage`: how fast the WAL makes appends
 * durable on this machine's disk, next to the raw fdatasync rate of the
 * same disk measured in the same run.
 *
 *   bench_storage [DIR] [SECONDS_PER_CASE]
 *
 * Raw rates: 4 KiB pwrite + fdatasync, (a) appending to a growing file and
 * (b) overwriting a preallocated one.  WAL rates, threaded writer, entries
 * of 128 bytes, for batches (one wal_append) of 1, 16 and 256 entries:
 *   - closed loop: append one batch, wait until it is durable, repeat
 *     (one client; latency bound: entries/s = batch x syncs/s);
 *   - pipelined: keep appending while earlier batches sync, bounded by the
 *     WAL's pending-bytes limit (group commit: many batches per sync).
 * Each line gives entries/s (appends made durable), fdatasyncs/s and
 * entries per fdatasync.  This is a benchmark, not a test: it checks
 * nothing and its numbers vary with the machine's load.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/fs.h"
#include "storage/wal.h"
#include "util/err.h"

enum { ENTRY_BYTES = 128, MAX_BATCH = 256 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_storage: %s: %s\n", what, rp_strerror(rc));
	exit(1);
}

static int rm_cb(void *ctx, const char *name)
{
	char path[FS_PATH_MAX + 1];
	snprintf(path, sizeof(path), "%s/%s", (const char *)ctx, name);
	unlink(path);
	return 0;
}

static void rm_dir(fs *v, const char *dir)
{
	fs_list(v, dir, rm_cb, (void *)dir);
	rmdir(dir);
}

/* 4 KiB pwrite + fdatasync for `secs`; preallocated: overwrite in place. */
static double raw_rate(fs *v, const char *dir, bool preallocated, double secs)
{
	char path[FS_PATH_MAX + 1];
	snprintf(path, sizeof(path), "%s/raw.dat", dir);
	fs_file *f;
	int rc = fs_open(v, path, FS_OPEN_CREATE, &f);
	if (rc != 0)
		die("open", rc);
	uint64_t span = 64ull << 20;
	if (preallocated) {
		/* Written once and synced, so the loop overwrites real blocks. */
		static uint8_t chunk[1 << 20];
		for (uint64_t off = 0; off < span; off += sizeof(chunk))
			if ((rc = fs_pwrite(v, f, chunk, sizeof(chunk), off)) != 0)
				die("fill", rc);
		if ((rc = fs_fdatasync(v, f)) != 0)
			die("fdatasync", rc);
	}
	static uint8_t block[4096];
	memset(block, 0xAB, sizeof(block));
	uint64_t n = 0;
	double t0 = now_s(), t;
	do {
		uint64_t off = (n * sizeof(block)) % span;
		if ((rc = fs_pwrite(v, f, block, sizeof(block), off)) != 0)
			die("pwrite", rc);
		if ((rc = fs_fdatasync(v, f)) != 0)
			die("fdatasync", rc);
		n++;
		t = now_s() - t0;
	} while (t < secs);
	fs_close(v, f);
	unlink(path);
	return (double)n / t;
}

static void wal_case(fs *v, const char *dir, size_t batch, bool pipelined, double secs)
{
	char wdir[FS_PATH_MAX + 1];
	snprintf(wdir, sizeof(wdir), "%s/wal-%zu-%d", dir, batch, pipelined);
	wal_config c;
	wal_config_default(&c);
	c.vfs = v;
	c.dir = wdir;
	c.segment_bytes = 64ull << 20;
	c.max_pending_bytes = 4ull << 20;
	c.threaded = true;
	wal *w;
	wal_report rep;
	int rc = wal_open(&c, &w, &rep);
	if (rc != 0)
		die("wal_open", rc);
	static uint8_t data[ENTRY_BYTES];
	memset(data, 0x5C, sizeof(data));
	static hp_entry es[MAX_BATCH];
	uint64_t index = 0, entries = 0, last_seq = 0;
	/* Warm up: create the first segment outside the timing. */
	es[0] = (hp_entry){.index = ++index, .term = 1, .size_bytes = ENTRY_BYTES, .data = data};
	wal_rec r = {.type = WAL_REC_ENTRIES, .group = 1, .entries = es, .entry_count = 1};
	if ((rc = wal_append(w, &r, 1, &last_seq)) != 0 || (rc = wal_wait(w, last_seq)) != 0)
		die("warm-up", rc);
	wal_stats s0, s1;
	wal_get_stats(w, &s0);
	double t0 = now_s(), t;
	do {
		for (size_t k = 0; k < batch; k++)
			es[k] = (hp_entry){.index = ++index, .term = 1, .size_bytes = ENTRY_BYTES,
			                   .data = data};
		r.entry_count = batch;
		uint64_t seq;
		while ((rc = wal_append(w, &r, 1, &seq)) == RP_ERR_BUSY)
			if ((rc = wal_wait(w, last_seq)) != 0)
				die("wait", rc);
		if (rc != 0)
			die("append", rc);
		last_seq = seq;
		entries += batch;
		if (!pipelined && (rc = wal_wait(w, seq)) != 0)
			die("wait", rc);
		t = now_s() - t0;
	} while (t < secs);
	if ((rc = wal_wait(w, last_seq)) != 0)
		die("wait", rc);
	t = now_s() - t0;
	wal_get_stats(w, &s1);
	wal_close(w);
	rm_dir(v, wdir);
	uint64_t syncs = s1.fdatasyncs - s0.fdatasyncs;
	printf("  wal batch %3zu %-10s %10.0f entries/s %8.0f fdatasyncs/s %8.1f entries/sync "
	       "%7.1f batches/sync\n",
	       batch, pipelined ? "pipelined" : "closed", (double)entries / t, (double)syncs / t,
	       syncs ? (double)entries / (double)syncs : 0.0,
	       syncs ? (double)entries / (double)batch / (double)syncs : 0.0);
}

int main(int argc, char **argv)
{
	const char *root = argc > 1 ? argv[1] : ".";
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	char dir[FS_PATH_MAX + 1];
	snprintf(dir, sizeof(dir), "%s/bench-storage-XXXXXX", root);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_storage: cannot create a directory in %s\n", root);
		return 1;
	}
	fs *v = fs_posix_create();
	printf("bench-storage in %s, %.1f s per case, %d-byte entries\n", dir, secs, ENTRY_BYTES);
	double append_rate = raw_rate(v, dir, false, secs);
	double overwrite_rate = raw_rate(v, dir, true, secs);
	printf("  raw 4 KiB pwrite+fdatasync: %8.0f /s appending, %8.0f /s overwriting "
	       "(preallocated)\n",
	       append_rate, overwrite_rate);
	size_t sizes[] = {1, 16, 256};
	for (size_t i = 0; i < 3; i++) {
		wal_case(v, dir, sizes[i], false, secs);
		wal_case(v, dir, sizes[i], true, secs);
	}
	printf("  raw again:                  %8.0f /s appending\n", raw_rate(v, dir, false, secs));
	rm_dir(v, dir);
	fs_destroy(v);
	return 0;
}
