/*
 * peer_wire.h — the codec of the peer port, the protocol rasputind nodes
 * speak with each other: consensus messages, joining a cluster, and client
 * commands that a follower forwards to the leader.  No IO: encoders append
 * whole frames to a growable buffer, decoders read one frame's payload.
 * net/peer_transport.h moves the frames.
 *
 * A frame is a 16-byte header and a payload.  Header, all little-endian:
 *
 *   0  u16 magic 0x5250 ("PR")     4  u32 payload length
 *   2  u8  version (1)             8  u32 CRC32C of the payload
 *   3  u8  frame type              12 u32 CRC32C of header bytes 0..11
 *
 * Payload fields are little-endian integers and two kinds of strings:
 *   bytes  u32 length, then the bytes (entry data, snapshot data, replies);
 *   text   u32 length, the bytes, then one 0x00 that the length does not
 *          count (addresses, messages, command arguments).  The decoder
 *          checks the 0x00, so a decoded text can be used as a C string
 *          where it cannot hold a NUL itself (addresses and messages never
 *          do; command arguments may, exactly as struct resp_arg allows).
 * Payload layouts, field by field, are written above each encoder in
 * peer_wire.c.
 *
 * Decoders are strict: every length is checked against what is left, every
 * count against its bound and against the bytes left (so a claimed count
 * costs nothing until the bytes arrive), unknown enum values and flag bits
 * are refused, and so are trailing bytes.  A decoded structure borrows: its
 * pointers point into the payload passed in, or into the peer_scratch, and
 * stay valid while both do (the scratch until the next decode into it).
 *
 * Return codes: 0, or a negative code from util/err.h, or a PEER_JOIN_*
 * status below; peer_strerror describes every one.
 */
#ifndef RASPUTIN_NET_PEER_WIRE_H
#define RASPUTIN_NET_PEER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"

struct resp_arg; /* net/resp.h */

enum {
	PEER_HEADER_BYTES = 16,
	PEER_MAX_FRAME_BYTES_DEFAULT = 64 << 20, /* payload bytes */
	PEER_MAX_ENTRIES = 65536,		 /* entries in one MSG */
	PEER_ADDR_MAX = 255,			 /* bytes in a "host:port" */
	PEER_MAX_ARGS = 1048576,		 /* arguments in one FWD_REQ */
	PEER_MESSAGE_MAX = 1024,		 /* bytes in a JOIN_RESP message */
	PEER_MAGIC = 0x5250,
	PEER_VERSION = 1, /* header version; also what our HELLO says we speak */
};

typedef enum {
	PEER_F_HELLO = 1,
	PEER_F_MSG = 2,
	PEER_F_JOIN_REQ = 3,
	PEER_F_JOIN_RESP = 4,
	PEER_F_FWD_REQ = 5,
	PEER_F_FWD_RESP = 6,
	PEER_F_MAX = 6, /* peer_frame_header refuses types outside 1..PEER_F_MAX */
} peer_frame_type;

/* peer_join_resp.status besides 0 and the util/err.h codes (-1..-99).  The
 * range -200.. keeps them apart from util/err.h and net/resp.h. */
enum {
	PEER_JOIN_NOT_LEADER = -200, /* ask leader_id at leader_addr (if known) */
	PEER_JOIN_BUSY = -201,	     /* a membership change is under way: retry */
	PEER_JOIN_REFUSED = -202,    /* will not admit this node; message says why */
};

/* peer_fwd_resp.status. */
enum {
	PEER_FWD_OK = 0,	 /* reply holds one complete RESP reply */
	PEER_FWD_NOT_LEADER = 1, /* nothing was done; retry elsewhere */
	PEER_FWD_UNCERTAIN = 2,	 /* the command may or may not have applied */
};

/* Never NULL: PEER_JOIN_* codes, then rp_strerror's text for the others. */
const char *peer_strerror(int rc);

/* ---------------------------------------------------------------------------
 * Output buffer.  data[0..len) holds whole frames, owned by the buffer.
 * err is sticky: after an allocation fails every encoder returns
 * RP_ERR_NOMEM without appending until peer_buf_reset.  An encoder that
 * fails appends nothing (len is what it was).
 */
typedef struct {
	uint8_t *data;
	size_t len, cap; /* len <= cap */
	int err;	 /* 0 or RP_ERR_NOMEM (sticky) */
} peer_buf;

void peer_buf_init(peer_buf *b);
/* Frees the data; the buffer may be initialised again. */
void peer_buf_deinit(peer_buf *b);
/* Empties the buffer and clears err; keeps the allocation. */
void peer_buf_reset(peer_buf *b);
/* Appends n raw bytes (src may be NULL when n is 0).  0 or RP_ERR_NOMEM. */
int peer_buf_append(peer_buf *b, const void *src, size_t n);

/* ---------------------------------------------------------------------------
 * Frame payloads.  Strings are (pointer, length) pairs; when encoding a
 * pointer may be NULL only if its length is 0; a decoded string is never
 * NULL (an empty one points to "") and is followed by a NUL.
 */

/* First frame on every connection, both directions.  cluster_id 0 means
 * "not yet in a cluster" (a joining node).  Decoding refuses version 0 and
 * node_id 0; addresses are at most PEER_ADDR_MAX bytes without NUL. */
typedef struct {
	uint32_t version; /* highest peer protocol version the sender speaks */
	uint64_t cluster_id;
	uint64_t node_id;
	const char *peer_addr; /* where the sender's peer port listens */
	size_t peer_addr_len;
	const char *client_addr; /* where its client port listens */
	size_t client_addr_len;
} peer_hello;

