/* hp_log.c — the in-memory log of one consensus group (see hp_log.h). */
#include "harpoon/hp_log.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"

struct hp_log_slab {
	hp_log_slab *next;   /* the next newer slab */
	uint64_t last_index; /* the last entry whose data is here; 0: none */
	size_t cap, used;
	uint8_t data[];
};

/* Entries' data starts 8-byte aligned, as a malloc'd copy would be (at
 * least): decoders may read words from it. */
enum { ALIGN = 8 };

void hp_log_init(hp_log *log, uint64_t snap_index, uint64_t snap_term)
{
	memset(log, 0, sizeof(*log));
	log->snap_index = snap_index;
	log->snap_term = snap_term;
}

static void slab_free(hp_log *log, hp_log_slab *s)
{
	log->slab_bytes -= s->cap;
	free(s);
}

void hp_log_deinit(hp_log *log)
{
	while (log->oldest) {
		hp_log_slab *s = log->oldest;
		log->oldest = s->next;
		slab_free(log, s);
	}
	free(log->entries);
	memset(log, 0, sizeof(*log));
}

uint64_t hp_log_last_term(const hp_log *log)
{
	return log->count ? log->entries[log->count - 1].term : log->snap_term;
}

uint64_t hp_log_term_at(const hp_log *log, uint64_t index)
{
	if (index == log->snap_index)
		return log->snap_term;
	const hp_entry *e = hp_log_at(log, index);
	return e ? e->term : 0;
}

const hp_entry *hp_log_at(const hp_log *log, uint64_t index)
{
	if (index <= log->snap_index || index > hp_log_last_index(log))
		return NULL;
	const hp_entry *e = &log->entries[index - log->snap_index - 1];
	RP_CHECK(e->index == index);
	return e;
}

static size_t aligned(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* Places entry `index`'s size bytes at the end of the newest slab, adding
 * a slab if it has too little room or the entry is to have its own;
 * returns where, or NULL when out of memory.  (An emptied slab left
 * behind goes at the next compaction: its last_index is below any.) */
static uint8_t *slab_place(hp_log *log, uint64_t index, uint32_t size)
{
	hp_log_slab *s = log->newest;
	bool own = size > HP_LOG_OWN_SLAB_BYTES;
	/* (An entry's own slab's size need not be a multiple of ALIGN.) */
	if (own || s == NULL || aligned(s->used) > s->cap || s->cap - aligned(s->used) < size) {
		size_t cap = own ? size : HP_LOG_SLAB_BYTES;
		hp_log_slab *fresh = malloc(sizeof(*fresh) + cap);
		if (fresh == NULL)
			return NULL;
		fresh->next = NULL;
		fresh->last_index = 0;
		fresh->cap = cap;
		fresh->used = 0;
		log->slab_bytes += cap;
		if (s != NULL)
			s->next = fresh;
		else
			log->oldest = fresh;
		log->newest = s = fresh;
	}
	uint8_t *at = s->data + aligned(s->used);
	s->used = aligned(s->used) + size;
	s->last_index = index;
	return at;
}

int hp_log_append(hp_log *log, uint64_t term, uint8_t type, const uint8_t *data,
		  uint32_t size_bytes)
{
	RP_CHECK(term >= hp_log_last_term(log));
	if (log->count == log->capacity) {
		uint64_t cap = log->capacity ? log->capacity * 2 : 64;
		hp_entry *grown = realloc(log->entries, cap * sizeof(*grown));
		if (!grown)
			return HP_ERR_NOMEM;
		log->entries = grown;
		log->capacity = cap;
	}
	uint64_t index = hp_log_last_index(log) + 1;
	uint8_t *copy = NULL;
	if (size_bytes) {
		RP_CHECK(data != NULL);
		copy = slab_place(log, index, size_bytes);
		if (!copy)
			return HP_ERR_NOMEM;
		memcpy(copy, data, size_bytes);
	}
	hp_entry *e = &log->entries[log->count];
	e->index = index;
	e->term = term;
	e->type = type;
	e->size_bytes = size_bytes;
	e->data = copy;
	log->count++;
	log->size_bytes += size_bytes;
	return 0;
}

void hp_log_truncate(hp_log *log, uint64_t from)
{
	RP_CHECK(from > log->snap_index);
	if (from > hp_log_last_index(log))
		return;
	/* The first removed entry with data: it and everything after it in
	 * the slabs goes. */
	const uint8_t *cut = NULL;
	for (uint64_t i = from - log->snap_index - 1; i < log->count && cut == NULL; i++)
		if (log->entries[i].size_bytes > 0)
			cut = log->entries[i].data;
	while (hp_log_last_index(log) >= from) {
		log->size_bytes -= log->entries[log->count - 1].size_bytes;
		log->count--;
	}
	if (cut == NULL)
		return;
	hp_log_slab *s = log->oldest;
	while (s != NULL && !(cut >= s->data && cut < s->data + s->cap))
		s = s->next;
	RP_CHECK(s != NULL);
	s->used = (size_t)(cut - s->data);
	while (s->next != NULL) {
		hp_log_slab *gone = s->next;
		s->next = gone->next;
		slab_free(log, gone);
	}
	log->newest = s;
	/* What is left in s, if anything, ends with the last remaining entry
	 * that has data, or else belongs to entries already compacted. */
	s->last_index = 0;
	if (s->used > 0) {
		s->last_index = log->snap_index;
		for (uint64_t i = log->count; i-- > 0;)
			if (log->entries[i].size_bytes > 0) {
				s->last_index = log->entries[i].index;
				break;
			}
	}
}

void hp_log_compact(hp_log *log, uint64_t index, uint64_t term)
{
	if (index <= log->snap_index)
		return;
	if (index >= hp_log_last_index(log)) {
		log->count = 0;
		log->size_bytes = 0;
	} else {
		RP_CHECK(hp_log_term_at(log, index) == term);
		uint64_t drop = index - log->snap_index;
		for (uint64_t i = 0; i < drop; i++)
			log->size_bytes -= log->entries[i].size_bytes;
		memmove(log->entries, log->entries + drop,
			(log->count - drop) * sizeof(*log->entries));
		log->count -= drop;
	}
	log->snap_index = index;
	log->snap_term = term;
	/* Slabs holding only compacted entries go; the newest is kept, emptied,
	 * for the next appends (unless it was an entry's own). */
	while (log->oldest != NULL && log->oldest->last_index <= index) {
		hp_log_slab *s = log->oldest;
		if (s == log->newest && s->cap == HP_LOG_SLAB_BYTES) {
			s->used = 0;
			s->last_index = 0;
			break;
		}
		log->oldest = s->next;
		if (s == log->newest)
			log->newest = NULL;
		slab_free(log, s);
	}
}

uint64_t hp_log_memory_bytes(const hp_log *log)
{
	return log->slab_bytes + log->capacity * sizeof(hp_entry);
}
