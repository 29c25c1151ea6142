/*
 * test_sm.c — the replicated state machine on both stores: the semantics
 * of every command (the seed README's CAS and DEL included), the applied
 * index and its order rules, client sessions and their eviction, a
 * RocksDB store that survives close/reopen and a SIGKILL between apply
 * and flush, snapshots streamed and installed (also cut off halfway or
 * corrupted), a follower catching up after the leader compacted past it,
 * and byte-identical results from sm_mem and sm_rocks on 5,000 random
 * commands.
 *
 * Most cases run twice, once per store (the _mem and _rocks suffixes).
 * The crash case re-executes this binary as a child (SM_TEST_CRASH_CHILD in
 * its environment): a fresh process, so RocksDB's threads start there.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/sm.h"
#include "test.h"
#include "util/prng.h"

/* --- fixture ----------------------------------------------------------------- */

typedef struct {
	sm *m;
	bool rocks;
	char tmp[64]; /* mkdtemp'd */
	char dir[96]; /* the store's directory inside it */
	sm_config cfg;
	sm_result res;
	sm_buf enc;
	uint64_t group;
	uint64_t term;
} fx;

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void rmrf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void fx_open_store(fx *f)
{
	char why[256];
	int rc = f->rocks ? sm_open_rocks(f->dir, &f->cfg, &f->m, why, sizeof(why))
			  : sm_open_mem(&f->cfg, &f->m);
	if (rc != 0 && f->rocks)
		printf("    open: %s\n", why);
	CHECK_EQ(rc, 0);
}

static void fx_open_cfg(fx *f, bool rocks, const sm_config *cfg)
{
	memset(f, 0, sizeof(*f));
	f->rocks = rocks;
	f->cfg = *cfg;
	f->group = 1;
	f->term = 1;
	sm_result_init(&f->res);
	sm_buf_init(&f->enc);
	if (rocks) {
		strcpy(f->tmp, "/tmp/test_sm.XXXXXX");
		CHECK(mkdtemp(f->tmp) != NULL);
		snprintf(f->dir, sizeof(f->dir), "%s/sm", f->tmp);
	}
	fx_open_store(f);
}

static void fx_open(fx *f, bool rocks)
{
	sm_config cfg;
	sm_config_default(&cfg);
	fx_open_cfg(f, rocks, &cfg);
}

/* Close and open again: a RocksDB store keeps its state. */
static void fx_reopen(fx *f)
{
	CHECK(f->rocks);
	sm_close(f->m);
	f->m = NULL;
	fx_open_store(f);
}

static void fx_done(fx *f)
{
	sm_close(f->m);
	f->m = NULL;
	if (f->rocks)
		rmrf(f->tmp);
	sm_result_deinit(&f->res);
	sm_buf_deinit(&f->enc);
}

/* Applies one entry at the next index; returns sm_apply's code. */
static int fx_entry(fx *f, uint8_t type, const uint8_t *data, size_t size)
{
	hp_entry e;
	memset(&e, 0, sizeof(e));
	e.index = sm_applied_index(f->m, f->group) + 1;
	e.term = f->term;
	e.type = type;
	e.size_bytes = (uint32_t)size;
	e.data = size ? data : NULL;
	return sm_apply(f->m, f->group, &e, &f->res);
}

/* Encodes and applies a command; the result is in f->res. */
static void fx_run(fx *f, const sm_cmd *c)
{
	sm_cmd_limits lim = {f->cfg.max_value_bytes};
	f->enc.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(c, &lim, &f->enc), 0);
	uint64_t before = sm_applied_index(f->m, f->group);
	CHECK_EQ(fx_entry(f, HP_ENTRY_NORMAL, f->enc.data, f->enc.size), 0);
	CHECK_EQ(sm_applied_index(f->m, f->group), before + 1);
	CHECK_EQ(f->res.op, c->op);
}

static sm_value sv(const char *s)
{
	sm_value v = {false, 0, NULL};
	if (s != NULL) {
		v.present = true;
		v.size = (uint32_t)strlen(s);
		v.data = (const uint8_t *)s;
	}
	return v;
}

static sm_cmd c_set(const char *k, const char *v, uint16_t flags)
{
	sm_cmd c = {0};
	c.op = SM_OP_SET, c.key = sv(k), c.value = sv(v), c.flags = flags;
	return c;
}

static sm_cmd c_get(const char *k)
{
	sm_cmd c = {0};
	c.op = SM_OP_GET, c.key = sv(k);
	return c;
}

/* expected / new NULL = nil */
static sm_cmd c_cas(const char *k, const char *expected, const char *new_value)
{
	sm_cmd c = {0};
	c.op = SM_OP_CAS, c.key = sv(k), c.value = sv(expected), c.value2 = sv(new_value);
	return c;
}

static sm_cmd c_incr(const char *k, int64_t d)
{
	sm_cmd c = {0};
	c.op = SM_OP_INCRBY, c.key = sv(k), c.delta = d;
	return c;
}

static sm_cmd c_append(const char *k, const char *v)
{
	sm_cmd c = {0};
	c.op = SM_OP_APPEND, c.key = sv(k), c.value = sv(v);
	return c;
}

static sm_cmd c_del(const sm_value *keys, uint32_t n)
{
	sm_cmd c = {0};
	c.op = SM_OP_DEL, c.keys = keys, c.key_count = n;
	return c;
}

static sm_cmd c_mset(const sm_value *keys, const sm_value *values, uint32_t pairs)
{
	sm_cmd c = {0};
	c.op = SM_OP_MSET, c.keys = keys, c.values = values, c.key_count = pairs;
	return c;
}

static sm_cmd with_session(sm_cmd c, uint64_t client, uint64_t seq)
{
	c.client = client;
	c.seq = seq;
	return c;
}

/* Value i of the result is v (NULL = nil). */
static void expect_value(const sm_result *r, uint32_t i, const char *v)
{
	sm_value got;
	CHECK(sm_result_value(r, i, &got));
	if (v == NULL) {
		CHECK(!got.present);
		return;
	}
	CHECK(got.present);
	CHECK_EQ(got.size, strlen(v));
	CHECK(got.size == 0 || memcmp(got.data, v, got.size) == 0);
}

/* The stored value of k is v (NULL = absent), read locally. */
static void expect_stored(fx *f, const char *k, const char *v)
{
	sm_buf b;
	sm_buf_init(&b);
	bool found = true;
	CHECK_EQ(sm_get(f->m, (const uint8_t *)k, strlen(k), &b, &found), 0);
	if (v == NULL) {
		CHECK(!found);
	} else {
		CHECK(found);
		CHECK_EQ(b.size, strlen(v));
		CHECK(b.size == 0 || memcmp(b.data, v, b.size) == 0);
	}
	sm_buf_deinit(&b);
}

static uint64_t digest(sm *m)
{
	uint64_t d = 0;
	CHECK_EQ(sm_digest(m, &d), 0);
	return d;
}

#define BOTH(name)                                                                       \
	static void name(bool rocks);                                                    \
	TEST(name##_mem)                                                                 \
	{                                                                                \
		name(false);                                                             \
	}                                                                                \
	TEST(name##_rocks)                                                               \
	{                                                                                \
		name(true);                                                              \
	}                                                                                \
	static void name(bool rocks)

/* --- command semantics -------------------------------------------------------- */

BOTH(seed_readme_example)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_set("k1", "v1", 0);
	fx_run(&f, &c);
	CHECK(f.res.success);
	c = c_get("k1");
	fx_run(&f, &c);
	expect_value(&f.res, 0, "v1");
	/* CAS returns the current value, and sets the success flag accordingly */
	c = c_cas("k1", "v1", "v12");
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, "v12");
	c = c_cas("k1", "vNever", "vNever2");
	fx_run(&f, &c);
	CHECK(!f.res.success);
	expect_value(&f.res, 0, "v12");
	c = c_cas("k1", "v12", "v13");
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, "v13");
	/* deletes return the last value */
	sm_value k1 = sv("k1");
	c = c_del(&k1, 1);
	c.flags = SM_DEL_GET;
	fx_run(&f, &c);
	expect_value(&f.res, 0, "v13");
	CHECK_EQ(f.res.integer, 1);
	c = c_get("k1");
	fx_run(&f, &c);
	CHECK(!f.res.success);
	expect_value(&f.res, 0, NULL);
	CHECK_EQ(sm_applied_index(f.m, 1), 7);
	fx_done(&f);
}

BOTH(get_of_missing_key_is_absent_not_empty)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_set("empty", "", 0);
	fx_run(&f, &c);
	c = c_get("empty");
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, "");
	c = c_get("missing");
	fx_run(&f, &c);
	CHECK(!f.res.success);
	expect_value(&f.res, 0, NULL);
	expect_stored(&f, "empty", "");
	expect_stored(&f, "missing", NULL);
	/* and a key longer than any stored one is simply absent */
	static uint8_t big[SM_KEY_MAX_BYTES + 1];
	sm_buf b;
	sm_buf_init(&b);
	bool found = true;
	CHECK_EQ(sm_get(f.m, big, sizeof(big), &b, &found), 0);
	CHECK(!found);
	sm_buf_deinit(&b);
	fx_done(&f);
}

BOTH(set_flags)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_set("k", "a", SM_SET_XX); /* XX on a missing key: not written */
	fx_run(&f, &c);
	CHECK(!f.res.success);
	CHECK_EQ(f.res.value_count, 0);
	expect_stored(&f, "k", NULL);
	c = c_set("k", "b", SM_SET_NX | SM_SET_GET); /* NX on missing: written, old nil */
	fx_run(&f, &c);
	CHECK(f.res.success);
	CHECK_EQ(f.res.value_count, 1);
	expect_value(&f.res, 0, NULL);
	expect_stored(&f, "k", "b");
	c = c_set("k", "c", SM_SET_NX); /* NX on present: not written */
	fx_run(&f, &c);
	CHECK(!f.res.success);
	expect_stored(&f, "k", "b");
	c = c_set("k", "d", SM_SET_XX | SM_SET_GET); /* XX on present: written, old b */
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, "b");
	expect_stored(&f, "k", "d");
	c = c_set("k", "e", SM_SET_GET);
	fx_run(&f, &c);
	expect_value(&f.res, 0, "d");
	expect_stored(&f, "k", "e");
	fx_done(&f);
}

BOTH(del_returns_last_values)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_set("a", "1", 0);
	fx_run(&f, &c);
	c = c_set("b", "2", 0);
	fx_run(&f, &c);
	/* a, missing, b, and a again (already deleted by this command) */
	sm_value keys[4] = {sv("a"), sv("zz"), sv("b"), sv("a")};
	c = c_del(keys, 4);
	c.flags = SM_DEL_GET;
	fx_run(&f, &c);
	CHECK_EQ(f.res.value_count, 4);
	expect_value(&f.res, 0, "1");
	expect_value(&f.res, 1, NULL);
	expect_value(&f.res, 2, "2");
	expect_value(&f.res, 3, NULL);
	CHECK_EQ(f.res.integer, 2);
	CHECK(f.res.success);
	expect_stored(&f, "a", NULL);
	expect_stored(&f, "b", NULL);
	c = c_del(keys, 1);
	c.flags = SM_DEL_GET;
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 0);
	CHECK(!f.res.success);
	expect_value(&f.res, 0, NULL);
	/* without GET (Redis's DEL): the count only */
	c = c_set("a", "1", 0);
	fx_run(&f, &c);
	c = c_del(keys, 4);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 1);
	CHECK_EQ(f.res.value_count, 0);
	expect_stored(&f, "a", NULL);
	fx_done(&f);
}

BOTH(cas_with_nil)
{
	fx f;
	fx_open(&f, rocks);
	/* a missing key compares as nil */
	sm_cmd c = c_cas("k", "x", "y");
	fx_run(&f, &c);
	CHECK(!f.res.success);
	expect_value(&f.res, 0, NULL);
	expect_stored(&f, "k", NULL);
	c = c_cas("k", NULL, "first");
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, "first");
	/* nil expected on a present key fails; "" is not nil */
	c = c_cas("k", NULL, "second");
	fx_run(&f, &c);
	CHECK(!f.res.success);
	expect_value(&f.res, 0, "first");
	c = c_cas("k", "", "second");
	fx_run(&f, &c);
	CHECK(!f.res.success);
	/* swapping to nil deletes */
	c = c_cas("k", "first", NULL);
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, NULL);
	expect_stored(&f, "k", NULL);
	c = c_cas("k", NULL, NULL);
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_stored(&f, "k", NULL);
	fx_done(&f);
}

