/*
 * wal.c — the write-ahead log at run time (contract in wal.h): laying out
 * appended batches into segments, group commit (one round = one pwrite and
 * one fdatasync per segment touched, on the writer thread or in wal_sync),
 * segment creation and deletion, and reading a group's entries back for
 * restore.  Recovery is in wal_recover.c.
 *
 * A write round takes the whole queued buffer at once.  The next round
 * starts at the next WAL_ALIGN_BYTES boundary, so a round never rewrites a
 * sector that an earlier (already synced) round wrote, and every sector a
 * round writes was zeros before it: recovery relies on both to tell a torn
 * write from corruption (wal_recover.c).  Every record carries the seq of
 * the first record of its round (round_seq).
 */
#define _GNU_SOURCE
#include "storage/wal_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

enum {
	WAL_MIN_SEGMENT_BYTES = 4096,
	WAL_BUF_INITIAL_BYTES = 1 << 16,
	SPARE_CHUNK_BYTES = 1 << 20,     /* zeros per pwrite */
	SPARE_SYNC_BYTES = 8 << 20,      /* an fdatasync per this many: no huge flush */
	SPARE_RETRY_MIN_SECONDS = 1,     /* after a spare could not be made, doubling */
	SPARE_RETRY_MAX_SECONDS = 64,
	SPARE_FIRST_WAIT_SECONDS = 2,    /* a fresh log's first segment waits this long */
};

void wal_config_default(wal_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->segment_bytes = 64ull << 20;
	cfg->max_pending_bytes = 64ull << 20;
	cfg->max_segments = 4096;
	cfg->max_groups = 65536;
	cfg->threaded = true;
	cfg->wal_id = 1;
}

void wal_seg_path(const wal *w, uint64_t first_seq, char *out)
{
	int n = snprintf(out, FS_PATH_MAX + 1, "%s/%020" PRIu64 ".wal", w->dir, first_seq);
	RP_CHECK(n > 0 && n <= FS_PATH_MAX);
}

bool wal_seg_name_parse(const char *name, uint64_t *first_seq)
{
	if (strlen(name) != 24 || strcmp(name + 20, ".wal") != 0)
		return false;
	uint64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		uint64_t d = (uint64_t)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*first_seq = v;
	return v > 0;
}

wal_seg *wal_seg_push(wal *w, uint64_t first_seq, bool on_disk)
{
	RP_CHECK(w->seg_count < w->cfg.max_segments);
	RP_CHECK(w->seg_count == 0 || wal_seg_at(w, w->seg_count - 1)->first_seq < first_seq);
	wal_seg *s = wal_seg_at(w, w->seg_count);
	memset(s, 0, sizeof(*s));
	s->first_seq = first_seq;
	s->on_disk = on_disk;
	w->seg_count++;
	return s;
}

static wal_seg *seg_find(wal *w, uint64_t first_seq)
{
	for (size_t i = w->seg_count; i-- > 0;) {
		wal_seg *s = wal_seg_at(w, i);
		if (s->first_seq == first_seq)
			return s;
	}
	return NULL;
}

/* ------------------------------------------------------------- buffers */

static void buf_reset(wal_buf *b)
{
	b->size = 0;
	b->run_count = 0;
	b->last_seq = 0;
	b->records = 0;
	b->batches = 0;
}

