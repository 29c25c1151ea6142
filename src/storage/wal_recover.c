/*
 * wal_recover.c — opening a log: scan every segment in order, verify every
 * record, replay the records into the per-group index, and decide at the
 * first record that does not verify whether it is a torn write (the tail
 * of the last write round: cut it off) or corruption (data that had been
 * synced is damaged: refuse).  docs/storage.md, "Recovery", states the
 * rules; the reasoning behind them:
 *
 *   1. A round is written only after the previous round's fdatasync
 *      returned, and a new segment only after the old one's last round was
 *      synced.  So a crash can damage only the last round, in the last
 *      segment.  Any bad record in an earlier segment is corruption.
 *   2. Rounds start on a fresh 512-byte sector and everything after the
 *      log's end is zeros (preallocation, and recovery zeroes what it cuts
 *      off).  Sector writes are atomic, so after a crash every sector of the
 *      last round holds either what was written or zeros.  A record that
 *      fails its checksum although none of its sectors is all-zero was
 *      written completely and then damaged: corruption.
 *   3. Every record names the first seq of its round (round_seq).  A valid
 *      record after the bad spot whose round_seq is above the bad record's
 *      seq belongs to a later round, which was only written after the bad
 *      record's round had been synced: corruption.
 *   Otherwise the bad spot is a torn write: the log ends after the last
 *   complete batch before it, and the bytes from there on are zeroed and
 *   synced before anything new is written.
 *
 * What cannot be told apart (documented): damage that zeroes a whole
 * sector inside the very last round, or that hits a record holding a
 * naturally all-zero sector in the last round, looks torn.
 *
 * Memory: one 1 MiB read window, one buffer for a record larger than that
 * (at most WAL_REC_MAX_PAYLOAD), and the descriptors of one batch.
 */
#define _GNU_SOURCE
#include "storage/wal_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

enum {
	SCAN_WINDOW_BYTES = 1 << 20,
	ZERO_CHUNK_BYTES = 1 << 20,
};

/* One decoded record waiting for its batch to complete. */
typedef struct {
	uint8_t type;
	uint64_t group;
	uint64_t seq;
	uint64_t offset;
	wal_ref ref;     /* ENTRIES */
	uint64_t from;   /* TRUNCATE */
	hp_hard_state hs; /* HARD_STATE, GROUP_STATE */
	hp_snapshot_meta snap; /* SNAPSHOT, GROUP_STATE */
	bool install;
} replay_rec;

typedef struct {
	wal *w;
	wal_report *rep;
	/* the segment being scanned */
	fs_file *f;
	uint64_t size;
	uint64_t seg_seq;
	char name[WAL_SEG_NAME_BYTES];
	/* read window */
	uint8_t *win;
	uint64_t win_off;
	size_t win_len;
	uint8_t *big;
	size_t big_cap;
	/* replay */
	replay_rec *batch;
	size_t batch_count;
	size_t batch_cap;
	size_t batch_max;
	uint64_t expect_seq; /* the next record's seq */
	uint64_t records;
} scan;

