/*
 * harpoon_lease.pml -- Promela model of Harpoon's lease-based election
 * (rasputin, DESIGN.md "Harpoon consensus", properties 1 and 2).
 * Run it with specs/check.sh (make model); specs/README.md has the details.
 *
 * Properties, checked in every reachable state (assertions):
 *   (a) election safety: at most one node ever becomes leader in a term
 *       (ghost bit set "led" remembers the terms that had a leader);
 *   (b) lease exclusivity: at no instant of real time do two nodes both
 *       believe they hold a valid leader lease (role leader and local
 *       now < lease_until).
 *
 * Modelled: 3 voters; the pre-round (PreLeaseReq, no persistent change);
 * LeaseReq with the no-preemption rule; promises; the leader's lease counted
 * from the local send time s of its LeaseReq and shortened by the drift
 * margin; heartbeats that renew followers' promises and, through echoed send
 * times, the leader's lease; step-down when the lease runs out; adoption of
 * higher terms from requests, appends and responses; the log up-to-date
 * check on the term of the last entry; crash-restart; loss, delay and
 * reordering of messages.
 *
 * TIME AND DRIFT
 *   Real time advances in global ticks (the tick action).  At each tick each
 *   node's clock advances by RMIN = 1 or RMAX = 2 local units, chosen anew
 *   per node and per tick, so over any n ticks a clock advances between n and
 *   2n units: rates lie in [1, 2] units per tick, i.e. a nominal rate of 1.5
 *   with drift bound rho = 1/3 (1.5 (1 - rho) = 1, 1.5 (1 + rho) = 2).
 *   Clocks do not move between ticks; any number of protocol steps happen
 *   between two ticks, in any order, so every state is a snapshot of the
 *   whole system at one instant of real time -- what (b) is about.
 *
 *   A promise lasts L local units of the follower's clock: at least
 *   L / RMAX ticks of real time after the request (or heartbeat) arrived.
 *   The leader trusts its lease for LP = L (1 - rho) / (1 + rho) = L / 2
 *   units of its own clock from the send time: at most LP / RMIN = L / 2
 *   ticks after it sent.  Sending precedes arrival, so the lease ends no
 *   later than the promise.  The model contains the extreme case (one clock
 *   always fast, the other always slow), and the margin is tight: LP = L / 2
 *   + 1 already gives two valid leases (checked with L = 4, LP = 3).
 *   This is a discretisation (integer clocks read at tick granularity), not
 *   a proof for continuous clocks; README.md gives the continuous argument.
 *
 *   No absolute clock reading is stored.  Each node keeps count-downs and
 *   ages in its own local units, all saturating, so the state space is
 *   finite:
 *     promise[n]  = promise_until - now      (0: expired)
 *     lease[n]    = lease_until - now        (0: expired or none)
 *     reqage[n]   = now - s                  (capped at LP)
 *     hbage[n][k] = now - s'(k)              (capped at LP)
 *   where s is the send time of the candidate's LeaseReq and s'(k) that of
 *   the leader's heartbeat round k.  A lease computed from an age >= LP is
 *   0 anyway, so the caps lose nothing.
 *
 *   Heartbeats carry a round slot k in {0, 1} instead of a timestamp and
 *   acks echo it; the leader keeps the age of each slot.  A slot is reused
 *   only when no heartbeat or ack of this leader, term and slot is in
 *   flight, so an ack always refers to the latest send of its slot: the same
 *   information as an echoed unique timestamp.  With 3 voters the quorum-th
 *   largest echoed send time (the leader counting as "now") is the newest
 *   echo from either follower, so an ack sets lease := max(lease, LP - age).
 *
 * FAULTS
 *   Network: a bag of at most BAG messages, kept sorted (a multiset); any
 *   message may be delivered or dropped at any time (loss, delay across
 *   ticks, reordering).  A send to a full bag is lost; a broadcast to both
 *   peers that does not fit as a whole is lost as a whole (this keeps the
 *   model symmetric in node ids; losing one of the two copies is still
 *   possible by dropping it).  No duplication; a pre-candidate does not
 *   resend its PreLeaseReq while the previous one is still in flight.
 *   Crash: atomic crash-and-restart of any node at any time.  Volatile state
 *   is lost (role follower, no lease, no rounds under way); persistent state
 *   (term, vote, lease_holder, log) is kept; the promise is restored as a
 *   fresh full promise L to the persisted lease_holder.  Staying down longer
 *   is covered: a restarted node may stay idle (every action is optional and
 *   messages to it may be dropped), and restarting later only moves the end
 *   of its restored promise later.
 *
 * BOUNDS AND ABSTRACTIONS
 *   Terms are shifted after every step so that the smallest term in use is 0
 *   (rule R8 below); TSPAN bounds the difference between the largest and the
 *   smallest term in use (a node does not start a pre-round that would
 *   exceed it), not the number of elections: runs are unbounded.
 *   With 3 voters a quorum is the node itself plus one grant, so a
 *   (pre-)candidate moves on as soon as one grant of its round arrives;
 *   doing so later is the same as delivering that grant later.
 *   Log: only the term of the last entry (llt).  A new leader appends its
 *   no-op (llt := term); a follower accepting an append may or may not catch
 *   up to it.  The up-to-date check compares last terms only (at least the
 *   grants of the real (term, index) check are allowed); where the shift has
 *   merged old terms the outcome is left open (LOG_UNKNOWN).  -DNO_LOG
 *   leaves it open always: the model then covers any log contents.
 *   Rejections that cannot change the receiver (term not higher) are not
 *   sent; receiving one would be a no-op.
 *   After every step the state is put in a canonical form (rules R1-R9 in
 *   the C code below): states with the same futures are merged and node ids
 *   are renamed (symmetry).  This changes no verdict; README.md says how it
 *   was cross-checked against the model without it (-DNO_REDUCTION).
 *
 * MUTANTS (spin -DMUTANT_...), each must produce a counterexample:
 *   NO_DRIFT_MARGIN       the leader counts its lease as L, not LP
 *   GRANT_WHILE_PROMISED  a follower grants a LeaseReq although its promise
 *                         to another node is still valid (no preemption
 *                         rule removed)
 *   LEASE_FROM_GRANT      the leader counts its lease from the arrival of
 *                         the grant instead of the send time s
 *   LEASE_FROM_ACK        the leader renews its lease from the arrival of a
 *                         heartbeat ack instead of the echoed send time s'
 *   VOTE_NOT_PERSISTED    a restarted node has forgotten its vote (but
 *                         not its promise): two leaders in one term
 *   PRE_KEEPS_ROUND       a pre-candidate that grants a LeaseReq (same
 *                         term, no vote yet) stays pre-candidate; a late
 *                         pre-grant then makes it candidate and it breaks
 *                         the promise it just gave
 *   (and -DLP=3 with -DL=4: a margin one unit too small)
 */

