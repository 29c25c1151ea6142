/*
 * test_sm_vcache.c — the value cache on its own: hits and misses, writes
 * that update a cached key and leave an uncached one out, deletes, the
 * byte budget under any mix of sizes, CLOCK keeping what is read, values
 * too large to cache, a table that grows, and a random run against a
 * plain map: whatever the cache answers must be the map's value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sm_vcache.h"
#include "test.h"
#include "util/prng.h"

static const uint8_t *u8(const char *s)
{
	return (const uint8_t *)s;
}

/* The cached value of key as a string ("" if empty), or NULL on a miss. */
static const char *lookup(sm_vcache *c, const char *key, char *buf, size_t cap)
{
	const uint8_t *v = NULL;
	size_t n = 0;
	if (!sm_vcache_get(c, u8(key), strlen(key), &v, &n))
		return NULL;
	CHECK(n < cap);
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

static void fill_s(sm_vcache *c, const char *key, const char *value)
{
	sm_vcache_fill(c, u8(key), strlen(key), u8(value), strlen(value));
}

static void put_s(sm_vcache *c, const char *key, const char *value)
{
	sm_vcache_put(c, u8(key), strlen(key), u8(value), strlen(value));
}

TEST(a_filled_key_hits_and_others_miss)
{
	sm_vcache *c = sm_vcache_create(1 << 20, 1);
	CHECK(c != NULL);
	char buf[64];
	CHECK(lookup(c, "a", buf, sizeof(buf)) == NULL);
	fill_s(c, "a", "one");
	fill_s(c, "", "empty key");
	fill_s(c, "b", "");
	CHECK(strcmp(lookup(c, "a", buf, sizeof(buf)), "one") == 0);
	CHECK(strcmp(lookup(c, "", buf, sizeof(buf)), "empty key") == 0);
	CHECK(strcmp(lookup(c, "b", buf, sizeof(buf)), "") == 0);
	CHECK(lookup(c, "c", buf, sizeof(buf)) == NULL);
	sm_vcache_stats st;
	sm_vcache_stats_get(c, &st);
	CHECK_EQ(st.hits, 3);
	CHECK_EQ(st.misses, 2);
	CHECK_EQ(st.entries, 3);
	CHECK(st.used_bytes > 3 * 3);
	CHECK(st.used_bytes <= st.budget_bytes);
	sm_vcache_destroy(c);
}

TEST(a_write_updates_a_cached_key_and_leaves_an_uncached_one_out)
{
	sm_vcache *c = sm_vcache_create(1 << 20, 2);
	char buf[64];
	fill_s(c, "k", "old");
	put_s(c, "k", "new"); /* same size: in place */
	CHECK(strcmp(lookup(c, "k", buf, sizeof(buf)), "new") == 0);
	put_s(c, "k", "a longer value"); /* another size: a new entry */
	CHECK(strcmp(lookup(c, "k", buf, sizeof(buf)), "a longer value") == 0);
	put_s(c, "k", "");
	CHECK(strcmp(lookup(c, "k", buf, sizeof(buf)), "") == 0);
	put_s(c, "other", "x");
	CHECK(lookup(c, "other", buf, sizeof(buf)) == NULL);
	sm_vcache_del(c, u8("k"), 1);
	CHECK(lookup(c, "k", buf, sizeof(buf)) == NULL);
	sm_vcache_del(c, u8("never"), 5); /* not cached: nothing happens */
	fill_s(c, "k", "again");
	fill_s(c, "k", "refilled"); /* a second fill replaces the first */
	CHECK(strcmp(lookup(c, "k", buf, sizeof(buf)), "refilled") == 0);
	sm_vcache_stats st;
	sm_vcache_stats_get(c, &st);
	CHECK_EQ(st.entries, 1);
	sm_vcache_clear(c);
	CHECK(lookup(c, "k", buf, sizeof(buf)) == NULL);
	sm_vcache_stats_get(c, &st);
	CHECK_EQ(st.entries, 0);
	sm_vcache_destroy(c);
}

TEST(off_caches_nothing)
{
	CHECK(sm_vcache_create(0, 1) == NULL);
	CHECK(sm_vcache_create(SM_VCACHE_BYTES_MIN - 1, 1) == NULL);
	sm_vcache *c = NULL; /* every call accepts the NULL */
	char buf[8];
	fill_s(c, "a", "b");
	put_s(c, "a", "c");
	sm_vcache_del(c, u8("a"), 1);
	CHECK(lookup(c, "a", buf, sizeof(buf)) == NULL);
	sm_vcache_clear(c);
	sm_vcache_stats st;
	sm_vcache_stats_get(c, &st);
	CHECK_EQ(st.budget_bytes, 0);
	CHECK_EQ(st.hits + st.misses + st.entries, 0);
	sm_vcache_destroy(c);
}

TEST(an_entry_too_large_is_not_cached_and_a_write_that_grows_one_drops_it)
{
	sm_vcache *c = sm_vcache_create(16 * 1024, 3); /* key + value up to 1 KiB */
	static uint8_t big[2048];
	memset(big, 'x', sizeof(big));
	fill_s(c, "kept", "a small value");
	sm_vcache_fill(c, u8("big"), 3, big, sizeof(big));
	const uint8_t *v;
	size_t n;
	CHECK(!sm_vcache_get(c, u8("big"), 3, &v, &n));
	sm_vcache_fill(c, big, sizeof(big), u8("v"), 1); /* a long key counts too */
	CHECK(!sm_vcache_get(c, big, sizeof(big), &v, &n));
	CHECK(sm_vcache_get(c, u8("kept"), 4, &v, &n)); /* nothing evicted for them */
	fill_s(c, "small", "s");
	sm_vcache_put(c, u8("small"), 5, big, sizeof(big));
	CHECK(!sm_vcache_get(c, u8("small"), 5, &v, &n)); /* never the old value */
	sm_vcache_stats st;
	sm_vcache_stats_get(c, &st);
	CHECK_EQ(st.evictions, 0);
	CHECK_EQ(st.entries, 1);
	sm_vcache_destroy(c);
}

TEST(the_budget_holds_under_any_mix_of_sizes)
{
	const uint64_t budget = 64 * 1024;
	sm_vcache *c = sm_vcache_create(budget, 4);
	rp_prng p;
	rp_prng_init(&p, 44);
	static uint8_t val[4096];
	memset(val, 'v', sizeof(val));
	char key[32];
	sm_vcache_stats st;
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "key:%d", (int)rp_prng_below(&p, 3000));
		size_t n =
		    (size_t)rp_prng_below(&p, 5000); /* some above the 4 KiB limit */
		if (n > sizeof(val))
			n = sizeof(val);
		if (rp_prng_below(&p, 2) == 0)
			sm_vcache_fill(c, u8(key), strlen(key), val, n);
		else
			sm_vcache_put(c, u8(key), strlen(key), val, n);
		sm_vcache_stats_get(c, &st);
		CHECK(st.used_bytes <= budget);
	}
	CHECK(st.evictions > 0);
	CHECK(st.entries > 10);
	CHECK(st.used_bytes > budget / 2); /* eviction frees what is needed, not all */
	sm_vcache_destroy(c);
}

