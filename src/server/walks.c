/*
 * walks.c — DBSIZE and KEYS a step per loop turn (cmd.h, "Walks").  At
 * millions of keys a whole walk takes seconds; done in one go on the loop,
 * it stops this node's consensus for as long, which on a leader lets its
 * lease lapse (docs/server.md, "What keeps the leader's lease under a
 * heavy load").  Here a walk opens when its read is safe (exec.c's
 * read_now), then visits SRV_WALK_STEP_KEYS keys per loop turn, the walks
 * in flight taking turns; an idle handle keeps the loop from sleeping
 * while any is left, and everything else (peers, clients, the log) is
 * served between steps.  At most SRV_WALKS_MAX walk at once (each pins
 * what the store held when it opened); more are answered -BUSY.  A walk
 * nobody is left to answer (its client disconnected, or the node that
 * forwarded it) stops at its next turn.  Walks have no deadline: their
 * length is bounded by the data, and a client that gives up disconnects.
 *
 * The answer is the key set at the walk's opening.  A snapshot install
 * swaps the store from under the walks, so they are dropped first and
 * open again at their next step: the answer then comes from a later
 * applied state.  That is still linearizable: the node's applied state is
 * always a prefix of the committed log and is never behind the read's
 * index, and an applied prefix that ends at entry c held, cluster-wide,
 * from c's commit until the next entry's; c was committed before the
 * walk opened (before the reply) and the next entry after the read's
 * index was fixed (after the request arrived), so that stretch overlaps
 * the request's lifetime.
 */
#define _GNU_SOURCE
#include "server/server.h"
#include "util/check.h"
#include "util/log.h"

static void walk_idle_cb(uv_idle_t *h);

/* Opens r's walk; false (and r answered) if it cannot. */
static bool walk_open(srv *s, srv_req *r)
{
	int rc = cmd_walk_start(r->spec, r->argc, r->argv, s->sm, r->reply.limit_bytes,
	                        &r->walk);
	if (rc == RP_OK)
		return true;
	srv_req_error(s, r, "ERR internal error: %s", rp_strerror(rc));
	return false;
}

void srv_walk_begin(srv *s, srv_req *r)
{
	RP_CHECK(r->walk == NULL);
	if (s->plists[SRV_PL_WALKS].count >= SRV_WALKS_MAX) {
		srv_req_error(s, r, "BUSY %d DBSIZE or KEYS already walking the keys; retry",
		              SRV_WALKS_MAX);
		return;
	}
	if (!walk_open(s, r))
		return;
	r->state = SRV_REQ_WALKING;
	srv_plist_add(s, r, SRV_PL_WALKS);
	uv_idle_start(&s->walk_idle, walk_idle_cb);
}

void srv_walk_free(srv_req *r)
{
	cmd_walk_free(r->walk);
	r->walk = NULL;
}

void srv_walks_drop(srv *s)
{
	size_t n = 0;
	for (srv_req *r = s->plists[SRV_PL_WALKS].head; r; r = r->plink_next, n++)
		srv_walk_free(r);
	if (n > 0)
		RP_INFO("snapshot install: %zu key walk%s start over on the new state", n,
		        n == 1 ? "" : "s");
}

/* One step of the walk at the head of the list, which then goes to the
 * tail: the walks in flight share the loop's spare turns evenly. */
static void walk_idle_cb(uv_idle_t *h)
{
	srv *s = h->data;
	srv_req *r = s->plists[SRV_PL_WALKS].head;
	if (r != NULL && ((r->origin == SRV_ORIGIN_CLIENT && r->conn == NULL) ||
	                  (r->origin == SRV_ORIGIN_FORWARD && r->peer == NULL))) {
		srv_req_finish(s, r); /* nobody is left to answer */
		r = NULL;
	}
	if (r != NULL && s->stopping != 2 && (r->walk != NULL || walk_open(s, r))) {
		bool done = false;
		(void)cmd_walk_step(r->walk, SRV_WALK_STEP_KEYS, &done);
		if (done) {
			resp_out_reset(&r->reply);
			if (cmd_walk_reply(r->walk, &r->reply) != 0 || r->reply.err != 0) {
				/* Never a cut-off reply: say what went wrong instead. */
				resp_out_reset(&r->reply);
				(void)resp_add_errorf(&r->reply, "ERR the %s reply does not fit in "
				                      "the reply limit; use SCAN", r->spec->name);
			}
			s->reads++;
			srv_req_finish(s, r); /* frees the walk */
		} else {
			srv_plist_remove(s, r);
			srv_plist_add(s, r, SRV_PL_WALKS);
		}
	}
	if (s->plists[SRV_PL_WALKS].head == NULL || s->stopping == 2)
		uv_idle_stop(&s->walk_idle);
}