static int buf_reserve(wal_buf *b, size_t extra)
{
	if (b->size + extra <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : WAL_BUF_INITIAL_BYTES;
	while (cap < b->size + extra) /* doubles: bounded by the size */
		cap *= 2;
	uint8_t *bytes = realloc(b->bytes, cap);
	if (!bytes)
		return RP_ERR_NOMEM;
	b->bytes = bytes;
	b->cap = cap;
	return 0;
}

/* The run that bytes for (seg, offset) extend, or a new one. */
static wal_run *buf_run(wal *w, wal_buf *b, uint64_t seg_seq, uint64_t offset, bool create)
{
	if (b->run_count > 0) {
		wal_run *r = &b->runs[b->run_count - 1];
		if (r->seg_seq == seg_seq && r->file_offset + r->len == offset && !create)
			return r;
	}
	RP_CHECK(b->run_count <= w->cfg.max_segments); /* one per segment at most */
	wal_run *r = &b->runs[b->run_count++];
	memset(r, 0, sizeof(*r));
	r->seg_seq = seg_seq;
	r->file_offset = offset;
	r->start = b->size;
	r->create = create;
	return r;
}

/* ------------------------------------------------------------ appending */

/* Payload bytes of one (non-entries) record. */
static size_t small_payload(const wal_rec *r)
{
	switch (r->type) {
	case WAL_REC_TRUNCATE: return 8;
	case WAL_REC_HARD_STATE: return WAL_HARD_STATE_BYTES;
	case WAL_REC_SNAPSHOT: return wal_snapshot_size(&r->snapshot);
	case WAL_REC_GROUP_DROP: return 0;
	}
	RP_CHECK(0); /* GROUP_STATE is the WAL's own; unknown types are bugs */
}

static size_t group_state_payload(const wal_group *g)
{
	return WAL_HARD_STATE_BYTES + wal_snapshot_size(&g->snap);
}

static bool group_has_state(const wal_group *g)
{
	return g->hard_state.term || g->hard_state.vote || g->hard_state.lease_holder ||
	       g->hard_state.commit || g->snap.index;
}

/* Starts a record of `payload` bytes at the end of pending; returns where
 * its payload goes.  Caller holds the lock and reserved the space. */
static uint8_t *rec_begin(wal *w, wal_run *run, uint8_t type, uint64_t group,
                          size_t payload, bool batch_end, uint64_t *offset)
{
	wal_buf *b = &w->pending;
	uint64_t seq = w->next_seq++;
	if (w->round_seq == 0)
		w->round_seq = seq;
	wal_rec_header h = {
		.size_bytes = (uint32_t)payload,
		.type = type,
		.flags = batch_end ? WAL_FLAG_BATCH_END : 0,
		.seq = seq,
		.round_seq = w->round_seq,
		.group = group,
	};
	uint8_t *rec = b->bytes + b->size;
	wal_rec_header_encode(&h, rec);
	*offset = w->cur_offset;
	size_t total = (size_t)wal_rec_bytes(payload);
	b->size += total;
	run->len += total;
	w->cur_offset += total;
	b->last_seq = seq;
	b->records++;
	return rec + WAL_REC_HEADER_BYTES;
}

static void rec_end(uint8_t *payload_at, size_t payload)
{
	wal_rec_seal(payload_at - WAL_REC_HEADER_BYTES, (uint32_t)payload);
}

/* Restates every group's hard state and mark at the start of a segment. */
static void write_group_states(wal *w, wal_run *run, size_t count)
{
	size_t written = 0;
	for (size_t i = 0; i < w->index.count; i++) {
		const wal_group *g = w->index.v[i];
		if (!group_has_state(g))
			continue;
		size_t payload = group_state_payload(g);
		uint64_t offset;
		uint8_t *p = rec_begin(w, run, WAL_REC_GROUP_STATE, g->id, payload,
		                       ++written == count, &offset);
		wal_hard_state_encode(p, &g->hard_state);
		wal_snapshot_encode(p + WAL_HARD_STATE_BYTES, &g->snap, false);
		rec_end(p, payload);
	}
	RP_CHECK(written == count);
}

static void deletion_update(wal *w, uint64_t after_seq)
{
	uint64_t below = wal_index_min_live_segment(&w->index);
	if (below > w->cur_seg_seq)
		below = w->cur_seg_seq;
	if (below > w->delete_below) {
		w->delete_below = below;
		w->delete_after = after_seq;
	}
}

int wal_append(wal *w, const wal_rec *recs, size_t count, uint64_t *seq_out)
{
	RP_CHECK(w != NULL && recs != NULL && count > 0);
	/* Pass 1: size, records, new groups. */
	size_t bytes = 0, nrec = 0, new_groups = 0;
	bool frees = false, has_entries = false;
	for (size_t i = 0; i < count; i++) {
		const wal_rec *r = &recs[i];
		if (!wal_index_find(&w->index, r->group))
			new_groups++;
		if (r->type == WAL_REC_ENTRIES) {
			RP_CHECK(r->entry_count > 0 && r->entries != NULL);
			has_entries = true;
			size_t done = 0;
			while (done < r->entry_count) { /* >= 1 entry per round */
				size_t payload;
				done += wal_entries_fit(r->entries + done, r->entry_count - done,
				                        &payload);
				bytes += (size_t)wal_rec_bytes(payload);
				nrec++;
			}
		} else {
			bytes += (size_t)wal_rec_bytes(small_payload(r));
			nrec++;
			frees |= r->type == WAL_REC_SNAPSHOT || r->type == WAL_REC_GROUP_DROP;
		}
	}
	RP_CHECK(nrec <= WAL_BATCH_MAX_RECS);

	pthread_mutex_lock(&w->lock);
	int rc = w->failed;
	bool rollover = w->cur_seg_seq == 0 ||
	                (w->cur_has_batch && w->cur_offset + bytes > w->cfg.segment_bytes);
	/* A segment that recovery found to be a bare header (a crash came
	 * between its creation and its first round) goes on receiving rounds:
	 * its first one restates the groups as a new segment's does, and only
	 * once that is durable may the segments before it go (wal_open holds
	 * their deletion back until then): else they would take the groups'
	 * marks and hard states with them. */
	bool restate = rollover || !w->cur_has_batch;
	size_t state_bytes = 0, state_count = 0;
	if (rc == 0 && restate) {
		for (size_t i = 0; i < w->index.count; i++) {
			if (group_has_state(w->index.v[i])) {
				state_bytes += (size_t)wal_rec_bytes(group_state_payload(w->index.v[i]));
				state_count++;
			}
		}
	}
	if (rc == 0 && w->pending.size > 0 &&
	    w->pending.size + bytes + state_bytes > w->cfg.max_pending_bytes)
		rc = RP_ERR_BUSY;
	/* The last segment slot is kept for batches without entries, so a
	 * full log can still record the snapshot mark that frees it. */
	if (rc == 0 && rollover && w->seg_count + (has_entries ? 1u : 0u) >= w->cfg.max_segments)
		rc = RP_ERR_NOSPC; /* some group never snapshots: see wal.h */
	if (rc == 0 && w->index.count + new_groups > w->cfg.max_groups)
		rc = RP_ERR_NOSPC;
	if (rc == 0)
		rc = buf_reserve(&w->pending, bytes + state_bytes);
	/* Create the groups now, so that nothing below can fail (an empty
	 * group left behind by a later failure is harmless). */
	for (size_t i = 0; rc == 0 && i < count; i++)
		if (recs[i].type != WAL_REC_GROUP_DROP && !wal_index_get(&w->index, recs[i].group, &rc))
			RP_CHECK(rc != 0);
	if (rc != 0) {
		pthread_mutex_unlock(&w->lock);
		return rc;
	}

	if (rollover) {
		uint64_t first = w->next_seq;
		wal_seg_push(w, first, false);
		w->cur_seg_seq = first;
		w->cur_offset = WAL_SEGMENT_HEADER_BYTES;
		w->cur_has_batch = false;
		wal_run *run = buf_run(w, &w->pending, first, w->cur_offset, true);
		if (state_count > 0) {
			write_group_states(w, run, state_count);
			w->pending.batches++;
		}
	} else if (restate && state_count > 0) {
		RP_CHECK(w->cur_offset == WAL_SEGMENT_HEADER_BYTES);
		write_group_states(w, buf_run(w, &w->pending, w->cur_seg_seq, w->cur_offset, false),
		                   state_count);
		w->pending.batches++;
	}
	wal_run *run = buf_run(w, &w->pending, w->cur_seg_seq, w->cur_offset, false);

	/* Pass 2: encode and index. */
	for (size_t i = 0; i < count; i++) {
		const wal_rec *r = &recs[i];
		bool last_rec = i == count - 1;
		wal_group *g = NULL;
		if (r->type != WAL_REC_GROUP_DROP) {
			g = wal_index_find(&w->index, r->group);
			if (!g) /* dropped earlier in this batch: a new life */
				g = wal_index_get(&w->index, r->group, &rc);
			RP_CHECK(g != NULL); /* only an allocation can fail here */
		}
		uint64_t offset;
		if (r->type == WAL_REC_ENTRIES) {
			size_t done = 0;
			while (done < r->entry_count) {
				size_t payload;
				const hp_entry *e = r->entries + done;
				size_t n = wal_entries_fit(e, r->entry_count - done, &payload);
				bool end = last_rec && done + n == r->entry_count;
				uint8_t *p = rec_begin(w, run, WAL_REC_ENTRIES, r->group, payload,
				                       end, &offset);
				wal_entries_encode(p, e, n);
				rec_end(p, payload);
				wal_ref ref = {.seg_seq = w->cur_seg_seq,
				               .offset = offset,
				               .first = e[0].index,
				               .last = e[n - 1].index};
				RP_CHECK(wal_group_entries(g, &ref, true) == 0);
				done += n;
			}
			continue;
		}
		size_t payload = small_payload(r);
		uint8_t *p = rec_begin(w, run, r->type, r->group, payload, last_rec, &offset);
		switch (r->type) {
		case WAL_REC_TRUNCATE:
			wal_put_u64(p, r->truncate_from);
			RP_CHECK(wal_group_truncate(g, r->truncate_from, true) == 0);
			break;
		case WAL_REC_HARD_STATE:
			wal_hard_state_encode(p, &r->hard_state);
			g->hard_state = r->hard_state;
			break;
		case WAL_REC_SNAPSHOT:
			wal_snapshot_encode(p, &r->snapshot, r->install);
			RP_CHECK(wal_group_snapshot(g, &r->snapshot, r->install, true) == 0);
			break;
		case WAL_REC_GROUP_DROP:
			wal_index_drop(&w->index, r->group);
			break;
		}
		rec_end(p, payload);
	}
	w->cur_has_batch = true;
	w->pending.batches++;
	uint64_t seq = w->next_seq - 1;
	if (frees || restate)
		deletion_update(w, seq);
	if (w->thread_started)
		pthread_cond_signal(&w->work_cond);
	pthread_mutex_unlock(&w->lock);
	if (seq_out)
		*seq_out = seq;
	return 0;
}

size_t wal_recs_from_ready(uint64_t group, const hp_ready *rd, wal_rec recs[WAL_READY_MAX_RECS])
{
	size_t n = 0;
	memset(recs, 0, WAL_READY_MAX_RECS * sizeof(*recs));
	if (rd->has_snap_chunk && rd->snap_chunk.last) {
		recs[n].type = WAL_REC_SNAPSHOT;
		recs[n].group = group;
		recs[n].snapshot = rd->snap_chunk.meta;
		recs[n].install = true;
		n++;
	}
	if (rd->hard_state_changed) {
		recs[n].type = WAL_REC_HARD_STATE;
		recs[n].group = group;
		recs[n].hard_state = rd->hard_state;
		n++;
	}
	if (rd->truncate_from) {
		recs[n].type = WAL_REC_TRUNCATE;
		recs[n].group = group;
		recs[n].truncate_from = rd->truncate_from;
		n++;
	}
	if (rd->entry_count) {
		recs[n].type = WAL_REC_ENTRIES;
		recs[n].group = group;
		recs[n].entries = rd->entries;
		recs[n].entry_count = rd->entry_count;
		n++;
	}
	return n;
}

/* --------------------------------------------------------- write rounds */

/* Stats are read from other threads: the writer adds under the lock. */
static void stat_add(wal *w, uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&w->lock);
	*field += n;
	pthread_mutex_unlock(&w->lock);
}

