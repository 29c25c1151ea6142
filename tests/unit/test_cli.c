/*
 * test_cli.c — rasputin-cli's pieces that need no terminal and no server:
 * splitting a typed line (redis-cli's quoting), printing replies in the TTY
 * and raw styles (the expected texts are what redis-cli 7.0 prints for the
 * same replies), the command line, and `cluster status`'s parsing and
 * table.  The network side of `cluster status` is tested in test_client.c.
 */
#include "test.h"

#include <stdlib.h>

#include "cli/cli_args.h"
#include "cli/cli_buf.h"
#include "cli/cli_cluster.h"
#include "cli/cli_format.h"
#include "cli/cli_opts.h"
#include "rasputin.h"
#include "util/err.h"

/* ---------------------------------------------------------------------------
 * Argument splitting.
 */

/* Splits line and joins the arguments as [a][b]..., bytes outside
 * printable ASCII as \xHH. */
static const char *split(const char *line)
{
	static char out[512];
	struct cli_args a;
	int rc = cli_args_split(line, &a);
	if (rc != 0) {
		snprintf(out, sizeof(out), "error %d", rc);
		return out;
	}
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < a.argc; i++) {
		n += (size_t)snprintf(out + n, sizeof(out) - n, "[");
		for (size_t j = 0; j < a.lens[i]; j++) {
			unsigned char c = (unsigned char)a.argv[i][j];
			if (c >= 0x20 && c < 0x7f)
				n += (size_t)snprintf(out + n, sizeof(out) - n, "%c", c);
			else
				n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x",
						      c);
		}
		CHECK_EQ(a.argv[i][a.lens[i]], '\0');
		n += (size_t)snprintf(out + n, sizeof(out) - n, "]");
	}
	cli_args_free(&a);
	return out;
}

#define CHECK_SPLIT(line, want)                                                          \
	do {                                                                             \
		const char *got_ = split(line);                                          \
		if (strcmp(got_, (want)) != 0) {                                         \
			printf("    split(%s): got '%s', want '%s'\n", #line, got_,      \
			       (want));                                                  \
			CHECK(0);                                                        \
		}                                                                        \
	} while (0)

TEST(split_plain_words)
{
	CHECK_SPLIT("set k v", "[set][k][v]");
	CHECK_SPLIT("  set\tk  v \r\n", "[set][k][v]");
	CHECK_SPLIT("", "");
	CHECK_SPLIT("   \t ", "");
	CHECK_SPLIT("get", "[get]");
}

TEST(split_double_quotes)
{
	CHECK_SPLIT("set k \"hello world\"", "[set][k][hello world]");
	CHECK_SPLIT("set k \"\"", "[set][k][]");
	CHECK_SPLIT("\"a\\\"b\\\\c\\nd\"", "[a\"b\\c\\x0ad]");
	CHECK_SPLIT("\"\\x01\\xff\\t\\a\\b\\r z\"", "[\\x01\\xff\\x09\\x07\\x08\\x0d z]");
	CHECK_SPLIT("\"\\x00\"", "[\\x00]");
	CHECK_SPLIT("\"\\xZZ\"", "[xZZ]"); /* not hex: the backslash goes */
	CHECK_SPLIT("\"\\q\"", "[q]");	   /* unknown escape: the char */
	CHECK_SPLIT("a\"b c\"", "[ab c]"); /* a quote inside a word */
	CHECK_SPLIT("\"x\" \"y\"", "[x][y]");
}

TEST(split_single_quotes)
{
	CHECK_SPLIT("set q 'it\\'s'", "[set][q][it's]");
	CHECK_SPLIT("'a\\nb'", "[a\\nb]"); /* no escapes but \' */
	CHECK_SPLIT("'\"'", "[\"]");
	CHECK_SPLIT("''", "[]");
}

TEST(split_rejects_bad_quoting)
{
	char want[32];
	snprintf(want, sizeof(want), "error %d", RP_ERR_INVALID);
	CHECK_SPLIT("set k \"unclosed", want);
	CHECK_SPLIT("set k 'unclosed", want);
	CHECK_SPLIT("set c a\"b c\"d", want); /* closing quote then a letter */
	CHECK_SPLIT("set c \"x\"y", want);
	CHECK_SPLIT("'x'y", want);
	CHECK_SPLIT("\"trailing backslash\\", want);
}

