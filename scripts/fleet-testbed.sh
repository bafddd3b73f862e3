#!/usr/bin/env bash
# A fleet on one machine, for tests and demos: N emulated hosts, each
#   - a network namespace `sbfleet-<i>` on a veth link this script creates
#     (host side 10.215.<i>.1/30, the emulated host 10.215.<i>.2/30: private, nothing outside
#     this machine is reachable from it),
#   - its own sshd (Debian's openssh-server) on 10.215.<i>.2:22, accepting only a key made for
#     the testbed,
#   - its own mount namespace with private /var/cache/sandbench, /run/sandbench and /var/tmp,
#     so that hosts share no cache, state or results.
# The inventory (Ansible's YAML) is written to $SANDBENCH_FLEET_TESTBED/inventory.yml
# (examples/fleet.yml is the same for N = 3).
#
# Usage: scripts/fleet-testbed.sh up N | down | stop-ssh HOST | start-ssh HOST | power-cut HOST | status
#   stop-ssh   the host drops off the network: sshd and its sessions stop, its work goes on
#   power-cut  the host loses power: every process of the host is killed (SIGKILL), sshd too
# Needs root (namespaces, links). HOST is host1 … hostN.
set -euo pipefail
D=${SANDBENCH_FLEET_TESTBED:-/run/sandbench-fleet-testbed}
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
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The key the controller logs in with, and the hosts' own host key.
keys() {
  mkdir -p "$D"
  chmod 700 "$D"
  [ -f "$D/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C sandbench-fleet-testbed -f "$D/id_ed25519"
  [ -f "$D/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C sandbench-fleet-host -f "$D/ssh_host_ed25519_key"
}

link_up() {
  local i=$1 ns=sbfleet-$1
  ip netns list | grep -qw "$ns" || ip netns add "$ns"
  if ! ip link show "sbf$i-h" >/dev/null 2>&1; then
    ip link add "sbf$i-h" type veth peer name "sbf$i-g"
    ip link set "sbf$i-g" netns "$ns"
    ip addr add "10.215.$i.1/30" dev "sbf$i-h"
    ip link set "sbf$i-h" up
    ip -n "$ns" addr add "10.215.$i.2/30" dev "sbf$i-g"
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
  alive "$D/$h/sshd.pid" || return 0
  local pid
  pid=$(cat "$D/$h/sshd.pid")
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$D/$h/sshd.pid"
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
    done
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
    keys
    cp "$D/id_ed25519.pub" "$D/authorized_keys"
    for i in $(seq 1 "$n"); do
      mkdir -p "$D/host$i"
      link_up "$i"
      sshd_config "$i"
      start_ssh "$i"
    done
    inventory
    echo "$D/inventory.yml"
    ;;
  down)
    for d in "$D"/host*; do
      [ -d "$d" ] || continue
      i=$(basename "$d")
      i=${i#host}
      stop_ssh "$i"
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
    ;;
  start-ssh) start_ssh "$(host_index "${2:-}")" ;;
  status)
    for d in "$D"/host*; do
      [ -d "$d" ] || continue
      h=$(basename "$d")
      if alive "$d/sshd.pid"; then echo "$h sshd running"; else echo "$h sshd stopped"; fi
    done
    ;;
  *) die "usage: $0 up N | down | stop-ssh HOST | start-ssh HOST | power-cut HOST | status" ;;
esac
