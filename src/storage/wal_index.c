/*
 * wal_index.c — per-group state of the WAL (see wal_index.h): a sorted
 * array of groups, each with a deque of references to its live ENTRIES
 * records.
 */
#include "storage/wal_index.h"

#include <stdlib.h>
#include <string.h>

#include "util/check.h"
#include "util/err.h"

void wal_index_init(wal_index *ix, size_t max_groups)
{
	memset(ix, 0, sizeof(*ix));
	ix->max = max_groups;
}

static void group_free(wal_group *g)
{
	if (!g)
		return;
	free(g->refs);
	free(g);
}

void wal_index_clear(wal_index *ix)
{
	for (size_t i = 0; i < ix->count; i++)
		group_free(ix->v[i]);
	ix->count = 0;
}

void wal_index_deinit(wal_index *ix)
{
	wal_index_clear(ix);
	free(ix->v);
	ix->v = NULL;
}

/* Position of id in the sorted array, or where it would go. */
static size_t index_pos(const wal_index *ix, uint64_t id)
{
	size_t lo = 0, hi = ix->count;
	while (lo < hi) { /* log2(count) rounds */
		size_t mid = lo + (hi - lo) / 2;
		if (ix->v[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

wal_group *wal_index_find(const wal_index *ix, uint64_t id)
{
	size_t i = index_pos(ix, id);
	return i < ix->count && ix->v[i]->id == id ? ix->v[i] : NULL;
}

wal_group *wal_index_get(wal_index *ix, uint64_t id, int *rc)
{
	size_t i = index_pos(ix, id);
	if (i < ix->count && ix->v[i]->id == id)
		return ix->v[i];
	if (ix->count >= ix->max) {
		*rc = RP_ERR_NOSPC;
		return NULL;
	}
	if ((ix->count & (ix->count - 1)) == 0) { /* grow at powers of two */
		size_t cap = ix->count ? ix->count * 2 : 8;
		wal_group **v = realloc(ix->v, cap * sizeof(*v));
		if (!v) {
			*rc = RP_ERR_NOMEM;
			return NULL;
		}
		ix->v = v;
	}
	wal_group *g = calloc(1, sizeof(*g));
	if (!g) {
		*rc = RP_ERR_NOMEM;
		return NULL;
	}
	g->id = id;
	memmove(ix->v + i + 1, ix->v + i, (ix->count - i) * sizeof(*ix->v));
	ix->v[i] = g;
	ix->count++;
	return g;
}

void wal_index_drop(wal_index *ix, uint64_t id)
{
	size_t i = index_pos(ix, id);
	if (i >= ix->count || ix->v[i]->id != id)
		return;
	group_free(ix->v[i]);
	memmove(ix->v + i, ix->v + i + 1, (ix->count - i - 1) * sizeof(*ix->v));
	ix->count--;
}

/* -------------------------------------------------------------- refs */

static wal_ref *ref_back(wal_group *g) { return &g->refs[g->head + g->count - 1]; }
static wal_ref *ref_front(wal_group *g) { return &g->refs[g->head]; }

static void ref_pop_front(wal_group *g)
{
	g->head++;
	g->count--;
	if (g->count == 0)
		g->head = 0;
}

static int ref_push(wal_group *g, const wal_ref *ref)
{
	if (g->head + g->count == g->cap) {
		if (g->head > 0 && g->head >= g->count) {
			memmove(g->refs, g->refs + g->head, g->count * sizeof(*g->refs));
			g->head = 0;
		} else {
			size_t cap = g->cap ? g->cap * 2 : 8;
			wal_ref *refs = realloc(g->refs, cap * sizeof(*refs));
			if (!refs)
				return RP_ERR_NOMEM;
			g->refs = refs;
			g->cap = cap;
		}
	}
	g->refs[g->head + g->count] = *ref;
	g->count++;
	return 0;
}

/* Drops entries >= from (from > snap.index). */
static void drop_from(wal_group *g, uint64_t from)
{
	if (from > g->last_index)
		return;
	while (g->count > 0 && ref_back(g)->first >= from) /* at most count rounds */
		g->count--;
	if (g->count == 0)
		g->head = 0;
	else if (ref_back(g)->last >= from)
		ref_back(g)->last = from - 1;
	g->last_index = from - 1;
}

int wal_group_entries(wal_group *g, const wal_ref *ref, bool strict)
{
	RP_CHECK(ref->first > 0 && ref->first <= ref->last);
	if (strict) {
		RP_CHECK(ref->first > g->snap.index);      /* never below the mark */
		RP_CHECK(ref->first <= g->last_index + 1); /* no hole */
	} else if (ref->first <= g->snap.index) {
		return RP_ERR_CORRUPT;
	}
	drop_from(g, ref->first);
	int rc = ref_push(g, ref);
	if (rc != 0)
		return rc;
	g->last_index = ref->last;
	return 0;
}

int wal_group_truncate(wal_group *g, uint64_t from, bool strict)
{
	if (strict)
		RP_CHECK(from > g->snap.index); /* committed entries are never truncated */
	else if (from <= g->snap.index)
		return RP_ERR_CORRUPT;
	drop_from(g, from);
	return 0;
}

int wal_group_snapshot(wal_group *g, const hp_snapshot_meta *meta, bool install, bool strict)
{
	if (strict)
		RP_CHECK(meta->index >= g->snap.index); /* marks never move back */
	else if (meta->index < g->snap.index)
		return RP_ERR_CORRUPT;
	if (install) {
		g->count = 0;
		g->head = 0;
		g->last_index = meta->index;
	} else {
		while (g->count > 0 && ref_front(g)->last <= meta->index) /* count rounds */
			ref_pop_front(g);
		if (g->count > 0 && ref_front(g)->first <= meta->index)
			ref_front(g)->first = meta->index + 1;
		if (g->last_index < meta->index)
			g->last_index = meta->index;
	}
	g->snap = *meta;
	return 0;
}

uint64_t wal_index_min_live_segment(const wal_index *ix)
{
	uint64_t min = UINT64_MAX;
	for (size_t i = 0; i < ix->count; i++) {
		const wal_group *g = ix->v[i];
		if (g->count > 0 && g->refs[g->head].seg_seq < min)
			min = g->refs[g->head].seg_seq;
	}
	return min;
}

int wal_index_check(const wal_index *ix, uint64_t *bad_group, uint64_t *missing)
{
	for (size_t i = 0; i < ix->count; i++) {
		const wal_group *g = ix->v[i];
		uint64_t expect = g->snap.index + 1;
		for (size_t k = 0; k < g->count; k++) {
			const wal_ref *r = &g->refs[g->head + k];
			if (r->first != expect || r->last < r->first) {
				*bad_group = g->id;
				*missing = expect;
				return RP_ERR_CORRUPT;
			}
			expect = r->last + 1;
		}
		if (g->last_index != expect - 1) {
			*bad_group = g->id;
			*missing = expect;
			return RP_ERR_CORRUPT;
		}
	}
	return 0;
}
