/*
 * hash.h — a seeded 64-bit hash of byte strings for in-memory hash tables
 * (the value cache, a batch's key index).  Not for anything on disk or on
 * the wire: the seed is random per process, so that keys chosen by a
 * client cannot be made to collide.
 */
#ifndef RASPUTIN_UTIL_HASH_H
#define RASPUTIN_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A finaliser: every input bit moves about half of the output bits. */
uint64_t rp_mix64(uint64_t x);

/* The hash of size_bytes at data (data may be NULL when size_bytes is 0). */
uint64_t rp_hash64(uint64_t seed, const void *data, size_t size_bytes);

/* A seed from the kernel's random source (getrandom), or, should that
 * fail, from the clock and an address. */
uint64_t rp_hash_seed(void);

#endif
