/* prng.c — xoshiro256** with splitmix64 seeding (public-domain algorithms). */
#include "util/prng.h"

#include "util/check.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rp_prng_init(rp_prng *prng, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		prng->s[i] = splitmix64(&x);
}

uint64_t rp_prng_next(rp_prng *prng)
{
	uint64_t *s = prng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t rp_prng_below(rp_prng *prng, uint64_t bound)
{
	RP_CHECK(bound > 0);
	/* Rejection sampling keeps the distribution exactly uniform. */
	uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
	uint64_t r;
	do {
		r = rp_prng_next(prng);
	} while (r >= limit);
	return r % bound;
}

uint64_t rp_prng_range(rp_prng *prng, uint64_t lo, uint64_t hi)
{
	RP_CHECK(lo <= hi);
	if (lo == 0 && hi == UINT64_MAX)
		return rp_prng_next(prng);
	return lo + rp_prng_below(prng, hi - lo + 1);
}

bool rp_prng_chance_ppm(rp_prng *prng, uint32_t ppm)
{
	return rp_prng_below(prng, 1000000) < ppm;
}
