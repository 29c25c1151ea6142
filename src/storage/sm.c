/*
 * sm.c — the state machine's rules, shared by both stores (sm_be.h):
 * what each command does, the applied index written in the same batch as
 * the data, the client-session table and its eviction, and the snapshot
 * stream (create, serve in chunks, receive and install).
 *
 * Everything a replica decides here depends only on the entries applied
 * and the two replicated config fields (max_value_bytes, max_sessions), so
 * every replica of a group computes the same results and the same state.
 *
 * Meta map layout (docs/storage.md, "Key layout"), integers in keys
 * big-endian so that the map's byte order is numeric order:
 *   'G' group                  -> group record (applied index, term,
 *                                 session count, membership)
 *   'S' group client           -> session (last seq, index that last
 *                                 touched it, encoded result of that seq)
 *   'I' group last_index       -> client: the sessions in idle order
 */
#include "storage/sm.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sm_archive.h"
#include "storage/sm_be.h"
#include "storage/sm_vcache.h"
#include "util/check.h"
#include "util/hash.h"

enum {
	GROUP_KEY_BYTES = 9,
	SESSION_KEY_BYTES = 17,
	IDLE_KEY_BYTES = 17,
	GROUP_REC_FIXED = 1 + 8 + 8 + 4 + 4,
	GROUP_REC_VERSION = 1,
	SESSION_REC_FIXED = 16,
};

typedef struct {
	uint64_t group;
	sm_group_state st;
} group_slot;

struct sm {
	sm_be *be;
	sm_config cfg;
	sm_cmd_limits lim;

	/* Every group's record, sorted by group; mirrors the meta map. */
	group_slot *groups;
	uint32_t group_count;
	uint32_t group_cap;

	/* Scratch for one apply; reused to keep allocation per batch. */
	sm_buf val;
	sm_buf val2;
	sm_buf rec;
	sm_buf read; /* sm_get_ref's value on a cache miss */

	bool snap_valid;
	sm_archive_layout snap;

	bool inst_active;
	uint64_t inst_group;
	hp_snapshot_meta inst_meta;
	uint64_t inst_received;
	sm_archive_reader inst_reader;

	/* Deferred applies (sm_apply_deferred): the store's batch holds the
	 * applied entries of open_group since the last commit, and the group
	 * cache is already ahead of the committed meta record; batch_commit
	 * writes the record once and commits.  A failure with entries open
	 * cannot be undone entry by entry: it sticks in failed, and every
	 * later call that changes or scans state returns it. */
	uint32_t open_entries; /* 0: nothing open; committed at SM_DEFER_MAX_ENTRIES */
	uint64_t open_bytes;   /* their commands' bytes; committed at SM_DEFER_MAX_BYTES */
	uint64_t open_group;
	int failed;

	/* Values of some data keys as a store read would give them now
	 * (sm_vcache.h); NULL when configured off.  data_put and data_del
	 * keep it current; whatever changes the store another way (abort,
	 * install) clears it. */
	sm_vcache *vcache;

	uint32_t walks_open; /* sm_walk_open minus sm_walk_close */
	sm_snap_job *snap_job; /* begun and not yet finished */
};

struct sm_snap_job {
	const sm_be_ops *ops;
	void *be_job;
	uint8_t key[GROUP_KEY_BYTES]; /* the group's record in the meta map */
	uint64_t group;
	sm_buf rec;		  /* that record in the captured state */
	sm_archive_header header; /* from it, by the work */
	sm_archive_layout layout; /* built by the work */
	bool worked;
	int rc; /* the work's result */
	sm_be err; /* the work's failure text (its ops unused) */
	atomic_bool cancel;
};

struct sm_walk {
	sm *m;
	void *it;
};

static int batch_commit(sm *m);

/* An open run's bound: its entries' writes wait in the store's batch. */
enum { SM_DEFER_MAX_ENTRIES = 4096, SM_DEFER_MAX_BYTES = 16 << 20 };

/* --- config, errors -------------------------------------------------------- */

void sm_config_default(sm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_value_bytes = SM_VALUE_MAX_BYTES_DEFAULT;
	cfg->max_sessions = SM_MAX_SESSIONS_DEFAULT;
	cfg->max_snapshot_bytes = (uint64_t)64 << 30;
	cfg->rocks_write_buffer_bytes = (uint64_t)64 << 20;
	cfg->value_cache_bytes = (uint64_t)32 << 20;
	cfg->mem_seed = 1;
}

int sm_config_check(const sm_config *cfg)
{
	if (cfg == NULL)
		return RP_ERR_INVALID;
	if (cfg->max_value_bytes > SM_VALUE_MAX_BYTES_LIMIT)
		return RP_ERR_INVALID;
	if (cfg->max_sessions == 0)
		return RP_ERR_INVALID;
	if (cfg->max_snapshot_bytes < SM_ARCHIVE_HEADER_MAX)
		return RP_ERR_INVALID;
	if (cfg->rocks_write_buffer_bytes < 4096)
		return RP_ERR_INVALID;
	return RP_OK;
}

void sm_be_set_error(sm_be *be, const char *what, const char *detail)
{
	size_t cap = sizeof(be->error);
	size_t n = strlen(what);
	if (n >= cap)
		n = cap - 1;
	memcpy(be->error, what, n);
	be->error[n] = '\0';
	if (detail != NULL && n + 2 < cap) {
		be->error[n++] = ':';
		be->error[n++] = ' ';
		size_t d = strlen(detail);
		if (d > cap - 1 - n)
			d = cap - 1 - n;
		memcpy(be->error + n, detail, d);
		be->error[n + d] = '\0';
	}
}

const char *sm_error_detail(const sm *m)
{
	return m->be->error;
}

/* --- keys and records -------------------------------------------------------- */

static void group_key(uint8_t k[GROUP_KEY_BYTES], uint64_t group)
{
	k[0] = 'G';
	sm_put_be64(k + 1, group);
}

static void session_key(uint8_t k[SESSION_KEY_BYTES], uint64_t group, uint64_t client)
{
	k[0] = 'S';
	sm_put_be64(k + 1, group);
	sm_put_be64(k + 9, client);
}

