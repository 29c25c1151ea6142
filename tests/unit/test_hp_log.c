/*
 * test_hp_log.c — the consensus core's in-memory log on its own: entries'
 * data packed into slabs survives appends, truncations and compactions
 * byte for byte and in place; whole slabs are freed when the entries in
 * them leave; a large entry gets a slab of its own; and a random mix
 * of the three operations agrees with a plain model of the log.
 */
#include <stdlib.h>
#include <string.h>

#include "harpoon/hp_log.h"
#include "test.h"
#include "util/prng.h"

/* The data of entry (index, size): reproducible from the two. */
static void fill(uint8_t *buf, uint64_t index, uint32_t size)
{
	for (uint32_t j = 0; j < size; j++)
		buf[j] = (uint8_t)(index * 131 + j * 7 + size);
}

static int append(hp_log *log, uint64_t term, uint32_t size)
{
	uint8_t *buf = size ? malloc(size) : NULL;
	if (size)
		CHECK(buf != NULL);
	fill(buf, hp_log_last_index(log) + 1, size);
	int rc = hp_log_append(log, term, 0, buf, size);
	free(buf);
	return rc;
}

static void expect_entry(const hp_log *log, uint64_t index, uint32_t size)
{
	const hp_entry *e = hp_log_at(log, index);
	CHECK(e != NULL);
	CHECK_EQ(e->size_bytes, size);
	if (size == 0) {
		CHECK(e->data == NULL);
		return;
	}
	CHECK(e->data != NULL);
	CHECK(((uintptr_t)e->data & 7) == 0);
	uint8_t *want = malloc(size);
	CHECK(want != NULL);
	fill(want, index, size);
	CHECK(memcmp(e->data, want, size) == 0);
	free(want);
}

TEST(data_stays_in_place_and_whole_slabs_are_freed)
{
	hp_log log;
	hp_log_init(&log, 0, 0);
	CHECK_EQ(hp_log_memory_bytes(&log), 0);
	/* 4,000 entries of 200 bytes: 800,000 bytes, four slabs */
	for (int i = 0; i < 4000; i++)
		CHECK_EQ(append(&log, 1, 200), 0);
	const uint8_t *first = hp_log_at(&log, 1)->data;
	CHECK_EQ(log.size_bytes, 800000);
	CHECK_EQ(log.slab_bytes, 4 * HP_LOG_SLAB_BYTES);
	for (int i = 0; i < 4000; i++)
		CHECK_EQ(append(&log, 1, 200), 0);
	CHECK(hp_log_at(&log, 1)->data == first); /* appends never move data */
	CHECK_EQ(log.slab_bytes, 7 * HP_LOG_SLAB_BYTES);
	/* Compacting half frees the slabs holding only compacted entries. */
	hp_log_compact(&log, 4000, 1);
	CHECK_EQ(log.size_bytes, 800000);
	CHECK(log.slab_bytes <= 5 * HP_LOG_SLAB_BYTES);
	for (uint64_t i = 4001; i <= 8000; i++)
		expect_entry(&log, i, 200);
	/* Compacting all of it keeps one empty slab for the next appends. */
	hp_log_compact(&log, 8000, 1);
	CHECK_EQ(log.count, 0);
	CHECK_EQ(log.size_bytes, 0);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES);
	CHECK_EQ(append(&log, 2, 100), 0);
	expect_entry(&log, 8001, 100);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES);
	hp_log_deinit(&log);
}

TEST(an_outsized_entry_has_a_slab_of_its_own)
{
	hp_log log;
	hp_log_init(&log, 10, 3);
	CHECK_EQ(append(&log, 3, 50), 0);
	CHECK_EQ(append(&log, 3, 3 * HP_LOG_SLAB_BYTES), 0);
	CHECK_EQ(append(&log, 3, 50), 0);
	CHECK_EQ(log.slab_bytes, 3 * HP_LOG_SLAB_BYTES + 2 * HP_LOG_SLAB_BYTES);
	expect_entry(&log, 11, 50);
	expect_entry(&log, 12, 3 * HP_LOG_SLAB_BYTES);
	expect_entry(&log, 13, 50);
	hp_log_compact(&log, 12, 3);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES);
	expect_entry(&log, 13, 50);
	/* Above a sixteenth of a slab, an entry has its own, of its size: a
	 * slab is never left more than a sixteenth empty. */
	CHECK_EQ(append(&log, 3, HP_LOG_OWN_SLAB_BYTES + 1), 0);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES + HP_LOG_OWN_SLAB_BYTES + 1);
	CHECK_EQ(append(&log, 3, HP_LOG_OWN_SLAB_BYTES), 0); /* fits a shared slab */
	CHECK_EQ(log.slab_bytes, 2 * HP_LOG_SLAB_BYTES + HP_LOG_OWN_SLAB_BYTES + 1);
	expect_entry(&log, 14, HP_LOG_OWN_SLAB_BYTES + 1);
	expect_entry(&log, 15, HP_LOG_OWN_SLAB_BYTES);
	hp_log_compact(&log, 15, 3);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES);
	/* An outsized newest slab is not kept once emptied. */
	CHECK_EQ(append(&log, 4, 2 * HP_LOG_SLAB_BYTES), 0);
	hp_log_compact(&log, 16, 4);
	CHECK_EQ(log.slab_bytes, 0);
	CHECK_EQ(hp_log_last_index(&log), 16);
	CHECK_EQ(hp_log_last_term(&log), 4);
	hp_log_deinit(&log);
}

