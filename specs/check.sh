#!/usr/bin/env bash
# specs/check.sh -- model-check Harpoon's lease-based election with spin.
#
#   specs/check.sh                 verify the model (two configurations) and
#                                  confirm that every mutant is caught
#   specs/check.sh --traces        also print each mutant's counterexample
#   specs/check.sh --cross-check   also compare the reduced search with the
#                                  plain one on small configurations (slow)
#
# Exit status 0 only if both configurations report "errors: 0" with a
# complete search and every mutant yields an assertion violation.  pan exits 0
# even when it finds an error, so everything is decided from its output.
# All generated files (pan.c, pan, trails) live in a temporary directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
model="$here/harpoon_lease.pml"
name="$(basename "$model")"

traces=0
cross=0
for arg in "$@"; do
	case "$arg" in
	--traces) traces=1 ;;
	--cross-check) cross=1 ;;
	-h | --help)
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "check.sh: unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

for tool in spin gcc timeout; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "check.sh: '$tool' not found (spin 6.5 and gcc are needed)" >&2
		exit 2
	fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/harpoon-model.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# pan settings: exhaustive search for safety properties (assertions), depth
# bound well above the ~0.6M reached, hash table for ~16M states.
# (-O2 for the long runs; the mutants stop early, so -O1 compiles faster)
PAN_CFLAGS=(-w -DSAFETY -DNOREDUCE -DMEMLIM=4096)
PAN_FLAGS=(-m2000000 -w24)
TIME_LIMIT=300 # seconds per pan run; hitting it is a failure

# Configurations.  A: coarse time (L=2: promise 1-2 ticks, lease 1 tick),
# terms in use may span 2.  B: finer time (L=4: promise 2-4 ticks, lease
# 1-2 ticks), span 1.  Both: 3 messages in flight, crashes, log check.
CONF_A="-DL=2 -DTSPAN=2 -DBAG=3"
CONF_B="-DL=4 -DTSPAN=1 -DBAG=3"

# run TAG "SPIN_DEFS" "EXTRA_CFLAGS": build and run pan in $work/TAG
run() {
	local tag="$1" defs="$2" cflags="$3" dir="$work/$1"
	mkdir -p "$dir"
	(
		cd "$dir" || exit 1
		# shellcheck disable=SC2086
		if ! spin $defs -a "$model" >spin.log 2>&1; then
			echo "spin -a failed" >out.txt
			cat spin.log >>out.txt
			exit 0
		fi
		# shellcheck disable=SC2086
		if ! gcc "${PAN_CFLAGS[@]}" $cflags -o pan pan.c >gcc.log 2>&1; then
			echo "gcc failed" >out.txt
			cat gcc.log >>out.txt
			exit 0
		fi
		start=$(date +%s.%N)
		timeout "$TIME_LIMIT" ./pan "${PAN_FLAGS[@]}" >out.txt 2>&1 ||
			echo "pan: exit status $? (time limit ${TIME_LIMIT}s?)" >>out.txt
		end=$(date +%s.%N)
		awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f\n", b - a }' >wall.txt
	) || true
}

field() { # field FILE REGEX AWK-FIELD: that field of the first matching line
	grep -E "$2" "$1" 2>/dev/null | head -n 1 | awk "{ print \$$3 }" || true
}

# print the counterexample of run TAG, one line per state (nodes A, B, C)
show_trace() {
	local dir="$work/$1"
	[ -f "$dir/$name.trail" ] || return 0
	(cd "$dir" && ./pan -r "$name.trail" 2>&1) |
		grep -E '^    |assertion violated' | sed 's/^/      /' || true
}

status=0
passed=0
failed=0

# ---- the model: both configurations in parallel (2 cores) -----------------
t0=$(date +%s)
run conf_a "$CONF_A" "-O2" &
pa=$!
run conf_b "$CONF_B" "-O2" &
pb=$!
wait "$pa" "$pb"

for tag in conf_a conf_b; do
	out="$work/$tag/out.txt"
	case $tag in
	conf_a) defs="$CONF_A" ;;
	*) defs="$CONF_B" ;;
	esac
	label="model: $name [${defs//-D/}]"
	errors=$(field "$out" 'errors:' NF)
	states=$(field "$out" 'states, stored' 1)
	trans=$(field "$out" 'transitions \(= stored' 1)
	depth=$(grep -oE 'depth reached [0-9]+' "$out" 2>/dev/null | awk '{ print $3 }' || true)
	wall=$(cat "$work/$tag/wall.txt" 2>/dev/null || echo "?")
	# statements never executed (pan lists them; only the loop's end may be)
	unreached=$(grep -A3 'unreached in proctype harpoon' "$out" 2>/dev/null |
		grep -oE '\([0-9]+ of [0-9]+ states\)' | awk '{ print substr($1, 2) - 1 }' || true)
	if [ "$errors" = "0" ] && [ -n "$states" ] &&
		! grep -qE 'max search depth too small|out of memory|reached -DMEMLIM|exit status|failed' "$out"; then
		echo "$label: errors: 0 ($states states, $trans transitions, depth $depth, ${wall}s)"
		if [ "$unreached" = "0" ]; then
			passed=$((passed + 1))
		else
			status=1
			failed=$((failed + 1))
			echo "    but ${unreached:-?} statements of the model were never executed (vacuous check?):"
			grep -A12 'unreached in proctype harpoon' "$out" | sed 's/^/    /' || true
		fi
	else
		status=1
		failed=$((failed + 1))
		echo "$label: FAILED (errors: ${errors:-?}, ${states:-?} states, ${wall}s)"
		grep -E 'assertion violated|depth too small|out of memory|MEMLIM|exit status|failed|error' "$out" |
			head -n 5 | sed 's/^/    /' || true
		if grep -q 'assertion violated' "$out"; then
			# the depth-first trail is long; search again breadth-first
			# for a shortest counterexample
			run "${tag}_bfs" "$defs" "-O1 -DBFS"
			echo "    shortest counterexample (one line per state; t = term, promise/lease in local units):"
			show_trace "${tag}_bfs" | tail -n 80
		fi
	fi