static int corrupt(scan *sc, uint64_t offset, uint64_t seq, bool group_known, uint64_t group,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int corrupt(scan *sc, uint64_t offset, uint64_t seq, bool group_known, uint64_t group,
                   const char *fmt, ...)
{
	wal_report *rep = sc->rep;
	snprintf(rep->segment, sizeof(rep->segment), "%s", sc->name);
	rep->offset = offset;
	rep->seq = seq;
	rep->group = group;
	rep->group_known = group_known;
	char why[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (group_known)
		snprintf(rep->message, sizeof(rep->message),
		         "WAL corrupt: segment %s offset %" PRIu64 " (record seq %" PRIu64
		         ", group %" PRIu64 "): %s",
		         sc->name, offset, seq, group, why);
	else
		snprintf(rep->message, sizeof(rep->message),
		         "WAL corrupt: segment %s offset %" PRIu64 " (record seq %" PRIu64
		         ", group unreadable): %s",
		         sc->name, offset, seq, why);
	return RP_ERR_CORRUPT;
}

/* A pointer to bytes [off, off + len) of the segment (off + len <= size),
 * valid until the next call. */
static int scan_get(scan *sc, uint64_t off, size_t len, const uint8_t **out)
{
	RP_CHECK(off + len <= sc->size);
	if (off >= sc->win_off && off + len <= sc->win_off + sc->win_len) {
		*out = sc->win + (off - sc->win_off);
		return 0;
	}
	if (len <= SCAN_WINDOW_BYTES) {
		uint64_t n = sc->size - off < SCAN_WINDOW_BYTES ? sc->size - off : SCAN_WINDOW_BYTES;
		sc->win_len = 0;
		int rc = fs_pread_full(sc->w->vfs, sc->f, sc->win, (size_t)n, off);
		if (rc != 0)
			return rc;
		sc->win_off = off;
		sc->win_len = (size_t)n;
		*out = sc->win;
		return 0;
	}
	if (sc->big_cap < len) {
		uint8_t *b = realloc(sc->big, len);
		if (!b)
			return RP_ERR_NOMEM;
		sc->big = b;
		sc->big_cap = len;
	}
	int rc = fs_pread_full(sc->w->vfs, sc->f, sc->big, len, off);
	*out = sc->big;
	return rc;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---------------------------------------------------------- replaying */

static int batch_push(scan *sc, const replay_rec *r)
{
	if (sc->batch_count == sc->batch_max)
		return corrupt(sc, r->offset, r->seq, true, r->group,
		               "a batch longer than any writer makes");
	if (sc->batch_count == sc->batch_cap) {
		size_t cap = sc->batch_cap ? sc->batch_cap * 2 : 64;
		replay_rec *b = realloc(sc->batch, cap * sizeof(*b));
		if (!b)
			return RP_ERR_NOMEM;
		sc->batch = b;
		sc->batch_cap = cap;
	}
	sc->batch[sc->batch_count++] = *r;
	return 0;
}

static int batch_apply(scan *sc)
{
	wal_index *ix = &sc->w->index;
	for (size_t i = 0; i < sc->batch_count; i++) {
		const replay_rec *r = &sc->batch[i];
		int rc = 0;
		if (r->type == WAL_REC_GROUP_DROP) {
			wal_index_drop(ix, r->group);
			continue;
		}
		wal_group *g = wal_index_get(ix, r->group, &rc);
		if (!g) {
			if (rc == RP_ERR_NOSPC)
				snprintf(sc->rep->message, sizeof(sc->rep->message),
				         "WAL holds more groups than max_groups (%" PRIu32 ")",
				         sc->w->cfg.max_groups);
			return rc;
		}
		switch (r->type) {
		case WAL_REC_ENTRIES:
			rc = wal_group_entries(g, &r->ref, false);
			break;
		case WAL_REC_TRUNCATE:
			rc = wal_group_truncate(g, r->from, false);
			break;
		case WAL_REC_HARD_STATE:
			g->hard_state = r->hs;
			break;
		case WAL_REC_SNAPSHOT:
			rc = wal_group_snapshot(g, &r->snap, r->install, false);
			break;
		case WAL_REC_GROUP_STATE:
			g->hard_state = r->hs;
			rc = wal_group_snapshot(g, &r->snap, false, false);
			break;
		default:
			RP_CHECK(0);
		}
		if (rc == RP_ERR_CORRUPT)
			return corrupt(sc, r->offset, r->seq, true, r->group,
			               "record contradicts the group's log (type %u)", r->type);
		if (rc != 0)
			return rc;
	}
	sc->batch_count = 0;
	return 0;
}

/* Decodes a verified record's payload into a replay descriptor. */
static int record_decode(scan *sc, const wal_rec_header *h, const uint8_t *p, uint64_t pos,
                         replay_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = h->type;
	r->group = h->group;
	r->seq = h->seq;
	r->offset = pos;
	size_t size = h->size_bytes;
	bool ok = false;
	switch (h->type) {
	case WAL_REC_ENTRIES: {
		uint64_t first;
		uint32_t count;
		ok = wal_entries_decode(p, size, &first, &count) == 0;
		r->ref.seg_seq = sc->seg_seq;
		r->ref.offset = pos;
		r->ref.first = first;
		r->ref.last = first + count - 1;
		break;
	}
	case WAL_REC_TRUNCATE:
		ok = size == 8 && (r->from = wal_get_u64(p)) > 0;
		break;
	case WAL_REC_HARD_STATE:
		ok = size == WAL_HARD_STATE_BYTES;
		if (ok)
			wal_hard_state_decode(p, &r->hs);
		break;
	case WAL_REC_SNAPSHOT:
		ok = wal_snapshot_decode(p, size, &r->snap, &r->install) == 0;
		break;
	case WAL_REC_GROUP_STATE:
		ok = size >= WAL_HARD_STATE_BYTES &&
		     wal_snapshot_decode(p + WAL_HARD_STATE_BYTES, size - WAL_HARD_STATE_BYTES,
		                         &r->snap, &r->install) == 0 &&
		     !r->install;
		if (ok)
			wal_hard_state_decode(p, &r->hs);
		break;
	case WAL_REC_GROUP_DROP:
		ok = size == 0;
		break;
	}
	if (!ok)
		return corrupt(sc, pos, h->seq, true, h->group,
		               "checksum matches but the payload is malformed (type %u)", h->type);
	return 0;
}

/* ------------------------------------------------------ the tail rules */

/* Rule 2: true when some sector overlapping [from, to) is all zeros or
 * reaches past the end of the file, as a crash that lost it leaves it. */
static int any_zero_sector(scan *sc, uint64_t from, uint64_t to, bool *found)
{
	*found = false;
	for (uint64_t a = from / WAL_ALIGN_BYTES * WAL_ALIGN_BYTES; a < to; a += WAL_ALIGN_BYTES) {
		if (a + WAL_ALIGN_BYTES > sc->size) {
			*found = true; /* the write that would have extended the file is lost */
			return 0;
		}
		const uint8_t *p;
		int rc = scan_get(sc, a, WAL_ALIGN_BYTES, &p);
		if (rc != 0)
			return rc;
		if (all_zero(p, WAL_ALIGN_BYTES)) {
			*found = true;
			return 0;
		}
	}
	return 0;
}

/* A valid record at pos whose header is already in h? */
static int record_valid_at(scan *sc, uint64_t pos, const wal_rec_header *h, bool *valid)
{
	*valid = false;
	if (pos + WAL_REC_HEADER_BYTES + h->size_bytes > sc->size)
		return 0;
	const uint8_t *p;
	int rc = scan_get(sc, pos, WAL_REC_HEADER_BYTES + (size_t)h->size_bytes, &p);
	if (rc == 0)
		*valid = wal_rec_crc_ok(p, h);
	return rc;
}

/* Looks at every byte from `from` to the end of the segment: the end of
 * the last non-zero byte, and (rule 3) the first valid record that proves
 * the spot at `from` had been synced: one from a later round (round_seq >
 * seq) or an older record where none can be (seq' < seq). */
static int tail_scan(scan *sc, uint64_t from, uint64_t seq, uint64_t *nonzero_end,
                     uint64_t *evidence_off, wal_rec_header *evidence)
{
	*nonzero_end = from;
	*evidence_off = 0;
	uint64_t p = from & ~(uint64_t)7;
	while (p < sc->size) { /* each pass advances p by >= 1 window - 40 bytes */
		size_t n = sc->size - p < SCAN_WINDOW_BYTES ? (size_t)(sc->size - p)
		                                             : (size_t)SCAN_WINDOW_BYTES;
		const uint8_t *w;
		int rc = scan_get(sc, p, n, &w);
		if (rc != 0)
			return rc;
		for (size_t i = n; i-- > 0;) {
			if (w[i]) {
				if (p + i + 1 > *nonzero_end)
					*nonzero_end = p + i + 1;
				break;
			}
		}
		uint64_t next = p + n;
		for (size_t i = 0; i + WAL_REC_HEADER_BYTES <= n; i += 8) {
			const uint8_t *hb = w + i;
			if (wal_get_u16(hb) != WAL_REC_MAGIC)
				continue;
			wal_rec_header h;
			if (wal_rec_header_decode(hb, &h) != 0)
				continue;
			if (!(h.round_seq > seq || h.seq < seq))
				continue;
			uint64_t at = p + i;
			bool valid;
			rc = record_valid_at(sc, at, &h, &valid);
			if (rc != 0)
				return rc;
			if (valid) {
				*evidence_off = at;
				*evidence = h;
				return 0;
			}
			/* record_valid_at moved the window: restart after `at`. */
			next = at + 8;
			break;
		}
		if (next == p + n && p + n < sc->size)
			next = p + n - (WAL_REC_HEADER_BYTES - 8); /* headers across windows */
		RP_CHECK(next > p);
		p = next;
	}
	return 0;
}

static int zero_range(scan *sc, uint64_t from, uint64_t to)
{
	uint8_t *zeros = calloc(1, ZERO_CHUNK_BYTES);
	if (!zeros)
		return RP_ERR_NOMEM;
	int rc = 0;
	while (rc == 0 && from < to) { /* (to - from) / 1 MiB rounds */
		uint64_t n = to - from < ZERO_CHUNK_BYTES ? to - from : ZERO_CHUNK_BYTES;
		rc = fs_pwrite(sc->w->vfs, sc->f, zeros, (size_t)n, from);
		from += n;
	}
	free(zeros);
	if (rc == 0)
		rc = fs_fdatasync(sc->w->vfs, sc->f);
	return rc;
}

/* ------------------------------------------------------- one segment */

enum { STOP_END = 1, STOP_BAD = 2 };

/* Scans the open segment sc->f.  For the last segment, sets *keep_end to
 * where the log now ends (after the last complete batch). */
static int scan_segment(scan *sc, bool is_last, uint64_t *keep_end)
{
	uint64_t pos = WAL_SEGMENT_HEADER_BYTES;
	uint64_t zero_from = 0;
	uint64_t batch_end = pos;
	uint64_t batch_end_seq = sc->expect_seq; /* seq after the last complete batch */
	int stop = STOP_END;
	wal_rec_header h;
	memset(&h, 0, sizeof(h));
	bool header_ok = false;
	sc->batch_count = 0;
	/* Each pass consumes a record (>= 40 bytes) or skips padding. */
	while (pos + WAL_REC_HEADER_BYTES <= sc->size) {
		const uint8_t *hb;
		int rc = scan_get(sc, pos, WAL_REC_HEADER_BYTES, &hb);
		if (rc != 0)
			return rc;
		if (pos % WAL_ALIGN_BYTES != 0 && zero_from == 0 && wal_get_u16(hb) == 0) {
			/* No record starts with a zero magic: padding up to the
			 * next round, which starts on the next boundary. */
			zero_from = pos;
			pos = wal_align_up(pos);
			continue;
		}
		if (all_zero(hb, WAL_REC_HEADER_BYTES))
			break; /* the end (or a lost sector: see the tail rules) */
		header_ok = wal_rec_header_decode(hb, &h) == 0;
		if (!header_ok || pos + WAL_REC_HEADER_BYTES + h.size_bytes > sc->size) {
			stop = STOP_BAD;
			break;
		}
		const uint8_t *rec;
		rc = scan_get(sc, pos, WAL_REC_HEADER_BYTES + (size_t)h.size_bytes, &rec);
		if (rc != 0)
			return rc;
		if (!wal_rec_crc_ok(rec, &h)) {
			stop = STOP_BAD;
			break;
		}
		if (h.seq != sc->expect_seq && zero_from != 0) {
			/* Records are missing between the zeros at zero_from and
			 * here: a lost sector (the tail rules decide) — or zeros
			 * that were padding, which the rules call corruption. */
			header_ok = false;
			stop = STOP_BAD;
			break;
		}
		if (h.seq != sc->expect_seq)
			return corrupt(sc, pos, sc->expect_seq, true, h.group,
			               "a valid record with seq %" PRIu64 " where seq %" PRIu64
			               " belongs",
			               h.seq, sc->expect_seq);
		replay_rec r;
		rc = record_decode(sc, &h, rec + WAL_REC_HEADER_BYTES, pos, &r);
		if (rc == 0)
			rc = batch_push(sc, &r);
		if (rc == 0 && (h.flags & WAL_FLAG_BATCH_END)) {
			rc = batch_apply(sc);
			batch_end = pos + wal_rec_bytes(h.size_bytes);
			batch_end_seq = h.seq + 1;
		}
		if (rc != 0)
			return rc;
		sc->records++;
		zero_from = 0;
		pos += wal_rec_bytes(h.size_bytes);
		sc->expect_seq++;
	}
	uint64_t end = zero_from ? zero_from : pos; /* end of the last valid record */
	uint64_t seq = sc->expect_seq;

	if (stop == STOP_BAD) {
		bool known = header_ok && h.seq == seq;
		if (!is_last)
			return corrupt(sc, pos, seq, known, known ? h.group : 0,
			               "bad record in a segment that was sealed (synced) before the next "
			               "one began");
		/* The damaged record's extent: its length is trusted only when
		 * its header checksum holds. */
		uint64_t ext_end = pos + WAL_REC_HEADER_BYTES;
		if (known)
			ext_end = pos + WAL_REC_HEADER_BYTES + h.size_bytes;
		bool torn;
		int rc = any_zero_sector(sc, end, ext_end, &torn);
		if (rc != 0)
			return rc;
		if (!torn)
			return corrupt(sc, pos, seq, known, known ? h.group : 0,
			               "record fails its checksum although every sector of it was "
			               "written");
	}
	uint64_t nonzero_end, ev_off;
	wal_rec_header ev;
	int rc = tail_scan(sc, end, seq, &nonzero_end, &ev_off, &ev);
	if (rc != 0)
		return rc;
	if (ev_off != 0)
		return corrupt(sc, end, seq, stop == STOP_BAD && header_ok && h.seq == seq,
		               h.group,
		               "damaged or missing record followed by record seq %" PRIu64
		               " (round %" PRIu64 ") at offset %" PRIu64
		               ", written after this spot was synced",
		               ev.seq, ev.round_seq, ev_off);
	if (!is_last) {
		if (nonzero_end > end)
			return corrupt(sc, end, seq, false, 0,
			               "garbage after the end of a sealed segment");
		if (sc->batch_count > 0)
			return corrupt(sc, end, seq, false, 0, "sealed segment ends inside a batch");
		return 0;
	}
	/* The last segment: cut after the last complete batch. */
	sc->rep->dropped_records += sc->batch_count;
	sc->batch_count = 0;
	sc->expect_seq = batch_end_seq;
	if (nonzero_end > batch_end) {
		sc->rep->torn_bytes += nonzero_end - batch_end;
		rc = zero_range(sc, batch_end, nonzero_end);
		if (rc != 0)
			return rc;
	}
	*keep_end = batch_end;
	return 0;
}

/* ------------------------------------------------------------ the log */

typedef struct {
	uint64_t *seqs;
	size_t count;
	size_t cap;
	int rc;
} name_list;

static int list_cb(void *ctx, const char *name)
{
	name_list *l = ctx;
	uint64_t seq;
	if (!wal_seg_name_parse(name, &seq))
		return 0; /* not ours */
	if (l->count == l->cap)
		return RP_ERR_NOSPC;
	l->seqs[l->count++] = seq;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The directory holding dir ("." when dir has no '/'). */
static void parent_dir(const char *dir, char *out)
{
	const char *slash = strrchr(dir, '/');
	if (!slash) {
		strcpy(out, ".");
	} else if (slash == dir) {
		strcpy(out, "/");
	} else {
		memcpy(out, dir, (size_t)(slash - dir));
		out[slash - dir] = '\0';
	}
}

static int open_segment(scan *sc, uint64_t seq)
{
	char path[FS_PATH_MAX + 1];
	wal_seg_path(sc->w, seq, path);
	snprintf(sc->name, sizeof(sc->name), "%020" PRIu64 ".wal", seq);
	sc->seg_seq = seq;
	sc->win_off = 0;
	sc->win_len = 0;
	int rc = fs_open(sc->w->vfs, path, 0, &sc->f);
	if (rc == 0)
		rc = fs_size(sc->w->vfs, sc->f, &sc->size);
	return rc;
}

static void close_segment(scan *sc)
{
	if (sc->f)
		(void)fs_close(sc->w->vfs, sc->f);
	sc->f = NULL;
}

/* A last segment whose creation did not finish (header not durable) holds
 * nothing: true if so. */
static int torn_creation(scan *sc, bool *torn)
{
	*torn = false;
	if (sc->size >= WAL_SEGMENT_HEADER_BYTES) {
		const uint8_t *p;
		int rc = scan_get(sc, 0, WAL_SEGMENT_HEADER_BYTES, &p);
		if (rc != 0)
			return rc;
		if (!all_zero(p, WAL_SEGMENT_HEADER_BYTES))
			return 0;
	}
	uint64_t nonzero_end, ev_off;
	wal_rec_header ev;
	int rc = tail_scan(sc, 0, 1, &nonzero_end, &ev_off, &ev);
	*torn = rc == 0 && nonzero_end == 0;
	return rc;
}

int wal_recover(wal *w, wal_report *rep)
{
	scan sc;
	memset(&sc, 0, sizeof(sc));
	sc.w = w;
	sc.rep = rep;
	sc.batch_max = w->cfg.max_groups > WAL_BATCH_MAX_RECS ? w->cfg.max_groups
	                                                      : WAL_BATCH_MAX_RECS;
	name_list names = {.cap = w->cfg.max_segments};
	names.seqs = calloc(names.cap, sizeof(*names.seqs));
	sc.win = malloc(SCAN_WINDOW_BYTES);
	int rc = names.seqs && sc.win ? 0 : RP_ERR_NOMEM;
	if (rc == 0) {
		rc = fs_list(w->vfs, w->dir, list_cb, &names);
		if (rc == RP_ERR_NOTFOUND) {
			char parent[FS_PATH_MAX + 1];
			parent_dir(w->dir, parent);
			rc = fs_mkdir(w->vfs, w->dir);
			if (rc == 0 || rc == RP_ERR_EXISTS)
				rc = fs_fsync_dir(w->vfs, parent);
		} else if (rc == RP_ERR_NOSPC) {
			snprintf(rep->message, sizeof(rep->message),
			         "more than max_segments (%" PRIu32 ") segment files in %.200s",
			         w->cfg.max_segments, w->dir);
		}
	}
	size_t count = names.count;
	if (rc == 0)
		qsort(names.seqs, count, sizeof(*names.seqs), cmp_u64);

	/* An unfinished creation of the newest segment: remove it. */
	if (rc == 0 && count > 0) {
		rc = open_segment(&sc, names.seqs[count - 1]);
		bool torn = false;
		if (rc == 0)
			rc = torn_creation(&sc, &torn);
		close_segment(&sc);
		if (rc == 0 && torn) {
			char path[FS_PATH_MAX + 1];
			wal_seg_path(w, names.seqs[count - 1], path);
			rc = fs_unlink(w->vfs, path);
			if (rc == 0)
				rc = fs_fsync_dir(w->vfs, w->dir);
			count--;
			rep->removed_segments++;
		}
	}

	size_t first_kept = 0;
	uint64_t keep_end = WAL_SEGMENT_HEADER_BYTES;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		rc = open_segment(&sc, names.seqs[i]);
		const uint8_t *hp = NULL;
		if (rc == 0 && sc.size >= WAL_SEGMENT_HEADER_BYTES)
			rc = scan_get(&sc, 0, WAL_SEGMENT_HEADER_BYTES, &hp);
		wal_seg_header hdr;
		if (rc == 0 && (!hp || wal_seg_header_decode(hp, &hdr) != 0 ||
		                hdr.first_seq != names.seqs[i]))
			rc = corrupt(&sc, 0, names.seqs[i], false, 0, "segment header damaged");
		if (rc == 0 && i == 0)
			w->wal_id = hdr.wal_id;
		if (rc == 0 && hdr.wal_id != w->wal_id)
			rc = corrupt(&sc, 0, names.seqs[i], false, 0,
			             "segment belongs to another log (id %" PRIu64 ", not %" PRIu64 ")",
			             hdr.wal_id, w->wal_id);
		if (rc == 0 && i == 0) {
			sc.expect_seq = hdr.first_seq;
		} else if (rc == 0 && hdr.first_seq > sc.expect_seq) {
			/* Older segments whose deletion was not yet durable came
			 * back: everything they held is restated or covered later
			 * (the contiguity check below catches it if not). */
			wal_index_clear(&w->index);
			first_kept = i;
			sc.expect_seq = hdr.first_seq;
		} else if (rc == 0 && hdr.first_seq < sc.expect_seq) {
			rc = corrupt(&sc, 0, hdr.first_seq, false, 0,
			             "segment starts at seq %" PRIu64 " inside the previous one (next "
			             "seq %" PRIu64 ")",
			             hdr.first_seq, sc.expect_seq);
		}
		if (rc == 0)
			rc = scan_segment(&sc, i == count - 1, &keep_end);
		close_segment(&sc);
	}

	/* Remove the leftovers of an interrupted deletion. */
	for (size_t i = 0; rc == 0 && i < first_kept; i++) {
		char path[FS_PATH_MAX + 1];
		wal_seg_path(w, names.seqs[i], path);
		rc = fs_unlink(w->vfs, path);
		rep->removed_segments++;
		if (rc == 0 && i + 1 == first_kept)
			rc = fs_fsync_dir(w->vfs, w->dir);
	}

	if (rc == 0) {
		uint64_t bad_group, missing;
		if (wal_index_check(&w->index, &bad_group, &missing) != 0) {
			snprintf(sc.name, sizeof(sc.name), "(all)");
			rc = corrupt(&sc, 0, 0, true, bad_group,
			             "the group's entries from index %" PRIu64
			             " are missing (a segment holding them is gone)",
			             missing);
		}
	}

	if (rc == 0 && count > first_kept) {
		for (size_t i = first_kept; i < count; i++)
			wal_seg_push(w, names.seqs[i], true);
		w->next_seq = sc.expect_seq;
		w->cur_seg_seq = names.seqs[count - 1];
		w->cur_offset = wal_align_up(keep_end);
		w->cur_has_batch = keep_end > WAL_SEGMENT_HEADER_BYTES;
		/* After a process crash the page cache may hold records that
		 * never reached the disk; they were just read as valid, so make
		 * them durable before anyone acts on them. */
		rc = open_segment(&sc, names.seqs[count - 1]);
		if (rc == 0)
			rc = fs_fdatasync(w->vfs, sc.f);
		close_segment(&sc);
		if (rc == 0)
			rc = fs_fsync_dir(w->vfs, w->dir);
		rep->segments = (uint32_t)(count - first_kept);
		rep->first_seq = names.seqs[first_kept];
	}
	w->durable_seq = w->next_seq - 1;
	rep->last_seq = w->durable_seq;
	rep->records = sc.records;
	if (rc != 0 && rc != RP_ERR_CORRUPT && rep->message[0] == '\0')
		snprintf(rep->message, sizeof(rep->message), "WAL recovery failed: %s",
		         rp_strerror(rc));
	close_segment(&sc);
	free(sc.batch);
	free(sc.big);
	free(sc.win);
	free(names.seqs);
	return rc;
}
