/*
 * test_peer_wire.c — the peer protocol codec: every frame type survives
 * encode → split → decode with every field intact; every truncation, every
 * single bit flip and every trailing byte is refused; over-limit counts and
 * lengths are refused before the scratch grows for them; unknown enum
 * values and flag bits are refused; failed encoders append nothing.
 */
#include "test.h"

#include <stdlib.h>

#include "net/peer_wire.h"
#include "net/resp.h"
#include "util/crc32c.h"
#include "util/err.h"
#include "util/prng.h"

/* ---------------------------------------------------------------------------
 * Helpers.
 */

/* Splits the one frame in b and checks its type. */
static void split_one(const peer_buf *b, uint8_t want_type, const uint8_t **payload,
		      size_t *len)
{
	uint8_t type = 0;
	CHECK_EQ(b->err, 0);
	CHECK_EQ(peer_frame_split(b->data, b->len, PEER_MAX_FRAME_BYTES_DEFAULT, &type,
				  payload, len),
		 0);
	CHECK_EQ(type, want_type);
	CHECK_EQ(*len + PEER_HEADER_BYTES, b->len);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Builds a frame around an arbitrary payload, with correct CRCs, so that
 * the decoders (not the CRCs) must refuse what is wrong with it. */
static void frame_raw(peer_buf *b, uint8_t type, const uint8_t *p, size_t n)
{
	uint8_t hdr[PEER_HEADER_BYTES];
	hdr[0] = 0x50;
	hdr[1] = 0x52;
	hdr[2] = PEER_VERSION;
	hdr[3] = type;
	put32(hdr + 4, (uint32_t)n);
	put32(hdr + 8, crc32c(p, n));
	put32(hdr + 12, crc32c(hdr, 12));
	peer_buf_reset(b);
	CHECK_EQ(peer_buf_append(b, hdr, sizeof(hdr)), 0);
	CHECK_EQ(peer_buf_append(b, p, n), 0);
}

/* Decodes payload p[0..n) as a frame of the given type; returns the rc. */
static int decode_any(uint8_t type, const uint8_t *p, size_t n, peer_scratch *s)
{
	peer_hello h;
	hp_msg m;
	peer_join_req jq;
	peer_join_resp jr;
	peer_fwd_req fq;
	peer_fwd_resp fr;
	switch (type) {
	case PEER_F_HELLO:
		return peer_decode_hello(p, n, &h);
	case PEER_F_MSG:
		return peer_decode_msg(p, n, s, &m);
	case PEER_F_JOIN_REQ:
		return peer_decode_join_req(p, n, &jq);
	case PEER_F_JOIN_RESP:
		return peer_decode_join_resp(p, n, &jr);
	case PEER_F_FWD_REQ:
		return peer_decode_fwd_req(p, n, s, &fq);
	case PEER_F_FWD_RESP:
		return peer_decode_fwd_resp(p, n, &fr);
	default:
		CHECK(0);
		return 0;
	}
}

static bool str_eq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && memcmp(a, b, alen) == 0 && a[alen] == '\0';
}

/* A message with every field set to something distinct. */
static uint8_t data_a[] = {1, 2, 3, 0, 5};
static uint8_t data_b[] = {0xff};
static uint8_t data_conf[HP_CONF_CHANGE_BYTES] = {1, 7, 0, 0, 0, 0, 0, 0, 0};
static uint8_t snap_bytes[300];
static hp_entry all_entries[] = {
    {.index = 11, .term = 3, .type = HP_ENTRY_NORMAL, .size_bytes = 5, .data = data_a},
    {.index = 12, .term = 3, .type = HP_ENTRY_NOOP, .size_bytes = 0, .data = NULL},
    {.index = 13, .term = 4, .type = HP_ENTRY_CONF, .size_bytes = 9, .data = data_conf},
    {.index = 14, .term = 4, .type = HP_ENTRY_NORMAL, .size_bytes = 0, .data = NULL},
    {.index = 15, .term = 5, .type = HP_ENTRY_NORMAL, .size_bytes = 1, .data = data_b},
};

static hp_msg full_msg(uint8_t type)
{
	hp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.reject = true;
	m.group = 0x1122334455667788ull;
	m.from = 2;
	m.to = 3;
	m.term = 99;
	m.log_index = 10;
	m.log_term = 3;
	m.commit = 9;
	m.send_us = 0xfedcba9876543210ull;
	m.pull = true;
	m.last_index = 42;
	m.last_term = 7;
	m.transfer_from = 5;
	m.transfer_term = 98;
	m.entry_count = (uint32_t)(sizeof(all_entries) / sizeof(all_entries[0]));
	m.entries = all_entries;
	m.snap.index = 1000;
	m.snap.term = 6;
	m.snap.conf.voter_count = HP_MAX_VOTERS;
	for (uint32_t i = 0; i < HP_MAX_VOTERS; i++)
		m.snap.conf.voters[i] = 100 + i;
	m.snap.conf.learner_count = 2;
	m.snap.conf.learners[0] = 200;
	m.snap.conf.learners[1] = UINT64_MAX;
	m.snap_offset = 1ull << 40;
	for (size_t i = 0; i < sizeof(snap_bytes); i++)
		snap_bytes[i] = (uint8_t)(i * 7);
	m.snap_size_bytes = sizeof(snap_bytes);
	m.snap_last = true;
	m.snap_data = snap_bytes;
	return m;
}

