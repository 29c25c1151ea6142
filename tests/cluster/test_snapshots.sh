#!/usr/bin/env bash
# tests/cluster/test_snapshots.sh — snapshots made beside the loop
# (src/server/snapshots.c) and triggered by the log's bytes
# (--snapshot-log-bytes).  A 3-node cluster with a 1 MiB log bound takes
# 20 MB of 1,000-byte values in MSETs of 50 keys (about 400 entries of
# 50 KB): far below --snapshot-entries (100,000), so only the byte bound
# can start snapshots.  Checks: every node snapshots again and again and
# its log starts near its end (snapshot_index), no snapshot fails, the
# leader stays, replaced snapshots are removed; a follower stopped with
# SIGTERM in the middle of it exits cleanly (a snapshot under way is
# canceled and waited for), restarts and has every key; and with its
# snapshot removed while stopped, makes one at startup.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
RP_BASE=17600
RP_DIR=$(mktemp -d /tmp/rasputin-snaps.XXXXXX)
RP_ARGS="--snapshot-log-bytes 1m"
trap 'rp_cleanup; rm -rf "$RP_DIR"' EXIT
BATCHES=400
PER=50

rp_cluster_start 3 || { fail "cluster formation" "no cluster"; rp_summary; exit 1; }
L=$(rp_wait_leader 3)
sleep 1
term_before=$(rp_field "$L" term)
F=$((L % 3 + 1)) # a follower

load() { # load FIRST COUNT: MSETs FIRST.. of PER keys each, to the leader
	/usr/bin/python3 - "$1" "$2" "$PER" <<'EOF' |
import os, sys
first, count, per = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
pool = [os.urandom(500).hex().encode() for _ in range(64)]  # 1,000 bytes each
for b in range(first, first + count):
    parts = [b"MSET"]
    for i in range(per):
        parts += [b"snap:%06d:%02d" % (b, i), pool[(b + i) % 64]]
    out.write(b"*%d\r\n" % len(parts))
    for p in parts:
        out.write(b"$%d\r\n%s\r\n" % (len(p), p))
EOF
		timeout 120 redis-cli -p "$(rp_cli_port "$L")" --pipe 2>&1 | tail -n 1
}

# The first half, then SIGTERM to a follower while the second half goes in.
r1=$(load 0 $((BATCHES / 2)))
load $((BATCHES / 2)) $((BATCHES / 2)) >"$RP_DIR/load2.out" &
load_pid=$!
sleep 0.3
kill -TERM "$(rp_pid "$F")"
stopped=1
for _ in $(seq 1 100); do
	kill -0 "$(rp_pid "$F")" 2>/dev/null || { stopped=0; break; }
	sleep 0.1
done
wait "$(rp_pid "$F")" 2>/dev/null
exit_code=$?
wait "$load_pid"
r2=$(cat "$RP_DIR/load2.out")
[ "$r1" = "errors: 0, replies: $((BATCHES / 2))" ] && [ "$r2" = "errors: 0, replies: $((BATCHES / 2))" ] &&
	ok "$BATCHES MSETs of $PER keys x 1,000 bytes, every one OK" || fail "load" "$r1 / $r2"
[ "$stopped" -eq 0 ] && [ "$exit_code" -eq 0 ] && ok "node $F stopped by SIGTERM in the middle of it exits 0" ||
	fail "SIGTERM" "node $F: still running=$stopped, exit code $exit_code"
grep -h "stopping the snapshot under way" "$RP_DIR/n$F.log" || true

rp_start_node "$F"
want=$((BATCHES * PER))
got=""
for _ in $(seq 1 150); do
	got=$(timeout 10 redis-cli -p "$(rp_cli_port "$F")" --raw READONLY >/dev/null 2>&1; rp_cmd "$F" DBSIZE)
	[ "$got" = "$want" ] && break
	sleep 0.2
done
[ "$got" = "$want" ] && ok "node $F restarted and holds all $want keys" ||
	fail "restart" "node $F: DBSIZE $got, want $want"

