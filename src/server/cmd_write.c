/*
 * cmd_write.c — writes: from a client's command to the state-machine
 * command that goes into the log (sm_cmd.h), and from the applied result
 * back to the reply the client expects from Redis.
 *
 * The mapping, with the reply each plan derives from the result:
 *   SET k v [NX|XX] [GET]  SM_OP_SET (flags NX XX GET)  +OK / nil; GET: old value
 *   SET k v IFEQ c [GET]   SM_OP_CAS (k, c -> v; GET)   +OK / nil; GET: old value
 *   SETNX k v              SM_OP_SET NX                 :1 / :0
 *   GETSET k v             SM_OP_SET GET                old value
 *   GETDEL k               SM_OP_DEL GET, one key       old value
 *   DEL k...               SM_OP_DEL                    :removed
 *   INCR DECR INCRBY DECRBY SM_OP_INCRBY                :new value
 *   APPEND k v             SM_OP_APPEND                 :new length
 *   MSET k v [k v ...]     SM_OP_MSET                   +OK
 *   CAS k expected new     SM_OP_CAS                    [:1/:0, value after]
 * IFEQ and CAS send a present expected value, so a missing key never
 * matches (the state machine compares a missing key as nil).
 */
#include <string.h>

#include "server/cmd_internal.h"
#include "util/check.h"

enum plan_kind {
	PLAN_NONE = 0,
	PLAN_SET,
	PLAN_SET_IFEQ,
	PLAN_SETNX,
	PLAN_GETDEL,
	PLAN_DEL,
	PLAN_INCR,
	PLAN_APPEND,
	PLAN_MSET,
	PLAN_CAS,
	PLAN_COUNT_
};
enum { PLAN_O_GET = 1 };

/* A command taken apart; keys and values point into argv. */
typedef struct {
	sm_cmd cmd;
	cmd_plan plan;
	sm_value keys[SM_CMD_MAX_KEYS];
	sm_value values[SM_CMD_MAX_KEYS];
} write_prep;

static sm_value arg_value(const struct resp_arg *a)
{
	sm_value v = {true, (uint32_t)a->len, (const uint8_t *)a->ptr};
	return v;
}

static int value_fits(const struct resp_arg *a, const cmd_limits *lim,
		      struct resp_out *out)
{
	return a->len > lim->max_value_bytes ? cmd_err(out, CMD_ERR_TOO_LARGE) : 0;
}

static int prep_set(size_t argc, const struct resp_arg *argv, const cmd_limits *lim,
		    write_prep *p, struct resp_out *out)
{
	bool nx = false, xx = false, get = false;
	const struct resp_arg *cmp = NULL;
	for (size_t i = 3; i < argc; i++) {
		const struct resp_arg *o = &argv[i];
		if (cmd_arg_is(o, "NX") && !xx && cmp == NULL) {
			nx = true;
		} else if (cmd_arg_is(o, "XX") && !nx && cmp == NULL) {
			xx = true;
		} else if (cmd_arg_is(o, "GET")) {
			get = true;
		} else if (cmd_arg_is(o, "IFEQ") && !nx && !xx && cmp == NULL &&
			   i + 1 < argc) {
			cmp = &argv[++i];
		} else if (cmd_arg_is(o, "EX") || cmd_arg_is(o, "PX") ||
			   cmd_arg_is(o, "EXAT") || cmd_arg_is(o, "PXAT") ||
			   cmd_arg_is(o, "KEEPTTL")) {
			return cmd_err(out, CMD_ERR_EXPIRY);
		} else {
			return cmd_err(out, CMD_ERR_SYNTAX);
		}
	}
	int rc = value_fits(&argv[2], lim, out);
	if (rc == 0 && cmp != NULL)
		rc = value_fits(cmp, lim, out);
	if (rc < 0)
		return rc;
	p->cmd.key = arg_value(&argv[1]);
	p->plan.opts = get ? PLAN_O_GET : 0;
	if (cmp != NULL) {
		p->cmd.op = SM_OP_CAS;
		p->cmd.flags = get ? SM_CAS_GET : 0;
		p->cmd.value = arg_value(cmp);
		p->cmd.value2 = arg_value(&argv[2]);
		p->plan.kind = PLAN_SET_IFEQ;
		return 0;
	}
	p->cmd.op = SM_OP_SET;
	p->cmd.flags = (uint16_t)((nx ? SM_SET_NX : 0) | (xx ? SM_SET_XX : 0) |
				  (get ? SM_SET_GET : 0));
	p->cmd.value = arg_value(&argv[2]);
	p->plan.kind = PLAN_SET;
	return 0;
}

