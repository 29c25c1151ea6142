/*
 * test_cmd_read.c — reads against a populated in-memory state machine:
 * every read command in RESP2 and RESP3, SCAN paging (every key exactly
 * once, in order, across many calls, with MATCH, COUNT and TYPE), the
 * cursor table's bounds and its refusal of stale cursors, KEYS, DBSIZE (also
 * taken in steps), the
 * reserved range invisible to all of them, and the glob matcher.
 */
#include <stdlib.h>

#include "server/cmd.h"
#include "server/cmd_internal.h"
#include "test.h"
#include "util/prng.h"

/* --- helpers ------------------------------------------------------------------- */

typedef struct {
	struct resp_arg a[64];
	size_t n;
	char buf[1 << 14];
	size_t used;
} args;

static void args_add(args *x, const char *p, size_t n)
{
	CHECK(x->n < sizeof(x->a) / sizeof(x->a[0]));
	CHECK(x->used + n + 1 <= sizeof(x->buf));
	memcpy(x->buf + x->used, p, n);
	x->buf[x->used + n] = '\0';
	x->a[x->n].ptr = x->buf + x->used;
	x->a[x->n].len = n;
	x->used += n + 1;
	x->n++;
}

static void args_line(args *x, const char *line)
{
	x->n = 0;
	x->used = 0;
	for (const char *p = line; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		args_add(x, p, (size_t)(e - p));
		p = e;
	}
}

static struct resp_value *parse_reply(const struct resp_out *o)
{
	struct resp_reader r;
	resp_reader_init(&r, NULL);
	size_t used = 0;
	struct resp_value *v = NULL;
	int rc = resp_reader_feed(&r, o->data, o->len, &used, &v);
	resp_reader_deinit(&r);
	CHECK_EQ(rc, 1);
	CHECK_EQ(used, o->len);
	return v;
}

static void expect_error(const struct resp_value *v, const char *msg)
{
	if (v->type != RESP_T_ERROR || strcmp(v->str, msg) != 0)
		printf("    got type %d '%s', want error '%s'\n", v->type,
		       v->str ? v->str : "", msg);
	CHECK(v->type == RESP_T_ERROR);
	CHECK(strcmp(v->str, msg) == 0);
}

static void expect_bulk(const struct resp_value *v, const char *s)
{
	CHECK(v->type == RESP_T_BULK);
	CHECK_EQ(v->len, strlen(s));
	CHECK(memcmp(v->str, s, v->len) == 0);
}

static void expect_int(const struct resp_value *v, int64_t n)
{
	CHECK(v->type == RESP_T_INTEGER);
	CHECK_EQ(v->integer, n);
}

typedef struct {
	sm *m;
	uint64_t index;
	cmd_cursors *cur;
	struct resp_out out;
	args x;
	cmd_limits lim;
} fx;

/* Writes key=value straight into the state machine (reserved keys too). */
static void put(fx *f, const char *key, size_t key_len, const char *value)
{
	sm_cmd c;
	memset(&c, 0, sizeof(c));
	c.op = SM_OP_SET;
	c.key.present = true;
	c.key.size = (uint32_t)key_len;
	c.key.data = (const uint8_t *)key;
	c.value.present = true;
	c.value.size = (uint32_t)strlen(value);
	c.value.data = (const uint8_t *)value;
	sm_cmd_limits lim = {SM_VALUE_MAX_BYTES_DEFAULT};
	sm_buf b;
	sm_buf_init(&b);
	CHECK_EQ(sm_cmd_encode_buf(&c, &lim, &b), 0);
	hp_entry e;
	memset(&e, 0, sizeof(e));
	e.index = ++f->index;
	e.term = 1;
	e.type = HP_ENTRY_NORMAL;
	e.size_bytes = (uint32_t)b.size;
	e.data = b.data;
	sm_result res;
	sm_result_init(&res);
	CHECK_EQ(sm_apply(f->m, 1, &e, &res), 0);
	CHECK_EQ(res.status, SM_ST_OK);
	sm_result_deinit(&res);
	sm_buf_deinit(&b);
}

