/*
 * exec.c — what happens to one request (docs/server.md, "Requests"):
 *
 *   local     PING, INFO, COMMAND, RASPUTIN STATUS/NODES: answered at once
 *   write     leader: encoded (cmd_write_build), proposed, answered when the
 *             entry is applied with the term it was proposed in; an entry
 *             replaced by another term's is a definite failure (NOLEADER:
 *             nothing was applied).  Not leader: forwarded.
 *   read      leader: collected per loop turn into one hp_read; served once
 *             the state machine has applied max(read index, the last write
 *             its connection, or the node that forwarded it, proposed
 *             before it), so a pipeline reads its own writes.  Not leader:
 *             forwarded (or served locally on a connection that opted in
 *             to stale reads with READONLY).
 *
 * The UNCERTAIN rule: a write whose fate this node cannot know (it left
 * for the log or for the leader, and no outcome came back before the
 * request timeout or the connection carrying it broke) is answered
 * "-UNCERTAIN", never with a plain failure.  A write that provably did
 * nothing (refused before proposing, NOT_LEADER from the leader, replaced
 * in the log) is answered "-NOLEADER" or "-BUSY", which clients retry.
 *
 * Joins (PEER_F_JOIN_REQ) and the leader's duties (its own address in the
 * book, promoting caught-up learners up to the replication factor) live
 * here too, since they are requests to the log.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"
#include "util/check.h"
#include "util/log.h"

int srv_meta_entry(srv *s, hp_id id, const char *peer_addr, const char *client_addr,
                   sm_buf *out);

/* ------------------------------------------------------------ pending lists */

void srv_plist_add(srv *s, srv_req *r, int which)
{
	RP_CHECK(r->plist == SRV_PL_NONE);
	srv_plist *l = &s->plists[which];
	r->plist = which;
	r->plink_next = NULL;
	r->plink_prev = l->tail;
	if (l->tail)
		l->tail->plink_next = r;
	else
		l->head = r;
	l->tail = r;
	l->count++;
}

/* Writes stay sorted by index (a re-elected leader may propose below an
 * older pending one). */
static void plist_add_write(srv *s, srv_req *r)
{
	srv_plist *l = &s->plists[SRV_PL_WRITES];
	if (l->tail == NULL || l->tail->index <= r->index) {
		srv_plist_add(s, r, SRV_PL_WRITES);
		return;
	}
	srv_req *at = l->head;
	while (at && at->index <= r->index)
		at = at->plink_next;
	RP_CHECK(at != NULL);
	r->plist = SRV_PL_WRITES;
	r->plink_next = at;
	r->plink_prev = at->plink_prev;
	if (at->plink_prev)
		at->plink_prev->plink_next = r;
	else
		l->head = r;
	at->plink_prev = r;
	l->count++;
}

void srv_plist_remove(srv *s, srv_req *r)
{
	if (r->plist == SRV_PL_NONE)
		return;
	srv_plist *l = &s->plists[r->plist];
	if (r->plink_prev)
		r->plink_prev->plink_next = r->plink_next;
	else
		l->head = r->plink_next;
	if (r->plink_next)
		r->plink_next->plink_prev = r->plink_prev;
	else
		l->tail = r->plink_prev;
	l->count--;
	r->plist = SRV_PL_NONE;
	r->plink_next = r->plink_prev = NULL;
}


/* ------------------------------------------------------------ read barriers */

/* A read waits for the last write its origin proposed before it (its
 * client connection's, or for a forwarded read the forwarding node's), so
 * a pipeline reads its own writes; it waits for no one else's.  A write
 * another client had acknowledged is already applied (and under the read
 * index), so linearizability needs nothing more.  A read once waited for
 * every write proposed before it: a GET beside a bulk load waited up to
 * 2 s for the load's 100 MB in flight. */
static void note_proposed(srv *s, srv_req *r, uint64_t index)
{
	if (r->origin == SRV_ORIGIN_CLIENT) {
		if (r->conn != NULL)
			r->conn->last_proposed = index;
		return;
	}
	if (r->peer == NULL) { /* nobody to answer, but keep the order safe */
		if (index > s->fwd_barrier_floor)
			s->fwd_barrier_floor = index;
		return;
	}
	hp_id node = peer_conn_remote_id(r->peer);
	size_t i = 0;
	while (i < s->fwd_barrier_count && s->fwd_barriers[i].node != node)
		i++;
	if (i == s->fwd_barrier_count) {
		if (s->fwd_barrier_count == SRV_MAX_NODES) {
			/* Full (nodes come and go): the oldest entry's barrier goes
			 * into the floor that every unknown node waits for. */
			if (s->fwd_barriers[0].index > s->fwd_barrier_floor)
				s->fwd_barrier_floor = s->fwd_barriers[0].index;
			memmove(&s->fwd_barriers[0], &s->fwd_barriers[1],
			        (SRV_MAX_NODES - 1) * sizeof(s->fwd_barriers[0]));
			s->fwd_barrier_count--;
		}
		i = s->fwd_barrier_count++;
		s->fwd_barriers[i].node = node;
	}
	s->fwd_barriers[i].index = index;
}

static uint64_t read_barrier(srv *s, const srv_req *r)
{
	if (r->origin == SRV_ORIGIN_CLIENT)
		return r->conn != NULL ? r->conn->last_proposed : 0;
	if (r->peer != NULL) {
		hp_id node = peer_conn_remote_id(r->peer);
		for (size_t i = 0; i < s->fwd_barrier_count; i++)
			if (s->fwd_barriers[i].node == node)
				return s->fwd_barriers[i].index > s->fwd_barrier_floor
				           ? s->fwd_barriers[i].index
				           : s->fwd_barrier_floor;
	}
	return s->fwd_barrier_floor;
}

/* ------------------------------------------------------------- requests */

