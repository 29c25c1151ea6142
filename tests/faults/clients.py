#!/usr/bin/python3
"""tests/faults/clients.py — the fault harness's clients.

run_clients() starts client PROCESSES against a rasputind cluster through
its RESP port and records what each of them saw.  The processes are fresh
interpreters running this file (`clients.py --worker ...`): multiprocessing's
spawn would re-run the caller's main script in each child (a campaign
without a __main__ guard would run its nemeses again), and fork would copy
whatever threads the harness runs (LeaderWatch, the nemeses) mid-flight.
Each process owns one redis-py connection (redis.Connection, driven by hand
so that a command that never left this machine can be told apart from one
that may have reached a server) and moves to the next address in `addrs`
when that connection fails, times out, or its node answers NOLEADER or
UNCERTAIN.

Plain clients (processes 0 .. procs-1) run one operation at a time on the
integer-valued keys k0 .. k{keys-1}:

  GET k            read
  SET k v          v is fresh: (proc+1)*10^12 + n*1000, never written twice
  CAS k e v        e is a value this client saw on k recently
  GETDEL k         the history's "del"
  INCR k           +1

and now and then SET a fresh key "ack:<proc>:<n>" to "1"; the acknowledged
ones must all be present at the end (check.py).  Every operation on k<i> is
recorded in rasputin-lincheck's format (tests/cluster/lincheck_main.c), key
i, with invocation and completion times from time.monotonic_ns() in
microseconds (CLOCK_MONOTONIC is shared by all processes on one machine).

Outcome of one operation:

  ok     the command's reply; its outputs are recorded
  fail   -NOLEADER or -BUSY (nothing was done), a connection that could not
         be opened (nothing was sent), or a read without an answer (a read
         has no effect)
  info   a write with a timeout, a connection lost after sending, -UNCERTAIN,
         or any other error reply: it may or may not have taken effect

Session clients (processes procs .. procs+session_procs-1) test exactly-once
retries: each INCRs its own counter "ctr:<proc>" with
RASPUTIN SEQ <client-id> <seq> INCR ctr:<proc>, and after a timeout, a lost
connection, UNCERTAIN, NOLEADER or BUSY retries the very same (client-id,
seq), possibly on another node, until it gets an answer or 10 s have passed
(then it gives up on that increment and goes on with seq+1).  A counter
must end with acked <= value <= acked + given_up.  Each logical increment
(all its attempts) is also one op of the history, on key
COUNTER_KEY_BASE + proc: ok with the reply, or info when given up.

Before the run the keys are reset (k*, ctr:* deleted, stale ack:* keys
removed), so the model's "initially absent" holds on a reused cluster.

Files written to out_dir (parts/ holds each process's raw files and log):
  history.txt   every recorded op, rasputin-lincheck format, by invoke time
  ops.csv       time_s,kind,status,latency_ms,node  (time_s = completion,
                seconds since the run's origin t0; kinds get set cas del
                incr ack sincr)
  clients.json  parameters, t0, acked fresh keys, per-session counters,
                error counts

Also usable from the command line:
  clients.py --addrs 127.0.0.1:19001,127.0.0.1:19002 --seconds 20 --out DIR
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time

import redis

COUNTER_KEY_BASE = 1000  # history key of session process p's counter: base + p
SESSION_GIVE_UP_S = 10.0
STARTUP_S = 1.0  # time the worker interpreters get to start
FINAL_READS_S = 15.0
VALUE_STRIDE = 1000  # fresh values are spaced so INCRs do not reach the next one


def now_us():
    return time.monotonic_ns() // 1000


def addr_name(addr):
    return "%s:%d" % (addr[0], addr[1])


def parse_addrs(text):
    """"h:p,h:p" -> [(h, p), ...]"""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        host, _, port = part.rpartition(":")
        out.append((host or "127.0.0.1", int(port)))
    return out


class Node:
    """One redis-py connection to one of `addrs`, moving on when asked.

    call() returns (kind, value):
      ("reply", value)  an answer that is not an error
      ("error", text)   an error reply
      ("unsent", text)  no connection could be opened: nothing was sent
      ("lost", text)    sent (or maybe partly sent), no answer: timeout or
                        the connection broke
    """

    def __init__(self, addrs, start, timeout):
        self.addrs = list(addrs)
        self.i = start % len(self.addrs)
        self.timeout = timeout
        self.conn = None

    def name(self):
        return addr_name(self.addrs[self.i])

    def close(self):
        if self.conn is not None:
            try:
                self.conn.disconnect()
            except Exception:  # noqa: BLE001 - closing a broken socket
                pass
            self.conn = None

    def rotate(self):
        self.close()
        self.i = (self.i + 1) % len(self.addrs)

    def call(self, *args):
        if self.conn is None:
            host, port = self.addrs[self.i]
            c = redis.Connection(host=host, port=port, socket_timeout=self.timeout,
                                 socket_connect_timeout=self.timeout, retry_on_timeout=False)
            try:
                c.connect()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    OSError) as e:
                try:
                    c.disconnect()
                except Exception:  # noqa: BLE001
                    pass
                return "unsent", str(e)
            self.conn = c
        try:
            self.conn.send_command(*args)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
            self.close()
            return "lost", str(e)
        try:
            r = self.conn.read_response()
        except redis.exceptions.ResponseError as e:
            return "error", str(e)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
            self.close()
            return "lost", str(e)
        if isinstance(r, Exception):  # an error redis-py maps to a non-ResponseError class
            return "error", str(r)
        return "reply", r


def error_code(text):
    return text.split(" ", 1)[0] if text else ""


def classify(kind, res, is_write):
    """(call kind, value) -> status ok/fail/info, and whether to move on."""
    if kind == "reply":
        return "ok", False
    if kind == "unsent":
        return "fail", True
    if kind == "lost":
        return ("info" if is_write else "fail"), True
    code = error_code(res)
    if code in ("NOLEADER",):
        return "fail", True
    if code == "BUSY":
        return "fail", False
    if code == "UNCERTAIN":
        return ("info" if is_write else "fail"), True
    return ("info" if is_write else "fail"), False


def to_int(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        v = v.decode()
    return int(v)


class Recorder:
    def __init__(self, idx, t0, out_dir):
        self.idx = idx
        self.t0 = t0
        self.out_dir = out_dir
        self.counts = [0, 0, 0]
        self.next_progress = time.monotonic() + 1.0
        self.hist = []
        self.csv = []
        self.errors = {}
        self.unexpected = []

    def op(self, key, kind, status, t_inv, t_comp, value=0, ep=0, expect=0, found=0, out=0,
           success=0):
        self.hist.append((t_inv, "%d %d %s %s %d %d %d %d %d %d %d %d" % (
            self.idx, key, kind, status, t_inv, t_comp, value, ep, expect, found, out,
            success)))

    def timing(self, kind, status, t_inv, t_comp, node):
        self.csv.append("%.6f,%s,%s,%.3f,%s" % (t_comp / 1e6 - self.t0, kind, status,
                                                (t_comp - t_inv) / 1000.0, node))
        self.counts[{"ok": 0, "fail": 1, "info": 2}[status]] += 1
        if time.monotonic() >= self.next_progress:
            self.next_progress += 1.0
            self.progress()

    def progress(self):
        """ok fail info so far, for the parent's progress lines."""
        path = os.path.join(self.out_dir, "parts", "p%d.progress" % self.idx)
        with open(path + ".tmp", "w") as f:
            f.write("%d %d %d\n" % tuple(self.counts))
        os.replace(path + ".tmp", path)

    def note(self, kind, res, what):
        code = "connection" if kind in ("unsent", "lost") else error_code(res)
        self.errors[code] = self.errors.get(code, 0) + 1
        if kind == "error" and code not in ("NOLEADER", "BUSY", "UNCERTAIN"):
            if len(self.unexpected) < 50:
                self.unexpected.append("%s -> %s" % (what, res))

    def save(self, out_dir, meta):
        self.progress()
        parts = os.path.join(out_dir, "parts")
        with open(os.path.join(parts, "p%d.hist" % self.idx), "w") as f:
            for t, line in self.hist:
                f.write("%d\t%s\n" % (t, line))
        with open(os.path.join(parts, "p%d.csv" % self.idx), "w") as f:
            f.write("".join(line + "\n" for line in self.csv))
        meta = dict(meta)
        meta["errors"] = self.errors
        meta["unexpected_errors"] = self.unexpected
        with open(os.path.join(parts, "p%d.json" % self.idx), "w") as f:
            json.dump(meta, f)


