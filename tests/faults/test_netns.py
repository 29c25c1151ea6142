#!/usr/bin/python3
"""Self-test of the namespace harness (tests/faults/netns.py) against real
rasputind processes.  Needs root, build/release/rasputind and
build/release/nfq_delay.  Prints ok/FAIL lines, then "N passed, N failed";
exits 1 if anything failed.  About 40 s.

    /usr/bin/python3 tests/faults/test_netns.py [--keep] [-v]

--keep keeps the work directory (node logs) even when everything passed;
it is always kept after a failure, and its path printed."""

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netns  # noqa: E402
from netns import Disk, HarnessError, Net, NsCluster  # noqa: E402

import redis  # noqa: E402

LEASE_MS = 500
HEARTBEAT_MS = 50

passed = 0
failed = 0
timings = []


def ok(name):
    global passed
    passed += 1
    print("ok   " + name, flush=True)


def fail(name, why):
    global failed
    failed += 1
    print("FAIL %s: %s" % (name, why), flush=True)


def check(name, cond, why=""):
    if cond:
        ok(name)
    else:
        fail(name, why)
    return cond


class Load:
    """A background writer: SETs prefix<k> through one node, one at a time,
    remembering which writes were acknowledged."""

    def __init__(self, c, node, prefix, value_size=16):
        self.c, self.node, self.prefix = c, node, prefix
        self.value = "x" * value_size
        self.acked = []
        self.errors = 0
        self.last_error = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        r = None
        k = 0
        while not self._stop.is_set():
            try:
                if r is None:
                    r = self.c.client(self.node, timeout=2)
                key = "%s%d" % (self.prefix, k)
                k += 1
                if r.set(key, self.value):
                    self.acked.append(key)
            except redis.ResponseError as e:
                self.errors += 1
                self.last_error = str(e)
                time.sleep(0.02)
            except (redis.RedisError, OSError) as e:
                self.errors += 1
                self.last_error = str(e)
                r = None
                time.sleep(0.05)
        if r is not None:
            r.close()

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=10)
        return False


def others(c, i):
    return [j for j in range(1, c.n + 1) if j != i]


def follower_of(c, leader):
    return others(c, leader)[0]


def timed_get(c, i, key, reps=9):
    r = c.client(i, timeout=5)
    try:
        r.get(key)  # connect and warm up
        ts = []
        for _ in range(reps):
            t = time.monotonic()
            r.get(key)
            ts.append((time.monotonic() - t) * 1000)
        return statistics.median(ts)
    finally:
        r.close()


def readonly_missing(c, i, keys):
    """Keys absent from node i's own state machine (READONLY: local reads)."""
    r = c.client(i, timeout=5)
    try:
        r.execute_command("READONLY")
        missing = []
        for k in range(0, len(keys), 200):
            chunk = keys[k:k + 200]
            vals = r.mget(chunk)
            missing += [key for key, v in zip(chunk, vals) if v is None]
        return missing
    finally:
        r.close()


def heal_and_restore(c, net, disk):
    """After a failed section: no faults, every node running again."""
    try:
        net.heal()
        for i in list(disk.full):
            disk.free(i)
        for i in range(1, c.n + 1):
            if i in c.paused:
                c.resume(i)
            if i in c.removed:
                c.readd(i)
            elif not c.alive(i):
                c.start(i)
        c.wait_voters(3, timeout=20)
    except Exception as e:
        print("     (restoring the cluster failed: %s)" % e)


# --- the sections ----------------------------------------------------------


def t_form(c, net, disk):
    t = time.monotonic()
    leader = c.start_all(wait_voters=3, timeout=40)
    took = time.monotonic() - t
    s = c.status(leader)
    check("form: 3-node cluster with 3 voters (%.1f s)" % took, s and s["voters"] == 3, "status %s" % s)
    for i in range(1, c.n + 1):
        c.cmd(i, "SET", "form%d" % i, "v%d" % i)
    bad = []
    for i in range(1, c.n + 1):
        for j in range(1, c.n + 1):
            v = c.cmd(i, "GET", "form%d" % j)
            if v != ("v%d" % j).encode():
                bad.append((i, j, v))
    check("form: SET/GET from the root namespace through every node", not bad, "wrong reads %s" % bad)
    addrs = c.client_addrs()
    check("form: client_addrs", addrs == [("10.%d.0.%d" % (c.subnet, i), 7001) for i in (1, 2, 3)], str(addrs))


