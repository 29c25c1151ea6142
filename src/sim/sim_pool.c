/*
 * sim_pool.c — size-class free lists for the simulator's copies (see
 * sim_pool.h).  A block's class follows from the size it was asked with,
 * so nothing is stored beside it.
 */
#include "sim/sim_pool.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"

/* The class serving size_bytes, or SIM_POOL_CLASSES when it is too big. */
static unsigned pool_class(size_t size_bytes)
{
	unsigned c = 0;
	size_t cap = SIM_POOL_MIN_BYTES;
	while (c < SIM_POOL_CLASSES && cap < size_bytes) {
		cap *= 2;
		c++;
	}
	return c;
}

void sim_pool_init(sim_pool *pool)
{
	memset(pool, 0, sizeof(*pool));
}

void sim_pool_deinit(sim_pool *pool)
{
	for (unsigned c = 0; c < SIM_POOL_CLASSES; c++) {
		while (pool->free[c]) {
			sim_pool_block *b = pool->free[c];
			pool->free[c] = b->next;
			free(b);
		}
		pool->free_count[c] = 0;
	}
}

void *sim_pool_alloc(sim_pool *pool, size_t size_bytes)
{
	RP_CHECK(size_bytes > 0);
	unsigned c = pool_class(size_bytes);
	if (c == SIM_POOL_CLASSES) {
		void *big = malloc(size_bytes);
		RP_CHECK(big != NULL);
		return big;
	}
	sim_pool_block *b = pool->free[c];
	if (b != NULL) {
		pool->free[c] = b->next;
		pool->free_count[c]--;
		return b;
	}
	void *fresh = malloc((size_t)SIM_POOL_MIN_BYTES << c);
	RP_CHECK(fresh != NULL);
	return fresh;
}

void sim_pool_free(sim_pool *pool, void *block, size_t size_bytes)
{
	if (block == NULL)
		return;
	unsigned c = pool_class(size_bytes);
	if (c == SIM_POOL_CLASSES || pool->free_count[c] >= SIM_POOL_KEEP_MAX) {
		free(block);
		return;
	}
	sim_pool_block *b = block;
	b->next = pool->free[c];
	pool->free[c] = b;
	pool->free_count[c]++;
}
