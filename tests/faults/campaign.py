#!/usr/bin/python3
"""tests/faults/campaign.py — the black-box fault campaign: real rasputind
processes in network namespaces (netns.py), concurrent client processes
(clients.py), a schedule of nemeses, then the checker (check.py), the
leader watch (leaders.py) and the report (report.py).

  campaign.py run [--seconds S] [--nodes N] [--out DIR] [--seed S] [--unsafe-reads]
      A campaign over every nemesis: kill -9 and restart, pauses longer than
      a lease, majority/minority partitions, one-way drops, a bridge node,
      loss and delay, clock skew (nodes started fast or slow within the
      drift bound), a membership change under loss and delay, and a full disk.
      Writes DIR/summary.txt and DIR/timeline.png; exits 1 unless PASS.
      --unsafe-reads starts the nodes with --debug-unsafe-follower-reads and
      expects the checker to FAIL (the harness has teeth).
  campaign.py stability [--seconds S]
      Leader stability: leader changes and throughput, relative to the same
      run without the fault, under one follower cut from the leader, and the
      quorum-loss, constrained-election and chained topologies.

`make faults` runs `run --seconds 300` and `stability --seconds 60`;
`make test` runs a 90-second campaign, the teeth run and a short
stability pass (tests/faults/run_ci.sh).
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import check  # noqa: E402
import clients  # noqa: E402
import leaders  # noqa: E402
import netns  # noqa: E402
import report  # noqa: E402


def log(msg):
    print("[%7.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


T0 = time.monotonic()


class Schedule:
    """Runs nemeses one after another while the clients run, recording
    (start, end, label) intervals relative to the clients' start."""

    def __init__(self, cluster, net, disk, rng, lease_s, start):
        self.c = cluster
        self.net = net
        self.disk = disk
        self.rng = rng
        self.lease_s = lease_s
        self.start = start
        self.faults = []
        self.errors = []

    def now(self):
        return time.monotonic() - self.start

    def interval(self, label, fn, hold_s):
        t0 = self.now()
        log("nemesis: " + label)
        try:
            undo = fn()
            time.sleep(hold_s)
            if undo:
                undo()
        except Exception as e:  # noqa: BLE001 — a harness error is reported, not hidden
            self.errors.append("%s: %r" % (label, e))
            log("nemesis error: %s: %r" % (label, e))
            self.net.heal()
        self.faults.append((t0, self.now(), label))
        time.sleep(1.0 + self.lease_s)  # recovery between faults

    def nodes(self):
        return list(range(1, self.c.n + 1))

    def leader_or_any(self):
        return self.c.leader() or self.rng.choice(self.nodes())

    def follower(self):
        lead = self.c.leader()
        others = [i for i in self.nodes() if i != lead and self.c.alive(i)]
        return self.rng.choice(others) if others else self.rng.choice(self.nodes())

    # --- nemeses: each does the fault and returns how to undo it ---
    def kill(self):
        i = self.leader_or_any()

        def undo():
            self.c.restart(i)
        self.c.kill(i)
        return undo

    def pause(self):
        i = self.leader_or_any()
        self.c.pause(i)
        return lambda: self.c.resume(i)

    def partition_majority(self):
        nodes = self.nodes()
        self.rng.shuffle(nodes)
        lead = self.c.leader()
        k = len(nodes) // 2
        if lead:
            nodes.remove(lead)
            # Half the time the leader ends up on the minority side.
            nodes.insert(0 if self.rng.random() < 0.5 else len(nodes), lead)
        minority, majority = nodes[:k], nodes[k:]
        self.net.partition(minority, majority)
        return self.net.heal

    def one_way(self):
        lead = self.leader_or_any()
        f = self.follower()
        if f != lead:
            self.net.drop(lead, f)
        return self.net.heal

    def bridge(self):
        nodes = self.nodes()
        self.rng.shuffle(nodes)
        a, b = nodes[0], nodes[1]
        self.net.cut(a, b)
        return self.net.heal

    def loss_delay(self):
        nodes = self.nodes()
        for a in nodes:
            for b in nodes:
                if a != b:
                    self.net.loss(a, b, 0.15)
        self.net.delay(self.follower(), 40)
        return self.net.heal

    def membership(self):
        """Remove a follower and add it back (as a new identity) while the
        links are lossy and one node is slow: faults that leave the new
        configuration a connected majority, so the change can commit."""
        f = self.follower()
        nodes = self.nodes()
        for a in nodes:
            for b in nodes:
                if a != b:
                    self.net.loss(a, b, 0.05)
        slow = [i for i in nodes if i != f]
        self.net.delay(self.rng.choice(slow), 20)
        self.c.remove(f)

        def undo():
            self.c.readd(f)
            self.net.heal()
        return undo

    def disk_full(self):
        f = self.follower()
        self.disk.fill(f)

        def undo():
            self.disk.free(f)
            if not self.c.alive(f):
                self.c.restart(f)
        return undo


