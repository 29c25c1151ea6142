/*
 * resp_write.c — encodes replies (and client requests) into a resp_out
 * buffer.  Every function appends one whole element or nothing, never lets
 * the buffer pass its cap, and records the first failure so that a server
 * can build a reply from many calls and check once.  Where RESP2 has no
 * type for a RESP3 value, the RESP2 form is the one Redis clients expect
 * (map as a flat array, boolean as 1/0, double as a bulk string).
 */
#include "net/resp.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

void resp_out_init(struct resp_out *o, size_t limit_bytes)
{
	RP_CHECK(o != NULL);
	RP_CHECK(limit_bytes > 0);
	RP_CHECK(limit_bytes <= SIZE_MAX / 4);
	memset(o, 0, sizeof(*o));
	o->limit_bytes = limit_bytes;
}

void resp_out_deinit(struct resp_out *o)
{
	if (o == NULL)
		return;
	free(o->data);
	o->data = NULL;
	o->len = o->cap = 0;
}

void resp_out_reset(struct resp_out *o)
{
	o->len = 0;
	o->err = 0;
}

void resp_out_consume(struct resp_out *o, size_t n)
{
	RP_CHECK(n <= o->len);
	if (n == 0)
		return;
	memmove(o->data, o->data + n, o->len - n);
	o->len -= n;
}

/* Returns where n more bytes go, or NULL (and records why). */
static char *out_room(struct resp_out *o, size_t n)
{
	RP_CHECK(o->len <= o->limit_bytes);
	if (o->err)
		return NULL;
	if (n > o->limit_bytes - o->len) {
		o->err = RP_ERR_NOSPC;
		return NULL;
	}
	size_t need = o->len + n;
	if (need > o->cap) {
		size_t c = o->cap ? o->cap * 2 : 256;
		if (c < need)
			c = need;
		if (c > o->limit_bytes)
			c = o->limit_bytes;
		char *q = realloc(o->data, c);
		if (q == NULL) {
			o->err = RP_ERR_NOMEM;
			return NULL;
		}
		o->data = q;
		o->cap = c;
	}
	return o->data + o->len;
}

/* Writes the decimal digits of v at p; returns how many (<= 20). */
static size_t put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* Encodes "<type><v>\r\n" into p (room for 24 bytes); returns its length. */
static size_t put_header(char *p, char type, int64_t v)
{
	size_t n = 0;
	p[n++] = type;
	if (v < 0) {
		p[n++] = '-';
		n += put_u64(p + n, (uint64_t)0 - (uint64_t)v);
	} else {
		n += put_u64(p + n, (uint64_t)v);
	}
	p[n++] = '\r';
	p[n++] = '\n';
	return n;
}

/* A header followed by n payload bytes and, if crlf, "\r\n". */
static int add_framed(struct resp_out *o, char type, int64_t v, const char *s, size_t n,
		      bool crlf)
{
	char hdr[24];
	size_t h = put_header(hdr, type, v);
	size_t extra = crlf ? 2 : 0;
	if (n > SIZE_MAX / 2)
		return o->err = RP_ERR_NOSPC;
	char *p = out_room(o, h + n + extra);
	if (p == NULL)
		return o->err;
	memcpy(p, hdr, h);
	if (n > 0)
		memcpy(p + h, s, n);
	if (crlf)
		memcpy(p + h + n, "\r\n", 2);
	o->len += h + n + extra;
	return 0;
}

static int add_count(struct resp_out *o, char type, size_t n)
{
	RP_CHECK(n <= (size_t)INT64_MAX);
	return add_framed(o, type, (int64_t)n, NULL, 0, false);
}

/* "<type><line>\r\n" with CR and LF in line replaced by spaces. */
static int add_line(struct resp_out *o, char type, const char *s, size_t n)
{
	RP_CHECK(s != NULL || n == 0);
	if (n > SIZE_MAX / 2)
		return o->err = RP_ERR_NOSPC;
	char *p = out_room(o, n + 3);
	if (p == NULL)
		return o->err;
	p[0] = type;
	for (size_t i = 0; i < n; i++)
		p[1 + i] = s[i] == '\r' || s[i] == '\n' ? ' ' : s[i];
	memcpy(p + 1 + n, "\r\n", 2);
	o->len += n + 3;
	return 0;
}

static void proto_check(int proto)
{
	RP_CHECK(proto == 2 || proto == 3);
}

int resp_add_simple(struct resp_out *o, const char *s, size_t n)
{
	return add_line(o, '+', s, n);
}

int resp_add_error(struct resp_out *o, const char *msg, size_t n)
{
	return add_line(o, '-', msg, n);
}

