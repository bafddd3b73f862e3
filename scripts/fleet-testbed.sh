#!/usr/bin/env bash
# A fleet on one machine, for tests and demos: N emulated hosts, each
#   - a network namespace `sbfleet-<i>` on a veth link this script creates
#     (host side 10.215.<i>.1/30, the emulated host 10.215.<i>.2/30: private, nothing outside
#     this machine is reachable from it),
#   - its own sshd (Debian's openssh-server) on 10.215.<i>.2:22, accepting only a key made for
#     the testbed,
#   - its own mount namespace with private /var/cache/sandbench, /run/sandbench and /var/tmp,
#     so that hosts share no cache, state or results.
# With --arm64-board, host N+1 is an emulated arm64 board (a test stand-in for a Raspberry Pi,
# never a measurement of one): QEMU's `virt` machine with a Cortex-A72 under TCG, running from
# RAM the Debian arm64 system of scripts/board-rootfs.sh, its NIC on a tap bridged to the same
# kind of veth link inside the host's network namespace, the same sshd key and address scheme.
# Its size: SANDBENCH_BOARD_SMP (2) CPUs, SANDBENCH_BOARD_MEM_MIB (2048) MiB; with
# SANDBENCH_BOARD_WITH_QEMU=1 it also has qemu-system-arm (a `virt` guest inside). Its console is
# $SANDBENCH_FLEET_TESTBED/hostN/console.log.
# The inventory (Ansible's YAML) is written to $SANDBENCH_FLEET_TESTBED/inventory.yml
# (examples/fleet.yml is the same for N = 3); the board is in the group `arm64`.
#
# Usage: scripts/fleet-testbed.sh up N [--arm64-board] | down | stop-ssh HOST | start-ssh HOST | power-cut HOST | status
#   stop-ssh   the host drops off the network: sshd and its sessions stop, its work goes on
#              (the board: its link goes down)
#   power-cut  the host loses power: every process of the host is killed (SIGKILL), sshd too
#              (the board: its QEMU)
# Needs root (namespaces, links). HOST is host1 … hostN.
set -euo pipefail
D=${SANDBENCH_FLEET_TESTBED:-/run/sandbench-fleet-testbed}
HERE=$(cd "$(dirname "$0")" && pwd)
MAX=32

