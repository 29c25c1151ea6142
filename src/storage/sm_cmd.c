/*
 * sm_cmd.c — encoding and strict decoding of state-machine commands and
 * results (formats in sm_cmd.h and docs/storage.md), the sm error
 * strings and the small byte helpers the sm_* files share.
 *
 * Every decoder works through a bounded reader (struct rd) whose only way
 * to move is rd_take, which refuses to pass the end: a length is compared
 * with what is left before it is used, so no input makes a decoder read
 * outside its buffer.
 */
#include "storage/sm_cmd.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"

const char *sm_op_name(int op)
{
	switch (op) {
	case SM_OP_NONE:
		return "NONE";
	case SM_OP_SET:
		return "SET";
	case SM_OP_GET:
		return "GET";
	case SM_OP_DEL:
		return "DEL";
	case SM_OP_CAS:
		return "CAS";
	case SM_OP_INCRBY:
		return "INCRBY";
	case SM_OP_APPEND:
		return "APPEND";
	case SM_OP_MSET:
		return "MSET";
	default:
		return "?";
	}
}

const char *sm_status_name(int status)
{
	switch (status) {
	case SM_ST_OK:
		return "ok";
	case SM_ST_BAD_CMD:
		return "malformed command";
	case SM_ST_NOT_INTEGER:
		return "value is not an integer or out of range";
	case SM_ST_OVERFLOW:
		return "increment or decrement would overflow";
	case SM_ST_TOO_LARGE:
		return "value would exceed the size limit";
	case SM_ST_STALE_SEQ:
		return "request sequence number already superseded";
	case SM_ST_SESSION_EXPIRED:
		return "client session expired";
	default:
		return "?";
	}
}

/* --- bytes -------------------------------------------------------------- */

void sm_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void sm_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void sm_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void sm_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[7 - i] = (uint8_t)(v >> (8 * i));
}

uint16_t sm_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t sm_get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t sm_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t sm_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

bool sm_parse_i64(const uint8_t *data, size_t size, int64_t *out)
{
	if (size == 0 || size > 20)
		return false;
	size_t i = 0;
	bool neg = false;
	if (data[0] == '-') {
		neg = true;
		i = 1;
		if (size == 1)
			return false;
	}
	if (data[i] == '0' && (size - i > 1 || neg))
		return false; /* leading zero, or "-0" */
	/* Accumulate as a negative number: its range is one larger. */
	int64_t acc = 0;
	for (; i < size; i++) {
		if (data[i] < '0' || data[i] > '9')
			return false;
		int64_t d = data[i] - '0';
		if (acc < (INT64_MIN + d) / 10)
			return false;
		acc = acc * 10 - d;
	}
	if (!neg) {
		if (acc == INT64_MIN)
			return false;
		acc = -acc;
	}
	*out = acc;
	return true;
}

size_t sm_format_i64(int64_t v, uint8_t out[20])
{
	uint8_t tmp[20];
	size_t n = 0;
	/* Work with the magnitude as unsigned: -INT64_MIN overflows int64. */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (uint8_t)('0' + mag % 10);
		mag /= 10;
	} while (mag != 0);
	size_t len = 0;
	if (v < 0)
		out[len++] = '-';
	while (n > 0)
		out[len++] = tmp[--n];
	RP_CHECK(len <= 20);
	return len;
}

/* --- sm_buf ------------------------------------------------------------- */

void sm_buf_init(sm_buf *b)
{
	b->data = NULL;
	b->size = 0;
	b->cap = 0;
}

void sm_buf_deinit(sm_buf *b)
{
	free(b->data);
	sm_buf_init(b);
}

int sm_buf_reserve(sm_buf *b, size_t more)
{
	RP_CHECK(b->size <= b->cap);
	if (more > SIZE_MAX / 2 - b->size)
		return RP_ERR_NOMEM;
	size_t need = b->size + more;
	if (need <= b->cap)
		return RP_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (p == NULL)
		return RP_ERR_NOMEM;
	b->data = p;
	b->cap = cap;
	return RP_OK;
}

int sm_buf_append(sm_buf *b, const void *data, size_t size)
{
	int rc = sm_buf_reserve(b, size);
	if (rc != RP_OK)
		return rc;
	if (size > 0)
		memcpy(b->data + b->size, data, size);
	b->size += size;
	return RP_OK;
}

