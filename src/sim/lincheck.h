/*
 * lincheck.h — decides whether a key-value history recorded by the
 * deterministic simulator is linearizable.
 *
 * The simulator's clients log every operation they invoke with its real
 * (simulated) invocation and response times and what they saw; lc_check
 * then asks whether some total order of those operations, each placed at a
 * single instant inside its own interval, explains every output under the
 * sequential model below.  If not, the cluster broke the client contract
 * and the seed is a bug report; lc_print_key_history turns the failing
 * key's sub-history into something a person can read.
 *
 * Model, per key: state = {present, value}, initially absent.
 *   GET           found = present, out = value; state unchanged.
 *   SET v         state := {true, v}.
 *   CAS(ep, e, v) matches iff present == ep and (if present) value == e.
 *                 On a match state := {true, v}.  success = match; found and
 *                 out describe the state after the op (out = v on success,
 *                 the unchanged current value otherwise).
 *   DEL           found = present, out = old value; state := absent.
 *   INCR d        state := {true, (present ? value : 0) + d} (wrapping);
 *                 out = the new value.
 * Whenever found is false, out is not compared (a missing key has no value).
 *
 * Time: an OK op takes effect at one instant in [invoke_us, complete_us];
 * an INFO op at one instant at or after invoke_us, or never; a FAIL op never
 * (it is ignored).  Intervals that merely touch (a.complete_us ==
 * b.invoke_us) count as concurrent, so a tie in the simulator's clock can
 * never produce a false alarm.
 *
 * Work and memory are bounded: see lc_check.  The checker reads the history
 * and never keeps a pointer to it after a call returns.
 */
#ifndef RASPUTIN_SIM_LINCHECK_H
#define RASPUTIN_SIM_LINCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Return codes: 0 on success, negative on failure. */
enum {
	LC_OK = 0,
	LC_ERR_NOMEM = -1,   /* an allocation failed; the verdict is unknown */
	LC_ERR_INVALID = -2, /* a malformed op: unknown kind or status, an OK op
				that completes before it is invoked, or more
				than UINT32_MAX - 1 ops */
};

/* States explored across the whole history when lc_check gets budget 0. */
#define LC_BUDGET_STATES_DEFAULT ((uint64_t)4000000)
/* Ceiling on the memo table of the key being searched (one key at a time).
 * Reaching it ends that key's search as exhausted, like the state budget. */
#define LC_MEMO_BYTES_MAX ((size_t)256 << 20)

typedef enum { LC_GET, LC_SET, LC_CAS, LC_DEL, LC_INCR } lc_kind;

typedef enum {
	LC_STATUS_OK,	/* completed, outputs valid */
	LC_STATUS_FAIL, /* definitely did not take effect (may be omitted from the
			   history by callers, but accept it and ignore it) */
	LC_STATUS_INFO, /* indeterminate: may have taken effect at any time after
			   invoke, or never; outputs unknown */
} lc_status;

typedef struct {
	uint32_t client; /* process id; a client has at most one op outstanding */
	uint64_t key;
	lc_kind kind;
	lc_status status;
	uint64_t invoke_us;   /* real (simulated) time of invocation */
	uint64_t complete_us; /* time of response; ignored for INFO (+infinity) */
	/* inputs */
	uint64_t value;	     /* SET: value; CAS: new value; INCR: delta */
	bool expect_present; /* CAS: false = expect the key absent */
	uint64_t expect;     /* CAS: expected value when expect_present */
	/* outputs (valid when status == OK) */
	bool found;   /* GET/DEL: key was present; CAS: present after the op */
	uint64_t out; /* GET: value; DEL: the value it deleted; CAS: the current
			 value after the op; INCR: new value */
	bool success; /* CAS: swapped */
} lc_op;

typedef struct {
	bool linearizable;	/* false only when a key was proved non-linearizable */
	bool exhausted;		/* a key's search ran out of budget (states or memo
				   memory) before a verdict: verdict unknown for it.
				   Treat as a pass, but report it. */
	uint64_t bad_key;	/* when !linearizable: a key whose history fails */
	uint64_t exhausted_key; /* when exhausted: the first key that ran out */
	size_t keys_checked;	/* keys whose search ran (to a verdict or out of
				   budget) */
	size_t ops_checked;	/* non-FAIL ops on those keys */
	size_t states_explored; /* distinct (linearized set, state) pairs visited */
} lc_result;

/*
 * Checks the whole history ops[0..count) (in any order; it is not modified)
 * and fills *res.
 *
 * Linearizability is compositional (Herlihy & Wing's locality), so the
 * history is split by key and each key is searched on its own, smallest
 * first, stopping at the first key that fails.  Per key the search is Wing
 * & Gong's backtracking search with Lowe's just-in-time refinement: only
 * ops invoked no later than the earliest response among the OK ops not yet
 * placed are candidates for the next place, and each (set of placed ops,
 * model state) pair is explored at most once (memoised).
 *
 * budget_states bounds the distinct pairs explored over the whole history
 * (0 = LC_BUDGET_STATES_DEFAULT).  Each key may use the budget left divided
 * by the number of keys left, so one pathological key cannot starve the
 * others; a key that runs out is reported in res->exhausted and the others
 * are still checked.  Memory: O(ops) for the history plus at most
 * LC_MEMO_BYTES_MAX for the memo of the key being searched.
 *
 * Returns 0 (the verdict is in *res), LC_ERR_INVALID (nothing checked) or
 * LC_ERR_NOMEM (verdict unknown; *res holds what was checked before).
 */
int lc_check(const lc_op *ops, size_t count, uint64_t budget_states, lc_result *res);

/*
 * lc_check with the memo ceiling chosen by the caller: memo_bytes_max
 * replaces LC_MEMO_BYTES_MAX (0 keeps it).  For a simulator that runs many
 * checks side by side, and for tests of the ceiling.
 */
int lc_check_bounded(const lc_op *ops, size_t count, uint64_t budget_states,
		     size_t memo_bytes_max, lc_result *res);

/*
 * Prints the ops on `key` (FAIL ones included, marked) in invocation order
 * to f, one per line: op index, client, interval, status, the op and its
 * outputs.  For reading a failed seed; allocates nothing.
 */
void lc_print_key_history(FILE *f, const lc_op *ops, size_t count, uint64_t key);

/* A static description of an LC_* return code. */
const char *lc_strerror(int rc);

#endif
