/*
 * test_wal.c — the write-ahead log on the simulated disk: round trips for
 * several groups, truncation, snapshot marks and segment removal, segment
 * rollover, torn tails, corruption in the middle, error paths, a
 * randomized crash test against a model, a consensus group restarting
 * from the log, and the group-commit thread.
 *
 * The model (m_state) holds per group what the log must give back: hard
 * state, snapshot meta, and the term of every live index.  Entry data is a
 * function of (group, index, term), so comparing terms and regenerating the
 * bytes checks the data too.
 */
#define _GNU_SOURCE
#include "test.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "storage/fs_sim.h"
#include "storage/wal.h"
#include "storage/wal_format.h"
#include "util/err.h"
#include "util/prng.h"

/* ------------------------------------------------------------ entries */

static uint64_t mix(uint64_t g, uint64_t i, uint64_t t)
{
	uint64_t x = g * 0x9E3779B97F4A7C15ULL ^ i * 0xC2B2AE3D27D4EB4FULL ^ t * 0x165667B19E3779F9ULL;
	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ULL;
	return x ^ (x >> 29);
}

static uint32_t data_size(uint64_t g, uint64_t i, uint64_t t)
{
	uint64_t h = mix(g, i, t);
	if (h % 20 == 0)
		return (uint32_t)(700 + h % 2000); /* spans sectors */
	return (uint32_t)(h % 120);
}

static uint8_t data_type(uint64_t g, uint64_t i, uint64_t t)
{
	return (uint8_t)(mix(g, i, t) >> 40) % 3;
}

static void data_fill(uint8_t *buf, uint32_t size, uint64_t g, uint64_t i, uint64_t t)
{
	uint64_t x = mix(g, i, t) | 1;
	for (uint32_t k = 0; k < size; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[k] = (uint8_t)(x | 1); /* never zero: no all-zero sectors */
	}
}

enum { ARENA_BYTES = 1 << 22, MAX_BATCH_ENTRIES = 512 };
static uint8_t arena[ARENA_BYTES];
static size_t arena_used;
static hp_entry batch_entries[8][MAX_BATCH_ENTRIES];

/* Builds entries first..first+count-1 of term `term` in slot `slot`. */
static const hp_entry *mk_entries(int slot, uint64_t g, uint64_t first, size_t count,
                                  uint64_t term)
{
	CHECK(count <= MAX_BATCH_ENTRIES);
	for (size_t k = 0; k < count; k++) {
		hp_entry *e = &batch_entries[slot][k];
		uint64_t i = first + k;
		e->index = i;
		e->term = term;
		e->type = data_type(g, i, term);
		e->size_bytes = data_size(g, i, term);
		if (arena_used + e->size_bytes > ARENA_BYTES)
			arena_used = 0; /* slots are consumed before the arena wraps */
		data_fill(arena + arena_used, e->size_bytes, g, i, term);
		e->data = e->size_bytes ? arena + arena_used : NULL;
		arena_used += e->size_bytes;
	}
	return batch_entries[slot];
}

/* -------------------------------------------------------------- model */

enum { M_GROUPS = 3, M_MAX_INDEX = 1200 };
static const uint64_t m_ids[M_GROUPS] = {1, 2, 77};

typedef struct {
	hp_hard_state hs;
	hp_snapshot_meta snap;
	uint64_t last;
	uint64_t term_ctr; /* not compared: the generator's term */
	uint64_t terms[M_MAX_INDEX + 8];
} m_group;

typedef struct {
	m_group g[M_GROUPS];
} m_state;

static void m_entries(m_group *m, uint64_t first, size_t count, uint64_t term)
{
	CHECK(first > m->snap.index && first <= m->last + 1);
	CHECK(first + count <= M_MAX_INDEX);
	for (size_t k = 0; k < count; k++)
		m->terms[first + k] = term;
	m->last = first + count - 1;
}

static void m_truncate(m_group *m, uint64_t from)
{
	if (from <= m->last)
		m->last = from - 1;
}

static void m_snapshot(m_group *m, const hp_snapshot_meta *meta, bool install)
{
	if (install || m->last < meta->index)
		m->last = meta->index;
	m->snap = *meta;
}

static bool hs_eq(const hp_hard_state *a, const hp_hard_state *b)
{
	return a->term == b->term && a->vote == b->vote && a->lease_holder == b->lease_holder &&
	       a->commit == b->commit;
}

static bool conf_eq(const hp_conf *a, const hp_conf *b)
{
	if (a->voter_count != b->voter_count || a->learner_count != b->learner_count)
		return false;
	for (uint32_t i = 0; i < a->voter_count; i++)
		if (a->voters[i] != b->voters[i])
			return false;
	for (uint32_t i = 0; i < a->learner_count; i++)
		if (a->learners[i] != b->learners[i])
			return false;
	return true;
}

/* The log gives back exactly the model: hard state, mark, entries, data. */
static void check_state(wal *w, const m_state *m)
{
	uint8_t buf[4096];
	for (int gi = 0; gi < M_GROUPS; gi++) {
		const m_group *mg = &m->g[gi];
		uint64_t g = m_ids[gi];
		wal_group_info info;
		int rc = wal_group_info_get(w, g, &info);
		hp_hard_state zero_hs;
		memset(&zero_hs, 0, sizeof(zero_hs));
		if (rc == RP_ERR_NOTFOUND) {
			CHECK(hs_eq(&mg->hs, &zero_hs));
			CHECK_EQ(mg->snap.index, 0);
			CHECK_EQ(mg->last, 0);
			continue;
		}
		CHECK_EQ(rc, 0);
		CHECK(hs_eq(&info.hard_state, &mg->hs));
		CHECK_EQ(info.snapshot.index, mg->snap.index);
		CHECK_EQ(info.snapshot.term, mg->snap.term);
		CHECK(conf_eq(&info.snapshot.conf, &mg->snap.conf));
		CHECK_EQ(info.last_index, mg->last);
		wal_restore r;
		CHECK_EQ(wal_restore_load(w, g, &r), 0);
		CHECK(hs_eq(&r.restore.hard_state, &mg->hs));
		CHECK_EQ(r.restore.snapshot.index, mg->snap.index);
		CHECK_EQ(r.restore.entry_count, mg->last - mg->snap.index);
		for (uint64_t k = 0; k < r.restore.entry_count; k++) {
			const hp_entry *e = &r.restore.entries[k];
			uint64_t i = mg->snap.index + 1 + k;
			uint64_t t = mg->terms[i];
			CHECK_EQ(e->index, i);
			CHECK_EQ(e->term, t);
			CHECK_EQ(e->type, data_type(g, i, t));
			CHECK_EQ(e->size_bytes, data_size(g, i, t));
			data_fill(buf, e->size_bytes, g, i, t);
			CHECK(e->size_bytes == 0 || memcmp(e->data, buf, e->size_bytes) == 0);
		}
		wal_restore_free(&r);
	}
}

/* --------------------------------------------------------------- setup */

static wal_config cfg_sim(fs_sim *d, uint64_t segment_bytes)
{
	wal_config c;
	wal_config_default(&c);
	c.vfs = fs_sim_fs(d);
	c.dir = "wal";
	c.segment_bytes = segment_bytes;
	c.threaded = false;
	c.wal_id = 42;
	return c;
}

static wal *open_ok(const wal_config *c, wal_report *rep)
{
	wal *w = NULL;
	wal_report local;
	int rc = wal_open(c, &w, rep ? rep : &local);
	if (rc != 0)
		printf("    wal_open: %s: %s\n", rp_strerror(rc), (rep ? rep : &local)->message);
	CHECK_EQ(rc, 0);
	CHECK(w != NULL);
	return w;
}

static int count_segments_cb(void *ctx, const char *name)
{
	size_t n = strlen(name);
	if (n > 4 && strcmp(name + n - 4, ".wal") == 0)
		(*(int *)ctx)++;
	return 0;
}

static int count_segments(fs_sim *d)
{
	int n = 0;
	CHECK_EQ(fs_list(fs_sim_fs(d), "wal", count_segments_cb, &n), 0);
	return n;
}

static fs_sim *sim_disk(rp_prng *p, uint32_t keep_ppm, uint32_t torn_ppm)
{
	fs_sim *d = fs_sim_create();
	CHECK(d != NULL);
	fs_sim_faults f;
	fs_sim_faults_default(&f);
	f.crash_keep_ppm = keep_ppm;
	f.crash_torn_ppm = torn_ppm;
	fs_sim_set_faults(d, &f, p);
	return d;
}

