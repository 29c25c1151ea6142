/*
 * sm_overlay.h — a batch of writes, by key: the RocksDB store's open
 * batch, and its queue of committed ones on their way to RocksDB
 * (sm_rocks.c), which reads look in before the database.  For each
 * (family, key) it keeps the newest value written, or that the newest
 * write was a delete.
 *
 * A hash table (open addressing, seeded hash) over an arena that holds
 * one record per write; sm_overlay_clear forgets everything at once and
 * gives back what a large batch made it hold.  Not thread-safe.
 */
#ifndef RASPUTIN_STORAGE_SM_OVERLAY_H
#define RASPUTIN_STORAGE_SM_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sm_overlay sm_overlay;

/* NULL without memory.  seed: rp_hash_seed() (a fixed one in tests). */
sm_overlay *sm_overlay_create(uint64_t seed);
void sm_overlay_destroy(sm_overlay *o);

/* A clear frees the table or the arena when it holds more than bytes
 * (1 MiB unless set): what an overlay that is cleared often keeps. */
void sm_overlay_set_keep(sm_overlay *o, uint64_t bytes);

/* Records a write of key in family cf: value (value_size bytes; NULL when
 * value_size is 0) or, with del, a delete.  RP_OK, or RP_ERR_NOMEM with
 * nothing recorded. */
int sm_overlay_put(sm_overlay *o, uint8_t cf, const uint8_t *key, size_t key_size,
		   const uint8_t *value, size_t value_size, bool del);

/* Whether the batch wrote key in cf.  If so, *deleted says whether its
 * newest write was a delete, and otherwise *value and *value_size give
 * that value, valid until the next put or clear. */
bool sm_overlay_find(const sm_overlay *o, uint8_t cf, const uint8_t *key, size_t key_size,
		     const uint8_t **value, size_t *value_size, bool *deleted);

/* Keys (family and key) written since the last clear. */
uint64_t sm_overlay_keys(const sm_overlay *o);

/* Calls fn once per key written since the last clear, with its newest
 * write (value_size 0 when del), in the order of each key's newest
 * record, until fn returns non-zero; returns that, or 0.  fn must not
 * change o. */
typedef int (*sm_overlay_fn)(void *ctx, uint8_t cf, const uint8_t *key, size_t key_size,
			     const uint8_t *value, size_t value_size, bool del);
int sm_overlay_each(const sm_overlay *o, sm_overlay_fn fn, void *ctx);

/* Writes src's newest writes into dst, as if each were put there after
 * what dst holds.  RP_OK, or RP_ERR_NOMEM with part of src recorded. */
int sm_overlay_merge(sm_overlay *dst, const sm_overlay *src);

/* Forgets every write (after the batch's commit or abort). */
void sm_overlay_clear(sm_overlay *o);

/* Bytes of records written since the last clear (a key written again
 * in place adds none). */
uint64_t sm_overlay_record_bytes(const sm_overlay *o);

/* Bytes held now (table and arena), for tests of the bound. */
uint64_t sm_overlay_bytes(const sm_overlay *o);

#endif
