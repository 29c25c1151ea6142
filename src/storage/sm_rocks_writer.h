/*
 * sm_rocks_writer.h — private to sm_rocks.c: writes a batch (an overlay's
 * newest writes, sm_overlay.h) into RocksDB as one atomic write, either
 * on the caller's thread or on a thread of its own, so the loop that
 * applies entries does not wait for the memtable's inserts
 * (docs/storage.md, "The store's writer").
 *
 * One batch at a time: a batch handed over stays the writer's (the caller
 * may read it, never change it) until sm_rocks_writer_poll or _wait says
 * the writer is idle.  Submit, poll and wait are for one thread (the
 * store's); sm_rocks_writer_wait_written may be called from any.
 */
#ifndef RASPUTIN_STORAGE_SM_ROCKS_WRITER_H
#define RASPUTIN_STORAGE_SM_ROCKS_WRITER_H

#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/sm_overlay.h"

/* Where a batch goes: the database, its two families (index = the
 * overlay's family byte) and the write options. */
typedef struct {
	rocksdb_t *db;
	rocksdb_column_family_handle_t *cf[2];
	const rocksdb_writeoptions_t *wopts;
} sm_rocks_target;

/* Writes ov's newest writes as one RocksDB write; wb is scratch, empty
 * before and after.  NULL, or RocksDB's message (free with rocksdb_free). */
char *sm_rocks_write_overlay(const sm_rocks_target *t, rocksdb_writebatch_t *wb,
			     const sm_overlay *ov);

typedef struct sm_rocks_writer sm_rocks_writer;

/* Starts the thread: RP_OK, RP_ERR_NOMEM, or RP_ERR_IO (no thread). */
int sm_rocks_writer_start(sm_rocks_writer **out);

/* Hands ov to the idle writer, to be written to t. */
void sm_rocks_writer_submit(sm_rocks_writer *w, const sm_rocks_target *t,
			    const sm_overlay *ov);

/* Whether the writer is idle (its batch written or none given); if so,
 * *err takes the last write's failure (NULL if none; the caller frees
 * it with rocksdb_free), and the batch is the caller's again. */
bool sm_rocks_writer_poll(sm_rocks_writer *w, char **err);

/* Waits until the writer is idle; then as sm_rocks_writer_poll. */
void sm_rocks_writer_wait(sm_rocks_writer *w, char **err);

/* Batches handed over since start. */
uint64_t sm_rocks_writer_submitted(sm_rocks_writer *w);

/* Waits until n batches have been written, checking *cancel every few
 * milliseconds: RP_OK, RP_ERR_CANCELED, or RP_ERR_IO if a write failed
 * (its message stays for poll or wait). */
int sm_rocks_writer_wait_written(sm_rocks_writer *w, uint64_t n, const atomic_bool *cancel);

/* Waits for the batch in hand, stops and frees the writer; NULL is fine.
 * A failure nobody polled is dropped. */
void sm_rocks_writer_stop(sm_rocks_writer *w);

#endif
