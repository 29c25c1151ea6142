/* test_prng.c — the PRNG is deterministic and its bounded draws stay in range. */
#include "test.h"
#include "util/prng.h"

TEST(same_seed_same_stream)
{
	rp_prng a, b;
	rp_prng_init(&a, 42);
	rp_prng_init(&b, 42);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ(rp_prng_next(&a), rp_prng_next(&b));
}

TEST(different_seed_different_stream)
{
	rp_prng a, b;
	rp_prng_init(&a, 1);
	rp_prng_init(&b, 2);
	int same = 0;
	for (int i = 0; i < 100; i++)
		same += rp_prng_next(&a) == rp_prng_next(&b);
	CHECK(same < 3);
}

TEST(below_stays_in_range_and_covers_it)
{
	rp_prng p;
	rp_prng_init(&p, 7);
	int seen[10] = {0};
	for (int i = 0; i < 10000; i++) {
		uint64_t v = rp_prng_below(&p, 10);
		CHECK(v < 10);
		seen[v]++;
	}
	for (int i = 0; i < 10; i++)
		CHECK(seen[i] > 800 && seen[i] < 1200);
}

TEST(range_is_inclusive)
{
	rp_prng p;
	rp_prng_init(&p, 9);
	int lo = 0, hi = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t v = rp_prng_range(&p, 5, 6);
		CHECK(v == 5 || v == 6);
		lo += v == 5;
		hi += v == 6;
	}
	CHECK(lo > 0 && hi > 0);
}

TEST_MAIN()