static void seg_close(wal *w, wal_seg *s)
{
	if (s->file) {
		(void)fs_close(w->vfs, s->file); /* data already synced */
		s->file = NULL;
	}
}

/* ------------------------------------------------------- spare segments */

/*
 * With cfg.spare_segments, the spare thread keeps one zero-filled,
 * synced, full-size file "spare.ready" ready; a rollover renames it to
 * the new segment's name (then writes the header and syncs file and
 * directory, as for a fresh file).  The thread makes it as "spare.making"
 * and renames it "spare.ready" only after its last fdatasync, so a
 * spare.ready of full size found at open is whole and is kept (a restart
 * writes no 64 MiB of zeros again).  A crash between the rollover's
 * rename and the header leaves a newest segment of zeros, which recovery
 * removes as an unfinished creation; spare.making, a spare.ready of
 * another size, and "spare.tmp" (the name of a spare in any state before
 * this rule) are not segment names, and the thread replaces them.  State
 * changes under w->lock: NONE -> MAKING (thread) -> READY -> TAKEN
 * (writer, renaming) -> NONE.
 */
static void spare_file(const wal *w, const char *name, char *out)
{
	int n = snprintf(out, FS_PATH_MAX + 1, "%s/%s", w->dir, name);
	RP_CHECK(n > 0 && n <= FS_PATH_MAX);
}

