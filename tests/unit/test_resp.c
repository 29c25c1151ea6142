/*
 * test_resp.c — the RESP codec: requests parse the same in any
 * fragmentation, every limit fails with its own error and without
 * allocating what was claimed, replies encode byte for byte as RESP2 and
 * RESP3 expect, and the reply reader builds the right tree.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>

#include "net/resp.h"
#include "util/err.h"
#include "util/prng.h"

/* ---------------------------------------------------------------------------
 * Helpers: run the request parser and print what it yields as text, one
 * line per command, each argument as <len>:<bytes> (bytes escaped).
 */
struct got {
	char text[1 << 18];
	size_t len;
	int rc; /* 0, or the error that stopped the parse */
	int cmds;
};

static void got_put(struct got *g, const char *s, size_t n)
{
	CHECK(g->len + n < sizeof(g->text));
	memcpy(g->text + g->len, s, n);
	g->len += n;
	g->text[g->len] = '\0';
}

static void got_cmd(struct got *g, const struct resp_cmd *cmd)
{
	char tmp[32];
	CHECK(cmd->argc >= 1);
	got_put(g, cmd->is_inline ? "I" : "M", 1);
	for (size_t i = 0; i < cmd->argc; i++) {
		const struct resp_arg *a = &cmd->argv[i];
		CHECK(a->ptr != NULL);
		CHECK_EQ(a->ptr[a->len], '\0');
		int n = snprintf(tmp, sizeof(tmp), " %zu:", a->len);
		got_put(g, tmp, (size_t)n);
		for (size_t j = 0; j < a->len; j++) {
			unsigned char c = (unsigned char)a->ptr[j];
			if (c >= 0x21 && c < 0x7f && c != '\\') {
				got_put(g, (const char *)&c, 1);
			} else {
				n = snprintf(tmp, sizeof(tmp), "\\%02x", c);
				got_put(g, tmp, (size_t)n);
			}
		}
	}
	got_put(g, "\n", 1);
	g->cmds++;
}

/* Feeds one piece, collecting every command it completes. */
static void feed(struct resp_req *p, const char *buf, size_t n, struct got *g)
{
	size_t off = 0;
	while (g->rc == 0) {
		size_t used = 12345;
		struct resp_cmd cmd;
		int rc = resp_req_parse(p, buf + off, n - off, &used, &cmd);
		if (rc < 0) {
			CHECK_EQ(used, 0);
			g->rc = rc;
			return;
		}
		CHECK(used <= n - off);
		off += used;
		if (rc == 1) {
			got_cmd(g, &cmd);
			continue;
		}
		CHECK_EQ(rc, 0);
		CHECK_EQ(off, n);
		return;
	}
}

/* Parses in[0..n) cut at the given ascending offsets. */
static void parse_cuts(const struct resp_limits *lim, const char *in, size_t n,
		       const size_t *cuts, size_t ncuts, struct got *g)
{
	struct resp_req p;
	resp_req_init(&p, lim);
	memset(g, 0, sizeof(*g));
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		feed(&p, in + prev, end - prev, g);
		prev = end;
	}
	resp_req_deinit(&p);
}

static void parse_whole(const struct resp_limits *lim, const char *in, size_t n,
			struct got *g)
{
	parse_cuts(lim, in, n, NULL, 0, g);
}

static void parse_bytewise(const struct resp_limits *lim, const char *in, size_t n,
			   struct got *g)
{
	struct resp_req p;
	resp_req_init(&p, lim);
	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < n; i++)
		feed(&p, in + i, 1, g);
	resp_req_deinit(&p);
}

#define S(lit) lit, sizeof(lit) - 1

static struct got g1, g2;

/* ---------------------------------------------------------------------------
 * Requests.
 */
TEST(limits_defaults)
{
	struct resp_limits l;
	resp_limits_default(&l);
	CHECK_EQ(l.count_max, 1048576);
	CHECK_EQ(l.bulk_bytes_max, 512u << 20);
	CHECK_EQ(l.inline_bytes_max, 65536);
	CHECK(l.total_bytes_max > l.bulk_bytes_max);
	CHECK(l.depth_max >= 8 && l.depth_max <= RESP_DEPTH_LIMIT);
}

