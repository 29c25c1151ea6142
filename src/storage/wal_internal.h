/*
 * wal_internal.h — the WAL's state, shared by wal.c (appending, the write
 * rounds, the writer thread, restore) and wal_recover.c (opening a log).
 * Not for use outside src/storage/wal*.c.
 *
 * Who touches what:
 *   - the appending thread owns `index` and, under `lock`, the layout
 *     fields (next_seq, cur_*, round_seq) and `pending`;
 *   - the writer (the thread, or wal_sync's caller in sync mode) owns
 *     `inflight` between taking it and finishing the round, and every
 *     segment's `file`;
 *   - the segment ring is changed only under `lock`: the appender pushes
 *     at the back (rollover), the writer pops at the front (deletion).
 *     Slots never move, so a pointer to one stays valid while it is in use.
 */
#ifndef RASPUTIN_STORAGE_WAL_INTERNAL_H
#define RASPUTIN_STORAGE_WAL_INTERNAL_H

#include <pthread.h>

#include "storage/wal.h"
#include "storage/wal_format.h"
#include "storage/wal_index.h"

enum {
	WAL_SEG_NAME_BYTES = 32, /* 20 digits, ".wal", NUL, room */
};

typedef struct {
	uint64_t first_seq; /* also the file name */
	fs_file *file;      /* writer-owned; open for writing, or NULL */
	bool on_disk;       /* created and its name synced */
} wal_seg;

/* A contiguous piece of a queued buffer and where it goes. */
typedef struct {
	uint64_t seg_seq;
	uint64_t file_offset;
	size_t start; /* in the buffer */
	size_t len;
	bool create; /* the segment is new: create it before writing */
} wal_run;

typedef struct {
	uint8_t *bytes;
	size_t size;
	size_t cap;
	wal_run *runs; /* cfg.max_segments + 1: a buffer never spans more segments */
	size_t run_count;
	uint64_t last_seq; /* highest record seq in the buffer */
	uint64_t records;
	uint64_t batches;
} wal_buf;

struct wal {
	wal_config cfg;
	char dir[FS_PATH_MAX + 1];
	fs *vfs;
	wal_index index;
	uint64_t wal_id;

	pthread_mutex_t lock;
	pthread_cond_t work_cond; /* the writer waits for work */
	pthread_cond_t done_cond; /* waiters wait for durability */

	/* Layout of the next record (appender, under lock). */
	uint64_t next_seq;
	uint64_t cur_seg_seq;   /* 0: no segment yet */
	uint64_t cur_offset;    /* where the next record goes in it */
	bool cur_has_batch;     /* a caller's batch is in it (else it takes any size) */
	uint64_t round_seq;     /* 0: the next record starts a write round */
	/* Segments whose first_seq < delete_below may go once durable_seq >=
	 * delete_after (every mark that allowed it is then durable). */
	uint64_t delete_below;
	uint64_t delete_after;

	wal_buf pending;
	wal_buf inflight;
	wal_seg *segs; /* ring of cfg.max_segments slots */
	size_t seg_head;
	size_t seg_count;

	uint64_t durable_seq;
	int failed; /* sticky: the first round error */
	bool stopping;
	bool thread_started;
	pthread_t thread;
	wal_stats stats;

	/* The spare segment (cfg.spare_segments): made by its own thread. */
	enum { SPARE_NONE, SPARE_MAKING, SPARE_READY, SPARE_TAKEN } spare;
	pthread_cond_t spare_cond; /* the maker waits for a spare to be taken */
	bool spare_started;
	pthread_t spare_thread;
};

static inline wal_seg *wal_seg_at(wal *w, size_t i)
{
	return &w->segs[(w->seg_head + i) % w->cfg.max_segments];
}

/* "dir/00000000000000000042.wal" into out (FS_PATH_MAX + 1 bytes). */
void wal_seg_path(const wal *w, uint64_t first_seq, char *out);
/* Parses a segment file name; false if it is not one. */
bool wal_seg_name_parse(const char *name, uint64_t *first_seq);
/* Appends a segment slot at the back of the ring (under lock). */
wal_seg *wal_seg_push(wal *w, uint64_t first_seq, bool on_disk);

/* Recovery (wal_recover.c): fills the index, the ring and the layout
 * fields of a freshly initialised w from the files in w->dir. */
int wal_recover(wal *w, wal_report *rep);

#endif
