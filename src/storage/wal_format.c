/*
 * wal_format.c — encoders and strict decoders for the WAL's on-disk layout
 * (described in wal_format.h).  Nothing here trusts a length it has not
 * checked against the buffer it came with.
 */
#include "storage/wal_format.h"

#include <string.h>

#include "storage/wal.h"
#include "util/check.h"
#include "util/crc32c.h"
#include "util/err.h"

void wal_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void wal_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void wal_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t wal_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t wal_get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t wal_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ------------------------------------------------------ segment header */

void wal_seg_header_encode(const wal_seg_header *h, uint8_t out[WAL_SEGMENT_HEADER_BYTES])
{
	memset(out, 0, WAL_SEGMENT_HEADER_BYTES);
	wal_put_u64(out, WAL_SEGMENT_MAGIC);
	wal_put_u32(out + 8, WAL_VERSION);
	wal_put_u32(out + 12, WAL_SEGMENT_HEADER_BYTES);
	wal_put_u64(out + 16, h->first_seq);
	wal_put_u64(out + 24, h->wal_id);
	wal_put_u32(out + 32, crc32c(out, 32));
}

int wal_seg_header_decode(const uint8_t in[WAL_SEGMENT_HEADER_BYTES], wal_seg_header *h)
{
	if (wal_get_u64(in) != WAL_SEGMENT_MAGIC || wal_get_u32(in + 8) != WAL_VERSION ||
	    wal_get_u32(in + 12) != WAL_SEGMENT_HEADER_BYTES ||
	    wal_get_u32(in + 32) != crc32c(in, 32))
		return RP_ERR_CORRUPT;
	for (size_t i = 36; i < WAL_SEGMENT_HEADER_BYTES; i++)
		if (in[i] != 0)
			return RP_ERR_CORRUPT;
	h->first_seq = wal_get_u64(in + 16);
	h->wal_id = wal_get_u64(in + 24);
	return h->first_seq > 0 ? 0 : RP_ERR_CORRUPT;
}

/* ------------------------------------------------------------- records */

static uint32_t header_crc(const uint8_t *h)
{
	return crc32c_extend(crc32c(h, 8), h + 16, WAL_REC_HEADER_BYTES - 16);
}

static uint32_t record_crc(const uint8_t *rec, uint32_t payload_bytes)
{
	return crc32c_extend(crc32c(rec, 12), rec + 16,
	                     WAL_REC_HEADER_BYTES - 16 + (size_t)payload_bytes);
}

void wal_rec_header_encode(const wal_rec_header *h, uint8_t out[WAL_REC_HEADER_BYTES])
{
	RP_CHECK(h->size_bytes <= WAL_REC_MAX_PAYLOAD);
	RP_CHECK(h->round_seq <= h->seq && h->round_seq > 0);
	wal_put_u16(out, WAL_REC_MAGIC);
	out[2] = h->type;
	out[3] = h->flags;
	wal_put_u32(out + 4, h->size_bytes);
	wal_put_u64(out + 16, h->seq);
	wal_put_u64(out + 24, h->round_seq);
	wal_put_u64(out + 32, h->group);
	wal_put_u32(out + 8, header_crc(out));
	wal_put_u32(out + 12, 0);
}

void wal_rec_seal(uint8_t *rec, uint32_t payload_bytes)
{
	uint64_t end = WAL_REC_HEADER_BYTES + (uint64_t)payload_bytes;
	memset(rec + end, 0, (size_t)(wal_rec_bytes(payload_bytes) - end));
	wal_put_u32(rec + 12, record_crc(rec, payload_bytes));
}

