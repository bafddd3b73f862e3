#!/usr/bin/env bash
# Builds sandbench-agent and prints the static one's path:
#  - static (crt-static, <target>/<triple>/release/), without the inference engines (cargo
#    feature `engines` off): cpu, noop and the I/O kinds in every guest, no C library needed.
#    About 1-2 min on 2 cores.
#  - dynamic (<target>/release/, next to `sandbench`), with the engines (tract, onnxruntime,
#    candle): the AI kinds use it, and the guest image then carries its library closure. It is
#    built in the same profile and configuration as `sandbench` and the tests, so tract and
#    candle are compiled once for all of them. About 15 min on 2 cores, cold.
# `--static-only` skips the second (scripts/test.sh gets the dynamic agent from the same cargo
# invocation as the tests, whose feature set it must share).
# Every cargo step says what it builds and how long it takes, with cargo's own line per crate
# (scripts/lib/step.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/step.sh
target="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
RUSTFLAGS="-C target-feature=+crt-static" step "building the static agent without inference engines (cpu, noop, I/O kinds)" "1-2 min" \
  cargo build --release -p sandbench-agent --no-default-features --target "$target"
if [ "${1:-}" != "--static-only" ]; then
  step "building the inference engines (tract, onnxruntime, candle) into the dynamic agent" "about 15 min on 2 cores, cold; seconds when built" \
    cargo build --release -p sandbench -p sandbench-agent
fi
echo "$CARGO_TARGET_DIR/$target/release/sandbench-agent"
