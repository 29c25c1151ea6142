/*
 * test_lincheck.c — the linearizability checker passes histories that have
 * a valid order (hand-made, and generated from a real atomic register with
 * random overlaps), fails the classic anomalies, treats INFO and FAIL ops
 * as documented, agrees with a brute-force checker on small histories, and
 * stays within its budget.
 */
#include "test.h"
#include "sim/lincheck.h"
#include "util/prng.h"

#include <stdlib.h>
#include <time.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A value no generated history ever writes (generated values stay small). */
#define NEVER_WRITTEN ((uint64_t)1 << 62)

static lc_op op_base(uint32_t client, uint64_t key, lc_kind kind, uint64_t t0,
		     uint64_t t1)
{
	lc_op op;
	memset(&op, 0, sizeof op);
	op.client = client;
	op.key = key;
	op.kind = kind;
	op.status = LC_STATUS_OK;
	op.invoke_us = t0;
	op.complete_us = t1;
	return op;
}

static lc_op get_op(uint32_t c, uint64_t key, uint64_t t0, uint64_t t1, bool found,
		    uint64_t out)
{
	lc_op op = op_base(c, key, LC_GET, t0, t1);
	op.found = found;
	op.out = out;
	return op;
}

static lc_op set_op(uint32_t c, uint64_t key, uint64_t t0, uint64_t t1, uint64_t value)
{
	lc_op op = op_base(c, key, LC_SET, t0, t1);
	op.value = value;
	return op;
}

static lc_op cas_op(uint32_t c, uint64_t key, uint64_t t0, uint64_t t1,
		    bool expect_present, uint64_t expect, uint64_t value, bool success,
		    bool found, uint64_t out)
{
	lc_op op = op_base(c, key, LC_CAS, t0, t1);
	op.expect_present = expect_present;
	op.expect = expect;
	op.value = value;
	op.success = success;
	op.found = found;
	op.out = out;
	return op;
}

static lc_op del_op(uint32_t c, uint64_t key, uint64_t t0, uint64_t t1, bool found,
		    uint64_t out)
{
	lc_op op = op_base(c, key, LC_DEL, t0, t1);
	op.found = found;
	op.out = out;
	return op;
}

static lc_op incr_op(uint32_t c, uint64_t key, uint64_t t0, uint64_t t1, uint64_t delta,
		     uint64_t out)
{
	lc_op op = op_base(c, key, LC_INCR, t0, t1);
	op.value = delta;
	op.out = out;
	return op;
}

/* Indeterminate: outputs are garbage and complete_us (ignored) is below
 * invoke_us, so a checker that read either would misbehave. */
static lc_op as_info(lc_op op)
{
	op.status = LC_STATUS_INFO;
	op.complete_us = 0;
	op.found = true;
	op.out = 0xdeadbeef;
	op.success = true;
	return op;
}

static lc_op as_fail(lc_op op)
{
	op.status = LC_STATUS_FAIL;
	return op;
}

static lc_result check_budget(const lc_op *ops, size_t n, uint64_t budget)
{
	lc_result r;
	int rc = lc_check(ops, n, budget, &r);
	CHECK_EQ(rc, 0);
	CHECK(r.ops_checked <= n);
	return r;
}

static lc_result check(const lc_op *ops, size_t n)
{
	return check_budget(ops, n, 0);
}

/* Passes, with a definite verdict. */
static bool passes(const lc_op *ops, size_t n)
{
	lc_result r = check(ops, n);
	CHECK(!r.exhausted);
	return r.linearizable;
}

/* ---- sequential histories ------------------------------------------------ */

TEST(empty_history_passes)
{
	lc_result r = check(NULL, 0);
	CHECK(r.linearizable);
	CHECK(!r.exhausted);
	CHECK_EQ(r.ops_checked, 0);
}

TEST(sequential_get_set_passes)
{
	lc_op ops[] = {
	    get_op(1, 7, 0, 10, false, 0), set_op(1, 7, 20, 30, 5),
	    get_op(2, 7, 40, 50, true, 5), set_op(2, 7, 60, 70, 6),
	    get_op(1, 7, 80, 90, true, 6),
	};
	lc_result r = check(ops, COUNT_OF(ops));
	CHECK(r.linearizable);
	CHECK(!r.exhausted);
	CHECK_EQ(r.ops_checked, 5);
	CHECK_EQ(r.keys_checked, 1);
	/* The same reads in the wrong places must not pass. */
	ops[0] = get_op(1, 7, 0, 10, true, 5);
	CHECK(!passes(ops, COUNT_OF(ops)));
}

