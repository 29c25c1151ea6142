#!/usr/bin/python3
"""tests/faults/test_check.py — the fault harness's checker has teeth.

Feeds rasputin-lincheck and check.check() known histories and run results:
linearizable ones must PASS; a stale read, a lost write, a double CAS
success, a double-applied increment, an acknowledged fresh key missing, a
session counter above acked + given up (or below acked) must each FAIL for
the right reason.  check() reads back from a small fake RESP server (GET
and MGET over a dict), so no cluster is needed.  Also: report.unavailability,
report.write_summary, report.plot (a real PNG), leaders.summarize and the
clients' status rules.  Prints ok/FAIL lines and "N passed, N failed";
exits 1 on a failure.
"""
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(HERE, "testdata")
LINCHECK = os.path.join(REPO, "build", "release", "rasputin-lincheck")

import check  # noqa: E402
import clients  # noqa: E402
import leaders  # noqa: E402
import report  # noqa: E402

passed = 0
failed = 0


def expect(name, cond, why=""):
    global passed, failed
    if cond:
        print("ok   %s" % name)
        passed += 1
    else:
        print("FAIL %s: %s" % (name, why))
        failed += 1


# ------------------------------------------------------------ fake server

def _bulk(v):
    if v is None:
        return b"$-1\r\n"
    v = v if isinstance(v, bytes) else str(v).encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            line = self.rfile.readline()
            if not line or line[:1] != b"*":
                return
            args = []
            for _ in range(int(line[1:])):
                n = int(self.rfile.readline()[1:])
                args.append(self.rfile.read(n + 2)[:-2].decode())
            data = self.server.data
            cmd = args[0].upper()
            if cmd == "GET":
                out = _bulk(data.get(args[1]))
            elif cmd == "MGET":
                out = b"*%d\r\n" % (len(args) - 1) + b"".join(_bulk(data.get(k))
                                                              for k in args[1:])
            else:
                out = b"-ERR unknown command\r\n"
            self.wfile.write(out)


class FakeKV(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, data):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data = data
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def addrs(self):
        return [("127.0.0.1", self.server_address[1])]


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------ run dirs

def history(*names):
    text = ""
    for n in names:
        with open(os.path.join(DATA, n)) as f:
            text += f.read()
    return text


def good_state():
    """The final state of linearizable.txt, the acked keys and the counter."""
    return {"k1": "6000", "k2": "2", "ack:0:1": "1", "ack:1:1": "1", "ctr:6": "3"}


def make_run(root, name, hist, keys=3, sessions=None, extra=None):
    d = os.path.join(root, name)
    os.makedirs(d)
    with open(os.path.join(d, "history.txt"), "w") as f:
        f.write(hist)
    info = {"ok": 17, "fail": 2, "info": 3, "ops": 22, "keys": keys, "procs": 3,
            "session_procs": 1, "counter_key_base": 1000,
            "acked_keys": ["ack:0:1", "ack:1:1"], "processes_without_results": [],
            "sessions": sessions if sessions is not None else {
                "ctr:6": {"history_key": 1006, "acked": 2, "given_up": 1, "final_reply": 3,
                          "violations": []}}}
    info.update(extra or {})
    with open(os.path.join(d, "clients.json"), "w") as f:
        json.dump(info, f)
    return d


def run_check(root, name, hist, data, **kw):
    srv = FakeKV(data)
    try:
        d = make_run(root, name, hist, **kw)
        return check.check(d, srv.addrs(), LINCHECK, readback_s=5)
    finally:
        srv.shutdown()
        srv.server_close()


def has_reason(res, text):
    return any(text in r for r in res.get("reasons", []))


# ------------------------------------------------------------ tests

def test_lincheck_files():
    for name, want in (("linearizable.txt", "yes"), ("stale_read.txt", "no"),
                       ("lost_write.txt", "no"), ("double_cas.txt", "no"),
                       ("double_incr.txt", "no")):
        r = check.run_lincheck(os.path.join(DATA, name), LINCHECK)
        expect("rasputin-lincheck %s -> linearizable %s" % (name, want),
               r["linearizable"] == want, "got %s (%s)" % (r["linearizable"],
                                                         r.get("lincheck_error")))
    for name, key in (("stale_read.txt", 3), ("lost_write.txt", 4), ("double_cas.txt", 5)):
        r = check.run_lincheck(os.path.join(DATA, name), LINCHECK)
        expect("rasputin-lincheck %s names key %d" % (name, key), r.get("bad_key") == key,
               "got %s" % r.get("bad_key"))