static void check_msg_eq(const hp_msg *a, const hp_msg *b)
{
	CHECK_EQ(a->type, b->type);
	CHECK_EQ(a->reject, b->reject);
	CHECK_EQ(a->group, b->group);
	CHECK_EQ(a->from, b->from);
	CHECK_EQ(a->to, b->to);
	CHECK_EQ(a->term, b->term);
	CHECK_EQ(a->log_index, b->log_index);
	CHECK_EQ(a->log_term, b->log_term);
	CHECK_EQ(a->commit, b->commit);
	CHECK_EQ(a->send_us, b->send_us);
	CHECK_EQ(a->pull, b->pull);
	CHECK_EQ(a->last_index, b->last_index);
	CHECK_EQ(a->last_term, b->last_term);
	CHECK_EQ(a->transfer_from, b->transfer_from);
	CHECK_EQ(a->transfer_term, b->transfer_term);
	CHECK_EQ(a->entry_count, b->entry_count);
	for (uint32_t i = 0; i < a->entry_count; i++) {
		const hp_entry *x = &a->entries[i], *y = &b->entries[i];
		CHECK_EQ(x->index, y->index);
		CHECK_EQ(x->term, y->term);
		CHECK_EQ(x->type, y->type);
		CHECK_EQ(x->size_bytes, y->size_bytes);
		if (x->size_bytes == 0) {
			CHECK(y->data == NULL);
		} else {
			CHECK(y->data != NULL);
			CHECK(memcmp(x->data, y->data, x->size_bytes) == 0);
		}
	}
	if (a->entry_count == 0)
		CHECK(b->entries == NULL);
	CHECK_EQ(a->snap.index, b->snap.index);
	CHECK_EQ(a->snap.term, b->snap.term);
	CHECK_EQ(a->snap.conf.voter_count, b->snap.conf.voter_count);
	CHECK_EQ(a->snap.conf.learner_count, b->snap.conf.learner_count);
	for (uint32_t i = 0; i < a->snap.conf.voter_count; i++)
		CHECK_EQ(a->snap.conf.voters[i], b->snap.conf.voters[i]);
	for (uint32_t i = 0; i < a->snap.conf.learner_count; i++)
		CHECK_EQ(a->snap.conf.learners[i], b->snap.conf.learners[i]);
	CHECK_EQ(a->snap_offset, b->snap_offset);
	CHECK_EQ(a->snap_size_bytes, b->snap_size_bytes);
	CHECK_EQ(a->snap_last, b->snap_last);
	if (a->snap_size_bytes == 0)
		CHECK(b->snap_data == NULL);
	else
		CHECK(memcmp(a->snap_data, b->snap_data, a->snap_size_bytes) == 0);
}

/* One valid frame of each type, appended to b (the corruption tests run
 * over all of them). */
static const struct resp_arg fwd_args[] = {
    {"SET", 3}, {"k\0ey", 4}, {"", 0}, {"value", 5}};

static void encode_one_of_each(peer_buf *b, size_t offsets[7])
{
	peer_hello h = {.version = 1,
			.cluster_id = 77,
			.node_id = 1,
			.peer_addr = "10.0.0.1:7101",
			.peer_addr_len = 13,
			.client_addr = "[::1]:6379",
			.client_addr_len = 10};
	hp_msg m = full_msg(HP_MSG_APPEND);
	peer_join_req jq = {.node_id = 4,
			    .peer_addr = "n4:7101",
			    .peer_addr_len = 7,
			    .client_addr = "n4:6379",
			    .client_addr_len = 7};
	peer_join_resp jr = {.status = PEER_JOIN_NOT_LEADER,
			     .cluster_id = 77,
			     .leader_id = 2,
			     .leader_addr = "n2:7101",
			     .leader_addr_len = 7,
			     .message = "ask n2",
			     .message_len = 6};
	peer_fwd_req fq = {.req_id = 5,
			   .proto = 3,
			   .flags = 0x81,
			   .client = 9,
			   .seq = 12,
			   .argc = 4,
			   .argv = fwd_args};
	peer_fwd_resp fr = {.req_id = 5,
			    .status = PEER_FWD_OK,
			    .reply = (const uint8_t *)"+OK\r\n",
			    .reply_len = 5};
	offsets[0] = b->len;
	CHECK_EQ(peer_encode_hello(b, &h), 0);
	offsets[1] = b->len;
	CHECK_EQ(peer_encode_msg(b, &m), 0);
	offsets[2] = b->len;
	CHECK_EQ(peer_encode_join_req(b, &jq), 0);
	offsets[3] = b->len;
	CHECK_EQ(peer_encode_join_resp(b, &jr), 0);
	offsets[4] = b->len;
	CHECK_EQ(peer_encode_fwd_req(b, &fq), 0);
	offsets[5] = b->len;
	CHECK_EQ(peer_encode_fwd_resp(b, &fr), 0);
	offsets[6] = b->len;
}

/* ---------------------------------------------------------------------------
 * Round trips.
 */

TEST(hello_round_trip)
{
	peer_buf b;
	peer_buf_init(&b);
	peer_hello h = {.version = 3,
			.cluster_id = 0,
			.node_id = UINT64_MAX,
			.peer_addr = "[fe80::1]:7101",
			.peer_addr_len = 14,
			.client_addr = NULL,
			.client_addr_len = 0};
	CHECK_EQ(peer_encode_hello(&b, &h), 0);
	const uint8_t *p;
	size_t n;
	split_one(&b, PEER_F_HELLO, &p, &n);
	peer_hello g;
	CHECK_EQ(peer_decode_hello(p, n, &g), 0);
	CHECK_EQ(g.version, 3);
	CHECK_EQ(g.cluster_id, 0);
	CHECK_EQ(g.node_id, UINT64_MAX);
	CHECK(str_eq(g.peer_addr, g.peer_addr_len, "[fe80::1]:7101"));
	CHECK(g.client_addr != NULL);
	CHECK(str_eq(g.client_addr, g.client_addr_len, ""));
	peer_buf_deinit(&b);
}

