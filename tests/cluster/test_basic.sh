#!/usr/bin/env bash
# tests/cluster/test_basic.sh — a real 3-node cluster on loopback, driven by
# redis-cli and redis-benchmark (Debian redis-tools): every command through
# the leader and through followers (forwarding), membership (a 4th node
# joins as a learner and is removed), leadership transfer, a leader's
# SIGTERM hand-over, and a restart of every node with the data intact.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
RP_BASE=17000
RP_DIR=$(mktemp -d /tmp/rasputin-basic.XXXXXX)
trap 'rp_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$RP_DIR"' EXIT

# Flags: a bad one is one line and exit 2; --help and --version exit 0.
out=$("$RP_BIN" --peer-port abc 2>&1)
rc=$?
expect "a bad flag value exits 2" 2 "$rc"
expect "... with one line of explanation" 1 "$(echo "$out" | wc -l)"
"$RP_BIN" --no-such-flag >/dev/null 2>&1
expect "an unknown flag exits 2" 2 "$?"
printf 'lease-ms = 5\n' >"$RP_DIR/bad.conf"
out=$("$RP_BIN" --config "$RP_DIR/bad.conf" 2>&1)
rc=$?
case "$out" in *"bad.conf:1"*) ok "a bad config value names file:line (exit $rc)" ;;
*) fail "bad config value" "$out" ;; esac
help=$("$RP_BIN" --help)
echo "$help" | grep -q -- "--seed-peers" && ok "--help lists the flags" || fail "--help" "no --seed-peers"
expect "--version" "rasputind 0.1.0" "$("$RP_BIN" --version)"
mkdir -p "$RP_DIR/nojoin"
out=$("$RP_BIN" --storage-dir "$RP_DIR/nojoin" --cli-port 17099 --peer-port 17199 2>&1)
case "$out" in *"--init"*"--seed-peers"*) ok "an empty node without --init or --seed-peers says how to start" ;;
*) fail "empty node" "$out" ;; esac

if ! rp_cluster_start 3; then
	fail "cluster formation" "3 voters did not form"
	tail -n 20 "$RP_DIR"/n*.log
	rp_summary
	exit 1
fi
ok "3-node cluster formed (node 1 bootstraps, 2 and 3 join and are promoted)"
L=$(rp_wait_leader 3)
F=$((L % 3 + 1))        # a follower
G=$(((L + 1) % 3 + 1))  # the other follower

expect "PING on a follower" PONG "$(rp_cmd "$F" PING)"
expect "SET through a follower (forwarded)" OK "$(rp_cmd "$F" SET k1 v1)"
expect "GET through the other follower" v1 "$(rp_cmd "$G" GET k1)"
expect "GET on the leader" v1 "$(rp_cmd "$L" GET k1)"
expect "GET of a missing key is nil" "" "$(rp_cmd "$F" GET nosuchkey)"
expect "SET NX on an existing key" "" "$(rp_cmd "$F" SET k1 other NX)"
expect "SET XX on an existing key" OK "$(rp_cmd "$G" SET k1 v2 XX)"
expect "SET ... GET returns the old value" v2 "$(rp_cmd "$F" SET k1 v3 GET)"
expect "SET IFEQ with the wrong value" "" "$(rp_cmd "$F" SET k1 v4 IFEQ nope)"
expect "SET IFEQ with the right value" OK "$(rp_cmd "$F" SET k1 v4 IFEQ v3)"
expect "CAS that matches" "$(printf '1\nv5')" "$(rp_cmd "$F" CAS k1 v4 v5)"
expect "CAS that does not match" "$(printf '0\nv5')" "$(rp_cmd "$G" CAS k1 v4 v6)"
expect "CAS on a missing key" "$(printf '0\n')" "$(rp_cmd "$G" CAS nokey a b)"
expect "APPEND" 4 "$(rp_cmd "$F" APPEND s ab12)"
expect "STRLEN" 4 "$(rp_cmd "$G" STRLEN s)"
expect "INCR a new key" 1 "$(rp_cmd "$F" INCR n)"
expect "INCRBY" 11 "$(rp_cmd "$G" INCRBY n 10)"
expect "DECR" 10 "$(rp_cmd "$L" DECR n)"
expect "INCR on a non-integer is an error" "ERR value is not an integer or out of range" \
	"$(rp_cmd "$F" INCR k1)"
