/*
 * sm_mem.c — the in-memory store under the state machine (sm_be.h), for
 * the simulator and for tests: two ordered maps held as treaps, a batch
 * kept as an undo log, and snapshots serialized into one archive file
 * named "state".  Deterministic: key order is bytewise (RocksDB's default
 * comparator, so scans match sm_rocks.c), and the treap priorities, drawn
 * from rp_prng seeded by cfg->mem_seed, only shape the trees.
 *
 * Writes go straight into the trees (get sees them at once); each one
 * records how to undo it, so abort restores the committed state exactly and
 * commit just frees what the undo log kept alive.  scan is only called with
 * an empty batch (sm.c scans before it writes), so it sees committed state.
 *
 * Memory: the maps grow with the data, like the RocksDB store's disk; the
 * simulator bounds its key space.  An incoming snapshot is bounded by
 * cfg->max_snapshot_bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "storage/sm_be.h"
#include "util/check.h"
#include "util/prng.h"

static const char mem_file_name[] = "state";

typedef struct mem_node {
	struct mem_node *left;
	struct mem_node *right;
	uint64_t prio;	/* heap order: a parent's prio >= its children's */
	uint8_t *value; /* malloc'd, NULL when value_size == 0 */
	size_t value_size;
	size_t key_size;
	uint8_t key[];
} mem_node;

enum { UNDO_INSERTED, UNDO_REPLACED, UNDO_REMOVED };

typedef struct {
	uint8_t kind;
	uint8_t cf;
	mem_node *node;
	uint8_t *old_value; /* UNDO_REPLACED: the value before */
	size_t old_size;
} mem_undo;

typedef struct {
	sm_be base;
	mem_node *root[2];
	rp_prng prng;
	mem_undo *undo;
	size_t undo_count;
	size_t undo_cap;
	sm_buf snap; /* the current snapshot's one file */
	/* incoming snapshot */
	sm_buf staged;
	bool staged_begun; /* its file was announced */
	bool staged_done;  /* and its CRC checked */
	bool staged_parsed;
	mem_node *staged_root[2];
} mem_be;

/* --- treap ---------------------------------------------------------------- */

