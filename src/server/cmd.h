/*
 * cmd.h — the server's command layer: the command table, argument checks
 * with Redis's error replies, turning a write into a state-machine log
 * entry and its applied result into a reply, executing reads against the
 * local state machine, and the commands any node answers alone (PING, ECHO,
 * TIME, CONFIG, COMMAND, INFO, HELLO).  Pure: no IO, no libuv, no global
 * state (TIME reads the wall clock, nothing else does).
 *
 * How the server drives it, per command parsed off a connection:
 *
 *   spec = cmd_lookup(argv[0])          NULL -> cmd_unknown_reply
 *   cmd_validate(spec, ...)             < 0: the error reply is in out
 *   spec->flags & CMD_F_WRITE   cmd_write_build -> propose entry (keep the
 *                               plan) -> once applied: cmd_write_reply
 *   spec->flags & CMD_F_READ    once the read is safe: cmd_read_exec
 *   spec->flags & CMD_F_LOCAL   cmd_local_exec (INFO: cmd_info_reply;
 *                               CONFIG: cmd_config_reply for real values)
 *   CMD_F_CONN, CMD_F_ADMIN     the server itself (spec->id says which;
 *                               RASPUTIN SEQ: cmd_seq_unwrap)
 *
 * Return codes.  Every function that appends a reply returns 0 when a
 * reply was appended, an error reply to the client included (a failed CAS,
 * "ERR invalid cursor", STALE_SEQ...), unless its comment says otherwise:
 * cmd_validate, cmd_write_build and cmd_seq_unwrap return < 0 when they
 * refuse the command (and then the error reply is in out).  A negative
 * RP_ERR_NOSPC / RP_ERR_NOMEM means the output buffer failed (sticky in
 * out->err): close the connection, as resp.h says.
 *
 * Keys the server keeps for itself (the cluster's node address book) live
 * in the state machine under CMD_META_PREFIX; client commands that name such
 * a key get an error, and SCAN, KEYS and DBSIZE skip the whole range.
 */
#ifndef RASPUTIN_SERVER_CMD_H
#define RASPUTIN_SERVER_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/resp.h"
#include "storage/sm.h"
#include "util/hist.h"

#define CMD_META_PREFIX "\xff\x00rasputin:"
#define CMD_META_PREFIX_LEN 11

enum {
	CMD_F_WRITE = 1 << 0,  /* goes through the replicated log */
	CMD_F_READ = 1 << 1,   /* reads the state machine: needs a read index
				  (or the connection's stale-read opt-in) */
	CMD_F_LOCAL = 1 << 2,  /* answered by any node at once: PING ECHO
				  COMMAND CONFIG INFO TIME */
	CMD_F_CONN = 1 << 3,   /* connection state, the server's: HELLO AUTH
				  SELECT QUIT RESET CLIENT READONLY READWRITE */
	CMD_F_ADMIN = 1 << 4,  /* RASPUTIN and its subcommands, the server's */
	CMD_F_NOAUTH = 1 << 5, /* allowed before AUTH: HELLO AUTH QUIT RESET */
	CMD_F_HIDDEN = 1 << 6, /* a subcommand left out of COMMAND's lists and
				  docs (RASPUTIN JOIN, internal) */
};

/* Which command a spec is, for dispatch without comparing names.  The
 * subcommands of CLIENT and RASPUTIN have ids too (cmd_lookup_sub). */
typedef enum {
	CMD_ID_NONE = 0,
	/* writes */
	CMD_ID_SET,
	CMD_ID_SETNX,
	CMD_ID_GETSET,
	CMD_ID_GETDEL,
	CMD_ID_DEL,
	CMD_ID_INCR,
	CMD_ID_INCRBY,
	CMD_ID_DECR,
	CMD_ID_DECRBY,
	CMD_ID_APPEND,
	CMD_ID_MSET,
	CMD_ID_CAS,
	/* reads */
	CMD_ID_GET,
	CMD_ID_MGET,
	CMD_ID_EXISTS,
	CMD_ID_STRLEN,
	CMD_ID_DBSIZE,
	CMD_ID_SCAN,
	CMD_ID_KEYS,
	CMD_ID_TYPE,
	CMD_ID_TTL,
	CMD_ID_PTTL,
	/* local */
	CMD_ID_PING,
	CMD_ID_ECHO,
	CMD_ID_TIME,
	CMD_ID_INFO,
	CMD_ID_CONFIG,
	CMD_ID_CONFIG_GET,
	CMD_ID_CONFIG_SET,
	CMD_ID_CONFIG_RESETSTAT,
	CMD_ID_CONFIG_REWRITE,
	CMD_ID_CONFIG_HELP,
	CMD_ID_COMMAND,
	CMD_ID_COMMAND_COUNT,
	CMD_ID_COMMAND_DOCS,
	CMD_ID_COMMAND_INFO,
	CMD_ID_COMMAND_LIST,
	CMD_ID_COMMAND_GETKEYS,
	CMD_ID_COMMAND_HELP,
	/* connection */
	CMD_ID_HELLO,
	CMD_ID_AUTH,
	CMD_ID_SELECT,
	CMD_ID_QUIT,
	CMD_ID_RESET,
	CMD_ID_READONLY,
	CMD_ID_READWRITE,
	CMD_ID_CLIENT,
	CMD_ID_CLIENT_ID,
	CMD_ID_CLIENT_GETNAME,
	CMD_ID_CLIENT_SETNAME,
	CMD_ID_CLIENT_INFO,
	CMD_ID_CLIENT_LIST,
	CMD_ID_CLIENT_SETINFO,
	CMD_ID_CLIENT_HELP,
	/* admin */
	CMD_ID_RASPUTIN,
	CMD_ID_RASPUTIN_STATUS,
	CMD_ID_RASPUTIN_NODES,
	CMD_ID_RASPUTIN_REMOVE,
	CMD_ID_RASPUTIN_TRANSFER,
	CMD_ID_RASPUTIN_PROMOTE,
	CMD_ID_RASPUTIN_SEQ,
	CMD_ID_RASPUTIN_JOIN,
	CMD_ID_COUNT_
} cmd_id;