def run(args):
    out = args.out or tempfile.mkdtemp(prefix="rasputin-faults-")
    os.makedirs(out, exist_ok=True)
    lease_ms = args.lease_ms
    drift_ppm = 10000
    node_args = {}
    # Clock skew within the drift bound: one node fast, one slow.
    node_args[2] = ["--clock-drift-ppm", str(drift_ppm), "--debug-clock-rate-ppm", str(drift_ppm // 2)]
    node_args[3] = ["--clock-drift-ppm", str(drift_ppm), "--debug-clock-rate-ppm", str(-drift_ppm // 2)]
    extra = ["--clock-drift-ppm", str(drift_ppm)]
    if args.unsafe_reads:
        extra.append("--debug-unsafe-follower-reads")
    if args.snapshot_entries:
        # Snapshots every few hundred writes: a node that was down or cut
        # off comes back through an install, under the same faults.
        extra += ["--snapshot-entries", str(args.snapshot_entries)]
    cluster = netns.NsCluster(args.nodes, os.path.join(out, "nodes"), tag=args.tag,
                              lease_ms=lease_ms, heartbeat_ms=max(20, lease_ms // 10),
                              extra_args=extra, node_args=node_args)
    result = {}
    try:
        cluster.setup()
        cluster.start_all(wait_voters=min(3, args.nodes))
        net = netns.Net(cluster)
        disk = netns.Disk(cluster)
        addrs = cluster.client_addrs()
        rng = random.Random(args.seed)
        start = time.monotonic()
        watch = leaders.LeaderWatch(addrs, t0=start)
        watch.start()
        box = {}

        def load():
            try:
                box["run"] = clients.run_clients(addrs, args.seconds, out, procs=args.procs,
                                                 keys=args.keys, seed=args.seed, t0=start)
            except Exception as e:  # noqa: BLE001 — reported in the summary
                box["error"] = repr(e)
                log("clients failed: %r" % (e,))
        t = threading.Thread(target=load, daemon=True)
        t.start()
        sched = Schedule(cluster, net, disk, rng, lease_ms / 1000.0, start)
        if args.unsafe_reads:
            plan = [("isolate a follower; stale reads on it", lambda: isolate_follower(sched), 6.0)]
        else:
            plan = [
                ("kill -9 and restart", sched.kill, 2.0),
                ("pause (SIGSTOP) longer than a lease", sched.pause, 2.5 * lease_ms / 1000.0),
                ("majority/minority partition", sched.partition_majority, 4.0),
                ("one-way drop leader->follower", sched.one_way, 4.0),
                ("bridge (one link cut)", sched.bridge, 4.0),
                ("loss 15% + delay 40 ms", sched.loss_delay, 4.0),
                ("membership: remove + re-add under loss and delay", sched.membership, 3.0),
                ("full disk on a follower", sched.disk_full, 3.0),
            ]
        k = 0
        while time.monotonic() - start < args.seconds - 8:
            label, fn, hold = plan[k % len(plan)]
            sched.interval(label, fn, hold)
            k += 1
        net.heal()
        t.join(args.seconds + 180)
        wl = watch.stop()
        for i in range(1, args.nodes + 1):
            if not cluster.alive(i):
                log("restarting node %d for the final check" % i)
                cluster.restart(i)
        result = check.check(out, addrs)
        windows = report.unavailability(os.path.join(out, "ops.csv"))
        info = {"seconds": args.seconds, "nodes": args.nodes, "seed": args.seed,
                "lease_ms": lease_ms, "unsafe_reads": args.unsafe_reads,
                "harness_errors": sched.errors + ([box["error"]] if "error" in box else []),
                "clients": box.get("run", {})}
        text = report.write_summary(os.path.join(out, "summary.txt"), info, result, sched.faults,
                                    wl, windows)
        report.plot(os.path.join(out, "ops.csv"), sched.faults, os.path.join(out, "timeline.png"),
                    "rasputin fault campaign (%d nodes, %d s)" % (args.nodes, args.seconds))
        print(text)
        print("output: %s" % out)
    finally:
        cluster.teardown()
    verdict = result.get("verdict", "FAIL")
    if args.unsafe_reads:
        ok = verdict == "FAIL"
        print("teeth: the unsafe build %s" % ("is caught (FAIL), as it must be" if ok else
                                             "was NOT caught"))
        print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
        return 0 if ok else 1
    ok = verdict == "PASS"
    if args.snapshot_entries:
        # The point of the option: some node came back through an install.
        n = count_installs(os.path.join(out, "nodes"))
        print("snapshot installs (every node's log): %d" % n)
        if n == 0:
            print("FAIL: --snapshot-entries %d and no node installed a snapshot"
                  % args.snapshot_entries)
            ok = False
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


def count_installs(nodes_dir):
    n = 0
    for name in sorted(os.listdir(nodes_dir)):
        if name.startswith("n") and name.endswith(".log"):
            with open(os.path.join(nodes_dir, name), errors="replace") as f:
                n += sum(1 for line in f if "installed snapshot" in line)
    return n


def isolate_follower(sched):
    f = sched.follower()
    sched.net.isolate(f)
    return sched.net.heal


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--seconds", type=int, default=300)
    r.add_argument("--nodes", type=int, default=5)
    r.add_argument("--procs", type=int, default=6)
    r.add_argument("--keys", type=int, default=6)
    r.add_argument("--lease-ms", type=int, default=1000)
    r.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    r.add_argument("--out")
    r.add_argument("--tag", default="a")
    r.add_argument("--unsafe-reads", action="store_true")
    r.add_argument("--snapshot-entries", type=int, default=0,
                   help="pass --snapshot-entries N to every node (0: the default)")
    s = sub.add_parser("stability")
    s.add_argument("--seconds", type=int, default=60)
    s.add_argument("--out")
    s.add_argument("--tag", default="s")
    s.add_argument("--no-throughput-target", action="store_true",
                   help="report the throughput ratio without asserting it (make test)")
    args = ap.parse_args()
    if args.cmd == "run":
        log("campaign: %d nodes, %d s, seed %d" % (args.nodes, args.seconds, args.seed))
        sys.exit(run(args))
    import stability
    sys.exit(stability.main(args))


if __name__ == "__main__":
    main()