BOTH(cas_get_returns_the_old_value_too)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_cas("k", "x", "y");
	c.flags = SM_CAS_GET;
	fx_run(&f, &c); /* missing: no swap, after nil, before nil */
	CHECK(!f.res.success);
	CHECK_EQ(f.res.value_count, 2);
	expect_value(&f.res, 0, NULL);
	expect_value(&f.res, 1, NULL);
	c = c_set("k", "x", 0);
	fx_run(&f, &c);
	c = c_cas("k", "x", "y");
	c.flags = SM_CAS_GET;
	fx_run(&f, &c); /* swapped: after y, before x */
	CHECK(f.res.success);
	expect_value(&f.res, 0, "y");
	expect_value(&f.res, 1, "x");
	fx_run(&f, &c); /* no longer x: after y, before y */
	CHECK(!f.res.success);
	expect_value(&f.res, 0, "y");
	expect_value(&f.res, 1, "y");
	expect_stored(&f, "k", "y");
	/* without the flag, one value as before */
	c = c_cas("k", "y", "z");
	fx_run(&f, &c);
	CHECK_EQ(f.res.value_count, 1);
	fx_done(&f);
}

BOTH(mset_writes_every_pair_last_one_wins)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_set("b", "old", 0);
	fx_run(&f, &c);
	sm_value keys[4] = {sv("a"), sv("b"), sv("c"), sv("a")};
	sm_value vals[4] = {sv("1"), sv("2"), sv(""), sv("4")};
	c = c_mset(keys, vals, 4);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_OK);
	CHECK(f.res.success);
	CHECK_EQ(f.res.value_count, 0);
	CHECK_EQ(sm_applied_index(f.m, 1), 2);
	expect_stored(&f, "a", "4");
	expect_stored(&f, "b", "2");
	expect_stored(&f, "c", "");
	/* one pair */
	c = c_mset(&keys[2], &vals[0], 1);
	fx_run(&f, &c);
	expect_stored(&f, "c", "1");
	/* the most pairs one command may carry */
	static sm_value many_k[SM_CMD_MAX_KEYS], many_v[SM_CMD_MAX_KEYS];
	static char names[SM_CMD_MAX_KEYS][16];
	for (int i = 0; i < SM_CMD_MAX_KEYS; i++)
		snprintf(names[i], sizeof(names[i]), "m%04d", i);
	for (int i = 0; i < SM_CMD_MAX_KEYS; i++) {
		many_k[i] = sv(names[i]);
		many_v[i] = sv(names[SM_CMD_MAX_KEYS - 1 - i]);
	}
	c = c_mset(many_k, many_v, SM_CMD_MAX_KEYS);
	fx_run(&f, &c);
	expect_stored(&f, "m0000", "m1023");
	expect_stored(&f, "m1023", "m0000");
	if (rocks) {
		uint64_t d = digest(f.m);
		fx_reopen(&f);
		CHECK_EQ(digest(f.m), d);
		expect_stored(&f, "m0512", "m0511");
	}
	fx_done(&f);
}

/* All or nothing: an MSET that the state machine refuses (one value above
 * its limit) writes none of its pairs, and one that applies lands in the
 * same batch as the applied index. */
BOTH(mset_is_all_or_nothing)
{
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_value_bytes = 4;
	fx f;
	fx_open_cfg(&f, rocks, &cfg);
	sm_value keys[3] = {sv("a"), sv("b"), sv("c")};
	sm_value vals[3] = {sv("1"), sv("2"), sv("too long")};
	sm_cmd c = c_mset(keys, vals, 3);
	sm_cmd_limits wide = {SM_VALUE_MAX_BYTES_DEFAULT};
	f.enc.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &wide, &f.enc), 0);
	uint64_t d0 = digest(f.m);
	CHECK_EQ(fx_entry(&f, HP_ENTRY_NORMAL, f.enc.data, f.enc.size), 0);
	CHECK_EQ(f.res.status, SM_ST_BAD_CMD);
	CHECK_EQ(sm_applied_index(f.m, 1), 1);
	expect_stored(&f, "a", NULL);
	expect_stored(&f, "b", NULL);
	CHECK(digest(f.m) != d0); /* the group record moved, nothing else */
	vals[2] = sv("3");
	c = c_mset(keys, vals, 3);
	fx_run(&f, &c);
	expect_stored(&f, "a", "1");
	expect_stored(&f, "c", "3");
	/* an MSET entry already applied is refused whole */
	hp_entry e = {2, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size, f.enc.data};
	vals[0] = sv("9");
	f.enc.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &wide, &f.enc), 0);
	e.data = f.enc.data;
	e.size_bytes = (uint32_t)f.enc.size;
	CHECK_EQ(sm_apply(f.m, 1, &e, &f.res), RP_ERR_EXISTS);
	expect_stored(&f, "a", "1");
	fx_done(&f);
}

TEST(mset_gives_equal_digests_on_both_stores)
{
	fx m, r;
	fx_open(&m, false);
	fx_open(&r, true);
	sm_value keys[3] = {sv("x"), sv("y"), sv("x")};
	sm_value vals[3] = {sv("1"), sv("2"), sv("3")};
	for (int round = 0; round < 2; round++) {
		fx *f = round == 0 ? &m : &r;
		sm_cmd c = c_mset(keys, vals, 3);
		fx_run(f, &c);
		c = with_session(c_mset(keys + 1, vals, 2), 4, 1);
		fx_run(f, &c);
		fx_run(f, &c); /* a replay */
		c = c_incr("x", 5);
		fx_run(f, &c);
	}
	CHECK_EQ(digest(m.m), digest(r.m));
	/* x: 3 (named twice, the last wins), then 2 (the session's MSET, once),
	 * then 7 */
	expect_stored(&m, "x", "7");
	expect_stored(&r, "x", "7");
	expect_stored(&r, "y", "1");
	fx_done(&m);
	fx_done(&r);
}

BOTH(incrby_semantics)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_incr("n", 5); /* missing counts as 0 */
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_OK);
	CHECK_EQ(f.res.integer, 5);
	expect_stored(&f, "n", "5");
	c = c_incr("n", -12);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, (uint64_t)-7);
	expect_stored(&f, "n", "-7");
	c = c_set("t", "abc", 0);
	fx_run(&f, &c);
	c = c_incr("t", 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_NOT_INTEGER);
	expect_stored(&f, "t", "abc");
	c = c_set("big", "9223372036854775806", 0);
	fx_run(&f, &c);
	c = c_incr("big", 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, (uint64_t)INT64_MAX);
	c = c_incr("big", 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_OVERFLOW);
	expect_stored(&f, "big", "9223372036854775807");
	c = c_set("low", "-9223372036854775807", 0);
	fx_run(&f, &c);
	c = c_incr("low", INT64_MIN);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_OVERFLOW);
	c = c_incr("low", -1);
	fx_run(&f, &c);
	expect_stored(&f, "low", "-9223372036854775808");
	fx_done(&f);
}

BOTH(append_semantics)
{
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_value_bytes = 8;
	fx f;
	fx_open_cfg(&f, rocks, &cfg);
	sm_cmd c = c_append("log", "abc");
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 3);
	c = c_append("log", "defgh");
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 8);
	expect_stored(&f, "log", "abcdefgh");
	c = c_append("log", "i");
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_TOO_LARGE);
	CHECK_EQ(f.res.integer, 8);
	expect_stored(&f, "log", "abcdefgh");
	fx_done(&f);
}

/* Every write kind changes what a cached key reads, in and out of a
 * deferred run: the reads here come from the value cache after the
 * first (the hit count says so), and must still be the store's values. */
BOTH(value_cache_follows_every_write)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_set("k", "one", 0);
	fx_run(&f, &c);
	expect_stored(&f, "k", "one"); /* a miss: now cached */
	expect_stored(&f, "k", "one");
	c = c_set("k", "two", 0); /* same size: updated in place */
	fx_run(&f, &c);
	expect_stored(&f, "k", "two");
	c = c_append("k", "-three");
	fx_run(&f, &c);
	expect_stored(&f, "k", "two-three");
	c = c_cas("k", "two-three", "4");
	fx_run(&f, &c);
	expect_stored(&f, "k", "4");
	c = c_incr("k", 38);
	fx_run(&f, &c);
	expect_stored(&f, "k", "42");
	sm_value keys[2] = {sv("k"), sv("other")}, values[2] = {sv("from mset"), sv("x")};
	c = c_mset(keys, values, 2);
	fx_run(&f, &c);
	expect_stored(&f, "k", "from mset");
	c = c_cas("k", "from mset", NULL); /* a CAS to nil deletes */
	fx_run(&f, &c);
	expect_stored(&f, "k", NULL);
	c = c_set("k", "back", 0);
	fx_run(&f, &c);
	expect_stored(&f, "k", "back");
	expect_stored(&f, "k", "back");
	c = c_del(keys, 1);
	fx_run(&f, &c);
	expect_stored(&f, "k", NULL);
	/* A deferred run: reads see its writes before the flush, and after. */
	c = c_set("k", "deferred", 0);
	sm_cmd_limits lim = {f.cfg.max_value_bytes};
	f.enc.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f.enc), 0);
	hp_entry e = {sm_applied_index(f.m, 1) + 1, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size,
		      f.enc.data};
	expect_stored(&f, "other", "x");
	CHECK_EQ(sm_apply_deferred(f.m, 1, &e, &f.res), 0);
	expect_stored(&f, "k", "deferred");
	expect_stored(&f, "k", "deferred");
	CHECK_EQ(sm_apply_flush(f.m), 0);
	expect_stored(&f, "k", "deferred");
	/* The borrowed read: from the cache on a hit, the sm's buffer on a
	 * miss; NULL for an absent key. */
	const uint8_t *v = NULL;
	size_t n = 0;
	bool found = false;
	CHECK_EQ(sm_get_ref(f.m, (const uint8_t *)"k", 1, &v, &n, &found), 0);
	CHECK(found);
	CHECK(n == 8 && memcmp(v, "deferred", 8) == 0);
	CHECK_EQ(sm_get_ref(f.m, (const uint8_t *)"nope", 4, &v, &n, &found), 0);
	CHECK(!found);
	CHECK(v == NULL && n == 0);
	sm_vcache_stats st;
	sm_value_cache_stats(f.m, &st);
	CHECK(st.hits >= 8);
	CHECK(st.entries >= 2);
	CHECK_EQ(st.budget_bytes, f.cfg.value_cache_bytes);
	if (rocks) {
		fx_reopen(&f); /* a new, empty cache over the same store */
		expect_stored(&f, "k", "deferred");
		expect_stored(&f, "other", "x");
	}
	fx_done(&f);
}

/* What the store holds in memory, for INFO: RocksDB's memtables grow
 * with what is written and shrink to nothing after a flush (a reopen
 * flushes); its block cache has a capacity; the in-memory store reports
 * nothing (its map is the whole state, counted by the allocator). */
BOTH(store_memory_stats_follow_the_memtable)
{
	fx f;
	fx_open(&f, rocks);
	sm_store_memory a;
	sm_store_memory_stats(f.m, &a);
	char key[32];
	char val[200];
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "key:%d", i);
		sm_cmd c = c_set(key, val, 0);
		fx_run(&f, &c);
	}
	sm_store_memory b;
	sm_store_memory_stats(f.m, &b);
	if (!rocks) {
		CHECK_EQ(b.memtable_bytes, 0);
		CHECK_EQ(b.table_readers_bytes, 0);
		CHECK_EQ(b.block_cache_bytes, 0);
		CHECK_EQ(b.block_cache_capacity_bytes, 0);
		fx_done(&f);
		return;
	}
	/* 2,000 values of 199 bytes: at least their size in the memtable */
	CHECK(b.memtable_bytes >= a.memtable_bytes + 2000 * 199);
	CHECK(b.block_cache_capacity_bytes > 0);
	CHECK(b.block_cache_bytes <= b.block_cache_capacity_bytes);
	fx_reopen(&f);
	sm_store_memory c;
	sm_store_memory_stats(f.m, &c);
	CHECK(c.memtable_bytes < b.memtable_bytes / 10);
	CHECK(c.table_readers_bytes > 0); /* the flushed table is open */
	fx_done(&f);
}

