/*
 * sm_archive.c — the snapshot archive stream (sm_archive.h): header
 * encoding, the sender's random-access layout and the receiver's
 * incremental, validating reader.
 *
 * Stream:  header = magic "RASPSNAP", version, kind, group, index, term,
 *                   file count, conf size, conf bytes, CRC32C of all that
 *          file record (file count times) = name length (u16), name,
 *                   size (u64), contents, CRC32C of everything before it
 *                   in the record
 * All integers little-endian.  Nothing follows the last record.
 */
#include "storage/sm_archive.h"

#include <stdlib.h>
#include <string.h>

#include "storage/sm_cmd.h"
#include "util/check.h"
#include "util/crc32c.h"

static const uint8_t archive_magic[8] = {'R', 'A', 'S', 'P', 'S', 'N', 'A', 'P'};

bool sm_archive_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > SM_ARCHIVE_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* --- header ------------------------------------------------------------- */

size_t sm_conf_encode(const hp_conf *conf, uint8_t out[HP_CONF_MAX_BYTES])
{
	RP_CHECK(conf->voter_count <= HP_MAX_VOTERS);
	RP_CHECK(conf->learner_count <= HP_MAX_MEMBERS);
	if (conf->voter_count == 0 && conf->learner_count == 0)
		return 0; /* no membership known (yet) */
	out[0] = (uint8_t)conf->voter_count;
	out[1] = (uint8_t)conf->learner_count;
	uint8_t *p = out + 2;
	for (uint32_t i = 0; i < conf->voter_count; i++, p += 8)
		sm_put_u64(p, conf->voters[i]);
	for (uint32_t i = 0; i < conf->learner_count; i++, p += 8)
		sm_put_u64(p, conf->learners[i]);
	RP_CHECK((size_t)(p - out) <= HP_CONF_MAX_BYTES);
	return (size_t)(p - out);
}

int sm_conf_decode(const uint8_t *data, size_t size, hp_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	if (size == 0)
		return RP_OK;
	if (size < 2 || data[0] > HP_MAX_VOTERS || data[1] > HP_MAX_MEMBERS)
		return RP_ERR_CORRUPT;
	conf->voter_count = data[0];
	conf->learner_count = data[1];
	if (size != 2 + 8 * ((size_t)conf->voter_count + conf->learner_count))
		return RP_ERR_CORRUPT;
	const uint8_t *p = data + 2;
	for (uint32_t i = 0; i < conf->voter_count; i++, p += 8)
		conf->voters[i] = sm_get_u64(p);
	for (uint32_t i = 0; i < conf->learner_count; i++, p += 8)
		conf->learners[i] = sm_get_u64(p);
	return RP_OK;
}

size_t sm_archive_header_encode(const sm_archive_header *h, uint8_t *out)
{
	RP_CHECK(h->kind == SM_ARCHIVE_KIND_ROCKS || h->kind == SM_ARCHIVE_KIND_MEM);
	RP_CHECK(h->file_count <= SM_ARCHIVE_MAX_FILES);
	memcpy(out, archive_magic, 8);
	sm_put_u32(out + 8, SM_ARCHIVE_VERSION);
	sm_put_u32(out + 12, h->kind);
	sm_put_u64(out + 16, h->group);
	sm_put_u64(out + 24, h->index);
	sm_put_u64(out + 32, h->term);
	sm_put_u32(out + 40, h->file_count);
	size_t conf_size = sm_conf_encode(&h->conf, out + SM_ARCHIVE_FIXED_BYTES);
	sm_put_u32(out + 44, (uint32_t)conf_size);
	size_t n = SM_ARCHIVE_FIXED_BYTES + conf_size;
	sm_put_u32(out + n, crc32c(out, n));
	n += 4;
	RP_CHECK(n <= SM_ARCHIVE_HEADER_MAX);
	return n;
}

