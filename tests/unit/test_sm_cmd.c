/*
 * test_sm_cmd.c — the state machine's byte formats: commands and results
 * round-trip, every malformed input is refused (truncated, trailing bytes,
 * oversized, bad version/op/flags), and random or mutated bytes never
 * crash a decoder nor decode into a length outside the input.  The same
 * for the snapshot archive reader.
 */
#include <stdlib.h>

#include "storage/sm_archive.h"
#include "storage/sm_cmd.h"
#include "test.h"
#include "util/prng.h"

static const sm_cmd_limits lim = {SM_VALUE_MAX_BYTES_DEFAULT};

static sm_value sv(const char *s)
{
	sm_value v = {true, (uint32_t)strlen(s), (const uint8_t *)s};
	return v;
}

static const sm_value nil = {false, 0, NULL};

static bool bytes_eq(const sm_value *a, const sm_value *b)
{
	if (a->present != b->present || a->size != b->size)
		return false;
	return a->size == 0 || memcmp(a->data, b->data, a->size) == 0;
}

/* A value lies inside [lo, hi) of the decoded input. */
static bool inside(const sm_value *v, const uint8_t *lo, const uint8_t *hi)
{
	if (!v->present)
		return v->size == 0;
	if (v->size == 0)
		return true;
	return v->data >= lo && v->data + v->size <= hi;
}

static void encode(const sm_cmd *c, sm_buf *b)
{
	b->size = 0;
	CHECK_EQ(sm_cmd_encode_buf(c, &lim, b), RP_OK);
	CHECK_EQ(b->size, sm_cmd_encoded_size(c, &lim));
}

/* A few valid commands of every op, for round trips and mutations. */
enum { SAMPLE_MAX = 12 };
static sm_value del_keys[3];
static sm_value mset_vals[3];
static int sample_cmds(sm_cmd *out)
{
	int n = 0;
	memset(out, 0, SAMPLE_MAX * sizeof(*out));
	out[n].op = SM_OP_SET, out[n].key = sv("k1"), out[n].value = sv("v1");
	out[n].client = 9, out[n].seq = 4, n++;
	out[n].op = SM_OP_SET, out[n].flags = SM_SET_NX | SM_SET_GET, out[n].key = sv("");
	out[n].value = sv(""), n++;
	out[n].op = SM_OP_GET, out[n].key = sv("some key"), n++;
	del_keys[0] = sv("a"), del_keys[1] = sv(""), del_keys[2] = sv("ccc");
	out[n].op = SM_OP_DEL, out[n].keys = del_keys, out[n].key_count = 3;
	out[n].client = 1, out[n].seq = 1, n++;
	out[n].op = SM_OP_DEL, out[n].flags = SM_DEL_GET, out[n].keys = del_keys;
	out[n].key_count = 2, n++;
	out[n].op = SM_OP_CAS, out[n].key = sv("k1"), out[n].value = sv("v1");
	out[n].value2 = sv("v12"), n++;
	out[n].op = SM_OP_CAS, out[n].key = sv("k1"), out[n].value = nil,
	out[n].value2 = nil, n++;
	out[n].op = SM_OP_INCRBY, out[n].key = sv("n"), out[n].delta = INT64_MIN, n++;
	out[n].op = SM_OP_APPEND, out[n].key = sv("log"), out[n].value = sv("xyz");
	out[n].client = UINT64_MAX, out[n].seq = UINT64_MAX, n++;
	out[n].op = SM_OP_CAS, out[n].flags = SM_CAS_GET, out[n].key = sv("k1");
	out[n].value = sv("v1"), out[n].value2 = sv("v2"), n++;
	mset_vals[0] = sv("1"), mset_vals[1] = sv("two"), mset_vals[2] = sv("");
	out[n].op = SM_OP_MSET, out[n].keys = del_keys, out[n].values = mset_vals;
	out[n].key_count = 3, out[n].client = 4, out[n].seq = 2, n++;
	out[n].op = SM_OP_MSET, out[n].keys = del_keys, out[n].values = mset_vals;
	out[n].key_count = 1, n++;
	CHECK(n <= SAMPLE_MAX);
	return n;
}