static void spare_path(const wal *w, char *out)
{
	spare_file(w, "spare.ready", out);
}

static int unlink_if_there(wal *w, const char *path)
{
	int rc = fs_unlink(w->vfs, path);
	return rc == RP_ERR_NOTFOUND ? 0 : rc;
}

/* Whether path is a file of exactly a segment's size. */
static bool whole_size(wal *w, const char *path)
{
	fs_file *f = NULL;
	if (fs_open(w->vfs, path, 0, &f) != 0)
		return false;
	uint64_t size = 0;
	int rc = fs_size(w->vfs, f, &size);
	(void)fs_close(w->vfs, f);
	return rc == 0 && size == w->cfg.segment_bytes;
}

static bool spare_stopping(wal *w)
{
	pthread_mutex_lock(&w->lock);
	bool stop = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return stop;
}

/* Makes spare.ready, or finds it whole (*kept). */
static int spare_make(wal *w, bool *kept)
{
	char ready[FS_PATH_MAX + 1], path[FS_PATH_MAX + 1], legacy[FS_PATH_MAX + 1];
	spare_path(w, ready);
	spare_file(w, "spare.making", path);
	spare_file(w, "spare.tmp", legacy);
	*kept = whole_size(w, ready);
	if (*kept)
		return 0;
	int rc = unlink_if_there(w, ready);
	if (rc == 0)
		rc = unlink_if_there(w, legacy);
	if (rc == 0)
		rc = unlink_if_there(w, path);
	fs_file *f = NULL;
	if (rc == 0)
		rc = fs_open(w->vfs, path, FS_OPEN_CREATE | FS_OPEN_EXCL, &f);
	if (rc != 0)
		return rc;
	/* Allocated first: on a nearly full disk this fails at once, instead
	 * of filling the disk with zeros that other writers then miss. */
	rc = fs_fallocate(w->vfs, f, w->cfg.segment_bytes);
	uint8_t *zeros = rc == 0 ? calloc(1, SPARE_CHUNK_BYTES) : NULL;
	if (rc == 0 && zeros == NULL)
		rc = RP_ERR_NOMEM;
	uint64_t off = 0;
	while (rc == 0 && off < w->cfg.segment_bytes) {
		if (spare_stopping(w)) {
			rc = RP_ERR_CLOSED;
			break;
		}
		uint64_t left = w->cfg.segment_bytes - off;
		size_t n = left < SPARE_CHUNK_BYTES ? (size_t)left : SPARE_CHUNK_BYTES;
		rc = fs_pwrite(w->vfs, f, zeros, n, off);
		off += n;
		if (rc == 0 && (off % SPARE_SYNC_BYTES == 0 || off == w->cfg.segment_bytes))
			rc = fs_fdatasync(w->vfs, f);
	}
	free(zeros);
	int crc = fs_close(w->vfs, f);
	if (rc == 0)
		rc = crc;
	if (rc == 0)
		rc = fs_rename(w->vfs, path, ready); /* whole and synced: its name says so */
	if (rc != 0)
		(void)fs_unlink(w->vfs, path);
	return rc;
}

