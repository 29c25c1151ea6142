/*
 * test_harpoon.c — unit tests of the consensus core, by protocol property.
 * Uses the in-memory cluster in hp_fixture.h (instant FIFO network, manual
 * clock, immediate persistence unless a node holds it back).
 */
#include "hp_fixture.h"
#include "test.h"

static const uint64_t MS = 1000;

static hp_id elect(fx_cluster *c)
{
	fx_run(c, 3000 * MS, 10 * MS);
	return fx_leader(c);
}

static uint32_t count_leaders(fx_cluster *c)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < c->count; i++) {
		if (!c->nodes[i].up)
			continue;
		hp_status st;
		hp_get_status(c->nodes[i].node, c->now, &st);
		n += st.role == HP_LEADER;
	}
	return n;
}

TEST(single_node_elects_itself_and_commits)
{
	fx_cluster c;
	fx_init(&c, 1, 1);
	hp_id l = elect(&c);
	CHECK_EQ(l, 1);
	CHECK_EQ(fx_propose(&c, l, "a"), 0);
	fx_run(&c, 10 * MS, 1 * MS);
	fx_node *n = &c.nodes[0];
	CHECK(n->applied_count >= 2); /* the no-op and "a" */
	CHECK_EQ(n->applied[n->applied_count - 1].type, HP_ENTRY_NORMAL);
	CHECK(memcmp(n->applied[n->applied_count - 1].data, "a", 1) == 0);
	fx_destroy(&c);
}

static void hint_by_bytes_only(hp_config *cfg)
{
	cfg->compact_hint_entries = 0;
	cfg->compact_hint_bytes = 1000;
}

/* rd.compact_hint comes once the log's entries hold compact_hint_bytes
 * (rasputind's --snapshot-log-bytes), and again only after as many more
 * bytes past a compaction. */
TEST(compact_hint_by_bytes_of_the_log)
{
	fx_cluster c;
	fx_init_with(&c, 1, 1, hint_by_bytes_only);
	hp_id l = elect(&c);
	fx_node *n = &c.nodes[0];
	char v[101];
	memset(v, 'x', 100);
	v[100] = '\0';
	for (int i = 0; i < 9; i++)
		CHECK_EQ(fx_propose(&c, l, v), 0);
	fx_run(&c, 10 * MS, 1 * MS);
	CHECK_EQ(n->compact_hint, 0); /* 900 bytes and a no-op */
	CHECK_EQ(fx_propose(&c, l, v), 0);
	fx_run(&c, 10 * MS, 1 * MS);
	hp_status st = fx_status(&c, l);
	CHECK_EQ(n->compact_hint, st.applied);
	CHECK_EQ(hp_compact(n->node, st.applied), 0);
	n->compact_hint = 0;
	for (int i = 0; i < 9; i++)
		CHECK_EQ(fx_propose(&c, l, v), 0);
	fx_run(&c, 10 * MS, 1 * MS);
	CHECK_EQ(n->compact_hint, 0);
	CHECK_EQ(fx_propose(&c, l, v), 0);
	fx_run(&c, 10 * MS, 1 * MS);
	CHECK_EQ(n->compact_hint, st.applied + 10);
	fx_destroy(&c);
}

/* Only applied entries count toward the hint: a compaction at the applied
 * index cannot free the others, and counting them hinted again right after
 * every snapshot while a flood of writes was in flight. */
TEST(compact_hint_counts_only_applied_entries)
{
	fx_cluster c;
	fx_init_with(&c, 3, 5, hint_by_bytes_only);
	hp_id l = elect(&c);
	CHECK(l != 0);
	fx_run(&c, 20 * MS, 1 * MS);
	fx_node *n = &c.nodes[l - 1];
	n->compact_hint = 0;
	hp_status before = fx_status(&c, l);
	char v[201];
	memset(v, 'y', 200);
	v[200] = '\0';
	fx_isolate(&c, l, true);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(fx_propose(&c, l, v), 0);
	fx_run(&c, 10 * MS, 1 * MS); /* well inside the lease: l still leads */
	hp_status mid = fx_status(&c, l);
	CHECK_EQ(mid.applied, before.applied); /* 2,000 bytes, none committed */
	CHECK(mid.log_memory_bytes >=
	      10 * 200); /* at least the data (slabs: test_hp_log) */
	CHECK_EQ(n->compact_hint, 0);
	fx_isolate(&c, l, false);
	fx_run(&c, 300 * MS, 1 * MS); /* the next heartbeats find the gap */
	CHECK_EQ(fx_leader(&c), l);
	hp_status after = fx_status(&c, l);
	CHECK(after.applied >= before.applied + 10);
	CHECK_EQ(n->compact_hint, after.applied);
	CHECK_EQ(hp_compact_hint(n->node), after.applied); /* the same rule, asked */
	CHECK_EQ(hp_compact(n->node, after.applied), 0);
	CHECK_EQ(hp_compact_hint(n->node), 0);
	hp_status compacted = fx_status(&c, l);
	CHECK(compacted.log_memory_bytes <= after.log_memory_bytes);
	fx_destroy(&c);
}

static void hint_by_bytes_with_jitter(hp_config *cfg)
{
	hint_by_bytes_only(cfg);
	cfg->compact_hint_jitter_pct = 50;
}

/* With a jitter, each compaction's bound is the configured one grown by
 * a fresh random 0..50%: never below 1,000 bytes, always by 1,500, and
 * not the same every time (nodes applying the same entries would
 * otherwise all snapshot at once). */
