#!/usr/bin/python3
"""tests/faults/leaders.py — who leads, seen from outside, during a run.

LeaderWatch polls RASPUTIN STATUS on every address every 100 ms (one thread
per address, short timeouts, so a partitioned or dead node slows nobody
down) and records each answer as (time, node, role, term, leader_id).  An
address that does not answer in time counts as knowing no leader.

stop() returns:
  leader_changes     distinct (term, leader_id) pairs seen with a leader
                     (leader_id != 0), minus the first
  leaders            those pairs in the order first seen: [t, term, leader_id]
  no_leader_windows  [start, end] intervals in which no address reported a
                     leader (the latest answer of each address; unreachable
                     = none)
  samples, errors    answers recorded, polls that got no answer (per node)
Times are seconds since t0 (time.monotonic(); default: construction).
With out_path, every sample is also written there as CSV.
"""
import threading
import time

import redis

POLL_S = 0.1
TIMEOUT_S = 0.25


def parse_status(reply):
    """RASPUTIN STATUS: a RESP2 flat list [k, v, ...] or a RESP3 map -> dict of str."""
    if isinstance(reply, dict):
        items = list(reply.items())
    else:
        items = list(zip(reply[0::2], reply[1::2]))
    out = {}
    for k, v in items:
        k = k.decode() if isinstance(k, bytes) else str(k)
        out[k] = v.decode() if isinstance(v, bytes) else v
    return out


class LeaderWatch:
    def __init__(self, addrs, t0=None, out_path=None, poll_s=POLL_S):
        self.addrs = [(h, int(p)) for h, p in addrs]
        self.t0 = time.monotonic() if t0 is None else t0
        self.out_path = out_path
        self.poll_s = poll_s
        self.samples = []  # (t, node, role, term, leader_id); role "" = no answer
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = []
        self.errors = {}
        self.started = None
        self.stopped = None

    def _poll(self, addr):
        node = "%s:%d" % addr
        conn = None
        while not self.stopping.is_set():
            t_next = time.monotonic() + self.poll_s
            try:
                if conn is None:
                    conn = redis.Connection(host=addr[0], port=addr[1], socket_timeout=TIMEOUT_S,
                                            socket_connect_timeout=TIMEOUT_S)
                    conn.connect()
                conn.send_command("RASPUTIN", "STATUS")
                st = parse_status(conn.read_response())
                sample = (time.monotonic() - self.t0, node, st.get("role", "?"),
                          int(st.get("term", 0)), int(st.get("leader_id", 0)))
            except (redis.exceptions.RedisError, OSError, ValueError, TypeError):
                if conn is not None:
                    try:
                        conn.disconnect()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
                sample = (time.monotonic() - self.t0, node, "", 0, 0)
                with self.lock:
                    self.errors[node] = self.errors.get(node, 0) + 1
            with self.lock:
                self.samples.append(sample)
            self.stopping.wait(max(0.0, t_next - time.monotonic()))
        if conn is not None:
            conn.disconnect()

    def start(self):
        self.started = time.monotonic() - self.t0
        for a in self.addrs:
            th = threading.Thread(target=self._poll, args=(a,), daemon=True,
                                  name="leaderwatch-%s:%d" % a)
            th.start()
            self.threads.append(th)
        return self

    def stop(self) -> dict:
        self.stopping.set()
        for th in self.threads:
            th.join(2.0)
        self.stopped = time.monotonic() - self.t0
        with self.lock:
            samples = sorted(self.samples)
        res = summarize(samples, [("%s:%d" % a) for a in self.addrs], self.started,
                        self.stopped)
        res["errors"] = dict(self.errors)
        if self.out_path:
            with open(self.out_path, "w") as f:
                f.write("time_s,node,role,term,leader_id\n")
                for s in samples:
                    f.write("%.3f,%s,%s,%d,%d\n" % s)
        return res


def summarize(samples, nodes, start, end):
    """Leader changes and no-leader windows from (t, node, role, term, leader) samples.

    Windows are judged once every node has been polled once (the first round)."""
    pairs = []
    seen = set()
    latest = {}
    windows = []
    gap_start = None
    ready = False
    for t, node, role, term, leader in samples:
        if leader and (term, leader) not in seen:
            seen.add((term, leader))
            pairs.append([round(t, 3), term, leader])
        latest[node] = leader
        if not ready:
            ready = len(latest) >= len(nodes)
            if ready and not any(latest.values()):
                gap_start = t
            continue
        known = any(latest.values())
        if known and gap_start is not None:
            windows.append([round(gap_start, 3), round(t, 3)])
            gap_start = None
        elif not known and gap_start is None:
            gap_start = t
    if gap_start is not None and end is not None and end > gap_start:
        windows.append([round(gap_start, 3), round(end, 3)])
    roles = {}
    for t, node, role, term, leader in samples:
        if role == "leader":
            roles.setdefault(node, 0)
            roles[node] += 1
    return {
        "leader_changes": max(0, len(pairs) - 1),
        "leaders": pairs,
        "no_leader_windows": windows,
        "no_leader_seconds": round(sum(b - a for a, b in windows), 3),
        "samples": len(samples),
        "leader_samples_by_node": roles,
        "start": start,
        "end": end,
    }


if __name__ == "__main__":
    import sys
    addrs = []
    for part in sys.argv[1].split(","):
        h, _, p = part.rpartition(":")
        addrs.append((h or "127.0.0.1", int(p)))
    w = LeaderWatch(addrs).start()
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 3)
    print(w.stop())
