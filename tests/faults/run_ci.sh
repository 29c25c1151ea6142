#!/usr/bin/env bash
# tests/faults/run_ci.sh — the fault harness's part of `make test` (about 5
# minutes): the checker's teeth (known bad histories), the namespace
# harness's self-test, a 90-second campaign over every nemesis on a 3-node
# cluster that must PASS, a 40-second one with a snapshot every 300 entries
# (so the nodes the faults set back return through installs, read through
# a value cache that each install empties), a run against nodes started with
# --debug-unsafe-follower-reads that must FAIL, and a short leader-stability
# pass (leader changes asserted; throughput reported, not asserted).
# `make faults` is the long version.  Prints one "N passed, N failed".
# The runs' output (histories, node logs, reports: about 500 MB) goes under
# one temporary directory, removed when every step passed and kept, with
# its path printed, when one failed (or KEEP=1).
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
OUT=$(mktemp -d /tmp/rasputin-faults-ci.XXXXXX)
passed=0
failed=0
names=()

step() { # NAME CMD...: runs a suite, folds its last tally line into ours
	local name=$1 out line p f
	shift
	echo "-- $name"
	out=$("$@" 2>&1)
	local rc=$?
	echo "$out" | tail -n 40
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		names+=("$name (no result line, exit $rc)")
		return
	fi
	p=$(echo "$line" | grep -oE '^[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		names+=("$name")
		[ "$f" -eq 0 ] && failed=$((failed + 1))
	fi
}

step "checker teeth (known non-linearizable histories)" $PY tests/faults/test_check.py
step "namespace harness self-test" $PY tests/faults/test_netns.py
step "campaign: 90 s, 3 nodes, every nemesis" \
	$PY tests/faults/campaign.py run --seconds "${FAULT_CI_SECONDS:-90}" --nodes 3 --tag c \
	--out "$OUT/campaign"
step "campaign: 40 s, 3 nodes, a snapshot every 300 entries (nodes come back by installs)" \
	$PY tests/faults/campaign.py run --seconds "${FAULT_CI_SNAP_SECONDS:-40}" --nodes 3 --tag v \
	--snapshot-entries 300 --out "$OUT/campaign-snap"
step "teeth: unsafe follower reads must FAIL" \
	$PY tests/faults/campaign.py run --seconds 20 --nodes 3 --tag t --unsafe-reads \
	--out "$OUT/teeth"
step "leader stability (short)" \
	$PY tests/faults/campaign.py stability --seconds "${STABILITY_CI_SECONDS:-10}" --tag s \
	--no-throughput-target --out "$OUT/stability"
[ ${#names[@]} -gt 0 ] && echo "failed: ${names[*]}"
if [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then
	rm -rf "$OUT"
else
	echo "output kept in $OUT"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