def test_check(root):
    r = run_check(root, "good", history("linearizable.txt"), good_state())
    expect("check: a good run PASSes", r["verdict"] == "PASS" and r["linearizable"] == "yes",
           "%s %s" % (r["verdict"], r["reasons"]))
    expect("check: counts and totals", r["ok"] == 17 and r["fail"] == 2 and r["info"] == 3 and
           r["lost_writes"] == 0 and r["double_applied"] == 0 and r["counters_checked"] == 1 and
           r["acked_keys_checked"] == 2 and r["final_reads"] == 3, json.dumps(
               {k: r[k] for k in ("ok", "fail", "info", "lost_writes", "double_applied",
                                  "counters_checked", "acked_keys_checked", "final_reads")}))
    expect("check: writes check.json and history-final.txt",
           os.path.exists(os.path.join(root, "good", "check.json")) and
           "9999 1 get ok" in open(os.path.join(root, "good", "history-final.txt")).read())

    for name, hist, key in (("stale", "stale_read.txt", "k3"), ("lost", "lost_write.txt", "k4"),
                            ("cas", "double_cas.txt", "k5"),
                            ("incr", "double_incr.txt", "ctr:6")):
        r = run_check(root, "bad-" + name, history("linearizable.txt", hist), good_state())
        expect("check: %s FAILs as not linearizable on %s" % (hist, key),
               r["verdict"] == "FAIL" and r["linearizable"] == "no" and
               r.get("bad_key_name") == key and has_reason(r, "not linearizable"),
               "%s %s %s" % (r["verdict"], r.get("bad_key_name"), r["reasons"]))

    st = good_state()
    del st["ack:1:1"]
    r = run_check(root, "missing-ack", history("linearizable.txt"), st)
    expect("check: an acknowledged fresh key missing FAILs as a lost write",
           r["verdict"] == "FAIL" and r["lost_writes"] == 1 and r["lost_keys"] == ["ack:1:1"]
           and has_reason(r, "acknowledged fresh keys missing"), str(r["reasons"]))

    st = good_state()
    st["ctr:6"] = "5"
    r = run_check(root, "double-apply", history("linearizable.txt"), st)
    expect("check: a counter above acked + given up FAILs as double-applied",
           r["verdict"] == "FAIL" and r["double_applied"] == 2 and
           r["counters"]["ctr:6"]["result"] == "double" and has_reason(r, "applied twice"),
           str(r["reasons"]))

    st = good_state()
    st["ctr:6"] = "1"
    r = run_check(root, "lost-incr", history("linearizable.txt"), st)
    expect("check: a counter below acked FAILs as a lost write",
           r["verdict"] == "FAIL" and r["lost_writes"] == 1 and r["double_applied"] == 0 and
           has_reason(r, "acknowledged write lost"), str(r["reasons"]))

    st = good_state()
    st["k1"] = "5000"
    r = run_check(root, "final-read", history("linearizable.txt"), st)
    expect("check: the final read exposes a write lost at the end",
           r["verdict"] == "FAIL" and r["linearizable"] == "no" and r.get("bad_key_name") == "k1",
           "%s %s" % (r["verdict"], r["reasons"]))

    viol = {"ctr:6": {"history_key": 1006, "acked": 2, "given_up": 1, "final_reply": 3,
                      "violations": [{"seq": 2, "client_id": 7, "reply": 9, "acked": 2,
                                      "given_up": 1}]}}
    r = run_check(root, "violation", history("linearizable.txt"), good_state(), sessions=viol)
    expect("check: an impossible session reply seen by a client FAILs",
           r["verdict"] == "FAIL" and r["double_applied"] == 1 and
           has_reason(r, "impossible reply"), str(r["reasons"]))

    r = run_check(root, "crashed", history("linearizable.txt"), good_state(),
                  extra={"processes_without_results": [2]})
    expect("check: a client process without results FAILs",
           r["verdict"] == "FAIL" and has_reason(r, "without results"), str(r["reasons"]))

    d = make_run(root, "unreachable", history("linearizable.txt"))
    r = check.check(d, [("127.0.0.1", closed_port())], LINCHECK, readback_s=0.5)
    expect("check: a cluster that never answers the read-back FAILs",
           r["verdict"] == "FAIL" and not r["readback_complete"] and
           has_reason(r, "read-back"), str(r["reasons"]))

    empty = os.path.join(root, "no-results")
    os.makedirs(empty)
    r = check.check(empty, [("127.0.0.1", closed_port())], LINCHECK, readback_s=0.5)
    expect("check: a run without clients.json FAILs", r["verdict"] == "FAIL" and
           has_reason(r, "no client results"), str(r["reasons"]))

    d = make_run(root, "no-lincheck", history("linearizable.txt"))
    srv = FakeKV(good_state())
    r = check.check(d, srv.addrs(), "/nonexistent/rasputin-lincheck", readback_s=5)
    srv.shutdown()
    srv.server_close()
    expect("check: no verdict from rasputin-lincheck FAILs",
           r["verdict"] == "FAIL" and r["linearizable"] == "unknown" and
           has_reason(r, "did not give a verdict"), str(r["reasons"]))


