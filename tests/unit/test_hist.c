/*
 * test_hist.c — the latency histogram: buckets tile the value range with
 * no gap or overlap, every percentile is within 1/16 above the exact one
 * (checked against a sorted copy of random samples), and merging equals
 * recording everything into one histogram.
 */
#include <stdlib.h>

#include "test.h"
#include "util/hist.h"
#include "util/prng.h"

TEST(buckets_tile_the_range)
{
	CHECK_EQ(rp_hist_bucket_low(0), 0);
	for (uint32_t b = 0; b + 1 < RP_HIST_BUCKETS; b++) {
		uint64_t lo = rp_hist_bucket_low(b), hi = rp_hist_bucket_high(b);
		CHECK(lo <= hi);
		CHECK_EQ(rp_hist_bucket_low(b + 1), hi + 1);
		CHECK_EQ(rp_hist_bucket(lo), b);
		CHECK_EQ(rp_hist_bucket(hi), b);
		/* a bucket is never wider than 1/16 of its lowest value */
		if (lo >= 16)
			CHECK((hi - lo + 1) * 16 <= lo);
		else
			CHECK_EQ(hi, lo);
	}
	CHECK_EQ(rp_hist_bucket_high(RP_HIST_BUCKETS - 1), UINT64_MAX);
	CHECK_EQ(rp_hist_bucket(((uint64_t)1 << 32) - 1), RP_HIST_BUCKETS - 1);
	CHECK_EQ(rp_hist_bucket((uint64_t)1 << 32), RP_HIST_BUCKETS - 1);
	CHECK_EQ(rp_hist_bucket(UINT64_MAX), RP_HIST_BUCKETS - 1);
	/* one hour in microseconds has a bucket of its own, below the last */
	CHECK(rp_hist_bucket(3600ull * 1000 * 1000) < RP_HIST_BUCKETS - 1);
}

TEST(empty_and_single_values)
{
	rp_hist h;
	rp_hist_init(&h);
	CHECK_EQ(rp_hist_percentile(&h, 50), 0);
	CHECK_EQ(rp_hist_percentile(&h, 100), 0);
	rp_hist_record(&h, 7);
	CHECK_EQ(rp_hist_percentile(&h, 0), 7);
	CHECK_EQ(rp_hist_percentile(&h, 99.9), 7);
	rp_hist_record(&h, 1000);
	CHECK_EQ(h.count, 2);
	CHECK_EQ(h.sum, 1007);
	CHECK_EQ(h.max, 1000);
	CHECK_EQ(rp_hist_percentile(&h, 50), 7);
	/* capped at max although the bucket reaches higher */
	CHECK_EQ(rp_hist_percentile(&h, 50.1), 1000);
	CHECK_EQ(rp_hist_percentile(&h, 100), 1000);
	CHECK_EQ(rp_hist_percentile(&h, 1000), 1000); /* clamped */
	CHECK_EQ(rp_hist_percentile(&h, -5), 7);
	/* values above the bucketed range keep their max */
	rp_hist_record(&h, UINT64_MAX / 2);
	CHECK_EQ(rp_hist_percentile(&h, 100), UINT64_MAX / 2);
	rp_hist_record(&h, UINT64_MAX / 2);
	CHECK_EQ(h.sum, UINT64_MAX); /* saturated */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

TEST(percentiles_within_one_sixteenth_of_exact)
{
	enum { N = 20000 };
	uint64_t *v = malloc(N * sizeof(*v));
	rp_prng r;
	rp_prng_init(&r, 5);
	rp_hist h;
	rp_hist_init(&h);
	for (int i = 0; i < N; i++) {
		/* log-uniform over 1 us .. ~1 hour */
		uint32_t bits = (uint32_t)rp_prng_below(&r, 32);
		v[i] = rp_prng_below(&r, (uint64_t)1 << bits) + ((uint64_t)1 << bits) / 2;
		rp_hist_record(&h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	const double ps[] = {0, 1, 10, 50, 90, 99, 99.9, 99.99, 100};
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		size_t rank = (size_t)(ps[i] / 100.0 * N + 0.999999);
		if (rank == 0)
			rank = 1;
		uint64_t exact = v[rank - 1];
		uint64_t got = rp_hist_percentile(&h, ps[i]);
		CHECK(got >= exact);
		CHECK(got - exact <= exact / 16);
	}
	CHECK_EQ(rp_hist_percentile(&h, 100), v[N - 1]);
	free(v);
}

TEST(merge_equals_recording_into_one)
{
	rp_hist a, b, all;
	rp_hist_init(&a);
	rp_hist_init(&b);
	rp_hist_init(&all);
	rp_prng r;
	rp_prng_init(&r, 9);
	for (int i = 0; i < 5000; i++) {
		uint64_t x = rp_prng_below(&r, 1000000);
		rp_hist_record(i % 3 ? &a : &b, x);
		rp_hist_record(&all, x);
	}
	rp_hist_merge(&a, &b);
	CHECK(memcmp(&a, &all, sizeof(a)) == 0);
	rp_hist empty;
	rp_hist_init(&empty);
	rp_hist_merge(&a, &empty);
	CHECK(memcmp(&a, &all, sizeof(a)) == 0);
}

TEST_MAIN()
