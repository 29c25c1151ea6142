/*
 * sim_pool.h — recycled memory blocks for what the simulator copies per
 * message and per ready batch (sim_net.c, sim_node.c).  Those copies are
 * a few hundred bytes to a few KiB, made and freed at every event; a free
 * list per power-of-two size class serves them without going through
 * malloc each time.  Blocks above the largest class are malloc'd as
 * usual.  Each class keeps at most SIM_POOL_KEEP_MAX free blocks; the
 * rest go back to malloc.  Single-threaded, like the world that owns it.
 */
#ifndef RASPUTIN_SIM_POOL_H
#define RASPUTIN_SIM_POOL_H

#include <stddef.h>

enum {
	SIM_POOL_MIN_BYTES = 512, /* the smallest class; classes double from it */
	SIM_POOL_CLASSES = 5,     /* 512 B .. 8 KiB */
	SIM_POOL_KEEP_MAX = 4096, /* free blocks kept per class */
};

typedef struct sim_pool_block {
	struct sim_pool_block *next;
} sim_pool_block;

typedef struct {
	sim_pool_block *free[SIM_POOL_CLASSES];
	size_t free_count[SIM_POOL_CLASSES];
} sim_pool;

void sim_pool_init(sim_pool *pool);
/* Frees the blocks kept (every block handed out must be back first, or
 * be freed by the caller with sim_pool_free before). */
void sim_pool_deinit(sim_pool *pool);
/* A block of at least size_bytes (> 0), aligned for any type; never NULL.
 * Give it back with sim_pool_free and the same size_bytes. */
void *sim_pool_alloc(sim_pool *pool, size_t size_bytes);
/* Returns a block from sim_pool_alloc(pool, size_bytes); NULL is a no-op. */
void sim_pool_free(sim_pool *pool, void *block, size_t size_bytes);

#endif
