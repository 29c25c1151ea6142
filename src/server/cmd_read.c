/*
 * cmd_read.c — reads against the local state machine: GET MGET EXISTS
 * STRLEN TYPE TTL PTTL DBSIZE SCAN KEYS.  The server calls in only once
 * the read is safe (its read index is applied, or the connection opted
 * into stale reads), so nothing here waits or asks the cluster anything.
 *
 * The reserved range (CMD_META_PREFIX) is invisible: validation refuses
 * keys in it, and the walks (SCAN, KEYS, DBSIZE) jump over it — its keys
 * sort together, so one jump to the first key past the prefix does it.
 * DBSIZE and KEYS also run in steps (cmd_walk_*, cmd.h "Walks"), which the
 * server interleaves with everything else.
 */
#include <stdlib.h>
#include <string.h>

#include "server/cmd_internal.h"
#include "util/check.h"

/* The first key after every key that starts with CMD_META_PREFIX: the
 * prefix with its last byte ':' raised to ';'. */
static const uint8_t meta_end[CMD_META_PREFIX_LEN] = {0xff, 0x00, 'r', 'a', 's', 'p',
						      'u',  't',  'i', 'n', ';'};

/* A SCAN step stops early once its reply holds this many bytes of keys
 * (COUNT is a hint; a step of huge keys should not make a huge reply). */
enum { SCAN_REPLY_BYTES_MAX = 1 << 20 };

/* --- SCAN options ------------------------------------------------------------- */

typedef struct {
	uint64_t cursor;
	const struct resp_arg *match; /* NULL: every key */
	uint64_t count;
	bool strings; /* false: TYPE names a type no key has here */
} scan_opts;

static int scan_parse(size_t argc, const struct resp_arg *argv, scan_opts *o,
		      struct resp_out *out)
{
	memset(o, 0, sizeof(*o));
	o->count = 10;
	o->strings = true;
	if (!cmd_arg_u64(&argv[1], &o->cursor))
		return cmd_err(out, CMD_ERR_INVALID_CURSOR);
	for (size_t i = 2; i < argc; i += 2) {
		if (i + 1 >= argc)
			return cmd_err(out, CMD_ERR_SYNTAX);
		const struct resp_arg *v = &argv[i + 1];
		if (cmd_arg_is(&argv[i], "MATCH")) {
			o->match = v;
		} else if (cmd_arg_is(&argv[i], "COUNT")) {
			int64_t n;
			if (!cmd_arg_i64(v, &n))
				return cmd_err(out, CMD_ERR_NOT_INT);
			if (n < 1)
				return cmd_err(out, CMD_ERR_SYNTAX);
			o->count = (uint64_t)n;
		} else if (cmd_arg_is(&argv[i], "TYPE")) {
			/* Every key here is a string; any other name, known to
			 * Redis or not, matches nothing (Redis answers an unknown
			 * name with an empty walk too, not an error). */
			o->strings = cmd_arg_is(v, "STRING");
		} else {
			return cmd_err(out, CMD_ERR_SYNTAX);
		}
	}
	return 0;
}

int cmd_read_check(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		   const cmd_limits *lim, struct resp_out *out)
{
	(void)lim;
	if (spec->id == CMD_ID_SCAN) {
		scan_opts o;
		return scan_parse(argc, argv, &o, out);
	}
	return 0;
}

/* --- walks -------------------------------------------------------------------- */

/* What a walk keeps between callbacks.  found holds the matching keys,
 * each as a u32 length and the bytes. */
typedef struct {
	const struct resp_arg *match;
	bool strings;
	uint64_t budget;	    /* keys still to visit before stopping at the next */
	size_t found_bytes_max;	    /* the reply's bytes must stay within this */
	size_t reply_bytes;	    /* an upper bound of the reply's bytes so far */
	const uint8_t *stop_prefix; /* KEYS: stop at the first key without it */
	size_t stop_prefix_len;
	sm_buf found;
	uint64_t found_count;
	uint64_t visited;
	bool hit_meta; /* stopped at the reserved range */
	bool stopped;  /* stopped at a key to visit next: in next */
	bool halted;   /* the callback ended the walk (not at the reserved range) */
	bool too_big;  /* KEYS: over budget */
	sm_buf next;
	int err;
} walk;