TEST(sequential_cas_passes)
{
	lc_op ops[] = {
	    /* absent: expecting a value fails, expecting absence swaps */
	    cas_op(1, 1, 0, 10, true, 3, 4, false, false, 0),
	    cas_op(1, 1, 20, 30, false, 0, 1, true, true, 1),
	    /* present: expecting absence or a wrong value fails and reports it */
	    cas_op(2, 1, 40, 50, false, 0, 9, false, true, 1),
	    cas_op(2, 1, 60, 70, true, 2, 9, false, true, 1),
	    cas_op(1, 1, 80, 90, true, 1, 3, true, true, 3),
	    get_op(2, 1, 100, 110, true, 3),
	};
	CHECK(passes(ops, COUNT_OF(ops)));
	/* A CAS that claims a swap against the wrong expected value fails. */
	ops[3] = cas_op(2, 1, 60, 70, true, 2, 9, true, true, 9);
	CHECK(!passes(ops, COUNT_OF(ops)));
}

TEST(sequential_del_passes)
{
	lc_op ops[] = {
	    del_op(1, 3, 0, 10, false, 0),  set_op(1, 3, 20, 30, 4),
	    del_op(2, 3, 40, 50, true, 4),  get_op(1, 3, 60, 70, false, 0),
	    del_op(2, 3, 80, 90, false, 0),
	};
	CHECK(passes(ops, COUNT_OF(ops)));
	/* After a DEL the key is gone. */
	ops[3] = get_op(1, 3, 60, 70, true, 4);
	CHECK(!passes(ops, COUNT_OF(ops)));
}

TEST(sequential_incr_passes)
{
	lc_op ops[] = {
	    incr_op(1, 2, 0, 10, 5, 5),	   incr_op(1, 2, 20, 30, 3, 8),
	    get_op(2, 2, 40, 50, true, 8), del_op(2, 2, 60, 70, true, 8),
	    incr_op(1, 2, 80, 90, 1, 1),   set_op(1, 2, 100, 110, UINT64_MAX),
	    incr_op(2, 2, 120, 130, 2, 1), /* wraps */
	};
	CHECK(passes(ops, COUNT_OF(ops)));
	ops[1] = incr_op(1, 2, 20, 30, 3, 3); /* as if it started from absent */
	CHECK(!passes(ops, COUNT_OF(ops)));
}

/* ---- concurrency ----------------------------------------------------------- */

TEST(concurrent_non_obvious_order_passes)
{
	/* Three overlapping writes; the reads force the order 3, 1, 2, which is
	 * neither their invocation order nor their completion order. */
	lc_op ops[] = {
	    set_op(1, 1, 0, 100, 1),	   set_op(2, 1, 5, 95, 2),
	    set_op(3, 1, 10, 90, 3),	   get_op(4, 1, 20, 30, true, 3),
	    get_op(4, 1, 40, 50, true, 1), get_op(4, 1, 60, 70, true, 2),
	    get_op(4, 1, 80, 90, true, 3),
	};
	CHECK(passes(ops, 6));
	/* Seeing 3 again would need write 3 twice. */
	CHECK(!passes(ops, 7));
}

TEST(touching_intervals_count_as_concurrent)
{
	lc_op ops[] = {set_op(1, 1, 0, 10, 1), get_op(2, 1, 10, 20, false, 0)};
	CHECK(passes(ops, 2));
	ops[1].invoke_us = 11;
	CHECK(!passes(ops, 2));
}

/* ---- anomalies ------------------------------------------------------------- */

TEST(stale_read_fails)
{
	lc_op ops[] = {
	    set_op(1, 9, 0, 10, 1),
	    set_op(1, 9, 20, 30, 2),
	    get_op(2, 9, 40, 50, true, 1),
	};
	lc_result r = check(ops, COUNT_OF(ops));
	CHECK(!r.linearizable);
	CHECK(!r.exhausted);
	CHECK_EQ(r.bad_key, 9);
	/* Overlapping the second write, the old value is fine. */
	ops[2].invoke_us = 25;
	CHECK(passes(ops, COUNT_OF(ops)));
}