TEST(cmd_round_trip_every_op)
{
	sm_cmd cmds[SAMPLE_MAX];
	int n = sample_cmds(cmds);
	sm_buf b;
	sm_buf_init(&b);
	for (int i = 0; i < n; i++) {
		const sm_cmd *c = &cmds[i];
		encode(c, &b);
		sm_cmd d;
		CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
		CHECK_EQ(d.op, c->op);
		CHECK_EQ(d.flags, c->flags);
		CHECK_EQ(d.client, c->client);
		CHECK_EQ(d.seq, c->seq);
		if (c->op == SM_OP_DEL) {
			sm_iter it;
			sm_value k;
			uint32_t j = 0;
			sm_cmd_keys(&d, &it);
			while (sm_iter_next(&it, &k)) {
				CHECK(j < c->key_count);
				CHECK(bytes_eq(&k, &c->keys[j]));
				j++;
			}
			CHECK_EQ(j, c->key_count);
			CHECK(bytes_eq(&d.key, &c->keys[0]));
		} else if (c->op == SM_OP_MSET) {
			sm_iter it;
			sm_value k, v;
			uint32_t j = 0;
			CHECK_EQ(d.key_count, c->key_count);
			sm_cmd_pairs(&d, &it);
			while (sm_iter_next(&it, &k)) {
				CHECK(sm_iter_next(&it, &v));
				CHECK(j < c->key_count);
				CHECK(bytes_eq(&k, &c->keys[j]));
				CHECK(bytes_eq(&v, &c->values[j]));
				j++;
			}
			CHECK_EQ(j, c->key_count);
			CHECK(bytes_eq(&d.key, &c->keys[0]));
			CHECK(bytes_eq(&d.value, &c->values[0]));
			continue;
		} else {
			CHECK(bytes_eq(&d.key, &c->key));
		}
		CHECK(bytes_eq(&d.value, &c->value));
		CHECK(bytes_eq(&d.value2, &c->value2));
		CHECK_EQ(d.delta, c->delta);
	}
	sm_buf_deinit(&b);
}

TEST(cmd_absent_cas_values_stay_distinct_from_empty)
{
	sm_cmd c = {0};
	c.op = SM_OP_CAS;
	c.key = sv("k");
	c.value = nil;
	c.value2 = sv("");
	sm_buf b;
	sm_buf_init(&b);
	encode(&c, &b);
	sm_cmd d;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	CHECK(!d.value.present);
	CHECK(d.value2.present);
	CHECK_EQ(d.value2.size, 0);
	sm_buf_deinit(&b);
}

TEST(cmd_every_truncation_and_any_trailing_byte_is_refused)
{
	sm_cmd cmds[SAMPLE_MAX];
	int n = sample_cmds(cmds);
	sm_buf b;
	sm_buf_init(&b);
	for (int i = 0; i < n; i++) {
		encode(&cmds[i], &b);
		sm_cmd d;
		for (size_t len = 0; len < b.size; len++) {
			/* A fresh copy of exactly len bytes, so ASan sees any overread.
			 */
			uint8_t *p = malloc(len ? len : 1);
			memcpy(p, b.data, len);
			CHECK(sm_cmd_decode(p, len, &lim, &d) != RP_OK);
			free(p);
		}
		CHECK_EQ(sm_buf_append(&b, "x", 1), RP_OK);
		CHECK(sm_cmd_decode(b.data, b.size, &lim, &d) != RP_OK);
	}
	sm_buf_deinit(&b);
}

TEST(cmd_header_rules)
{
	sm_cmd c = {0};
	c.op = SM_OP_SET;
	c.key = sv("k");
	c.value = sv("v");
	sm_buf b;
	sm_buf_init(&b);
	encode(&c, &b);
	sm_cmd d;
	uint8_t save;
	/* version */
	save = b.data[0];
	b.data[0] = 2;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.data[0] = save;
	/* unknown ops */
	b.data[1] = 0;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.data[1] = SM_OP_LAST_ + 1;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.data[1] = SM_OP_SET;
	/* NX together with XX, and an unknown flag */
	b.data[2] = SM_SET_NX | SM_SET_XX;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.data[2] = 1u << 3;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.data[2] = 0;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	/* seq without client, client without seq */
	c.seq = 3;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_ERR_INVALID);
	c.client = 5;
	c.seq = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_ERR_INVALID);
	c.seq = 1;
	encode(&c, &b);
	sm_put_u64(b.data + 12, 0);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	/* SET's value may not be nil; GET's flags must be 0 */
	c.value = nil;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_ERR_INVALID);
	c.op = SM_OP_GET;
	c.flags = SM_SET_GET;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_ERR_INVALID);
	/* CAS takes GET and nothing else; MSET takes no flag */
	c.op = SM_OP_CAS;
	c.value = sv("x");
	c.value2 = sv("y");
	c.flags = SM_CAS_GET;
	encode(&c, &b);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	CHECK_EQ(d.flags, SM_CAS_GET);
	b.data[2] = 2;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	c.flags = 2;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_ERR_INVALID);
	sm_value k1 = sv("k"), v1 = sv("v");
	c.op = SM_OP_MSET;
	c.keys = &k1;
	c.values = &v1;
	c.key_count = 1;
	c.flags = 0;
	encode(&c, &b);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	b.data[2] = 1;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	c.flags = SM_SET_NX;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_ERR_INVALID);
	sm_buf_deinit(&b);
}

