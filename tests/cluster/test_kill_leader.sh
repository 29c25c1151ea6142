#!/usr/bin/env bash
# tests/cluster/test_kill_leader.sh — kill -9 of the leader under a write
# load: 8 redis-py clients run get/set/cas/getdel/incr for 12 s against a
# 3-node cluster; 3 s in, the leader is killed with SIGKILL, and restarted
# 3 s later.  Then: every acknowledged write is present, the recorded
# history is linearizable (rasputin-lincheck, the simulator's Wing-Gong
# checker), and the restarted node catches up to the same applied index.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
RP_BASE=17200
RP_DIR=$(mktemp -d /tmp/rasputin-kill.XXXXXX)
trap 'rp_cleanup; rm -rf "$RP_DIR"' EXIT
SECS=${KILL_TEST_SECONDS:-12}

rp_cluster_start 3 || { fail "cluster formation" "no cluster"; rp_summary; exit 1; }
L=$(rp_wait_leader 3)
ports="$(rp_cli_port 1),$(rp_cli_port 2),$(rp_cli_port 3)"
/usr/bin/python3 tests/cluster/workload.py --ports "$ports" --seconds "$SECS" --clients 8 --keys 5 \
	--out "$RP_DIR/history.txt" >"$RP_DIR/workload.out" 2>&1 &
wl=$!
sleep 3
rp_kill9 "$L"
echo "killed the leader, node $L, with SIGKILL"
sleep 1
NL=$(rp_wait_leader 3 10) && ok "a new leader (node $NL) after the kill" || fail "new leader" "none"
sleep 2
rp_start_node "$L"
if wait "$wl"; then ok "every acknowledged write is present"; else fail "acknowledged writes" "lost"; fi
cat "$RP_DIR/workload.out"
out=$(build/release/rasputin-lincheck "$RP_DIR/history.txt")
rc=$?
echo "$out" | head -n 30
[ $rc -eq 0 ] && ok "the history is linearizable" || fail "linearizability" "see above"
okops=$(grep -c ' ok ' "$RP_DIR/history.txt")
[ "$okops" -ge 200 ] && ok "the load made progress ($okops ok operations)" || fail "progress" "$okops ok ops"
# The restarted node catches up.
start=$SECONDS
caught=no
while [ $((SECONDS - start)) -lt 20 ]; do
	a=$(rp_field "$L" applied_index)
	b=$(rp_field "$(rp_wait_leader 3)" applied_index)
	[ -n "$a" ] && [ "$a" = "$b" ] && { caught=yes; break; }
	sleep 0.3
done
expect "the killed node restarts and catches up" yes "$caught"

# Quorum loss: with two of three nodes gone, requests waiting on the
# survivor are answered (NOLEADER, or UNCERTAIN for a write that may have
# left) within a few lease periods, and the node stays responsive.
S=$(rp_wait_leader 3)
for i in 1 2 3; do [ "$i" != "$S" ] && rp_kill9 "$i"; done
qp=()
for k in 1 2 3 4; do
	(timeout 20 redis-cli -p "$(rp_cli_port "$S")" SET "lost$k" v >"$RP_DIR/q$k.out" 2>&1) &
	qp+=($!)
done
start=$SECONDS
wait "${qp[@]}"
took=$((SECONDS - start))
answers=$(cat "$RP_DIR"/q*.out | grep -cE '^(NOLEADER|UNCERTAIN)')
expect "4 writes during quorum loss answered NOLEADER or UNCERTAIN" 4 "$answers"
[ "$took" -le 10 ] && ok "... within ${took} s" || fail "quorum-loss answers" "took ${took} s"
expect "the survivor still answers PING" PONG "$(rp_cmd "$S" PING)"
rp_stop "$S" || fail "stop node $S" "exit code"
rp_summary