/* Bytewise order, shorter first on a common prefix: RocksDB's default. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	int c = n ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

static mem_node *tree_find(mem_node *n, const uint8_t *key, size_t key_size)
{
	while (n != NULL) {
		int c = key_cmp(key, key_size, n->key, n->key_size);
		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

/* The first node with key > (strict) or >= the given key. */
static mem_node *tree_lower(mem_node *n, const uint8_t *key, size_t key_size, bool strict)
{
	mem_node *best = NULL;
	while (n != NULL) {
		int c = key_cmp(n->key, n->key_size, key, key_size);
		if (c > 0 || (!strict && c == 0)) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

static void tree_insert(mem_node **root, mem_node *x)
{
	mem_node *n = *root;
	if (n == NULL) {
		*root = x;
		return;
	}
	int c = key_cmp(x->key, x->key_size, n->key, n->key_size);
	RP_CHECK(c != 0);
	if (c < 0) {
		tree_insert(&n->left, x);
		if (n->left->prio > n->prio) { /* rotate right */
			mem_node *l = n->left;
			n->left = l->right;
			l->right = n;
			*root = l;
		}
	} else {
		tree_insert(&n->right, x);
		if (n->right->prio > n->prio) { /* rotate left */
			mem_node *r = n->right;
			n->right = r->left;
			r->left = n;
			*root = r;
		}
	}
}

/* Joins two treaps whose keys are all below (a) and above (b). */
static mem_node *tree_merge(mem_node *a, mem_node *b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	if (a->prio > b->prio) {
		a->right = tree_merge(a->right, b);
		return a;
	}
	b->left = tree_merge(a, b->left);
	return b;
}

/* Unlinks the node with key and returns it (NULL if none). */
static mem_node *tree_remove(mem_node **root, const uint8_t *key, size_t key_size)
{
	mem_node *n = *root;
	if (n == NULL)
		return NULL;
	int c = key_cmp(key, key_size, n->key, n->key_size);
	if (c < 0)
		return tree_remove(&n->left, key, key_size);
	if (c > 0)
		return tree_remove(&n->right, key, key_size);
	*root = tree_merge(n->left, n->right);
	n->left = n->right = NULL;
	return n;
}

static void node_free(mem_node *n)
{
	if (n == NULL)
		return;
	free(n->value);
	free(n);
}

static void tree_free(mem_node *n)
{
	if (n == NULL)
		return;
	tree_free(n->left);
	tree_free(n->right);
	node_free(n);
}

static uint8_t *copy_bytes(const uint8_t *p, size_t n, bool *ok)
{
	*ok = true;
	if (n == 0)
		return NULL;
	uint8_t *c = malloc(n);
	if (c == NULL) {
		*ok = false;
		return NULL;
	}
	memcpy(c, p, n);
	return c;
}

static mem_node *node_new(mem_be *b, const uint8_t *key, size_t key_size,
			  const uint8_t *value, size_t value_size)
{
	mem_node *n = malloc(sizeof(*n) + key_size);
	if (n == NULL)
		return NULL;
	bool ok;
	n->value = copy_bytes(value, value_size, &ok);
	if (!ok) {
		free(n);
		return NULL;
	}
	n->left = n->right = NULL;
	n->prio = rp_prng_next(&b->prng);
	n->value_size = value_size;
	n->key_size = key_size;
	if (key_size > 0)
		memcpy(n->key, key, key_size);
	return n;
}

/* --- batch ------------------------------------------------------------------ */

static int undo_push(mem_be *b, const mem_undo *u)
{
	if (b->undo_count == b->undo_cap) {
		size_t cap = b->undo_cap ? b->undo_cap * 2 : 64;
		mem_undo *p = realloc(b->undo, cap * sizeof(*p));
		if (p == NULL)
			return RP_ERR_NOMEM;
		b->undo = p;
		b->undo_cap = cap;
	}
	b->undo[b->undo_count++] = *u;
	return RP_OK;
}

static int mem_get(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size, sm_buf *out,
		   bool *found)
{
	mem_be *b = (mem_be *)be;
	mem_node *n = tree_find(b->root[cf], key, key_size);
	*found = n != NULL;
	out->size = 0;
	if (n == NULL)
		return RP_OK;
	return sm_buf_set(out, n->value, n->value_size);
}

static int mem_put(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size,
		   const uint8_t *value, size_t value_size)
{
	mem_be *b = (mem_be *)be;
	/* Reserve the undo slot first: after the tree changes nothing may fail. */
	mem_undo u = {0, (uint8_t)cf, NULL, NULL, 0};
	int rc = undo_push(b, &u);
	if (rc != RP_OK)
		return rc;
	b->undo_count--;
	mem_node *n = tree_find(b->root[cf], key, key_size);
	if (n != NULL) {
		bool ok;
		uint8_t *v = copy_bytes(value, value_size, &ok);
		if (!ok)
			return RP_ERR_NOMEM;
		u.kind = UNDO_REPLACED;
		u.node = n;
		u.old_value = n->value;
		u.old_size = n->value_size;
		n->value = v;
		n->value_size = value_size;
	} else {
		n = node_new(b, key, key_size, value, value_size);
		if (n == NULL)
			return RP_ERR_NOMEM;
		tree_insert(&b->root[cf], n);
		u.kind = UNDO_INSERTED;
		u.node = n;
	}
	b->undo[b->undo_count++] = u;
	return RP_OK;
}

static int mem_del(sm_be *be, sm_cf cf, const uint8_t *key, size_t key_size)
{
	mem_be *b = (mem_be *)be;
	mem_undo u = {UNDO_REMOVED, (uint8_t)cf, NULL, NULL, 0};
	int rc = undo_push(b, &u);
	if (rc != RP_OK)
		return rc;
	b->undo_count--;
	u.node = tree_remove(&b->root[cf], key, key_size);
	if (u.node != NULL)
		b->undo[b->undo_count++] = u;
	return RP_OK;
}

static int mem_commit(sm_be *be)
{
	mem_be *b = (mem_be *)be;
	for (size_t i = 0; i < b->undo_count; i++) {
		mem_undo *u = &b->undo[i];
		if (u->kind == UNDO_REPLACED)
			free(u->old_value);
		else if (u->kind == UNDO_REMOVED)
			node_free(u->node);
	}
	b->undo_count = 0;
	return RP_OK;
}

static void mem_abort(sm_be *be)
{
	mem_be *b = (mem_be *)be;
	/* Newest first: each step sees the tree as it was right after its op. */
	while (b->undo_count > 0) {
		mem_undo *u = &b->undo[--b->undo_count];
		mem_node *n = u->node;
		if (u->kind == UNDO_INSERTED) {
			mem_node *x = tree_remove(&b->root[u->cf], n->key, n->key_size);
			RP_CHECK(x == n);
			node_free(n);
		} else if (u->kind == UNDO_REPLACED) {
			free(n->value);
			n->value = u->old_value;
			n->value_size = u->old_size;
		} else {
			tree_insert(&b->root[u->cf], n);
		}
	}
}

static int mem_scan(sm_be *be, sm_cf cf, const uint8_t *start, size_t start_size,
		    sm_be_scan_fn fn, void *ctx)
{
	mem_be *b = (mem_be *)be;
	RP_CHECK(b->undo_count == 0);
	mem_node *n = tree_lower(b->root[cf], start, start_size, false);
	while (n != NULL) {
		int rc = fn(ctx, n->key, n->key_size, n->value, n->value_size);
		if (rc < 0)
			return rc;
		if (rc > 0)
			break;
		n = tree_lower(b->root[cf], n->key, n->key_size, true);
	}
	return RP_OK;
}

/* --- walks ------------------------------------------------------------------ */

/* A walk's view: a copy of the keys at open, in order (the trees change
 * in place, so there is nothing older to keep reading).  Costs the keys'
 * size once per walk; this store is for the simulator and tests. */
typedef struct {
	sm_buf keys;	/* u32 length, then the bytes, per key */
	size_t *offs;	/* where each key starts in keys */
	size_t count;
	size_t cap;
	size_t pos;
} mem_walk;

static int walk_copy(mem_walk *w, const mem_node *n)
{
	if (n == NULL)
		return RP_OK;
	int rc = walk_copy(w, n->left);
	if (rc != RP_OK)
		return rc;
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		size_t *grown = realloc(w->offs, cap * sizeof(*grown));
		if (grown == NULL)
			return RP_ERR_NOMEM;
		w->offs = grown;
		w->cap = cap;
	}
	if (n->key_size > UINT32_MAX)
		return RP_ERR_NOSPC;
	w->offs[w->count++] = w->keys.size;
	uint8_t len[4];
	sm_put_u32(len, (uint32_t)n->key_size);
	rc = sm_buf_append(&w->keys, len, 4);
	if (rc == RP_OK)
		rc = sm_buf_append(&w->keys, n->key, n->key_size);
	if (rc != RP_OK)
		return rc;
	return walk_copy(w, n->right);
}

static void mem_walk_close(sm_be *be, void *it)
{
	(void)be;
	mem_walk *w = it;
	if (w == NULL)
		return;
	sm_buf_deinit(&w->keys);
	free(w->offs);
	free(w);
}

static int mem_walk_open(sm_be *be, sm_cf cf, void **it)
{
	mem_be *b = (mem_be *)be;
	RP_CHECK(b->undo_count == 0);
	*it = NULL;
	mem_walk *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return RP_ERR_NOMEM;
	sm_buf_init(&w->keys);
	int rc = walk_copy(w, b->root[cf]);
	if (rc != RP_OK) {
		mem_walk_close(be, w);
		return rc;
	}
	*it = w;
	return RP_OK;
}

static int mem_walk_seek(sm_be *be, void *it, const uint8_t *start, size_t start_size)
{
	(void)be;
	mem_walk *w = it;
	size_t lo = 0, hi = w->count; /* the first key >= start is in [lo, hi] */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const uint8_t *k = w->keys.data + w->offs[mid];
		if (key_cmp(k + 4, sm_get_u32(k), start, start_size) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	w->pos = lo;
	return RP_OK;
}

static int mem_walk_step(sm_be *be, void *it, uint32_t count, sm_be_scan_fn fn, void *ctx,
			 bool *end)
{
	(void)be;
	mem_walk *w = it;
	for (uint32_t i = 0; i < count && w->pos < w->count; i++) {
		const uint8_t *k = w->keys.data + w->offs[w->pos];
		int rc = fn(ctx, k + 4, sm_get_u32(k), NULL, 0);
		if (rc < 0)
			return rc;
		if (rc > 0)
			break;
		w->pos++;
	}
	*end = w->pos == w->count;
	return RP_OK;
}

/* --- snapshots -------------------------------------------------------------- */

/* The one file: per map (data, then meta) a u64 count, then the records
 * (u32 key length, key, u32 value length, value) in key order. */
static int serialize_tree(mem_node *n, sm_buf *out, uint64_t *count)
{
	if (n == NULL)
		return RP_OK;
	int rc = serialize_tree(n->left, out, count);
	if (rc != RP_OK)
		return rc;
	uint8_t len[4];
	if (n->key_size > UINT32_MAX || n->value_size > UINT32_MAX)
		return RP_ERR_NOSPC;
	sm_put_u32(len, (uint32_t)n->key_size);
	rc = sm_buf_append(out, len, 4);
	if (rc == RP_OK)
		rc = sm_buf_append(out, n->key, n->key_size);
	sm_put_u32(len, (uint32_t)n->value_size);
	if (rc == RP_OK)
		rc = sm_buf_append(out, len, 4);
	if (rc == RP_OK)
		rc = sm_buf_append(out, n->value, n->value_size);
	if (rc != RP_OK)
		return rc;
	(*count)++;
	return serialize_tree(n->right, out, count);
}

static int serialize(mem_be *b, sm_buf *out)
{
	for (int cf = 0; cf < 2; cf++) {
		size_t at = out->size;
		uint8_t zero[8] = {0};
		int rc = sm_buf_append(out, zero, 8);
		if (rc != RP_OK)
			return rc;
		uint64_t count = 0;
		rc = serialize_tree(b->root[cf], out, &count);
		if (rc != RP_OK)
			return rc;
		sm_put_u64(out->data + at, count);
	}
	return RP_OK;
}

/* Strict inverse of serialize: bounded lengths, keys strictly ascending,
 * nothing left over.  Builds fresh trees in roots[]. */
static int parse_state(mem_be *b, const uint8_t *p, size_t size, mem_node *roots[2])
{
	const uint8_t *end = p + size;
	roots[0] = roots[1] = NULL;
	for (int cf = 0; cf < 2; cf++) {
		if (end - p < 8)
			return RP_ERR_CORRUPT;
		uint64_t count = sm_get_u64(p);
		p += 8;
		mem_node *prev = NULL;
		for (uint64_t i = 0; i < count; i++) {
			if (end - p < 4)
				return RP_ERR_CORRUPT;
			uint32_t klen = sm_get_u32(p);
			p += 4;
			if ((size_t)(end - p) < klen)
				return RP_ERR_CORRUPT;
			const uint8_t *key = p;
			p += klen;
			if (end - p < 4)
				return RP_ERR_CORRUPT;
			uint32_t vlen = sm_get_u32(p);
			p += 4;
			if ((size_t)(end - p) < vlen)
				return RP_ERR_CORRUPT;
			if (prev != NULL &&
			    key_cmp(prev->key, prev->key_size, key, klen) >= 0)
				return RP_ERR_CORRUPT;
			mem_node *n = node_new(b, key, klen, p, vlen);
			if (n == NULL)
				return RP_ERR_NOMEM;
			p += vlen;
			tree_insert(&roots[cf], n);
			prev = n;
		}
	}
	return p == end ? RP_OK : RP_ERR_CORRUPT;
}

typedef struct {
	const sm_buf *file;
} buf_reader;

static int buf_read_fn(void *ctx, uint32_t index, uint64_t offset, uint8_t *out,
		       size_t size)
{
	const sm_buf *f = ctx;
	if (index != 0 || offset > f->size || size > f->size - offset)
		return RP_ERR_INVALID;
	if (size > 0)
		memcpy(out, f->data + offset, size);
	return RP_OK;
}

/* A memory store's snapshot is one file, the serialized maps, made whole
 * at begin: it is for tests and the simulator, where nothing runs beside
 * the loop.  The later steps only hand it over. */
typedef struct {
	sm_buf file;
	uint32_t crc;
	sm_buf rec; /* the meta key's value at begin */
} mem_snap_job;

static void mem_snap_job_free(mem_snap_job *j)
{
	sm_buf_deinit(&j->file);
	sm_buf_deinit(&j->rec);
	free(j);
}

static int mem_snap_begin(sm_be *be, const uint8_t *meta_key, size_t key_size, void **job)
{
	mem_be *b = (mem_be *)be;
	RP_CHECK(b->undo_count == 0);
	mem_snap_job *j = calloc(1, sizeof(*j));
	if (j == NULL)
		return RP_ERR_NOMEM;
	sm_buf_init(&j->file);
	sm_buf_init(&j->rec);
	bool found = false;
	int rc = mem_get(be, SM_CF_META, meta_key, key_size, &j->rec, &found);
	if (rc == RP_OK && !found)
		rc = RP_ERR_NOTFOUND;
	if (rc == RP_OK)
		rc = serialize(b, &j->file);
	if (rc == RP_OK)
		rc = sm_archive_record_crc(mem_file_name, j->file.size, 0, buf_read_fn,
					   &j->file, &j->crc);
	if (rc != RP_OK) {
		mem_snap_job_free(j);
		return rc;
	}
	*job = j;
	return RP_OK;
}

static int mem_snap_capture(void *job, sm_buf *rec, const atomic_bool *cancel, sm_be *err)
{
	(void)err;
	mem_snap_job *j = job;
	if (atomic_load(cancel))
		return RP_ERR_CANCELED;
	return sm_buf_set(rec, j->rec.data, j->rec.size);
}

static int mem_snap_work(void *job, sm_archive_header *h, sm_archive_layout *out,
			 const atomic_bool *cancel, sm_be *err)
{
	(void)err;
	mem_snap_job *j = job;
	if (atomic_load(cancel))
		return RP_ERR_CANCELED;
	h->kind = SM_ARCHIVE_KIND_MEM;
	h->file_count = 1;
	int rc = sm_archive_layout_init(out, h);
	if (rc == RP_OK)
		rc = sm_archive_layout_add(out, 0, mem_file_name, j->file.size, j->crc);
	if (rc != RP_OK)
		sm_archive_layout_deinit(out);
	return rc;
}

static int mem_snap_finish(sm_be *be, void *job, const sm_archive_layout *out)
{
	(void)out;
	mem_be *b = (mem_be *)be;
	mem_snap_job *j = job;
	sm_buf_deinit(&b->snap);
	b->base.snap_crc_bytes = j->file.size; /* serialized and CRCed each time */
	b->snap = j->file;
	sm_buf_init(&j->file);
	mem_snap_job_free(j);
	return RP_OK;
}

static void mem_snap_abandon(sm_be *be, void *job)
{
	(void)be;
	mem_snap_job_free(job);
}

static int mem_snap_load(sm_be *be, sm_archive_layout *out, bool *found)
{
	(void)be;
	(void)out;
	*found = false; /* memory does not outlive the process */
	return RP_OK;
}

static int mem_snap_read(sm_be *be, uint32_t index, uint64_t offset, uint8_t *buf,
			 size_t size)
{
	mem_be *b = (mem_be *)be;
	return buf_read_fn(&b->snap, index, offset, buf, size);
}

/* --- install ------------------------------------------------------------------ */

static void staged_clear(mem_be *b)
{
	tree_free(b->staged_root[0]);
	tree_free(b->staged_root[1]);
	b->staged_root[0] = b->staged_root[1] = NULL;
	sm_buf_deinit(&b->staged);
	b->staged_begun = false;
	b->staged_done = false;
	b->staged_parsed = false;
}

static int mem_install_begin(sm_be *be)
{
	staged_clear((mem_be *)be);
	return RP_OK;
}

static int mem_file_begin(void *ctx, const char *name, uint64_t size)
{
	mem_be *b = ctx;
	if (b->staged_begun || strcmp(name, mem_file_name) != 0)
		return RP_ERR_CORRUPT; /* exactly one file, named "state" */
	if (size > SIZE_MAX / 2)
		return RP_ERR_NOSPC;
	b->staged_begun = true;
	b->staged.size = 0;
	return sm_buf_reserve(&b->staged, (size_t)size);
}

static int mem_file_data(void *ctx, const uint8_t *data, size_t size)
{
	mem_be *b = ctx;
	RP_CHECK(b->staged_begun && !b->staged_done);
	return sm_buf_append(&b->staged, data, size);
}

static int mem_file_end(void *ctx, uint32_t crc)
{
	(void)crc;
	mem_be *b = ctx;
	b->staged_done = true;
	return RP_OK;
}

static const sm_archive_sink mem_sink = {mem_file_begin, mem_file_data, mem_file_end};

static int staged_parse(mem_be *b)
{
	if (b->staged_parsed)
		return RP_OK;
	if (!b->staged_done)
		return RP_ERR_CORRUPT;
	int rc = parse_state(b, b->staged.data, b->staged.size, b->staged_root);
	if (rc != RP_OK) {
		tree_free(b->staged_root[0]);
		tree_free(b->staged_root[1]);
		b->staged_root[0] = b->staged_root[1] = NULL;
		return rc;
	}
	b->staged_parsed = true;
	return RP_OK;
}

static int mem_install_get_meta(sm_be *be, const uint8_t *key, size_t key_size,
				sm_buf *out, bool *found)
{
	mem_be *b = (mem_be *)be;
	*found = false;
	int rc = staged_parse(b);
	if (rc != RP_OK)
		return rc;
	mem_node *n = tree_find(b->staged_root[SM_CF_META], key, key_size);
	if (n == NULL)
		return RP_OK;
	*found = true;
	return sm_buf_set(out, n->value, n->value_size);
}

static int mem_install_commit(sm_be *be)
{
	mem_be *b = (mem_be *)be;
	RP_CHECK(b->undo_count == 0);
	int rc = staged_parse(b);
	if (rc != RP_OK) {
		staged_clear(b);
		return rc;
	}
	for (int cf = 0; cf < 2; cf++) {
		tree_free(b->root[cf]);
		b->root[cf] = b->staged_root[cf];
		b->staged_root[cf] = NULL;
	}
	staged_clear(b);
	return RP_OK;
}

static void mem_install_abort(sm_be *be)
{
	staged_clear((mem_be *)be);
}

static void mem_close(sm_be *be)
{
	mem_be *b = (mem_be *)be;
	mem_abort(be);
	tree_free(b->root[0]);
	tree_free(b->root[1]);
	staged_clear(b);
	sm_buf_deinit(&b->snap);
	free(b->undo);
	free(b);
}

static const sm_be_ops mem_ops = {
    .kind = SM_ARCHIVE_KIND_MEM,
    .get = mem_get,
    .put = mem_put,
    .del = mem_del,
    .commit = mem_commit,
    .abort = mem_abort,
    .scan = mem_scan,
    .walk_open = mem_walk_open,
    .walk_seek = mem_walk_seek,
    .walk_step = mem_walk_step,
    .walk_close = mem_walk_close,
    .snap_begin = mem_snap_begin,
    .snap_capture = mem_snap_capture,
    .snap_work = mem_snap_work,
    .snap_finish = mem_snap_finish,
    .snap_abandon = mem_snap_abandon,
    .snap_load = mem_snap_load,
    .snap_read = mem_snap_read,
    .install_begin = mem_install_begin,
    .install_sink = &mem_sink,
    .install_get_meta = mem_install_get_meta,
    .install_commit = mem_install_commit,
    .install_abort = mem_install_abort,
    .close = mem_close,
};

int sm_open_mem(const sm_config *cfg, sm **out)
{
	*out = NULL;
	int rc = sm_config_check(cfg);
	if (rc != RP_OK)
		return rc;
	mem_be *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return RP_ERR_NOMEM;
	b->base.ops = &mem_ops;
	rp_prng_init(&b->prng, cfg->mem_seed);
	sm_buf_init(&b->snap);
	sm_buf_init(&b->staged);
	return sm_open_be(&b->base, cfg, out, NULL, 0);
}