TEST(multibulk_simple)
{
	parse_whole(NULL, S("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), &g1);
	CHECK_EQ(g1.rc, 0);
	CHECK_EQ(g1.cmds, 1);
	CHECK(strcmp(g1.text, "M 3:SET 3:key 5:value\n") == 0);
}

TEST(multibulk_binary_safe)
{
	static const char in[] = "*3\r\n$4\r\na\r\n\0\r\n$0\r\n\r\n$1\r\n\n\r\n";
	parse_whole(NULL, in, sizeof(in) - 1, &g1);
	CHECK_EQ(g1.rc, 0);
	CHECK(strcmp(g1.text, "M 4:a\\0d\\0a\\00 0: 1:\\0a\n") == 0);
}

TEST(argv_stays_valid_until_next_call)
{
	struct resp_req p;
	resp_req_init(&p, NULL);
	char in[] = "*2\r\n$3\r\nGET\r\n$2\r\nk1\r\nPING\r\n";
	size_t used;
	struct resp_cmd cmd;
	CHECK_EQ(resp_req_parse(&p, in, 12, &used, &cmd), 0); /* "*2 $3 GET $2" */
	memset(in, 'Z', 12); /* the caller may reuse its buffer at once */
	CHECK_EQ(resp_req_parse(&p, in + 12, 9, &used, &cmd), 1);
	CHECK_EQ(used, 9);
	memset(in + 12, 'Z', 9);
	used += 12;
	CHECK_EQ(cmd.argc, 2);
	CHECK(memcmp(cmd.argv[0].ptr, "GET", 4) == 0);
	CHECK(memcmp(cmd.argv[1].ptr, "k1", 3) == 0);
	CHECK(!cmd.is_inline);
	size_t used2;
	memcpy(in + used, "PING\r\n", 6);
	CHECK_EQ(resp_req_parse(&p, in + used, sizeof(in) - 1 - used, &used2, &cmd), 1);
	CHECK_EQ(used + used2, sizeof(in) - 1);
	CHECK(cmd.is_inline);
	CHECK_EQ(cmd.argc, 1);
	CHECK(strcmp(cmd.argv[0].ptr, "PING") == 0);
	CHECK(!resp_req_pending(&p));
	resp_req_deinit(&p);
}

TEST(inline_commands)
{
	parse_whole(NULL, S("PING\r\n"), &g1);
	CHECK(strcmp(g1.text, "I 4:PING\n") == 0);
	parse_whole(NULL, S("  set\t key   value  \n"), &g1);
	CHECK(strcmp(g1.text, "I 3:set 3:key 5:value\n") == 0);
	parse_whole(NULL, S("set k \"a b\\x41\\n\\\"\\\\\"\r\n"), &g1);
	CHECK(strcmp(g1.text, "I 3:set 1:k 7:a\\20bA\\0a\"\\5c\n") == 0);
	parse_whole(NULL, S("echo 'it\\'s \"x\"' \"\" ''\n"), &g1);
	CHECK(strcmp(g1.text, "I 4:echo 8:it's\\20\"x\" 0: 0:\n") == 0);
	parse_whole(NULL, S("get a\"b'c\n"), &g1); /* quotes inside a word */
	CHECK(strcmp(g1.text, "I 3:get 5:a\"b'c\n") == 0);
	parse_whole(NULL, S("echo \"\\xZZ\\q\"\n"), &g1); /* bad hex, unknown escape */
	CHECK(strcmp(g1.text, "I 4:echo 4:xZZq\n") == 0);
	/* Blank lines yield nothing; *0 and *-1 too. */
	parse_whole(NULL, S("\r\n\n   \t\r\n*0\r\n*-1\r\nPING\n"), &g1);
	CHECK_EQ(g1.rc, 0);
	CHECK_EQ(g1.cmds, 1);
	CHECK(strcmp(g1.text, "I 4:PING\n") == 0);
}

TEST(inline_unbalanced_quotes)
{
	const char *bad[] = {"set \"abc\r\n", "set 'a\r\n", "set \"a\"b\r\n", "x 'a'b\n",
			     "x \"a\\\"\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse_whole(NULL, bad[i], strlen(bad[i]), &g1);
		CHECK_EQ(g1.rc, RESP_ERR_UNBALANCED_QUOTES);
		CHECK_EQ(g1.cmds, 0);
	}
}

static const char *const samples[] = {
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
    "*1\r\n$4\r\nPING\r\n",
    "PING\r\n",
    "set k \"a b\\x41\\n\" 'it\\'s'\r\n",
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n",
    "*0\r\n*-1\r\n\r\n   \nECHO hi\n",
    "*2\r\n$4\r\n\r\n\r\n\r\n$11\r\n*1\r\n$1\r\nx\r\n\r\n",
    "hello world\n*1\r\n$1\r\nx\r\n  a  b  \r\n",
};

TEST(every_fragmentation_yields_the_same_argv)
{
	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		const char *in = samples[s];
		size_t n = strlen(in);
		parse_whole(NULL, in, n, &g1);
		CHECK_EQ(g1.rc, 0);
		CHECK(g1.cmds >= 1);
		parse_bytewise(NULL, in, n, &g2);
		CHECK(strcmp(g1.text, g2.text) == 0);
		for (size_t a = 0; a <= n; a++) {
			parse_cuts(NULL, in, n, &a, 1, &g2);
			CHECK_EQ(g2.rc, 0);
			CHECK(strcmp(g1.text, g2.text) == 0);
			for (size_t b = a; b <= n; b += 3) {
				size_t cuts[2] = {a, b};
				parse_cuts(NULL, in, n, cuts, 2, &g2);
				CHECK(strcmp(g1.text, g2.text) == 0);
			}
		}
	}
}

TEST(pipelined_commands_in_one_buffer)
{
	char all[2048];
	size_t n = 0;
	int expect = 0;
	char want[4096] = "";
	for (size_t s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		size_t len = strlen(samples[s]);
		memcpy(all + n, samples[s], len);
		n += len;
		parse_whole(NULL, samples[s], len, &g1);
		expect += g1.cmds;
		strcat(want, g1.text);
	}
	parse_whole(NULL, all, n, &g1);
	CHECK_EQ(g1.rc, 0);
	CHECK_EQ(g1.cmds, expect);
	CHECK(strcmp(g1.text, want) == 0);
	for (size_t a = 0; a <= n; a++) {
		parse_cuts(NULL, all, n, &a, 1, &g2);
		CHECK(strcmp(g2.text, want) == 0);
	}
	parse_bytewise(NULL, all, n, &g2);
	CHECK(strcmp(g2.text, want) == 0);
}

TEST(truncated_commands_wait_for_more)
{
	for (size_t s = 0; s < 5; s++) {
		const char *in = samples[s];
		size_t n = strlen(in);
		for (size_t k = 1; k < n; k++) {
			struct resp_req p;
			resp_req_init(&p, NULL);
			size_t used;
			struct resp_cmd cmd;
			CHECK_EQ(resp_req_parse(&p, in, k, &used, &cmd), 0);
			CHECK_EQ(used, k);
			CHECK(resp_req_pending(&p));
			resp_req_deinit(&p);
		}
	}
}

/* The input fails with rc (whole and byte by byte); msg if not NULL. */
static void expect_req_error(const struct resp_limits *lim, const char *in, size_t n,
			     int rc, const char *msg)
{
	parse_whole(lim, in, n, &g1);
	CHECK_EQ(g1.rc, rc);
	parse_bytewise(lim, in, n, &g2);
	CHECK_EQ(g2.rc, rc);

	struct resp_req p;
	resp_req_init(&p, lim);
	memset(&g1, 0, sizeof(g1));
	feed(&p, in, n, &g1);
	CHECK_EQ(g1.rc, rc);
	const char *m = resp_req_errmsg(&p);
	CHECK(strncmp(m, "Protocol error: ", 16) == 0);
	CHECK(strchr(m, '\r') == NULL && strchr(m, '\n') == NULL);
	if (msg != NULL)
		CHECK(strcmp(m, msg) == 0);
	else
		CHECK(strcmp(m, resp_strerror(rc)) == 0);
	/* Poisoned: good input now fails the same way and is not consumed. */
	size_t used = 99;
	struct resp_cmd cmd;
	CHECK_EQ(resp_req_parse(&p, "PING\r\n", 6, &used, &cmd), rc);
	CHECK_EQ(used, 0);
	resp_req_deinit(&p);
}

TEST(multibulk_length_errors)
{
	const int E = RESP_ERR_MULTIBULK_LEN;
	expect_req_error(NULL, S("*abc\r\n"), E,
			 "Protocol error: invalid multibulk length");
	expect_req_error(NULL, S("*-2\r\n"), E, NULL);
	expect_req_error(NULL, S("*-10\r\n"), E, NULL);
	expect_req_error(NULL, S("*01\r\n"), E, NULL);
	expect_req_error(NULL, S("*\r\n"), E, NULL);
	expect_req_error(NULL, S("*+1\r\n"), E, NULL);
	expect_req_error(NULL, S("*1\rx"), E, NULL);
	expect_req_error(NULL, S("*1\n"), E, NULL);
	expect_req_error(NULL, S("*1048577\r\n"), E, NULL);
	expect_req_error(NULL, S("*99999999999999999999999999999"), E, NULL);
	/* Exactly the limit is fine. */
	parse_whole(NULL, S("*1048576\r\n"), &g1);
	CHECK_EQ(g1.rc, 0);
	struct resp_limits l;
	resp_limits_default(&l);
	l.count_max = 2;
	expect_req_error(&l, S("*3\r\n"), E, NULL);
	parse_whole(&l, S("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), &g1);
	CHECK_EQ(g1.rc, 0);
	CHECK_EQ(g1.cmds, 1);
}

TEST(bulk_length_errors)
{
	const int E = RESP_ERR_BULK_LEN;
	expect_req_error(NULL, S("*1\r\n$-1\r\n"), E,
			 "Protocol error: invalid bulk length");
	expect_req_error(NULL, S("*1\r\n$abc\r\n"), E, NULL);
	expect_req_error(NULL, S("*1\r\n$\r\n"), E, NULL);
	expect_req_error(NULL, S("*1\r\n$007\r\n"), E, NULL);
	expect_req_error(NULL, S("*1\r\n$536870913\r\n"), E, NULL);
	expect_req_error(NULL, S("*1\r\n$1 \r\n"), E, NULL);
	parse_whole(NULL, S("*1\r\n$536870912\r\n"), &g1);
	CHECK_EQ(g1.rc, 0);
	struct resp_limits l;
	resp_limits_default(&l);
	l.bulk_bytes_max = 5;
	expect_req_error(&l, S("*1\r\n$6\r\n"), E, NULL);
	parse_whole(&l, S("*1\r\n$5\r\nhello\r\n"), &g1);
	CHECK_EQ(g1.cmds, 1);
}

TEST(expected_dollar_and_crlf_errors)
{
	expect_req_error(NULL, S("*1\r\nx"), RESP_ERR_EXPECTED_DOLLAR,
			 "Protocol error: expected '$', got 'x'");
	expect_req_error(NULL, S("*2\r\n$1\r\na\r\n\x01"), RESP_ERR_EXPECTED_DOLLAR,
			 "Protocol error: expected '$', got '\\x01'");
	expect_req_error(NULL, S("*1\r\n\r"), RESP_ERR_EXPECTED_DOLLAR,
			 "Protocol error: expected '$', got '\\x0d'");
	expect_req_error(NULL, S("*1\r\n$1\r\nab\r\n"), RESP_ERR_EXPECTED_CRLF,
			 "Protocol error: expected CRLF after bulk, got 'b'");
	expect_req_error(NULL, S("*1\r\n$1\r\na\rx"), RESP_ERR_EXPECTED_CRLF,
			 "Protocol error: expected CRLF after bulk, got 'x'");
}

TEST(inline_too_big)
{
	size_t max = 65536;
	char *in = malloc(max + 2);
	CHECK(in != NULL);
	memset(in, 'a', max + 2);
	in[max] = '\n';
	parse_whole(NULL, in, max + 1, &g1); /* exactly the limit */
	CHECK_EQ(g1.rc, 0);
	CHECK_EQ(g1.cmds, 1);
	in[max] = 'a';
	expect_req_error(NULL, in, max + 1, RESP_ERR_INLINE_TOO_BIG,
			 "Protocol error: too big inline request");
	/* Fails as soon as the line passes the limit, newline or not. */
	struct resp_limits l;
	resp_limits_default(&l);
	l.inline_bytes_max = 8;
	expect_req_error(&l, S("123456789"), RESP_ERR_INLINE_TOO_BIG, NULL);
	parse_whole(&l, S("get 1234\r\n"), &g1);  /* 8 bytes + \r... */
	CHECK_EQ(g1.rc, RESP_ERR_INLINE_TOO_BIG); /* ...the \r counts */
	parse_whole(&l, S("get 1234\n"), &g1);
	CHECK_EQ(g1.rc, 0);
	free(in);
}

TEST(total_bytes_limit)
{
	struct resp_limits l;
	resp_limits_default(&l);
	l.total_bytes_max = 200;
	/* A claim that cannot fit fails before any of its bytes arrive. */
	expect_req_error(&l, S("*1\r\n$300\r\n"), RESP_ERR_TOO_BIG, NULL);
	/* Many small arguments add up (argv entries count too). */
	char in[4096];
	size_t n = (size_t)snprintf(in, sizeof(in), "*100\r\n");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(in + n, sizeof(in) - n, "$1\r\nx\r\n");
	expect_req_error(&l, in, n, RESP_ERR_TOO_BIG, NULL);
	parse_whole(&l, S("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"), &g1);
	CHECK_EQ(g1.cmds, 1);
	/* When both the inline and the total bound apply, the one crossed
	 * first wins, however the bytes are cut (expect_req_error parses
	 * whole and byte by byte). */
	char line[300];
	memset(line, 'a', sizeof(line));
	l.inline_bytes_max = 250;
	expect_req_error(&l, line, sizeof(line), RESP_ERR_TOO_BIG, NULL);
	l.inline_bytes_max = 150;
	expect_req_error(&l, line, sizeof(line), RESP_ERR_INLINE_TOO_BIG, NULL);
}

TEST(claimed_lengths_allocate_nothing)
{
	struct resp_limits l;
	resp_limits_default(&l);
	l.count_max = (size_t)1 << 31;
	l.bulk_bytes_max = (size_t)1 << 31;
	l.total_bytes_max = (size_t)1 << 33;
	struct resp_req p;
	resp_req_init(&p, &l);
	size_t used;
	struct resp_cmd cmd;
	CHECK_EQ(resp_req_parse(&p, S("*2000000000\r\n"), &used, &cmd), 0);
	CHECK(resp_req_memory_bytes(&p) <= 1024);
	CHECK_EQ(resp_req_parse(&p, S("$2000000000\r\n"), &used, &cmd), 0);
	CHECK(resp_req_memory_bytes(&p) <= 1024);
	char chunk[1000];
	memset(chunk, 'v', sizeof(chunk));
	CHECK_EQ(resp_req_parse(&p, chunk, sizeof(chunk), &used, &cmd), 0);
	CHECK(resp_req_memory_bytes(&p) <= 4096);
	resp_req_deinit(&p);

	/* With the default limits, the same: */
	resp_req_init(&p, NULL);
	CHECK_EQ(resp_req_parse(&p, S("*1048576\r\n$536870912\r\nabc"), &used, &cmd), 0);
	CHECK(resp_req_memory_bytes(&p) <= 1024);
	resp_req_deinit(&p);
	/* and over them nothing at all is held. */
	resp_req_init(&p, NULL);
	CHECK_EQ(resp_req_parse(&p, S("*1000000000\r\n"), &used, &cmd),
		 RESP_ERR_MULTIBULK_LEN);
	CHECK_EQ(resp_req_memory_bytes(&p), 0);
	resp_req_deinit(&p);
	resp_req_init(&p, NULL);
	CHECK_EQ(resp_req_parse(&p, S("*1\r\n$2000000000\r\n"), &used, &cmd),
		 RESP_ERR_BULK_LEN);
	CHECK_EQ(resp_req_memory_bytes(&p), 0);
	resp_req_deinit(&p);
}

TEST(memory_follows_data_and_is_released)
{
	size_t big = (size_t)1 << 20;
	struct resp_req p;
	resp_req_init(&p, NULL);
	size_t used;
	struct resp_cmd cmd;
	char hdr[64];
	int h = snprintf(hdr, sizeof(hdr), "*2\r\n$3\r\nSET\r\n$%zu\r\n", big);
	CHECK_EQ(resp_req_parse(&p, hdr, (size_t)h, &used, &cmd), 0);
	char chunk[4096];
	memset(chunk, 'q', sizeof(chunk));
	for (size_t sent = 0; sent < big; sent += sizeof(chunk)) {
		CHECK_EQ(resp_req_parse(&p, chunk, sizeof(chunk), &used, &cmd), 0);
		/* never more than twice what arrived, plus a little */
		CHECK(resp_req_memory_bytes(&p) <= 2 * (sent + sizeof(chunk)) + 1024);
	}
	CHECK_EQ(resp_req_parse(&p, S("\r\n"), &used, &cmd), 1);
	CHECK_EQ(cmd.argc, 2);
	CHECK_EQ(cmd.argv[1].len, big);
	CHECK(cmd.argv[1].ptr[0] == 'q' && cmd.argv[1].ptr[big - 1] == 'q');
	/* Capacity stops at the claimed size: no doubling past it. */
	CHECK(resp_req_memory_bytes(&p) <= big + 1024);
	CHECK_EQ(resp_req_parse(&p, S("PING\r\n"), &used, &cmd), 1);
	CHECK(resp_req_memory_bytes(&p) <= 65536 + 4096);
	resp_req_deinit(&p);
}

TEST(garbage_never_crashes)
{
	rp_prng r;
	rp_prng_init(&r, 4242);
	static const char alphabet[] = "*$\r\n0123-9 \"'\\xaPING";
	char buf[256];
	int errors = 0, cmds = 0;
	for (int iter = 0; iter < 20000; iter++) {
		size_t n = (size_t)rp_prng_below(&r, sizeof(buf));
		bool structured = rp_prng_below(&r, 2) == 0;
		for (size_t i = 0; i < n; i++)
			buf[i] = structured
				     ? alphabet[rp_prng_below(&r, sizeof(alphabet) - 1)]
				     : (char)rp_prng_below(&r, 256);
		struct resp_limits l;
		resp_limits_default(&l);
		l.inline_bytes_max = 1 + (size_t)rp_prng_below(&r, 64);
		l.total_bytes_max = 1 + (size_t)rp_prng_below(&r, 512);
		struct resp_req p;
		resp_req_init(&p, &l);
		memset(&g1, 0, sizeof(g1));
		size_t off = 0;
		while (off < n && g1.rc == 0) {
			size_t k = 1 + (size_t)rp_prng_below(&r, n - off);
			feed(&p, buf + off, k, &g1);
			off += k;
		}
		errors += g1.rc != 0;
		cmds += g1.cmds;
		resp_req_deinit(&p);
	}
	CHECK(errors > 1000);
	CHECK(cmds > 1000);
}

/* ---------------------------------------------------------------------------
 * Writer.
 */
static bool out_is(const struct resp_out *o, const char *want, size_t n)
{
	return o->len == n && memcmp(o->data, want, n) == 0;
}

#define OUT_IS(o, lit) out_is((o), lit, sizeof(lit) - 1)

/* Runs one writer call in each protocol and compares the bytes. */
#define BOTH(call, want2, want3)                                                         \
	do {                                                                             \
		struct resp_out o_;                                                      \
		resp_out_init(&o_, 1 << 20);                                             \
		int proto = 2;                                                           \
		CHECK_EQ((call), 0);                                                     \
		CHECK(OUT_IS(&o_, want2));                                               \
		resp_out_reset(&o_);                                                     \
		proto = 3;                                                               \
		CHECK_EQ((call), 0);                                                     \
		CHECK(OUT_IS(&o_, want3));                                               \
		(void)proto;                                                             \
		resp_out_deinit(&o_);                                                    \
	} while (0)

TEST(writer_encodings_resp2_and_resp3)
{
	BOTH(resp_add_simple(&o_, S("OK")), "+OK\r\n", "+OK\r\n");
	BOTH(resp_add_error(&o_, S("ERR no")), "-ERR no\r\n", "-ERR no\r\n");
	BOTH(resp_add_int(&o_, 0), ":0\r\n", ":0\r\n");
	BOTH(resp_add_int(&o_, -42), ":-42\r\n", ":-42\r\n");
	BOTH(resp_add_int(&o_, INT64_MIN), ":-9223372036854775808\r\n",
	     ":-9223372036854775808\r\n");
	BOTH(resp_add_int(&o_, INT64_MAX), ":9223372036854775807\r\n",
	     ":9223372036854775807\r\n");
	BOTH(resp_add_bulk(&o_, S("a\r\nb")), "$4\r\na\r\nb\r\n", "$4\r\na\r\nb\r\n");
	BOTH(resp_add_bulk(&o_, NULL, 0), "$0\r\n\r\n", "$0\r\n\r\n");
	BOTH(resp_add_null(&o_, proto), "$-1\r\n", "_\r\n");
	BOTH(resp_add_null_array(&o_, proto), "*-1\r\n", "_\r\n");
	BOTH(resp_add_array(&o_, 3), "*3\r\n", "*3\r\n");
	BOTH(resp_add_array(&o_, 0), "*0\r\n", "*0\r\n");
	BOTH(resp_add_map(&o_, proto, 2), "*4\r\n", "%2\r\n");
	BOTH(resp_add_set(&o_, proto, 5), "*5\r\n", "~5\r\n");
	BOTH(resp_add_double(&o_, proto, 1.5), "$3\r\n1.5\r\n", ",1.5\r\n");
	BOTH(resp_add_double(&o_, proto, 0.1), "$3\r\n0.1\r\n", ",0.1\r\n");
	BOTH(resp_add_double(&o_, proto, -3.0), "$2\r\n-3\r\n", ",-3\r\n");
	BOTH(resp_add_double(&o_, proto, 1e300), "$6\r\n1e+300\r\n", ",1e+300\r\n");
	BOTH(resp_add_double(&o_, proto, INFINITY), "$3\r\ninf\r\n", ",inf\r\n");
	BOTH(resp_add_double(&o_, proto, -INFINITY), "$4\r\n-inf\r\n", ",-inf\r\n");
	BOTH(resp_add_double(&o_, proto, NAN), "$3\r\nnan\r\n", ",nan\r\n");
	BOTH(resp_add_bool(&o_, proto, true), ":1\r\n", "#t\r\n");
	BOTH(resp_add_bool(&o_, proto, false), ":0\r\n", "#f\r\n");
	BOTH(resp_add_verbatim(&o_, proto, "txt", S("hi")), "$2\r\nhi\r\n",
	     "=6\r\ntxt:hi\r\n");
	BOTH(resp_add_raw(&o_, S("+X\r\n")), "+X\r\n", "+X\r\n");
}

TEST(writer_double_round_trips)
{
	double vals[] = {0.1,  1.0 / 3,	     2.5e-308, 1.7976931348623157e308,
			 -0.0, 123456789.125};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct resp_out o;
		resp_out_init(&o, 1024);
		CHECK_EQ(resp_add_double(&o, 3, vals[i]), 0);
		CHECK(o.len < 30);
		struct resp_reader r;
		resp_reader_init(&r, NULL);
		size_t used;
		struct resp_value *v;
		CHECK_EQ(resp_reader_feed(&r, o.data, o.len, &used, &v), 1);
		CHECK_EQ(v->type, RESP_T_DOUBLE);
		CHECK(v->dbl == vals[i]);
		resp_value_free(v);
		resp_reader_deinit(&r);
		resp_out_deinit(&o);
	}
}

TEST(writer_sanitizes_lines)
{
	struct resp_out o;
	resp_out_init(&o, 1024);
	CHECK_EQ(resp_add_error(&o, S("ERR bad\r\nkey")), 0);
	CHECK(OUT_IS(&o, "-ERR bad  key\r\n"));
	resp_out_reset(&o);
	CHECK_EQ(resp_add_errorf(&o, "ERR unknown command '%s'", "fo\no"), 0);
	CHECK(OUT_IS(&o, "-ERR unknown command 'fo o'\r\n"));
	resp_out_reset(&o);
	CHECK_EQ(resp_add_simple(&o, S("a\rb")), 0);
	CHECK(OUT_IS(&o, "+a b\r\n"));
	resp_out_deinit(&o);
}

TEST(writer_limit_is_atomic_and_sticky)
{
	struct resp_out o;
	resp_out_init(&o, 16);
	CHECK_EQ(resp_add_simple(&o, S("OK")), 0);
	CHECK_EQ(resp_add_bulk(&o, S("abcdefg")), RP_ERR_NOSPC); /* 13 more: 18 */
	CHECK(OUT_IS(&o, "+OK\r\n"));				 /* nothing appended */
	CHECK_EQ(resp_add_int(&o, 1), RP_ERR_NOSPC);		 /* sticky */
	CHECK(OUT_IS(&o, "+OK\r\n"));
	CHECK_EQ(o.err, RP_ERR_NOSPC);
	resp_out_reset(&o);
	CHECK_EQ(resp_add_int(&o, 1), 0);
	CHECK(OUT_IS(&o, ":1\r\n"));
	CHECK_EQ(resp_add_raw(&o, S("0123456789AB")), 0); /* exactly 16 */
	CHECK_EQ(o.len, 16);
	CHECK(o.cap <= 16);
	resp_out_consume(&o, 4);
	CHECK(OUT_IS(&o, "0123456789AB"));
	resp_out_consume(&o, 12);
	CHECK_EQ(o.len, 0);
	resp_out_deinit(&o);
}

TEST(writer_command_is_all_or_nothing)
{
	struct resp_out o;
	resp_out_init(&o, 30);
	struct resp_arg argv[2] = {{"SET", 3}, {"0123456789", 10}};
	CHECK_EQ(resp_add_command(&o, 1, argv), 0);
	CHECK(OUT_IS(&o, "*1\r\n$3\r\nSET\r\n"));
	CHECK_EQ(resp_add_command(&o, 2, argv), RP_ERR_NOSPC);
	CHECK(OUT_IS(&o, "*1\r\n$3\r\nSET\r\n"));
	resp_out_deinit(&o);
}

TEST(round_trip_commands)
{
	rp_prng r;
	rp_prng_init(&r, 99);
	static char store[64][80];
	struct resp_arg argv[64];
	for (int iter = 0; iter < 300; iter++) {
		size_t argc = 1 + (size_t)rp_prng_below(&r, 64);
		for (size_t i = 0; i < argc; i++) {
			argv[i].len = (size_t)rp_prng_below(&r, 80);
			for (size_t j = 0; j < argv[i].len; j++)
				store[i][j] = (char)rp_prng_below(&r, 256);
			argv[i].ptr = store[i];
		}
		struct resp_out o;
		resp_out_init(&o, 1 << 20);
		CHECK_EQ(resp_add_command(&o, argc, argv), 0);
		CHECK_EQ(resp_add_command(&o, argc, argv), 0);
		struct resp_req p;
		resp_req_init(&p, NULL);
		size_t off = 0;
		int seen = 0;
		while (off < o.len) {
			size_t k = 1 + (size_t)rp_prng_below(&r, o.len - off);
			size_t used, pos = 0;
			struct resp_cmd cmd;
			int rc;
			while ((rc = resp_req_parse(&p, o.data + off + pos, k - pos,
						    &used, &cmd)) == 1) {
				pos += used;
				CHECK_EQ(cmd.argc, argc);
				for (size_t i = 0; i < argc; i++) {
					CHECK_EQ(cmd.argv[i].len, argv[i].len);
					CHECK(memcmp(cmd.argv[i].ptr, argv[i].ptr,
						     argv[i].len) == 0);
				}
				seen++;
			}
			CHECK_EQ(rc, 0);
			off += k;
		}
		CHECK_EQ(seen, 2);
		resp_req_deinit(&p);
		resp_out_deinit(&o);
	}
}

/* ---------------------------------------------------------------------------
 * Reply reader.  Trees are printed as text to compare them.
 */
static void tree_text(const struct resp_value *v, char *out, size_t size, size_t *len)
{
	char tmp[64];
	int n = 0;
	switch (v->type) {
	case RESP_T_SIMPLE:
		n = snprintf(tmp, sizeof(tmp), "+");
		break;
	case RESP_T_ERROR:
		n = snprintf(tmp, sizeof(tmp), "-");
		break;
	case RESP_T_BULK:
		n = snprintf(tmp, sizeof(tmp), "$");
		break;
	case RESP_T_BIGNUM:
		n = snprintf(tmp, sizeof(tmp), "(");
		break;
	case RESP_T_VERBATIM:
		n = snprintf(tmp, sizeof(tmp), "=%s:", v->format);
		break;
	case RESP_T_INTEGER:
		n = snprintf(tmp, sizeof(tmp), ":%lld", (long long)v->integer);
		break;
	case RESP_T_BOOL:
		n = snprintf(tmp, sizeof(tmp), "#%lld", (long long)v->integer);
		break;
	case RESP_T_DOUBLE:
		n = snprintf(tmp, sizeof(tmp), ",%g", v->dbl);
		break;
	case RESP_T_NULL:
		n = snprintf(tmp, sizeof(tmp), "_");
		break;
	case RESP_T_ARRAY:
		n = snprintf(tmp, sizeof(tmp), "[%zu", v->count);
		break;
	case RESP_T_MAP:
		n = snprintf(tmp, sizeof(tmp), "{%zu", v->count);
		break;
	case RESP_T_SET:
		n = snprintf(tmp, sizeof(tmp), "~%zu", v->count);
		break;
	case RESP_T_PUSH:
		n = snprintf(tmp, sizeof(tmp), ">%zu", v->count);
		break;
	}
	CHECK(*len + (size_t)n + v->len + 4 < size);
	memcpy(out + *len, tmp, (size_t)n);
	*len += (size_t)n;
	if (v->str != NULL) {
		CHECK_EQ(v->str[v->len], '\0');
		memcpy(out + *len, v->str, v->len);
		*len += v->len;
	} else {
		CHECK_EQ(v->len, 0);
	}
	if (v->type == RESP_T_ARRAY || v->type == RESP_T_MAP || v->type == RESP_T_SET ||
	    v->type == RESP_T_PUSH) {
		for (size_t i = 0; i < v->count; i++) {
			out[(*len)++] = ' ';
			tree_text(&v->elems[i], out, size, len);
		}
		out[(*len)++] = ']';
	} else {
		CHECK(v->elems == NULL);
	}
	out[*len] = '\0';
}

struct replies {
	char text[8192];
	size_t len;
	int rc;
	int count;
};

static void read_feed(struct resp_reader *r, const char *buf, size_t n, struct replies *g)
{
	size_t off = 0;
	while (g->rc == 0) {
		size_t used;
		struct resp_value *v = (struct resp_value *)&used;
		int rc = resp_reader_feed(r, buf + off, n - off, &used, &v);
		if (rc < 0) {
			CHECK(v == NULL);
			g->rc = rc;
			return;
		}
		off += used;
		if (rc == 1) {
			CHECK(v != NULL);
			tree_text(v, g->text, sizeof(g->text), &g->len);
			g->text[g->len++] = '\n';
			g->text[g->len] = '\0';
			g->count++;
			resp_value_free(v);
			continue;
		}
		CHECK(v == NULL);
		CHECK_EQ(off, n);
		return;
	}
}

static void read_cuts(const struct resp_limits *lim, const char *in, size_t n,
		      const size_t *cuts, size_t ncuts, struct replies *g)
{
	struct resp_reader r;
	resp_reader_init(&r, lim);
	memset(g, 0, sizeof(*g));
	size_t prev = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		read_feed(&r, in + prev, end - prev, g);
		prev = end;
	}
	resp_reader_deinit(&r);
}

static struct replies rg1, rg2;

static void read_whole(const struct resp_limits *lim, const char *in, size_t n)
{
	read_cuts(lim, in, n, NULL, 0, &rg1);
}

TEST(reader_scalars)
{
	read_whole(NULL,
		   S("+OK\r\n-ERR x y\r\n:-9223372036854775808\r\n$5\r\nhe\r\no\r\n"
		     "$0\r\n\r\n$-1\r\n*-1\r\n_\r\n,1.5\r\n,-inf\r\n#t\r\n#f\r\n"
		     "=9\r\ntxt:hello\r\n(-12345678901234567890123\r\n!5\r\nERR e\r\n"));
	CHECK_EQ(rg1.rc, 0);
	CHECK_EQ(rg1.count, 15);
	CHECK(strcmp(rg1.text,
		     "+OK\n-ERR x y\n:-9223372036854775808\n$he\r\no\n$\n_\n_\n_\n"
		     ",1.5\n,-inf\n#1\n#0\n=txt:hello\n(-12345678901234567890123\n"
		     "-ERR e\n") == 0);
}

static const char nested[] =
    "*3\r\n:1\r\n*2\r\n$1\r\na\r\n%1\r\n+k\r\n~2\r\n_\r\n$-1\r\n-ERR in array\r\n"
    "%2\r\n$3\r\nfoo\r\n*0\r\n|1\r\n+ttl\r\n:5\r\n$3\r\nbar\r\n,0.25\r\n"
    ">2\r\n$7\r\nmessage\r\n#t\r\n";

TEST(reader_nested_aggregates)
{
	read_whole(NULL, S(nested));
	CHECK_EQ(rg1.rc, 0);
	CHECK_EQ(rg1.count, 3);
	CHECK(strcmp(rg1.text, "[3 :1 [2 $a {2 +k ~2 _ _]]] -ERR in array]\n"
			       "{4 $foo [0] $bar ,0.25]\n"
			       ">2 $message #1]\n") == 0);
}

TEST(reader_every_fragmentation)
{
	size_t n = sizeof(nested) - 1;
	read_whole(NULL, nested, n);
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b += 5) {
			size_t cuts[2] = {a, b};
			read_cuts(NULL, nested, n, cuts, 2, &rg2);
			CHECK_EQ(rg2.rc, 0);
			CHECK(strcmp(rg1.text, rg2.text) == 0);
		}
	}
	struct resp_reader r;
	resp_reader_init(&r, NULL);
	memset(&rg2, 0, sizeof(rg2));
	for (size_t i = 0; i < n; i++)
		read_feed(&r, nested + i, 1, &rg2);
	CHECK(strcmp(rg1.text, rg2.text) == 0);
	resp_reader_deinit(&r);
}

