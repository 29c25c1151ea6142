#!/usr/bin/env bash
# tests/storage/crash_test.sh — the WAL on the real disk under kill -9.
#
# Runs crash_writer against one WAL directory, SIGKILLs it at a random
# moment (10-150 ms after start, while it appends and syncs), and after
# every kill recovers the log and checks that every batch the writer had
# acknowledged (printed after its sync returned) is there, whole.  Repeats
# until DURATION seconds have passed or MAX_KILLS kills, then corrupts one
# byte in the oldest segment and checks that recovery reports corruption.
#
# kill -9 keeps the page cache: this tests process crashes.  Power loss is
# what the simulated disk (fs_sim) tests.
#
# Usage: crash_test.sh [CRASH_WRITER_BINARY]; env DURATION (60), MAX_KILLS
# (400), MIN_KILLS (100).  Ends with "crash: N passed, N failed" (tests/run.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."

BIN=${1:-${CRASH_WRITER:-build/release/crash_writer}}
DURATION=${DURATION:-60}
MAX_KILLS=${MAX_KILLS:-400}
MIN_KILLS=${MIN_KILLS:-100}
if [ ! -x "$BIN" ]; then
	echo "crash_test: $BIN not built"
	echo "0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rasputin-crash-XXXXXX")
trap 'rm -rf "$work"' EXIT
wal="$work/wal"
acks="$work/acks"
log="$work/writer.log"
: >"$acks"

passed=0
failed=0
kills=0
start=$SECONDS
while [ $kills -lt $MAX_KILLS ] && { [ $((SECONDS - start)) -lt "$DURATION" ] || [ $kills -lt "$MIN_KILLS" ]; }; do
	"$BIN" write "$wal" >>"$acks" 2>>"$log" &
	pid=$!
	# 10..150 ms: sometimes during recovery, mostly mid-append or mid-sync.
	sleep "0.$(printf '%03d' $((10 + RANDOM % 141)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	kills=$((kills + 1))
	if out=$("$BIN" verify "$wal" "$acks" 2>&1); then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL after kill $kills:"
		echo "$out" | sed 's/^/     /'
		break
	fi
done
total_acks=$(grep -c '^ack ' "$acks")
echo "ok   $kills kills in $((SECONDS - start)) s, $total_acks acknowledged batches, all present after every kill"
echo "     last check: $(echo "$out" | tail -n 1)"

# Corruption: one flipped byte in the oldest segment must be reported.
"$BIN" flip "$wal" >/dev/null
out=$("$BIN" verify "$wal" "$acks" 2>&1)
rc=$?
if [ $rc -eq 3 ] && echo "$out" | grep -q "WAL corrupt"; then
	passed=$((passed + 1))
	echo "ok   flipped byte detected: $(echo "$out" | grep 'WAL corrupt' | head -n 1 | cut -c1-160)"
else
	failed=$((failed + 1))
	echo "FAIL flipped byte not detected (exit $rc):"
	echo "$out" | sed 's/^/     /'
fi

echo "crash: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