TEST(compact_hint_jitter_moves_the_bound_at_every_compaction)
{
	fx_cluster c;
	fx_init_with(&c, 1, 9, hint_by_bytes_with_jitter);
	hp_id l = elect(&c);
	fx_node *n = &c.nodes[0];
	char v[101];
	memset(v, 'z', 100);
	v[100] = '\0';
	bool seen[16] = {false};
	int distinct = 0;
	for (int round = 0; round < 20; round++) {
		hp_status st = fx_status(&c, l);
		CHECK_EQ(hp_compact(n->node, st.applied), 0);
		n->compact_hint = 0;
		int proposals = 0;
		while (n->compact_hint == 0 && proposals < 20) {
			CHECK_EQ(fx_propose(&c, l, v), 0);
			fx_run(&c, 2 * MS, 1 * MS);
			proposals++;
		}
		CHECK(proposals >= 10); /* 100 bytes each */
		CHECK(proposals <= 15);
		if (proposals >= 10 && proposals <= 15 && !seen[proposals]) {
			seen[proposals] = true;
			distinct++;
		}
	}
	CHECK(distinct >= 3);
	fx_destroy(&c);
	hp_config cfg;
	hp_config_default(&cfg);
	cfg.id = 1;
	cfg.compact_hint_jitter_pct = 101;
	int rc = 0;
	CHECK(hp_create(&cfg, NULL, NULL, 0, &rc) == NULL);
	CHECK_EQ(rc, HP_ERR_INVALID);
}

TEST(three_nodes_elect_exactly_one_leader)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		fx_cluster c;
		fx_init(&c, 3, seed);
		hp_id l = elect(&c);
		CHECK(l != 0);
		CHECK_EQ(count_leaders(&c), 1);
		/* Every node knows the leader and promises it. */
		for (hp_id i = 1; i <= 3; i++) {
			hp_status st = fx_status(&c, i);
			CHECK_EQ(st.leader, l);
			CHECK_EQ(st.lease_holder, l);
		}
		fx_destroy(&c);
	}
}

TEST(replication_applies_same_sequence_everywhere)
{
	fx_cluster c;
	fx_init(&c, 5, 2);
	hp_id l = elect(&c);
	CHECK(l != 0);
	char buf[16];
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "v%d", i);
		CHECK_EQ(fx_propose(&c, l, buf), 0);
		if (i % 7 == 0)
			fx_run(&c, 1 * MS, 1 * MS);
	}
	fx_run(&c, 500 * MS, 5 * MS);
	fx_node *ln = &c.nodes[l - 1];
	CHECK(ln->applied_count >= 201);
	for (uint32_t i = 0; i < 5; i++) {
		fx_node *n = &c.nodes[i];
		CHECK_EQ(n->applied_count, ln->applied_count);
		for (uint64_t k = 0; k < n->applied_count; k++) {
			CHECK_EQ(n->applied[k].index, ln->applied[k].index);
			CHECK_EQ(n->applied[k].term, ln->applied[k].term);
			CHECK(memcmp(n->applied[k].data, ln->applied[k].data, n->applied[k].size) == 0);
		}
	}
	fx_destroy(&c);
}

TEST(follower_cut_from_leader_only_causes_no_churn)
{
	fx_cluster c;
	fx_init(&c, 3, 3);
	hp_id l = elect(&c);
	CHECK(l != 0);
	hp_id f = l == 1 ? 2 : 1;
	uint64_t term = fx_status(&c, l).term;
	c.cut[l][f] = c.cut[f][l] = true;
	for (int i = 0; i < 50; i++) {
		CHECK_EQ(fx_propose(&c, l, "x"), 0);
		fx_run(&c, 200 * MS, 10 * MS);
	}
	CHECK_EQ(fx_leader(&c), l);
	CHECK_EQ(c.leader_changes, 0);
	CHECK_EQ(fx_status(&c, l).term, term);
	CHECK_EQ(fx_status(&c, f).term, term); /* no term inflation */
	/* The third node keeps committing with the leader. */
	hp_id other = 6 - l - f;
	CHECK(fx_status(&c, other).commit >= fx_status(&c, l).commit - 1);
	fx_destroy(&c);
}

TEST(isolated_leader_steps_down_and_majority_elects)
{
	fx_cluster c;
	fx_init(&c, 5, 4);
	hp_id l = elect(&c);
	CHECK(l != 0);
	uint64_t term = fx_status(&c, l).term;
	fx_isolate(&c, l, true);
	fx_run(&c, 1100 * MS, 10 * MS); /* > lease */
	hp_status old = fx_status(&c, l);
	CHECK(old.role != HP_LEADER);
	CHECK(!old.lease_valid);
	fx_run(&c, 2000 * MS, 10 * MS);
	hp_id nl = fx_leader(&c);
	CHECK(nl != 0 && nl != l);
	CHECK(fx_status(&c, nl).term > term);
	/* The isolated node never inflated its term past what it can win. */
	fx_isolate(&c, l, false);
	fx_run(&c, 1000 * MS, 10 * MS);
	CHECK_EQ(fx_leader(&c), nl);
	CHECK_EQ(fx_status(&c, l).leader, nl);
	fx_destroy(&c);
}

/* A follower whose promise is valid refuses a higher-term candidate and
 * does not adopt its term [NO-CHURN]. */
