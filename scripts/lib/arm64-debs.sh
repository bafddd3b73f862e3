# Sourced by the emulated arm64 board's scripts (emulated-board.sh, board-rootfs.sh): Debian's
# arm64 packages, each downloaded once. Needs dpkg's arm64 architecture (cross-build.sh and
# board-rootfs.sh add it) and apt's lists.

# The versioned cloud kernel package apt's lists name (e.g. linux-image-6.1.0-57-cloud-arm64;
# apt qualifies a foreign architecture's dependency with `:arm64`, which is left off).
arm64_kernel_package() {
  apt-cache depends linux-image-cloud-arm64:arm64 | sed -n 's/.*Depends: \(linux-image-[^ :]*\).*/\1/p' | head -1
}

# arm64_deb DIR PACKAGE: prints the path of PACKAGE's arm64 .deb in DIR, downloaded when missing.
arm64_deb() {
  local dir=$1 pkg=$2
  if ! ls "$dir/$pkg"_*_arm64.deb >/dev/null 2>&1; then
    (cd "$dir" && apt-get download "$pkg:arm64" >/dev/null)
  fi
  ls "$dir/$pkg"_*_arm64.deb | head -1
}
