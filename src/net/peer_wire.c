/*
 * peer_wire.c — encoders and strict decoders of the peer protocol's frames
 * (layout summary in peer_wire.h).  Each encoder first sizes its payload
 * exactly while it checks every bound, so a frame is either appended whole
 * or not at all, and the header can carry both CRCs.  Each decoder walks
 * the payload with a cursor that refuses to read past the end; a count is
 * compared with the bytes that could hold it before any scratch grows for
 * it, so a peer claiming a million entries in a 30-byte payload costs
 * nothing.
 */
#include "net/peer_wire.h"

#include <stdlib.h>
#include <string.h>

#include "net/resp.h"
#include "util/check.h"
#include "util/crc32c.h"
#include "util/err.h"

/* Smallest wire size of one entry (index, term, type, length) and of one
 * command argument (length, NUL). */
#define ENTRY_MIN_BYTES 21u
#define ARG_MIN_BYTES 5u
#define MSG_FLAG_REJECT 0x01u
#define MSG_FLAG_PULL 0x02u
#define MSG_FLAG_SNAP_LAST 0x04u
#define MSG_FLAGS_KNOWN (MSG_FLAG_REJECT | MSG_FLAG_PULL | MSG_FLAG_SNAP_LAST)

const char *peer_strerror(int rc)
{
	switch (rc) {
	case PEER_JOIN_NOT_LEADER:
		return "not the leader";
	case PEER_JOIN_BUSY:
		return "a membership change is under way, retry later";
	case PEER_JOIN_REFUSED:
		return "join refused";
	default:
		return rp_strerror(rc);
	}
}

/* ---------------------------------------------------------------- buffer */

void peer_buf_init(peer_buf *b)
{
	RP_CHECK(b != NULL);
	memset(b, 0, sizeof(*b));
}