TEST(lost_write_fails)
{
	/* SET 2 is acknowledged but a later read still sees 1. */
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    set_op(2, 1, 15, 40, 2),
	    get_op(3, 1, 20, 25, true, 1), /* concurrent with SET 2: fine */
	    get_op(3, 1, 50, 60, true, 1),
	};
	CHECK(passes(ops, 3));
	CHECK(!passes(ops, 4));
}

TEST(double_cas_success_fails)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 0),
	    cas_op(2, 1, 20, 50, true, 0, 1, true, true, 1),
	    cas_op(3, 1, 25, 55, true, 0, 2, true, true, 2),
	};
	CHECK(!passes(ops, COUNT_OF(ops)));
	/* One winner, and the loser sees the winner's value: fine. */
	ops[2] = cas_op(3, 1, 25, 55, true, 0, 2, false, true, 1);
	CHECK(passes(ops, COUNT_OF(ops)));
	/* The loser reporting a value nobody wrote is not. */
	ops[2].out = 7;
	CHECK(!passes(ops, COUNT_OF(ops)));
}

TEST(read_of_value_never_written_fails)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    set_op(2, 1, 5, 30, 2),
	    get_op(3, 1, 15, 20, true, 7),
	};
	CHECK(!passes(ops, COUNT_OF(ops)));
	ops[2].out = 2;
	CHECK(passes(ops, COUNT_OF(ops)));
}

TEST(del_returning_wrong_value_fails)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    set_op(1, 1, 20, 30, 2),
	    del_op(2, 1, 40, 50, true, 1),
	};
	CHECK(!passes(ops, COUNT_OF(ops)));
	ops[2] = del_op(2, 1, 40, 50, false, 0); /* claims the key was absent */
	CHECK(!passes(ops, COUNT_OF(ops)));
	ops[2] = del_op(2, 1, 40, 50, true, 2);
	CHECK(passes(ops, COUNT_OF(ops)));
}

TEST(incr_lost_update_fails)
{
	/* Two concurrent increments from absent: both returning 1 means one
	 * increment was lost. */
	lc_op ops[] = {
	    incr_op(1, 1, 0, 10, 1, 1),
	    incr_op(2, 1, 5, 15, 1, 1),
	    get_op(3, 1, 20, 30, true, 2),
	};
	CHECK(!passes(ops, COUNT_OF(ops)));
	ops[1].out = 2;
	CHECK(passes(ops, COUNT_OF(ops)));
	/* Concurrent, so either order. */
	ops[0].out = 2;
	ops[1].out = 1;
	CHECK(passes(ops, COUNT_OF(ops)));
	/* But the total is what it is. */
	ops[2].out = 3;
	CHECK(!passes(ops, COUNT_OF(ops)));
}

/* ---- INFO and FAIL ------------------------------------------------------------ */

TEST(info_write_may_take_effect_late_or_never)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    as_info(set_op(2, 1, 20, 30, 2)),
	    get_op(3, 1, 100, 110, true, 2),
	};
	CHECK(passes(ops, COUNT_OF(ops))); /* it took effect */
	ops[2].out = 1;
	CHECK(passes(ops, COUNT_OF(ops))); /* or not (yet) */

	/* Long after the writer gave up, the value can still appear ... */
	lc_op late[] = {
	    set_op(1, 1, 0, 10, 1),
	    as_info(set_op(2, 1, 20, 30, 2)),
	    get_op(3, 1, 100, 110, true, 1),
	    get_op(3, 1, 120, 130, true, 2),
	};
	CHECK(passes(late, COUNT_OF(late)));
	/* ... but once seen it cannot un-happen. */
	late[2].out = 2;
	late[3].out = 1;
	CHECK(!passes(late, COUNT_OF(late)));
}

TEST(info_write_before_its_invocation_fails)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    get_op(2, 1, 20, 30, true, 2),
	    as_info(set_op(3, 1, 40, 50, 2)),
	};
	lc_result r = check(ops, COUNT_OF(ops));
	CHECK(!r.linearizable);
	CHECK_EQ(r.bad_key, 1);
	ops[2].invoke_us = 25; /* invoked while the read was in flight: fine */
	CHECK(passes(ops, COUNT_OF(ops)));
}

