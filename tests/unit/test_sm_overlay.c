/*
 * test_sm_overlay.c — a batch's key index on its own: the newest write of
 * a key wins, a delete hides a value, families are apart, a clear forgets
 * everything and gives back what a large batch took, the newest write of
 * each key is what a commit would write, and a random run against a plain
 * map (many batches, with colliding hashes forced by a tiny key space)
 * never answers other than the map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sm_overlay.h"
#include "test.h"
#include "util/err.h"
#include "util/prng.h"

static const uint8_t *u8(const char *s)
{
	return (const uint8_t *)s;
}

static void put_s(sm_overlay *o, uint8_t cf, const char *key, const char *value)
{
	CHECK_EQ(
	    sm_overlay_put(o, cf, u8(key), strlen(key), u8(value), strlen(value), false),
	    RP_OK);
}

static void del_s(sm_overlay *o, uint8_t cf, const char *key)
{
	CHECK_EQ(sm_overlay_put(o, cf, u8(key), strlen(key), NULL, 0, true), RP_OK);
}

/* "<absent>", "<deleted>", or the value as a string. */
static const char *find_s(sm_overlay *o, uint8_t cf, const char *key, char *buf,
			  size_t cap)
{
	const uint8_t *v = NULL;
	size_t n = 0;
	bool deleted = false;
	if (!sm_overlay_find(o, cf, u8(key), strlen(key), &v, &n, &deleted))
		return "<absent>";
	if (deleted)
		return "<deleted>";
	CHECK(n < cap);
	memcpy(buf, v, n);
	buf[n] = '\0';
	return buf;
}

TEST(the_newest_write_of_a_key_wins)
{
	sm_overlay *o = sm_overlay_create(1);
	CHECK(o != NULL);
	char buf[64];
	CHECK(strcmp(find_s(o, 0, "a", buf, sizeof(buf)), "<absent>") == 0);
	put_s(o, 0, "a", "one");
	put_s(o, 0, "b", "");
	put_s(o, 0, "", "empty key");
	put_s(o, 0, "a", "two");
	CHECK(strcmp(find_s(o, 0, "a", buf, sizeof(buf)), "two") == 0);
	CHECK(strcmp(find_s(o, 0, "b", buf, sizeof(buf)), "") == 0);
	CHECK(strcmp(find_s(o, 0, "", buf, sizeof(buf)), "empty key") == 0);
	CHECK(strcmp(find_s(o, 0, "c", buf, sizeof(buf)), "<absent>") == 0);
	CHECK_EQ(sm_overlay_keys(o), 3); /* "a" twice */
	sm_overlay_destroy(o);
}

TEST(a_delete_hides_the_value_and_a_later_put_shows_one_again)
{
	sm_overlay *o = sm_overlay_create(2);
	char buf[64];
	put_s(o, 0, "k", "v1");
	del_s(o, 0, "k");
	CHECK(strcmp(find_s(o, 0, "k", buf, sizeof(buf)), "<deleted>") == 0);
	del_s(o, 0, "never-put"); /* a delete of a key the batch never wrote */
	CHECK(strcmp(find_s(o, 0, "never-put", buf, sizeof(buf)), "<deleted>") == 0);
	put_s(o, 0, "k", "v2");
	CHECK(strcmp(find_s(o, 0, "k", buf, sizeof(buf)), "v2") == 0);
	sm_overlay_destroy(o);
}

TEST(families_are_apart)
{
	sm_overlay *o = sm_overlay_create(3);
	char buf[64];
	put_s(o, 0, "k", "data");
	CHECK(strcmp(find_s(o, 1, "k", buf, sizeof(buf)), "<absent>") == 0);
	put_s(o, 1, "k", "meta");
	del_s(o, 0, "k");
	CHECK(strcmp(find_s(o, 0, "k", buf, sizeof(buf)), "<deleted>") == 0);
	CHECK(strcmp(find_s(o, 1, "k", buf, sizeof(buf)), "meta") == 0);
	sm_overlay_destroy(o);
}

TEST(a_clear_forgets_every_write_and_gives_back_a_large_batch)
{
	sm_overlay *o = sm_overlay_create(4);
	char buf[64], key[32];
	put_s(o, 0, "small", "x");
	uint64_t small_bytes = sm_overlay_bytes(o);
	static uint8_t big[64 * 1024];
	memset(big, 'b', sizeof(big));
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "key-%d", i);
		size_t n = i % 100 == 0 ? sizeof(big) : 10;
		CHECK_EQ(sm_overlay_put(o, 0, u8(key), strlen(key), big, n, false),
			 RP_OK);
	}
	CHECK(sm_overlay_bytes(o) > (uint64_t)16 << 20);
	CHECK(strcmp(find_s(o, 0, "key-19999", buf, sizeof(buf)), "bbbbbbbbbb") == 0);
	CHECK(strcmp(find_s(o, 0, "small", buf, sizeof(buf)), "x") == 0);
	sm_overlay_clear(o);
	CHECK_EQ(sm_overlay_keys(o), 0);
	CHECK(sm_overlay_bytes(o) <= small_bytes);
	CHECK(strcmp(find_s(o, 0, "key-19999", buf, sizeof(buf)), "<absent>") == 0);
	CHECK(strcmp(find_s(o, 0, "small", buf, sizeof(buf)), "<absent>") == 0);
	/* and it works again after */
	put_s(o, 0, "key-5", "again");
	CHECK(strcmp(find_s(o, 0, "key-5", buf, sizeof(buf)), "again") == 0);
	CHECK(strcmp(find_s(o, 0, "key-6", buf, sizeof(buf)), "<absent>") == 0);
	sm_overlay_destroy(o);
}