BOTH(malformed_noop_and_conf_entries_advance_the_index)
{
	fx f;
	fx_open(&f, rocks);
	uint64_t d0 = digest(f.m);
	const uint8_t junk[] = {1, 2, 3, 4, 5};
	CHECK_EQ(fx_entry(&f, HP_ENTRY_NORMAL, junk, sizeof(junk)), 0);
	CHECK_EQ(f.res.status, SM_ST_BAD_CMD);
	CHECK_EQ(f.res.op, SM_OP_NONE);
	CHECK_EQ(fx_entry(&f, HP_ENTRY_NORMAL, NULL, 0), 0);
	CHECK_EQ(f.res.status, SM_ST_BAD_CMD);
	CHECK_EQ(fx_entry(&f, 77, junk, sizeof(junk)), 0);
	CHECK_EQ(f.res.status, SM_ST_BAD_CMD);
	CHECK_EQ(fx_entry(&f, HP_ENTRY_NOOP, NULL, 0), 0);
	CHECK_EQ(f.res.status, SM_ST_OK);
	CHECK_EQ(sm_applied_index(f.m, 1), 4);
	/* only the group record changed */
	CHECK(digest(f.m) != d0);
	hp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.voter_count = 3;
	conf.voters[0] = 1, conf.voters[1] = 2, conf.voters[2] = 3;
	uint8_t buf[HP_CONF_MAX_BYTES];
	size_t n = hp_conf_encode(&conf, buf, sizeof(buf));
	f.term = 2;
	CHECK_EQ(fx_entry(&f, HP_ENTRY_CONF, buf, n), 0);
	uint8_t change[HP_CONF_CHANGE_BYTES];
	hp_conf_change_encode(change, HP_CONF_ADD_LEARNER, 9);
	CHECK_EQ(fx_entry(&f, HP_ENTRY_CONF, change, sizeof(change)), 0);
	sm_group_state st;
	sm_group_get(f.m, 1, &st);
	CHECK_EQ(st.applied_index, 6);
	CHECK_EQ(st.applied_term, 2);
	CHECK_EQ(st.conf.voter_count, 3);
	CHECK_EQ(st.conf.learner_count, 1);
	CHECK_EQ(st.conf.learners[0], 9);
	fx_done(&f);
}

BOTH(entries_apply_only_in_index_order)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = c_incr("n", 1);
	fx_run(&f, &c);
	fx_run(&f, &c);
	uint64_t d = digest(f.m);
	sm_cmd_limits lim = {f.cfg.max_value_bytes};
	f.enc.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f.enc), 0);
	hp_entry e = {2, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size, f.enc.data};
	CHECK_EQ(sm_apply(f.m, 1, &e, &f.res), RP_ERR_EXISTS); /* again */
	e.index = 1;
	CHECK_EQ(sm_apply(f.m, 1, &e, &f.res), RP_ERR_EXISTS);
	e.index = 4;
	CHECK_EQ(sm_apply(f.m, 1, &e, &f.res), RP_ERR_INVALID); /* a gap */
	CHECK_EQ(sm_applied_index(f.m, 1), 2);
	CHECK_EQ(digest(f.m), d);
	expect_stored(&f, "n", "2");
	e.index = 3;
	e.term = 2;
	CHECK_EQ(sm_apply(f.m, 1, &e, &f.res), 0);
	expect_stored(&f, "n", "3");
	e.index = 4;
	e.term = 1; /* a term going down */
	CHECK_EQ(sm_apply(f.m, 1, &e, &f.res), RP_ERR_INVALID);
	CHECK_EQ(sm_applied_index(f.m, 1), 3);
	fx_done(&f);
}

/* --- sessions -------------------------------------------------------------------- */

BOTH(session_retry_returns_first_result_and_changes_nothing)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = with_session(c_incr("n", 5), 7, 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 5);
	sm_buf first;
	sm_buf_init(&first);
	CHECK_EQ(sm_buf_set(&first, f.res.enc.data, f.res.enc.size), 0);
	/* the same (client, seq) again, as a later entry */
	fx_run(&f, &c);
	CHECK_EQ(f.res.enc.size, first.size);
	CHECK(memcmp(f.res.enc.data, first.data, first.size) == 0);
	expect_stored(&f, "n", "5");
	/* next seq runs */
	c = with_session(c_incr("n", 5), 7, 2);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 10);
	/* an old seq is stale, and changes nothing */
	c = with_session(c_incr("n", 5), 7, 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_STALE_SEQ);
	expect_stored(&f, "n", "10");
	/* a retried CAS replays "success" although it would fail now */
	c = with_session(c_cas("n", "10", "x"), 7, 3);
	fx_run(&f, &c);
	CHECK(f.res.success);
	fx_run(&f, &c);
	CHECK(f.res.success);
	expect_value(&f.res, 0, "x");
	/* a retried MSET replays: its pairs are not written a second time */
	sm_value mk[2] = {sv("p"), sv("q")};
	sm_value mv[2] = {sv("1"), sv("2")};
	c = with_session(c_mset(mk, mv, 2), 9, 1);
	fx_run(&f, &c);
	CHECK(f.res.success);
	sm_cmd other = c_set("p", "changed", 0);
	fx_run(&f, &other);
	fx_run(&f, &c);
	CHECK_EQ(f.res.op, SM_OP_MSET);
	CHECK(f.res.success);
	expect_stored(&f, "p", "changed");
	expect_stored(&f, "q", "2");
	/* an unknown client must start at seq 1 */
	c = with_session(c_set("k", "v", 0), 8, 4);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_SESSION_EXPIRED);
	expect_stored(&f, "k", NULL);
	bool found;
	uint64_t seq, last;
	CHECK_EQ(sm_session_get(f.m, 1, 7, &found, &seq, &last), 0);
	CHECK(found);
	CHECK_EQ(seq, 3);
	CHECK_EQ(last, 6);
	CHECK_EQ(sm_session_get(f.m, 1, 9, &found, &seq, &last), 0);
	CHECK(found);
	CHECK_EQ(seq, 1);
	CHECK_EQ(last, 9);
	CHECK_EQ(sm_session_get(f.m, 1, 8, &found, &seq, &last), 0);
	CHECK(!found);
	/* client 0 means no session: every apply runs */
	c = c_incr("m", 1);
	fx_run(&f, &c);
	fx_run(&f, &c);
	expect_stored(&f, "m", "2");
	sm_group_state st;
	sm_group_get(f.m, 1, &st);
	CHECK_EQ(st.session_count, 2);
	sm_buf_deinit(&first);
	fx_done(&f);
}

BOTH(sessions_evict_the_longest_idle)
{
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_sessions = 3;
	fx f;
	fx_open_cfg(&f, rocks, &cfg);
	for (uint64_t cl = 1; cl <= 3; cl++) {
		sm_cmd c = with_session(c_incr("n", 1), cl, 1);
		fx_run(&f, &c);
	}
	/* client 1 retries: touched, so client 2 is now the idlest */
	sm_cmd c = with_session(c_incr("n", 1), 1, 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 1);
	c = with_session(c_incr("n", 1), 4, 1);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 4);
	sm_group_state st;
	sm_group_get(f.m, 1, &st);
	CHECK_EQ(st.session_count, 3);
	bool found;
	uint64_t seq, last;
	uint64_t expect_found[5] = {0, 1, 0, 1, 1};
	for (uint64_t cl = 1; cl <= 4; cl++) {
		CHECK_EQ(sm_session_get(f.m, 1, cl, &found, &seq, &last), 0);
		CHECK_EQ(found, expect_found[cl]);
	}
	/* the evicted client's next write is refused, not applied */
	c = with_session(c_incr("n", 1), 2, 2);
	fx_run(&f, &c);
	CHECK_EQ(f.res.status, SM_ST_SESSION_EXPIRED);
	expect_stored(&f, "n", "4");
	if (rocks) {
		fx_reopen(&f);
		sm_group_get(f.m, 1, &st);
		CHECK_EQ(st.session_count, 3);
		c = with_session(c_incr("n", 1), 3, 1); /* still known after reopen */
		fx_run(&f, &c);
		CHECK_EQ(f.res.integer, 3);
	}
	fx_done(&f);
}

BOTH(groups_are_independent)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd c = with_session(c_incr("a", 1), 5, 1);
	fx_run(&f, &c);
	f.group = 2;
	fx_run(&f, &c); /* same client and seq, other group: runs */
	CHECK_EQ(f.res.integer, 2);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 2);
	CHECK_EQ(sm_applied_index(f.m, 1), 1);
	CHECK_EQ(sm_applied_index(f.m, 2), 2);
	CHECK_EQ(sm_applied_index(f.m, 3), 0);
	fx_done(&f);
}

/* --- scan ------------------------------------------------------------------------ */

typedef struct {
	int count;
	char keys[16][8];
} scan_out;

static int collect(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
		   size_t value_size)
{
	scan_out *s = ctx;
	(void)value;
	(void)value_size;
	CHECK(key_size < 8);
	memcpy(s->keys[s->count], key, key_size);
	s->keys[s->count][key_size] = '\0';
	s->count++;
	return s->count == 16;
}

BOTH(scan_in_key_order)
{
	fx f;
	fx_open(&f, rocks);
	const char *ks[] = {"b", "a", "ab", "c", "", "ba"};
	for (int i = 0; i < 6; i++) {
		sm_cmd c = c_set(ks[i], "v", 0);
		fx_run(&f, &c);
	}
	scan_out s;
	memset(&s, 0, sizeof(s));
	CHECK_EQ(sm_scan(f.m, NULL, 0, 100, collect, &s), 0);
	CHECK_EQ(s.count, 6);
	const char *want[] = {"", "a", "ab", "b", "ba", "c"};
	for (int i = 0; i < 6; i++)
		CHECK(strcmp(s.keys[i], want[i]) == 0);
	memset(&s, 0, sizeof(s));
	CHECK_EQ(sm_scan(f.m, (const uint8_t *)"aa", 2, 2, collect, &s), 0);
	CHECK_EQ(s.count, 2);
	CHECK(strcmp(s.keys[0], "ab") == 0);
	CHECK(strcmp(s.keys[1], "b") == 0);
	fx_done(&f);
}

/* --- durability (RocksDB) ----------------------------------------------------------- */

TEST(applied_index_survives_reopen)
{
	fx f;
	fx_open(&f, true);
	for (int i = 0; i < 50; i++) {
		sm_cmd c = with_session(c_append("log", "x"), 3, (uint64_t)i + 1);
		fx_run(&f, &c);
	}
	f.group = 9;
	sm_cmd c = c_set("g9", "v", 0);
	fx_run(&f, &c);
	uint64_t d = digest(f.m);
	fx_reopen(&f);
	CHECK_EQ(sm_applied_index(f.m, 1), 50);
	CHECK_EQ(sm_applied_index(f.m, 9), 1);
	CHECK_EQ(digest(f.m), d);
	/* the session survived: a retry of seq 50 replays */
	f.group = 1;
	c = with_session(c_append("log", "x"), 3, 50);
	fx_run(&f, &c);
	CHECK_EQ(f.res.integer, 50);
	CHECK_EQ(sm_applied_index(f.m, 1), 51);
	fx_done(&f);
}

/* A deterministic stream of entries: commands of every op over a small key
 * space, sessions with retries, stale and expired seqs, malformed entries,
 * NOOPs and CONF changes. */
typedef struct {
	rp_prng r;
	uint64_t seq[9]; /* clients 1..8 */
	uint32_t big;	 /* longest random value */
	char vals[4][2048];
	sm_value keys[4];
	sm_value values[4];
	char keybuf[4][8];
} gen;