# A snapshot starts at a batch that finds the log long; one more write
# gives the restarted node (which caught up while its own ran) a batch.
[ "$(rp_cmd "$L" SET snap:last x)" = OK ] || fail "last write" "not OK"
for i in 1 2 3; do
	for _ in $(seq 1 100); do
		info=$(timeout 5 redis-cli -p "$(rp_cli_port "$i")" INFO consensus | tr -d '\r')
		si=$(echo "$info" | sed -n 's/^snapshot_index://p')
		ci=$(echo "$info" | sed -n 's/^commit_index://p')
		[ -n "$si" ] && [ -n "$ci" ] && [ "$si" -gt 0 ] && [ $((ci - si)) -le 100 ] && break
		sleep 0.2
	done
	n=$(grep -c "snapshot at index" "$RP_DIR/n$i.log")
	# The log's memory (INFO memory) follows the log: 20 MB went in; at
	# most 100 entries of 50 KB, the two end slabs and the entry array
	# are left.
	lm=$(timeout 5 redis-cli -p "$(rp_cli_port "$i")" INFO memory | tr -d '\r' | sed -n 's/^log_memory://p')
	if [ -n "$lm" ] && [ "$lm" -gt 0 ] && [ "$lm" -le $((8 << 20)) ]; then
		ok "node $i: the log holds $lm bytes of memory after its snapshots"
	else
		fail "log memory on node $i" "log_memory '$lm' (want 1..8 MiB)"
	fi
	if [ "$n" -ge 3 ] && [ -n "$si" ] && [ -n "$ci" ] && [ "$si" -gt 0 ] && [ $((ci - si)) -le 100 ]; then
		ok "node $i snapshots by the log's bytes: $n of them, its log starts at $si of $ci"
	else
		fail "snapshots on node $i" "$n snapshots, snapshot_index '$si', commit '$ci'"
	fi
done
if grep -h "snapshot failed" "$RP_DIR"/n*.log; then
	fail "snapshots" "one failed"
else
	ok "no snapshot failed"
fi
grep -h "snapshot at index" "$RP_DIR/n$L.log" | tail -n 2
# Replaced snapshots are set aside and removed on another thread: after
# the load, each node keeps exactly its current one.
for i in 1 2 3; do
	for _ in $(seq 1 50); do
		kept=$(find "$RP_DIR/n$i/sm" -maxdepth 1 -name 'snap-*' | wc -l)
		[ "$kept" -eq 1 ] && break
		sleep 0.1
	done
	if [ "$kept" -eq 1 ]; then
		ok "node $i keeps one snapshot directory, the replaced ones removed"
	else
		fail "replaced snapshots on node $i" "$(ls "$RP_DIR/n$i/sm" | tr '\n' ' ')"
	fi
done
# A node whose state machine lost its snapshot (the WAL's mark names one
# it no longer holds) makes one at startup and marks it in its log: it
# starts, keeps every key, and has a snapshot again.
rp_stop "$F" || fail "stop before the snapshot check" "node $F"
rm -rf "$RP_DIR/n$F/sm"/snap-*
rp_start_node "$F"
got=""
for _ in $(seq 1 100); do
	got=$(printf 'READONLY\nDBSIZE\n' | timeout 5 redis-cli -p "$(rp_cli_port "$F")" 2>/dev/null | tail -n 1)
	[ "$got" = "$((want + 1))" ] && break
	sleep 0.1
done
kept=$(find "$RP_DIR/n$F/sm" -maxdepth 1 -name 'snap-*' | wc -l)
if [ "$got" = "$((want + 1))" ] && [ "$kept" -eq 1 ] &&
	! grep -q "making the snapshot the log starts from" "$RP_DIR/n$F.log"; then
	ok "node $F, its snapshot removed while stopped, makes one at startup and holds every key"
else
	fail "startup snapshot" "node $F: local DBSIZE '$got' (want $((want + 1))), $kept snapshot dirs"
fi
term_after=$(rp_field "$L" term)
[ "$(rp_leader 3)" = "$L" ] && [ "$term_after" = "$term_before" ] &&
	ok "one leader throughout (node $L, term $term_after)" ||
	fail "leader" "was node $L at term $term_before, now node $(rp_leader 3) at term $term_after"
rp_summary
