/*
 * sm_overlay.h — the writes of an open batch, by key (sm_rocks.c): what
 * lets a read inside an apply see the batch's own writes, and what the
 * store's batch is built from at commit.  For each (family, key) it keeps
 * the newest value written, or that the newest write was a delete, so a
 * batch that sets one key many times writes it to the store once.
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

/* Calls fn once for each (family, key) written since the last clear,
 * with its newest write (value NULL and del true for a delete), in no
 * particular order: what the store's batch must hold, each superseded
 * write left out.  key and value are valid for the call; fn must not
 * change o. */
typedef void (*sm_overlay_fn)(void *ctx, uint8_t cf, const uint8_t *key, size_t key_size,
			      const uint8_t *value, size_t value_size, bool del);
void sm_overlay_each(const sm_overlay *o, sm_overlay_fn fn, void *ctx);

/* Keys (family and key) written since the last clear. */
uint64_t sm_overlay_keys(const sm_overlay *o);

/* Forgets every write (after the batch's commit or abort). */
void sm_overlay_clear(sm_overlay *o);

/* Bytes held now (table and arena), for tests of the bound. */
uint64_t sm_overlay_bytes(const sm_overlay *o);

#endif