def t_drop(c, net, disk):
    """A one-way cut leader -> follower.  The follower stops hearing the
    leader: its commit index stalls until its lease promise runs out, then it
    turns pre-candidate and catches up by log pull from the other follower
    (docs/harpoon.md, "Log pull"), again and again.  The leader keeps its
    lease and term."""
    L = c.wait_leader()
    F = follower_of(c, L)
    term0 = c.status(L)["term"]
    with Load(c, L, "drop") as load:
        time.sleep(0.2)
        net.drop(L, F)
        t0 = time.monotonic()
        samples = []  # (t, follower commit, follower role, leader commit)
        while time.monotonic() - t0 < 3 * LEASE_MS / 1000:
            s, sl = c.status(F), c.status(L)
            samples.append((time.monotonic(), s["commit_index"], s["role"], sl["commit_index"]))
            time.sleep(0.02)
        longest, start = 0.0, samples[0]
        for smp in samples[1:]:
            if smp[1] != start[1]:
                start = smp
            longest = max(longest, smp[0] - start[0])
        roles = sorted(set(smp[2] for smp in samples))
        adv = samples[-1][3] - samples[0][3]
        check("drop(leader n%d, follower n%d): the follower's commit index stalls %.2f s (>= %.2f s) while "
              "the leader commits %d more" % (L, F, longest, 0.6 * LEASE_MS / 1000, adv),
              longest >= 0.6 * LEASE_MS / 1000 and adv > 20,
              "longest stall %.2f s, leader advanced %d" % (longest, adv))
        check("drop: the follower stops hearing the leader (turns pre-candidate: %s)" % roles,
              "pre-candidate" in roles or "candidate" in roles, "roles seen %s" % roles)
        cnt = net.counters().get("drop %d->%d" % (L, F), 0)
        check("drop: the rule counts dropped packets (%d)" % cnt, cnt > 0, "counter %d" % cnt)
        check("drop: described", net.describe() == "drop %d->%d" % (L, F), net.describe())
        sL = c.status(L)
        check("drop: one-way cut from the leader changes neither leader nor term",
              sL and sL["role"] == "leader" and sL["term"] == term0,
              "n%d now %s term %s (was leader, term %d)" % (L, sL and sL["role"], sL and sL["term"], term0))
        net.heal()
        # The follower hears the leader again once TCP retransmits on the
        # links that were cut (their retransmission timer backs off while
        # the cut lasts), then catches up.
        t = time.monotonic()
        s = None
        while time.monotonic() - t < 15:
            s = c.status(F)
            if s and s["role"] == "follower" and s["leader_id"] == c.node_ids[L]:
                break
            time.sleep(0.02)
        try:
            c.wait_caught_up(F, timeout=5, index=c.status(L)["commit_index"])
            check("drop: after heal the follower follows n%d again (%.2f s) and catches up" %
                  (L, time.monotonic() - t), s and s["role"] == "follower" and s["leader_id"] == c.node_ids[L],
                  "status %s" % s)
        except HarnessError as e:
            fail("drop: after heal the follower catches up", str(e))
    check("drop: the load kept being acknowledged (%d writes)" % len(load.acked), len(load.acked) > 20,
          "%d acked, last error %s" % (len(load.acked), load.last_error))


def t_loss(c, net, disk):
    L = c.wait_leader()
    F = follower_of(c, L)
    with Load(c, L, "loss"):
        net.loss(L, F, 0.3)
        f1 = c.status(F)["commit_index"]
        time.sleep(1.0)
        f2 = c.status(F)["commit_index"]
        cnt = net.counters().get("loss %d->%d p=0.3" % (L, F), 0)
        net.heal()
    check("loss(n%d, n%d, 0.3): some packets dropped (%d), the follower still advances (%d -> %d)" %
          (L, F, cnt, f1, f2), cnt > 0 and f2 > f1, "counter %d, commit %d -> %d" % (cnt, f1, f2))