static void put_s(fx *f, const char *key, const char *value)
{
	put(f, key, strlen(key), value);
}

/* Reserved keys on both sides of where user keys sort. */
static void put_meta(fx *f)
{
	const char *names[] = {"node:1", "node:2", "", "zzzz"};
	for (size_t i = 0; i < 4; i++) {
		char k[64];
		memcpy(k, CMD_META_PREFIX, CMD_META_PREFIX_LEN);
		size_t n = strlen(names[i]);
		memcpy(k + CMD_META_PREFIX_LEN, names[i], n);
		put(f, k, CMD_META_PREFIX_LEN + n, "addr");
	}
}

static void fx_open(fx *f, uint32_t cursors)
{
	memset(f, 0, sizeof(*f));
	sm_config cfg;
	sm_config_default(&cfg);
	CHECK_EQ(sm_open_mem(&cfg, &f->m), 0);
	f->cur = cmd_cursors_create(cursors, 7);
	CHECK(f->cur != NULL);
	resp_out_init(&f->out, 1 << 24);
	cmd_limits_default(&f->lim);
}

static void fx_close(fx *f)
{
	sm_close(f->m);
	cmd_cursors_destroy(f->cur);
	resp_out_deinit(&f->out);
}

/* Validates and runs a read in f->x; the parsed reply is the caller's. */
static struct resp_value *run_args(fx *f, int proto)
{
	resp_out_reset(&f->out);
	const cmd_spec *s = cmd_lookup(f->x.a[0].ptr, f->x.a[0].len);
	CHECK(s != NULL && (s->flags & CMD_F_READ));
	int rc = cmd_validate(s, f->x.n, f->x.a, &f->lim, &f->out);
	if (rc < 0) {
		CHECK_EQ(rc, RP_ERR_INVALID);
		return parse_reply(&f->out);
	}
	CHECK_EQ(cmd_read_exec(s, f->x.n, f->x.a, f->m, f->cur, proto, &f->out), 0);
	return parse_reply(&f->out);
}

static struct resp_value *run(fx *f, int proto, const char *line)
{
	args_line(&f->x, line);
	return run_args(f, proto);
}

#define R(proto, line) run(&f, proto, line)
#define FREE(v) resp_value_free(v)

/* --- single keys ---------------------------------------------------------------- */

TEST(get_mget_exists_strlen_type_ttl)
{
	fx f;
	fx_open(&f, 16);
	put_s(&f, "a", "apple");
	put_s(&f, "e", "");
	put_meta(&f);
	struct resp_value *v;
	for (int proto = 2; proto <= 3; proto++) {
		expect_bulk(v = R(proto, "GET a"), "apple"), FREE(v);
		expect_bulk(v = R(proto, "GET e"), ""), FREE(v);
		v = R(proto, "GET nope");
		CHECK(v->type == RESP_T_NULL);
		FREE(v);
		CHECK(memcmp(f.out.data, proto == 2 ? "$-1\r\n" : "_\r\n", f.out.len) ==
		      0);
		v = R(proto, "MGET a nope e a");
		CHECK(v->type == RESP_T_ARRAY && v->count == 4);
		expect_bulk(&v->elems[0], "apple");
		CHECK(v->elems[1].type == RESP_T_NULL);
		expect_bulk(&v->elems[2], "");
		expect_bulk(&v->elems[3], "apple");
		FREE(v);
		expect_int(v = R(proto, "EXISTS a nope e a"), 3), FREE(v);
		expect_int(v = R(proto, "EXISTS nope"), 0), FREE(v);
		expect_int(v = R(proto, "STRLEN a"), 5), FREE(v);
		expect_int(v = R(proto, "STRLEN e"), 0), FREE(v);
		expect_int(v = R(proto, "STRLEN nope"), 0), FREE(v);
		v = R(proto, "TYPE a");
		CHECK(v->type == RESP_T_SIMPLE && strcmp(v->str, "string") == 0);
		FREE(v);
		v = R(proto, "TYPE nope");
		CHECK(v->type == RESP_T_SIMPLE && strcmp(v->str, "none") == 0);
		FREE(v);
		expect_int(v = R(proto, "TTL a"), -1), FREE(v);
		expect_int(v = R(proto, "PTTL e"), -1), FREE(v);
		expect_int(v = R(proto, "TTL nope"), -2), FREE(v);
		expect_int(v = R(proto, "PTTL nope"), -2), FREE(v);
		expect_int(v = R(proto, "DBSIZE"), 2), FREE(v);
	}
	/* a reserved key is refused by validation, never read */
	args_line(&f.x, "GET");
	args_add(&f.x, CMD_META_PREFIX "node:1", CMD_META_PREFIX_LEN + 6);
	expect_error(v = run_args(&f, 2), CMD_ERR_RESERVED), FREE(v);
	fx_close(&f);
}

