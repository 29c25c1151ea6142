/*
 * sm_cmd.h — the commands of the replicated key-value state machine as they
 * travel in HP_ENTRY_NORMAL log entries, and the results the state machine
 * hands back, both as bytes and as structs.  It also holds the pieces every
 * sm_* file shares: a growable byte buffer
 * (sm_buf) and a value that may be absent (sm_value).
 *
 * The byte formats (docs/storage.md, "Command format") are versioned,
 * little-endian and length-prefixed.  Decoding is strict: every length is
 * checked against what is left and against the limits below before it is
 * used, unknown versions, ops and flag bits are refused, and trailing bytes
 * are an error.  Decoders never allocate for commands and never read
 * outside the input: they are fuzz targets.
 *
 * Pure: no IO, no clock, no global state.
 */
#ifndef RASPUTIN_STORAGE_SM_CMD_H
#define RASPUTIN_STORAGE_SM_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Every sm_* function returns 0 or a negative code of util/err.h
 * (rp_strerror).  Results of commands (a failed CAS, a non-integer INCRBY)
 * are not errors: they are sm_status values inside an sm_result. */

enum {
	SM_CMD_VERSION = 1,
	SM_RESULT_VERSION = 1,
	SM_KEY_MAX_BYTES = 64 * 1024, /* a key, any command */
	SM_CMD_MAX_KEYS = 1024,	      /* keys in one DEL, pairs in one MSET */
	SM_DEL_GET_MAX_KEYS = 16,     /* keys in one DEL that returns the old values */
	SM_RESULT_MAX_VALUES = 16,    /* values in one result */
	SM_VALUE_MAX_BYTES_LIMIT = 8 * 1024 * 1024, /* ceiling of any configured max */
	SM_VALUE_MAX_BYTES_DEFAULT = 1024 * 1024,
	SM_CMD_HEADER_BYTES = 20,    /* version, op, flags, client, seq */
	SM_RESULT_HEADER_BYTES = 16, /* version, op, status, flags, integer, count */
};
/* The length word that marks an absent value (nil) on the wire. */
#define SM_NIL_LENGTH UINT32_MAX

typedef enum {
	SM_OP_NONE = 0, /* results of NOOP/CONF entries and undecodable commands */
	SM_OP_SET = 1,
	SM_OP_GET = 2,
	SM_OP_DEL = 3,
	SM_OP_CAS = 4,
	SM_OP_INCRBY = 5,
	SM_OP_APPEND = 6,
	SM_OP_MSET = 7,
	SM_OP_LAST_ = SM_OP_MSET, /* the highest op a decoder accepts */
} sm_op;
const char *sm_op_name(int op);

/* SET flags.  NX and XX exclude each other. */
enum {
	SM_SET_NX = 1u << 0,  /* only if the key is absent */
	SM_SET_XX = 1u << 1,  /* only if the key is present */
	SM_SET_GET = 1u << 2, /* return the old value */
};

/* DEL flags.  With GET (the seed's "DEL returns the last value"), a DEL
 * names at most SM_DEL_GET_MAX_KEYS keys, which bounds its result. */
enum {
	SM_DEL_GET = 1u << 0,
};

/* CAS flags. */
enum {
	SM_CAS_GET = 1u << 0, /* also return the value before the op (SET ... IFEQ GET) */
};

/* Outcome of one applied command.  Every replica computes the same one. */
typedef enum {
	SM_ST_OK = 0,
	SM_ST_BAD_CMD = 1,	   /* the entry does not decode: applied as a no-op */
	SM_ST_NOT_INTEGER = 2,	   /* INCRBY on a value that is not a decimal int64 */
	SM_ST_OVERFLOW = 3,	   /* INCRBY would leave the int64 range */
	SM_ST_TOO_LARGE = 4,	   /* APPEND would exceed the value limit */
	SM_ST_STALE_SEQ = 5,	   /* seq below the session's last: an old retry */
	SM_ST_SESSION_EXPIRED = 6, /* unknown client, seq > 1: session evicted */
	SM_ST_COUNT_ = 7,
} sm_status;
const char *sm_status_name(int status);

/* A growable byte buffer.  Owns data; sm_buf_deinit frees it. */
typedef struct {
	uint8_t *data;
	size_t size;
	size_t cap;
} sm_buf;
void sm_buf_init(sm_buf *b);
void sm_buf_deinit(sm_buf *b);
/* Makes room for `more` bytes after size; RP_ERR_NOMEM on failure. */
int sm_buf_reserve(sm_buf *b, size_t more);
int sm_buf_append(sm_buf *b, const void *data, size_t size);
int sm_buf_set(sm_buf *b, const void *data, size_t size);

/* Bytes that may be absent (nil).  Borrowed: data points into someone
 * else's memory (a command, a result, a buffer).  data may be NULL when
 * size is 0. */
typedef struct {
	bool present;
	uint32_t size;
	const uint8_t *data;
} sm_value;

/* Walks a list of length-prefixed values on the wire (DEL keys, MSET
 * pairs, result values) that a decoder has already validated. */
typedef struct {
	const uint8_t *pos;
	const uint8_t *end;
	uint32_t left;
} sm_iter;
/* Next value into *v; false when the list is exhausted. */
bool sm_iter_next(sm_iter *it, sm_value *v);

/*
 * One command.  For encoding, fill the fields the op uses and zero the rest;
 * for DEL give the keys as an array in `keys`/`key_count`, for MSET the
 * keys in `keys` and their values in `values` (key_count of each).  After
 * decoding, every sm_value points into the decoded bytes (valid as long as
 * they are), and DEL's keys and MSET's pairs are reached with sm_cmd_keys
 * and sm_cmd_pairs (`keys` and `values` are NULL).
 */
