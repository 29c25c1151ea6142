#!/usr/bin/python3
"""tests/faults/stability.py — leader stability under partial connectivity
(campaign.py stability).  For each topology: the same client load for S
seconds against the leader's client port, once without faults (the
baseline) and once with the fault in force; reported: leader changes seen
by the leader watch, and throughput relative to the baseline.

  partial         one follower cut from the leader only (3 nodes);
                  target: 0 leader changes, >= 80% of the baseline
  chained         A - B - C with A <-> C cut, leader at A (3 nodes);
                  target: 0 leader changes
  quorum-loss     5 nodes; only one node (not the leader) still reaches
                  everyone, every other node reaches only it: the leader
                  must give way and that hub must lead (1 change expected)
  constrained     like quorum-loss, but the hub lagged behind first and the
                  old leader is isolated altogether: the lagging hub must
                  still become leader (the Omni-Paxos "constrained election")

Prints a table and "N passed, N failed" (passed = the topology met its
target).  The clients here talk to the leader only: the faults are between
nodes, and a client stuck behind a cut link measures the client, not the
protocol.
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import clients  # noqa: E402
import leaders  # noqa: E402
import netns  # noqa: E402


def measure(cluster, addrs, seconds, out, seed):
    watch = leaders.LeaderWatch(cluster.client_addrs())
    watch.start()
    summary = clients.run_clients(addrs, seconds, out, procs=4, keys=8, seed=seed,
                                  session_procs=0)
    wl = watch.stop()
    ok = summary.get("ok", 0)
    return ok / float(seconds), wl.get("leader_changes", 0)


def hub_topology(net, n, hub, isolate=None):
    for a in range(1, n + 1):
        for b in range(a + 1, n + 1):
            up = hub in (a, b)
            if isolate in (a, b):
                up = False
            if not up:
                net.cut(a, b)


def one(name, n, seconds, tmp, tag, setup_fault, target_changes, min_ratio):
    cluster = netns.NsCluster(n, os.path.join(tmp, name), tag=tag, lease_ms=1000,
                              heartbeat_ms=100, extra_args=["--replication-factor", str(n)])
    try:
        cluster.setup()
        cluster.start_all(wait_voters=n)
        net = netns.Net(cluster)
        lead = cluster.leader()
        addrs = [cluster.client_addrs()[lead - 1]]
        base, _ = measure(cluster, addrs, seconds, os.path.join(tmp, name, "base"), 1)
        lead = cluster.leader()
        fault_desc, new_target = setup_fault(cluster, net, lead)
        time.sleep(0.2)
        lead2 = cluster.leader() or lead
        # After a topology change the clients follow the node that should lead.
        addrs = [cluster.client_addrs()[(new_target or lead2) - 1]]
        rate, changes = measure(cluster, addrs, seconds, os.path.join(tmp, name, "fault"), 2)
        net.heal()
        ratio = rate / base if base else 0.0
        final = cluster.leader()
        met = changes <= target_changes and (ratio >= min_ratio or not THROUGHPUT_TARGET)
        if new_target and final != new_target:
            met = False
        return {"topology": name, "fault": fault_desc, "baseline_ops_s": base, "final": final,
                "fault_ops_s": rate, "ratio": ratio, "leader_changes": changes,
                "target": "<= %d changes, >= %d%%" % (target_changes, int(min_ratio * 100)),
                "met": met}
    finally:
        cluster.teardown()


def partial(cluster, net, lead):
    f = next(i for i in range(1, cluster.n + 1) if i != lead)
    net.cut(lead, f)
    return "n%d cut from leader n%d only" % (f, lead), None


def chained(cluster, net, lead):
    others = [i for i in range(1, cluster.n + 1) if i != lead]
    net.cut(lead, others[1])
    return "chain n%d - n%d - n%d, leader at the end" % (lead, others[0], others[1]), None


def quorum_loss(cluster, net, lead):
    hub = next(i for i in range(1, cluster.n + 1) if i != lead)
    hub_topology(net, cluster.n, hub)
    return "only n%d reaches everyone; leader n%d reaches only it" % (hub, lead), hub


def constrained(cluster, net, lead):
    hub = next(i for i in range(1, cluster.n + 1) if i != lead)
    net.isolate(hub)
    # Let the hub fall behind while the others commit.
    import redis
    r = redis.Redis(*cluster.client_addrs()[lead - 1], socket_timeout=2)
    for k in range(200):
        r.set("lag:%d" % k, k)
    net.heal()
    hub_topology(net, cluster.n, hub, isolate=lead)
    return "hub n%d lagging 200 writes; old leader n%d isolated" % (hub, lead), hub


THROUGHPUT_TARGET = True


def main(args):
    global THROUGHPUT_TARGET
    # In make test the throughput ratio is reported, not asserted: a timed
    # figure on a shared machine is a benchmark, not a test.
    THROUGHPUT_TARGET = not getattr(args, "no_throughput_target", False)
    tmp = args.out or tempfile.mkdtemp(prefix="rasputin-stability-")
    s = args.seconds
    rows = [
        one("partial", 3, s, tmp, args.tag + "p", partial, 0, 0.80),
        one("chained", 3, s, tmp, args.tag + "c", chained, 0, 0.80),
        one("quorum-loss", 5, s, tmp, args.tag + "q", quorum_loss, 1, 0.0),
        one("constrained", 5, s, tmp, args.tag + "e", constrained, 1, 0.0),
    ]
    print("\nLeader stability (%d s per run, clients on the leader)" % s)
    print("%-12s %-52s %10s %10s %7s %8s  %s" % ("topology", "fault", "base op/s", "fault op/s",
                                                  "ratio", "changes", "target"))
    passed = failed = 0
    for r in rows:
        print("%-12s %-52s %10.0f %10.0f %6.0f%% %8d  %s %s" % (
            r["topology"], r["fault"], r["baseline_ops_s"], r["fault_ops_s"], r["ratio"] * 100,
            r["leader_changes"], r["target"], "MET" if r["met"] else "MISSED"))
        if r["met"]:
            passed += 1
        else:
            failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1