TEST(msg_round_trip_every_type)
{
	peer_buf b;
	peer_scratch s;
	peer_buf_init(&b);
	peer_scratch_init(&s);
	for (uint8_t type = HP_MSG_PRE_LEASE_REQ; type <= HP_MSG_PULL_RESP; type++) {
		/* every field set; and the same with every bool false and no
		 * entries, no conf, no chunk data */
		for (int variant = 0; variant < 2; variant++) {
			hp_msg m = full_msg(type);
			if (variant == 1) {
				m.reject = m.pull = m.snap_last = false;
				m.entry_count = 0;
				m.entries = NULL;
				m.snap.conf.voter_count = 0;
				m.snap.conf.learner_count = HP_MAX_MEMBERS;
				for (uint32_t i = 0; i < HP_MAX_MEMBERS; i++)
					m.snap.conf.learners[i] = 300 + i;
				m.snap_size_bytes = 0;
				m.snap_data = NULL;
			}
			peer_buf_reset(&b);
			CHECK_EQ(peer_encode_msg(&b, &m), 0);
			const uint8_t *p;
			size_t n;
			split_one(&b, PEER_F_MSG, &p, &n);
			hp_msg g;
			CHECK_EQ(peer_decode_msg(p, n, &s, &g), 0);
			check_msg_eq(&m, &g);
		}
	}
	peer_scratch_deinit(&s);
	peer_buf_deinit(&b);
}

TEST(msg_flags_each_alone)
{
	peer_buf b;
	peer_scratch s;
	peer_buf_init(&b);
	peer_scratch_init(&s);
	for (int f = 0; f < 3; f++) {
		hp_msg m;
		memset(&m, 0, sizeof(m));
		m.type = HP_MSG_SNAP_CHUNK;
		m.reject = f == 0;
		m.pull = f == 1;
		m.snap_last = f == 2;
		peer_buf_reset(&b);
		CHECK_EQ(peer_encode_msg(&b, &m), 0);
		const uint8_t *p;
		size_t n;
		split_one(&b, PEER_F_MSG, &p, &n);
		hp_msg g;
		CHECK_EQ(peer_decode_msg(p, n, &s, &g), 0);
		check_msg_eq(&m, &g);
	}
	peer_scratch_deinit(&s);
	peer_buf_deinit(&b);
}

TEST(join_round_trip)
{
	peer_buf b;
	peer_buf_init(&b);
	peer_join_req q = {.node_id = 8,
			   .flags = PEER_JOIN_FRESH,
			   .peer_addr = "host.example:7101",
			   .peer_addr_len = 17,
			   .client_addr = "host.example:6379",
			   .client_addr_len = 17};
	CHECK_EQ(peer_encode_join_req(&b, &q), 0);
	const uint8_t *p;
	size_t n;
	split_one(&b, PEER_F_JOIN_REQ, &p, &n);
	peer_join_req gq;
	CHECK_EQ(peer_decode_join_req(p, n, &gq), 0);
	CHECK_EQ(gq.node_id, 8);
	CHECK_EQ(gq.flags, PEER_JOIN_FRESH);
	CHECK(str_eq(gq.peer_addr, gq.peer_addr_len, "host.example:7101"));
	CHECK(str_eq(gq.client_addr, gq.client_addr_len, "host.example:6379"));

	const int32_t statuses[] = {
	    0, RP_ERR_BUSY, -99, PEER_JOIN_NOT_LEADER, PEER_JOIN_BUSY, PEER_JOIN_REFUSED};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		peer_join_resp r = {.status = statuses[i],
				    .cluster_id = 0xabcdef,
				    .leader_id = i,
				    .leader_addr = "1.2.3.4:5",
				    .leader_addr_len = 9,
				    .message = "no room",
				    .message_len = 7};
		if (i == 0) {
			r.leader_addr = NULL;
			r.leader_addr_len = 0;
		}
		peer_buf_reset(&b);
		CHECK_EQ(peer_encode_join_resp(&b, &r), 0);
		split_one(&b, PEER_F_JOIN_RESP, &p, &n);
		peer_join_resp g;
		CHECK_EQ(peer_decode_join_resp(p, n, &g), 0);
		CHECK_EQ(g.status, (uint64_t)(int64_t)statuses[i]);
		CHECK_EQ(g.cluster_id, 0xabcdef);
		CHECK_EQ(g.leader_id, i);
		CHECK(
		    str_eq(g.leader_addr, g.leader_addr_len, i == 0 ? "" : "1.2.3.4:5"));
		CHECK(str_eq(g.message, g.message_len, "no room"));
	}
	CHECK(strcmp(peer_strerror(PEER_JOIN_REFUSED), "join refused") == 0);
	CHECK(strcmp(peer_strerror(RP_ERR_BUSY), rp_strerror(RP_ERR_BUSY)) == 0);
	peer_buf_deinit(&b);
}

