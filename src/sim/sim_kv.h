/*
 * sim_kv.h — the replicated state machine the simulator runs on every
 * node: a tiny key-value table (keys 0..SIM_KV_KEYS-1, uint64 values) with
 * GET/SET/CAS/DEL/INCR, the encoding of its commands in log entries, its
 * snapshot format, and the state hash the invariant checker compares
 * across replicas.  Pure and deterministic; no allocation.
 */
#ifndef RASPUTIN_SIM_KV_H
#define RASPUTIN_SIM_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harpoon/harpoon.h"

enum {
	SIM_KV_KEYS = 16,
	SIM_KV_CMD_BYTES = 32,
	/* magic, applied, term, conf, key count, keys, checksum */
	SIM_KV_SNAPSHOT_BYTES = 4 + 8 + 8 + 4 + 4 + 8 * HP_MAX_VOTERS + 8 * HP_MAX_MEMBERS + 4 +
	                        SIM_KV_KEYS * (1 + 8 + 8 + 8) + 8,
};

typedef enum {
	SIM_KV_GET = 0,
	SIM_KV_SET = 1,
	SIM_KV_CAS = 2, /* success iff presence and value match; then set */
	SIM_KV_DEL = 3, /* found, out = the deleted value */
	SIM_KV_INCR = 4, /* an absent key counts as 0; out = the new value */
} sim_kv_kind;

typedef struct {
	uint32_t client;
	uint64_t op_id; /* unique per run: (client + 1) << 32 | counter */
	uint8_t kind;   /* sim_kv_kind */
	uint8_t key;
	bool expect_present; /* CAS */
	uint64_t value;      /* SET/CAS: new value; INCR: delta */
	uint64_t expect;     /* CAS */
} sim_kv_cmd;

typedef struct {
	bool found;   /* GET/DEL: the key was present; CAS/INCR: present after */
	uint64_t out; /* GET: value; DEL: deleted; CAS: value after; INCR: new */
	bool success; /* CAS */
} sim_kv_result;

typedef struct {
	uint64_t applied;      /* last log index applied (or snapshot index) */
	uint64_t applied_term; /* its term */
	hp_conf conf;          /* membership as of applied */
	uint64_t hash;         /* sum of per-key hashes; equal states, equal hash */
	bool present[SIM_KV_KEYS];
	uint64_t value[SIM_KV_KEYS];
	uint64_t version[SIM_KV_KEYS]; /* writes applied to the key */
	uint64_t writer[SIM_KV_KEYS];  /* op id of the last write */
	uint64_t key_hash[SIM_KV_KEYS]; /* each key's share of hash */
} sim_kv;

/* Empty table at index 0 with membership conf (may be empty). */
void sim_kv_init(sim_kv *kv, const hp_conf *conf);

void sim_kv_cmd_encode(const sim_kv_cmd *cmd, uint8_t out[SIM_KV_CMD_BYTES]);
/* 0, or -1 when data is not a well-formed command. */
int sim_kv_cmd_decode(const uint8_t *data, uint32_t size_bytes, sim_kv_cmd *cmd);

/* Result of a GET of key against the current state (no change). */
void sim_kv_read(const sim_kv *kv, uint8_t key, sim_kv_result *res);

/*
 * Applies the committed entry e, which must be at kv->applied + 1.  For a
 * NORMAL entry fills *cmd and *res (is_cmd = true); NOOP and CONF entries
 * change no key (CONF updates kv->conf).  Returns 0, or -1 when the entry
 * cannot be applied (undecodable, or a CONF change that does not fit).
 */
int sim_kv_apply(sim_kv *kv, const hp_entry *e, bool *is_cmd, sim_kv_cmd *cmd,
                 sim_kv_result *res);

/* Serializes kv into buf (SIM_KV_SNAPSHOT_BYTES); returns the size. */
size_t sim_kv_snapshot_encode(const sim_kv *kv, uint8_t *buf, size_t cap);
/* Rebuilds kv from a snapshot; 0, or -1 when malformed or its checksum
 * does not match. */
int sim_kv_snapshot_decode(sim_kv *kv, const uint8_t *buf, size_t size_bytes);

uint64_t sim_kv_hash_bytes(const uint8_t *data, size_t size_bytes, uint64_t seed);
/* Identity of an entry's content (type and data, not index or term). */
uint64_t sim_kv_hash_entry(uint8_t type, const uint8_t *data, uint32_t size_bytes);
/* A 64-bit mixing function (bijective). */
uint64_t sim_kv_mix(uint64_t x);

#endif