#define N       3
#define NONE    3          /* no node */

#ifndef TSPAN
#define TSPAN   1          /* largest minus smallest term in use, 1..3 */
#endif
#if TSPAN > 3
#error "TSPAN > 3 does not fit the 2-bit last-log-term field of messages"
#endif
#ifndef BAG
#define BAG     3          /* messages in flight, 2..6 */
#endif

#define RMIN    1
#define RMAX    2
#ifndef L
#define L       4          /* promise length, follower's local units */
#endif
#ifdef MUTANT_NO_DRIFT_MARGIN
#define LP      L          /* bug: no drift margin */
#else
#ifndef LP
#define LP      (L / 2)    /* L * (1 - rho) / (1 + rho), rho = 1/3 */
#endif
#endif
#define H       2          /* heartbeat round slots per leader */

/* roles */
#define FOL     0
#define PRE     1
#define CAND    2
#define LEAD    3

/* message types */
#define PREQ    1          /* PreLeaseReq(T = proposed term, arg = last log term) */
#define PRESP   2          /* ok: T = proposed term; reject: T = receiver's term */
#define LREQ    3          /* LeaseReq(T, arg = last log term) */
#define LRESP   4          /* ok: T = request term; reject: T = receiver's term */
#define HB      5          /* heartbeat / append (T, arg = round slot) */
#define HBACK   6          /* ok: T = heartbeat term, arg = slot; reject: T = receiver's term */

/* message = type:3 src:2 dst:2 term:3 ok:1 arg:2 packed in a short; 0 = empty */
#define MTY(m)   ((m) >> 10)
#define MSRC(m)  (((m) >> 8) & 3)
#define MDST(m)  (((m) >> 6) & 3)
#define MTERM(m) (((m) >> 3) & 7)
#define MOK(m)   (((m) >> 2) & 1)
#define MARG(m)  ((m) & 3)

/* a heartbeat of leader n, current term, slot k / an ack of one */
#define HB_OF(m, n, k)  (MTY(m) == HB && MSRC(m) == n && MTERM(m) == term[n] && MARG(m) == k)
#define ACK_OF(m, n, k) (MTY(m) == HBACK && MDST(m) == n && MOK(m) == 1 && MTERM(m) == term[n] && MARG(m) == k)

/* receiver n may grant the pre-request of c for term t, c's last log term lt */
#define PRE_GRANTABLE(n, c, t, lt) ((promise[n] == 0 || holder[n] == c) && role[n] != LEAD && t > term[n] && lt >= llt[n])

