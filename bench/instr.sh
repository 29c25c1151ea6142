#!/usr/bin/env bash
# bench/instr.sh RASPUTIND [OP] [COUNT]: instructions per operation on a
# 3-node loopback cluster's leader, counted by callgrind — a figure the
# machine's noise does not move, for A/B of changes too small for
# bench/ab.sh to see (docs/performance.md, "What each change bought").
#
# Node 1 runs under callgrind and leads (it starts alone; lease 3 s so the
# slow-down costs no election); nodes 2 and 3 run plain.  After 2,000
# operations to warm up, the counters are zeroed, rpload sends COUNT
# operations OP (set, get, cas or mix; default set, 5000) at 8 clients,
# and the counts are dumped.  Prints the leader's total and per-operation
# instructions and its heaviest functions (inclusive); the dump stays in
# a temporary directory named at the end.  Ports RP_BASE=17650..
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
	echo "usage: bench/instr.sh RASPUTIND [OP (set)] [COUNT (5000)]" >&2
	exit 2
fi
BIN=$(readlink -f "$1")
OP=${2:-set}
COUNT=${3:-5000}
for t in valgrind callgrind_control callgrind_annotate; do
	command -v "$t" >/dev/null || { echo "bench/instr.sh: needs $t (apt-get install valgrind)" >&2; exit 2; }
done
make -s build/release/bench/rpload || exit 1
. tests/cluster/lib.sh
RP_BASE=${RP_BASE:-17650}
RP_LEASE_MS=3000
RP_DIR=$(mktemp -d /tmp/rasputin-instr.XXXXXX)
OUT=$RP_DIR/callgrind.out
trap 'rp_cleanup; rm -rf "$RP_DIR"/n[0-9]*' EXIT
printf '#!/bin/sh\nexec valgrind --log-file=%s --tool=callgrind --callgrind-out-file=%s %s "$@"\n' \
	"$RP_DIR/valgrind.log" "$OUT" "$BIN" >"$RP_DIR/under-callgrind"
chmod +x "$RP_DIR/under-callgrind"
RP_BIN=$RP_DIR/under-callgrind
rp_start_node 1
rp_wait_leader 1 120 >/dev/null || exit 1
RP_BIN=$BIN
rp_start_node 2
rp_start_node 3
rp_wait_voters 1 3 120 || exit 1
P=$(rp_cli_port 1)
[ "$(rp_leader 3)" = 1 ] || { echo "bench/instr.sh: node 1 does not lead" >&2; exit 1; }
load() { build/release/bench/rpload -p "$P" -t "$OP" -c 8 -n "$1" -r 10000 -d 100 2>&1 | tail -1; }
load 2000 >/dev/null
pid=$(rp_pid 1)
# the wrapper exec'd valgrind, so the pid is callgrind's
callgrind_control -z "$pid" >/dev/null 2>&1 || exit 1
result=$(load "$COUNT")
echo "$result"
case $result in *errors=0*) ;; *) echo "bench/instr.sh: the load had errors" >&2; exit 1 ;; esac
callgrind_control -d "$pid" >/dev/null 2>&1 || exit 1
sleep 1
dump=$(ls -t "$OUT".* 2>/dev/null | head -1)
[ -n "$dump" ] || { echo "bench/instr.sh: no dump" >&2; exit 1; }
total=$(callgrind_annotate "$dump" | grep 'PROGRAM TOTALS' | awk '{gsub(",", "", $1); print $1}')
echo "leader loop: $total instructions for $COUNT ${OP}s, $((total / COUNT)) per operation"
callgrind_annotate --inclusive=yes --threshold=100 "$dump" |
	grep -E '^ *[0-9,]+ \( *[0-9.]+%\)  .*\]$' | grep -vE 'below main|libc_start|uv_run|srv_main_run|main \[|0x[0-9a-f]+ \[' |
	head -25
echo "dump: $dump"