static void gen_init(gen *g, uint64_t seed, uint32_t big)
{
	memset(g, 0, sizeof(*g));
	rp_prng_init(&g->r, seed);
	g->big = big;
}

static const char *gen_key(gen *g, char *buf, bool number)
{
	snprintf(buf, 8, "%c%u", number ? 'n' : 'k',
		 (unsigned)rp_prng_below(&g->r, number ? 4 : 16));
	return buf;
}

static const char *gen_val(gen *g, int slot)
{
	char *v = g->vals[slot];
	if (g->big > 0 && rp_prng_below(&g->r, 2) == 0) {
		size_t n = (size_t)rp_prng_range(&g->r, 1, g->big);
		for (size_t i = 0; i < n; i++)
			v[i] = (char)('a' + rp_prng_below(&g->r, 26));
		v[n] = '\0';
	} else {
		snprintf(v, 8, "v%u", (unsigned)rp_prng_below(&g->r, 4));
	}
	return v;
}

/* Fills out with the next entry's data; returns its type. */
static uint8_t gen_next(gen *g, sm_buf *out)
{
	out->size = 0;
	uint64_t pick = rp_prng_below(&g->r, 100);
	if (pick < 3)
		return HP_ENTRY_NOOP;
	if (pick < 4) {
		uint8_t change[HP_CONF_CHANGE_BYTES];
		hp_conf_change_encode(change, HP_CONF_ADD_LEARNER,
				      rp_prng_range(&g->r, 1, 5));
		CHECK_EQ(sm_buf_set(out, change, sizeof(change)), 0);
		return HP_ENTRY_CONF;
	}
	if (pick < 6) {
		size_t n = (size_t)rp_prng_below(&g->r, 40);
		CHECK_EQ(sm_buf_reserve(out, n), 0);
		for (size_t i = 0; i < n; i++)
			out->data[i] = (uint8_t)rp_prng_next(&g->r);
		out->size = n;
		if (n > 1)
			out->data[0] = SM_CMD_VERSION;
		return HP_ENTRY_NORMAL;
	}
	sm_cmd c = {0};
	char kb[8];
	switch (rp_prng_below(&g->r, 8)) {
	case 0: {
		static const uint16_t flags[] = {
		    0, 0, SM_SET_NX, SM_SET_XX, SM_SET_GET, SM_SET_NX | SM_SET_GET};
		c = c_set(gen_key(g, kb, rp_prng_below(&g->r, 8) == 0), gen_val(g, 0),
			  flags[rp_prng_below(&g->r, 6)]);
		break;
	}
	case 1:
		c = c_get(gen_key(g, kb, false));
		break;
	case 2: {
		uint32_t n = (uint32_t)rp_prng_range(&g->r, 1, 4);
		for (uint32_t i = 0; i < n; i++)
			g->keys[i] =
			    sv(gen_key(g, g->keybuf[i], rp_prng_below(&g->r, 4) == 0));
		c = c_del(g->keys, n);
		c.flags = rp_prng_below(&g->r, 2) ? SM_DEL_GET : 0;
		break;
	}
	case 3: {
		const char *e = rp_prng_below(&g->r, 3) == 0 ? NULL : gen_val(g, 1);
		const char *n = rp_prng_below(&g->r, 6) == 0 ? NULL : gen_val(g, 2);
		c = c_cas(gen_key(g, kb, false), e, n);
		c.flags = rp_prng_below(&g->r, 4) == 0 ? SM_CAS_GET : 0;
		break;
	}
	case 7: {
		/* pairs over the whole key space, so a crash test sees whether
		 * several keys change together */
		uint32_t n = (uint32_t)rp_prng_range(&g->r, 1, 4);
		for (uint32_t i = 0; i < n; i++) {
			g->keys[i] =
			    sv(gen_key(g, g->keybuf[i], rp_prng_below(&g->r, 4) == 0));
			g->values[i] = sv(gen_val(g, (int)i));
		}
		c = c_mset(g->keys, g->values, n);
		break;
	}
	case 4:
	case 5: {
		int64_t d = (int64_t)rp_prng_range(&g->r, 0, 2000) - 1000;
		if (rp_prng_below(&g->r, 50) == 0)
			d = rp_prng_below(&g->r, 2) ? INT64_MAX : INT64_MIN;
		c = c_incr(gen_key(g, kb, rp_prng_below(&g->r, 5) != 0), d);
		break;
	}
	default: {
		char *v = g->vals[3];
		snprintf(v, 8, "+%u", (unsigned)rp_prng_below(&g->r, 100));
		c = c_append(gen_key(g, kb, false), v);
		break;
	}
	}
	uint64_t s = rp_prng_below(&g->r, 100);
	if (s < 70) {
		uint64_t cl = rp_prng_range(&g->r, 1, 8);
		uint64_t how = rp_prng_below(&g->r, 100);
		if (how < 85 || g->seq[cl] == 0)
			c = with_session(c, cl, ++g->seq[cl]);
		else if (how < 95)
			c = with_session(c, cl, g->seq[cl]); /* a retry */
		else if (g->seq[cl] > 1)
			c = with_session(c, cl, g->seq[cl] - 1); /* stale */
		else
			c = with_session(c, 100 + cl, 7); /* never opened */
	}
	sm_cmd_limits lim = {SM_VALUE_MAX_BYTES_DEFAULT};
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, out), 0);
	return HP_ENTRY_NORMAL;
}

/* Applies entries from..to of generator stream `seed` to m (group 1),
 * checking each result against ref's for the same entry when ref != NULL. */
static void apply_stream(sm *m, sm *ref, uint64_t seed, uint32_t big, uint64_t from,
			 uint64_t to)
{
	gen *g = malloc(sizeof(*g));
	gen_init(g, seed, big);
	sm_buf data;
	sm_buf_init(&data);
	sm_result r1, r2;
	sm_result_init(&r1);
	sm_result_init(&r2);
	for (uint64_t i = 1; i <= to; i++) {
		uint8_t type = gen_next(g, &data);
		if (i < from)
			continue;
		hp_entry e = {i, 1 + i / 1000, type, (uint32_t)data.size,
			      data.size ? data.data : NULL};
		CHECK_EQ(sm_apply(m, 1, &e, &r1), 0);
		if (ref != NULL) {
			CHECK_EQ(sm_apply(ref, 1, &e, &r2), 0);
			CHECK_EQ(r1.enc.size, r2.enc.size);
			CHECK(memcmp(r1.enc.data, r2.enc.data, r1.enc.size) == 0);
		}
	}
	sm_result_deinit(&r1);
	sm_result_deinit(&r2);
	sm_buf_deinit(&data);
	free(g);
}

static sm *mem_replica(uint64_t seed, uint32_t big, uint64_t upto, const sm_config *cfg)
{
	sm *m = NULL;
	CHECK_EQ(sm_open_mem(cfg, &m), 0);
	apply_stream(m, NULL, seed, big, 1, upto);
	CHECK_EQ(sm_applied_index(m, 1), upto);
	return m;
}

enum { CRASH_ENTRIES = 3000, CRASH_BIG = 1500, CRASH_BUFFER = 64 * 1024 };

static void crash_cfg(sm_config *cfg)
{
	sm_config_default(cfg);
	cfg->max_sessions = 5;
	cfg->rocks_write_buffer_bytes = CRASH_BUFFER; /* many automatic flushes */
}

/* The child: apply the stream to the store in dir, reporting progress on
 * fd every 25 entries, and vanish without closing anything. */
__attribute__((constructor)) static void crash_child(void)
{
	const char *env = getenv("SM_TEST_CRASH_CHILD");
	if (env == NULL)
		return;
	char dir[128];
	unsigned long long seed = 0;
	int fd = -1, deferred = 0;
	if (sscanf(env, "%127[^,],%llu,%d,%d", dir, &seed, &fd, &deferred) != 4)
		_exit(90);
	sm_config cfg;
	crash_cfg(&cfg);
	sm *m = NULL;
	if (sm_open_rocks(dir, &cfg, &m, NULL, 0) != 0)
		_exit(91);
	gen *g = malloc(sizeof(*g));
	gen_init(g, seed, CRASH_BIG);
	sm_buf data;
	sm_buf_init(&data);
	sm_result res;
	sm_result_init(&res);
	rp_prng flush_at; /* its own stream: the entries stay the reference's */
	rp_prng_init(&flush_at, seed ^ 0x5eed);
	for (uint64_t i = 1; i <= CRASH_ENTRIES; i++) {
		uint8_t type = gen_next(g, &data);
		hp_entry e = {i, 1 + i / 1000, type, (uint32_t)data.size,
			      data.size ? data.data : NULL};
		/* Deferred: runs of 1..40 entries per commit, as a server's drain
		 * makes them; the flushes fall where the stream says. */
		if (deferred) {
			if (sm_apply_deferred(m, 1, &e, &res) != 0)
				_exit(92);
			if (rp_prng_below(&flush_at, 20) == 0 && sm_apply_flush(m) != 0)
				_exit(92);
		} else if (sm_apply(m, 1, &e, &res) != 0) {
			_exit(92);
		}
		if (i % 25 == 0 && write(fd, "x", 1) != 1)
			_exit(93);
	}
	_exit(0); /* no sm_close: nothing flushed on the way out */
}

/* Runs the child; with kill_after > 0, SIGKILLs it once it has reported
 * kill_after progress bytes. */