TEST(valid_promise_refuses_higher_term_candidate)
{
	fx_cluster c;
	fx_init(&c, 3, 5);
	hp_id l = elect(&c);
	hp_id f = l == 1 ? 2 : 1;
	hp_id x = 6 - l - f;
	uint64_t term = fx_status(&c, f).term;
	hp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HP_MSG_LEASE_REQ;
	m.group = 7;
	m.from = x;
	m.to = f;
	m.term = term + 5;
	m.log_index = 1000;
	m.log_term = term + 5;
	CHECK_EQ(hp_step(c.nodes[f - 1].node, c.now, &m), 0);
	hp_status st = fx_status(&c, f);
	CHECK_EQ(st.term, term);
	CHECK_EQ(st.lease_holder, l);
	CHECK_EQ(st.vote == x, 0);
	/* Its answer is a reject. */
	hp_ready rd;
	hp_ready_take(c.nodes[f - 1].node, &rd);
	int rejects = 0;
	for (size_t i = 0; i < rd.msg_count; i++)
		rejects += rd.msgs[i].type == HP_MSG_LEASE_RESP && rd.msgs[i].reject;
	CHECK_EQ(rejects, 1);
	hp_advance(c.nodes[f - 1].node, rd.seq);
	fx_destroy(&c);
}

/* A pre-request round changes no persistent state. */
TEST(pre_request_changes_nothing)
{
	fx_cluster c;
	fx_init(&c, 3, 6);
	hp_id l = elect(&c);
	hp_id f = l == 1 ? 2 : 1;
	hp_status before = fx_status(&c, f);
	hp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HP_MSG_PRE_LEASE_REQ;
	m.group = 7;
	m.from = 6 - l - f;
	m.to = f;
	m.term = before.term + 1;
	m.log_index = before.last_index + 10;
	m.log_term = before.term;
	CHECK_EQ(hp_step(c.nodes[f - 1].node, c.now, &m), 0);
	hp_ready rd;
	hp_ready_take(c.nodes[f - 1].node, &rd);
	CHECK(!rd.hard_state_changed);
	CHECK_EQ(rd.msg_count, 1);
	CHECK(rd.msgs[0].reject); /* it still promises the leader */
	hp_advance(c.nodes[f - 1].node, rd.seq);
	hp_status after = fx_status(&c, f);
	CHECK_EQ(after.term, before.term);
	CHECK_EQ(after.vote, before.vote);
	fx_destroy(&c);
}

/* [DURABLE] a follower's append acknowledgement waits for persistence. */
TEST(append_ack_only_after_persist)
{
	fx_cluster c;
	fx_init(&c, 3, 7);
	hp_id l = elect(&c);
	hp_id f = l == 1 ? 2 : 1;
	c.nodes[f - 1].hold_persist = true;
	CHECK_EQ(fx_propose(&c, l, "p"), 0);
	fx_run(&c, 5 * MS, 1 * MS);
	hp_ready rd;
	hp_ready_take(c.nodes[f - 1].node, &rd);
	CHECK(rd.entry_count >= 1);
	int early = 0, after = 0;
	for (size_t i = 0; i < rd.msg_count; i++)
		early += rd.msgs[i].type == HP_MSG_APPEND_RESP && !rd.msgs[i].reject;
	for (size_t i = 0; i < rd.msg_after_persist_count; i++)
		after += rd.msgs_after_persist[i].type == HP_MSG_APPEND_RESP;
	CHECK_EQ(early, 0);
	CHECK(after >= 1);
	hp_advance(c.nodes[f - 1].node, rd.seq);
	c.nodes[f - 1].hold_persist = false;
	fx_destroy(&c);
}

/* A candidate's LeaseReq leaves only after its term and vote are durable. */
TEST(lease_request_only_after_persist)
{
	fx_cluster c;
	fx_init(&c, 3, 8);
	fx_run(&c, 3000 * MS, 10 * MS);
	hp_id l = fx_leader(&c);
	CHECK(l != 0);
	/* Whoever campaigned sent LeaseReqs; the fixture counted them only via
	 * msgs_after_persist: verify no LeaseReq ever sits in rd.msgs. */
	hp_id f = l == 1 ? 2 : 1;
	fx_isolate(&c, l, true);
	c.nodes[f - 1].hold_persist = true;
	bool saw_req_after = false;
	for (int i = 0; i < 400 && !saw_req_after; i++) {
		c.now += 10 * MS;
		hp_tick(c.nodes[f - 1].node, c.now);
		hp_ready rd;
		hp_ready_take(c.nodes[f - 1].node, &rd);
		for (size_t k = 0; k < rd.msg_count; k++)
			CHECK(rd.msgs[k].type != HP_MSG_LEASE_REQ);
		for (size_t k = 0; k < rd.msg_after_persist_count; k++)
			saw_req_after |= rd.msgs_after_persist[k].type == HP_MSG_LEASE_REQ;
		for (size_t k = 0; k < rd.msg_count; k++) {
			/* let the third node answer pre-requests */
			if (rd.msgs[k].to != l) {
				hp_step(c.nodes[rd.msgs[k].to - 1].node, c.now, &rd.msgs[k]);
			}
		}
		hp_advance(c.nodes[f - 1].node, rd.seq);
		fx_drain(&c, (uint32_t)(6 - l - f - 1));
		for (uint32_t q = 0; q < c.queue_count; q++) {
			if (c.queue[q].m.to == f)
				hp_step(c.nodes[f - 1].node, c.now, &c.queue[q].m);
			fx_free_msg(&c.queue[q]);
		}
		c.queue_count = 0;
	}
	CHECK(saw_req_after);
	c.nodes[f - 1].hold_persist = false;
	fx_destroy(&c);
}

