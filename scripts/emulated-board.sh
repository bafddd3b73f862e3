#!/usr/bin/env bash
# An emulated arm64 board: QEMU's `virt` machine with a Cortex-A72 (a Raspberry Pi 4's core)
# under TCG, Debian's arm64 cloud kernel, and an initramfs holding arm64 busybox, the
# cross-built aarch64 `sandbench` with its glibc libraries and the static agent. Its /init runs
# `sandbench doctor --quick` and a small campaign natively on the board (cpu and noop; with
# --engines also classify with tract, answers checked by --verify; the `native` driver with its
# cgroup limits), prints the report and powers off. Prints the
# console and, at the end, the times: kernel to /init, doctor, campaign.
#
#   scripts/emulated-board.sh [--binaries DIR] [--engines] [--smp N] [--mem MIB] [--campaign FILE]
#
# DIR holds the aarch64 `sandbench` and `sandbench-agent` (default: scripts/cross-build.sh's
# dist/aarch64, built when missing). `--engines` also takes `sandbench-agent-dynamic` (from
# `scripts/cross-build.sh --engines`) with its libraries and MobileNetV2 with two photos from
# the asset cache, and the campaign adds classify with tract. A test stand-in for a board, never a measurement of one:
# TCG emulates every instruction, so its numbers say nothing about a Pi's speed.
# What it is not (yet): a board with its own root filesystem, sshd and a place in the fleet
# testbed, or one that runs runc or a `virt` guest inside (docs/VMMS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bins=""
smp=2
mem=1024
campaign=""
engines=0
while (($#)); do
  case "$1" in
    --binaries) bins="$2"; shift ;;
    --engines) engines=1 ;;
    --smp) smp="$2"; shift ;;
    --mem) mem="$2"; shift ;;
    --campaign) campaign="$2"; shift ;;
    *) echo "emulated-board: unknown option $1; valid: --binaries DIR, --engines, --smp N, --mem MIB, --campaign FILE" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$bins" ]; then
  if ((engines)); then bins=$(scripts/cross-build.sh --engines); else bins=$(scripts/cross-build.sh); fi
fi
for f in sandbench sandbench-agent; do
  [ -x "$bins/$f" ] || { echo "emulated-board: $bins/$f not found (scripts/cross-build.sh builds it)" >&2; exit 1; }
done
command -v qemu-system-aarch64 >/dev/null || { echo "emulated-board: qemu-system-aarch64 not found (apt-get install qemu-system-arm)" >&2; exit 1; }