TEST(info_cas_and_incr_are_optional)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    as_info(cas_op(2, 1, 20, 30, true, 1, 5, false, false, 0)),
	    get_op(3, 1, 40, 50, true, 5),
	};
	CHECK(passes(ops, COUNT_OF(ops)));
	ops[2].out = 1;
	CHECK(passes(ops, COUNT_OF(ops)));
	ops[2].out = 6;
	CHECK(!passes(ops, COUNT_OF(ops)));

	lc_op incr[] = {
	    as_info(incr_op(1, 1, 0, 10, 3, 0)),
	    get_op(2, 1, 40, 50, true, 3),
	};
	CHECK(passes(incr, COUNT_OF(incr)));
	incr[1] = get_op(2, 1, 40, 50, false, 0);
	CHECK(passes(incr, COUNT_OF(incr)));
	incr[1] = get_op(2, 1, 40, 50, true, 6); /* applied at most once */
	CHECK(!passes(incr, COUNT_OF(incr)));
}

TEST(fail_ops_are_ignored)
{
	lc_op ops[] = {
	    set_op(1, 1, 0, 10, 1),
	    as_fail(set_op(2, 1, 20, 30, 2)),
	    /* garbage outputs and times: it is ignored entirely */
	    as_fail(get_op(3, 1, 35, 5, true, 77)),
	    get_op(3, 1, 40, 50, true, 1),
	};
	lc_result r = check(ops, COUNT_OF(ops));
	CHECK(r.linearizable);
	CHECK_EQ(r.ops_checked, 2);
	/* Had the write succeeded, the read would be stale. */
	ops[1].status = LC_STATUS_OK;
	CHECK(!passes(ops, COUNT_OF(ops)));
}

/* ---- many keys ------------------------------------------------------------------ */

TEST(violation_on_one_key_among_many_names_it)
{
	enum { KEYS = 20, PER_KEY = 6 };
	lc_op ops[KEYS * PER_KEY];
	size_t n = 0;
	for (uint64_t k = 0; k < KEYS; k++) {
		uint64_t t = k;		      /* keys interleave in time */
		uint32_t c = 2 * (uint32_t)k; /* a writer and a reader per key */
		ops[n++] = set_op(c, 100 + k, t, t + 50, k);
		ops[n++] = get_op(c + 1, 100 + k, t + 20, t + 30, true, k);
		ops[n++] = set_op(c, 100 + k, t + 60, t + 80, k + 1000);
		ops[n++] = get_op(c + 1, 100 + k, t + 70, t + 90, true, k + 1000);
		ops[n++] = incr_op(c, 100 + k, t + 100, t + 110, 1, k + 1001);
		ops[n++] = get_op(c + 1, 100 + k, t + 120, t + 130, true, k + 1001);
	}
	CHECK(passes(ops, n));

	ops[13 * PER_KEY + 5].out = 13 + 1000; /* stale: misses the INCR */
	lc_result r = check(ops, n);
	CHECK(!r.linearizable);
	CHECK_EQ(r.bad_key, 113);
	lc_print_key_history(stdout, ops, n, r.bad_key);
}

/* ---- budget and errors --------------------------------------------------------------
 */

/* count concurrent writes, then a read of a value none wrote: failing needs
 * every subset of the writes explored. */
static size_t hard_history(lc_op *ops, uint64_t key, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		ops[i] = set_op(i, key, i, 1000, i + 1);
	ops[count] = get_op(count, key, 2000, 2010, true, 99);
	return count + 1;
}

TEST(budget_exhaustion_is_reported_not_failed)
{
	lc_op ops[40];
	size_t n = hard_history(ops, 5, 12);
	lc_result r = check_budget(ops, n, 100);
	CHECK(r.exhausted);
	CHECK(r.linearizable);
	CHECK_EQ(r.exhausted_key, 5);
	CHECK(r.states_explored <= 100);

	r = check(ops, n);
	CHECK(!r.exhausted);
	CHECK(!r.linearizable);
	CHECK(r.states_explored > 100);

	/* A bigger key that fails is still checked after a smaller one runs
	 * out of its share. */
	size_t m = n;
	for (uint64_t i = 0; i < 20; i++)
		ops[m++] = set_op(0, 6, 3000 + 10 * i, 3005 + 10 * i, i);
	ops[m++] = get_op(1, 6, 4000, 4010, true, 3);
	r = check_budget(ops, m, 200);
	CHECK(r.exhausted);
	CHECK_EQ(r.exhausted_key, 5);
	CHECK(!r.linearizable);
	CHECK_EQ(r.bad_key, 6);
}