static void *spare_main(void *arg)
{
	wal *w = arg;
	pthread_setname_np(pthread_self(), "rp-wal-spare"); /* for top -H, perf */
	int backoff = SPARE_RETRY_MIN_SECONDS;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		/* MAKING here is wal_open's request for the first spare */
		while (!w->stopping && w->spare != SPARE_NONE && w->spare != SPARE_MAKING)
			pthread_cond_wait(&w->spare_cond, &w->lock);
		if (w->stopping)
			break;
		w->spare = SPARE_MAKING;
		pthread_mutex_unlock(&w->lock);
		bool kept = false;
		int rc = spare_make(w, &kept);
		pthread_mutex_lock(&w->lock);
		w->spare = rc == 0 ? SPARE_READY : SPARE_NONE;
		if (rc == 0 && kept)
			w->stats.spares_kept++;
		else if (rc == 0)
			w->stats.spares_made++;
		else if (rc != RP_ERR_CLOSED)
			w->stats.spare_failures++;
		pthread_cond_broadcast(&w->spare_cond); /* a rollover may wait for it */
		if (rc == 0) {
			backoff = SPARE_RETRY_MIN_SECONDS;
		} else if (!w->stopping) {
			/* a full disk, say: the log falls back to fallocate meanwhile,
			 * and the next try waits longer each time */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += backoff;
			while (!w->stopping &&
			       pthread_cond_timedwait(&w->spare_cond, &w->lock, &until) == 0)
				;
			if (backoff < SPARE_RETRY_MAX_SECONDS)
				backoff *= 2;
		}
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Claims the ready spare for a new segment (false if none).  The first
 * segment of a fresh log waits for the first spare to be finished, for at
 * most SPARE_FIRST_WAIT_SECONDS (a slow disk: fallocate then). */
static bool spare_take(wal *w)
{
	if (!w->cfg.spare_segments)
		return false;
	pthread_mutex_lock(&w->lock);
	if (w->spare == SPARE_MAKING && w->seg_count == 1) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SPARE_FIRST_WAIT_SECONDS;
		while (w->spare == SPARE_MAKING && !w->stopping &&
		       pthread_cond_timedwait(&w->spare_cond, &w->lock, &until) == 0)
			;
	}
	bool ready = w->spare == SPARE_READY;
	if (ready)
		w->spare = SPARE_TAKEN;
	pthread_mutex_unlock(&w->lock);
	return ready;
}

/* The claimed spare is renamed (or failed to be): the thread makes the next. */
static void spare_release(wal *w, bool used)
{
	pthread_mutex_lock(&w->lock);
	RP_CHECK(w->spare == SPARE_TAKEN);
	w->spare = SPARE_NONE;
	if (used)
		w->stats.spares_used++;
	pthread_cond_broadcast(&w->spare_cond);
	pthread_mutex_unlock(&w->lock);
}

/* Creates a segment: from the spare or preallocated, header written, file
 * and name synced. */
static int seg_create(wal *w, wal_seg *s)
{
	char path[FS_PATH_MAX + 1];
	wal_seg_path(w, s->first_seq, path);
	fs_file *f = NULL;
	int rc;
	if (spare_take(w)) {
		char from[FS_PATH_MAX + 1];
		spare_path(w, from);
		rc = fs_rename(w->vfs, from, path);
		spare_release(w, rc == 0);
		if (rc == 0)
			rc = fs_open(w->vfs, path, 0, &f);
	} else {
		rc = fs_open(w->vfs, path, FS_OPEN_CREATE | FS_OPEN_EXCL, &f);
		if (rc == 0) {
			rc = fs_fallocate(w->vfs, f, w->cfg.segment_bytes);
			if (rc != 0) {
				(void)fs_close(w->vfs, f);
				return rc;
			}
		}
	}
	if (rc != 0)
		return rc;
	uint8_t header[WAL_SEGMENT_HEADER_BYTES];
	wal_seg_header hdr = {.first_seq = s->first_seq, .wal_id = w->wal_id};
	wal_seg_header_encode(&hdr, header);
	rc = fs_pwrite(w->vfs, f, header, sizeof(header), 0);
	if (rc == 0)
		rc = fs_fdatasync(w->vfs, f);
	if (rc == 0)
		rc = fs_fsync_dir(w->vfs, w->dir);
	if (rc != 0) {
		(void)fs_close(w->vfs, f);
		return rc;
	}
	s->file = f;
	pthread_mutex_lock(&w->lock);
	s->on_disk = true;
	w->stats.segments_created++;
	pthread_mutex_unlock(&w->lock);
	return 0;
}

static wal_seg *seg_lookup(wal *w, uint64_t first_seq)
{
	pthread_mutex_lock(&w->lock);
	wal_seg *s = seg_find(w, first_seq);
	pthread_mutex_unlock(&w->lock);
	RP_CHECK(s != NULL);
	return s;
}