expect "MSET" OK "$(rp_cmd "$F" MSET a 1 b 2 c 3)"
expect "MGET" "$(printf '1\n2\n3\n')" "$(rp_cmd "$G" MGET a b c zz)"
expect "EXISTS counts keys" 3 "$(rp_cmd "$F" EXISTS a b c zz)"
expect "GETDEL returns the value" 1 "$(rp_cmd "$F" GETDEL a)"
expect "GETDEL removed it" 0 "$(rp_cmd "$G" EXISTS a)"
expect "DEL several keys" 2 "$(rp_cmd "$F" DEL b c zz)"
expect "DBSIZE" 3 "$(rp_cmd "$G" DBSIZE)"
expect "SCAN through redis-cli --scan" "$(printf 'k1\nn\ns')" \
	"$(timeout 10 redis-cli -p "$(rp_cli_port "$F")" --scan | sort)"
expect "SELECT 0" OK "$(rp_cmd "$F" SELECT 0)"
expect "SELECT 1 is refused" "ERR DB index is out of range (rasputin has only database 0)" \
	"$(rp_cmd "$F" SELECT 1)"
out=$(rp_cmd "$F" FOO bar)
case "$out" in "ERR unknown command"*) ok "unknown command";; *) fail "unknown command" "$out";; esac
out=$(rp_cmd "$F" GET)
case "$out" in "ERR wrong number of arguments"*) ok "wrong arity";; *) fail "wrong arity" "$out";; esac
out=$(rp_cmd "$F" INFO consensus)
case "$out" in *"role:follower"*) ok "INFO consensus on a follower";; *) fail "INFO consensus" "$out";; esac
out=$(rp_cmd "$L" INFO)
case "$out" in *"# Server"*"# Consensus"*) ok "INFO default sections";; *) fail "INFO" "$out";; esac
n=$(timeout 10 redis-cli -p "$(rp_cli_port "$F")" COMMAND COUNT)
[ "${n:-0}" -ge 20 ] && ok "COMMAND COUNT ($n)" || fail "COMMAND COUNT" "$n"
out=$(timeout 10 redis-cli -p "$(rp_cli_port "$F")" COMMAND DOCS get 2>&1)
case "$out" in *summary*) ok "COMMAND DOCS get";; *) fail "COMMAND DOCS" "$out";; esac
expect "READONLY then a stale read on a follower" "$(printf 'OK\nv5')" \
	"$(printf 'READONLY\nGET k1\n' | timeout 10 redis-cli -p "$(rp_cli_port "$F")" --raw)"
nodes=$(rp_cmd "$F" RASPUTIN NODES | grep -c voter)
expect "RASPUTIN NODES lists 3 voters" 3 "$nodes"

# redis-benchmark through a follower and through the leader: no errors.
for who in "$F" "$L"; do
	out=$(timeout 120 redis-benchmark -p "$(rp_cli_port "$who")" -t set,get -n 5000 -c 8 -r 1000 -q 2>&1)
	if echo "$out" | grep -q "SET: .* requests per second" && echo "$out" | grep -q "GET: .* requests per second" &&
		! echo "$out" | grep -qi "error"; then
		ok "redis-benchmark set,get against node $who"
	else
		fail "redis-benchmark against node $who" "$out"
	fi
done
# Every node applied every write, and a follower's open run of applied
# entries (committed to its store in one write) is flushed within a tick
# of the writes stopping; the leader flushes after every batch.
ci=$(rp_cmd "$L" INFO consensus | tr -d '\r' | sed -n 's/^commit_index://p')
settled=""
for _ in $(seq 50); do
	settled=yes
	for i in 1 2 3; do
		info=$(rp_cmd "$i" INFO consensus | tr -d '\r')
		a=$(echo "$info" | sed -n 's/^applied_index://p')
		u=$(echo "$info" | sed -n 's/^applied_unflushed://p')
		{ [ "${a:-0}" -ge "${ci:-1}" ] && [ "$u" = 0 ]; } || settled=""
	done
	[ -n "$settled" ] && break
	sleep 0.1
done
if [ -n "$settled" ] && [ "${ci:-0}" -ge 10000 ]; then
	ok "INFO consensus: every node applied index $ci and flushed its run (applied_unflushed 0)"
else
	fail "applied runs flushed" "commit $ci; $(for i in 1 2 3; do rp_cmd "$i" INFO consensus | grep applied; done)"
