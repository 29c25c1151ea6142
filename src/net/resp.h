/*
 * resp.h — the Redis protocol (RESP2 and RESP3) codec of the client port,
 * with no IO: the caller moves bytes, this module only turns bytes into
 * commands or replies and values into bytes.  Three parts:
 *
 *   resp_req     server side: a resumable request parser.  Feed it bytes in
 *                any fragmentation (one byte at a time works); it keeps its
 *                state in a caller-owned struct and yields one command at a
 *                time as an argv.  Accepts multibulk (`*N\r\n$len\r\n..`)
 *                and inline (`PING\r\n`) commands.
 *   resp_out     server side: append RESP2 or RESP3 encodings of replies to
 *                a growable output buffer that never exceeds a cap.
 *   resp_reader  client side: a resumable reply parser that builds a tree
 *                of resp_value (freed with one call).
 *
 * Both parsers enforce the limits in struct resp_limits and never allocate
 * in proportion to a length or count claimed by the peer: buffers grow as
 * bytes actually arrive (at most doubling what arrived), so `*2000000000`
 * or `$2000000000` costs nothing until the bytes come.  Any protocol error
 * poisons the parser: every later call returns the same error, and the
 * server replies with resp_req_errmsg() and closes the connection.
 *
 * Return codes: 0 or a positive count on success, otherwise a negative code
 * from util/err.h (RP_ERR_NOMEM, RP_ERR_NOSPC) or from the RESP_ERR_* table
 * below; resp_strerror() describes every one of them.
 */
#ifndef RASPUTIN_NET_RESP_H
#define RASPUTIN_NET_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol errors: a peer sent bytes a correct peer never sends.  The range
 * -100.. keeps them apart from util/err.h. */
enum {
	RESP_ERR_MULTIBULK_LEN = -100,	   /* bad or over-limit `*` count */
	RESP_ERR_BULK_LEN = -101,	   /* bad or over-limit `$` length */
	RESP_ERR_EXPECTED_DOLLAR = -102,   /* a multibulk element is not `$` */
	RESP_ERR_INLINE_TOO_BIG = -103,	   /* inline line over inline_bytes_max */
	RESP_ERR_UNBALANCED_QUOTES = -104, /* inline quoting not closed */
	RESP_ERR_TOO_BIG = -105,	   /* one command/reply over total_bytes_max */
	RESP_ERR_EXPECTED_CRLF = -106,	   /* a bulk or line not ended by \r\n */
	RESP_ERR_BAD_TYPE = -107,	   /* reply starts with an unknown byte */
	RESP_ERR_BAD_INTEGER = -108,	   /* `:` line not an int64 */
	RESP_ERR_BAD_DOUBLE = -109,	   /* `,` line not a double */
	RESP_ERR_BAD_BOOL = -110,	   /* `#` line not t or f */
	RESP_ERR_BAD_VERBATIM = -111,	   /* `=` payload without "fmt:" */
	RESP_ERR_BAD_NULL = -112,	   /* `_` line not empty */
	RESP_ERR_BAD_BIGNUM = -113,	   /* `(` line not [-]digits */
	RESP_ERR_TOO_DEEP = -114,	   /* reply nests deeper than depth_max */
	RESP_ERR_LINE_TOO_LONG = -115,	   /* reply line over inline_bytes_max */
};

/* Never NULL.  For the RESP_ERR_* codes a message suitable for a RESP error
 * reply ("Protocol error: invalid bulk length"); for util/err.h codes,
 * rp_strerror's text.  Contains no CR or LF. */
const char *resp_strerror(int rc);

/* The deepest nesting a reader can be configured for (it sizes a stack that
 * lives inside struct resp_reader). */
#define RESP_DEPTH_LIMIT 64

