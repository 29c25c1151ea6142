/*
 * fuzz_peer.c — libFuzzer target for the peer protocol codec
 * (net/peer_wire.h).  Input layout: byte 0 picks what to do, the rest is
 * the data.
 *   byte0 % 6 + 1      the frame type whose decoder reads the data
 *   byte0 & 0x08       wrap the data in a frame with correct CRCs first and
 *                      go through peer_frame_split (the header path)
 *   byte0 & 0x10       instead, read the data as a stream of frames, as
 *                      the transport does (header, bounds, CRC, decode)
 * Oracles, beyond the sanitizers and the codec's own assertions:
 *   - a payload that decodes re-encodes to exactly the same bytes (the
 *     encoding is canonical, so nothing is silently dropped or changed);
 *   - no strict prefix of a payload that decodes also decodes;
 *   - a fresh scratch grows to at most what the payload's bytes can hold
 *     (claimed counts reserve nothing);
 *   - decoded strings are followed by a NUL, addresses hold none.
 * Build: make build/fuzz/fuzz_peer
 * Run:   build/fuzz/fuzz_peer -max_total_time=60 tests/fuzz/corpus_peer
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/peer_wire.h"
#include "net/resp.h"
#include "util/crc32c.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                                   \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "fuzz_peer: %s failed (line %d)\n", #c,          \
				__LINE__);                                               \
			abort();                                                         \
		}                                                                        \
	} while (0)

static void check_text(const char *s, size_t n, int nul_ok)
{
	FUZZ_ASSERT(s != NULL);
	FUZZ_ASSERT(s[n] == '\0');
	if (!nul_ok)
		FUZZ_ASSERT(memchr(s, 0, n) == NULL);
}

/* Re-encodes a decoded value into b. */
static int encode_back(uint8_t type, peer_buf *b, const void *v)
{
	switch (type) {
	case PEER_F_HELLO:
		return peer_encode_hello(b, v);
	case PEER_F_MSG:
		return peer_encode_msg(b, v);
	case PEER_F_JOIN_REQ:
		return peer_encode_join_req(b, v);
	case PEER_F_JOIN_RESP:
		return peer_encode_join_resp(b, v);
	case PEER_F_FWD_REQ:
		return peer_encode_fwd_req(b, v);
	default:
		return peer_encode_fwd_resp(b, v);
	}
}

/* Decodes p[0..n) as `type` with a fresh scratch; on success checks the
 * value and re-encodes it into b.  Returns the decoder's rc. */
static int decode_check(uint8_t type, const uint8_t *p, size_t n, peer_buf *b)
{
	peer_scratch s;
	peer_scratch_init(&s);
	union {
		peer_hello h;
		hp_msg m;
		peer_join_req jq;
		peer_join_resp jr;
		peer_fwd_req fq;
		peer_fwd_resp fr;
	} v;
	int rc;
	switch (type) {
	case PEER_F_HELLO:
		rc = peer_decode_hello(p, n, &v.h);
		if (rc == 0) {
			check_text(v.h.peer_addr, v.h.peer_addr_len, 0);
			check_text(v.h.client_addr, v.h.client_addr_len, 0);
			FUZZ_ASSERT(v.h.peer_addr_len <= PEER_ADDR_MAX);
		}
		break;
	case PEER_F_MSG:
		rc = peer_decode_msg(p, n, &s, &v.m);
		if (rc == 0) {
			FUZZ_ASSERT(v.m.entry_count <= PEER_MAX_ENTRIES);
			for (uint32_t i = 0; i < v.m.entry_count; i++) {
				const hp_entry *e = &v.m.entries[i];
				FUZZ_ASSERT(e->size_bytes <= HP_MAX_ENTRY_BYTES);
				FUZZ_ASSERT((e->data == NULL) == (e->size_bytes == 0));
				FUZZ_ASSERT(e->size_bytes <= n);
			}
			FUZZ_ASSERT(v.m.snap.conf.voter_count <= HP_MAX_VOTERS);
			FUZZ_ASSERT(v.m.snap.conf.learner_count <= HP_MAX_MEMBERS);
		}
		break;
	case PEER_F_JOIN_REQ:
		rc = peer_decode_join_req(p, n, &v.jq);
		if (rc == 0) {
			check_text(v.jq.peer_addr, v.jq.peer_addr_len, 0);
			check_text(v.jq.client_addr, v.jq.client_addr_len, 0);
		}
		break;
	case PEER_F_JOIN_RESP:
		rc = peer_decode_join_resp(p, n, &v.jr);
		if (rc == 0) {
			check_text(v.jr.leader_addr, v.jr.leader_addr_len, 0);
			check_text(v.jr.message, v.jr.message_len, 0);
			FUZZ_ASSERT(v.jr.message_len <= PEER_MESSAGE_MAX);
		}
		break;
	case PEER_F_FWD_REQ:
		rc = peer_decode_fwd_req(p, n, &s, &v.fq);
		if (rc == 0) {
			FUZZ_ASSERT(v.fq.argc >= 1 && v.fq.argc <= PEER_MAX_ARGS);
			for (uint32_t i = 0; i < v.fq.argc; i++)
				check_text(v.fq.argv[i].ptr, v.fq.argv[i].len, 1);
		}
		break;
	default:
		rc = peer_decode_fwd_resp(p, n, &v.fr);
		if (rc == 0)
			FUZZ_ASSERT(v.fr.reply != NULL);
		break;
	}
	/* a claimed count costs nothing: the scratch holds what the bytes
	 * could (an entry takes 21 bytes at least, an argument 5) */
	FUZZ_ASSERT(s.entries_cap * 21 <= n);
	FUZZ_ASSERT(s.args_cap * 5 <= n);
	FUZZ_ASSERT(rc == 0 || rc == RP_ERR_CORRUPT);
	if (rc == 0) {
		peer_buf_reset(b);
		FUZZ_ASSERT(encode_back(type, b, &v) == 0);
	}
	peer_scratch_deinit(&s);
	return rc;
}