/* Appends entries for model group gi (one batch, with a hard state). */
static uint64_t append_entries(wal *w, m_state *m, int gi, size_t count, uint64_t term,
                               bool with_hs)
{
	m_group *mg = &m->g[gi];
	wal_rec recs[2];
	memset(recs, 0, sizeof(recs));
	size_t n = 0;
	if (with_hs) {
		mg->hs.term = term;
		mg->hs.vote = m_ids[gi];
		mg->hs.lease_holder = m_ids[gi] + 1;
		mg->hs.commit = mg->last;
		recs[n].type = WAL_REC_HARD_STATE;
		recs[n].group = m_ids[gi];
		recs[n].hard_state = mg->hs;
		n++;
	}
	uint64_t first = mg->last + 1;
	recs[n].type = WAL_REC_ENTRIES;
	recs[n].group = m_ids[gi];
	recs[n].entries = mk_entries(0, m_ids[gi], first, count, term);
	recs[n].entry_count = count;
	n++;
	uint64_t seq = 0;
	CHECK_EQ(wal_append(w, recs, n, &seq), 0);
	m_entries(mg, first, count, term);
	return seq;
}

static void append_mark(wal *w, m_state *m, int gi, uint64_t index, bool install)
{
	m_group *mg = &m->g[gi];
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_SNAPSHOT;
	r.group = m_ids[gi];
	r.snapshot.index = index;
	r.snapshot.term = index <= mg->last && index > mg->snap.index ? mg->terms[index] : 9;
	r.snapshot.conf.voter_count = 3;
	r.snapshot.conf.voters[0] = 1;
	r.snapshot.conf.voters[1] = 2;
	r.snapshot.conf.voters[2] = 3;
	r.snapshot.conf.learner_count = 1;
	r.snapshot.conf.learners[0] = 9;
	r.install = install;
	CHECK_EQ(wal_append(w, &r, 1, NULL), 0);
	m_snapshot(mg, &r.snapshot, install);
}

/* ------------------------------------------------------------ basics */

TEST(empty_log_opens_and_reopens)
{
	rp_prng p;
	rp_prng_init(&p, 1);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal_report rep;
	wal *w = open_ok(&c, &rep);
	CHECK_EQ(rep.records, 0);
	CHECK_EQ(rep.segments, 0);
	CHECK_EQ(wal_last_seq(w), 0);
	CHECK_EQ(wal_sync(w), 0);
	size_t n;
	wal_group_ids(w, NULL, 0, &n);
	CHECK_EQ(n, 0);
	wal_restore r;
	CHECK_EQ(wal_restore_load(w, 5, &r), 0);
	CHECK_EQ(r.restore.entry_count, 0);
	wal_close(w);
	w = open_ok(&c, &rep);
	CHECK_EQ(rep.segments, 0);
	wal_close(w);
	fs_sim_destroy(d);
}

TEST(round_trip_several_groups)
{
	rp_prng p;
	rp_prng_init(&p, 2);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 20);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	uint64_t last_seq = 0;
	for (int k = 0; k < 30; k++) {
		for (int gi = 0; gi < M_GROUPS; gi++)
			last_seq = append_entries(w, m, gi, 1 + (size_t)k % 4, (uint64_t)k / 5 + 1,
			                          k % 2 == 0);
		if (k % 3 == 0)
			CHECK_EQ(wal_sync(w), 0);
	}
	CHECK_EQ(wal_sync(w), 0);
	CHECK_EQ(wal_durable_seq(w), last_seq);
	check_state(w, m);
	wal_stats st;
	wal_get_stats(w, &st);
	CHECK_EQ(st.rounds, 11);
	CHECK_EQ(st.batches, 90);
	wal_close(w);
	wal_report rep;
	w = open_ok(&c, &rep);
	CHECK_EQ(rep.last_seq, last_seq);
	CHECK_EQ(rep.torn_bytes, 0);
	CHECK_EQ(rep.dropped_records, 0);
	check_state(w, m);
	size_t n;
	uint64_t ids[8];
	wal_group_ids(w, ids, 8, &n);
	CHECK_EQ(n, 3);
	CHECK(ids[0] == 1 && ids[1] == 2 && ids[2] == 77);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(unsynced_appends_are_dropped_by_close)
{
	rp_prng p;
	rp_prng_init(&p, 3);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 3, 1, true);
	CHECK_EQ(wal_sync(w), 0);
	m_state *before = malloc(sizeof(*m));
	*before = *m;
	append_entries(w, m, 0, 3, 1, true); /* never synced */
	wal_close(w);
	w = open_ok(&c, NULL);
	check_state(w, before);
	wal_close(w);
	free(m);
	free(before);
	fs_sim_destroy(d);
}

TEST(truncation_records_and_implicit_overwrite)
{
	rp_prng p;
	rp_prng_init(&p, 4);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 10, 1, true);
	CHECK_EQ(wal_sync(w), 0);
	/* A ready batch: truncate from 6, then entries 6..8 of term 2. */
	wal_rec recs[2];
	memset(recs, 0, sizeof(recs));
	recs[0].type = WAL_REC_TRUNCATE;
	recs[0].group = 1;
	recs[0].truncate_from = 6;
	recs[1].type = WAL_REC_ENTRIES;
	recs[1].group = 1;
	recs[1].entries = mk_entries(0, 1, 6, 3, 2);
	recs[1].entry_count = 3;
	CHECK_EQ(wal_append(w, recs, 2, NULL), 0);
	m_truncate(&m->g[0], 6);
	m_entries(&m->g[0], 6, 3, 2);
	/* Entries that start inside the log replace its suffix. */
	recs[0].type = WAL_REC_ENTRIES;
	recs[0].entries = mk_entries(1, 1, 8, 2, 3);
	recs[0].entry_count = 2;
	CHECK_EQ(wal_append(w, recs, 1, NULL), 0);
	m_entries(&m->g[0], 8, 2, 3);
	/* A truncation past the end changes nothing; one to 4 drops 4.. */
	recs[0].type = WAL_REC_TRUNCATE;
	recs[0].truncate_from = 50;
	CHECK_EQ(wal_append(w, recs, 1, NULL), 0);
	m_truncate(&m->g[0], 50);
	CHECK_EQ(wal_sync(w), 0);
	check_state(w, m);
	CHECK_EQ(m->g[0].last, 9);
	CHECK_EQ(m->g[0].terms[7], 2);
	CHECK_EQ(m->g[0].terms[8], 3);
	wal_close(w);
	w = open_ok(&c, NULL);
	check_state(w, m);
	recs[0].truncate_from = 4;
	CHECK_EQ(wal_append(w, recs, 1, NULL), 0);
	m_truncate(&m->g[0], 4);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	w = open_ok(&c, NULL);
	check_state(w, m);
	CHECK_EQ(m->g[0].last, 3);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(segment_rollover_keeps_everything)
{
	rp_prng p;
	rp_prng_init(&p, 5);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 8192);
	m_state *m = calloc(1, sizeof(*m));
	for (int cycle = 0; cycle < 4; cycle++) {
		wal *w = open_ok(&c, NULL);
		check_state(w, m);
		for (int k = 0; k < 40; k++) {
			append_entries(w, m, k % M_GROUPS, 2, (uint64_t)cycle + 1, k % 7 == 0);
			if (k % 2)
				CHECK_EQ(wal_sync(w), 0);
		}
		CHECK_EQ(wal_sync(w), 0);
		check_state(w, m);
		wal_close(w);
	}
	CHECK(count_segments(d) >= 6); /* nobody snapshots: nothing deleted */
	wal_report rep;
	wal *w = open_ok(&c, &rep);
	CHECK_EQ(rep.segments, (uint32_t)count_segments(d));
	check_state(w, m);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(a_batch_larger_than_a_segment_and_record_splitting)
{
	rp_prng p;
	rp_prng_init(&p, 6);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal *w = open_ok(&c, NULL);
	/* 40 entries of 100 KB: 4 MB, split into ~1 MiB records, in a 64 KiB
	 * segment that grows to hold the batch. */
	static uint8_t big[100000];
	hp_entry es[40];
	for (int i = 0; i < 40; i++) {
		memset(big, i + 1, sizeof(big));
		es[i].index = (uint64_t)i + 1;
		es[i].term = 1;
		es[i].type = HP_ENTRY_NORMAL;
		es[i].size_bytes = sizeof(big);
		es[i].data = big;
	}
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_ENTRIES;
	r.group = 3;
	r.entries = es;
	r.entry_count = 40;
	uint64_t seq;
	CHECK_EQ(wal_append(w, &r, 1, &seq), 0);
	CHECK(seq >= 4); /* split into several records */
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	w = open_ok(&c, NULL);
	wal_restore rs;
	CHECK_EQ(wal_restore_load(w, 3, &rs), 0);
	CHECK_EQ(rs.restore.entry_count, 40);
	for (uint64_t i = 0; i < 40; i++) {
		CHECK_EQ(rs.restore.entries[i].index, i + 1);
		CHECK_EQ(rs.restore.entries[i].size_bytes, sizeof(big));
		CHECK_EQ(rs.restore.entries[i].data[777], 40); /* the buffer's last fill */
	}
	wal_restore_free(&rs);
	wal_close(w);
	fs_sim_destroy(d);
}

