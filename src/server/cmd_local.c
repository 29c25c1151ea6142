/*
 * cmd_local.c — the commands any node answers at once, without the
 * cluster: PING, ECHO, TIME and CONFIG (COMMAND lives in cmd_docs.c, INFO
 * and HELLO in cmd_info.c).  CONFIG only reads: a node's configuration is
 * its command line, and values that must agree across the cluster cannot
 * be changed on one node at runtime.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/cmd_internal.h"
#include "util/check.h"

static int add_cstr(struct resp_out *out, const char *s)
{
	return resp_add_bulk(out, s, strlen(s));
}

/* --- CONFIG ---------------------------------------------------------------------- */

void cmd_config_default(cmd_config_values *v)
{
	memset(v, 0, sizeof(*v));
	v->max_clients = 10000;
	v->proto_max_bulk_len = SM_VALUE_MAX_BYTES_DEFAULT;
	v->port = 0;
	v->dir = NULL;
}

enum { PARAM_COUNT = 11 };

/* Parameter i's name and value (into buf when it is a number). */
static const char *param(const cmd_config_values *v, int i, const char **value, char *buf,
			 size_t cap)
{
	static const char *const names[PARAM_COUNT] = {"save",
						       "appendonly",
						       "databases",
						       "maxclients",
						       "proto-max-bulk-len",
						       "port",
						       "dir",
						       "timeout",
						       "maxmemory",
						       "maxmemory-policy",
						       "cluster-enabled"};
	switch (i) {
	case 0:
		*value = "";
		break;
	case 1:
		*value = "no";
		break;
	case 2:
		*value = "1";
		break;
	case 3:
		snprintf(buf, cap, "%" PRIu64, v->max_clients);
		*value = buf;
		break;
	case 4:
		snprintf(buf, cap, "%" PRIu64, v->proto_max_bulk_len);
		*value = buf;
		break;
	case 5:
		snprintf(buf, cap, "%u", (unsigned)v->port);
		*value = buf;
		break;
	case 6:
		*value = v->dir != NULL ? v->dir : "";
		break;
	case 7:
	case 8:
		*value = "0";
		break;
	case 9:
		*value = "noeviction";
		break;
	default:
		RP_CHECK(i == 10);
		*value = "no";
		break;
	}
	return names[i];
}

static const char *const config_help[] = {
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern> [<pattern> ...]",
    "    Return the parameters matching the glob-like patterns and their values.",
    "SET, RESETSTAT, REWRITE",
    "    Refused: a rasputin node is configured by its command line.",
    "HELP",
    "    Print this help.",
};

static int add_help(struct resp_out *out, const char *const *lines, size_t n)
{
	int rc = resp_add_array(out, n);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = resp_add_simple(out, lines[i], strlen(lines[i]));
	return rc;
}

int cmd_config_reply(const cmd_config_values *v, size_t argc, const struct resp_arg *argv,
		     int proto, struct resp_out *out)
{
	RP_CHECK(v != NULL && argc >= 2);
	const cmd_spec *top = cmd_lookup("CONFIG", 6);
	const cmd_spec *sub = cmd_lookup_sub(top, argv[1].ptr, argv[1].len);
	if (sub == NULL) {
		int rc = cmd_err_subcommand(out, "CONFIG", &argv[1]);
		return rc == RP_ERR_INVALID ? 0 : rc;
	}
	switch (sub->id) {
	case CMD_ID_CONFIG_GET: {
		bool want[PARAM_COUNT] = {false};
		size_t n = 0;
		char buf[32];
		const char *value;
		for (int i = 0; i < PARAM_COUNT; i++) {
			const char *name = param(v, i, &value, buf, sizeof(buf));
			for (size_t a = 2; a < argc && !want[i]; a++)
				want[i] = cmd_glob_match(argv[a].ptr, argv[a].len, name,
							 strlen(name), true);
			n += want[i] ? 1 : 0;
		}
		int rc = resp_add_map(out, proto, n);
		for (int i = 0; i < PARAM_COUNT && rc == 0; i++) {
			if (!want[i])
				continue;
			const char *name = param(v, i, &value, buf, sizeof(buf));
			rc = add_cstr(out, name);
			if (rc == 0)
				rc = add_cstr(out, value);
		}
		return rc;
	}
	case CMD_ID_CONFIG_HELP:
		return add_help(out, config_help,
				sizeof(config_help) / sizeof(config_help[0]));
	default: {
		int rc = cmd_err(
		    out, "ERR CONFIG SET, RESETSTAT and REWRITE are not supported: "
			 "a rasputin node is configured by its command line");
		return rc == RP_ERR_INVALID ? 0 : rc;
	}
	}
}

/* --- PING ECHO TIME -------------------------------------------------------------------
 */

int cmd_local_exec(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		   int proto, struct resp_out *out)
{
	RP_CHECK(spec != NULL && (spec->flags & CMD_F_LOCAL));
	RP_CHECK(argc >= 1 && argv != NULL);
	switch (spec->id) {
	case CMD_ID_PING:
		if (argc >= 2)
			return resp_add_bulk(out, argv[1].ptr, argv[1].len);
		return resp_add_simple(out, "PONG", 4);
	case CMD_ID_ECHO:
		RP_CHECK(argc == 2);
		return resp_add_bulk(out, argv[1].ptr, argv[1].len);
	case CMD_ID_TIME: {
		struct timespec ts;
		RP_CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
		uint8_t s[20], us[20];
		size_t sn = sm_format_i64((int64_t)ts.tv_sec, s);
		size_t usn = sm_format_i64((int64_t)(ts.tv_nsec / 1000), us);
		int rc = resp_add_array(out, 2);
		if (rc == 0)
			rc = resp_add_bulk(out, (const char *)s, sn);
		if (rc == 0)
			rc = resp_add_bulk(out, (const char *)us, usn);
		return rc;
	}
	case CMD_ID_CONFIG: {
		cmd_config_values v;
		cmd_config_default(&v);
		return cmd_config_reply(&v, argc, argv, proto, out);
	}
	case CMD_ID_COMMAND:
		return cmd_command_exec(spec, argc, argv, proto, out);
	case CMD_ID_INFO: {
		/* INFO needs the server's numbers (cmd_info_reply); without them
		 * every field reads 0 or "". */
		cmd_info none;
		memset(&none, 0, sizeof(none));
		return cmd_info_reply(&none, argc, argv, proto, out);
	}
	default:
		RP_CHECK(0);
		return RP_ERR_INVALID;
	}
}