/* no-preemption rule: n refuses c's LeaseReq whatever its term */
#define VALID_LEASE(n)  (role[n] == LEAD && lease[n] > 0)
#ifdef MUTANT_GRANT_WHILE_PROMISED
#define NO_PREEMPT(n, c) (VALID_LEASE(n))
#else
#define NO_PREEMPT(n, c) (VALID_LEASE(n) || (promise[n] > 0 && holder[n] != c))
#endif

/* persistent */
byte term[N];
byte vote[N];
byte holder[N];
byte llt[N];               /* term of the last log entry */
/* volatile */
byte role[N];
byte promise[N];
byte lease[N];
byte reqage[N];
byte hbage[N * H];
/* ghost: bit t set once some node has become leader in term t */
byte led;
/* network */
short bag[BAG];

/* scratch, used only inside an atomic step and zeroed at its end (not
 * declared hidden, so that pan's breadth-first mode stays usable) */
byte j_, cnt_, nvalid, mty, msrc, mdst, mterm, mok, marg, elect_ok;
short tmp_;

/*
 * Canonical form, applied after every step (embedded C).  R1-R7 and R9
 * replace the state by one with exactly the same futures as far as the two
 * properties are concerned; R8 makes terms relative (and may only add
 * behaviours, see there).  So the search stays exhaustive while states that
 * differ in irrelevant details are merged.
 */
