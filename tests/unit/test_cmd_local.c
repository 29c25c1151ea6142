/*
 * test_cmd_local.c — the commands a node answers alone: PING, ECHO, TIME,
 * CONFIG, COMMAND (COUNT, DOCS, INFO, LIST, GETKEYS, HELP), INFO and HELLO,
 * in RESP2 and RESP3.  COMMAND DOCS is checked against every assertion
 * redis-cli 7 makes when it builds its help from the reply, so that an
 * interactive redis-cli starts against rasputin without aborting.
 */
#include <stdlib.h>

#include "server/cmd.h"
#include "server/cmd_internal.h"
#include "test.h"

typedef struct {
	struct resp_arg a[32];
	size_t n;
	char buf[4096];
	size_t used;
} args;

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
		size_t n = (size_t)(e - p);
		CHECK(x->n < 32 && x->used + n + 1 <= sizeof(x->buf));
		memcpy(x->buf + x->used, p, n);
		x->buf[x->used + n] = '\0';
		x->a[x->n].ptr = x->buf + x->used;
		x->a[x->n].len = n;
		x->used += n + 1;
		x->n++;
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

static struct resp_out out;

/* Validates and runs a local command; the parsed reply is the caller's. */
static struct resp_value *run(int proto, const char *line)
{
	args x;
	args_line(&x, line);
	resp_out_reset(&out);
	const cmd_spec *s = cmd_lookup(x.a[0].ptr, x.a[0].len);
	CHECK(s != NULL && (s->flags & CMD_F_LOCAL));
	cmd_limits lim;
	cmd_limits_default(&lim);
	int rc = cmd_validate(s, x.n, x.a, &lim, &out);
	if (rc == 0)
		CHECK_EQ(cmd_local_exec(s, x.n, x.a, proto, &out), 0);
	else
		CHECK_EQ(rc, RP_ERR_INVALID);
	return parse_reply(&out);
}

static bool is_bulk(const struct resp_value *v, const char *s)
{
	return v->type == RESP_T_BULK && v->len == strlen(s) &&
	       memcmp(v->str, s, v->len) == 0;
}

static void expect_error(const struct resp_value *v, const char *msg)
{
	if (v->type != RESP_T_ERROR || strcmp(v->str, msg) != 0)
		printf("    got type %d '%s', want '%s'\n", v->type, v->str ? v->str : "",
		       msg);
	CHECK(v->type == RESP_T_ERROR && strcmp(v->str, msg) == 0);
}

/* The value under key in a map (RESP3) or flat array (RESP2); NULL if
 * absent. */
static const struct resp_value *map_get(const struct resp_value *m, const char *key)
{
	CHECK(m->type == RESP_T_MAP || m->type == RESP_T_ARRAY);
	CHECK(m->count % 2 == 0);
	for (size_t i = 0; i < m->count; i += 2)
		if (is_bulk(&m->elems[i], key))
			return &m->elems[i + 1];
	return NULL;
}

static void setup(void)
{
	resp_out_init(&out, 1 << 24);
}

static void teardown(void)
{
	resp_out_deinit(&out);
}

#define FREE(v) resp_value_free(v)

TEST(ping_echo_time)
{
	setup();
	struct resp_value *v;
	for (int proto = 2; proto <= 3; proto++) {
		v = run(proto, "PING");
		CHECK(v->type == RESP_T_SIMPLE && strcmp(v->str, "PONG") == 0);
		FREE(v);
		v = run(proto, "ping hello");
		CHECK(is_bulk(v, "hello"));
		FREE(v);
		v = run(proto, "ECHO x");
		CHECK(is_bulk(v, "x"));
		FREE(v);
		v = run(proto, "TIME");
		CHECK(v->type == RESP_T_ARRAY && v->count == 2);
		CHECK(v->elems[0].type == RESP_T_BULK && v->elems[1].type == RESP_T_BULK);
		long long sec = atoll(v->elems[0].str), us = atoll(v->elems[1].str);
		CHECK(sec > 1600000000LL);
		CHECK(us >= 0 && us < 1000000);
		FREE(v);
	}
	expect_error(v = run(2, "PING a b"),
		     "ERR wrong number of arguments for 'ping' command");
	FREE(v);
	teardown();
}

