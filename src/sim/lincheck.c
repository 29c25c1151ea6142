/*
 * lincheck.c — the linearizability search behind lc_check (see lincheck.h
 * for the model and the contract).
 *
 * Per key, the ops not yet placed in the linearization are kept in
 * invocation order in two doubly linked lists, OK ops and INFO ops.  A
 * depth-first search places one candidate at a time, applying it to the
 * model; a dead end pops the last placement and tries the next candidate
 * (the pop relinks the op where it was, so a list is undone in O(1)).
 * Each (placed set, model state) pair reached is stored in a memo;
 * reaching one again means its subtree was already searched and failed,
 * because placed sets only grow along a path.
 *
 * The placed set is stored compactly.  Within each class of ops (OK, INFO)
 * numbered in invocation order, every op before the first unplaced one is
 * placed, and nothing after the last placed one is, so only the words of
 * the bitset between those two need storing.  For OK ops that window is
 * about as wide as the concurrency of the history.
 *
 * Three reductions keep the search small; each removes only pairs that are
 * equivalent to, or dominated by, a pair the search still visits:
 *  - an OK op that cannot change the state wherever it is placed (a GET, a
 *    CAS that reports no swap, a DEL that found nothing) and whose outputs
 *    match the state now is placed at once, with no alternatives tried:
 *    any valid completion can move it to the front (it changes nothing
 *    after it, and being a candidate nothing still unplaced must precede
 *    it).  A write that happens to leave the state as it is now does not
 *    qualify: later in a completion it may change it;
 *  - an INFO op whose effect would leave the state unchanged is not placed
 *    (never applying it is allowed and reaches the same state);
 *  - right after an INFO op is placed, an op that overwrites the state
 *    without looking at it (SET, INFO DEL) is not placed: the pair reached
 *    equals the one reached by placing it instead of the INFO op, minus
 *    that INFO op, which can do everything this one can.
 * Because the third depends on how a pair was reached, the memo key holds
 * "the last op placed was INFO" too; every reduction is then a function of
 * the key, so a pair that failed once fails every time.  And any valid
 * linearization can be rewritten, step by step from its start, into one
 * the reduced search follows (move the read-only op forward, drop the
 * no-op or overwritten INFO op), so nothing linearizable is missed.
 */
#include "sim/lincheck.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/check.h"

/* Memo sizes when a key's search starts; they double as needed. */
enum { LC_MEMO_SLOTS_INITIAL = 1024, LC_MEMO_ARENA_WORDS_INITIAL = 4096 };

/* Words before the bitset windows in an encoded pair (see lc_encode). */
enum { LC_ENCODE_HEADER_WORDS = 3 };

typedef struct {
	bool present;
	uint64_t value; /* 0 whenever !present, so equal states encode equally */
} lc_state;

/* One op of the key being searched. */
typedef struct {
	const lc_op *op;
	uint64_t invoke_us;
	uint64_t complete_us; /* UINT64_MAX for INFO: it never bounds the search */
	uint32_t class_index; /* position among the key's OK ops, or its INFO ops */
	uint32_t prev, next;  /* its unplaced list (see lc_search.nodes) */
	bool is_ok;
} lc_node;

/* Where the placed ops of one class lie. */
typedef struct {
	uint32_t lo; /* ops [0, lo) are placed, op lo is not (or lo == count) */
	uint32_t hi; /* one past the last placed op; hi >= lo */
} lc_span;

/* Everything about the placed set besides the bits; saved per frame so a
 * pop restores it in O(1). */
typedef struct {
	lc_span ok, info;
	uint32_t complete_pos; /* first unplaced entry of ok_by_complete */
} lc_cursor;

typedef struct {
	uint32_t node;	  /* placed at this depth */
	bool forced;	  /* placed by the first reduction: no siblings to try */
	lc_cursor cursor; /* before placing it */
	lc_state state;	  /* before placing it */
} lc_frame;

/*
 * Open-addressed set of encoded pairs.  A slot is 0 when empty, else the
 * top 32 bits of the pair's hash (which also pick its home slot, so growing
 * needs no rehashing of entries) above 1 + the entry's word offset in the
 * arena.  slot_count is a power of two and at most half full.
 */