static int prep_incr(const cmd_spec *spec, const struct resp_arg *argv, write_prep *p,
		     struct resp_out *out)
{
	int64_t d = 1;
	if (spec->id == CMD_ID_INCRBY || spec->id == CMD_ID_DECRBY) {
		if (!cmd_arg_i64(&argv[2], &d))
			return cmd_err(out, CMD_ERR_NOT_INT);
	}
	if (spec->id == CMD_ID_DECRBY) {
		if (d == INT64_MIN)
			return cmd_err(out, CMD_ERR_DECR_OVERFLOW);
		d = -d;
	} else if (spec->id == CMD_ID_DECR) {
		d = -1;
	}
	p->cmd.op = SM_OP_INCRBY;
	p->cmd.key = arg_value(&argv[1]);
	p->cmd.delta = d;
	p->plan.kind = PLAN_INCR;
	return 0;
}

/* Takes the command apart into p (argv must outlive p).  Arity and keys
 * are checked already (cmd_validate). */
static int prepare(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		   const cmd_limits *lim, write_prep *p, struct resp_out *out)
{
	RP_CHECK(lim->max_value_bytes <= SM_VALUE_MAX_BYTES_LIMIT);
	memset(&p->cmd, 0, sizeof(p->cmd));
	memset(&p->plan, 0, sizeof(p->plan));
	int rc = 0;
	switch (spec->id) {
	case CMD_ID_SET:
		rc = prep_set(argc, argv, lim, p, out);
		break;
	case CMD_ID_SETNX:
	case CMD_ID_GETSET:
		rc = value_fits(&argv[2], lim, out);
		p->cmd.op = SM_OP_SET;
		p->cmd.flags = spec->id == CMD_ID_SETNX ? SM_SET_NX : SM_SET_GET;
		p->cmd.key = arg_value(&argv[1]);
		p->cmd.value = arg_value(&argv[2]);
		p->plan.kind = spec->id == CMD_ID_SETNX ? PLAN_SETNX : PLAN_SET;
		p->plan.opts = spec->id == CMD_ID_SETNX ? 0 : PLAN_O_GET;
		break;
	case CMD_ID_GETDEL:
		p->keys[0] = arg_value(&argv[1]);
		p->cmd.op = SM_OP_DEL;
		p->cmd.flags = SM_DEL_GET;
		p->cmd.keys = p->keys;
		p->cmd.key_count = 1;
		p->plan.kind = PLAN_GETDEL;
		break;
	case CMD_ID_DEL:
		RP_CHECK(argc - 1 <= SM_CMD_MAX_KEYS);
		for (size_t i = 1; i < argc; i++)
			p->keys[i - 1] = arg_value(&argv[i]);
		p->cmd.op = SM_OP_DEL;
		p->cmd.keys = p->keys;
		p->cmd.key_count = (uint32_t)(argc - 1);
		p->plan.kind = PLAN_DEL;
		break;
	case CMD_ID_INCR:
	case CMD_ID_DECR:
	case CMD_ID_INCRBY:
	case CMD_ID_DECRBY:
		rc = prep_incr(spec, argv, p, out);
		break;
	case CMD_ID_APPEND:
		rc = value_fits(&argv[2], lim, out);
		p->cmd.op = SM_OP_APPEND;
		p->cmd.key = arg_value(&argv[1]);
		p->cmd.value = arg_value(&argv[2]);
		p->plan.kind = PLAN_APPEND;
		break;
	case CMD_ID_MSET:
		RP_CHECK(argc % 2 == 1 && (argc - 1) / 2 <= SM_CMD_MAX_KEYS);
		for (size_t i = 1; i + 1 < argc && rc == 0; i += 2) {
			rc = value_fits(&argv[i + 1], lim, out);
			p->keys[i / 2] = arg_value(&argv[i]);
			p->values[i / 2] = arg_value(&argv[i + 1]);
		}
		p->cmd.op = SM_OP_MSET;
		p->cmd.keys = p->keys;
		p->cmd.values = p->values;
		p->cmd.key_count = (uint32_t)(argc - 1) / 2;
		p->plan.kind = PLAN_MSET;
		break;
	case CMD_ID_CAS:
		rc = value_fits(&argv[2], lim, out);
		if (rc == 0)
			rc = value_fits(&argv[3], lim, out);
		p->cmd.op = SM_OP_CAS;
		p->cmd.key = arg_value(&argv[1]);
		p->cmd.value = arg_value(&argv[2]);
		p->cmd.value2 = arg_value(&argv[3]);
		p->plan.kind = PLAN_CAS;
		break;
	default:
		RP_CHECK(0); /* a spec flagged WRITE without a mapping */
	}
	if (rc < 0)
		return rc;
	sm_cmd_limits sl = {lim->max_value_bytes};
	size_t size = sm_cmd_encoded_size(&p->cmd, &sl);
	RP_CHECK(size > 0); /* every rule of the encoding was checked above */
	if (size > lim->max_entry_bytes) {
		rc = resp_add_errorf(
		    out,
		    "ERR command too large for one log entry (%zu bytes, at "
		    "most %u)",
		    size, lim->max_entry_bytes);
		return rc < 0 ? rc : RP_ERR_INVALID;
	}
	return 0;
}