/* Writes the taken buffer: per run, (create,) one pwrite, one fdatasync. */
static int write_inflight(wal *w)
{
	wal_buf *b = &w->inflight;
	for (size_t i = 0; i < b->run_count; i++) {
		const wal_run *r = &b->runs[i];
		if (r->len == 0 && !r->create)
			continue;
		wal_seg *s = seg_lookup(w, r->seg_seq);
		int rc = 0;
		if (r->create) {
			RP_CHECK(!s->on_disk);
			rc = seg_create(w, s);
		} else if (!s->file) {
			char path[FS_PATH_MAX + 1];
			wal_seg_path(w, s->first_seq, path);
			rc = fs_open(w->vfs, path, 0, &s->file);
		}
		if (rc == 0 && r->len > 0)
			rc = fs_pwrite(w->vfs, s->file, b->bytes + r->start, r->len, r->file_offset);
		if (rc == 0 && r->len > 0) {
			rc = fs_fdatasync(w->vfs, s->file);
			if (rc == 0) {
				stat_add(w, &w->stats.fdatasyncs, 1);
				stat_add(w, &w->stats.bytes_written, r->len);
			}
		}
		if (rc != 0)
			return rc;
		if (i + 1 < b->run_count)
			seg_close(w, s); /* the round moves on to a newer segment */
	}
	return 0;
}

/* Under lock: segments that may be deleted now. */
static bool deletion_due(wal *w)
{
	return w->seg_count > 1 && w->durable_seq >= w->delete_after &&
	       wal_seg_at(w, 0)->first_seq < w->delete_below &&
	       wal_seg_at(w, 1)->on_disk;
}

/* Deletes segments wholly before delete_below (never the newest). */
static int delete_segments(wal *w)
{
	int rc = 0;
	size_t deleted = 0;
	for (size_t i = 0; i < w->cfg.max_segments; i++) {
		pthread_mutex_lock(&w->lock);
		bool due = deletion_due(w);
		wal_seg victim;
		if (due) {
			victim = *wal_seg_at(w, 0);
			w->seg_head = (w->seg_head + 1) % w->cfg.max_segments;
			w->seg_count--;
		}
		pthread_mutex_unlock(&w->lock);
		if (!due)
			break;
		seg_close(w, &victim);
		char path[FS_PATH_MAX + 1];
		wal_seg_path(w, victim.first_seq, path);
		rc = unlink_if_there(w, path);
		if (rc != 0)
			break;
		deleted++;
	}
	if (rc == 0 && deleted > 0)
		rc = fs_fsync_dir(w->vfs, w->dir);
	if (rc == 0)
		stat_add(w, &w->stats.segments_deleted, deleted);
	return rc;
}

/* One group-commit round: take everything queued, write it, sync it,
 * report it, then delete segments that became unnecessary.  Runs on the
 * writer thread, or on the caller's thread in sync mode. */
static int round_run(wal *w)
{
	pthread_mutex_lock(&w->lock);
	int rc = w->failed;
	bool took = false;
	if (rc == 0 && w->pending.size > 0) {
		wal_buf tmp = w->inflight;
		w->inflight = w->pending;
		w->pending = tmp;
		buf_reset(&w->pending);
		/* The next round starts on a fresh sector (see the file comment). */
		w->cur_offset = wal_align_up(w->cur_offset);
		w->round_seq = 0;
		took = true;
	}
	pthread_mutex_unlock(&w->lock);
	if (rc != 0)
		return rc;

	if (took)
		rc = write_inflight(w);

	pthread_mutex_lock(&w->lock);
	if (took) {
		if (rc != 0) {
			w->failed = rc;
		} else {
			w->durable_seq = w->inflight.last_seq;
			w->stats.rounds++;
			w->stats.batches += w->inflight.batches;
			w->stats.records += w->inflight.records;
		}
		buf_reset(&w->inflight);
		pthread_cond_broadcast(&w->done_cond);
	}
	uint64_t durable = w->durable_seq;
	pthread_mutex_unlock(&w->lock);
	if (took && w->cfg.durable_cb)
		w->cfg.durable_cb(w->cfg.durable_ctx, durable, rc);
	if (rc != 0)
		return rc;

	rc = delete_segments(w);
	if (rc != 0) {
		pthread_mutex_lock(&w->lock);
		w->failed = rc;
		pthread_cond_broadcast(&w->done_cond);
		pthread_mutex_unlock(&w->lock);
		if (w->cfg.durable_cb)
			w->cfg.durable_cb(w->cfg.durable_ctx, durable, rc);
	}
	return rc;
}