TEST(snapshot_marks_remove_segments_and_keep_hard_state)
{
	rp_prng p;
	rp_prng_init(&p, 7);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 8192);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	/* Group 77 writes its hard state once, at the very start. */
	append_entries(w, m, 2, 1, 1, true);
	for (int k = 0; k < 120; k++)
		append_entries(w, m, k % 2, 2, 1, false);
	CHECK_EQ(wal_sync(w), 0);
	int before = count_segments(d);
	CHECK(before >= 5);
	/* Group 1 snapshots everything; 2 and 77 hold the old segments. */
	append_mark(w, m, 0, m->g[0].last, false);
	CHECK_EQ(wal_sync(w), 0);
	CHECK(count_segments(d) >= before);
	/* Group 2 compacts too: 77's one entry in segment 1 still holds it. */
	append_mark(w, m, 1, m->g[1].last - 3, false);
	CHECK_EQ(wal_sync(w), 0);
	before = count_segments(d);
	wal_stats st;
	wal_get_stats(w, &st);
	CHECK_EQ(st.segments_deleted, 0);
	append_mark(w, m, 2, m->g[2].last, false);
	CHECK_EQ(wal_sync(w), 0);
	int after = count_segments(d);
	CHECK(after < before);
	CHECK(after <= 3); /* group 2's last 3 entries are in the newest ones */
	wal_get_stats(w, &st);
	CHECK_EQ(st.segments_deleted, (uint64_t)(before - after));
	check_state(w, m);
	wal_close(w);
	/* Group 77's hard state lived in a deleted segment: restated. */
	wal_report rep;
	w = open_ok(&c, &rep);
	CHECK_EQ(rep.segments, (uint32_t)after);
	check_state(w, m);
	CHECK_EQ(m->g[2].hs.term, 1);
	/* More appends after the removal, then reopen. */
	for (int k = 0; k < 30; k++)
		append_entries(w, m, k % 3, 1, 2, k % 5 == 0);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	w = open_ok(&c, NULL);
	check_state(w, m);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(installed_snapshot_replaces_the_log)
{
	rp_prng p;
	rp_prng_init(&p, 8);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 10, 1, true);
	append_mark(w, m, 0, 20, true); /* beyond the log */
	append_entries(w, m, 0, 3, 4, false);
	CHECK_EQ(wal_sync(w), 0);
	check_state(w, m);
	CHECK_EQ(m->g[0].snap.index, 20);
	CHECK_EQ(m->g[0].last, 23);
	append_mark(w, m, 0, 21, true); /* inside the log: the suffix goes too */
	CHECK_EQ(wal_sync(w), 0);
	CHECK_EQ(m->g[0].last, 21);
	wal_close(w);
	w = open_ok(&c, NULL);
	check_state(w, m);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(group_drop_forgets_a_group)
{
	rp_prng p;
	rp_prng_init(&p, 9);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 8192);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 5, 1, true);
	append_entries(w, m, 1, 5, 1, true);
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_GROUP_DROP;
	r.group = 1;
	CHECK_EQ(wal_append(w, &r, 1, NULL), 0);
	memset(&m->g[0], 0, sizeof(m->g[0]));
	for (int k = 0; k < 60; k++) /* roll over a few segments */
		append_entries(w, m, 1, 1, 1, false);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	w = open_ok(&c, NULL);
	wal_group_info info;
	CHECK_EQ(wal_group_info_get(w, 1, &info), RP_ERR_NOTFOUND);
	check_state(w, m);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(recs_from_ready_follow_the_core_order)
{
	hp_ready rd;
	memset(&rd, 0, sizeof(rd));
	wal_rec recs[WAL_READY_MAX_RECS];
	CHECK_EQ(wal_recs_from_ready(5, &rd, recs), 0);
	hp_entry es[2] = {{.index = 8, .term = 3}, {.index = 9, .term = 3}};
	rd.has_snap_chunk = true;
	rd.snap_chunk.last = true;
	rd.snap_chunk.meta.index = 7;
	rd.hard_state_changed = true;
	rd.hard_state.term = 3;
	rd.truncate_from = 8;
	rd.entries = es;
	rd.entry_count = 2;
	CHECK_EQ(wal_recs_from_ready(5, &rd, recs), 4);
	CHECK_EQ(recs[0].type, WAL_REC_SNAPSHOT);
	CHECK(recs[0].install);
	CHECK_EQ(recs[0].snapshot.index, 7);
	CHECK_EQ(recs[1].type, WAL_REC_HARD_STATE);
	CHECK_EQ(recs[1].hard_state.term, 3);
	CHECK_EQ(recs[2].type, WAL_REC_TRUNCATE);
	CHECK_EQ(recs[2].truncate_from, 8);
	CHECK_EQ(recs[3].type, WAL_REC_ENTRIES);
	CHECK_EQ(recs[3].entry_count, 2);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(recs[i].group, 5);
	rd.snap_chunk.last = false; /* a chunk that does not install */
	rd.truncate_from = 0;
	CHECK_EQ(wal_recs_from_ready(5, &rd, recs), 2);
	CHECK_EQ(recs[0].type, WAL_REC_HARD_STATE);
}

/* ------------------------------------------------------- torn tails */

static const char *first_segment = "wal/00000000000000000001.wal";

TEST(torn_tail_is_cut_and_appends_continue)
{
	int torn_seen = 0, partial_seen = 0;
	m_state *hist = malloc(8 * sizeof(*hist));
	uint64_t hist_seq[8];
	for (uint64_t seed = 0; seed < 40; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		fs_sim *d = sim_disk(&p, 0, 1000000); /* unsynced writes are always torn */
		wal_config c = cfg_sim(d, 1 << 16);
		wal *w = open_ok(&c, NULL);
		m_state *m = &hist[0];
		memset(m, 0, sizeof(*m));
		for (int k = 0; k < 5; k++)
			hist_seq[0] = append_entries(w, m, k % 3, 3, 1, true);
		CHECK_EQ(wal_sync(w), 0);
		/* A big round of 6 batches whose fdatasync fails: on disk,
		 * torn at a sector boundary by the crash, never acknowledged. */
		for (int k = 1; k <= 6; k++) {
			hist[k] = hist[k - 1];
			hist_seq[k] = append_entries(w, &hist[k], k % 3, 8, 2, true);
		}
		fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
		CHECK_EQ(wal_sync(w), RP_ERR_FSYNC);
		CHECK_EQ(wal_failed(w), RP_ERR_FSYNC);
		wal_close(w);
		fs_sim_crash(d, &p);
		wal_report rep;
		w = open_ok(&c, &rep);
		torn_seen += rep.torn_bytes > 0;
		/* A prefix of whole batches survives: 0..5 of the 6. */
		int k = 0;
		while (k < 6 && hist_seq[k + 1] <= rep.last_seq)
			k++;
		CHECK(k < 6);
		partial_seen += k > 0;
		check_state(w, &hist[k]);
		/* The log goes on after the cut. */
		m_state *next = &hist[7];
		*next = hist[k];
		for (int j = 0; j < 4; j++)
			append_entries(w, next, j % 3, 2, 3, true);
		CHECK_EQ(wal_sync(w), 0);
		wal_close(w);
		w = open_ok(&c, &rep);
		CHECK_EQ(rep.torn_bytes, 0);
		check_state(w, next);
		wal_close(w);
		fs_sim_destroy(d);
	}
	free(hist);
	CHECK(torn_seen > 30);
	CHECK(partial_seen > 5);
}

/* Last non-zero byte + 1 of a file on the simulated disk. */
static uint64_t used_end(fs_sim *d, const char *path)
{
	static uint8_t content[1 << 20];
	fs *v = fs_sim_fs(d);
	fs_file *f;
	uint64_t size;
	size_t got;
	CHECK_EQ(fs_open(v, path, FS_OPEN_READ_ONLY, &f), 0);
	CHECK_EQ(fs_size(v, f, &size), 0);
	CHECK(size <= sizeof(content));
	CHECK_EQ(fs_pread(v, f, content, (size_t)size, 0, &got), 0);
	fs_close(v, f);
	while (got > 0 && content[got - 1] == 0)
		got--;
	return got;
}

/* A real disk may lose any subset of an unsynced write's sectors, not just
 * a suffix.  Whatever subset of the last round is lost, recovery sees a
 * torn tail (never corruption) and keeps a prefix of whole batches. */