TEST(mset_size_limits)
{
	sm_cmd_limits small = {10};
	static sm_value keys[SM_CMD_MAX_KEYS + 1], vals[SM_CMD_MAX_KEYS + 1];
	for (int i = 0; i <= SM_CMD_MAX_KEYS; i++) {
		keys[i] = sv("k");
		vals[i] = sv("0123456789");
	}
	sm_cmd c = {0};
	c.op = SM_OP_MSET;
	c.keys = keys;
	c.values = vals;
	sm_buf b;
	sm_buf_init(&b);
	sm_cmd d;
	/* 0 pairs, 1025 pairs: refused both ways; 1024 fits */
	c.key_count = 0;
	CHECK(sm_cmd_encoded_size(&c, &small) == 0);
	c.key_count = SM_CMD_MAX_KEYS + 1;
	CHECK(sm_cmd_encoded_size(&c, &small) == 0);
	c.key_count = SM_CMD_MAX_KEYS;
	encode(&c, &b);
	CHECK_EQ(b.size, SM_CMD_HEADER_BYTES + 4 + SM_CMD_MAX_KEYS * (4 + 1 + 4 + 10));
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_OK);
	CHECK_EQ(d.key_count, SM_CMD_MAX_KEYS);
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES, SM_CMD_MAX_KEYS + 1);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_ERR_NOSPC);
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES, 0);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_ERR_INVALID);
	/* a count below the pairs present leaves trailing bytes */
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES, SM_CMD_MAX_KEYS - 1);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_ERR_INVALID);
	/* any value above the configured max, even the last one */
	c.key_count = 3;
	vals[2] = sv("0123456789a");
	CHECK(sm_cmd_encoded_size(&c, &small) == 0);
	CHECK(sm_cmd_encoded_size(&c, &lim) > 0);
	b.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_OK);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_ERR_NOSPC);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	vals[2] = sv("v");
	/* a nil value or key, a missing array */
	vals[1] = nil;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	vals[1] = sv("v");
	keys[2] = nil;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	keys[2] = sv("k");
	CHECK(sm_cmd_encoded_size(&c, &lim) > 0);
	c.values = NULL;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	c.values = vals;
	/* a nil length word on the wire, for a key and for a value */
	b.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_OK);
	size_t first_value = SM_CMD_HEADER_BYTES + 4 + 4 + 1;
	sm_put_u32(b.data + first_value, SM_NIL_LENGTH);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_OK);
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES + 4, SM_NIL_LENGTH);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	/* a key above 64 KiB */
	uint8_t *big = calloc(1, SM_KEY_MAX_BYTES + 1);
	keys[1].data = big;
	keys[1].size = SM_KEY_MAX_BYTES + 1;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	keys[1].size = SM_KEY_MAX_BYTES;
	CHECK(sm_cmd_encoded_size(&c, &lim) > 0);
	free(big);
	sm_buf_deinit(&b);
}