TEST(lease_read_waits_for_noop_then_serves_immediately)
{
	fx_cluster c;
	fx_init(&c, 3, 9);
	hp_id l = elect(&c);
	CHECK(l != 0);
	fx_node *ln = &c.nodes[l - 1];
	CHECK_EQ(hp_read(ln->node, c.now, 42), 0);
	fx_drain(&c, (uint32_t)(l - 1));
	CHECK_EQ(ln->read_count, 1);
	CHECK_EQ(ln->reads_ready[0], 42);
	CHECK_EQ(ln->read_index[0], fx_status(&c, l).commit);
	/* Followers refuse reads. */
	hp_id f = l == 1 ? 2 : 1;
	CHECK_EQ(hp_read(c.nodes[f - 1].node, c.now, 1), HP_ERR_NOT_LEADER);
	fx_destroy(&c);
}

TEST(read_index_without_lease_needs_a_quorum)
{
	fx_cluster c;
	fx_init(&c, 3, 10);
	c.cfg.lease_reads = false;
	for (uint32_t i = 0; i < 3; i++)
		fx_crash(&c, i + 1);
	hp_conf conf;
	memset(&conf, 0, sizeof(conf));
	conf.voter_count = 3;
	conf.voters[0] = 1;
	conf.voters[1] = 2;
	conf.voters[2] = 3;
	for (uint32_t i = 0; i < 3; i++)
		fx_node_start(&c, i, &conf);
	hp_id l = elect(&c);
	CHECK(l != 0);
	fx_isolate(&c, l, true);
	fx_node *ln = &c.nodes[l - 1];
	CHECK_EQ(hp_read(ln->node, c.now, 5), 0);
	fx_deliver_all(&c);
	CHECK_EQ(ln->read_count, 0); /* nobody confirmed */
	fx_isolate(&c, l, false);
	fx_run(&c, 150 * MS, 1 * MS); /* the next heartbeat confirms */
	CHECK_EQ(ln->read_count, 1);
	CHECK_EQ(ln->reads_ready[0], 5);
	fx_destroy(&c);
}

TEST(leader_overwrites_divergent_follower_suffix)
{
	fx_cluster c;
	fx_init(&c, 3, 11);
	hp_id l = elect(&c);
	CHECK(l != 0);
	hp_id f = l == 1 ? 2 : 1;
	/* Cut the leader off entirely, give it entries that never commit. */
	fx_isolate(&c, l, true);
	for (int i = 0; i < 5; i++)
		fx_propose(&c, l, "lost");
	fx_run(&c, 3000 * MS, 10 * MS);
	hp_id nl = fx_leader(&c);
	CHECK(nl != 0 && nl != l);
	CHECK_EQ(fx_propose(&c, nl, "kept"), 0);
	fx_run(&c, 50 * MS, 5 * MS);
	fx_isolate(&c, l, false);
	fx_run(&c, 1000 * MS, 10 * MS);
	/* The old leader's log now matches the new leader's. */
	hp_status a = fx_status(&c, l), b = fx_status(&c, nl);
	CHECK_EQ(a.last_index, b.last_index);
	CHECK_EQ(a.last_term, b.last_term);
	CHECK_EQ(a.commit, b.commit);
	for (uint64_t i = a.first_index; i <= a.last_index; i++)
		CHECK_EQ(hp_log_term(c.nodes[l - 1].node, i), hp_log_term(c.nodes[nl - 1].node, i));
	(void)f;
	fx_destroy(&c);
}

TEST(restarted_follower_keeps_its_promise)
{
	fx_cluster c;
	fx_init(&c, 3, 12);
	hp_id l = elect(&c);
	hp_id f = l == 1 ? 2 : 1;
	fx_crash(&c, f);
	fx_node_start(&c, (uint32_t)(f - 1), NULL);
	CHECK(c.nodes[f - 1].up);
	hp_status st = fx_status(&c, f);
	CHECK_EQ(st.lease_holder, l);
	CHECK(st.promise_until_us >= c.now + c.cfg.lease_us);
	fx_run(&c, 500 * MS, 10 * MS);
	CHECK_EQ(fx_leader(&c), l);
	CHECK_EQ(fx_status(&c, f).leader, l);
	fx_destroy(&c);
}

TEST(transfer_hands_leadership_to_target_quickly)
{
	fx_cluster c;
	fx_init(&c, 3, 13);
	hp_id l = elect(&c);
	hp_id t = l == 3 ? 1 : 3;
	uint64_t term = fx_status(&c, l).term;
	CHECK_EQ(hp_transfer(c.nodes[l - 1].node, c.now, t), 0);
	fx_run(&c, 50 * MS, 1 * MS); /* well under a lease */
	CHECK_EQ(fx_leader(&c), t);
	CHECK_EQ(fx_status(&c, t).term, term + 1);
	CHECK(fx_status(&c, l).role != HP_LEADER);
	fx_destroy(&c);
}