done

# ---- mutants: each must be caught (breadth-first: shortest counterexample) --
# name | spin defines (configuration + bug)
mutants=(
	"no_drift_margin|$CONF_B -DMUTANT_NO_DRIFT_MARGIN"
	"margin_off_by_one|$CONF_B -DLP=3"
	"grant_while_promised|$CONF_B -DMUTANT_GRANT_WHILE_PROMISED"
	"lease_from_grant|$CONF_B -DMUTANT_LEASE_FROM_GRANT"
	"lease_from_ack|$CONF_B -DMUTANT_LEASE_FROM_ACK"
	"pre_keeps_round|$CONF_B -DMUTANT_PRE_KEEPS_ROUND"
	"vote_not_persisted|$CONF_B -DMUTANT_VOTE_NOT_PERSISTED"
)
pids=()
for entry in "${mutants[@]}"; do
	run "mut_${entry%%|*}" "${entry#*|}" "-O1 -DBFS" &
	pids+=($!)
	if [ "${#pids[@]}" -ge 2 ]; then
		wait "${pids[@]}"
		pids=()
	fi
done
if [ "${#pids[@]}" -gt 0 ]; then
	wait "${pids[@]}"
fi

for entry in "${mutants[@]}"; do
	mname="${entry%%|*}"
	out="$work/mut_$mname/out.txt"
	errors=$(field "$out" 'errors:' NF)
	viol=$(grep -m1 -oE 'assertion violated .*' "$out" 2>/dev/null | sed 's/ (at depth.*//' || true)
	depth=$(grep -oE 'assertion violated.*\(at depth [0-9]+\)' "$out" 2>/dev/null |
		grep -oE '[0-9]+\)$' | tr -d ')' || true)
	case "$viol" in
	*nvalid*) what="two valid leases" ;;
	*elect_ok*) what="two leaders in a term" ;;
	*) what="$viol" ;;
	esac
	if [ -n "$errors" ] && [ "$errors" != "0" ] && [ -n "$viol" ]; then
		passed=$((passed + 1))
		echo "model mutant $mname: error found (as expected): $what, counterexample of $depth steps"
		if [ "$traces" = 1 ]; then
			show_trace "mut_$mname"
		fi
	else
		status=1
		failed=$((failed + 1))
		echo "model mutant $mname: NO error found -- the model does not catch this bug"
		grep -E 'errors:|states, stored|exit status|failed' "$out" | sed 's/^/    /' || true
	fi
done

# ---- optional: the state-space reduction against the plain model ----------
# With reduction and term shift off in the search but both applied when the
# states are printed, the plain model's states must all be among the reduced
# model's (R8 may add states, R1-R7 and R9 must lose none).
if [ "$cross" = 1 ]; then
	for conf in "-DL=2 -DTSPAN=2 -DBAG=2" "-DL=2 -DTSPAN=1 -DBAG=3" "-DL=4 -DTSPAN=1 -DBAG=2"; do
		run xr "$conf -DHL_DUMP" "-O2" &
		pr=$!
		run xp "$conf -DHL_DUMP -DNO_REDUCTION -DNO_TERM_SHIFT" "-O2" &
		pp=$!
		wait "$pr" "$pp"
		sort -u "$work/xr/dump.txt" >"$work/xr.u"
		sort -u -S 1G "$work/xp/dump.txt" >"$work/xp.u"
		missing=$(comm -13 "$work/xr.u" "$work/xp.u" | wc -l)
		if [ "$missing" = 0 ] && grep -q 'errors: 0' "$work/xp/out.txt"; then
			echo "cross-check [${conf//-D/}]: plain model $(wc -l <"$work/xp.u") canonical states, all among the reduced model's $(wc -l <"$work/xr.u")"
		else
			status=1
			failed=$((failed + 1))
			echo "cross-check [${conf//-D/}]: FAILED: $missing states of the plain model missing from the reduced one"
		fi
		rm -rf "$work/xr" "$work/xp" "$work/xr.u" "$work/xp.u"
	done
fi

echo "model check: $(($(date +%s) - t0))s total, $([ "$status" = 0 ] && echo PASSED || echo FAILED)"
echo "model: $passed passed, $failed failed"
exit "$status"
