/*
 * cmd_cursor.c — SCAN's cursor table.  A cursor names a saved position
 * (the next key to visit); the table holds a bounded number of them, and a
 * bounded number of bytes of saved keys, evicting the least recently used.
 *
 * A cursor id is nonce * capacity + slot: the slot is found by a division,
 * and the random nonce (below 2^53 / capacity, so ids stay exact in a
 * double) makes an old or guessed id miss.  Each SCAN step gives its slot a
 * new nonce, so the id a client used last is dead: a retried step is told
 * "invalid cursor" instead of silently skipping keys.
 */
#include <stdlib.h>
#include <string.h>

#include "server/cmd_internal.h"
#include "util/check.h"
#include "util/prng.h"

typedef struct {
	uint64_t id; /* 0 = free */
	uint8_t *key;
	uint32_t key_size;
	uint32_t prev, next; /* LRU list of live slots; free list through next */
} cursor_slot;

struct cmd_cursors {
	uint32_t capacity;
	uint32_t live;
	uint64_t nonce_max;
	uint32_t max_count; /* SCAN's COUNT clamp */
	uint64_t bytes;	    /* sum of live key_size, <= CMD_CURSORS_MAX_BYTES */
	rp_prng prng;
	uint32_t head, tail; /* most and least recently used live slots */
	uint32_t free_head;
	cursor_slot *slots;
};

#define NIL CMD_CURSOR_NONE

cmd_cursors *cmd_cursors_create(uint32_t capacity, uint64_t seed)
{
	RP_CHECK(capacity >= 1 && capacity < NIL);
	cmd_cursors *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->slots = calloc(capacity, sizeof(*c->slots));
	if (c->slots == NULL) {
		free(c);
		return NULL;
	}
	c->capacity = capacity;
	c->nonce_max = ((uint64_t)1 << 53) / capacity - 1;
	RP_CHECK(c->nonce_max >= 2);
	rp_prng_init(&c->prng, seed);
	cmd_limits lim;
	cmd_limits_default(&lim);
	c->max_count = lim.max_scan_count;
	c->head = c->tail = NIL;
	for (uint32_t i = 0; i < capacity; i++)
		c->slots[i].next = i + 1 < capacity ? i + 1 : NIL;
	c->free_head = 0;
	return c;
}

void cmd_cursors_destroy(cmd_cursors *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->capacity; i++)
		free(c->slots[i].key);
	free(c->slots);
	free(c);
}

void cmd_cursors_set_limits(cmd_cursors *c, const cmd_limits *lim)
{
	RP_CHECK(lim->max_scan_count >= 1);
	c->max_count = lim->max_scan_count;
}

uint32_t cmd_cursors_max_count(const cmd_cursors *c)
{
	return c->max_count;
}

uint32_t cmd_cursors_live(const cmd_cursors *c)
{
	return c->live;
}

static void lru_unlink(cmd_cursors *c, uint32_t i)
{
	cursor_slot *s = &c->slots[i];
	if (s->prev != NIL)
		c->slots[s->prev].next = s->next;
	else
		c->head = s->next;
	if (s->next != NIL)
		c->slots[s->next].prev = s->prev;
	else
		c->tail = s->prev;
	s->prev = s->next = NIL;
}

static void lru_push_head(cmd_cursors *c, uint32_t i)
{
	cursor_slot *s = &c->slots[i];
	s->prev = NIL;
	s->next = c->head;
	if (c->head != NIL)
		c->slots[c->head].prev = i;
	c->head = i;
	if (c->tail == NIL)
		c->tail = i;
}

bool cmd_cursors_find(cmd_cursors *c, uint64_t id, uint32_t *slot, const uint8_t **key,
		      size_t *key_size)
{
	RP_CHECK(c != NULL);
	if (id == 0)
		return false;
	uint32_t i = (uint32_t)(id % c->capacity);
	cursor_slot *s = &c->slots[i];
	if (s->id != id)
		return false;
	*slot = i;
	*key = s->key;
	*key_size = s->key_size;
	return true;
}

void cmd_cursors_release(cmd_cursors *c, uint32_t i)
{
	RP_CHECK(i < c->capacity && c->slots[i].id != 0);
	cursor_slot *s = &c->slots[i];
	lru_unlink(c, i);
	RP_CHECK(c->bytes >= s->key_size);
	c->bytes -= s->key_size;
	free(s->key);
	s->key = NULL;
	s->key_size = 0;
	s->id = 0;
	s->next = c->free_head;
	c->free_head = i;
	RP_CHECK(c->live > 0);
	c->live--;
}

int cmd_cursors_save(cmd_cursors *c, uint32_t slot, const uint8_t *key, size_t key_size,
		     uint64_t *id)
{
	RP_CHECK(c != NULL);
	RP_CHECK(key_size <= SM_KEY_MAX_BYTES);
	RP_CHECK(slot == NIL || (slot < c->capacity && c->slots[slot].id != 0));
	uint8_t *copy = malloc(key_size ? key_size : 1);
	if (copy == NULL)
		return RP_ERR_NOMEM;
	if (key_size > 0)
		memcpy(copy, key, key_size);
	uint64_t old_id = 0;
	if (slot != NIL) {
		cursor_slot *s = &c->slots[slot];
		old_id = s->id;
		c->bytes -= s->key_size;
		free(s->key);
		s->key = NULL;
		s->key_size = 0;
		lru_unlink(c, slot);
	}
	/* Room, in slots and in bytes: the least recently used go first. */
	while (c->tail != NIL && c->bytes + key_size > CMD_CURSORS_MAX_BYTES)
		cmd_cursors_release(c, c->tail);
	if (slot == NIL) {
		if (c->free_head == NIL)
			cmd_cursors_release(c, c->tail);
		slot = c->free_head;
		RP_CHECK(slot != NIL);
		c->free_head = c->slots[slot].next;
		c->live++;
	}
	cursor_slot *s = &c->slots[slot];
	uint64_t nonce = rp_prng_range(&c->prng, 1, c->nonce_max);
	uint64_t fresh = nonce * c->capacity + slot;
	if (fresh == old_id) /* never hand the same id out twice in a row */
		fresh = (nonce % c->nonce_max + 1) * c->capacity + slot;
	RP_CHECK(fresh != 0 && fresh < ((uint64_t)1 << 53));
	s->id = fresh;
	s->key = copy;
	s->key_size = (uint32_t)key_size;
	c->bytes += key_size;
	lru_push_head(c, slot);
	*id = fresh;
	return RP_OK;
}