TEST(dbsize_skips_the_reserved_range)
{
	fx f;
	fx_open(&f, 16);
	struct resp_value *v;
	expect_int(v = R(2, "DBSIZE"), 0), FREE(v);
	put_meta(&f);
	expect_int(v = R(2, "DBSIZE"), 0), FREE(v);
	/* keys below, between and above the reserved range */
	put_s(&f, "a", "1");
	put(&f, "\xff", 1, "1");
	put(&f, "\xff\x00", 2, "1");
	put(&f, "\xff\x00rasputin", 10, "1");
	put(&f, "\xff\x00rasputin;", 11, "1");
	put(&f, "\xff\xff", 2, "1");
	expect_int(v = R(3, "DBSIZE"), 6), FREE(v);
	fx_close(&f);
}

/* --- SCAN ----------------------------------------------------------------------- */

/* Walks a whole SCAN with the given options; appends every key returned to
 * keys (NUL-separated) and returns how many calls it took. */
static int scan_all(fx *f, int proto, const char *opts, sm_buf *keys, uint32_t *count)
{
	char line[256];
	char cursor[32] = "0";
	int calls = 0;
	*count = 0;
	keys->size = 0;
	do {
		snprintf(line, sizeof(line), "SCAN %s %s", cursor, opts);
		struct resp_value *v = run(f, proto, line);
		if (v->type != RESP_T_ARRAY)
			printf("    %s: %s\n", line, v->str ? v->str : "?");
		CHECK(v->type == RESP_T_ARRAY && v->count == 2);
		CHECK(v->elems[0].type == RESP_T_BULK &&
		      v->elems[0].len < sizeof(cursor));
		memcpy(cursor, v->elems[0].str, v->elems[0].len);
		cursor[v->elems[0].len] = '\0';
		/* a decimal below 2^53 */
		uint64_t id = strtoull(cursor, NULL, 10);
		CHECK(id < (1ull << 53));
		char back[32];
		snprintf(back, sizeof(back), "%llu", (unsigned long long)id);
		CHECK(strcmp(back, cursor) == 0);
		const struct resp_value *arr = &v->elems[1];
		CHECK(arr->type == RESP_T_ARRAY);
		for (size_t i = 0; i < arr->count; i++) {
			CHECK(arr->elems[i].type == RESP_T_BULK);
			CHECK_EQ(
			    sm_buf_append(keys, arr->elems[i].str, arr->elems[i].len), 0);
			CHECK_EQ(sm_buf_append(keys, "", 1), 0);
			(*count)++;
		}
		resp_value_free(v);
		calls++;
		CHECK(calls < 100000);
	} while (strcmp(cursor, "0") != 0);
	return calls;
}