TEST(last_round_losing_any_sectors_is_a_torn_tail)
{
	m_state *hist = malloc(8 * sizeof(*hist));
	uint64_t hist_seq[8];
	int cut_seen = 0;
	for (uint64_t seed = 0; seed < 200; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed + 5000);
		fs_sim *d = sim_disk(&p, 0, 0);
		wal_config c = cfg_sim(d, 1 << 16);
		wal *w = open_ok(&c, NULL);
		memset(&hist[0], 0, sizeof(hist[0]));
		for (int k = 0; k < 3; k++) {
			hist_seq[0] = append_entries(w, &hist[0], k % 3, 2, 1, true);
			CHECK_EQ(wal_sync(w), 0);
		}
		uint64_t round_start = (used_end(d, first_segment) + 511) / 512 * 512;
		for (int k = 1; k <= 6; k++) {
			hist[k] = hist[k - 1];
			hist_seq[k] = append_entries(w, &hist[k], k % 3, 1 + (size_t)k % 3, 2, true);
		}
		CHECK_EQ(wal_sync(w), 0);
		wal_close(w);
		uint64_t round_end = used_end(d, first_segment);
		uint64_t sectors = (round_end - round_start + 511) / 512;
		/* Lose a random non-empty subset of the round's sectors. */
		fs *v = fs_sim_fs(d);
		fs_file *f;
		uint8_t zeros[512] = {0};
		CHECK_EQ(fs_open(v, first_segment, 0, &f), 0);
		uint64_t must = rp_prng_below(&p, sectors);
		for (uint64_t sct = 0; sct < sectors; sct++)
			if (sct == must || rp_prng_below(&p, 3) == 0)
				CHECK_EQ(fs_pwrite(v, f, zeros, 512, round_start + sct * 512), 0);
		CHECK_EQ(fs_fdatasync(v, f), 0);
		fs_close(v, f);
		wal_report rep;
		w = open_ok(&c, &rep);
		int k = 0;
		while (k < 6 && hist_seq[k + 1] <= rep.last_seq)
			k++;
		CHECK(k < 6);
		cut_seen += k > 0;
		check_state(w, &hist[k]);
		wal_close(w);
		fs_sim_destroy(d);
	}
	free(hist);
	CHECK(cut_seen > 20);
}

TEST(incomplete_last_batch_is_dropped_whole)
{
	int dropped_seen = 0;
	for (uint64_t seed = 0; seed < 60; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		fs_sim *d = sim_disk(&p, 0, 1000000);
		wal_config c = cfg_sim(d, 1 << 16);
		wal *w = open_ok(&c, NULL);
		m_state *m = calloc(1, sizeof(*m));
		append_entries(w, m, 0, 2, 1, true);
		CHECK_EQ(wal_sync(w), 0);
		m_state *acked = malloc(sizeof(*m));
		*acked = *m;
		/* One batch of many records across several sectors. */
		wal_rec recs[M_GROUPS * 2];
		memset(recs, 0, sizeof(recs));
		size_t n = 0;
		for (int gi = 0; gi < M_GROUPS; gi++) {
			recs[n].type = WAL_REC_HARD_STATE;
			recs[n].group = m_ids[gi];
			recs[n].hard_state.term = 5;
			n++;
			recs[n].type = WAL_REC_ENTRIES;
			recs[n].group = m_ids[gi];
			recs[n].entries = mk_entries(gi, m_ids[gi], m->g[gi].last + 1, 12, 5);
			recs[n].entry_count = 12;
			n++;
		}
		CHECK_EQ(wal_append(w, recs, n, NULL), 0);
		fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
		CHECK_EQ(wal_sync(w), RP_ERR_FSYNC);
		wal_close(w);
		fs_sim_crash(d, &p);
		wal_report rep;
		w = open_ok(&c, &rep);
		dropped_seen += rep.dropped_records > 0;
		check_state(w, acked); /* none of the batch, even its valid records */
		wal_close(w);
		free(m);
		free(acked);
		fs_sim_destroy(d);
	}
	CHECK(dropped_seen > 10);
}

/* The header sync of a new segment fails, and the crash keeps its name
 * but not its header: recovery removes the empty file. */
/* Appends for group 1 an entry at index larger than a segment (so the
 * round is only a new segment), fails the round's sync, closes w and
 * crashes the disk: the new segment's name is lost, or kept without its
 * header, or kept with it (a bare header). */
static void crash_in_rollover(wal *w, fs_sim *d, rp_prng *p, uint64_t index)
{
	static uint8_t big[9000];
	memset(big, 0x5A, sizeof(big));
	int segs = count_segments(d);
	hp_entry e = {.index = index, .term = 1, .size_bytes = sizeof(big), .data = big};
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_ENTRIES;
	r.group = 1;
	r.entries = &e;
	r.entry_count = 1;
	CHECK_EQ(wal_append(w, &r, 1, NULL), 0);
	fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
	CHECK_EQ(wal_sync(w), RP_ERR_FSYNC);
	CHECK_EQ(count_segments(d), segs + 1);
	wal_close(w);
	fs_sim_crash(d, p);
}

TEST(unfinished_segment_creation_is_removed)
{
	int removed_seen = 0;
	for (uint64_t seed = 0; seed < 30; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		fs_sim *d = sim_disk(&p, 500000, 0);
		wal_config c = cfg_sim(d, 8192);
		wal *w = open_ok(&c, NULL);
		m_state *m = calloc(1, sizeof(*m));
		append_entries(w, m, 0, 2, 1, true);
		CHECK_EQ(wal_sync(w), 0);
		int segs = count_segments(d);
		crash_in_rollover(w, d, &p, m->g[0].last + 1);
		wal_report rep;
		w = open_ok(&c, &rep);
		removed_seen += rep.removed_segments > 0;
		check_state(w, m);
		/* The crash lost its name (gone), or kept the name but not the
		 * header (removed), or kept both (a valid empty segment). */
		int now = count_segments(d);
		CHECK(now == segs || (now == segs + 1 && rep.removed_segments == 0));
		/* and the log goes on */
		append_entries(w, m, 0, 2, 1, true);
		CHECK_EQ(wal_sync(w), 0);
		wal_close(w);
		w = open_ok(&c, &rep);
		check_state(w, m);
		wal_close(w);
		free(m);
		fs_sim_destroy(d);
	}
	CHECK(removed_seen > 3);
}

/* A crash after a new segment's creation but before its first round
 * leaves a segment that is only a header, and the log goes on in it.  Its
 * first round must restate the groups' states, as a new segment's does,
 * and the older segments may go only once that round is durable: here
 * every entry before it is covered by a mark, so nothing else holds them.
 * Without the restating, the next open found a group whose entries start
 * after a snapshot it no longer knew of (the simulator's seed 9601); with
 * it but with deletion allowed at open, a crash before the first round
 * lost the hard state and the mark (seed 22624: a node back at term 1
 * with no log voted a leader in without a committed entry). */
TEST(a_segment_left_as_a_bare_header_restates_the_groups)
{
	int bare_seen = 0;
	for (uint64_t seed = 0; seed < 40; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		fs_sim *d = sim_disk(&p, 500000, 0);
		wal_config c = cfg_sim(d, 8192);
		wal *w = open_ok(&c, NULL);
		m_state *m = calloc(1, sizeof(*m));
		append_entries(w, m, 0, 3, 1, true);
		append_mark(w, m, 0, m->g[0].last, false); /* no entry left after it */
		CHECK_EQ(wal_sync(w), 0);
		int segs = count_segments(d);
		crash_in_rollover(w, d, &p, m->g[0].last + 1);
		wal_report rep;
		w = open_ok(&c, &rep);
		check_state(w, m);
		bool bare = count_segments(d) == segs + 1 && rep.removed_segments == 0;
		bare_seen += bare;
		/* Before any round restated them, nothing may go: a sync (which
		 * deletes what is due), a crash, and the states are still there. */
		CHECK_EQ(wal_sync(w), 0);
		wal_close(w);
		fs_sim_crash(d, &p);
		w = open_ok(&c, &rep);
		check_state(w, m);
		/* The log goes on in it; the older segments are no longer needed
		 * for entries, and go. */
		for (int k = 0; k < 3; k++) {
			append_entries(w, m, 0, 2, 2, true);
			CHECK_EQ(wal_sync(w), 0);
		}
		if (bare)
			CHECK_EQ(count_segments(d), 1);
		wal_close(w);
		w = open_ok(&c, &rep);
		check_state(w, m);
		CHECK_EQ(m->g[0].snap.index, 3);
		wal_close(w);
		free(m);
		fs_sim_destroy(d);
	}
	CHECK(bare_seen > 3);
}

/* ------------------------------------------------------- corruption */

/* A log of `rounds` rounds (one small batch each, so round k starts at
 * byte 512 * (k + 1) of the first segment). */
static void small_rounds(wal_config *c, m_state *m, int rounds)
{
	wal *w = open_ok(c, NULL);
	for (int k = 0; k < rounds; k++) {
		m_group *mg = &m->g[k % 2];
		wal_rec r;
		memset(&r, 0, sizeof(r));
		r.type = WAL_REC_HARD_STATE;
		r.group = m_ids[k % 2];
		r.hard_state.term = (uint64_t)k + 1;
		r.hard_state.commit = 0xABCDEF;
		mg->hs = r.hard_state;
		CHECK_EQ(wal_append(w, &r, 1, NULL), 0);
		CHECK_EQ(wal_sync(w), 0);
	}
	wal_close(w);
}