TEST(config_get_reads_and_everything_else_is_refused)
{
	setup();
	struct resp_value *v;
	for (int proto = 2; proto <= 3; proto++) {
		v = run(proto, "CONFIG GET *");
		CHECK(v->type == (proto == 3 ? RESP_T_MAP : RESP_T_ARRAY));
		CHECK_EQ(v->count, 22);
		CHECK(is_bulk(map_get(v, "save"), ""));
		CHECK(is_bulk(map_get(v, "appendonly"), "no"));
		CHECK(is_bulk(map_get(v, "databases"), "1"));
		CHECK(is_bulk(map_get(v, "maxclients"), "10000"));
		CHECK(is_bulk(map_get(v, "proto-max-bulk-len"), "1048576"));
		FREE(v);
		v = run(proto, "config get MAX*");
		CHECK_EQ(v->count, 6);
		CHECK(map_get(v, "maxclients") && map_get(v, "maxmemory") &&
		      map_get(v, "maxmemory-policy"));
		FREE(v);
		v = run(proto, "CONFIG GET save appendonly save nope");
		CHECK_EQ(v->count, 4);
		FREE(v);
		v = run(proto, "CONFIG GET nope");
		CHECK_EQ(v->count, 0);
		FREE(v);
	}
	const char *refuse = "ERR CONFIG SET, RESETSTAT and REWRITE are not supported: a "
			     "rasputin node is configured by its command line";
	expect_error(v = run(2, "CONFIG SET maxclients 5"), refuse), FREE(v);
	expect_error(v = run(2, "CONFIG RESETSTAT"), refuse), FREE(v);
	expect_error(v = run(2, "CONFIG REWRITE"), refuse), FREE(v);
	v = run(2, "CONFIG HELP");
	CHECK(v->type == RESP_T_ARRAY && v->count > 3);
	FREE(v);
	/* the real values, through cmd_config_reply */
	cmd_config_values cv;
	cmd_config_default(&cv);
	cv.max_clients = 123;
	cv.proto_max_bulk_len = 4096;
	cv.port = 6380;
	cv.dir = "/var/lib/rasputin";
	args x;
	args_line(&x, "CONFIG GET maxclients port dir proto-max-bulk-len");
	resp_out_reset(&out);
	CHECK_EQ(cmd_config_reply(&cv, x.n, x.a, 3, &out), 0);
	v = parse_reply(&out);
	CHECK(is_bulk(map_get(v, "maxclients"), "123"));
	CHECK(is_bulk(map_get(v, "port"), "6380"));
	CHECK(is_bulk(map_get(v, "dir"), "/var/lib/rasputin"));
	CHECK(is_bulk(map_get(v, "proto-max-bulk-len"), "4096"));
	FREE(v);
	teardown();
}

/* --- COMMAND ------------------------------------------------------------------- */

static bool is_flag_word(const char *w)
{
	static const char *const known[] = {"write",	"readonly",  "denyoom", "admin",
					    "noscript", "loading",   "stale",	"fast",
					    "no_auth",	"allow_busy"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(w, known[i]) == 0)
			return true;
	return false;
}

static void check_info(const struct resp_value *v, int proto)
{
	CHECK(v->type == RESP_T_ARRAY && v->count == 10);
	CHECK(v->elems[0].type == RESP_T_BULK);
	for (size_t i = 0; i < v->elems[0].len; i++)
		CHECK(!(v->elems[0].str[i] >= 'A' && v->elems[0].str[i] <= 'Z'));
	CHECK(v->elems[1].type == RESP_T_INTEGER && v->elems[1].integer != 0);
	enum resp_type set = proto == 3 ? RESP_T_SET : RESP_T_ARRAY;
	CHECK(v->elems[2].type == set);
	for (size_t i = 0; i < v->elems[2].count; i++) {
		CHECK(v->elems[2].elems[i].type == RESP_T_SIMPLE);
		CHECK(is_flag_word(v->elems[2].elems[i].str));
	}
	for (int i = 3; i <= 5; i++)
		CHECK(v->elems[i].type == RESP_T_INTEGER);
	CHECK(v->elems[6].type == set);
	for (size_t i = 0; i < v->elems[6].count; i++)
		CHECK(v->elems[6].elems[i].type == RESP_T_SIMPLE &&
		      v->elems[6].elems[i].str[0] == '@');
	CHECK(v->elems[7].type == set && v->elems[7].count == 0);
	CHECK(v->elems[8].type == RESP_T_ARRAY && v->elems[8].count == 0);
	CHECK(v->elems[9].type == RESP_T_ARRAY);
	for (size_t i = 0; i < v->elems[9].count; i++) {
		check_info(&v->elems[9].elems[i], proto);
		CHECK(memchr(v->elems[9].elems[i].elems[0].str, '|',
			     v->elems[9].elems[i].elems[0].len) != NULL);
	}
}