static void fill(fx *f, int n)
{
	for (int i = 0; i < n; i++) {
		char k[32];
		snprintf(k, sizeof(k), "key:%05d", i);
		put_s(f, k, "v");
	}
}

TEST(scan_pages_return_every_key_once_in_order)
{
	fx f;
	fx_open(&f, 64);
	put_meta(&f);
	fill(&f, 1000);
	put(&f, "\xff\xff", 2, "after the reserved range");
	put(&f, "", 0, "the empty key");
	sm_buf keys;
	sm_buf_init(&keys);
	uint32_t n = 0;
	for (int proto = 2; proto <= 3; proto++) {
		int calls = scan_all(&f, proto, "COUNT 7", &keys, &n);
		CHECK_EQ(n, 1002);
		CHECK(calls >= 1002 / 7 && calls <= 1002 / 7 + 2);
		/* in key order, each once: "", key:00000.., \xff\xff */
		const char *p = (const char *)keys.data;
		CHECK_EQ(strlen(p), 0);
		p += 1;
		for (int i = 0; i < 1000; i++) {
			char k[32];
			snprintf(k, sizeof(k), "key:%05d", i);
			CHECK(strcmp(p, k) == 0);
			p += strlen(p) + 1;
		}
		CHECK(strcmp(p, "\xff\xff") == 0);
		CHECK_EQ(cmd_cursors_live(f.cur),
			 0); /* a finished walk frees its cursor */
	}
	/* the default COUNT is 10 */
	int calls = scan_all(&f, 2, "", &keys, &n);
	CHECK_EQ(n, 1002);
	CHECK(calls >= 100 && calls <= 102);
	/* a COUNT above the limit is clamped */
	f.lim.max_scan_count = 100;
	cmd_cursors_set_limits(f.cur, &f.lim);
	CHECK_EQ(cmd_cursors_max_count(f.cur), 100);
	calls = scan_all(&f, 2, "COUNT 100000", &keys, &n);
	CHECK_EQ(n, 1002);
	CHECK(calls >= 10 && calls <= 12);
	/* one call can take everything */
	f.lim.max_scan_count = 10000;
	cmd_cursors_set_limits(f.cur, &f.lim);
	calls = scan_all(&f, 2, "COUNT 5000", &keys, &n);
	CHECK_EQ(calls, 1);
	CHECK_EQ(n, 1002);
	sm_buf_deinit(&keys);
	fx_close(&f);
}

TEST(scan_match_and_type)
{
	fx f;
	fx_open(&f, 64);
	put_meta(&f);
	fill(&f, 300);
	put_s(&f, "other", "v");
	sm_buf keys;
	sm_buf_init(&keys);
	uint32_t n = 0;
	scan_all(&f, 2, "MATCH key:000[0-4]? COUNT 13", &keys, &n);
	CHECK_EQ(n, 50);
	scan_all(&f, 3, "COUNT 13 MATCH *9", &keys, &n);
	CHECK_EQ(n, 30);
	scan_all(&f, 2, "MATCH other", &keys, &n);
	CHECK_EQ(n, 1);
	/* MATCH can name the reserved prefix: nothing comes back */
	scan_all(&f, 2, "MATCH \\xff*", &keys, &n);
	CHECK_EQ(n, 0);
	scan_all(&f, 2, "TYPE string COUNT 50", &keys, &n);
	CHECK_EQ(n, 301);
	scan_all(&f, 2, "type STRING", &keys, &n);
	CHECK_EQ(n, 301);
	int calls = scan_all(&f, 2, "TYPE hash COUNT 50", &keys, &n);
	CHECK_EQ(n, 0);
	CHECK(calls >= 6); /* it still walks */
	calls = scan_all(&f, 2, "TYPE nosuchtype COUNT 50", &keys, &n);
	CHECK_EQ(n, 0);
	CHECK(calls >= 6);
	struct resp_value *v;
	expect_error(v = R(2, "SCAN 0 COUNT 0"), CMD_ERR_SYNTAX), FREE(v);
	expect_error(v = R(2, "SCAN 0 COUNT -1"), CMD_ERR_SYNTAX), FREE(v);
	expect_error(v = R(2, "SCAN 0 COUNT x"), CMD_ERR_NOT_INT), FREE(v);
	expect_error(v = R(2, "SCAN 0 MATCH"), CMD_ERR_SYNTAX), FREE(v);
	expect_error(v = R(2, "SCAN 0 FOO bar"), CMD_ERR_SYNTAX), FREE(v);
	expect_error(v = R(2, "SCAN x"), CMD_ERR_INVALID_CURSOR), FREE(v);
	expect_error(v = R(2, "SCAN -1"), CMD_ERR_INVALID_CURSOR), FREE(v);
	expect_error(v = R(2, "SCAN 123456"), CMD_ERR_INVALID_CURSOR), FREE(v);
	sm_buf_deinit(&keys);
	fx_close(&f);
}