static void run_crash_child(const char *dir, uint64_t seed, int kill_after, bool deferred)
{
	int p[2];
	CHECK_EQ(pipe(p), 0);
	char env[256];
	snprintf(env, sizeof(env), "SM_TEST_CRASH_CHILD=%s,%llu,%d,%d", dir,
		 (unsigned long long)seed, p[1], deferred ? 1 : 0);
	char *child_env[] = {env, NULL};
	char *child_argv[] = {(char *)"test_sm", (char *)"(crash child)", NULL};
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		execve("/proc/self/exe", child_argv, child_env);
		_exit(94);
	}
	close(p[1]);
	int seen = 0;
	char buf[64];
	for (;;) {
		ssize_t n = read(p[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		seen += (int)n;
		if (kill_after > 0 && seen >= kill_after) {
			kill(pid, SIGKILL);
			break;
		}
	}
	close(p[0]);
	int status = 0;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	if (kill_after > 0) {
		CHECK(WIFSIGNALED(status));
		CHECK_EQ(WTERMSIG(status), SIGKILL);
	} else {
		CHECK(WIFEXITED(status));
		CHECK_EQ(WEXITSTATUS(status), 0);
	}
}

/*
 * "A crash between apply and flush loses nothing": after the child dies
 * (SIGKILL at a random point, or _exit without close), the reopened store
 * is at some applied index k with exactly the state of entries 1..k (a
 * replica of the same stream in memory agrees), and re-applying k+1..N
 * from "the log" ends in exactly the state of N entries applied once.
 */
static void crash_case(uint64_t seed, int kill_after, bool deferred)
{
	sm_config cfg;
	crash_cfg(&cfg);
	fx f;
	fx_open_cfg(&f, true, &cfg);
	sm_close(f.m); /* the child owns the store now */
	f.m = NULL;
	run_crash_child(f.dir, seed, kill_after, deferred);
	fx_open_store(&f);
	uint64_t k = sm_applied_index(f.m, 1);
	CHECK(k <= CRASH_ENTRIES);
	/* automatic flushes of a 64 KiB memtable made a prefix durable */
	CHECK(k > 0);
	sm *ref = mem_replica(seed, CRASH_BIG, k, &cfg);
	CHECK_EQ(digest(f.m), digest(ref));
	/* replay the rest, result by result */
	apply_stream(f.m, ref, seed, CRASH_BIG, k + 1, CRASH_ENTRIES);
	CHECK_EQ(sm_applied_index(f.m, 1), CRASH_ENTRIES);
	CHECK_EQ(digest(f.m), digest(ref));
	sm_close(ref);
	printf("    seed %llu: child (%s applies) %s, reopened at applied index %llu of %d\n",
	       (unsigned long long)seed, deferred ? "deferred" : "one-by-one",
	       kill_after ? "SIGKILLed" : "_exit()ed", (unsigned long long)k, CRASH_ENTRIES);
	fx_done(&f);
}

TEST(crash_between_apply_and_flush_loses_nothing_sigkill)
{
	rp_prng r;
	rp_prng_init(&r, 99);
	for (uint64_t seed = 1; seed <= 3; seed++)
		crash_case(seed, (int)rp_prng_range(&r, 20, CRASH_ENTRIES / 25 - 10), false);
}

TEST(crash_between_apply_and_flush_loses_nothing_exit)
{
	crash_case(4, 0, false);
}

/* The same with deferred applies: a crash inside a run of uncommitted
 * entries (or between runs) also comes back at exactly some prefix. */
TEST(crash_with_deferred_applies_loses_nothing)
{
	rp_prng r;
	rp_prng_init(&r, 7);
	/* Late kills: fewer, larger batches fill the memtable more slowly,
	 * and the test needs a flush to have happened. */
	for (uint64_t seed = 11; seed <= 13; seed++)
		crash_case(seed, (int)rp_prng_range(&r, CRASH_ENTRIES / 50, CRASH_ENTRIES / 25 - 10),
			   true);
	crash_case(14, 0, true);
}

/* --- snapshots -------------------------------------------------------------------------
 */

/* Streams from's current snapshot into `to` in chunks of `chunk` bytes; with
 * stop_before_last, never sends the last chunk.  Returns the last install
 * code. */
static int transfer(sm *from, sm *to, uint64_t group, size_t chunk, bool stop_before_last)
{
	hp_snapshot_meta meta;
	uint64_t g = 0;
	CHECK(sm_snapshot_current(from, &g, &meta));
	CHECK_EQ(g, group);
	uint8_t *buf = malloc(chunk);
	uint64_t off = 0;
	bool last = false;
	int rc = 0;
	while (!last) {
		size_t got = 0;
		CHECK_EQ(sm_snapshot_read(from, group, meta.index, off, buf, chunk, &got,
					  &last),
			 0);
		CHECK(got > 0);
		if (last && stop_before_last)
			break;
		hp_snap_chunk c = {meta, off, (uint32_t)got, buf, last};
		rc = sm_install_chunk(to, group, &c);
		if (rc != 0)
			break;
		off += got;
	}
	free(buf);
	return rc;
}

/* A leader-like store: a stream of `count` entries, with a membership. */
static void fill(fx *f, uint64_t seed, uint64_t count)
{
	hp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.voter_count = 3;
	conf.voters[0] = 1, conf.voters[1] = 2, conf.voters[2] = 3;
	uint8_t buf[HP_CONF_MAX_BYTES];
	size_t n = hp_conf_encode(&conf, buf, sizeof(buf));
	uint64_t base = sm_applied_index(f->m, f->group);
	if (base == 0)
		CHECK_EQ(fx_entry(f, HP_ENTRY_CONF, buf, n), 0);
	gen *g = malloc(sizeof(*g));
	gen_init(g, seed, 300);
	sm_buf data;
	sm_buf_init(&data);
	for (uint64_t i = 0; i < count; i++) {
		uint8_t type = gen_next(g, &data);
		CHECK_EQ(fx_entry(f, type, data.data, data.size), 0);
	}
	sm_buf_deinit(&data);
	free(g);
}

BOTH(snapshot_transfer_installs_the_same_state)
{
	fx a, b;
	fx_open(&a, rocks);
	fx_open(&b, rocks);
	fill(&a, 21, 400);
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	CHECK_EQ(meta.index, 401);
	CHECK_EQ(meta.conf.voter_count, 3);
	CHECK(sm_snapshot_size(a.m) > 0);
	/* the follower had some older state of its own */
	fill(&b, 22, 30);
	CHECK_EQ(transfer(a.m, b.m, 1, 1000, false), 0);
	CHECK_EQ(sm_applied_index(b.m, 1), 401);
	CHECK_EQ(digest(b.m), digest(a.m));
	sm_group_state st;
	sm_group_get(b.m, 1, &st);
	CHECK_EQ(st.conf.voter_count, 3);
	/* the installed state is the follower's current snapshot too */
	hp_snapshot_meta m2;
	uint64_t g;
	CHECK(sm_snapshot_current(b.m, &g, &m2));
	CHECK_EQ(m2.index, 401);
	/* both continue identically from there */
	fill(&a, 23, 50);
	fill(&b, 23, 50);
	CHECK_EQ(digest(b.m), digest(a.m));
	if (rocks) {
		fx_reopen(&b);
		CHECK_EQ(sm_applied_index(b.m, 1), 451);
		CHECK_EQ(digest(b.m), digest(a.m));
	}
	fx_done(&a);
	fx_done(&b);
}

/* An installed snapshot replaces every value, the cached ones too. */
BOTH(value_cache_is_emptied_by_an_install)
{
	fx a, b;
	fx_open(&a, rocks);
	fx_open(&b, rocks);
	sm_cmd c = c_set("k", "leader's", 0);
	fx_run(&a, &c);
	c = c_set("gone", "only on the follower", 0);
	fx_run(&b, &c);
	c = c_set("k", "follower", 0);
	fx_run(&b, &c);
	expect_stored(&b, "k", "follower");
	expect_stored(&b, "gone", "only on the follower");
	fill(&a, 31, 20); /* past the follower's index */
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	CHECK_EQ(transfer(a.m, b.m, 1, 64, false), 0);
	expect_stored(&b, "k", "leader's");
	expect_stored(&b, "gone", NULL);
	CHECK_EQ(digest(b.m), digest(a.m));
	fx_done(&a);
	fx_done(&b);
}

TEST(snapshot_survives_reopen_and_reads_the_same)
{
	fx a;
	fx_open(&a, true);
	fill(&a, 31, 200);
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	uint64_t size = sm_snapshot_size(a.m);
	uint8_t *one = malloc(size), *two = malloc(size);
	size_t got;
	bool last;
	CHECK_EQ(sm_snapshot_read(a.m, 1, meta.index, 0, one, size, &got, &last), 0);
	CHECK_EQ(got, size);
	CHECK(last);
	fill(&a, 32, 20); /* applies after the snapshot do not change it */
	fx_reopen(&a);
	hp_snapshot_meta m2;
	uint64_t g;
	CHECK(sm_snapshot_current(a.m, &g, &m2));
	CHECK_EQ(m2.index, meta.index);
	CHECK_EQ(m2.term, meta.term);
	CHECK_EQ(sm_snapshot_size(a.m), size);
	CHECK_EQ(sm_snapshot_read(a.m, 1, meta.index, 0, two, size, &got, &last), 0);
	CHECK(memcmp(one, two, size) == 0);
	/* wrong index or group: gone */
	CHECK_EQ(sm_snapshot_read(a.m, 1, meta.index + 1, 0, two, size, &got, &last),
		 RP_ERR_NOTFOUND);
	CHECK_EQ(sm_snapshot_read(a.m, 2, meta.index, 0, two, size, &got, &last),
		 RP_ERR_NOTFOUND);
	/* a newer snapshot replaces it, on disk too */
	CHECK_EQ(sm_snapshot_create(a.m, 1, &m2), 0);
	CHECK_EQ(m2.index, meta.index + 20);
	char old[160];
	snprintf(old, sizeof(old), "%s/snap-%020llu", a.dir,
		 (unsigned long long)meta.index);
	CHECK(!exists(old));
	free(one);
	free(two);
	fx_done(&a);
}

BOTH(install_cut_off_before_the_last_chunk_keeps_the_old_state)
{
	fx a, b;
	fx_open(&a, rocks);
	fx_open(&b, rocks);
	fill(&a, 41, 300);
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	fill(&b, 42, 40);
	uint64_t before = digest(b.m);
	CHECK_EQ(transfer(a.m, b.m, 1, 700, true), 0);
	/* halfway: nothing changed yet */
	CHECK_EQ(sm_applied_index(b.m, 1), 41);
	CHECK_EQ(digest(b.m), before);
	if (rocks) {
		/* the node "crashes" here: reopen drops the staging */
		char staging[160];
		snprintf(staging, sizeof(staging), "%s/install", b.dir);
		CHECK(exists(staging));
		fx_reopen(&b);
		CHECK(!exists(staging));
		CHECK_EQ(sm_applied_index(b.m, 1), 41);
		CHECK_EQ(digest(b.m), before);
	}
	/* a chunk out of order is refused */
	uint8_t x = 0;
	hp_snap_chunk bad = {meta, 5000, 1, &x, false};
	CHECK_EQ(sm_install_chunk(b.m, 1, &bad), RP_ERR_INVALID);
	/* and a fresh transfer from offset 0 still works */
	CHECK_EQ(transfer(a.m, b.m, 1, 700, false), 0);
	CHECK_EQ(digest(b.m), digest(a.m));
	fx_done(&a);
	fx_done(&b);
}

BOTH(install_of_a_corrupted_stream_is_refused)
{
	fx a, b;
	fx_open(&a, rocks);
	fx_open(&b, rocks);
	fill(&a, 51, 100);
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	fill(&b, 52, 10);
	uint64_t before = digest(b.m);
	uint64_t size = sm_snapshot_size(a.m);
	uint8_t *all = malloc(size);
	size_t got;
	bool last;
	CHECK_EQ(sm_snapshot_read(a.m, 1, meta.index, 0, all, size, &got, &last), 0);
	rp_prng r;
	rp_prng_init(&r, 53);
	for (int round = 0; round < 6; round++) {
		uint64_t at = rp_prng_below(&r, size);
		all[at] ^= 0x10;
		hp_snap_chunk c = {meta, 0, (uint32_t)size, all, true};
		CHECK(sm_install_chunk(b.m, 1, &c) != 0);
		all[at] ^= 0x10;
		CHECK_EQ(sm_applied_index(b.m, 1), 11);
		CHECK_EQ(digest(b.m), before);
	}
	/* meta that disagrees with the archive: refused */
	hp_snapshot_meta wrong = meta;
	wrong.term++;
	hp_snap_chunk c = {wrong, 0, (uint32_t)size, all, true};
	CHECK_EQ(sm_install_chunk(b.m, 1, &c), RP_ERR_CORRUPT);
	/* for another group: refused */
	c.meta = meta;
	CHECK_EQ(sm_install_chunk(b.m, 2, &c), RP_ERR_CORRUPT);
	/* a stream that stops early but says "last": refused */
	c.size_bytes = (uint32_t)(size - 1);
	CHECK_EQ(sm_install_chunk(b.m, 1, &c), RP_ERR_CORRUPT);
	CHECK_EQ(digest(b.m), before);
	/* the intact stream installs */
	c.size_bytes = (uint32_t)size;
	CHECK_EQ(sm_install_chunk(b.m, 1, &c), 0);
	CHECK_EQ(digest(b.m), digest(a.m));
	free(all);
	fx_done(&a);
	fx_done(&b);
}

TEST(snapshot_of_one_store_kind_is_refused_by_the_other)
{
	fx a, b;
	fx_open(&a, false);
	fx_open(&b, true);
	fill(&a, 61, 20);
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	CHECK_EQ(transfer(a.m, b.m, 1, 4096, false), RP_ERR_CORRUPT);
	CHECK_EQ(sm_applied_index(b.m, 1), 0);
	fx_done(&a);
	fx_done(&b);
}

TEST(open_drops_leftovers_of_interrupted_work)
{
	fx f;
	fx_open(&f, true);
	fill(&f, 71, 30);
	uint64_t d = digest(f.m);
	sm_close(f.m);
	f.m = NULL;
	/* as a crash would leave them: a half-received snapshot and a
	 * half-made one (the swap itself is one rename, never half done) */
	char p[200];
	snprintf(p, sizeof(p), "%s/install", f.dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/install/000009.sst", f.dir);
	FILE *fp = fopen(p, "w");
	CHECK(fp != NULL);
	fputs("partial", fp);
	fclose(fp);
	snprintf(p, sizeof(p), "%s/snap.tmp", f.dir);
	CHECK_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/snap-00000000000000000007", f.dir); /* no index file */
	CHECK_EQ(mkdir(p, 0755), 0);
	fx_open_store(&f);
	CHECK_EQ(digest(f.m), d);
	snprintf(p, sizeof(p), "%s/install", f.dir);
	CHECK(!exists(p));
	snprintf(p, sizeof(p), "%s/snap.tmp", f.dir);
	CHECK(!exists(p));
	snprintf(p, sizeof(p), "%s/snap-00000000000000000007", f.dir);
	CHECK(!exists(p));
	hp_snapshot_meta meta;
	uint64_t g;
	CHECK(!sm_snapshot_current(f.m, &g, &meta));
	fx_done(&f);
}

/* A crash right after the directory swap of an install became durable,
 * before the old database was deleted: open finds the new state in db and
 * drops the old one left in install. */
TEST(open_after_a_crash_right_after_the_install_swap_has_the_new_state)
{
	fx a, b;
	fx_open(&a, true);
	fx_open(&b, true);
	fill(&a, 72, 40);
	fill(&b, 73, 90);
	uint64_t da = digest(a.m), db = digest(b.m);
	CHECK(da != db);
	sm_close(a.m);
	sm_close(b.m);
	a.m = b.m = NULL;
	char from[200], inst[200], live[200];
	snprintf(from, sizeof(from), "%s/db", b.dir);
	snprintf(inst, sizeof(inst), "%s/install", a.dir);
	snprintf(live, sizeof(live), "%s/db", a.dir);
	CHECK_EQ(rename(from, inst), 0); /* b's database is the staged one */
	CHECK_EQ(renameat2(AT_FDCWD, inst, AT_FDCWD, live, RENAME_EXCHANGE), 0);
	/* crash here: install/ holds a's old database */
	fx_open_store(&a);
	CHECK_EQ(digest(a.m), db);
	CHECK_EQ(sm_applied_index(a.m, 1), 91);
	CHECK(!exists(inst));
	fx_open_store(&b); /* b's directory starts empty again */
	CHECK_EQ(sm_applied_index(b.m, 1), 0);
	fx_done(&a);
	fx_done(&b);
}

/*
 * The scenario at the state-machine level: a follower applies up
 * to 20 and goes down; the leader applies to 500, snapshots at 500 and
 * drops its log up to there, then applies to 600.  The follower comes back,
 * cannot be sent entries 21..500 any more, installs the snapshot, then
 * applies 501..600 from the log; it ends identical to the leader, and an
 * entry of the log it already holds is refused as applied.
 */
BOTH(follower_down_while_leader_compacted_catches_up_by_snapshot)
{
	fx leader, follower;
	fx_open(&leader, rocks);
	fx_open(&follower, rocks);
	/* both start with the same entries 1..20 (the stream of seed 81) */
	apply_stream(leader.m, follower.m, 81, 200, 1, 20);
	if (rocks)
		fx_reopen(&follower); /* goes down */
	apply_stream(leader.m, NULL, 81, 200, 21, 500);
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(leader.m, 1, &meta), 0);
	CHECK_EQ(meta.index, 500);
	apply_stream(leader.m, NULL, 81, 200, 501, 600);
	/* back up: the snapshot first, at an unusual chunk size */
	CHECK_EQ(sm_applied_index(follower.m, 1), 20);
	CHECK_EQ(transfer(leader.m, follower.m, 1, 333, false), 0);
	CHECK_EQ(sm_applied_index(follower.m, 1), 500);
	/* then the log after it; the result of every entry matches the
	 * leader's (replayed on a fresh in-memory replica of the same stream) */
	sm_config cfg;
	sm_config_default(&cfg);
	sm *ref = mem_replica(81, 200, 500, &cfg);
	apply_stream(follower.m, ref, 81, 200, 501, 600);
	CHECK_EQ(digest(follower.m), digest(leader.m));
	CHECK_EQ(digest(ref), digest(leader.m));
	hp_entry e = {600, 1, HP_ENTRY_NOOP, 0, NULL};
	CHECK_EQ(sm_apply(follower.m, 1, &e, &follower.res), RP_ERR_EXISTS);
	sm_close(ref);
	fx_done(&leader);
	fx_done(&follower);
}

/* --- the two stores agree --------------------------------------------------------------
 */

typedef struct {
	sm_buf keys;
	uint32_t count;
} scan_all;

static int scan_all_fn(void *ctx, const uint8_t *key, size_t key_size,
		       const uint8_t *value, size_t value_size)
{
	scan_all *s = ctx;
	uint8_t len[8];
	sm_put_u64(len, key_size);
	CHECK_EQ(sm_buf_append(&s->keys, len, 8), 0);
	CHECK_EQ(sm_buf_append(&s->keys, key, key_size), 0);
	sm_put_u64(len, value_size);
	CHECK_EQ(sm_buf_append(&s->keys, len, 8), 0);
	CHECK_EQ(sm_buf_append(&s->keys, value, value_size), 0);
	s->count++;
	return 0;
}

TEST(mem_and_rocks_agree_byte_for_byte_on_5000_random_commands)
{
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_sessions = 5; /* 8 clients: eviction happens too */
	cfg.max_value_bytes = 600;
	fx m, r;
	fx_open_cfg(&m, false, &cfg);
	fx_open_cfg(&r, true, &cfg);
	apply_stream(r.m, m.m, 1234, 400, 1, 5000);
	CHECK_EQ(sm_applied_index(m.m, 1), 5000);
	CHECK_EQ(sm_applied_index(r.m, 1), 5000);
	CHECK_EQ(digest(m.m), digest(r.m));
	scan_all sa = {{0}, 0}, sb = {{0}, 0};
	CHECK_EQ(sm_scan(m.m, NULL, 0, UINT32_MAX, scan_all_fn, &sa), 0);
	CHECK_EQ(sm_scan(r.m, NULL, 0, UINT32_MAX, scan_all_fn, &sb), 0);
	CHECK(sa.count > 10);
	CHECK_EQ(sa.count, sb.count);
	CHECK_EQ(sa.keys.size, sb.keys.size);
	CHECK(memcmp(sa.keys.data, sb.keys.data, sa.keys.size) == 0);
	sm_group_state s1, s2;
	sm_group_get(m.m, 1, &s1);
	sm_group_get(r.m, 1, &s2);
	CHECK_EQ(s1.session_count, 5);
	CHECK_EQ(s2.session_count, 5);
	CHECK_EQ(s1.conf.learner_count, s2.conf.learner_count);
	/* snapshots of either kind hold the same state */
	hp_snapshot_meta mm, mr;
	CHECK_EQ(sm_snapshot_create(m.m, 1, &mm), 0);
	CHECK_EQ(sm_snapshot_create(r.m, 1, &mr), 0);
	CHECK_EQ(mm.index, mr.index);
	CHECK_EQ(mm.term, mr.term);
	fx m2;
	fx_open_cfg(&m2, false, &cfg);
	CHECK_EQ(transfer(m.m, m2.m, 1, 4096, false), 0);
	CHECK_EQ(digest(m2.m), digest(r.m));
	sm_buf_deinit(&sa.keys);
	sm_buf_deinit(&sb.keys);
	fx_done(&m);
	fx_done(&r);
	fx_done(&m2);
}

/* --- deferred applies ------------------------------------------------------------------ */

/*
 * sm_apply_deferred with flushes at random points gives, entry by entry,
 * the results sm_apply gives, and the same final state: on both stores,
 * with sessions evicted (max_sessions 5 of 8 clients) inside open runs,
 * with scans and digests in the middle of runs (they commit first), and
 * with reads of the open run's own writes.
 */
static void deferred_matches(bool rocks, uint64_t cache_bytes)
{
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_sessions = 5;
	cfg.max_value_bytes = 600;
	cfg.value_cache_bytes = cache_bytes;
	fx d, ref;
	fx_open_cfg(&d, rocks, &cfg);
	cfg.value_cache_bytes = 0; /* the reference reads the store only */
	fx_open_cfg(&ref, false, &cfg);
	gen *g = malloc(sizeof(*g));
	gen_init(g, 4321, 400);
	rp_prng r;
	rp_prng_init(&r, 17);
	sm_buf data, v1, v2;
	sm_buf_init(&data);
	sm_buf_init(&v1);
	sm_buf_init(&v2);
	sm_result r1, r2;
	sm_result_init(&r1);
	sm_result_init(&r2);
	uint32_t flushes = 0, mid_scans = 0, open_reads = 0;
	/* Flushes, digests and reads at random points for 4,000 entries; then
	 * a run longer than the store keeps open (it commits in pieces). */
	for (uint64_t i = 1; i <= 9500; i++) {
		uint8_t type = gen_next(g, &data);
		hp_entry e = {i, 1 + i / 1000, type, (uint32_t)data.size,
			      data.size ? data.data : NULL};
		CHECK_EQ(sm_apply_deferred(d.m, 1, &e, &r1), 0);
		CHECK_EQ(sm_apply(ref.m, 1, &e, &r2), 0);
		CHECK_EQ(r1.enc.size, r2.enc.size);
		CHECK(memcmp(r1.enc.data, r2.enc.data, r1.enc.size) == 0);
		/* the applied index moves at once, flushed or not */
		CHECK_EQ(sm_applied_index(d.m, 1), i);
		/* an already applied entry is refused as with sm_apply */
		CHECK_EQ(sm_apply_deferred(d.m, 1, &e, &r1), RP_ERR_EXISTS);
		uint64_t pick = i <= 4000 ? rp_prng_below(&r, 100) : 100;
		if (pick < 8) {
			CHECK_EQ(sm_apply_flush(d.m), 0);
			flushes++;
		} else if (pick < 10) {
			CHECK_EQ(digest(d.m), digest(ref.m)); /* commits first */
			mid_scans++;
		} else if (pick < 30) {
			/* reads of the open run see its writes */
			for (int k = 0; k < 16; k++) {
				char key[16];
				snprintf(key, sizeof(key), "k%d", k);
				bool f1 = false, f2 = false;
				CHECK_EQ(sm_get(d.m, (const uint8_t *)key, strlen(key), &v1, &f1), 0);
				CHECK_EQ(sm_get(ref.m, (const uint8_t *)key, strlen(key), &v2, &f2),
					 0);
				CHECK_EQ(f1, f2);
				if (f1) {
					CHECK_EQ(v1.size, v2.size);
					CHECK(memcmp(v1.data, v2.data, v1.size) == 0);
				}
			}
			open_reads++;
		}
	}
	CHECK_EQ(sm_apply_flush(d.m), 0);
	CHECK_EQ(sm_apply_flush(d.m), 0); /* nothing open: a no-op */
	CHECK_EQ(digest(d.m), digest(ref.m));
	sm_group_state s1, s2;
	sm_group_get(d.m, 1, &s1);
	sm_group_get(ref.m, 1, &s2);
	CHECK_EQ(s1.session_count, 5);
	CHECK_EQ(s1.session_count, s2.session_count);
	CHECK_EQ(s1.conf.learner_count, s2.conf.learner_count);
	CHECK(flushes > 100 && mid_scans > 20 && open_reads > 300);
	sm_vcache_stats st;
	sm_value_cache_stats(d.m, &st);
	CHECK(st.hits > 1000); /* the reads above were the cache's */
	if (cache_bytes < 65536)
		CHECK(st.evictions > 100);
	if (rocks) {
		/* what was committed is what a reopened store holds */
		fx_reopen(&d);
		CHECK_EQ(sm_applied_index(d.m, 1), 9500);
		CHECK_EQ(digest(d.m), digest(ref.m));
	}
	sm_result_deinit(&r1);
	sm_result_deinit(&r2);
	sm_buf_deinit(&data);
	sm_buf_deinit(&v1);
	sm_buf_deinit(&v2);
	free(g);
	fx_done(&d);
	fx_done(&ref);
}

TEST(deferred_applies_match_one_by_one_mem)
{
	deferred_matches(false, (uint64_t)32 << 20);
}

TEST(deferred_applies_match_one_by_one_rocks)
{
	deferred_matches(true, (uint64_t)32 << 20);
}

/* A cache that keeps only some values (1 KiB: key and value up to 64 bytes, a
 * few at a time) reads the same as none. */
TEST(deferred_applies_match_one_by_one_with_an_evicting_value_cache_mem)
{
	deferred_matches(false, 1024);
}

TEST(deferred_applies_match_one_by_one_with_an_evicting_value_cache_rocks)
{
	deferred_matches(true, 1024);
}

/* Snapshots and sm_close commit an open run; a snapshot taken with
 * entries open covers them. */
BOTH(deferred_applies_are_committed_by_snapshot_and_close)
{
	fx f;
	fx_open(&f, rocks);
	sm_cmd_limits lim = {f.cfg.max_value_bytes};
	for (int i = 1; i <= 3; i++) {
		char v[16];
		snprintf(v, sizeof(v), "v%d", i);
		sm_cmd c = c_set("a", v, 0);
		f.enc.size = 0;
		CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f.enc), 0);
		hp_entry e = {(uint64_t)i, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size, f.enc.data};
		CHECK_EQ(sm_apply_deferred(f.m, 1, &e, &f.res), 0);
	}
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(f.m, 1, &meta), 0);
	CHECK_EQ(meta.index, 3);
	fx other;
	fx_open(&other, rocks);
	CHECK_EQ(transfer(f.m, other.m, 1, 4096, false), 0);
	CHECK_EQ(sm_applied_index(other.m, 1), 3);
	expect_stored(&other, "a", "v3");
	fx_done(&other);
	/* two more, left open, then close and reopen */
	for (int i = 4; i <= 5; i++) {
		sm_cmd c = c_set("b", i == 4 ? "x4" : "x5", 0);
		f.enc.size = 0;
		CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f.enc), 0);
		hp_entry e = {(uint64_t)i, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size, f.enc.data};
		CHECK_EQ(sm_apply_deferred(f.m, 1, &e, &f.res), 0);
	}
	if (rocks) {
		fx_reopen(&f);
		CHECK_EQ(sm_applied_index(f.m, 1), 5);
		expect_stored(&f, "b", "x5");
	}
	fx_done(&f);
}