/* ---------------------------------------------------------------------------
 * Reply formatting.
 */
static struct rasputin_reply mk(enum rasputin_reply_type t)
{
	struct rasputin_reply r;
	memset(&r, 0, sizeof(r));
	r.type = t;
	return r;
}

static struct rasputin_reply mk_str(enum rasputin_reply_type t, const char *s)
{
	struct rasputin_reply r = mk(t);
	r.str = (char *)s;
	r.len = strlen(s);
	return r;
}

static struct rasputin_reply mk_int(int64_t v)
{
	struct rasputin_reply r = mk(RASPUTIN_REPLY_INTEGER);
	r.integer = v;
	return r;
}

static struct rasputin_reply mk_agg(enum rasputin_reply_type t,
				    struct rasputin_reply *elems, size_t count)
{
	struct rasputin_reply r = mk(t);
	r.elems = elems;
	r.count = count;
	return r;
}

static const char *fmt(const struct rasputin_reply *r, enum cli_format f)
{
	static struct cli_buf b;
	cli_buf_deinit(&b);
	cli_buf_init(&b);
	cli_format_reply(&b, r, f);
	CHECK(!b.oom);
	return cli_buf_str(&b);
}

#define CHECK_FMT(r, f, want)                                                            \
	do {                                                                             \
		const char *got_ = fmt((r), (f));                                        \
		if (strcmp(got_, (want)) != 0) {                                         \
			printf("    got:\n%s    want:\n%s", got_, (want));               \
			CHECK(0);                                                        \
		}                                                                        \
	} while (0)

TEST(format_scalars_tty)
{
	struct rasputin_reply r = mk_str(RASPUTIN_REPLY_STRING, "v1");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "\"v1\"\n");
	r = mk_str(RASPUTIN_REPLY_STRING, "a\"b\\c\nd");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "\"a\\\"b\\\\c\\nd\"\n");
	char bin[] = {'\x01', '\xff', '\t', '\a', '\b', '\r', ' ', 'z', '\0'};
	r = mk(RASPUTIN_REPLY_STRING);
	r.str = bin;
	r.len = 9;
	CHECK_FMT(&r, CLI_FORMAT_TTY, "\"\\x01\\xff\\t\\a\\b\\r z\\x00\"\n");
	r = mk(RASPUTIN_REPLY_NIL);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(nil)\n");
	r = mk_int(-42);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(integer) -42\n");
	r = mk_str(RASPUTIN_REPLY_STATUS, "OK");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "OK\n");
	r = mk_str(RASPUTIN_REPLY_ERROR, "ERR unknown command 'foo'");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(error) ERR unknown command 'foo'\n");
	r = mk_str(RASPUTIN_REPLY_DOUBLE, "3.5");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(double) 3.5\n");
	r = mk(RASPUTIN_REPLY_BOOL);
	r.integer = 1;
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(true)\n");
	r.integer = 0;
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(false)\n");
	r = mk_str(RASPUTIN_REPLY_BIGNUM, "123456789012345678901234567890");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(big number) 123456789012345678901234567890\n");
	r = mk_str(RASPUTIN_REPLY_VERBATIM, "hi\nthere");
	CHECK_FMT(&r, CLI_FORMAT_TTY, "hi\nthere\n");
}

