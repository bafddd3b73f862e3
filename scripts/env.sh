# Sourced by the scripts: the shared target directory and the paths of the built binaries.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/sandbench/target}"
SANDBENCH_BIN="$CARGO_TARGET_DIR/release/sandbench"