def write_ops(path, rows):
    with open(path, "w") as f:
        f.write("time_s,kind,status,latency_ms,node\n")
        for t, kind, st, lat in rows:
            f.write("%.3f,%s,%s,%.3f,127.0.0.1:1\n" % (t, kind, st, lat))


def synthetic_ops(root):
    rows = []
    t = 0.1
    while t < 10.0:
        if not 5.0 < t < 7.5:
            rows.append((t, "get", "ok", 1.5 + (t % 1.0)))
        elif abs(t - 6.0) < 0.05:
            rows.append((t, "set", "info", 1000.0))
            rows.append((t, "get", "fail", 1000.0))
        t = round(t + 0.1, 3)
    path = os.path.join(root, "ops.csv")
    write_ops(path, rows)
    return path


def test_report(root):
    ops = synthetic_ops(root)
    w = report.unavailability(ops)
    expect("unavailability: one window over the gap", w == [(5.0, 7.5)], str(w))
    expect("unavailability: a longer min_gap_s ignores it", report.unavailability(ops, 3.0) == [],
           str(report.unavailability(ops, 3.0)))
    edge = os.path.join(root, "edge.csv")
    write_ops(edge, [(2.0, "get", "fail", 2000.0), (3.5, "get", "ok", 1.0),
                     (4.0, "get", "ok", 1.0), (6.0, "set", "info", 1000.0)])
    w = report.unavailability(edge)
    expect("unavailability: gaps at the start and the end count", w == [(0.0, 3.5), (4.0, 6.0)],
           str(w))
    empty = os.path.join(root, "empty.csv")
    write_ops(empty, [])
    expect("unavailability: no ops, no windows", report.unavailability(empty) == [])

    res = {"verdict": "FAIL", "linearizable": "no", "bad_key_name": "k3", "ok": 90, "fail": 6,
           "info": 4, "reasons": ["history not linearizable (key 3 = k3)"], "lost_writes": 1,
           "double_applied": 0, "acked_keys": 10, "acked_keys_checked": 10,
           "lost_keys": ["ack:0:3"], "counters_checked": 1,
           "counters": {"ctr:6": {"acked": 5, "given_up": 1, "value": 6, "result": "ok"}}}
    lw = {"leader_changes": 2, "leaders": [[0.0, 2, 1], [5.2, 3, 2], [9.0, 4, 3]],
          "no_leader_windows": [[5.0, 5.2]]}
    path = os.path.join(root, "summary.txt")
    text = report.write_summary(path, {"title": "kill -9 leader", "procs": 6},
                                res, [(5.0, 7.5, "kill -9 leader")], lw, [(5.0, 7.5)])
    want = ["kill -9 leader", "verdict: FAIL", "not linearizable", "ok 90", "fail 6",
            "info/indeterminate 4", "linearizable: no", "k3", "lost 1", "leader changes: 2",
            "5.00 s -    7.50 s", "unavailability", "ctr:6", "no leader known anywhere: 1"]
    missing = [x for x in want if x not in text]
    expect("write_summary: verdict, counts, faults, leaders, windows", not missing,
           "missing %s in:\n%s" % (missing, text))
    expect("write_summary: the file holds the returned text", open(path).read() == text)
    text = report.write_summary(None, {}, {"verdict": "PASS"}, [], 0, [])
    expect("write_summary: works with an int leader count and no faults",
           "verdict: PASS" in text and "leader changes: 0" in text, text)

    text = report.write_summary(None, {"seconds": 60, "clients": {
        "by_kind": {"cas": {"ok": 7, "fail": 1, "info": 2}}, "errors": {"UNCERTAIN": 3}}},
        {"verdict": "PASS", "ok": 7, "fail": 1, "info": 2}, [], 1, [])
    expect("write_summary: reads the client summary nested under 'clients'",
           "cas    ok       7" in text and "UNCERTAIN 3" in text and "seconds=60" in text, text)

    png = os.path.join(root, "plot.png")
    try:
        report.plot(ops, [(5.0, 7.5, 'kill -9 "leader" {1}'), (8, 9, "partition")], png,
                    "test_check plot")
        with open(png, "rb") as f:
            head = f.read(8)
        expect("plot: a non-empty PNG", head == b"\x89PNG\r\n\x1a\n" and
               os.path.getsize(png) > 1000, "%r, %d bytes" % (head, os.path.getsize(png)))
    except (RuntimeError, OSError) as e:
        expect("plot: a non-empty PNG", False, str(e))
    png2 = os.path.join(root, "empty.png")
    try:
        report.plot(empty, [], png2, "no ops")
        expect("plot: an empty run still plots", open(png2, "rb").read(4) == b"\x89PNG")
    except (RuntimeError, OSError) as e:
        expect("plot: an empty run still plots", False, str(e))


