#!/usr/bin/env bash
# tests/cluster/test_bulk_load.sh — a bulk load keeps its leader: 1,000,000
# keys through `redis-cli --pipe` (5,000 MSETs of 200 keys, one connection,
# thousands of requests in flight) into a 3-node cluster with a 500 ms lease,
# all three nodes and the client on this machine's CPUs.  The followers fall
# behind in applying; the leader must still hear from them within its lease.
# Before the fixes in docs/server.md ("What keeps the leader's lease under a
# heavy load") this load changed leader about five times and answered
# -UNCERTAIN to the writes in flight at each change.
#
# Checks: every MSET answered OK, DBSIZE counts every key while a GET
# beside it is answered at once, the term and the leader are the same on
# every node before and after (DBSIZE included), and sampled keys read
# back.  Then the walks' edges (src/server/walks.c): walks whose client or
# forwarding follower went away stop, and walks on a follower that catches
# up through a snapshot install start over on the new state.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
RP_BASE=17700
RP_DIR=$(mktemp -d /tmp/rasputin-bulk.XXXXXX)
# The install below needs a snapshot past the point where a follower went
# down, within the 110,000 writes made meanwhile: a bound of 60,000 entries
# (grown by a random 0-50% at each snapshot, so 60,000-90,000) always
# takes one there; the default 100,000-150,000 only sometimes did.
RP_ARGS="--snapshot-entries 60000"
trap 'rp_cleanup; rm -rf "$RP_DIR"' EXIT
KEYS=${BULK_KEYS:-1000000}
PER=200

rp_cluster_start 3 || { fail "cluster formation" "no cluster"; rp_summary; exit 1; }
L=$(rp_wait_leader 3)
sleep 1 # every node has heard of the leader
before=""
for i in 1 2 3; do before+="$(rp_field "$i" term)/$(rp_field "$i" leader_id) "; done

# The load: RESP MSETs on stdin of redis-cli --pipe.
start=$SECONDS
/usr/bin/python3 - "$KEYS" "$PER" <<'EOF' |
import sys
n, per = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
v = b"v" * 100
for b in range(0, n, per):
    parts = [b"MSET"]
    for i in range(b, min(n, b + per)):
        parts += [b"bulk:%09d" % i, v]
    out.write(b"*%d\r\n" % len(parts))
    for p in parts:
        out.write(b"$%d\r\n%s\r\n" % (len(p), p))
EOF
	timeout 300 redis-cli -p "$(rp_cli_port "$L")" --pipe >"$RP_DIR/pipe.out" 2>&1
secs=$((SECONDS - start))
tail -n 2 "$RP_DIR/pipe.out"
want_replies=$(((KEYS + PER - 1) / PER))
if grep -q "errors: 0, replies: $want_replies" "$RP_DIR/pipe.out"; then
	ok "$KEYS keys in $want_replies MSETs, every one OK ($secs s)"
else
	fail "bulk load" "$(grep -m 3 -v '^All data' "$RP_DIR/pipe.out" | tr '\n' ' ')"
fi

# DBSIZE walks the million keys a step per loop turn (src/server/walks.c):
# three at once on the leader give the exact count, and a GET sent on
# another connection just after them is answered while they still walk.
/usr/bin/python3 - "$(rp_cli_port "$L")" "$KEYS" >"$RP_DIR/walk.out" 2>&1 <<'EOF'
import select, socket, sys
port, keys = int(sys.argv[1]), int(sys.argv[2])
def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s
def reply(s):  # one integer or bulk reply
    buf = b""
    while True:
        buf += s.recv(65536)
        if buf.startswith(b"$") and b"\r\n" in buf:
            n = int(buf[1:buf.index(b"\r\n")])
            if n < 0 or len(buf) >= buf.index(b"\r\n") + 2 + n + 2:
                return buf
        elif buf.endswith(b"\r\n"):
            return buf
walkers = [conn() for _ in range(3)]
getter = conn()
for w in walkers:
    w.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
getter.sendall(b"*2\r\n$3\r\nGET\r\n$14\r\nbulk:000000007\r\n")
got = reply(getter)
ready, _, _ = select.select(walkers, [], [], 0)
print("GET answered with %d of 3 DBSIZE replies already in" % len(ready))
counts = [reply(w).strip().decode() for w in walkers]
print("DBSIZE replies:", " ".join(counts))
ok = len(ready) == 0 and got.startswith(b"$100\r\n") and counts == [":%d" % keys] * 3
sys.exit(0 if ok else 1)
EOF
walk_rc=$?
cat "$RP_DIR/walk.out"
[ "$walk_rc" -eq 0 ] && ok "3 DBSIZE at once count $KEYS keys; a GET beside them is not held up" ||
	fail "DBSIZE walks" "$(tr '\n' ' ' <"$RP_DIR/walk.out")"
# A walk whose client left stops: sixteen DBSIZE (the most that walk at
# once) sent and dropped leave room for a seventeenth right after.
/usr/bin/python3 - "$(rp_cli_port "$L")" "$KEYS" >"$RP_DIR/walk2.out" 2>&1 <<'EOF'
import socket, sys, time
port, keys = int(sys.argv[1]), int(sys.argv[2])
gone = []
for _ in range(16):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
    gone.append(s)
time.sleep(0.05)
for s in gone:
    s.close()
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
buf = b""
while not buf.endswith(b"\r\n"):
    buf += s.recv(4096)