void peer_buf_deinit(peer_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void peer_buf_reset(peer_buf *b)
{
	RP_CHECK(b != NULL);
	b->len = 0;
	b->err = 0;
}

/* Makes room for n more bytes.  0 or RP_ERR_NOMEM (recorded in b->err). */
static int buf_reserve(peer_buf *b, size_t n)
{
	RP_CHECK(b->len <= b->cap);
	if (b->err)
		return b->err;
	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = RP_ERR_NOMEM;
		return b->err;
	}
	size_t need = b->len + n;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	uint8_t *data = realloc(b->data, cap);
	if (data == NULL) {
		b->err = RP_ERR_NOMEM;
		return b->err;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

int peer_buf_append(peer_buf *b, const void *src, size_t n)
{
	RP_CHECK(b != NULL);
	RP_CHECK(src != NULL || n == 0);
	int rc = buf_reserve(b, n);
	if (rc)
		return rc;
	if (n > 0)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

/* --------------------------------------------------------------- scratch */

void peer_scratch_init(peer_scratch *s)
{
	RP_CHECK(s != NULL);
	memset(s, 0, sizeof(*s));
}

void peer_scratch_deinit(peer_scratch *s)
{
	if (s == NULL)
		return;
	free(s->entries);
	free(s->args);
	memset(s, 0, sizeof(*s));
}

static int scratch_entries(peer_scratch *s, size_t count)
{
	RP_CHECK(count <= PEER_MAX_ENTRIES);
	if (count <= s->entries_cap)
		return 0;
	size_t cap = s->entries_cap * 2;
	if (cap < count)
		cap = count;
	if (cap > PEER_MAX_ENTRIES)
		cap = PEER_MAX_ENTRIES;
	hp_entry *e = realloc(s->entries, cap * sizeof(*e));
	if (e == NULL)
		return RP_ERR_NOMEM;
	s->entries = e;
	s->entries_cap = cap;
	return 0;
}

static int scratch_args(peer_scratch *s, size_t count)
{
	RP_CHECK(count <= PEER_MAX_ARGS);
	if (count <= s->args_cap)
		return 0;
	size_t cap = s->args_cap * 2;
	if (cap < count)
		cap = count;
	if (cap > PEER_MAX_ARGS)
		cap = PEER_MAX_ARGS;
	struct resp_arg *a = realloc(s->args, cap * sizeof(*a));
	if (a == NULL)
		return RP_ERR_NOMEM;
	s->args = a;
	s->args_cap = cap;
	return 0;
}

/* ------------------------------------------------------- little-endian */

static void le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32_get(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* --------------------------------------------------------------- writer */

/* A cursor over the payload room that frame_begin reserved. */
typedef struct {
	uint8_t *p;
	uint8_t *end;
} wr;

static void wr_u8(wr *w, uint8_t v)
{
	RP_CHECK(w->end - w->p >= 1);
	*w->p++ = v;
}

static void wr_u32(wr *w, uint32_t v)
{
	RP_CHECK(w->end - w->p >= 4);
	le32_put(w->p, v);
	w->p += 4;
}

static void wr_u64(wr *w, uint64_t v)
{
	RP_CHECK(w->end - w->p >= 8);
	le64_put(w->p, v);
	w->p += 8;
}

static void wr_raw(wr *w, const void *src, size_t n)
{
	RP_CHECK((size_t)(w->end - w->p) >= n);
	if (n > 0)
		memcpy(w->p, src, n);
	w->p += n;
}

/* bytes: u32 length + bytes.  Lengths were checked when sizing. */
static void wr_bytes(wr *w, const void *src, size_t n)
{
	RP_CHECK(n <= UINT32_MAX);
	wr_u32(w, (uint32_t)n);
	wr_raw(w, src, n);
}

/* text: u32 length + bytes + NUL. */
static void wr_text(wr *w, const void *src, size_t n)
{
	wr_bytes(w, src, n);
	wr_u8(w, 0);
}

/* Reserves header + payload_len bytes at the end of b and points w at the
 * payload.  0, RP_ERR_INVALID (payload too big for the u32 length) or
 * RP_ERR_NOMEM. */
static int frame_begin(peer_buf *b, uint64_t payload_len, wr *w)
{
	RP_CHECK(b != NULL);
	if (b->err)
		return b->err;
	if (payload_len > UINT32_MAX)
		return RP_ERR_INVALID;
	int rc = buf_reserve(b, PEER_HEADER_BYTES + (size_t)payload_len);
	if (rc)
		return rc;
	w->p = b->data + b->len + PEER_HEADER_BYTES;
	w->end = w->p + payload_len;
	return 0;
}

/* Fills the header in front of the payload w has written, and appends. */
static int frame_end(peer_buf *b, uint8_t type, const wr *w)
{
	RP_CHECK(w->p == w->end);
	uint8_t *hdr = b->data + b->len;
	uint8_t *payload = hdr + PEER_HEADER_BYTES;
	size_t payload_len = (size_t)(w->end - payload);
	le16_put(hdr, PEER_MAGIC);
	hdr[2] = PEER_VERSION;
	hdr[3] = type;
	le32_put(hdr + 4, (uint32_t)payload_len);
	le32_put(hdr + 8, crc32c(payload, payload_len));
	le32_put(hdr + 12, crc32c(hdr, 12));
	b->len += PEER_HEADER_BYTES + payload_len;
	return 0;
}

/* A string argument of an encoder is acceptable: non-NULL unless empty,
 * within max bytes, and (for text that must read as a C string) no NUL. */
static bool str_ok(const char *s, size_t n, size_t max, bool nul_ok)
{
	if (s == NULL && n > 0)
		return false;
	if (n > max)
		return false;
	if (!nul_ok && n > 0 && memchr(s, 0, n) != NULL)
		return false;
	return true;
}

static bool join_status_known(int64_t status)
{
	if (status == 0)
		return true;
	if (status >= -99 && status <= -1)
		return true; /* util/err.h */
	return status == PEER_JOIN_NOT_LEADER || status == PEER_JOIN_BUSY ||
	       status == PEER_JOIN_REFUSED;
}

/* ------------------------------------------------------------- encoders */

/*
 * HELLO: u32 version, u64 cluster_id, u64 node_id, text peer_addr,
 * text client_addr.
 */
int peer_encode_hello(peer_buf *b, const peer_hello *h)
{
	RP_CHECK(h != NULL);
	if (h->version == 0 || h->node_id == 0)
		return RP_ERR_INVALID;
	if (!str_ok(h->peer_addr, h->peer_addr_len, PEER_ADDR_MAX, false) ||
	    !str_ok(h->client_addr, h->client_addr_len, PEER_ADDR_MAX, false))
		return RP_ERR_INVALID;
	uint64_t size =
	    4 + 8 + 8 + (4 + h->peer_addr_len + 1) + (4 + h->client_addr_len + 1);
	wr w;
	int rc = frame_begin(b, size, &w);
	if (rc)
		return rc;
	wr_u32(&w, h->version);
	wr_u64(&w, h->cluster_id);
	wr_u64(&w, h->node_id);
	wr_text(&w, h->peer_addr, h->peer_addr_len);
	wr_text(&w, h->client_addr, h->client_addr_len);
	return frame_end(b, PEER_F_HELLO, &w);
}

/*
 * MSG: u8 type, u8 flags (1 reject, 2 pull, 4 snap_last), u64 group, from,
 * to, term, log_index, log_term, commit, send_us, last_index, last_term,
 * transfer_from, transfer_term; u32 entry_count, then per entry u64 index,
 * u64 term, u8 type, bytes data; then the snapshot part: u64 snap.index,
 * u64 snap.term, u32 voter_count, u32 learner_count, u64 ids (voters, then
 * learners), u64 snap_offset, bytes snap_data (snap_size_bytes long).
 */
#define MSG_FIXED_BYTES (1u + 1u + 12u * 8u + 4u)
#define MSG_SNAP_FIXED_BYTES (8u + 8u + 4u + 4u + 8u + 4u)

int peer_encode_msg(peer_buf *b, const hp_msg *m)
{
	RP_CHECK(m != NULL);
	if (m->type < HP_MSG_PRE_LEASE_REQ || m->type > HP_MSG_PULL_RESP)
		return RP_ERR_INVALID;
	if (m->entry_count > PEER_MAX_ENTRIES)
		return RP_ERR_INVALID;
	if (m->entry_count > 0 && m->entries == NULL)
		return RP_ERR_INVALID;
	const hp_conf *conf = &m->snap.conf;
	if (conf->voter_count > HP_MAX_VOTERS || conf->learner_count > HP_MAX_MEMBERS)
		return RP_ERR_INVALID;
	if (m->snap_size_bytes > HP_MAX_ENTRY_BYTES)
		return RP_ERR_INVALID;
	if (m->snap_size_bytes > 0 && m->snap_data == NULL)
		return RP_ERR_INVALID;
	uint64_t size = MSG_FIXED_BYTES;
	for (uint32_t i = 0; i < m->entry_count; i++) {
		const hp_entry *e = &m->entries[i];
		if (e->type > HP_ENTRY_CONF || e->size_bytes > HP_MAX_ENTRY_BYTES)
			return RP_ERR_INVALID;
		if (e->size_bytes > 0 && e->data == NULL)
			return RP_ERR_INVALID;
		size += ENTRY_MIN_BYTES + e->size_bytes;
	}
	size += MSG_SNAP_FIXED_BYTES;
	size += 8u * ((uint64_t)conf->voter_count + conf->learner_count);
	size += m->snap_size_bytes;
	wr w;
	int rc = frame_begin(b, size, &w);
	if (rc)
		return rc;
	uint8_t flags = 0;
	if (m->reject)
		flags |= MSG_FLAG_REJECT;
	if (m->pull)
		flags |= MSG_FLAG_PULL;
	if (m->snap_last)
		flags |= MSG_FLAG_SNAP_LAST;
	wr_u8(&w, m->type);
	wr_u8(&w, flags);
	wr_u64(&w, m->group);
	wr_u64(&w, m->from);
	wr_u64(&w, m->to);
	wr_u64(&w, m->term);
	wr_u64(&w, m->log_index);
	wr_u64(&w, m->log_term);
	wr_u64(&w, m->commit);
	wr_u64(&w, m->send_us);
	wr_u64(&w, m->last_index);
	wr_u64(&w, m->last_term);
	wr_u64(&w, m->transfer_from);
	wr_u64(&w, m->transfer_term);
	wr_u32(&w, m->entry_count);
	for (uint32_t i = 0; i < m->entry_count; i++) {
		const hp_entry *e = &m->entries[i];
		wr_u64(&w, e->index);
		wr_u64(&w, e->term);
		wr_u8(&w, e->type);
		wr_bytes(&w, e->data, e->size_bytes);
	}
	wr_u64(&w, m->snap.index);
	wr_u64(&w, m->snap.term);
	wr_u32(&w, conf->voter_count);
	wr_u32(&w, conf->learner_count);
	for (uint32_t i = 0; i < conf->voter_count; i++)
		wr_u64(&w, conf->voters[i]);
	for (uint32_t i = 0; i < conf->learner_count; i++)
		wr_u64(&w, conf->learners[i]);
	wr_u64(&w, m->snap_offset);
	wr_bytes(&w, m->snap_data, m->snap_size_bytes);
	return frame_end(b, PEER_F_MSG, &w);
}

/* JOIN_REQ: u64 node_id, u8 flags (PEER_JOIN_FRESH), text peer_addr, text client_addr. */
int peer_encode_join_req(peer_buf *b, const peer_join_req *r)
{
	RP_CHECK(r != NULL);
	if (r->node_id == 0)
		return RP_ERR_INVALID;
	if (!str_ok(r->peer_addr, r->peer_addr_len, PEER_ADDR_MAX, false) ||
	    !str_ok(r->client_addr, r->client_addr_len, PEER_ADDR_MAX, false))
		return RP_ERR_INVALID;
	if (r->flags & ~PEER_JOIN_FRESH)
		return RP_ERR_INVALID;
	uint64_t size = 8 + 1 + (4 + r->peer_addr_len + 1) + (4 + r->client_addr_len + 1);
	wr w;
	int rc = frame_begin(b, size, &w);
	if (rc)
		return rc;
	wr_u64(&w, r->node_id);
	wr_u8(&w, r->flags);
	wr_text(&w, r->peer_addr, r->peer_addr_len);
	wr_text(&w, r->client_addr, r->client_addr_len);
	return frame_end(b, PEER_F_JOIN_REQ, &w);
}

/* JOIN_RESP: u32 status (two's complement), u64 cluster_id, u64 leader_id,
 * text leader_addr, text message. */
int peer_encode_join_resp(peer_buf *b, const peer_join_resp *r)
{
	RP_CHECK(r != NULL);
	if (!join_status_known(r->status))
		return RP_ERR_INVALID;
	if (!str_ok(r->leader_addr, r->leader_addr_len, PEER_ADDR_MAX, false) ||
	    !str_ok(r->message, r->message_len, PEER_MESSAGE_MAX, false))
		return RP_ERR_INVALID;
	uint64_t size =
	    4 + 8 + 8 + (4 + r->leader_addr_len + 1) + (4 + r->message_len + 1);
	wr w;
	int rc = frame_begin(b, size, &w);
	if (rc)
		return rc;
	wr_u32(&w, (uint32_t)r->status);
	wr_u64(&w, r->cluster_id);
	wr_u64(&w, r->leader_id);
	wr_text(&w, r->leader_addr, r->leader_addr_len);
	wr_text(&w, r->message, r->message_len);
	return frame_end(b, PEER_F_JOIN_RESP, &w);
}

/* FWD_REQ: u64 req_id, u8 proto, u8 flags, u64 client, u64 seq, u32 argc,
 * then argc texts (an argument may hold NULs; its length says where it
 * ends). */
int peer_encode_fwd_req(peer_buf *b, const peer_fwd_req *r)
{
	RP_CHECK(r != NULL);
	if (r->proto != 2 && r->proto != 3)
		return RP_ERR_INVALID;
	if (r->argc == 0 || r->argc > PEER_MAX_ARGS || r->argv == NULL)
		return RP_ERR_INVALID;
	uint64_t size = 8 + 1 + 1 + 8 + 8 + 4;
	for (uint32_t i = 0; i < r->argc; i++) {
		const struct resp_arg *a = &r->argv[i];
		if (!str_ok(a->ptr, a->len, UINT32_MAX, true))
			return RP_ERR_INVALID;
		size += ARG_MIN_BYTES + (uint64_t)a->len;
		if (size > UINT32_MAX)
			return RP_ERR_INVALID;
	}
	wr w;
	int rc = frame_begin(b, size, &w);
	if (rc)
		return rc;
	wr_u64(&w, r->req_id);
	wr_u8(&w, r->proto);
	wr_u8(&w, r->flags);
	wr_u64(&w, r->client);
	wr_u64(&w, r->seq);
	wr_u32(&w, r->argc);
	for (uint32_t i = 0; i < r->argc; i++)
		wr_text(&w, r->argv[i].ptr, r->argv[i].len);
	return frame_end(b, PEER_F_FWD_REQ, &w);
}

/* FWD_RESP: u64 req_id, u8 status, bytes reply. */
int peer_encode_fwd_resp(peer_buf *b, const peer_fwd_resp *r)
{
	RP_CHECK(r != NULL);
	if (r->status > PEER_FWD_UNCERTAIN)
		return RP_ERR_INVALID;
	if (r->reply == NULL && r->reply_len > 0)
		return RP_ERR_INVALID;
	if (r->reply_len > UINT32_MAX - 13)
		return RP_ERR_INVALID;
	uint64_t size = 8 + 1 + 4 + (uint64_t)r->reply_len;
	wr w;
	int rc = frame_begin(b, size, &w);
	if (rc)
		return rc;
	wr_u64(&w, r->req_id);
	wr_u8(&w, r->status);
	wr_bytes(&w, r->reply, r->reply_len);
	return frame_end(b, PEER_F_FWD_RESP, &w);
}

/* --------------------------------------------------------------- header */

int peer_frame_header(const uint8_t hdr[PEER_HEADER_BYTES], size_t max_frame_bytes,
		      uint8_t *type, uint32_t *payload_len, uint32_t *payload_crc)
{
	RP_CHECK(hdr != NULL);
	RP_CHECK(type != NULL);
	RP_CHECK(payload_len != NULL);
	RP_CHECK(payload_crc != NULL);
	if (le16_get(hdr) != PEER_MAGIC || hdr[2] != PEER_VERSION)
		return RP_ERR_CORRUPT;
	if (le32_get(hdr + 12) != crc32c(hdr, 12))
		return RP_ERR_CORRUPT;
	if (hdr[3] < PEER_F_HELLO || hdr[3] > PEER_F_MAX)
		return RP_ERR_CORRUPT;
	uint32_t len = le32_get(hdr + 4);
	if (len > max_frame_bytes)
		return RP_ERR_NOSPC;
	*type = hdr[3];
	*payload_len = len;
	*payload_crc = le32_get(hdr + 8);
	return 0;
}

int peer_frame_split(const uint8_t *frame, size_t len, size_t max_frame_bytes,
		     uint8_t *type, const uint8_t **payload, size_t *payload_len)
{
	RP_CHECK(frame != NULL || len == 0);
	RP_CHECK(payload != NULL);
	RP_CHECK(payload_len != NULL);
	if (len < PEER_HEADER_BYTES)
		return RP_ERR_CORRUPT;
	uint8_t t;
	uint32_t plen, pcrc;
	int rc = peer_frame_header(frame, max_frame_bytes, &t, &plen, &pcrc);
	if (rc)
		return rc;
	if (len - PEER_HEADER_BYTES != plen)
		return RP_ERR_CORRUPT;
	if (crc32c(frame + PEER_HEADER_BYTES, plen) != pcrc)
		return RP_ERR_CORRUPT;
	*type = t;
	*payload = frame + PEER_HEADER_BYTES;
	*payload_len = plen;
	return 0;
}

/* --------------------------------------------------------------- reader */

/* A cursor over one payload.  Once a read fails, bad stays set and every
 * later read yields zeros, so a decoder can read a run of fields and check
 * once. */
typedef struct {
	const uint8_t *p;
	size_t n;
	size_t off; /* off <= n */
	bool bad;
} rd;

static void rd_init(rd *r, const uint8_t *p, size_t n)
{
	RP_CHECK(p != NULL || n == 0);
	r->p = p;
	r->n = n;
	r->off = 0;
	r->bad = false;
}

static size_t rd_left(const rd *r)
{
	RP_CHECK(r->off <= r->n);
	return r->n - r->off;
}

static const uint8_t *rd_take(rd *r, size_t k)
{
	if (r->bad || k > rd_left(r)) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *at = r->p + r->off;
	r->off += k;
	return at;
}

static uint8_t rd_u8(rd *r)
{
	const uint8_t *at = rd_take(r, 1);
	return at ? at[0] : 0;
}

static uint32_t rd_u32(rd *r)
{
	const uint8_t *at = rd_take(r, 4);
	return at ? le32_get(at) : 0;
}

static uint64_t rd_u64(rd *r)
{
	const uint8_t *at = rd_take(r, 8);
	return at ? le64_get(at) : 0;
}

/* bytes of at most max; an empty one reads as "" (never NULL). */
static const uint8_t *rd_bytes(rd *r, size_t max, size_t *len)
{
	*len = 0;
	uint32_t n = rd_u32(r);
	if (r->bad || n > max) {
		r->bad = true;
		return (const uint8_t *)"";
	}
	const uint8_t *at = rd_take(r, n);
	if (at == NULL)
		return (const uint8_t *)"";
	*len = n;
	return n ? at : (const uint8_t *)"";
}

/* text of at most max bytes followed by a NUL; nul_ok says whether the
 * bytes themselves may hold one. */
static const char *rd_text(rd *r, size_t max, bool nul_ok, size_t *len)
{
	size_t n;
	const uint8_t *at = rd_bytes(r, max, &n);
	uint8_t nul = rd_u8(r);
	if (r->bad || nul != 0 || (!nul_ok && n > 0 && memchr(at, 0, n) != NULL)) {
		r->bad = true;
		*len = 0;
		return "";
	}
	*len = n;
	return (const char *)at;
}

static int rd_finish(const rd *r)
{
	if (r->bad || r->off != r->n)
		return RP_ERR_CORRUPT;
	return 0;
}

/* ------------------------------------------------------------- decoders */

int peer_decode_hello(const uint8_t *p, size_t n, peer_hello *h)
{
	RP_CHECK(h != NULL);
	rd r;
	rd_init(&r, p, n);
	memset(h, 0, sizeof(*h));
	h->version = rd_u32(&r);
	h->cluster_id = rd_u64(&r);
	h->node_id = rd_u64(&r);
	h->peer_addr = rd_text(&r, PEER_ADDR_MAX, false, &h->peer_addr_len);
	h->client_addr = rd_text(&r, PEER_ADDR_MAX, false, &h->client_addr_len);
	int rc = rd_finish(&r);
	if (rc)
		return rc;
	if (h->version == 0 || h->node_id == 0)
		return RP_ERR_CORRUPT;
	return 0;
}

int peer_decode_msg(const uint8_t *p, size_t n, peer_scratch *s, hp_msg *m)
{
	RP_CHECK(s != NULL);
	RP_CHECK(m != NULL);
	rd r;
	rd_init(&r, p, n);
	memset(m, 0, sizeof(*m));
	m->type = rd_u8(&r);
	uint8_t flags = rd_u8(&r);
	if (r.bad || m->type < HP_MSG_PRE_LEASE_REQ || m->type > HP_MSG_PULL_RESP)
		return RP_ERR_CORRUPT;
	if (flags & ~MSG_FLAGS_KNOWN)
		return RP_ERR_CORRUPT;
	m->reject = (flags & MSG_FLAG_REJECT) != 0;
	m->pull = (flags & MSG_FLAG_PULL) != 0;
	m->snap_last = (flags & MSG_FLAG_SNAP_LAST) != 0;
	m->group = rd_u64(&r);
	m->from = rd_u64(&r);
	m->to = rd_u64(&r);
	m->term = rd_u64(&r);
	m->log_index = rd_u64(&r);
	m->log_term = rd_u64(&r);
	m->commit = rd_u64(&r);
	m->send_us = rd_u64(&r);
	m->last_index = rd_u64(&r);
	m->last_term = rd_u64(&r);
	m->transfer_from = rd_u64(&r);
	m->transfer_term = rd_u64(&r);
	uint32_t count = rd_u32(&r);
	if (r.bad || count > PEER_MAX_ENTRIES)
		return RP_ERR_CORRUPT;
	/* The count must fit in what is left before the scratch grows for it. */
	if ((uint64_t)count * ENTRY_MIN_BYTES > rd_left(&r))
		return RP_ERR_CORRUPT;
	if (count > 0) {
		int rc = scratch_entries(s, count);
		if (rc)
			return rc;
		for (uint32_t i = 0; i < count; i++) {
			hp_entry *e = &s->entries[i];
			e->index = rd_u64(&r);
			e->term = rd_u64(&r);
			e->type = rd_u8(&r);
			size_t len;
			const uint8_t *data = rd_bytes(&r, HP_MAX_ENTRY_BYTES, &len);
			if (r.bad || e->type > HP_ENTRY_CONF)
				return RP_ERR_CORRUPT;
			e->size_bytes = (uint32_t)len;
			e->data = len ? data : NULL;
		}
		m->entries = s->entries;
		m->entry_count = count;
	}
	m->snap.index = rd_u64(&r);
	m->snap.term = rd_u64(&r);
	uint32_t voters = rd_u32(&r);
	uint32_t learners = rd_u32(&r);
	if (r.bad || voters > HP_MAX_VOTERS || learners > HP_MAX_MEMBERS)
		return RP_ERR_CORRUPT;
	m->snap.conf.voter_count = voters;
	m->snap.conf.learner_count = learners;
	for (uint32_t i = 0; i < voters; i++)
		m->snap.conf.voters[i] = rd_u64(&r);
	for (uint32_t i = 0; i < learners; i++)
		m->snap.conf.learners[i] = rd_u64(&r);
	m->snap_offset = rd_u64(&r);
	size_t len;
	const uint8_t *data = rd_bytes(&r, HP_MAX_ENTRY_BYTES, &len);
	int rc = rd_finish(&r);
	if (rc)
		return rc;
	m->snap_size_bytes = (uint32_t)len;
	m->snap_data = len ? data : NULL;
	return 0;
}

int peer_decode_join_req(const uint8_t *p, size_t n, peer_join_req *q)
{
	RP_CHECK(q != NULL);
	rd r;
	rd_init(&r, p, n);
	memset(q, 0, sizeof(*q));
	q->node_id = rd_u64(&r);
	q->flags = rd_u8(&r);
	q->peer_addr = rd_text(&r, PEER_ADDR_MAX, false, &q->peer_addr_len);
	q->client_addr = rd_text(&r, PEER_ADDR_MAX, false, &q->client_addr_len);
	int rc = rd_finish(&r);
	if (rc)
		return rc;
	if (q->node_id == 0 || (q->flags & ~PEER_JOIN_FRESH))
		return RP_ERR_CORRUPT;
	return 0;
}

int peer_decode_join_resp(const uint8_t *p, size_t n, peer_join_resp *q)
{
	RP_CHECK(q != NULL);
	rd r;
	rd_init(&r, p, n);
	memset(q, 0, sizeof(*q));
	uint32_t status = rd_u32(&r);
	/* two's complement back to int32 without implementation-defined casts */
	int64_t st =
	    status <= INT32_MAX ? (int64_t)status : (int64_t)status - 4294967296LL;
	q->status = (int32_t)st;
	q->cluster_id = rd_u64(&r);
	q->leader_id = rd_u64(&r);
	q->leader_addr = rd_text(&r, PEER_ADDR_MAX, false, &q->leader_addr_len);
	q->message = rd_text(&r, PEER_MESSAGE_MAX, false, &q->message_len);
	int rc = rd_finish(&r);
	if (rc)
		return rc;
	if (!join_status_known(st))
		return RP_ERR_CORRUPT;
	return 0;
}

int peer_decode_fwd_req(const uint8_t *p, size_t n, peer_scratch *s, peer_fwd_req *q)
{
	RP_CHECK(s != NULL);
	RP_CHECK(q != NULL);
	rd r;
	rd_init(&r, p, n);
	memset(q, 0, sizeof(*q));
	q->req_id = rd_u64(&r);
	q->proto = rd_u8(&r);
	q->flags = rd_u8(&r);
	q->client = rd_u64(&r);
	q->seq = rd_u64(&r);
	uint32_t argc = rd_u32(&r);
	if (r.bad || (q->proto != 2 && q->proto != 3))
		return RP_ERR_CORRUPT;
	if (argc == 0 || argc > PEER_MAX_ARGS)
		return RP_ERR_CORRUPT;
	if ((uint64_t)argc * ARG_MIN_BYTES > rd_left(&r))
		return RP_ERR_CORRUPT;
	int rc = scratch_args(s, argc);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < argc; i++) {
		struct resp_arg *a = &s->args[i];
		a->ptr = rd_text(&r, UINT32_MAX, true, &a->len);
		if (r.bad)
			return RP_ERR_CORRUPT;
	}
	rc = rd_finish(&r);
	if (rc)
		return rc;
	q->argc = argc;
	q->argv = s->args;
	return 0;
}

int peer_decode_fwd_resp(const uint8_t *p, size_t n, peer_fwd_resp *q)
{
	RP_CHECK(q != NULL);
	rd r;
	rd_init(&r, p, n);
	memset(q, 0, sizeof(*q));
	q->req_id = rd_u64(&r);
	q->status = rd_u8(&r);
	q->reply = rd_bytes(&r, UINT32_MAX, &q->reply_len);
	int rc = rd_finish(&r);
	if (rc)
		return rc;
	if (q->status > PEER_FWD_UNCERTAIN)
		return RP_ERR_CORRUPT;
	return 0;
}