int sm_buf_set(sm_buf *b, const void *data, size_t size)
{
	b->size = 0;
	return sm_buf_append(b, data, size);
}

/* --- bounded reader ------------------------------------------------------ */

struct rd {
	const uint8_t *pos;
	const uint8_t *end;
};

/* Takes n bytes; NULL (and the reader unchanged) if fewer are left. */
static const uint8_t *rd_take(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->pos) < n)
		return NULL;
	const uint8_t *p = r->pos;
	r->pos += n;
	return p;
}

static bool rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *p = rd_take(r, 4);
	if (p == NULL)
		return false;
	*v = sm_get_u32(p);
	return true;
}

/* A length-prefixed value of at most max bytes; nil only if allow_nil. */
static int rd_value(struct rd *r, uint32_t max, bool allow_nil, sm_value *v)
{
	uint32_t len;
	if (!rd_u32(r, &len))
		return RP_ERR_INVALID;
	if (len == SM_NIL_LENGTH) {
		if (!allow_nil)
			return RP_ERR_INVALID;
		v->present = false;
		v->size = 0;
		v->data = NULL;
		return RP_OK;
	}
	if (len > max)
		return RP_ERR_NOSPC;
	const uint8_t *p = rd_take(r, len);
	if (p == NULL)
		return RP_ERR_INVALID;
	v->present = true;
	v->size = len;
	v->data = p;
	return RP_OK;
}

bool sm_iter_next(sm_iter *it, sm_value *v)
{
	if (it->left == 0)
		return false;
	struct rd r = {it->pos, it->end};
	/* The list was validated when decoded; a failure here is a bug. */
	int rc = rd_value(&r, UINT32_MAX - 1, true, v);
	RP_CHECK(rc == RP_OK);
	it->pos = r.pos;
	it->left--;
	return true;
}

/* --- commands ------------------------------------------------------------ */

static uint32_t value_max(const sm_cmd_limits *lim)
{
	RP_CHECK(lim != NULL);
	RP_CHECK(lim->max_value_bytes <= SM_VALUE_MAX_BYTES_LIMIT);
	return lim->max_value_bytes;
}

static bool value_ok(const sm_value *v, uint32_t max, bool allow_nil)
{
	if (!v->present)
		return allow_nil;
	return v->size <= max && (v->size == 0 || v->data != NULL);
}

static bool header_ok(const sm_cmd *c)
{
	if (c->client == 0 && c->seq != 0)
		return false;
	if (c->client != 0 && c->seq == 0)
		return false;
	uint16_t allowed = 0;
	if (c->op == SM_OP_SET)
		allowed = SM_SET_NX | SM_SET_XX | SM_SET_GET;
	else if (c->op == SM_OP_DEL)
		allowed = SM_DEL_GET;
	else if (c->op == SM_OP_CAS)
		allowed = SM_CAS_GET;
	if (c->flags & ~allowed)
		return false;
	if ((c->flags & SM_SET_NX) && (c->flags & SM_SET_XX))
		return false;
	return true;
}

static size_t vsize(const sm_value *v)
{
	return 4 + (v->present ? v->size : 0);
}

