#!/usr/bin/env bash
# Installs what carbonbpf needs to build, run and test, from Debian packages (run as root).
#   tools/install-deps.sh          build + run + test dependencies
#   tools/install-deps.sh --bench  also bpftrace and perf for `make bench`
set -euo pipefail
pkgs=(make gcc pkg-config clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
      libcurl4-openssl-dev libcjson-dev libcmocka-dev python3 util-linux)
if [ "${1:-}" = --bench ]; then
	pkgs+=(bpftrace linux-perf)
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (sudo $0) to install: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