srv_req *srv_req_create(srv *s, srv_origin origin, size_t argc, const struct resp_arg *argv)
{
	/* One allocation: the request, then its argv, then the arguments'
	 * bytes (each NUL-terminated).  The argument lengths are bounded by
	 * the RESP parser's limits, far from overflowing. */
	size_t bytes = 0;
	for (size_t i = 0; i < argc; i++)
		bytes += argv[i].len + 1;
	size_t head = sizeof(srv_req) + (argc ? argc : 1) * sizeof(struct resp_arg);
	srv_req *r = calloc(1, head + (bytes ? bytes : 1));
	if (r == NULL)
		return NULL;
	r->argv = (struct resp_arg *)(r + 1);
	r->args_buf = (char *)r + head;
	char *p = r->args_buf;
	for (size_t i = 0; i < argc; i++) {
		memcpy(p, argv[i].ptr, argv[i].len);
		p[argv[i].len] = '\0';
		r->argv[i].ptr = p;
		r->argv[i].len = argv[i].len;
		p += argv[i].len + 1;
	}
	r->argc = argc;
	r->origin = origin;
	r->proto = 2;
	r->id = ++s->next_req_id;
	r->start_us = srv_mono_us();
	r->deadline_us = r->start_us + (uint64_t)s->cfg.request_timeout_ms * 1000;
	resp_out_init(&r->reply, s->cfg.client_output_limit_bytes);
	return r;
}

void srv_req_free(srv_req *r)
{
	if (r == NULL)
		return;
	srv_walk_free(r);
	resp_out_deinit(&r->reply);
	free(r); /* argv and args_buf live in the same block */
}

static bool arg_is(const struct resp_arg *a, const char *word)
{
	return a->len == strlen(word) && strncasecmp(a->ptr, word, a->len) == 0;
}

static bool req_is_write(const srv_req *r)
{
	return r->spec && (r->spec->flags & CMD_F_WRITE);
}

void srv_req_finish(srv *s, srv_req *r)
{
	srv_plist_remove(s, r);
	srv_walk_free(r);
	r->state = SRV_REQ_DONE;
	uint64_t took = srv_mono_us() - r->start_us;
	if (r->spec && (r->spec->flags & CMD_F_WRITE))
		rp_hist_record(&s->write_hist, took);
	else if (r->spec && (r->spec->flags & CMD_F_READ))
		rp_hist_record(&s->read_hist, took);
	if (r->origin == SRV_ORIGIN_FORWARD) {
		if (r->peer) {
			peer_fwd_resp resp = {.req_id = r->fwd_req_id,
			                      .status = r->fwd_status ? r->fwd_status : PEER_FWD_OK,
			                      .reply = (const uint8_t *)r->reply.data,
			                      .reply_len = r->reply.len};
			peer_buf_reset(&s->fbuf);
			int rc = peer_encode_fwd_resp(&s->fbuf, &resp);
			if (rc == 0)
				rc = peer_reply(r->peer, s->fbuf.data, s->fbuf.len);
			if (rc == RP_ERR_NOSPC) {
				/* The reply is over the frame limit: say so instead. */
				static const char msg[] = "-ERR the reply is too large to forward; ask the "
				                          "leader directly\r\n";
				resp.reply = (const uint8_t *)msg;
				resp.reply_len = sizeof(msg) - 1;
				peer_buf_reset(&s->fbuf);
				if (peer_encode_fwd_resp(&s->fbuf, &resp) == 0)
					(void)peer_reply(r->peer, s->fbuf.data, s->fbuf.len);
			}
		}
		srv_req_free(r);
		return;
	}
	if (r->conn && r->counted_read)
		srv_conn_read_done(r->conn); /* may dispatch requests held behind it */
	if (r->conn)
		srv_conn_req_done(r->conn);
	else
		srv_req_free(r); /* the connection went away meanwhile */
}

void srv_req_error(srv *s, srv_req *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_out_reset(&r->reply);
	(void)resp_add_error(&r->reply, msg, strlen(msg));
	s->errors++;
	srv_req_finish(s, r);
}

/* Nothing was done; the client may retry (elsewhere). */
static void req_fail_noleader(srv *s, srv_req *r, const char *why)
{
	if (r->origin == SRV_ORIGIN_FORWARD)
		r->fwd_status = PEER_FWD_NOT_LEADER;
	srv_req_error(s, r, "NOLEADER %s", why);
}

/* The write may or may not have been applied. */
static void req_fail_uncertain(srv *s, srv_req *r, const char *why)
{
	if (r->origin == SRV_ORIGIN_FORWARD)
		r->fwd_status = PEER_FWD_UNCERTAIN;
	s->uncertain++;
	srv_req_error(s, r, "UNCERTAIN %s; the write may or may not have been applied", why);
}

/* A failure after the request may have reached the log. */
static void req_fail(srv *s, srv_req *r, const char *why)
{
	if (req_is_write(r) && r->may_have_applied)
		req_fail_uncertain(s, r, why);
	else
		req_fail_noleader(s, r, why);
}

/* ------------------------------------------------------------- forwarding */

static void forward(srv *s, srv_req *r)
{
	if (r->origin == SRV_ORIGIN_FORWARD) {
		/* We are not the leader the sender thought: it retries. */
		req_fail(s, r, "this node is not the leader");
		return;
	}
	hp_id leader = s->st.leader;
	const srv_node_addr *a = leader ? srv_addr_find(s, leader) : NULL;
	if (leader == 0 || leader == s->node_id || a == NULL) {
		r->state = SRV_REQ_WAIT_LEADER;
		srv_plist_add(s, r, SRV_PL_WAITING);
		return;
	}
	peer_fwd_req f = {.req_id = r->id,
	                  .proto = (uint8_t)r->proto,
	                  .client = r->client,
	                  .seq = r->seq,
	                  .argc = (uint32_t)r->argc,
	                  .argv = r->argv};
	peer_buf_reset(&s->fbuf);
	int rc = peer_encode_fwd_req(&s->fbuf, &f);
	if (rc == 0)
		rc = peer_send(s->pt, leader, s->fbuf.data, s->fbuf.len);
	if (rc == RP_ERR_NOSPC || rc == RP_ERR_INVALID) {
		/* Too large for a peer frame: retrying cannot help. */
		srv_req_error(s, r, "ERR the command is too large to forward to the leader");
		return;
	}
	if (rc != 0) {
		r->state = SRV_REQ_WAIT_LEADER;
		srv_plist_add(s, r, SRV_PL_WAITING);
		return;
	}
	if (req_is_write(r))
		r->may_have_applied = true;
	r->forwarded_to = leader;
	r->state = SRV_REQ_FORWARDED;
	s->forwarded++;
	srv_plist_add(s, r, SRV_PL_FORWARDS);
}

/* ---------------------------------------------------------------- writes */

/* The proposal buffer is kept between writes (no allocation per write),
 * but not at the size of one large write. */
enum { ENTRY_BUF_KEEP_BYTES = 64 * 1024 };