die() { echo "fleet-testbed: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (network and mount namespaces)"
command -v /usr/sbin/sshd >/dev/null || die "no /usr/sbin/sshd: apt-get install openssh-server"

host_index() {
  local h=$1
  [[ $h =~ ^host([0-9]+)$ ]] || die "no host \`$h\`: hosts are host1 … host$(count)"
  local i=${BASH_REMATCH[1]}
  [ -d "$D/$h" ] || die "no host \`$h\`: hosts are host1 … host$(count)"
  echo "$i"
}
count() { ls -d "$D"/host* 2>/dev/null | wc -l; }
# A process that has exited but was not reaped yet (a zombie: the daemonized QEMU's parent is
# whatever reaps orphans here) counts as gone.
alive() {
  [ -f "$1" ] || return 1
  local pid state
  pid=$(cat "$1")
  state=$(sed 's/.*) \(.\).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
is_board() { [ -f "$D/host$1/board" ]; }

# The key the controller logs in with, and the hosts' own host key.
keys() {
  mkdir -p "$D"
  chmod 700 "$D"
  [ -f "$D/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sandbench-fleet-testbed -f "$D/id_ed25519"
  [ -f "$D/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C sandbench-fleet-host -f "$D/ssh_host_ed25519_key"
}

# The host's link. An emulated host has 10.215.<i>.2 on the veth's far end; the board has it on
# its own NIC, whose tap is bridged to the veth's far end in the namespace.
link_up() {
  local i=$1 ns=sbfleet-$1
  ip netns list | grep -qw "$ns" || ip netns add "$ns"
  if ! ip link show "sbf$i-h" >/dev/null 2>&1; then
    ip link add "sbf$i-h" type veth peer name "sbf$i-g"
    ip link set "sbf$i-g" netns "$ns"
    ip addr add "10.215.$i.1/30" dev "sbf$i-h"
    ip link set "sbf$i-h" up
    if is_board "$i"; then
      ip -n "$ns" link add sbbr type bridge
      ip -n "$ns" tuntap add sbtap mode tap
      ip -n "$ns" link set "sbf$i-g" master sbbr
      ip -n "$ns" link set sbtap master sbbr
      for l in sbtap sbbr; do ip -n "$ns" link set "$l" up; done
    else
      ip -n "$ns" addr add "10.215.$i.2/30" dev "sbf$i-g"
    fi
    ip -n "$ns" link set "sbf$i-g" up
    ip -n "$ns" link set lo up
  fi
}

sshd_config() {
  local i=$1 h=host$1
  cat >"$D/$h/sshd_config" <<EOF
ListenAddress 10.215.$i.2:22
HostKey $D/ssh_host_ed25519_key
PidFile $D/$h/sshd.pid
AuthorizedKeysFile $D/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
}

# sshd in the host's network namespace and in a mount namespace of its own, where the host's
# private directories are bound over the paths sandbench keeps state in.
start_ssh() {
  local i=$1 h=host$1
  if is_board "$i"; then
    alive "$D/$h/qemu.pid" || board_boot "$i"
    ip -n "sbfleet-$i" link set sbtap up
    board_wait "$i"
    return 0
  fi
  alive "$D/$h/sshd.pid" && return 0
  mkdir -p "$D/$h"/{cache,run,vartmp}
  chmod 1777 "$D/$h/vartmp"
  mkdir -p /run/sshd /var/cache/sandbench /run/sandbench
  # nsenter, not `ip netns exec`: the latter mounts a fresh /sys, hiding /sys/fs/cgroup.
  nsenter --net="/run/netns/sbfleet-$i" unshare --mount --uts --propagation private sh -c "
    hostname $h &&
    mount --bind '$D/$h/cache' /var/cache/sandbench &&
    mount --bind '$D/$h/run' /run/sandbench &&
    mount --bind '$D/$h/vartmp' /var/tmp &&
    exec /usr/sbin/sshd -f '$D/$h/sshd_config' -E '$D/$h/sshd.log'"
  for _ in $(seq 1 50); do alive "$D/$h/sshd.pid" && return 0; sleep 0.1; done
  die "$h: sshd did not start; see $D/$h/sshd.log"
}

# Stops the host's sshd and every SSH session through it (what a host that drops off the
# network looks like to the controller); what those sessions started in the background runs on.
stop_ssh() {
  local h=host$1
  if is_board "$1"; then
    ip -n "sbfleet-$1" link set sbtap down 2>/dev/null || true
    return 0
  fi
  alive "$D/$h/sshd.pid" || return 0
  local pid
  pid=$(cat "$D/$h/sshd.pid")
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$D/$h/sshd.pid"
}

# Boots the board: the system of scripts/board-rootfs.sh, and a second archive with this
# testbed's keys; QEMU runs in the host's network namespace (so power-cut finds it there).
board_boot() {
  local i=$1 h=host$1
  local sys
  local variant=()
  [ "${SANDBENCH_BOARD_WITH_QEMU:-0}" = 1 ] && variant=(--with-qemu)
  mapfile -t sys < <("$HERE/board-rootfs.sh" "${variant[@]}")
  [ "${#sys[@]}" = 2 ] || die "$h: scripts/board-rootfs.sh made no system"
  local own="$D/$h/own"
  rm -rf "$own"
  mkdir -p "$own/etc/ssh" "$own/root/.ssh"
  cp "$D/ssh_host_ed25519_key" "$D/ssh_host_ed25519_key.pub" "$own/etc/ssh/"
  cp "$D/authorized_keys" "$own/root/.ssh/authorized_keys"
  chmod 700 "$own/root" "$own/root/.ssh"
  python3 "$HERE/lib/cpio.py" "$own" "$D/$h/own.cpio.gz"
  cat "${sys[1]}" "$D/$h/own.cpio.gz" >"$D/$h/initrd.gz"
  : >"$D/$h/console.log"
  nsenter --net="/run/netns/sbfleet-$i" qemu-system-aarch64 -M virt -cpu cortex-a72 \
    -smp "${SANDBENCH_BOARD_SMP:-2}" -m "${SANDBENCH_BOARD_MEM_MIB:-2048}" -accel tcg \
    -display none -no-reboot -daemonize -pidfile "$D/$h/qemu.pid" -serial "file:$D/$h/console.log" \
    -kernel "${sys[0]}" -initrd "$D/$h/initrd.gz" \
    -append "console=ttyAMA0 panic=-1 quiet sb.hostname=$h sb.ip=10.215.$i.2/30" \
    -netdev tap,id=n0,ifname=sbtap,script=no,downscript=no -device virtio-net-pci,netdev=n0 ||
    die "$h: QEMU did not start"
}

# Waits for the board's sshd (TCG: tens of seconds).
board_wait() {
  local i=$1 h=host$1 t0=$SECONDS
  while ((SECONDS - t0 < 300)); do
    alive "$D/$h/qemu.pid" || die "$h: the board's QEMU exited; console: $D/$h/console.log"
    if timeout 2 bash -c "exec 3<>/dev/tcp/10.215.$i.2/22" 2>/dev/null; then
      echo "fleet-testbed: $h (arm64 board) answers ssh after $((SECONDS - t0)) s" >&2
      return 0
    fi
    sleep 1
  done
  tail -20 "$D/$h/console.log" >&2
  die "$h: the board's sshd did not answer in 300 s; console (end above): $D/$h/console.log"
}

inventory() {
  {
    echo "# The fleet testbed's hosts (scripts/fleet-testbed.sh), in Ansible's YAML inventory format."
    echo "all:"
    echo "  vars:"
    echo "    ansible_user: root"
    echo "    ansible_ssh_private_key_file: $D/id_ed25519"
    echo "    ansible_ssh_common_args: -o UserKnownHostsFile=$D/known_hosts -o StrictHostKeyChecking=yes"
    echo "  hosts:"
    for d in "$D"/host*; do
      local h i
      h=$(basename "$d")
      i=${h#host}
      echo "    $h:"
      echo "      ansible_host: 10.215.$i.2"
      if is_board "$i"; then echo "      ansible_python_interpreter: /usr/bin/python3"; fi
    done
    local boards
    boards=$(for d in "$D"/host*; do [ -f "$d/board" ] && basename "$d"; done || true)
    if [ -n "$boards" ]; then
      echo "  children:"
      echo "    arm64:"
      echo "      hosts:"
      for b in $boards; do echo "        $b:"; done
    fi
  } >"$D/inventory.yml"
  : >"$D/known_hosts"
  for d in "$D"/host*; do
    local i
    i=$(basename "$d")
    i=${i#host}
    echo "10.215.$i.2 $(cut -d' ' -f1,2 "$D/ssh_host_ed25519_key.pub")" >>"$D/known_hosts"
  done
}

case "${1:-}" in
  up)
    n=${2:-}
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le $MAX ] || die "up N: N is a number from 1 to $MAX"
    board=0
    case "${3:-}" in
      "") ;;
      --arm64-board) board=1 ;;
      *) die "up N: unknown option ${3}; valid: --arm64-board" ;;
    esac
    keys
    cp "$D/id_ed25519.pub" "$D/authorized_keys"
    for i in $(seq 1 "$n"); do
      mkdir -p "$D/host$i"
      link_up "$i"
      sshd_config "$i"
      start_ssh "$i"
    done
    if ((board)); then
      b=$((n + 1))
      mkdir -p "$D/host$b"
      touch "$D/host$b/board"
      link_up "$b"
      start_ssh "$b"
    fi
    inventory
    echo "$D/inventory.yml"
    ;;
  down)
    for d in "$D"/host*; do
      [ -d "$d" ] || continue
      i=$(basename "$d")
      i=${i#host}
      stop_ssh "$i"
      if is_board "$i" && alive "$d/qemu.pid"; then kill -9 "$(cat "$d/qemu.pid")" 2>/dev/null || true; fi
      ip link del "sbf$i-h" 2>/dev/null || true
      ip netns del "sbfleet-$i" 2>/dev/null || true
    done
    rm -rf "$D"
    ;;
  stop-ssh) stop_ssh "$(host_index "${2:-}")" ;;
  power-cut)
    i=$(host_index "${2:-}")
    stop_ssh "$i"
    # Every process of the host is in its network namespace.
    pids=$(ip netns pids "sbfleet-$i" 2>/dev/null || true)
    [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
    # Gone before this returns (a start-ssh right after boots the board again).
    for _ in $(seq 1 50); do [ -z "$(ip netns pids "sbfleet-$i" 2>/dev/null)" ] && break; sleep 0.1; done
    ;;
  start-ssh) start_ssh "$(host_index "${2:-}")" ;;
  status)
    for d in "$D"/host*; do
      [ -d "$d" ] || continue
      h=$(basename "$d")
      if [ -f "$d/board" ]; then
        if alive "$d/qemu.pid"; then echo "$h arm64 board running"; else echo "$h arm64 board off"; fi
      elif alive "$d/sshd.pid"; then echo "$h sshd running"; else echo "$h sshd stopped"; fi
    done
    ;;
  *) die "usage: $0 up N | down | stop-ssh HOST | start-ssh HOST | power-cut HOST | status" ;;
esac