def plain_main(idx, addrs, keys, deadline, op_timeout, seed, out_dir, t0):
    rng = random.Random(seed * 7919 + idx)
    node = Node(addrs, idx, op_timeout)
    rec = Recorder(idx, t0, out_dir)
    seen = {}  # key -> recent values observed (CAS expectations)
    n = [0]
    acked = []

    def fresh():
        n[0] += 1
        return (idx + 1) * 10 ** 12 + n[0] * VALUE_STRIDE

    def observe(key, v):
        if v is not None:
            lst = seen.setdefault(key, [])
            lst.append(v)
            del lst[:-4]

    def after(status, move, kind, res, what):
        if status != "ok":
            rec.note(kind, res, what)
        if move:
            node.rotate()
        if status != "ok":
            time.sleep(rng.uniform(0.01, 0.05))

    def one(key, kind):
        k = "k%d" % key
        name = node.name()
        if kind == "get":
            t_inv = now_us()
            ck, res = node.call("GET", k)
            t_comp = now_us()
            st, move = classify(ck, res, False)
            if st == "ok":
                v = to_int(res)
                rec.op(key, "get", "ok", t_inv, t_comp, found=int(v is not None), out=v or 0)
                observe(key, v)
            else:
                rec.op(key, "get", st, t_inv, t_comp)
        elif kind == "set":
            v = fresh()
            t_inv = now_us()
            ck, res = node.call("SET", k, v)
            t_comp = now_us()
            st, move = classify(ck, res, True)
            rec.op(key, "set", st, t_inv, t_comp, value=v)
            if st == "ok":
                observe(key, v)
        elif kind == "cas":
            exp = rng.choice(seen[key])
            v = fresh()
            t_inv = now_us()
            ck, res = node.call("CAS", k, exp, v)
            t_comp = now_us()
            st, move = classify(ck, res, True)
            if st == "ok":
                cur = to_int(res[1])
                rec.op(key, "cas", "ok", t_inv, t_comp, value=v, ep=1, expect=exp,
                       found=int(cur is not None), out=cur or 0, success=int(res[0]))
                observe(key, cur)
            else:
                rec.op(key, "cas", st, t_inv, t_comp, value=v, ep=1, expect=exp)
        elif kind == "incr":
            t_inv = now_us()
            ck, res = node.call("INCR", k)
            t_comp = now_us()
            st, move = classify(ck, res, True)
            if st == "ok":
                rec.op(key, "incr", "ok", t_inv, t_comp, value=1, found=1, out=int(res))
                observe(key, int(res))
            else:
                rec.op(key, "incr", st, t_inv, t_comp, value=1)
        elif kind == "del":
            t_inv = now_us()
            ck, res = node.call("GETDEL", k)
            t_comp = now_us()
            st, move = classify(ck, res, True)
            if st == "ok":
                v = to_int(res)
                rec.op(key, "del", "ok", t_inv, t_comp, found=int(v is not None), out=v or 0)
            else:
                rec.op(key, "del", st, t_inv, t_comp)
        else:
            raise ValueError(kind)
        rec.timing(kind, st, t_inv, t_comp, name)
        after(st, move, ck, res, "%s %s" % (kind, k))
        return st

    def ack():
        n[0] += 1
        name_ = "ack:%d:%d" % (idx, n[0])
        node_name = node.name()
        t_inv = now_us()
        ck, res = node.call("SET", name_, "1")
        t_comp = now_us()
        st, move = classify(ck, res, True)
        if st == "ok":
            acked.append(name_)
        rec.timing("ack", st, t_inv, t_comp, node_name)
        after(st, move, ck, res, "set " + name_)

    mix = ["get"] * 35 + ["set"] * 20 + ["cas"] * 18 + ["incr"] * 8 + ["del"] * 7 + ["ack"] * 12
    while time.monotonic() < deadline:
        kind = rng.choice(mix)
        if kind == "ack":
            ack()
            continue
        key = rng.randrange(keys)
        if kind == "cas" and not seen.get(key):
            kind = "get"
        one(key, kind)
    # Final reads: one answered GET per key if the cluster allows, within
    # FINAL_READS_S (check.py reads every key again once the faults are healed).
    final_end = time.monotonic() + FINAL_READS_S
    for key in range(keys):
        while time.monotonic() < final_end and one(key, "get") != "ok":
            time.sleep(0.1)
    node.close()
    rec.save(out_dir, {"kind": "plain", "acked": acked, "fresh_writes": n[0]})


