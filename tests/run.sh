#!/usr/bin/env bash
# tests/run.sh — everything `make test` runs, in order, with one tally.
# Each suite prints its own lines; the last line here is "N passed, N failed"
# summed over unit cases, model checks, scenarios, simulator seeds and mutants.
set -uo pipefail
cd "$(dirname "$0")/.."

SEEDS=${SEEDS:-2000}
DEBUG_SEEDS=${DEBUG_SEEDS:-100}
passed=0
failed=0
failures=()

# add_counts NAME LOGFILE: reads the last "N passed, N failed" line of a suite.
add_counts() {
	local name=$1 log=$2 rc=$3 line p f
	line=$(grep -E '^[a-z:]* ?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "== $name: no result line (exit $rc)"
		failed=$((failed + 1))
		failures+=("$name")
		return
	fi
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		failures+=("$name")
		[ "$f" -eq 0 ] && failed=$((failed + 1))
	fi
}

run_suite() {
	local name=$1
	shift
	local log
	log=$(mktemp)
	echo "== $name"
	local start=$SECONDS
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	add_counts "$name" "$log" "$rc"
	echo "   ($name: $((SECONDS - start)) s)"
	rm -f "$log"
}

for t in build/debug/tests/test_*; do
	run_suite "unit $(basename "$t")" "$t"
done
run_suite "layering and clang build" ./scripts/tidy.sh
run_suite "model (spin)" ./specs/check.sh
run_suite "simulator scenarios" ./build/release/rasputin-sim scenario all
run_suite "simulator swarm ($SEEDS seeds)" ./build/release/rasputin-sim swarm --seeds "$SEEDS" --quiet
run_suite "simulator swarm under ASan+UBSan ($DEBUG_SEEDS seeds)" \
	./build/debug/rasputin-sim swarm --seeds "$DEBUG_SEEDS" --first 1000001 --quiet
run_suite "mutants (the swarm has teeth)" ./tests/sim/mutants.sh
run_suite "storage crash test (kill -9, real disk)" env DURATION="${CRASH_SECONDS:-45}" \
	./tests/storage/crash_test.sh build/release/crash_writer
run_suite "cluster: redis-cli, redis-benchmark, membership, restart" ./tests/cluster/test_basic.sh
run_suite "cluster: redis-py, librasputin, rasputin-cli, bad input" ./tests/cluster/test_clients.sh
run_suite "cluster: kill -9 of the leader under load, linearizability" ./tests/cluster/test_kill_leader.sh
run_suite "cluster: a bulk load of 1,000,000 keys keeps its leader" ./tests/cluster/test_bulk_load.sh
run_suite "cluster: snapshots by the log's bytes, beside the loop" ./tests/cluster/test_snapshots.sh
run_suite "cluster: a read waits for its own connection's writes only" ./tests/cluster/test_reads.sh
run_suite "cluster: the loop polls after messages, and sleeps when idle" ./tests/cluster/test_idle_poll.sh
run_suite "bench tools: probe and rpload measure" ./tests/bench/test_tools.sh
run_suite "faults: nemeses on real processes in network namespaces" ./tests/faults/run_ci.sh

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failed suites: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
