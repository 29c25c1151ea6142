/*
 * sim_heap.c — the simulator's event queue (see sim_heap.h), ordered by
 * (time_us, seq).  The sequence number makes the order total, which is
 * what makes a seed replay exactly, and makes the order of pops
 * independent of how the queue is laid out.
 *
 * A calm cluster keeps a few dozen events queued, and most new ones fire
 * within a millisecond.  For that, a sorted array beats a heap: latest
 * first, so a pop takes the last element without a comparison, and a push
 * walks back from the end over the few events due before it (comparisons
 * that a branch predictor gets right, where a heap's sift steps are coin
 * flips).  A run that queues many more (message storms, long network
 * delays) gets a 4-ary min-heap instead: the array turns into one when it
 * grows past SIM_HEAP_SORTED_MAX events (reversed, a sorted array is a
 * heap) and back when it shrinks to SIM_HEAP_SORTED_MIN (sorted again).
 */
#include "sim/sim_heap.h"

#include <stdlib.h>

#include "util/check.h"

enum {
	SIM_HEAP_CAPACITY_MIN = 256,
	SIM_HEAP_ARITY = 4,
	SIM_HEAP_SORTED_MAX = 64, /* a longer queue becomes a heap */
	SIM_HEAP_SORTED_MIN = 16, /* a heap this short becomes sorted again */
};

void sim_heap_init(sim_heap *heap, size_t capacity_max)
{
	RP_CHECK(heap != NULL);
	RP_CHECK(capacity_max >= SIM_HEAP_CAPACITY_MIN);
	heap->items = NULL;
	heap->count = 0;
	heap->capacity = 0;
	heap->capacity_max = capacity_max;
	heap->next_seq = 1;
	heap->sorted = true;
}

void sim_heap_deinit(sim_heap *heap)
{
	free(heap->items);
	heap->items = NULL;
	heap->count = 0;
	heap->capacity = 0;
	heap->sorted = true;
}

static bool heap_before(const sim_event *a, const sim_event *b)
{
	if (a->time_us != b->time_us)
		return a->time_us < b->time_us;
	return a->seq < b->seq;
}

/* Whether a is due before the event (time_us, seq). */
static bool heap_before_key(const sim_event *a, uint64_t time_us, uint64_t seq)
{
	if (a->time_us != time_us)
		return a->time_us < time_us;
	return a->seq < seq;
}

/* Sorted (latest first) to heap: reversed, the array is in heap order. */
static void queue_to_heap(sim_heap *heap)
{
	for (size_t i = 0, j = heap->count; i + 1 < j; i++, j--) {
		sim_event t = heap->items[i];
		heap->items[i] = heap->items[j - 1];
		heap->items[j - 1] = t;
	}
	heap->sorted = false;
}

/* Heap to sorted, latest first (insertion sort: a short queue). */
static void queue_to_sorted(sim_heap *heap)
{
	sim_event *items = heap->items;
	for (size_t i = 1; i < heap->count; i++) {
		sim_event ev = items[i];
		size_t k = i;
		while (k > 0 && heap_before(&items[k - 1], &ev)) {
			items[k] = items[k - 1];
			k--;
		}
		items[k] = ev;
	}
	heap->sorted = true;
}

bool sim_heap_push(sim_heap *heap, uint64_t time_us, uint32_t kind, uint32_t slot, uint64_t arg,
                   void *ptr)
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
	uint64_t seq = heap->next_seq++;
	if (heap->sorted && heap->count == SIM_HEAP_SORTED_MAX)
		queue_to_heap(heap);
	size_t i = heap->count++;
	if (heap->sorted) {
		/* Move the events due before the new one a place up (towards the end). */
		while (i > 0 && heap_before_key(&heap->items[i - 1], time_us, seq)) {
			heap->items[i] = heap->items[i - 1];
			i--;
		}
		heap->items[i] = (sim_event){
			.time_us = time_us, .seq = seq, .kind = kind, .slot = slot, .arg = arg, .ptr = ptr};
		return true;
	}
	while (i > 0) {
		size_t parent = (i - 1) / SIM_HEAP_ARITY;
		/* The new event is before its parent unless the parent is before
		 * it (keys are never equal: seq is unique). */
		if (heap_before_key(&heap->items[parent], time_us, seq))
			break;
		heap->items[i] = heap->items[parent];
		i = parent;
	}
	heap->items[i] = (sim_event){
		.time_us = time_us, .seq = seq, .kind = kind, .slot = slot, .arg = arg, .ptr = ptr};
	return true;
}

bool sim_heap_pop(sim_heap *heap, sim_event *out)
{
	if (heap->count == 0)
		return false;
	if (heap->sorted) {
		*out = heap->items[--heap->count];
		return true;
	}
	*out = heap->items[0];
	sim_event last = heap->items[--heap->count];
	size_t n = heap->count;
	size_t i = 0;
	for (;;) {
		size_t first = SIM_HEAP_ARITY * i + 1;
		if (first >= n)
			break;
		size_t end = first + SIM_HEAP_ARITY < n ? first + SIM_HEAP_ARITY : n;
		size_t child = first;
		for (size_t k = first + 1; k < end; k++)
			if (heap_before(&heap->items[k], &heap->items[child]))
				child = k;
		if (!heap_before(&heap->items[child], &last))
			break;
		heap->items[i] = heap->items[child];
		i = child;
	}
	if (n > 0)
		heap->items[i] = last;
	if (n <= SIM_HEAP_SORTED_MIN)
		queue_to_sorted(heap);
	return true;
}

bool sim_heap_pop_due(sim_heap *heap, uint64_t until_us, sim_event *out)
{
	if (heap->count == 0)
		return false;
	if (heap->sorted) {
		const sim_event *next = &heap->items[heap->count - 1];
		if (next->time_us > until_us)
			return false;
		*out = *next;
		heap->count--;
		return true;
	}
	if (heap->items[0].time_us > until_us)
		return false;
	return sim_heap_pop(heap, out);
}

const sim_event *sim_heap_peek(const sim_heap *heap)
{
	if (heap->count == 0)
		return NULL;
	return heap->sorted ? &heap->items[heap->count - 1] : &heap->items[0];
}