/* A step of huge keys stops once its reply holds about 1 MiB of them. */
TEST(scan_steps_stop_at_a_reply_size)
{
	fx f;
	fx_open(&f, 16);
	char *k = malloc(60000);
	for (int i = 0; i < 40; i++) {
		memset(k, 'a' + i % 26, 60000);
		k[0] = (char)('A' + i / 26);
		put(&f, k, 60000, "v");
	}
	free(k);
	struct resp_value *v = R(2, "SCAN 0 COUNT 100");
	CHECK(v->type == RESP_T_ARRAY);
	size_t first = v->elems[1].count;
	CHECK(first >= 17 && first <= 18);
	FREE(v);
	sm_buf keys;
	sm_buf_init(&keys);
	uint32_t n = 0;
	int calls = scan_all(&f, 3, "COUNT 100", &keys, &n);
	CHECK_EQ(n, 40);
	CHECK_EQ(calls, 3);
	sm_buf_deinit(&keys);
	fx_close(&f);
}

/* The cursor that was answered is retired; a retried step is refused. */
static char *scan_step(fx *f, const char *cursor, char *next, size_t cap)
{
	char line[64];
	snprintf(line, sizeof(line), "SCAN %s COUNT 5", cursor);
	struct resp_value *v = run(f, 2, line);
	if (v->type == RESP_T_ERROR) {
		snprintf(next, cap, "error:%s", v->str);
	} else {
		CHECK(v->type == RESP_T_ARRAY);
		CHECK(v->elems[0].len < cap);
		memcpy(next, v->elems[0].str, v->elems[0].len);
		next[v->elems[0].len] = '\0';
	}
	resp_value_free(v);
	return next;
}