/* Hard limits on everything a peer can make us hold.  Every field > 0. */
struct resp_limits {
	/* Elements in one multibulk request or one reply aggregate (a map of
	 * N pairs counts as N).  Default 1,048,576. */
	size_t count_max;
	/* Bytes in one bulk string.  Default 512 MiB; servers lower it. */
	size_t bulk_bytes_max;
	/* Bytes in one inline command line (not counting the \n), and in one
	 * line-typed reply value (`+ - : , ( #`).  Default 64 KiB. */
	size_t inline_bytes_max;
	/* Bytes buffered for one command (argument bytes + one NUL each +
	 * sizeof(struct resp_arg) each) or one reply (strings + element
	 * arrays).  Default 1 GiB + 64 MiB: one maximal bulk fits. */
	size_t total_bytes_max;
	/* Reader only: aggregates nested inside each other, top level = 1.
	 * Default 32; at most RESP_DEPTH_LIMIT. */
	size_t depth_max;
};

/* Fills *lim with the defaults above. */
void resp_limits_default(struct resp_limits *lim);

/* ---------------------------------------------------------------------------
 * Request parser (server side).
 *
 * Inline commands: a line ended by "\n" or "\r\n", split into arguments at
 * runs of spaces and tabs.  An argument that starts with `"` runs to the
 * matching `"` and understands the escapes \" \\ \n \r \t \b \a and \xHH
 * (two hex digits; any other \c means c); one that starts with `'` runs to
 * the matching `'` and understands only \'.  A closing quote must be
 * followed by a space, a tab or the end of the line; otherwise, or if the
 * quote is never closed, RESP_ERR_UNBALANCED_QUOTES.  Quotes inside a plain
 * word are ordinary bytes.  A blank line yields no command.
 *
 * Multibulk: `*N\r\n` then N times `$len\r\n<len bytes>\r\n`.  N and len are
 * decimal without sign or leading zeros; `*0` and `*-1` yield no command
 * (as Redis does).  Every CR LF is checked.
 */

/* One argument: len bytes at ptr, followed by a NUL not counted in len (so
 * strtoll and friends work; the bytes themselves may contain NULs). */
struct resp_arg {
	const char *ptr;
	size_t len;
};

/* A complete command.  argv and the bytes it points to belong to the
 * parser and stay valid until the next call to resp_req_parse or
 * resp_req_deinit on the same parser. */
struct resp_cmd {
	size_t argc; /* >= 1 */
	const struct resp_arg *argv;
	bool is_inline;
};

/* Caller-owned; fields are private. */
struct resp_req {
	struct resp_limits lim;
	int state;
	int err;      /* 0, or the error every call returns from now on */
	bool yielded; /* the last call returned a command: reset on the next */
	/* Arguments of the command being built, back to back, each followed
	 * by a NUL; for an inline command, the raw line.  data_len <= cap. */
	char *data;
	size_t data_len, data_cap;
	/* argc entries are valid (ptr set only when the command completes);
	 * argc <= argv_cap; argc <= mb_count for multibulk. */
	struct resp_arg *argv;
	size_t argc, argv_cap;
	size_t mb_count;  /* claimed by `*N`; nothing is sized by it */
	uint64_t num;	  /* header number being read */
	int num_state;	  /* digits seen / sign / waiting for \n */
	size_t bulk_len;  /* claimed by `$len` */
	size_t bulk_left; /* payload bytes still to come */
	char errmsg[96];
};

/* Prepares *p.  lim NULL means the defaults; the limits are copied. */
void resp_req_init(struct resp_req *p, const struct resp_limits *lim);

/* Frees what *p holds; *p may be initialised again afterwards. */
void resp_req_deinit(struct resp_req *p);

/*
 * Feeds buf[0..len) (buf may be NULL when len is 0).  The parser copies
 * what it needs, so the caller may reuse buf as soon as this returns.
 *   1   a command is complete: *cmd describes it (lifetime above) and
 *       *consumed bytes of buf were used; call again with the rest
 *       (pipelining), even if that rest is empty, before expecting more.
 *   0   all len bytes were used (*consumed == len) and no command is
 *       complete yet.
 *  <0   RESP_ERR_* or RP_ERR_NOMEM: the parser is poisoned; reply with
 *       resp_req_errmsg() and close.  *consumed is 0.
 */
