#!/usr/bin/env bash
# Fuzzes the host-side protocol parser (crates/protocol/fuzz) with libFuzzer for $1 seconds
# (default 60). Works with the stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its
# coverage flags; no sanitizer (a panic or a hang is what this target looks for).
set -euo pipefail
cd "$(dirname "$0")/../crates/protocol"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/sandbench/target}-fuzz"
RUSTC_BOOTSTRAP=1 cargo fuzz run line_parser -s none -- -max_total_time="${1:-60}"