TEST(fwd_round_trip)
{
	peer_buf b;
	peer_scratch s;
	peer_buf_init(&b);
	peer_scratch_init(&s);
	for (uint8_t proto = 2; proto <= 3; proto++) {
		peer_fwd_req q = {.req_id = UINT64_MAX,
				  .proto = proto,
				  .flags = 0xff,
				  .client = 1234,
				  .seq = 0,
				  .argc = 4,
				  .argv = fwd_args};
		peer_buf_reset(&b);
		CHECK_EQ(peer_encode_fwd_req(&b, &q), 0);
		const uint8_t *p;
		size_t n;
		split_one(&b, PEER_F_FWD_REQ, &p, &n);
		peer_fwd_req g;
		CHECK_EQ(peer_decode_fwd_req(p, n, &s, &g), 0);
		CHECK_EQ(g.req_id, UINT64_MAX);
		CHECK_EQ(g.proto, proto);
		CHECK_EQ(g.flags, 0xff);
		CHECK_EQ(g.client, 1234);
		CHECK_EQ(g.seq, 0);
		CHECK_EQ(g.argc, 4);
		for (uint32_t i = 0; i < 4; i++) {
			CHECK_EQ(g.argv[i].len, fwd_args[i].len);
			CHECK(memcmp(g.argv[i].ptr, fwd_args[i].ptr, fwd_args[i].len) ==
			      0);
			CHECK_EQ(g.argv[i].ptr[g.argv[i].len],
				 '\0'); /* resp_arg contract */
		}
	}
	for (uint8_t st = PEER_FWD_OK; st <= PEER_FWD_UNCERTAIN; st++) {
		peer_fwd_resp r = {
		    .req_id = st,
		    .status = st,
		    .reply = st == PEER_FWD_OK ? (const uint8_t *)"$1\r\n\0\r\n" : NULL,
		    .reply_len = st == PEER_FWD_OK ? 7 : 0};
		peer_buf_reset(&b);
		CHECK_EQ(peer_encode_fwd_resp(&b, &r), 0);
		const uint8_t *p;
		size_t n;
		split_one(&b, PEER_F_FWD_RESP, &p, &n);
		peer_fwd_resp g;
		CHECK_EQ(peer_decode_fwd_resp(p, n, &g), 0);
		CHECK_EQ(g.req_id, st);
		CHECK_EQ(g.status, st);
		CHECK_EQ(g.reply_len, r.reply_len);
		CHECK(g.reply != NULL);
		CHECK(memcmp(g.reply, "$1\r\n\0\r\n", g.reply_len) == 0);
	}
	peer_scratch_deinit(&s);
	peer_buf_deinit(&b);
}

/* Random messages: encode, decode, compare; the scratch is reused across
 * sizes, large after small and small after large. */
TEST(msg_random_round_trips)
{
	rp_prng r;
	rp_prng_init(&r, 4242);
	peer_buf b;
	peer_scratch s;
	peer_buf_init(&b);
	peer_scratch_init(&s);
	static hp_entry ents[300];
	static uint8_t pool[4096];
	for (size_t i = 0; i < sizeof(pool); i++)
		pool[i] = (uint8_t)rp_prng_next(&r);
	for (int iter = 0; iter < 500; iter++) {
		hp_msg m;
		memset(&m, 0, sizeof(m));
		m.type =
		    (uint8_t)rp_prng_range(&r, HP_MSG_PRE_LEASE_REQ, HP_MSG_PULL_RESP);
		m.reject = rp_prng_below(&r, 2);
		m.pull = rp_prng_below(&r, 2);
		m.snap_last = rp_prng_below(&r, 2);
		m.group = rp_prng_next(&r);
		m.from = rp_prng_next(&r);
		m.term = rp_prng_next(&r);
		m.commit = rp_prng_next(&r);
		m.send_us = rp_prng_next(&r);
		m.entry_count = (uint32_t)rp_prng_below(&r, 300);
		for (uint32_t i = 0; i < m.entry_count; i++) {
			ents[i].index = rp_prng_next(&r);
			ents[i].term = rp_prng_next(&r);
			ents[i].type = (uint8_t)rp_prng_below(&r, 3);
			ents[i].size_bytes = (uint32_t)rp_prng_below(&r, 64);
			ents[i].data = ents[i].size_bytes
					   ? pool + rp_prng_below(&r, sizeof(pool) - 64)
					   : NULL;
		}
		m.entries = m.entry_count ? ents : NULL;
		m.snap.conf.voter_count = (uint32_t)rp_prng_below(&r, HP_MAX_VOTERS + 1);
		m.snap.conf.learner_count =
		    (uint32_t)rp_prng_below(&r, HP_MAX_MEMBERS + 1);
		for (uint32_t i = 0; i < HP_MAX_VOTERS; i++)
			m.snap.conf.voters[i] = rp_prng_next(&r);
		for (uint32_t i = 0; i < HP_MAX_MEMBERS; i++)
			m.snap.conf.learners[i] = rp_prng_next(&r);
		m.snap_size_bytes = (uint32_t)rp_prng_below(&r, 2048);
		m.snap_data = m.snap_size_bytes ? pool : NULL;
		peer_buf_reset(&b);
		CHECK_EQ(peer_encode_msg(&b, &m), 0);
		const uint8_t *p;
		size_t n;
		split_one(&b, PEER_F_MSG, &p, &n);
		hp_msg g;
		CHECK_EQ(peer_decode_msg(p, n, &s, &g), 0);
		check_msg_eq(&m, &g);
	}
	CHECK(s.entries_cap <= 2 * 300); /* doubling, from what frames held */
	peer_scratch_deinit(&s);
	peer_buf_deinit(&b);
}

