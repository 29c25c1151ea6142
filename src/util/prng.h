/*
 * prng.h — a small, fast, seedable PRNG (xoshiro256** seeded by
 * splitmix64).  Deterministic across platforms: the simulator's seeds
 * replay exactly because every random choice comes from here.
 */
#ifndef RASPUTIN_UTIL_PRNG_H
#define RASPUTIN_UTIL_PRNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint64_t s[4];
} rp_prng;

void rp_prng_init(rp_prng *prng, uint64_t seed);
uint64_t rp_prng_next(rp_prng *prng);
/* Uniform in [0, bound); bound > 0. */
uint64_t rp_prng_below(rp_prng *prng, uint64_t bound);
/* Uniform in [lo, hi]; lo <= hi. */
uint64_t rp_prng_range(rp_prng *prng, uint64_t lo, uint64_t hi);
/* True with probability ppm / 1,000,000. */
bool rp_prng_chance_ppm(rp_prng *prng, uint32_t ppm);

#endif
