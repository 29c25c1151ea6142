#!/usr/bin/env bash
# tests/cluster/test_reads.sh — what a linearizable read waits for
# (src/server/exec.c, read_barrier).  A read waits for its read index and
# for the writes its own connection proposed before it, and for no one
# else's: with both followers stopped (SIGSTOP) nothing can commit, yet
# within the leader's lease a GET on another connection is answered at
# once, while a GET pipelined behind a write on the same connection sees
# that write once the followers are back.  Before, every read waited for
# every write proposed before it, by anyone: a GET beside a bulk load
# waited for the whole load in flight.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
RP_BASE=17500
RP_DIR=$(mktemp -d /tmp/rasputin-reads.XXXXXX)
RP_LEASE_MS=3000 # the checks below run inside one lease
stopped=""
trap '[ -n "$stopped" ] && kill -CONT $stopped 2>/dev/null; rp_cleanup; rm -rf "$RP_DIR"' EXIT

rp_cluster_start 3 || { fail "cluster formation" "no cluster"; rp_summary; exit 1; }
L=$(rp_wait_leader 3)
expect "SET through the leader" OK "$(rp_cmd "$L" SET reads:done before)"
sleep 1
stopped=""
for i in 1 2 3; do
	[ "$i" = "$L" ] || stopped="$stopped $(rp_pid "$i")"
done

/usr/bin/python3 - "$(rp_cli_port "$L")" "$stopped" <<'EOF'
import os, signal, socket, sys, time

port, pids = int(sys.argv[1]), [int(p) for p in sys.argv[2].split()]

def conn():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

bufs = {}

def reply(s, deadline):
    """One RESP reply (+line, -line or a bulk string's text), or None by
    the deadline; bytes past it stay for the next call."""
    buf = bufs.get(s, b"")
    while True:
        if b"\r\n" in buf:
            line, rest = buf.split(b"\r\n", 1)
            if buf[:1] in (b"+", b"-"):
                bufs[s] = rest
                return line.decode()
            n = int(line[1:])
            if n < 0:
                bufs[s] = rest
                return "(nil)"
            if len(rest) >= n + 2:
                bufs[s] = rest[n + 2:]
                return rest[:n].decode()
        left = deadline - time.time()
        if left <= 0:
            bufs[s] = buf
            return None
        s.settimeout(left)
        try:
            d = s.recv(4096)
        except socket.timeout:
            d = None
        if not d:
            bufs[s] = buf
            return None
        buf += d

a, b = conn(), conn()
for p in pids:
    os.kill(p, signal.SIGSTOP)
t0 = time.time()
a.sendall(cmd("SET", "reads:mine", "pending") + cmd("GET", "reads:mine"))
time.sleep(0.05)  # the SET is proposed before the other connection's GET
b.sendall(cmd("GET", "reads:done"))
got = reply(b, t0 + 2.0)
waited = time.time() - t0
early = reply(a, time.time() + 0.3)
for p in pids:
    os.kill(p, signal.SIGCONT)
ok = True
def check(name, good, detail):
    global ok
    print(("ok   " if good else "FAIL ") + name + ("" if good else ": " + detail))
    ok &= good
check("a GET on another connection does not wait for a write that cannot commit",
      got == "before", "got %r after %.2f s" % (got, waited))
check("the write itself waits for its quorum", early is None, "answered %r" % early)
r1, r2 = reply(a, time.time() + 10), reply(a, time.time() + 10)
check("once the followers are back, the write is answered", r1 == "+OK", "got %r" % r1)
check("and the GET pipelined behind it on its connection sees it", r2 == "pending",
      "got %r" % r2)
sys.exit(0 if ok else 1)
EOF
rc=$?
stopped=""
[ $rc -eq 0 ] && ok "reads wait for their own connection's writes only" ||
	fail "read barriers" "see above"
L2=$(rp_wait_leader 3)
expect "the cluster goes on" pending "$(rp_cmd "$L2" GET reads:mine)"

# Through a follower, both forwarded: the leader holds the forwarding
# node's reads behind the writes it forwarded before them, so each GET
# sees its own SET or a later one of the pipeline (the SETs and GETs of a
# pipeline are all in flight together: any later value is linearizable).
F=$((L2 % 3 + 1))
got=$(/usr/bin/python3 - "$(rp_cli_port "$F")" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
out = b""
for i in range(50):
    v = b"v%d" % i
    out += b"*3\r\n$3\r\nSET\r\n$9\r\nreads:fwd\r\n$%d\r\n%s\r\n" % (len(v), v)
    out += b"*2\r\n$3\r\nGET\r\n$9\r\nreads:fwd\r\n"
s.sendall(out)
f = s.makefile("rb")
s.settimeout(10)
bad = []
for i in range(50):
    ok_line = f.readline()
    f.readline()  # $len
    v = f.readline().strip()
    if ok_line != b"+OK\r\n" or not v.startswith(b"v") or int(v[1:]) < i:
        bad.append((i, ok_line, v))
print("every GET saw its SET" if not bad else "stale: %r" % bad[:5])
EOF
)
expect "50 pipelined SET+GET pairs through a follower read their own writes" \
	"every GET saw its SET" "$got"
rp_summary