TEST(reader_round_trips_the_writer)
{
	for (int proto = 2; proto <= 3; proto++) {
		struct resp_out o;
		resp_out_init(&o, 4096);
		resp_add_map(&o, proto, 2);
		resp_add_bulk(&o, S("server"));
		resp_add_verbatim(&o, proto, "txt", S("rasputin"));
		resp_add_bulk(&o, S("flags"));
		resp_add_set(&o, proto, 3);
		resp_add_bool(&o, proto, true);
		resp_add_double(&o, proto, 2.5);
		resp_add_null(&o, proto);
		resp_add_null_array(&o, proto);
		resp_add_errorf(&o, "ERR %d", 7);
		CHECK_EQ(o.err, 0);
		read_whole(NULL, o.data, o.len);
		CHECK_EQ(rg1.rc, 0);
		if (proto == 3)
			CHECK(strcmp(rg1.text,
				     "{4 $server =txt:rasputin $flags ~3 #1 ,2.5 _]]\n_\n"
				     "-ERR 7\n") == 0);
		else
			CHECK(strcmp(rg1.text,
				     "[4 $server $rasputin $flags [3 :1 $2.5 _]]\n_\n"
				     "-ERR 7\n") == 0);
		resp_out_deinit(&o);
	}
}

static void expect_read_error(const struct resp_limits *lim, const char *in, size_t n,
			      int rc)
{
	read_whole(lim, in, n);
	CHECK_EQ(rg1.rc, rc);
	struct resp_reader r;
	resp_reader_init(&r, lim);
	memset(&rg2, 0, sizeof(rg2));
	for (size_t i = 0; i < n; i++)
		read_feed(&r, in + i, 1, &rg2);
	CHECK_EQ(rg2.rc, rc);
	CHECK(strncmp(resp_reader_errmsg(&r), "Protocol error: ", 16) == 0);
	size_t used;
	struct resp_value *v;
	CHECK_EQ(resp_reader_feed(&r, S("+OK\r\n"), &used, &v), rc); /* poisoned */
	CHECK(v == NULL);
	CHECK_EQ(resp_reader_memory_bytes(&r), 0);
	resp_reader_deinit(&r);
}