c_code {
typedef struct {
	uchar term[N], vote[N], holder[N], llt[N], role[N];
	uchar promise[N], lease[N], reqage[N], hbage[N * H];
	short bag[BAG];
} HlView;

/* for printing counterexamples (pan -r): original node names of the
 * current ids and the amount terms have been shifted by */
static int hl_name[N] = {0, 1, 2};
static int hl_toff = 0;
#ifdef NO_TERM_SHIFT
static int hl_shift = 0;
#else
static int hl_shift = 1;
#endif

static void hl_sort(short *b) {
	int i, j;
	short t;
	for (i = 1; i < BAG; i++)
		for (j = i; j > 0 && b[j] > b[j - 1]; j--) {
			t = b[j]; b[j] = b[j - 1]; b[j - 1] = t;
		}
}

/* is a message of type ty from src (or to dst), term t, ok in flight? (-1: any) */
static int hl_inflight(int ty, int src, int dst, int t, int ok) {
	int i;
	short m;
	for (i = 0; i < BAG; i++) {
		m = now.bag[i];
		if (m == 0 || MTY(m) != ty || MTERM(m) != t) continue;
		if (src >= 0 && MSRC(m) != src) continue;
		if (dst >= 0 && MDST(m) != dst) continue;
		if (ok >= 0 && MOK(m) != ok) continue;
		return 1;
	}
	return 0;
}

/* delivering m is a no-op now and in every reachable future */
static int hl_dead(short m) {
	int ty = MTY(m), d = MDST(m), t = MTERM(m);
	switch (ty) {
	case PRESP:                         /* receiver has passed that term */
		return now.term[d] >= t;
	case LRESP:
		if (MOK(m) == 0) return now.term[d] >= t;
		/* a node is candidate at most once per term */
		return !(now.role[d] == CAND && now.term[d] == t);
	case HBACK:
		if (MOK(m) == 0) return now.term[d] >= t;
		/* a node leads at most once per term; a useless slot stays useless */
		return !(now.role[d] == LEAD && now.term[d] == t) ||
		       now.hbage[d * H + MARG(m)] >= LP;
	default:
		return 0;
	}
}

static void hl_follower(int n) {
	now.role[n] = FOL; now.lease[n] = 0; now.reqage[n] = 0;
	now.hbage[n * H] = 0; now.hbage[n * H + 1] = 0;
}

static void hl_normalize(void) {
	int i, j, k, n, lo;
	short m;
	for (n = 0; n < N; n++) {
		/* R1: a heartbeat slot whose echo cannot lengthen the lease
		 * (LP - age <= lease) never can (both fall at the same rate) */
		if (now.role[n] == LEAD) {
			for (k = 0; k < H; k++)
				if (LP - now.hbage[n * H + k] <= now.lease[n])
					now.hbage[n * H + k] = LP;
			/* R2: a leader without lease that cannot be renewed any more
			 * steps down now (staying leader only refuses pre-requests,
			 * which a dropped message reproduces) */
			if (now.lease[n] == 0 && now.hbage[n * H] >= LP &&
			    now.hbage[n * H + 1] >= LP)
				hl_follower(n);
		}
		/* R3: a candidate with neither its requests nor a grant in flight
		 * can never win: it is a follower */
		if (now.role[n] == CAND &&
		    !hl_inflight(LREQ, n, -1, now.term[n], -1) &&
		    !hl_inflight(LRESP, -1, n, now.term[n], 1))
			hl_follower(n);
		/* R4: same for a pre-candidate and its pre-round */
		if (now.role[n] == PRE &&
		    !hl_inflight(PREQ, n, -1, now.term[n] + 1, -1) &&
		    !hl_inflight(PRESP, -1, n, now.term[n] + 1, 1))
			hl_follower(n);
	}
	/* R5: drop dead messages (the network may drop anything anyway) */
	for (i = j = 0; i < BAG; i++)
		if (now.bag[i] != 0 && !hl_dead(now.bag[i]))
			now.bag[j++] = now.bag[i];
	for (; j < BAG; j++)
		now.bag[j] = 0;
	/* R6: the slot of a heartbeat whose sender no longer leads in its term
	 * cannot matter (the ack would be dead) */
	for (i = 0; i < BAG; i++) {
		m = now.bag[i];
		if (m != 0 && MTY(m) == HB) {
			n = MSRC(m);
			if (!(now.role[n] == LEAD && now.term[n] == MTERM(m)))
				now.bag[i] = (short) (m & ~3);
		}
	}
	/* R7: no node will ever again become candidate in the lowest term lo
	 * (that needs a node in term lo - 1), so a vote in term lo matters only
	 * while a LeaseReq of term lo is in flight.  The ghost bit of a term t
	 * is tested only when a node becomes leader in t, i.e. while some node
	 * is candidate in t or may become one: never for t < lo, and for t = lo
	 * only while a node is candidate in lo. */
	lo = now.term[0];
	for (n = 1; n < N; n++)
		if (now.term[n] < lo) lo = now.term[n];
	k = 0;
	for (n = 0; n < N; n++) {
		if (now.term[n] == lo && !hl_inflight(LREQ, -1, -1, lo, -1))
			now.vote[n] = NONE;
		if (now.role[n] == CAND && now.term[n] == lo)
			k = 1;
	}
	now.led = (uchar) (now.led & ~(((k ? 1 : 2) << lo) - 1));
	/* R8: only differences of terms matter (the protocol compares terms
	 * and adds one), so all terms are shifted down until the smallest term
	 * in use (by a node or a message) is 0.  TSPAN then bounds the spread of
	 * the terms in use, not their value: runs may go through any number of
	 * elections.  Last-entry terms are shifted by the same amount, those
	 * below the new 0 are clamped to 0: clamping keeps every "at least as
	 * up-to-date" comparison that held and can only make more hold, so it
	 * only allows more grants (an over-approximation, sound for (a), (b)). */
	k = hl_shift ? lo : 0;
	for (i = 0; i < BAG; i++) {
		m = now.bag[i];
		if (m != 0 && MTERM(m) < k) k = MTERM(m);
	}
	if (k > 0) {
		for (n = 0; n < N; n++) {
			now.term[n] = (uchar) (now.term[n] - k);
			now.llt[n] = (uchar) (now.llt[n] > k ? now.llt[n] - k : 0);
		}
		for (i = 0; i < BAG; i++) {
			m = now.bag[i];
			if (m == 0) continue;
			m = (short) (m - (k << 3));
			if ((MTY(m) == PREQ || MTY(m) == LREQ) && MARG(m) > 0)
				m = (short) ((m & ~3) | (MARG(m) > k ? MARG(m) - k : 0));
			now.bag[i] = m;
		}
		now.led = (uchar) (now.led >> k);
		hl_toff += k;
	}
	hl_sort(now.bag);
}

static uchar hl_id(const int *p, uchar x) {
	return x == NONE ? NONE : (uchar) p[x];
}

/* R9: the nodes are interchangeable (the model and both properties treat
 * ids alike): keep the least of the 6 renamings of the state */
static void hl_symmetry(void) {
	static const int perm[6][N] = {
		{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}
	};
	HlView best, cur;
	int k, i, j, s, d, bestk = -1, inv[N];
	unsigned long key[N];
	short m;
	/* only renamings that list the nodes in increasing order of a
	 * rename-invariant key are tried (the set of those is the same for
	 * every renaming of the state, so the result is still canonical) */
	for (i = 0; i < N; i++) {
		key[i] = ((((((((((unsigned long) now.term[i] * 8 + now.llt[i]) * 4 +
		          now.role[i]) * 16 + now.promise[i]) * 16 + now.lease[i]) * 16 +
		          now.reqage[i]) * 16 + now.hbage[i * H]) * 16 +
		          now.hbage[i * H + 1]) * 4 +
		          (now.vote[i] == NONE ? 0 : now.vote[i] == i ? 1 : 2)) * 4 +
		          (now.holder[i] == NONE ? 0 : now.holder[i] == i ? 1 : 2));
	}
	for (k = 0; k < 6; k++) {
		const int *p = perm[k];
		for (i = 0; i < N; i++) inv[p[i]] = i;
		if (key[inv[0]] > key[inv[1]] || key[inv[1]] > key[inv[2]])
			continue;
		memset(&cur, 0, sizeof cur);
		for (i = 0; i < N; i++) {
			j = p[i];
			cur.term[j] = now.term[i];
			cur.vote[j] = hl_id(p, now.vote[i]);
			cur.holder[j] = hl_id(p, now.holder[i]);
			cur.llt[j] = now.llt[i];
			cur.role[j] = now.role[i];
			cur.promise[j] = now.promise[i];
			cur.lease[j] = now.lease[i];
			cur.reqage[j] = now.reqage[i];
			cur.hbage[j * H] = now.hbage[i * H];
			cur.hbage[j * H + 1] = now.hbage[i * H + 1];
		}
		for (i = 0; i < BAG; i++) {
			m = now.bag[i];
			if (m != 0) {
				s = MSRC(m); d = MDST(m);
				m = (short) ((m & ~((3 << 8) | (3 << 6))) | (p[s] << 8) | (p[d] << 6));
			}
			cur.bag[i] = m;
		}
		hl_sort(cur.bag);
		if (bestk < 0 || memcmp(&cur, &best, sizeof cur) < 0) {
			best = cur;
			bestk = k;
		}
	}
	{
		int nm[N];
		for (i = 0; i < N; i++) nm[perm[bestk][i]] = hl_name[i];
		for (i = 0; i < N; i++) hl_name[i] = nm[i];
	}
	for (i = 0; i < N; i++) {
		now.term[i] = best.term[i];
		now.vote[i] = best.vote[i];
		now.holder[i] = best.holder[i];
		now.llt[i] = best.llt[i];
		now.role[i] = best.role[i];
		now.promise[i] = best.promise[i];
		now.lease[i] = best.lease[i];
		now.reqage[i] = best.reqage[i];
		now.hbage[i * H] = best.hbage[i * H];
		now.hbage[i * H + 1] = best.hbage[i * H + 1];
	}
	for (i = 0; i < BAG; i++)
		now.bag[i] = best.bag[i];
}
}