TEST(corruption_in_the_middle_is_detected)
{
	rp_prng p;
	rp_prng_init(&p, 11);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	m_state *m = calloc(1, sizeof(*m));
	small_rounds(&c, m, 6);
	/* A bit in the payload of round 2's record (group 1). */
	CHECK_EQ(fs_sim_flip_bit_at(d, first_segment, 512 * 3 + WAL_REC_HEADER_BYTES + 3, 1), 0);
	wal *w = (wal *)1;
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), RP_ERR_CORRUPT);
	CHECK(w == NULL); /* nothing of that log is handed out */
	CHECK_EQ(rep.offset, 512 * 3);
	CHECK(rep.group_known);
	CHECK_EQ(rep.group, 1);
	CHECK_EQ(rep.seq, 3);
	CHECK(strstr(rep.message, "00000000000000000001.wal") != NULL);
	CHECK(strstr(rep.message, "offset 1536") != NULL);
	CHECK(strstr(rep.message, "group 1") != NULL);
	free(m);
	fs_sim_destroy(d);
}

TEST(corruption_of_a_header_is_detected_without_a_group)
{
	rp_prng p;
	rp_prng_init(&p, 12);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	m_state *m = calloc(1, sizeof(*m));
	small_rounds(&c, m, 6);
	/* The length field of round 1's record. */
	CHECK_EQ(fs_sim_flip_bit_at(d, first_segment, 512 * 2 + 6, 4), 0);
	wal *w;
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), RP_ERR_CORRUPT);
	CHECK(!rep.group_known);
	CHECK(strstr(rep.message, "group unreadable") != NULL);
	free(m);
	fs_sim_destroy(d);
}

TEST(corruption_in_the_last_round_is_detected)
{
	rp_prng p;
	rp_prng_init(&p, 13);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	m_state *m = calloc(1, sizeof(*m));
	small_rounds(&c, m, 4);
	/* The last round's only record, fully written, one bit flipped: not
	 * a torn write, since none of its sectors is zero. */
	CHECK_EQ(fs_sim_flip_bit_at(d, first_segment, 512 * 4 + WAL_REC_HEADER_BYTES + 9, 0), 0);
	wal *w;
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), RP_ERR_CORRUPT);
	CHECK(strstr(rep.message, "every sector") != NULL);
	free(m);
	fs_sim_destroy(d);
}

TEST(a_zeroed_sector_followed_by_a_later_round_is_corruption)
{
	rp_prng p;
	rp_prng_init(&p, 14);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	m_state *m = calloc(1, sizeof(*m));
	small_rounds(&c, m, 6);
	/* Round 2's sector reads back as zeros (a lost write, say): it looks
	 * like the end of the log, but rounds 3.. were written after it was
	 * synced. */
	fs *v = fs_sim_fs(d);
	fs_file *f;
	uint8_t zeros[512] = {0};
	CHECK_EQ(fs_open(v, first_segment, 0, &f), 0);
	CHECK_EQ(fs_pwrite(v, f, zeros, sizeof(zeros), 512 * 3), 0);
	CHECK_EQ(fs_fdatasync(v, f), 0);
	fs_close(v, f);
	wal *w;
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), RP_ERR_CORRUPT);
	CHECK(strstr(rep.message, "written after this spot was synced") != NULL);
	free(m);
	fs_sim_destroy(d);
}

TEST(corruption_in_a_sealed_segment_is_detected)
{
	rp_prng p;
	rp_prng_init(&p, 15);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 8192);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	for (int k = 0; k < 60; k++)
		append_entries(w, m, k % 3, 2, 1, true);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	CHECK(count_segments(d) >= 3);
	/* The last record bytes of the first segment's data. */
	CHECK_EQ(fs_sim_flip_bit_at(d, first_segment, 520, 2), 0);
	wal_report rep;
	CHECK_EQ(wal_open(&c, &w, &rep), RP_ERR_CORRUPT);
	CHECK(strstr(rep.message, "sealed") != NULL || strstr(rep.message, "every sector"));
	free(m);
	fs_sim_destroy(d);
}

TEST(restore_checks_checksums_again)
{
	rp_prng p;
	rp_prng_init(&p, 16);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 5, 1, false);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	w = open_ok(&c, NULL);
	/* Damage after recovery verified it (latent corruption). */
	CHECK_EQ(fs_sim_flip_bit_at(d, first_segment, 512 + WAL_REC_HEADER_BYTES + 20, 0), 0);
	wal_restore r;
	CHECK_EQ(wal_restore_load(w, 1, &r), RP_ERR_CORRUPT);
	CHECK(r.restore.entries == NULL && r.restore.entry_count == 0);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

typedef struct {
	char v[32][32];
	size_t count;
} name_set;

static int collect_cb(void *ctx, const char *name)
{
	name_set *s = ctx;
	if (s->count < 32 && strlen(name) < 32)
		strcpy(s->v[s->count++], name);
	return 0;
}

/* Random bit flips anywhere in the files: recovery either refuses
 * (RP_ERR_CORRUPT) or gives back exactly what was written — never
 * something else.  Flips landing in padding or in the zeros after the
 * log's end are harmless and may pass. */
TEST(bit_flips_are_never_returned_as_data)
{
	int detected = 0, harmless = 0;
	for (uint64_t seed = 0; seed < 150; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed + 1000);
		fs_sim *d = sim_disk(&p, 0, 0);
		wal_config c = cfg_sim(d, 16384);
		wal *w = open_ok(&c, NULL);
		m_state *m = calloc(1, sizeof(*m));
		int batches = 10 + (int)rp_prng_below(&p, 40);
		for (int k = 0; k < batches; k++) {
			append_entries(w, m, (int)rp_prng_below(&p, M_GROUPS),
			               1 + rp_prng_below(&p, 4), 1, rp_prng_below(&p, 2));
			if (rp_prng_below(&p, 3) == 0)
				CHECK_EQ(wal_sync(w), 0);
		}
		CHECK_EQ(wal_sync(w), 0);
		wal_close(w);
		/* Flip 1-3 bits in the used part of one segment file. */
		name_set names;
		memset(&names, 0, sizeof(names));
		CHECK_EQ(fs_list(fs_sim_fs(d), "wal", collect_cb, &names), 0);
		CHECK(names.count > 0);
		char path[64];
		snprintf(path, sizeof(path), "wal/%s",
		         names.v[rp_prng_below(&p, names.count)]);
		fs *v = fs_sim_fs(d);
		fs_file *f;
		uint64_t size;
		CHECK_EQ(fs_open(v, path, FS_OPEN_READ_ONLY, &f), 0);
		CHECK_EQ(fs_size(v, f, &size), 0);
		/* the used part: up to the last non-zero byte */
		static uint8_t content[1 << 20];
		size_t got;
		CHECK(size <= sizeof(content));
		CHECK_EQ(fs_pread(v, f, content, (size_t)size, 0, &got), 0);
		fs_close(v, f);
		uint64_t used = got;
		while (used > 0 && content[used - 1] == 0)
			used--;
		uint32_t flips = 1 + (uint32_t)rp_prng_below(&p, 3);
		for (uint32_t i = 0; i < flips; i++) {
			uint64_t bit = rp_prng_below(&p, used * 8);
			CHECK_EQ(fs_sim_flip_bit_at(d, path, bit / 8, (unsigned)(bit % 8)), 0);
		}
		wal_report rep;
		int rc = wal_open(&c, &w, &rep);
		if (rc == RP_ERR_CORRUPT) {
			detected++;
		} else {
			CHECK_EQ(rc, 0);
			check_state(w, m);
			wal_close(w);
			harmless++;
		}
		free(m);
		fs_sim_destroy(d);
	}
	printf("    bit flips: %d detected, %d harmless (padding)\n", detected, harmless);
	CHECK(detected > 60);
}

/* Entries of a fixed size (for tests that count bytes). */
static uint8_t fixed_data[256];
static const hp_entry *mk_fixed(int slot, uint64_t first, size_t count, uint32_t size)
{
	CHECK(size <= sizeof(fixed_data) && count <= MAX_BATCH_ENTRIES);
	for (size_t k = 0; k < count; k++) {
		hp_entry *e = &batch_entries[slot][k];
		e->index = first + k;
		e->term = 1;
		e->type = HP_ENTRY_NORMAL;
		e->size_bytes = size;
		e->data = fixed_data;
	}
	return batch_entries[slot];
}

/* ----------------------------------------------------------- errors */

static int cb_rc;
static uint64_t cb_seq;
static int cb_calls;
static void record_cb(void *ctx, uint64_t seq, int rc)
{
	(void)ctx;
	cb_seq = seq;
	cb_rc = rc;
	cb_calls++;
}

