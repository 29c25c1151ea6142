/*
 * sm_vcache.c — the value cache (sm_vcache.h): a chained hash table whose
 * entries also sit on one ring that the CLOCK hand walks to evict.
 *
 * Every entry is one allocation: header, key, value.  The bytes counted
 * against the budget are the entry's (with the allocator's overhead) plus
 * the bucket array; the table doubles when it holds more entries than
 * buckets, evicting first if the larger array would not fit.
 */
#include "storage/sm_vcache.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/hash.h"

enum {
	VC_BUCKETS_MIN = 16,
	VC_MALLOC_OVERHEAD = 16,  /* glibc's per-block header, rounded up */
	VC_ENTRY_MAX = 64 * 1024, /* key + value */
};

typedef struct vc_ent {
	struct vc_ent *chain;	    /* next in the same bucket */
	struct vc_ent *prev, *next; /* the ring; an entry alone points at itself */
	uint64_t hash;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t cost;	 /* what it counts against the budget */
	bool ref;	 /* hit since the hand last passed */
	uint8_t bytes[]; /* key, then value */
} vc_ent;

struct sm_vcache {
	uint64_t budget;
	uint64_t used; /* entries' costs + the bucket array; <= budget */
	uint64_t seed;
	uint64_t entry_max; /* key + value bytes of the largest entry kept */
	vc_ent **buckets;
	uint64_t bucket_count; /* a power of two */
	uint64_t entries;
	vc_ent *hand; /* NULL iff entries == 0 */
	uint64_t hits, misses, evictions;
};

/* --- the table and the ring --------------------------------------------------- */

static uint64_t array_cost(uint64_t buckets)
{
	return buckets * sizeof(vc_ent *);
}

static uint64_t ent_cost(size_t key_size, size_t value_size)
{
	return sizeof(vc_ent) + key_size + value_size + VC_MALLOC_OVERHEAD;
}

/* The link that points at key's entry (or at the NULL ending its chain). */
static vc_ent **find_link(sm_vcache *c, uint64_t h, const uint8_t *key, size_t key_size)
{
	vc_ent **link = &c->buckets[h & (c->bucket_count - 1)];
	while (*link != NULL) {
		vc_ent *e = *link;
		if (e->hash == h && e->key_size == key_size &&
		    (key_size == 0 || memcmp(e->bytes, key, key_size) == 0))
			return link;
		link = &e->chain;
	}
	return link;
}

static void ring_insert(sm_vcache *c, vc_ent *e)
{
	if (c->hand == NULL) {
		e->prev = e->next = e;
		c->hand = e;
		return;
	}
	/* Just behind the hand: the last the hand reaches. */
	e->next = c->hand;
	e->prev = c->hand->prev;
	e->prev->next = e;
	c->hand->prev = e;
}