/* Checks the fixed part; sets *conf_size. */
static int header_fixed_check(const uint8_t *p, uint32_t *conf_size)
{
	if (memcmp(p, archive_magic, 8) != 0 || sm_get_u32(p + 8) != SM_ARCHIVE_VERSION)
		return RP_ERR_CORRUPT;
	uint32_t kind = sm_get_u32(p + 12);
	if (kind != SM_ARCHIVE_KIND_ROCKS && kind != SM_ARCHIVE_KIND_MEM)
		return RP_ERR_CORRUPT;
	if (sm_get_u32(p + 40) > SM_ARCHIVE_MAX_FILES)
		return RP_ERR_CORRUPT;
	*conf_size = sm_get_u32(p + 44);
	if (*conf_size > HP_CONF_MAX_BYTES)
		return RP_ERR_CORRUPT;
	return RP_OK;
}

int sm_archive_header_decode(const uint8_t *data, size_t size, sm_archive_header *h)
{
	uint32_t conf_size;
	if (data == NULL || size < SM_ARCHIVE_FIXED_BYTES + 4)
		return RP_ERR_CORRUPT;
	int rc = header_fixed_check(data, &conf_size);
	if (rc != RP_OK)
		return rc;
	size_t body = SM_ARCHIVE_FIXED_BYTES + conf_size;
	if (size != body + 4)
		return RP_ERR_CORRUPT;
	if (crc32c(data, body) != sm_get_u32(data + body))
		return RP_ERR_CORRUPT;
	memset(h, 0, sizeof(*h));
	h->kind = sm_get_u32(data + 12);
	h->group = sm_get_u64(data + 16);
	h->index = sm_get_u64(data + 24);
	h->term = sm_get_u64(data + 32);
	h->file_count = sm_get_u32(data + 40);
	return sm_conf_decode(data + SM_ARCHIVE_FIXED_BYTES, conf_size, &h->conf);
}

/* --- sender: layout ------------------------------------------------------ */

static size_t record_head(const char *name, uint64_t size, uint8_t *out)
{
	size_t len = strlen(name);
	RP_CHECK(sm_archive_name_ok(name, len));
	sm_put_u16(out, (uint16_t)len);
	memcpy(out + 2, name, len);
	sm_put_u64(out + 2 + len, size);
	return 2 + len + 8;
}

int sm_archive_layout_init(sm_archive_layout *l, const sm_archive_header *h)
{
	memset(l, 0, sizeof(*l));
	l->header = *h;
	l->header_size = sm_archive_header_encode(h, l->header_bytes);
	if (h->file_count > 0) {
		l->files = calloc(h->file_count, sizeof(*l->files));
		if (l->files == NULL)
			return RP_ERR_NOMEM;
	}
	l->total_size = l->header_size;
	return RP_OK;
}

void sm_archive_layout_deinit(sm_archive_layout *l)
{
	free(l->files);
	memset(l, 0, sizeof(*l));
}

int sm_archive_layout_add(sm_archive_layout *l, uint32_t i, const char *name,
			  uint64_t size, uint32_t crc)
{
	RP_CHECK(i < l->header.file_count);
	size_t len = strlen(name);
	if (!sm_archive_name_ok(name, len))
		return RP_ERR_INVALID;
	/* Files are added in order; the previous one fixed total_size. */
	RP_CHECK(i == 0 || l->files[i - 1].offset != 0);
	sm_archive_file *f = &l->files[i];
	memcpy(f->name, name, len + 1);
	f->size = size;
	f->crc = crc;
	f->offset = l->total_size;
	l->total_size += SM_ARCHIVE_RECORD_OVERHEAD + len + size;
	return RP_OK;
}