static void propose_cmd(srv *s, srv_req *r)
{
	sm_buf *entry = &s->entry_buf;
	resp_out_reset(&r->reply);
	int rc = cmd_write_build(r->spec, r->argc, r->argv, r->client, r->seq, &s->lim, entry,
	                         &r->plan, &r->reply);
	uint64_t index = 0, term = 0;
	int hrc = HP_OK;
	if (rc == 0) /* hp_propose copies the entry */
		hrc = hp_propose(s->core, srv_now_us(s), entry->data, (uint32_t)entry->size,
		                 &index, &term);
	if (entry->cap > ENTRY_BUF_KEEP_BYTES)
		sm_buf_deinit(entry);
	if (rc != 0) {
		s->errors++;
		srv_req_finish(s, r); /* the error reply is in r->reply */
		return;
	}
	switch (hrc) {
	case HP_OK:
		r->index = index;
		r->term = term;
		r->kind = SRV_KIND_CMD;
		r->state = SRV_REQ_PROPOSED;
		r->may_have_applied = true;
		note_proposed(s, r, index);
		s->writes++;
		plist_add_write(s, r);
		return;
	case HP_ERR_NOT_LEADER:
	case HP_ERR_TRANSFERRING:
		forward(s, r);
		return;
	case HP_ERR_BUSY:
		if (r->origin == SRV_ORIGIN_FORWARD)
			r->fwd_status = PEER_FWD_OK;
		srv_req_error(s, r, "BUSY too many writes in flight; retry");
		return;
	case HP_ERR_TOO_LARGE:
		srv_req_error(s, r, "ERR the command is larger than the maximum entry size");
		return;
	default:
		srv_req_error(s, r, "ERR cannot propose: %s", hp_strerror(hrc));
		return;
	}
}

static void propose_conf(srv *s, srv_req *r, hp_conf_op op, hp_id id)
{
	uint64_t index = 0, term = 0;
	int hrc = hp_propose_conf(s->core, srv_now_us(s), op, id, &index, &term);
	if (hrc == HP_ERR_NOT_LEADER) {
		forward(s, r);
		return;
	}
	if (hrc != HP_OK) {
		srv_req_error(s, r, "ERR membership change refused: %s", hp_strerror(hrc));
		return;
	}
	r->index = index;
	r->term = term;
	r->kind = SRV_KIND_CONF;
	r->state = SRV_REQ_PROPOSED;
	r->may_have_applied = true;
	note_proposed(s, r, index);
	plist_add_write(s, r);
}

void srv_exec_applied(srv *s, const hp_entry *e, const sm_result *res)
{
	srv_plist *l = &s->plists[SRV_PL_WRITES];
	while (l->head && l->head->index <= e->index) {
		srv_req *r = l->head;
		if (r->index < e->index) {
			/* Skipped by a snapshot install: its fate is not known here. */
			req_fail_uncertain(s, r, "a snapshot replaced the log");
			continue;
		}
		if (r->term != e->term) {
			r->may_have_applied = false; /* another term's entry holds its index */
			req_fail_noleader(s, r, "leadership changed before the write committed; it was "
			                        "not applied");
			continue;
		}
		srv_plist_remove(s, r);
		resp_out_reset(&r->reply);
		if (r->kind == SRV_KIND_CMD)
			(void)cmd_write_reply(&r->plan, res, r->proto, &r->reply);
		else
			(void)resp_add_simple(&r->reply, "OK", 2);
		srv_req_finish(s, r);
	}
}

/* ----------------------------------------------------------------- reads */

static srv_read_batch *rbatch_find(srv *s, uint64_t id)
{
	for (size_t i = 0; i < s->rbatch_count; i++)
		if (s->rbatches[i].id == id)
			return &s->rbatches[i];
	return NULL;
}

static void rbatch_release(srv *s, uint64_t id)
{
	for (size_t i = 0; i < s->rbatch_count; i++) {
		if (s->rbatches[i].id != id)
			continue;
		RP_CHECK(s->rbatches[i].waiting > 0);
		if (--s->rbatches[i].waiting == 0)
			s->rbatches[i] = s->rbatches[--s->rbatch_count];
		return;
	}
}

static void read_now(srv *s, srv_req *r)
{
	if (cmd_read_is_walk(r->spec)) {
		srv_walk_begin(s, r); /* walks.c: a step per loop turn */
		return;
	}
	resp_out_reset(&r->reply);
	(void)cmd_read_exec(r->spec, r->argc, r->argv, s->sm, s->cursors, r->proto, &r->reply);
	s->reads++;
	srv_req_finish(s, r);
}

static void read_enqueue(srv *s, srv_req *r)
{
	if (s->open_read_batch == 0) {
		if (s->rbatch_count == s->rbatch_cap) {
			size_t cap = s->rbatch_cap ? s->rbatch_cap * 2 : 16;
			srv_read_batch *b = realloc(s->rbatches, cap * sizeof(*b));
			RP_CHECK(b != NULL);
			s->rbatches = b;
			s->rbatch_cap = cap;
		}
		srv_read_batch *b = &s->rbatches[s->rbatch_count++];
		memset(b, 0, sizeof(*b));
		b->id = ++s->next_read_batch;
		s->open_read_batch = b->id;
	}
	srv_read_batch *b = rbatch_find(s, s->open_read_batch);
	RP_CHECK(b != NULL);
	b->waiting++;
	r->read_batch = b->id;
	r->barrier = read_barrier(s, r);
	r->state = SRV_REQ_READING;
	srv_plist_add(s, r, SRV_PL_READS);
}

void srv_exec_flush_reads(srv *s)
{
	if (s->open_read_batch == 0)
		return;
	uint64_t id = s->open_read_batch;
	s->open_read_batch = 0;
	int hrc = s->core ? hp_read(s->core, srv_now_us(s), id) : HP_ERR_NOT_LEADER;
	if (hrc == HP_OK)
		return;
	/* Not the leader after all (or overloaded): re-dispatch the batch. */
	srv_req *r = s->plists[SRV_PL_READS].head;
	while (r) {
		srv_req *next = r->plink_next;
		if (r->read_batch == id) {
			srv_plist_remove(s, r);
			rbatch_release(s, id);
			r->read_batch = 0;
			if (hrc == HP_ERR_BUSY)
				srv_req_error(s, r, "BUSY too many reads in flight; retry");
			else
				forward(s, r);
		}
		r = next;
	}
}

void srv_exec_read_state(srv *s, uint64_t ctx, uint64_t index)
{
	srv_read_batch *b = rbatch_find(s, ctx);
	if (b == NULL)
		return;
	b->has_index = true;
	b->index = index;
}