static void ring_remove(sm_vcache *c, vc_ent *e)
{
	if (e->next == e) {
		RP_CHECK(c->hand == e);
		c->hand = NULL;
		return;
	}
	if (c->hand == e)
		c->hand = e->next;
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

/* Unlinks the entry *link points at and frees it. */
static void remove_at(sm_vcache *c, vc_ent **link)
{
	vc_ent *e = *link;
	*link = e->chain;
	ring_remove(c, e);
	RP_CHECK(c->used >= e->cost);
	RP_CHECK(c->entries > 0);
	c->used -= e->cost;
	c->entries--;
	free(e);
}

static void remove_ent(sm_vcache *c, vc_ent *e)
{
	vc_ent **link = &c->buckets[e->hash & (c->bucket_count - 1)];
	while (*link != e) {
		RP_CHECK(*link != NULL); /* every entry is on its bucket's chain */
		link = &(*link)->chain;
	}
	remove_at(c, link);
}

/* Evicts until need more bytes fit, or nothing is left to evict. */
static void make_room(sm_vcache *c, uint64_t need)
{
	/* Two turns of the hand at most: the first clears every bit. */
	while (c->hand != NULL && c->used + need > c->budget) {
		vc_ent *e = c->hand;
		if (e->ref) {
			e->ref = false;
			c->hand = e->next;
			continue;
		}
		remove_ent(c, e);
		c->evictions++;
	}
}

/* Before an entry of cost bytes goes in: doubles the bucket array if it
 * would then hold more entries than buckets, evicting to make room for
 * both.  Stays as it is if the larger array does not fit or cannot be
 * had (the chains grow longer; lookups stay correct). */
static void maybe_grow(sm_vcache *c, uint64_t cost)
{
	if (c->entries + 1 <= c->bucket_count)
		return;
	uint64_t n = c->bucket_count * 2;
	uint64_t more = array_cost(n) - array_cost(c->bucket_count);
	if (more > c->budget / 4)
		return; /* the array stays a small part of the budget */
	make_room(c, more + cost);
	if (c->used + more + cost > c->budget)
		return;
	vc_ent **b = calloc(n, sizeof(*b));
	if (b == NULL)
		return;
	for (uint64_t i = 0; i < c->bucket_count; i++) {
		vc_ent *e = c->buckets[i];
		while (e != NULL) {
			vc_ent *next = e->chain;
			vc_ent **head = &b[e->hash & (n - 1)];
			e->chain = *head;
			*head = e;
			e = next;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->bucket_count = n;
	c->used += more;
}

/* A new entry for key (not in the table) and value, at the head of its
 * bucket; NULL if it does not fit. */
static vc_ent *insert(sm_vcache *c, uint64_t h, const uint8_t *key, size_t key_size,
		      const uint8_t *value, size_t value_size)
{
	if (key_size + value_size > c->entry_max)
		return NULL; /* also bounds cost far below the budget */
	uint64_t cost = ent_cost(key_size, value_size);
	maybe_grow(c, cost);
	make_room(c, cost);
	if (c->used + cost > c->budget)
		return NULL;
	vc_ent *e = malloc(sizeof(vc_ent) + key_size + value_size);
	if (e == NULL)
		return NULL;
	vc_ent **head = &c->buckets[h & (c->bucket_count - 1)];
	e->chain = *head;
	e->hash = h;
	e->key_size = (uint32_t)key_size;
	e->value_size = (uint32_t)value_size;
	e->cost = (uint32_t)cost;
	e->ref = false;
	if (key_size > 0)
		memcpy(e->bytes, key, key_size);
	if (value_size > 0)
		memcpy(e->bytes + key_size, value, value_size);
	*head = e;
	ring_insert(c, e);
	c->used += cost;
	c->entries++;
	RP_CHECK(c->used <= c->budget);
	return e;
}

/* --- the interface ---------------------------------------------------------------- */

sm_vcache *sm_vcache_create(uint64_t budget_bytes, uint64_t seed)
{
	if (budget_bytes < SM_VCACHE_BYTES_MIN)
		return NULL;
	sm_vcache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->buckets = calloc(VC_BUCKETS_MIN, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	c->bucket_count = VC_BUCKETS_MIN;
	c->budget = budget_bytes;
	c->used = array_cost(c->bucket_count);
	c->seed = rp_mix64(seed ^ UINT64_C(0x5851f42d4c957f2d));
	c->entry_max =
	    budget_bytes / 16 < VC_ENTRY_MAX ? budget_bytes / 16 : VC_ENTRY_MAX;
	return c;
}

void sm_vcache_clear(sm_vcache *c)
{
	if (c == NULL)
		return;
	for (uint64_t i = 0; i < c->bucket_count; i++) {
		vc_ent *e = c->buckets[i];
		while (e != NULL) {
			vc_ent *next = e->chain;
			free(e);
			e = next;
		}
		c->buckets[i] = NULL;
	}
	c->hand = NULL;
	c->entries = 0;
	c->used = array_cost(c->bucket_count);
}

void sm_vcache_destroy(sm_vcache *c)
{
	if (c == NULL)
		return;
	sm_vcache_clear(c);
	free(c->buckets);
	free(c);
}

bool sm_vcache_get(sm_vcache *c, const uint8_t *key, size_t key_size,
		   const uint8_t **value, size_t *value_size)
{
	RP_CHECK(key != NULL || key_size == 0);
	if (c == NULL)
		return false;
	vc_ent *e = *find_link(c, rp_hash64(c->seed, key, key_size), key, key_size);
	if (e == NULL) {
		c->misses++;
		return false;
	}
	e->ref = true;
	c->hits++;
	*value = e->bytes + e->key_size;
	*value_size = e->value_size;
	return true;
}

/* Key's value is now value: its entry says so (in place if the size is
 * the same).  A key without an entry gets one only if make is set. */
static void set_value(sm_vcache *c, const uint8_t *key, size_t key_size,
		      const uint8_t *value, size_t value_size, bool make)
{
	RP_CHECK(key != NULL || key_size == 0);
	RP_CHECK(value != NULL || value_size == 0);
	if (c == NULL)
		return;
	uint64_t h = rp_hash64(c->seed, key, key_size);
	vc_ent **link = find_link(c, h, key, key_size);
	vc_ent *e = *link;
	if (e == NULL) {
		if (make)
			(void)insert(c, h, key, key_size, value, value_size);
		return;
	}
	if (e->value_size == value_size) {
		if (value_size > 0)
			memcpy(e->bytes + e->key_size, value, value_size);
		return;
	}
	bool ref = e->ref;
	remove_at(c, link);
	e = insert(c, h, key, key_size, value, value_size);
	if (e != NULL)
		e->ref = ref;
}

void sm_vcache_fill(sm_vcache *c, const uint8_t *key, size_t key_size,
		    const uint8_t *value, size_t value_size)
{
	set_value(c, key, key_size, value, value_size, true);
}

void sm_vcache_put(sm_vcache *c, const uint8_t *key, size_t key_size,
		   const uint8_t *value, size_t value_size)
{
	set_value(c, key, key_size, value, value_size, false);
}

void sm_vcache_del(sm_vcache *c, const uint8_t *key, size_t key_size)
{
	RP_CHECK(key != NULL || key_size == 0);
	if (c == NULL)
		return;
	vc_ent **link = find_link(c, rp_hash64(c->seed, key, key_size), key, key_size);
	if (*link != NULL)
		remove_at(c, link);
}

void sm_vcache_stats_get(const sm_vcache *c, sm_vcache_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return;
	out->budget_bytes = c->budget;
	out->used_bytes = c->used;
	out->entries = c->entries;
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
}