/* sm_apply_open counts an open run; a run is committed at 4096 entries
 * or at 16 MiB of commands, whichever comes first; a key set many times
 * in one run reads back, and reopens, as its last value. */
BOTH(an_open_run_is_bounded_by_entries_and_bytes)
{
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_value_bytes = 1 << 20;
	fx f;
	fx_open_cfg(&f, rocks, &cfg);
	sm_cmd_limits lim = {f.cfg.max_value_bytes};
	char *big = malloc(1 << 20);
	CHECK(big != NULL);
	uint64_t index = 0;
	CHECK_EQ(sm_apply_open(f.m), 0);
	/* small commands: the entry bound */
	for (int i = 1; i <= 4100; i++) {
		char v[16];
		snprintf(v, sizeof(v), "v%d", i);
		sm_cmd c = c_set(i % 2 ? "odd" : "even", v, 0);
		f.enc.size = 0;
		CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f.enc), 0);
		hp_entry e = {++index, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size, f.enc.data};
		CHECK_EQ(sm_apply_deferred(f.m, 1, &e, &f.res), 0);
		CHECK_EQ(sm_apply_open(f.m), (uint32_t)(i < 4096 ? i : i - 4096));
	}
	expect_stored(&f, "odd", "v4099");
	expect_stored(&f, "even", "v4100");
	CHECK_EQ(sm_apply_flush(f.m), 0);
	CHECK_EQ(sm_apply_open(f.m), 0);
	/* 1 MiB values: the byte bound, long before 4096 entries */
	uint32_t most = 0;
	for (int i = 0; i < 40; i++) {
		memset(big, 'a' + i % 26, (size_t)1 << 20);
		big[(1 << 20) - 1] = '\0';
		sm_cmd c = c_set(i % 3 ? "big" : "big2", big, 0);
		f.enc.size = 0;
		CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f.enc), 0);
		hp_entry e = {++index, 1, HP_ENTRY_NORMAL, (uint32_t)f.enc.size, f.enc.data};
		CHECK_EQ(sm_apply_deferred(f.m, 1, &e, &f.res), 0);
		uint32_t open = sm_apply_open(f.m);
		most = open > most ? open : most;
	}
	CHECK_EQ(most, 15); /* the 16th MiB-and-a-bit command commits the run */
	if (rocks) {
		fx_reopen(&f);
		CHECK_EQ(sm_applied_index(f.m, 1), index);
		expect_stored(&f, "odd", "v4099");
		bool found = false;
		sm_buf v;
		sm_buf_init(&v);
		CHECK_EQ(sm_get(f.m, (const uint8_t *)"big", 3, &v, &found), 0);
		CHECK(found);
		CHECK_EQ(v.size, (1 << 20) - 1);
		CHECK_EQ(v.data[0], 'a' + 38 % 26); /* the last i with i % 3 != 0 */
		sm_buf_deinit(&v);
	}
	free(big);
	fx_done(&f);
}