TEST(format_arrays_tty)
{
	/* redis-cli: eval 'return {1,{2,{3,"x"}},redis.call("ping")}' 0 */
	struct rasputin_reply in3[2] = {mk_int(3), mk_str(RASPUTIN_REPLY_STRING, "x")};
	struct rasputin_reply in2[2] = {mk_int(2), mk_agg(RASPUTIN_REPLY_ARRAY, in3, 2)};
	struct rasputin_reply top[3] = {mk_int(1), mk_agg(RASPUTIN_REPLY_ARRAY, in2, 2),
					mk_str(RASPUTIN_REPLY_STATUS, "PONG")};
	struct rasputin_reply r = mk_agg(RASPUTIN_REPLY_ARRAY, top, 3);
	CHECK_FMT(&r, CLI_FORMAT_TTY,
		  "1) (integer) 1\n"
		  "2) 1) (integer) 2\n"
		  "   2) 1) (integer) 3\n"
		  "      2) \"x\"\n"
		  "3) PONG\n");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "1\n2\n3\nx\nPONG\n");

	/* Numbers are right-aligned to the widest. */
	struct rasputin_reply twelve[12];
	char digits[12][16];
	for (int i = 0; i < 12; i++) {
		snprintf(digits[i], sizeof(digits[i]), "%d", i + 1);
		twelve[i] = mk_str(RASPUTIN_REPLY_STRING, digits[i]);
	}
	struct rasputin_reply nested[2] = {mk_agg(RASPUTIN_REPLY_ARRAY, twelve, 12),
					   mk_int(0)};
	r = mk_agg(RASPUTIN_REPLY_ARRAY, twelve, 12);
	const char *want12 =
	    " 1) \"1\"\n 2) \"2\"\n 3) \"3\"\n 4) \"4\"\n 5) \"5\"\n 6) \"6\"\n"
	    " 7) \"7\"\n 8) \"8\"\n 9) \"9\"\n10) \"10\"\n11) \"11\"\n"
	    "12) \"12\"\n";
	CHECK_FMT(&r, CLI_FORMAT_TTY, want12);
	r = mk_agg(RASPUTIN_REPLY_ARRAY, nested, 2);
	const char *got = fmt(&r, CLI_FORMAT_TTY);
	CHECK(strncmp(got, "1)  1) \"1\"\n    2) \"2\"\n", 22) == 0);
	CHECK(strstr(got, "\n   12) \"12\"\n2) (integer) 0\n") != NULL);

	/* A list with an empty string and empty arrays inside. */
	struct rasputin_reply with_empty[3] = {mk_str(RASPUTIN_REPLY_STRING, "a"),
					       mk_str(RASPUTIN_REPLY_STRING, ""),
					       mk_agg(RASPUTIN_REPLY_ARRAY, NULL, 0)};
	r = mk_agg(RASPUTIN_REPLY_ARRAY, with_empty, 3);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "1) \"a\"\n2) \"\"\n3) (empty array)\n");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "a\n\n\n");
	r = mk_agg(RASPUTIN_REPLY_ARRAY, NULL, 0);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(empty array)\n");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "\n");
	/* An error inside an array. */
	struct rasputin_reply with_err[2] = {mk_int(1),
					     mk_str(RASPUTIN_REPLY_ERROR, "MY err")};
	r = mk_agg(RASPUTIN_REPLY_ARRAY, with_err, 2);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "1) (integer) 1\n2) (error) MY err\n");
}

TEST(format_maps_and_sets_tty)
{
	/* redis-cli -3: hgetall h; hello 3 (part); smembers s */
	struct rasputin_reply kv[4] = {
	    mk_str(RASPUTIN_REPLY_STRING, "f1"), mk_str(RASPUTIN_REPLY_STRING, "v1"),
	    mk_str(RASPUTIN_REPLY_STRING, "f2"), mk_str(RASPUTIN_REPLY_STRING, "v2")};
	struct rasputin_reply r = mk_agg(RASPUTIN_REPLY_MAP, kv, 4);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "1# \"f1\" => \"v1\"\n2# \"f2\" => \"v2\"\n");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "f1 v1\nf2 v2\n");
	struct rasputin_reply hello[4] = {mk_str(RASPUTIN_REPLY_STRING, "proto"),
					  mk_int(3),
					  mk_str(RASPUTIN_REPLY_STRING, "modules"),
					  mk_agg(RASPUTIN_REPLY_ARRAY, NULL, 0)};
	r = mk_agg(RASPUTIN_REPLY_MAP, hello, 4);
	CHECK_FMT(&r, CLI_FORMAT_TTY,
		  "1# \"proto\" => (integer) 3\n2# \"modules\" => (empty array)\n");
	/* A map value that is an array nests under the pair's number. */
	struct rasputin_reply two[2] = {mk_int(1), mk_int(2)};
	struct rasputin_reply nested[2] = {mk_str(RASPUTIN_REPLY_STRING, "k"),
					   mk_agg(RASPUTIN_REPLY_ARRAY, two, 2)};
	r = mk_agg(RASPUTIN_REPLY_MAP, nested, 2);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "1# \"k\" => 1) (integer) 1\n   2) (integer) 2\n");
	r = mk_agg(RASPUTIN_REPLY_MAP, NULL, 0);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(empty hash)\n");
	struct rasputin_reply members[2] = {mk_str(RASPUTIN_REPLY_STRING, "b"),
					    mk_str(RASPUTIN_REPLY_STRING, "a")};
	r = mk_agg(RASPUTIN_REPLY_SET, members, 2);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "1~ \"b\"\n2~ \"a\"\n");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "b\na\n");
	r = mk_agg(RASPUTIN_REPLY_SET, NULL, 0);
	CHECK_FMT(&r, CLI_FORMAT_TTY, "(empty set)\n");
}

