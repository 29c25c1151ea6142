/*
 * cmd_internal.h — private to src/server/cmd*.c: the error replies every
 * command shares (worded as Redis words them, so clients that match on the
 * text keep working), small argument helpers, and the per-family checks and
 * executors that cmd_table.c dispatches to.
 */
#ifndef RASPUTIN_SERVER_CMD_INTERNAL_H
#define RASPUTIN_SERVER_CMD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cmd.h"

/* Error texts, also for tests. */
#define CMD_ERR_SYNTAX "ERR syntax error"
#define CMD_ERR_NOT_INT "ERR value is not an integer or out of range"
#define CMD_ERR_OVERFLOW "ERR increment or decrement would overflow"
#define CMD_ERR_DECR_OVERFLOW "ERR decrement would overflow"
#define CMD_ERR_TOO_LARGE "ERR string exceeds maximum allowed size"
#define CMD_ERR_EXPIRY "ERR expiry is not supported"
#define CMD_ERR_RESERVED "ERR keys starting with \\xff\\x00rasputin: are reserved"
#define CMD_ERR_KEY_TOO_LONG "ERR key is too long (at most 65536 bytes)"
#define CMD_ERR_INVALID_CURSOR "ERR invalid cursor"
#define CMD_ERR_SESSION_EXPIRED "SESSION client session expired; start a new client id"
#define CMD_ERR_STALE_SEQ "ERR stale request sequence number"
#define CMD_ERR_BAD_CMD "ERR internal error: command could not be decoded"
#define CMD_ERR_SEQ_REUSED "ERR sequence number already used by a different command"

/* Appends msg (a C string) as an error reply; returns RP_ERR_INVALID, or
 * the output buffer's error if the append failed. */
int cmd_err(struct resp_out *out, const char *msg);
/* "ERR wrong number of arguments for 'name' command" (name lower-cased). */
int cmd_err_arity(struct resp_out *out, const char *name);
/* "ERR unknown subcommand 'sub'. Try CMD HELP." */
int cmd_err_subcommand(struct resp_out *out, const char *cmd, const struct resp_arg *sub);
/* "ERR too many keys in one command (at most N)". */
int cmd_err_too_many_keys(struct resp_out *out, uint32_t max);

/* a equals the upper-case ASCII word w, ignoring case. */
bool cmd_arg_is(const struct resp_arg *a, const char *w);
/* Redis integers: sm_parse_i64's rules. */
bool cmd_arg_i64(const struct resp_arg *a, int64_t *v);
/* An unsigned decimal without sign or leading zeros, fitting uint64. */
bool cmd_arg_u64(const struct resp_arg *a, uint64_t *v);
/* Copies the name lower-cased into buf (cap >= 1), cut to fit. */
void cmd_lower(const char *name, char *buf, size_t cap);

/* Per-family checks of what the table cannot say (options, integers,
 * values); arity, subcommands and keys are checked before them.  Same
 * return convention as cmd_validate. */
int cmd_write_check(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		    const cmd_limits *lim, struct resp_out *out);
int cmd_read_check(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		   const cmd_limits *lim, struct resp_out *out);

/* The SCAN cursor table (cmd_cursor.c).  A slot number names a live
 * cursor between find and save/release within one SCAN call. */
#define CMD_CURSOR_NONE UINT32_MAX
/* The live cursor id: its slot and saved position (borrowed until the next
 * call into c). */
bool cmd_cursors_find(cmd_cursors *c, uint64_t id, uint32_t *slot, const uint8_t **key,
		      size_t *key_size);
/* Saves position key under a fresh id in slot (CMD_CURSOR_NONE: a new
 * slot, evicting the least recently used if need be).  RP_ERR_NOMEM. */
int cmd_cursors_save(cmd_cursors *c, uint32_t slot, const uint8_t *key, size_t key_size,
		     uint64_t *id);
void cmd_cursors_release(cmd_cursors *c, uint32_t slot);

/* COMMAND and its subcommands (cmd_docs.c). */
int cmd_command_exec(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		     int proto, struct resp_out *out);

#endif
