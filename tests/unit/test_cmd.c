/*
 * test_cmd.c — the command layer's table, argument checks and writes.
 * Writes run end to end: cmd_write_build's entry is applied to an in-memory
 * state machine with sm_apply, and cmd_write_reply's bytes are read back
 * with the RESP client parser, in RESP2 and RESP3.  Every sm_result status
 * is turned into its reply, sessions included (RASPUTIN SEQ).
 */
#include <stdlib.h>

#include "server/cmd.h"
#include "server/cmd_internal.h"
#include "test.h"

/* --- helpers ------------------------------------------------------------------- */

typedef struct {
	struct resp_arg a[2100];
	size_t n;
	char *buf; /* the words, back to back with NULs */
	size_t used, cap;
} args;

static void args_init(args *x)
{
	memset(x, 0, sizeof(*x));
	x->cap = 1 << 18;
	x->buf = malloc(x->cap);
}

static void args_free(args *x)
{
	free(x->buf);
}

static void args_add(args *x, const char *p, size_t n)
{
	CHECK(x->n < sizeof(x->a) / sizeof(x->a[0]));
	CHECK(x->used + n + 1 <= x->cap);
	memcpy(x->buf + x->used, p, n);
	x->buf[x->used + n] = '\0';
	x->a[x->n].ptr = x->buf + x->used;
	x->a[x->n].len = n;
	x->used += n + 1;
	x->n++;
}

/* Splits line at spaces; the word "%" is replaced by the next of extra
 * (for binary or empty arguments). */
