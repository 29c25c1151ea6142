#!/usr/bin/env bash
# mutants.sh — the simulator's teeth.  Each mutant build compiles the
# consensus core with one deliberate bug (-DHP_MUTANT_<NAME>); the swarm
# must catch every one of them within SEEDS seeds (default 1000).  A mutant
# passes this test when its swarm FAILS; a mutant that survives fails it.
# A failing seed counts only if the correct build passes that same seed
# (otherwise the failure is the core's own, not the mutant's, and the
# search goes on from the next seed).
#
#   tests/sim/mutants.sh [SEEDS]        (run `make mutants` first)
set -uo pipefail
cd "$(dirname "$0")/../.."

seeds="${1:-1000}"
base="build/release/rasputin-sim"
mutants=(grant_shorter_log commit_old_term ack_before_persist no_drift_margin skip_noop)
status=0
caught=0
for m in "${mutants[@]}"; do
  bin="build/mutant-$m/rasputin-sim"
  if [ ! -x "$bin" ] || [ ! -x "$base" ]; then
    echo "mutant $m: MISSING $bin or $base (run make all mutants)"
    status=1
    continue
  fi
  first=1
  verdict=""
  while [ "$first" -le "$seeds" ]; do
    left=$((seeds - first + 1))
    out="$("$bin" swarm --seeds "$left" --first "$first" --stop-on-fail --quiet 2>&1)"
    rc=$?
    line="$(printf '%s\n' "$out" | grep -m1 '^FAIL seed ' || true)"
    if [ "$rc" -eq 0 ] || [ -z "$line" ]; then
      [ "$rc" -ne 0 ] && verdict="error: swarm exited $rc without a failing seed"
      break
    fi
    seed="$(printf '%s\n' "$line" | sed -E 's/^FAIL seed ([0-9]+): .*/\1/')"
    reason="$(printf '%s\n' "$line" | sed -E 's/^FAIL seed [0-9]+: //')"
    if "$base" run --seed "$seed" >/dev/null 2>&1; then
      verdict="caught at seed $seed ($reason)"
      break
    fi
    echo "mutant $m: seed $seed fails on the correct build too; not counted"
    first=$((seed + 1))
  done
  case "$verdict" in
  caught*)
    echo "mutant $m: $verdict"
    caught=$((caught + 1))
    ;;
  error*)
    echo "mutant $m: $verdict"
    printf '%s\n' "$out" | tail -5
    status=1
    ;;
  *)
    echo "mutant $m: SURVIVED $seeds seeds"
    status=1
    ;;
  esac
done
echo "mutants: $caught passed, $(( ${#mutants[@]} - caught )) failed"
exit $status
