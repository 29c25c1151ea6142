/*
 * test_sm_cluster.c — the state machine under the real consensus core: a
 * three-node harpoon group whose nodes apply committed entries to an sm,
 * compact when the core hints, serve snapshots through
 * sm_snapshot_read_cb and install them with sm_install_chunk.  The case
 * the issue asks for: a follower is down while the leader compacts past
 * its log, comes back, catches up by snapshot plus log, and ends with the
 * same state as the others.  Runs on both stores; the RocksDB follower is
 * really closed and reopened, the in-memory one keeps its store across the
 * outage (as the simulator does).
 *
 * The driver is deliberately small: one clock, a FIFO network, a "disk"
 * (the log image) that persists each ready at once.
 */
#define _GNU_SOURCE

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "harpoon/harpoon.h"
#include "storage/sm.h"
#include "test.h"
#include "util/prng.h"

enum { CL_NODES = 3, CL_GROUP = 7 };

typedef struct {
	hp_msg m;
	hp_entry *entries;
	uint8_t *snap_data;
} cl_msg;

typedef struct {
	hp_node *node;
	bool up;
	/* durable image */
	hp_hard_state hs;
	hp_snapshot_meta snap;
	hp_entry *log; /* entries after snap.index */
	uint64_t log_count;
	/* state machine */
	sm *m;
	char dir[96];
	sm_result res;
	uint32_t installs;
	uint32_t compactions;
} cl_node;

typedef struct {
	cl_node n[CL_NODES];
	bool rocks;
	char tmp[64];
	uint64_t now;
	rp_prng prng;
	hp_config cfg;
	hp_conf conf;
	cl_msg *q;
	size_t q_count;
	size_t q_cap;
} cl;

static uint64_t cl_rand(void *ctx)
{
	return rp_prng_next(ctx);
}

static void entry_copy(hp_entry *dst, const hp_entry *src)
{
	*dst = *src;
	dst->data = NULL;
	if (src->size_bytes) {
		uint8_t *d = malloc(src->size_bytes);
		memcpy(d, src->data, src->size_bytes);
		dst->data = d;
	}
}

static void sm_start(cl *c, uint32_t i)
{
	cl_node *n = &c->n[i];
	sm_config cfg;
	sm_config_default(&cfg);
	char why[256];
	int rc = c->rocks ? sm_open_rocks(n->dir, &cfg, &n->m, why, sizeof(why))
			  : sm_open_mem(&cfg, &n->m);
	CHECK_EQ(rc, 0);
}

static void node_start(cl *c, uint32_t i, const hp_conf *initial)
{
	cl_node *n = &c->n[i];
	hp_config cfg = c->cfg;
	cfg.id = i + 1;
	cfg.rand = cl_rand;
	cfg.rand_ctx = &c->prng;
	cfg.snapshot_read = sm_snapshot_read_cb;
	cfg.snapshot_ctx = n->m;
	hp_restore r;
	memset(&r, 0, sizeof(r));
	r.hard_state = n->hs;
	r.snapshot = n->snap;
	r.entries = n->log;
	r.entry_count = n->log_count;
	int rc = 0;
	n->node = hp_create(&cfg, initial, &r, c->now, &rc);
	CHECK(n->node != NULL);
	n->up = true;
}

static void cl_init(cl *c, bool rocks)
{
	memset(c, 0, sizeof(*c));
	c->rocks = rocks;
	c->now = 1000;
	rp_prng_init(&c->prng, 5);
	hp_config_default(&c->cfg);
	c->cfg.group = CL_GROUP;
	c->cfg.snapshot_chunk_bytes = 4096;
	c->cfg.compact_hint_entries = 40;
	if (rocks) {
		strcpy(c->tmp, "/tmp/test_sm_cluster.XXXXXX");
		CHECK(mkdtemp(c->tmp) != NULL);
	}
	hp_conf *conf = &c->conf;
	for (uint32_t i = 0; i < CL_NODES; i++)
		conf->voters[conf->voter_count++] = i + 1;
	for (uint32_t i = 0; i < CL_NODES; i++) {
		cl_node *n = &c->n[i];
		snprintf(n->dir, sizeof(n->dir), "%s/n%u", c->tmp, i + 1);
		sm_result_init(&n->res);
		sm_start(c, i);
		node_start(c, i, conf);
	}
}

static void msg_free(cl_msg *cm)
{
	for (uint32_t i = 0; i < cm->m.entry_count; i++)
		free((void *)cm->entries[i].data);
	free(cm->entries);
	free(cm->snap_data);
}

