# tests/cluster/lib.sh — start, inspect and stop local rasputind clusters for
# the cluster tests (sourced; bash).  Node i listens for clients on
# RP_BASE+i and for peers on RP_BASE+100+i, keeps its data in
# $RP_DIR/n<i> and logs to $RP_DIR/n<i>.log.  Node 1 bootstraps the
# cluster (--init); the others join through it.
#
#   RP_BASE=17000 RP_DIR=$(mktemp -d) ; rp_cluster_start 3 ; ... ; rp_cleanup
#
# Every wait has a deadline and fails the test (returns 1, prints why)
# instead of hanging.

RP_BIN=${RP_BIN:-build/release/rasputind}
RP_BASE=${RP_BASE:-}
RP_DIR=${RP_DIR:-}
RP_ARGS=${RP_ARGS:-}
RP_LEASE_MS=${RP_LEASE_MS:-500}

rp_cli_port() { echo $((RP_BASE + $1)); }
rp_peer_port() { echo $((RP_BASE + 100 + $1)); }

# rp_start_node I [extra flags...]: starts node I in the background.
rp_start_node() {
	local i=$1
	shift
	local init=()
	[ "$i" -eq 1 ] && init=(--init)
	local seeds=()
	[ "$i" -ne 1 ] && seeds=(--seed-peers "127.0.0.1:$(rp_peer_port 1),127.0.0.1:$(rp_peer_port 2)")
	"$RP_BIN" --node-id "$i" --bind 127.0.0.1 --cli-port "$(rp_cli_port "$i")" \
		--peer-port "$(rp_peer_port "$i")" --storage-dir "$RP_DIR/n$i" \
		--logfile "$RP_DIR/n$i.log" --lease-ms "$RP_LEASE_MS" --heartbeat-ms 50 \
		"${init[@]}" "${seeds[@]}" $RP_ARGS "$@" &
	echo $! >"$RP_DIR/n$i.pid"
}

rp_pid() { cat "$RP_DIR/n$1.pid" 2>/dev/null; }

# rp_cmd I ARGS...: one command to node I through redis-cli (raw output).
rp_cmd() {
	local i=$1
	shift
	timeout 10 redis-cli -p "$(rp_cli_port "$i")" --raw "$@" 2>&1
}

# rp_field I NAME: a field of node I's RASPUTIN STATUS ("" if unreachable).
rp_field() {
	timeout 5 redis-cli -p "$(rp_cli_port "$1")" --raw RASPUTIN STATUS 2>/dev/null |
		awk -v k="$2" 'prev == k { print; exit } { prev = $0 }'
}

# rp_leader N: prints the index (1..N) of the node that says it leads, or
# nothing.
rp_leader() {
	local n=$1 i
	for ((i = 1; i <= n; i++)); do
		if [ "$(rp_field "$i" role)" = leader ]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

# rp_wait_leader N [SECONDS]: waits until one of nodes 1..N leads; prints it.
rp_wait_leader() {
	local n=$1 limit=${2:-30} start=$SECONDS l
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		l=$(rp_leader "$n") && {
			echo "$l"
			return 0
		}
		sleep 0.2
	done
	echo "no leader among nodes 1..$n after ${limit}s" >&2
	return 1
}

# rp_wait_voters I COUNT [SECONDS]: waits until node I reports COUNT voters.
rp_wait_voters() {
	local i=$1 want=$2 limit=${3:-30} start=$SECONDS
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		[ "$(rp_field "$i" voters)" = "$want" ] && return 0
		sleep 0.2
	done
	echo "node $i reports $(rp_field "$i" voters) voters after ${limit}s, not $want" >&2
	return 1
}

# rp_wait_role I ROLE [SECONDS]
rp_wait_role() {
	local i=$1 want=$2 limit=${3:-30} start=$SECONDS
	while [ $((SECONDS - start)) -lt "$limit" ]; do
		[ "$(rp_field "$i" role)" = "$want" ] && return 0
		sleep 0.2
	done
	echo "node $i is '$(rp_field "$i" role)' after ${limit}s, not $want" >&2
	return 1
}

# rp_cluster_start N: node 1 bootstraps, the others join; waits for
# min(N, 3) voters and every node answering.
rp_cluster_start() {
	local n=$1 i want port
	mkdir -p "$RP_DIR"
	[ -n "$RP_BASE" ] || { echo "RP_BASE is not set" >&2; return 1; }
	# Fail fast, and say why, if another process holds our ports.
	for ((i = 1; i <= n; i++)); do
		for port in "$(rp_cli_port "$i")" "$(rp_peer_port "$i")"; do
			if ss -Htln "sport = :$port" | grep -q .; then
				echo "port $port is in use (another cluster test running?)" >&2
				return 1
			fi
		done
	done
	rp_start_node 1
	rp_wait_leader 1 20 >/dev/null || return 1
	for ((i = 2; i <= n; i++)); do
		rp_start_node "$i"
	done
	want=$((n < 3 ? n : 3))
	rp_wait_voters 1 "$want" 40 || return 1
	for ((i = 2; i <= n; i++)); do
		local start=$SECONDS
		until [ -n "$(rp_field "$i" role)" ] && [ "$(rp_field "$i" role)" != joining ]; do
			if [ $((SECONDS - start)) -ge 30 ]; then
				echo "node $i did not join" >&2
				return 1
			fi
			sleep 0.2
		done
	done
}

# rp_stop I: SIGTERM and wait (up to 15 s) for a clean exit; returns its code.
rp_stop() {
	local pid
	pid=$(rp_pid "$1") || return 0
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	local rc=0
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "node $1 did not stop within 15 s of SIGTERM" >&2
		kill -9 "$pid" 2>/dev/null
		rc=1
	fi
	wait "$pid" 2>/dev/null || rc=$?
	rm -f "$RP_DIR/n$1.pid"
	[ $rc -ne 0 ] && echo "node $1 (pid $pid) exited with code $rc" >&2
	return $rc
}

rp_kill9() {
	local pid
	pid=$(rp_pid "$1")
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$RP_DIR/n$1.pid"
}

# rp_cleanup: kills whatever is left (for traps).
rp_cleanup() {
	local f pid
	for f in "$RP_DIR"/n*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		kill -9 "$pid" 2>/dev/null
		# Reaped before we return, so the next test can bind its ports.
		wait "$pid" 2>/dev/null
		rm -f "$f"
	done
}

# Test tally helpers: ok NAME / fail NAME WHY; rp_summary prints the line.
rp_passed=0
rp_failed=0
ok() {
	echo "ok   $1"
	rp_passed=$((rp_passed + 1))
}
fail() {
	echo "FAIL $1: $2"
	rp_failed=$((rp_failed + 1))
}
# expect NAME WANT GOT
expect() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "want [$2], got [$3]"; fi
}
rp_summary() {
	echo "$rp_passed passed, $rp_failed failed"
	[ "$rp_failed" -eq 0 ]
}