enum { MODEL_KEYS = 200 };

/* What sm_overlay_each must give: the model's newest write of each key. */
typedef struct {
	uint8_t (*state)[MODEL_KEYS];
	uint8_t (*value)[MODEL_KEYS][100];
	size_t (*value_size)[MODEL_KEYS];
	uint8_t seen[2][MODEL_KEYS];
	uint64_t visits;
} each_check;

static void each_fn(void *ctx, uint8_t cf, const uint8_t *key, size_t key_size,
		    const uint8_t *value, size_t value_size, bool del)
{
	each_check *c = ctx;
	char buf[16];
	CHECK(cf < 2 && key_size < sizeof(buf));
	memcpy(buf, key, key_size);
	buf[key_size] = '\0';
	int k = atoi(buf);
	CHECK(k >= 0 && k < MODEL_KEYS);
	CHECK_EQ(c->seen[cf][k], 0); /* once per key: superseded writes left out */
	c->seen[cf][k] = 1;
	c->visits++;
	CHECK(c->state[cf][k] != 0);
	CHECK_EQ(del, c->state[cf][k] == 1);
	if (del) {
		CHECK(value == NULL);
		CHECK_EQ(value_size, 0);
	} else {
		CHECK_EQ(value_size, c->value_size[cf][k]);
		CHECK(value_size == 0 || memcmp(value, c->value[cf][k], value_size) == 0);
	}
}

TEST(each_gives_the_newest_write_of_every_key_once)
{
	sm_overlay *o = sm_overlay_create(5);
	static uint8_t state[2][MODEL_KEYS];
	static uint8_t value[2][MODEL_KEYS][100];
	static size_t value_size[2][MODEL_KEYS];
	each_check c = {state, value, value_size, {{0}}, 0};
	put_s(o, 0, "7", "one");
	put_s(o, 0, "7", "two");
	del_s(o, 0, "8");
	put_s(o, 1, "7", "meta");
	put_s(o, 0, "8", "back");
	del_s(o, 1, "9");
	memset(state, 0, sizeof(state));
	state[0][7] = 2, memcpy(value[0][7], "two", 3), value_size[0][7] = 3;
	state[0][8] = 2, memcpy(value[0][8], "back", 4), value_size[0][8] = 4;
	state[1][7] = 2, memcpy(value[1][7], "meta", 4), value_size[1][7] = 4;
	state[1][9] = 1;
	sm_overlay_each(o, each_fn, &c);
	CHECK_EQ(c.visits, 4);
	sm_overlay_clear(o);
	memset(&c.seen, 0, sizeof(c.seen));
	c.visits = 0;
	sm_overlay_each(o, each_fn, &c); /* a clear leaves nothing to give */
	CHECK_EQ(c.visits, 0);
	sm_overlay_destroy(o);
}

TEST(a_random_run_never_answers_other_than_a_plain_map)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		sm_overlay *o = sm_overlay_create(seed);
		/* model[cf][k]: 0 absent, 1 deleted, 2 a value */
		static uint8_t state[2][MODEL_KEYS];
		static uint8_t value[2][MODEL_KEYS][100];
		static size_t value_size[2][MODEL_KEYS];
		memset(state, 0, sizeof(state));
		uint64_t keys = 0; /* (cf, key) pairs written since the clear */
		char key[16];
		for (int i = 0; i < 50000; i++) {
			uint8_t cf = (uint8_t)rp_prng_below(&p, 2);
			int k = (int)rp_prng_below(&p, MODEL_KEYS);
			snprintf(key, sizeof(key), "%d", k);
			size_t ks = strlen(key);
			uint64_t op = rp_prng_below(&p, 1000);
			if (op < 450) {
				const uint8_t *v;
				size_t n;
				bool deleted;
				bool found =
				    sm_overlay_find(o, cf, u8(key), ks, &v, &n, &deleted);
				CHECK_EQ(found, state[cf][k] != 0);
				if (found) {
					CHECK_EQ(deleted, state[cf][k] == 1);
					if (!deleted) {
						CHECK_EQ(n, value_size[cf][k]);
						CHECK(n == 0 ||
						      memcmp(v, value[cf][k], n) == 0);
					}
				}
			} else if (op < 850) {
				size_t n =
				    (size_t)rp_prng_below(&p, sizeof(value[cf][k]));
				for (size_t j = 0; j < n; j++)
					value[cf][k][j] = (uint8_t)rp_prng_next(&p);
				value_size[cf][k] = n;
				keys += state[cf][k] == 0;
				state[cf][k] = 2;
				CHECK_EQ(sm_overlay_put(o, cf, u8(key), ks, value[cf][k],
							n, false),
					 RP_OK);
			} else if (op < 995) {
				keys += state[cf][k] == 0;
				state[cf][k] = 1;
				CHECK_EQ(
				    sm_overlay_put(o, cf, u8(key), ks, NULL, 0, true),
				    RP_OK);
			} else { /* the batch commits: what it would write */
				each_check c = {state, value, value_size, {{0}}, 0};
				sm_overlay_each(o, each_fn, &c);
				CHECK_EQ(c.visits, keys);
				sm_overlay_clear(o);
				memset(state, 0, sizeof(state));
				keys = 0;
			}
			CHECK_EQ(sm_overlay_keys(o), keys);
		}
		sm_overlay_destroy(o);
	}
}

TEST_MAIN()
