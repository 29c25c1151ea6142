#!/usr/bin/env bash
# tests/cluster/test_reads.sh — what a linearizable read waits for
# (src/server/exec.c, read_barrier).  A read waits for its read index and
# for the writes its own connection proposed before it, and for no one
# else's: with both followers stopped (SIGSTOP) nothing can commit, yet
# within the leader's lease a GET on another connection is answered at
# once, while a GET pipelined behind a write on the same connection sees
# that write once the followers are back; and a pipeline keeps program
# order (a GET sees the SET before it, not a later one).  Before, every
# read waited for every write proposed before it, by anyone: a GET beside
# a bulk load waited for the whole load in flight.
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

# Program order, as Redis keeps it: in a pipeline of SET, GET, SET, GET,
# ... on one key, each GET sees the SET just before it, never a later one
# (the write after a read waits for that read, client.c).  Through the
# leader, and through a follower (both forwarded: the leader also holds
# the forwarding node's reads behind the writes it forwarded before).
pipeline() { # pipeline PORT: "in order" or what differed
	/usr/bin/python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
out = b""
for i in range(50):
    v = b"v%d" % i
    out += b"*3\r\n$3\r\nSET\r\n$9\r\nreads:ord\r\n$%d\r\n%s\r\n" % (len(v), v)
    out += b"*2\r\n$3\r\nGET\r\n$9\r\nreads:ord\r\n"
out += b"*2\r\n$3\r\nDEL\r\n$9\r\nreads:ord\r\n"
s.sendall(out)
want = b"".join(b"+OK\r\n$%d\r\nv%d\r\n" % (len(b"v%d" % i), i) for i in range(50))
want += b":1\r\n"
buf = b""
s.settimeout(10)
try:
    while len(buf) < len(want):
        d = s.recv(65536)
        if not d:
            break
        buf += d
except socket.timeout:
    pass
print("in order" if buf == want else "differs: %r" % buf[:120])
EOF
}
F=$((L2 % 3 + 1))
expect "a SET/GET pipeline through the leader reads in program order" "in order" \
	"$(pipeline "$(rp_cli_port "$L2")")"
expect "a SET/GET pipeline through a follower reads in program order" "in order" \
	"$(pipeline "$(rp_cli_port "$F")")"
rp_summary
