#!/usr/bin/env bash
# Starts or stops the containerd and Docker daemons the docker and containerd drivers use,
# with sandbench's own state directories and sockets (no systemd needed):
#   containerd  /run/sandbench/containerd/containerd.sock
#   dockerd     /run/sandbench/docker.sock  (no iptables, no bridge: containers get --network none)
# Usage: scripts/daemons.sh start|stop|status
set -euo pipefail
RUN=/run/sandbench
LIB=/var/lib/sandbench
CSOCK=$RUN/containerd/containerd.sock
DSOCK=$RUN/docker.sock
wait_for() { for _ in $(seq 1 150); do [ -S "$1" ] && return 0; sleep 0.2; done; echo "daemons: $1 did not appear; see $2" >&2; return 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
case "${1:-}" in
  start)
    mkdir -p "$RUN/containerd" "$LIB"
    if ! alive "$RUN/containerd.pid"; then
      rm -f "$CSOCK"
      containerd --root "$LIB/containerd" --state "$RUN/containerd/state" --address "$CSOCK" >"$RUN/containerd.log" 2>&1 &
      echo $! >"$RUN/containerd.pid"
      wait_for "$CSOCK" "$RUN/containerd.log"
    fi
    if ! alive "$RUN/docker.pid"; then
      rm -f "$DSOCK"
      dockerd --data-root "$LIB/docker" --exec-root "$RUN/docker" -H "unix://$DSOCK" --pidfile "$RUN/docker.pid" \
        --containerd "$CSOCK" --iptables=false --ip-masq=false --bridge=none >"$RUN/dockerd.log" 2>&1 &
      wait_for "$DSOCK" "$RUN/dockerd.log"
      for _ in $(seq 1 100); do docker -H "unix://$DSOCK" version >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    echo "containerd: $CSOCK"
    echo "dockerd:    $DSOCK"
    ;;
  stop)
    for p in docker containerd; do
      if alive "$RUN/$p.pid"; then
        pid=$(cat "$RUN/$p.pid"); kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$RUN/$p.pid"
    done
    ;;
  status)
    alive "$RUN/containerd.pid" && echo "containerd running" || echo "containerd stopped"
    alive "$RUN/docker.pid" && echo "dockerd running" || echo "dockerd stopped"
    ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