size_t sm_cmd_encoded_size(const sm_cmd *c, const sm_cmd_limits *lim)
{
	uint32_t vmax = value_max(lim);
	if (!header_ok(c))
		return 0;
	size_t n = SM_CMD_HEADER_BYTES;
	if (c->op != SM_OP_DEL && c->op != SM_OP_MSET) {
		if (!value_ok(&c->key, SM_KEY_MAX_BYTES, false))
			return 0;
		n += vsize(&c->key);
	}
	switch (c->op) {
	case SM_OP_SET:
	case SM_OP_APPEND:
		if (!value_ok(&c->value, vmax, false))
			return 0;
		return n + vsize(&c->value);
	case SM_OP_GET:
		return n;
	case SM_OP_DEL:
		if (c->key_count == 0 || c->key_count > SM_CMD_MAX_KEYS ||
		    c->keys == NULL)
			return 0;
		if ((c->flags & SM_DEL_GET) && c->key_count > SM_DEL_GET_MAX_KEYS)
			return 0;
		n += 4;
		for (uint32_t i = 0; i < c->key_count; i++) {
			if (!value_ok(&c->keys[i], SM_KEY_MAX_BYTES, false))
				return 0;
			n += vsize(&c->keys[i]);
		}
		return n;
	case SM_OP_CAS:
		if (!value_ok(&c->value, vmax, true) || !value_ok(&c->value2, vmax, true))
			return 0;
		return n + vsize(&c->value) + vsize(&c->value2);
	case SM_OP_INCRBY:
		return n + 8;
	case SM_OP_MSET:
		if (c->key_count == 0 || c->key_count > SM_CMD_MAX_KEYS ||
		    c->keys == NULL || c->values == NULL)
			return 0;
		n += 4;
		for (uint32_t i = 0; i < c->key_count; i++) {
			if (!value_ok(&c->keys[i], SM_KEY_MAX_BYTES, false) ||
			    !value_ok(&c->values[i], vmax, false))
				return 0;
			n += vsize(&c->keys[i]) + vsize(&c->values[i]);
		}
		return n;
	default:
		return 0;
	}
}

static uint8_t *put_value(uint8_t *p, const sm_value *v)
{
	if (!v->present) {
		sm_put_u32(p, SM_NIL_LENGTH);
		return p + 4;
	}
	sm_put_u32(p, v->size);
	if (v->size > 0)
		memcpy(p + 4, v->data, v->size);
	return p + 4 + v->size;
}

int sm_cmd_encode(const sm_cmd *c, const sm_cmd_limits *lim, uint8_t *buf, size_t cap,
		  size_t *size)
{
	size_t n = sm_cmd_encoded_size(c, lim);
	if (n == 0)
		return RP_ERR_INVALID;
	if (n > cap)
		return RP_ERR_NOSPC;
	uint8_t *p = buf;
	p[0] = SM_CMD_VERSION;
	p[1] = c->op;
	sm_put_u16(p + 2, c->flags);
	sm_put_u64(p + 4, c->client);
	sm_put_u64(p + 12, c->seq);
	p += SM_CMD_HEADER_BYTES;
	if (c->op != SM_OP_DEL && c->op != SM_OP_MSET)
		p = put_value(p, &c->key);
	switch (c->op) {
	case SM_OP_SET:
	case SM_OP_APPEND:
		p = put_value(p, &c->value);
		break;
	case SM_OP_DEL:
		sm_put_u32(p, c->key_count);
		p += 4;
		for (uint32_t i = 0; i < c->key_count; i++)
			p = put_value(p, &c->keys[i]);
		break;
	case SM_OP_CAS:
		p = put_value(p, &c->value);
		p = put_value(p, &c->value2);
		break;
	case SM_OP_INCRBY:
		sm_put_u64(p, (uint64_t)c->delta);
		p += 8;
		break;
	case SM_OP_MSET:
		sm_put_u32(p, c->key_count);
		p += 4;
		for (uint32_t i = 0; i < c->key_count; i++) {
			p = put_value(p, &c->keys[i]);
			p = put_value(p, &c->values[i]);
		}
		break;
	default:
		break;
	}
	RP_CHECK((size_t)(p - buf) == n);
	*size = n;
	return RP_OK;
}

int sm_cmd_encode_buf(const sm_cmd *c, const sm_cmd_limits *lim, sm_buf *b)
{
	size_t n = sm_cmd_encoded_size(c, lim);
	if (n == 0)
		return RP_ERR_INVALID;
	int rc = sm_buf_reserve(b, n);
	if (rc != RP_OK)
		return rc;
	size_t got = 0;
	rc = sm_cmd_encode(c, lim, b->data + b->size, b->cap - b->size, &got);
	if (rc != RP_OK)
		return rc;
	b->size += got;
	return RP_OK;
}

