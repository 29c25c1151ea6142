/*
 * sim_kv.c — the simulator's replicated key-value table (see sim_kv.h).
 * The state hash is kept incrementally (a sum of per-key hashes) so that
 * the invariant "every replica reaches the same state after index i" costs
 * O(1) per applied entry.
 */
#include "sim/sim_kv.h"

#include <string.h>

#include "util/check.h"

enum { SIM_KV_MAGIC = 0x564b5352 }; /* "RSKV" */

uint64_t sim_kv_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t sim_kv_hash_bytes(const uint8_t *data, size_t size_bytes, uint64_t seed)
{
	uint64_t h = sim_kv_mix(seed ^ 0x9e3779b97f4a7c15ULL ^ size_bytes);
	size_t i = 0;
	/* Hashes never leave the process, so the host byte order is fine. */
	while (i + 8 <= size_bytes) {
		uint64_t w;
		memcpy(&w, data + i, 8);
		h = (h ^ w) * 0x9fb21c651e98df25ULL;
		h ^= h >> 29;
		i += 8;
	}
	uint64_t w = 0;
	for (int b = 0; i < size_bytes; i++, b++)
		w |= (uint64_t)data[i] << (8 * b);
	return sim_kv_mix(h ^ w ^ 0xff51afd7ed558ccdULL);
}

uint64_t sim_kv_hash_entry(uint8_t type, const uint8_t *data, uint32_t size_bytes)
{
	return sim_kv_hash_bytes(data, size_bytes, 0x1000u + type);
}

static uint64_t kv_key_hash(const sim_kv *kv, unsigned key)
{
	if (!kv->present[key] && kv->version[key] == 0)
		return 0;
	uint64_t h = sim_kv_mix(key + 1);
	h = sim_kv_mix(h ^ (kv->present[key] ? 0x5555u : 0xaaaau));
	h = sim_kv_mix(h ^ kv->value[key]);
	h = sim_kv_mix(h ^ kv->version[key]);
	h = sim_kv_mix(h ^ kv->writer[key]);
	return h;
}

void sim_kv_init(sim_kv *kv, const hp_conf *conf)
{
	memset(kv, 0, sizeof(*kv));
	if (conf)
		kv->conf = *conf;
}

/* --- commands ------------------------------------------------------------ */

/* Little-endian, whatever the host; written out (no loops) so that the
 * compiler merges each into a single load or store. */
static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, (uint32_t)v);
	put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void sim_kv_cmd_encode(const sim_kv_cmd *cmd, uint8_t out[SIM_KV_CMD_BYTES])
{
	RP_CHECK(cmd->kind <= SIM_KV_INCR);
	RP_CHECK(cmd->key < SIM_KV_KEYS);
	out[0] = 0xc5; /* format tag */
	out[1] = cmd->kind;
	out[2] = cmd->key;
	out[3] = cmd->expect_present ? 1 : 0;
	put_u32(out + 4, cmd->client);
	put_u64(out + 8, cmd->op_id);
	put_u64(out + 16, cmd->value);
	put_u64(out + 24, cmd->expect);
}

int sim_kv_cmd_decode(const uint8_t *data, uint32_t size_bytes, sim_kv_cmd *cmd)
{
	if (size_bytes != SIM_KV_CMD_BYTES || data == NULL)
		return -1;
	if (data[0] != 0xc5 || data[1] > SIM_KV_INCR || data[2] >= SIM_KV_KEYS || data[3] > 1)
		return -1;
	cmd->kind = data[1];
	cmd->key = data[2];
	cmd->expect_present = data[3] == 1;
	cmd->client = get_u32(data + 4);
	cmd->op_id = get_u64(data + 8);
	cmd->value = get_u64(data + 16);
	cmd->expect = get_u64(data + 24);
	return 0;
}

/* --- execution ----------------------------------------------------------- */

void sim_kv_read(const sim_kv *kv, uint8_t key, sim_kv_result *res)
{
	RP_CHECK(key < SIM_KV_KEYS);
	res->found = kv->present[key];
	res->out = kv->present[key] ? kv->value[key] : 0;
	res->success = false;
}

static void kv_write(sim_kv *kv, unsigned key, bool present, uint64_t value, uint64_t writer)
{
	kv->hash -= kv->key_hash[key];
	kv->present[key] = present;
	kv->value[key] = present ? value : 0;
	kv->version[key]++;
	kv->writer[key] = writer;
	kv->key_hash[key] = kv_key_hash(kv, key);
	kv->hash += kv->key_hash[key];
}