void srv_exec_after_apply(srv *s)
{
	uint64_t applied = sm_applied_index(s->sm, SRV_GROUP);
	srv_req *r = s->plists[SRV_PL_READS].head;
	while (r) {
		srv_req *next = r->plink_next;
		srv_read_batch *b = rbatch_find(s, r->read_batch);
		if (b && b->has_index && applied >= b->index && applied >= r->barrier) {
			srv_plist_remove(s, r);
			rbatch_release(s, r->read_batch);
			r->read_batch = 0;
			read_now(s, r);
		}
		r = next;
	}
}

/* ----------------------------------------------------------------- admin */

static const char *role_text(const srv *s)
{
	if (!s->joined)
		return "joining";
	if (s->st.role == HP_FOLLOWER && hp_conf_is_learner(&s->st.conf, s->node_id))
		return "learner";
	switch (s->st.role) {
	case HP_LEADER:
		return "leader";
	case HP_CANDIDATE:
		return "candidate";
	case HP_PRE_CANDIDATE:
		return "pre-candidate";
	default:
		return "follower";
	}
}

/* What is left of the leader's lease, for STATUS and INFO (0 if none). */
static uint64_t lease_remaining_ms(const hp_status *st, uint64_t now)
{
	return st->lease_valid && st->lease_until_us > now ? (st->lease_until_us - now) / 1000 : 0;
}

static void add_kv_int(struct resp_out *o, const char *k, int64_t v)
{
	(void)resp_add_bulk(o, k, strlen(k));
	(void)resp_add_int(o, v);
}

static void add_kv_str(struct resp_out *o, const char *k, const char *v)
{
	(void)resp_add_bulk(o, k, strlen(k));
	(void)resp_add_bulk(o, v, strlen(v));
}

void srv_status_reply(srv *s, srv_req *r)
{
	struct resp_out *o = &r->reply;
	uint64_t now = srv_now_us(s);
	hp_status st;
	hp_get_status(s->core, now, &st);
	const srv_node_addr *la = st.leader ? srv_addr_find(s, st.leader) : NULL;
	uint64_t remaining = lease_remaining_ms(&st, now);
	(void)resp_add_map(o, r->proto, 14);
	add_kv_int(o, "node_id", (int64_t)s->node_id);
	add_kv_str(o, "role", role_text(s));
	add_kv_int(o, "term", (int64_t)st.term);
	add_kv_int(o, "leader_id", (int64_t)st.leader);
	add_kv_str(o, "leader_client_addr", la ? la->client_addr : "");
	add_kv_int(o, "commit_index", (int64_t)st.commit);
	add_kv_int(o, "applied_index", (int64_t)sm_applied_index(s->sm, SRV_GROUP));
	add_kv_int(o, "last_index", (int64_t)st.last_index);
	add_kv_str(o, "lease", st.lease_valid ? "valid" : "none");
	add_kv_int(o, "lease_remaining_ms", (int64_t)remaining);
	add_kv_int(o, "voters", st.conf.voter_count);
	add_kv_int(o, "learners", st.conf.learner_count);
	char cid[24];
	snprintf(cid, sizeof(cid), "%016llx", (unsigned long long)s->cluster_id);
	add_kv_str(o, "cluster_id", cid);
	add_kv_int(o, "leader_changes", (int64_t)s->leader_changes);
	srv_req_finish(s, r);
}

static void nodes_add(srv *s, struct resp_out *o, hp_id id, const char *kind)
{
	const srv_node_addr *a = srv_addr_find(s, id);
	char idbuf[24];
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)id);
	(void)resp_add_array(o, 4);
	(void)resp_add_bulk(o, idbuf, strlen(idbuf));
	const char *pa = a ? a->peer_addr : "";
	const char *ca = a ? a->client_addr : "";
	(void)resp_add_bulk(o, pa, strlen(pa));
	(void)resp_add_bulk(o, ca, strlen(ca));
	(void)resp_add_bulk(o, kind, strlen(kind));
}

static void nodes_reply(srv *s, srv_req *r)
{
	const hp_conf *c = &s->st.conf;
	(void)resp_add_array(&r->reply, c->voter_count + c->learner_count);
	for (uint32_t i = 0; i < c->voter_count; i++)
		nodes_add(s, &r->reply, c->voters[i], "voter");
	for (uint32_t i = 0; i < c->learner_count; i++)
		nodes_add(s, &r->reply, c->learners[i], "learner");
	srv_req_finish(s, r);
}