/* one line per state when pan replays a trail (pan -r): nodes by their
 * original names A, B, C; absolute terms */
c_code {
extern int readtrail;
static void hl_print(void) {
	static const char *rn[4] = {"fol", "pre", "cand", "LEAD"};
	static const char *mn[7] = {"-", "PreReq", "PreResp", "LeaseReq", "LeaseResp", "HB", "HBAck"};
	int i, n, pos[N];
	short m;
	if (!readtrail) return;
	for (i = 0; i < N; i++) pos[hl_name[i]] = i;
	printf("   ");
	for (i = 0; i < N; i++) {
		n = pos[i];
		printf(" %c:%s t%d", 'A' + i, rn[now.role[n]], now.term[n] + hl_toff);
		if (now.vote[n] != NONE) printf(" v%c", 'A' + hl_name[now.vote[n]]);
		if (now.holder[n] != NONE && now.promise[n] > 0)
			printf(" promised %c for %d", 'A' + hl_name[now.holder[n]], now.promise[n]);
		if (now.role[n] == LEAD) printf(" lease %d", now.lease[n]);
		if (now.role[n] == CAND) printf(" reqage %d", now.reqage[n]);
		printf(" |");
	}
	printf(" net:");
	for (i = 0; i < BAG && now.bag[i] != 0; i++) {
		m = now.bag[i];
		printf(" %s(%c>%c t%d%s)", mn[MTY(m)], 'A' + hl_name[MSRC(m)],
		       'A' + hl_name[MDST(m)], MTERM(m) + hl_toff,
		       (MTY(m) == PRESP || MTY(m) == LRESP || MTY(m) == HBACK) ?
		       (MOK(m) ? " ok" : " no") : "");
	}
	printf("\n");
}
}

#ifdef HL_DUMP
/* testing aid (check.sh --cross-check): write the canonical form of every
 * state reached, each distinct one once, to dump.txt */
c_code {
#define HL_SEEN_BITS 22
static unsigned long long *hl_seen;

static int hl_first_time(const char *txt) {
	unsigned long long h = 1469598103934665603ULL;
	unsigned long i;
	for (; *txt; txt++) h = (h ^ (unsigned char) *txt) * 1099511628211ULL;
	if (h == 0) h = 1;
	if (!hl_seen) hl_seen = calloc(1UL << HL_SEEN_BITS, sizeof *hl_seen);
	for (i = h & ((1UL << HL_SEEN_BITS) - 1); hl_seen[i] != 0;
	     i = (i + 1) & ((1UL << HL_SEEN_BITS) - 1))
		if (hl_seen[i] == h) return 0;
	hl_seen[i] = h;
	return 1;
}

static void hl_dump(void) {
	static FILE *f;
	State save;
	char txt[256];
	int i, o = 0;
	memcpy(&save, &now, sizeof(State));
	hl_shift = 1;                  /* dump with terms shifted */
	hl_normalize(); hl_symmetry();
	for (i = 0; i < N; i++)
		o += sprintf(txt + o, "%d%d%d%d%d%d%d%d%d%d ", now.term[i], now.vote[i],
		        now.holder[i], now.llt[i], now.role[i], now.promise[i],
		        now.lease[i], now.reqage[i], now.hbage[i * H], now.hbage[i * H + 1]);
	for (i = 0; i < BAG; i++) o += sprintf(txt + o, "%d ", now.bag[i]);
	sprintf(txt + o, "%d", now.led);
	if (hl_first_time(txt)) {
		if (!f) f = fopen("dump.txt", "w");
		fprintf(f, "%s\n", txt);
	}
	memcpy(&now, &save, sizeof(State));
#ifdef NO_TERM_SHIFT
	hl_shift = 0;
#endif
}
}
#endif