print("DBSIZE after 16 dropped walks:", buf.strip().decode())
sys.exit(0 if buf == b":%d\r\n" % keys else 1)
EOF
walk_rc=$?
cat "$RP_DIR/walk2.out"
[ "$walk_rc" -eq 0 ] && ok "walks of clients that left stop; a new DBSIZE finds room" ||
	fail "dropped walks" "$(tr '\n' ' ' <"$RP_DIR/walk2.out")"
got=$(rp_cmd "$L" KEYS 'bulk:00000001*' | grep -c '^bulk:00000001[0-9]$')
[ "$got" -eq 10 ] && ok "KEYS with a prefix finds its 10 keys among $KEYS" ||
	fail "KEYS prefix" "$got of 10"

after=""
for i in 1 2 3; do after+="$(rp_field "$i" term)/$(rp_field "$i" leader_id) "; done
[ "$before" = "$after" ] && ok "one leader throughout (term/leader on each node: $after)" ||
	fail "leader kept" "before: $before after: $after"

# Sampled keys, first and last included, read back through another node.
F=$((L % 3 + 1))
sample=(bulk:000000000 "$(printf 'bulk:%09d' $((KEYS - 1)))")
for k in 1 2 3 4 5 6 7 8; do sample+=("$(printf 'bulk:%09d' $(((KEYS / 9) * k + k)))"); done
got=$(rp_cmd "$F" MGET "${sample[@]}" | grep -c '^v\{100\}$')
[ "$got" -eq ${#sample[@]} ] && ok "${#sample[@]} sampled keys read back on node $F" ||
	fail "sampled keys" "$got of ${#sample[@]}"

# The same for walks forwarded by a follower that then dies: the leader
# drops them when the follower's connection closes.
G=$(((L + 1) % 3 + 1))
/usr/bin/python3 - "$(rp_cli_port "$G")" >"$RP_DIR/walk3.out" 2>&1 <<'EOF' &
import socket, sys, time
socks = []
for _ in range(16):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
    socks.append(s)
time.sleep(5)
EOF
fwd_pid=$!
sleep 0.2
kill -9 "$(rp_pid "$G")"
sleep 0.5
got=$(rp_cmd "$L" DBSIZE)
kill "$fwd_pid" 2>/dev/null
wait "$fwd_pid" 2>/dev/null
[ "$got" = "$KEYS" ] && ok "walks forwarded by a follower that died stop; a new DBSIZE finds room" ||
	fail "dropped forwarded walks" "DBSIZE on the leader: $got"

# A snapshot install under walks: the leader writes past its snapshot
# point while that follower is down, so the follower catches up through an
# install, while clients walk its keys (READONLY DBSIZE, served locally).
# The install must drop the walks and reopen them on the new state: the
# counts never go back, end at the new total, and the node lives.
MORE=110000
/usr/bin/python3 - "$MORE" <<'EOF' | timeout 120 redis-cli -p "$(rp_cli_port "$L")" --pipe >"$RP_DIR/pipe2.out" 2>&1
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"more:%09d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(k), k))
EOF
rp_start_node "$G"
/usr/bin/python3 - "$(rp_cli_port "$G")" "$KEYS" "$((KEYS + MORE))" >"$RP_DIR/walk4.out" 2>&1 <<'EOF'
import socket, sys, time
port, lo, hi = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def reply(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(4096)
        if not d:
            raise SystemExit("connection closed by the node")
        buf += d
    return buf.decode().strip()
deadline, socks = time.time() + 60, []
while time.time() < deadline and not socks:
    try:
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    except OSError:
        time.sleep(0.05)
for s in socks:
    s.sendall(b"*1\r\n$8\r\nREADONLY\r\n")
    reply(s)
# Keys are only added here, and a node's applied state only moves on, so
# the counts of one round (walks opened together) never exceed those of
# the next (opened after every walk of this round ended).  A stale read
# may start below lo: the follower may not have applied everything
# before it was killed.
counts, bad, prev_max = [], [], 0
while time.time() < deadline:
    for s in socks:
        s.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
    got = []
    for r in [reply(s) for s in socks]:
        if r.startswith(":") and 0 <= int(r[1:]) <= hi:
            got.append(int(r[1:]))
        elif r.startswith("-") and "internal" not in r:
            pass  # not caught up yet (no state to read): an honest refusal
        else:
            bad.append(r)
    if got and min(got) < prev_max:
        bad.append("count went back: %d after %d" % (min(got), prev_max))
    if got:
        prev_max = max(got)
    counts += got
    if got and min(got) == hi:
        break
print("walks answered:", len(counts), "distinct counts:", len(set(counts)),
      "first:", counts[0] if counts else None, "last:", counts[-1] if counts else None,
      "bad:", bad[:3])
sys.exit(0 if counts and counts[-1] == hi and not bad else 1)
EOF
walk_rc=$?
cat "$RP_DIR/walk4.out"
grep -q "installed snapshot" "$RP_DIR/n$G.log" && ok "node $G caught up through a snapshot install" ||
	fail "snapshot install" "node $G's log shows no install"
[ "$walk_rc" -eq 0 ] && ok "walks on node $G across the install: counts never go back, ending at $((KEYS + MORE))" ||
	fail "walks across an install" "$(tr '\n' ' ' <"$RP_DIR/walk4.out")"

grep -h "start over" "$RP_DIR"/n*.log || true
rp_summary
