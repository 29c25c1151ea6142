/*
 * hash.c — see hash.h.  Eight bytes at a time: each word is multiplied in,
 * rotated and multiplied again, then the result is finalised with
 * rp_mix64.
 */
#define _GNU_SOURCE

#include "util/hash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint64_t rotl64(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

uint64_t rp_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

uint64_t rp_hash64(uint64_t seed, const void *data, size_t size_bytes)
{
	const uint64_t k1 = UINT64_C(0x9e3779b97f4a7c15);
	const uint64_t k2 = UINT64_C(0xbf58476d1ce4e5b9);
	const uint8_t *p = data;
	size_t n = size_bytes;
	uint64_t h = seed ^ ((uint64_t)n * k1);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = rotl64(h ^ (w * k1), 29) * k2;
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	if (n > 0)
		memcpy(&w, p, n);
	h = rotl64(h ^ (w * k1), 29) * k2;
	return rp_mix64(h);
}

uint64_t rp_hash_seed(void)
{
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return rp_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
			(uint64_t)(uintptr_t)&seed);
}