TEST(frames_back_to_back)
{
	peer_buf b;
	peer_buf_init(&b);
	size_t off[7];
	encode_one_of_each(&b, off);
	for (int i = 0; i < 6; i++) {
		uint8_t type;
		const uint8_t *p;
		size_t n;
		CHECK_EQ(peer_frame_split(b.data + off[i], off[i + 1] - off[i],
					  PEER_MAX_FRAME_BYTES_DEFAULT, &type, &p, &n),
			 0);
		CHECK_EQ(type, i + 1);
		/* a split over two frames is not one frame */
		if (i < 5)
			CHECK_EQ(peer_frame_split(b.data + off[i], off[i + 2] - off[i],
						  PEER_MAX_FRAME_BYTES_DEFAULT, &type, &p,
						  &n),
				 RP_ERR_CORRUPT);
	}
	peer_buf_deinit(&b);
}

/* ---------------------------------------------------------------------------
 * Corruption.
 */

TEST(every_truncation_refused)
{
	peer_buf b;
	peer_scratch s;
	peer_buf_init(&b);
	peer_scratch_init(&s);
	size_t off[7];
	encode_one_of_each(&b, off);
	for (int i = 0; i < 6; i++) {
		const uint8_t *f = b.data + off[i];
		size_t len = off[i + 1] - off[i];
		for (size_t k = 0; k < len; k++) {
			uint8_t type;
			const uint8_t *p;
			size_t n;
			CHECK(peer_frame_split(f, k, PEER_MAX_FRAME_BYTES_DEFAULT, &type,
					       &p, &n) != 0);
		}
		/* and the decoders alone refuse every short payload */
		const uint8_t *payload = f + PEER_HEADER_BYTES;
		size_t plen = len - PEER_HEADER_BYTES;
		CHECK_EQ(decode_any((uint8_t)(i + 1), payload, plen, &s), 0);
		for (size_t k = 0; k < plen; k++)
			CHECK_EQ(decode_any((uint8_t)(i + 1), payload, k, &s),
				 RP_ERR_CORRUPT);
	}
	peer_scratch_deinit(&s);
	peer_buf_deinit(&b);
}

TEST(every_bit_flip_refused)
{
	peer_buf b;
	peer_buf_init(&b);
	size_t off[7];
	encode_one_of_each(&b, off);
	uint8_t *copy = malloc(b.len);
	CHECK(copy != NULL);
	for (int i = 0; i < 6; i++) {
		size_t len = off[i + 1] - off[i];
		for (size_t bit = 0; bit < len * 8; bit++) {
			memcpy(copy, b.data + off[i], len);
			copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			uint8_t type;
			const uint8_t *p;
			size_t n;
			int rc = peer_frame_split(copy, len, PEER_MAX_FRAME_BYTES_DEFAULT,
						  &type, &p, &n);
			if (rc == 0) {
				free(copy);
				CHECK(0);
			}
			/* a flip in the header's length may also read as "too
			 * big"; everything else is corruption */
			CHECK(rc == RP_ERR_CORRUPT || rc == RP_ERR_NOSPC);
		}
	}
	free(copy);
	peer_buf_deinit(&b);
}

TEST(trailing_bytes_refused)
{
	peer_buf b, raw;
	peer_scratch s;
	peer_buf_init(&b);
	peer_buf_init(&raw);
	peer_scratch_init(&s);
	size_t off[7];
	encode_one_of_each(&b, off);
	for (int i = 0; i < 6; i++) {
		size_t plen = off[i + 1] - off[i] - PEER_HEADER_BYTES;
		uint8_t *p = malloc(plen + 1);
		CHECK(p != NULL);
		memcpy(p, b.data + off[i] + PEER_HEADER_BYTES, plen);
		p[plen] = 0;
		/* with valid CRCs around it, so only the decoder can object */
		frame_raw(&raw, (uint8_t)(i + 1), p, plen + 1);
		uint8_t type;
		const uint8_t *q;
		size_t n;
		int rc = peer_frame_split(raw.data, raw.len, PEER_MAX_FRAME_BYTES_DEFAULT,
					  &type, &q, &n);
		int drc = rc == 0 ? decode_any(type, q, n, &s) : rc;
		free(p);
		CHECK_EQ(rc, 0);
		CHECK_EQ(drc, RP_ERR_CORRUPT);
	}
	peer_scratch_deinit(&s);
	peer_buf_deinit(&raw);
	peer_buf_deinit(&b);
}

TEST(header_checks)
{
	peer_buf b;
	peer_buf_init(&b);
	peer_hello h = {.version = 1, .node_id = 1};
	CHECK_EQ(peer_encode_hello(&b, &h), 0);
	uint8_t hdr[PEER_HEADER_BYTES];
	uint8_t type = 0;
	uint32_t len = 0, crc = 0;
	memcpy(hdr, b.data, sizeof(hdr));
	CHECK_EQ(peer_frame_header(hdr, 1 << 20, &type, &len, &crc), 0);
	CHECK_EQ(type, PEER_F_HELLO);
	CHECK_EQ(len, b.len - PEER_HEADER_BYTES);
	/* a payload just over the limit: NOSPC; at the limit: fine */
	CHECK_EQ(peer_frame_header(hdr, len - 1, &type, &len, &crc), RP_ERR_NOSPC);
	CHECK_EQ(peer_frame_header(hdr, len, &type, &len, &crc), 0);
	/* version 2, bad magic, unknown types 0 and 7: with a correct header
	 * CRC, so the field itself is what is refused */
	const uint8_t bad[][2] = {{2, 2}, {0, 0x51}, {3, 0}, {3, PEER_F_MAX + 1}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(hdr, b.data, sizeof(hdr));
		hdr[bad[i][0]] = bad[i][1];
		put32(hdr + 12, crc32c(hdr, 12));
		CHECK_EQ(peer_frame_header(hdr, 1 << 20, &type, &len, &crc),
			 RP_ERR_CORRUPT);
	}
	/* the outputs are untouched on failure */
	type = 99;
	CHECK_EQ(peer_frame_header(hdr, 1 << 20, &type, &len, &crc), RP_ERR_CORRUPT);
	CHECK_EQ(type, 99);
	peer_buf_deinit(&b);
}