int resp_req_parse(struct resp_req *p, const char *buf, size_t len, size_t *consumed,
		   struct resp_cmd *cmd);

/* The error message for a RESP error reply after a failed parse (it may be
 * more precise than resp_strerror: "Protocol error: expected '$', got 'x'",
 * with bytes that are not printable shown as \xHH).  No CR or LF.  Valid
 * until resp_req_deinit.  "" if the parser has not failed. */
const char *resp_req_errmsg(const struct resp_req *p);

/* Bytes of heap the parser holds now (for client memory accounting and to
 * test that claimed lengths cost nothing). */
size_t resp_req_memory_bytes(const struct resp_req *p);

/* True when the parser holds part of a command (so a closing peer left a
 * request unfinished). */
bool resp_req_pending(const struct resp_req *p);

/* ---------------------------------------------------------------------------
 * Reply writer (server side; the client uses resp_add_command).
 *
 * Each resp_add_* appends one whole element or nothing.  When an element
 * would take len past limit_bytes, nothing is appended, the buffer records
 * RP_ERR_NOSPC, and that and every later append returns RP_ERR_NOSPC until
 * resp_out_reset: a reply cut in the middle would desynchronise the client,
 * so the server should close the connection (as Redis does).  RP_ERR_NOMEM
 * is sticky the same way.  proto is 2 or 3 where the encodings differ.
 */
struct resp_out {
	char *data; /* data[0..len) is the encoded output; owned */
	size_t len;
	size_t cap;
	size_t limit_bytes; /* len <= limit_bytes always */
	int err;	    /* 0, RP_ERR_NOSPC or RP_ERR_NOMEM (sticky) */
};

void resp_out_init(struct resp_out *o, size_t limit_bytes);
void resp_out_deinit(struct resp_out *o);
/* Empties the buffer and clears a sticky error; keeps the allocation. */
void resp_out_reset(struct resp_out *o);
/* Drops the first n <= len bytes (they were written to the socket). */
void resp_out_consume(struct resp_out *o, size_t n);

/* `+s` (RESP2/3).  CR and LF in s are replaced by spaces. */
int resp_add_simple(struct resp_out *o, const char *s, size_t n);
/* `-msg` (RESP2/3).  msg should start with an error code such as "ERR ";
 * CR and LF are replaced by spaces. */
int resp_add_error(struct resp_out *o, const char *msg, size_t n);
/* As resp_add_error, formatting with printf rules; the message is cut at
 * 511 bytes. */