static void args_line(args *x, const char *line)
{
	x->n = 0;
	x->used = 0;
	const char *p = line;
	while (*p) {
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
	CHECK_EQ(used, o->len); /* exactly one reply */
	return v;
}

static void expect_error(const struct resp_value *v, const char *msg)
{
	if (v->type != RESP_T_ERROR)
		printf("    type %d (%lld), want error '%s'\n", v->type,
		       (long long)v->integer, msg);
	CHECK(v->type == RESP_T_ERROR);
	if (strcmp(v->str, msg) != 0) {
		printf("    got error '%s', want '%s'\n", v->str, msg);
		CHECK(0);
	}
}

static void expect_simple(const struct resp_value *v, const char *s)
{
	CHECK(v->type == RESP_T_SIMPLE);
	CHECK(strcmp(v->str, s) == 0);
}

static void expect_bulk(const struct resp_value *v, const char *s)
{
	if (v->type != RESP_T_BULK)
		printf("    type %d (%s), want bulk '%s'\n", v->type,
		       v->str ? v->str : "", s);
	CHECK(v->type == RESP_T_BULK);
	CHECK_EQ(v->len, strlen(s));
	CHECK(memcmp(v->str, s, v->len) == 0);
}

static void expect_int(const struct resp_value *v, int64_t n)
{
	if (v->type != RESP_T_INTEGER)
		printf("    type %d (%s), want integer\n", v->type, v->str ? v->str : "");
	CHECK(v->type == RESP_T_INTEGER);
	CHECK_EQ(v->integer, n);
}

static void expect_null(const struct resp_value *v)
{
	CHECK(v->type == RESP_T_NULL);
}

/* Validation alone: NULL when it passes, else the error reply. */
static struct resp_value *validate(const char *line, const cmd_limits *lim)
{
	args x;
	args_init(&x);
	args_line(&x, line);
	cmd_limits def;
	cmd_limits_default(&def);
	struct resp_out o;
	resp_out_init(&o, 1 << 20);
	const cmd_spec *s = cmd_lookup(x.a[0].ptr, x.a[0].len);
	CHECK(s != NULL);
	int rc = cmd_validate(s, x.n, x.a, lim ? lim : &def, &o);
	struct resp_value *v = NULL;
	if (rc < 0) {
		CHECK_EQ(rc, RP_ERR_INVALID);
		v = parse_reply(&o);
	} else {
		CHECK_EQ(o.len, 0);
	}
	resp_out_deinit(&o);
	args_free(&x);
	return v;
}

static void expect_valid(const char *line)
{
	struct resp_value *v = validate(line, NULL);
	if (v != NULL)
		printf("    '%s' refused: %s\n", line, v->str);
	CHECK(v == NULL);
}

static void expect_invalid(const char *line, const char *msg)
{
	struct resp_value *v = validate(line, NULL);
	if (v == NULL)
		printf("    '%s' passed\n", line);
	CHECK(v != NULL);
	expect_error(v, msg);
	resp_value_free(v);
}

/* A state machine and the write path into it. */
typedef struct {
	sm *m;
	uint64_t index;
	cmd_limits lim;
	struct resp_out out;
	sm_result res;
	sm_buf entry;
	args x;
	cmd_plan plan;
} fx;

static void fx_open(fx *f, uint32_t max_value_bytes)
{
	memset(f, 0, sizeof(*f));
	sm_config cfg;
	sm_config_default(&cfg);
	cfg.max_value_bytes = max_value_bytes;
	CHECK_EQ(sm_open_mem(&cfg, &f->m), 0);
	cmd_limits_default(&f->lim);
	f->lim.max_value_bytes = max_value_bytes;
	resp_out_init(&f->out, 1 << 24);
	sm_result_init(&f->res);
	sm_buf_init(&f->entry);
	args_init(&f->x);
}

static void fx_close(fx *f)
{
	sm_close(f->m);
	resp_out_deinit(&f->out);
	sm_result_deinit(&f->res);
	sm_buf_deinit(&f->entry);
	args_free(&f->x);
}

/* Applies the entry in f->entry at the next index into f->res. */
static void fx_apply(fx *f)
{
	hp_entry e;
	memset(&e, 0, sizeof(e));
	e.index = ++f->index;
	e.term = 1;
	e.type = HP_ENTRY_NORMAL;
	e.size_bytes = (uint32_t)f->entry.size;
	e.data = f->entry.data;
	CHECK_EQ(sm_apply(f->m, 1, &e, &f->res), 0);
}

/* Runs the command in f->x as a write with session (client, seq): build,
 * apply, reply.  The parsed reply is the caller's. */
static struct resp_value *fx_write_args(fx *f, int proto, uint64_t client, uint64_t seq)
{
	resp_out_reset(&f->out);
	const cmd_spec *s = cmd_lookup(f->x.a[0].ptr, f->x.a[0].len);
	CHECK(s != NULL && (s->flags & CMD_F_WRITE));
	int rc = cmd_write_build(s, f->x.n, f->x.a, client, seq, &f->lim, &f->entry,
				 &f->plan, &f->out);
	if (rc < 0) {
		CHECK_EQ(rc, RP_ERR_INVALID);
		return parse_reply(&f->out);
	}
	CHECK_EQ(f->out.len, 0);
	fx_apply(f);
	CHECK_EQ(cmd_write_reply(&f->plan, &f->res, proto, &f->out), 0);
	return parse_reply(&f->out);
}

static struct resp_value *fx_write(fx *f, int proto, const char *line)
{
	args_line(&f->x, line);
	return fx_write_args(f, proto, 0, 0);
}

static struct resp_value *fx_write_seq(fx *f, int proto, uint64_t client, uint64_t seq,
				       const char *line)
{
	args_line(&f->x, line);
	return fx_write_args(f, proto, client, seq);
}

/* The stored value of key (NULL = absent). */
static void expect_stored(fx *f, const char *key, const char *v)
{
	sm_buf b;
	sm_buf_init(&b);
	bool found = false;
	CHECK_EQ(sm_get(f->m, (const uint8_t *)key, strlen(key), &b, &found), 0);
	CHECK_EQ(found, v != NULL);
	if (v != NULL) {
		CHECK_EQ(b.size, strlen(v));
		CHECK(memcmp(b.data, v, b.size) == 0);
	}
	sm_buf_deinit(&b);
}

#define W(proto, line) fx_write(&f, proto, line)
#define FREE(v) resp_value_free(v)

/* --- the table ----------------------------------------------------------------- */

static void check_spec(const cmd_spec *s, bool sub, bool *seen_ids)
{
	CHECK(s->name != NULL && s->summary != NULL && s->since != NULL);
	CHECK(s->group != NULL && s->complexity != NULL);
	CHECK(s->info_flags != NULL && s->acl_categories != NULL);
	CHECK(s->arity != 0);
	for (const char *p = s->name; *p; p++)
		CHECK(!(*p >= 'a' && *p <= 'z'));
	CHECK_EQ(strchr(s->name, '|') != NULL, sub);
	if (sub)
		CHECK(s->arity >= 2 || s->arity <= -2);
	/* exactly one family */
	uint32_t fam = s->flags & (CMD_F_WRITE | CMD_F_READ | CMD_F_LOCAL | CMD_F_CONN |
				   CMD_F_ADMIN);
	CHECK(fam != 0 && (fam & (fam - 1)) == 0);
	CHECK(s->id > CMD_ID_NONE && s->id < CMD_ID_COUNT_);
	CHECK(!seen_ids[s->id]);
	seen_ids[s->id] = true;
	if (s->first_key > 0) {
		CHECK(s->key_step >= 1);
		CHECK(s->last_key != 0);
	} else {
		CHECK_EQ(s->last_key, 0);
		CHECK_EQ(s->key_step, 0);
	}
	CHECK(!(s->flags & CMD_F_WRITE) || s->first_key == 1);
	for (uint32_t i = 0; i < s->arg_count; i++)
		CHECK(s->args[i].name != NULL && s->args[i].type != NULL);
}

TEST(table_is_consistent_and_lookups_ignore_case)
{
	size_t n = 0;
	const cmd_spec *t = cmd_table(&n);
	CHECK(n >= 35);
	bool seen[CMD_ID_COUNT_] = {false};
	for (size_t i = 0; i < n; i++) {
		check_spec(&t[i], false, seen);
		char low[64];
		cmd_lower(t[i].name, low, sizeof(low));
		CHECK(cmd_lookup(low, strlen(low)) == &t[i]);
		CHECK(cmd_lookup(t[i].name, strlen(t[i].name)) == &t[i]);
		for (uint32_t k = 0; k < t[i].subcommand_count; k++) {
			const cmd_spec *s = &t[i].subcommands[k];
			check_spec(s, true, seen);
			CHECK_EQ(s->flags & (CMD_F_WRITE | CMD_F_READ | CMD_F_LOCAL |
					     CMD_F_CONN | CMD_F_ADMIN),
				 t[i].flags & (CMD_F_WRITE | CMD_F_READ | CMD_F_LOCAL |
					       CMD_F_CONN | CMD_F_ADMIN));
			const char *bar = strchr(s->name, '|');
			CHECK(strncmp(s->name, t[i].name, (size_t)(bar - s->name)) == 0);
			cmd_lower(bar + 1, low, sizeof(low));
			CHECK(cmd_lookup_sub(&t[i], low, strlen(low)) == s);
		}
	}
	/* every id has a spec */
	for (int id = CMD_ID_NONE + 1; id < CMD_ID_COUNT_; id++)
		CHECK(seen[id]);
	CHECK(cmd_lookup("gEt", 3)->id == CMD_ID_GET);
	CHECK(cmd_lookup("GETX", 4) == NULL);
	CHECK(cmd_lookup("GE", 2) == NULL);
	CHECK(cmd_lookup("", 0) == NULL);
	CHECK(cmd_lookup("G\0T", 3) == NULL);
	/* the families the server dispatches on */
	CHECK(cmd_lookup("SET", 3)->flags & CMD_F_WRITE);
	CHECK(cmd_lookup("MGET", 4)->flags & CMD_F_READ);
	CHECK(cmd_lookup("INFO", 4)->flags & CMD_F_LOCAL);
	CHECK(cmd_lookup("HELLO", 5)->flags & CMD_F_CONN);
	CHECK(cmd_lookup("HELLO", 5)->flags & CMD_F_NOAUTH);
	CHECK(cmd_lookup("AUTH", 4)->flags & CMD_F_NOAUTH);
	CHECK(cmd_lookup("QUIT", 4)->flags & CMD_F_NOAUTH);
	CHECK(cmd_lookup("RESET", 5)->flags & CMD_F_NOAUTH);
	CHECK(!(cmd_lookup("PING", 4)->flags & CMD_F_NOAUTH));
	CHECK(cmd_lookup("READONLY", 8)->flags & CMD_F_CONN);
	CHECK(cmd_lookup("RASPUTIN", 8)->flags & CMD_F_ADMIN);
	const cmd_spec *r = cmd_lookup("rasputin", 8);
	CHECK(cmd_lookup_sub(r, "seq", 3)->id == CMD_ID_RASPUTIN_SEQ);
	CHECK(cmd_lookup_sub(r, "join", 4)->flags & CMD_F_HIDDEN);
	CHECK(cmd_lookup_sub(r, "nope", 4) == NULL);
	cmd_limits lim;
	cmd_limits_default(&lim);
	CHECK_EQ(lim.max_keys, SM_CMD_MAX_KEYS);
	CHECK_EQ(lim.max_value_bytes, SM_VALUE_MAX_BYTES_DEFAULT);
	CHECK_EQ(lim.max_entry_bytes, HP_MAX_ENTRY_BYTES);
}

/* --- validation ----------------------------------------------------------------- */

TEST(arity_errors_name_the_command_lower_case)
{
	expect_invalid("GET", "ERR wrong number of arguments for 'get' command");
	expect_invalid("get a b", "ERR wrong number of arguments for 'get' command");
	expect_invalid("SET a", "ERR wrong number of arguments for 'set' command");
	expect_invalid("MSET a", "ERR wrong number of arguments for 'mset' command");
	expect_invalid("MSET a 1 b", "ERR wrong number of arguments for 'mset' command");
	expect_invalid("DEL", "ERR wrong number of arguments for 'del' command");
	expect_invalid("CAS k a", "ERR wrong number of arguments for 'cas' command");
	expect_invalid("PING a b", "ERR wrong number of arguments for 'ping' command");
	expect_invalid("DBSIZE x", "ERR wrong number of arguments for 'dbsize' command");
	expect_invalid("SCAN", "ERR wrong number of arguments for 'scan' command");
	expect_invalid("CONFIG", "ERR wrong number of arguments for 'config' command");
	expect_invalid("CONFIG GET",
		       "ERR wrong number of arguments for 'config|get' command");
	expect_invalid("config set a",
		       "ERR wrong number of arguments for 'config|set' command");
	expect_invalid("CONFIG SET a b c", CMD_ERR_SYNTAX);
	expect_invalid("CONFIG foo", "ERR unknown subcommand 'foo'. Try CONFIG HELP.");
	expect_invalid("command nope",
		       "ERR unknown subcommand 'nope'. Try COMMAND HELP.");
	expect_invalid("CLIENT SETNAME",
		       "ERR wrong number of arguments for 'client|setname' command");
	expect_invalid("CLIENT KILL x",
		       "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
	expect_invalid("RASPUTIN",
		       "ERR wrong number of arguments for 'rasputin' command");
	expect_invalid("RASPUTIN TRANSFER 1 2",
		       "ERR wrong number of arguments for 'rasputin|transfer' command");
	expect_invalid("RASPUTIN SEQ 1 2",
		       "ERR wrong number of arguments for 'rasputin|seq' command");
	expect_valid("PING");
	expect_valid("PING hello");
	expect_valid("MSET a 1");
	expect_valid("MSET a 1 b 2");
	expect_valid("CONFIG GET a b");
	expect_valid("CONFIG SET a b");
	expect_valid("COMMAND");
	expect_valid("INFO");
	expect_valid("INFO server clients");
	expect_valid("HELLO");
	expect_valid("HELLO 3 AUTH u p SETNAME n");
	expect_valid("QUIT");
	expect_valid("RASPUTIN TRANSFER");
	expect_valid("RASPUTIN TRANSFER 7");
	expect_valid("RASPUTIN JOIN anything at all");
	expect_valid("CLIENT SETINFO LIB-NAME x");
}

TEST(unknown_command_reply_quotes_the_first_args_as_redis)
{
	struct resp_out o;
	resp_out_init(&o, 1 << 20);
	args x;
	args_init(&x);
	args_line(&x, "FOO a b");
	CHECK_EQ(cmd_unknown_reply(x.n, x.a, &o), 0);
	struct resp_value *v = parse_reply(&o);
	expect_error(v, "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
	FREE(v);
	resp_out_reset(&o);
	args_line(&x, "nothing");
	CHECK_EQ(cmd_unknown_reply(x.n, x.a, &o), 0);
	v = parse_reply(&o);
	expect_error(v, "ERR unknown command 'nothing', with args beginning with: ");
	FREE(v);
	/* long arguments are cut: the list stops near 128 bytes */
	char big[300];
	memset(big, 'z', sizeof(big));
	x.n = 0;
	x.used = 0;
	args_add(&x, big, 200);
	args_add(&x, big, 100);
	args_add(&x, big, 100);
	args_add(&x, "\r\n", 2); /* never breaks the line */
	resp_out_reset(&o);
	CHECK_EQ(cmd_unknown_reply(x.n, x.a, &o), 0);
	v = parse_reply(&o);
	CHECK(v->type == RESP_T_ERROR);
	CHECK(v->len < 330);
	CHECK(strstr(v->str, "'zzzz") != NULL);
	FREE(v);
	resp_out_deinit(&o);
	args_free(&x);
}

TEST(reserved_keys_and_key_limits)
{
	static const char *msg =
	    "ERR keys starting with \\xff\\x00rasputin: are reserved";
	CHECK(strcmp(CMD_ERR_RESERVED, msg) == 0);
	CHECK(cmd_key_reserved(CMD_META_PREFIX "x", CMD_META_PREFIX_LEN + 1));
	CHECK(cmd_key_reserved(CMD_META_PREFIX, CMD_META_PREFIX_LEN));
	CHECK(!cmd_key_reserved(CMD_META_PREFIX, CMD_META_PREFIX_LEN - 1));
	CHECK(!cmd_key_reserved("\xff\x00rasputin;", CMD_META_PREFIX_LEN));
	cmd_limits lim;
	cmd_limits_default(&lim);
	struct resp_out o;
	resp_out_init(&o, 1 << 20);
	args x;
	args_init(&x);
	const char *cmds[][4] = {{"GET", NULL},	  {"SET", "v"},	    {"DEL", "a"},
				 {"EXISTS", "a"}, {"GETDEL", NULL}, {"CAS", "a", "b"},
				 {"TYPE", NULL}};
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		x.n = 0;
		x.used = 0;
		args_add(&x, cmds[c][0], strlen(cmds[c][0]));
		if (c == 2 || c == 3) /* the reserved key second */
			args_add(&x, "a", 1);
		args_add(&x, CMD_META_PREFIX "node:1", CMD_META_PREFIX_LEN + 6);
		for (int k = 1; k < 4 && cmds[c][k] != NULL && c != 2 && c != 3; k++)
			args_add(&x, cmds[c][k], strlen(cmds[c][k]));
		resp_out_reset(&o);
		const cmd_spec *s = cmd_lookup(x.a[0].ptr, x.a[0].len);
		CHECK_EQ(cmd_validate(s, x.n, x.a, &lim, &o), RP_ERR_INVALID);
		struct resp_value *v = parse_reply(&o);
		expect_error(v, msg);
		FREE(v);
	}
	/* MSET: a reserved key in the second pair; the prefix as a value is fine */
	x.n = 0;
	x.used = 0;
	args_line(&x, "MSET a 1");
	args_add(&x, CMD_META_PREFIX, CMD_META_PREFIX_LEN);
	args_add(&x, "v", 1);
	resp_out_reset(&o);
	CHECK_EQ(cmd_validate(cmd_lookup("MSET", 4), x.n, x.a, &lim, &o), RP_ERR_INVALID);
	args_line(&x, "MSET a");
	args_add(&x, CMD_META_PREFIX, CMD_META_PREFIX_LEN);
	resp_out_reset(&o);
	CHECK_EQ(cmd_validate(cmd_lookup("MSET", 4), x.n, x.a, &lim, &o), 0);
	/* too many keys */
	lim.max_keys = 3;
	struct resp_value *v = validate("DEL a b c d", &lim);
	CHECK(v != NULL);
	expect_error(v, "ERR too many keys in one command (at most 3)");
	FREE(v);
	CHECK(validate("DEL a b c", &lim) == NULL);
	v = validate("MSET a 1 b 2 c 3 d 4", &lim);
	CHECK(v != NULL);
	FREE(v);
	CHECK(validate("MSET a 1 b 2 c 3", &lim) == NULL);
	v = validate("MGET a b c d", &lim);
	CHECK(v != NULL);
	FREE(v);
	/* a key above 64 KiB */
	cmd_limits_default(&lim);
	char *big = calloc(1, SM_KEY_MAX_BYTES + 1);
	memset(big, 'k', SM_KEY_MAX_BYTES + 1);
	args_line(&x, "GET");
	args_add(&x, big, SM_KEY_MAX_BYTES + 1);
	resp_out_reset(&o);
	CHECK_EQ(cmd_validate(cmd_lookup("GET", 3), x.n, x.a, &lim, &o), RP_ERR_INVALID);
	v = parse_reply(&o);
	expect_error(v, CMD_ERR_KEY_TOO_LONG);
	FREE(v);
	x.a[1].len = SM_KEY_MAX_BYTES;
	resp_out_reset(&o);
	CHECK_EQ(cmd_validate(cmd_lookup("GET", 3), x.n, x.a, &lim, &o), 0);
	free(big);
	resp_out_deinit(&o);
	args_free(&x);
}

TEST(set_options_and_integer_syntax)
{
	expect_valid("SET k v");
	expect_valid("SET k v NX");
	expect_valid("set k v xx get");
	expect_valid("SET k v GET NX");
	expect_valid("SET k v NX NX");
	expect_valid("SET k v IFEQ old");
	expect_valid("SET k v IFEQ old GET");
	expect_valid("SET k v GET IFEQ NX"); /* "NX" is IFEQ's value here */
	expect_invalid("SET k v NX XX", CMD_ERR_SYNTAX);
	expect_invalid("SET k v XX NX", CMD_ERR_SYNTAX);
	expect_invalid("SET k v IFEQ a NX", CMD_ERR_SYNTAX);
	expect_invalid("SET k v XX IFEQ a", CMD_ERR_SYNTAX);
	expect_invalid("SET k v IFEQ a IFEQ b", CMD_ERR_SYNTAX);
	expect_invalid("SET k v IFEQ", CMD_ERR_SYNTAX);
	expect_invalid("SET k v FOO", CMD_ERR_SYNTAX);
	expect_invalid("SET k v EX 10", CMD_ERR_EXPIRY);
	expect_invalid("SET k v px 10", CMD_ERR_EXPIRY);
	expect_invalid("SET k v NX EXAT 10", CMD_ERR_EXPIRY);
	expect_invalid("SET k v PXAT 10", CMD_ERR_EXPIRY);
	expect_invalid("SET k v KEEPTTL", CMD_ERR_EXPIRY);
	CHECK(strcmp(CMD_ERR_EXPIRY, "ERR expiry is not supported") == 0);
	expect_valid("INCRBY k -5");
	expect_valid("DECRBY k 9223372036854775807");
	expect_invalid("INCRBY k 1.5", CMD_ERR_NOT_INT);
	expect_invalid("INCRBY k 05", CMD_ERR_NOT_INT);
	expect_invalid("INCRBY k +5", CMD_ERR_NOT_INT);
	expect_invalid("INCRBY k 9223372036854775808", CMD_ERR_NOT_INT);
	expect_invalid("DECRBY k x", CMD_ERR_NOT_INT);
	expect_invalid("DECRBY k -9223372036854775808", "ERR decrement would overflow");
	expect_invalid("SELECT x", CMD_ERR_NOT_INT);
	expect_valid("SELECT 0");
	expect_invalid("AUTH a b c", CMD_ERR_SYNTAX);
	expect_invalid("RASPUTIN REMOVE abc", "ERR invalid node id");
	expect_invalid("RASPUTIN REMOVE 0", "ERR invalid node id");
	expect_invalid("RASPUTIN PROMOTE -1", "ERR invalid node id");
	expect_invalid("RASPUTIN TRANSFER x", "ERR invalid node id");
	expect_valid("RASPUTIN REMOVE 18446744073709551615");
	expect_invalid("RASPUTIN REMOVE 18446744073709551616", "ERR invalid node id");
	expect_invalid("RASPUTIN SEQ 0 1 SET a b", "ERR invalid client id");
	expect_invalid("RASPUTIN SEQ 1 x SET a b", "ERR invalid sequence number");
	expect_valid("RASPUTIN SEQ 1 1 SET a b");
	expect_invalid("RASPUTIN FOO",
		       "ERR unknown subcommand 'FOO'. Try RASPUTIN HELP.");
}

TEST(value_and_entry_size_limits)
{
	cmd_limits lim;
	cmd_limits_default(&lim);
	lim.max_value_bytes = 4;
	const char *too_big[] = {
	    "SET k 12345",    "SET k 1 IFEQ 12345", "SETNX k 12345", "GETSET k 12345",
	    "APPEND k 12345", "MSET a 1 b 12345",   "CAS k 12345 1", "CAS k 1 12345"};
	for (size_t i = 0; i < sizeof(too_big) / sizeof(too_big[0]); i++) {
		struct resp_value *v = validate(too_big[i], &lim);
		CHECK(v != NULL);
		expect_error(v, CMD_ERR_TOO_LARGE);
		FREE(v);
	}
	CHECK(validate("SET k 1234", &lim) == NULL);
	CHECK(validate("MSET a 1234 b 1234", &lim) == NULL);
	/* the log entry: header 20 + u32 count + 2 x (4+1 + 4+4) */
	lim.max_entry_bytes = 20 + 4 + 2 * 13;
	CHECK(validate("MSET a 1234 b 1234", &lim) == NULL);
	lim.max_entry_bytes--;
	struct resp_value *v = validate("MSET a 1234 b 1234", &lim);
	CHECK(v != NULL);
	expect_error(v, "ERR command too large for one log entry (50 bytes, at most 49)");
	FREE(v);
}

/* --- writes end to end ---------------------------------------------------------- */

TEST(set_family_replies_in_both_protocols)
{
	fx f;
	fx_open(&f, SM_VALUE_MAX_BYTES_DEFAULT);
	struct resp_value *v;
	for (int proto = 2; proto <= 3; proto++) {
		FREE(W(proto, "DEL k a b n missing fresh"));
		expect_simple(v = W(proto, "SET k v1"), "OK"), FREE(v);
		expect_null(v = W(proto, "SET k v2 NX")), FREE(v);
		/* a nil reply is $-1 in RESP2 and _ in RESP3 */
		CHECK(f.out.len == (proto == 2 ? 5u : 3u));
		CHECK(memcmp(f.out.data, proto == 2 ? "$-1\r\n" : "_\r\n", f.out.len) ==
		      0);
		expect_stored(&f, "k", "v1");
		expect_bulk(v = W(proto, "SET k v2 XX GET"), "v1"), FREE(v);
		expect_stored(&f, "k", "v2");
		expect_null(v = W(proto, "SET a x GET")), FREE(v);
		expect_stored(&f, "a", "x");
		expect_null(v = W(proto, "SET b x XX")), FREE(v);
		expect_stored(&f, "b", NULL);
		expect_null(v = W(proto, "SET b x NX GET")), FREE(v);
		expect_stored(&f, "b", "x");
		expect_bulk(v = W(proto, "SET b y NX GET"), "x"), FREE(v);
		expect_stored(&f, "b", "x");
		/* IFEQ: CAS underneath */
		expect_simple(v = W(proto, "SET k v3 IFEQ v2"), "OK"), FREE(v);
		expect_stored(&f, "k", "v3");
		expect_null(v = W(proto, "SET k v4 IFEQ v2")), FREE(v);
		expect_stored(&f, "k", "v3");
		expect_null(v = W(proto, "SET missing v IFEQ v")), FREE(v);
		expect_stored(&f, "missing", NULL);
		expect_bulk(v = W(proto, "SET k v5 IFEQ v3 GET"), "v3"), FREE(v);
		expect_stored(&f, "k", "v5");
		expect_bulk(v = W(proto, "SET k v6 IFEQ nope GET"), "v5"), FREE(v);
		expect_stored(&f, "k", "v5");
		expect_null(v = W(proto, "SET missing v IFEQ x GET")), FREE(v);
		expect_stored(&f, "missing", NULL);
		/* SETNX, GETSET, GETDEL, DEL */
		expect_int(v = W(proto, "SETNX k z"), 0), FREE(v);
		expect_int(v = W(proto, "SETNX n z"), 1), FREE(v);
		expect_bulk(v = W(proto, "GETSET n w"), "z"), FREE(v);
		expect_null(v = W(proto, "GETSET fresh w")), FREE(v);
		expect_stored(&f, "fresh", "w");
		expect_bulk(v = W(proto, "GETDEL n"), "w"), FREE(v);
		expect_stored(&f, "n", NULL);
		expect_null(v = W(proto, "GETDEL n")), FREE(v);
		expect_simple(v = W(proto, "MSET d1 1 d2 2"), "OK"), FREE(v);
		expect_int(v = W(proto, "DEL d1 d2 d1 nope"), 2), FREE(v);
		expect_int(v = W(proto, "DEL d1"), 0), FREE(v);
	}
	fx_close(&f);
}

TEST(counters_append_mset_and_cas)
{
	fx f;
	fx_open(&f, 8);
	struct resp_value *v;
	for (int proto = 2; proto <= 3; proto++) {
		FREE(W(proto, "DEL x s big l a b c"));
		expect_int(v = W(proto, "INCR x"), 1), FREE(v);
		expect_int(v = W(proto, "INCRBY x 10"), 11), FREE(v);
		expect_int(v = W(proto, "DECR x"), 10), FREE(v);
		expect_int(v = W(proto, "DECRBY x 20"), -10), FREE(v);
		expect_int(v = W(proto, "INCRBY x -5"), -15), FREE(v);
		expect_stored(&f, "x", "-15");
		FREE(W(proto, "SET s abc"));
		expect_error(v = W(proto, "INCR s"), CMD_ERR_NOT_INT), FREE(v);
		expect_error(v = W(proto, "DECRBY x 9223372036854775807"),
			     CMD_ERR_OVERFLOW),
		    FREE(v);
		expect_stored(&f, "x", "-15");
		/* APPEND up to the state machine's limit (8 here) */
		expect_int(v = W(proto, "APPEND l abc"), 3), FREE(v);
		expect_int(v = W(proto, "APPEND l defgh"), 8), FREE(v);
		expect_error(v = W(proto, "APPEND l i"), CMD_ERR_TOO_LARGE), FREE(v);
		expect_stored(&f, "l", "abcdefgh");
		/* MSET: atomic, the last pair for a key wins */
		expect_simple(v = W(proto, "MSET a 1 b 2 a 3"), "OK"), FREE(v);
		expect_stored(&f, "a", "3");
		expect_stored(&f, "b", "2");
		/* CAS: [1 or 0, the value after] */
		v = W(proto, "CAS c x y");
		CHECK(v->type == RESP_T_ARRAY && v->count == 2);
		expect_int(&v->elems[0], 0);
		expect_null(&v->elems[1]);
		FREE(v);
		CHECK(memcmp(f.out.data,
			     proto == 2 ? "*2\r\n:0\r\n$-1\r\n" : "*2\r\n:0\r\n_\r\n",
			     f.out.len) == 0);
		FREE(W(proto, "SET c x"));
		v = W(proto, "CAS c x y");
		expect_int(&v->elems[0], 1);
		expect_bulk(&v->elems[1], "y");
		FREE(v);
		v = W(proto, "CAS c x z");
		expect_int(&v->elems[0], 0);
		expect_bulk(&v->elems[1], "y");
		FREE(v);
		expect_stored(&f, "c", "y");
		FREE(W(proto, "DEL c"));
	}
	/* a value above this state machine's limit (8) is refused up front */
	expect_error(v = W(2, "SET big 9223372036854775807"), CMD_ERR_TOO_LARGE), FREE(v);
	fx_close(&f);
	/* INCR on the largest integer */
	fx_open(&f, SM_VALUE_MAX_BYTES_DEFAULT);
	FREE(W(2, "SET big 9223372036854775807"));
	expect_error(v = W(2, "INCR big"), CMD_ERR_OVERFLOW), FREE(v);
	expect_int(v = W(2, "DECR big"), INT64_MAX - 1), FREE(v);
	fx_close(&f);
}

TEST(build_refuses_without_touching_the_entry_and_replaces_it_on_success)
{
	fx f;
	fx_open(&f, SM_VALUE_MAX_BYTES_DEFAULT);
	const cmd_spec *set = cmd_lookup("SET", 3);
	args_line(&f.x, "SET k v");
	CHECK_EQ(
	    cmd_write_build(set, f.x.n, f.x.a, 0, 0, &f.lim, &f.entry, &f.plan, &f.out),
	    0);
	size_t size = f.entry.size;
	CHECK(size > 0);
	CHECK_EQ(
	    cmd_write_build(set, f.x.n, f.x.a, 0, 0, &f.lim, &f.entry, &f.plan, &f.out),
	    0);
	CHECK_EQ(f.entry.size, size); /* replaced, not appended */
	sm_cmd c;
	sm_cmd_limits sl = {f.lim.max_value_bytes};
	CHECK_EQ(sm_cmd_decode(f.entry.data, f.entry.size, &sl, &c), 0);
	CHECK_EQ(c.op, SM_OP_SET);
	CHECK_EQ(c.client, 0);
	CHECK_EQ(f.out.len, 0);
	/* with a session */
	CHECK_EQ(
	    cmd_write_build(set, f.x.n, f.x.a, 77, 3, &f.lim, &f.entry, &f.plan, &f.out),
	    0);
	CHECK_EQ(sm_cmd_decode(f.entry.data, f.entry.size, &sl, &c), 0);
	CHECK_EQ(c.client, 77);
	CHECK_EQ(c.seq, 3);
	/* refused: error in out, entry as it was */
	sm_buf before;
	sm_buf_init(&before);
	CHECK_EQ(sm_buf_set(&before, f.entry.data, f.entry.size), 0);
	args_line(&f.x, "SET k v EX 5");
	CHECK_EQ(
	    cmd_write_build(set, f.x.n, f.x.a, 0, 0, &f.lim, &f.entry, &f.plan, &f.out),
	    RP_ERR_INVALID);
	CHECK_EQ(f.entry.size, before.size);
	CHECK(memcmp(f.entry.data, before.data, before.size) == 0);
	struct resp_value *v = parse_reply(&f.out);
	expect_error(v, CMD_ERR_EXPIRY);
	FREE(v);
	sm_buf_deinit(&before);
	/* IFEQ and CAS carry a present expected value: the SM op and flags */
	args_line(&f.x, "SET k v IFEQ old GET");
	CHECK_EQ(
	    cmd_write_build(set, f.x.n, f.x.a, 0, 0, &f.lim, &f.entry, &f.plan, &f.out),
	    0);
	CHECK_EQ(sm_cmd_decode(f.entry.data, f.entry.size, &sl, &c), 0);
	CHECK_EQ(c.op, SM_OP_CAS);
	CHECK_EQ(c.flags, SM_CAS_GET);
	CHECK(c.value.present && c.value.size == 3);
	CHECK(c.value2.present && c.value2.size == 1);
	fx_close(&f);
}

TEST(sessions_stale_expired_reused_and_bad_results)
{
	fx f;
	fx_open(&f, SM_VALUE_MAX_BYTES_DEFAULT);
	struct resp_value *v;
	expect_int(v = fx_write_seq(&f, 2, 5, 1, "INCR n"), 1), FREE(v);
	expect_int(v = fx_write_seq(&f, 2, 5, 1, "INCR n"), 1), FREE(v); /* a retry */
	expect_stored(&f, "n", "1");
	expect_int(v = fx_write_seq(&f, 2, 5, 2, "INCR n"), 2), FREE(v);
	expect_error(v = fx_write_seq(&f, 2, 5, 1, "INCR n"), CMD_ERR_STALE_SEQ), FREE(v);
	expect_error(v = fx_write_seq(&f, 3, 9, 3, "INCR n"),
		     "SESSION client session expired; start a new client id"),
	    FREE(v);
	expect_stored(&f, "n", "2");
	/* the same seq for another command: the first command's result comes
	 * back, and does not fit */
	expect_error(v = fx_write_seq(&f, 2, 5, 2, "SET n x"), CMD_ERR_SEQ_REUSED),
	    FREE(v);
	expect_simple(v = fx_write_seq(&f, 2, 5, 3, "SET q v"), "OK"), FREE(v);
	expect_error(v = fx_write_seq(&f, 2, 5, 3, "SET q v GET"), CMD_ERR_SEQ_REUSED),
	    FREE(v);
	expect_simple(v = fx_write_seq(&f, 2, 5, 3, "SET q other"), "OK"), FREE(v);
	expect_stored(&f, "q", "v");
	/* a retried MSET and CAS replay */
	expect_simple(v = fx_write_seq(&f, 2, 6, 1, "MSET m1 a m2 b"), "OK"), FREE(v);
	FREE(W(2, "SET m1 changed"));
	expect_simple(v = fx_write_seq(&f, 2, 6, 1, "MSET m1 a m2 b"), "OK"), FREE(v);
	expect_stored(&f, "m1", "changed");
	FREE(W(2, "SET c 1"));
	v = fx_write_seq(&f, 3, 6, 2, "CAS c 1 2");
	expect_int(&v->elems[0], 1);
	FREE(v);
	v = fx_write_seq(&f, 3, 6, 2, "CAS c 1 2");
	expect_int(&v->elems[0], 1); /* would fail now; the first answer stands */
	expect_bulk(&v->elems[1], "2");
	FREE(v);
	/* an entry that does not decode */
	args_line(&f.x, "INCR n");
	CHECK_EQ(cmd_write_build(cmd_lookup("INCR", 4), f.x.n, f.x.a, 0, 0, &f.lim,
				 &f.entry, &f.plan, &f.out),
		 0);
	f.entry.data[1] = 99; /* unknown op */
	fx_apply(&f);
	CHECK_EQ(f.res.status, SM_ST_BAD_CMD);
	resp_out_reset(&f.out);
	CHECK_EQ(cmd_write_reply(&f.plan, &f.res, 2, &f.out), 0);
	expect_error(v = parse_reply(&f.out), CMD_ERR_BAD_CMD), FREE(v);
	/* every status, whatever the plan */
	static const struct {
		uint8_t status;
		const char *msg;
	} st[] = {{SM_ST_BAD_CMD, CMD_ERR_BAD_CMD},
		  {SM_ST_NOT_INTEGER, "ERR value is not an integer or out of range"},
		  {SM_ST_OVERFLOW, "ERR increment or decrement would overflow"},
		  {SM_ST_TOO_LARGE, "ERR string exceeds maximum allowed size"},
		  {SM_ST_STALE_SEQ, "ERR stale request sequence number"},
		  {SM_ST_SESSION_EXPIRED,
		   "SESSION client session expired; start a new client id"}};
	const char *cmds[] = {"SET a b",    "SET a b IFEQ c GET", "DEL a",
			      "GETDEL a",   "MSET a b",		  "CAS a b c",
			      "APPEND a b", "SETNX a b"};
	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		args_line(&f.x, cmds[c]);
		CHECK_EQ(cmd_write_build(cmd_lookup(f.x.a[0].ptr, f.x.a[0].len), f.x.n,
					 f.x.a, 0, 0, &f.lim, &f.entry, &f.plan, &f.out),
			 0);
		for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
			CHECK_EQ(sm_result_begin(&f.res, SM_OP_SET), 0);
			sm_result_finish(&f.res, st[i].status, false, 0);
			resp_out_reset(&f.out);
			CHECK_EQ(cmd_write_reply(&f.plan, &f.res, 3, &f.out), 0);
			expect_error(v = parse_reply(&f.out), st[i].msg), FREE(v);
		}
		/* and an OK result of the wrong op */
		CHECK_EQ(sm_result_begin(&f.res, SM_OP_INCRBY), 0);
		sm_result_finish(&f.res, SM_ST_OK, true, 5);
		resp_out_reset(&f.out);
		CHECK_EQ(cmd_write_reply(&f.plan, &f.res, 2, &f.out), 0);
		expect_error(v = parse_reply(&f.out), CMD_ERR_SEQ_REUSED), FREE(v);
	}
	fx_close(&f);
}