TEST(memo_ceiling_is_reported_as_exhaustion)
{
	lc_op ops[20];
	size_t n = hard_history(ops, 5, 12);
	lc_result r;
	CHECK_EQ(lc_check_bounded(ops, n, 0, 64 * 1024, &r), 0);
	CHECK(r.exhausted);
	CHECK(r.linearizable);
	CHECK_EQ(r.exhausted_key, 5);
	CHECK(r.states_explored > 100);
	CHECK(r.states_explored < 64 * 1024 / 8);
	/* 0 keeps the default ceiling, which this history fits in. */
	CHECK_EQ(lc_check_bounded(ops, n, 0, 0, &r), 0);
	CHECK(!r.exhausted);
	CHECK(!r.linearizable);
}

TEST(malformed_history_is_rejected)
{
	lc_op ops[] = {set_op(1, 1, 10, 5, 1)};
	lc_result r;
	CHECK_EQ(lc_check(ops, 1, 0, &r), LC_ERR_INVALID);
	ops[0] = set_op(1, 1, 0, 5, 1);
	ops[0].kind = (lc_kind)9;
	CHECK_EQ(lc_check(ops, 1, 0, &r), LC_ERR_INVALID);
	ops[0].kind = LC_SET;
	ops[0].status = (lc_status)7;
	CHECK_EQ(lc_check(ops, 1, 0, &r), LC_ERR_INVALID);
	ops[0].status = LC_STATUS_OK;
	CHECK_EQ(lc_check(ops, 1, 0, &r), 0);
	CHECK(strcmp(lc_strerror(LC_ERR_INVALID), lc_strerror(LC_ERR_NOMEM)) != 0);
}

TEST(print_key_history_is_readable_and_ordered)
{
	lc_op ops[] = {
	    get_op(2, 4, 30, 40, true, 5),
	    set_op(1, 4, 10, 20, 5),
	    set_op(1, 8, 15, 25, 123456),
	    as_info(cas_op(3, 4, 35, 0, false, 0, 7, false, false, 0)),
	    as_fail(del_op(1, 4, 50, 60, false, 0)),
	    incr_op(2, 4, 45, 55, 2, 7),
	};
	FILE *f = tmpfile();
	CHECK(f != NULL);
	lc_print_key_history(f, ops, COUNT_OF(ops), 4);
	char buf[2048];
	rewind(f);
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';

	CHECK(strstr(buf, "key 4: 5 ops") != NULL);
	CHECK(strstr(buf, "123456") == NULL); /* another key's op */
	const char *set = strstr(buf, "SET 5");
	const char *get = strstr(buf, "GET -> 5");
	const char *cas = strstr(buf, "CAS nil => 7");
	const char *incr = strstr(buf, "INCR +2 -> 7");
	const char *del = strstr(buf, "fail DEL");
	CHECK(set != NULL && get != NULL && cas != NULL && incr != NULL && del != NULL);
	CHECK(set < get && get < cas && cas < incr && incr < del);
	CHECK(strstr(buf, "info CAS nil => 7\n") != NULL); /* no outputs shown */
}

/* ---- generated histories ---------------------------------------------------------- */

typedef struct {
	uint32_t clients; /* <= GEN_CLIENTS_MAX */
	uint32_t keys;	  /* <= GEN_KEYS_MAX */
	size_t ops;
	uint32_t info_ppm;
	uint32_t fail_ppm;
	uint64_t value_max; /* 0: every written value is unique */
} gen_cfg;

enum { GEN_CLIENTS_MAX = 32, GEN_KEYS_MAX = 16, GEN_KEY_BASE = 1000 };

typedef struct {
	uint64_t lin_us;
	uint32_t index;
	bool applies;
} gen_point;

typedef struct {
	bool present;
	uint64_t value;
} gen_register;