static int propose_conf_retry(fx_cluster *c, hp_id leader, hp_conf_op op, hp_id id)
{
	uint64_t index, term;
	int rc = 0;
	for (int i = 0; i < 200; i++) {
		rc = hp_propose_conf(c->nodes[leader - 1].node, c->now, op, id, &index, &term);
		if (rc != HP_ERR_CONF_PENDING && rc != HP_ERR_NOT_CAUGHT_UP)
			break;
		fx_run(c, 10 * MS, 5 * MS);
	}
	fx_run(c, 100 * MS, 5 * MS);
	return rc;
}

TEST(membership_learner_promotion_and_removal)
{
	fx_cluster c;
	fx_init(&c, 3, 14);
	hp_id l = elect(&c);
	CHECK(l != 0);
	for (int i = 0; i < 20; i++)
		fx_propose(&c, l, "m");
	/* Node 4 starts empty with no configuration: it waits to be told. */
	c.count = 4;
	hp_conf none;
	memset(&none, 0, sizeof(none));
	fx_node_start(&c, 3, &none);
	CHECK_EQ(propose_conf_retry(&c, l, HP_CONF_PROMOTE, 4), HP_ERR_INVALID);
	CHECK_EQ(propose_conf_retry(&c, l, HP_CONF_ADD_LEARNER, 4), 0);
	hp_status s4 = fx_status(&c, 4);
	CHECK(hp_conf_is_learner(&s4.conf, 4));
	CHECK_EQ(s4.commit, fx_status(&c, l).commit);
	CHECK_EQ(propose_conf_retry(&c, l, HP_CONF_PROMOTE, 4), 0);
	hp_status s1 = fx_status(&c, 1);
	CHECK(hp_conf_is_voter(&s1.conf, 4));
	CHECK_EQ(s1.conf.voter_count, 4);
	hp_id victim = l == 1 ? 2 : 1;
	CHECK_EQ(propose_conf_retry(&c, l, HP_CONF_REMOVE, victim), 0);
	CHECK_EQ(fx_status(&c, l).conf.voter_count, 3);
	hp_status sl = fx_status(&c, l);
	CHECK(!hp_conf_is_voter(&sl.conf, victim));
	/* The joiner replayed the log from index 1 and agrees on membership. */
	s4 = fx_status(&c, 4);
	CHECK(!s4.corrupt);
	CHECK_EQ(s4.conf.voter_count, 3);
	for (uint32_t i = 0; i < 3; i++)
		CHECK(hp_conf_is_voter(&s4.conf, sl.conf.voters[i]));
	/* A second change waits for the first to commit. */
	uint64_t idx, term;
	CHECK_EQ(hp_propose_conf(c.nodes[l - 1].node, c.now, HP_CONF_ADD_LEARNER, 9, &idx, &term), 0);
	CHECK_EQ(hp_propose_conf(c.nodes[l - 1].node, c.now, HP_CONF_ADD_LEARNER, 10, &idx, &term),
	         HP_ERR_CONF_PENDING);
	fx_destroy(&c);
}

TEST(removing_the_leader_hands_over)
{
	fx_cluster c;
	fx_init(&c, 3, 15);
	hp_id l = elect(&c);
	CHECK(l != 0);
	CHECK_EQ(propose_conf_retry(&c, l, HP_CONF_REMOVE, l), 0);
	fx_run(&c, 500 * MS, 5 * MS);
	hp_id nl = fx_leader(&c);
	CHECK(nl != 0 && nl != l);
	CHECK_EQ(fx_status(&c, nl).conf.voter_count, 2);
	/* The removed node never campaigns again. */
	fx_run(&c, 3000 * MS, 10 * MS);
	CHECK_EQ(fx_leader(&c), nl);
	CHECK(fx_status(&c, l).role == HP_FOLLOWER);
	fx_destroy(&c);
}

TEST(uncommitted_self_removal_recovers_after_losing_its_holder)
{
	/* Four voters.  The leader l removes itself; the entry reaches only a;
	 * a is then lost for good and l restarts.  b and c, still on the old
	 * configuration, need l's vote, which l's longer log refuses them.
	 * Log pull lets them take the removal from l (it continues their
	 * logs) and elect among {a, b, c}.  Where the newer entries cannot be
	 * pulled, the refused non-voter campaigns itself: the next test. */
	fx_cluster c;
	fx_init(&c, 4, 23);
	hp_id l = elect(&c);
	CHECK(l != 0);
	hp_id others[3], k = 0;
	for (hp_id i = 1; i <= 4; i++)
		if (i != l)
			others[k++] = i;
	hp_id a = others[0], b = others[1], d = others[2];
	c.cut[l][b] = c.cut[b][l] = c.cut[l][d] = c.cut[d][l] = true;
	CHECK_EQ(propose_conf_retry(&c, l, HP_CONF_REMOVE, l), 0);
	hp_status ls = fx_status(&c, l);
	CHECK_EQ(ls.conf.voter_count, 3);
	CHECK(ls.commit < ls.conf_index); /* the removal is not committed */
	CHECK_EQ(fx_status(&c, a).conf.voter_count, 3);
	CHECK_EQ(fx_status(&c, b).conf.voter_count, 4);
	/* a is lost; l restarts (as from a power failure), a follower. */
	fx_crash(&c, a);
	fx_crash(&c, l);
	c.cut[l][b] = c.cut[b][l] = c.cut[l][d] = c.cut[d][l] = false;
	fx_node_start(&c, (uint32_t)(l - 1), NULL);
	CHECK(c.nodes[l - 1].up);
	fx_run(&c, 8000 * MS, 10 * MS);
	hp_id nl = fx_leader(&c);
	CHECK(nl == b || nl == d);
	if (nl == b || nl == d) {
		hp_status st = fx_status(&c, nl);
		CHECK_EQ(st.conf.voter_count, 3);
		CHECK(!hp_conf_is_voter(&st.conf, l));
		CHECK(st.commit >= st.conf_index);
	}
	fx_destroy(&c);
}