TEST(command_info_count_list_getkeys)
{
	setup();
	size_t n = 0;
	cmd_table(&n);
	struct resp_value *v;
	for (int proto = 2; proto <= 3; proto++) {
		v = run(proto, "COMMAND");
		CHECK(v->type == RESP_T_ARRAY && v->count == n);
		for (size_t i = 0; i < v->count; i++)
			check_info(&v->elems[i], proto);
		FREE(v);
		v = run(proto, "COMMAND COUNT");
		CHECK(v->type == RESP_T_INTEGER && v->integer == (int64_t)n);
		FREE(v);
		v = run(proto, "COMMAND INFO get nope CONFIG|GET mset rasputin|join");
		CHECK(v->type == RESP_T_ARRAY && v->count == 5);
		check_info(&v->elems[0], proto);
		CHECK(is_bulk(&v->elems[0].elems[0], "get"));
		CHECK_EQ(v->elems[0].elems[1].integer, 2);
		CHECK(v->elems[1].type == RESP_T_NULL);
		CHECK(is_bulk(&v->elems[2].elems[0], "config|get"));
		CHECK_EQ(v->elems[2].elems[1].integer, -3);
		CHECK_EQ(v->elems[3].elems[3].integer, 1); /* MSET: 1, -1, 2 */
		CHECK_EQ(v->elems[3].elems[4].integer, (uint64_t)-1);
		CHECK_EQ(v->elems[3].elems[5].integer, 2);
		CHECK(v->elems[4].type == RESP_T_NULL); /* hidden */
		FREE(v);
		v = run(proto, "COMMAND INFO");
		CHECK(v->type == RESP_T_ARRAY && v->count == n);
		FREE(v);
	}
	/* COMMAND LIST: subcommands too, hidden ones not */
	v = run(2, "COMMAND LIST");
	bool get = false, cget = false, join = false, seq = false;
	for (size_t i = 0; i < v->count; i++) {
		get |= is_bulk(&v->elems[i], "get");
		cget |= is_bulk(&v->elems[i], "config|get");
		join |= is_bulk(&v->elems[i], "rasputin|join");
		seq |= is_bulk(&v->elems[i], "rasputin|seq");
	}
	CHECK(get && cget && seq && !join);
	FREE(v);
	v = run(3, "COMMAND LIST FILTERBY PATTERN config*");
	CHECK_EQ(v->count, 6);
	FREE(v);
	v = run(3, "COMMAND LIST FILTERBY ACLCAT read");
	CHECK_EQ(v->count, 10);
	FREE(v);
	v = run(3, "COMMAND LIST FILTERBY ACLCAT @WRITE");
	CHECK_EQ(v->count, 13); /* 12 writes and RASPUTIN SEQ */
	FREE(v);
	v = run(3, "COMMAND LIST FILTERBY MODULE x");
	CHECK_EQ(v->count, 0);
	FREE(v);
	expect_error(v = run(2, "COMMAND LIST FILTERBY"), CMD_ERR_SYNTAX), FREE(v);
	expect_error(v = run(2, "COMMAND LIST FILTERBY NAME x"), CMD_ERR_SYNTAX), FREE(v);
	/* GETKEYS */
	v = run(2, "COMMAND GETKEYS MSET a 1 b 2");
	CHECK(v->type == RESP_T_ARRAY && v->count == 2);
	CHECK(is_bulk(&v->elems[0], "a") && is_bulk(&v->elems[1], "b"));
	FREE(v);
	v = run(2, "COMMAND GETKEYS del x y z");
	CHECK_EQ(v->count, 3);
	FREE(v);
	expect_error(v = run(2, "COMMAND GETKEYS GET"),
		     "ERR wrong number of arguments for 'command|getkeys' command"),
	    FREE(v);
	expect_error(v = run(2, "COMMAND GETKEYS GET a b"),
		     "ERR Invalid number of arguments specified for command"),
	    FREE(v);
	expect_error(v = run(2, "COMMAND GETKEYS PING x"),
		     "ERR The command has no key arguments"),
	    FREE(v);
	expect_error(v = run(2, "COMMAND GETKEYS CONFIG GET x"),
		     "ERR The command has no key arguments"),
	    FREE(v);
	expect_error(v = run(2, "COMMAND GETKEYS CLIENT ID"),
		     "ERR The command has no key arguments"),
	    FREE(v);
	expect_error(v = run(2, "COMMAND GETKEYS FOO x"),
		     "ERR Invalid command specified"),
	    FREE(v);
	v = run(2, "COMMAND HELP");
	CHECK(v->type == RESP_T_ARRAY && v->count > 5);
	FREE(v);
	teardown();
}