/* A MSG payload built field by field, for the limit tests. */
static size_t msg_payload(uint8_t *p, uint8_t type, uint8_t flags, uint32_t entry_count)
{
	size_t o = 0;
	p[o++] = type;
	p[o++] = flags;
	for (int i = 0; i < 12; i++, o += 8)
		put64(p + o, 0);
	put32(p + o, entry_count);
	o += 4;
	return o;
}

static size_t msg_tail(uint8_t *p, size_t o, uint32_t voters, uint32_t learners,
		       uint32_t snap_len)
{
	put64(p + o, 0);
	put64(p + o + 8, 0);
	put32(p + o + 16, voters);
	put32(p + o + 20, learners);
	o += 24;
	for (uint32_t i = 0; i < voters + learners; i++, o += 8)
		put64(p + o, i + 1);
	put64(p + o, 0);
	put32(p + o + 8, snap_len);
	return o + 12;
}

TEST(msg_limits_refused_without_allocating)
{
	peer_scratch s;
	peer_scratch_init(&s);
	static uint8_t p[4096];
	hp_msg m;
	/* the minimal valid message decodes */
	size_t o = msg_payload(p, HP_MSG_APPEND, 0, 0);
	o = msg_tail(p, o, 0, 0, 0);
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), 0);
	/* claimed entries with no bytes behind them (the 36 bytes of the
	 * snapshot part could hold one entry, not three): refused, nothing
	 * grown */
	const uint32_t counts[] = {3, 1000, PEER_MAX_ENTRIES, PEER_MAX_ENTRIES + 1,
				   UINT32_MAX};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		o = msg_payload(p, HP_MSG_APPEND, 0, counts[i]);
		o = msg_tail(p, o, 0, 0, 0);
		CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
		CHECK_EQ(s.entries_cap, 0);
		CHECK(s.entries == NULL);
	}
	/* an entry claiming more than HP_MAX_ENTRY_BYTES, or more than is left */
	const uint32_t sizes[] = {HP_MAX_ENTRY_BYTES + 1u, UINT32_MAX, 100};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		o = msg_payload(p, HP_MSG_APPEND, 0, 1);
		put64(p + o, 1);
		put64(p + o + 8, 1);
		p[o + 16] = HP_ENTRY_NORMAL;
		put32(p + o + 17, sizes[i]);
		o = msg_tail(p, o + 21, 0, 0, 0);
		CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	}
	/* over-limit conf counts and chunk lengths */
	o = msg_tail(p, msg_payload(p, HP_MSG_SNAP_CHUNK, 0, 0), HP_MAX_VOTERS + 1, 0, 0);
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	o = msg_tail(p, msg_payload(p, HP_MSG_SNAP_CHUNK, 0, 0), 0, HP_MAX_MEMBERS + 1,
		     0);
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	o = msg_tail(p, msg_payload(p, HP_MSG_SNAP_CHUNK, 0, 0), 1, 1, UINT32_MAX);
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	o = msg_tail(p, msg_payload(p, HP_MSG_SNAP_CHUNK, 0, 0), 1, 1,
		     HP_MAX_ENTRY_BYTES + 1u);
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	/* unknown message types, entry types, flag bits */
	const uint8_t types[] = {0, HP_MSG_PULL_RESP + 1, 255};
	for (size_t i = 0; i < sizeof(types); i++) {
		o = msg_tail(p, msg_payload(p, types[i], 0, 0), 0, 0, 0);
		CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	}
	for (int bit = 3; bit < 8; bit++) {
		o = msg_tail(p, msg_payload(p, HP_MSG_APPEND, (uint8_t)(1u << bit), 0), 0,
			     0, 0);
		CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	}
	o = msg_payload(p, HP_MSG_APPEND, 0, 1);
	put64(p + o, 1);
	put64(p + o + 8, 1);
	p[o + 16] = HP_ENTRY_CONF + 1;
	put32(p + o + 17, 0);
	o = msg_tail(p, o + 21, 0, 0, 0);
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), RP_ERR_CORRUPT);
	p[o - 12 - 24 - 4 - 1] = HP_ENTRY_CONF; /* the same entry, now valid */
	CHECK_EQ(peer_decode_msg(p, o, &s, &m), 0);
	CHECK_EQ(m.entry_count, 1);
	CHECK(m.entries[0].data == NULL);
	peer_scratch_deinit(&s);
}