int cmd_write_check(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		    const cmd_limits *lim, struct resp_out *out)
{
	_Static_assert(sizeof(write_prep) < 64 * 1024, "write_prep lives on the stack");
	write_prep p;
	return prepare(spec, argc, argv, lim, &p, out);
}

int cmd_write_build(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		    uint64_t client, uint64_t seq, const cmd_limits *lim, sm_buf *entry,
		    cmd_plan *plan, struct resp_out *err_out)
{
	RP_CHECK(spec != NULL && (spec->flags & CMD_F_WRITE));
	RP_CHECK((client == 0) == (seq == 0));
	int rc = cmd_validate(spec, argc, argv, lim, err_out);
	if (rc < 0)
		return rc;
	write_prep p;
	rc = prepare(spec, argc, argv, lim, &p, err_out);
	RP_CHECK(rc == 0); /* cmd_validate ran the same checks */
	p.cmd.client = client;
	p.cmd.seq = seq;
	sm_cmd_limits sl = {lim->max_value_bytes};
	entry->size = 0;
	rc = sm_cmd_encode_buf(&p.cmd, &sl, entry);
	if (rc == RP_ERR_NOMEM) {
		int r = cmd_err(err_out, "ERR out of memory");
		return r == RP_ERR_INVALID ? RP_ERR_NOMEM : r;
	}
	RP_CHECK(rc == RP_OK);
	*plan = p.plan;
	return 0;
}

/* --- replies ------------------------------------------------------------------ */

static int add_value(struct resp_out *out, int proto, const sm_value *v)
{
	if (!v->present)
		return resp_add_null(out, proto);
	return resp_add_bulk(out, (const char *)v->data, v->size);
}

