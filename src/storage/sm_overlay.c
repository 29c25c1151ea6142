/*
 * sm_overlay.c — see sm_overlay.h.
 *
 * Records sit back to back in the arena: a header (key size, value size,
 * family, delete flag) then the key and the value.  A slot holds a key's
 * hash and the offset of its newest record; a second write of the same
 * key appends a record and moves the slot (the old record stays as
 * garbage until the clear).  A slot is in use only if its generation is
 * the table's: a clear bumps the generation instead of wiping the slots.
 */
#include "storage/sm_overlay.h"

#include <stdlib.h>
#include <string.h>

#include "storage/sm_cmd.h"
#include "util/check.h"
#include "util/err.h"
#include "util/hash.h"

enum {
	OV_SLOTS_MIN = 64,	 /* a power of two */
	OV_SLOTS_KEEP = 4096,	 /* a clear shrinks a larger table to OV_SLOTS_MIN */
	OV_ARENA_KEEP = 1 << 20, /* a clear frees a larger arena */
};

typedef struct {
	uint64_t hash;
	uint64_t off; /* of the newest record */
	uint32_t gen; /* in use iff == the table's */
} ov_slot;

typedef struct {
	uint32_t key_size;
	uint32_t value_size;
	uint8_t cf;
	uint8_t del;
} ov_rec;

struct sm_overlay {
	uint64_t seed;
	ov_slot *slots;
	uint64_t slot_count; /* a power of two; 0 until the first put */
	uint64_t used;	     /* slots in use: keys written since the last clear */
	uint32_t gen;	     /* never 0 */
	sm_buf arena;	     /* the records */
};

sm_overlay *sm_overlay_create(uint64_t seed)
{
	sm_overlay *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return NULL;
	o->seed = rp_mix64(seed ^ UINT64_C(0x2545f4914f6cdd1d));
	o->gen = 1;
	return o;
}

void sm_overlay_destroy(sm_overlay *o)
{
	if (o == NULL)
		return;
	free(o->slots);
	sm_buf_deinit(&o->arena);
	free(o);
}

static uint64_t key_hash(const sm_overlay *o, uint8_t cf, const uint8_t *key,
			 size_t key_size)
{
	return rp_hash64(o->seed ^ ((uint64_t)cf << 56), key, key_size);
}

static ov_rec rec_at(const sm_overlay *o, uint64_t off)
{
	ov_rec r;
	memcpy(&r, o->arena.data + off, sizeof(r));
	return r;
}

/* The slot of (cf, key), or the empty slot where it would go. */
static ov_slot *probe(const sm_overlay *o, uint64_t h, uint8_t cf, const uint8_t *key,
		      size_t key_size)
{
	uint64_t mask = o->slot_count - 1;
	for (uint64_t i = h & mask;; i = (i + 1) & mask) {
		ov_slot *s = &o->slots[i];
		if (s->gen != o->gen)
			return s;
		if (s->hash != h)
			continue;
		ov_rec r = rec_at(o, s->off);
		if (r.cf == cf && r.key_size == key_size &&
		    (key_size == 0 ||
		     memcmp(o->arena.data + s->off + sizeof(r), key, key_size) == 0))
			return s;
	}
}

/* A table of n slots holding every slot in use of the current one. */
static int rehash(sm_overlay *o, uint64_t n)
{
	ov_slot *fresh = calloc(n, sizeof(*fresh));
	if (fresh == NULL)
		return RP_ERR_NOMEM;
	for (uint64_t i = 0; i < o->slot_count; i++) {
		const ov_slot *s = &o->slots[i];
		if (s->gen != o->gen)
			continue;
		uint64_t j = s->hash & (n - 1);
		while (fresh[j].gen == o->gen)
			j = (j + 1) & (n - 1);
		fresh[j] = *s;
	}
	free(o->slots);
	o->slots = fresh;
	o->slot_count = n;
	return RP_OK;
}

int sm_overlay_put(sm_overlay *o, uint8_t cf, const uint8_t *key, size_t key_size,
		   const uint8_t *value, size_t value_size, bool del)
{
	if (del)
		value_size = 0;
	if (key_size > UINT32_MAX || value_size > UINT32_MAX)
		return RP_ERR_NOMEM;
	/* Keep at least half the slots free (the probes stay short). */
	if ((o->used + 1) * 2 > o->slot_count) {
		int rc = rehash(o, o->slot_count ? o->slot_count * 2 : OV_SLOTS_MIN);
		if (rc != RP_OK)
			return rc;
	}
	int rc = sm_buf_reserve(&o->arena, sizeof(ov_rec) + key_size + value_size);
	if (rc != RP_OK)
		return rc;
	uint64_t off = o->arena.size;
	ov_rec r = {(uint32_t)key_size, (uint32_t)value_size, cf, del ? 1 : 0};
	/* cannot fail now: the room is there */
	(void)sm_buf_append(&o->arena, &r, sizeof(r));
	(void)sm_buf_append(&o->arena, key, key_size);
	(void)sm_buf_append(&o->arena, value, value_size);
	uint64_t h = key_hash(o, cf, key, key_size);
	ov_slot *s = probe(o, h, cf, key, key_size);
	if (s->gen != o->gen) {
		s->gen = o->gen;
		s->hash = h;
		o->used++;
	}
	s->off = off; /* probe compared keys in the arena: move only now */
	return RP_OK;
}

bool sm_overlay_find(const sm_overlay *o, uint8_t cf, const uint8_t *key, size_t key_size,
		     const uint8_t **value, size_t *value_size, bool *deleted)
{
	if (o->used == 0)
		return false;
	const ov_slot *s = probe(o, key_hash(o, cf, key, key_size), cf, key, key_size);
	if (s->gen != o->gen)
		return false;
	ov_rec r = rec_at(o, s->off);
	*deleted = r.del != 0;
	*value = o->arena.data + s->off + sizeof(r) + r.key_size;
	*value_size = r.value_size;
	return true;
}

void sm_overlay_each(const sm_overlay *o, sm_overlay_fn fn, void *ctx)
{
	for (uint64_t i = 0; i < o->slot_count; i++) {
		const ov_slot *s = &o->slots[i];
		if (s->gen != o->gen)
			continue;
		ov_rec r = rec_at(o, s->off);
		const uint8_t *key = o->arena.data + s->off + sizeof(r);
		fn(ctx, r.cf, key, r.key_size, r.del ? NULL : key + r.key_size, r.value_size,
		   r.del != 0);
	}
}

uint64_t sm_overlay_keys(const sm_overlay *o)
{
	return o->used;
}

void sm_overlay_clear(sm_overlay *o)
{
	o->used = 0;
	o->arena.size = 0;
	if (o->arena.cap > OV_ARENA_KEEP)
		sm_buf_deinit(&o->arena);
	if (o->slot_count > OV_SLOTS_KEEP) {
		free(o->slots);
		o->slots = NULL;
		o->slot_count = 0;
		o->gen = 1;
		return;
	}
	if (++o->gen == 0) {
		/* Wrapped: slots of generation 1 could look in use again. */
		if (o->slot_count)
			memset(o->slots, 0, o->slot_count * sizeof(*o->slots));
		o->gen = 1;
	}
}

uint64_t sm_overlay_bytes(const sm_overlay *o)
{
	return o->slot_count * sizeof(ov_slot) + o->arena.cap;
}
