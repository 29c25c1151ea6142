#!/usr/bin/env bash
# bench/ab.sh OLD_RASPUTIND NEW_RASPUTIND [REPS]: an A/B of two server
# builds, as docs/performance.md ("What each change bought") records them.
# For each repetition, old then new: a fresh 3-node loopback cluster
# (tests/cluster/lib.sh, ports RP_BASE=17800..), then rpload against the
# leader: SET at 64 clients, SET at 1 client, GET at 64 clients.  Prints
# one line per run; compare medians, and only trust large differences on
# a shared machine.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
	echo "usage: bench/ab.sh OLD_RASPUTIND NEW_RASPUTIND [REPS (default 3)]" >&2
	exit 2
fi
A=$1
B=$2
REPS=${3:-3}
for f in "$A" "$B"; do
	[ -x "$f" ] || { echo "bench/ab.sh: $f is not an executable" >&2; exit 2; }
done
make -s build/release/bench/rpload || exit 1
. tests/cluster/lib.sh
RP_BASE=${RP_BASE:-17800}
field() { echo "$1" | grep -o "$2=[0-9.]*" | cut -d= -f2; }
trap 'rp_cleanup; [ -n "${RP_DIR:-}" ] && rm -rf "$RP_DIR"' EXIT
for r in $(seq "$REPS"); do
	for which in old new; do
		RP_BIN=$A
		[ "$which" = new ] && RP_BIN=$B
		RP_DIR=$(mktemp -d /tmp/rasputin-ab.XXXXXX)
		rp_cluster_start 3 >/dev/null
		L=$(rp_wait_leader 3)
		P=$(rp_cli_port "$L")
		s64=$(build/release/bench/rpload -p "$P" -t set -c 64 -n 100000 -r 10000 -d 100 2>&1 | tail -1)
		s1=$(build/release/bench/rpload -p "$P" -t set -c 1 -n 3000 -r 10000 -d 100 2>&1 | tail -1)
		g64=$(build/release/bench/rpload -p "$P" -t get -c 64 -n 200000 -r 10000 -d 100 2>&1 | tail -1)
		printf 'run %d %-3s  SET c=64 %6s ops/s p50 %s ms | SET c=1 p50 %s ms | GET c=64 %6s ops/s\n' \
			"$r" "$which" "$(field "$s64" ops_s)" "$(field "$s64" p50_ms)" \
			"$(field "$s1" p50_ms)" "$(field "$g64" ops_s)"
		for i in 1 2 3; do rp_stop "$i"; done
		rp_cleanup
		rm -rf "$RP_DIR"
	done
done