static void idle_key(uint8_t k[IDLE_KEY_BYTES], uint64_t group, uint64_t index)
{
	k[0] = 'I';
	sm_put_be64(k + 1, group);
	sm_put_be64(k + 9, index);
}

static size_t group_rec_encode(const sm_group_state *st, uint8_t *out)
{
	out[0] = GROUP_REC_VERSION;
	sm_put_u64(out + 1, st->applied_index);
	sm_put_u64(out + 9, st->applied_term);
	sm_put_u32(out + 17, st->session_count);
	size_t conf_size = sm_conf_encode(&st->conf, out + GROUP_REC_FIXED);
	sm_put_u32(out + 21, (uint32_t)conf_size);
	return GROUP_REC_FIXED + conf_size;
}

static int group_rec_decode(const uint8_t *p, size_t size, sm_group_state *st)
{
	if (size < GROUP_REC_FIXED || p[0] != GROUP_REC_VERSION)
		return RP_ERR_CORRUPT;
	uint32_t conf_size = sm_get_u32(p + 21);
	if (size != GROUP_REC_FIXED + (size_t)conf_size)
		return RP_ERR_CORRUPT;
	memset(st, 0, sizeof(*st));
	st->applied_index = sm_get_u64(p + 1);
	st->applied_term = sm_get_u64(p + 9);
	st->session_count = sm_get_u32(p + 17);
	return sm_conf_decode(p + GROUP_REC_FIXED, conf_size, &st->conf);
}

/* --- group cache ---------------------------------------------------------------- */

