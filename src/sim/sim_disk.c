/*
 * sim_disk.c — the simulated durable image of one node (see sim_disk.h).
 * It models a disk whose writes become durable exactly when the driving
 * loop says so; torn batches are produced by the caller applying only a
 * prefix of a batch's writes before a crash.
 */
#include "sim/sim_disk.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"

static uint8_t *disk_dup(const uint8_t *data, size_t size_bytes)
{
	if (size_bytes == 0)
		return NULL;
	RP_CHECK(data != NULL);
	uint8_t *copy = malloc(size_bytes);
	RP_CHECK(copy != NULL);
	memcpy(copy, data, size_bytes);
	return copy;
}

static void entry_free(hp_entry *e)
{
	free((void *)e->data);
	e->data = NULL;
}

void sim_disk_init(sim_disk *disk)
{
	memset(disk, 0, sizeof(*disk));
	sim_disk_stage_init(&disk->stage);
}

void sim_disk_deinit(sim_disk *disk)
{
	for (size_t i = 0; i < disk->log_count; i++)
		entry_free(&disk->log[i]);
	free(disk->log);
	free(disk->snap_blob);
	sim_disk_stage_deinit(&disk->stage);
	memset(disk, 0, sizeof(*disk));
}

const hp_entry *sim_disk_entry(const sim_disk *disk, uint64_t index)
{
	if (index <= disk->snap.index || index > sim_disk_last_index(disk))
		return NULL;
	return &disk->log[index - disk->snap.index - 1];
}

uint64_t sim_disk_term(const sim_disk *disk, uint64_t index)
{
	if (index == disk->snap.index)
		return disk->snap.term;
	const hp_entry *e = sim_disk_entry(disk, index);
	return e ? e->term : 0;
}

int sim_disk_truncate(sim_disk *disk, uint64_t from)
{
	if (from <= disk->snap.index)
		return -1;
	while (sim_disk_last_index(disk) >= from) {
		disk->log_count--;
		entry_free(&disk->log[disk->log_count]);
	}
	return 0;
}

int sim_disk_append(sim_disk *disk, const hp_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (entries[i].index != sim_disk_last_index(disk) + 1)
			return -1;
		if (disk->log_count == disk->log_capacity) {
			size_t capacity = disk->log_capacity ? disk->log_capacity * 2 : 64;
			hp_entry *log = realloc(disk->log, capacity * sizeof(*log));
			RP_CHECK(log != NULL);
			disk->log = log;
			disk->log_capacity = capacity;
		}
		hp_entry *e = &disk->log[disk->log_count++];
		*e = entries[i];
		e->data = disk_dup(entries[i].data, entries[i].size_bytes);
	}
	return 0;
}

static void disk_set_blob(sim_disk *disk, const hp_snapshot_meta *meta, const uint8_t *blob,
                          size_t size_bytes)
{
	uint8_t *copy = disk_dup(blob, size_bytes);
	free(disk->snap_blob);
	disk->snap_blob = copy;
	disk->snap_size_bytes = size_bytes;
	disk->snap = *meta;
}

int sim_disk_compact(sim_disk *disk, const hp_snapshot_meta *meta, const uint8_t *blob,
                     size_t size_bytes)
{
	if (meta->index < disk->snap.index || meta->index > sim_disk_last_index(disk))
		return -1;
	if (sim_disk_term(disk, meta->index) != meta->term)
		return -1;
	size_t drop = (size_t)(meta->index - disk->snap.index);
	for (size_t i = 0; i < drop; i++)
		entry_free(&disk->log[i]);
	memmove(disk->log, disk->log + drop, (disk->log_count - drop) * sizeof(*disk->log));
	disk->log_count -= drop;
	disk_set_blob(disk, meta, blob, size_bytes);
	return 0;
}

void sim_disk_install(sim_disk *disk, const hp_snapshot_meta *meta, const uint8_t *blob,
                      size_t size_bytes)
{
	for (size_t i = 0; i < disk->log_count; i++)
		entry_free(&disk->log[i]);
	disk->log_count = 0;
	disk_set_blob(disk, meta, blob, size_bytes);
}

void sim_disk_stage_init(sim_disk_stage *stage)
{
	memset(stage, 0, sizeof(*stage));
}

void sim_disk_stage_deinit(sim_disk_stage *stage)
{
	free(stage->data);
	memset(stage, 0, sizeof(*stage));
}

int sim_disk_stage_put(sim_disk_stage *stage, const hp_snap_chunk *chunk)
{
	if (chunk->offset == 0) {
		stage->meta = chunk->meta;
		stage->size_bytes = 0;
	} else if (stage->meta.index != chunk->meta.index ||
	           stage->meta.term != chunk->meta.term || chunk->offset > stage->size_bytes) {
		return -1;
	}
	uint64_t end = chunk->offset + chunk->size_bytes;
	if (end > SIM_DISK_STAGE_MAX_BYTES)
		return -1;
	if (end > stage->capacity) {
		size_t capacity = stage->capacity ? stage->capacity : 1024;
		while (capacity < end)
			capacity *= 2;
		uint8_t *data = realloc(stage->data, capacity);
		RP_CHECK(data != NULL);
		stage->data = data;
		stage->capacity = capacity;
	}
	if (chunk->size_bytes) {
		RP_CHECK(chunk->data != NULL);
		memcpy(stage->data + chunk->offset, chunk->data, chunk->size_bytes);
	}
	/* A chunk ends the stage: a resent earlier chunk overwrites in place
	 * and cuts what followed (it will be resent too). */
	stage->size_bytes = (size_t)end;
	return 0;
}

hp_entry *sim_disk_entries_copy(const hp_entry *entries, size_t count)
{
	if (count == 0)
		return NULL;
	hp_entry *copy = malloc(count * sizeof(*copy));
	RP_CHECK(copy != NULL);
	for (size_t i = 0; i < count; i++) {
		copy[i] = entries[i];
		copy[i].data = disk_dup(entries[i].data, entries[i].size_bytes);
	}
	return copy;
}

void sim_disk_entries_free(hp_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++)
		entry_free(&entries[i]);
	free(entries);
}