cache="${SANDBENCH_CACHE:-/var/cache/sandbench}/arm64-board"
mkdir -p "$cache/debs"
work=$(mktemp -d "${TMPDIR:-/tmp}/sandbench-board.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Debian's arm64 cloud kernel and busybox, downloaded once (dpkg's arm64 architecture is
# added by scripts/cross-build.sh).
. scripts/lib/arm64-debs.sh
kpkg=$(arm64_kernel_package)
[ -n "$kpkg" ] || { echo "emulated-board: no linux-image-cloud-arm64 in apt's lists (dpkg --add-architecture arm64 && apt-get update)" >&2; exit 1; }
dpkg-deb -x "$(arm64_deb "$cache/debs" "$kpkg")" "$work/kernel"
dpkg-deb -x "$(arm64_deb "$cache/debs" busybox-static)" "$work/busybox"
kernel=$(ls "$work"/kernel/boot/vmlinuz-*)

# The initramfs tree.
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,opt/sandbench,results,lib/aarch64-linux-gnu,var/tmp,etc}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
cp "$bins/sandbench" "$bins/sandbench-agent" "$root/opt/sandbench/"
libs=(ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libgcc_s.so.1)
if ((engines)); then
  [ -x "$bins/sandbench-agent-dynamic" ] || { echo "emulated-board: $bins/sandbench-agent-dynamic not found (scripts/cross-build.sh --engines)" >&2; exit 1; }
  cp "$bins/sandbench-agent-dynamic" "$root/opt/sandbench/"
  mapfile -t -O "${#libs[@]}" libs < <(aarch64-linux-gnu-readelf -d "$bins/sandbench-agent-dynamic" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
  # MobileNetV2, its labels and two photos, verified copies from the asset cache (no network
  # on the board): `sandbench assets fetch` puts them there.
  assets="${SANDBENCH_ASSETS_CACHE:-${SANDBENCH_CACHE:-/var/cache/sandbench}/assets}"
  for f in models/mobilenet_v2.onnx models/imagenet_classes.txt inputs/coffee.png inputs/chelsea.png; do
    [ -f "$assets/tree/$f" ] || { echo "emulated-board: $assets/tree/$f not in the asset cache (sandbench assets fetch)" >&2; exit 1; }
    mkdir -p "$root/opt/assets/tree/$(dirname "$f")" "$root/opt/assets/sums/$(dirname "$f")"
    cp "$assets/tree/$f" "$root/opt/assets/tree/$f"
    cp "$assets/sums/$f.sha256" "$root/opt/assets/sums/$f.sha256"
  done
fi
for lib in $(printf '%s\n' "${libs[@]}" | sort -u); do
  src=/usr/lib/aarch64-linux-gnu/$lib
  [ -e "$src" ] || src=/usr/aarch64-linux-gnu/lib/$lib
  cp -L "$src" "$root/lib/aarch64-linux-gnu/$lib"
done
ln -s aarch64-linux-gnu/ld-linux-aarch64.so.1 "$root/lib/ld-linux-aarch64.so.1"
if [ -n "$campaign" ]; then
  cp "$campaign" "$root/opt/campaign.toml"
else
  cat >"$root/opt/campaign.toml" <<'EOF'
name = "board"
trials = 3
warmup = 1
[timeouts]
trial_s = 300
[[environment]]
name = "native"
driver = "native"
vcpus = 2
memory_mib = 512
[[workload]]
name = "cpu"
kind = "cpu"
params = { threads = 1, events = 100 }
[[workload]]
name = "noop"
kind = "noop"
EOF
  if ((engines)); then
    printf '[[workload]]\nname = "classify"\nkind = "classify"\nparams = { engine = "tract", threads = 2, inputs = ["coffee.png", "chelsea.png"] }\n' >>"$root/opt/campaign.toml"
  fi
fi
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/opt/sandbench HOME=/tmp SANDBENCH_ASSETS_CACHE=/opt/assets
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "board: init at $(cut -d' ' -f1 /proc/uptime) s"
echo "board: $(uname -m), $(grep -c ^processor /proc/cpuinfo) CPUs, CPU part $(sed -n 's/^CPU part[^:]*: //p' /proc/cpuinfo | head -1)"
echo "board: doctor"
sandbench doctor --quick
echo "board: doctor done at $(cut -d' ' -f1 /proc/uptime) s"
sandbench run /opt/campaign.toml --out /results --quiet --verify
echo "board: campaign exit $? at $(cut -d' ' -f1 /proc/uptime) s"
for r in /results/*/; do
  cat "$r/report.md"
  echo "board: manifest host: $(grep -o '"arch": *"[^"]*"' "$r/manifest.json")"
done
echo "board: done"
poweroff -f
EOF
chmod 755 "$root/init" "$root/bin/busybox"

# newc cpio, gzip'd (scripts/lib/cpio.py: no cpio program is needed).
python3 scripts/lib/cpio.py "$root" "$work/initrd.gz"

echo "==> $(date +%H:%M:%S) booting the emulated board: qemu-system-aarch64 -M virt -cpu cortex-a72 -smp $smp -m $mem (TCG), kernel $kpkg" >&2
t0=$SECONDS
timeout 1200 qemu-system-aarch64 -M virt -cpu cortex-a72 -smp "$smp" -m "$mem" -accel tcg \
  -nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd.gz" \
  -append "console=ttyAMA0 panic=-1 quiet" | tee "$work/console.log"
echo "==> $(date +%H:%M:%S) the board powered off after $((SECONDS - t0)) s" >&2
grep -q "^board: done" "$work/console.log" || { echo "emulated-board: the board did not finish" >&2; exit 1; }