typedef struct {
	uint64_t *slots;
	size_t slot_count;
	size_t used;
	uint64_t *arena;
	size_t arena_words; /* in use */
	size_t arena_cap;   /* allocated */
	size_t bytes_max;   /* slots plus arena never exceed this */
} lc_memo;

/* The workspace, sized once for the largest key and reused for each key. */
typedef struct {
	/* node_count ops, then the heads of two circular lists of unplaced
	 * ops in invocation order: OK ops (ok_head) and INFO ops (info_head).
	 * Candidates are tried OK ops first: an INFO op is rarely what a
	 * valid order needs next, and INFO ops invoked early stay candidates
	 * to the end. */
	lc_node *nodes;
	uint32_t node_count;
	uint32_t ok_count;
	uint32_t info_count;
	uint32_t *ok_by_complete; /* node indices of the OK ops by response time */
	uint64_t *ok_bits;	  /* placed OK ops, by class_index */
	uint64_t *info_bits;	  /* placed INFO ops, by class_index */
	lc_frame *stack;	  /* depth <= node_count */
	uint64_t *scratch;	  /* one encoded pair */
	lc_cursor cursor;
	lc_memo memo;
} lc_search;

/* A sort record: by a, then b, then index, so every sort is deterministic. */
typedef struct {
	uint64_t a;
	uint64_t b;
	uint32_t index;
} lc_sortkey;

typedef enum { LC_KEY_PASS, LC_KEY_FAIL, LC_KEY_EXHAUSTED } lc_key_verdict;

typedef enum { LC_MEMO_NEW, LC_MEMO_SEEN, LC_MEMO_FULL } lc_memo_outcome;

const char *lc_strerror(int rc)
{
	switch (rc) {
	case LC_OK:
		return "ok";
	case LC_ERR_NOMEM:
		return "out of memory";
	case LC_ERR_INVALID:
		return "malformed history";
	default:
		return "unknown lincheck error";
	}
}

static int lc_sortkey_cmp(const void *pa, const void *pb)
{
	const lc_sortkey *x = pa;
	const lc_sortkey *y = pb;
	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return 0;
}

static bool lc_state_eq(lc_state x, lc_state y)
{
	return x.present == y.present && x.value == y.value;
}

/* Outputs of a read compared with the state it read: out means nothing
 * when the key is missing. */
static bool lc_matches(const lc_op *op, lc_state s)
{
	if (op->found != s.present)
		return false;
	return !s.present || op->out == s.value;
}

/*
 * Applies op to s, giving *next.  With check (an OK op) the op's outputs
 * must be what the model produces; returns false if they are not.
 */
static bool lc_model_step(const lc_op *op, bool check, lc_state s, lc_state *next)
{
	*next = s;
	switch (op->kind) {
	case LC_GET:
		return !check || lc_matches(op, s);
	case LC_SET:
		next->present = true;
		next->value = op->value;
		return true;
	case LC_CAS: {
		bool match = s.present == op->expect_present &&
			     (!s.present || s.value == op->expect);
		if (match) {
			next->present = true;
			next->value = op->value;
		}
		if (!check)
			return true;
		if (op->success != match)
			return false;
		return lc_matches(op, *next);
	}
	case LC_DEL:
		next->present = false;
		next->value = 0;
		return !check || lc_matches(op, s);
	case LC_INCR:
		next->present = true;
		next->value = (s.present ? s.value : 0) + op->value;
		return !check || op->out == next->value;
	}
	/* lc_check validated every kind on entry. */
	rp_check_fail("unknown lc_kind", __FILE__, __LINE__);
}

/* True for an OK op that leaves the state unchanged wherever its outputs
 * are consistent: see the first reduction. */
static bool lc_read_only(const lc_op *op)
{
	switch (op->kind) {
	case LC_GET:
		return true;
	case LC_CAS:
		return !op->success;
	case LC_DEL:
		return !op->found;
	case LC_SET:
	case LC_INCR:
		return false;
	}
	return false;
}

/* True for an op whose effect ignores the state it is applied to and
 * whose (unchecked) outputs cannot fail: see the third reduction. */
static bool lc_blind_write(const lc_node *n)
{
	if (n->op->kind == LC_SET)
		return true;
	return !n->is_ok && n->op->kind == LC_DEL;
}

static bool lc_bit(const uint64_t *bits, uint32_t i)
{
	return (bits[i / 64] >> (i % 64)) & 1u;
}