def session_main(idx, addrs, deadline, op_timeout, seed, out_dir, t0):
    rng = random.Random(seed * 7919 + idx)
    sysrng = random.SystemRandom()
    node = Node(addrs, idx, op_timeout)
    rec = Recorder(idx, t0, out_dir)
    key = "ctr:%d" % idx
    hkey = COUNTER_KEY_BASE + idx
    cid = sysrng.randrange(1, 2 ** 62)
    client_ids = [cid]
    seq = 0
    acked = given_up = retries = 0
    last_reply = None
    violations = []
    expired = 0
    while time.monotonic() < deadline:
        seq += 1
        t_inv = now_us()
        first = time.monotonic()
        result = None
        attempts = 0
        status = "info"
        while True:
            attempts += 1
            name = node.name()
            ck, res = node.call("RASPUTIN", "SEQ", cid, seq, "INCR", key)
            if ck == "reply":
                result = int(res)
                status = "ok"
                break
            rec.note(ck, res, "seq %d incr %s" % (seq, key))
            code = error_code(res) if ck == "error" else ""
            if ck == "error" and code == "SESSION":
                # Evicted: this seq may or may not have been applied.  Start over.
                expired += 1
                cid = sysrng.randrange(1, 2 ** 62)
                client_ids.append(cid)
                seq = 0
                break
            if ck == "error" and code not in ("NOLEADER", "BUSY", "UNCERTAIN"):
                break  # unexpected (noted); the fate of this increment is unknown
            if time.monotonic() - first >= SESSION_GIVE_UP_S:
                break
            if code != "BUSY":
                node.rotate()
            time.sleep(rng.uniform(0.02, 0.06))
        t_comp = now_us()
        retries += attempts - 1
        if status == "ok":
            acked += 1
            if not (acked <= result <= acked + given_up):
                violations.append({"seq": seq, "client_id": cid, "reply": result,
                                   "acked": acked, "given_up": given_up})
            if last_reply is not None and result <= last_reply:
                violations.append({"seq": seq, "client_id": cid, "reply": result,
                                   "previous_reply": last_reply})
            last_reply = result
            rec.op(hkey, "incr", "ok", t_inv, t_comp, value=1, found=1, out=result)
        else:
            given_up += 1
            rec.op(hkey, "incr", "info", t_inv, t_comp, value=1)
        rec.timing("sincr", status, t_inv, t_comp, name)
    node.close()
    rec.save(out_dir, {"kind": "session", "key": key, "history_key": hkey,
                       "client_ids": client_ids, "acked": acked, "given_up": given_up,
                       "final_reply": last_reply, "retries": retries, "expired": expired,
                       "violations": violations})