TEST(format_scalars_raw)
{
	struct rasputin_reply r = mk_str(RASPUTIN_REPLY_STRING, "a\"b\\c\nd");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "a\"b\\c\nd\n");
	r = mk(RASPUTIN_REPLY_NIL);
	CHECK_FMT(&r, CLI_FORMAT_RAW, "\n");
	r = mk_int(7);
	CHECK_FMT(&r, CLI_FORMAT_RAW, "7\n");
	r = mk_str(RASPUTIN_REPLY_STATUS, "OK");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "OK\n");
	r = mk_str(RASPUTIN_REPLY_ERROR, "ERR nope");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "ERR nope\n");
	r = mk_str(RASPUTIN_REPLY_DOUBLE, "3.5");
	CHECK_FMT(&r, CLI_FORMAT_RAW, "3.5\n");
	r = mk(RASPUTIN_REPLY_BOOL);
	r.integer = 1;
	CHECK_FMT(&r, CLI_FORMAT_RAW, "(true)\n");
}

/* ---------------------------------------------------------------------------
 * The command line.
 */
static int parse(struct cli_opts *o, char *err, size_t n, int argc, const char **argv)
{
	return cli_opts_parse(argc, (char **)argv, o, err, n);
}

TEST(opts_defaults)
{
	struct cli_opts o;
	char err[128];
	const char *argv[] = {"rasputin-cli"};
	CHECK_EQ(parse(&o, err, sizeof(err), 1, argv), 0);
	CHECK_EQ(o.addr_count, 1);
	CHECK(strcmp(o.addrs[0], "127.0.0.1:7001") == 0);
	CHECK_EQ(o.cmd_count, 0);
	CHECK(!o.raw && !o.no_raw && !o.help && !o.version);
	CHECK(o.password == NULL);
	cli_opts_free(&o);
}

TEST(opts_host_port_password_command)
{
	struct cli_opts o;
	char err[128];
	const char *argv[] = {"rasputin-cli", "-h",    "10.0.0.5", "-p", "7005", "-a",
			      "pw",	      "--raw", "set",	   "k",	 "-v"};
	CHECK_EQ(parse(&o, err, sizeof(err), 11, argv), 0);
	CHECK_EQ(o.addr_count, 1);
	CHECK(strcmp(o.addrs[0], "10.0.0.5:7005") == 0);
	CHECK(strcmp(o.password, "pw") == 0);
	CHECK(o.raw);
	/* The command starts at the first non-option; "-v" after it is an
	 * argument of the command. */
	CHECK_EQ(o.cmd_index, 8);
	CHECK_EQ(o.cmd_count, 3);
	CHECK(!o.version);
	cli_opts_free(&o);

	const char *v6[] = {"rasputin-cli", "-h", "::1", "get", "k"};
	CHECK_EQ(parse(&o, err, sizeof(err), 5, v6), 0);
	CHECK(strcmp(o.addrs[0], "[::1]:7001") == 0);
	cli_opts_free(&o);

	const char *dashdash[] = {"rasputin-cli", "--", "-weird", "x"};
	CHECK_EQ(parse(&o, err, sizeof(err), 4, dashdash), 0);
	CHECK_EQ(o.cmd_index, 2);
	CHECK_EQ(o.cmd_count, 2);
	cli_opts_free(&o);
}