TEST(cmd_size_limits)
{
	sm_cmd_limits small = {10};
	uint8_t *big = calloc(1, SM_KEY_MAX_BYTES + 1);
	sm_cmd c = {0};
	c.op = SM_OP_SET;
	c.key.present = true;
	c.key.data = big;
	c.key.size = SM_KEY_MAX_BYTES;
	c.value = sv("0123456789");
	sm_buf b;
	sm_buf_init(&b);
	CHECK_EQ(sm_cmd_encode_buf(&c, &small, &b), RP_OK);
	sm_cmd d;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_OK);
	CHECK_EQ(d.key.size, SM_KEY_MAX_BYTES);
	/* one byte more key: refused both ways */
	c.key.size = SM_KEY_MAX_BYTES + 1;
	CHECK(sm_cmd_encoded_size(&c, &small) == 0);
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES, SM_KEY_MAX_BYTES + 1);
	CHECK(sm_cmd_decode(b.data, b.size, &small, &d) != RP_OK);
	/* value above the configured max */
	c.key = sv("k");
	c.value = sv("0123456789a");
	CHECK(sm_cmd_encoded_size(&c, &small) == 0);
	b.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_OK);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &small, &d), RP_ERR_NOSPC);
	/* a length word claiming more than is there */
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES + 5, 1000);
	CHECK(sm_cmd_decode(b.data, b.size, &lim, &d) != RP_OK);
	/* DEL: 0 keys, 1025 keys */
	sm_value keys[SM_CMD_MAX_KEYS + 1];
	for (int i = 0; i <= SM_CMD_MAX_KEYS; i++)
		keys[i] = sv("k");
	c.op = SM_OP_DEL;
	c.keys = keys;
	c.key_count = 0;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	c.key_count = SM_CMD_MAX_KEYS + 1;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	c.key_count = SM_CMD_MAX_KEYS;
	b.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_OK);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	CHECK_EQ(d.key_count, SM_CMD_MAX_KEYS);
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES, SM_CMD_MAX_KEYS + 1);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_NOSPC);
	sm_put_u32(b.data + SM_CMD_HEADER_BYTES, 0);
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	/* DEL with GET: at most SM_DEL_GET_MAX_KEYS keys */
	c.flags = SM_DEL_GET;
	c.key_count = SM_DEL_GET_MAX_KEYS + 1;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	c.key_count = SM_DEL_GET_MAX_KEYS + 1;
	c.flags = 0;
	b.size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), RP_OK);
	b.data[2] = SM_DEL_GET;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_NOSPC);
	b.data[2] = 2; /* unknown DEL flag */
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_ERR_INVALID);
	b.data[2] = 0;
	CHECK_EQ(sm_cmd_decode(b.data, b.size, &lim, &d), RP_OK);
	/* a nil key inside a DEL */
	keys[1] = nil;
	c.key_count = 2;
	CHECK(sm_cmd_encoded_size(&c, &lim) == 0);
	/* encode into a buffer that is too small */
	uint8_t tiny[8];
	size_t got = 0;
	c.key_count = 1;
	CHECK_EQ(sm_cmd_encode(&c, &lim, tiny, sizeof(tiny), &got), RP_ERR_NOSPC);
	sm_buf_deinit(&b);
	free(big);
}

/* Checks a successful decode: every length inside the input, every limit
 * kept, and re-encoding gives the same bytes (one encoding per command). */
static void check_decoded(const uint8_t *p, size_t n, const sm_cmd *d, sm_buf *re)
{
	const uint8_t *hi = p + n;
	CHECK(d->op >= SM_OP_SET && d->op <= SM_OP_LAST_);
	CHECK(inside(&d->key, p, hi));
	CHECK(inside(&d->value, p, hi));
	CHECK(inside(&d->value2, p, hi));
	CHECK(!d->key.present || d->key.size <= SM_KEY_MAX_BYTES);
	CHECK(d->value.size <= lim.max_value_bytes);
	CHECK(d->value2.size <= lim.max_value_bytes);
	sm_cmd e = *d;
	static sm_value keys[SM_CMD_MAX_KEYS], vals[SM_CMD_MAX_KEYS];
	if (d->op == SM_OP_MSET) {
		CHECK(d->key_count >= 1 && d->key_count <= SM_CMD_MAX_KEYS);
		sm_iter it;
		uint32_t j = 0;
		sm_cmd_pairs(d, &it);
		while (sm_iter_next(&it, &keys[j])) {
			CHECK(sm_iter_next(&it, &vals[j]));
			CHECK(inside(&keys[j], p, hi));
			CHECK(inside(&vals[j], p, hi));
			CHECK(keys[j].present && keys[j].size <= SM_KEY_MAX_BYTES);
			CHECK(vals[j].present && vals[j].size <= lim.max_value_bytes);
			j++;
		}
		CHECK_EQ(j, d->key_count);
		e.keys = keys;
		e.values = vals;
		e.key = nil;
		e.value = nil;
	}
	if (d->op == SM_OP_DEL) {
		CHECK(d->key_count >= 1 && d->key_count <= SM_CMD_MAX_KEYS);
		sm_iter it;
		uint32_t j = 0;
		sm_cmd_keys(d, &it);
		while (sm_iter_next(&it, &keys[j])) {
			CHECK(inside(&keys[j], p, hi));
			CHECK(keys[j].present && keys[j].size <= SM_KEY_MAX_BYTES);
			j++;
		}
		CHECK_EQ(j, d->key_count);
		e.keys = keys;
		e.key = nil;
	}
	re->size = 0;
	CHECK_EQ(sm_cmd_encode_buf(&e, &lim, re), RP_OK);
	CHECK_EQ(re->size, n);
	CHECK(memcmp(re->data, p, n) == 0);
}