int resp_add_errorf(struct resp_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* `:v` (RESP2/3). */
int resp_add_int(struct resp_out *o, int64_t v);
/* `$n\r\n<bytes>\r\n` (RESP2/3); binary safe.  s may be NULL if n is 0. */
int resp_add_bulk(struct resp_out *o, const char *s, size_t n);
/* The null value: RESP2 `$-1` (null bulk), RESP3 `_`. */
int resp_add_null(struct resp_out *o, int proto);
/* The null aggregate: RESP2 `*-1` (null array), RESP3 `_`. */
int resp_add_null_array(struct resp_out *o, int proto);
/* `*n` (RESP2/3): n elements follow. */
int resp_add_array(struct resp_out *o, size_t n);
/* RESP3 `%n`; RESP2 `*2n`: n key/value pairs follow, key first. */
int resp_add_map(struct resp_out *o, int proto, size_t n);
/* RESP3 `~n`; RESP2 `*n`. */
int resp_add_set(struct resp_out *o, int proto, size_t n);
/* RESP3 `,d` (inf, -inf, nan spelled so); RESP2 the same text as a bulk
 * string.  The text is the shortest that reads back as exactly d (in the
 * C locale, which the server never changes). */
int resp_add_double(struct resp_out *o, int proto, double d);
/* RESP3 `#t` / `#f`; RESP2 `:1` / `:0`. */
int resp_add_bool(struct resp_out *o, int proto, bool b);
/* RESP3 `=` with a three-letter format ("txt" or "mkd"); RESP2 a plain
 * bulk string of s. */
int resp_add_verbatim(struct resp_out *o, int proto, const char fmt[3], const char *s,
		      size_t n);
/* A request as a client sends it: an array of argc bulk strings. */
int resp_add_command(struct resp_out *o, size_t argc, const struct resp_arg *argv);
/* Appends n bytes as they are (a reply already encoded, e.g. forwarded). */
int resp_add_raw(struct resp_out *o, const char *s, size_t n);

/* ---------------------------------------------------------------------------
 * Reply reader (client side).
 */
enum resp_type {
	RESP_T_SIMPLE = 1, /* + */
	RESP_T_ERROR,	   /* - and RESP3 blob error ! */
	RESP_T_INTEGER,	   /* : */
	RESP_T_BULK,	   /* $ */
	RESP_T_NULL,	   /* $-1, *-1, _ */
	RESP_T_ARRAY,	   /* * */
	RESP_T_MAP,	   /* % (elems alternate key, value) */
	RESP_T_SET,	   /* ~ */
	RESP_T_PUSH,	   /* > (out of band: pub/sub, invalidation) */
	RESP_T_DOUBLE,	   /* , */
	RESP_T_BOOL,	   /* # */
	RESP_T_VERBATIM,   /* = */
	RESP_T_BIGNUM,	   /* ( (kept as its decimal text) */
};

/* A node of a reply tree.  Attributes (`|`) are read and dropped. */
struct resp_value {
	enum resp_type type;
	int64_t integer; /* INTEGER; BOOL as 0/1 */
	double dbl;	 /* DOUBLE */
	char *str;	 /* SIMPLE ERROR BULK VERBATIM BIGNUM: len bytes
			    plus a NUL; NULL for the other types */
	size_t len;
	char format[4];		  /* VERBATIM: "txt", "mkd", ... NUL-terminated */
	struct resp_value *elems; /* ARRAY MAP SET PUSH: count elements */
	size_t count;		  /* a map of N pairs has count 2N */
	size_t elems_cap;	  /* private */
};

/* Caller-owned; fields are private.  Holds the partial reply. */
struct resp_reader {
	struct resp_limits lim;
	int state;
	int err;
	char type;  /* type byte of the element being read */
	char *line; /* the current line or bulk payload */
	size_t line_len, line_cap;
	size_t bulk_len;    /* claimed payload length */
	size_t total_bytes; /* heap held by the reply being built */
	size_t depth;	    /* frames in use, <= lim.depth_max */
	struct resp_reader_frame {
		struct resp_value agg;
		size_t need; /* elements still to come before agg is complete */
		bool attribute;
	} stack[RESP_DEPTH_LIMIT];
	char errmsg[96];
};

void resp_reader_init(struct resp_reader *r, const struct resp_limits *lim);
/* Frees the partial reply, if any. */
void resp_reader_deinit(struct resp_reader *r);

/*
 * Feeds buf[0..len), as resp_req_parse does.
 *   1   a reply is complete: *out is its tree, which the caller owns and
 *       frees with resp_value_free; *consumed bytes were used.
 *   0   all len bytes used, no reply complete yet; *out is NULL.
 *  <0   RESP_ERR_* or RP_ERR_NOMEM; the reader is poisoned.
 */
int resp_reader_feed(struct resp_reader *r, const char *buf, size_t len, size_t *consumed,
		     struct resp_value **out);

/* "" or the message of the error that poisoned the reader. */
const char *resp_reader_errmsg(const struct resp_reader *r);

/* Heap the reader holds for the reply under construction. */
size_t resp_reader_memory_bytes(const struct resp_reader *r);

/* Frees a tree returned by resp_reader_feed, children included.  NULL is
 * fine. */
void resp_value_free(struct resp_value *v);

#endif
