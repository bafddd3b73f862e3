#!/usr/bin/env bash
# The system of an emulated arm64 board that joins the fleet testbed (scripts/fleet-testbed.sh
# up N --arm64-board): Debian bookworm arm64 made by debootstrap (minbase; its second stage runs
# the arm64 maintainer scripts through qemu-user-static and binfmt_misc) with openssh-server,
# python3 (Ansible's modules run on the host), iproute2 and runc; the virtio network modules of
# Debian's arm64 cloud kernel; busybox's init, which brings up the network and keeps sshd
# running. Packed as one initramfs: the board runs from RAM and boots fresh each time.
# A test stand-in for a board, never a measurement of one (TCG emulates every instruction).
#
#   scripts/board-rootfs.sh [--with-qemu]    prints two lines: the kernel, the initramfs
#
# --with-qemu also installs qemu-system-arm on the board, for the `qemu` driver's `virt` guest
# inside the emulated board (TCG inside TCG: tried once, docs/VMMS.md; not a CI test).
#
# Built once (about 4 min here: the second stage runs every arm64 maintainer script under
# qemu-user) and cached under $SANDBENCH_CACHE/arm64-board/fleet-host/, keyed by this script
# and the kernel package. The host's own address, name and keys are not in it: the testbed
# appends them as a second archive at boot. Needs root (debootstrap, binfmt_misc).
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "board-rootfs: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, binfmt_misc)"

cache="${SANDBENCH_CACHE:-/var/cache/sandbench}/arm64-board"
variant=fleet-host
extra=""
case "${1:-}" in
  "") ;;
  --with-qemu) variant=fleet-host-qemu; extra=",qemu-system-arm" ;;
  *) die "unknown option $1; valid: --with-qemu" ;;
esac
out="$cache/$variant"
mkdir -p "$cache/debs" "$cache/debootstrap-debs" "$out"

# What the board is made of: debootstrap, the arm64 emulator for its second stage, and dpkg's
# arm64 architecture for the kernel package (scripts/cross-build.sh adds it too).
missing=()
for p in debootstrap qemu-user-static binfmt-support; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing ${missing[*]}" >&2
  apt-get install -y -q "${missing[@]}" >&2
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -q >&2
fi