TEST(fwd_limits_refused_without_allocating)
{
	peer_scratch s;
	peer_scratch_init(&s);
	uint8_t p[64];
	peer_fwd_req q;
	const uint32_t argcs[] = {0, 3, PEER_MAX_ARGS, PEER_MAX_ARGS + 1, UINT32_MAX};
	for (size_t i = 0; i < sizeof(argcs) / sizeof(argcs[0]); i++) {
		memset(p, 0, sizeof(p));
		p[8] = 2;
		put32(p + 26, argcs[i]);
		/* one valid argument "a" follows; never enough for argc >= 3 */
		put32(p + 30, 1);
		p[34] = 'a';
		p[35] = 0;
		CHECK_EQ(peer_decode_fwd_req(p, 36, &s, &q), RP_ERR_CORRUPT);
		CHECK_EQ(s.args_cap, 0);
	}
	/* argc 1: fine; then a bad proto, a missing NUL, a huge length */
	put32(p + 26, 1);
	CHECK_EQ(peer_decode_fwd_req(p, 36, &s, &q), 0);
	CHECK(str_eq(q.argv[0].ptr, q.argv[0].len, "a"));
	p[8] = 4;
	CHECK_EQ(peer_decode_fwd_req(p, 36, &s, &q), RP_ERR_CORRUPT);
	p[8] = 3;
	p[35] = 'x';
	CHECK_EQ(peer_decode_fwd_req(p, 36, &s, &q), RP_ERR_CORRUPT);
	p[35] = 0;
	put32(p + 30, UINT32_MAX);
	CHECK_EQ(peer_decode_fwd_req(p, 36, &s, &q), RP_ERR_CORRUPT);
	/* fwd_resp: unknown status, reply longer than the payload */
	peer_fwd_resp r;
	memset(p, 0, sizeof(p));
	CHECK_EQ(peer_decode_fwd_resp(p, 13, &r), 0);
	CHECK(r.reply != NULL);
	p[8] = PEER_FWD_UNCERTAIN + 1;
	CHECK_EQ(peer_decode_fwd_resp(p, 13, &r), RP_ERR_CORRUPT);
	p[8] = 0;
	put32(p + 9, 1);
	CHECK_EQ(peer_decode_fwd_resp(p, 13, &r), RP_ERR_CORRUPT);
	peer_scratch_deinit(&s);
}

TEST(text_limits_refused)
{
	/* hello: u32 version, u64 cluster, u64 node, then texts */
	uint8_t p[600];
	memset(p, 0, sizeof(p));
	put32(p, 1);
	put64(p + 12, 5);
	peer_hello h;
	/* two empty addresses: fine */
	CHECK_EQ(peer_decode_hello(p, 20 + 5 + 5, &h), 0);
	/* a 256-byte address with room for it: refused */
	put32(p + 20, PEER_ADDR_MAX + 1);
	memset(p + 24, 'a', PEER_ADDR_MAX + 1);
	p[24 + PEER_ADDR_MAX + 1] = 0;
	put32(p + 25 + PEER_ADDR_MAX + 1, 0);
	p[29 + PEER_ADDR_MAX + 1] = 0;
	CHECK_EQ(peer_decode_hello(p, 30 + PEER_ADDR_MAX + 1, &h), RP_ERR_CORRUPT);
	/* 255 is fine */
	put32(p + 20, PEER_ADDR_MAX);
	p[24 + PEER_ADDR_MAX] = 0;
	put32(p + 25 + PEER_ADDR_MAX, 0);
	p[29 + PEER_ADDR_MAX] = 0;
	CHECK_EQ(peer_decode_hello(p, 30 + PEER_ADDR_MAX, &h), 0);
	CHECK_EQ(h.peer_addr_len, PEER_ADDR_MAX);
	/* a NUL inside an address */
	p[30] = 0;
	CHECK_EQ(peer_decode_hello(p, 30 + PEER_ADDR_MAX, &h), RP_ERR_CORRUPT);
	p[30] = 'a';
	/* node id 0, version 0 */
	put64(p + 12, 0);
	CHECK_EQ(peer_decode_hello(p, 30 + PEER_ADDR_MAX, &h), RP_ERR_CORRUPT);
	put64(p + 12, 5);
	put32(p, 0);
	CHECK_EQ(peer_decode_hello(p, 30 + PEER_ADDR_MAX, &h), RP_ERR_CORRUPT);

	/* join_resp: unknown statuses */
	const int64_t bad[] = {1, -100, -199, -203, INT32_MIN, INT32_MAX};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(p, 0, sizeof(p));
		put32(p, (uint32_t)bad[i]);
		peer_join_resp r;
		CHECK_EQ(peer_decode_join_resp(p, 4 + 16 + 10, &r), RP_ERR_CORRUPT);
	}
	/* join_req (u64 id, u8 flags, two empty texts): node 0, unknown flags */
	memset(p, 0, sizeof(p));
	peer_join_req q;
	CHECK_EQ(peer_decode_join_req(p, 19, &q), RP_ERR_CORRUPT);
	p[0] = 1;
	CHECK_EQ(peer_decode_join_req(p, 19, &q), 0);
	CHECK_EQ(q.flags, 0);
	p[8] = PEER_JOIN_FRESH;
	CHECK_EQ(peer_decode_join_req(p, 19, &q), 0);
	CHECK_EQ(q.flags, PEER_JOIN_FRESH);
	p[8] = 2;
	CHECK_EQ(peer_decode_join_req(p, 19, &q), RP_ERR_CORRUPT);
}