int sm_cmd_decode(const uint8_t *data, size_t size, const sm_cmd_limits *lim, sm_cmd *c)
{
	uint32_t vmax = value_max(lim);
	memset(c, 0, sizeof(*c));
	if (data == NULL)
		return RP_ERR_INVALID;
	struct rd r = {data, data + size};
	const uint8_t *h = rd_take(&r, SM_CMD_HEADER_BYTES);
	if (h == NULL || h[0] != SM_CMD_VERSION)
		return RP_ERR_INVALID;
	c->op = h[1];
	c->flags = sm_get_u16(h + 2);
	c->client = sm_get_u64(h + 4);
	c->seq = sm_get_u64(h + 12);
	if (c->op < SM_OP_SET || c->op > SM_OP_LAST_ || !header_ok(c))
		return RP_ERR_INVALID;
	int rc;
	if (c->op != SM_OP_DEL && c->op != SM_OP_MSET) {
		rc = rd_value(&r, SM_KEY_MAX_BYTES, false, &c->key);
		if (rc != RP_OK)
			return rc;
	}
	switch (c->op) {
	case SM_OP_SET:
	case SM_OP_APPEND:
		rc = rd_value(&r, vmax, false, &c->value);
		if (rc != RP_OK)
			return rc;
		break;
	case SM_OP_GET:
		break;
	case SM_OP_DEL: {
		uint32_t count;
		if (!rd_u32(&r, &count))
			return RP_ERR_INVALID;
		if (count == 0)
			return RP_ERR_INVALID;
		if (count > SM_CMD_MAX_KEYS)
			return RP_ERR_NOSPC;
		if ((c->flags & SM_DEL_GET) && count > SM_DEL_GET_MAX_KEYS)
			return RP_ERR_NOSPC;
		c->key_count = count;
		c->keys_wire = r.pos;
		for (uint32_t i = 0; i < count; i++) {
			sm_value k;
			rc = rd_value(&r, SM_KEY_MAX_BYTES, false, &k);
			if (rc != RP_OK)
				return rc;
			if (i == 0)
				c->key = k;
		}
		c->keys_wire_end = r.pos;
		break;
	}
	case SM_OP_CAS:
		rc = rd_value(&r, vmax, true, &c->value);
		if (rc != RP_OK)
			return rc;
		rc = rd_value(&r, vmax, true, &c->value2);
		if (rc != RP_OK)
			return rc;
		break;
	case SM_OP_INCRBY: {
		const uint8_t *p = rd_take(&r, 8);
		if (p == NULL)
			return RP_ERR_INVALID;
		c->delta = (int64_t)sm_get_u64(p);
		break;
	}
	case SM_OP_MSET: {
		uint32_t count;
		if (!rd_u32(&r, &count))
			return RP_ERR_INVALID;
		if (count == 0)
			return RP_ERR_INVALID;
		if (count > SM_CMD_MAX_KEYS)
			return RP_ERR_NOSPC;
		c->key_count = count;
		c->keys_wire = r.pos;
		for (uint32_t i = 0; i < count; i++) {
			sm_value k, v;
			rc = rd_value(&r, SM_KEY_MAX_BYTES, false, &k);
			if (rc != RP_OK)
				return rc;
			rc = rd_value(&r, vmax, false, &v);
			if (rc != RP_OK)
				return rc;
			if (i == 0) {
				c->key = k;
				c->value = v;
			}
		}
		c->keys_wire_end = r.pos;
		break;
	}
	default:
		return RP_ERR_INVALID;
	}
	if (r.pos != r.end)
		return RP_ERR_INVALID; /* trailing bytes */
	return RP_OK;
}

void sm_cmd_keys(const sm_cmd *c, sm_iter *it)
{
	RP_CHECK(c->op == SM_OP_DEL);
	RP_CHECK(c->keys_wire != NULL);
	it->pos = c->keys_wire;
	it->end = c->keys_wire_end;
	it->left = c->key_count;
}

void sm_cmd_pairs(const sm_cmd *c, sm_iter *it)
{
	RP_CHECK(c->op == SM_OP_MSET);
	RP_CHECK(c->keys_wire != NULL);
	RP_CHECK(c->key_count >= 1 && c->key_count <= SM_CMD_MAX_KEYS);
	it->pos = c->keys_wire;
	it->end = c->keys_wire_end;
	it->left = 2 * c->key_count;
}

/* --- results ------------------------------------------------------------- */

void sm_result_init(sm_result *r)
{
	memset(r, 0, sizeof(*r));
	sm_buf_init(&r->enc);
}

