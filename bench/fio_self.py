#!/usr/bin/env python3
"""fio against itself: how far a `validate` check's median wanders on this disk when there is
no difference at all (issue 29).

Runs the fio command line `sandbench validate` uses for a write check (`bs` blocks, O_DIRECT,
psync, one job, a fresh 256 MiB file each run, `--overwrite=1 --end_fsync=1`, time-based) as
both sides of a check: `--rounds` rounds per series, the two sides taking turns at going first
as `validate` does, and prints each series' median of the rounds' ratios (first / second), the
range, and the verdict `validate` would give with its ±10 % rule (with 5 rounds the interval is
the range). Where `validate`'s fio checks come out "undecided" or a median lands outside
0.9–1.1, this shows whether fio does the same against itself.

Usage: bench/fio_self.py [--series N] [--rounds N] [--time S] [--bs 1M] [--dir DIR]
       [--modes seqwr,rndwr]   (DIR must be on a disk, not tmpfs, for O_DIRECT)."""
import argparse, json, os, statistics, subprocess, tempfile

RW = {"seqwr": "write", "rndwr": "randwrite", "seqrd": "read", "rndrd": "randread"}


def fio(mode, bs, secs, path):
    """One fio run as validate runs it (a fresh file every run): MiB/s."""
    if os.path.exists(path):
        os.remove(path)
    args = ["fio", "--name=validate", f"--filename={path}", "--size=256M", f"--bs={bs}",
            f"--rw={RW[mode]}", "--direct=1", "--ioengine=psync", "--numjobs=1", "--time_based",
            f"--runtime={secs}", "--output-format=json", "--randrepeat=0"]
    if mode.endswith("wr"):
        args += ["--end_fsync=1", "--overwrite=1"]
    out = json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)
    side = "write" if mode.endswith("wr") else "read"
    return out["jobs"][0][side]["bw_bytes"] / 2**20


def verdict(lo, hi, rounds):
    if rounds < 5:
        return "undecided"  # fewer than 5 rounds give no 90 % interval, as in validate
    if lo >= 0.9 and hi <= 1.1:
        return "agrees"
    if hi < 0.9 or lo > 1.1:
        return "differs"
    return "undecided"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--time", type=int, default=3)
    ap.add_argument("--bs", default="1M")
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--modes", default="seqwr,rndwr")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbench-fio-self-", dir=a.dir) as d:
        path = os.path.join(d, "fio.dat")
        print(f"fio against itself: {a.bs}, {a.rounds} rounds of {a.time} s per series, ratio first/second")
        outside = total = 0
        for series in range(1, a.series + 1):
            for mode in a.modes.split(","):
                ratios = []
                for r in range(a.rounds):
                    first, second = fio(mode, a.bs, a.time, path), fio(mode, a.bs, a.time, path)
                    # Taking turns at going first, as validate does: the odd rounds swap sides.
                    ratios.append(first / second if r % 2 == 0 else second / first)
                m, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
                outside += not (0.9 <= m <= 1.1)
                total += 1
                print(f"series {series}  {mode} {a.bs}  median {m:.2f}  range {lo:.2f}-{hi:.2f}  "
                      f"{verdict(lo, hi, len(ratios))}  rounds {' '.join(f'{x:.2f}' for x in ratios)}", flush=True)
        print(f"{outside} of {total} medians outside 0.9-1.1")


if __name__ == "__main__":
    main()