/* One argument as COMMAND DOCS describes it (redis-cli builds its help and
 * hints from these). */
enum {
	CMD_ARG_OPTIONAL = 1 << 0,
	CMD_ARG_MULTIPLE = 1 << 1,
	CMD_ARG_MULTIPLE_TOKEN = 1 << 2,
};
typedef struct cmd_arg_doc {
	const char *name;
	const char *type;  /* key string integer pattern pure-token oneof block */
	const char *token; /* the keyword before it, NULL if none */
	uint8_t flags;	   /* CMD_ARG_* */
	const struct cmd_arg_doc *args; /* oneof, block: the parts */
	uint32_t arg_count;
} cmd_arg_doc;

typedef struct cmd_spec {
	const char *name; /* upper case; a subcommand "CONFIG|GET" */
	int arity;	  /* Redis convention: > 0 exactly, < 0 at least -arity
			     (the name counts, and a subcommand's name too) */
	uint32_t flags;	  /* CMD_F_* */
	int first_key, last_key, key_step; /* as COMMAND reports them; last_key
					      < 0 counts from the end */
	const char *summary;
	const char *since;
	const char *group; /* for COMMAND DOCS */
	/* Additions to the lead's sketch. */
	cmd_id id;
	const char *complexity;
	const char *info_flags;	    /* COMMAND's flag words, space separated */
	const char *acl_categories; /* "@read @string @fast" */
	const cmd_arg_doc *args;    /* after the name (and subcommand) */
	uint32_t arg_count;
	const struct cmd_spec *subcommands; /* CONFIG COMMAND CLIENT RASPUTIN */
	uint32_t subcommand_count;
} cmd_spec;

typedef struct {
	uint32_t max_value_bytes; /* == the sm's cfg.max_value_bytes */
	uint32_t max_keys;	  /* keys (MSET: pairs) per command, <= SM_CMD_MAX_KEYS */
	uint32_t max_scan_count;  /* SCAN's COUNT is clamped to this */
	uint32_t max_entry_bytes; /* addition: == hp_config.max_entry_bytes; a write
				     whose log entry would be larger is refused */
} cmd_limits;
/* SM_VALUE_MAX_BYTES_DEFAULT, SM_CMD_MAX_KEYS, 10,000 and HP_MAX_ENTRY_BYTES. */
void cmd_limits_default(cmd_limits *lim);

/* Case-insensitive; NULL = unknown.  Top-level commands only. */
const cmd_spec *cmd_lookup(const char *name, size_t len);
/* A subcommand of parent by its name without the parent ("GET" for
 * CONFIG|GET), case-insensitive; NULL if parent has none by that name. */
const cmd_spec *cmd_lookup_sub(const cmd_spec *parent, const char *name, size_t len);
/* The whole table (top-level commands) and its size. */
const cmd_spec *cmd_table(size_t *count);

/*
 * Arity and syntax (options, integers, key sizes and counts, the reserved
 * prefix, subcommand names and their arity) without touching any state.
 * 0 = fine; otherwise appends the Redis-style error reply to out and
 * returns < 0.  For CONN and ADMIN commands it checks what the table says
 * (arity, subcommand, integer arguments); their meaning is the server's.
 */
int cmd_validate(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		 const cmd_limits *lim, struct resp_out *out);
/* "ERR unknown command 'FOO', with args beginning with: 'a' 'b' " (as
 * Redis, with the trailing space).  Returns 0. */