static int gen_point_cmp(const void *pa, const void *pb)
{
	const gen_point *x = pa;
	const gen_point *y = pb;
	if (x->lin_us != y->lin_us)
		return x->lin_us < y->lin_us ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* The atomic register the generated histories come from: written apart
 * from the checker's model so that the two can disagree. */
static void gen_apply(gen_register *r, lc_op *op)
{
	switch (op->kind) {
	case LC_GET:
		break;
	case LC_SET:
		r->present = true;
		r->value = op->value;
		break;
	case LC_CAS:
		op->success = op->expect_present ? r->present && r->value == op->expect
						 : !r->present;
		if (op->success) {
			r->present = true;
			r->value = op->value;
		}
		break;
	case LC_DEL:
		op->found = r->present;
		op->out = r->value;
		r->present = false;
		r->value = 0;
		return;
	case LC_INCR:
		r->value = (r->present ? r->value : 0) + op->value;
		r->present = true;
		break;
	}
	op->found = r->present;
	op->out = r->present ? r->value : 0;
}

/*
 * Fills ops[0..cfg->ops) with a history of concurrent clients against one
 * atomic register per key: each op takes effect at a random instant inside
 * its interval (an applied INFO op at a random instant after its
 * invocation, possibly after its client moved on), and outputs are what the
 * register returned then.  The result is shuffled.  points is scratch.
 */
static void gen_history(rp_prng *p, const gen_cfg *cfg, lc_op *ops, gen_point *points)
{
	uint64_t free_at[GEN_CLIENTS_MAX] = {0};
	uint64_t recent[GEN_KEYS_MAX] = {0};
	gen_register regs[GEN_KEYS_MAX];
	uint64_t next_value = 1;
	memset(regs, 0, sizeof regs);
	CHECK(cfg->clients > 0 && cfg->clients <= GEN_CLIENTS_MAX);
	CHECK(cfg->keys > 0 && cfg->keys <= GEN_KEYS_MAX);

	for (size_t i = 0; i < cfg->ops; i++) {
		uint32_t c = 0; /* the client idle longest goes next */
		for (uint32_t j = 1; j < cfg->clients; j++)
			if (free_at[j] < free_at[c])
				c = j;
		uint32_t k = (uint32_t)rp_prng_below(p, cfg->keys);
		uint64_t t0 = free_at[c] + rp_prng_range(p, 0, 30);
		uint64_t lin = t0 + rp_prng_range(p, 0, 60);
		uint64_t t1 = lin + rp_prng_range(p, 0, 60);
		uint64_t roll = rp_prng_below(p, 100);
		lc_kind kind = roll < 35   ? LC_GET
			       : roll < 60 ? LC_SET
			       : roll < 75 ? LC_CAS
			       : roll < 85 ? LC_DEL
					   : LC_INCR;
		lc_op op = op_base(c, GEN_KEY_BASE + k, kind, t0, t1);
		uint64_t fresh =
		    cfg->value_max ? rp_prng_range(p, 1, cfg->value_max) : next_value++;
		if (kind == LC_SET)
			op.value = fresh;
		if (kind == LC_CAS) {
			op.expect_present = rp_prng_chance_ppm(p, 850000);
			op.expect = rp_prng_chance_ppm(p, 700000)
					? recent[k]
					: rp_prng_range(p, 1, next_value);
			op.value = fresh;
		}
		if (kind == LC_INCR)
			op.value = rp_prng_range(p, 1, 5);
		if (kind == LC_SET || kind == LC_CAS)
			recent[k] = op.value;

		bool applies = true;
		uint32_t r = (uint32_t)rp_prng_below(p, 1000000);
		if (r < cfg->info_ppm) {
			op.status = LC_STATUS_INFO;
			applies = rp_prng_chance_ppm(p, 500000);
			lin = t0 + rp_prng_range(p, 0, 400);
			free_at[c] = t0 + rp_prng_range(p, 1, 100); /* gave up waiting */
		} else if (r < cfg->info_ppm + cfg->fail_ppm) {
			op.status = LC_STATUS_FAIL;
			applies = false;
			free_at[c] = t1 + 1;
		} else {
			free_at[c] = t1 + rp_prng_range(p, 1, 20);
		}
		ops[i] = op;
		points[i].lin_us = lin;
		points[i].index = (uint32_t)i;
		points[i].applies = applies;
	}

	qsort(points, cfg->ops, sizeof *points, gen_point_cmp);
	for (size_t i = 0; i < cfg->ops; i++) {
		lc_op *op = &ops[points[i].index];
		if (points[i].applies)
			gen_apply(&regs[op->key - GEN_KEY_BASE], op);
		if (op->status != LC_STATUS_OK) { /* outputs unknown */
			op->found = true;
			op->out = 0xdeadbeef;
			op->success = true;
		}
	}

	for (size_t i = cfg->ops; i > 1; i--) {
		size_t j = (size_t)rp_prng_below(p, i);
		lc_op tmp = ops[i - 1];
		ops[i - 1] = ops[j];
		ops[j] = tmp;
	}
}

/* Index of a random OK GET, or n if there is none. */
static size_t pick_ok_get(rp_prng *p, const lc_op *ops, size_t n)
{
	size_t gets = 0;
	for (size_t i = 0; i < n; i++)
		gets += ops[i].kind == LC_GET && ops[i].status == LC_STATUS_OK;
	if (gets == 0)
		return n;
	uint64_t want = rp_prng_below(p, gets);
	for (size_t i = 0; i < n; i++) {
		if (ops[i].kind != LC_GET || ops[i].status != LC_STATUS_OK)
			continue;
		if (want-- == 0)
			return i;
	}
	return n;
}

static double now_ms(void)
{
	struct timespec ts;
	CHECK(timespec_get(&ts, TIME_UTC) == TIME_UTC);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

TEST(generated_histories_pass_and_mutants_fail)
{
	enum { SEEDS = 300, OPS_MAX = 300 };
	/* static: a failed CHECK longjmps out, and must not leak */
	static lc_op ops[OPS_MAX];
	static gen_point points[OPS_MAX];
	size_t mutants = 0;
	size_t states_pass = 0, states_fail = 0;
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		rp_prng p;
		rp_prng_init(&p, seed);
		gen_cfg cfg = {
		    .clients = (uint32_t)rp_prng_range(&p, 2, 8),
		    .keys = (uint32_t)rp_prng_range(&p, 1, 4),
		    .ops = (size_t)rp_prng_range(&p, 20, OPS_MAX),
		    .info_ppm = 40000,
		    .fail_ppm = 40000,
		};
		gen_history(&p, &cfg, ops, points);
		lc_result r = check(ops, cfg.ops);
		if (!r.linearizable || r.exhausted) {
			printf("    seed %llu\n", (unsigned long long)seed);
			lc_print_key_history(stdout, ops, cfg.ops, r.bad_key);
		}
		CHECK(r.linearizable);
		CHECK(!r.exhausted);
		states_pass += r.states_explored;

		size_t g = pick_ok_get(&p, ops, cfg.ops);
		if (g == cfg.ops)
			continue;
		ops[g].found = true;
		ops[g].out = NEVER_WRITTEN + seed;
		r = check(ops, cfg.ops);
		CHECK(!r.exhausted);
		CHECK(!r.linearizable);
		CHECK_EQ(r.bad_key, ops[g].key);
		states_fail += r.states_explored;
		mutants++;
	}
	CHECK(mutants > SEEDS * 9 / 10);
	printf("    %d histories, %zu mutants; states: %zu passing, %zu failing\n", SEEDS,
	       mutants, states_pass, states_fail);
}

TEST(generated_hot_key_histories_pass_and_mutants_fail)
{
	/* Ten clients on one key with few distinct values: the search has
	 * real choices to make, and a failing history has many orders to rule
	 * out. */
	enum { SEEDS = 40, OPS = 400 };
	static lc_op ops[OPS];
	static gen_point points[OPS];
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		rp_prng p;
		rp_prng_init(&p, 1000 + seed);
		gen_cfg cfg = {
		    .clients = 10,
		    .keys = 1,
		    .ops = OPS,
		    .info_ppm = seed % 2 ? 20000 : 0,
		    .fail_ppm = 20000,
		    .value_max = 4,
		};
		gen_history(&p, &cfg, ops, points);
		lc_result r = check(ops, cfg.ops);
		CHECK(r.linearizable);
		CHECK(!r.exhausted);
		size_t g = pick_ok_get(&p, ops, cfg.ops);
		CHECK(g < cfg.ops);
		ops[g].found = true;
		ops[g].out = NEVER_WRITTEN;
		r = check(ops, cfg.ops);
		CHECK(!r.exhausted);
		CHECK(!r.linearizable);
	}
}