/* end of every atomic step: check lease exclusivity, then canonical form */
inline finish() {
	c_code { hl_print(); };
	nvalid = 0;
	j_ = 0;
	do
	:: j_ < N ->
		if
		:: VALID_LEASE(j_) -> nvalid++
		:: else -> skip
		fi;
		j_++
	:: else -> break
	od;
	assert(nvalid <= 1);    /* lease exclusivity */
#ifndef NO_REDUCTION
	c_code { hl_normalize(); hl_symmetry(); };
#endif
#ifdef HL_DUMP
	c_code { hl_dump(); };
#endif
	j_ = 0; cnt_ = 0; nvalid = 0; elect_ok = 0; tmp_ = 0;
	mty = 0; msrc = 0; mdst = 0; mterm = 0; mok = 0; marg = 0
}

inline send(ty, s, d, t, ok, a) {
	if
	:: bag[BAG - 1] == 0 ->
		bag[BAG - 1] = (ty << 10) | (s << 8) | (d << 6) | (t << 3) | (ok << 2) | a;
		j_ = BAG - 1;
		do
		:: j_ > 0 && bag[j_] > bag[j_ - 1] ->
			tmp_ = bag[j_]; bag[j_] = bag[j_ - 1]; bag[j_ - 1] = tmp_; j_--
		:: else -> break
		od
	:: else -> skip /* network full: message lost */
	fi
}

/*
 * Send to both other nodes.  A broadcast that does not fit in the bag as a
 * whole is lost as a whole (keeps the model symmetric in node ids; losing
 * one of the two is still possible through the drop action).
 */
inline bcast(ty, s, t, ok, a) {
	if
	:: bag[BAG - 2] == 0 ->
		send(ty, s, (s + 1) % N, t, ok, a);
		send(ty, s, (s + 2) % N, t, ok, a)
	:: else -> skip
	fi
}

/* remove slot i, decoding it into mty..marg; the bag stays sorted */
inline take(i) {
	mty = MTY(bag[i]); msrc = MSRC(bag[i]); mdst = MDST(bag[i]);
	mterm = MTERM(bag[i]); mok = MOK(bag[i]); marg = MARG(bag[i]);
	j_ = i;
	do
	:: j_ < BAG - 1 -> bag[j_] = bag[j_ + 1]; j_++
	:: else -> break
	od;
	bag[BAG - 1] = 0
}

inline become_follower(n) {
	role[n] = FOL; lease[n] = 0; reqage[n] = 0;
	hbage[n * H] = 0; hbage[n * H + 1] = 0
}

inline adopt_term(n, t) {
	term[n] = t; vote[n] = NONE; become_follower(n)
}

/*
 * (Re)start a pre-round.  Retransmission policy: no new PreLeaseReq is sent
 * while one of this node for the same proposed term is still in flight
 * (there is no message duplication in the model).
 */
inline start_pre(n) {
	role[n] = PRE; lease[n] = 0; reqage[n] = 0;
	cnt_ = 0;
	j_ = 0;
	do
	:: j_ < BAG ->
		if
		:: MTY(bag[j_]) == PREQ && MSRC(bag[j_]) == n && MTERM(bag[j_]) == term[n] + 1 -> cnt_++
		:: else -> skip
		fi;
		j_++
	:: else -> break
	od;
	if
	:: cnt_ == 0 -> bcast(PREQ, n, term[n] + 1, 0, llt[n])
	:: else -> skip
	fi
}

inline become_candidate(n) {
	term[n] = term[n] + 1; vote[n] = n; holder[n] = n; promise[n] = L;
	role[n] = CAND; reqage[n] = 0;  /* s = now */
	bcast(LREQ, n, term[n], 0, llt[n])
}