typedef struct {
	uint8_t op;	      /* sm_op */
	uint16_t flags;	      /* SET: SM_SET_*; DEL: SM_DEL_*; CAS: SM_CAS_*; others 0 */
	uint64_t client;      /* session: 0 = none (then seq is 0); see sm.h */
	uint64_t seq;	      /* session: 1, 2, 3, ... per client */
	sm_value key;	      /* every op but DEL and MSET; DEL, MSET: after
				 decoding, the first key */
	sm_value value;	      /* SET, APPEND: the value; CAS: expected (absent = nil);
				 MSET: after decoding, the first value */
	sm_value value2;      /* CAS: new value (absent = delete the key) */
	int64_t delta;	      /* INCRBY */
	uint32_t key_count;   /* DEL: keys, MSET: pairs; 1..SM_CMD_MAX_KEYS */
	const sm_value *keys; /* DEL, MSET: encoding only */
	const sm_value *values;	  /* MSET: encoding only; values[i] goes with keys[i] */
	const uint8_t *keys_wire; /* DEL, MSET: set by decoding */
	const uint8_t *keys_wire_end;
} sm_cmd;

/* Limits a decoder or encoder enforces beyond the fixed ones above. */
typedef struct {
	uint32_t max_value_bytes; /* <= SM_VALUE_MAX_BYTES_LIMIT */
} sm_cmd_limits;

/* The encoded size of cmd, or 0 if cmd breaks a rule (a decoder would
 * refuse it). */
size_t sm_cmd_encoded_size(const sm_cmd *cmd, const sm_cmd_limits *lim);
/* Encodes cmd into buf[0..cap).  Returns 0 and sets *size, RP_ERR_INVALID
 * if cmd breaks a rule, RP_ERR_NOSPC if cap is too small. */
int sm_cmd_encode(const sm_cmd *cmd, const sm_cmd_limits *lim, uint8_t *buf, size_t cap,
		  size_t *size);
/* Appends the encoding of cmd to b. */
int sm_cmd_encode_buf(const sm_cmd *cmd, const sm_cmd_limits *lim, sm_buf *b);
/* Decodes data[0..size) into *cmd (pointers into data).  Returns 0 or
 * RP_ERR_INVALID / RP_ERR_NOSPC; *cmd is unspecified on failure. */
int sm_cmd_decode(const uint8_t *data, size_t size, const sm_cmd_limits *lim,
		  sm_cmd *cmd);
/* Iterator over a decoded DEL's keys. */
void sm_cmd_keys(const sm_cmd *cmd, sm_iter *it);
/* Iterator over a decoded MSET's pairs: it yields key, value, key, value...
 * (2 * key_count values, none nil). */
void sm_cmd_pairs(const sm_cmd *cmd, sm_iter *it);

/*
 * One result.  `enc` holds the encoded result (what the session table
 * stores and what a forwarding node sends back); the other fields are its
 * decoded header, and the values live inside enc (sm_result_values).
 *
 *   SET     success = written (NX/XX met); with SM_SET_GET one value: the old one
 *   GET     success = present; one value
 *   DEL     integer = keys removed; success = integer > 0; with SM_DEL_GET one
 *           value per key: the value it had (nil if none) — the seed's "DEL
 *           returns the last value"
 *   CAS     success = swapped; one value: the key's value after the op; with
 *           SM_CAS_GET a second value: the key's value before the op
 *   INCRBY  integer = the new value
 *   APPEND  integer = the new length
 *   MSET    success = true; no values (every pair is written, in order, in
 *           the entry's one atomic batch: a key named twice keeps the last)
 */
typedef struct {
	uint8_t op;	/* sm_op of the command (SM_OP_NONE if none) */
	uint8_t status; /* sm_status */
	bool success;
	int64_t integer;
	uint32_t value_count;
	sm_buf enc;
} sm_result;

void sm_result_init(sm_result *r);
void sm_result_deinit(sm_result *r);
/* Starts a new result for op (drops the previous content). */
int sm_result_begin(sm_result *r, uint8_t op);
int sm_result_push(sm_result *r, const sm_value *v);
/* Fills the header fields; the result is complete. */
void sm_result_finish(sm_result *r, uint8_t status, bool success, int64_t integer);
/* Replaces r by the decoding of data[0..size) (copied).  Strict like
 * sm_cmd_decode; r is emptied on failure. */
int sm_result_decode(sm_result *r, const uint8_t *data, size_t size);
void sm_result_values(const sm_result *r, sm_iter *it);
/* Value i (O(i)); false if i >= value_count. */
bool sm_result_value(const sm_result *r, uint32_t i, sm_value *v);

/* Byte helpers shared by the sm_* files. */
void sm_put_u16(uint8_t *p, uint16_t v);
void sm_put_u32(uint8_t *p, uint32_t v);
void sm_put_u64(uint8_t *p, uint64_t v);
void sm_put_be64(uint8_t *p, uint64_t v);
uint16_t sm_get_u16(const uint8_t *p);
uint32_t sm_get_u32(const uint8_t *p);
uint64_t sm_get_u64(const uint8_t *p);
uint64_t sm_get_be64(const uint8_t *p);

/* Parses a Redis-style integer: optional '-', decimal digits, no leading
 * zeros (except "0" itself), no "-0", fits int64.  False otherwise. */
bool sm_parse_i64(const uint8_t *data, size_t size, int64_t *out);
/* Writes v in decimal into out (>= 20 bytes); returns the length. */
size_t sm_format_i64(int64_t v, uint8_t out[20]);

#endif