TEST(cursors_are_retired_bounded_and_evicted_least_recent_first)
{
	fx f;
	fx_open(&f, 3);
	fill(&f, 100);
	char c1[64], c2[64], c3[64], c4[64], again[64];
	scan_step(&f, "0", c1, sizeof(c1));
	CHECK(strcmp(c1, "0") != 0);
	scan_step(&f, c1, c2, sizeof(c2));
	CHECK(strcmp(c2, c1) != 0);
	/* c1 was used: a retry of that step is refused */
	scan_step(&f, c1, again, sizeof(again));
	CHECK(strcmp(again, "error:" CMD_ERR_INVALID_CURSOR) == 0);
	CHECK_EQ(cmd_cursors_live(f.cur), 1);
	/* three walks fill the table; a fourth evicts the least recently used */
	scan_step(&f, "0", c3, sizeof(c3));
	scan_step(&f, "0", c4, sizeof(c4));
	CHECK_EQ(cmd_cursors_live(f.cur), 3);
	scan_step(&f, c2, c2, sizeof(c2)); /* c2's walk is now the most recent */
	char c5[64];
	scan_step(&f, "0", c5, sizeof(c5));
	CHECK_EQ(cmd_cursors_live(f.cur), 3);
	scan_step(&f, c3, again, sizeof(again)); /* c3 was the oldest */
	CHECK(strcmp(again, "error:" CMD_ERR_INVALID_CURSOR) == 0);
	scan_step(&f, c4, again, sizeof(again));
	CHECK(strncmp(again, "error", 5) != 0);
	scan_step(&f, c2, again, sizeof(again));
	CHECK(strncmp(again, "error", 5) != 0);
	fx_close(&f);
	/* the same seed hands out the same cursors */
	cmd_cursors *a = cmd_cursors_create(4096, 99), *b = cmd_cursors_create(4096, 99);
	uint64_t ia = 0, ib = 0;
	CHECK_EQ(cmd_cursors_save(a, CMD_CURSOR_NONE, (const uint8_t *)"k", 1, &ia), 0);
	CHECK_EQ(cmd_cursors_save(b, CMD_CURSOR_NONE, (const uint8_t *)"k", 1, &ib), 0);
	CHECK_EQ(ia, ib);
	CHECK(ia != 0 && ia < (1ull << 53));
	uint32_t slot;
	const uint8_t *key;
	size_t key_size;
	CHECK(cmd_cursors_find(a, ia, &slot, &key, &key_size));
	CHECK(key_size == 1 && key[0] == 'k');
	CHECK(!cmd_cursors_find(a, ia + 4096, &slot, &key, &key_size));
	CHECK(!cmd_cursors_find(a, 0, &slot, &key, &key_size));
	/* saving in place retires the old id */
	uint64_t next = 0;
	CHECK_EQ(cmd_cursors_save(a, slot, (const uint8_t *)"l", 1, &next), 0);
	CHECK(next != ia);
	CHECK(!cmd_cursors_find(a, ia, &slot, &key, &key_size));
	CHECK(cmd_cursors_find(a, next, &slot, &key, &key_size));
	cmd_cursors_destroy(a);
	cmd_cursors_destroy(b);
	cmd_cursors_destroy(NULL);
}

TEST(cursor_table_bounds_its_bytes)
{
	cmd_cursors *c = cmd_cursors_create(4096, 1);
	uint8_t *big = calloc(1, SM_KEY_MAX_BYTES);
	uint64_t ids[1024];
	/* 1024 x 64 KiB = 64 MiB asked for; 32 MiB kept */
	for (int i = 0; i < 1024; i++)
		CHECK_EQ(
		    cmd_cursors_save(c, CMD_CURSOR_NONE, big, SM_KEY_MAX_BYTES, &ids[i]),
		    0);
	CHECK(cmd_cursors_live(c) <= CMD_CURSORS_MAX_BYTES / SM_KEY_MAX_BYTES);
	CHECK(cmd_cursors_live(c) >= CMD_CURSORS_MAX_BYTES / SM_KEY_MAX_BYTES - 1);
	uint32_t slot;
	const uint8_t *key;
	size_t key_size;
	CHECK(!cmd_cursors_find(c, ids[0], &slot, &key, &key_size));
	CHECK(cmd_cursors_find(c, ids[1023], &slot, &key, &key_size));
	free(big);
	cmd_cursors_destroy(c);
}

/* --- KEYS ----------------------------------------------------------------------------
 */

