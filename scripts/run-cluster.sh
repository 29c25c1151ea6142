#!/usr/bin/env bash
# scripts/run-cluster.sh [DATA_DIR] — `make run`: a local 3-node rasputin
# cluster.  Client ports 7001-7003, peer ports 7101-7103, data and logs under
# DATA_DIR (default ./data).  Node 1 bootstraps the cluster; nodes 2 and 3
# join it.  Run it again on the same DATA_DIR and the nodes come back with
# their data.  Ctrl-C stops all three cleanly.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-${DATA:-./data}}
BIN=build/release/rasputind
CLI=build/release/rasputin-cli
mkdir -p "$DATA"
pids=()

stop_all() {
	echo
	echo "stopping the cluster..."
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	echo "stopped; data kept in $DATA (run again to restart on it)"
	exit 0
}
trap stop_all INT TERM

for i in 1 2 3; do
	args=(--node-id "$i" --bind 127.0.0.1 --cli-port "700$i" --peer-port "710$i"
		--storage-dir "$DATA/n$i" --logfile "$DATA/n$i.log")
	if [ "$i" -eq 1 ]; then
		args+=(--init)
	else
		args+=(--seed-peers 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103)
	fi
	"$BIN" "${args[@]}" &
	pids+=($!)
	echo "node $i: pid $!, clients on 127.0.0.1:700$i, peers on 127.0.0.1:710$i, log $DATA/n$i.log"
done

printf "waiting for the cluster to form"
for _ in $(seq 150); do
	for p in "${pids[@]}"; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo
			echo "a node exited; see the logs in $DATA:"
			tail -n 5 "$DATA"/n*.log
			stop_all
		fi
	done
	voters=$(timeout 2 redis-cli -p 7001 --raw RASPUTIN STATUS 2>/dev/null |
		awk 'prev == "voters" { print; exit } { prev = $0 }')
	leader=$(timeout 2 redis-cli -p 7001 --raw RASPUTIN STATUS 2>/dev/null |
		awk 'prev == "leader_id" { print; exit } { prev = $0 }')
	if [ "${voters:-0}" = 3 ] && [ "${leader:-0}" != 0 ]; then
		echo " ready."
		echo
		"$CLI" -p 7001 cluster status
		cat <<EOT

Connect with either client (any node accepts any command):
  $CLI -p 7001                  # interactive, with history
  $CLI -p 7002 set greeting hello
  redis-cli -p 7003 get greeting
  redis-benchmark -p 7001 -t set,get -n 100000 -q

Press Ctrl-C to stop the cluster.
EOT
		while true; do
			for p in "${pids[@]}"; do
				if ! kill -0 "$p" 2>/dev/null; then
					echo "node with pid $p exited; see $DATA/*.log"
				fi
			done
			sleep 2 &
			wait $!
		done
	fi
	printf "."
	sleep 0.2
done
echo
echo "the cluster did not form within 30 s; see the logs in $DATA"
stop_all