def t_isolate(c, net, disk):
    L = c.wait_leader()
    t0 = time.monotonic()
    net.isolate(L)
    try:
        nl = c.wait_leader(timeout=10, exclude=[L])
        took = time.monotonic() - t0
        check("isolate(leader n%d): n%d leads after %.2f s (<= 5 leases)" % (L, nl, took),
              took <= 5 * LEASE_MS / 1000, "took %.2f s" % took)
    except HarnessError as e:
        fail("isolate: a new leader among the others", str(e))
        net.heal()
        return
    deadline = time.monotonic() + 5
    role = None
    while time.monotonic() < deadline:
        s = c.status(L)
        role = s and s["role"]
        if role != "leader":
            break
        time.sleep(0.05)
    check("isolate: the isolated n%d steps down (%s after %.2f s)" % (L, role, time.monotonic() - t0),
          role != "leader", "still says leader")
    c.cmd(nl, "SET", "iso", "1")
    check("isolate: the majority serves writes", c.cmd(others(c, nl)[0] if others(c, nl)[0] != L else nl,
                                                        "GET", "iso") == b"1")
    net.heal()
    try:
        c.wait_caught_up(L, timeout=10)
        v = c.cmd(L, "GET", "iso")
        s = c.status(L)
        check("isolate: after heal n%d follows and reads the new write" % L,
              v == b"1" and s["role"] == "follower", "GET %r, role %s" % (v, s["role"]))
    except HarnessError as e:
        fail("isolate: after heal the old leader catches up", str(e))


def t_pause(c, net, disk):
    L = c.wait_leader()
    c.cmd(L, "SET", "pz", "before")
    t0 = time.monotonic()
    c.pause(L)
    try:
        nl = c.wait_leader(timeout=10, exclude=[L])
        ok("pause(leader n%d): n%d leads after %.2f s" % (L, nl, time.monotonic() - t0))
    except HarnessError as e:
        fail("pause: a new leader while the leader is stopped", str(e))
        c.resume(L)
        return
    c.cmd(nl, "SET", "pz", "after")
    time.sleep(max(0.0, 3 * LEASE_MS / 1000 - (time.monotonic() - t0)))  # paused > lease
    c.resume(L)
    # The first read through the resumed node must already see the new value.
    try:
        v = c.cmd(L, "GET", "pz", timeout=10)
        check("pause/resume: first GET through the resumed n%d sees the write made meanwhile" % L, v == b"after",
              "got %r" % v)
    except (redis.RedisError, OSError) as e:
        fail("pause/resume: GET through the resumed node", repr(e))
    deadline = time.monotonic() + 5
    ls = []
    while time.monotonic() < deadline:
        ls = c.leaders()
        if len(ls) == 1 and c.status(L) and c.status(L)["role"] == "follower":
            break
        time.sleep(0.05)
    check("pause/resume: one leader, the resumed node follows", len(ls) == 1 and ls[0][0] != L,
          "leaders %s" % ls)


def t_kill(c, net, disk):
    L = c.wait_leader()
    F = follower_of(c, L)
    r = c.client(L, timeout=5)
    p = r.pipeline(transaction=False)
    keys = ["d%d" % k for k in range(300)]
    for k in keys[:200]:
        p.set(k, k)
    p.execute()
    rc = c.kill(F)
    check("kill(n%d): SIGKILL reaped (%s)" % (F, rc), rc == -9, "exit %s" % rc)
    for k in keys[200:]:
        p.set(k, k)
    p.execute()
    r.close()
    c.restart(F)
    try:
        c.wait_caught_up(F, timeout=15)
        miss = readonly_missing(c, F, keys)
        check("kill/restart follower: n%d's own state has all 300 keys" % F, not miss, "missing %s" % miss[:5])
    except HarnessError as e:
        fail("kill/restart follower: catches up", str(e))
    # the leader
    t0 = time.monotonic()
    c.kill(L)
    try:
        nl = c.wait_leader(timeout=10, exclude=[L])
        ok("kill -9 leader n%d: n%d leads after %.2f s" % (L, nl, time.monotonic() - t0))
    except HarnessError as e:
        fail("kill -9 leader: a new leader", str(e))
    c.restart(L)
    # all three at once: the data must come from their own disks
    for i in range(1, c.n + 1):
        c.kill(i)
    for i in range(1, c.n + 1):
        c.start(i)
    try:
        nl = c.wait_leader(timeout=15)
        for i in range(1, c.n + 1):
            c.wait_caught_up(i, timeout=15)
        miss = {i: readonly_missing(c, i, keys) for i in range(1, c.n + 1)}
        bad = {i: m[:3] for i, m in miss.items() if m}
        got = [c.cmd(i, "GET", "d299") for i in range(1, c.n + 1)]
        check("kill -9 all, restart all: every node has all 300 keys, reads agree", not bad and
              got == [b"d299"] * 3, "missing %s, GET d299 %s" % (bad, got))
    except HarnessError as e:
        fail("kill -9 all, restart all", str(e))


