/*
 * sm_vcache.h — a bounded cache of the data map's values in front of the
 * store, for point reads (GET, MGET, EXISTS, and the reads inside CAS,
 * INCR and APPEND).  A RocksDB lookup walks the memtable's skip list and
 * the block cache; on a read-heavy load that walk was the largest cost of
 * the leader after the socket calls (docs/performance.md, "The value
 * cache").  A hit here is one hash and one key compare.
 *
 * What it holds: some keys, each with the value a store read would give
 * now (committed state plus the open batch, as sm_be's get sees it).
 * The state machine (sm.c) keeps that true:
 *  - a miss read from the store is put in with sm_vcache_fill;
 *  - every write of the data map goes through sm_vcache_put or
 *    sm_vcache_del before the store sees it (a cached key takes the new
 *    value, an uncached one stays out);
 *  - whenever the store's contents change some other way (an aborted
 *    batch, a snapshot installed) sm_vcache_clear empties it.
 * A key that is absent from the store is never cached; the cache only
 * ever says "this value" or "ask the store".
 *
 * Bounds: at most budget_bytes, counting keys, values, entry headers, the
 * allocator's per-block overhead and the bucket array.  A key and value
 * longer together than budget/16 (or 64 KiB) are not cached.  When full,
 * an insert evicts by CLOCK: a hit sets an entry's reference bit, the hand
 * clears bits and removes the first entry found without one.
 *
 * Single-threaded, like the sm that owns it.  A NULL cache (budget 0) is
 * accepted everywhere and caches nothing.
 */
#ifndef RASPUTIN_STORAGE_SM_VCACHE_H
#define RASPUTIN_STORAGE_SM_VCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sm_vcache sm_vcache;

enum { SM_VCACHE_BYTES_MIN = 1024 }; /* a smaller budget holds nothing */

typedef struct {
	uint64_t budget_bytes;
	uint64_t used_bytes; /* <= budget_bytes */
	uint64_t entries;
	uint64_t hits;
	uint64_t misses;
	uint64_t evictions;
} sm_vcache_stats;

/* A cache of at most budget_bytes, its hash keyed by seed (so that keys
 * chosen to collide on one process do not on another).  NULL if
 * budget_bytes is below SM_VCACHE_BYTES_MIN, or on no memory: then
 * nothing is cached.  Free with sm_vcache_destroy (accepts NULL). */
sm_vcache *sm_vcache_create(uint64_t budget_bytes, uint64_t seed);
void sm_vcache_destroy(sm_vcache *c);

/* The cached value of key: true and *value, *value_size (borrowed until the
 * next call that changes the cache), or false if not cached (a miss). */
bool sm_vcache_get(sm_vcache *c, const uint8_t *key, size_t key_size,
		   const uint8_t **value, size_t *value_size);

/* Caches the value a store read just returned for key (after a miss),
 * evicting others to make room.  Too large, or no memory: not cached. */
void sm_vcache_fill(sm_vcache *c, const uint8_t *key, size_t key_size,
		    const uint8_t *value, size_t value_size);

/* A write of key: if cached, it now holds value (or, if it cannot, is
 * dropped).  An uncached key stays uncached. */
void sm_vcache_put(sm_vcache *c, const uint8_t *key, size_t key_size,
		   const uint8_t *value, size_t value_size);

/* A delete of key: dropped if cached. */
void sm_vcache_del(sm_vcache *c, const uint8_t *key, size_t key_size);

/* Drops everything (the counters stay). */
void sm_vcache_clear(sm_vcache *c);

/* All zero for a NULL cache. */
void sm_vcache_stats_get(const sm_vcache *c, sm_vcache_stats *out);

#endif
