#!/usr/bin/env bash
# The unit tests of the light crates (protocol, stats, spec, sampler, power, hostfs, workloads)
# built for aarch64 and run under qemu-user (qemu-aarch64-static), with the environment of
# scripts/lib/cross-env.sh. Needs what scripts/cross-build.sh installs. Prints cargo's test
# output and exits with its status.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cross-env.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/sandbench/target}"
crates=(sandbench-protocol sandbench-stats sandbench-spec sandbench-sampler sandbench-power sandbench-hostfs sandbench-workloads)
args=()
for c in "${crates[@]}"; do args+=(-p "$c"); done
# qemu-user 7.2 (Debian bookworm's) does not implement openat2 (ENOSYS), which hostfs's
# confined writes use on every kernel since 5.6: the tests that write through it (hostfs's
# `confined`, the transfer receiver) pass on a real arm64 kernel and are left out here.
needs_openat2=(a_guest_writable_tree_refuses_every_symlink_on_the_way a_rootfs_tree_resolves_absolute_links_inside_itself
  transfer::tests::files_arrive_whole_over_tls transfer::tests::a_session_over_its_limits_is_cut_and_a_planted_link_is_not_followed)
skips=()
for t in "${needs_openat2[@]}"; do
  echo "sandbench-test: skipped: aarch64 $t: qemu-user 7.2 has no openat2 (ENOSYS); passes on a real arm64 kernel" >&2
  skips+=(--skip "$t")
done
# Release, as the cross-build: the dependencies are built once for both.
/usr/bin/cargo test --release --target aarch64-unknown-linux-gnu --no-fail-fast "${args[@]}" --lib --tests "$@" -- "${skips[@]}"