TEST(rasputin_seq_unwraps_a_write_with_its_session)
{
	fx f;
	fx_open(&f, SM_VALUE_MAX_BYTES_DEFAULT);
	uint64_t client = 0, seq = 0;
	const cmd_spec *inner = NULL;
	size_t iargc = 0;
	const struct resp_arg *iargv = NULL;
	args_line(&f.x, "RASPUTIN SEQ 7 1 INCRBY n 5");
	CHECK_EQ(
	    cmd_seq_unwrap(f.x.n, f.x.a, &client, &seq, &inner, &iargc, &iargv, &f.out),
	    0);
	CHECK_EQ(client, 7);
	CHECK_EQ(seq, 1);
	CHECK(inner->id == CMD_ID_INCRBY);
	CHECK_EQ(iargc, 3);
	CHECK(iargv == f.x.a + 4);
	struct resp_value *v;
	for (int round = 0; round < 2; round++) { /* the second is a retry */
		resp_out_reset(&f.out);
		CHECK_EQ(cmd_validate(inner, iargc, iargv, &f.lim, &f.out), 0);
		CHECK_EQ(cmd_write_build(inner, iargc, iargv, client, seq, &f.lim,
					 &f.entry, &f.plan, &f.out),
			 0);
		fx_apply(&f);
		CHECK_EQ(cmd_write_reply(&f.plan, &f.res, 2, &f.out), 0);
		expect_int(v = parse_reply(&f.out), 5), FREE(v);
	}
	expect_stored(&f, "n", "5");
	static const struct {
		const char *line;
		const char *msg;
	} bad[] = {
	    {"RASPUTIN SEQ 7 1 GET n", "ERR RASPUTIN SEQ wraps write commands only"},
	    {"RASPUTIN SEQ 7 1 FOO a",
	     "ERR unknown command 'FOO', with args beginning with: 'a' "},
	    {"RASPUTIN SEQ x 1 SET a b", "ERR invalid client id"},
	    {"RASPUTIN SEQ 1 0 SET a b", "ERR invalid sequence number"},
	    {"RASPUTIN SEQ 1 2",
	     "ERR wrong number of arguments for 'rasputin|seq' command"},
	    {"RASPUTIN STATUS", CMD_ERR_SYNTAX},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		args_line(&f.x, bad[i].line);
		resp_out_reset(&f.out);
		CHECK_EQ(cmd_seq_unwrap(f.x.n, f.x.a, &client, &seq, &inner, &iargc,
					&iargv, &f.out),
			 RP_ERR_INVALID);
		expect_error(v = parse_reply(&f.out), bad[i].msg), FREE(v);
	}
	fx_close(&f);
}

