#!/usr/bin/env bash
# tests/bench/test_tools.sh — the measuring tools of `make bench` measure:
# bench/probe (fdatasync, loopback round trip, the bare 3-node commit) and
# bench/rpload (against a real 3-node cluster) print their RESULT lines
# with plausible figures, clean up after themselves, and reject bad usage;
# bench/run.py's CPU accounting counts a server's threads and a finished
# load tool's time.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
PROBE=build/release/bench/probe
RPLOAD=build/release/bench/rpload
RP_BASE=17600
RP_DIR=$(mktemp -d /tmp/rasputin-benchtools.XXXXXX)
trap 'rp_cleanup; rm -rf "$RP_DIR"' EXIT

# field LINE NAME: the value of NAME=... in a RESULT line.
field() { echo "$1" | grep -o "$2=[0-9.]*" | head -n 1 | cut -d= -f2; }
# positive X: X is a number above zero.
positive() { awk -v x="$1" 'BEGIN { exit !(x + 0 > 0) }'; }

# check_result NAME LINE N: a RESULT line with n=N and p50 <= p99, both > 0.
check_result() {
	local name=$1 line=$2 n=$3 p50 p99
	p50=$(field "$line" p50_us)
	p99=$(field "$line" p99_us)
	if [ "$(field "$line" n)" = "$n" ] && positive "$p50" &&
		awk -v a="$p50" -v b="$p99" 'BEGIN { exit !(a <= b) }'; then
		ok "$name: n=$n, p50 $p50 µs <= p99 $p99 µs"
	else
		fail "$name" "got [$line]"
	fi
}

mkdir -p "$RP_DIR/disk"
out=$("$PROBE" fsync "$RP_DIR/disk" 40)
check_result "probe fsync: append + fdatasync" "$(echo "$out" | grep 'probe=fsync_append ')" 40
check_result "probe fsync: overwrite + fdatasync" "$(echo "$out" | grep 'probe=fsync_overwrite ')" 40
check_result "probe fsync: three writers at once (every sample)" \
	"$(echo "$out" | grep 'probe=fsync_overwrite_x3 ')" 120
out=$("$PROBE" commit "$RP_DIR/disk" 60)
check_result "probe commit: the bare 3-node commit" "$(echo "$out" | grep 'probe=commit_floor ')" 60
expect "the probes leave no files behind" "" "$(ls -A "$RP_DIR/disk")"
out=$("$PROBE" rtt 300)
check_result "probe rtt" "$(echo "$out" | grep 'probe=rtt ')" 300
"$PROBE" commit >/dev/null 2>&1
expect "probe with missing arguments exits 2" 2 "$?"
"$PROBE" commit "$RP_DIR/no/such/dir" 10 >/dev/null 2>&1
rc=$?
[ "$rc" -ne 0 ] && ok "probe commit into a missing directory fails (exit $rc)" ||
	fail "probe commit, missing directory" "exit 0"

"$RPLOAD" -t nosuchop >/dev/null 2>&1
expect "rpload with an unknown operation exits 2" 2 "$?"
if ! rp_cluster_start 3; then
	fail "cluster formation" "3 voters did not form"
	rp_summary
	exit 1
fi
P=$(rp_cli_port "$(rp_wait_leader 3)")
for op in set get cas mix; do
	line=$("$RPLOAD" -p "$P" -t "$op" -c 4 -n 400 -r 50 -d 100 2>&1 | grep '^RESULT')
	if [ "$(field "$line" n)" = 400 ] && [ "$(field "$line" errors)" = 0 ] &&
		positive "$(field "$line" ops_s)" && positive "$(field "$line" p50_ms)"; then
		ok "rpload -t $op on the leader: 400 requests, no errors"
	else
		fail "rpload -t $op" "got [$line]"
	fi
done
expect "rpload's SETs landed (a key it wrote holds 100 bytes)" 100 \
	"$(rp_cmd 1 STRLEN key:000000000000 | tr -d '\r')"

# The CPU columns of the results: a process whose two threads each spin
# 0.3 s of CPU (one after the other: Python's lock) is counted at about
# 0.6 s, its threads summed (10 ms ticks); a finished child's 0.3 s at about
# 0.3 s; a process that is gone as nothing.
out=$(/usr/bin/python3 - <<'PY' 2>&1
import subprocess, sys
sys.path.insert(0, "bench")
import run
spin = ("import sys, threading, time\n"
        "def s():\n    t = time.thread_time()\n    while time.thread_time() - t < 0.3: pass\n"
        "for _ in range(2):\n    th = threading.Thread(target=s); th.start(); th.join()\n"
        "print('spun', flush=True); time.sleep(30)")
p = subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
p.stdout.readline()
live = run.proc_cpu_seconds(p.pid)
p.kill(); p.wait()
c0 = run.children_cpu_seconds()
subprocess.run([sys.executable, "-c",
                "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"])
child = run.children_cpu_seconds() - c0
print(f"{live:.2f} {child:.2f} {run.proc_cpu_seconds(p.pid)}")
PY
)
read -r live child gone <<<"$out"
if awk -v x="$live" 'BEGIN { exit !(x >= 0.55 && x <= 1.0) }'; then
	ok "run.py sums a server's threads: 2 threads x 0.3 s -> $live s"
else
	fail "run.py, a server's CPU time" "got [$out] (want 0.55-1.0 s)"
fi
if awk -v x="$child" 'BEGIN { exit !(x >= 0.28 && x <= 0.6) }'; then
	ok "run.py counts a finished load tool: 0.3 s -> $child s"
else
	fail "run.py, a load tool's CPU time" "got [$out] (want 0.28-0.6 s)"
fi
expect "run.py reads a process that is gone as None" None "$gone"
rp_summary