inline become_leader(n) {
	elect_ok = ((led & (1 << term[n])) == 0);
	assert(elect_ok);   /* election safety: nobody led this term before */
	led = led | (1 << term[n]);
	role[n] = LEAD;
#ifdef MUTANT_LEASE_FROM_GRANT
	lease[n] = LP;                                 /* bug: counts from now, not from s */
#else
	if
	:: reqage[n] < LP -> lease[n] = LP - reqage[n]  /* lease_until = s + LP */
	:: else -> lease[n] = 0
	fi;
#endif
	reqage[n] = 0;
	hbage[n * H] = LP; hbage[n * H + 1] = LP;
#ifndef NO_LOG
	llt[n] = term[n]                               /* leader's no-op entry */
#else
	skip
#endif
}

/* start heartbeat round in slot k if no message of that slot is in flight */
inline hb_round(n, k) {
	cnt_ = 0;
	j_ = 0;
	do
	:: j_ < BAG ->
		if
		:: HB_OF(bag[j_], n, k) -> cnt_++
		:: ACK_OF(bag[j_], n, k) -> cnt_++
		:: else -> skip
		fi;
		j_++
	:: else -> break
	od;
	if
	:: cnt_ == 0 ->
		hbage[n * H + k] = 0;                   /* s' = now */
		bcast(HB, n, term[n], 0, k)
	:: else -> skip
	fi
}

inline crash(n) {
	become_follower(n);
#ifdef MUTANT_VOTE_NOT_PERSISTED
	vote[n] = NONE;     /* bug: the vote was kept only in memory */
#endif
	if
	:: holder[n] != NONE -> promise[n] = L
	:: else -> promise[n] = 0
	fi
}

inline advance(n, d) {
	if
	:: promise[n] > d -> promise[n] = promise[n] - d
	:: else -> promise[n] = 0
	fi;
	if
	:: role[n] == LEAD ->
		if
		:: lease[n] > d -> lease[n] = lease[n] - d
		:: else -> lease[n] = 0
		fi;
		if
		:: hbage[n * H] + d < LP -> hbage[n * H] = hbage[n * H] + d
		:: else -> hbage[n * H] = LP
		fi;
		if
		:: hbage[n * H + 1] + d < LP -> hbage[n * H + 1] = hbage[n * H + 1] + d
		:: else -> hbage[n * H + 1] = LP
		fi
	:: role[n] == CAND ->
		if
		:: reqage[n] + d < LP -> reqage[n] = reqage[n] + d
		:: else -> reqage[n] = LP
		fi
	:: else -> skip
	fi
}

/*
 * deliver the decoded message to mdst; cu: a follower accepting an append
 * catches up its log; stale: the receiver of a LeaseReq finds the
 * candidate's log not up to date (used where the model does not know, see
 * LOG_UNKNOWN)
 */
inline deliver(cu, stale) {
	if
	:: mty == PREQ ->
		if
		:: PRE_GRANTABLE(mdst, msrc, mterm, marg) ->
			send(PRESP, mdst, msrc, mterm, 1, 0)
		:: else ->
			if
			:: term[mdst] >= mterm -> send(PRESP, mdst, msrc, term[mdst], 0, 0)
			:: else -> skip
			fi
		fi
	:: mty == PRESP ->
		if
		:: mok == 1 && role[mdst] == PRE && mterm == term[mdst] + 1 ->
			become_candidate(mdst)
		:: mok == 0 && mterm > term[mdst] -> adopt_term(mdst, mterm)
		:: else -> skip
		fi
	:: mty == LREQ ->
		if
		:: mterm < term[mdst] -> send(LRESP, mdst, msrc, term[mdst], 0, 0)
		:: else ->
			if
			:: NO_PREEMPT(mdst, msrc) ->
				skip /* no preemption: reject without adopting the term */
			:: else ->
				if
				:: mterm > term[mdst] -> adopt_term(mdst, mterm)
				:: else -> skip
				fi;
				if
				:: (vote[mdst] == NONE || vote[mdst] == msrc) && marg >= llt[mdst] && !stale ->
					vote[mdst] = msrc; holder[mdst] = msrc; promise[mdst] = L;
#ifndef MUTANT_PRE_KEEPS_ROUND
					become_follower(mdst);  /* granting ends its own pre-round */
#endif
					send(LRESP, mdst, msrc, mterm, 1, 0)
				:: else -> skip
				fi
			fi
		fi
	:: mty == LRESP ->
		if
		:: mok == 1 && role[mdst] == CAND && mterm == term[mdst] ->
			become_leader(mdst)
		:: mok == 0 && mterm > term[mdst] -> adopt_term(mdst, mterm)
		:: else -> skip
		fi
	:: mty == HB ->
		if
		:: mterm < term[mdst] -> send(HBACK, mdst, msrc, term[mdst], 0, marg)
		:: else ->
			if
			:: mterm > term[mdst] -> term[mdst] = mterm; vote[mdst] = NONE
			:: else -> skip
			fi;
			become_follower(mdst);
			holder[mdst] = msrc; promise[mdst] = L;
			if
			:: cu -> llt[mdst] = mterm
			:: else -> skip
			fi;
			send(HBACK, mdst, msrc, mterm, 1, marg)
		fi
	:: mty == HBACK ->
		if
		:: mok == 1 && role[mdst] == LEAD && mterm == term[mdst] ->
#ifdef MUTANT_LEASE_FROM_ACK
			lease[mdst] = LP     /* bug: counts from the ack's arrival, not from s' */
#else
			if
			:: LP - hbage[mdst * H + marg] > lease[mdst] ->
				lease[mdst] = LP - hbage[mdst * H + marg]
			:: else -> skip
			fi
#endif
		:: mok == 0 && mterm > term[mdst] -> adopt_term(mdst, mterm)
		:: else -> skip
		fi
	:: else -> skip
	fi
}