/* --- walks ------------------------------------------------------------------------ */

typedef struct {
	char keys[256][8];
	uint32_t count;
	const char *stop_at; /* stop the step at this key (NULL: never) */
} walk_seen;

static int walk_seen_fn(void *ctx, const uint8_t *key, size_t key_size)
{
	walk_seen *w = ctx;
	if (w->stop_at && key_size == strlen(w->stop_at) && memcmp(key, w->stop_at, key_size) == 0)
		return 1;
	CHECK(key_size < 8 && w->count < 256);
	if (key_size < 8 && w->count < 256) {
		memcpy(w->keys[w->count], key, key_size);
		w->keys[w->count++][key_size] = '\0';
	}
	return 0;
}

static void walk_set(fx *f, const char *k, const char *v, bool deferred)
{
	sm_cmd_limits lim = {f->cfg.max_value_bytes};
	sm_cmd c = c_set(k, v, 0);
	f->enc.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &f->enc), 0);
	hp_entry e = {sm_applied_index(f->m, 1) + 1, 1, HP_ENTRY_NORMAL, (uint32_t)f->enc.size,
		      f->enc.data};
	CHECK_EQ((deferred ? sm_apply_deferred : sm_apply)(f->m, 1, &e, &f->res), 0);
}

/* A walk sees the keys as they were when it opened, in order, whatever is
 * written, overwritten (in place on RocksDB) and deleted between its
 * steps, and deferred applies open at the time are in it. */
BOTH(walk_sees_the_keys_as_of_its_opening)
{
	fx f;
	fx_open(&f, rocks);
	char k[16];
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof(k), "k%03d", i);
		walk_set(&f, k, "0123456789", i >= 90); /* the last ten deferred */
	}
	sm_walk *w;
	CHECK_EQ(sm_walk_open(f.m, &w), 0);
	walk_seen seen = {.count = 0};
	bool end = false;
	CHECK_EQ(sm_walk_step(w, 10, walk_seen_fn, &seen, &end), 0);
	CHECK(!end);
	CHECK_EQ(seen.count, 10);
	/* Between steps: delete keys not visited yet and one visited, add
	 * keys before, among and after them, overwrite values in place. */
	sm_value dels[3] = {sv("k050"), sv("k051"), sv("k005")};
	sm_cmd d = c_del(dels, 3);
	fx_run(&f, &d);
	walk_set(&f, "k0505", "new", false);
	walk_set(&f, "a", "new", false);
	walk_set(&f, "k200", "new", true);
	for (int i = 0; i < 100; i += 3) {
		snprintf(k, sizeof(k), "k%03d", i);
		walk_set(&f, k, "abcdefghij", i % 2 == 0);
	}
	while (!end)
		CHECK_EQ(sm_walk_step(w, 7, walk_seen_fn, &seen, &end), 0);
	CHECK_EQ(seen.count, 100);
	for (uint32_t i = 0; i < seen.count && i < 100; i++) {
		snprintf(k, sizeof(k), "k%03u", i);
		CHECK(strcmp(seen.keys[i], k) == 0);
	}
	/* The next step after the end visits nothing. */
	uint32_t before = seen.count;
	CHECK_EQ(sm_walk_step(w, 7, walk_seen_fn, &seen, &end), 0);
	CHECK(end);
	CHECK_EQ(seen.count, before);
	sm_walk_close(w);

	/* A new walk sees today's keys; seek, and a stop that keeps the key. */
	CHECK_EQ(sm_walk_open(f.m, &w), 0);
	CHECK_EQ(sm_walk_seek(w, (const uint8_t *)"k050", 4), 0);
	walk_seen s2 = {.count = 0, .stop_at = "k053"};
	CHECK_EQ(sm_walk_step(w, 100, walk_seen_fn, &s2, &end), 0);
	CHECK(!end);
	/* k050 is gone; k051 was deleted and written again (51 = 3 * 17) */
	CHECK_EQ(s2.count, 3);
	CHECK(strcmp(s2.keys[0], "k0505") == 0);
	CHECK(strcmp(s2.keys[1], "k051") == 0);
	CHECK(strcmp(s2.keys[2], "k052") == 0);
	s2.stop_at = NULL;
	CHECK_EQ(sm_walk_step(w, 1, walk_seen_fn, &s2, &end), 0);
	CHECK(strcmp(s2.keys[3], "k053") == 0);
	while (!end)
		CHECK_EQ(sm_walk_step(w, 1000, walk_seen_fn, &s2, &end), 0);
	CHECK_EQ(s2.count, 3 + 47 + 1); /* k053..k099, then k200 */
	CHECK(strcmp(s2.keys[s2.count - 1], "k200") == 0);
	sm_walk_close(w);
	fx_done(&f);
}

/* Bytes of the files in f's current RocksDB snapshot directory: the
 * table files' (sst true) or the others'. */
static uint64_t snap_file_bytes(const fx *f, bool sst)
{
	DIR *d = opendir(f->dir);
	CHECK(d != NULL);
	char snap[400] = "";
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "snap-", 5) == 0 && strlen(e->d_name) == 25)
			snprintf(snap, sizeof(snap), "%s/%s", f->dir, e->d_name);
	if (d != NULL)
		closedir(d);
	CHECK(snap[0] != '\0');
	uint64_t total = 0;
	d = opendir(snap);
	CHECK(d != NULL);
	while (d != NULL && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		bool is_sst = n > 4 && strcmp(e->d_name + n - 4, ".sst") == 0;
		char path[700];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", snap, e->d_name);
		CHECK_EQ(stat(path, &st), 0);
		if (is_sst == sst)
			total += (uint64_t)st.st_size;
	}
	if (d != NULL)
		closedir(d);
	return total;
}

/* A RocksDB snapshot takes the CRCs of the table files the previous one
 * already holds (from its creation, or from its index after a reopen)
 * instead of reading them again; every snapshot still installs
 * elsewhere (the install checks every record's CRC) with equal state. */
TEST(rocks_snapshots_reuse_table_file_crcs_and_still_install)
{
	fx f;
	fx_open(&f, true);
	char k[16];
	hp_snapshot_meta meta;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3000; i++) {
			snprintf(k, sizeof(k), "k%05d", i + round * 1500);
			walk_set(&f, k, round == 1 ? "second" : "first", i % 7 == 0);
		}
		CHECK_EQ(sm_snapshot_create(f.m, 1, &meta), 0);
		uint64_t tables = snap_file_bytes(&f, true);
		CHECK(tables > 0);
		if (round == 0) /* nothing to take them from */
			CHECK_EQ(sm_snapshot_crc_bytes(f.m), tables + snap_file_bytes(&f, false));
		else /* at least the first round's table file is read no more */
			CHECK(sm_snapshot_crc_bytes(f.m) < tables + snap_file_bytes(&f, false));
		fx other;
		fx_open(&other, true);
		CHECK_EQ(transfer(f.m, other.m, 1, 4096, false), 0);
		CHECK_EQ(sm_applied_index(other.m, 1), meta.index);
		CHECK_EQ(digest(other.m), digest(f.m));
		/* The snapshot the install ends with takes the received table
		 * files' CRCs: it reads only the others. */
		CHECK(snap_file_bytes(&other, true) > 0);
		CHECK_EQ(sm_snapshot_crc_bytes(other.m), snap_file_bytes(&other, false));
		fx_done(&other);
		if (round == 1)
			fx_reopen(&f); /* the next one takes the CRCs from the index */
	}
	fx_done(&f);
}

