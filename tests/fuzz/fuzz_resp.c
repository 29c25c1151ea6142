/*
 * fuzz_resp.c — libFuzzer target for the RESP codec.  Input layout:
 * byte 0 picks the limits (tiny ones so every bound is reached, or roomy
 * ones), byte 1 seeds the chunk sizes, the rest is the stream.  Oracles,
 * beyond the sanitizers and the codec's own assertions:
 *   - the request parser yields the same commands and the same final error
 *     whether the stream comes whole or in random chunks;
 *   - every command it yields, re-encoded with resp_add_command, parses
 *     back to the same argv;
 *   - the reply reader yields the same trees and error whole or chunked;
 *   - memory held by either parser stays within a small multiple of the
 *     bytes fed plus a constant (claimed lengths reserve nothing).
 * Build (from the repository root; -lisal because src/util/crc32c.c needs
 * it, though this target never calls it):
 *   clang -fsanitize=fuzzer,address,undefined -Isrc tests/fuzz/fuzz_resp.c \
 *         src/net/resp[_a-z]*.c src/util/[a-z]*.c -lisal
 * Run: ./fuzz_resp -max_total_time=60 corpus/ tests/fuzz/corpus_resp/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c)                                                                   \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "fuzz_resp: %s failed (line %d)\n", #c,          \
				__LINE__);                                               \
			abort();                                                         \
		}                                                                        \
	} while (0)

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
	return fnv(h, &v, sizeof(v));
}

struct chunker {
	uint32_t state;
	int mode;
};

static size_t next_chunk(struct chunker *c, size_t left)
{
	c->state ^= c->state << 13;
	c->state ^= c->state >> 17;
	c->state ^= c->state << 5;
	size_t k;
	switch (c->mode) {
	case 0:
		k = 1;
		break;
	case 1:
		k = 1 + c->state % 8;
		break;
	default:
		k = 1 + c->state % 64;
		break;
	}
	return k < left ? k : left;
}

static void pick_limits(uint8_t b, struct resp_limits *l)
{
	resp_limits_default(l);
	if (b & 1) {
		l->count_max = 1 + (b >> 1 & 7);
		l->bulk_bytes_max = 1 + (size_t)(b >> 4) * 4;
		l->inline_bytes_max = 1 + (size_t)(b >> 3 & 15) * 3;
		l->total_bytes_max = 16 + (size_t)(b >> 2) * 8;
		l->depth_max = 1 + (b >> 5);
	} else {
		l->bulk_bytes_max = 1 << 20;
		l->total_bytes_max = 4 << 20;
	}
}

/* Checks that cmd survives encode → parse unchanged. */
static void round_trip(const struct resp_cmd *cmd)
{
	struct resp_out o;
	resp_out_init(&o, 1 << 24);
	FUZZ_ASSERT(resp_add_command(&o, cmd->argc, cmd->argv) == 0);
	struct resp_req p;
	resp_req_init(&p, NULL);
	size_t used;
	struct resp_cmd back;
	FUZZ_ASSERT(resp_req_parse(&p, o.data, o.len, &used, &back) == 1);
	FUZZ_ASSERT(used == o.len);
	FUZZ_ASSERT(back.argc == cmd->argc);
	for (size_t i = 0; i < back.argc; i++) {
		FUZZ_ASSERT(back.argv[i].len == cmd->argv[i].len);
		FUZZ_ASSERT(
		    memcmp(back.argv[i].ptr, cmd->argv[i].ptr, back.argv[i].len) == 0);
	}
	resp_req_deinit(&p);
	resp_out_deinit(&o);
}