TEST(reader_errors)
{
	expect_read_error(NULL, S("?\r\n"), RESP_ERR_BAD_TYPE);
	expect_read_error(NULL, S(":12a\r\n"), RESP_ERR_BAD_INTEGER);
	expect_read_error(NULL, S(":\r\n"), RESP_ERR_BAD_INTEGER);
	expect_read_error(NULL, S(":9223372036854775808\r\n"), RESP_ERR_BAD_INTEGER);
	expect_read_error(NULL, S(":-9223372036854775809\r\n"), RESP_ERR_BAD_INTEGER);
	expect_read_error(NULL, S(",abc\r\n"), RESP_ERR_BAD_DOUBLE);
	expect_read_error(NULL, S(", 1\r\n"), RESP_ERR_BAD_DOUBLE);
	expect_read_error(NULL, S("#x\r\n"), RESP_ERR_BAD_BOOL);
	expect_read_error(NULL, S("_x\r\n"), RESP_ERR_BAD_NULL);
	expect_read_error(NULL, S("(12x\r\n"), RESP_ERR_BAD_BIGNUM);
	expect_read_error(NULL, S("=3\r\ntxt\r\n"), RESP_ERR_BAD_VERBATIM);
	expect_read_error(NULL, S("$-2\r\n"), RESP_ERR_BULK_LEN);
	expect_read_error(NULL, S("!-1\r\n"), RESP_ERR_BULK_LEN);
	expect_read_error(NULL, S("$536870913\r\n"), RESP_ERR_BULK_LEN);
	expect_read_error(NULL, S("*-2\r\n"), RESP_ERR_MULTIBULK_LEN);
	expect_read_error(NULL, S("%-1\r\n"), RESP_ERR_MULTIBULK_LEN);
	expect_read_error(NULL, S("*1048577\r\n"), RESP_ERR_MULTIBULK_LEN);
	expect_read_error(NULL, S("$1\r\nab"), RESP_ERR_EXPECTED_CRLF);
	expect_read_error(NULL, S("+a\nb\r\n"), RESP_ERR_EXPECTED_CRLF);
	expect_read_error(NULL, S("+a\rb\r\n"), RESP_ERR_EXPECTED_CRLF);
	expect_read_error(NULL, S("*2\r\n:1\r\n*1\r\n?"), RESP_ERR_BAD_TYPE);
	struct resp_limits l;
	resp_limits_default(&l);
	l.inline_bytes_max = 4;
	expect_read_error(&l, S("+hello\r\n"), RESP_ERR_LINE_TOO_LONG);
	read_whole(&l, S("+hell\r\n"));
	CHECK_EQ(rg1.rc, 0);
	l.total_bytes_max = 100;
	l.inline_bytes_max = 1000;
	expect_read_error(&l, S("$200\r\n"), RESP_ERR_TOO_BIG);
	char line[300];
	memset(line, 'a', sizeof(line));
	line[0] = '+';
	expect_read_error(&l, line, sizeof(line), RESP_ERR_TOO_BIG);
	l.inline_bytes_max = 50;
	expect_read_error(&l, line, sizeof(line), RESP_ERR_LINE_TOO_LONG);
	l.inline_bytes_max = 1000;
	expect_read_error(
	    &l,
	    S("*10\r\n+aaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n+bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"
	      "+cccccccccccccccccccccccccccc\r\n+dddddddddddddddddddddddd\r\n"),
	    RESP_ERR_TOO_BIG);
}