int sm_archive_record_crc(const char *name, uint64_t size, uint32_t index,
			  sm_archive_read_fn read_fn, void *ctx, uint32_t *crc)
{
	uint8_t head[2 + SM_ARCHIVE_NAME_MAX + 8];
	uint32_t c = crc32c(head, record_head(name, size, head));
	enum { STEP = 64 * 1024 };
	uint8_t *buf = malloc(STEP);
	if (buf == NULL)
		return RP_ERR_NOMEM;
	for (uint64_t off = 0; off < size;) {
		size_t n = size - off < STEP ? (size_t)(size - off) : STEP;
		int rc = read_fn(ctx, index, off, buf, n);
		if (rc != RP_OK) {
			free(buf);
			return rc;
		}
		c = crc32c_extend(c, buf, n);
		off += n;
	}
	free(buf);
	*crc = c;
	return RP_OK;
}

/* Copies bytes [from, from + n) of a small in-memory piece. */
static size_t copy_piece(const uint8_t *piece, size_t piece_size, uint64_t from,
			 uint8_t *dst, size_t cap)
{
	RP_CHECK(from < piece_size);
	size_t n = piece_size - (size_t)from;
	if (n > cap)
		n = cap;
	memcpy(dst, piece + from, n);
	return n;
}

int sm_archive_layout_read(const sm_archive_layout *l, uint64_t offset, uint8_t *buf,
			   size_t cap, size_t *size, bool *last,
			   sm_archive_read_fn read_fn, void *ctx)
{
	if (offset > l->total_size)
		return RP_ERR_INVALID;
	size_t done = 0;
	uint64_t pos = offset;
	while (done < cap && pos < l->total_size) {
		if (pos < l->header_size) {
			done += copy_piece(l->header_bytes, l->header_size, pos,
					   buf + done, cap - done);
			pos = offset + done;
			continue;
		}
		/* The record holding pos: the last whose offset is <= pos. */
		uint32_t lo = 0, hi = l->header.file_count;
		RP_CHECK(hi > 0);
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (l->files[mid].offset <= pos)
				lo = mid;
			else
				hi = mid;
		}
		const sm_archive_file *f = &l->files[lo];
		RP_CHECK(f->offset <= pos);
		uint8_t head[2 + SM_ARCHIVE_NAME_MAX + 8];
		size_t head_size = record_head(f->name, f->size, head);
		uint64_t in = pos - f->offset;
		if (in < head_size) {
			done += copy_piece(head, head_size, in, buf + done, cap - done);
		} else if (in < head_size + f->size) {
			uint64_t foff = in - head_size;
			size_t n = f->size - foff < cap - done ? (size_t)(f->size - foff)
							       : cap - done;
			int rc = read_fn(ctx, lo, foff, buf + done, n);
			if (rc != RP_OK)
				return rc;
			done += n;
		} else {
			uint8_t crc[4];
			sm_put_u32(crc, f->crc);
			RP_CHECK(in - head_size - f->size < 4);
			done += copy_piece(crc, 4, in - head_size - f->size, buf + done,
					   cap - done);
		}
		pos = offset + done;
	}
	*size = done;
	*last = pos == l->total_size;
	return RP_OK;
}

/* --- receiver: incremental reader ----------------------------------------- */

enum {
	RD_HDR_FIXED,
	RD_HDR_REST,
	RD_REC_NAME_LEN,
	RD_REC_NAME_SIZE,
	RD_REC_DATA,
	RD_REC_CRC,
	RD_DONE,
};

void sm_archive_reader_init(sm_archive_reader *r, uint64_t max_total_bytes,
			    const sm_archive_sink *sink, void *sink_ctx)
{
	memset(r, 0, sizeof(*r));
	r->max_total_bytes = max_total_bytes;
	r->state = RD_HDR_FIXED;
	r->need = SM_ARCHIVE_FIXED_BYTES;
	r->sink = sink;
	r->sink_ctx = sink_ctx;
}

bool sm_archive_reader_done(const sm_archive_reader *r)
{
	return r->error == RP_OK && r->state == RD_DONE;
}

static void next_record(sm_archive_reader *r)
{
	r->acc_size = 0;
	if (r->files_done == r->header.file_count) {
		r->state = RD_DONE;
		r->need = 0;
	} else {
		r->state = RD_REC_NAME_LEN;
		r->need = 2;
	}
}