def t_delay(c, net, disk):
    L = c.wait_leader()
    F = follower_of(c, L)
    c.cmd(L, "SET", "dl", "1")
    base = timed_get(c, F, "dl")
    net.delay(F, 100)
    slow = timed_get(c, F, "dl")
    direct = timed_get(c, L, "dl")
    cnt = net.counters().get("delay n%d 100ms" % F, 0)
    desc = net.describe()
    check("delay(n%d, 100): forwarded GET %.1f ms -> %.1f ms (+>= 90 ms)" % (F, base, slow), slow - base >= 90,
          "base %.1f ms, delayed %.1f ms" % (base, slow))
    check("delay: packets went through the queues (%d), described" % cnt, cnt > 0 and desc == "delay n%d 100ms" % F,
          "counter %d, describe %r" % (cnt, desc))
    check("delay: a GET through the leader is not delayed (%.1f ms)" % direct, direct < 50, "%.1f ms" % direct)
    net.delay(F, 30, jitter_ms=10)  # replaces the 100 ms delay
    mid = timed_get(c, F, "dl")
    check("delay: re-delay to 30+/-10 ms (%.1f ms)" % mid, 15 <= mid - base < 80, "%.1f ms" % mid)
    net.heal()
    after = timed_get(c, F, "dl")
    check("delay: heal restores it (%.1f ms)" % after, after < base + 20 and not net.delayers,
          "%.1f ms, delayers %s" % (after, net.delayers))


def t_disk(c, net, disk):
    L = c.wait_leader()
    F = follower_of(c, L)
    with Load(c, L, "disk", value_size=1000) as load:
        time.sleep(0.2)
        a0 = c.status(F)["applied_index"]
        disk.fill(F)
        t0 = time.monotonic()
        n0 = len(load.acked)
        outcome = None
        while time.monotonic() - t0 < 20:
            if not c.alive(F):
                outcome = "exit %s" % c.exit_code(F)
                break
            time.sleep(0.05)
        took = time.monotonic() - t0
        if outcome is None:
            s = c.status(F)
            time.sleep(1)
            s2 = c.status(F)
            if s and s2 and s2["applied_index"] == s["applied_index"]:
                outcome = "refuses (applied stuck at %d)" % s["applied_index"]
        n1 = len(load.acked)
        time.sleep(0.5)
        n2 = len(load.acked)
    check("disk full on follower n%d: %s after %.2f s (%d writes)" % (F, outcome, took, n1 - n0),
          outcome is not None and (outcome == "exit 1" or outcome.startswith("refuses")),
          "outcome %s; applied %d at fill" % (outcome, a0))
    check("disk full: the cluster kept serving (%d writes after the node stopped)" % (n2 - n1), n2 > n1,
          "last error %s" % load.last_error)
    with open(c.log_path(F), errors="replace") as f:
        tail = [line.strip() for line in f.readlines()[-30:] if " E " in line or "space" in line]
    print("     n%d log: %s" % (F, tail[-1] if tail else "(no error line)"))
    disk.free(F)
    if c.alive(F):
        c.stop(F)
    c.start(F)
    try:
        c.wait_caught_up(F, timeout=20)
        miss = readonly_missing(c, F, load.acked)
        check("disk freed, restart: n%d catches up with all %d writes" % (F, len(load.acked)), not miss,
              "missing %d, e.g. %s" % (len(miss), miss[:3]))
    except HarnessError as e:
        fail("disk freed, restart: catches up", str(e))


def t_membership(c, net, disk):
    L = c.wait_leader()
    F = follower_of(c, L)
    old = c.node_ids[F]
    c.remove(F)
    s = c.status(L)
    check("remove(n%d): the leader reports 2 voters" % F, s and s["voters"] == 2, "status %s" % s)
    c.cmd(L, "SET", "mem", "1")
    t0 = time.monotonic()
    c.readd(F)
    try:
        c.wait_voters(3, timeout=20)
        c.wait_caught_up(F, timeout=10)
        s = c.status(F)
        m = c.members()
        check("readd: NODES lists id %d as a voter and no longer id %d" % (c.node_ids[F], old),
              m is not None and m.get(c.node_ids[F]) == "voter" and old not in m, "NODES %s" % m)
        check("readd(n%d): joins as id %d and is promoted, 3 voters (%.2f s)" % (F, c.node_ids[F],
                                                                                  time.monotonic() - t0),
              s["node_id"] == F * 1000 + 1 and s["node_id"] != old and s["voters"] == 3 and
              c.cmd(F, "GET", "mem") == b"1", "status %s" % s)
    except HarnessError as e:
        fail("readd: promoted back to 3 voters", str(e))