int wal_rec_header_decode(const uint8_t in[WAL_REC_HEADER_BYTES], wal_rec_header *h)
{
	h->type = in[2];
	h->flags = in[3];
	h->size_bytes = wal_get_u32(in + 4);
	h->crc = wal_get_u32(in + 12);
	h->seq = wal_get_u64(in + 16);
	h->round_seq = wal_get_u64(in + 24);
	h->group = wal_get_u64(in + 32);
	if (wal_get_u16(in) != WAL_REC_MAGIC || wal_get_u32(in + 8) != header_crc(in))
		return RP_ERR_CORRUPT;
	if (h->type < WAL_REC_ENTRIES || h->type > WAL_REC_GROUP_DROP)
		return RP_ERR_CORRUPT;
	if ((h->flags & ~WAL_FLAG_BATCH_END) != 0 || h->size_bytes > WAL_REC_MAX_PAYLOAD)
		return RP_ERR_CORRUPT;
	if (h->seq == 0 || h->round_seq == 0 || h->round_seq > h->seq)
		return RP_ERR_CORRUPT;
	return 0;
}

bool wal_rec_crc_ok(const uint8_t *rec, const wal_rec_header *h)
{
	return record_crc(rec, h->size_bytes) == h->crc;
}

/* ------------------------------------------------------------- entries */

size_t wal_entries_fit(const hp_entry *entries, size_t count, size_t *payload_bytes)
{
	RP_CHECK(count > 0);
	size_t size = WAL_ENTRIES_HEADER_BYTES;
	size_t n = 0;
	while (n < count) { /* at most count rounds */
		size_t add = WAL_ENTRY_HEADER_BYTES + entries[n].size_bytes;
		if (n > 0 && size + add > WAL_ENTRIES_REC_TARGET)
			break;
		size += add;
		n++;
	}
	RP_CHECK(size <= WAL_REC_MAX_PAYLOAD);
	*payload_bytes = size;
	return n;
}

void wal_entries_encode(uint8_t *out, const hp_entry *entries, size_t count)
{
	RP_CHECK(count > 0 && count <= UINT32_MAX);
	wal_put_u64(out, entries[0].index);
	wal_put_u32(out + 8, (uint32_t)count);
	wal_put_u32(out + 12, 0);
	uint8_t *p = out + WAL_ENTRIES_HEADER_BYTES;
	for (size_t i = 0; i < count; i++) {
		const hp_entry *e = &entries[i];
		RP_CHECK(e->index == entries[0].index + i); /* contiguous */
		RP_CHECK(e->size_bytes <= HP_MAX_ENTRY_BYTES);
		RP_CHECK(e->size_bytes == 0 || e->data != NULL);
		wal_put_u64(p, e->term);
		wal_put_u32(p + 8, e->size_bytes);
		p[12] = e->type;
		p[13] = p[14] = p[15] = 0;
		p += WAL_ENTRY_HEADER_BYTES;
		if (e->size_bytes)
			memcpy(p, e->data, e->size_bytes);
		p += e->size_bytes;
	}
}

int wal_entries_decode(const uint8_t *p, size_t size, uint64_t *first_index, uint32_t *count)
{
	if (size < WAL_ENTRIES_HEADER_BYTES || wal_get_u32(p + 12) != 0)
		return RP_ERR_CORRUPT;
	uint64_t first = wal_get_u64(p);
	uint32_t n = wal_get_u32(p + 8);
	if (first == 0 || n == 0 || first + n < first)
		return RP_ERR_CORRUPT;
	size_t pos = WAL_ENTRIES_HEADER_BYTES;
	for (uint32_t i = 0; i < n; i++) {
		if (size - pos < WAL_ENTRY_HEADER_BYTES)
			return RP_ERR_CORRUPT;
		uint32_t esize = wal_get_u32(p + pos + 8);
		uint8_t type = p[pos + 12];
		if (type > HP_ENTRY_CONF || p[pos + 13] || p[pos + 14] || p[pos + 15] ||
		    esize > HP_MAX_ENTRY_BYTES)
			return RP_ERR_CORRUPT;
		pos += WAL_ENTRY_HEADER_BYTES;
		if (size - pos < esize)
			return RP_ERR_CORRUPT;
		pos += esize;
	}
	if (pos != size)
		return RP_ERR_CORRUPT;
	*first_index = first;
	*count = n;
	return 0;
}

void wal_entries_iter_init(wal_entries_iter *it, const uint8_t *p, size_t size)
{
	it->p = p;
	it->size = size;
	it->pos = WAL_ENTRIES_HEADER_BYTES;
	it->index = wal_get_u64(p);
}