/* The reply to a status that is not OK; 1 if status is OK (no reply). */
static int status_reply(uint8_t status, struct resp_out *out)
{
	const char *msg;
	switch (status) {
	case SM_ST_OK:
		return 1;
	case SM_ST_BAD_CMD:
		msg = CMD_ERR_BAD_CMD;
		break;
	case SM_ST_NOT_INTEGER:
		msg = CMD_ERR_NOT_INT;
		break;
	case SM_ST_OVERFLOW:
		msg = CMD_ERR_OVERFLOW;
		break;
	case SM_ST_TOO_LARGE:
		msg = CMD_ERR_TOO_LARGE;
		break;
	case SM_ST_STALE_SEQ:
		msg = CMD_ERR_STALE_SEQ;
		break;
	case SM_ST_SESSION_EXPIRED:
		msg = CMD_ERR_SESSION_EXPIRED;
		break;
	default:
		msg = "ERR internal error: unknown result status";
		break;
	}
	return resp_add_error(out, msg, strlen(msg));
}

static uint8_t plan_op(uint8_t kind)
{
	switch (kind) {
	case PLAN_SET:
	case PLAN_SETNX:
		return SM_OP_SET;
	case PLAN_SET_IFEQ:
	case PLAN_CAS:
		return SM_OP_CAS;
	case PLAN_GETDEL:
	case PLAN_DEL:
		return SM_OP_DEL;
	case PLAN_INCR:
		return SM_OP_INCRBY;
	case PLAN_APPEND:
		return SM_OP_APPEND;
	case PLAN_MSET:
		return SM_OP_MSET;
	default:
		return SM_OP_NONE;
	}
}

int cmd_write_reply(const cmd_plan *plan, const sm_result *res, int proto,
		    struct resp_out *out)
{
	RP_CHECK(plan != NULL && res != NULL);
	RP_CHECK(plan->kind > PLAN_NONE && plan->kind < PLAN_COUNT_);
	int rc = status_reply(res->status, out);
	if (rc <= 0)
		return rc;
	bool get = (plan->opts & PLAN_O_GET) != 0;
	sm_value v0, v1;
	bool have0 = sm_result_value(res, 0, &v0);
	bool have1 = sm_result_value(res, 1, &v1);
	/* The result must be the one this plan's command produces: a client
	 * that reuses a seq for another command gets the first one's. */
	bool fits = res->op == plan_op(plan->kind);
	if (plan->kind == PLAN_SET && get)
		fits = fits && have0;
	if (plan->kind == PLAN_SET_IFEQ && get)
		fits = fits && have1;
	if (plan->kind == PLAN_GETDEL || plan->kind == PLAN_CAS)
		fits = fits && have0;
	if (!fits)
		return resp_add_error(out, CMD_ERR_SEQ_REUSED,
				      strlen(CMD_ERR_SEQ_REUSED));
	switch (plan->kind) {
	case PLAN_SET:
		if (get)
			return add_value(out, proto, &v0);
		return res->success ? resp_add_simple(out, "OK", 2)
				    : resp_add_null(out, proto);
	case PLAN_SET_IFEQ:
		if (get)
			return add_value(out, proto, &v1);
		return res->success ? resp_add_simple(out, "OK", 2)
				    : resp_add_null(out, proto);
	case PLAN_SETNX:
		return resp_add_int(out, res->success ? 1 : 0);
	case PLAN_GETDEL:
		return add_value(out, proto, &v0);
	case PLAN_DEL:
	case PLAN_INCR:
	case PLAN_APPEND:
		return resp_add_int(out, res->integer);
	case PLAN_MSET:
		return resp_add_simple(out, "OK", 2);
	case PLAN_CAS:
		rc = resp_add_array(out, 2);
		if (rc == 0)
			rc = resp_add_int(out, res->success ? 1 : 0);
		if (rc == 0)
			rc = add_value(out, proto, &v0);
		return rc;
	default:
		RP_CHECK(0);
		return RP_ERR_INVALID;
	}
}