TEST(opts_seeds)
{
	struct cli_opts o;
	char err[128];
	const char *only[] = {"rasputin-cli", "--seeds", "a:1,b:2,,[::1]:3", "cluster",
			      "status"};
	CHECK_EQ(parse(&o, err, sizeof(err), 5, only), 0);
	CHECK_EQ(o.addr_count, 3);
	CHECK(strcmp(o.addrs[0], "a:1") == 0);
	CHECK(strcmp(o.addrs[1], "b:2") == 0);
	CHECK(strcmp(o.addrs[2], "[::1]:3") == 0);
	CHECK_EQ(o.cmd_count, 2);
	cli_opts_free(&o);
	/* -p with seeds: that node first, then the seeds. */
	const char *both[] = {"rasputin-cli", "-p", "7002", "--seeds", "h:7003"};
	CHECK_EQ(parse(&o, err, sizeof(err), 5, both), 0);
	CHECK_EQ(o.addr_count, 2);
	CHECK(strcmp(o.addrs[0], "127.0.0.1:7002") == 0);
	CHECK(strcmp(o.addrs[1], "h:7003") == 0);
	cli_opts_free(&o);
}

TEST(opts_errors)
{
	struct cli_opts o;
	char err[128];
	const char *unknown[] = {"rasputin-cli", "--bogus"};
	CHECK_EQ(parse(&o, err, sizeof(err), 2, unknown), RP_ERR_INVALID);
	CHECK(strstr(err, "--bogus") != NULL);
	const char *missing[] = {"rasputin-cli", "-p"};
	CHECK_EQ(parse(&o, err, sizeof(err), 2, missing), RP_ERR_INVALID);
	CHECK(strstr(err, "-p needs a value") != NULL);
	const char *port[] = {"rasputin-cli", "-p", "70000"};
	CHECK_EQ(parse(&o, err, sizeof(err), 3, port), RP_ERR_INVALID);
	const char *seed[] = {"rasputin-cli", "--seeds", "a:1,nope"};
	CHECK_EQ(parse(&o, err, sizeof(err), 3, seed), RP_ERR_INVALID);
	CHECK(strstr(err, "nope") != NULL);
	const char *empty[] = {"rasputin-cli", "--seeds", ","};
	CHECK_EQ(parse(&o, err, sizeof(err), 3, empty), RP_ERR_INVALID);
	const char *help[] = {"rasputin-cli", "--help"};
	CHECK_EQ(parse(&o, err, sizeof(err), 2, help), 0);
	CHECK(o.help);
	cli_opts_free(&o);
	CHECK(strstr(cli_opts_usage(), "cluster status") != NULL);
}

/* ---------------------------------------------------------------------------
 * cluster status: parsing and the table.
 */
TEST(cluster_parse_nodes)
{
	struct rasputin_reply n1[4] = {mk_str(RASPUTIN_REPLY_STRING, "1"),
				       mk_str(RASPUTIN_REPLY_STRING, "10.0.0.1:7000"),
				       mk_str(RASPUTIN_REPLY_STRING, "10.0.0.1:7001"),
				       mk_str(RASPUTIN_REPLY_STRING, "voter")};
	struct rasputin_reply n2[4] = {mk_int(2),
				       mk_str(RASPUTIN_REPLY_STRING, "10.0.0.2:7000"),
				       mk_str(RASPUTIN_REPLY_STRING, "10.0.0.2:7001"),
				       mk_str(RASPUTIN_REPLY_STRING, "learner")};
	struct rasputin_reply list[2] = {mk_agg(RASPUTIN_REPLY_ARRAY, n1, 4),
					 mk_agg(RASPUTIN_REPLY_ARRAY, n2, 4)};
	struct rasputin_reply r = mk_agg(RASPUTIN_REPLY_ARRAY, list, 2);
	struct cli_node *nodes = NULL;
	size_t count = 0;
	char err[128];
	CHECK_EQ(cli_cluster_parse_nodes(&r, &nodes, &count, err, sizeof(err)), 0);
	CHECK_EQ(count, 2);
	CHECK(strcmp(nodes[0].id, "1") == 0);
	CHECK(strcmp(nodes[0].client_addr, "10.0.0.1:7001") == 0);
	CHECK(strcmp(nodes[1].id, "2") == 0);
	CHECK(strcmp(nodes[1].membership, "learner") == 0);
	CHECK(!nodes[0].reachable);
	free(nodes);

	list[1] = mk_agg(RASPUTIN_REPLY_ARRAY, n2, 3);
	CHECK_EQ(cli_cluster_parse_nodes(&r, &nodes, &count, err, sizeof(err)),
		 RP_ERR_INVALID);
	CHECK(nodes == NULL);
	r = mk_int(1);
	CHECK_EQ(cli_cluster_parse_nodes(&r, &nodes, &count, err, sizeof(err)),
		 RP_ERR_INVALID);
}