static uint64_t requests(const struct resp_limits *l, const uint8_t *in, size_t n,
			 struct chunker *ch, bool check_round_trip)
{
	struct resp_req p;
	resp_req_init(&p, l);
	uint64_t h = 14695981039346656037ull;
	size_t off = 0;
	int rc = 0;
	while (off < n && rc >= 0) {
		size_t k = ch ? next_chunk(ch, n - off) : n - off;
		const char *buf = (const char *)in + off;
		size_t pos = 0;
		for (;;) {
			size_t used;
			struct resp_cmd cmd;
			rc = resp_req_parse(&p, buf + pos, k - pos, &used, &cmd);
			if (rc < 0) {
				FUZZ_ASSERT(used == 0);
				FUZZ_ASSERT(strncmp(resp_req_errmsg(&p),
						    "Protocol error: ", 16) == 0);
				break;
			}
			pos += used;
			FUZZ_ASSERT(pos <= k);
			if (rc == 0) {
				FUZZ_ASSERT(pos == k);
				break;
			}
			FUZZ_ASSERT(cmd.argc >= 1);
			h = fnv_u64(h, cmd.argc);
			for (size_t i = 0; i < cmd.argc; i++) {
				FUZZ_ASSERT(cmd.argv[i].ptr[cmd.argv[i].len] == '\0');
				h = fnv_u64(h, cmd.argv[i].len);
				h = fnv(h, cmd.argv[i].ptr, cmd.argv[i].len);
			}
			if (check_round_trip)
				round_trip(&cmd);
		}
		off += k;
		/* Bytes at most double what arrived; an argument costs at
		 * least 2 bytes on the wire ("a ") and its argv entry, with
		 * doubling, 2 * sizeof(struct resp_arg). */
		FUZZ_ASSERT(resp_req_memory_bytes(&p) <=
			    (2 + sizeof(struct resp_arg)) * off + 4096);
	}
	resp_req_deinit(&p);
	return fnv_u64(h, (uint64_t)(int64_t)rc);
}

static uint64_t tree_hash(uint64_t h, const struct resp_value *v)
{
	h = fnv_u64(h, (uint64_t)v->type);
	h = fnv_u64(h, (uint64_t)v->integer);
	h = fnv(h, &v->dbl, sizeof(v->dbl));
	h = fnv_u64(h, v->len);
	if (v->str != NULL) {
		FUZZ_ASSERT(v->str[v->len] == '\0');
		h = fnv(h, v->str, v->len);
	}
	h = fnv(h, v->format, sizeof(v->format));
	h = fnv_u64(h, v->count);
	for (size_t i = 0; i < v->count; i++)
		h = tree_hash(h, &v->elems[i]);
	return h;
}

static uint64_t replies(const struct resp_limits *l, const uint8_t *in, size_t n,
			struct chunker *ch)
{
	struct resp_reader r;
	resp_reader_init(&r, l);
	uint64_t h = 14695981039346656037ull;
	size_t off = 0;
	int rc = 0;
	while (off < n && rc >= 0) {
		size_t k = ch ? next_chunk(ch, n - off) : n - off;
		const char *buf = (const char *)in + off;
		size_t pos = 0;
		for (;;) {
			size_t used;
			struct resp_value *v;
			rc = resp_reader_feed(&r, buf + pos, k - pos, &used, &v);
			if (rc < 0) {
				FUZZ_ASSERT(v == NULL);
				FUZZ_ASSERT(resp_reader_memory_bytes(&r) == 0);
				break;
			}
			pos += used;
			if (rc == 0) {
				FUZZ_ASSERT(v == NULL && pos == k);
				break;
			}
			h = tree_hash(h, v);
			resp_value_free(v);
		}
		off += k;
		/* Elements cost sizeof(resp_value) but at least 3 bytes each
		 * on the wire; strings cost what arrived. */
		FUZZ_ASSERT(resp_reader_memory_bytes(&r) <=
			    2 * off * (sizeof(struct resp_value) / 3 + 1) + 4096);
	}
	resp_reader_deinit(&r);
	return fnv_u64(h, (uint64_t)(int64_t)rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct resp_limits l;
	pick_limits(data[0], &l);
	struct chunker ch = {.state = 0x9e3779b9u ^ data[1], .mode = data[1] % 3};
	const uint8_t *in = data + 2;
	size_t n = size - 2;

	uint64_t whole = requests(&l, in, n, NULL, true);
	struct chunker c1 = ch;
	FUZZ_ASSERT(requests(&l, in, n, &c1, false) == whole);

	whole = replies(&l, in, n, NULL);
	struct chunker c2 = ch;
	FUZZ_ASSERT(replies(&l, in, n, &c2) == whole);
	return 0;
}