TEST(cmd_random_bytes_never_crash_nor_escape)
{
	rp_prng r;
	rp_prng_init(&r, 11);
	sm_buf re;
	sm_buf_init(&re);
	int ok = 0;
	for (int i = 0; i < 10000; i++) {
		size_t n = (size_t)rp_prng_below(&r, 96);
		uint8_t *p = malloc(n ? n : 1);
		for (size_t j = 0; j < n; j++)
			p[j] = (uint8_t)rp_prng_next(&r);
		/* Make a valid header likely, so the bodies get exercised. */
		if (n > 2 && rp_prng_below(&r, 2) == 0) {
			p[0] = SM_CMD_VERSION;
			p[1] = (uint8_t)rp_prng_range(&r, 1, SM_OP_LAST_);
		}
		sm_cmd d;
		if (sm_cmd_decode(p, n, &lim, &d) == RP_OK) {
			check_decoded(p, n, &d, &re);
			ok++;
		}
		free(p);
	}
	sm_buf_deinit(&re);
	/* Random bytes almost never form a command; decoding never crashed. */
	CHECK(ok < 1000);
}

TEST(cmd_mutated_encodings_never_crash_nor_escape)
{
	rp_prng r;
	rp_prng_init(&r, 12);
	sm_cmd cmds[SAMPLE_MAX];
	int count = sample_cmds(cmds);
	sm_buf b, re;
	sm_buf_init(&b);
	sm_buf_init(&re);
	int ok = 0, refused = 0;
	for (int i = 0; i < 10000; i++) {
		encode(&cmds[rp_prng_below(&r, (uint64_t)count)], &b);
		size_t n = b.size;
		int edits = (int)rp_prng_range(&r, 1, 4);
		for (int e = 0; e < edits; e++) {
			uint64_t what = rp_prng_below(&r, 4);
			if (what == 0 && n > 0) /* flip a byte */
				b.data[rp_prng_below(&r, n)] ^=
				    (uint8_t)rp_prng_range(&r, 1, 255);
			else if (what == 1 && n > 0) /* truncate */
				n = (size_t)rp_prng_below(&r, n);
			else if (what == 2) { /* poke a length word */
				if (n >= 4) {
					size_t at = (size_t)rp_prng_below(&r, n - 3);
					sm_put_u32(b.data + at,
						   (uint32_t)rp_prng_next(&r));
				}
			} else { /* extend */
				CHECK_EQ(sm_buf_append(&b, "zz", 2), RP_OK);
				n = b.size;
			}
		}
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, b.data, n);
		sm_cmd d;
		if (sm_cmd_decode(p, n, &lim, &d) == RP_OK) {
			check_decoded(p, n, &d, &re);
			ok++;
		} else {
			refused++;
		}
		free(p);
	}
	sm_buf_deinit(&b);
	sm_buf_deinit(&re);
	CHECK(ok > 0);
	CHECK(refused > 5000);
}

TEST(result_round_trip_and_strictness)
{
	sm_result r, d;
	sm_result_init(&r);
	sm_result_init(&d);
	CHECK_EQ(sm_result_begin(&r, SM_OP_DEL), RP_OK);
	sm_value a = sv("old"), e = sv("");
	CHECK_EQ(sm_result_push(&r, &a), RP_OK);
	CHECK_EQ(sm_result_push(&r, &nil), RP_OK);
	CHECK_EQ(sm_result_push(&r, &e), RP_OK);
	sm_result_finish(&r, SM_ST_OK, true, 2);
	CHECK_EQ(sm_result_decode(&d, r.enc.data, r.enc.size), RP_OK);
	CHECK_EQ(d.op, SM_OP_DEL);
	CHECK_EQ(d.status, SM_ST_OK);
	CHECK(d.success);
	CHECK_EQ(d.integer, 2);
	CHECK_EQ(d.value_count, 3);
	sm_value v;
	CHECK(sm_result_value(&d, 0, &v) && bytes_eq(&v, &a));
	CHECK(sm_result_value(&d, 1, &v) && !v.present);
	CHECK(sm_result_value(&d, 2, &v) && v.present && v.size == 0);
	CHECK(!sm_result_value(&d, 3, &v));
	/* every truncation and a trailing byte are refused */
	for (size_t len = 0; len < r.enc.size; len++) {
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, r.enc.data, len);
		CHECK(sm_result_decode(&d, p, len) != RP_OK);
		CHECK_EQ(d.value_count, 0);
		free(p);
	}
	CHECK_EQ(sm_buf_append(&r.enc, "x", 1), RP_OK);
	CHECK(sm_result_decode(&d, r.enc.data, r.enc.size) != RP_OK);
	/* bad status, bad flag byte, too many values */
	r.enc.size--;
	r.enc.data[2] = SM_ST_COUNT_;
	CHECK(sm_result_decode(&d, r.enc.data, r.enc.size) != RP_OK);
	r.enc.data[2] = SM_ST_OK;
	r.enc.data[3] = 2;
	CHECK(sm_result_decode(&d, r.enc.data, r.enc.size) != RP_OK);
	r.enc.data[3] = 1;
	/* every op up to MSET, nothing above */
	r.enc.data[1] = SM_OP_MSET;
	CHECK_EQ(sm_result_decode(&d, r.enc.data, r.enc.size), RP_OK);
	CHECK_EQ(d.op, SM_OP_MSET);
	r.enc.data[1] = SM_OP_LAST_ + 1;
	CHECK(sm_result_decode(&d, r.enc.data, r.enc.size) != RP_OK);
	r.enc.data[1] = SM_OP_DEL;
	sm_put_u32(r.enc.data + 12, SM_RESULT_MAX_VALUES + 1);
	CHECK(sm_result_decode(&d, r.enc.data, r.enc.size) != RP_OK);
	sm_result_deinit(&r);
	sm_result_deinit(&d);
}