TEST(truncation_frees_the_tail_and_appends_reuse_it)
{
	hp_log log;
	hp_log_init(&log, 0, 0);
	for (int i = 0; i < 3000; i++)
		CHECK_EQ(append(&log, 1, 300), 0); /* 900,000 bytes: four slabs */
	CHECK_EQ(log.slab_bytes, 4 * HP_LOG_SLAB_BYTES);
	hp_log_truncate(&log, 501); /* 150,000 bytes left: one slab */
	CHECK_EQ(log.count, 500);
	CHECK_EQ(log.size_bytes, 150000);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES);
	const uint8_t *at500 = hp_log_at(&log, 500)->data;
	CHECK_EQ(append(&log, 2, 300), 0);
	CHECK(hp_log_at(&log, 501)->data == at500 + 304); /* right after 500's, aligned */
	for (uint64_t i = 1; i <= 500; i++)
		expect_entry(&log, i, 300);
	expect_entry(&log, 501, 300);
	/* Entries without data take no room; truncating only them frees none. */
	CHECK_EQ(append(&log, 2, 0), 0);
	CHECK_EQ(append(&log, 2, 0), 0);
	hp_log_truncate(&log, 502);
	CHECK_EQ(log.count, 501);
	CHECK_EQ(log.slab_bytes, HP_LOG_SLAB_BYTES);
	hp_log_truncate(&log, 1);
	CHECK_EQ(log.count, 0);
	CHECK_EQ(log.size_bytes, 0);
	CHECK_EQ(append(&log, 2, 10), 0);
	CHECK(hp_log_at(&log, 1)->data != NULL);
	expect_entry(&log, 1, 10);
	hp_log_deinit(&log);
}

/* A random mix against a model that keeps only each entry's size and
 * term: after every step every entry reads back, and the slabs hold no
 * more than the data plus alignment, slab-end waste and two slabs. */
TEST(a_random_mix_agrees_with_the_model)
{
	enum { MAXN = 6000 };
	static uint32_t sizes[MAXN + 2];
	rp_prng r;
	rp_prng_init(&r, 42);
	hp_log log;
	hp_log_init(&log, 0, 0);
	uint64_t term = 1;
	uint64_t outsized = 0;
	for (int step = 0; step < 4000; step++) {
		uint64_t roll = rp_prng_below(&r, 100);
		uint64_t last = hp_log_last_index(&log);
		if (roll < 80 && last < MAXN) {
			uint32_t size = (uint32_t)rp_prng_below(&r, 1000);
			if (rp_prng_chance_ppm(&r, 100000))
				size = 0;
			if (rp_prng_chance_ppm(&r, 10000))
				size = HP_LOG_OWN_SLAB_BYTES - 500 + (uint32_t)rp_prng_below(&r, 1000);
			if (rp_prng_chance_ppm(&r, 2000))
				size = HP_LOG_SLAB_BYTES + 1 + (uint32_t)rp_prng_below(&r, 1000);
			if (size > HP_LOG_OWN_SLAB_BYTES)
				outsized += size;
			CHECK_EQ(append(&log, term, size), 0);
			sizes[last + 1] = size;
		} else if (roll < 90 && last > log.snap_index) {
			uint64_t from = rp_prng_range(&r, log.snap_index + 1, last);
			hp_log_truncate(&log, from);
			term++;
		} else if (last > log.snap_index) {
			uint64_t to = rp_prng_range(&r, log.snap_index + 1, last);
			hp_log_compact(&log, to, hp_log_term_at(&log, to));
		}
		uint64_t data = 0;
		for (uint64_t i = log.snap_index + 1; i <= hp_log_last_index(&log); i++) {
			expect_entry(&log, i, sizes[i]);
			data += (sizes[i] + 7) & ~7u;
		}
		CHECK_EQ(log.size_bytes <= data, 1);
		CHECK(log.slab_bytes <=
		      data + data / 16 + outsized + 3 * HP_LOG_SLAB_BYTES);
	}
	hp_log_deinit(&log);
}

TEST_MAIN()