/* one atomic step each; the guard is the first statement of the d_step */
#define NODE_ACTIONS(n) \
	:: d_step { role[n] != LEAD && promise[n] == 0 && term[n] < TSPAN -> \
	            start_pre(n); finish() } \
	:: d_step { role[n] == LEAD && lease[n] == 0 -> become_follower(n); finish() } \
	:: d_step { role[n] == LEAD && lease[n] > 0 -> hb_round(n, 0); finish() } \
	:: d_step { role[n] == LEAD && lease[n] > 0 -> hb_round(n, 1); finish() } \
	CRASH_ACTION(n)

#ifdef NO_CRASH
#define CRASH_ACTION(n)
#else
/* (a crash that would change nothing is not tried) */
#define CRASH_ACTION(n) :: d_step { (role[n] != FOL || (holder[n] != NONE && promise[n] < L)) -> crash(n); finish() }
#endif

/*
 * Up-to-date check where the model does not know the outcome: with NO_LOG
 * always; otherwise when both last-entry terms are 0, which after the term
 * shift (R8) may stand for two different old terms.  There the receiver of
 * a LeaseReq may find the candidate's log stale (it adopts the term but
 * does not grant).  For a PreLeaseReq the same outcome equals a drop.
 */
#ifdef NO_LOG
#define LOG_UNKNOWN(i) 1
#define CATCHUP_ACTION(i)
#else
#define LOG_UNKNOWN(i) (MARG(bag[i]) == 0 && llt[MDST(bag[i])] == 0)
#define CATCHUP_ACTION(i) :: d_step { MTY(bag[i]) == HB && llt[MDST(bag[i])] < MTERM(bag[i]) -> take(i); deliver(1, 0); finish() }
#endif

#define SLOT_ACTIONS(i) \
	:: d_step { bag[i] != 0 -> take(i); deliver(0, 0); finish() } \
	CATCHUP_ACTION(i) \
	:: d_step { MTY(bag[i]) == LREQ && LOG_UNKNOWN(i) -> take(i); deliver(0, 1); finish() } \
	:: d_step { bag[i] != 0 -> take(i); finish() }

/*
 * A node with no running timer (promise expired, no lease, no request or
 * heartbeat age that can still matter) is unaffected by its clock rate, so
 * only RMIN is tried for it: same states, fewer transitions.
 */
#define IDLE(n) (promise[n] == 0 && !(role[n] == LEAD && (lease[n] > 0 || hbage[n * H] < LP || hbage[n * H + 1] < LP)) && !(role[n] == CAND && reqage[n] < LP))
#define RATE_OK(n, r) (r == RMIN || !IDLE(n))

#define TICK(a, b, c) \
	:: d_step { RATE_OK(0, a) && RATE_OK(1, b) && RATE_OK(2, c) -> \
	            advance(0, a); advance(1, b); advance(2, c); finish() }

active proctype harpoon()
{
	d_step {
		vote[0] = NONE; vote[1] = NONE; vote[2] = NONE;
		holder[0] = NONE; holder[1] = NONE; holder[2] = NONE
	};
	do
	NODE_ACTIONS(0)
	NODE_ACTIONS(1)
	NODE_ACTIONS(2)
	SLOT_ACTIONS(0)
	SLOT_ACTIONS(1)
#if BAG > 2
	SLOT_ACTIONS(2)
#endif
#if BAG > 3
	SLOT_ACTIONS(3)
#endif
#if BAG > 4
	SLOT_ACTIONS(4)
#endif
#if BAG > 5
	SLOT_ACTIONS(5)
#endif
	TICK(RMIN, RMIN, RMIN)
	TICK(RMIN, RMIN, RMAX)
	TICK(RMIN, RMAX, RMIN)
	TICK(RMIN, RMAX, RMAX)
	TICK(RMAX, RMIN, RMIN)
	TICK(RMAX, RMIN, RMAX)
	TICK(RMAX, RMAX, RMIN)
	TICK(RMAX, RMAX, RMAX)
	od
}
