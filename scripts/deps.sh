#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent:
# quiet and quick when everything is already present.
# `scripts/deps.sh bench` also installs what `make bench` needs (bench/run.py):
# the systems it compares against and the tools that drive them.
set -euo pipefail

packages=(
  build-essential clang libclang-rt-14-dev  # compilers, sanitizers, libFuzzer
  spin                                      # model checker (make model)
  librocksdb-dev libuv1-dev liburing-dev libisal-dev libxxhash-dev
  libedit-dev                               # rasputin-cli's line editing and history
  redis-tools python3-redis                 # real clients for the cluster tests
  iproute2 iptables libnetfilter-queue-dev  # fault harness: netns, veth, rules, nfq_delay
  e2fsprogs                                 # fault harness: loop-mounted ext4 disks
  gnuplot-nox                               # the fault harness's plots (tests/faults)
)
if [ "${1:-}" = bench ]; then
  packages+=(
    etcd-server etcd-client                 # the etcd cluster and etcdctl (compact, defrag)
    redis-server                            # the two Redis baselines
    golang-go golang-etcd-server-dev        # bench/etcdload, built offline in GOPATH mode
    gnuplot-nox procps                      # the chart; ps for resident sizes
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