static int walk_fn(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
		   size_t value_size)
{
	walk *w = ctx;
	(void)value;
	(void)value_size;
	if (w->stop_prefix != NULL &&
	    (key_size < w->stop_prefix_len ||
	     memcmp(key, w->stop_prefix, w->stop_prefix_len) != 0)) {
		w->halted = true;
		return 1; /* past the keys the pattern can match: done */
	}
	if (cmd_key_reserved((const char *)key, key_size)) {
		w->hit_meta = true;
		return 1;
	}
	/* A key costs at most its bytes plus 16 in the reply ("$", up to 10
	 * digits, two CRLFs); the first key always goes in (progress). */
	bool full = w->found_count > 0 && (w->reply_bytes > w->found_bytes_max ||
					   key_size + 16 > w->found_bytes_max - w->reply_bytes);
	if (w->budget == 0 || full) {
		w->stopped = true;
		w->halted = true;
		w->err = sm_buf_set(&w->next, key, key_size);
		return 1;
	}
	w->budget--;
	w->visited++;
	if (!w->strings)
		return 0;
	if (w->match != NULL && !cmd_glob_match(w->match->ptr, w->match->len,
						(const char *)key, key_size, false))
		return 0;
	uint8_t len[4];
	sm_put_u32(len, (uint32_t)key_size);
	w->err = sm_buf_append(&w->found, len, 4);
	if (w->err == RP_OK)
		w->err = sm_buf_append(&w->found, key, key_size);
	w->found_count++;
	w->reply_bytes += key_size + 16;
	if (w->err != RP_OK)
		w->halted = true;
	return w->err == RP_OK ? 0 : 1;
}

static int walk_key_fn(void *ctx, const uint8_t *key, size_t key_size)
{
	return walk_fn(ctx, key, key_size, NULL, 0);
}

/* Walks from start until the callback stops, jumping over the reserved
 * range once. */
static int walk_run(sm *m, walk *w, const uint8_t *start, size_t start_size)
{
	for (int round = 0;; round++) {
		RP_CHECK(round < 2); /* past the range no reserved key is left */
		w->hit_meta = false;
		int rc = sm_scan(m, start, start_size, UINT32_MAX, walk_fn, w);
		if (rc == RP_OK)
			rc = w->err;
		if (rc != RP_OK)
			return rc;
		if (!w->hit_meta)
			return RP_OK;
		start = meta_end;
		start_size = sizeof(meta_end);
	}
}

static void walk_init(walk *w)
{
	memset(w, 0, sizeof(*w));
	w->reply_bytes = 32; /* the array's header, and SCAN's cursor */
	sm_buf_init(&w->found);
	sm_buf_init(&w->next);
}

static void walk_deinit(walk *w)
{
	sm_buf_deinit(&w->found);
	sm_buf_deinit(&w->next);
}

/* Appends the keys in w->found as an array of bulk strings. */
static int add_found(struct resp_out *out, const walk *w)
{
	int rc = resp_add_array(out, w->found_count);
	const uint8_t *p = w->found.data, *end = p + w->found.size;
	while (rc == 0 && p < end) {
		uint32_t n = sm_get_u32(p);
		rc = resp_add_bulk(out, (const char *)p + 4, n);
		p += 4 + n;
	}
	return rc;
}

static int do_scan(size_t argc, const struct resp_arg *argv, sm *m, cmd_cursors *cur,
		   struct resp_out *out)
{
	RP_CHECK(cur != NULL);
	scan_opts o;
	int rc = scan_parse(argc, argv, &o, out);
	if (rc < 0)
		return out->err ? out->err : 0;
	uint32_t slot = CMD_CURSOR_NONE;
	const uint8_t *start = NULL;
	size_t start_size = 0;
	if (o.cursor != 0 && !cmd_cursors_find(cur, o.cursor, &slot, &start, &start_size))
		return resp_add_error(out, CMD_ERR_INVALID_CURSOR,
				      strlen(CMD_ERR_INVALID_CURSOR));
	walk w;
	walk_init(&w);
	w.match = o.match;
	w.strings = o.strings;
	w.budget =
	    o.count < cmd_cursors_max_count(cur) ? o.count : cmd_cursors_max_count(cur);
	w.found_bytes_max = SCAN_REPLY_BYTES_MAX;
	rc = walk_run(m, &w, start, start_size);
	uint64_t next_id = 0;
	if (rc == RP_OK && w.stopped)
		rc = cmd_cursors_save(cur, slot, w.next.data, w.next.size, &next_id);
	else if (rc == RP_OK && slot != CMD_CURSOR_NONE)
		cmd_cursors_release(cur, slot);
	if (rc == RP_OK) {
		uint8_t text[20];
		size_t n = sm_format_i64((int64_t)next_id, text);
		rc = resp_add_array(out, 2);
		if (rc == 0)
			rc = resp_add_bulk(out, (const char *)text, n);
		if (rc == 0)
			rc = add_found(out, &w);
	}
	walk_deinit(&w);
	return rc;
}

/* The bytes every key matching pat must start with (the pattern up to its
 * first wildcard, escapes resolved) into buf; its length. */