TEST(result_random_bytes_never_crash_nor_escape)
{
	rp_prng r;
	rp_prng_init(&r, 13);
	sm_result d;
	sm_result_init(&d);
	int ok = 0;
	for (int i = 0; i < 10000; i++) {
		/* Half pure noise, half a plausible header and value list with
		 * random lengths, then a random cut. */
		uint8_t *p = malloc(128);
		size_t n = 0;
		if (i % 2 == 0) {
			n = (size_t)rp_prng_below(&r, 128);
			for (size_t j = 0; j < n; j++)
				p[j] = (uint8_t)rp_prng_next(&r);
		} else {
			p[0] = SM_RESULT_VERSION;
			p[1] = (uint8_t)rp_prng_below(&r, SM_OP_LAST_ + 2);
			p[2] = (uint8_t)rp_prng_below(&r, SM_ST_COUNT_ + 1);
			p[3] = (uint8_t)rp_prng_below(&r, 3);
			sm_put_u64(p + 4, rp_prng_next(&r));
			uint32_t count = (uint32_t)rp_prng_below(&r, 4);
			sm_put_u32(p + 12, count);
			n = SM_RESULT_HEADER_BYTES;
			for (uint32_t k = 0; k < count && n + 4 + 8 <= 128; k++) {
				uint32_t len = (uint32_t)rp_prng_below(&r, 10);
				if (rp_prng_below(&r, 4) == 0)
					len = SM_NIL_LENGTH;
				else if (rp_prng_below(&r, 8) == 0)
					len = (uint32_t)rp_prng_next(&r);
				sm_put_u32(p + n, len);
				n += 4;
				if (len <= 8) {
					memset(p + n, 'v', len);
					n += len;
				}
			}
			if (rp_prng_below(&r, 3) == 0)
				n = (size_t)rp_prng_below(&r, n + 1);
		}
		if (sm_result_decode(&d, p, n) == RP_OK) {
			ok++;
			sm_iter it;
			sm_value v;
			uint32_t k = 0;
			sm_result_values(&d, &it);
			while (sm_iter_next(&it, &v)) {
				CHECK(inside(&v, d.enc.data, d.enc.data + d.enc.size));
				k++;
			}
			CHECK_EQ(k, d.value_count);
		}
		free(p);
	}
	sm_result_deinit(&d);
	CHECK(ok > 100);
	CHECK(ok < 9000);
}

TEST(parse_and_format_integers)
{
	int64_t v;
	CHECK(sm_parse_i64((const uint8_t *)"0", 1, &v) && v == 0);
	CHECK(sm_parse_i64((const uint8_t *)"-17", 3, &v) && v == -17);
	CHECK(sm_parse_i64((const uint8_t *)"9223372036854775807", 19, &v) &&
	      v == INT64_MAX);
	CHECK(sm_parse_i64((const uint8_t *)"-9223372036854775808", 20, &v) &&
	      v == INT64_MIN);
	CHECK(!sm_parse_i64((const uint8_t *)"9223372036854775808", 19, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"-9223372036854775809", 20, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"", 0, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"-", 1, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"-0", 2, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"01", 2, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"+1", 2, &v));
	CHECK(!sm_parse_i64((const uint8_t *)" 1", 2, &v));
	CHECK(!sm_parse_i64((const uint8_t *)"1a", 2, &v));
	uint8_t out[20];
	int64_t cases[] = {0, 1, -1, 42, INT64_MAX, INT64_MIN, -1000000};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = sm_format_i64(cases[i], out);
		CHECK(sm_parse_i64(out, n, &v));
		CHECK(v == cases[i]);
	}
}