TEST(cluster_parse_status_and_table)
{
	struct rasputin_reply f[12] = {
	    mk_str(RASPUTIN_REPLY_STRING, "role"),
	    mk_str(RASPUTIN_REPLY_STRING, "leader"),
	    mk_str(RASPUTIN_REPLY_STRING, "term"),
	    mk_int(12),
	    mk_str(RASPUTIN_REPLY_STRING, "commit_index"),
	    mk_int(3400),
	    mk_str(RASPUTIN_REPLY_STRING, "applied_index"),
	    mk_int(3399),
	    mk_str(RASPUTIN_REPLY_STRING, "lease"),
	    mk_str(RASPUTIN_REPLY_STRING, "valid"),
	    mk_str(RASPUTIN_REPLY_STRING, "lease_remaining_ms"),
	    mk_int(812)};
	struct cli_node nodes[2];
	memset(nodes, 0, sizeof(nodes));
	snprintf(nodes[0].id, sizeof(nodes[0].id), "1");
	snprintf(nodes[0].client_addr, sizeof(nodes[0].client_addr), "10.0.0.1:7001");
	snprintf(nodes[0].membership, sizeof(nodes[0].membership), "voter");
	snprintf(nodes[1].id, sizeof(nodes[1].id), "22");
	snprintf(nodes[1].client_addr, sizeof(nodes[1].client_addr), "10.0.0.22:7001");
	snprintf(nodes[1].membership, sizeof(nodes[1].membership), "voter");
	snprintf(nodes[1].error, sizeof(nodes[1].error), "connect: Connection refused");
	char err[128];
	/* RESP2: a flat array of name, value. */
	struct rasputin_reply r = mk_agg(RASPUTIN_REPLY_ARRAY, f, 12);
	CHECK_EQ(cli_cluster_parse_status(&r, &nodes[0], err, sizeof(err)), 0);
	CHECK(nodes[0].reachable && nodes[0].lease_valid);
	CHECK_EQ(nodes[0].term, 12);
	CHECK_EQ(nodes[0].lease_remaining_ms, 812);
	/* RESP3: a map, the same fields. */
	struct cli_node again;
	memset(&again, 0, sizeof(again));
	r = mk_agg(RASPUTIN_REPLY_MAP, f, 12);
	CHECK_EQ(cli_cluster_parse_status(&r, &again, err, sizeof(err)), 0);
	CHECK_EQ(again.applied_index, 3399);
	CHECK(strcmp(again.role, "leader") == 0);
	r = mk_agg(RASPUTIN_REPLY_ARRAY, f, 11);
	CHECK_EQ(cli_cluster_parse_status(&r, &again, err, sizeof(err)), RP_ERR_INVALID);

	struct cli_buf b;
	cli_buf_init(&b);
	cli_cluster_table(&b, nodes, 2);
	const char *want =
	    "ID  CLIENT ADDR     MEMBERSHIP  ROLE         TERM  COMMIT  APPLIED  LEASE\n"
	    "1   10.0.0.1:7001   voter       leader       12    3400    3399     valid "
	    "812ms\n"
	    "22  10.0.0.22:7001  voter       unreachable  -     -       -        -\n"
	    "node 22: connect: Connection refused\n";
	if (strcmp(cli_buf_str(&b), want) != 0)
		printf("%s", cli_buf_str(&b));
	CHECK(strcmp(cli_buf_str(&b), want) == 0);
	cli_buf_deinit(&b);
}

TEST(buf_grows)
{
	struct cli_buf b;
	cli_buf_init(&b);
	CHECK(strcmp(cli_buf_str(&b), "") == 0);
	for (int i = 0; i < 1000; i++)
		cli_buf_printf(&b, "%04d,", i);
	CHECK_EQ(b.len, 5000);
	CHECK(strncmp(b.data + 4995, "0999,", 5) == 0);
	cli_buf_reset(&b);
	CHECK_EQ(b.len, 0);
	CHECK(strcmp(cli_buf_str(&b), "") == 0);
	cli_buf_deinit(&b);
}

TEST_MAIN()