static void *writer_main(void *arg)
{
	wal *w = arg;
	pthread_setname_np(pthread_self(), "rp-wal-writer");
	pthread_mutex_lock(&w->lock);
	/* Each pass either writes a round, deletes, or stops. */
	for (;;) {
		while (!w->stopping && w->failed == 0 && w->pending.size == 0 && !deletion_due(w))
			pthread_cond_wait(&w->work_cond, &w->lock);
		if (w->stopping || w->failed != 0)
			break;
		pthread_mutex_unlock(&w->lock);
		int rc = round_run(w);
		pthread_mutex_lock(&w->lock);
		if (rc != 0)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int wal_sync(wal *w)
{
	RP_CHECK(w != NULL);
	if (!w->cfg.threaded)
		return round_run(w);
	pthread_mutex_lock(&w->lock);
	uint64_t target = w->next_seq - 1;
	pthread_mutex_unlock(&w->lock);
	return wal_wait(w, target);
}

int wal_wait(wal *w, uint64_t seq)
{
	RP_CHECK(w != NULL);
	if (!w->cfg.threaded) {
		int rc = 0;
		if (wal_durable_seq(w) < seq)
			rc = round_run(w);
		return rc != 0 ? rc : (wal_durable_seq(w) >= seq ? 0 : RP_ERR_INVALID);
	}
	pthread_mutex_lock(&w->lock);
	RP_CHECK(seq < w->next_seq); /* only what was appended */
	while (w->durable_seq < seq && w->failed == 0) /* each wake-up is a round */
		pthread_cond_wait(&w->done_cond, &w->lock);
	int rc = w->durable_seq >= seq ? 0 : w->failed;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

uint64_t wal_durable_seq(wal *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t s = w->durable_seq;
	pthread_mutex_unlock(&w->lock);
	return s;
}

uint64_t wal_last_seq(wal *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t s = w->next_seq - 1;
	pthread_mutex_unlock(&w->lock);
	return s;
}

int wal_failed(wal *w)
{
	pthread_mutex_lock(&w->lock);
	int rc = w->failed;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

void wal_get_stats(wal *w, wal_stats *stats)
{
	pthread_mutex_lock(&w->lock);
	*stats = w->stats;
	pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------- open and close */

/* The writer finishes the round it is in; the spare thread stops between
 * chunks (its unfinished spare is replaced at the next open). */
static void wal_stop_threads(wal *w)
{
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->work_cond);
	pthread_cond_broadcast(&w->spare_cond);
	pthread_mutex_unlock(&w->lock);
	if (w->thread_started)
		pthread_join(w->thread, NULL);
	if (w->spare_started)
		pthread_join(w->spare_thread, NULL);
	w->thread_started = w->spare_started = false;
}

static void wal_free(wal *w)
{
	if (!w)
		return;
	if (w->segs) {
		for (size_t i = 0; i < w->seg_count; i++)
			seg_close(w, wal_seg_at(w, i));
	}
	free(w->segs);
	free(w->pending.bytes);
	free(w->pending.runs);
	free(w->inflight.bytes);
	free(w->inflight.runs);
	wal_index_deinit(&w->index);
	pthread_cond_destroy(&w->work_cond);
	pthread_cond_destroy(&w->done_cond);
	pthread_cond_destroy(&w->spare_cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int wal_open(const wal_config *cfg, wal **out, wal_report *report)
{
	RP_CHECK(cfg != NULL && out != NULL && cfg->vfs != NULL && cfg->dir != NULL);
	RP_CHECK(cfg->segment_bytes >= WAL_MIN_SEGMENT_BYTES);
	RP_CHECK(cfg->max_segments >= 2 && cfg->max_groups >= 1);
	RP_CHECK(cfg->max_pending_bytes >= WAL_ALIGN_BYTES);
	RP_CHECK(!cfg->spare_segments || cfg->threaded);
	*out = NULL;
	wal_report local;
	if (!report)
		report = &local;
	memset(report, 0, sizeof(*report));
	if (strlen(cfg->dir) == 0 || strlen(cfg->dir) + WAL_SEG_NAME_BYTES + 1 > FS_PATH_MAX)
		return RP_ERR_INVALID;

	wal *w = calloc(1, sizeof(*w));
	if (!w)
		return RP_ERR_NOMEM;
	w->cfg = *cfg;
	strcpy(w->dir, cfg->dir);
	w->cfg.dir = w->dir;
	w->vfs = cfg->vfs;
	w->wal_id = cfg->wal_id;
	wal_index_init(&w->index, cfg->max_groups);
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work_cond, NULL);
	pthread_cond_init(&w->done_cond, NULL);
	pthread_cond_init(&w->spare_cond, NULL);
	w->segs = calloc(cfg->max_segments, sizeof(*w->segs));
	w->pending.runs = calloc(cfg->max_segments + 1, sizeof(wal_run));
	w->inflight.runs = calloc(cfg->max_segments + 1, sizeof(wal_run));
	if (!w->segs || !w->pending.runs || !w->inflight.runs) {
		wal_free(w);
		return RP_ERR_NOMEM;
	}
	w->next_seq = 1;
	int rc = wal_recover(w, report);
	/* Segments that marks made unnecessary before a crash go now; not
	 * while the newest segment is a bare header, though: until its first
	 * round (which restates every group, wal_append) is durable, the
	 * groups' hard states and marks are only in the older ones. */
	if (rc == 0 && w->cur_seg_seq != 0 && w->cur_has_batch)
		deletion_update(w, w->durable_seq);
	if (rc == 0 && cfg->spare_segments) {
		/* MAKING from the start: a first rollover waits for it, even one
		 * that comes before the thread runs. */
		w->spare = SPARE_MAKING;
		if (pthread_create(&w->spare_thread, NULL, spare_main, w) != 0)
			rc = RP_ERR_NOMEM;
		else
			w->spare_started = true;
	}
	if (rc == 0 && cfg->threaded) {
		if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
			rc = RP_ERR_NOMEM;
		else
			w->thread_started = true;
	}
	if (rc != 0) {
		wal_stop_threads(w);
		wal_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void wal_close(wal *w)
{
	if (!w)
		return;
	wal_stop_threads(w);
	wal_free(w);
}

/* ------------------------------------------------------------- restore */

void wal_group_ids(wal *w, uint64_t *ids, size_t cap, size_t *count)
{
	for (size_t i = 0; i < w->index.count && i < cap; i++)
		ids[i] = w->index.v[i]->id;
	*count = w->index.count;
}

int wal_group_info_get(wal *w, uint64_t group, wal_group_info *info)
{
	const wal_group *g = wal_index_find(&w->index, group);
	if (!g)
		return RP_ERR_NOTFOUND;
	memset(info, 0, sizeof(*info));
	info->group = group;
	info->hard_state = g->hard_state;
	info->snapshot = g->snap;
	info->first_index = g->snap.index + 1;
	info->last_index = g->last_index;
	return 0;
}

void wal_restore_free(wal_restore *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->buffer_count; i++)
		free(r->buffers[i]);
	free(r->buffers);
	free(r->entries);
	memset(r, 0, sizeof(*r));
}

/* Reads the record at ref, checks it again, returns its payload (owned). */
static int read_entries_record(wal *w, fs_file *f, const wal_ref *ref, uint64_t group,
                               uint8_t **payload_out, size_t *size_out)
{
	uint8_t hb[WAL_REC_HEADER_BYTES];
	wal_rec_header h;
	int rc = fs_pread_full(w->vfs, f, hb, sizeof(hb), ref->offset);
	if (rc != 0)
		return rc == RP_ERR_IO ? RP_ERR_CORRUPT : rc;
	if (wal_rec_header_decode(hb, &h) != 0 || h.type != WAL_REC_ENTRIES || h.group != group)
		return RP_ERR_CORRUPT;
	uint8_t *rec = malloc(WAL_REC_HEADER_BYTES + (size_t)h.size_bytes);
	if (!rec)
		return RP_ERR_NOMEM;
	memcpy(rec, hb, sizeof(hb));
	rc = fs_pread_full(w->vfs, f, rec + WAL_REC_HEADER_BYTES, h.size_bytes,
	                   ref->offset + WAL_REC_HEADER_BYTES);
	uint64_t first;
	uint32_t n;
	if (rc == 0 && (!wal_rec_crc_ok(rec, &h) ||
	                wal_entries_decode(rec + WAL_REC_HEADER_BYTES, h.size_bytes, &first,
	                                   &n) != 0 ||
	                first > ref->first || first + n - 1 < ref->last))
		rc = RP_ERR_CORRUPT;
	if (rc != 0) {
		free(rec);
		return rc == RP_ERR_IO ? RP_ERR_CORRUPT : rc;
	}
	memmove(rec, rec + WAL_REC_HEADER_BYTES, h.size_bytes);
	*payload_out = rec;
	*size_out = h.size_bytes;
	return 0;
}

int wal_restore_load(wal *w, uint64_t group, wal_restore *out)
{
	RP_CHECK(w != NULL && out != NULL);
	/* Records still queued are not in the files yet. */
	RP_CHECK(wal_durable_seq(w) == wal_last_seq(w));
	memset(out, 0, sizeof(*out));
	const wal_group *g = wal_index_find(&w->index, group);
	if (!g)
		return 0;
	out->restore.hard_state = g->hard_state;
	out->restore.snapshot = g->snap;
	uint64_t total = g->last_index - g->snap.index;
	if (total == 0)
		return 0;
	out->entries = calloc((size_t)total, sizeof(*out->entries));
	out->buffers = calloc(g->count, sizeof(*out->buffers));
	if (!out->entries || !out->buffers) {
		wal_restore_free(out);
		return RP_ERR_NOMEM;
	}
	int rc = 0;
	uint64_t open_seq = 0;
	fs_file *f = NULL;
	uint64_t filled = 0;
	for (size_t k = 0; rc == 0 && k < g->count; k++) {
		const wal_ref *ref = &g->refs[g->head + k];
		if (!f || open_seq != ref->seg_seq) {
			if (f)
				(void)fs_close(w->vfs, f);
			f = NULL;
			char path[FS_PATH_MAX + 1];
			wal_seg_path(w, ref->seg_seq, path);
			rc = fs_open(w->vfs, path, FS_OPEN_READ_ONLY, &f);
			open_seq = ref->seg_seq;
			if (rc != 0)
				break;
		}
		uint8_t *payload;
		size_t size;
		rc = read_entries_record(w, f, ref, group, &payload, &size);
		if (rc != 0)
			break;
		out->buffers[out->buffer_count++] = payload;
		wal_entries_iter it;
		hp_entry e;
		wal_entries_iter_init(&it, payload, size);
		while (wal_entries_next(&it, &e)) { /* entries in one record */
			if (e.index < ref->first || e.index > ref->last)
				continue;
			RP_CHECK(filled < total && e.index == g->snap.index + 1 + filled);
			out->entries[filled++] = e;
		}
	}
	if (f)
		(void)fs_close(w->vfs, f);
	if (rc == 0 && filled != total)
		rc = RP_ERR_CORRUPT;
	if (rc != 0) {
		wal_restore_free(out);
		return rc;
	}
	out->restore.entries = out->entries;
	out->restore.entry_count = total;
	return 0;
}