/* How many entries of f's store directory start with prefix. */
static int dir_count(const fx *f, const char *prefix)
{
	DIR *d = opendir(f->dir);
	CHECK(d != NULL);
	int n = 0;
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
	if (d != NULL)
		closedir(d);
	return n;
}

typedef struct {
	sm_sweep *w;
} sweep_arg;

static void *sweep_main(void *p)
{
	sm_snapshot_sweep_run(((sweep_arg *)p)->w);
	return NULL;
}

/* A replaced RocksDB snapshot is only set aside; a sweep on another
 * thread removes it, and needs nothing of the store (here it runs after
 * sm_close); what no sweep removed goes at the next open.  The in-memory
 * store never has anything to sweep. */
TEST(replaced_snapshots_go_in_a_sweep_or_at_open)
{
	fx f;
	fx_open(&f, true);
	hp_snapshot_meta meta;
	walk_set(&f, "a", "1", false);
	CHECK_EQ(sm_snapshot_create(f.m, 1, &meta), 0);
	CHECK(sm_snapshot_sweep_begin(f.m) == NULL); /* it replaced none */
	walk_set(&f, "b", "2", false);
	CHECK_EQ(sm_snapshot_create(f.m, 1, &meta), 0);
	CHECK_EQ(dir_count(&f, "snap-retired-"), 1);
	sm_sweep *w = sm_snapshot_sweep_begin(f.m);
	CHECK(w != NULL);
	CHECK(sm_snapshot_sweep_begin(f.m) == NULL); /* that one has it all */
	walk_set(&f, "c", "3", false);
	CHECK_EQ(sm_snapshot_create(f.m, 1, &meta), 0); /* set aside during the sweep */
	sm_close(f.m);
	f.m = NULL;
	sweep_arg a = {w};
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, sweep_main, &a), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	sm_snapshot_sweep_free(w);
	CHECK_EQ(dir_count(&f, "snap-retired-"), 0);
	CHECK_EQ(dir_count(&f, "snap-"), 1); /* the current one */
	fx_open_store(&f);
	uint64_t g = 0;
	hp_snapshot_meta cur;
	CHECK(sm_snapshot_current(f.m, &g, &cur));
	CHECK_EQ(cur.index, meta.index);
	/* Set aside and never swept: gone at the next open. */
	walk_set(&f, "d", "4", false);
	CHECK_EQ(sm_snapshot_create(f.m, 1, &meta), 0);
	CHECK_EQ(dir_count(&f, "snap-retired-"), 1);
	fx_reopen(&f);
	CHECK_EQ(dir_count(&f, "snap-retired-"), 0);
	CHECK(sm_snapshot_sweep_begin(f.m) == NULL);
	CHECK(sm_snapshot_current(f.m, &g, &cur));
	CHECK_EQ(cur.index, meta.index);
	fx_done(&f);
	fx m;
	fx_open(&m, false);
	walk_set(&m, "a", "1", false);
	CHECK_EQ(sm_snapshot_create(m.m, 1, &meta), 0);
	walk_set(&m, "b", "2", false);
	CHECK_EQ(sm_snapshot_create(m.m, 1, &meta), 0);
	CHECK(sm_snapshot_sweep_begin(m.m) == NULL);
	fx_done(&m);
}

/* A table file's CRC is reused only for the very same file: here the
 * live db is another store's (as after an install, then a crash before
 * the next snapshot), its table files have the same names and sizes as
 * the ones in the old snapshot, and the next snapshot must still
 * install elsewhere. */
TEST(rocks_snapshot_reuses_no_crc_of_a_namesake_file)
{
	fx x, y;
	fx_open(&x, true);
	fx_open(&y, true);
	rp_prng r;
	rp_prng_init(&r, 77);
	char k[16], v[65];
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		for (int j = 0; j < 64; j++)
			v[j] = (char)('a' + rp_prng_below(&r, 26));
		v[64] = '\0';
		walk_set(&x, k, v, false);
		v[0] = v[0] == 'a' ? 'b' : 'a'; /* same length, other bytes */
		walk_set(&y, k, v, false);
	}
	hp_snapshot_meta meta;
	CHECK_EQ(sm_snapshot_create(x.m, 1, &meta), 0);
	CHECK_EQ(sm_snapshot_create(y.m, 1, &meta), 0);
	sm_close(x.m);
	x.m = NULL;
	sm_close(y.m);
	y.m = NULL;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/db' && cp -a '%s/db' '%s/db'", x.dir, y.dir,
		 x.dir);
	CHECK_EQ(system(cmd), 0);
	fx_open_store(&x);
	fx_open_store(&y);
	CHECK_EQ(digest(x.m), digest(y.m));
	walk_set(&x, "one-more", "entry", false); /* a new index: a new snapshot */
	CHECK_EQ(sm_snapshot_create(x.m, 1, &meta), 0);
	/* Every file read, none taken from the old snapshot's namesakes. */
	CHECK(snap_file_bytes(&x, true) > 0);
	CHECK_EQ(sm_snapshot_crc_bytes(x.m),
		 snap_file_bytes(&x, true) + snap_file_bytes(&x, false));
	fx z;
	fx_open(&z, true);
	CHECK_EQ(transfer(x.m, z.m, 1, 4096, false), 0);
	CHECK_EQ(digest(z.m), digest(x.m));
	fx_done(&z);
	fx_done(&y);
	fx_done(&x);
}

/* --- snapshots made in steps (sm_snapshot_begin) ----------------------------- */

typedef struct {
	sm_snap_job *job;
	int rc;
} work_arg;

static void *work_main(void *p)
{
	work_arg *a = p;
	a->rc = sm_snapshot_work(a->job);
	return NULL;
}

/* The work runs on a thread of its own while the store goes on applying;
 * the snapshot holds a state at least as new as the one at its beginning
 * (a RocksDB store captures it during the work), exactly as it was at the
 * index it names, and installs as that. */
BOTH(snapshot_made_in_steps_holds_the_state_it_names)
{
	fx a, b, r;
	fx_open(&a, rocks);
	fx_open(&b, rocks);
	fx_open(&r, false);
	fill(&a, 51, 300);
	sm_snap_job *job = NULL, *second = NULL;
	hp_snapshot_meta meta, m2;
	CHECK_EQ(sm_snapshot_begin(a.m, 1, &job, &meta), 0);
	CHECK(job != NULL);
	CHECK_EQ(sm_snapshot_begin(a.m, 1, &second, &m2), RP_ERR_BUSY);
	CHECK(second == NULL);
	work_arg w = {job, -1};
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, work_main, &w), 0);
	fill(&a, 52, 100); /* applies, scans and reads meanwhile */
	CHECK_EQ(sm_applied_index(a.m, 1), 401);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(w.rc, 0);
	/* not current until finished */
	uint64_t g = 0;
	CHECK(!sm_snapshot_current(a.m, &g, &m2));
	CHECK_EQ(sm_snapshot_finish(a.m, job, &meta), 0);
	CHECK(meta.index >= 301 && meta.index <= 401);
	if (!rocks)
		CHECK_EQ(meta.index, 301); /* the memory store captures at begin */
	CHECK_EQ(meta.conf.voter_count, 3);
	CHECK(sm_snapshot_current(a.m, &g, &m2));
	CHECK_EQ(m2.index, meta.index);
	CHECK_EQ(m2.term, meta.term);
	/* the state of index meta.index, built again from the same stream */
	fill(&r, 51, 300);
	fill(&r, 52, meta.index - 301);
	CHECK_EQ(transfer(a.m, b.m, 1, 1000, false), 0);
	CHECK_EQ(sm_applied_index(b.m, 1), meta.index);
	CHECK_EQ(digest(b.m), digest(r.m));
	if (rocks) {
		fx_reopen(&a); /* kept like any other */
		CHECK(sm_snapshot_current(a.m, &g, &m2));
		CHECK_EQ(m2.index, meta.index);
	}
	/* the next one in one go, from the state that moved on */
	CHECK_EQ(sm_snapshot_create(a.m, 1, &m2), 0);
	CHECK_EQ(m2.index, 401);
	/* nothing new applied: no job, the current one describes it */
	CHECK_EQ(sm_snapshot_begin(a.m, 1, &job, &m2), 0);
	CHECK(job == NULL);
	CHECK_EQ(m2.index, 401);
	fx_done(&a);
	fx_done(&b);
	fx_done(&r);
}

/* A canceled job, before its work, after it, or never worked, changes
 * nothing: the current snapshot stays and still installs, nothing of the
 * job is left on disk, and the next snapshot is made as usual. */
BOTH(snapshot_job_canceled_or_never_worked_leaves_the_current_one)
{
	fx a, b;
	fx_open(&a, rocks);
	fx_open(&b, rocks);
	fill(&a, 61, 200);
	hp_snapshot_meta meta, m2;
	CHECK_EQ(sm_snapshot_create(a.m, 1, &meta), 0);
	CHECK_EQ(meta.index, 201);
	uint64_t at_snapshot = digest(a.m);
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s/snap.tmp", a.dir);
	uint64_t g = 0;
	for (int how = 0; how < 3; how++) {
		fill(&a, 62 + (uint64_t)how, 20);
		sm_snap_job *job = NULL;
		CHECK_EQ(sm_snapshot_begin(a.m, 1, &job, &m2), 0);
		CHECK(job != NULL);
		if (how == 0) { /* canceled before its work: the work stops at once */
			sm_snapshot_cancel(job);
			CHECK_EQ(sm_snapshot_work(job), RP_ERR_CANCELED);
		} else if (how == 1) { /* canceled after its work got to the end */
			CHECK_EQ(sm_snapshot_work(job), 0);
			sm_snapshot_cancel(job);
		} /* how == 2: never worked */
		if (rocks && how == 1)
			CHECK(exists(tmp)); /* the work's checkpoint */
		CHECK_EQ(sm_snapshot_finish(a.m, job, &m2), RP_ERR_CANCELED);
		CHECK(sm_snapshot_current(a.m, &g, &m2));
		CHECK_EQ(m2.index, 201);
		if (rocks)
			CHECK(!exists(tmp));
	}
	CHECK_EQ(transfer(a.m, b.m, 1, 1000, false), 0);
	CHECK_EQ(digest(b.m), at_snapshot);
	CHECK_EQ(sm_snapshot_create(a.m, 1, &m2), 0);
	CHECK_EQ(m2.index, 261);
	fx_done(&a);
	fx_done(&b);
}

/* In-place memtable updates (sm_rocks.c): one key overwritten thousands of
 * times with values that shrink, grow and keep their size reads back
 * right, scans right, and survives a reopen. */
TEST(rocks_overwrites_in_place_read_back_right)
{
	fx f;
	fx_open(&f, true);
	rp_prng r;
	rp_prng_init(&r, 5);
	char last[200] = "";
	for (int i = 0; i < 3000; i++) {
		size_t n = (size_t)rp_prng_range(&r, 1, sizeof(last) - 1);
		if (i % 3 == 0)
			n = 100; /* same size: in place */
		for (size_t k = 0; k < n; k++)
			last[k] = (char)('a' + rp_prng_below(&r, 26));
		last[n] = '\0';
		sm_cmd c = c_set("hot", last, 0);
		fx_run(&f, &c);
		if (i % 500 == 0)
			expect_stored(&f, "hot", last);
	}
	expect_stored(&f, "hot", last);
	scan_all sa = {{0}, 0};
	CHECK_EQ(sm_scan(f.m, NULL, 0, UINT32_MAX, scan_all_fn, &sa), 0);
	CHECK_EQ(sa.count, 1);
	sm_buf_deinit(&sa.keys);
	fx_reopen(&f);
	expect_stored(&f, "hot", last);
	CHECK_EQ(sm_applied_index(f.m, 1), 3000);
	fx_done(&f);
}

TEST_MAIN()