TEST(keys_matches_like_a_full_walk)
{
	fx f;
	fx_open(&f, 16);
	put_meta(&f);
	fill(&f, 200);
	const char *more[] = {"k*y",	"k?y",	  "k[y",     "k\\y",
			      "user:1", "user:2", "user:10", ""};
	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		put_s(&f, more[i], "v");
	const char *pats[] = {"*",	"key:001*", "key:0?0?0",     "user:*",
			      "user:?", "k\\*y",    "k\\?y",	     "k\\[y",
			      "k\\\\y", "k[*]y",    "nothing*",	     "[a-k]*",
			      "*1",	"\\xff*",   "key:001[^0-8]?"};
	const int want[] = {208, 100, 10, 3, 2, 1, 1, 1, 1, 1, 0, 204, 21, 0, 10};
	struct resp_value *v;
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		args_line(&f.x, "KEYS");
		args_add(&f.x, pats[i], strlen(pats[i]));
		v = run_args(&f, 2);
		if (v->type != RESP_T_ARRAY || (int)v->count != want[i])
			printf("    KEYS %s: %zu keys, want %d\n", pats[i], v->count,
			       want[i]);
		CHECK(v->type == RESP_T_ARRAY);
		CHECK_EQ(v->count, want[i]);
		for (size_t k = 0; k < v->count; k++) {
			CHECK(cmd_glob_match(pats[i], strlen(pats[i]), v->elems[k].str,
					     v->elems[k].len, false));
			CHECK(!cmd_key_reserved(v->elems[k].str, v->elems[k].len));
			if (k > 0) /* in key order */
				CHECK(strcmp(v->elems[k - 1].str, v->elems[k].str) < 0);
		}
		FREE(v);
	}
	/* a reply larger than the output buffer allows is refused */
	resp_out_deinit(&f.out);
	resp_out_init(&f.out, 1000);
	expect_error(v = R(2, "KEYS *"),
		     "ERR KEYS reply would be too large; use SCAN instead"),
	    FREE(v);
	fx_close(&f);
}

/* DBSIZE and KEYS taken in small steps, with writes between them, answer
 * exactly what the whole walk answered at their start, reserved range
 * and all. */
TEST(walks_in_steps_answer_as_of_their_start)
{
	fx f;
	fx_open(&f, 16);
	put_meta(&f);
	fill(&f, 200);
	put(&f, "\xff\xff", 2, "1"); /* above the reserved range */
	const char *lines[] = {"DBSIZE", "KEYS *", "KEYS key:001*", "KEYS *9"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct resp_value *whole = R(2, lines[i]);
		args_line(&f.x, lines[i]);
		const cmd_spec *spec = cmd_lookup(f.x.a[0].ptr, f.x.a[0].len);
		CHECK(spec != NULL && cmd_read_is_walk(spec));
		cmd_walk *w = NULL;
		CHECK_EQ(cmd_walk_start(spec, f.x.n, f.x.a, f.m, 1 << 20, &w), 0);
		bool done = false;
		int steps = 0;
		while (!done) {
			CHECK_EQ(cmd_walk_step(w, 7, &done), 0);
			char k[32];
			snprintf(k, sizeof(k), "key:001%d9", steps++);
			put_s(&f, k, "new"); /* matches every pattern above */
		}
		resp_out_reset(&f.out);
		CHECK_EQ(cmd_walk_reply(w, &f.out), 0);
		cmd_walk_free(w);
		struct resp_value *stepped = parse_reply(&f.out);
		CHECK(steps >= 2);
		CHECK_EQ(stepped->type, whole->type);
		if (whole->type == RESP_T_INTEGER) {
			CHECK_EQ(whole->integer, 201);
			CHECK_EQ(stepped->integer, whole->integer);
		} else {
			CHECK(whole->count > 0);
			CHECK_EQ(stepped->count, whole->count);
			for (size_t k = 0; k < whole->count && k < stepped->count; k++)
				CHECK(strcmp(stepped->elems[k].str, whole->elems[k].str) == 0);
		}
		FREE(whole);
		FREE(stepped);
	}
	fx_close(&f);
}

/* --- glob --------------------------------------------------------------------------- */