/* --- archive ------------------------------------------------------------------ */

typedef struct {
	uint8_t files[3][64];
	uint64_t sizes[3];
} mem_files;

static int mf_read(void *ctx, uint32_t index, uint64_t offset, uint8_t *buf, size_t size)
{
	mem_files *m = ctx;
	if (index >= 3 || offset + size > m->sizes[index])
		return RP_ERR_INVALID;
	memcpy(buf, m->files[index] + offset, size);
	return RP_OK;
}

typedef struct {
	int begun, ended;
	uint64_t bytes;
	uint64_t announced;
	char last_name[SM_ARCHIVE_NAME_MAX + 1];
	uint8_t got[3][64];
} sink_state;

static int s_begin(void *ctx, const char *name, uint64_t size)
{
	sink_state *s = ctx;
	CHECK(strlen(name) <= SM_ARCHIVE_NAME_MAX);
	CHECK(s->begun == s->ended);
	strcpy(s->last_name, name);
	s->begun++;
	s->announced += size;
	return RP_OK;
}

static int s_data(void *ctx, const uint8_t *data, size_t size)
{
	sink_state *s = ctx;
	CHECK(s->begun == s->ended + 1);
	if (s->begun <= 3 && s->bytes + size <= sizeof(s->got))
		memcpy((uint8_t *)s->got + s->bytes, data, size);
	s->bytes += size;
	CHECK(s->bytes <= s->announced);
	return RP_OK;
}

static int s_end(void *ctx, uint32_t crc)
{
	(void)crc;
	sink_state *s = ctx;
	s->ended++;
	CHECK(s->bytes == s->announced);
	return RP_OK;
}

static const sm_archive_sink test_sink = {s_begin, s_data, s_end};

/* Builds a 3-file archive stream into out. */
static void build_archive(mem_files *mf, sm_buf *out)
{
	static const char *names[3] = {"CURRENT", "000007.sst", "MANIFEST-000005"};
	uint64_t sizes[3] = {16, 0, 64};
	sm_archive_header h;
	memset(&h, 0, sizeof(h));
	h.kind = SM_ARCHIVE_KIND_ROCKS;
	h.group = 3;
	h.index = 77;
	h.term = 5;
	h.conf.voter_count = 3;
	h.conf.voters[0] = 1, h.conf.voters[1] = 2, h.conf.voters[2] = 3;
	h.file_count = 3;
	sm_archive_layout l;
	CHECK_EQ(sm_archive_layout_init(&l, &h), RP_OK);
	for (uint32_t i = 0; i < 3; i++) {
		mf->sizes[i] = sizes[i];
		for (uint64_t j = 0; j < sizes[i]; j++)
			mf->files[i][j] = (uint8_t)(i * 31 + j);
		uint32_t crc;
		CHECK_EQ(sm_archive_record_crc(names[i], sizes[i], i, mf_read, mf, &crc),
			 RP_OK);
		CHECK_EQ(sm_archive_layout_add(&l, i, names[i], sizes[i], crc), RP_OK);
	}
	/* read it back in odd-sized chunks */
	out->size = 0;
	uint64_t off = 0;
	bool last = false;
	size_t step = 1;
	while (!last) {
		uint8_t buf[40];
		size_t got = 0;
		CHECK_EQ(
		    sm_archive_layout_read(&l, off, buf, step, &got, &last, mf_read, mf),
		    RP_OK);
		CHECK(got > 0 || last);
		CHECK_EQ(sm_buf_append(out, buf, got), RP_OK);
		off += got;
		step = step % 37 + 3;
	}
	CHECK_EQ(out->size, l.total_size);
	size_t got;
	uint8_t buf[4];
	CHECK(sm_archive_layout_read(&l, l.total_size + 1, buf, 4, &got, &last, mf_read,
				     mf) != RP_OK);
	sm_archive_layout_deinit(&l);
}

