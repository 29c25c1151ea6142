/*
 * sim_heap.c — the simulator's event queue (see sim_heap.h): a binary
 * min-heap on (time_us, seq).  The sequence number makes the order total,
 * which is what makes a seed replay exactly.
 */
#include "sim/sim_heap.h"

#include <stdlib.h>

#include "util/check.h"

enum { SIM_HEAP_CAPACITY_MIN = 256 };

void sim_heap_init(sim_heap *heap, size_t capacity_max)
{
	RP_CHECK(heap != NULL);
	RP_CHECK(capacity_max >= SIM_HEAP_CAPACITY_MIN);
	heap->items = NULL;
	heap->count = 0;
	heap->capacity = 0;
	heap->capacity_max = capacity_max;
	heap->next_seq = 1;
}

void sim_heap_deinit(sim_heap *heap)
{
	free(heap->items);
	heap->items = NULL;
	heap->count = 0;
	heap->capacity = 0;
}

static bool heap_before(const sim_event *a, const sim_event *b)
{
	if (a->time_us != b->time_us)
		return a->time_us < b->time_us;
	return a->seq < b->seq;
}

bool sim_heap_push(sim_heap *heap, sim_event ev)
{
	if (heap->count == heap->capacity) {
		if (heap->capacity >= heap->capacity_max)
			return false;
		size_t capacity = heap->capacity ? heap->capacity * 2 : SIM_HEAP_CAPACITY_MIN;
		if (capacity > heap->capacity_max)
			capacity = heap->capacity_max;
		sim_event *items = realloc(heap->items, capacity * sizeof(*items));
		RP_CHECK(items != NULL);
		heap->items = items;
		heap->capacity = capacity;
	}
	ev.seq = heap->next_seq++;
	size_t i = heap->count++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_before(&ev, &heap->items[parent]))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = ev;
	return true;
}

bool sim_heap_pop(sim_heap *heap, sim_event *out)
{
	if (heap->count == 0)
		return false;
	*out = heap->items[0];
	sim_event last = heap->items[--heap->count];
	size_t n = heap->count;
	size_t i = 0;
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n && heap_before(&heap->items[child + 1], &heap->items[child]))
			child++;
		if (!heap_before(&heap->items[child], &last))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (n > 0)
		heap->items[i] = last;
	return true;
}

const sim_event *sim_heap_peek(const sim_heap *heap)
{
	return heap->count ? &heap->items[0] : NULL;
}