TEST(glob_matcher)
{
	static const struct {
		const char *pat, *s;
		bool match;
	} cases[] = {
	    {"", "", true},
	    {"", "a", false},
	    {"*", "", true},
	    {"*", "anything", true},
	    {"a*", "a", true},
	    {"a*", "ba", false},
	    {"*a", "bca", true},
	    {"*a", "ab", false},
	    {"a*b*c", "aXXbYYc", true},
	    {"a*b*c", "aXXbYY", false},
	    {"?", "x", true},
	    {"?", "", false},
	    {"??", "x", false},
	    {"h?llo", "hello", true},
	    {"h[ae]llo", "hallo", true},
	    {"h[ae]llo", "hillo", false},
	    {"h[^e]llo", "hallo", true},
	    {"h[^e]llo", "hello", false},
	    {"h[a-b]llo", "hbllo", true},
	    {"h[b-a]llo", "hallo", true},
	    {"h[a-b]llo", "hcllo", false},
	    {"\\*", "*", true},
	    {"\\*", "a", false},
	    {"\\?", "?", true},
	    {"a\\", "a\\", true},
	    {"[\\]]", "]", true},
	    {"[\\-]", "-", true},
	    {"[a-]", "-", true},
	    {"[]", "a", false},
	    {"[^]", "a", true},
	    {"[abc", "[abc", true},
	    {"[abc", "a", false},
	    {"**a**", "xa", true},
	    {"*[0-9]", "abc7", true},
	    {"*[0-9]", "abc", false},
	    {"a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = cmd_glob_match(cases[i].pat, strlen(cases[i].pat), cases[i].s,
					  strlen(cases[i].s), false);
		if (got != cases[i].match)
			printf("    '%s' vs '%s': %d\n", cases[i].pat, cases[i].s, got);
		CHECK_EQ(got, cases[i].match);
	}
	CHECK(cmd_glob_match("MAX*", 4, "maxclients", 10, true));
	CHECK(!cmd_glob_match("MAX*", 4, "maxclients", 10, false));
	CHECK(cmd_glob_match("[A-C]x", 6, "bX", 2, true));
	/* binary bytes, NULs included */
	CHECK(cmd_glob_match("a?b", 3, "a\0b", 3, false));
	CHECK(cmd_glob_match("\xff*", 2, "\xff\x00z", 3, false));
	/* a long pathological case stays fast: 64 stars, 10,000 bytes */
	char pat[129], *s = malloc(10000);
	for (int i = 0; i < 64; i++)
		pat[2 * i] = 'a', pat[2 * i + 1] = '*';
	pat[128] = 'b';
	memset(s, 'a', 10000);
	CHECK(!cmd_glob_match(pat, 129, s, 10000, false));
	s[9999] = 'b';
	CHECK(cmd_glob_match(pat, 129, s, 10000, false));
	free(s);
}

/* A reference matcher (plain recursion) agrees on random short cases. */
static bool ref_match(const char *p, size_t pn, const char *s, size_t sn)
{
	if (pn == 0)
		return sn == 0;
	if (p[0] == '*')
		return ref_match(p + 1, pn - 1, s, sn) ||
		       (sn > 0 && ref_match(p, pn, s + 1, sn - 1));
	if (sn == 0)
		return false;
	if (p[0] == '?' || p[0] == s[0])
		return ref_match(p + 1, pn - 1, s + 1, sn - 1);
	return false;
}

TEST(glob_agrees_with_a_reference_on_random_cases)
{
	rp_prng r;
	rp_prng_init(&r, 3);
	const char alpha[] = "ab*?";
	for (int i = 0; i < 20000; i++) {
		char p[8], s[10];
		size_t pn = (size_t)rp_prng_below(&r, 8),
		       sn = (size_t)rp_prng_below(&r, 10);
		for (size_t k = 0; k < pn; k++)
			p[k] = alpha[rp_prng_below(&r, 4)];
		for (size_t k = 0; k < sn; k++)
			s[k] = alpha[rp_prng_below(&r, 2)];
		CHECK_EQ(cmd_glob_match(p, pn, s, sn, false), ref_match(p, pn, s, sn));
	}
}

TEST_MAIN()