def test_leaders():
    n = ["a", "b", "c"]
    samples = [(0.0, "a", "leader", 2, 1), (0.01, "b", "follower", 2, 1),
               (0.02, "c", "follower", 2, 1),
               (1.0, "a", "", 0, 0), (1.1, "b", "follower", 2, 0), (1.2, "c", "candidate", 3, 0),
               (2.0, "b", "leader", 3, 2), (2.1, "c", "follower", 3, 2),
               (3.0, "b", "leader", 4, 2)]
    r = leaders.summarize(samples, n, 0.0, 4.0)
    expect("leaders: changes = distinct (term, leader) pairs - 1", r["leader_changes"] == 2,
           str(r))
    expect("leaders: the no-leader window", r["no_leader_windows"] == [[1.2, 2.0]],
           str(r["no_leader_windows"]))
    r = leaders.summarize([(0.0, "a", "", 0, 0), (0.1, "b", "", 0, 0)], ["a", "b"], 0.0, 1.0)
    expect("leaders: no leader ever: one window to the end, no changes",
           r["leader_changes"] == 0 and r["no_leader_windows"] == [[0.1, 1.0]], str(r))
    expect("leaders: RESP2 status list parsed",
           leaders.parse_status([b"role", b"leader", b"term", 3]) == {"role": "leader",
                                                                      "term": 3})


def test_status_rules():
    cases = [
        (("reply", b"1", False), ("ok", False)),
        (("reply", b"OK", True), ("ok", False)),
        (("error", "NOLEADER no leader", True), ("fail", True)),
        (("error", "BUSY too many writes in flight; retry", True), ("fail", False)),
        (("error", "UNCERTAIN timeout; the write may or may not have been applied", True),
         ("info", True)),
        (("lost", "Timeout reading from socket", True), ("info", True)),
        (("lost", "Connection closed by server.", False), ("fail", True)),
        (("unsent", "Connection refused", True), ("fail", True)),
        (("error", "value is not an integer or out of range", True), ("info", False)),
    ]
    bad = [(a, want, clients.classify(*a)) for a, want in cases if clients.classify(*a) != want]
    expect("clients: reply/NOLEADER/BUSY/UNCERTAIN/timeout/refused -> ok/fail/info", not bad,
           str(bad))


def main():
    if not os.path.exists(LINCHECK):
        subprocess.run(["make", "-s", "-C", REPO, "build/release/rasputin-lincheck"],
                       stdout=subprocess.DEVNULL)
    root = tempfile.mkdtemp(prefix="rasputin-test-check.")
    try:
        test_lincheck_files()
        test_check(root)
        test_report(root)
        test_leaders()
        test_status_rules()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
