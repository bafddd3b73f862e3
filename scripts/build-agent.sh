#!/usr/bin/env bash
# Builds the static sandbench-agent that goes into every guest image and prints its path.
# The agent is built for an explicit --target so its crt-static flags never touch host builds.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --quiet -p sandbench-agent --target "$target" >&2
echo "$CARGO_TARGET_DIR/$target/release/sandbench-agent"