static void lc_bit_set(uint64_t *bits, uint32_t i)
{
	bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static void lc_bit_clear(uint64_t *bits, uint32_t i)
{
	bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

static size_t lc_words(size_t bits)
{
	return (bits + 63) / 64;
}

/* ---- memo ---------------------------------------------------------------- */

static void lc_memo_reset(lc_memo *m)
{
	free(m->slots);
	free(m->arena);
	size_t bytes_max = m->bytes_max;
	memset(m, 0, sizeof *m);
	m->bytes_max = bytes_max;
}

static size_t lc_memo_bytes(size_t slot_count, size_t arena_cap)
{
	return (slot_count + arena_cap) * sizeof(uint64_t);
}

static uint64_t lc_hash(const uint64_t *w, size_t n)
{
	uint64_t h = 0x243f6a8885a308d3ULL ^ (uint64_t)n;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* Entry length in words, from its header (see lc_encode). */
static size_t lc_entry_words(const uint64_t *e)
{
	size_t ok_nw = (size_t)((e[1] >> 32) & 0x7fffffffu);
	size_t info_nw = (size_t)((e[2] >> 32) & 0x7fffffffu);
	return LC_ENCODE_HEADER_WORDS + ok_nw + info_nw;
}

/* Doubles the slot table (or creates it); sets *full instead if that
 * would pass the memory ceiling. */
static int lc_memo_grow_slots(lc_memo *m, bool *full)
{
	size_t count = m->slot_count ? m->slot_count * 2 : LC_MEMO_SLOTS_INITIAL;
	if (lc_memo_bytes(count, m->arena_cap) > m->bytes_max) {
		*full = true;
		return 0;
	}
	uint64_t *slots = calloc(count, sizeof *slots);
	if (slots == NULL)
		return LC_ERR_NOMEM;
	size_t mask = count - 1;
	for (size_t i = 0; i < m->slot_count; i++) {
		uint64_t slot = m->slots[i];
		if (slot == 0)
			continue;
		size_t j = (size_t)(slot >> 32) & mask;
		while (slots[j] != 0)
			j = (j + 1) & mask;
		slots[j] = slot;
	}
	free(m->slots);
	m->slots = slots;
	m->slot_count = count;
	return 0;
}

/* Makes room for `need` more arena words; *full if that would pass the
 * memory ceiling. */
static int lc_memo_grow_arena(lc_memo *m, size_t need, bool *full)
{
	if (m->arena_cap - m->arena_words >= need)
		return 0;
	size_t cap = m->arena_cap ? m->arena_cap * 2 : LC_MEMO_ARENA_WORDS_INITIAL;
	while (cap - m->arena_words < need)
		cap *= 2;
	if (lc_memo_bytes(m->slot_count, cap) > m->bytes_max) {
		/* Half a doubling may still fit: use what the ceiling allows. */
		size_t room = m->bytes_max / sizeof(uint64_t) - m->slot_count;
		if (room < m->arena_words + need) {
			*full = true;
			return 0;
		}
		cap = room;
	}
	uint64_t *arena = realloc(m->arena, cap * sizeof *arena);
	if (arena == NULL)
		return LC_ERR_NOMEM;
	m->arena = arena;
	m->arena_cap = cap;
	return 0;
}

/*
 * Adds the encoded pair enc[0..len) unless present.  *outcome is NEW, SEEN
 * or FULL (not added: the memory ceiling is reached).
 */
static int lc_memo_add(lc_memo *m, const uint64_t *enc, size_t len,
		       lc_memo_outcome *outcome)
{
	RP_CHECK(len >= LC_ENCODE_HEADER_WORDS);
	RP_CHECK(lc_entry_words(enc) == len);
	uint64_t h = lc_hash(enc, len);
	uint64_t tag = h >> 32;
	bool full = false;
	int rc;

	if (m->slot_count == 0) {
		rc = lc_memo_grow_slots(m, &full);
		if (rc != 0)
			return rc;
		if (full) {
			*outcome = LC_MEMO_FULL;
			return 0;
		}
	}
	size_t mask = m->slot_count - 1;
	size_t i = (size_t)tag & mask;
	for (; m->slots[i] != 0; i = (i + 1) & mask) {
		uint64_t slot = m->slots[i];
		if (slot >> 32 != tag)
			continue;
		const uint64_t *e = m->arena + (size_t)(slot & 0xffffffffu) - 1;
		/* Equal headers imply equal lengths (they hold the window sizes),
		 * so the memcmp stays inside the entry. */
		if (e[1] == enc[1] && e[2] == enc[2] &&
		    memcmp(e, enc, len * sizeof *enc) == 0) {
			*outcome = LC_MEMO_SEEN;
			return 0;
		}
	}

	rc = lc_memo_grow_arena(m, len, &full);
	if (rc != 0)
		return rc;
	if ((m->used + 1) * 2 > m->slot_count && !full) {
		rc = lc_memo_grow_slots(m, &full);
		if (rc != 0)
			return rc;
		mask = m->slot_count - 1;
		for (i = (size_t)tag & mask; m->slots[i] != 0; i = (i + 1) & mask) {
		}
	}
	if (full) {
		*outcome = LC_MEMO_FULL;
		return 0;
	}
	/* The ceiling keeps offsets far below 2^32; the slot format needs that. */
	RP_CHECK(m->arena_words < 0xffffffffu);
	memcpy(m->arena + m->arena_words, enc, len * sizeof *enc);
	m->slots[i] = (tag << 32) | ((uint64_t)m->arena_words + 1);
	m->arena_words += len;
	m->used++;
	*outcome = LC_MEMO_NEW;
	return 0;
}

/* ---- the search ---------------------------------------------------------- */

static uint32_t lc_ok_head(const lc_search *s)
{
	return s->node_count;
}

static uint32_t lc_info_head(const lc_search *s)
{
	return s->node_count + 1;
}

static void lc_search_deinit(lc_search *s)
{
	free(s->nodes);
	free(s->ok_by_complete);
	free(s->ok_bits);
	free(s->info_bits);
	free(s->stack);
	free(s->scratch);
	lc_memo_reset(&s->memo);
	memset(s, 0, sizeof *s);
}

/* Allocates a workspace for keys of up to max_ops ops. */
static int lc_search_init(lc_search *s, size_t max_ops, size_t memo_bytes_max)
{
	memset(s, 0, sizeof *s);
	s->memo.bytes_max = memo_bytes_max;
	size_t words = lc_words(max_ops) + 1;
	s->nodes = calloc(max_ops + 2, sizeof *s->nodes);
	s->ok_by_complete = calloc(max_ops + 1, sizeof *s->ok_by_complete);
	s->ok_bits = calloc(words, sizeof *s->ok_bits);
	s->info_bits = calloc(words, sizeof *s->info_bits);
	s->stack = calloc(max_ops + 1, sizeof *s->stack);
	s->scratch = calloc(LC_ENCODE_HEADER_WORDS + 2 * words, sizeof *s->scratch);
	if (s->nodes == NULL || s->ok_by_complete == NULL || s->ok_bits == NULL ||
	    s->info_bits == NULL || s->stack == NULL || s->scratch == NULL) {
		lc_search_deinit(s);
		return LC_ERR_NOMEM;
	}
	return 0;
}

/*
 * Loads one key's ops, refs[0..len) (indices into ops, in invocation
 * order, FAIL ops already left out).  pairs is scratch for len entries.
 */
static void lc_search_load(lc_search *s, const lc_op *ops, const lc_sortkey *refs,
			   size_t len, lc_sortkey *pairs)
{
	uint32_t m = 0;
	s->ok_count = 0;
	s->info_count = 0;
	for (size_t r = 0; r < len; r++) {
		const lc_op *op = &ops[refs[r].index];
		RP_CHECK(op->status != LC_STATUS_FAIL);
		/* An indeterminate read neither changes nor constrains anything. */
		if (op->status == LC_STATUS_INFO && op->kind == LC_GET)
			continue;
		lc_node *n = &s->nodes[m];
		n->op = op;
		n->invoke_us = op->invoke_us;
		n->is_ok = op->status == LC_STATUS_OK;
		n->complete_us = n->is_ok ? op->complete_us : UINT64_MAX;
		n->class_index = n->is_ok ? s->ok_count++ : s->info_count++;
		m++;
	}
	s->node_count = m;

	const uint32_t heads[2] = {lc_ok_head(s), lc_info_head(s)};
	for (int h = 0; h < 2; h++) {
		s->nodes[heads[h]].next = heads[h];
		s->nodes[heads[h]].prev = heads[h];
	}
	for (uint32_t i = 0; i < m; i++) {
		/* Appending in invocation order keeps each list sorted. */
		uint32_t head = s->nodes[i].is_ok ? heads[0] : heads[1];
		uint32_t tail = s->nodes[head].prev;
		s->nodes[i].prev = tail;
		s->nodes[i].next = head;
		s->nodes[tail].next = i;
		s->nodes[head].prev = i;
	}

	uint32_t k = 0;
	for (uint32_t i = 0; i < m; i++) {
		if (!s->nodes[i].is_ok)
			continue;
		pairs[k].a = s->nodes[i].complete_us;
		pairs[k].b = 0;
		pairs[k].index = i;
		k++;
	}
	RP_CHECK(k == s->ok_count);
	qsort(pairs, k, sizeof *pairs, lc_sortkey_cmp);
	for (uint32_t j = 0; j < k; j++)
		s->ok_by_complete[j] = pairs[j].index;

	memset(s->ok_bits, 0, lc_words(s->ok_count) * sizeof *s->ok_bits);
	memset(s->info_bits, 0, lc_words(s->info_count) * sizeof *s->info_bits);
	memset(&s->cursor, 0, sizeof s->cursor);
	lc_memo_reset(&s->memo);
}

static void lc_span_place(lc_span *span, const uint64_t *bits, uint32_t count, uint32_t i)
{
	if (i + 1 > span->hi)
		span->hi = i + 1;
	if (i == span->lo) {
		while (span->lo < count && lc_bit(bits, span->lo))
			span->lo++;
	}
	RP_CHECK(span->lo <= span->hi);
}

/* Places node i: takes it off the unplaced list and marks it placed. */
static void lc_place(lc_search *s, uint32_t i)
{
	lc_node *n = &s->nodes[i];
	s->nodes[n->prev].next = n->next;
	s->nodes[n->next].prev = n->prev;
	if (!n->is_ok) {
		lc_bit_set(s->info_bits, n->class_index);
		lc_span_place(&s->cursor.info, s->info_bits, s->info_count,
			      n->class_index);
		return;
	}
	lc_bit_set(s->ok_bits, n->class_index);
	lc_span_place(&s->cursor.ok, s->ok_bits, s->ok_count, n->class_index);
	lc_cursor *c = &s->cursor;
	while (
	    c->complete_pos < s->ok_count &&
	    lc_bit(s->ok_bits, s->nodes[s->ok_by_complete[c->complete_pos]].class_index))
		c->complete_pos++;
}

/* Undoes the placement recorded in f, which must be the latest one. */
static void lc_unplace(lc_search *s, const lc_frame *f)
{
	lc_node *n = &s->nodes[f->node];
	/* Its own links still name its old neighbours: undo is LIFO. */
	s->nodes[n->prev].next = f->node;
	s->nodes[n->next].prev = f->node;
	lc_bit_clear(n->is_ok ? s->ok_bits : s->info_bits, n->class_index);
	s->cursor = f->cursor;
}

/* Appends the bitset words of one class's window to out; returns how many. */
static uint32_t lc_encode_window(const uint64_t *bits, lc_span span, uint64_t *out)
{
	uint32_t first = span.lo / 64;
	uint32_t end = (uint32_t)lc_words(span.hi);
	uint32_t nw = end > first ? end - first : 0;
	memcpy(out, bits + first, nw * sizeof *out);
	return nw;
}

/*
 * Encodes (placed set, st, after_info) canonically into s->scratch;
 * returns its length.  Layout: value; ok window's first word | its word
 * count << 32 | present << 63; info window's first word | its word count
 * << 32 | after_info << 63; the ok window's words; the info window's
 * words.  The set is recoverable: every op below a window is placed and
 * every op above it is not.
 */
static size_t lc_encode(lc_search *s, lc_state st, bool after_info)
{
	uint64_t *out = s->scratch;
	const lc_cursor *c = &s->cursor;
	uint32_t ok_nw =
	    lc_encode_window(s->ok_bits, c->ok, out + LC_ENCODE_HEADER_WORDS);
	uint32_t info_nw =
	    lc_encode_window(s->info_bits, c->info, out + LC_ENCODE_HEADER_WORDS + ok_nw);
	RP_CHECK(ok_nw < 0x80000000u);
	RP_CHECK(info_nw < 0x80000000u);
	out[0] = st.value;
	out[1] = (uint64_t)(c->ok.lo / 64) | (uint64_t)ok_nw << 32 |
		 (uint64_t)(st.present ? 1 : 0) << 63;
	out[2] = (uint64_t)(c->info.lo / 64) | (uint64_t)info_nw << 32 |
		 (uint64_t)(after_info ? 1 : 0) << 63;
	return LC_ENCODE_HEADER_WORDS + ok_nw + info_nw;
}

/* Pops placements after a dead end; false when the stack empties (no
 * linearization exists).  Forced placements have no siblings, so their
 * failure is their parent's. */
static bool lc_backtrack(lc_search *s, uint32_t *depth, lc_state *st, uint32_t *cand)
{
	for (;;) {
		if (*depth == 0)
			return false;
		(*depth)--;
		const lc_frame *f = &s->stack[*depth];
		lc_unplace(s, f);
		*st = f->state;
		if (!f->forced) {
			*cand = s->nodes[f->node].next;
			return true;
		}
	}
}

/*
 * Normalises a position in the candidate order (OK list, then INFO list)
 * to the first candidate at or after it: an op, or the INFO head when no
 * candidate is left.  The OK head stands for the start of the INFO list.
 */
static uint32_t lc_candidate(const lc_search *s, uint32_t cand, uint64_t horizon)
{
	const uint32_t info_head = lc_info_head(s);
	if (cand == info_head)
		return cand;
	if (cand == lc_ok_head(s) ||
	    (s->nodes[cand].is_ok && s->nodes[cand].invoke_us > horizon))
		cand = s->nodes[info_head].next;
	if (cand != info_head && s->nodes[cand].invoke_us > horizon)
		cand = info_head;
	return cand;
}

/*
 * Searches the loaded key.  *explored counts new pairs (and is bounded by
 * budget); *verdict says how it ended.
 */
static int lc_search_run(lc_search *s, uint64_t budget, uint64_t *explored,
			 lc_key_verdict *verdict)
{
	const uint32_t ok_head = lc_ok_head(s);
	const uint32_t info_head = lc_info_head(s);
	lc_state st = {false, 0};
	uint32_t depth = 0;
	uint32_t cand = ok_head;
	bool fresh = true; /* just reached this pair: look for a forced op first */

	for (;;) {
		if (s->cursor.complete_pos == s->ok_count) {
			/* Every OK op is placed; unplaced INFO ops never happened. */
			*verdict = LC_KEY_PASS;
			return 0;
		}
		uint64_t horizon =
		    s->nodes[s->ok_by_complete[s->cursor.complete_pos]].complete_us;
		bool after_info = depth > 0 && !s->nodes[s->stack[depth - 1].node].is_ok;
		uint32_t pick = info_head; /* none yet */
		bool forced = false;
		lc_state next = st;

		if (fresh) {
			fresh = false;
			cand = s->nodes[ok_head].next;
			for (uint32_t i = cand;
			     i != ok_head && s->nodes[i].invoke_us <= horizon;
			     i = s->nodes[i].next) {
				if (lc_read_only(s->nodes[i].op) &&
				    lc_model_step(s->nodes[i].op, true, st, &next)) {
					RP_CHECK(lc_state_eq(next, st));
					pick = i;
					forced = true;
					break;
				}
			}
		}
		for (cand = lc_candidate(s, cand, horizon); !forced && cand != info_head;
		     cand = lc_candidate(s, s->nodes[cand].next, horizon)) {
			const lc_node *n = &s->nodes[cand];
			if (!lc_model_step(n->op, n->is_ok, st, &next))
				continue;
			if (!n->is_ok && lc_state_eq(next, st))
				continue;
			if (after_info && lc_blind_write(n))
				continue;
			pick = cand;
			break;
		}

		if (pick == info_head) {
			if (!lc_backtrack(s, &depth, &st, &cand)) {
				*verdict = LC_KEY_FAIL;
				return 0;
			}
			continue;
		}

		if (*explored >= budget) {
			*verdict = LC_KEY_EXHAUSTED;
			return 0;
		}
		RP_CHECK(depth < s->node_count);
		lc_frame *f = &s->stack[depth];
		f->node = pick;
		f->forced = forced;
		f->cursor = s->cursor;
		f->state = st;
		lc_place(s, pick);
		size_t len = lc_encode(s, next, !s->nodes[pick].is_ok);
		lc_memo_outcome outcome;
		int rc = lc_memo_add(&s->memo, s->scratch, len, &outcome);
		if (rc != 0)
			return rc;
		if (outcome == LC_MEMO_FULL) {
			*verdict = LC_KEY_EXHAUSTED;
			return 0;
		}
		if (outcome == LC_MEMO_NEW) {
			(*explored)++;
			depth++;
			st = next;
			fresh = true;
			continue;
		}
		/* Seen before, so already searched and failed. */
		lc_unplace(s, f);
		if (forced) {
			if (!lc_backtrack(s, &depth, &st, &cand)) {
				*verdict = LC_KEY_FAIL;
				return 0;
			}
			continue;
		}
		cand = s->nodes[pick].next;
	}
}

/* ---- the whole history --------------------------------------------------- */

static bool lc_op_valid(const lc_op *op)
{
	if ((unsigned)op->kind > (unsigned)LC_INCR)
		return false;
	if ((unsigned)op->status > (unsigned)LC_STATUS_INFO)
		return false;
	if (op->status == LC_STATUS_OK && op->complete_us < op->invoke_us)
		return false;
	return true;
}

int lc_check(const lc_op *ops, size_t count, uint64_t budget_states, lc_result *res)
{
	return lc_check_bounded(ops, count, budget_states, 0, res);
}

int lc_check_bounded(const lc_op *ops, size_t count, uint64_t budget_states,
		     size_t memo_bytes_max, lc_result *res)
{
	RP_CHECK(res != NULL);
	RP_CHECK(ops != NULL || count == 0);
	memset(res, 0, sizeof *res);
	res->linearizable = true;

	if (count >= UINT32_MAX)
		return LC_ERR_INVALID;
	size_t live = 0;
	for (size_t i = 0; i < count; i++) {
		if (!lc_op_valid(&ops[i]))
			return LC_ERR_INVALID;
		live += ops[i].status != LC_STATUS_FAIL;
	}
	if (live == 0)
		return 0;

	int rc = 0;
	lc_sortkey *refs = calloc(live, sizeof *refs);
	lc_sortkey *groups = calloc(live, sizeof *groups); /* at most one per op */
	lc_sortkey *pairs = calloc(live, sizeof *pairs);
	lc_search s;
	memset(&s, 0, sizeof s);
	if (refs == NULL || groups == NULL || pairs == NULL) {
		rc = LC_ERR_NOMEM;
		goto out;
	}

	size_t r = 0;
	for (size_t i = 0; i < count; i++) {
		if (ops[i].status == LC_STATUS_FAIL)
			continue;
		refs[r].a = ops[i].key;
		refs[r].b = ops[i].invoke_us;
		refs[r].index = (uint32_t)i;
		r++;
	}
	RP_CHECK(r == live);
	qsort(refs, live, sizeof *refs, lc_sortkey_cmp);

	/* One group per key: a = its op count, b = the key, index = its first
	 * ref.  Sorted smallest first so leftover budget flows to big keys. */
	size_t group_count = 0;
	size_t max_len = 0;
	for (size_t start = 0; start < live;) {
		size_t end = start + 1;
		while (end < live && refs[end].a == refs[start].a)
			end++;
		groups[group_count].a = end - start;
		groups[group_count].b = refs[start].a;
		groups[group_count].index = (uint32_t)start;
		group_count++;
		if (end - start > max_len)
			max_len = end - start;
		start = end;
	}
	qsort(groups, group_count, sizeof *groups, lc_sortkey_cmp);

	rc = lc_search_init(&s, max_len,
			    memo_bytes_max ? memo_bytes_max : LC_MEMO_BYTES_MAX);
	if (rc != 0)
		goto out;

	uint64_t remaining = budget_states ? budget_states : LC_BUDGET_STATES_DEFAULT;
	for (size_t g = 0; g < group_count; g++) {
		uint64_t share = remaining / (uint64_t)(group_count - g);
		size_t len = (size_t)groups[g].a;
		uint64_t key = groups[g].b;
		lc_search_load(&s, ops, refs + groups[g].index, len, pairs);
		uint64_t used = 0;
		lc_key_verdict verdict = LC_KEY_PASS;
		rc = lc_search_run(&s, share, &used, &verdict);
		RP_CHECK(used <= share);
		remaining -= used;
		res->states_explored += (size_t)used;
		if (rc != 0)
			goto out;
		res->keys_checked++;
		res->ops_checked += len;
		if (verdict == LC_KEY_FAIL) {
			res->linearizable = false;
			res->bad_key = key;
			break;
		}
		if (verdict == LC_KEY_EXHAUSTED && !res->exhausted) {
			res->exhausted = true;
			res->exhausted_key = key;
		}
	}

out:
	lc_search_deinit(&s);
	free(pairs);
	free(groups);
	free(refs);
	return rc;
}

/* ---- printing ------------------------------------------------------------ */

static const char *lc_status_name(lc_status status)
{
	switch (status) {
	case LC_STATUS_OK:
		return "ok";
	case LC_STATUS_FAIL:
		return "fail";
	case LC_STATUS_INFO:
		return "info";
	}
	return "?";
}

/* Writes "nil" or the number: how the model's values read in a log. */
static void lc_format_value(char *buf, size_t size, bool present, uint64_t v)
{
	if (present)
		snprintf(buf, size, "%" PRIu64, v);
	else
		snprintf(buf, size, "nil");
}

static void lc_print_op(FILE *f, const lc_op *op, size_t index)
{
	char when[24];
	char a[24];
	char b[24];
	bool done = op->status == LC_STATUS_OK;

	if (op->status == LC_STATUS_INFO)
		snprintf(when, sizeof when, "?");
	else
		snprintf(when, sizeof when, "%" PRIu64, op->complete_us);
	fprintf(f, "  #%-6zu client %-4" PRIu32 " [%12" PRIu64 " .. %12s] %-4s ", index,
		op->client, op->invoke_us, when, lc_status_name(op->status));

	switch (op->kind) {
	case LC_GET:
		lc_format_value(a, sizeof a, op->found, op->out);
		fprintf(f, "GET%s%s\n", done ? " -> " : "", done ? a : "");
		return;
	case LC_SET:
		fprintf(f, "SET %" PRIu64 "\n", op->value);
		return;
	case LC_CAS:
		lc_format_value(a, sizeof a, op->expect_present, op->expect);
		fprintf(f, "CAS %s => %" PRIu64, a, op->value);
		if (done) {
			lc_format_value(b, sizeof b, op->found, op->out);
			fprintf(f, " -> %s, now %s",
				op->success ? "swapped" : "not swapped", b);
		}
		fprintf(f, "\n");
		return;
	case LC_DEL:
		lc_format_value(a, sizeof a, op->found, op->out);
		fprintf(f, "DEL%s%s\n", done ? " -> was " : "", done ? a : "");
		return;
	case LC_INCR:
		fprintf(f, "INCR +%" PRIu64, op->value);
		if (done)
			fprintf(f, " -> %" PRIu64, op->out);
		fprintf(f, "\n");
		return;
	}
	fprintf(f, "kind %d?\n", (int)op->kind);
}

void lc_print_key_history(FILE *f, const lc_op *ops, size_t count, uint64_t key)
{
	RP_CHECK(f != NULL);
	RP_CHECK(ops != NULL || count == 0);
	size_t n = 0;
	for (size_t i = 0; i < count; i++)
		n += ops[i].key == key;
	fprintf(f, "key %" PRIu64 ": %zu ops in invocation order (times in us)\n", key,
		n);

	/* Selection by rescanning: quadratic, but it allocates nothing, so it
	 * still works when memory is what ran out. */
	bool have_last = false;
	uint64_t last_us = 0;
	size_t last_index = 0;
	for (size_t k = 0; k < n; k++) {
		size_t best = count;
		for (size_t i = 0; i < count; i++) {
			if (ops[i].key != key)
				continue;
			uint64_t t = ops[i].invoke_us;
			if (have_last &&
			    (t < last_us || (t == last_us && i <= last_index)))
				continue;
			if (best == count || t < ops[best].invoke_us)
				best = i;
		}
		RP_CHECK(best < count);
		lc_print_op(f, &ops[best], best);
		have_last = true;
		last_us = ops[best].invoke_us;
		last_index = best;
	}
}
