#!/usr/bin/env bash
# Sets up everything missing, builds sandbench and its guest image, and runs the quick campaign
# embedded in the binary (examples/quick.toml) over the environments this host can run, or the
# campaign file given as $1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh
cargo build --release --quiet -p sandbench
agent="$(scripts/build-agent.sh)"
"$SANDBENCH_BIN" assets fetch
"$SANDBENCH_BIN" image build --agent "$agent"
"$SANDBENCH_BIN" doctor
exec "$SANDBENCH_BIN" run --agent "$agent" "$@"
