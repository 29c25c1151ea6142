/*
 * resp_parse.c — the two resumable RESP parsers: resp_req (requests, on the
 * server) and resp_reader (replies, in the client).  Both are byte-driven
 * state machines whose whole state lives in a caller-owned struct, so input
 * may arrive in any fragmentation.  The rules that keep a hostile peer from
 * hurting us:
 *   - every count and length is checked against struct resp_limits while
 *     its digits arrive, so an endless or huge number fails at once;
 *   - buffers grow only when payload bytes arrive, to at most twice what
 *     arrived (and never past the claimed size), so a claimed length
 *     reserves nothing;
 *   - the first error poisons the parser; nothing is read after it.
 */
#include "net/resp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

/* Buffers above this size are freed between commands, so one big request
 * does not pin its memory to an idle connection. */
#define RESP_KEEP_BYTES ((size_t)64 << 10)
#define RESP_KEEP_ARGS ((size_t)1024)

static void limits_check(const struct resp_limits *lim)
{
	RP_CHECK(lim->count_max > 0);
	RP_CHECK(lim->count_max <= SIZE_MAX / 64);
	RP_CHECK(lim->bulk_bytes_max > 0);
	RP_CHECK(lim->bulk_bytes_max <= SIZE_MAX / 4);
	RP_CHECK(lim->inline_bytes_max > 0);
	RP_CHECK(lim->inline_bytes_max <= SIZE_MAX / 4);
	RP_CHECK(lim->total_bytes_max > 0);
	RP_CHECK(lim->total_bytes_max <= SIZE_MAX / 4);
	RP_CHECK(lim->depth_max > 0);
	RP_CHECK(lim->depth_max <= RESP_DEPTH_LIMIT);
}

/*
 * Makes *cap >= need.  The new capacity doubles the old one but stays at or
 * below hint (the most the caller can ever need here) unless need is
 * larger.  Callers pass need = bytes actually present plus a constant, so
 * memory follows the data, not the claims.
 */
static int grow_bytes(void **buf, size_t *cap, size_t need, size_t hint, size_t unit)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64 / unit + 1;
	if (n > hint)
		n = hint;
	if (n < need)
		n = need;
	RP_CHECK(n <= SIZE_MAX / unit);
	void *q = realloc(*buf, n * unit);
	if (q == NULL)
		return RP_ERR_NOMEM;
	*buf = q;
	*cap = n;
	return 0;
}

static void describe_byte(char *out, size_t size, const char *prefix, char c)
{
	unsigned char u = (unsigned char)c;
	if (u >= 0x20 && u < 0x7f)
		snprintf(out, size, "%s'%c'", prefix, c);
	else
		snprintf(out, size, "%s'\\x%02x'", prefix, u);
}

/* ---------------------------------------------------------------------------
 * Decimal header numbers (`*N`, `$len`), read one byte at a time.
 * Grammar: "-1" | "0" | [1-9][0-9]*, then "\r\n".  The value is checked
 * against max as each digit arrives.
 */
enum {
	NUM_START = 0,
	NUM_MINUS,  /* saw '-': only "-1" is valid */
	NUM_MINUS1, /* saw "-1" */
	NUM_ZERO,   /* saw "0": no more digits */
	NUM_DIGITS,
	NUM_CR,	    /* saw '\r' after a valid number */
	NUM_CR_NEG, /* saw '\r' after "-1" */
};

enum { NUM_MORE = 0, NUM_DONE = 1, NUM_DONE_MINUS1 = 2, NUM_BAD = -1 };