/* A node asks to join: node_id non-zero, addresses as in peer_hello.
 * flags: PEER_JOIN_FRESH when the node holds no consensus state at all (a
 * new node): the leader refuses it an id that is already a member, since a
 * member that lost its log must never vote again under its old id. */
enum { PEER_JOIN_FRESH = 1 };
typedef struct {
	uint64_t node_id;
	uint8_t flags;
	const char *peer_addr;
	size_t peer_addr_len;
	const char *client_addr;
	size_t client_addr_len;
} peer_join_req;

typedef struct {
	/* 0 ok, a util/err.h code (-1..-99) or a PEER_JOIN_* code; anything
	 * else is refused by both encoder and decoder. */
	int32_t status;
	uint64_t cluster_id;
	uint64_t leader_id;	 /* 0 if unknown */
	const char *leader_addr; /* peer address of leader_id; may be empty */
	size_t leader_addr_len;
	const char *message; /* for the operator; at most PEER_MESSAGE_MAX bytes */
	size_t message_len;
} peer_join_resp;

/* A client command forwarded to the leader.  argc is 1..PEER_MAX_ARGS.
 * Encoding: argv is the caller's array (each ptr may be NULL if its len is
 * 0).  Decoding: argv lives in the scratch, each argument's bytes in the
 * payload, each followed by a NUL (the struct resp_arg contract). */
typedef struct {
	uint64_t req_id;
	uint8_t proto; /* 2 or 3 */
	uint8_t flags; /* the server's; carried as is */
	uint64_t client;
	uint64_t seq; /* session, 0 = none */
	uint32_t argc;
	const struct resp_arg *argv;
} peer_fwd_req;

typedef struct {
	uint64_t req_id;
	uint8_t status;	      /* PEER_FWD_* */
	const uint8_t *reply; /* NULL (encoding: allowed) / "" (decoded) if empty */
	size_t reply_len;
} peer_fwd_resp;

/* ---------------------------------------------------------------------------
 * Decoding scratch: owned arrays the decoders reuse for hp_msg entries and
 * fwd_req arguments.  They grow to what one frame needs (never past
 * PEER_MAX_ENTRIES / PEER_MAX_ARGS elements, and never past what the bytes
 * of the payload can hold) and are kept for the next decode.
 */
typedef struct {
	hp_entry *entries;
	size_t entries_cap;
	struct resp_arg *args;
	size_t args_cap;
} peer_scratch;

void peer_scratch_init(peer_scratch *s);
void peer_scratch_deinit(peer_scratch *s);

/* ---------------------------------------------------------------------------
 * Encoders: append one whole frame to b.  0, RP_ERR_NOMEM (b->err is set),
 * or RP_ERR_INVALID (an argument breaks a bound above; nothing appended,
 * b->err untouched).
 *
 * peer_encode_msg encodes every field of hp_msg whatever its type: the
 * entries (index, term, type, data) and the snapshot part (meta, offset,
 * chunk data, last).  It refuses an unknown message or entry type, more
 * than PEER_MAX_ENTRIES entries, an entry or chunk over HP_MAX_ENTRY_BYTES,
 * and a conf with more than HP_MAX_VOTERS voters or HP_MAX_MEMBERS learners.
 */
int peer_encode_hello(peer_buf *b, const peer_hello *h);
int peer_encode_msg(peer_buf *b, const hp_msg *m);
int peer_encode_join_req(peer_buf *b, const peer_join_req *r);
int peer_encode_join_resp(peer_buf *b, const peer_join_resp *r);
int peer_encode_fwd_req(peer_buf *b, const peer_fwd_req *r);
int peer_encode_fwd_resp(peer_buf *b, const peer_fwd_resp *r);

/* ---------------------------------------------------------------------------
 * Reading frames.
 *
 * peer_frame_header checks a header: 0 and *type, *payload_len,
 * *payload_crc set; RP_ERR_CORRUPT on a bad magic, version, header CRC or
 * a type outside 1..PEER_F_MAX; RP_ERR_NOSPC if payload_len exceeds
 * max_frame_bytes.  The outputs are set only on success.
 */
int peer_frame_header(const uint8_t hdr[PEER_HEADER_BYTES], size_t max_frame_bytes,
		      uint8_t *type, uint32_t *payload_len, uint32_t *payload_crc);

/* Checks that frame[0..len) is exactly one whole frame (header, length,
 * payload CRC) and points *payload into it.  0, RP_ERR_CORRUPT (also for a
 * short or long len), or RP_ERR_NOSPC as peer_frame_header. */
int peer_frame_split(const uint8_t *frame, size_t len, size_t max_frame_bytes,
		     uint8_t *type, const uint8_t **payload, size_t *payload_len);

/* Decoders of a payload p[0..n) whose CRC the caller has checked.  0,
 * RP_ERR_CORRUPT, or RP_ERR_NOMEM when the scratch cannot grow.  On failure
 * the output holds nothing useful. */
int peer_decode_hello(const uint8_t *p, size_t n, peer_hello *h);
int peer_decode_msg(const uint8_t *p, size_t n, peer_scratch *s, hp_msg *m);
int peer_decode_join_req(const uint8_t *p, size_t n, peer_join_req *r);
int peer_decode_join_resp(const uint8_t *p, size_t n, peer_join_resp *r);
int peer_decode_fwd_req(const uint8_t *p, size_t n, peer_scratch *s, peer_fwd_req *r);
int peer_decode_fwd_resp(const uint8_t *p, size_t n, peer_fwd_resp *r);

#endif
