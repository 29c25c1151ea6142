/*
 * crash_writer.c — the process that tests/storage/crash_test.sh kills.
 *
 *   crash_writer write DIR           recover the WAL in DIR, then append
 *                                    forever; after each sync returns,
 *                                    print one line per acknowledged batch:
 *                                    "ack SEQ GROUP LAST_INDEX TERM"
 *   crash_writer verify DIR ACKFILE  recover DIR and check that every
 *                                    acknowledged entry is there, whole
 *   crash_writer flip DIR            flip one byte in the middle of the
 *                                    logged data of the oldest segment
 *
 * Entries carry data computed from (group, index, term), so every entry
 * read back can be checked on its own; the term is the writer's
 * incarnation (one more than the highest term recovered), so a restarted
 * writer never produces an entry identical to an old one by accident.
 * Every 8000 entries a group compacts (snapshot mark) so that segment
 * deletion runs too; acknowledged entries at or below a group's mark are
 * covered by it and not checked.
 *
 * Exit codes: 0 ok, 1 usage or IO error, 2 an acknowledged entry missing
 * or wrong, 3 recovery reported corruption.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/fs.h"
#include "storage/wal.h"
#include "util/err.h"

enum {
	GROUPS = 4,
	BATCH_ENTRIES_MAX = 8,
	BURST = 16,            /* batches appended before waiting */
	COMPACT_EVERY = 8000,  /* entries per group between marks */
	COMPACT_KEEP = 2000,   /* entries kept after a mark */
	MAX_DATA = 600,
};

static uint64_t mix(uint64_t g, uint64_t i, uint64_t t)
{
	uint64_t x = g * 0x9E3779B97F4A7C15ULL ^ i * 0xC2B2AE3D27D4EB4FULL ^ t * 0x165667B19E3779F9ULL;
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ULL;
	return x ^ (x >> 29);
}

static uint32_t data_size(uint64_t g, uint64_t i, uint64_t t)
{
	return (uint32_t)(mix(g, i, t) % MAX_DATA);
}

static void data_fill(uint8_t *buf, uint32_t size, uint64_t g, uint64_t i, uint64_t t)
{
	uint64_t x = mix(g, i, t) | 1;
	for (uint32_t k = 0; k < size; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (uint8_t)x;
	}
}

static wal_config config(fs *v, const char *dir, bool threaded)
{
	wal_config c;
	wal_config_default(&c);
	c.vfs = v;
	c.dir = dir;
	c.segment_bytes = 1 << 20;
	c.threaded = threaded;
	c.spare_segments = threaded; /* the writer renames spares in; kills land anywhere */
	c.wal_id = 7;
	return c;
}

static int open_log(fs *v, const char *dir, bool threaded, wal **w)
{
	wal_config c = config(v, dir, threaded);
	wal_report rep;
	int rc = wal_open(&c, w, &rep);
	if (rc == RP_ERR_CORRUPT) {
		fprintf(stderr, "crash_writer: %s\n", rep.message);
		return 3;
	}
	if (rc != 0) {
		fprintf(stderr, "crash_writer: open %s: %s %s\n", dir, rp_strerror(rc), rep.message);
		return 1;
	}
	fprintf(stderr,
	        "crash_writer: recovered %" PRIu32 " segments, last seq %" PRIu64
	        ", %" PRIu64 " torn bytes, %" PRIu64 " dropped records\n",
	        rep.segments, rep.last_seq, rep.torn_bytes, rep.dropped_records);
	return 0;
}

/* ---------------------------------------------------------------- write */

typedef struct {
	uint64_t seq;
	uint64_t group;
	uint64_t last;
} pending_ack;

