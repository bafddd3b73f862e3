# Sourced by the aarch64 scripts (cross-build.sh, test-aarch64.sh): one compiler for the whole
# graph, Debian's rustc 1.96 (its arm64 std; rustup's toolchain cannot link against it), the
# cross C toolchain for the -sys crates, and qemu-user to run what cargo test builds. No `-L` /
# QEMU_LD_PREFIX: with it, the cross loader and the multiarch libc6:arm64 disagree and any
# program that starts a thread hangs.
unset QEMU_LD_PREFIX
export RUSTC=/usr/bin/rustc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