TEST(performance_2000_ops_10_keys_10_clients)
{
	enum { OPS = 2000 };
	static lc_op ops[OPS];
	static gen_point points[OPS];
	rp_prng p;
	rp_prng_init(&p, 2024);
	gen_cfg cfg = {
	    .clients = 10, .keys = 10, .ops = OPS, .info_ppm = 20000, .fail_ppm = 20000};
	gen_history(&p, &cfg, ops, points);

	double t0 = now_ms();
	lc_result r = check(ops, OPS);
	double t1 = now_ms();
	CHECK(r.linearizable);
	CHECK(!r.exhausted);
	printf("    pass: %.2f ms, %zu states, %zu ops on %zu keys\n", t1 - t0,
	       r.states_explored, r.ops_checked, r.keys_checked);

	size_t g = pick_ok_get(&p, ops, OPS);
	CHECK(g < OPS);
	ops[g].found = true;
	ops[g].out = NEVER_WRITTEN;
	t0 = now_ms();
	r = check(ops, OPS);
	t1 = now_ms();
	CHECK(!r.linearizable);
	printf("    mutant: %.2f ms, %zu states\n", t1 - t0, r.states_explored);

	/* The same load on one hot key with 20 clients. */
	rp_prng_init(&p, 2025);
	cfg.clients = 20;
	cfg.keys = 1;
	gen_history(&p, &cfg, ops, points);
	t0 = now_ms();
	r = check(ops, OPS);
	t1 = now_ms();
	CHECK(r.linearizable);
	CHECK(!r.exhausted);
	printf("    one key, 20 clients: %.2f ms, %zu states\n", t1 - t0,
	       r.states_explored);
}