int resp_add_errorf(struct resp_out *o, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	RP_CHECK(n >= 0);
	size_t len = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;
	return add_line(o, '-', msg, len);
}

int resp_add_int(struct resp_out *o, int64_t v)
{
	return add_framed(o, ':', v, NULL, 0, false);
}

int resp_add_bulk(struct resp_out *o, const char *s, size_t n)
{
	RP_CHECK(s != NULL || n == 0);
	RP_CHECK(n <= (size_t)INT64_MAX);
	return add_framed(o, '$', (int64_t)n, s, n, true);
}

int resp_add_null(struct resp_out *o, int proto)
{
	proto_check(proto);
	return proto == 3 ? resp_add_raw(o, "_\r\n", 3) : resp_add_raw(o, "$-1\r\n", 5);
}

int resp_add_null_array(struct resp_out *o, int proto)
{
	proto_check(proto);
	return proto == 3 ? resp_add_raw(o, "_\r\n", 3) : resp_add_raw(o, "*-1\r\n", 5);
}

int resp_add_array(struct resp_out *o, size_t n)
{
	return add_count(o, '*', n);
}

int resp_add_map(struct resp_out *o, int proto, size_t n)
{
	proto_check(proto);
	RP_CHECK(n <= (size_t)INT64_MAX / 2);
	return proto == 3 ? add_count(o, '%', n) : add_count(o, '*', 2 * n);
}

int resp_add_set(struct resp_out *o, int proto, size_t n)
{
	proto_check(proto);
	return add_count(o, proto == 3 ? '~' : '*', n);
}

/* The shortest "%.*g" text that reads back as exactly d. */
static size_t format_double(char *buf, size_t size, double d)
{
	if (isnan(d))
		return (size_t)snprintf(buf, size, "nan");
	if (isinf(d))
		return (size_t)snprintf(buf, size, d > 0 ? "inf" : "-inf");
	int n = 0;
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	RP_CHECK(n > 0 && (size_t)n < size);
	return (size_t)n;
}

int resp_add_double(struct resp_out *o, int proto, double d)
{
	proto_check(proto);
	char text[40];
	size_t n = format_double(text, sizeof(text), d);
	if (proto == 2)
		return resp_add_bulk(o, text, n);
	return add_line(o, ',', text, n);
}

int resp_add_bool(struct resp_out *o, int proto, bool b)
{
	proto_check(proto);
	if (proto == 2)
		return resp_add_int(o, b ? 1 : 0);
	return resp_add_raw(o, b ? "#t\r\n" : "#f\r\n", 4);
}

int resp_add_verbatim(struct resp_out *o, int proto, const char fmt[3], const char *s,
		      size_t n)
{
	proto_check(proto);
	RP_CHECK(fmt != NULL);
	RP_CHECK(s != NULL || n == 0);
	if (proto == 2)
		return resp_add_bulk(o, s, n);
	for (int i = 0; i < 3; i++)
		RP_CHECK(fmt[i] != '\0' && fmt[i] != ':' && fmt[i] != '\r' &&
			 fmt[i] != '\n');
	RP_CHECK(n <= (size_t)INT64_MAX - 4);
	char hdr[24];
	size_t h = put_header(hdr, '=', (int64_t)(n + 4));
	if (n > SIZE_MAX / 2)
		return o->err = RP_ERR_NOSPC;
	char *p = out_room(o, h + 4 + n + 2);
	if (p == NULL)
		return o->err;
	memcpy(p, hdr, h);
	memcpy(p + h, fmt, 3);
	p[h + 3] = ':';
	if (n > 0)
		memcpy(p + h + 4, s, n);
	memcpy(p + h + 4 + n, "\r\n", 2);
	o->len += h + 4 + n + 2;
	return 0;
}

int resp_add_command(struct resp_out *o, size_t argc, const struct resp_arg *argv)
{
	RP_CHECK(argc > 0);
	RP_CHECK(argv != NULL);
	/* All or nothing: undo a partial command. */
	size_t mark = o->len;
	int rc = resp_add_array(o, argc);
	for (size_t i = 0; rc == 0 && i < argc; i++)
		rc = resp_add_bulk(o, argv[i].ptr, argv[i].len);
	if (rc < 0)
		o->len = mark;
	return rc;
}

int resp_add_raw(struct resp_out *o, const char *s, size_t n)
{
	RP_CHECK(s != NULL || n == 0);
	char *p = out_room(o, n);
	if (p == NULL)
		return o->err;
	if (n > 0)
		memcpy(p, s, n);
	o->len += n;
	return 0;
}