static size_t literal_prefix(const struct resp_arg *pat, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < pat->len && n < cap; i++) {
		char c = pat->ptr[i];
		if (c == '*' || c == '?' || c == '[')
			break;
		if (c == '\\') {
			if (i + 1 == pat->len)
				break;
			c = pat->ptr[++i];
		}
		buf[n++] = (uint8_t)c;
	}
	return n;
}

/* "ERR internal error: ..." for a store (or allocation) failure. */
static int add_internal_error(sm *m, int rc, struct resp_out *out)
{
	return resp_add_errorf(out, "ERR internal error: %s%s%s", rp_strerror(rc),
			       sm_error_detail(m)[0] ? ": " : "", sm_error_detail(m));
}

/* --- DBSIZE and KEYS, in steps (cmd.h, "Walks") ------------------------------------ */

struct cmd_walk {
	uint32_t id; /* CMD_ID_DBSIZE or CMD_ID_KEYS */
	sm *m;
	sm_walk *sw; /* NULL once done */
	walk w;
	struct resp_arg match; /* KEYS: the pattern, in pattern[] */
	uint8_t prefix[256];   /* KEYS: what every match starts with */
	bool jumped;	       /* past the reserved range */
	bool done;
	int err;
	char pattern[];
};

bool cmd_read_is_walk(const cmd_spec *spec)
{
	return spec->id == CMD_ID_DBSIZE || spec->id == CMD_ID_KEYS;
}

static void walk_finish(cmd_walk *cw, int err)
{
	cw->done = true;
	if (cw->err == RP_OK)
		cw->err = err;
	sm_walk_close(cw->sw); /* let the store drop what the view pinned */
	cw->sw = NULL;
}

int cmd_walk_start(const cmd_spec *spec, size_t argc, const struct resp_arg *argv, sm *m,
		   size_t room, cmd_walk **out)
{
	RP_CHECK(cmd_read_is_walk(spec) && argc >= 1 && m != NULL);
	*out = NULL;
	bool keys = spec->id == CMD_ID_KEYS;
	RP_CHECK(!keys || argc >= 2);
	size_t plen = keys ? argv[1].len : 0;
	cmd_walk *cw = calloc(1, sizeof(*cw) + plen + 1);
	if (cw == NULL)
		return RP_ERR_NOMEM;
	cw->id = spec->id;
	cw->m = m;
	walk_init(&cw->w);
	size_t prefix_len = 0;
	if (keys) {
		if (plen)
			memcpy(cw->pattern, argv[1].ptr, plen);
		cw->match.ptr = cw->pattern;
		cw->match.len = plen;
		prefix_len = literal_prefix(&cw->match, cw->prefix, sizeof(cw->prefix));
		cw->w.match = &cw->match;
		cw->w.strings = true;
		cw->w.budget = CMD_KEYS_MAX_VISIT;
		cw->w.found_bytes_max = room;
		cw->w.stop_prefix = prefix_len > 0 ? cw->prefix : NULL;
		cw->w.stop_prefix_len = prefix_len;
	} else {
		cw->w.strings = false; /* count, keep nothing */
		cw->w.budget = UINT64_MAX;
		cw->w.found_bytes_max = SIZE_MAX;
	}
	int rc = sm_walk_open(m, &cw->sw);
	if (rc == RP_OK && prefix_len > 0)
		rc = sm_walk_seek(cw->sw, cw->prefix, prefix_len);
	if (rc != RP_OK)
		walk_finish(cw, rc); /* answered as an internal error */
	*out = cw;
	return RP_OK;
}

int cmd_walk_step(cmd_walk *cw, uint32_t keys, bool *done)
{
	if (!cw->done) {
		bool end = false;
		int rc = sm_walk_step(cw->sw, keys, walk_key_fn, &cw->w, &end);
		if (rc == RP_OK)
			rc = cw->w.err;
		if (rc != RP_OK) {
			walk_finish(cw, rc);
		} else if (cw->w.hit_meta) {
			/* Its keys sort together: one jump past them does it. */
			RP_CHECK(!cw->jumped);
			cw->jumped = true;
			cw->w.hit_meta = false;
			rc = sm_walk_seek(cw->sw, meta_end, sizeof(meta_end));
			if (rc != RP_OK)
				walk_finish(cw, rc);
		} else if (cw->w.halted || end) {
			walk_finish(cw, RP_OK);
		}
	}
	*done = cw->done;
	return cw->err;
}