void sm_result_deinit(sm_result *r)
{
	sm_buf_deinit(&r->enc);
	sm_result_init(r);
}

int sm_result_begin(sm_result *r, uint8_t op)
{
	r->op = op;
	r->status = SM_ST_OK;
	r->success = false;
	r->integer = 0;
	r->value_count = 0;
	r->enc.size = 0;
	int rc = sm_buf_reserve(&r->enc, SM_RESULT_HEADER_BYTES);
	if (rc != RP_OK)
		return rc;
	memset(r->enc.data, 0, SM_RESULT_HEADER_BYTES);
	r->enc.size = SM_RESULT_HEADER_BYTES;
	return RP_OK;
}

int sm_result_push(sm_result *r, const sm_value *v)
{
	RP_CHECK(r->enc.size >= SM_RESULT_HEADER_BYTES);
	RP_CHECK(r->value_count < SM_RESULT_MAX_VALUES);
	RP_CHECK(!v->present || v->size <= SM_VALUE_MAX_BYTES_LIMIT);
	int rc = sm_buf_reserve(&r->enc, vsize(v));
	if (rc != RP_OK)
		return rc;
	uint8_t *end = put_value(r->enc.data + r->enc.size, v);
	r->enc.size = (size_t)(end - r->enc.data);
	r->value_count++;
	return RP_OK;
}

void sm_result_finish(sm_result *r, uint8_t status, bool success, int64_t integer)
{
	RP_CHECK(r->enc.size >= SM_RESULT_HEADER_BYTES);
	RP_CHECK(status < SM_ST_COUNT_);
	r->status = status;
	r->success = success;
	r->integer = integer;
	uint8_t *h = r->enc.data;
	h[0] = SM_RESULT_VERSION;
	h[1] = r->op;
	h[2] = status;
	h[3] = success ? 1 : 0;
	sm_put_u64(h + 4, (uint64_t)integer);
	sm_put_u32(h + 12, r->value_count);
}

int sm_result_decode(sm_result *r, const uint8_t *data, size_t size)
{
	r->op = SM_OP_NONE;
	r->status = SM_ST_OK;
	r->success = false;
	r->integer = 0;
	r->value_count = 0;
	r->enc.size = 0;
	if (data == NULL)
		return RP_ERR_INVALID;
	struct rd rr = {data, data + size};
	const uint8_t *h = rd_take(&rr, SM_RESULT_HEADER_BYTES);
	if (h == NULL || h[0] != SM_RESULT_VERSION)
		return RP_ERR_INVALID;
	if (h[1] > SM_OP_LAST_ || h[2] >= SM_ST_COUNT_ || h[3] > 1)
		return RP_ERR_INVALID;
	uint32_t count = sm_get_u32(h + 12);
	if (count > SM_RESULT_MAX_VALUES)
		return RP_ERR_NOSPC;
	for (uint32_t i = 0; i < count; i++) {
		sm_value v;
		int rc = rd_value(&rr, SM_VALUE_MAX_BYTES_LIMIT, true, &v);
		if (rc != RP_OK)
			return rc;
	}
	if (rr.pos != rr.end)
		return RP_ERR_INVALID;
	int rc = sm_buf_set(&r->enc, data, size);
	if (rc != RP_OK)
		return rc;
	r->op = h[1];
	r->status = h[2];
	r->success = h[3] == 1;
	r->integer = (int64_t)sm_get_u64(h + 4);
	r->value_count = count;
	return RP_OK;
}

void sm_result_values(const sm_result *r, sm_iter *it)
{
	RP_CHECK(r->enc.size >= SM_RESULT_HEADER_BYTES || r->value_count == 0);
	if (r->enc.size < SM_RESULT_HEADER_BYTES) {
		it->pos = it->end = NULL;
		it->left = 0;
		return;
	}
	it->pos = r->enc.data + SM_RESULT_HEADER_BYTES;
	it->end = r->enc.data + r->enc.size;
	it->left = r->value_count;
}

bool sm_result_value(const sm_result *r, uint32_t i, sm_value *v)
{
	if (i >= r->value_count)
		return false;
	sm_iter it;
	sm_result_values(r, &it);
	for (uint32_t k = 0; k <= i; k++)
		RP_CHECK(sm_iter_next(&it, v));
	return true;
}