static void one_payload(uint8_t type, const uint8_t *p, size_t n)
{
	peer_buf b;
	peer_buf_init(&b);
	if (decode_check(type, p, n, &b) == 0) {
		/* canonical: the same bytes, behind a valid header */
		FUZZ_ASSERT(b.len == PEER_HEADER_BYTES + n);
		FUZZ_ASSERT(memcmp(b.data + PEER_HEADER_BYTES, p, n) == 0);
		uint8_t t;
		const uint8_t *q;
		size_t qn;
		FUZZ_ASSERT(peer_frame_split(b.data, b.len, n, &t, &q, &qn) == 0);
		FUZZ_ASSERT(t == type && qn == n);
		/* self-delimiting: the payload one byte short does not decode */
		if (n > 0) {
			peer_buf tmp;
			peer_buf_init(&tmp);
			FUZZ_ASSERT(decode_check(type, p, n - 1, &tmp) == RP_ERR_CORRUPT);
			peer_buf_deinit(&tmp);
		}
	}
	peer_buf_deinit(&b);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The data as a payload inside a frame with correct CRCs. */
static void wrapped(uint8_t type, const uint8_t *p, size_t n)
{
	uint8_t *f = malloc(PEER_HEADER_BYTES + n + 1);
	FUZZ_ASSERT(f != NULL);
	f[0] = 0x50;
	f[1] = 0x52;
	f[2] = PEER_VERSION;
	f[3] = type;
	put32(f + 4, (uint32_t)n);
	put32(f + 8, crc32c(p, n));
	put32(f + 12, crc32c(f, 12));
	if (n > 0)
		memcpy(f + PEER_HEADER_BYTES, p, n);
	uint8_t t;
	const uint8_t *q;
	size_t qn;
	FUZZ_ASSERT(peer_frame_split(f, PEER_HEADER_BYTES + n, n, &t, &q, &qn) == 0);
	FUZZ_ASSERT(t == type && q == f + PEER_HEADER_BYTES && qn == n);
	/* limits: one byte less allowed is NOSPC; a byte more or less is not
	 * one frame */
	if (n > 0)
		FUZZ_ASSERT(peer_frame_split(f, PEER_HEADER_BYTES + n, n - 1, &t, &q,
					     &qn) == RP_ERR_NOSPC);
	FUZZ_ASSERT(peer_frame_split(f, PEER_HEADER_BYTES + n - 1, n, &t, &q, &qn) ==
		    RP_ERR_CORRUPT);
	f[PEER_HEADER_BYTES + n] = 0;
	FUZZ_ASSERT(peer_frame_split(f, PEER_HEADER_BYTES + n + 1, n, &t, &q, &qn) ==
		    RP_ERR_CORRUPT);
	one_payload(t, q, qn);
	free(f);
}

/* The data as the bytes of a connection: frames back to back. */
static void stream(const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (n - off >= PEER_HEADER_BYTES) {
		uint8_t type;
		uint32_t len, crc;
		int rc = peer_frame_header(p + off, 1 << 16, &type, &len, &crc);
		if (rc != 0) {
			FUZZ_ASSERT(rc == RP_ERR_CORRUPT || rc == RP_ERR_NOSPC);
			return;
		}
		FUZZ_ASSERT(type >= PEER_F_HELLO && type <= PEER_F_MAX);
		off += PEER_HEADER_BYTES;
		if (len > n - off || crc32c(p + off, len) != crc)
			return;
		one_payload(type, p + off, len);
		off += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t sel = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	uint8_t type = (uint8_t)(sel % 6 + 1);
	if (sel & 0x10)
		stream(p, n);
	else if (sel & 0x08)
		wrapped(type, p, n);
	else
		one_payload(type, p, n);
	return 0;
}