# arm64 programs run through qemu-user when the kernel is asked to exec them (the second
# stage's chroot runs arm64 dpkg and maintainer scripts). Registered with the F flag, so the
# emulator works inside the chroot too.
binfmt=/proc/sys/fs/binfmt_misc
[ -f "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt"
if [ ! -f "$binfmt/qemu-aarch64" ]; then
  update-binfmts --enable qemu-aarch64 >&2 || true
  [ -f "$binfmt/qemu-aarch64" ] || grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
fi
grep -q '^flags: .*F' "$binfmt/qemu-aarch64" || die "binfmt_misc's qemu-aarch64 lacks the F flag (update-binfmts --enable qemu-aarch64)"

. scripts/lib/arm64-debs.sh
kpkg=$(arm64_kernel_package)
[ -n "$kpkg" ] || die "no linux-image-cloud-arm64 in apt's lists (apt-get update)"
key=$( (sha256sum "$0" scripts/lib/cpio.py scripts/lib/arm64-debs.sh | cut -d' ' -f1; echo "$kpkg $variant") | sha256sum | cut -c1-16)
if [ -f "$out/$key.stamp" ]; then
  echo "$out/vmlinuz"
  echo "$out/rootfs.cpio.gz"
  exit 0
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/sandbench-board-rootfs.XXXXXX")
trap 'umount -R "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
root="$work/root"
# The kernel, and the modules the board's network needs, in load order (virtio is a module in
# Debian's cloud kernel; ext4 and the cgroup controllers are built in).
dpkg-deb -x "$(arm64_deb "$cache/debs" "$kpkg")" "$work/kernel"

mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
# debootstrap's tree is kept as a tar of its own (keyed by what it was asked for), so that a
# change to the board's configuration below does not run it again.
include=openssh-server,python3,iproute2,runc,busybox-static$extra
base="$cache/debootstrap-$variant-$(echo "bookworm arm64 minbase $include $mirror" | sha256sum | cut -c1-16).tar"
if [ ! -f "$base" ]; then
  echo "==> $(date +%H:%M:%S) debootstrap arm64 bookworm from $mirror (minbase, $include)" >&2
  t0=$SECONDS
  debootstrap --arch=arm64 --variant=minbase --include="$include" \
    --cache-dir="$cache/debootstrap-debs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  echo "==> debootstrap took $((SECONDS - t0)) s" >&2
  rm -f "$cache"/debootstrap-"$variant"-*.tar
  tar -C "$root" -cf "$base.tmp" . && mv "$base.tmp" "$base"
else
  mkdir -p "$root"
  tar -C "$root" -xf "$base"
fi

kver=${kpkg#linux-image-}
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
mkdir -p "$root/lib/board-modules"
for m in $mods; do
  f=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko" | head -1)
  [ -n "$f" ] || die "$kpkg has no $m.ko"
  cp "$f" "$root/lib/board-modules/"
done
echo "$mods" >"$root/lib/board-modules/order"

# The board's start: filesystems, modules, its name and address from the kernel command line
# (sb.hostname=, sb.ip=), then sshd kept running by busybox init.
cat >"$root/etc/board-start" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mkdir -p /run/sshd
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for m in $(cat /lib/board-modules/order); do /bin/busybox insmod /lib/board-modules/$m.ko; done
for w in $(cat /proc/cmdline); do
  case "$w" in
    sb.hostname=*) hostname "${w#sb.hostname=}" ;;
    sb.ip=*) ip=${w#sb.ip=} ;;
  esac
done
ip link set lo up
ip addr add "$ip" dev eth0
ip link set eth0 up
echo "board: $(hostname) at $ip, up at $(cut -d' ' -f1 /proc/uptime) s"
EOF
chmod 755 "$root/etc/board-start"
cat >"$root/etc/inittab" <<'EOF'
::sysinit:/etc/board-start
::respawn:/usr/sbin/sshd -D -e
::ctrlaltdel:/bin/busybox poweroff -f
EOF
# The kernel starts /init in the initramfs, which cannot be pivot_root'ed away from (runc
# needs that: "pivot_root .: invalid argument"): the system moves to a tmpfs first and switches
# to it, as a board's root on its disk would be.
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox mkdir -p /newroot
/bin/busybox mount -t tmpfs -o mode=755 tmpfs /newroot
for d in /*; do
  case "$d" in /newroot|/init) ;; *) /bin/busybox cp -a "$d" /newroot/ ;; esac
done
exec /bin/busybox switch_root /newroot /bin/busybox init
EOF
chmod 755 "$root/init"
# sshd: the testbed's key logs in as root, nothing else does.
cat >"$root/etc/ssh/sshd_config.d/board.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel ERROR
EOF
rm -f "$root"/etc/ssh/ssh_host_*
# What a board in RAM does not need.
# No apt lists: the board is offline, and its sandbench builds guest images from the packages a
# fleet run seeds its cache with (image::debian::kernel_package falls back to the cached one).
rm -rf "$root"/usr/share/{doc,man,info,locale} "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/lib/apt/lists/*
echo "$kpkg" >"$root/etc/board-kernel"

cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
python3 scripts/lib/cpio.py "$root" "$out/rootfs.cpio.gz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/rootfs.cpio.gz.tmp" "$out/rootfs.cpio.gz"
rm -f "$out"/*.stamp
echo "$kpkg, $(du -h "$out/rootfs.cpio.gz" | cut -f1) packed" >"$out/$key.stamp"
echo "==> $(date +%H:%M:%S) the board's system: $(cat "$out/$key.stamp")" >&2
echo "$out/vmlinuz"
echo "$out/rootfs.cpio.gz"
