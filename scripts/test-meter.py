#!/usr/bin/env python3
"""sandbench's test meter: a TEST STAND-IN for a real power meter, never a measurement.

It prints the waveform of an imaginary board: IDLE watts, and BUSY watts while any thread of a
sandbench-agent or of a VMM (QEMU, Firecracker, Cloud Hypervisor: a guest's agent runs inside
it) is running (state R in /proc; with --own, only those under its own sandbench), one line per period with its own Unix
timestamp, in the `command` source's format (docs/ENERGY.md). The integration tests check that
sandbench integrates it to the known answer: BUSY W x the trial's duration for a CPU trial.

    test-meter.py [--idle 4.0] [--busy 9.0] [--period-ms 10] [--poll-ms 2] [--no-timestamps] [--own] [--tag T]
"""
import argparse
import os
import sys
import time

# The agent, and the VMMs a guest's agent runs in (comm is cut at 15 characters).
COMMS = {b"sandbench-agent", b"qemu-system-x86", b"qemu-system-aar", b"firecracker", b"cloud-hyperviso"}


def parent(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def descends_from(pid, root):
    try:
        for _ in range(64):
            if pid == root:
                return True
            if pid <= 1:
                return False
            pid = parent(pid)
    except (OSError, ValueError):
        pass
    return False


def agents(root):
    """Agents and VMMs on the host; with `root`, only those under it (the sandbench that
    started this meter), so that another sandbench's sandboxes are not this board's load."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm", "rb") as f:
                    if f.read().strip() in COMMS and (root is None or descends_from(int(d), root)):
                        pids.append(d)
            except OSError:
                pass
    return pids


def running(pids):
    """Whether any thread of any agent is running or runnable (workloads run in threads)."""
    for p in pids:
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/stat", "rb") as f:
                    stat = f.read()
                # The state follows the parenthesised command name.
                if stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] == b"R":
                    return True
            except (OSError, ValueError):
                pass
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle", type=float, default=4.0)
    ap.add_argument("--busy", type=float, default=9.0)
    ap.add_argument("--period-ms", type=float, default=10.0)
    ap.add_argument("--poll-ms", type=float, default=2.0)
    ap.add_argument("--no-timestamps", action="store_true")
    ap.add_argument("--tag", default="", help="ignored: lets a test find this process")
    ap.add_argument("--own", action="store_true",
                    help="count only agents and VMMs started by this meter's sandbench (tests run in parallel); "
                         "without it, any on the host (a docker or containerd agent is the daemon's child)")
    a = ap.parse_args()
    print(f"# sandbench test meter: a TEST STAND-IN, not a measurement "
          f"({a.idle} W idle, {a.busy} W while an agent or VMM runs)", flush=True)
    pids, rescan, root = [], 0.0, (os.getppid() if a.own else None)
    period, poll = a.period_ms / 1e3, a.poll_ms / 1e3
    next_print = time.monotonic() + period
    busy = polls = 0
    while True:
        now = time.monotonic()
        if now >= rescan:
            pids, rescan = agents(root), now + 0.025
        busy += running(pids)
        polls += 1
        if now >= next_print:
            watts = a.idle + (a.busy - a.idle) * busy / max(polls, 1)
            line = f"{watts:.4f} W" if a.no_timestamps else f"{time.time():.6f} {watts:.4f} W"
            try:
                print(line, flush=True)
            except BrokenPipeError:
                return
            busy = polls = 0
            next_print += period
            if next_print < now:
                next_print = now + period
        time.sleep(poll)


if __name__ == "__main__":
    sys.exit(main())
