#!/usr/bin/env bash
# Cross-builds sandbench for aarch64 (Raspberry Pi 4/5, Jetson) on an x86_64 Debian host and
# prints the folder that holds the binaries (dist/aarch64/ by default):
#   sandbench                 the host program (dynamically linked, glibc ≥ the cross libc's)
#   sandbench-agent           the static agent without inference engines (cpu, noop, I/O kinds)
#   sandbench-agent-dynamic   the agent with the engines (tract, onnxruntime, candle); only with
#                             --engines (about 20 min on 2 cores, cold)
# `sandbench fleet run --binaries aarch64=dist/aarch64` ships them to arm64 hosts.
#
# Needs, installed here once (root; about 1.5 min and 1.7 GB): Debian's rustc-web and cargo-web
# (rustc 1.96, /usr/bin) with the arm64 standard library libstd-rust-web-dev:arm64, and the
# cross C toolchain gcc-aarch64-linux-gnu (mozjpeg, zstd and the other -sys crates build C).
# rustup's own toolchain cannot be used with Debian's arm64 std (E0514: another compiler).
# qemu-user-static lets the host run what was built (tests: scripts/test.sh).
#   scripts/cross-build.sh [--engines] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/step.sh
engines=0
out="$PWD/dist/aarch64"
while (($#)); do
  case "$1" in
    --engines) engines=1 ;;
    --out) out="$2"; shift ;;
    *) echo "cross-build: unknown option $1; valid: --engines, --out DIR" >&2; exit 2 ;;
  esac
  shift
done
triple=aarch64-unknown-linux-gnu

# The toolchain, installed where missing (idempotent).
pkgs=(rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "cross-build: missing Debian packages: ${missing[*]} — run as root, or: sudo dpkg --add-architecture arm64 && sudo apt-get update && sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  step "installing the aarch64 cross toolchain (${missing[*]})" "about 1.5 min" \
    bash -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"' _ "${missing[@]}"
fi

. scripts/lib/cross-env.sh
cargo=/usr/bin/cargo
target_dir="${CARGO_TARGET_DIR:-/var/cache/sandbench/target}"
mkdir -p "$out"

# The host program (and, with --engines, the agent with the engines) in one invocation, so that
# the crates they share are resolved with one feature set and built once.
packages=(-p sandbench)
what="cross-building sandbench for aarch64"
if ((engines)); then
  packages+=(-p sandbench-agent)
  what="$what, with the agent and its inference engines"
fi
CARGO_TARGET_DIR="$target_dir" step "$what" \
  "about 8-12 min on 2 cores, cold; 20 more with the engines; seconds when built" \
  "$cargo" build --release --target "$triple" "${packages[@]}"
cp "$target_dir/$triple/release/sandbench" "$out/sandbench"
if ((engines)); then cp "$target_dir/$triple/release/sandbench-agent" "$out/sandbench-agent-dynamic"; fi

# The static agent: its own target folder, since crt-static changes every crate's flags (in the
# same folder it would rebuild the host program's crates each time).
CARGO_TARGET_DIR="$target_dir/aarch64-static" RUSTFLAGS="-C target-feature=+crt-static" \
  step "cross-building the static agent for aarch64 (no inference engines)" "about 2 min on 2 cores, cold" \
  "$cargo" build --release --target "$triple" -p sandbench-agent --no-default-features
cp "$target_dir/aarch64-static/$triple/release/sandbench-agent" "$out/sandbench-agent"
echo "$out"
