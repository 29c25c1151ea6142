#!/usr/bin/python3
"""tests/faults/check.py — the verdict on a run of tests/faults/clients.py.

check() runs after the faults are healed.  It

  * reads back every acknowledged fresh key "ack:<proc>:<n>" (MGET, retried
    on other nodes for up to 30 s): an acknowledged key that is missing is a
    lost write;
  * reads every session counter "ctr:<proc>": with `acked` increments
    acknowledged and `given_up` abandoned (fate unknown), the value must be
    in [acked, acked + given_up].  Below: an acknowledged increment was
    lost; above: a retried (client-id, seq) was applied twice.  The clients'
    own per-reply checks (clients.json "violations") count too;
  * reads every key k<i> once more and appends those reads to the history
    (history-final.txt), so a write lost at the end shows as a stale read;
  * runs rasputin-lincheck (Wing & Gong's search, per key) on it.

Verdict PASS only when the history is linearizable (or the search ran out
of budget without finding a violation: linearizable "unknown"), nothing is
lost, nothing is applied twice, and every check could run.  The result is
also written to out_dir/check.json.

Command line:  check.py --addrs 127.0.0.1:19001,... DIR
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import redis

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FINAL_READ_CLIENT = 9999
READBACK_LIMIT_S = 30.0
MGET_CHUNK = 500
LINCHECK_HEAD_LINES = 60


def now_us():
    return time.monotonic_ns() // 1000


def find_lincheck(path):
    if os.path.isabs(path) or os.path.exists(path):
        return path
    alt = os.path.join(REPO, path)
    return alt if os.path.exists(alt) else path


class Reader:
    """Reads with retries across the addresses until a deadline."""

    def __init__(self, addrs, limit_s=READBACK_LIMIT_S):
        self.addrs = [(h, int(p)) for h, p in addrs]
        self.deadline = time.monotonic() + limit_s
        self.i = 0
        self.r = None
        self.errors = []

    def _conn(self):
        if self.r is None:
            host, port = self.addrs[self.i % len(self.addrs)]
            self.r = redis.Redis(host=host, port=port, socket_timeout=2.0,
                                 socket_connect_timeout=1.0)
        return self.r

    def _next(self, e):
        if len(self.errors) < 20:
            self.errors.append("%s:%d %s" % (*self.addrs[self.i % len(self.addrs)], e))
        if self.r is not None:
            self.r.close()
        self.r = None
        self.i += 1
        time.sleep(0.2)

    def call(self, *args):
        """Returns (reply, invoke_us, complete_us), or raises TimeoutError at the deadline."""
        while time.monotonic() < self.deadline:
            try:
                c = self._conn()
                t0 = now_us()
                v = c.execute_command(*args)
                return v, t0, now_us()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    redis.exceptions.ResponseError, OSError) as e:
                self._next(e)
        raise TimeoutError("no answer to %s within the read-back time" % (args[0],))

    def close(self):
        if self.r is not None:
            self.r.close()


def run_lincheck(history, lincheck="build/release/rasputin-lincheck"):
    """Runs rasputin-lincheck on a history file: {linearizable yes|no|unknown, ...}."""
    exe = find_lincheck(lincheck)
    try:
        p = subprocess.run([exe, history], capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"linearizable": "unknown", "lincheck_rc": None, "lincheck_error": str(e),
                "lincheck_output": ""}
    out = p.stdout
    res = {"lincheck_rc": p.returncode, "lincheck_output": out, "lincheck_error": None}
    if p.returncode == 1 and "linearizable: NO" in out:
        res["linearizable"] = "no"
        m = re.search(r"linearizable: NO \(key (\d+)\)", out)
        res["bad_key"] = int(m.group(1)) if m else None
    elif p.returncode == 0 and "linearizable: yes" in out:
        res["linearizable"] = "yes"
    elif p.returncode == 0 and "linearizable: unknown" in out:
        res["linearizable"] = "unknown"
        res["budget_exhausted"] = True
    else:
        res["linearizable"] = "unknown"
        res["lincheck_error"] = "exit %d: %s" % (p.returncode, (p.stderr or out).strip()[:500])
    m = re.search(r"ops: (\d+) \(ok (\d+), fail (\d+), info (\d+)\)", out)
    if m:
        res["history_ops"] = {"total": int(m.group(1)), "ok": int(m.group(2)),
                              "fail": int(m.group(3)), "info": int(m.group(4))}
    return res


def key_name(hkey, info):
    base = info.get("counter_key_base", 1000)
    if hkey is None:
        return None
    if hkey >= base:
        return "ctr:%d" % (hkey - base)
    return "k%d" % hkey


def judge_counters(sessions, values):
    """sessions: clients.json "sessions"; values: {key: int or None (unread)}.
    Returns (details, lost, double, reasons)."""
    details = {}
    lost = double = 0
    reasons = []
    for key, s in sorted(sessions.items()):
        v = values.get(key)
        d = {"acked": s["acked"], "given_up": s["given_up"], "value": v,
             "final_reply": s.get("final_reply")}
        if v is None:
            d["result"] = "unread"
        elif v < s["acked"]:
            d["result"] = "lost"
            lost += s["acked"] - v
            reasons.append("counter %s = %d < %d acknowledged increments (an acknowledged "
                           "write lost)" % (key, v, s["acked"]))
        elif v > s["acked"] + s["given_up"]:
            d["result"] = "double"
            double += v - s["acked"] - s["given_up"]
            reasons.append("counter %s = %d > %d acknowledged + %d given up (a retried write "
                           "applied twice)" % (key, v, s["acked"], s["given_up"]))
        else:
            d["result"] = "ok"
        for viol in s.get("violations", []):
            # Replies the client itself found impossible when they came back.
            reasons.append("counter %s: impossible reply %s" % (key, json.dumps(viol,
                                                                                sort_keys=True)))
            if "previous_reply" in viol:
                continue  # not increasing: counted in the reasons only
            if viol["reply"] > viol["acked"] + viol["given_up"]:
                double += 1
            else:
                lost += 1
        details[key] = d
    return details, lost, double, reasons


def check(out_dir, addrs, lincheck="build/release/rasputin-lincheck",
          readback_s=READBACK_LIMIT_S) -> dict:
    """The verdict on the run in out_dir (see the top of this file).

    Returns {verdict: "PASS"|"FAIL", linearizable: "yes"|"no"|"unknown", ok, fail,
    info, lost_writes, double_applied, counters_checked, reasons, ...details}."""
    try:
        with open(os.path.join(out_dir, "clients.json")) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        return {"verdict": "FAIL", "linearizable": "unknown", "ok": 0, "fail": 0, "info": 0,
                "lost_writes": 0, "double_applied": 0, "counters_checked": 0,
                "reasons": ["no client results in %s: %s" % (out_dir, e)]}
    reasons = []
    res = {"verdict": "FAIL", "ok": info.get("ok", 0), "fail": info.get("fail", 0),
           "info": info.get("info", 0), "ops": info.get("ops", 0)}
    reader = Reader(addrs, readback_s)
    readback_complete = True

    # 1. Acknowledged fresh keys.
    acked = info.get("acked_keys", [])
    lost_keys = []
    checked = 0
    try:
        for i in range(0, len(acked), MGET_CHUNK):
            chunk = acked[i:i + MGET_CHUNK]
            vals, _, _ = reader.call("MGET", *chunk)
            lost_keys += [n for n, v in zip(chunk, vals) if v is None]
            checked += len(chunk)
    except TimeoutError as e:
        readback_complete = False
        reasons.append("read-back of the acknowledged keys incomplete (%d of %d): %s" % (
            checked, len(acked), e))
    if lost_keys:
        reasons.append("%d acknowledged fresh keys missing: %s%s" % (
            len(lost_keys), " ".join(lost_keys[:10]), " ..." if len(lost_keys) > 10 else ""))

    # 2. Session counters.
    sessions = info.get("sessions", {})
    values = {}
    for key in sorted(sessions):
        try:
            v, _, _ = reader.call("GET", key)
            values[key] = int(v) if v is not None else 0
        except TimeoutError as e:
            readback_complete = False
            reasons.append("counter %s unread: %s" % (key, e))
    counters, lost_incr, double, creasons = judge_counters(sessions, values)
    reasons += creasons

    # 3. Final reads of k*, appended to the history.
    hist = os.path.join(out_dir, "history.txt")
    final_hist = os.path.join(out_dir, "history-final.txt")
    finals = []
    for k in range(info.get("keys", 0)):
        try:
            v, t0, t1 = reader.call("GET", "k%d" % k)
        except TimeoutError:
            readback_complete = False
            reasons.append("final read of k%d got no answer" % k)
            break
        val = int(v) if v is not None else 0
        finals.append("%d %d get ok %d %d 0 0 0 %d %d 0" % (FINAL_READ_CLIENT, k, t0, t1,
                                                            int(v is not None), val))
    reader.close()
    with open(hist) as src, open(final_hist, "w") as dst:
        for line in src:
            dst.write(line)
        dst.write("# final reads by check.py after the run\n")
        dst.write("".join(x + "\n" for x in finals))

    # 4. Linearizability.
    lc = run_lincheck(final_hist, lincheck)
    res.update(lc)
    if lc["linearizable"] == "no":
        res["bad_key_name"] = key_name(lc.get("bad_key"), info)
        reasons.append("history not linearizable (key %s = %s)" % (
            lc.get("bad_key"), res["bad_key_name"]))
    if lc.get("lincheck_error"):
        reasons.append("rasputin-lincheck did not give a verdict: %s" % lc["lincheck_error"])
    if info.get("processes_without_results"):
        reasons.append("client processes without results (their ops are unknown): %s" %
                       info["processes_without_results"])

    res.update({
        "lost_writes": len(lost_keys) + lost_incr,
        "lost_keys": lost_keys[:100],
        "lost_increments": lost_incr,
        "double_applied": double,
        "acked_keys_checked": checked,
        "acked_keys": len(acked),
        "counters_checked": sum(1 for d in counters.values() if d["result"] != "unread"),
        "counters": counters,
        "final_reads": len(finals),
        "readback_complete": readback_complete,
        "readback_errors": reader.errors,
        "unexpected_errors": info.get("unexpected_errors", []),
        "history": final_hist,
        "reasons": reasons,
    })
    res["verdict"] = "PASS" if not reasons else "FAIL"
    # On NO, rasputin-lincheck prints every op of the failing key: the whole
    # output goes to lincheck.txt, its head into the result.
    full = res.get("lincheck_output", "")
    with open(os.path.join(out_dir, "lincheck.txt"), "w") as f:
        f.write(full)
    head = full.splitlines()
    if len(head) > LINCHECK_HEAD_LINES:
        res["lincheck_output"] = "\n".join(head[:LINCHECK_HEAD_LINES]) + \
            "\n... (%d more lines in lincheck.txt)\n" % (len(head) - LINCHECK_HEAD_LINES)
    with open(os.path.join(out_dir, "check.json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addrs", required=True, help="host:port,host:port,...")
    ap.add_argument("--lincheck", default="build/release/rasputin-lincheck")
    ap.add_argument("dir")
    a = ap.parse_args()
    addrs = []
    for part in a.addrs.split(","):
        host, _, port = part.strip().rpartition(":")
        addrs.append((host or "127.0.0.1", int(port)))
    r = check(a.dir, addrs, a.lincheck)
    brief = {k: v for k, v in r.items() if k not in ("lincheck_output", "counters")}
    print(json.dumps(brief, indent=1))
    print(r.get("lincheck_output", "")[:3000])
    print("verdict:", r["verdict"])
    return 0 if r["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