static int num_step(uint64_t *v, int *st, char c, uint64_t max)
{
	unsigned d = (unsigned)(unsigned char)c - '0';
	switch (*st) {
	case NUM_START:
		if (c == '-') {
			*st = NUM_MINUS;
			return NUM_MORE;
		}
		if (d > 9)
			return NUM_BAD;
		*v = d;
		*st = d == 0 ? NUM_ZERO : NUM_DIGITS;
		return *v > max ? NUM_BAD : NUM_MORE;
	case NUM_MINUS:
		if (c != '1')
			return NUM_BAD;
		*st = NUM_MINUS1;
		return NUM_MORE;
	case NUM_MINUS1:
		if (c != '\r')
			return NUM_BAD;
		*st = NUM_CR_NEG;
		return NUM_MORE;
	case NUM_ZERO:
	case NUM_DIGITS:
		if (c == '\r') {
			*st = NUM_CR;
			return NUM_MORE;
		}
		if (*st == NUM_ZERO || d > 9)
			return NUM_BAD;
		if (*v > max / 10 || *v * 10 + d > max)
			return NUM_BAD;
		*v = *v * 10 + d;
		return NUM_MORE;
	case NUM_CR:
		return c == '\n' ? NUM_DONE : NUM_BAD;
	case NUM_CR_NEG:
		return c == '\n' ? NUM_DONE_MINUS1 : NUM_BAD;
	default:
		RP_CHECK(0);
		return NUM_BAD;
	}
}

/* ---------------------------------------------------------------------------
 * Request parser.
 */
enum {
	REQ_START = 0, /* before the first byte of a command */
	REQ_INLINE,    /* inside an inline line */
	REQ_MB_COUNT,  /* after '*', reading N */
	REQ_DOLLAR,    /* expecting the '$' of the next element */
	REQ_BULK_LEN,  /* after '$', reading len */
	REQ_BULK_DATA, /* bulk_left payload bytes to come */
	REQ_BULK_CR,
	REQ_BULK_LF,
};

void resp_req_init(struct resp_req *p, const struct resp_limits *lim)
{
	RP_CHECK(p != NULL);
	memset(p, 0, sizeof(*p));
	if (lim != NULL)
		p->lim = *lim;
	else
		resp_limits_default(&p->lim);
	limits_check(&p->lim);
	p->state = REQ_START;
}

void resp_req_deinit(struct resp_req *p)
{
	if (p == NULL)
		return;
	free(p->data);
	free(p->argv);
	p->data = NULL;
	p->argv = NULL;
	p->data_len = p->data_cap = 0;
	p->argc = p->argv_cap = 0;
}

const char *resp_req_errmsg(const struct resp_req *p)
{
	return p->errmsg;
}

size_t resp_req_memory_bytes(const struct resp_req *p)
{
	return p->data_cap + p->argv_cap * sizeof(struct resp_arg);
}

bool resp_req_pending(const struct resp_req *p)
{
	return p->state != REQ_START;
}

static int req_fail(struct resp_req *p, int rc)
{
	RP_CHECK(rc < 0);
	resp_req_deinit(p); /* a poisoned parser holds nothing */
	p->err = rc;
	snprintf(p->errmsg, sizeof(p->errmsg), "%s", resp_strerror(rc));
	return rc;
}

/* Forgets the command just yielded (or skipped); frees oversized buffers. */
static void req_reset(struct resp_req *p)
{
	p->data_len = 0;
	p->argc = 0;
	p->mb_count = 0;
	p->yielded = false;
	p->state = REQ_START;
	if (p->data_cap > RESP_KEEP_BYTES) {
		free(p->data);
		p->data = NULL;
		p->data_cap = 0;
	}
	if (p->argv_cap > RESP_KEEP_ARGS) {
		free(p->argv);
		p->argv = NULL;
		p->argv_cap = 0;
	}
}

/* Would holding extra more data bytes and args more arguments pass the
 * per-command bound? */
static bool req_over_total(const struct resp_req *p, size_t extra, size_t args)
{
	size_t argv_bytes = (p->argc + args) * sizeof(struct resp_arg);
	size_t max = p->lim.total_bytes_max;
	return argv_bytes > max || p->data_len > max - argv_bytes ||
	       extra > max - argv_bytes - p->data_len;
}

/* Appends one argument entry of length len (its bytes come separately). */
static int req_push_arg(struct resp_req *p, size_t len, size_t hint)
{
	if (req_over_total(p, 0, 1))
		return RESP_ERR_TOO_BIG;
	void *argv = p->argv;
	int rc =
	    grow_bytes(&argv, &p->argv_cap, p->argc + 1, hint, sizeof(struct resp_arg));
	p->argv = argv;
	if (rc < 0)
		return rc;
	p->argv[p->argc].ptr = NULL;
	p->argv[p->argc].len = len;
	p->argc++;
	return 0;
}