def _retrying(addrs, fn, limit_s, what):
    """Runs fn(redis.Redis) on the addresses in turn until it returns."""
    end = time.monotonic() + limit_s
    i = 0
    last = None
    while time.monotonic() < end:
        host, port = addrs[i % len(addrs)]
        i += 1
        r = redis.Redis(host=host, port=port, socket_timeout=2.0, socket_connect_timeout=1.0)
        try:
            return fn(r)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ResponseError, OSError) as e:
            last = e
            time.sleep(0.2)
        finally:
            r.close()
    raise RuntimeError("%s: no answer within %.0f s (last error: %s)" % (what, limit_s, last))


def reset_keys(addrs, keys, procs, session_procs, limit_s=30.0):
    """Deletes k*, the counters and stale ack:* keys, so every key starts absent."""
    names = ["k%d" % i for i in range(keys)]
    names += ["ctr:%d" % (procs + j) for j in range(session_procs)]

    def do(r):
        r.execute_command("DEL", *names)
        stale = list(r.scan_iter(match="ack:*", count=1000))
        for i in range(0, len(stale), 500):
            r.execute_command("DEL", *stale[i:i + 500])
        return len(stale)

    return _retrying(addrs, do, limit_s, "resetting the keys")


def run_clients(addrs, seconds, out_dir, procs=6, keys=6, op_timeout=1.0, seed=1,
                session_procs=2, t0=None, reset=True, progress=True) -> dict:
    """Runs the clients for `seconds` and writes history.txt, ops.csv and clients.json.

    addrs: [(host, port), ...] client ports.  First the keys are reset (reset=False
    skips it; up to 30 s of retries, RuntimeError if the cluster never answers),
    then the worker processes start, begin together STARTUP_S later, run for
    `seconds`, read every key once more and exit.  Blocks until they are done.
    t0: the time origin (a time.monotonic() value) of ops.csv's times; default:
    when the workers are launched.  Pass the campaign's origin (the one given to
    LeaderWatch and used for the fault intervals) so that all line up.
    Returns a summary dict (clients.json holds it too, with the acked key names):
    ops ok fail info by_kind errors unexpected_errors acked_keys (a count)
    sessions {ctr:<p>: acked given_up final_reply retries expired violations
    client_ids} begin end (seconds since t0) hung crashed
    processes_without_results."""
    addrs = [(h, int(p)) for h, p in addrs]
    os.makedirs(os.path.join(out_dir, "parts"), exist_ok=True)
    for f in os.listdir(os.path.join(out_dir, "parts")):
        os.unlink(os.path.join(out_dir, "parts", f))
    stale_acks = reset_keys(addrs, keys, procs, session_procs) if reset else 0
    start = time.monotonic()
    if t0 is None:
        t0 = start
    # Every worker waits for `begin`, so all start together once their
    # interpreters are up, and stops at `deadline` (CLOCK_MONOTONIC is one
    # clock for every process on the machine).
    begin = start + STARTUP_S
    deadline = begin + seconds
    total = procs + session_procs
    ps = []
    for i in range(total):
        args = dict(role="plain" if i < procs else "session", idx=i, addrs=addrs, keys=keys,
                    begin=begin, deadline=deadline, op_timeout=op_timeout, seed=seed,
                    out_dir=out_dir, t0=t0)
        log = open(os.path.join(out_dir, "parts", "p%d.log" % i), "w")
        ps.append((i, subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                        json.dumps(args)], stdout=log, stderr=log,
                                       stdin=subprocess.DEVNULL), log))
    hard_end = deadline + max(SESSION_GIVE_UP_S, FINAL_READS_S) + 4 * op_timeout + 30
    next_report = begin + 10
    while any(p.poll() is None for _, p, _ in ps) and time.monotonic() < hard_end:
        time.sleep(0.1)
        if progress and time.monotonic() >= next_report:
            c = [0, 0, 0]
            for i in range(total):
                try:
                    with open(os.path.join(out_dir, "parts", "p%d.progress" % i)) as f:
                        c = [x + int(y) for x, y in zip(c, f.read().split())]
                except (OSError, ValueError):
                    pass
            el = time.monotonic() - begin
            print("clients: %4.0f s  ops %d (%.0f/s)  ok %d (%.0f/s)  fail %d  info %d" % (
                el, sum(c), sum(c) / el, c[0], c[0] / el, c[1], c[2]), flush=True)
            next_report += 10
    hung = []
    failed = []
    for i, p, log in ps:
        if p.poll() is None:
            hung.append(i)
            p.kill()
        p.wait()
        log.close()
        if p.returncode != 0 and i not in hung:
            with open(log.name) as f:
                failed.append({"proc": i, "rc": p.returncode, "log": f.read()[-2000:]})
    for f in failed:
        print("clients: process %d exited with %d:\n%s" % (f["proc"], f["rc"], f["log"]),
              file=sys.stderr)
    return merge(out_dir, addrs, dict(seconds=seconds, procs=procs, keys=keys,
                                      op_timeout=op_timeout, seed=seed,
                                      session_procs=session_procs, t0=t0,
                                      begin=begin - t0, end=time.monotonic() - t0,
                                      stale_acks_removed=stale_acks, hung=hung,
                                      crashed=[f["proc"] for f in failed]))