fi
# The server's own threads carry names (top -H, perf, /proc).
names=$(cat /proc/"$(rp_pid "$L")"/task/*/comm 2>/dev/null | sort | tr '\n' ' ')
if echo "$names" | grep -q "rp-wal-writer" && echo "$names" | grep -q "rp-wal-spare"; then
	ok "the log's writer and spare threads are named ($names)"
else
	fail "thread names" "$names"
fi
# The reads above went through the leader's value cache (INFO memory).
mem=$(rp_cmd "$L" INFO memory | tr -d '\r')
hits=$(echo "$mem" | sed -n 's/^value_cache_hits://p')
ckeys=$(echo "$mem" | sed -n 's/^value_cache_keys://p')
if [ "${hits:-0}" -gt 1000 ] && [ "${ckeys:-0}" -gt 0 ] &&
	echo "$mem" | grep -q '^value_cache_max_bytes:33554432$'; then
	ok "INFO memory: the value cache served reads ($hits hits, $ckeys keys)"
else
	fail "INFO memory value cache" "$mem"
fi
# Where the memory goes: the allocator's bytes, the log, RocksDB's
# memtables (the writes above) and its block cache's capacity.
um=$(echo "$mem" | sed -n 's/^used_memory://p')
rss=$(echo "$mem" | sed -n 's/^used_memory_rss://p')
lm=$(echo "$mem" | sed -n 's/^log_memory://p')
mt=$(echo "$mem" | sed -n 's/^store_memtables://p')
bc=$(echo "$mem" | sed -n 's/^store_block_cache_max://p')
if [ "${um:-0}" -gt $((1 << 20)) ] && [ "${rss:-0}" -gt "${um:-0}" ] && [ "${lm:-0}" -gt 0 ] &&
	[ "${mt:-0}" -gt 100000 ] && [ "${bc:-0}" -gt 0 ] && echo "$mem" | grep -q '^allocator_free:[0-9]'; then
	ok "INFO memory: used $um of rss $rss, log $lm, memtables $mt, block cache max $bc"
else
	fail "INFO memory breakdown" "$mem"
fi
keys_before=$(rp_cmd "$L" DBSIZE)

# A new node that reuses a voter's id is refused (it would vote with an
# empty log), and the real member is untouched.
mkdir -p "$RP_DIR/dup"
"$RP_BIN" --node-id 2 --bind 127.0.0.1 --cli-port $((RP_BASE + 90)) --peer-port $((RP_BASE + 190)) \
	--storage-dir "$RP_DIR/dup/data" --logfile "$RP_DIR/dup/log" --lease-ms "$RP_LEASE_MS" \
	--seed-peers "127.0.0.1:$(rp_peer_port 1)" &
dup=$!
start=$SECONDS
until grep -q "join refused" "$RP_DIR/dup/log" 2>/dev/null || [ $((SECONDS - start)) -ge 15 ]; do sleep 0.2; done
kill -9 "$dup" 2>/dev/null
wait "$dup" 2>/dev/null
grep -q "already a member" "$RP_DIR/dup/log" && ok "a fresh node reusing voter id 2 is refused" ||
	fail "duplicate id" "$(tail -n 3 "$RP_DIR/dup/log")"
expect "... and the real node 2 still serves" v5 "$(rp_cmd 2 GET k1)"
expect "... with its addresses unchanged" 1 \
	"$(rp_cmd 1 RASPUTIN NODES | grep -c "127.0.0.1:$(rp_peer_port 2)")"

# A fourth node joins as a learner (replication factor 3), then is removed.
rp_start_node 4
start=$SECONDS
until rp_cmd 1 RASPUTIN NODES | grep -q learner; do
	[ $((SECONDS - start)) -ge 30 ] && break
	sleep 0.2
done
expect "a 4th node stays a learner" 1 "$(rp_cmd 1 RASPUTIN NODES | grep -c learner)"
rp_wait_role 4 learner 20 || true
expect "the learner serves forwarded reads" v5 "$(rp_cmd 4 GET k1)"
expect "RASPUTIN REMOVE 4" OK "$(rp_cmd "$F" RASPUTIN REMOVE 4)"
expect "the learner is gone" 0 "$(rp_cmd 1 RASPUTIN NODES | grep -c learner)"
rp_stop 4

# Leadership transfer.
L=$(rp_wait_leader 3)
expect "RASPUTIN TRANSFER" OK "$(rp_cmd "$L" RASPUTIN TRANSFER)"
start=$SECONDS
while [ "$(rp_field "$L" role)" = leader ] && [ $((SECONDS - start)) -lt 10 ]; do sleep 0.1; done
L2=$(rp_wait_leader 3)
[ "$L2" != "$L" ] && ok "leadership moved from node $L to node $L2" || fail "transfer" "still $L"

# SIGTERM of the leader: it hands over first and exits 0.
if rp_stop "$L2"; then ok "the leader stops cleanly on SIGTERM (exit 0)"; else fail "SIGTERM" "exit code"; fi
others=()
for i in 1 2 3; do [ "$i" != "$L2" ] && others+=("$i"); done
start=$SECONDS
newl=""
while [ $((SECONDS - start)) -lt 10 ]; do
	for i in "${others[@]}"; do [ "$(rp_field "$i" role)" = leader ] && newl=$i; done
	[ -n "$newl" ] && break
	sleep 0.1
done
[ -n "$newl" ] && ok "a new leader (node $newl) within $((SECONDS - start)) s of the hand-over" ||
	fail "hand-over" "no leader among the others"
expect "writes continue with one node down" OK "$(rp_cmd "${others[0]}" SET after-stop yes)"
rp_start_node "$L2"

# Restart every node: the data is intact.
rp_wait_leader 3 >/dev/null
for i in 1 2 3; do rp_stop "$i" || fail "stop node $i" "exit code"; done
for i in 1 2 3; do rp_start_node "$i"; done
if rp_wait_leader 3 30 >/dev/null; then ok "leader after a full restart"; else fail "restart" "no leader"; fi
expect "data intact after a restart (k1)" v5 "$(rp_cmd 2 GET k1)"
expect "data intact after a restart (after-stop)" yes "$(rp_cmd 3 GET after-stop)"
expect "DBSIZE after a restart" $((keys_before + 1)) "$(rp_cmd 1 DBSIZE)"

# SIGHUP reopens the log file (rotation).
mv "$RP_DIR/n3.log" "$RP_DIR/n3.log.1"
kill -HUP "$(rp_pid 3)"
sleep 0.5
rp_cmd 3 SET rotated yes >/dev/null
expect "SIGHUP reopens the log file" 1 "$(grep -c 'reopening the log file' "$RP_DIR/n3.log.1")"
[ -e "$RP_DIR/n3.log" ] && ok "a new log file is opened after SIGHUP" || fail "log reopen" "empty"

# A node whose log is damaged in the middle refuses it, moves it aside and
# rejoins under a new identity; the leader replaces its former self.  A
# follower other than node 1: node 1 runs with --init and no --seed-peers,
# so it could only refuse its damaged log (as the server says), not rejoin.
L=$(rp_wait_leader 3)
C=2
[ "$L" = 2 ] && C=3
rp_stop "$C"
seg=$(ls "$RP_DIR/n$C/wal/" | head -n 1)
printf '\xde\xad\xbe\xef' | dd of="$RP_DIR/n$C/wal/$seg" bs=1 seek=20000 conv=notrunc 2>/dev/null
rp_start_node "$C"
start=$SECONDS
newid=""
while [ $((SECONDS - start)) -lt 30 ]; do
	newid=$(rp_field "$C" node_id)
	[ -n "$newid" ] && [ "$newid" != "$C" ] && [ "$(rp_field "$C" role)" = follower ] &&
		[ "$(rp_cmd 1 RASPUTIN NODES | grep -c voter)" = 3 ] && break
	sleep 0.3
done
[ -n "$newid" ] && [ "$newid" != "$C" ] && ok "the damaged node came back as n$newid" ||
	fail "corrupt log" "node_id [$newid]"
expect "its former identity was replaced: 3 voters" 3 "$(rp_cmd 1 RASPUTIN NODES | grep -c voter)"
expect "... and the old id is gone" 0 "$(rp_cmd 1 RASPUTIN NODES | grep -c "^$C\$")"
expect "the rejoined node has the data" v5 "$(rp_cmd "$C" GET k1)"
ls "$RP_DIR/n$C" | grep -q '^corrupt-' && ok "the damaged files were kept aside" ||
	fail "corrupt-*" "not found"
for i in 1 2 3; do rp_stop "$i" || fail "final stop of node $i" "exit code"; done
grep -v "moved to\|corrupt\|rejoins from" "$RP_DIR"/n*.log >"$RP_DIR/all.log"
if grep -h -E " E |AddressSanitizer|runtime error" "$RP_DIR/all.log"; then
	fail "no errors in the logs" "see above"
else
	ok "no errors in the logs"
fi
rp_summary
