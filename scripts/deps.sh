#!/usr/bin/env bash
# Installs every Debian package the build and the tests need. Idempotent:
# quiet and quick when everything is already present.
set -euo pipefail

packages=(
  build-essential clang libclang-rt-14-dev  # compilers, sanitizers, libFuzzer
  spin                                      # model checker (make model)
  librocksdb-dev libuv1-dev liburing-dev libisal-dev libxxhash-dev
  libedit-dev                               # rasputin-cli's line editing and history
  redis-tools python3-redis                 # real clients for the cluster tests
)

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