bool wal_entries_next(wal_entries_iter *it, hp_entry *e)
{
	if (it->pos >= it->size)
		return false;
	RP_CHECK(it->size - it->pos >= WAL_ENTRY_HEADER_BYTES);
	const uint8_t *q = it->p + it->pos;
	e->index = it->index++;
	e->term = wal_get_u64(q);
	e->size_bytes = wal_get_u32(q + 8);
	e->type = q[12];
	it->pos += WAL_ENTRY_HEADER_BYTES;
	RP_CHECK(it->size - it->pos >= e->size_bytes);
	e->data = e->size_bytes ? it->p + it->pos : NULL;
	it->pos += e->size_bytes;
	return true;
}

/* ------------------------------------------------- hard state, snapshot */

void wal_hard_state_encode(uint8_t out[WAL_HARD_STATE_BYTES], const hp_hard_state *hs)
{
	wal_put_u64(out, hs->term);
	wal_put_u64(out + 8, hs->vote);
	wal_put_u64(out + 16, hs->lease_holder);
	wal_put_u64(out + 24, hs->commit);
}

void wal_hard_state_decode(const uint8_t in[WAL_HARD_STATE_BYTES], hp_hard_state *hs)
{
	hs->term = wal_get_u64(in);
	hs->vote = wal_get_u64(in + 8);
	hs->lease_holder = wal_get_u64(in + 16);
	hs->commit = wal_get_u64(in + 24);
}

size_t wal_snapshot_size(const hp_snapshot_meta *m)
{
	RP_CHECK(m->conf.voter_count <= HP_MAX_VOTERS);
	RP_CHECK(m->conf.learner_count <= HP_MAX_MEMBERS);
	return WAL_SNAPSHOT_MIN_BYTES + 8 * (size_t)(m->conf.voter_count + m->conf.learner_count);
}

void wal_snapshot_encode(uint8_t *out, const hp_snapshot_meta *m, bool install)
{
	wal_put_u64(out, m->index);
	wal_put_u64(out + 8, m->term);
	wal_put_u32(out + 16, install ? WAL_SNAPSHOT_INSTALL : 0);
	wal_put_u16(out + 20, (uint16_t)m->conf.voter_count);
	wal_put_u16(out + 22, (uint16_t)m->conf.learner_count);
	uint8_t *p = out + WAL_SNAPSHOT_MIN_BYTES;
	for (uint32_t i = 0; i < m->conf.voter_count; i++, p += 8)
		wal_put_u64(p, m->conf.voters[i]);
	for (uint32_t i = 0; i < m->conf.learner_count; i++, p += 8)
		wal_put_u64(p, m->conf.learners[i]);
}

int wal_snapshot_decode(const uint8_t *in, size_t size, hp_snapshot_meta *m, bool *install)
{
	if (size < WAL_SNAPSHOT_MIN_BYTES)
		return RP_ERR_CORRUPT;
	uint32_t flags = wal_get_u32(in + 16);
	uint32_t voters = wal_get_u16(in + 20);
	uint32_t learners = wal_get_u16(in + 22);
	if ((flags & ~(uint32_t)WAL_SNAPSHOT_INSTALL) != 0 || voters > HP_MAX_VOTERS ||
	    learners > HP_MAX_MEMBERS ||
	    size != WAL_SNAPSHOT_MIN_BYTES + 8 * (size_t)(voters + learners))
		return RP_ERR_CORRUPT;
	memset(m, 0, sizeof(*m));
	m->index = wal_get_u64(in);
	m->term = wal_get_u64(in + 8);
	m->conf.voter_count = voters;
	m->conf.learner_count = learners;
	const uint8_t *p = in + WAL_SNAPSHOT_MIN_BYTES;
	for (uint32_t i = 0; i < voters; i++, p += 8)
		m->conf.voters[i] = wal_get_u64(p);
	for (uint32_t i = 0; i < learners; i++, p += 8)
		m->conf.learners[i] = wal_get_u64(p);
	*install = (flags & WAL_SNAPSHOT_INSTALL) != 0;
	return 0;
}