int cmd_unknown_reply(size_t argc, const struct resp_arg *argv, struct resp_out *out);
/* True if key lies in the reserved range. */
bool cmd_key_reserved(const char *key, size_t len);

/*
 * RASPUTIN SEQ client seq command [arg ...]: a write with a session (the
 * client library retries with the same client and seq; the state machine
 * answers a retry with the first result).  Checks the wrapper, finds the
 * inner command (which must be a write) and returns 0 with *client, *seq
 * (both >= 1) and the inner command as argv + 4.  Then run the inner
 * command as any write, with cmd_validate and cmd_write_build(..., client,
 * seq, ...).  < 0 with the error reply in out if the wrapper is wrong.
 */
int cmd_seq_unwrap(size_t argc, const struct resp_arg *argv, uint64_t *client,
		   uint64_t *seq, const cmd_spec **inner, size_t *inner_argc,
		   const struct resp_arg **inner_argv, struct resp_out *out);

/*
 * Writes: the log entry for the command (an sm_cmd encoding with session
 * client/seq, 0/0 = none) and a small plan that turns the applied result
 * into the reply.  cmd_write_build validates first (as cmd_validate), then
 * replaces entry's contents; on refusal it returns < 0 with the error in
 * err_out and leaves entry and plan alone.
 */
typedef struct {
	uint8_t kind;
	uint16_t opts;
} cmd_plan; /* small and copyable; kept with the pending request */
int cmd_write_build(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		    uint64_t client, uint64_t seq, const cmd_limits *lim, sm_buf *entry,
		    cmd_plan *plan, struct resp_out *err_out);
/* The reply for the applied result res of the entry built with plan.  A
 * result that does not fit the plan (a client that reused a seq for
 * another command gets the first command's result) is answered with an
 * error, never an assertion. */
int cmd_write_reply(const cmd_plan *plan, const sm_result *res, int proto,
		    struct resp_out *out);

/*
 * Reads, executed against the local state machine once it is safe to (the
 * server guarantees that).  cur is the server's SCAN cursor table (may be
 * NULL for every command but SCAN).  Returns 0 when a reply was appended;
 * RP_ERR_NOSPC/NOMEM for the output buffer; another negative code when the
 * store failed: then whatever the command had appended is taken back and
 * "ERR internal error: ..." is the reply (treat the store as broken).
 */
typedef struct cmd_cursors cmd_cursors;
/* A bounded table of SCAN cursors: capacity live cursors (>= 1; 4096 is a
 * good size) and at most CMD_CURSORS_MAX_BYTES of saved positions, the
 * least recently used evicted.  Cursors are decimal integers below 2^53
 * (redis-cli, redis-py and JavaScript clients parse them as numbers); each
 * SCAN step retires the cursor it was given and hands out a fresh one, so
 * a stale or evicted cursor gets "ERR invalid cursor" rather than a wrong
 * position.  seed makes the cursor numbers reproducible.  NULL if out of
 * memory. */
enum { CMD_CURSORS_MAX_BYTES = 32 * 1024 * 1024 };
cmd_cursors *cmd_cursors_create(uint32_t capacity, uint64_t seed);
void cmd_cursors_destroy(cmd_cursors *c); /* accepts NULL */
/* SCAN's COUNT is clamped to lim->max_scan_count (addition: cmd_read_exec
 * has no limits argument; the default is cmd_limits_default's). */
void cmd_cursors_set_limits(cmd_cursors *c, const cmd_limits *lim);
uint32_t cmd_cursors_max_count(const cmd_cursors *c);
uint32_t cmd_cursors_live(const cmd_cursors *c); /* for INFO and tests */
int cmd_read_exec(const cmd_spec *spec, size_t argc, const struct resp_arg *argv, sm *m,
		  cmd_cursors *cur, int proto, struct resp_out *out);
/* KEYS refuses (with an error reply) to visit more keys than this. */
enum { CMD_KEYS_MAX_VISIT = 1000000 };

/*
 * Walks: DBSIZE and KEYS visit up to every key, which at millions of keys
 * takes seconds; cmd_read_exec does it in one go (tests, the simulator),
 * a server with other work does it in steps between which it serves
 * everything else.  The walk sees the keys as of cmd_walk_start (sm.h,
 * "Walks"), so the answer is the one cmd_read_exec would have given at
 * that moment.
 *
 *   cmd_read_is_walk(spec)                      DBSIZE, KEYS
 *   cmd_walk_start(spec, argc, argv, m, room)   room: the reply's byte limit
 *   cmd_walk_step(w, keys, &done) until done    keys: how many to visit now
 *   cmd_walk_reply(w, out); cmd_walk_free(w)
 *
 * argv need not outlive cmd_walk_start.  A failed step leaves the walk
 * done; cmd_walk_reply then answers "ERR internal error: ...".  Free every
 * walk before a snapshot install completes and before sm_close.
 */