/* Appends one entry to node id's durable log while it is down (what it
 * would have persisted from a leader that is now gone). */
static void durable_append(fx_cluster *c, hp_id id, uint64_t term, uint8_t type,
                           const uint8_t *data, uint32_t size)
{
	fx_node *fn = &c->nodes[id - 1];
	CHECK(!fn->up);
	uint64_t last = fn->log_count ? fn->log[fn->log_count - 1].index : fn->snap.index;
	hp_entry e = {.index = last + 1, .term = term, .type = type, .size_bytes = size,
	              .data = data};
	fn->log = realloc(fn->log, (fn->log_count + 1) * sizeof(hp_entry));
	fx_entry_copy(&fn->log[fn->log_count++], &e);
	if (fn->hs.term < term)
		fn->hs.term = term;
}

static void durable_append_conf(fx_cluster *c, hp_id id, uint64_t term, hp_conf_op op,
                                hp_id who)
{
	uint8_t buf[HP_CONF_CHANGE_BYTES];
	hp_conf_change_encode(buf, op, who);
	durable_append(c, id, term, HP_ENTRY_CONF, buf, sizeof(buf));
}

static void crash_all(fx_cluster *c)
{
	for (hp_id i = 1; i <= c->count; i++)
		if (c->nodes[i - 1].up)
			fx_crash(c, i);
	for (uint32_t k = 0; k < c->queue_count; k++)
		fx_free_msg(&c->queue[k]);
	c->queue_count = 0;
}

TEST(learner_holding_the_newest_entry_campaigns_when_a_voter_needs_it)
{
	/* Voters 1-3 and learner 4.  The leader a appended PROMOTE 4, which
	 * reached no one; then b led a new term, and its no-op reached only 4
	 * before every node crashed; b is lost for good.  c (old
	 * configuration, quorum 2 of 1-3) needs a's vote, which a's longer log
	 * refuses it; a (4 voters, quorum 3) needs 4's, which 4's newer term
	 * refuses; nothing uncommitted can be pulled.  4, asked for a vote it
	 * refused for its more up-to-date log, campaigns in its own
	 * configuration (1-3 vote), wins, commits, and hands over to a voter. */
	fx_cluster c;
	fx_init(&c, 3, 32);
	hp_id a = elect(&c);
	CHECK(a != 0);
	c.count = 4;
	hp_conf none;
	memset(&none, 0, sizeof(none));
	fx_node_start(&c, 3, &none);
	CHECK_EQ(propose_conf_retry(&c, a, HP_CONF_ADD_LEARNER, 4), 0);
	hp_status s4 = fx_status(&c, 4);
	CHECK(hp_conf_is_learner(&s4.conf, 4));
	hp_id b = a == 1 ? 2 : 1;
	hp_id cc = 6 - a - b;
	uint64_t term = fx_status(&c, a).term;
	uint64_t last = fx_status(&c, a).last_index;
	CHECK_EQ(fx_status(&c, 4).commit, last);
	CHECK_EQ(fx_status(&c, cc).commit, last);
	crash_all(&c);
	durable_append_conf(&c, a, term, HP_CONF_PROMOTE, 4);
	durable_append(&c, b, term + 1, HP_ENTRY_NOOP, NULL, 0);
	durable_append(&c, 4, term + 1, HP_ENTRY_NOOP, NULL, 0);
	fx_node_start(&c, (uint32_t)(a - 1), NULL);
	fx_node_start(&c, (uint32_t)(cc - 1), NULL);
	fx_node_start(&c, 3, NULL);
	CHECK_EQ(fx_status(&c, a).conf.voter_count, 4);
	CHECK_EQ(fx_status(&c, cc).conf.voter_count, 3);
	fx_run(&c, 10000 * MS, 10 * MS);
	hp_id nl = fx_leader(&c);
	CHECK(nl == a || nl == cc);
	if (nl == a || nl == cc) {
		hp_status st = fx_status(&c, nl);
		CHECK_EQ(st.conf.voter_count, 3); /* the unacknowledged promotion is gone */
		CHECK(hp_conf_is_learner(&st.conf, 4));
		/* b's no-op, then 4's as leader of the next term, then the voter's
		 * it handed over to, all committed. */
		hp_node *ln = c.nodes[nl - 1].node;
		CHECK_EQ(hp_log_term(ln, last + 1), term + 1);
		CHECK_EQ(hp_log_term(ln, last + 2), term + 2);
		CHECK(st.term >= term + 3);
		CHECK(st.commit >= last + 3);
		CHECK_EQ(fx_status(&c, 4).commit, st.commit);
	}
	fx_destroy(&c);
}