/* What redis-cli 7 asserts on while it reads COMMAND DOCS (its
 * cliInitCommandHelpEntry and cliAddArgument), plus the types it needs to
 * print help without crashing. */
static void check_arg_doc(const struct resp_value *a)
{
	CHECK(a->type == RESP_T_MAP || a->type == RESP_T_ARRAY);
	CHECK(a->count % 2 == 0);
	const char *type = NULL;
	const struct resp_value *parts = NULL;
	bool name = false;
	for (size_t i = 0; i < a->count; i += 2) {
		const struct resp_value *k = &a->elems[i], *val = &a->elems[i + 1];
		CHECK(k->type == RESP_T_BULK);
		if (strcmp(k->str, "name") == 0) {
			CHECK(val->type == RESP_T_BULK);
			name = true;
		} else if (strcmp(k->str, "token") == 0) {
			CHECK(val->type == RESP_T_BULK);
		} else if (strcmp(k->str, "type") == 0) {
			CHECK(val->type == RESP_T_BULK);
			type = val->str;
		} else if (strcmp(k->str, "arguments") == 0) {
			parts = val;
		} else if (strcmp(k->str, "flags") == 0) {
			CHECK(val->type == RESP_T_SET || val->type == RESP_T_ARRAY);
			for (size_t f = 0; f < val->count; f++)
				CHECK(val->elems[f].type == RESP_T_SIMPLE);
		}
	}
	CHECK(name);
	CHECK(type != NULL);
	static const char *const known[] = {"key",     "string",    "integer", "double",
					    "pattern", "unix-time", "token",   "oneof",
					    "block",   "pure-token"};
	bool ok = false;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		ok |= strcmp(type, known[i]) == 0;
	CHECK(ok);
	if (strcmp(type, "oneof") == 0 || strcmp(type, "block") == 0) {
		CHECK(parts != NULL && parts->type == RESP_T_ARRAY && parts->count > 0);
		for (size_t i = 0; i < parts->count; i++)
			check_arg_doc(&parts->elems[i]);
	}
}

static void check_docs(const struct resp_value *d, bool sub, size_t *entries)
{
	(*entries)++;
	CHECK(d->type == RESP_T_MAP || d->type == RESP_T_ARRAY);
	CHECK(d->count % 2 == 0);
	bool summary = false, since = false, group = false;
	for (size_t i = 0; i < d->count; i += 2) {
		const struct resp_value *k = &d->elems[i], *val = &d->elems[i + 1];
		CHECK(k->type == RESP_T_BULK);
		if (strcmp(k->str, "summary") == 0 || strcmp(k->str, "since") == 0 ||
		    strcmp(k->str, "group") == 0 || strcmp(k->str, "complexity") == 0) {
			CHECK(val->type == RESP_T_BULK && val->len > 0);
			summary |= strcmp(k->str, "summary") == 0;
			since |= strcmp(k->str, "since") == 0;
			group |= strcmp(k->str, "group") == 0;
		} else if (strcmp(k->str, "arguments") == 0) {
			CHECK(val->type == RESP_T_ARRAY);
			for (size_t a = 0; a < val->count; a++)
				check_arg_doc(&val->elems[a]);
		} else if (strcmp(k->str, "subcommands") == 0) {
			CHECK(!sub);
			CHECK(val->type == RESP_T_MAP || val->type == RESP_T_ARRAY);
			CHECK(val->count % 2 == 0);
			for (size_t s = 0; s < val->count; s += 2) {
				CHECK(val->elems[s].type == RESP_T_BULK);
				CHECK(strchr(val->elems[s].str, '|') != NULL);
				check_docs(&val->elems[s + 1], true, entries);
			}
		} else {
			CHECK(0); /* a field we did not mean to send */
		}
	}
	CHECK(summary && since && group);
}