TEST(archive_round_trip_in_any_chunking)
{
	mem_files mf;
	sm_buf a;
	sm_buf_init(&a);
	build_archive(&mf, &a);
	for (size_t chunk = 1; chunk <= a.size; chunk = chunk * 2 + 1) {
		sink_state s;
		memset(&s, 0, sizeof(s));
		sm_archive_reader r;
		sm_archive_reader_init(&r, 1 << 20, &test_sink, &s);
		for (size_t off = 0; off < a.size; off += chunk) {
			size_t n = a.size - off < chunk ? a.size - off : chunk;
			CHECK_EQ(sm_archive_reader_feed(&r, a.data + off, n), RP_OK);
			CHECK(!sm_archive_reader_done(&r) || off + n == a.size);
		}
		CHECK(sm_archive_reader_done(&r));
		CHECK_EQ(r.header.index, 77);
		CHECK_EQ(r.header.term, 5);
		CHECK_EQ(r.header.group, 3);
		CHECK_EQ(r.header.conf.voter_count, 3);
		CHECK_EQ(s.begun, 3);
		CHECK_EQ(s.ended, 3);
		CHECK_EQ(s.bytes, 80);
		CHECK(memcmp(s.got, mf.files[0], 16) == 0);
		CHECK(memcmp((uint8_t *)s.got + 16, mf.files[2], 64) == 0);
		/* one byte more is refused */
		CHECK(sm_archive_reader_feed(&r, (const uint8_t *)"x", 1) != RP_OK);
	}
	sm_buf_deinit(&a);
}

TEST(archive_any_flipped_byte_is_caught)
{
	mem_files mf;
	sm_buf a;
	sm_buf_init(&a);
	build_archive(&mf, &a);
	for (size_t i = 0; i < a.size; i++) {
		a.data[i] ^= 0x40;
		sink_state s;
		memset(&s, 0, sizeof(s));
		sm_archive_reader r;
		sm_archive_reader_init(&r, 1 << 20, &test_sink, &s);
		int rc = sm_archive_reader_feed(&r, a.data, a.size);
		CHECK(rc != RP_OK || !sm_archive_reader_done(&r));
		a.data[i] ^= 0x40;
	}
	/* and a stream above the limit is refused */
	sink_state s;
	memset(&s, 0, sizeof(s));
	sm_archive_reader r;
	sm_archive_reader_init(&r, a.size - 1, &test_sink, &s);
	CHECK_EQ(sm_archive_reader_feed(&r, a.data, a.size), RP_ERR_NOSPC);
	sm_buf_deinit(&a);
}

TEST(archive_random_and_mutated_streams_never_crash)
{
	mem_files mf;
	sm_buf a;
	sm_buf_init(&a);
	build_archive(&mf, &a);
	rp_prng p;
	rp_prng_init(&p, 14);
	int done = 0;
	for (int i = 0; i < 10000; i++) {
		uint8_t *x = malloc(a.size + 64);
		size_t n = a.size;
		memcpy(x, a.data, n);
		if (i % 2 == 0) {
			for (size_t j = 0; j < n; j++)
				x[j] = (uint8_t)rp_prng_next(&p);
			if (n >= 8)
				memcpy(x, "RASPSNAP", 8);
		} else {
			int edits = (int)rp_prng_range(&p, 1, 3);
			for (int e = 0; e < edits; e++) {
				size_t at = (size_t)rp_prng_below(&p, n);
				if (rp_prng_below(&p, 2) && at + 8 <= n)
					sm_put_u64(x + at, rp_prng_next(&p));
				else
					x[at] = (uint8_t)rp_prng_next(&p);
			}
			n = (size_t)rp_prng_range(&p, n / 2, n);
		}
		sink_state s;
		memset(&s, 0, sizeof(s));
		sm_archive_reader r;
		sm_archive_reader_init(&r, 4096, &test_sink, &s);
		size_t off = 0;
		while (off < n) {
			size_t c = (size_t)rp_prng_range(&p, 1, 50);
			if (c > n - off)
				c = n - off;
			if (sm_archive_reader_feed(&r, x + off, c) != RP_OK)
				break;
			off += c;
		}
		CHECK(s.bytes <= s.announced);
		CHECK(s.announced <= 4096);
		done += sm_archive_reader_done(&r);
		free(x);
	}
	sm_buf_deinit(&a);
	CHECK(done < 10000);
}

TEST(archive_names)
{
	CHECK(sm_archive_name_ok("000123.sst", 10));
	CHECK(sm_archive_name_ok("MANIFEST-000005", 15));
	CHECK(!sm_archive_name_ok("", 0));
	CHECK(!sm_archive_name_ok(".", 1));
	CHECK(!sm_archive_name_ok("..", 2));
	CHECK(!sm_archive_name_ok("a/b", 3));
	CHECK(!sm_archive_name_ok(".hidden", 7));
	char longname[SM_ARCHIVE_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname));
	CHECK(sm_archive_name_ok(longname, SM_ARCHIVE_NAME_MAX));
	CHECK(!sm_archive_name_ok(longname, SM_ARCHIVE_NAME_MAX + 1));
}

TEST_MAIN()