TEST(failed_fsync_is_fatal_and_sticky)
{
	rp_prng p;
	rp_prng_init(&p, 17);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	c.durable_cb = record_cb;
	cb_calls = 0;
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	uint64_t s1 = append_entries(w, m, 0, 2, 1, true);
	CHECK_EQ(wal_sync(w), 0);
	CHECK_EQ(cb_calls, 1);
	CHECK_EQ(cb_seq, s1);
	CHECK_EQ(cb_rc, 0);
	append_entries(w, m, 0, 2, 1, true);
	fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
	CHECK_EQ(wal_sync(w), RP_ERR_FSYNC);
	CHECK_EQ(cb_calls, 2);
	CHECK_EQ(cb_rc, RP_ERR_FSYNC);
	CHECK_EQ(cb_seq, s1); /* nothing more became durable */
	CHECK_EQ(wal_durable_seq(w), s1);
	/* Never retried: every later call fails the same way. */
	m_state copy = *m;
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_HARD_STATE;
	r.group = 1;
	CHECK_EQ(wal_append(w, &r, 1, NULL), RP_ERR_FSYNC);
	CHECK_EQ(wal_sync(w), RP_ERR_FSYNC);
	CHECK_EQ(wal_failed(w), RP_ERR_FSYNC);
	(void)copy;
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(write_errors_are_sticky_too)
{
	rp_prng p;
	rp_prng_init(&p, 18);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 2, 1, true);
	CHECK_EQ(wal_sync(w), 0);
	append_entries(w, m, 0, 2, 1, true);
	fs_sim_fail_nth(d, FS_SIM_OP_WRITE, 1, RP_ERR_IO);
	CHECK_EQ(wal_sync(w), RP_ERR_IO);
	CHECK_EQ(wal_failed(w), RP_ERR_IO);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(disk_full_at_segment_creation)
{
	rp_prng p;
	rp_prng_init(&p, 19);
	fs_sim *d = sim_disk(&p, 0, 0);
	fs_sim_faults f;
	fs_sim_faults_default(&f);
	f.capacity_bytes = 20000; /* room for two 8 KiB segments, not three */
	fs_sim_set_faults(d, &f, &p);
	wal_config c = cfg_sim(d, 8192);
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	int rc = 0;
	for (int k = 0; k < 200 && rc == 0; k++) {
		append_entries(w, m, 0, 2, 1, false);
		rc = wal_sync(w);
	}
	CHECK_EQ(rc, RP_ERR_NOSPC);
	CHECK_EQ(wal_failed(w), RP_ERR_NOSPC);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(bounds_busy_and_max_segments)
{
	rp_prng p;
	rp_prng_init(&p, 20);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 8192);
	c.max_pending_bytes = 4096;
	c.max_segments = 3;
	wal *w = open_ok(&c, NULL);
	uint64_t last = 0;
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_ENTRIES;
	r.group = 1;
	r.entry_count = 4;
	/* The queue of unwritten bytes is bounded: 4 x 116 + 56 bytes each. */
	int rc = 0, appended = 0;
	while (rc == 0) {
		r.entries = mk_fixed(0, last + 1, 4, 100);
		rc = wal_append(w, &r, 1, NULL);
		if (rc == 0) {
			last += 4;
			appended++;
		}
	}
	CHECK_EQ(rc, RP_ERR_BUSY);
	CHECK_EQ(appended, 7); /* 7 x 520 = 3640; an 8th would pass 4096 */
	CHECK_EQ(wal_sync(w), 0);
	CHECK_EQ(wal_failed(w), 0);
	/* A group that never snapshots fills max_segments: refused, not failed. */
	for (int k = 0; k < 500 && rc != RP_ERR_NOSPC; k++) {
		r.entries = mk_fixed(0, last + 1, 4, 100);
		rc = wal_append(w, &r, 1, NULL);
		if (rc == 0) {
			last += 4;
			CHECK_EQ(wal_sync(w), 0);
		}
	}
	CHECK_EQ(rc, RP_ERR_NOSPC);
	CHECK_EQ(wal_failed(w), 0);
	CHECK_EQ(count_segments(d), 2); /* the third slot is kept for marks */
	/* The group snapshots: the mark goes in, the old segments go. */
	wal_rec mark;
	memset(&mark, 0, sizeof(mark));
	mark.type = WAL_REC_SNAPSHOT;
	mark.group = 1;
	mark.snapshot.index = last;
	mark.snapshot.term = 1;
	CHECK_EQ(wal_append(w, &mark, 1, NULL), 0);
	CHECK_EQ(wal_sync(w), 0);
	CHECK_EQ(count_segments(d), 1);
	r.entries = mk_fixed(0, last + 1, 4, 100);
	CHECK_EQ(wal_append(w, &r, 1, NULL), 0);
	CHECK_EQ(wal_sync(w), 0);
	wal_close(w);
	w = open_ok(&c, NULL);
	wal_group_info info;
	CHECK_EQ(wal_group_info_get(w, 1, &info), 0);
	CHECK_EQ(info.snapshot.index, last);
	CHECK_EQ(info.last_index, last + 4);
	wal_close(w);
	fs_sim_destroy(d);
}

/* ------------------------------------------------- randomized crashes */

typedef struct {
	uint64_t seq; /* the batch's last record */
	m_state st;
} hist_entry;

enum { HIST_MAX = 96 };

/* One random record for group gi applied to *m; false if none fits. */
static bool random_record(rp_prng *p, m_state *m, int gi, int slot, wal_rec *r)
{
	m_group *mg = &m->g[gi];
	memset(r, 0, sizeof(*r));
	r->group = m_ids[gi];
	if (mg->term_ctr == 0)
		mg->term_ctr = 1;
	uint64_t roll = rp_prng_below(p, 100);
	if (mg->last + 8 >= M_MAX_INDEX)
		roll = 99; /* the model is full: drop the group */
	if (roll < 55) {
		size_t count = 1 + (size_t)rp_prng_below(p, 5);
		uint64_t first = mg->last + 1;
		uint64_t term = mg->term_ctr;
		if (mg->last > mg->snap.index && rp_prng_below(p, 5) == 0) {
			uint64_t lo = mg->last > mg->snap.index + 3 ? mg->last - 3 : mg->snap.index + 1;
			first = rp_prng_range(p, lo, mg->last); /* overwrite a suffix */
			term = ++mg->term_ctr;
		}
		r->type = WAL_REC_ENTRIES;
		r->entries = mk_entries(slot, m_ids[gi], first, count, term);
		r->entry_count = count;
		m_entries(mg, first, count, term);
	} else if (roll < 63) {
		r->type = WAL_REC_TRUNCATE;
		r->truncate_from = rp_prng_range(p, mg->snap.index + 1, mg->last + 1);
		m_truncate(mg, r->truncate_from);
		mg->term_ctr++;
	} else if (roll < 80) {
		r->type = WAL_REC_HARD_STATE;
		r->hard_state.term = mg->term_ctr;
		r->hard_state.vote = rp_prng_below(p, 4);
		r->hard_state.lease_holder = rp_prng_below(p, 4);
		r->hard_state.commit = rp_prng_below(p, mg->last + 1);
		mg->hs = r->hard_state;
	} else if (roll < 93) {
		r->type = WAL_REC_SNAPSHOT;
		uint64_t idx = rp_prng_range(p, mg->snap.index, mg->last);
		r->snapshot.index = idx;
		r->snapshot.term = idx > mg->snap.index ? mg->terms[idx] : mg->snap.term;
		r->snapshot.conf.voter_count = 1 + (uint32_t)rp_prng_below(p, HP_MAX_VOTERS);
		for (uint32_t i = 0; i < r->snapshot.conf.voter_count; i++)
			r->snapshot.conf.voters[i] = i + 1;
		r->snapshot.conf.learner_count = (uint32_t)rp_prng_below(p, 3);
		for (uint32_t i = 0; i < r->snapshot.conf.learner_count; i++)
			r->snapshot.conf.learners[i] = 100 + i;
		m_snapshot(mg, &r->snapshot, false);
	} else if (roll < 97) {
		r->type = WAL_REC_SNAPSHOT;
		r->install = true;
		r->snapshot.index = mg->snap.index + rp_prng_below(p, mg->last - mg->snap.index + 6);
		r->snapshot.term = ++mg->term_ctr;
		r->snapshot.conf.voter_count = 3;
		r->snapshot.conf.voters[0] = 4;
		r->snapshot.conf.voters[1] = 5;
		r->snapshot.conf.voters[2] = 6;
		m_snapshot(mg, &r->snapshot, true);
	} else {
		r->type = WAL_REC_GROUP_DROP;
		uint64_t ctr = mg->term_ctr;
		memset(mg, 0, sizeof(*mg));
		mg->term_ctr = ctr + 1;
	}
	return true;
}

/*
 * 500 runs of: random batches for 3 groups with random syncs, then a
 * crash — clean, or after an injected sync/write failure somewhere in a
 * round, a segment creation or a deletion — on a disk that keeps, loses
 * or tears each unsynced write.  Recovery must give back exactly the
 * state after some batch k, where every batch acknowledged by a completed
 * sync is <= k (nothing acknowledged lost, batches whole, no gaps).  Two
 * crash cycles per run, the second appending to the recovered log.
 */
TEST(randomized_crash_recovery)
{
	hist_entry *hist = malloc(HIST_MAX * sizeof(*hist));
	m_state *cur = malloc(sizeof(*cur));
	CHECK(hist && cur);
	uint64_t torn = 0, dropped = 0, removed = 0, deleted = 0, fails = 0, cycles = 0;
	for (uint64_t seed = 1; seed <= 500; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		uint32_t keep = (uint32_t)rp_prng_below(&p, 1000001);
		fs_sim *d = sim_disk(&p, keep, 700000);
		wal_config c = cfg_sim(d, 8192);
		memset(cur, 0, sizeof(*cur));
		for (int cycle = 0; cycle < 2; cycle++) {
			wal_report rep;
			wal *w = open_ok(&c, &rep);
			size_t nh = 1;
			hist[0].seq = wal_durable_seq(w);
			hist[0].st = *cur;
			int style = (int)rp_prng_below(&p, 3);
			if (style == 1)
				fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1 + (uint32_t)rp_prng_below(&p, 6),
				                RP_ERR_FSYNC);
			else if (style == 2)
				fs_sim_fail_nth(d, FS_SIM_OP_WRITE, 1 + (uint32_t)rp_prng_below(&p, 6),
				                RP_ERR_IO);
			int ops = 1 + (int)rp_prng_below(&p, 60);
			for (int op = 0; op < ops && nh < HIST_MAX; op++) {
				m_state *next = &hist[nh].st;
				*next = *cur;
				wal_rec recs[4];
				size_t n = 1 + (size_t)rp_prng_below(&p, 3);
				for (size_t i = 0; i < n; i++)
					random_record(&p, next, (int)rp_prng_below(&p, M_GROUPS), (int)i,
					              &recs[i]);
				uint64_t seq;
				int rc = wal_append(w, recs, n, &seq);
				if (rc != 0) {
					CHECK(rc == RP_ERR_FSYNC || rc == RP_ERR_IO);
					break;
				}
				*cur = *next;
				hist[nh].seq = seq;
				nh++;
				if (rp_prng_below(&p, 100) < 35) {
					rc = wal_sync(w);
					if (rc != 0) {
						CHECK(rc == RP_ERR_FSYNC || rc == RP_ERR_IO);
						fails++;
						break;
					}
					/* Acknowledged: everything up to here is durable. */
					hist[0] = hist[nh - 1];
					nh = 1;
				}
			}
			wal_stats st;
			wal_get_stats(w, &st);
			deleted += st.segments_deleted;
			wal_close(w);
			fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 0, 0);
			fs_sim_fail_nth(d, FS_SIM_OP_WRITE, 0, 0);
			fs_sim_crash(d, &p);
			w = open_ok(&c, &rep);
			torn += rep.torn_bytes > 0;
			dropped += rep.dropped_records > 0;
			removed += rep.removed_segments > 0;
			/* The recovered log is the state after batch k, k >= the
			 * last acknowledged one. */
			CHECK(rep.last_seq >= hist[0].seq);
			size_t k = 0;
			while (k + 1 < nh && hist[k + 1].seq <= rep.last_seq)
				k++;
			check_state(w, &hist[k].st);
			*cur = hist[k].st;
			wal_close(w);
			cycles++;
		}
		fs_sim_destroy(d);
	}
	printf("    %" PRIu64 " crash cycles: %" PRIu64 " failed rounds, %" PRIu64
	       " torn tails, %" PRIu64 " incomplete batches dropped, %" PRIu64
	       " recoveries removed segments, %" PRIu64 " segments deleted\n",
	       cycles, fails, torn, dropped, removed, deleted);
	CHECK(torn > 20);
	CHECK(dropped > 5);
	CHECK(removed > 0);
	CHECK(deleted > 100);
	free(hist);
	free(cur);
}

