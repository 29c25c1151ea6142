/* hp_log.c — the in-memory log of one consensus group (see hp_log.h). */
#include "harpoon/hp_log.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"

void hp_log_init(hp_log *log, uint64_t snap_index, uint64_t snap_term)
{
	memset(log, 0, sizeof(*log));
	log->snap_index = snap_index;
	log->snap_term = snap_term;
}

static void entry_free(hp_entry *e) { free((void *)e->data); }

void hp_log_deinit(hp_log *log)
{
	for (uint64_t i = 0; i < log->count; i++)
		entry_free(&log->entries[i]);
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
	uint8_t *copy = NULL;
	if (size_bytes) {
		RP_CHECK(data != NULL);
		copy = malloc(size_bytes);
		if (!copy)
			return HP_ERR_NOMEM;
		memcpy(copy, data, size_bytes);
	}
	hp_entry *e = &log->entries[log->count];
	e->index = hp_log_last_index(log) + 1;
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
	while (hp_log_last_index(log) >= from) {
		hp_entry *e = &log->entries[log->count - 1];
		log->size_bytes -= e->size_bytes;
		entry_free(e);
		log->count--;
	}
}

void hp_log_compact(hp_log *log, uint64_t index, uint64_t term)
{
	if (index <= log->snap_index)
		return;
	if (index >= hp_log_last_index(log)) {
		for (uint64_t i = 0; i < log->count; i++)
			entry_free(&log->entries[i]);
		log->count = 0;
		log->size_bytes = 0;
	} else {
		RP_CHECK(hp_log_term_at(log, index) == term);
		uint64_t drop = index - log->snap_index;
		for (uint64_t i = 0; i < drop; i++) {
			log->size_bytes -= log->entries[i].size_bytes;
			entry_free(&log->entries[i]);
		}
		memmove(log->entries, log->entries + drop,
		        (log->count - drop) * sizeof(*log->entries));
		log->count -= drop;
	}
	log->snap_index = index;
	log->snap_term = term;
}