/* Every write command, RESP2 and RESP3, against a random mix: the reply
 * always parses as exactly one value and the entry always decodes. */
TEST(random_writes_always_give_one_reply)
{
	fx f;
	fx_open(&f, 16);
	f.lim.max_value_bytes = 16;
	const char *words[] = {"SET",	 "SETNX",
			       "GETSET", "GETDEL",
			       "DEL",	 "INCR",
			       "INCRBY", "DECR",
			       "DECRBY", "APPEND",
			       "MSET",	 "CAS",
			       "NX",	 "XX",
			       "GET",	 "IFEQ",
			       "k",	 "1",
			       "-3",	 "x",
			       "EX",	 "9223372036854775807",
			       "",	 "0123456789abcdefg"};
	uint64_t seed = 42;
	for (int i = 0; i < 3000; i++) {
		f.x.n = 0;
		f.x.used = 0;
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size_t w0 = (size_t)(seed >> 33) % 12;
		args_add(&f.x, words[w0], strlen(words[w0]));
		size_t nargs = (size_t)(seed >> 20) % 6;
		for (size_t a = 0; a < nargs; a++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			const char *w =
			    words[12 +
				  (seed >> 33) % (sizeof(words) / sizeof(words[0]) - 12)];
			args_add(&f.x, w, strlen(w));
		}
		const cmd_spec *s = cmd_lookup(f.x.a[0].ptr, f.x.a[0].len);
		resp_out_reset(&f.out);
		int rc = cmd_write_build(s, f.x.n, f.x.a, 0, 0, &f.lim, &f.entry, &f.plan,
					 &f.out);
		if (rc == 0) {
			fx_apply(&f);
			CHECK(f.res.status != SM_ST_BAD_CMD);
			CHECK_EQ(cmd_write_reply(&f.plan, &f.res, 2 + i % 2, &f.out), 0);
		} else {
			CHECK_EQ(rc, RP_ERR_INVALID);
		}
		resp_value_free(parse_reply(&f.out));
	}
	fx_close(&f);
}

TEST_MAIN()
