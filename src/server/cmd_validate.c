/*
 * cmd_validate.c — the checks every command goes through before it is
 * run or proposed: arity, subcommand, the keys it names (how many, how
 * long, not in the reserved range), then the per-family syntax; the shared
 * error replies; and the RASPUTIN SEQ wrapper.
 *
 * Nothing here touches state, so a node can refuse a malformed command
 * before it costs a log entry, and every node refuses it the same way.
 */
#include <stdio.h>
#include <string.h>

#include "server/cmd_internal.h"
#include "util/check.h"

/* --- error replies ------------------------------------------------------------ */

int cmd_err(struct resp_out *out, const char *msg)
{
	int rc = resp_add_error(out, msg, strlen(msg));
	return rc < 0 ? rc : RP_ERR_INVALID;
}

void cmd_lower(const char *name, char *buf, size_t cap)
{
	RP_CHECK(cap >= 1);
	size_t i = 0;
	for (; name[i] != '\0' && i + 1 < cap; i++) {
		char c = name[i];
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	buf[i] = '\0';
}

int cmd_err_arity(struct resp_out *out, const char *name)
{
	char low[64];
	cmd_lower(name, low, sizeof(low));
	int rc =
	    resp_add_errorf(out, "ERR wrong number of arguments for '%s' command", low);
	return rc < 0 ? rc : RP_ERR_INVALID;
}

/* Appends the bytes of a (binary, any length) to msg at *n, at most max of
 * them; msg has room for cap bytes. */
static void put_bytes(char *msg, size_t cap, size_t *n, const char *s, size_t len,
		      size_t max)
{
	if (len > max)
		len = max;
	if (len > cap - *n)
		len = cap - *n;
	memcpy(msg + *n, s, len);
	*n += len;
}

static void put_str(char *msg, size_t cap, size_t *n, const char *s)
{
	put_bytes(msg, cap, n, s, strlen(s), cap);
}

int cmd_err_subcommand(struct resp_out *out, const char *cmd, const struct resp_arg *sub)
{
	char msg[320];
	size_t n = 0;
	put_str(msg, sizeof(msg), &n, "ERR unknown subcommand '");
	put_bytes(msg, sizeof(msg), &n, sub->ptr, sub->len, 128);
	put_str(msg, sizeof(msg), &n, "'. Try ");
	put_str(msg, sizeof(msg), &n, cmd);
	put_str(msg, sizeof(msg), &n, " HELP.");
	int rc = resp_add_error(out, msg, n);
	return rc < 0 ? rc : RP_ERR_INVALID;
}

int cmd_err_too_many_keys(struct resp_out *out, uint32_t max)
{
	int rc =
	    resp_add_errorf(out, "ERR too many keys in one command (at most %u)", max);
	return rc < 0 ? rc : RP_ERR_INVALID;
}

int cmd_unknown_reply(size_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	RP_CHECK(argc >= 1);
	/* As Redis: the name cut at 128 bytes, then arguments quoted one by
	 * one while the list is under 128 bytes. */
	char msg[512];
	size_t n = 0;
	put_str(msg, sizeof(msg), &n, "ERR unknown command '");
	put_bytes(msg, sizeof(msg), &n, argv[0].ptr, argv[0].len, 128);
	put_str(msg, sizeof(msg), &n, "', with args beginning with: ");
	size_t list_start = n;
	for (size_t i = 1; i < argc && n - list_start < 128; i++) {
		put_str(msg, sizeof(msg), &n, "'");
		put_bytes(msg, sizeof(msg), &n, argv[i].ptr, argv[i].len,
			  128 - (n - 1 - list_start));
		put_str(msg, sizeof(msg), &n, "' ");
	}
	int rc = resp_add_error(out, msg, n);
	return rc < 0 ? rc : 0;
}

/* --- argument helpers -------------------------------------------------------------- */

bool cmd_arg_is(const struct resp_arg *a, const char *w)
{
	size_t n = strlen(w);
	if (a->len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = a->ptr[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != w[i])
			return false;
	}
	return true;
}

bool cmd_arg_i64(const struct resp_arg *a, int64_t *v)
{
	return sm_parse_i64((const uint8_t *)a->ptr, a->len, v);
}

bool cmd_arg_u64(const struct resp_arg *a, uint64_t *v)
{
	if (a->len == 0 || a->len > 20)
		return false;
	if (a->ptr[0] == '0' && a->len > 1)
		return false;
	uint64_t acc = 0;
	for (size_t i = 0; i < a->len; i++) {
		char c = a->ptr[i];
		if (c < '0' || c > '9')
			return false;
		uint64_t d = (uint64_t)(c - '0');
		if (acc > (UINT64_MAX - d) / 10)
			return false;
		acc = acc * 10 + d;
	}
	*v = acc;
	return true;
}

bool cmd_key_reserved(const char *key, size_t len)
{
	return len >= CMD_META_PREFIX_LEN &&
	       memcmp(key, CMD_META_PREFIX, CMD_META_PREFIX_LEN) == 0;
}

/* --- validation -------------------------------------------------------------------- */

static bool arity_ok(int arity, size_t argc)
{
	if (arity > 0)
		return argc == (size_t)arity;
	return argc >= (size_t)-arity;
}

/* Limits on argument counts that an arity number cannot say. */
static int extra_arity(const cmd_spec *spec, size_t argc, struct resp_out *out)
{
	switch (spec->id) {
	case CMD_ID_MSET:
		if (argc % 2 == 0)
			return cmd_err_arity(out, spec->name);
		return 0;
	case CMD_ID_PING:
		if (argc > 2)
			return cmd_err_arity(out, spec->name);
		return 0;
	case CMD_ID_AUTH:
		if (argc > 3)
			return cmd_err(out, CMD_ERR_SYNTAX);
		return 0;
	case CMD_ID_RASPUTIN_TRANSFER:
		if (argc > 3)
			return cmd_err_arity(out, spec->name);
		return 0;
	case CMD_ID_CONFIG_SET:
		if (argc % 2 != 0)
			return cmd_err(out, CMD_ERR_SYNTAX);
		return 0;
	default:
		return 0;
	}
}

static int check_keys(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		      const cmd_limits *lim, struct resp_out *out)
{
	if (spec->first_key <= 0)
		return 0;
	RP_CHECK(spec->key_step >= 1);
	size_t first = (size_t)spec->first_key;
	size_t last = spec->last_key >= 0 ? (size_t)spec->last_key
					  : argc - (size_t)(-spec->last_key);
	if (first >= argc || last >= argc)
		return 0; /* arity made sure of the keys; nothing to check */
	size_t count = 0;
	for (size_t i = first; i <= last; i += (size_t)spec->key_step)
		count++;
	if (count > lim->max_keys)
		return cmd_err_too_many_keys(out, lim->max_keys);
	for (size_t i = first; i <= last; i += (size_t)spec->key_step) {
		if (argv[i].len > SM_KEY_MAX_BYTES)
			return cmd_err(out, CMD_ERR_KEY_TOO_LONG);
		if (cmd_key_reserved(argv[i].ptr, argv[i].len))
			return cmd_err(out, CMD_ERR_RESERVED);
	}
	return 0;
}

/* Node ids and session numbers: unsigned decimals, never 0. */
static int check_id(const struct resp_arg *a, const char *what, struct resp_out *out)
{
	uint64_t v;
	if (!cmd_arg_u64(a, &v) || v == 0) {
		int rc = resp_add_errorf(out, "ERR invalid %s", what);
		return rc < 0 ? rc : RP_ERR_INVALID;
	}
	return 0;
}

static int check_admin_conn(const cmd_spec *spec, size_t argc,
			    const struct resp_arg *argv, struct resp_out *out)
{
	int64_t v;
	switch (spec->id) {
	case CMD_ID_SELECT:
		if (!cmd_arg_i64(&argv[1], &v))
			return cmd_err(out, CMD_ERR_NOT_INT);
		return 0;
	case CMD_ID_RASPUTIN_REMOVE:
	case CMD_ID_RASPUTIN_PROMOTE:
		return check_id(&argv[2], "node id", out);
	case CMD_ID_RASPUTIN_TRANSFER:
		return argc == 3 ? check_id(&argv[2], "node id", out) : 0;
	case CMD_ID_RASPUTIN_SEQ: {
		int rc = check_id(&argv[2], "client id", out);
		return rc < 0 ? rc : check_id(&argv[3], "sequence number", out);
	}
	default:
		return 0;
	}
}

int cmd_validate(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		 const cmd_limits *lim, struct resp_out *out)
{
	RP_CHECK(spec != NULL);
	RP_CHECK(argc >= 1 && argv != NULL);
	RP_CHECK(lim != NULL && lim->max_keys <= SM_CMD_MAX_KEYS);
	if (!arity_ok(spec->arity, argc))
		return cmd_err_arity(out, spec->name);
	const cmd_spec *s = spec;
	if (spec->subcommand_count > 0 && argc >= 2) { /* COMMAND alone is fine */
		s = cmd_lookup_sub(spec, argv[1].ptr, argv[1].len);
		if (s == NULL)
			return cmd_err_subcommand(out, spec->name, &argv[1]);
		if (!arity_ok(s->arity, argc))
			return cmd_err_arity(out, s->name);
	}
	int rc = extra_arity(s, argc, out);
	if (rc < 0)
		return rc;
	rc = check_keys(s, argc, argv, lim, out);
	if (rc < 0)
		return rc;
	if (s->flags & CMD_F_WRITE)
		return cmd_write_check(s, argc, argv, lim, out);
	if (s->flags & CMD_F_READ)
		return cmd_read_check(s, argc, argv, lim, out);
	if (s->flags & (CMD_F_CONN | CMD_F_ADMIN))
		return check_admin_conn(s, argc, argv, out);
	return 0;
}

int cmd_seq_unwrap(size_t argc, const struct resp_arg *argv, uint64_t *client,
		   uint64_t *seq, const cmd_spec **inner, size_t *inner_argc,
		   const struct resp_arg **inner_argv, struct resp_out *out)
{
	RP_CHECK(argc >= 1 && argv != NULL);
	const cmd_spec *top = cmd_lookup(argv[0].ptr, argv[0].len);
	RP_CHECK(top != NULL && top->id == CMD_ID_RASPUTIN);
	if (argc < 2 || !cmd_arg_is(&argv[1], "SEQ"))
		return cmd_err(out, CMD_ERR_SYNTAX);
	if (argc < 5)
		return cmd_err_arity(out, "RASPUTIN|SEQ");
	uint64_t c = 0, q = 0;
	int rc = check_id(&argv[2], "client id", out);
	if (rc < 0)
		return rc;
	rc = check_id(&argv[3], "sequence number", out);
	if (rc < 0)
		return rc;
	RP_CHECK(cmd_arg_u64(&argv[2], &c) && cmd_arg_u64(&argv[3], &q));
	const cmd_spec *in = cmd_lookup(argv[4].ptr, argv[4].len);
	if (in == NULL) {
		rc = cmd_unknown_reply(argc - 4, argv + 4, out);
		return rc < 0 ? rc : RP_ERR_INVALID;
	}
	if (!(in->flags & CMD_F_WRITE))
		return cmd_err(out, "ERR RASPUTIN SEQ wraps write commands only");
	*client = c;
	*seq = q;
	*inner = in;
	*inner_argc = argc - 4;
	*inner_argv = argv + 4;
	return 0;
}
