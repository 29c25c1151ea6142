#!/usr/bin/env bash
# bench/bulk_large.sh RASPUTIND [KEYS [VALUE_BYTES ["EXTRA FLAGS"]]]: a bulk
# load of large values into a fresh 3-node loopback cluster, as
# docs/performance.md records it for snapshots: KEYS keys (default
# 1,500,000) of VALUE_BYTES incompressible bytes (default 1,000) in MSETs
# of 100 keys through one `redis-cli --pipe`, while a probe sends a GET to
# the leader every 5 ms.  Prints the load's time and errors, the probe's
# latencies, each node's leader changes and resident size (now and peak),
# the nodes' snapshot lines and the data's size on disk.  KEEP=1 keeps the
# directory.  Ports RP_BASE+1.. (default 17851).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
	echo "usage: bench/bulk_large.sh RASPUTIND [KEYS [VALUE_BYTES [\"EXTRA FLAGS\"]]]" >&2
	exit 2
fi
. tests/cluster/lib.sh
RP_BIN=$1
KEYS=${2:-1500000}
VS=${3:-1000}
RP_ARGS=${4:-}
RP_BASE=${RP_BASE:-17850}
RP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/rasputin-bulk-large.XXXXXX")
trap 'rp_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$RP_DIR"' EXIT
rp_cluster_start 3 >/dev/null || { echo "no cluster" >&2; exit 1; }
L=$(rp_wait_leader 3)
sleep 1
echo "leader: node $L; data in $RP_DIR"
/usr/bin/python3 - "$(rp_cli_port "$L")" >"$RP_DIR/probe.out" <<'EOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
lat, errs = [], 0
while True:
    t = time.time()
    try:
        s.sendall(b"*2\r\n$3\r\nGET\r\n$5\r\nprobe\r\n")
        buf = b""
        while not buf.endswith(b"\r\n"):
            d = s.recv(4096)
            if not d:
                raise OSError
            buf += d
    except OSError:
        break
    errs += buf.startswith(b"-")
    lat.append(time.time() - t)
    if len(lat) % 100 == 0:
        srt = sorted(lat)
        print("probe GETs %d, max %.1f ms, p99 %.2f ms, over 100 ms %d, errors %d" %
              (len(srt), srt[-1] * 1000, srt[int(len(srt) * 0.99)] * 1000,
               sum(1 for x in srt if x > 0.1), errs), flush=True)
    time.sleep(0.005)
EOF
probe=$!
start=$SECONDS
/usr/bin/python3 - "$KEYS" "$VS" <<'EOF' | redis-cli -p "$(rp_cli_port "$L")" --pipe >"$RP_DIR/pipe.out" 2>&1
import os, sys
n, vs = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
pool = [os.urandom(vs) for _ in range(1000)]
for b in range(0, n, 100):
    parts = [b"MSET"]
    for i in range(b, min(n, b + 100)):
        parts += [b"big:%09d" % i, pool[i % 1000]]
    out.write(b"*%d\r\n" % len(parts))
    for p in parts:
        out.write(b"$%d\r\n%s\r\n" % (len(p), p))
EOF
echo "load: $((SECONDS - start)) s, $(tail -n 1 "$RP_DIR/pipe.out")"
sleep 3
kill "$probe" 2>/dev/null
tail -n 1 "$RP_DIR/probe.out"
for i in 1 2 3; do
	st=/proc/$(rp_pid "$i")/status
	echo "node $i: leader_changes $(rp_field "$i" leader_changes), term $(rp_field "$i" term)," \
		"VmRSS $(awk '/VmRSS/ {print $2}' "$st") kB, VmHWM $(awk '/VmHWM/ {print $2}' "$st") kB"
done
echo "snapshots: $(grep -h -c "snapshot at" "$RP_DIR"/n*.log | paste -sd' ') (per node); the last ones:"
grep -h "snapshot at\|log compacted\|snapshot failed" "$RP_DIR"/n*.log | sort | tail -n 6
du -sh "$RP_DIR"/n1