TEST(clock_keeps_the_keys_that_are_read)
{
	sm_vcache *c = sm_vcache_create(32 * 1024, 5);
	char key[32], buf[128];
	/* Ten hot keys, read between every insert of a cold one. */
	for (int h = 0; h < 10; h++) {
		snprintf(key, sizeof(key), "hot:%d", h);
		fill_s(c, key, "hot value");
	}
	for (int i = 0; i < 5000; i++) {
		for (int h = 0; h < 10; h++) {
			snprintf(key, sizeof(key), "hot:%d", h);
			const char *v = lookup(c, key, buf, sizeof(buf));
			CHECK(v != NULL);
			CHECK(strcmp(v, "hot value") == 0);
		}
		snprintf(key, sizeof(key), "cold:%d", i);
		fill_s(c, key, "a cold value, read never, and longer than the hot ones");
	}
	sm_vcache_stats st;
	sm_vcache_stats_get(c, &st);
	CHECK(st.evictions > 4000); /* the cold keys went instead */
	sm_vcache_destroy(c);
}

TEST(the_table_grows_and_every_key_stays_reachable)
{
	sm_vcache *c = sm_vcache_create(64u << 20, 6);
	char key[32], val[32], buf[64];
	for (int i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i * 7);
		fill_s(c, key, val);
	}
	for (int i = 0; i < 50000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(val, sizeof(val), "v%d", i * 7);
		const char *v = lookup(c, key, buf, sizeof(buf));
		CHECK(v != NULL);
		CHECK(strcmp(v, val) == 0);
	}
	sm_vcache_stats st;
	sm_vcache_stats_get(c, &st);
	CHECK_EQ(st.entries, 50000);
	CHECK_EQ(st.evictions, 0);
	CHECK(st.used_bytes >= 50000 * sizeof(void *)); /* the bucket array is counted */
	sm_vcache_destroy(c);
}

/* The model: what the store holds.  The cache sees a fill only of the
 * model's value, and every write; it may forget anything, but what it
 * answers must be the model's value. */
enum { MODEL_KEYS = 200 };

TEST(a_random_run_never_answers_other_than_the_store)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		uint64_t budget = seed % 2 ? 4096 : 1 << 20; /* evicting, and not */
		sm_vcache *c = sm_vcache_create(budget, seed);
		static uint8_t model[MODEL_KEYS][300];
		size_t model_size[MODEL_KEYS];
		bool present[MODEL_KEYS] = {false};
		char key[16];
		for (int i = 0; i < 20000; i++) {
			int k = (int)rp_prng_below(&p, MODEL_KEYS);
			snprintf(key, sizeof(key), "%d", k);
			size_t ks = strlen(key);
			uint64_t op = rp_prng_below(&p, 100);
			if (op < 40) { /* a read: hit, or miss and fill from the store */
				const uint8_t *v;
				size_t n;
				if (sm_vcache_get(c, u8(key), ks, &v, &n)) {
					CHECK(present[k]);
					CHECK_EQ(n, model_size[k]);
					CHECK(n == 0 || memcmp(v, model[k], n) == 0);
				} else if (present[k]) {
					sm_vcache_fill(c, u8(key), ks, model[k],
						       model_size[k]);
				}
			} else if (op < 80) { /* a write */
				size_t n = (size_t)rp_prng_below(&p, sizeof(model[k]));
				for (size_t j = 0; j < n; j++)
					model[k][j] = (uint8_t)rp_prng_next(&p);
				model_size[k] = n;
				present[k] = true;
				sm_vcache_put(c, u8(key), ks, model[k], n);
			} else if (op < 98) {
				present[k] = false;
				sm_vcache_del(c, u8(key), ks);
			} else {
				sm_vcache_clear(c);
			}
			sm_vcache_stats st;
			sm_vcache_stats_get(c, &st);
			CHECK(st.used_bytes <= budget);
		}
		sm_vcache_destroy(c);
	}
}

TEST_MAIN()