static void enqueue(cl *c, const hp_msg *m)
{
	if (c->q_count == c->q_cap) {
		c->q_cap = c->q_cap ? c->q_cap * 2 : 64;
		c->q = realloc(c->q, c->q_cap * sizeof(*c->q));
	}
	cl_msg *cm = &c->q[c->q_count++];
	cm->m = *m;
	cm->entries = NULL;
	cm->snap_data = NULL;
	if (m->entry_count) {
		cm->entries = calloc(m->entry_count, sizeof(hp_entry));
		for (uint32_t i = 0; i < m->entry_count; i++)
			entry_copy(&cm->entries[i], &m->entries[i]);
		cm->m.entries = cm->entries;
	}
	if (m->snap_size_bytes) {
		cm->snap_data = malloc(m->snap_size_bytes);
		memcpy(cm->snap_data, m->snap_data, m->snap_size_bytes);
		cm->m.snap_data = cm->snap_data;
	}
}

static void log_drop_through(cl_node *n, uint64_t index)
{
	uint64_t keep = 0;
	for (uint64_t k = 0; k < n->log_count; k++) {
		if (n->log[k].index <= index)
			free((void *)n->log[k].data);
		else
			n->log[keep++] = n->log[k];
	}
	n->log_count = keep;
}

/* Persist, advance, apply, compact: one ready of node i. */
static void drain(cl *c, uint32_t i)
{
	cl_node *n = &c->n[i];
	while (n->up && hp_has_ready(n->node)) {
		hp_ready rd;
		hp_ready_take(n->node, &rd);
		for (size_t k = 0; k < rd.msg_count; k++)
			enqueue(c, &rd.msgs[k]);
		if (rd.has_snap_chunk) {
			CHECK_EQ(sm_install_chunk(n->m, CL_GROUP, &rd.snap_chunk), 0);
			if (rd.snap_chunk.last) {
				n->installs++;
				n->snap = rd.snap_chunk.meta;
				log_drop_through(n, UINT64_MAX);
				CHECK_EQ(sm_applied_index(n->m, CL_GROUP), n->snap.index);
			}
		}
		if (rd.hard_state_changed)
			n->hs = rd.hard_state;
		if (rd.truncate_from) {
			while (n->log_count > 0 &&
			       n->log[n->log_count - 1].index >= rd.truncate_from) {
				free((void *)n->log[n->log_count - 1].data);
				n->log_count--;
			}
		}
		if (rd.entry_count) {
			n->log = realloc(n->log, (n->log_count + rd.entry_count) *
						     sizeof(hp_entry));
			for (size_t k = 0; k < rd.entry_count; k++)
				entry_copy(&n->log[n->log_count++], &rd.entries[k]);
		}
		hp_advance(n->node, rd.seq);
		for (size_t k = 0; k < rd.msg_after_persist_count; k++)
			enqueue(c, &rd.msgs_after_persist[k]);
		for (size_t k = 0; k < rd.committed_count; k++) {
			int rc = sm_apply(n->m, CL_GROUP, &rd.committed[k], &n->res);
			/* after a restart the core hands out what the store may hold */
			CHECK(rc == 0 || rc == RP_ERR_EXISTS);
		}
		if (rd.compact_hint) {
			hp_snapshot_meta meta;
			CHECK_EQ(sm_snapshot_create(n->m, CL_GROUP, &meta), 0);
			CHECK_EQ(hp_compact(n->node, meta.index), 0);
			n->snap = meta;
			log_drop_through(n, meta.index);
			n->compactions++;
		}
	}
}

static void deliver_all(cl *c)
{
	for (int rounds = 0; rounds < 1000; rounds++) {
		for (uint32_t i = 0; i < CL_NODES; i++)
			drain(c, i);
		if (c->q_count == 0)
			return;
		size_t count = c->q_count;
		cl_msg *batch = malloc(count * sizeof(*batch));
		memcpy(batch, c->q, count * sizeof(*batch));
		c->q_count = 0;
		for (size_t k = 0; k < count; k++) {
			uint32_t to = (uint32_t)batch[k].m.to - 1;
			if (to < CL_NODES && c->n[to].up)
				(void)hp_step(c->n[to].node, c->now, &batch[k].m);
			msg_free(&batch[k]);
		}
		free(batch);
	}
}

static void run_for(cl *c, uint64_t us)
{
	for (uint64_t t = 0; t < us; t += 10000) {
		c->now += 10000;
		for (uint32_t i = 0; i < CL_NODES; i++)
			if (c->n[i].up)
				hp_tick(c->n[i].node, c->now);
		deliver_all(c);
	}
}

static hp_id leader_of(cl *c)
{
	for (uint32_t i = 0; i < CL_NODES; i++) {
		if (!c->n[i].up)
			continue;
		hp_status st;
		hp_get_status(c->n[i].node, c->now, &st);
		if (st.role == HP_LEADER && st.lease_valid)
			return st.id;
	}
	return 0;
}

static hp_id wait_leader(cl *c)
{
	for (int i = 0; i < 100; i++) {
		hp_id l = leader_of(c);
		if (l)
			return l;
		run_for(c, 100000);
	}
	CHECK(0);
	return 0;
}

static uint64_t seq;

/* Proposes one client command on the leader (sessions on), with a retry
 * of the previous one now and then, and lets it replicate. */