def worker(args):
    a = json.loads(args)
    addrs = [tuple(x) for x in a["addrs"]]
    delay = a["begin"] - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    if a["role"] == "plain":
        plain_main(a["idx"], addrs, a["keys"], a["deadline"], a["op_timeout"], a["seed"],
                   a["out_dir"], a["t0"])
    else:
        session_main(a["idx"], addrs, a["deadline"], a["op_timeout"], a["seed"], a["out_dir"],
                     a["t0"])
    return 0


def merge(out_dir, addrs, params):
    parts = os.path.join(out_dir, "parts")
    total = params["procs"] + params["session_procs"]
    hist = []
    csv = []
    metas = {}
    for i in range(total):
        try:
            with open(os.path.join(parts, "p%d.json" % i)) as f:
                metas[i] = json.load(f)
        except FileNotFoundError:
            metas[i] = None  # a process that died or hung: its ops are unknown
            continue
        with open(os.path.join(parts, "p%d.hist" % i)) as f:
            for line in f:
                t, _, rest = line.rstrip("\n").partition("\t")
                hist.append((int(t), rest))
        with open(os.path.join(parts, "p%d.csv" % i)) as f:
            for line in f:
                if line.strip():
                    csv.append((float(line.split(",", 1)[0]), line.rstrip("\n")))
    hist.sort(key=lambda x: x[0])
    csv.sort(key=lambda x: x[0])
    with open(os.path.join(out_dir, "history.txt"), "w") as f:
        f.write("# client key kind status invoke_us complete_us value expect_present expect "
                "found out success\n")
        f.write("".join(line + "\n" for _, line in hist))
    with open(os.path.join(out_dir, "ops.csv"), "w") as f:
        f.write("time_s,kind,status,latency_ms,node\n")
        f.write("".join(line + "\n" for _, line in csv))
    statuses = {"ok": 0, "fail": 0, "info": 0}
    by_kind = {}
    for _, line in csv:
        _, kind, st, _, _ = line.split(",")
        statuses[st] += 1
        by_kind.setdefault(kind, {"ok": 0, "fail": 0, "info": 0})[st] += 1
    errors = {}
    unexpected = []
    acked = []
    sessions = {}
    missing = []
    for i, m in metas.items():
        if m is None:
            missing.append(i)
            continue
        for k, v in m["errors"].items():
            errors[k] = errors.get(k, 0) + v
        unexpected += m["unexpected_errors"]
        if m["kind"] == "plain":
            acked += m["acked"]
        else:
            sessions[m["key"]] = {k: m[k] for k in (
                "history_key", "client_ids", "acked", "given_up", "final_reply", "retries",
                "expired", "violations")}
    summary = dict(params)
    summary.update(dict(
        addrs=[list(a) for a in addrs], ops=len(csv), ok=statuses["ok"],
        fail=statuses["fail"], info=statuses["info"], by_kind=by_kind,
        history_ops=len(hist), errors=errors, unexpected_errors=unexpected[:50],
        acked_keys=len(acked), sessions=sessions, processes_without_results=missing,
        counter_key_base=COUNTER_KEY_BASE))
    with open(os.path.join(out_dir, "clients.json"), "w") as f:
        full = dict(summary)
        full["acked_keys"] = acked
        json.dump(full, f, indent=1)
    return summary


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        return worker(sys.argv[2])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--addrs", required=True, help="host:port,host:port,...")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--out", required=True)
    ap.add_argument("--procs", type=int, default=6)
    ap.add_argument("--keys", type=int, default=6)
    ap.add_argument("--session-procs", type=int, default=2)
    ap.add_argument("--op-timeout", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    s = run_clients(parse_addrs(a.addrs), a.seconds, a.out, procs=a.procs, keys=a.keys,
                    op_timeout=a.op_timeout, seed=a.seed, session_procs=a.session_procs)
    print(json.dumps({k: s[k] for k in ("ops", "ok", "fail", "info", "acked_keys", "errors",
                                        "sessions")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