int cmd_walk_reply(cmd_walk *cw, struct resp_out *out)
{
	static const char too_many[] =
	    "ERR KEYS would visit more than 1000000 keys; use SCAN instead";
	static const char too_big[] = "ERR KEYS reply would be too large; use SCAN instead";
	RP_CHECK(cw->done);
	if (cw->err != RP_OK)
		return add_internal_error(cw->m, cw->err, out);
	if (cw->id == CMD_ID_DBSIZE)
		return resp_add_int(out, (int64_t)cw->w.visited);
	if (cw->w.stopped && cw->w.budget == 0)
		return resp_add_error(out, too_many, strlen(too_many));
	if (cw->w.stopped)
		return resp_add_error(out, too_big, strlen(too_big));
	return add_found(out, &cw->w);
}

void cmd_walk_free(cmd_walk *cw)
{
	if (cw == NULL)
		return;
	sm_walk_close(cw->sw);
	walk_deinit(&cw->w);
	free(cw);
}

/* The whole walk at once (cmd_read_exec). */
static int do_walk(const cmd_spec *spec, size_t argc, const struct resp_arg *argv, sm *m,
		   struct resp_out *out)
{
	RP_CHECK(out->len <= out->limit_bytes);
	cmd_walk *cw;
	int rc = cmd_walk_start(spec, argc, argv, m, out->limit_bytes - out->len, &cw);
	if (rc != RP_OK)
		return rc;
	bool done = false;
	while (!done)
		(void)cmd_walk_step(cw, UINT32_MAX, &done);
	rc = cmd_walk_reply(cw, out);
	cmd_walk_free(cw);
	return rc;
}

/* --- single keys ----------------------------------------------------------------- */

/* val borrows from m until the next read (sm_get_ref): each value goes
 * into the reply before the next key is read. */
static int get_key(sm *m, const struct resp_arg *k, sm_value *val)
{
	const uint8_t *v;
	size_t n;
	bool found;
	int rc = sm_get_ref(m, (const uint8_t *)k->ptr, k->len, &v, &n, &found);
	val->present = found;
	val->size = (uint32_t)n;
	val->data = v;
	return rc;
}

static int do_keyed(const cmd_spec *spec, size_t argc, const struct resp_arg *argv, sm *m,
		    int proto, struct resp_out *out)
{
	sm_value val = {false, 0, NULL};
	int rc = 0;
	switch (spec->id) {
	case CMD_ID_MGET:
		/* On a store error cmd_read_exec takes the partial array back. */
		rc = resp_add_array(out, argc - 1);
		for (size_t i = 1; i < argc && rc == 0; i++) {
			rc = get_key(m, &argv[i], &val);
			if (rc == 0)
				rc = val.present ? resp_add_bulk(out, (const char *)val.data,
								 val.size)
						 : resp_add_null(out, proto);
		}
		break;
	case CMD_ID_EXISTS: {
		int64_t n = 0;
		for (size_t i = 1; i < argc && rc == 0; i++) {
			rc = get_key(m, &argv[i], &val);
			n += val.present ? 1 : 0;
		}
		if (rc == 0)
			rc = resp_add_int(out, n);
		break;
	}
	default:
		rc = get_key(m, &argv[1], &val);
		if (rc != 0)
			break;
		if (spec->id == CMD_ID_GET)
			rc = val.present ? resp_add_bulk(out, (const char *)val.data, val.size)
					 : resp_add_null(out, proto);
		else if (spec->id == CMD_ID_STRLEN)
			rc = resp_add_int(out, val.present ? (int64_t)val.size : 0);
		else if (spec->id == CMD_ID_TYPE)
			rc = val.present ? resp_add_simple(out, "string", 6)
					 : resp_add_simple(out, "none", 4);
		else if (spec->id == CMD_ID_TTL || spec->id == CMD_ID_PTTL)
			rc = resp_add_int(out, val.present ? -1 : -2);
		else
			RP_CHECK(0); /* a READ spec without an executor */
		break;
	}
	return rc;
}

int cmd_read_exec(const cmd_spec *spec, size_t argc, const struct resp_arg *argv, sm *m,
		  cmd_cursors *cur, int proto, struct resp_out *out)
{
	RP_CHECK(spec != NULL && (spec->flags & CMD_F_READ));
	RP_CHECK(argc >= 1 && argv != NULL && m != NULL && out != NULL);
	if (out->err != 0)
		return out->err;
	size_t start = out->len;
	int rc;
	switch (spec->id) {
	case CMD_ID_SCAN:
		rc = do_scan(argc, argv, m, cur, out);
		break;
	case CMD_ID_KEYS:
	case CMD_ID_DBSIZE:
		rc = do_walk(spec, argc, argv, m, out);
		break;
	default:
		rc = do_keyed(spec, argc, argv, m, proto, out);
		break;
	}
	if (rc == 0 || out->err != 0)
		return out->err != 0 ? out->err : 0;
	/* The store (or an allocation of ours) failed: take back the partial
	 * reply and say so. */
	out->len = start;
	int r = add_internal_error(m, rc, out);
	return r < 0 ? r : rc;
}