TEST(encoders_refuse_and_append_nothing)
{
	peer_buf b;
	peer_buf_init(&b);
	peer_hello h = {.version = 1, .node_id = 1};
	CHECK_EQ(peer_encode_hello(&b, &h), 0);
	size_t len = b.len;
	char big[PEER_MESSAGE_MAX + 2];
	memset(big, 'x', sizeof(big));

	peer_hello bh = h;
	bh.peer_addr = big;
	bh.peer_addr_len = PEER_ADDR_MAX + 1;
	CHECK_EQ(peer_encode_hello(&b, &bh), RP_ERR_INVALID);
	bh = h;
	bh.client_addr = "a\0b";
	bh.client_addr_len = 3;
	CHECK_EQ(peer_encode_hello(&b, &bh), RP_ERR_INVALID);
	bh = h;
	bh.peer_addr_len = 3; /* NULL with a length */
	CHECK_EQ(peer_encode_hello(&b, &bh), RP_ERR_INVALID);
	bh = h;
	bh.node_id = 0;
	CHECK_EQ(peer_encode_hello(&b, &bh), RP_ERR_INVALID);

	hp_msg m = full_msg(HP_MSG_APPEND);
	hp_msg bm = m;
	bm.type = 0;
	CHECK_EQ(peer_encode_msg(&b, &bm), RP_ERR_INVALID);
	bm = m;
	bm.entry_count = PEER_MAX_ENTRIES + 1;
	CHECK_EQ(peer_encode_msg(&b, &bm), RP_ERR_INVALID);
	hp_entry e = {.index = 1,
		      .term = 1,
		      .type = 0,
		      .size_bytes = HP_MAX_ENTRY_BYTES + 1u,
		      .data = (const uint8_t *)big};
	bm = m;
	bm.entry_count = 1;
	bm.entries = &e;
	CHECK_EQ(peer_encode_msg(&b, &bm), RP_ERR_INVALID);
	e.size_bytes = 1;
	e.type = 3;
	CHECK_EQ(peer_encode_msg(&b, &bm), RP_ERR_INVALID);
	bm = m;
	bm.snap.conf.voter_count = HP_MAX_VOTERS + 1;
	CHECK_EQ(peer_encode_msg(&b, &bm), RP_ERR_INVALID);
	bm = m;
	bm.snap_size_bytes = HP_MAX_ENTRY_BYTES + 1u;
	CHECK_EQ(peer_encode_msg(&b, &bm), RP_ERR_INVALID);

	peer_join_resp jr = {.status = 7};
	CHECK_EQ(peer_encode_join_resp(&b, &jr), RP_ERR_INVALID);
	jr.status = 0;
	jr.message = big;
	jr.message_len = PEER_MESSAGE_MAX + 1;
	CHECK_EQ(peer_encode_join_resp(&b, &jr), RP_ERR_INVALID);
	jr.message_len = PEER_MESSAGE_MAX;
	CHECK_EQ(peer_encode_join_resp(&b, &jr), 0);
	len = b.len;
	peer_join_req jq = {.node_id = 0};
	CHECK_EQ(peer_encode_join_req(&b, &jq), RP_ERR_INVALID);

	peer_fwd_req fq = {.proto = 1, .argc = 1, .argv = fwd_args};
	CHECK_EQ(peer_encode_fwd_req(&b, &fq), RP_ERR_INVALID);
	fq.proto = 2;
	fq.argc = 0;
	CHECK_EQ(peer_encode_fwd_req(&b, &fq), RP_ERR_INVALID);
	peer_fwd_resp fr = {.status = 3};
	CHECK_EQ(peer_encode_fwd_resp(&b, &fr), RP_ERR_INVALID);
	CHECK_EQ(b.len, len);
	CHECK_EQ(b.err, 0);

	/* a sticky allocation failure: nothing appended until reset */
	b.err = RP_ERR_NOMEM;
	CHECK_EQ(peer_encode_hello(&b, &h), RP_ERR_NOMEM);
	CHECK_EQ(peer_buf_append(&b, "x", 1), RP_ERR_NOMEM);
	CHECK_EQ(b.len, len);
	peer_buf_reset(&b);
	CHECK_EQ(b.len, 0);
	CHECK_EQ(peer_encode_hello(&b, &h), 0);
	peer_buf_deinit(&b);
	peer_buf_deinit(NULL);
	peer_scratch_deinit(NULL);
}

/* The largest legal message encodes and decodes: PEER_MAX_ENTRIES empty
 * entries (the scratch grows to exactly that bound). */
TEST(msg_max_entries)
{
	static hp_entry ents[PEER_MAX_ENTRIES];
	for (uint32_t i = 0; i < PEER_MAX_ENTRIES; i++)
		ents[i] = (hp_entry){.index = i + 1, .term = 1, .type = HP_ENTRY_NOOP};
	hp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HP_MSG_APPEND;
	m.entry_count = PEER_MAX_ENTRIES;
	m.entries = ents;
	peer_buf b;
	peer_scratch s;
	peer_buf_init(&b);
	peer_scratch_init(&s);
	CHECK_EQ(peer_encode_msg(&b, &m), 0);
	const uint8_t *p;
	size_t n;
	split_one(&b, PEER_F_MSG, &p, &n);
	hp_msg g;
	CHECK_EQ(peer_decode_msg(p, n, &s, &g), 0);
	CHECK_EQ(g.entry_count, PEER_MAX_ENTRIES);
	CHECK_EQ(g.entries[PEER_MAX_ENTRIES - 1].index, PEER_MAX_ENTRIES);
	CHECK_EQ(s.entries_cap, PEER_MAX_ENTRIES);
	peer_scratch_deinit(&s);
	peer_buf_deinit(&b);
}

TEST_MAIN()