static bool parse_id(const struct resp_arg *a, hp_id *out)
{
	if (a->len == 0 || a->len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < a->len; i++) {
		char ch = a->ptr[i];
		if (ch < '0' || ch > '9')
			return false;
		uint64_t d = (uint64_t)(ch - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return v != 0;
}

static void exec_admin(srv *s, srv_req *r)
{
	if (r->argc < 2) {
		srv_req_error(s, r, "ERR wrong number of arguments for 'rasputin' command");
		return;
	}
	const struct resp_arg *sub = &r->argv[1];
	if (arg_is(sub, "STATUS")) {
		srv_status_reply(s, r);
		return;
	}
	if (arg_is(sub, "NODES")) {
		nodes_reply(s, r);
		return;
	}
	bool remove = arg_is(sub, "REMOVE"), promote = arg_is(sub, "PROMOTE");
	if (remove || promote) {
		hp_id id = 0;
		if (r->argc != 3 || !parse_id(&r->argv[2], &id)) {
			srv_req_error(s, r, "ERR usage: RASPUTIN %s <node-id>", remove ? "REMOVE" : "PROMOTE");
			return;
		}
		if (!srv_is_leader(s)) {
			forward(s, r);
			return;
		}
		propose_conf(s, r, remove ? HP_CONF_REMOVE : HP_CONF_PROMOTE, id);
		return;
	}
	if (arg_is(sub, "TRANSFER")) {
		hp_id id = 0;
		if (r->argc > 3 || (r->argc == 3 && !parse_id(&r->argv[2], &id))) {
			srv_req_error(s, r, "ERR usage: RASPUTIN TRANSFER [node-id]");
			return;
		}
		if (!srv_is_leader(s)) {
			forward(s, r);
			return;
		}
		int hrc = hp_transfer(s->core, srv_now_us(s), id);
		if (hrc != HP_OK) {
			srv_req_error(s, r, "ERR transfer refused: %s", hp_strerror(hrc));
			return;
		}
		(void)resp_add_simple(&r->reply, "OK", 2);
		srv_req_finish(s, r);
		return;
	}
	srv_req_error(s, r,
	              "ERR unknown RASPUTIN subcommand '%.*s'; try STATUS, NODES, REMOVE, PROMOTE, "
	              "TRANSFER or SEQ",
	              (int)(sub->len > 64 ? 64 : sub->len), sub->ptr);
}

/* RASPUTIN SEQ <client> <seq> <command...>: unwraps in place. */
static int unwrap_session(srv *s, srv_req *r)
{
	hp_id client = 0, seq = 0;
	if (r->argc < 5 || !parse_id(&r->argv[2], &client) || !parse_id(&r->argv[3], &seq)) {
		srv_req_error(s, r, "ERR usage: RASPUTIN SEQ <client-id> <seq> <command> [args...] "
		                    "(ids are non-zero decimal integers)");
		return -1;
	}
	r->client = client;
	r->seq = seq;
	memmove(r->argv, r->argv + 4, (r->argc - 4) * sizeof(*r->argv));
	r->argc -= 4;
	return 0;
}

/* ------------------------------------------------------------- dispatch */

uint32_t srv_exec_kind(srv_req *r)
{
	if (r->argc == 0)
		return 0;
	if (r->argc >= 2 && arg_is(&r->argv[0], "RASPUTIN") && arg_is(&r->argv[1], "SEQ"))
		return CMD_F_WRITE; /* srv_exec unwraps it */
	if (r->spec == NULL) /* kept: srv_exec looks it up no more */
		r->spec = cmd_lookup(r->argv[0].ptr, r->argv[0].len);
	return r->spec ? r->spec->flags & (CMD_F_READ | CMD_F_WRITE) : 0;
}

void srv_exec(srv *s, srv_req *r)
{
	s->total_commands++;
	if (r->argc >= 2 && arg_is(&r->argv[0], "RASPUTIN") && arg_is(&r->argv[1], "SEQ")) {
		if (unwrap_session(s, r) != 0)
			return;
		r->spec = cmd_lookup(r->argv[0].ptr, r->argv[0].len);
		if (r->spec == NULL || !(r->spec->flags & CMD_F_WRITE)) {
			srv_req_error(s, r, "ERR RASPUTIN SEQ wraps write commands only");
			return;
		}
	} else if (r->spec == NULL) {
		r->spec = cmd_lookup(r->argv[0].ptr, r->argv[0].len);
	}
	if (r->spec == NULL) {
		resp_out_reset(&r->reply);
		(void)cmd_unknown_reply(r->argc, r->argv, &r->reply);
		s->errors++;
		srv_req_finish(s, r);
		return;
	}
	if (r->state == SRV_REQ_NEW) {
		resp_out_reset(&r->reply);
		if (cmd_validate(r->spec, r->argc, r->argv, &s->lim, &r->reply) != 0) {
			s->errors++;
			srv_req_finish(s, r);
			return;
		}
	}
	uint32_t f = r->spec->flags;
	if (f & CMD_F_LOCAL) {
		resp_out_reset(&r->reply);
		if (r->spec->id == CMD_ID_INFO) {
			cmd_info info;
			srv_fill_info(s, &info);
			(void)cmd_info_reply(&info, r->argc, r->argv, r->proto, &r->reply);
		} else if (r->spec->id == CMD_ID_CONFIG) {
			cmd_config_values v;
			cmd_config_default(&v);
			v.max_clients = s->cfg.max_clients;
			v.proto_max_bulk_len = s->cfg.max_value_bytes;
			v.port = s->cfg.cli_port;
			v.dir = s->cfg.storage_dir;
			(void)cmd_config_reply(&v, r->argc, r->argv, r->proto, &r->reply);
		} else {
			(void)cmd_local_exec(r->spec, r->argc, r->argv, r->proto, &r->reply);
		}
		srv_req_finish(s, r);
		return;
	}
	if (f & CMD_F_ADMIN) {
		exec_admin(s, r);
		return;
	}
	if (s->core == NULL || !s->joined) {
		req_fail_noleader(s, r, "this node has not joined a cluster yet");
		return;
	}
	if (f & CMD_F_WRITE) {
		if (srv_is_leader(s))
			propose_cmd(s, r);
		else
			forward(s, r);
		return;
	}
	if (f & CMD_F_READ) {
		if (r->stale_ok || (s->cfg.debug_stale_follower_reads && !srv_is_leader(s))) {
			read_now(s, r);
			return;
		}
		if (srv_is_leader(s))
			read_enqueue(s, r);
		else
			forward(s, r);
		return;
	}
	srv_req_error(s, r, "ERR '%s' cannot be used here", r->spec->name);
}

/* ------------------------------------------------------- role and timers */

void srv_exec_role_changed(srv *s, hp_role old_role, hp_role new_role)
{
	if (old_role != HP_LEADER || new_role == HP_LEADER)
		return;
	/* Reads without a read index will not get one from this node any more:
	 * forward them (a read has no effect, so redoing it is safe).  Reads
	 * with an index stay: it was confirmed while this node led. */
	srv_req *r = s->plists[SRV_PL_READS].head;
	while (r) {
		srv_req *next = r->plink_next;
		srv_read_batch *b = rbatch_find(s, r->read_batch);
		if (b == NULL || !b->has_index) {
			srv_plist_remove(s, r);
			if (b)
				rbatch_release(s, r->read_batch);
			r->read_batch = 0;
			r->state = SRV_REQ_WAIT_LEADER;
			srv_plist_add(s, r, SRV_PL_WAITING);
		}
		r = next;
	}
}

/* Requests forwarded to a node that is no longer the leader may never be
 * answered (it may be dead): redo those that are safe to redo (reads, and
 * writes in a session, which the state machine deduplicates); a plain
 * write that may have been applied is UNCERTAIN at once rather than after
 * the whole request timeout. */
void srv_exec_leader_changed(srv *s)
{
	srv_req *r = s->plists[SRV_PL_FORWARDS].head;
	while (r) {
		srv_req *next = r->plink_next;
		if (r->forwarded_to != s->st.leader) {
			srv_plist_remove(s, r);
			if (req_is_write(r) && r->client == 0) {
				req_fail_uncertain(s, r, "the leader changed while the write was in flight");
			} else {
				r->state = SRV_REQ_WAIT_LEADER;
				srv_plist_add(s, r, SRV_PL_WAITING);
			}
		}
		r = next;
	}
}

static void retry_waiting(srv *s)
{
	/* Detach the list first: a retry may put a request straight back on
	 * it (the leader is still unreachable). */
	srv_plist *l = &s->plists[SRV_PL_WAITING];
	srv_req *r = l->head;
	l->head = l->tail = NULL;
	l->count = 0;
	uint64_t now = srv_mono_us();
	/* Without a leader for this long (a few elections), say so rather than
	 * keep the client waiting for the whole request timeout. */
	uint64_t patience = 3 * (uint64_t)s->cfg.lease_ms * 1000;
	while (r) {
		srv_req *next = r->plink_next;
		r->plist = SRV_PL_NONE;
		r->plink_next = r->plink_prev = NULL;
		if (r->wait_since_us == 0)
			r->wait_since_us = now;
		if (now >= r->deadline_us || now - r->wait_since_us >= patience) {
			req_fail(s, r, "no leader is known; retry later");
		} else if (srv_is_leader(s)) {
			r->wait_since_us = 0;
			uint32_t f = r->spec->flags;
			if (f & CMD_F_WRITE)
				propose_cmd(s, r);
			else if (f & CMD_F_READ)
				read_enqueue(s, r);
			else
				exec_admin(s, r);
		} else {
			forward(s, r);
		}
		r = next;
	}
}

static void expire(srv *s, int which, uint64_t now)
{
	srv_req *r = s->plists[which].head;
	while (r) {
		srv_req *next = r->plink_next;
		if (now >= r->deadline_us) {
			if (which == SRV_PL_READS) {
				srv_plist_remove(s, r);
				rbatch_release(s, r->read_batch);
				r->read_batch = 0;
			}
			req_fail(s, r, "request timed out");
		}
		r = next;
	}
}

/* The leader's duties: its own address in the book, voters up to the
 * replication factor. */
static void leader_duties(srv *s)
{
	if (!srv_is_leader(s))
		return;
	const srv_node_addr *me = srv_addr_find(s, s->node_id);
	uint64_t now = srv_mono_us();
	if ((me == NULL || !me->replicated || strcmp(me->peer_addr, s->peer_addr) != 0 ||
	     strcmp(me->client_addr, s->client_addr) != 0) &&
	    now - s->meta_sent_us > 1000000) {
		sm_buf e;
		sm_buf_init(&e);
		if (srv_meta_entry(s, s->node_id, s->peer_addr, s->client_addr, &e) == 0) {
			uint64_t index, term;
			if (hp_propose(s->core, srv_now_us(s), e.data, (uint32_t)e.size, &index, &term) ==
			    HP_OK) {
				s->meta_sent_us = now;
			}
		}
		sm_buf_deinit(&e);
	}
	const hp_conf *c = &s->st.conf;
	if (c->voter_count < s->cfg.replication_factor && c->learner_count > 0) {
		for (uint32_t i = 0; i < c->learner_count; i++) {
			const srv_node_addr *a = srv_addr_find(s, c->learners[i]);
			if (a == NULL || !a->replicated)
				continue;
			uint64_t index, term;
			int hrc = hp_propose_conf(s->core, srv_now_us(s), HP_CONF_PROMOTE, c->learners[i],
			                          &index, &term);
			if (hrc == HP_OK) {
				RP_INFO("promoting learner n%llu to voter (%u of %u voters)",
				        (unsigned long long)c->learners[i], c->voter_count + 1,
				        s->cfg.replication_factor);
				break;
			}
			if (hrc == HP_ERR_CONF_PENDING)
				break;
		}
	}
}

static void join_tick(srv *s);

void srv_exec_timers(srv *s)
{
	uint64_t now = srv_mono_us();
	expire(s, SRV_PL_WRITES, now);
	expire(s, SRV_PL_READS, now);
	expire(s, SRV_PL_FORWARDS, now);
	retry_waiting(s);
	leader_duties(s);
	join_tick(s);
}

void srv_exec_fail_all(srv *s, const char *why)
{
	for (int which = 1; which < SRV_PL_COUNT; which++) {
		while (s->plists[which].head) {
			srv_req *r = s->plists[which].head;
			if (which == SRV_PL_READS) {
				srv_plist_remove(s, r);
				rbatch_release(s, r->read_batch);
			}
			req_fail(s, r, why);
		}
	}
}

/* ------------------------------------------------------------------ joins */

static void join_reply(srv *s, peer_conn *c, int32_t status, const char *msg)
{
	peer_join_resp resp;
	memset(&resp, 0, sizeof(resp));
	resp.status = status;
	resp.cluster_id = s->cluster_id;
	resp.leader_id = s->st.leader;
	const srv_node_addr *la = s->st.leader ? srv_addr_find(s, s->st.leader) : NULL;
	if (la) {
		resp.leader_addr = la->peer_addr;
		resp.leader_addr_len = strlen(la->peer_addr);
	}
	resp.message = msg;
	resp.message_len = strlen(msg);
	peer_buf_reset(&s->fbuf);
	if (peer_encode_join_resp(&s->fbuf, &resp) == 0)
		(void)peer_reply(c, s->fbuf.data, s->fbuf.len);
}

static void on_join_req(srv *s, peer_conn *c, const peer_join_req *j)
{
	char pa[PEER_ADDR_MAX + 1], ca[PEER_ADDR_MAX + 1];
	snprintf(pa, sizeof(pa), "%.*s", (int)j->peer_addr_len, j->peer_addr);
	snprintf(ca, sizeof(ca), "%.*s", (int)j->client_addr_len, j->client_addr);
	if (!srv_is_leader(s)) {
		join_reply(s, c, PEER_JOIN_NOT_LEADER, "not the leader");
		return;
	}
	if (j->node_id == 0 || pa[0] == '\0') {
		join_reply(s, c, PEER_JOIN_REFUSED, "a joining node needs an id and a peer address");
		return;
	}
	if ((j->flags & PEER_JOIN_FRESH) && hp_conf_is_voter(&s->st.conf, j->node_id)) {
		/* A new node under a voter's id: it would vote with an empty log. */
		char msg[160];
		snprintf(msg, sizeof(msg),
		         "node id %llu is already a member; give the new node another --node-id "
		         "(or remove %llu first)",
		         (unsigned long long)j->node_id, (unsigned long long)j->node_id);
		join_reply(s, c, PEER_JOIN_REFUSED, msg);
		return;
	}
	const srv_node_addr *a = srv_addr_find(s, j->node_id);
	if (a == NULL || !a->replicated || strcmp(a->peer_addr, pa) != 0 ||
	    strcmp(a->client_addr, ca) != 0) {
		sm_buf e;
		sm_buf_init(&e);
		int rc = srv_meta_entry(s, j->node_id, pa, ca, &e);
		uint64_t index, term;
		if (rc == 0)
			(void)hp_propose(s->core, srv_now_us(s), e.data, (uint32_t)e.size, &index,
			                 &term);
		sm_buf_deinit(&e);
		join_reply(s, c, PEER_JOIN_BUSY, "recording the node's addresses");
		return;
	}
	const hp_conf *conf = &s->st.conf;
	bool member = hp_conf_is_voter(conf, j->node_id) || hp_conf_is_learner(conf, j->node_id);
	if (!member) {
		/* A member at the same peer address is this machine's former self
		 * (its log was found corrupt and moved aside, so it came back under
		 * a new id): remove the old identity first, one change at a time. */
		for (size_t i = 0; i < s->node_count; i++) {
			const srv_node_addr *o = &s->nodes[i];
			if (o->id == j->node_id || o->id == s->node_id || !o->replicated ||
			    strcmp(o->peer_addr, pa) != 0)
				continue;
			if (!hp_conf_is_voter(conf, o->id) && !hp_conf_is_learner(conf, o->id))
				continue;
			uint64_t index, term;
			int hrc = hp_propose_conf(s->core, srv_now_us(s), HP_CONF_REMOVE, o->id, &index,
			                          &term);
			if (hrc == HP_OK) {
				RP_WARN("n%llu rejoins from %s, the address of member n%llu: removing "
				        "n%llu (its data was lost) before adding the new identity",
				        (unsigned long long)j->node_id, pa, (unsigned long long)o->id,
				        (unsigned long long)o->id);
			}
			join_reply(s, c, PEER_JOIN_BUSY, "replacing the node's former identity");
			return;
		}
	}
	if (!member) {
		uint64_t index, term;
		int hrc = hp_propose_conf(s->core, srv_now_us(s), HP_CONF_ADD_LEARNER, j->node_id,
		                          &index, &term);
		if (hrc == HP_OK) {
			RP_INFO("adding n%llu (%s) as a learner", (unsigned long long)j->node_id, pa);
		} else if (hrc != HP_ERR_CONF_PENDING) {
			join_reply(s, c, PEER_JOIN_REFUSED, hp_strerror(hrc));
			return;
		}
		join_reply(s, c, PEER_JOIN_BUSY, "adding the node as a learner");
		return;
	}
	join_reply(s, c, 0, "joined");
}

/* Asks the node at addr (a seed, or the leader a seed named) to let us in. */
static void send_join(srv *s, const char *addr)
{
	peer_join_req req = {.node_id = s->node_id,
	                     .flags = s->st.last_index == 0 && s->st.term == 0 ? PEER_JOIN_FRESH : 0,
	                     .peer_addr = s->peer_addr,
	                     .peer_addr_len = strlen(s->peer_addr),
	                     .client_addr = s->client_addr,
	                     .client_addr_len = strlen(s->client_addr)};
	peer_buf_reset(&s->fbuf);
	if (peer_encode_join_req(&s->fbuf, &req) == 0)
		(void)peer_send_addr(s->pt, addr, s->fbuf.data, s->fbuf.len);
}

static void on_join_resp(srv *s, const peer_join_resp *j)
{
	if (s->joined && s->cluster_id != 0)
		return;
	if (s->cluster_id == 0 && j->cluster_id != 0 && j->status != PEER_JOIN_REFUSED) {
		/* The cluster we are joining: from now on its frames are ours. */
		s->cluster_id = j->cluster_id;
		peer_transport_set_cluster(s->pt, s->cluster_id);
	}
	if (j->status == 0 && j->cluster_id != 0) {
		s->joined = true;
		s->cluster_id = j->cluster_id;
		peer_transport_set_cluster(s->pt, s->cluster_id);
		char why[256];
		if (srv_ident_save(s, why, sizeof(why)) != 0)
			RP_ERROR("saving the node identity: %s", why);
		RP_INFO("joined cluster %016llx", (unsigned long long)s->cluster_id);
		return;
	}
	if (j->status == PEER_JOIN_NOT_LEADER && j->leader_addr_len > 0) {
		/* Ask the leader next, once. */
		char addr[PEER_ADDR_MAX + 1];
		snprintf(addr, sizeof(addr), "%.*s", (int)j->leader_addr_len, j->leader_addr);
		send_join(s, addr);
		return;
	}
	if (j->status == PEER_JOIN_REFUSED)
		RP_WARN("join refused: %.*s", (int)j->message_len, j->message);
}

static void join_tick(srv *s)
{
	/* Also a member that does not know its cluster id yet (it restarted
	 * before the join answer came): joining again is idempotent. */
	if ((s->joined && s->cluster_id != 0) || s->cfg.seed_count == 0)
		return;
	uint64_t now = srv_mono_us();
	if (now < s->join_next_us)
		return;
	s->join_next_us = now + SRV_JOIN_RETRY_MS * 1000;
	const char *seed = s->cfg.seed_peers[s->join_seed_index % s->cfg.seed_count];
	s->join_seed_index++;
	send_join(s, seed);
}

/* -------------------------------------------------------------- peer frames */

static void on_fwd_req(srv *s, peer_conn *c, const peer_fwd_req *f)
{
	srv_req *r = srv_req_create(s, SRV_ORIGIN_FORWARD, f->argc, f->argv);
	if (r == NULL)
		return; /* the sender times out */
	r->peer = c;
	r->fwd_req_id = f->req_id;
	r->proto = f->proto == 3 ? 3 : 2;
	r->client = f->client;
	r->seq = f->seq;
	if (f->argc == 0) {
		srv_req_error(s, r, "ERR empty forwarded command");
		return;
	}
	/* Validated by the sender, but never trust the network. */
	srv_exec(s, r);
}

static void on_fwd_resp(srv *s, const peer_fwd_resp *f)
{
	srv_req *r = s->plists[SRV_PL_FORWARDS].head;
	while (r && r->id != f->req_id)
		r = r->plink_next;
	if (r == NULL)
		return; /* timed out already */
	srv_plist_remove(s, r);
	switch (f->status) {
	case PEER_FWD_OK:
		resp_out_reset(&r->reply);
		(void)resp_add_raw(&r->reply, (const char *)f->reply, f->reply_len);
		srv_req_finish(s, r);
		return;
	case PEER_FWD_UNCERTAIN:
		req_fail_uncertain(s, r, "the leader lost track of the write");
		return;
	default:
		/* That attempt did nothing: try again once a leader is known. */
		r->state = SRV_REQ_WAIT_LEADER;
		srv_plist_add(s, r, SRV_PL_WAITING);
		return;
	}
}

void srv_exec_peer_frame(srv *s, peer_conn *c, uint64_t from, uint8_t type,
                         const uint8_t *payload, size_t len)
{
	int rc = RP_ERR_CORRUPT;
	switch (type) {
	case PEER_F_MSG: {
		hp_msg m;
		rc = peer_decode_msg(payload, len, &s->scratch, &m);
		if (rc == 0) {
			if (from != 0 && m.from != from)
				rc = RP_ERR_CORRUPT; /* a node speaks only for itself */
			else
				srv_node_step(s, &m);
		}
		break;
	}
	case PEER_F_FWD_REQ: {
		peer_fwd_req f;
		rc = peer_decode_fwd_req(payload, len, &s->scratch, &f);
		if (rc == 0)
			on_fwd_req(s, c, &f);
		break;
	}
	case PEER_F_FWD_RESP: {
		peer_fwd_resp f;
		rc = peer_decode_fwd_resp(payload, len, &f);
		if (rc == 0)
			on_fwd_resp(s, &f);
		break;
	}
	case PEER_F_JOIN_REQ: {
		peer_join_req j;
		rc = peer_decode_join_req(payload, len, &j);
		if (rc == 0)
			on_join_req(s, c, &j);
		break;
	}
	case PEER_F_JOIN_RESP: {
		peer_join_resp j;
		rc = peer_decode_join_resp(payload, len, &j);
		if (rc == 0)
			on_join_resp(s, &j);
		break;
	}
	default:
		break;
	}
	if (rc != 0)
		RP_WARN("dropped a bad frame (type %u, %zu bytes) from n%llu: %s", type, len,
		        (unsigned long long)from, rp_strerror(rc));
}

void srv_exec_peer_closed(srv *s, peer_conn *c)
{
	uint64_t remote = peer_conn_remote_id(c);
	/* Answers to requests that came on it have nowhere to go. */
	for (int which = 1; which < SRV_PL_COUNT; which++)
		for (srv_req *r = s->plists[which].head; r; r = r->plink_next)
			if (r->origin == SRV_ORIGIN_FORWARD && r->peer == c)
				r->peer = NULL;
	/* Requests forwarded to that node lost their way back (forwards leave
	 * and return on our outgoing connection only). */
	if (remote == 0 || !peer_conn_is_outgoing(c))
		return;
	srv_req *r = s->plists[SRV_PL_FORWARDS].head;
	while (r) {
		srv_req *next = r->plink_next;
		if (r->forwarded_to == remote) {
			srv_plist_remove(s, r);
			if (req_is_write(r) && r->client == 0) {
				req_fail_uncertain(s, r, "the connection to the leader broke");
			} else {
				/* A read, or a write in a session (deduplicated): redo. */
				r->state = SRV_REQ_WAIT_LEADER;
				srv_plist_add(s, r, SRV_PL_WAITING);
			}
		}
		r = next;
	}
}

/* ------------------------------------------------------------------- INFO */

/* The allocator's totals over all its arenas (glibc's mallinfo2; zeros
 * elsewhere).  It walks the arenas' free lists: fine for INFO, not for a
 * hot path. */
static void fill_allocator(cmd_info *info)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	info->allocator_allocated_bytes = mi.uordblks + mi.hblkhd;
	info->allocator_free_bytes = mi.fordblks;
#else
	(void)info;
#endif
}

void srv_fill_info(srv *s, cmd_info *info)
{
	memset(info, 0, sizeof(*info));
	static char storage[4096];
	snprintf(storage, sizeof(storage), "%s", s->cfg.storage_dir);
	info->version = RASPUTIN_VERSION;
	info->node_id = s->node_id;
	info->cluster_id = s->cluster_id;
	info->uptime_s = (srv_mono_us() - s->started_us) / 1000000;
	info->pid = (long)uv_os_getpid();
	info->cli_port = s->cfg.cli_port;
	info->peer_port = s->cfg.peer_port;
	info->storage_dir = storage;
	info->role = role_text(s);
	uint64_t now = srv_now_us(s);
	hp_status st;
	hp_get_status(s->core, now, &st);
	info->term = st.term;
	info->leader_id = st.leader;
	info->commit_index = st.commit;
	info->applied_index = sm_applied_index(s->sm, SRV_GROUP);
	info->applied_unflushed = sm_apply_open(s->sm);
	info->last_index = st.last_index;
	info->snapshot_index = st.snapshot_index;
	info->lease_valid = st.lease_valid;
	info->lease_remaining_ms = lease_remaining_ms(&st, now);
	info->voters = st.conf.voter_count;
	info->learners = st.conf.learner_count;
	const srv_node_addr *la = st.leader ? srv_addr_find(s, st.leader) : NULL;
	info->leader_client_addr = la ? la->client_addr : "";
	info->connected_clients = s->conn_count;
	info->max_clients = s->cfg.max_clients;
	info->total_connections = s->total_connections;
	info->rejected_connections = s->rejected_connections;
	info->total_commands = s->total_commands;
	info->writes = s->writes;
	info->reads = s->reads;
	info->forwarded = s->forwarded;
	info->uncertain = s->uncertain;
	info->errors = s->errors;
	wal_stats ws;
	memset(&ws, 0, sizeof(ws));
	if (s->wal)
		wal_get_stats(s->wal, &ws);
	info->wal_fsyncs = ws.fdatasyncs;
	info->wal_bytes = ws.bytes_written;
	info->idle_poll_us = s->cfg.idle_poll_us;
	info->idle_poll_windows = s->ipoll.windows;
	info->idle_poll_turns = s->ipoll.turns;
	info->idle_poll_catches = s->ipoll.catches;
	size_t rss = 0;
	if (uv_resident_set_memory(&rss) == 0)
		info->used_memory_rss_bytes = rss;
	fill_allocator(info);
	info->log_memory_bytes = st.log_memory_bytes;
	if (s->sm != NULL) {
		sm_value_cache_stats(s->sm, &info->value_cache);
		sm_store_memory_stats(s->sm, &info->store);
	}
	info->write_latency = &s->write_hist;
	info->read_latency = &s->read_hist;
}