/* ------------------------------------------------- with the real core */

static uint64_t core_rand(void *ctx) { return rp_prng_next((rp_prng *)ctx); }

/* Drains a node's ready batches into the WAL (sync mode), advancing after
 * each sync, as the simulator and the server do. */
static void core_persist(hp_node *n, wal *w, uint64_t group)
{
	for (int i = 0; i < 100 && hp_has_ready(n); i++) {
		hp_ready rd;
		hp_ready_take(n, &rd);
		wal_rec recs[WAL_READY_MAX_RECS];
		size_t count = wal_recs_from_ready(group, &rd, recs);
		if (count > 0) {
			CHECK_EQ(wal_append(w, recs, count, NULL), 0);
			CHECK_EQ(wal_sync(w), 0);
		}
		hp_advance(n, rd.seq);
	}
}

/* A one-voter group elects itself, commits entries, compacts, and after a
 * restart from the WAL alone has the same term, log and commit. */
TEST(harpoon_group_restarts_from_the_wal)
{
	rp_prng p;
	rp_prng_init(&p, 24);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 8192);
	wal *w = open_ok(&c, NULL);
	hp_config hc;
	hp_config_default(&hc);
	hc.group = 9;
	hc.id = 1;
	hc.rand = core_rand;
	hc.rand_ctx = &p;
	hp_conf initial;
	memset(&initial, 0, sizeof(initial));
	initial.voter_count = 1;
	initial.voters[0] = 1;
	int hrc;
	uint64_t now = 1;
	hp_node *n = hp_create(&hc, &initial, NULL, now, &hrc);
	CHECK(n != NULL);
	hp_status st;
	for (int i = 0; i < 200; i++) {
		now += 50000;
		hp_tick(n, now);
		core_persist(n, w, 9);
		hp_get_status(n, now, &st);
		if (st.role == HP_LEADER)
			break;
	}
	CHECK_EQ(st.role, HP_LEADER);
	uint8_t cmd[40];
	for (int i = 0; i < 120; i++) {
		memset(cmd, i, sizeof(cmd));
		uint64_t idx, term;
		CHECK_EQ(hp_propose(n, now, cmd, sizeof(cmd), &idx, &term), 0);
		core_persist(n, w, 9);
		if (i == 80) {
			/* Compact at the applied index, as after a checkpoint. */
			hp_get_status(n, now, &st);
			wal_rec mark;
			memset(&mark, 0, sizeof(mark));
			mark.type = WAL_REC_SNAPSHOT;
			mark.group = 9;
			mark.snapshot.index = st.applied;
			mark.snapshot.term = hp_log_term(n, st.applied);
			mark.snapshot.conf = st.conf;
			CHECK_EQ(hp_compact(n, st.applied), 0);
			CHECK_EQ(wal_append(w, &mark, 1, NULL), 0);
			CHECK_EQ(wal_sync(w), 0);
		}
	}
	hp_status before;
	hp_get_status(n, now, &before);
	CHECK(before.commit >= 100);
	CHECK(before.snapshot_index > 0);
	wal_stats ws;
	wal_get_stats(w, &ws);
	CHECK(ws.segments_deleted > 0);
	hp_destroy(n);
	wal_close(w);

	w = open_ok(&c, NULL);
	wal_restore r;
	CHECK_EQ(wal_restore_load(w, 9, &r), 0);
	n = hp_create(&hc, &initial, &r.restore, now, &hrc);
	wal_restore_free(&r);
	CHECK(n != NULL);
	hp_status after;
	hp_get_status(n, now, &after);
	CHECK_EQ(after.term, before.term);
	CHECK_EQ(after.vote, before.vote);
	CHECK_EQ(after.last_index, before.last_index);
	CHECK_EQ(after.last_term, before.last_term);
	CHECK_EQ(after.commit, before.commit);
	CHECK_EQ(after.snapshot_index, before.snapshot_index);
	for (uint64_t i = after.snapshot_index + 1; i <= after.last_index; i++) {
		const hp_entry *e = hp_log_entry(n, i);
		CHECK(e != NULL);
		CHECK_EQ(e->term, hp_log_term(n, i));
		if (e->type == HP_ENTRY_NORMAL && e->size_bytes == sizeof(cmd))
			CHECK_EQ(e->data[0], e->data[sizeof(cmd) - 1]);
	}
	hp_destroy(n);
	wal_close(w);
	fs_sim_destroy(d);
}

/* ------------------------------------------------ the writer thread */

/* An fs wrapper that counts fdatasyncs, makes each take `delay_ns`, and
 * notes whether one ran on the forbidden (appending) thread. */
typedef struct {
	fs base;
	fs *inner;
	pthread_mutex_t lock;
	uint64_t syncs;
	bool sync_on_forbidden;
	pthread_t forbidden;
	long delay_ns;
} count_fs;