/* Makes room for data_len + n bytes (bytes that have arrived, or a NUL). */
static int req_reserve(struct resp_req *p, size_t n, size_t hint)
{
	if (req_over_total(p, n, 0))
		return RESP_ERR_TOO_BIG;
	void *data = p->data;
	int rc = grow_bytes(&data, &p->data_cap, p->data_len + n, hint, 1);
	p->data = data;
	return rc;
}

static int req_append(struct resp_req *p, const char *s, size_t n, size_t hint)
{
	int rc = req_reserve(p, n, hint);
	if (rc < 0)
		return rc;
	if (n > 0)
		memcpy(p->data + p->data_len, s, n);
	p->data_len += n;
	return 0;
}

/* Points every argv entry at its bytes: they lie back to back in data,
 * each followed by its NUL. */
static void req_finish(struct resp_req *p, struct resp_cmd *cmd, bool is_inline)
{
	size_t off = 0;
	RP_CHECK(p->argc > 0);
	for (size_t i = 0; i < p->argc; i++) {
		RP_CHECK(off + p->argv[i].len < p->data_len + 1);
		p->argv[i].ptr = p->data + off;
		RP_CHECK(p->data[off + p->argv[i].len] == '\0');
		off += p->argv[i].len + 1;
	}
	RP_CHECK(off == p->data_len);
	cmd->argc = p->argc;
	cmd->argv = p->argv;
	cmd->is_inline = is_inline;
	p->yielded = true;
	p->state = REQ_START;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Splits the inline line in data[0..data_len) into arguments, in place:
 * decoding never writes past the byte it reads (w <= r), plus one NUL at
 * the end for which data_cap > data_len was reserved.
 */
static int req_split_inline(struct resp_req *p)
{
	char *d = p->data;
	size_t n = p->data_len, r = 0, w = 0;
	RP_CHECK(p->data_cap > n);
	if (n > 0 && d[n - 1] == '\r')
		n--;
	for (;;) {
		while (r < n && is_blank(d[r]))
			r++;
		if (r == n)
			break;
		size_t start = w;
		char q = d[r];
		if (q == '"' || q == '\'') {
			bool closed = false;
			r++;
			while (r < n) {
				char c = d[r++];
				if (c == q) {
					closed = true;
					break;
				}
				if (c == '\\' && r < n) {
					char e = d[r];
					if (q == '\'') {
						if (e == '\'') {
							c = e;
							r++;
						}
					} else {
						r++;
						switch (e) {
						case 'n':
							c = '\n';
							break;
						case 'r':
							c = '\r';
							break;
						case 't':
							c = '\t';
							break;
						case 'b':
							c = '\b';
							break;
						case 'a':
							c = '\a';
							break;
						case 'x':
							if (r + 1 < n &&
							    hex_value(d[r]) >= 0 &&
							    hex_value(d[r + 1]) >= 0) {
								c = (char)(hex_value(
									       d[r]) *
									       16 +
									   hex_value(
									       d[r + 1]));
								r += 2;
							} else {
								c = 'x';
							}
							break;
						default:
							c = e;
							break;
						}
					}
				}
				RP_CHECK(w < r);
				d[w++] = c;
			}
			if (!closed || (r < n && !is_blank(d[r])))
				return RESP_ERR_UNBALANCED_QUOTES;
		} else {
			while (r < n && !is_blank(d[r]))
				d[w++] = d[r++];
		}
		if (r < n)
			r++; /* the blank after the word: w < r from here */
		RP_CHECK(w < p->data_cap);
		d[w++] = '\0';
		/* Accounting still sees the raw line: an overestimate. */
		int rc = req_push_arg(p, w - 1 - start, n / 2 + 1);
		if (rc < 0)
			return rc;
	}
	p->data_len = w;
	return 0;
}

int resp_req_parse(struct resp_req *p, const char *buf, size_t len, size_t *consumed,
		   struct resp_cmd *cmd)
{
	RP_CHECK(p != NULL);
	RP_CHECK(consumed != NULL);
	RP_CHECK(cmd != NULL);
	RP_CHECK(buf != NULL || len == 0);
	*consumed = 0;
	memset(cmd, 0, sizeof(*cmd));
	if (p->err)
		return p->err;
	if (p->yielded)
		req_reset(p);

	size_t i = 0;
	int rc = 0;
	while (i < len) {
		char c = buf[i];
		switch (p->state) {
		case REQ_START:
			if (c == '*') {
				p->state = REQ_MB_COUNT;
				p->num = 0;
				p->num_state = NUM_START;
				i++;
			} else {
				p->state = REQ_INLINE;
			}
			break;

		case REQ_INLINE: {
			const char *nl = memchr(buf + i, '\n', len - i);
			size_t take = nl ? (size_t)(nl - (buf + i)) : len - i;
			/* Two bounds apply; report the one the line crosses
			 * first, so the error does not depend on how the
			 * bytes were cut (ties go to the inline bound). */
			size_t room_inline = p->lim.inline_bytes_max - p->data_len;
			size_t room_total =
			    req_over_total(p, 1, 0)
				? 0
				: p->lim.total_bytes_max - p->data_len - 1;
			if (take > room_inline || take > room_total)
				return req_fail(p, room_total < room_inline
						       ? RESP_ERR_TOO_BIG
						       : RESP_ERR_INLINE_TOO_BIG);
			/* +1: room for the NUL req_split_inline may add. */
			rc = req_reserve(p, take + 1, p->lim.inline_bytes_max + 1);
			if (rc == 0)
				rc = req_append(p, buf + i, take,
						p->lim.inline_bytes_max + 1);
			if (rc < 0)
				return req_fail(p, rc);
			i += take;
			if (nl == NULL)
				break;
			i++; /* the '\n' */
			rc = req_split_inline(p);
			if (rc < 0)
				return req_fail(p, rc);
			if (p->argc == 0) {
				req_reset(p); /* a blank line: no command */
				break;
			}
			req_finish(p, cmd, true);
			*consumed = i;
			return 1;
		}

		case REQ_MB_COUNT:
		case REQ_BULK_LEN: {
			bool count = p->state == REQ_MB_COUNT;
			uint64_t max = count ? p->lim.count_max : p->lim.bulk_bytes_max;
			int r = num_step(&p->num, &p->num_state, c, max);
			i++;
			if (r == NUM_MORE)
				break;
			if (r == NUM_BAD || (r == NUM_DONE_MINUS1 && !count))
				return req_fail(p, count ? RESP_ERR_MULTIBULK_LEN
							 : RESP_ERR_BULK_LEN);
			if (count) {
				if (r == NUM_DONE_MINUS1 || p->num == 0) {
					req_reset(p); /* "*0" and "*-1": no command */
					break;
				}
				p->mb_count = (size_t)p->num;
				p->state = REQ_DOLLAR;
				break;
			}
			p->bulk_len = (size_t)p->num;
			/* Refuse a claim that cannot fit before any byte of it. */
			if (req_over_total(p, p->bulk_len + 1, 1))
				return req_fail(p, RESP_ERR_TOO_BIG);
			rc = req_push_arg(p, p->bulk_len, p->mb_count);
			if (rc < 0)
				return req_fail(p, rc);
			p->bulk_left = p->bulk_len;
			p->state = p->bulk_left ? REQ_BULK_DATA : REQ_BULK_CR;
			break;
		}

		case REQ_DOLLAR:
			if (c != '$') {
				req_fail(p, RESP_ERR_EXPECTED_DOLLAR);
				describe_byte(p->errmsg, sizeof(p->errmsg),
					      "Protocol error: expected '$', got ", c);
				return p->err;
			}
			p->num = 0;
			p->num_state = NUM_START;
			p->state = REQ_BULK_LEN;
			i++;
			break;

		case REQ_BULK_DATA: {
			size_t take = len - i < p->bulk_left ? len - i : p->bulk_left;
			/* hint: this bulk's end plus its NUL, never beyond. */
			rc = req_append(p, buf + i, take, p->data_len + p->bulk_left + 1);
			if (rc < 0)
				return req_fail(p, rc);
			i += take;
			p->bulk_left -= take;
			if (p->bulk_left == 0)
				p->state = REQ_BULK_CR;
			break;
		}

		case REQ_BULK_CR:
		case REQ_BULK_LF:
			if (c != (p->state == REQ_BULK_CR ? '\r' : '\n')) {
				req_fail(p, RESP_ERR_EXPECTED_CRLF);
				describe_byte(
				    p->errmsg, sizeof(p->errmsg),
				    "Protocol error: expected CRLF after bulk, got ", c);
				return p->err;
			}
			i++;
			if (p->state == REQ_BULK_CR) {
				p->state = REQ_BULK_LF;
				break;
			}
			rc = req_append(p, "", 1, p->data_len + 1);
			if (rc < 0)
				return req_fail(p, rc);
			if (p->argc < p->mb_count) {
				p->state = REQ_DOLLAR;
				break;
			}
			req_finish(p, cmd, false);
			*consumed = i;
			return 1;

		default:
			RP_CHECK(0);
		}
	}
	*consumed = len;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Reply reader.
 */
enum {
	RD_TYPE = 0, /* expecting a type byte */
	RD_LINE,     /* reading a line into line[] */
	RD_LINE_LF,  /* saw its '\r' */
	RD_BULK,     /* reading bulk_len payload bytes into line[] */
	RD_BULK_CR,
	RD_BULK_LF,
};

void resp_reader_init(struct resp_reader *r, const struct resp_limits *lim)
{
	RP_CHECK(r != NULL);
	memset(r, 0, sizeof(*r));
	if (lim != NULL)
		r->lim = *lim;
	else
		resp_limits_default(&r->lim);
	limits_check(&r->lim);
	r->state = RD_TYPE;
}

static void value_clear(struct resp_value *v)
{
	for (size_t i = 0; i < v->count; i++)
		value_clear(&v->elems[i]);
	free(v->elems);
	free(v->str);
	memset(v, 0, sizeof(*v));
}

void resp_value_free(struct resp_value *v)
{
	if (v == NULL)
		return;
	value_clear(v);
	free(v);
}

/* Frees the partial reply; keeps the line buffer unless it is big. */
static void reader_drop(struct resp_reader *r)
{
	for (size_t i = 0; i < r->depth; i++)
		value_clear(&r->stack[i].agg);
	r->depth = 0;
	if (r->line_cap > RESP_KEEP_BYTES) {
		free(r->line);
		r->line = NULL;
		r->line_cap = 0;
	}
	r->line_len = 0;
	r->total_bytes = r->line_cap;
	r->state = RD_TYPE;
}

void resp_reader_deinit(struct resp_reader *r)
{
	if (r == NULL)
		return;
	reader_drop(r);
	free(r->line);
	r->line = NULL;
	r->line_cap = 0;
	r->total_bytes = 0;
}

const char *resp_reader_errmsg(const struct resp_reader *r)
{
	return r->errmsg;
}

size_t resp_reader_memory_bytes(const struct resp_reader *r)
{
	return r->total_bytes;
}

static int reader_fail(struct resp_reader *r, int rc)
{
	RP_CHECK(rc < 0);
	reader_drop(r);
	free(r->line); /* a poisoned reader holds nothing */
	r->line = NULL;
	r->line_cap = 0;
	r->total_bytes = 0;
	r->err = rc;
	if (r->errmsg[0] == '\0')
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", resp_strerror(rc));
	return rc;
}

/*
 * Grows line[] to hold need bytes.  The bound: the finished parts of the
 * reply plus line[] stay within total_bytes_max.  Capacity only ever goes
 * up to that bound, so doubling never passes it.
 */
static int reader_line_grow(struct resp_reader *r, size_t need, size_t hint)
{
	size_t old = r->line_cap;
	if (need <= old)
		return 0;
	RP_CHECK(r->total_bytes >= old);
	size_t other = r->total_bytes - old;
	size_t max = r->lim.total_bytes_max;
	if (other > max || need > max - other)
		return RESP_ERR_TOO_BIG;
	if (hint > max - other)
		hint = max - other;
	void *line = r->line;
	int rc = grow_bytes(&line, &r->line_cap, need, hint, 1);
	r->line = line;
	if (rc < 0)
		return rc;
	r->total_bytes = other + r->line_cap;
	return 0;
}

/* How many more bytes line[] may take before the reply passes
 * total_bytes_max, keeping one for the NUL.  Independent of line_cap, so
 * of how the input was cut. */
static size_t reader_line_room(const struct resp_reader *r)
{
	RP_CHECK(r->total_bytes >= r->line_cap);
	size_t other = r->total_bytes - r->line_cap; /* the finished parts */
	size_t max = r->lim.total_bytes_max;
	if (other >= max || max - other < r->line_len + 1)
		return 0;
	return max - other - r->line_len - 1;
}

/* Moves line[] into a string value (no copy); line[line_len] is NUL. */
static void reader_take_line(struct resp_reader *r, struct resp_value *v,
			     enum resp_type t)
{
	RP_CHECK(r->line != NULL);
	RP_CHECK(r->line[r->line_len] == '\0');
	/* Trim to size: memory in a finished tree is exactly len + 1 per
	 * string, whatever growth path the bytes took, so the total bound
	 * fails at the same byte however the input was cut. */
	if (r->line_cap > r->line_len + 1) {
		char *q = realloc(r->line, r->line_len + 1);
		if (q != NULL) {
			r->total_bytes -= r->line_cap - (r->line_len + 1);
			r->line = q;
			r->line_cap = r->line_len + 1;
		}
	}
	v->type = t;
	v->str = r->line;
	v->len = r->line_len;
	r->line = NULL;
	r->line_cap = 0;
	r->line_len = 0;
}

static bool parse_i64(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t v = 0, max = (uint64_t)INT64_MAX;
	if (n > 0 && s[0] == '-') {
		neg = true;
		max = (uint64_t)INT64_MAX + 1;
		i = 1;
	}
	if (i == n || n - i > 20)
		return false;
	for (; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9 || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return true;
}

static bool is_bignum(const char *s, size_t n)
{
	size_t i = n > 0 && s[0] == '-';
	if (i == n)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool parse_double(const char *s, size_t n, double *out)
{
	if ((n == 3 && memcmp(s, "inf", 3) == 0) ||
	    (n == 4 && memcmp(s, "+inf", 4) == 0)) {
		*out = INFINITY;
		return true;
	}
	if (n == 4 && memcmp(s, "-inf", 4) == 0) {
		*out = -INFINITY;
		return true;
	}
	if (n == 3 && memcmp(s, "nan", 3) == 0) {
		*out = NAN;
		return true;
	}
	if (n == 0 || n > 400)
		return false;
	bool digit = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			digit = true;
		else if (c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E')
			return false;
	}
	if (!digit)
		return false;
	char *end = NULL;
	*out = strtod(s, &end); /* s[n] is NUL */
	return end == s + n;
}

/*
 * A value is complete: attach it to the innermost open aggregate, closing
 * every aggregate it completes.  Returns 1 with *out set when the whole
 * reply is complete, 0 when more is needed, or an error.
 */
static int reader_complete(struct resp_reader *r, struct resp_value v, bool attribute,
			   struct resp_value **out)
{
	for (;;) {
		if (attribute) {
			/* Attributes describe the next value; we drop them and
			 * the next value fills the slot. */
			value_clear(&v);
			return 0;
		}
		if (r->depth == 0) {
			struct resp_value *root = malloc(sizeof(*root));
			if (root == NULL) {
				value_clear(&v);
				return RP_ERR_NOMEM;
			}
			*root = v;
			*out = root;
			return 1;
		}
		struct resp_reader_frame *f = &r->stack[r->depth - 1];
		RP_CHECK(f->need > 0);
		if (f->agg.count == f->agg.elems_cap) {
			size_t old = f->agg.elems_cap;
			void *elems = f->agg.elems;
			int rc =
			    grow_bytes(&elems, &f->agg.elems_cap, old + 1,
				       f->agg.count + f->need, sizeof(struct resp_value));
			f->agg.elems = elems;
			if (rc < 0) {
				value_clear(&v);
				return rc;
			}
			size_t grown =
			    (f->agg.elems_cap - old) * sizeof(struct resp_value);
			r->total_bytes += grown;
			/* Judge the finished parts only: line_cap depends on
			 * how the input was cut (a line never exceeds
			 * inline_bytes_max + 1 bytes anyway). */
			if (r->total_bytes - r->line_cap > r->lim.total_bytes_max) {
				value_clear(&v);
				return RESP_ERR_TOO_BIG;
			}
		}
		f->agg.elems[f->agg.count++] = v;
		f->need--;
		if (f->need > 0)
			return 0;
		v = f->agg;
		attribute = f->attribute;
		memset(&f->agg, 0, sizeof(f->agg));
		r->depth--;
	}
}

/* A whole line (type r->type, bytes line[0..line_len), NUL after) arrived. */
static int reader_line(struct resp_reader *r, struct resp_value **out)
{
	struct resp_value v;
	memset(&v, 0, sizeof(v));
	const char *s = r->line;
	size_t n = r->line_len;
	int64_t num = 0;
	char t = r->type;

	switch (t) {
	case '+':
	case '-':
		reader_take_line(r, &v, t == '+' ? RESP_T_SIMPLE : RESP_T_ERROR);
		return reader_complete(r, v, false, out);
	case '(':
		if (!is_bignum(s, n))
			return RESP_ERR_BAD_BIGNUM;
		reader_take_line(r, &v, RESP_T_BIGNUM);
		return reader_complete(r, v, false, out);
	case ':':
		if (!parse_i64(s, n, &v.integer))
			return RESP_ERR_BAD_INTEGER;
		v.type = RESP_T_INTEGER;
		break;
	case ',':
		if (!parse_double(s, n, &v.dbl))
			return RESP_ERR_BAD_DOUBLE;
		v.type = RESP_T_DOUBLE;
		break;
	case '#':
		if (n != 1 || (s[0] != 't' && s[0] != 'f'))
			return RESP_ERR_BAD_BOOL;
		v.type = RESP_T_BOOL;
		v.integer = s[0] == 't';
		break;
	case '_':
		if (n != 0)
			return RESP_ERR_BAD_NULL;
		v.type = RESP_T_NULL;
		break;
	case '$':
	case '!':
	case '=':
		if (!parse_i64(s, n, &num) || num < -1 || (num == -1 && t != '$') ||
		    (num >= 0 && (uint64_t)num > r->lim.bulk_bytes_max))
			return RESP_ERR_BULK_LEN;
		r->line_len = 0;
		if (num == -1) {
			v.type = RESP_T_NULL;
			break;
		}
		r->bulk_len = (size_t)num;
		/* Refuse a claim that cannot fit before any byte of it. */
		if (r->bulk_len > reader_line_room(r)) /* line_len is 0 */
			return RESP_ERR_TOO_BIG;
		r->state = r->bulk_len ? RD_BULK : RD_BULK_CR;
		return 0;
	case '*':
	case '%':
	case '~':
	case '>':
	case '|': {
		if (!parse_i64(s, n, &num) || num < -1 || (num == -1 && t != '*') ||
		    (num >= 0 && (uint64_t)num > r->lim.count_max))
			return RESP_ERR_MULTIBULK_LEN;
		if (num == -1) {
			v.type = RESP_T_NULL;
			break;
		}
		if (r->depth >= r->lim.depth_max)
			return RESP_ERR_TOO_DEEP;
		size_t need = (size_t)num * (t == '%' || t == '|' ? 2 : 1);
		v.type = t == '*'   ? RESP_T_ARRAY
			 : t == '%' ? RESP_T_MAP
			 : t == '~' ? RESP_T_SET
			 : t == '>' ? RESP_T_PUSH
				    : RESP_T_MAP;
		if (need == 0)
			return reader_complete(r, v, t == '|', out);
		struct resp_reader_frame *f = &r->stack[r->depth++];
		f->agg = v;
		f->need = need;
		f->attribute = t == '|';
		return 0;
	}
	default:
		RP_CHECK(0);
	}
	return reader_complete(r, v, false, out);
}

/* A whole bulk payload (line[0..bulk_len), NUL after) arrived. */
static int reader_bulk(struct resp_reader *r, struct resp_value **out)
{
	struct resp_value v;
	memset(&v, 0, sizeof(v));
	RP_CHECK(r->line_len == r->bulk_len);
	if (r->type == '=') {
		if (r->line_len < 4 || r->line[3] != ':')
			return RESP_ERR_BAD_VERBATIM;
		memcpy(v.format, r->line, 3);
		v.format[3] = '\0';
		memmove(r->line, r->line + 4, r->line_len - 4 + 1);
		r->line_len -= 4;
	}
	reader_take_line(r, &v,
			 r->type == '$'	  ? RESP_T_BULK
			 : r->type == '!' ? RESP_T_ERROR
					  : RESP_T_VERBATIM);
	return reader_complete(r, v, false, out);
}

static bool is_type_byte(char c)
{
	return c != '\0' && strchr("+-:$*_,#!=(%~>|", c) != NULL;
}

int resp_reader_feed(struct resp_reader *r, const char *buf, size_t len, size_t *consumed,
		     struct resp_value **out)
{
	RP_CHECK(r != NULL);
	RP_CHECK(consumed != NULL);
	RP_CHECK(out != NULL);
	RP_CHECK(buf != NULL || len == 0);
	*consumed = 0;
	*out = NULL;
	if (r->err)
		return r->err;

	size_t i = 0;
	int rc = 0;
	while (i < len) {
		char c = buf[i];
		switch (r->state) {
		case RD_TYPE:
			if (!is_type_byte(c)) {
				describe_byte(r->errmsg, sizeof(r->errmsg),
					      "Protocol error: unknown type byte ", c);
				return reader_fail(r, RESP_ERR_BAD_TYPE);
			}
			r->type = c;
			r->line_len = 0;
			r->state = RD_LINE;
			i++;
			break;

		case RD_LINE: {
			size_t j = i;
			while (j < len && buf[j] != '\r' && buf[j] != '\n')
				j++;
			size_t take = j - i;
			/* As in the request parser: report the bound the line
			 * crosses first, whatever the cut (ties: the line). */
			size_t room_line = r->lim.inline_bytes_max - r->line_len;
			size_t room_total = reader_line_room(r);
			if (take > room_line || take > room_total)
				return reader_fail(r, room_total < room_line
							  ? RESP_ERR_TOO_BIG
							  : RESP_ERR_LINE_TOO_LONG);
			rc = reader_line_grow(r, r->line_len + take + 1,
					      r->lim.inline_bytes_max + 1);
			if (rc < 0)
				return reader_fail(r, rc);
			memcpy(r->line + r->line_len, buf + i, take);
			r->line_len += take;
			i = j;
			if (j < len) {
				if (buf[j] == '\n')
					return reader_fail(r, RESP_ERR_EXPECTED_CRLF);
				r->state = RD_LINE_LF;
				i++;
			}
			break;
		}

		case RD_LINE_LF:
			if (c != '\n')
				return reader_fail(r, RESP_ERR_EXPECTED_CRLF);
			i++;
			r->line[r->line_len] = '\0';
			r->state = RD_TYPE;
			rc = reader_line(r, out);
			if (rc < 0)
				return reader_fail(r, rc);
			if (rc == 1) {
				reader_drop(r);
				*consumed = i;
				return 1;
			}
			break;

		case RD_BULK: {
			size_t left = r->bulk_len - r->line_len;
			size_t take = len - i < left ? len - i : left;
			rc = reader_line_grow(r, r->line_len + take + 1, r->bulk_len + 1);
			if (rc < 0)
				return reader_fail(r, rc);
			memcpy(r->line + r->line_len, buf + i, take);
			r->line_len += take;
			i += take;
			if (r->line_len == r->bulk_len)
				r->state = RD_BULK_CR;
			break;
		}

		case RD_BULK_CR:
		case RD_BULK_LF:
			if (c != (r->state == RD_BULK_CR ? '\r' : '\n'))
				return reader_fail(r, RESP_ERR_EXPECTED_CRLF);
			i++;
			if (r->state == RD_BULK_CR) {
				r->state = RD_BULK_LF;
				break;
			}
			rc = reader_line_grow(r, r->line_len + 1, r->bulk_len + 1);
			if (rc < 0)
				return reader_fail(r, rc);
			r->line[r->line_len] = '\0';
			r->state = RD_TYPE;
			rc = reader_bulk(r, out);
			if (rc < 0)
				return reader_fail(r, rc);
			if (rc == 1) {
				reader_drop(r);
				*consumed = i;
				return 1;
			}
			break;

		default:
			RP_CHECK(0);
		}
	}
	*consumed = len;
	return 0;
}