TEST(lagging_follower_catches_up_through_snapshot)
{
	fx_cluster c;
	fx_init(&c, 3, 16);
	hp_id l = elect(&c);
	hp_id f = l == 1 ? 2 : 1;
	fx_crash(&c, f);
	for (int i = 0; i < 30; i++)
		fx_propose(&c, l, "s");
	fx_run(&c, 50 * MS, 5 * MS);
	hp_status ls = fx_status(&c, l);
	CHECK_EQ(ls.applied, ls.commit);
	/* The leader snapshots at its applied index and compacts. */
	c.nodes[l - 1].snap.index = ls.applied;
	c.nodes[l - 1].snap.term = hp_log_term(c.nodes[l - 1].node, ls.applied);
	CHECK_EQ(hp_compact(c.nodes[l - 1].node, ls.applied), 0);
	CHECK_EQ(fx_status(&c, l).snapshot_index, ls.applied);
	fx_node_start(&c, (uint32_t)(f - 1), NULL);
	fx_run(&c, 500 * MS, 5 * MS);
	CHECK(c.sent_by_type[HP_MSG_SNAP_CHUNK] >= 4); /* 100 bytes in 32-byte chunks */
	CHECK(c.nodes[f - 1].snap_chunks_received >= 4);
	hp_status fs = fx_status(&c, f);
	CHECK_EQ(fs.snapshot_index, ls.applied);
	CHECK_EQ(fs.commit, fx_status(&c, l).commit);
	CHECK_EQ(fs.last_index, fx_status(&c, l).last_index);
	fx_destroy(&c);
}

TEST(malformed_messages_are_rejected)
{
	fx_cluster c;
	fx_init(&c, 3, 17);
	hp_node *n = c.nodes[0].node;
	hp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HP_MSG_APPEND;
	m.group = 7;
	m.from = 2;
	m.to = 1;
	m.term = 1;
	CHECK_EQ(hp_step(n, c.now, &m), 0);
	m.group = 8;
	CHECK_EQ(hp_step(n, c.now, &m), HP_ERR_INVALID); /* other group */
	m.group = 7;
	m.to = 3;
	CHECK_EQ(hp_step(n, c.now, &m), HP_ERR_INVALID); /* not for us */
	m.to = 1;
	m.type = 99;
	CHECK_EQ(hp_step(n, c.now, &m), HP_ERR_INVALID);
	m.type = HP_MSG_APPEND;
	m.entry_count = 3;
	m.entries = NULL;
	CHECK_EQ(hp_step(n, c.now, &m), HP_ERR_INVALID); /* count without entries */
	hp_entry e[2] = {{.index = 5, .term = 1}, {.index = 7, .term = 1}};
	m.entries = e;
	m.entry_count = 2;
	m.log_index = 4;
	CHECK_EQ(hp_step(n, c.now, &m), HP_ERR_INVALID); /* gap in indexes */
	e[1].index = 6;
	e[1].term = 2;
	CHECK_EQ(hp_step(n, c.now, &m), HP_ERR_INVALID); /* entry term above message term */
	fx_destroy(&c);
}

TEST(proposals_are_bounded)
{
	fx_cluster c;
	fx_init(&c, 3, 18);
	c.cfg.max_uncommitted_entries = 10;
	hp_id l = elect(&c);
	hp_id f = l == 1 ? 2 : 1;
	(void)f;
	fx_isolate(&c, l, true);
	int busy = 0;
	for (int i = 0; i < 20000; i++)
		busy += fx_propose(&c, l, "b") == HP_ERR_BUSY;
	CHECK(busy > 0);
	uint8_t big[16];
	uint64_t idx, term;
	c.nodes[l - 1].node = c.nodes[l - 1].node;
	CHECK_EQ(hp_propose(c.nodes[f - 1].node, c.now, big, 16, &idx, &term), HP_ERR_NOT_LEADER);
	fx_destroy(&c);
}

static void tune_slices(hp_config *cfg)
{
	cfg->max_committed_bytes = 5; /* two or three of the entries below */
}

TEST(committed_entries_come_in_slices_in_order)
{
	fx_cluster c;
	fx_init_with(&c, 3, 21, tune_slices);
	hp_id l = elect(&c);
	CHECK(l != 0);
	/* Held back, a follower falls behind; released, it gets the backlog
	 * a few entries per ready, in order. */
	hp_id f = l == 1 ? 2 : 1;
	c.nodes[f - 1].hold_persist = true;
	char buf[16];
	for (int i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "s%02d", i);
		CHECK_EQ(fx_propose(&c, l, buf), 0);
	}
	fx_run(&c, 50 * MS, 5 * MS);
	c.nodes[f - 1].hold_persist = false;
	fx_run(&c, 500 * MS, 5 * MS);
	for (hp_id i = 1; i <= 3; i++) {
		fx_node *n = &c.nodes[i - 1];
		CHECK(n->sliced_readies > 0);
		CHECK(n->applied_count >= 101);
		for (uint64_t k = 1; k < n->applied_count; k++)
			CHECK_EQ(n->applied[k].index, n->applied[k - 1].index + 1);
		CHECK_EQ(n->applied_count, c.nodes[l - 1].applied_count);
		CHECK(memcmp(n->applied[n->applied_count - 1].data, "s99", 3) == 0);
	}
	fx_destroy(&c);
}

static void tune_one_entry_appends(hp_config *cfg)
{
	cfg->max_batch_entries = 1;
}

/* An answer from follower f to the leader l for everything up to index. */
static void fake_ack(fx_cluster *c, hp_id l, hp_id f, uint64_t index, uint64_t send_us)
{
	hp_status st = fx_status(c, l);
	hp_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HP_MSG_APPEND_RESP;
	m.group = c->cfg.group;
	m.from = f;
	m.to = l;
	m.term = st.term;
	m.log_index = index;
	m.send_us = send_us;
	hp_step(c->nodes[l - 1].node, c->now, &m);
	fx_deliver_all(c);
}