static void kv_execute(sim_kv *kv, const sim_kv_cmd *cmd, sim_kv_result *res)
{
	unsigned key = cmd->key;
	RP_CHECK(key < SIM_KV_KEYS);
	memset(res, 0, sizeof(*res));
	switch (cmd->kind) {
	case SIM_KV_GET:
		sim_kv_read(kv, cmd->key, res);
		break;
	case SIM_KV_SET:
		kv_write(kv, key, true, cmd->value, cmd->op_id);
		res->found = true;
		res->out = cmd->value;
		break;
	case SIM_KV_CAS: {
		bool match = kv->present[key] == cmd->expect_present &&
		             (!cmd->expect_present || kv->value[key] == cmd->expect);
		if (match)
			kv_write(kv, key, true, cmd->value, cmd->op_id);
		res->success = match;
		res->found = kv->present[key];
		res->out = kv->value[key];
		break;
	}
	case SIM_KV_DEL:
		res->found = kv->present[key];
		res->out = kv->value[key];
		if (kv->present[key])
			kv_write(kv, key, false, 0, cmd->op_id);
		break;
	case SIM_KV_INCR: {
		uint64_t v = (kv->present[key] ? kv->value[key] : 0) + cmd->value;
		kv_write(kv, key, true, v, cmd->op_id);
		res->found = true;
		res->out = v;
		break;
	}
	default: {
		const bool unknown_command_kind = false;
		RP_CHECK(unknown_command_kind);
	}
	}
}

int sim_kv_apply(sim_kv *kv, const hp_entry *e, bool *is_cmd, sim_kv_cmd *cmd,
                 sim_kv_result *res)
{
	RP_CHECK(e->index == kv->applied + 1);
	*is_cmd = false;
	switch (e->type) {
	case HP_ENTRY_NOOP:
		break;
	case HP_ENTRY_CONF: {
		hp_conf conf = kv->conf;
		if (hp_conf_entry_apply(&conf, e->data, e->size_bytes) != 0)
			return -1;
		kv->conf = conf;
		break;
	}
	case HP_ENTRY_NORMAL:
		if (sim_kv_cmd_decode(e->data, e->size_bytes, cmd) != 0)
			return -1;
		kv_execute(kv, cmd, res);
		*is_cmd = true;
		break;
	default:
		return -1;
	}
	kv->applied = e->index;
	kv->applied_term = e->term;
	return 0;
}

/* --- snapshots ----------------------------------------------------------- */

size_t sim_kv_snapshot_encode(const sim_kv *kv, uint8_t *buf, size_t cap)
{
	RP_CHECK(cap >= SIM_KV_SNAPSHOT_BYTES);
	uint8_t *p = buf;
	put_u32(p, SIM_KV_MAGIC), p += 4;
	put_u64(p, kv->applied), p += 8;
	put_u64(p, kv->applied_term), p += 8;
	put_u32(p, kv->conf.voter_count), p += 4;
	put_u32(p, kv->conf.learner_count), p += 4;
	for (int i = 0; i < HP_MAX_VOTERS; i++)
		put_u64(p, kv->conf.voters[i]), p += 8;
	for (int i = 0; i < HP_MAX_MEMBERS; i++)
		put_u64(p, kv->conf.learners[i]), p += 8;
	put_u32(p, SIM_KV_KEYS), p += 4;
	for (int k = 0; k < SIM_KV_KEYS; k++) {
		*p++ = kv->present[k] ? 1 : 0;
		put_u64(p, kv->value[k]), p += 8;
		put_u64(p, kv->version[k]), p += 8;
		put_u64(p, kv->writer[k]), p += 8;
	}
	size_t body = (size_t)(p - buf);
	put_u64(p, sim_kv_hash_bytes(buf, body, SIM_KV_MAGIC)), p += 8;
	size_t size = (size_t)(p - buf);
	RP_CHECK(size == SIM_KV_SNAPSHOT_BYTES);
	return size;
}

int sim_kv_snapshot_decode(sim_kv *kv, const uint8_t *buf, size_t size_bytes)
{
	if (buf == NULL || size_bytes != SIM_KV_SNAPSHOT_BYTES)
		return -1;
	size_t body = size_bytes - 8;
	if (get_u64(buf + body) != sim_kv_hash_bytes(buf, body, SIM_KV_MAGIC))
		return -1;
	const uint8_t *p = buf;
	if (get_u32(p) != SIM_KV_MAGIC)
		return -1;
	p += 4;
	sim_kv out;
	memset(&out, 0, sizeof(out));
	out.applied = get_u64(p), p += 8;
	out.applied_term = get_u64(p), p += 8;
	out.conf.voter_count = get_u32(p), p += 4;
	out.conf.learner_count = get_u32(p), p += 4;
	if (out.conf.voter_count > HP_MAX_VOTERS || out.conf.learner_count > HP_MAX_MEMBERS)
		return -1;
	for (int i = 0; i < HP_MAX_VOTERS; i++)
		out.conf.voters[i] = get_u64(p), p += 8;
	for (int i = 0; i < HP_MAX_MEMBERS; i++)
		out.conf.learners[i] = get_u64(p), p += 8;
	if (get_u32(p) != SIM_KV_KEYS)
		return -1;
	p += 4;
	for (unsigned k = 0; k < SIM_KV_KEYS; k++) {
		if (*p > 1)
			return -1;
		out.present[k] = *p++ == 1;
		out.value[k] = get_u64(p), p += 8;
		out.version[k] = get_u64(p), p += 8;
		out.writer[k] = get_u64(p), p += 8;
		out.key_hash[k] = kv_key_hash(&out, k);
		out.hash += out.key_hash[k];
	}
	*kv = out;
	return 0;
}
