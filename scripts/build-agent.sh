#!/usr/bin/env bash
# Builds sandbench-agent twice and prints the static one's path:
#  - static (crt-static, <target>/<triple>/release/): runs in every guest with no C library;
#    its inference engine is tract.
#  - dynamic (<target>/release/, next to `sandbench`): used where the onnxruntime engine is
#    wanted; the guest image then carries its library closure.
# `--static-only` skips the second: scripts/test.sh gets the dynamic agent from the same cargo
# invocation as the tests, since a separate `cargo build` resolves other features (no
# dev-dependencies) and would rebuild tract and candle once more.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet -p sandbench-agent --target "$target" >&2
if [ "${1:-}" != "--static-only" ]; then
  cargo build --release --quiet -p sandbench-agent >&2
fi
echo "$CARGO_TARGET_DIR/$target/release/sandbench-agent"
