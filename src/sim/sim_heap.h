/*
 * sim_heap.h — the simulator's event queue, ordered by simulated real
 * time, ties broken by a sequence number assigned at push time, so that
 * two runs of one seed pop events in exactly the same order.  Short
 * queues are kept as a sorted array, long ones as a 4-ary heap
 * (sim_heap.c says why); the order of pops is the same either way.
 * The capacity grows on demand up to a bound fixed at init; a push beyond
 * it is refused (the caller decides what a full queue means).
 */
#ifndef RASPUTIN_SIM_HEAP_H
#define RASPUTIN_SIM_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t time_us; /* simulated real time at which the event fires */
	uint64_t seq;     /* push order; set by sim_heap_push */
	uint32_t kind;    /* interpreted by the simulator (sim_event_kind) */
	uint32_t slot;    /* node slot or client index, per kind */
	uint64_t arg;     /* e.g. an incarnation number, per kind */
	void *ptr;        /* owned payload (a message), per kind */
} sim_event;

typedef struct {
	/* sorted: latest first, the next event last; otherwise a 4-ary
	 * min-heap, items[i] <= items[4i+1] .. items[4i+4] */
	sim_event *items;
	bool sorted;
	size_t count;
	size_t capacity;
	size_t capacity_max; /* push fails beyond this */
	uint64_t next_seq;
} sim_heap;

void sim_heap_init(sim_heap *heap, size_t capacity_max);
/* Frees the array only; payloads still queued are the caller's to free
 * (pop them first). */
void sim_heap_deinit(sim_heap *heap);
/* Queues the event (time_us, kind, slot, arg, ptr), stamping the next
 * seq.  Returns false when full.  (Fields, not a struct: a struct just
 * written field by field and copied whole stalls the store buffer.) */
bool sim_heap_push(sim_heap *heap, uint64_t time_us, uint32_t kind, uint32_t slot, uint64_t arg,
                   void *ptr);
/* Removes the earliest event into *out; false when empty. */
bool sim_heap_pop(sim_heap *heap, sim_event *out);
/* The same, if the earliest event is due at or before until_us; false
 * (and nothing removed) otherwise. */
bool sim_heap_pop_due(sim_heap *heap, uint64_t until_us, sim_event *out);
/* The earliest event, or NULL; valid until the next push or pop. */
const sim_event *sim_heap_peek(const sim_heap *heap);

#endif