TEST(reader_depth_limit)
{
	struct resp_limits l;
	resp_limits_default(&l);
	l.depth_max = 3;
	read_whole(&l, S("*1\r\n*1\r\n*1\r\n:1\r\n"));
	CHECK_EQ(rg1.rc, 0);
	CHECK(strcmp(rg1.text, "[1 [1 [1 :1]]]\n") == 0);
	expect_read_error(&l, S("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"), RESP_ERR_TOO_DEEP);
	expect_read_error(&l, S("*1\r\n%1\r\n~1\r\n>0\r\n"), RESP_ERR_TOO_DEEP);
	/* The default is deep enough for real replies but bounded. */
	char deep[4096];
	size_t n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*1\r\n");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, ":1\r\n");
	expect_read_error(NULL, deep, n, RESP_ERR_TOO_DEEP);
}

TEST(reader_claims_allocate_nothing)
{
	struct resp_limits l;
	resp_limits_default(&l);
	l.count_max = (size_t)1 << 31;
	l.bulk_bytes_max = (size_t)1 << 31;
	l.total_bytes_max = (size_t)1 << 33;
	struct resp_reader r;
	resp_reader_init(&r, &l);
	size_t used;
	struct resp_value *v;
	CHECK_EQ(resp_reader_feed(
		     &r, S("*2000000000\r\n%2000000000\r\n$2000000000\r\nxy"), &used, &v),
		 0);
	CHECK(resp_reader_memory_bytes(&r) <= 4096);
	resp_reader_deinit(&r);
}