TEST(command_docs_satisfies_redis_cli)
{
	setup();
	size_t n = 0;
	const cmd_spec *t = cmd_table(&n);
	size_t visible = n;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < t[i].subcommand_count; k++)
			visible += (t[i].subcommands[k].flags & CMD_F_HIDDEN) ? 0 : 1;
	for (int proto = 2; proto <= 3; proto++) {
		struct resp_value *v = run(proto, "COMMAND DOCS");
		CHECK(v->type == (proto == 3 ? RESP_T_MAP : RESP_T_ARRAY));
		CHECK_EQ(v->count, 2 * n);
		size_t entries = 0;
		for (size_t i = 0; i < v->count; i += 2) {
			CHECK(v->elems[i].type == RESP_T_BULK);
			CHECK(strchr(v->elems[i].str, '|') == NULL);
			check_docs(&v->elems[i + 1], false, &entries);
		}
		CHECK_EQ(entries, visible);
		/* SET's arguments: key value [NX|XX|IFEQ comparison-value] [GET] */
		const struct resp_value *set = map_get(v, "set");
		CHECK(set != NULL);
		const struct resp_value *sa = map_get(set, "arguments");
		CHECK(sa != NULL && sa->count == 4);
		CHECK(is_bulk(map_get(&sa->elems[2], "type"), "oneof"));
		CHECK(is_bulk(map_get(&sa->elems[3], "token"), "GET"));
		FREE(v);
	}
	struct resp_value *v = run(3, "COMMAND DOCS get NOPE config|get rasputin|join");
	CHECK(v->type == RESP_T_MAP && v->count == 4);
	CHECK(map_get(v, "get") != NULL && map_get(v, "config|get") != NULL);
	FREE(v);
	v = run(2, "COMMAND DOCS nope");
	CHECK(v->type == RESP_T_ARRAY && v->count == 0);
	FREE(v);
	teardown();
}

/* --- INFO and HELLO ------------------------------------------------------------------
 */

static struct resp_value *info(const cmd_info *in, int proto, const char *line)
{
	args x;
	args_line(&x, line);
	resp_out_reset(&out);
	CHECK_EQ(cmd_info_reply(in, x.n, x.a, proto, &out), 0);
	return parse_reply(&out);
}