static void propose(cl *c, hp_id leader, uint64_t i)
{
	sm_cmd cmd = {0};
	char key[16];
	sm_value v = {true, 1, (const uint8_t *)"x"};
	if (i % 3 == 0) {
		cmd.op = SM_OP_INCRBY, cmd.delta = 1;
		cmd.key = (sm_value){true, 3, (const uint8_t *)"ctr"};
	} else if (i % 3 == 1) {
		cmd.op = SM_OP_APPEND, cmd.value = v;
		cmd.key = (sm_value){true, 3, (const uint8_t *)"log"};
	} else {
		snprintf(key, sizeof(key), "k%llu", (unsigned long long)(i % 17));
		cmd.op = SM_OP_SET, cmd.value = v;
		cmd.key = (sm_value){true, (uint32_t)strlen(key), (const uint8_t *)key};
	}
	cmd.client = 42;
	cmd.seq = i % 10 == 9 ? seq : ++seq; /* every tenth is a retry */
	sm_cmd_limits lim = {SM_VALUE_MAX_BYTES_DEFAULT};
	sm_buf b;
	sm_buf_init(&b);
	CHECK_EQ(sm_cmd_encode_buf(&cmd, &lim, &b), 0);
	uint64_t index, term;
	CHECK_EQ(hp_propose(c->n[leader - 1].node, c->now, b.data, (uint32_t)b.size,
			    &index, &term),
		 0);
	sm_buf_deinit(&b);
	run_for(c, 20000);
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void cl_destroy(cl *c)
{
	for (uint32_t i = 0; i < CL_NODES; i++) {
		cl_node *n = &c->n[i];
		hp_destroy(n->node);
		sm_close(n->m);
		log_drop_through(n, UINT64_MAX);
		free(n->log);
		sm_result_deinit(&n->res);
	}
	for (size_t k = 0; k < c->q_count; k++)
		msg_free(&c->q[k]);
	free(c->q);
	if (c->rocks)
		(void)nftw(c->tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void follower_down_while_leader_compacts(bool rocks)
{
	cl c;
	seq = 0;
	cl_init(&c, rocks);
	hp_id leader = wait_leader(&c);
	uint64_t i = 0;
	for (; i < 30; i++)
		propose(&c, leader, i);
	run_for(&c, 300000);
	/* a follower goes down */
	uint32_t f = (uint32_t)(leader % CL_NODES); /* a node that is not the leader */
	cl_node *fn = &c.n[f];
	hp_destroy(fn->node);
	fn->node = NULL;
	fn->up = false;
	uint64_t f_last =
	    fn->log_count ? fn->log[fn->log_count - 1].index : fn->snap.index;
	if (rocks) {
		sm_close(fn->m); /* a real stop: the store is reopened from disk */
		fn->m = NULL;
	}
	/* the others go on, and compact past the follower's log */
	for (; i < 250; i++)
		propose(&c, leader, i);
	run_for(&c, 300000);
	cl_node *ln = &c.n[leader - 1];
	CHECK(ln->compactions > 0);
	CHECK(ln->snap.index > f_last + 1);
	/* back up */
	if (rocks)
		sm_start(&c, f);
	node_start(&c, f, &c.conf);
	run_for(&c, 2000000);
	CHECK(fn->installs >= 1);
	uint64_t applied = sm_applied_index(ln->m, CL_GROUP);
	CHECK(applied > 250);
	uint64_t want = 0;
	CHECK_EQ(sm_digest(ln->m, &want), 0);
	for (uint32_t k = 0; k < CL_NODES; k++) {
		uint64_t d = 0;
		CHECK_EQ(sm_applied_index(c.n[k].m, CL_GROUP), applied);
		CHECK_EQ(sm_digest(c.n[k].m, &d), 0);
		CHECK_EQ(d, want);
	}
	/* the counter saw every INCRBY once, retries included only once */
	sm_buf v;
	sm_buf_init(&v);
	bool found = false;
	CHECK_EQ(sm_get(fn->m, (const uint8_t *)"ctr", 3, &v, &found), 0);
	CHECK(found);
	uint64_t incrs = 0;
	for (uint64_t k = 0; k < 250; k++)
		incrs += k % 3 == 0 && k % 10 != 9;
	char want_ctr[24];
	snprintf(want_ctr, sizeof(want_ctr), "%llu", (unsigned long long)incrs);
	CHECK_EQ(v.size, strlen(want_ctr));
	CHECK(memcmp(v.data, want_ctr, v.size) == 0);
	sm_buf_deinit(&v);
	printf("    leader compacted %u times (snapshot at %llu); follower's log ended "
	       "at %llu; "
	       "it installed %u snapshot(s); all at applied index %llu\n",
	       ln->compactions, (unsigned long long)ln->snap.index,
	       (unsigned long long)f_last, fn->installs, (unsigned long long)applied);
	cl_destroy(&c);
}

TEST(follower_down_while_leader_compacted_past_it_mem)
{
	follower_down_while_leader_compacts(false);
}

TEST(follower_down_while_leader_compacted_past_it_rocks)
{
	follower_down_while_leader_compacts(true);
}

TEST_MAIN()