typedef struct cmd_walk cmd_walk;
bool cmd_read_is_walk(const cmd_spec *spec);
int cmd_walk_start(const cmd_spec *spec, size_t argc, const struct resp_arg *argv, sm *m,
		   size_t room, cmd_walk **out);
int cmd_walk_step(cmd_walk *w, uint32_t keys, bool *done);
int cmd_walk_reply(cmd_walk *w, struct resp_out *out);
void cmd_walk_free(cmd_walk *w);

/*
 * Local commands: PING [msg], ECHO msg, TIME, COMMAND and its subcommands
 * (COUNT, DOCS, INFO, LIST, GETKEYS, HELP), CONFIG GET/SET/RESETSTAT/
 * REWRITE/HELP.  CONFIG GET answers with cmd_config_default's values (see
 * cmd_config_reply for the real ones); CONFIG SET, RESETSTAT and REWRITE
 * are refused with an error.  INFO is separate because it needs the
 * server's numbers (given INFO, this answers as cmd_info_reply would with
 * every number 0).
 */
int cmd_local_exec(const cmd_spec *spec, size_t argc, const struct resp_arg *argv,
		   int proto, struct resp_out *out);

/* The values CONFIG GET reports (addition).  Parameters: save "",
 * appendonly "no", databases "1", maxclients, proto-max-bulk-len, port,
 * dir, timeout "0", maxmemory "0", maxmemory-policy "noeviction",
 * cluster-enabled "no". */
typedef struct {
	uint64_t max_clients;
	uint64_t proto_max_bulk_len;
	uint16_t port;
	const char *dir; /* NULL = "" */
} cmd_config_values;
/* maxclients 10000, proto-max-bulk-len SM_VALUE_MAX_BYTES_DEFAULT, port 0. */
void cmd_config_default(cmd_config_values *v);
/* CONFIG with any subcommand, answering CONFIG GET with *v. */
int cmd_config_reply(const cmd_config_values *v, size_t argc, const struct resp_arg *argv,
		     int proto, struct resp_out *out);

typedef struct {
	const char *version;
	uint64_t node_id;
	uint64_t cluster_id;
	uint64_t uptime_s;
	long pid;
	uint16_t cli_port, peer_port;
	const char *storage_dir;
	const char *role; /* leader follower candidate pre-candidate learner joining */
	uint64_t term, leader_id, commit_index, applied_index, last_index, snapshot_index;
	uint64_t applied_unflushed; /* applied, not yet in the store's batch write */
	bool lease_valid;
	uint64_t lease_remaining_ms;
	uint32_t voters, learners;
	const char *leader_client_addr;
	uint64_t connected_clients, max_clients, total_connections, rejected_connections,
	    total_commands, writes, reads, forwarded, uncertain, errors;
	uint64_t wal_fsyncs, wal_bytes;
	uint64_t idle_poll_us, idle_poll_windows, idle_poll_turns, idle_poll_catches;
	uint64_t used_memory_rss_bytes;
	/* Where the memory goes (0 when unknown): the allocator's bytes in
	 * use and held free, the consensus log in memory, the store's own. */
	uint64_t allocator_allocated_bytes, allocator_free_bytes;
	uint64_t log_memory_bytes;
	sm_store_memory store;
	sm_vcache_stats value_cache;
	const rp_hist *write_latency, *read_latency; /* microseconds; may be NULL */
} cmd_info;
/*
 * INFO [section ...]: server, clients, consensus, stats, latency, memory,
 * persistence, keyspace (empty: counting keys is not cheap), or "all",
 * "default", "everything"; names are case-insensitive, unknown ones add
 * nothing.  Redis's text format ("# Server\r\nkey:value\r\n", sections
 * apart by a blank line) as one bulk string; RESP3 verbatim "txt".  Any
 * string field may be NULL (printed as "").
 */
int cmd_info_reply(const cmd_info *info, size_t argc, const struct resp_arg *argv,
		   int proto, struct resp_out *out);
/* HELLO's map: server "rasputin", version, proto, id (node_id), mode
 * "standalone" (as INFO says, so clients do not look for hash slots), role,
 * modules []. */
int cmd_hello_reply(int proto, uint64_t node_id, const char *version, const char *role,
		    struct resp_out *out);

/* Glob matching as Redis's MATCH and KEYS: * ? [abc] [^a] [a-z] and \x
 * (x literally, inside brackets too).  An unclosed [ matches a literal [.
 * nocase folds ASCII letters.  Runs in O(pattern * string) time. */
bool cmd_glob_match(const char *pat, size_t pat_len, const char *s, size_t len,
		    bool nocase);

#endif