def t_clock(c, net, disk):
    L = c.wait_leader()
    F = follower_of(c, L)
    try:
        c.set_clock_rate(F, 50000)
        fail("clock: a rate beyond --clock-drift-ppm is refused", "no error")
    except ValueError:
        ok("clock: a rate beyond --clock-drift-ppm is refused")
    c.set_clock_rate(F, -8000)
    try:
        c.wait_caught_up(F, timeout=15)
        cmdline = open("/proc/%d/cmdline" % c.pid(F)).read().split("\0")
        check("clock: n%d restarted with --debug-clock-rate-ppm=-8000 and follows" % F,
              "--debug-clock-rate-ppm=-8000" in cmdline, str(cmdline))
    except (HarnessError, OSError) as e:
        fail("clock: node restarted with a slow clock", str(e))
    c.set_clock_rate(F, 0)


# Cuts last: after a cut heals, a link carries nothing until TCP's backed-off
# retransmission timer fires (seconds), which would slow the sections after.
SECTIONS = [t_form, t_pause, t_kill, t_delay, t_loss, t_disk, t_membership, t_clock, t_drop, t_isolate]


def base36(n):
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def clean_stale_selftests():
    """Removes what earlier self-tests killed with SIGKILL left behind: their
    tag is 't' + their pid in base 36."""
    for ns in netns._netns_list():
        if not (ns.startswith("rpf-t") and "-n" in ns):
            continue
        tag = ns[4:].rsplit("-n", 1)[0]
        try:
            pid = int(tag[1:], 36)
        except ValueError:
            continue
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                running = b"test_netns" in f.read()
        except OSError:
            running = False
        if not running:
            print("     (removing leftovers of an earlier self-test: %s)" % tag)
            netns.cleanup_tag(tag)


def snapshot():
    return {
        "netns": set(netns._netns_list()),
        "links": set(netns._links()),
        "iptables": netns._run(["iptables-save"], check=False).splitlines(),
        "mounts": set(m[1] for m in netns._mounts()),
    }


def main(argv):
    keep = "--keep" in argv
    verbose = "-v" in argv
    if os.geteuid() != 0:
        print("FAIL setup: must run as root (network namespaces, iptables, mounts)")
        print("0 passed, 1 failed")
        return 1
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    binary = os.path.join(repo, "build/release/rasputind")
    t_all = time.monotonic()
    before = snapshot()
    clean_stale_selftests()
    tag = "t" + base36(os.getpid())
    workdir = tempfile.mkdtemp(prefix="rpf-selftest-")
    c = NsCluster(3, workdir, binary=binary, tag=tag, lease_ms=LEASE_MS, heartbeat_ms=HEARTBEAT_MS, disk_mb=64,
                  verbose=verbose)
    net = Net(c)
    disk = Disk(c)
    try:
        c.setup()
        for sec in SECTIONS:
            t = time.monotonic()
            try:
                sec(c, net, disk)
            except Exception as e:
                fail(sec.__name__, "%s: %s" % (type(e).__name__, e))
                if sec is t_form:
                    break
                heal_and_restore(c, net, disk)
            timings.append((sec.__name__[2:], time.monotonic() - t))
            if failed and sec is t_form:
                break
    finally:
        c.teardown()
    after = snapshot()
    ours = "rpf" + tag
    # iproute2 makes /run/netns a mount point of its own the first time
    # a namespace is added on a machine, and keeps it for the machine's
    # life (every later `ip netns` relies on it): on a fresh machine it
    # appears during this test without being ours to remove.
    left = [n for n in after["netns"] - before["netns"]] + \
           [n for n in after["links"] - before["links"]] + \
           [m for m in after["mounts"] - before["mounts"] if m != "/run/netns"]
    left += [n for n in netns._netns_list() if n.startswith("rpf-%s-" % tag)]
    left += [n for n in netns._links() if n.startswith(ours)]
    check("teardown: no namespace, link or mount of ours left", not left, "left %s" % sorted(set(left)))
    check("teardown: root iptables unchanged", before["iptables"] == after["iptables"] or
          [x for x in before["iptables"] if not x.startswith("#")] ==
          [x for x in after["iptables"] if not x.startswith("#")], "iptables-save differs")
    # our own processes: none of the node pids may still exist
    live = [p.pid for p in c.procs.values() if p.poll() is None]
    check("teardown: every node process reaped", not live, "alive %s" % live)
    print("timings: " + ", ".join("%s %.1fs" % t for t in timings) + ", total %.1fs" % (time.monotonic() - t_all))
    if failed or keep:
        print("work directory (logs): %s" % workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