/* Acts on a complete acc (r->acc_size == r->need). */
static int reader_step(sm_archive_reader *r)
{
	uint32_t conf_size;
	int rc;
	switch (r->state) {
	case RD_HDR_FIXED:
		rc = header_fixed_check(r->acc, &conf_size);
		if (rc != RP_OK)
			return rc;
		r->state = RD_HDR_REST;
		r->need = SM_ARCHIVE_FIXED_BYTES + conf_size + 4;
		return RP_OK;
	case RD_HDR_REST:
		rc = sm_archive_header_decode(r->acc, r->acc_size, &r->header);
		if (rc != RP_OK)
			return rc;
		r->have_header = true;
		next_record(r);
		return RP_OK;
	case RD_REC_NAME_LEN:
		r->name_len = sm_get_u16(r->acc);
		if (r->name_len == 0 || r->name_len > SM_ARCHIVE_NAME_MAX)
			return RP_ERR_CORRUPT;
		r->state = RD_REC_NAME_SIZE;
		r->need = 2 + (size_t)r->name_len + 8;
		return RP_OK;
	case RD_REC_NAME_SIZE: {
		memcpy(r->name, r->acc + 2, r->name_len);
		r->name[r->name_len] = '\0';
		if (!sm_archive_name_ok(r->name, r->name_len))
			return RP_ERR_CORRUPT;
		r->data_left = sm_get_u64(r->acc + 2 + r->name_len);
		/* The record must fit in what the stream may still hold. */
		uint64_t room = r->max_total_bytes - r->consumed;
		if (r->data_left > room || room - r->data_left < 4)
			return RP_ERR_NOSPC;
		r->crc = crc32c(r->acc, r->acc_size);
		rc = r->sink->file_begin(r->sink_ctx, r->name, r->data_left);
		if (rc != RP_OK)
			return rc;
		r->acc_size = 0;
		if (r->data_left == 0) {
			r->state = RD_REC_CRC;
			r->need = 4;
		} else {
			r->state = RD_REC_DATA;
			r->need = 0;
		}
		return RP_OK;
	}
	case RD_REC_CRC:
		if (sm_get_u32(r->acc) != r->crc)
			return RP_ERR_CORRUPT;
		rc = r->sink->file_end(r->sink_ctx, r->crc);
		if (rc != RP_OK)
			return rc;
		r->files_done++;
		next_record(r);
		return RP_OK;
	default:
		RP_CHECK(0);
		return RP_ERR_INVALID;
	}
}

int sm_archive_reader_feed(sm_archive_reader *r, const uint8_t *data, size_t size)
{
	if (r->error != RP_OK)
		return r->error;
	if (size > r->max_total_bytes - r->consumed) {
		r->error = RP_ERR_NOSPC;
		return r->error;
	}
	while (size > 0) {
		int rc = RP_OK;
		if (r->state == RD_DONE) {
			rc = RP_ERR_CORRUPT; /* bytes after the last record */
		} else if (r->state == RD_REC_DATA) {
			size_t n = r->data_left < size ? (size_t)r->data_left : size;
			r->crc = crc32c_extend(r->crc, data, n);
			rc = r->sink->file_data(r->sink_ctx, data, n);
			r->consumed += n;
			data += n;
			size -= n;
			r->data_left -= n;
			if (rc == RP_OK && r->data_left == 0) {
				r->state = RD_REC_CRC;
				r->need = 4;
				r->acc_size = 0;
			}
		} else {
			RP_CHECK(r->need <= sizeof(r->acc));
			RP_CHECK(r->acc_size < r->need);
			size_t n = r->need - r->acc_size;
			if (n > size)
				n = size;
			memcpy(r->acc + r->acc_size, data, n);
			r->acc_size += n;
			r->consumed += n;
			data += n;
			size -= n;
			if (r->acc_size == r->need)
				rc = reader_step(r);
		}
		if (rc != RP_OK) {
			r->error = rc;
			return rc;
		}
	}
	return RP_OK;
}
