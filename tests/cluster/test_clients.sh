#!/usr/bin/env bash
# tests/cluster/test_clients.sh — real clients against a real 3-node
# cluster: redis-py (test_redis_py.py), the C client library through
# examples/basic.c, rasputin-cli one-shot and `cluster status`, and bad
# input on the client port (test_bad_input.py) against a node started with
# small limits, plus AUTH against a node with --requirepass.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
RP_BASE=17400
RP_DIR=$(mktemp -d /tmp/rasputin-clients.XXXXXX)
trap 'rp_cleanup; rm -rf "$RP_DIR"' EXIT

RP_ARGS="--max-clients 40 --client-output-limit 1mb --max-value-bytes 64kb --max-inline-bytes 1kb --max-multibulk-count 1000"
rp_cluster_start 3 || { fail "cluster formation" "no cluster"; rp_summary; exit 1; }
ports=("$(rp_cli_port 1)" "$(rp_cli_port 2)" "$(rp_cli_port 3)")

run_py() { # NAME SCRIPT ARGS...: folds a python suite's tally into ours
	local name=$1 out
	shift
	out=$(/usr/bin/python3 "$@" 2>&1)
	echo "$out" | sed "s/^/  [$name] /"
	local line p f
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [ -z "$line" ]; then
		fail "$name" "no result line"
		return
	fi
	p=$(echo "$line" | grep -oE '^[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	rp_passed=$((rp_passed + p))
	rp_failed=$((rp_failed + f))
}

run_py redis-py tests/cluster/test_redis_py.py "${ports[@]}"

out=$(build/release/examples/basic "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" 2>&1)
rc=$?
echo "$out" | sed 's/^/  [examples\/basic] /'
expect "examples/basic.c (the seed README's usage) against the cluster" 0 "$rc"

CLI=build/release/rasputin-cli
expect "rasputin-cli one-shot set" OK "$($CLI -p "${ports[0]}" set clikey "hello world")"
expect "rasputin-cli one-shot get on another node" "hello world" "$($CLI -p "${ports[2]}" get clikey)"
$CLI -p "${ports[0]}" get no-such-key >/dev/null
expect "rasputin-cli exit code for nil is 0" 0 "$?"
$CLI -p "${ports[0]}" nosuchcommand >/dev/null 2>&1
expect "rasputin-cli exit code for an error reply" 1 "$?"
status=$($CLI -p "${ports[1]}" cluster status 2>&1)
echo "$status" | sed 's/^/  [cluster status] /'
expect "cluster status shows one leader" 1 "$(echo "$status" | grep -c leader)"
expect "cluster status shows two followers" 2 "$(echo "$status" | grep -c follower)"

run_py bad-input tests/cluster/test_bad_input.py "${ports[0]}"

# AUTH: one more single-node cluster with a password.
RP_ARGS="--requirepass s3cret"
RP_BASE=$((RP_BASE + 50))
RP_DIR_SAVE=$RP_DIR
RP_DIR=$RP_DIR/auth
mkdir -p "$RP_DIR"
rp_start_node 1
sleep 1
run_py auth tests/cluster/test_bad_input.py --auth "$(rp_cli_port 1)" s3cret
rp_stop 1 || fail "stop the auth node" "exit code"
RP_DIR=$RP_DIR_SAVE
RP_BASE=$((RP_BASE - 50))
for i in 1 2 3; do rp_stop "$i" || fail "stop node $i" "exit code"; done
rp_summary