TEST(reader_garbage_never_crashes)
{
	rp_prng r;
	rp_prng_init(&r, 777);
	char buf[256];
	int errors = 0, replies = 0;
	for (int iter = 0; iter < 20000; iter++) {
		/* Mutate the valid sample: random bytes replaced or cut. */
		size_t n = sizeof(nested) - 1;
		memcpy(buf, nested, n);
		int flips = 1 + (int)rp_prng_below(&r, 4);
		for (int f = 0; f < flips; f++)
			buf[rp_prng_below(&r, n)] = (char)rp_prng_below(&r, 256);
		n = (size_t)rp_prng_below(&r, n + 1);
		struct resp_limits l;
		resp_limits_default(&l);
		l.depth_max = 1 + (size_t)rp_prng_below(&r, 4);
		struct resp_reader rd;
		resp_reader_init(&rd, &l);
		memset(&rg1, 0, sizeof(rg1));
		size_t off = 0;
		while (off < n && rg1.rc == 0) {
			size_t k = 1 + (size_t)rp_prng_below(&r, n - off);
			read_feed(&rd, buf + off, k, &rg1);
			off += k;
		}
		errors += rg1.rc != 0;
		replies += rg1.count;
		resp_reader_deinit(&rd);
	}
	CHECK(errors > 1000);
	CHECK(replies > 1000);
}

TEST(strerror_covers_every_code)
{
	for (int rc = RESP_ERR_LINE_TOO_LONG; rc <= RESP_ERR_MULTIBULK_LEN; rc++) {
		const char *m = resp_strerror(rc);
		CHECK(strncmp(m, "Protocol error: ", 16) == 0);
		for (int k = rc + 1; k <= RESP_ERR_MULTIBULK_LEN; k++)
			CHECK(strcmp(m, resp_strerror(k)) != 0);
	}
	CHECK(strcmp(resp_strerror(RP_ERR_NOMEM), "out of memory") == 0);
	CHECK(strcmp(resp_strerror(RP_ERR_NOSPC), "no space left") == 0);
}

TEST_MAIN()