static int run_writer(const char *dir)
{
	fs *v = fs_posix_create();
	wal *w;
	int rc = open_log(v, dir, true, &w);
	if (rc != 0) {
		fs_destroy(v);
		return rc;
	}
	uint64_t last[GROUPS + 1] = {0}, snap[GROUPS + 1] = {0}, term = 1;
	for (uint64_t g = 1; g <= GROUPS; g++) {
		wal_group_info info;
		if (wal_group_info_get(w, g, &info) == 0) {
			last[g] = info.last_index;
			snap[g] = info.snapshot.index;
			if (info.hard_state.term >= term)
				term = info.hard_state.term + 1;
		}
	}
	static uint8_t data[BATCH_ENTRIES_MAX][MAX_DATA];
	hp_entry es[BATCH_ENTRIES_MAX];
	pending_ack acks[BURST];
	uint64_t counter = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) { /* until killed */
		size_t n = 0;
		for (; n < BURST; n++) {
			uint64_t g = 1 + counter++ % GROUPS;
			size_t count = 1 + (size_t)(mix(g, last[g], term) % BATCH_ENTRIES_MAX);
			for (size_t k = 0; k < count; k++) {
				uint64_t i = last[g] + 1 + k;
				es[k].index = i;
				es[k].term = term;
				es[k].type = HP_ENTRY_NORMAL;
				es[k].size_bytes = data_size(g, i, term);
				data_fill(data[k], es[k].size_bytes, g, i, term);
				es[k].data = data[k];
			}
			wal_rec recs[3];
			memset(recs, 0, sizeof(recs));
			size_t nr = 0;
			recs[nr].type = WAL_REC_HARD_STATE;
			recs[nr].group = g;
			recs[nr].hard_state.term = term;
			recs[nr].hard_state.commit = last[g];
			nr++;
			recs[nr].type = WAL_REC_ENTRIES;
			recs[nr].group = g;
			recs[nr].entries = es;
			recs[nr].entry_count = count;
			nr++;
			uint64_t new_last = last[g] + count;
			if (new_last - snap[g] > COMPACT_EVERY) {
				recs[nr].type = WAL_REC_SNAPSHOT;
				recs[nr].group = g;
				recs[nr].snapshot.index = new_last - COMPACT_KEEP;
				recs[nr].snapshot.term = term;
				recs[nr].snapshot.conf.voter_count = 1;
				recs[nr].snapshot.conf.voters[0] = 1;
				snap[g] = new_last - COMPACT_KEEP;
				nr++;
			}
			uint64_t seq;
			rc = wal_append(w, recs, nr, &seq);
			if (rc == RP_ERR_BUSY)
				break;
			if (rc != 0) {
				fprintf(stderr, "crash_writer: append: %s\n", rp_strerror(rc));
				return 1;
			}
			last[g] = new_last;
			acks[n].seq = seq;
			acks[n].group = g;
			acks[n].last = new_last;
		}
		if (n == 0)
			continue;
		rc = wal_wait(w, acks[n - 1].seq);
		if (rc != 0) {
			fprintf(stderr, "crash_writer: sync: %s\n", rp_strerror(rc));
			return 1;
		}
		/* Durable: acknowledge, one line (one write) per batch. */
		for (size_t k = 0; k < n; k++)
			printf("ack %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", acks[k].seq,
			       acks[k].group, acks[k].last, term);
	}
}

/* --------------------------------------------------------------- verify */

static int verify_log(fs *v, wal *w, const char *ackfile);

static int run_verify(const char *dir, const char *ackfile)
{
	fs *v = fs_posix_create();
	wal *w = NULL;
	int rc = open_log(v, dir, false, &w);
	if (rc == 0)
		rc = verify_log(v, w, ackfile);
	wal_close(w);
	fs_destroy(v);
	return rc;
}