/* ---- agreement with brute force ------------------------------------------------- */

/* The definition, searched exhaustively: some order of all OK ops and any
 * subset of INFO ops, respecting real time, that the register explains. */
static bool brute_force(const lc_op *ops, size_t n, uint32_t placed, gen_register r)
{
	bool all_ok = true;
	for (size_t i = 0; i < n; i++)
		if (!((placed >> i) & 1u) && ops[i].status == LC_STATUS_OK)
			all_ok = false;
	if (all_ok)
		return true;
	for (size_t i = 0; i < n; i++) {
		if (((placed >> i) & 1u) || ops[i].status == LC_STATUS_FAIL)
			continue;
		bool blocked = false;
		for (size_t j = 0; j < n; j++)
			if (j != i && !((placed >> j) & 1u) &&
			    ops[j].status == LC_STATUS_OK &&
			    ops[j].complete_us < ops[i].invoke_us)
				blocked = true;
		if (blocked)
			continue;
		lc_op mine = ops[i];
		gen_register next = r;
		gen_apply(&next, &mine);
		if (ops[i].status == LC_STATUS_OK) {
			const lc_op *o = &ops[i];
			bool same =
			    mine.found == o->found && (!o->found || mine.out == o->out);
			if (o->kind == LC_CAS)
				same = same && mine.success == o->success;
			if (o->kind == LC_INCR)
				same = mine.out == o->out;
			if (o->kind == LC_SET)
				same = true;
			if (!same)
				continue;
		}
		if (brute_force(ops, n, placed | (uint32_t)1 << i, next))
			return true;
	}
	return false;
}

TEST(agrees_with_brute_force_on_small_histories)
{
	enum { SEEDS = 4000, OPS_MAX = 8 };
	lc_op ops[OPS_MAX];
	gen_point points[OPS_MAX];
	int pass = 0, fail = 0;
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		rp_prng p;
		rp_prng_init(&p, 50000 + seed);
		gen_cfg cfg = {
		    .clients = (uint32_t)rp_prng_range(&p, 2, 4),
		    .keys = 1,
		    .ops = (size_t)rp_prng_range(&p, 3, OPS_MAX),
		    .info_ppm = 200000,
		    .fail_ppm = 50000,
		    .value_max = 3,
		};
		size_t n = cfg.ops;
		gen_history(&p, &cfg, ops, points);
		/* Perturb some outputs so that about half the histories fail. */
		for (size_t i = 0; i < n; i++) {
			if (!rp_prng_chance_ppm(&p, 150000))
				continue;
			ops[i].found = !ops[i].found;
			ops[i].out = rp_prng_below(&p, 4);
			ops[i].success = rp_prng_chance_ppm(&p, 500000);
		}
		gen_register empty = {false, 0};
		bool want = brute_force(ops, n, 0, empty);
		lc_result r = check(ops, n);
		if (r.linearizable != want) {
			printf("    seed %llu: brute force %d, lc_check %d\n",
			       (unsigned long long)seed, want, r.linearizable);
			lc_print_key_history(stdout, ops, n, GEN_KEY_BASE);
		}
		CHECK_EQ(r.linearizable, want);
		pass += want;
		fail += !want;
	}
	printf("    %d linearizable, %d not\n", pass, fail);
	CHECK(pass > SEEDS / 5);
	CHECK(fail > SEEDS / 5);
}

TEST_MAIN()