/* Every line is "# Name", "key:value" or empty (between sections). */
static void check_info_text(const char *s, size_t n)
{
	CHECK(n == 0 || (n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n'));
	size_t i = 0;
	bool blank_before = true;
	while (i < n) {
		const char *e = memchr(s + i, '\r', n - i);
		CHECK(e != NULL && e + 1 < s + n && e[1] == '\n');
		size_t len = (size_t)(e - (s + i));
		if (len == 0) {
			CHECK(!blank_before);
			blank_before = true;
		} else if (s[i] == '#') {
			CHECK(blank_before); /* a header starts a section */
			blank_before = false;
		} else {
			CHECK(memchr(s + i, ':', len) != NULL);
			CHECK(memchr(s + i, '\n', len) == NULL);
			blank_before = false;
		}
		i += len + 2;
	}
}

TEST(info_sections)
{
	setup();
	rp_hist w;
	rp_hist_init(&w);
	for (uint64_t i = 1; i <= 1000; i++)
		rp_hist_record(&w, i);
	cmd_info in;
	memset(&in, 0, sizeof(in));
	in.version = "0.1.0";
	in.node_id = 3;
	in.role = "leader";
	in.storage_dir = "/data\r\nevil:1";
	in.connected_clients = 12;
	in.term = 7;
	in.lease_valid = true;
	in.used_memory_rss_bytes = 3 << 20;
	in.allocator_allocated_bytes = 2 << 20;
	in.allocator_free_bytes = 777;
	in.log_memory_bytes = 4096;
	in.store.memtable_bytes = 11;
	in.store.table_readers_bytes = 12;
	in.store.block_cache_bytes = 13;
	in.store.block_cache_capacity_bytes = 14;
	in.write_latency = &w;
	struct resp_value *v = info(&in, 2, "INFO");
	CHECK(v->type == RESP_T_BULK);
	check_info_text(v->str, v->len);
	const char *order[] = {"# Server",  "# Clients", "# Consensus",	  "# Stats",
			       "# Latency", "# Memory",	 "# Persistence", "# Keyspace"};
	const char *at = v->str;
	for (size_t i = 0; i < 8; i++) {
		const char *h = strstr(at, order[i]);
		CHECK(h != NULL);
		at = h;
	}
	CHECK(strstr(v->str, "redis_version:") != NULL);
	CHECK(strstr(v->str, "rasputin_version:0.1.0\r\n") != NULL);
	CHECK(strstr(v->str, "connected_clients:12\r\n") != NULL);
	CHECK(strstr(v->str, "role:leader\r\n") != NULL);
	CHECK(strstr(v->str, "term:7\r\n") != NULL);
	CHECK(strstr(v->str, "lease_valid:1\r\n") != NULL);
	CHECK(strstr(v->str, "loading:0\r\n") != NULL);
	CHECK(strstr(v->str, "used_memory_rss_human:3.00M\r\n") != NULL);
	CHECK(strstr(v->str, "used_memory:2097152\r\nused_memory_human:2.00M\r\n") !=
	      NULL);
	CHECK(strstr(v->str, "allocator_free:777\r\n") != NULL);
	CHECK(strstr(v->str, "log_memory:4096\r\n") != NULL);
	CHECK(strstr(v->str,
		     "store_memtables:11\r\nstore_table_readers:12\r\n"
		     "store_block_cache:13\r\nstore_block_cache_max:14\r\n") != NULL);
	CHECK(strstr(v->str, "storage_dir:/data  evil:1\r\n") != NULL);
	/* p50 of 1..1000 is 500 within 1/16 above; max exact; reads empty */
	const char *p50 = strstr(v->str, "write_latency_p50_us:");
	CHECK(p50 != NULL);
	long long p = atoll(p50 + strlen("write_latency_p50_us:"));
	CHECK(p >= 500 && p <= 500 + 500 / 16);
	CHECK(strstr(v->str, "write_latency_max_us:1000\r\n") != NULL);
	CHECK(strstr(v->str, "write_latency_count:1000\r\n") != NULL);
	CHECK(strstr(v->str, "read_latency_p99_us:0\r\n") != NULL);
	FREE(v);
	v = info(&in, 2, "INFO latency");
	CHECK(strncmp(v->str, "# Latency\r\n", 11) == 0);
	CHECK(strstr(v->str, "# Server") == NULL);
	check_info_text(v->str, v->len);
	FREE(v);
	v = info(&in, 2, "INFO CLIENTS server");
	CHECK(strncmp(v->str, "# Server\r\n", 10) == 0);
	CHECK(strstr(v->str, "\r\n\r\n# Clients\r\n") != NULL);
	CHECK(strstr(v->str, "# Stats") == NULL);
	check_info_text(v->str, v->len);
	FREE(v);
	v = info(&in, 2, "INFO nope");
	CHECK(v->type == RESP_T_BULK && v->len == 0);
	FREE(v);
	v = info(&in, 2, "INFO everything");
	size_t all = v->len;
	FREE(v);
	v = info(&in, 2, "INFO default");
	CHECK_EQ(v->len, all);
	FREE(v);
	v = info(&in, 3, "INFO all");
	CHECK(v->type == RESP_T_VERBATIM && strcmp(v->format, "txt") == 0);
	CHECK_EQ(v->len, all);
	FREE(v);
	/* through cmd_local_exec: zeros, still well formed */
	v = run(2, "INFO keyspace");
	CHECK(v->type == RESP_T_BULK);
	CHECK(strcmp(v->str, "# Keyspace\r\n") == 0);
	FREE(v);
	memset(&in, 0, sizeof(in)); /* every pointer NULL */
	v = info(&in, 2, "INFO");
	check_info_text(v->str, v->len);
	FREE(v);
	teardown();
}

TEST(hello_map)
{
	setup();
	for (int proto = 2; proto <= 3; proto++) {
		resp_out_reset(&out);
		CHECK_EQ(cmd_hello_reply(proto, 42, "0.1.0", "follower", &out), 0);
		struct resp_value *v = parse_reply(&out);
		CHECK(v->type == (proto == 3 ? RESP_T_MAP : RESP_T_ARRAY));
		CHECK_EQ(v->count, 14);
		CHECK(is_bulk(map_get(v, "server"), "rasputin"));
		CHECK(is_bulk(map_get(v, "version"), "0.1.0"));
		CHECK_EQ(map_get(v, "proto")->integer, proto);
		CHECK_EQ(map_get(v, "id")->integer, 42);
		CHECK(is_bulk(map_get(v, "mode"), "standalone"));
		CHECK(is_bulk(map_get(v, "role"), "follower"));
		const struct resp_value *mods = map_get(v, "modules");
		CHECK(mods->type == RESP_T_ARRAY && mods->count == 0);
		FREE(v);
	}
	teardown();
}

TEST_MAIN()