static count_fs *cfs_of(fs *v) { return (count_fs *)(void *)v; }
static int c_open(fs *v, const char *path, int flags, fs_file **out)
{
	return fs_open(cfs_of(v)->inner, path, flags, out);
}
static int c_close(fs *v, fs_file *f) { return fs_close(cfs_of(v)->inner, f); }
static int c_pwrite(fs *v, fs_file *f, const void *b, size_t n, uint64_t off)
{
	return fs_pwrite(cfs_of(v)->inner, f, b, n, off);
}
static int c_pread(fs *v, fs_file *f, void *b, size_t n, uint64_t off, size_t *got)
{
	return fs_pread(cfs_of(v)->inner, f, b, n, off, got);
}
static int c_fdatasync(fs *v, fs_file *f)
{
	count_fs *c = cfs_of(v);
	pthread_mutex_lock(&c->lock);
	c->syncs++;
	if (pthread_equal(pthread_self(), c->forbidden))
		c->sync_on_forbidden = true;
	pthread_mutex_unlock(&c->lock);
	struct timespec ts = {0, c->delay_ns};
	nanosleep(&ts, NULL);
	return fs_fdatasync(c->inner, f);
}
static int c_truncate(fs *v, fs_file *f, uint64_t n) { return fs_truncate(cfs_of(v)->inner, f, n); }
static int c_fallocate(fs *v, fs_file *f, uint64_t n)
{
	return fs_fallocate(cfs_of(v)->inner, f, n);
}
static int c_size(fs *v, fs_file *f, uint64_t *n) { return fs_size(cfs_of(v)->inner, f, n); }
static int c_rename(fs *v, const char *a, const char *b) { return fs_rename(cfs_of(v)->inner, a, b); }
static int c_unlink(fs *v, const char *a) { return fs_unlink(cfs_of(v)->inner, a); }
static int c_fsync_dir(fs *v, const char *a) { return fs_fsync_dir(cfs_of(v)->inner, a); }
static int c_mkdir(fs *v, const char *a) { return fs_mkdir(cfs_of(v)->inner, a); }
static int c_list(fs *v, const char *a, fs_list_cb cb, void *ctx)
{
	return fs_list(cfs_of(v)->inner, a, cb, ctx);
}
static void c_destroy(fs *v) { (void)v; }
static const fs_vtable count_vt = {c_open,   c_close,     c_pwrite, c_pread,     c_fdatasync,
                                   c_truncate, c_fallocate, c_size, c_rename,   c_unlink,
                                   c_fsync_dir, c_mkdir,    c_list,  c_destroy};

typedef struct {
	pthread_mutex_t lock;
	uint64_t last;
	uint64_t calls;
	bool went_back;
	int rc;
} cb_log;

static void log_cb(void *ctx, uint64_t seq, int rc)
{
	cb_log *l = ctx;
	pthread_mutex_lock(&l->lock);
	if (seq < l->last)
		l->went_back = true;
	l->last = seq;
	l->calls++;
	if (rc)
		l->rc = rc;
	pthread_mutex_unlock(&l->lock);
}

typedef struct {
	wal *w;
	pthread_mutex_t lock;
	uint64_t published; /* the producer's last appended seq */
	bool done;
	uint64_t waits;
	bool early; /* wal_wait returned before durability */
} waiter_ctx;

static void *waiter_main(void *arg)
{
	waiter_ctx *wc = arg;
	for (int i = 0; i < 1000000; i++) {
		pthread_mutex_lock(&wc->lock);
		uint64_t s = wc->published;
		bool done = wc->done;
		pthread_mutex_unlock(&wc->lock);
		if (s > 0) {
			if (wal_wait(wc->w, s) != 0 || wal_durable_seq(wc->w) < s)
				wc->early = true;
			wc->waits++;
		}
		if (done)
			break;
	}
	return NULL;
}

TEST(group_commit_thread_batches_syncs_in_order)
{
	rp_prng p;
	rp_prng_init(&p, 21);
	fs_sim *d = sim_disk(&p, 0, 0);
	count_fs cf;
	memset(&cf, 0, sizeof(cf));
	cf.base.vt = &count_vt;
	cf.inner = fs_sim_fs(d);
	pthread_mutex_init(&cf.lock, NULL);
	cf.forbidden = pthread_self();
	cf.delay_ns = 1000000; /* a 1 ms disk */
	cb_log lg;
	memset(&lg, 0, sizeof(lg));
	pthread_mutex_init(&lg.lock, NULL);
	wal_config c = cfg_sim(d, 1 << 20);
	c.vfs = &cf.base;
	c.threaded = true;
	c.max_pending_bytes = 1 << 16;
	c.durable_cb = log_cb;
	c.durable_ctx = &lg;
	wal *w = open_ok(&c, NULL);
	waiter_ctx wc;
	memset(&wc, 0, sizeof(wc));
	wc.w = w;
	pthread_mutex_init(&wc.lock, NULL);
	pthread_t waiter;
	CHECK_EQ(pthread_create(&waiter, NULL, waiter_main, &wc), 0);
	m_state *m = calloc(1, sizeof(*m));
	enum { BATCHES = 3000 };
	uint64_t last = 0, busy = 0;
	for (int k = 0; k < BATCHES; k++) {
		int gi = k % M_GROUPS;
		m_group *mg = &m->g[gi];
		wal_rec recs[2];
		memset(recs, 0, sizeof(recs));
		recs[0].type = WAL_REC_ENTRIES;
		recs[0].group = m_ids[gi];
		recs[0].entries = mk_entries(0, m_ids[gi], mg->last + 1, 1, 1);
		recs[0].entry_count = 1;
		recs[1].type = WAL_REC_HARD_STATE;
		recs[1].group = m_ids[gi];
		recs[1].hard_state.term = 1;
		recs[1].hard_state.commit = mg->last;
		int rc;
		for (int tries = 0; (rc = wal_append(w, recs, 2, &last)) == RP_ERR_BUSY; tries++) {
			CHECK(tries < 2);
			busy++;
			CHECK_EQ(wal_wait(w, wal_last_seq(w)), 0); /* backpressure */
		}
		CHECK_EQ(rc, 0);
		m_entries(mg, mg->last + 1, 1, 1);
		mg->hs = recs[1].hard_state;
		pthread_mutex_lock(&wc.lock);
		wc.published = last;
		pthread_mutex_unlock(&wc.lock);
	}
	CHECK_EQ(wal_sync(w), 0);
	CHECK_EQ(wal_durable_seq(w), last);
	pthread_mutex_lock(&wc.lock);
	wc.done = true;
	pthread_mutex_unlock(&wc.lock);
	pthread_join(waiter, NULL);
	wal_stats st;
	wal_get_stats(w, &st);
	wal_close(w);
	printf("    %d batches: %" PRIu64 " rounds, %" PRIu64 " fdatasyncs, %" PRIu64
	       " busy, %" PRIu64 " waits\n",
	       BATCHES, st.rounds, cf.syncs, busy, wc.waits);
	CHECK_EQ(st.batches, BATCHES);
	CHECK(cf.syncs < BATCHES / 10); /* one sync covers many batches */
	CHECK(st.rounds < BATCHES / 10);
	CHECK(!cf.sync_on_forbidden); /* never on the appending thread */
	CHECK(!lg.went_back);
	CHECK_EQ(lg.last, last);
	CHECK_EQ(lg.rc, 0);
	CHECK_EQ(lg.calls, st.rounds);
	CHECK(!wc.early);
	/* Everything came back, in order. */
	c.vfs = fs_sim_fs(d);
	c.threaded = false;
	c.durable_cb = NULL;
	w = open_ok(&c, NULL);
	check_state(w, m);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(threaded_failure_reaches_waiters_and_callback)
{
	rp_prng p;
	rp_prng_init(&p, 22);
	fs_sim *d = sim_disk(&p, 0, 0);
	cb_log lg;
	memset(&lg, 0, sizeof(lg));
	pthread_mutex_init(&lg.lock, NULL);
	wal_config c = cfg_sim(d, 1 << 16);
	c.threaded = true;
	c.durable_cb = log_cb;
	c.durable_ctx = &lg;
	wal *w = open_ok(&c, NULL);
	m_state *m = calloc(1, sizeof(*m));
	append_entries(w, m, 0, 1, 1, true);
	CHECK_EQ(wal_sync(w), 0);
	fs_sim_fail_nth(d, FS_SIM_OP_SYNC, 1, RP_ERR_FSYNC);
	uint64_t s = append_entries(w, m, 0, 1, 1, true);
	CHECK_EQ(wal_wait(w, s), RP_ERR_FSYNC);
	CHECK_EQ(wal_failed(w), RP_ERR_FSYNC);
	/* The callback runs on the writer thread just after waiters wake. */
	int cb_rc_seen = 0;
	for (int i = 0; i < 1000 && cb_rc_seen == 0; i++) {
		pthread_mutex_lock(&lg.lock);
		cb_rc_seen = lg.rc;
		pthread_mutex_unlock(&lg.lock);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	CHECK_EQ(cb_rc_seen, RP_ERR_FSYNC);
	wal_rec r;
	memset(&r, 0, sizeof(r));
	r.type = WAL_REC_HARD_STATE;
	r.group = 1;
	CHECK_EQ(wal_append(w, &r, 1, NULL), RP_ERR_FSYNC);
	wal_close(w);
	free(m);
	fs_sim_destroy(d);
}

TEST(threaded_close_with_work_queued_does_not_hang)
{
	rp_prng p;
	rp_prng_init(&p, 23);
	fs_sim *d = sim_disk(&p, 0, 0);
	wal_config c = cfg_sim(d, 1 << 16);
	c.threaded = true;
	for (int i = 0; i < 20; i++) {
		wal *w = open_ok(&c, NULL);
		m_state *m = calloc(1, sizeof(*m));
		for (int k = 0; k < 5; k++)
			append_entries(w, m, 0, 1, 1, true);
		wal_close(w);
		free(m);
	}
	/* Whatever got written is a valid log. */
	wal *w = open_ok(&c, NULL);
	wal_close(w);
	fs_sim_destroy(d);
}

TEST_MAIN()