/* Index of the first slot with group >= g. */
static uint32_t group_lower(const sm *m, uint64_t g)
{
	uint32_t lo = 0, hi = m->group_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (m->groups[mid].group < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const group_slot *group_find(const sm *m, uint64_t g)
{
	uint32_t i = group_lower(m, g);
	if (i < m->group_count && m->groups[i].group == g)
		return &m->groups[i];
	return NULL;
}

/* Makes room for one more slot, so that storing a new group after a
 * commit cannot fail. */
static int group_reserve(sm *m)
{
	if (m->group_count < m->group_cap)
		return RP_OK;
	if (m->group_count == SM_MAX_GROUPS)
		return RP_ERR_NOSPC;
	uint32_t cap = m->group_cap ? m->group_cap * 2 : 8;
	if (cap > SM_MAX_GROUPS)
		cap = SM_MAX_GROUPS;
	group_slot *p = realloc(m->groups, cap * sizeof(*p));
	if (p == NULL)
		return RP_ERR_NOMEM;
	m->groups = p;
	m->group_cap = cap;
	return RP_OK;
}

static int group_store(sm *m, uint64_t g, const sm_group_state *st)
{
	uint32_t i = group_lower(m, g);
	if (i < m->group_count && m->groups[i].group == g) {
		m->groups[i].st = *st;
		return RP_OK;
	}
	int rc = group_reserve(m);
	if (rc != RP_OK)
		return rc;
	memmove(&m->groups[i + 1], &m->groups[i],
		(m->group_count - i) * sizeof(*m->groups));
	m->groups[i].group = g;
	m->groups[i].st = *st;
	m->group_count++;
	return RP_OK;
}

static int load_group_fn(void *ctx, const uint8_t *key, size_t key_size,
			 const uint8_t *value, size_t value_size)
{
	sm *m = ctx;
	if (key_size == 0 || key[0] != 'G')
		return 1; /* past the group records */
	sm_group_state st;
	int rc = key_size == GROUP_KEY_BYTES ? group_rec_decode(value, value_size, &st)
					     : RP_ERR_CORRUPT;
	if (rc != RP_OK) {
		sm_be_set_error(
		    m->be, "a group record in the meta column family does not decode",
		    NULL);
		return rc;
	}
	rc = group_store(m, sm_get_be64(key + 1), &st);
	return rc != RP_OK ? rc : 0;
}

static int load_groups(sm *m)
{
	m->group_count = 0;
	uint8_t start = 'G';
	return m->be->ops->scan(m->be, SM_CF_META, &start, 1, load_group_fn, m);
}

uint64_t sm_applied_index(const sm *m, uint64_t group)
{
	const group_slot *s = group_find(m, group);
	return s ? s->st.applied_index : 0;
}

void sm_group_get(const sm *m, uint64_t group, sm_group_state *out)
{
	const group_slot *s = group_find(m, group);
	if (s)
		*out = s->st;
	else
		memset(out, 0, sizeof(*out));
}

/* --- open / close ------------------------------------------------------------------ */

int sm_open_be(sm_be *be, const sm_config *cfg, sm **out, char *why, size_t why_cap)
{
	*out = NULL;
	sm *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		be->ops->close(be);
		return RP_ERR_NOMEM;
	}
	m->be = be;
	m->cfg = *cfg;
	m->lim.max_value_bytes = cfg->max_value_bytes;
	sm_buf_init(&m->val);
	sm_buf_init(&m->val2);
	sm_buf_init(&m->rec);
	sm_buf_init(&m->read);
	/* Without memory for it the cache is off; reads go to the store. */
	m->vcache = sm_vcache_create(cfg->value_cache_bytes, rp_hash_seed());
	int rc = load_groups(m);
	if (rc == RP_OK) {
		bool found = false;
		rc = be->ops->snap_load(be, &m->snap, &found);
		m->snap_valid = rc == RP_OK && found;
	}
	if (rc != RP_OK) {
		if (why != NULL && why_cap > 0)
			snprintf(why, why_cap, "%s",
				 be->error[0] ? be->error : rp_strerror(rc));
		sm_close(m);
		return rc;
	}
	*out = m;
	return RP_OK;
}

void sm_close(sm *m)
{
	if (m == NULL)
		return;
	RP_CHECK(m->walks_open == 0);
	RP_CHECK(m->snap_job == NULL);
	/* Deferred entries are kept if the store can (the log has them anyway). */
	(void)batch_commit(m);
	if (m->inst_active)
		m->be->ops->install_abort(m->be);
	if (m->snap_valid)
		sm_archive_layout_deinit(&m->snap);
	m->be->ops->close(m->be);
	sm_vcache_destroy(m->vcache);
	free(m->groups);
	sm_buf_deinit(&m->val);
	sm_buf_deinit(&m->val2);
	sm_buf_deinit(&m->rec);
	sm_buf_deinit(&m->read);
	free(m);
}

/* --- commands ----------------------------------------------------------------------- */

/* A read of the data map from the store, after the value cache missed;
 * what it finds is cached. */
static int store_read(sm *m, const uint8_t *key, size_t key_size, sm_buf *out, bool *found)
{
	int rc = m->be->ops->get(m->be, SM_CF_DATA, key, key_size, out, found);
	if (rc == RP_OK && *found)
		sm_vcache_fill(m->vcache, key, key_size, out->data, out->size);
	return rc;
}

/* A point read of the data map into out: from the value cache, else from
 * the store. */
static int store_get(sm *m, const uint8_t *key, size_t key_size, sm_buf *out, bool *found)
{
	const uint8_t *v;
	size_t n;
	if (sm_vcache_get(m->vcache, key, key_size, &v, &n)) {
		*found = true;
		return sm_buf_set(out, v, n);
	}
	return store_read(m, key, key_size, out, found);
}

static int data_get(sm *m, const sm_value *key, sm_buf *out, sm_value *v)
{
	bool found = false;
	int rc = store_get(m, key->data, key->size, out, &found);
	if (rc != RP_OK)
		return rc;
	/* Checked again after the read: no stored value can be this long. */
	if (found && out->size > SM_VALUE_MAX_BYTES_LIMIT) {
		sm_be_set_error(m->be, "a stored value exceeds the value size limit",
				NULL);
		return RP_ERR_CORRUPT;
	}
	v->present = found;
	v->size = found ? (uint32_t)out->size : 0;
	v->data = found ? out->data : NULL;
	return RP_OK;
}

/* Writes go to the cache as they go to the batch: both then say what a
 * read says until the batch commits or aborts (and an abort clears the
 * cache). */
static int data_put(sm *m, const sm_value *key, const uint8_t *v, size_t size)
{
	sm_vcache_put(m->vcache, key->data, key->size, v, size);
	return m->be->ops->put(m->be, SM_CF_DATA, key->data, key->size, v, size);
}

static int data_del(sm *m, const sm_value *key)
{
	sm_vcache_del(m->vcache, key->data, key->size);
	return m->be->ops->del(m->be, SM_CF_DATA, key->data, key->size);
}

/* The store's contents changed under the cache: an aborted batch took
 * writes back, an install replaced everything. */
static void batch_abort(sm *m)
{
	m->be->ops->abort(m->be);
	sm_vcache_clear(m->vcache);
}

static bool value_equal(const sm_value *a, const sm_value *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->size == b->size &&
	       (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

static int exec_set(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_value cur = {false, 0, NULL};
	int rc;
	if (c->flags != 0) {
		rc = data_get(m, &c->key, &m->val, &cur);
		if (rc != RP_OK)
			return rc;
	}
	bool write = true;
	if ((c->flags & SM_SET_NX) && cur.present)
		write = false;
	if ((c->flags & SM_SET_XX) && !cur.present)
		write = false;
	if (c->flags & SM_SET_GET) {
		rc = sm_result_push(res, &cur);
		if (rc != RP_OK)
			return rc;
	}
	if (write) {
		rc = data_put(m, &c->key, c->value.data, c->value.size);
		if (rc != RP_OK)
			return rc;
	}
	sm_result_finish(res, SM_ST_OK, write, 0);
	return RP_OK;
}

static int exec_get(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_value cur;
	int rc = data_get(m, &c->key, &m->val, &cur);
	if (rc == RP_OK)
		rc = sm_result_push(res, &cur);
	if (rc == RP_OK)
		sm_result_finish(res, SM_ST_OK, cur.present, 0);
	return rc;
}

static int exec_del(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_iter it;
	sm_value key;
	int64_t removed = 0;
	sm_cmd_keys(c, &it);
	while (sm_iter_next(&it, &key)) {
		sm_value cur;
		/* get sees this batch's deletes: a key named twice is nil the
		 * second time. */
		int rc = data_get(m, &key, &m->val, &cur);
		if (rc != RP_OK)
			return rc;
		if (c->flags & SM_DEL_GET) {
			rc = sm_result_push(res, &cur);
			if (rc != RP_OK)
				return rc;
		}
		if (cur.present) {
			rc = data_del(m, &key);
			if (rc != RP_OK)
				return rc;
			removed++;
		}
	}
	sm_result_finish(res, SM_ST_OK, removed > 0, removed);
	return RP_OK;
}

static int exec_cas(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_value cur;
	int rc = data_get(m, &c->key, &m->val, &cur);
	if (rc != RP_OK)
		return rc;
	/* A missing key compares as nil: expected may be absent. */
	bool swap = value_equal(&cur, &c->value);
	const sm_value *after = &cur;
	if (swap) {
		if (c->value2.present)
			rc = data_put(m, &c->key, c->value2.data, c->value2.size);
		else if (cur.present)
			rc = data_del(m, &c->key);
		if (rc != RP_OK)
			return rc;
		after = &c->value2;
	}
	/* The seed's CAS: the value after the op, and whether it swapped. */
	rc = sm_result_push(res, after);
	if (rc == RP_OK && (c->flags & SM_CAS_GET))
		rc = sm_result_push(res, &cur); /* SET ... IFEQ GET: the old value */
	if (rc != RP_OK)
		return rc;
	sm_result_finish(res, SM_ST_OK, swap, 0);
	return RP_OK;
}

static int exec_incrby(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_value cur;
	int rc = data_get(m, &c->key, &m->val, &cur);
	if (rc != RP_OK)
		return rc;
	int64_t old = 0;
	if (cur.present && !sm_parse_i64(cur.data, cur.size, &old)) {
		sm_result_finish(res, SM_ST_NOT_INTEGER, false, 0);
		return RP_OK;
	}
	int64_t d = c->delta;
	if ((d > 0 && old > INT64_MAX - d) || (d < 0 && old < INT64_MIN - d)) {
		sm_result_finish(res, SM_ST_OVERFLOW, false, 0);
		return RP_OK;
	}
	int64_t now = old + d;
	uint8_t text[20];
	size_t n = sm_format_i64(now, text);
	rc = data_put(m, &c->key, text, n);
	if (rc != RP_OK)
		return rc;
	sm_result_finish(res, SM_ST_OK, true, now);
	return RP_OK;
}

static int exec_append(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_value cur;
	int rc = data_get(m, &c->key, &m->val, &cur);
	if (rc != RP_OK)
		return rc;
	size_t len = (size_t)cur.size + c->value.size;
	if (len > m->cfg.max_value_bytes) {
		sm_result_finish(res, SM_ST_TOO_LARGE, false, (int64_t)cur.size);
		return RP_OK;
	}
	m->val2.size = 0;
	rc = sm_buf_append(&m->val2, cur.data, cur.size);
	if (rc == RP_OK)
		rc = sm_buf_append(&m->val2, c->value.data, c->value.size);
	if (rc == RP_OK)
		rc = data_put(m, &c->key, m->val2.data, m->val2.size);
	if (rc != RP_OK)
		return rc;
	sm_result_finish(res, SM_ST_OK, true, (int64_t)len);
	return RP_OK;
}

/* Every pair lands in the entry's batch, so a reader sees all or none of
 * them; a key named twice keeps its last value (the store's batch applies
 * writes in order). */
static int exec_mset(sm *m, const sm_cmd *c, sm_result *res)
{
	sm_iter it;
	sm_value key, value;
	uint32_t pairs = 0;
	sm_cmd_pairs(c, &it);
	while (sm_iter_next(&it, &key)) {
		RP_CHECK(sm_iter_next(&it, &value));
		RP_CHECK(key.present && value.present);
		int rc = data_put(m, &key, value.data, value.size);
		if (rc != RP_OK)
			return rc;
		pairs++;
	}
	RP_CHECK(pairs == c->key_count);
	sm_result_finish(res, SM_ST_OK, true, 0);
	return RP_OK;
}

static int exec_cmd(sm *m, const sm_cmd *c, sm_result *res)
{
	int rc = sm_result_begin(res, c->op);
	if (rc != RP_OK)
		return rc;
	switch (c->op) {
	case SM_OP_SET:
		return exec_set(m, c, res);
	case SM_OP_GET:
		return exec_get(m, c, res);
	case SM_OP_DEL:
		return exec_del(m, c, res);
	case SM_OP_CAS:
		return exec_cas(m, c, res);
	case SM_OP_INCRBY:
		return exec_incrby(m, c, res);
	case SM_OP_APPEND:
		return exec_append(m, c, res);
	case SM_OP_MSET:
		return exec_mset(m, c, res);
	default:
		RP_CHECK(0);
		return RP_ERR_INVALID;
	}
}

static int result_only(sm_result *res, uint8_t op, uint8_t status)
{
	int rc = sm_result_begin(res, op);
	if (rc != RP_OK)
		return rc;
	sm_result_finish(res, status, false, 0);
	return RP_OK;
}

/* --- sessions
 * --------------------------------------------------------------------------- */

typedef struct {
	bool found;
	uint64_t seq;
	uint64_t last_index;
	const uint8_t *result; /* into m->rec */
	size_t result_size;
} session_rec;

static int session_read(sm *m, uint64_t group, uint64_t client, session_rec *s)
{
	uint8_t k[SESSION_KEY_BYTES];
	session_key(k, group, client);
	memset(s, 0, sizeof(*s));
	int rc = m->be->ops->get(m->be, SM_CF_META, k, sizeof(k), &m->rec, &s->found);
	if (rc != RP_OK || !s->found)
		return rc;
	if (m->rec.size < SESSION_REC_FIXED)
		return RP_ERR_CORRUPT;
	s->seq = sm_get_u64(m->rec.data);
	s->last_index = sm_get_u64(m->rec.data + 8);
	s->result = m->rec.data + SESSION_REC_FIXED;
	s->result_size = m->rec.size - SESSION_REC_FIXED;
	if (s->seq == 0 || s->last_index == 0)
		return RP_ERR_CORRUPT;
	return RP_OK;
}

/* Writes session (group, client) as touched by entry `index`, moving it
 * to the young end of the idle order. */
static int session_write(sm *m, uint64_t group, uint64_t client, uint64_t seq,
			 uint64_t old_index, uint64_t index, const sm_buf *result)
{
	const sm_be_ops *ops = m->be->ops;
	uint8_t k[IDLE_KEY_BYTES];
	uint8_t cl[8];
	int rc;
	if (old_index != 0) {
		idle_key(k, group, old_index);
		rc = ops->del(m->be, SM_CF_META, k, sizeof(k));
		if (rc != RP_OK)
			return rc;
	}
	idle_key(k, group, index);
	sm_put_be64(cl, client);
	rc = ops->put(m->be, SM_CF_META, k, sizeof(k), cl, sizeof(cl));
	if (rc != RP_OK)
		return rc;
	/* m->rec may hold the old record (and result points into it): build
	 * the new one in val2. */
	m->val2.size = 0;
	rc = sm_buf_reserve(&m->val2, SESSION_REC_FIXED + result->size);
	if (rc != RP_OK)
		return rc;
	sm_put_u64(m->val2.data, seq);
	sm_put_u64(m->val2.data + 8, index);
	memcpy(m->val2.data + SESSION_REC_FIXED, result->data, result->size);
	m->val2.size = SESSION_REC_FIXED + result->size;
	uint8_t sk[SESSION_KEY_BYTES];
	session_key(sk, group, client);
	return ops->put(m->be, SM_CF_META, sk, sizeof(sk), m->val2.data, m->val2.size);
}

typedef struct {
	uint64_t group;
	bool found;
	uint64_t index;
	uint64_t client;
	int error;
} oldest_ctx;

static int oldest_fn(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
		     size_t value_size)
{
	oldest_ctx *o = ctx;
	if (key_size != IDLE_KEY_BYTES || key[0] != 'I' ||
	    sm_get_be64(key + 1) != o->group)
		return 1; /* no idle key of this group */
	if (value_size != 8) {
		o->error = RP_ERR_CORRUPT;
		return 1;
	}
	o->found = true;
	o->index = sm_get_be64(key + 9);
	o->client = sm_get_be64(value);
	return 1;
}

/* Removes the session idle longest: the one whose last touch has the
 * lowest entry index.  Runs before this entry writes anything, after the
 * entries deferred before it are committed (scan sees committed state
 * only). */
static int session_evict_oldest(sm *m, uint64_t group)
{
	/* The scan must see every entry before this one, whatever batches the
	 * caller grouped them in: replicas decide alike. */
	int rc = batch_commit(m);
	if (rc != RP_OK)
		return rc;
	uint8_t start[9];
	start[0] = 'I';
	sm_put_be64(start + 1, group);
	oldest_ctx o = {group, false, 0, 0, RP_OK};
	rc = m->be->ops->scan(m->be, SM_CF_META, start, sizeof(start), oldest_fn, &o);
	if (rc != RP_OK)
		return rc;
	if (o.error != RP_OK)
		return o.error;
	if (!o.found)
		return RP_ERR_CORRUPT; /* the count says there are sessions */
	uint8_t k[IDLE_KEY_BYTES];
	idle_key(k, group, o.index);
	rc = m->be->ops->del(m->be, SM_CF_META, k, sizeof(k));
	if (rc != RP_OK)
		return rc;
	uint8_t sk[SESSION_KEY_BYTES];
	session_key(sk, group, o.client);
	return m->be->ops->del(m->be, SM_CF_META, sk, sizeof(sk));
}

/*
 * A write command with a session (client != 0).  The rule (docs/storage.md,
 * "Sessions"): seq equal to the session's last replays the saved result;
 * lower is STALE_SEQ; higher runs the command and saves its result.  A
 * client without a session must start at seq 1; a higher seq means its
 * session was evicted and the write might already have been applied, so
 * it gets SESSION_EXPIRED instead of a second application.
 */
static int apply_session_cmd(sm *m, uint64_t group, sm_group_state *st, const sm_cmd *c,
			     uint64_t index, sm_result *res)
{
	session_rec s;
	int rc = session_read(m, group, c->client, &s);
	if (rc != RP_OK)
		return rc;
	if (s.found && c->seq == s.seq) {
		/* A retry: the first result, nothing re-executed. */
		rc = sm_result_decode(res, s.result, s.result_size);
		if (rc != RP_OK)
			return RP_ERR_CORRUPT;
		return session_write(m, group, c->client, s.seq, s.last_index, index,
				     &res->enc);
	}
	if (s.found && c->seq < s.seq)
		return result_only(res, c->op, SM_ST_STALE_SEQ);
	if (!s.found && c->seq != 1)
		return result_only(res, c->op, SM_ST_SESSION_EXPIRED);
	if (!s.found) {
		if (st->session_count >= m->cfg.max_sessions) {
			rc = session_evict_oldest(m, group);
			if (rc != RP_OK)
				return rc;
		} else {
			st->session_count++;
		}
	}
	rc = exec_cmd(m, c, res);
	if (rc != RP_OK)
		return rc;
	return session_write(m, group, c->client, c->seq, s.found ? s.last_index : 0,
			     index, &res->enc);
}

/* --- apply
 * ----------------------------------------------------------------------------------- */

static int apply_entry(sm *m, uint64_t group, sm_group_state *st, const hp_entry *e,
		       sm_result *res)
{
	if (e->type == HP_ENTRY_NOOP)
		return result_only(res, SM_OP_NONE, SM_ST_OK);
	if (e->type == HP_ENTRY_CONF) {
		/* Harpoon validated the change before committing it; a change that
		 * does not fit is ignored here exactly as on every replica. */
		hp_conf conf = st->conf;
		if (e->size_bytes > 0 &&
		    hp_conf_entry_apply(&conf, e->data, e->size_bytes) == 0)
			st->conf = conf;
		return result_only(res, SM_OP_NONE, SM_ST_OK);
	}
	if (e->type != HP_ENTRY_NORMAL)
		return result_only(res, SM_OP_NONE, SM_ST_BAD_CMD);
	sm_cmd c;
	if (e->size_bytes == 0 ||
	    sm_cmd_decode(e->data, e->size_bytes, &m->lim, &c) != RP_OK)
		return result_only(res, SM_OP_NONE, SM_ST_BAD_CMD);
	if (c.op == SM_OP_GET || c.client == 0)
		return exec_cmd(m, &c, res);
	return apply_session_cmd(m, group, st, &c, e->index, res);
}

/* Writes the open group's record (the cache holds it) and commits the
 * store's batch: the entries applied since the last commit become
 * visible to scans, atomically with their applied index. */
static int batch_commit(sm *m)
{
	if (m->failed != RP_OK)
		return m->failed;
	if (m->open_entries == 0)
		return RP_OK;
	sm_group_state st;
	sm_group_get(m, m->open_group, &st);
	uint8_t k[GROUP_KEY_BYTES];
	uint8_t rec[GROUP_REC_FIXED + HP_CONF_MAX_BYTES];
	group_key(k, m->open_group);
	size_t n = group_rec_encode(&st, rec);
	int rc = m->be->ops->put(m->be, SM_CF_META, k, sizeof(k), rec, n);
	if (rc == RP_OK)
		rc = m->be->ops->commit(m->be);
	if (rc != RP_OK) {
		batch_abort(m);
		m->failed = rc;
		return rc;
	}
	m->open_entries = 0;
	m->open_bytes = 0;
	return RP_OK;
}

int sm_apply_deferred(sm *m, uint64_t group, const hp_entry *e, sm_result *res)
{
	RP_CHECK(m != NULL);
	RP_CHECK(e != NULL);
	RP_CHECK(res != NULL);
	RP_CHECK(e->size_bytes == 0 || e->data != NULL);
	if (m->failed != RP_OK)
		return m->failed;
	sm_group_state st;
	sm_group_get(m, group, &st);
	if (e->index <= st.applied_index)
		return RP_ERR_EXISTS;
	if (e->index != st.applied_index + 1)
		return RP_ERR_INVALID; /* a gap: the caller skipped an entry */
	if (e->term < st.applied_term)
		return RP_ERR_INVALID; /* terms never go down along a log */
	int rc;
	if (m->open_entries > 0 && m->open_group != group) {
		rc = batch_commit(m); /* one group per open batch */
		if (rc != RP_OK)
			return rc;
	}
	if (group_find(m, group) == NULL) {
		rc = group_reserve(m);
		if (rc != RP_OK)
			return rc;
	}
	rc = apply_entry(m, group, &st, e, res);
	if (rc != RP_OK) {
		batch_abort(m);
		if (m->open_entries > 0)
			m->failed = rc; /* earlier entries went with the batch */
		return rc;
	}
	st.applied_index = e->index;
	st.applied_term = e->term;
	/* Room was reserved above: the cache runs ahead of the store until
	 * batch_commit writes the record. */
	rc = group_store(m, group, &st);
	RP_CHECK(rc == RP_OK);
	m->open_group = group;
	/* A long run (a restart replaying its log, a follower's run) is
	 * committed in pieces: the batch's memory stays bounded. */
	m->open_bytes += e->size_bytes;
	if (++m->open_entries >= SM_DEFER_MAX_ENTRIES || m->open_bytes >= SM_DEFER_MAX_BYTES)
		return batch_commit(m);
	return RP_OK;
}

uint32_t sm_apply_open(const sm *m)
{
	return m->open_entries;
}

int sm_apply_flush(sm *m)
{
	RP_CHECK(m != NULL);
	return batch_commit(m);
}

int sm_apply(sm *m, uint64_t group, const hp_entry *e, sm_result *res)
{
	int rc = sm_apply_deferred(m, group, e, res);
	if (rc != RP_OK)
		return rc;
	return batch_commit(m);
}

/* --- reads
 * ------------------------------------------------------------------------------------ */

int sm_get_ref(sm *m, const uint8_t *key, size_t key_size, const uint8_t **value,
	       size_t *value_size, bool *found)
{
	RP_CHECK(key != NULL || key_size == 0);
	*value = NULL;
	*value_size = 0;
	*found = false;
	if (m->failed != RP_OK)
		return m->failed; /* the cache and the store no longer agree */
	if (key_size > SM_KEY_MAX_BYTES)
		return RP_OK; /* no such key can exist */
	if (sm_vcache_get(m->vcache, key, key_size, value, value_size)) {
		*found = true;
		return RP_OK;
	}
	int rc = store_read(m, key, key_size, &m->read, found);
	if (rc != RP_OK || !*found)
		return rc;
	*value = m->read.data;
	*value_size = m->read.size;
	return RP_OK;
}

int sm_get(sm *m, const uint8_t *key, size_t key_size, sm_buf *value, bool *found)
{
	const uint8_t *v;
	size_t n;
	int rc = sm_get_ref(m, key, key_size, &v, &n, found);
	value->size = 0;
	if (rc == RP_OK && *found)
		rc = sm_buf_set(value, v, n);
	return rc;
}

void sm_value_cache_stats(const sm *m, sm_vcache_stats *out)
{
	sm_vcache_stats_get(m->vcache, out);
}

void sm_store_memory_stats(sm *m, sm_store_memory *out)
{
	memset(out, 0, sizeof(*out));
	if (m->be->ops->memory_stats != NULL)
		m->be->ops->memory_stats(m->be, out);
}

typedef struct {
	uint32_t left;
	sm_scan_cb cb;
	void *ctx;
} scan_ctx;

static int scan_fn(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
		   size_t value_size)
{
	scan_ctx *s = ctx;
	if (s->left == 0)
		return 1;
	s->left--;
	if (s->cb(s->ctx, key, key_size, value, value_size) != 0)
		return 1;
	return s->left == 0 ? 1 : 0;
}

int sm_scan(sm *m, const uint8_t *start, size_t start_size, uint32_t count, sm_scan_cb cb,
	    void *ctx)
{
	RP_CHECK(start != NULL || start_size == 0);
	if (count == 0)
		return RP_OK;
	int rc = batch_commit(m);
	if (rc != RP_OK)
		return rc;
	scan_ctx s = {count, cb, ctx};
	return m->be->ops->scan(m->be, SM_CF_DATA, start, start_size, scan_fn, &s);
}

int sm_walk_open(sm *m, sm_walk **out)
{
	*out = NULL;
	int rc = batch_commit(m);
	if (rc != RP_OK)
		return rc;
	sm_walk *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return RP_ERR_NOMEM;
	w->m = m;
	rc = m->be->ops->walk_open(m->be, SM_CF_DATA, &w->it);
	if (rc != RP_OK) {
		free(w);
		return rc;
	}
	m->walks_open++;
	*out = w;
	return RP_OK;
}

int sm_walk_seek(sm_walk *w, const uint8_t *start, size_t start_size)
{
	RP_CHECK(start != NULL || start_size == 0);
	return w->m->be->ops->walk_seek(w->m->be, w->it, start, start_size);
}

typedef struct {
	sm_walk_cb cb;
	void *ctx;
} walk_ctx;

static int walk_fn(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
		   size_t value_size)
{
	(void)value;
	(void)value_size;
	walk_ctx *c = ctx;
	return c->cb(c->ctx, key, key_size) != 0 ? 1 : 0;
}

int sm_walk_step(sm_walk *w, uint32_t count, sm_walk_cb cb, void *ctx, bool *end)
{
	*end = false;
	if (w->m->failed != RP_OK)
		return w->m->failed;
	walk_ctx c = {cb, ctx};
	return w->m->be->ops->walk_step(w->m->be, w->it, count, walk_fn, &c, end);
}

void sm_walk_close(sm_walk *w)
{
	if (w == NULL)
		return;
	RP_CHECK(w->m->walks_open > 0);
	w->m->walks_open--;
	w->m->be->ops->walk_close(w->m->be, w->it);
	free(w);
}

int sm_session_get(sm *m, uint64_t group, uint64_t client, bool *found, uint64_t *seq,
		   uint64_t *last_index)
{
	if (m->failed != RP_OK) {
		*found = false;
		*seq = *last_index = 0;
		return m->failed;
	}
	session_rec s;
	int rc = session_read(m, group, client, &s);
	*found = rc == RP_OK && s.found;
	*seq = s.seq;
	*last_index = s.last_index;
	return rc;
}

/* FNV-1a, 64 bits: not cryptographic, only "equal states, equal digest". */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int digest_fn(void *ctx, const uint8_t *key, size_t key_size, const uint8_t *value,
		     size_t value_size)
{
	uint64_t *h = ctx;
	uint8_t len[8];
	sm_put_u64(len, key_size);
	*h = fnv(*h, len, 8);
	*h = fnv(*h, key, key_size);
	sm_put_u64(len, value_size);
	*h = fnv(*h, len, 8);
	*h = fnv(*h, value, value_size);
	return 0;
}

int sm_digest(sm *m, uint64_t *digest)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int rc = batch_commit(m);
	if (rc != RP_OK)
		return rc;
	rc = m->be->ops->scan(m->be, SM_CF_DATA, NULL, 0, digest_fn, &h);
	if (rc != RP_OK)
		return rc;
	uint8_t sep = 0xff;
	h = fnv(h, &sep, 1);
	rc = m->be->ops->scan(m->be, SM_CF_META, NULL, 0, digest_fn, &h);
	*digest = h;
	return rc;
}

/* --- snapshots: create and serve
 * ----------------------------------------------------------------- */

static void meta_from_header(const sm_archive_header *h, hp_snapshot_meta *meta)
{
	memset(meta, 0, sizeof(*meta));
	meta->index = h->index;
	meta->term = h->term;
	meta->conf = h->conf;
}

int sm_snapshot_begin(sm *m, uint64_t group, sm_snap_job **job, hp_snapshot_meta *meta)
{
	*job = NULL;
	if (m->snap_job != NULL)
		return RP_ERR_BUSY;
	int rc = batch_commit(m);
	if (rc != RP_OK)
		return rc;
	sm_group_state st;
	sm_group_get(m, group, &st);
	if (st.applied_index == 0)
		return RP_ERR_INVALID;
	if (m->snap_valid && m->snap.header.group == group &&
	    m->snap.header.index == st.applied_index) {
		meta_from_header(&m->snap.header, meta);
		return RP_OK;
	}
	sm_snap_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return RP_ERR_NOMEM;
	j->ops = m->be->ops;
	j->group = group;
	group_key(j->key, group);
	sm_buf_init(&j->rec);
	atomic_init(&j->cancel, false);
	rc = m->be->ops->snap_begin(m->be, j->key, sizeof(j->key), &j->be_job);
	if (rc != RP_OK) {
		free(j);
		return rc;
	}
	m->snap_job = j;
	*job = j;
	return RP_OK;
}

/* The captured state names its own applied index, term and membership:
 * what the snapshot holds (at least what was applied at begin). */
static int job_header(sm_snap_job *job)
{
	sm_group_state st;
	if (group_rec_decode(job->rec.data, job->rec.size, &st) != RP_OK ||
	    st.applied_index == 0) {
		sm_be_set_error(&job->err, "the captured state has no applied index", NULL);
		return RP_ERR_CORRUPT;
	}
	memset(&job->header, 0, sizeof(job->header));
	job->header.kind = job->ops->kind;
	job->header.group = job->group;
	job->header.index = st.applied_index;
	job->header.term = st.applied_term;
	job->header.conf = st.conf;
	return RP_OK;
}

int sm_snapshot_work(sm_snap_job *job)
{
	RP_CHECK(!job->worked);
	int rc = job->ops->snap_capture(job->be_job, &job->rec, &job->cancel, &job->err);
	if (rc == RP_OK)
		rc = job_header(job);
	if (rc == RP_OK)
		rc = job->ops->snap_work(job->be_job, &job->header, &job->layout, &job->cancel,
					 &job->err);
	job->rc = rc;
	job->worked = true;
	return rc;
}

void sm_snapshot_cancel(sm_snap_job *job)
{
	atomic_store(&job->cancel, true);
}

int sm_snapshot_finish(sm *m, sm_snap_job *job, hp_snapshot_meta *meta)
{
	RP_CHECK(job != NULL && job == m->snap_job);
	m->snap_job = NULL;
	int rc = job->worked ? job->rc : RP_ERR_CANCELED;
	if (atomic_load(&job->cancel))
		rc = RP_ERR_CANCELED; /* even if the work got to its end first */
	if (rc == RP_OK) {
		RP_CHECK(job->layout.header.index == job->header.index);
		rc = m->be->ops->snap_finish(m->be, job->be_job, &job->layout);
	} else {
		if (job->err.error[0] != '\0')
			sm_be_set_error(m->be, job->err.error, NULL);
		m->be->ops->snap_abandon(m->be, job->be_job);
	}
	if (rc == RP_OK) {
		if (m->snap_valid)
			sm_archive_layout_deinit(&m->snap);
		m->snap = job->layout;
		m->snap_valid = true;
		meta_from_header(&m->snap.header, meta);
	} else {
		sm_archive_layout_deinit(&job->layout);
	}
	sm_buf_deinit(&job->rec);
	free(job);
	return rc;
}

int sm_snapshot_create(sm *m, uint64_t group, hp_snapshot_meta *meta)
{
	sm_snap_job *job = NULL;
	int rc = sm_snapshot_begin(m, group, &job, meta);
	if (rc != RP_OK || job == NULL)
		return rc;
	(void)sm_snapshot_work(job);
	return sm_snapshot_finish(m, job, meta);
}

bool sm_snapshot_current(const sm *m, uint64_t *group, hp_snapshot_meta *meta)
{
	if (!m->snap_valid)
		return false;
	*group = m->snap.header.group;
	meta_from_header(&m->snap.header, meta);
	return true;
}

uint64_t sm_snapshot_size(const sm *m)
{
	return m->snap_valid ? m->snap.total_size : 0;
}

uint64_t sm_snapshot_crc_bytes(const sm *m) { return m->be->snap_crc_bytes; }

struct sm_sweep {
	const sm_be_ops *ops; /* static: valid after sm_close */
	void *w;
};

sm_sweep *sm_snapshot_sweep_begin(sm *m)
{
	if (m->be->ops->sweep_begin == NULL)
		return NULL;
	void *w = m->be->ops->sweep_begin(m->be);
	if (w == NULL)
		return NULL;
	sm_sweep *s = malloc(sizeof(*s));
	if (s == NULL) {
		m->be->ops->sweep_free(w); /* left for the next one, or the next open */
		return NULL;
	}
	s->ops = m->be->ops;
	s->w = w;
	return s;
}

void sm_snapshot_sweep_run(sm_sweep *s) { s->ops->sweep_run(s->w); }

void sm_snapshot_sweep_free(sm_sweep *s)
{
	if (s == NULL)
		return;
	s->ops->sweep_free(s->w);
	free(s);
}

static int snap_read_fn(void *ctx, uint32_t index, uint64_t offset, uint8_t *buf,
			size_t size)
{
	sm_be *be = ctx;
	return be->ops->snap_read(be, index, offset, buf, size);
}

int sm_snapshot_read(sm *m, uint64_t group, uint64_t index, uint64_t offset, uint8_t *buf,
		     size_t cap, size_t *size, bool *last)
{
	*size = 0;
	*last = false;
	if (!m->snap_valid || m->snap.header.group != group ||
	    m->snap.header.index != index)
		return RP_ERR_NOTFOUND;
	return sm_archive_layout_read(&m->snap, offset, buf, cap, size, last,
				      snap_read_fn, m->be);
}

int sm_snapshot_read_cb(void *ctx, uint64_t group, uint64_t index, uint64_t offset,
			uint8_t *buf, size_t cap, size_t *size, bool *last)
{
	return sm_snapshot_read(ctx, group, index, offset, buf, cap, size, last);
}

/* --- snapshots: receive and install
 * ---------------------------------------------------------------- */

static void install_drop(sm *m)
{
	if (m->inst_active)
		m->be->ops->install_abort(m->be);
	m->inst_active = false;
	m->inst_received = 0;
}

/* Same voters and same learners, in any order. */
static bool conf_same(const hp_conf *a, const hp_conf *b)
{
	if (a->voter_count != b->voter_count || a->learner_count != b->learner_count)
		return false;
	for (uint32_t i = 0; i < a->voter_count; i++)
		if (!hp_conf_is_voter(b, a->voters[i]))
			return false;
	for (uint32_t i = 0; i < a->learner_count; i++)
		if (!hp_conf_is_learner(b, a->learners[i]))
			return false;
	return true;
}

/* The whole archive is staged: check it against what the leader said,
 * then swap it in. */
static int install_finish(sm *m, uint64_t group)
{
	const sm_archive_header *h = &m->inst_reader.header;
	const hp_snapshot_meta *meta = &m->inst_meta;
	if (!sm_archive_reader_done(&m->inst_reader))
		return RP_ERR_CORRUPT; /* the stream ended early */
	if (h->kind != m->be->ops->kind || h->group != group || h->index != meta->index ||
	    h->term != meta->term || !conf_same(&h->conf, &meta->conf))
		return RP_ERR_CORRUPT;
	/* The staged state must itself say it holds exactly h->index. */
	uint8_t k[GROUP_KEY_BYTES];
	group_key(k, group);
	bool found = false;
	int rc = m->be->ops->install_get_meta(m->be, k, sizeof(k), &m->rec, &found);
	if (rc != RP_OK)
		return rc;
	sm_group_state st;
	if (!found || group_rec_decode(m->rec.data, m->rec.size, &st) != RP_OK ||
	    st.applied_index != h->index || st.applied_term != h->term)
		return RP_ERR_CORRUPT;
	rc = m->be->ops->install_commit(m->be);
	sm_vcache_clear(m->vcache); /* even a failed swap may have changed the store */
	m->inst_active = false; /* committed or dropped by the store */
	if (rc != RP_OK) {
		m->failed = rc; /* and may have left it closed: nothing more */
		return rc;
	}
	rc = load_groups(m);
	if (rc != RP_OK) {
		m->failed = rc; /* the store changed, the cache is half loaded */
		return rc;
	}
	RP_CHECK(sm_applied_index(m, group) == h->index);
	/* Serve what we installed if we lead one day (the core's snapshot
	 * index is now this one). */
	hp_snapshot_meta made;
	return sm_snapshot_create(m, group, &made);
}

int sm_install_chunk(sm *m, uint64_t group, const hp_snap_chunk *c)
{
	RP_CHECK(c != NULL);
	RP_CHECK(c->size_bytes == 0 || c->data != NULL);
	int rc = batch_commit(m); /* the swap needs an empty batch */
	if (rc != RP_OK)
		return rc;
	if (c->offset == 0) {
		install_drop(m);
		if (sm_applied_index(m, group) > c->meta.index)
			return RP_ERR_INVALID; /* would move the state backwards */
		rc = m->be->ops->install_begin(m->be);
		if (rc != RP_OK)
			return rc;
		sm_archive_reader_init(&m->inst_reader, m->cfg.max_snapshot_bytes,
				       m->be->ops->install_sink, m->be);
		m->inst_active = true;
		m->inst_group = group;
		m->inst_meta = c->meta;
		m->inst_received = 0;
	} else if (!m->inst_active || group != m->inst_group ||
		   c->meta.index != m->inst_meta.index ||
		   c->meta.term != m->inst_meta.term || c->offset != m->inst_received) {
		return RP_ERR_INVALID;
	}
	if (c->size_bytes > 0) {
		rc = sm_archive_reader_feed(&m->inst_reader, c->data, c->size_bytes);
		if (rc != RP_OK) {
			install_drop(m);
			return rc;
		}
	}
	m->inst_received += c->size_bytes;
	if (!c->last)
		return RP_OK;
	RP_CHECK(m->walks_open == 0); /* the swap would pull the store from under them */
	RP_CHECK(m->snap_job == NULL); /* it would replace the installed snapshot */
	rc = install_finish(m, group);
	install_drop(m);
	return rc;
}
