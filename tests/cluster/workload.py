#!/usr/bin/python3
"""tests/cluster/workload.py — concurrent clients against a real cluster.

Each client is a thread with its own redis-py connection (redis-py is the
Debian python3-redis package) that runs get/set/cas/getdel/incr on a few
integer-valued keys, one operation at a time, and records every operation
with its invocation and completion time in the history format of
rasputin-lincheck.  Outcomes:

  ok     a reply that is not an error: outputs recorded
  fail   an error that says nothing was done (NOLEADER, BUSY), or a read
         that got no answer (a read has no effect)
  info   a write without an answer (timeout, connection lost) or UNCERTAIN:
         it may or may not have taken effect

Besides, every client writes fresh keys ("ack:<client>:<n>"), and once the
run ends every acknowledged one must be present: no acknowledged write lost.
At the end each client reads every key once more (part of the history).

Usage: workload.py --ports P1,P2,P3 --seconds S --clients C --keys K --out FILE
Prints a summary; exits 1 if an acknowledged fresh key is missing.
"""
import argparse
import random
import sys
import threading
import time

import redis

NOT_DONE = ("NOLEADER", "BUSY")


def now_us():
    return time.monotonic_ns() // 1000


class Client(threading.Thread):
    def __init__(self, idx, ports, keys, deadline, seed):
        super().__init__(daemon=True)
        self.idx = idx
        self.ports = ports
        self.keys = keys
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.ops = []
        self.acked = []
        self.counter = 0
        self.conn = None
        self.errors = {}

    def connect(self):
        port = self.rng.choice(self.ports)
        self.conn = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2.0,
                                socket_connect_timeout=1.0, retry_on_timeout=False)

    def fresh(self):
        self.counter += 1
        return (self.idx + 1) * 1000000000 + self.counter

    def record(self, key, kind, status, t0, t1, value=0, ep=0, expect=0, found=0, out=0,
               success=0):
        self.ops.append("%d %d %s %s %d %d %d %d %d %d %d %d" % (
            self.idx, key, kind, status, t0, t1, value, ep, expect, found, out, success))

    def call(self, *args):
        """Returns (status, reply)."""
        if self.conn is None:
            self.connect()
        try:
            return "ok", self.conn.execute_command(*args)
        except redis.exceptions.ResponseError as e:
            msg = str(e)
            self.errors[msg.split(" ")[0]] = self.errors.get(msg.split(" ")[0], 0) + 1
            if msg.startswith(NOT_DONE):
                return "fail", None
            return "info", None
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            self.errors["connection"] = self.errors.get("connection", 0) + 1
            self.conn = None
            time.sleep(0.05)
            return "lost", None

    def one(self, key, kind):
        k = "k%d" % key
        t0 = now_us()
        if kind == "get":
            st, r = self.call("GET", k)
            t1 = now_us()
            if st == "ok":
                self.record(key, "get", "ok", t0, t1, found=int(r is not None),
                            out=int(r) if r is not None else 0)
            else:
                self.record(key, "get", "fail", t0, t1)
        elif kind == "set":
            v = self.fresh()
            st, r = self.call("SET", k, v)
            t1 = now_us()
            self.record(key, "set", {"ok": "ok", "fail": "fail"}.get(st, "info"), t0, t1, value=v)
        elif kind == "cas":
            exp = self.rng.choice(self.last_seen.get(key, [0])) if self.last_seen.get(key) else 0
            v = self.fresh()
            st, r = self.call("CAS", k, exp, v)
            t1 = now_us()
            if st == "ok":
                cur = r[1]
                self.record(key, "cas", "ok", t0, t1, value=v, ep=1, expect=exp,
                            found=int(cur is not None), out=int(cur) if cur is not None else 0,
                            success=int(r[0]))
            else:
                self.record(key, "cas", "fail" if st == "fail" else "info", t0, t1, value=v,
                            ep=1, expect=exp)
        elif kind == "incr":
            st, r = self.call("INCR", k)
            t1 = now_us()
            if st == "ok":
                self.record(key, "incr", "ok", t0, t1, value=1, found=1, out=int(r))
            else:
                self.record(key, "incr", "fail" if st == "fail" else "info", t0, t1, value=1)
        elif kind == "del":
            st, r = self.call("GETDEL", k)
            t1 = now_us()
            if st == "ok":
                self.record(key, "del", "ok", t0, t1, found=int(r is not None),
                            out=int(r) if r is not None else 0)
            else:
                self.record(key, "del", "fail" if st == "fail" else "info", t0, t1)
        if st == "ok" and kind in ("get", "cas", "incr") and r is not None:
            val = int(r[1]) if kind == "cas" and r[1] is not None else (
                int(r) if kind != "cas" else None)
            if val is not None:
                self.last_seen.setdefault(key, []).append(val)
                self.last_seen[key] = self.last_seen[key][-4:]

    def run(self):
        self.last_seen = {}
        kinds = ["get"] * 40 + ["set"] * 25 + ["cas"] * 15 + ["incr"] * 8 + ["del"] * 7 + \
            ["ack"] * 5
        while time.monotonic() < self.deadline:
            kind = self.rng.choice(kinds)
            if kind == "ack":
                self.counter += 1
                name = "ack:%d:%d" % (self.idx, self.counter)
                st, _ = self.call("SET", name, "1")
                if st == "ok":
                    self.acked.append(name)
                continue
            self.one(self.rng.randrange(self.keys), kind)
        # Final reads, until one succeeds per key (bounded).
        for key in range(self.keys):
            for _ in range(50):
                before = len(self.ops)
                self.one(key, "get")
                if self.ops[before].split()[3] == "ok":
                    break
                time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--keys", type=int, default=5)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    deadline = time.monotonic() + a.seconds
    clients = [Client(i, ports, a.keys, deadline, a.seed * 1000 + i) for i in range(a.clients)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(a.seconds + 120)
    with open(a.out, "w") as f:
        for c in clients:
            f.write("\n".join(c.ops) + "\n")
    statuses = {}
    for c in clients:
        for line in c.ops:
            st = line.split()[3]
            statuses[st] = statuses.get(st, 0) + 1
    errors = {}
    for c in clients:
        for k, v in c.errors.items():
            errors[k] = errors.get(k, 0) + v
    acked = [n for c in clients for n in c.acked]
    missing = []
    r = None
    for _ in range(50):
        try:
            r = redis.Redis(host="127.0.0.1", port=random.choice(ports), socket_timeout=5)
            missing = []
            for i in range(0, len(acked), 500):
                chunk = acked[i:i + 500]
                vals = r.mget(chunk)
                missing += [n for n, v in zip(chunk, vals) if v is None]
            break
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ResponseError):
            time.sleep(0.2)
    print("workload: ops %s, errors %s, acknowledged fresh keys %d, missing %d" % (
        statuses, errors, len(acked), len(missing)))
    if missing:
        print("missing acknowledged keys: %s" % missing[:20])
        sys.exit(1)


if __name__ == "__main__":
    main()