/* The leader takes an append as lost only when answers stop raising the
 * follower's match, not when the oldest one in flight is old: a follower
 * that answers late but steadily (a deep load on busy CPUs) gets no
 * resends piled on top of its backlog.  One that stops answering does. */
TEST(late_but_steady_answers_cause_no_resends)
{
	for (int silent = 0; silent <= 1; silent++) {
		fx_cluster c;
		fx_init_with(&c, 3, 22, tune_one_entry_appends);
		hp_id l = elect(&c);
		CHECK(l != 0);
		hp_id f = l == 1 ? 2 : 1;
		/* f hears nothing; its answers are made up below. */
		c.cut[l][f] = c.cut[f][l] = true;
		uint64_t base = fx_status(&c, l).last_index;
		uint64_t t0 = c.now;
		for (int i = 0; i < 40; i++)
			CHECK_EQ(fx_propose(&c, l, "w"), 0);
		fx_deliver_all(&c);
		CHECK_EQ(c.sent_upto[f], base + 8); /* the window: 8 one-entry appends */
		uint32_t resent_before = c.resent_to[f];
		/* 600 ms, three times the loss timeout (2 heartbeats): every
		 * 50 ms f answers one more of the appends sent at t0. */
		for (uint64_t k = 1; k <= 12; k++) {
			fx_run(&c, 50 * MS, 10 * MS);
			if (!silent)
				fake_ack(&c, l, f, base + k, t0);
		}
		if (silent) {
			CHECK(c.resent_to[f] > resent_before); /* lost: probed again */
		} else {
			CHECK_EQ(c.resent_to[f], resent_before);
			CHECK(c.sent_upto[f] >= base + 12 + 8); /* the window moved on */
		}
		CHECK_EQ(fx_leader(&c), l);
		fx_destroy(&c);
	}
}

TEST(conf_change_encoding_round_trips)
{
	uint8_t buf[HP_CONF_CHANGE_BYTES];
	hp_conf_change_encode(buf, HP_CONF_PROMOTE, 0x1122334455667788ULL);
	hp_conf_op op;
	hp_id id;
	CHECK_EQ(hp_conf_change_decode(buf, sizeof(buf), &op, &id), 0);
	CHECK_EQ(op, HP_CONF_PROMOTE);
	CHECK_EQ(id, 0x1122334455667788ULL);
	CHECK_EQ(hp_conf_change_decode(buf, 8, &op, &id), HP_ERR_INVALID);
	buf[0] = 9;
	CHECK_EQ(hp_conf_change_decode(buf, sizeof(buf), &op, &id), HP_ERR_INVALID);
	hp_conf c;
	memset(&c, 0, sizeof(c));
	c.voter_count = 1;
	c.voters[0] = 1;
	CHECK_EQ(hp_conf_apply(&c, HP_CONF_REMOVE, 1), HP_ERR_INVALID); /* last voter */
	CHECK_EQ(hp_conf_apply(&c, HP_CONF_PROMOTE, 2), HP_ERR_INVALID); /* not a learner */
	CHECK_EQ(hp_conf_apply(&c, HP_CONF_ADD_LEARNER, 2), 0);
	CHECK_EQ(hp_conf_apply(&c, HP_CONF_ADD_LEARNER, 2), HP_ERR_INVALID);
	CHECK_EQ(hp_conf_apply(&c, HP_CONF_PROMOTE, 2), 0);
	CHECK(hp_conf_is_voter(&c, 2));
	CHECK(!hp_conf_is_learner(&c, 2));
	/* The whole-membership form round-trips and rejects damage. */
	uint8_t full[HP_CONF_MAX_BYTES];
	size_t size = hp_conf_encode(&c, full, sizeof(full));
	CHECK_EQ(size, 3 + 8 * 2);
	hp_conf d;
	memset(&d, 0, sizeof(d));
	CHECK_EQ(hp_conf_entry_apply(&d, full, (uint32_t)size), 0);
	CHECK_EQ(d.voter_count, 2);
	CHECK(hp_conf_is_voter(&d, 1) && hp_conf_is_voter(&d, 2));
	CHECK_EQ(hp_conf_entry_apply(&d, full, (uint32_t)size - 1), HP_ERR_INVALID);
	full[3] = 0; /* id 1 -> 0 */
	full[4] = 0;
	CHECK_EQ(hp_conf_entry_apply(&d, full, (uint32_t)size), HP_ERR_INVALID);
}

TEST(new_cluster_log_starts_with_its_membership)
{
	fx_cluster c;
	fx_init(&c, 3, 19);
	hp_status st = fx_status(&c, 1);
	CHECK_EQ(st.last_index, 1);
	CHECK_EQ(st.commit, 1);
	const hp_entry *e = hp_log_entry(c.nodes[0].node, 1);
	CHECK(e != NULL);
	CHECK_EQ(e->type, HP_ENTRY_CONF);
	hp_conf d;
	memset(&d, 0, sizeof(d));
	CHECK_EQ(hp_conf_entry_apply(&d, e->data, e->size_bytes), 0);
	CHECK_EQ(d.voter_count, 3);
	fx_destroy(&c);
}

TEST_MAIN()