static int verify_log(fs *v, wal *w, const char *ackfile)
{
	(void)v;
	int rc;
	wal_restore r[GROUPS + 1];
	memset(r, 0, sizeof(r));
	static uint8_t buf[MAX_DATA];
	uint64_t entries = 0;
	for (uint64_t g = 1; g <= GROUPS; g++) {
		rc = wal_restore_load(w, g, &r[g]);
		if (rc != 0) {
			fprintf(stderr, "crash_writer: restore group %" PRIu64 ": %s\n", g,
			        rp_strerror(rc));
			rc = rc == RP_ERR_CORRUPT ? 3 : 1;
			goto out;
		}
		/* Every entry is whole and of the term that wrote it. */
		for (uint64_t k = 0; k < r[g].restore.entry_count; k++) {
			const hp_entry *e = &r[g].restore.entries[k];
			data_fill(buf, data_size(g, e->index, e->term), g, e->index, e->term);
			if (e->size_bytes != data_size(g, e->index, e->term) ||
			    (e->size_bytes && memcmp(e->data, buf, e->size_bytes) != 0)) {
				fprintf(stderr, "crash_writer: group %" PRIu64 " entry %" PRIu64
				                " has wrong data\n",
				        g, e->index);
				rc = 2;
				goto out;
			}
			entries++;
		}
	}
	FILE *f = fopen(ackfile, "r");
	if (!f) {
		fprintf(stderr, "crash_writer: cannot read %s\n", ackfile);
		rc = 1;
		goto out;
	}
	char line[256];
	uint64_t acks = 0, covered = 0;
	int bad = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strchr(line, '\n'))
			break; /* a line cut by the kill: not acknowledged */
		uint64_t seq, g, last, term;
		if (sscanf(line, "ack %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &seq, &g,
		           &last, &term) != 4 ||
		    g < 1 || g > GROUPS)
			continue;
		acks++;
		const hp_restore *rs = &r[g].restore;
		if (last <= rs->snapshot.index) {
			covered++;
			continue;
		}
		uint64_t k = last - rs->snapshot.index - 1;
		if (k >= rs->entry_count || rs->entries[k].index != last ||
		    rs->entries[k].term != term) {
			fprintf(stderr,
			        "crash_writer: LOST: acknowledged group %" PRIu64 " index %" PRIu64
			        " term %" PRIu64 " (seq %" PRIu64 "); log has %" PRIu64
			        " entries after %" PRIu64 "\n",
			        g, last, term, seq, rs->entry_count, rs->snapshot.index);
			bad = 1;
			break;
		}
	}
	fclose(f);
	printf("verify: %" PRIu64 " acknowledged batches present (%" PRIu64
	       " covered by snapshots), %" PRIu64 " entries checked\n",
	       acks - covered, covered, entries);
	rc = bad ? 2 : 0;
out:
	for (uint64_t g = 1; g <= GROUPS; g++)
		wal_restore_free(&r[g]);
	return rc;
}

/* ----------------------------------------------------------------- flip */

/* Keeps the smallest segment name: names are zero padded, so it is the
 * oldest segment. */
static int oldest_cb(void *ctx, const char *name)
{
	char *best = ctx;
	size_t n = strlen(name);
	if (n == 24 && strcmp(name + 20, ".wal") == 0 && (!best[0] || strcmp(name, best) < 0))
		strcpy(best, name);
	return 0;
}

static int run_flip(const char *dir)
{
	fs *v = fs_posix_create();
	char best[32] = "", path[FS_PATH_MAX + 1];
	if (fs_list(v, dir, oldest_cb, best) != 0 || !best[0]) {
		fprintf(stderr, "crash_writer: no segment in %s\n", dir);
		fs_destroy(v);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, best);
	fs_file *f;
	uint64_t size;
	if (fs_open(v, path, 0, &f) != 0 || fs_size(v, f, &size) != 0)
		return 1;
	uint8_t *content = malloc((size_t)size);
	if (!content || fs_pread_full(v, f, content, (size_t)size, 0) != 0)
		return 1;
	uint64_t end = size;
	while (end > 512 && content[end - 1] == 0)
		end--;
	uint64_t at = 512 + (end - 512) / 2;
	while (at < end && content[at] == 0) /* a byte of a record, not padding */
		at++;
	content[at] ^= 0x10;
	int rc = fs_pwrite(v, f, content + at, 1, at);
	if (rc == 0)
		rc = fs_fdatasync(v, f);
	fs_close(v, f);
	free(content);
	fs_destroy(v);
	printf("flip: %s byte %" PRIu64 " of %" PRIu64 " used\n", path, at, end);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "write") == 0)
		return run_writer(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "verify") == 0)
		return run_verify(argv[2], argv[3]);
	if (argc >= 3 && strcmp(argv[1], "flip") == 0)
		return run_flip(argv[2]);
	fprintf(stderr, "usage: crash_writer write DIR | verify DIR ACKFILE | flip DIR\n");
	return 1;
}
