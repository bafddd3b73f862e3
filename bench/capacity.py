#!/usr/bin/env python3
"""Capacity benchmark (issue 25): prints, from real runs on this host, each against a peer
measured in the same run:
  1. launching 8 runc sandboxes for one capacity step (parallel_launches = 8, launch → agent
     ready) against 8 containers started by a shell loop of `runc run -d` (start only), and
     against sandbench's own single launch (is the step serialised?);
  2. the host sampler's CPU with 16 sandboxes sampled at once (goal < 1 % of one core);
  3. the query generator's cost: a cpu event's latency as a single_stream query against the
     same event in the bare cpu loop (goal < 1 % more), and a noop query's absolute latency.
Usage: bench/capacity.py  (root; after scripts/setup.sh; uses the release build)."""
import glob, json, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from overhead import ROOT, SB, sh, runc_bundle  # noqa: E402

CAMPAIGN = """name = "{name}"
trials = {trials}
warmup = 0
{capacity}
[timeouts]
trial_s = 120
boot_s = 120
[[environment]]
name = "{env}"
driver = "{driver}"
{extra}
[[workload]]
name = "w"
kind = "{kind}"
params = {params}
"""


def run(out, name, env, driver, kind, params, capacity="", trials=1, extra=""):
    d = os.path.join(out, name)
    os.makedirs(d)
    c = os.path.join(d, "c.toml")
    open(c, "w").write(CAMPAIGN.format(name=name, trials=trials, capacity=capacity, env=env, driver=driver,
                                       extra=extra, kind=kind, params=params))
    sh(SB, "run", "--quiet", "--out", os.path.join(d, "r"), c)
    run_dir = glob.glob(os.path.join(d, "r", "*"))[0]
    trials_ = [json.loads(l) for l in open(os.path.join(run_dir, "trials.jsonl"))]
    cap = os.path.join(run_dir, "capacity.jsonl")
    steps = [json.loads(l) for l in open(cap)] if os.path.exists(cap) else []
    return trials_, [s for s in steps if s["line"] == "step"]


def shell_loop_runc(rootfs, n=8):
    """8 containers by a shell loop of `runc run -d`, as a script would start them."""
    d = runc_bundle(rootfs, ["/sandbench/sandbench-agent", "--version"])
    state = os.path.join(d, "state")
    ids = " ".join(f"sbcap{os.getpid()}-{i}" for i in range(n))
    t0 = time.perf_counter()
    subprocess.run(["sh", "-c", f"for i in {ids}; do runc --root {state} run -d --bundle {d} $i >/dev/null; done"],
                   check=True, stdin=subprocess.DEVNULL)
    wall = (time.perf_counter() - t0) * 1e3
    for i in ids.split():
        subprocess.run(["runc", "--root", state, "delete", "--force", i], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)
    return wall


def main():
    sh("cargo", "build", "--release", "--quiet", "--workspace", cwd=ROOT)
    out = tempfile.mkdtemp(prefix="sandbench-bench-capacity-")
    print(f"host: {os.cpu_count()} cores, {open('/proc/sys/kernel/osrelease').read().strip()}\n")

    idle = '{ scenario = "idle", duration_s = 3 }'
    cap8 = "[capacity]\nstreams = [1, 8]\nsla = { p90_ms = 1000 }\nsettle_s = 0\nparallel_launches = 8\n"
    _, steps = run(out, "launch8", "runc", "oci", "noop", idle, cap8, extra='runtime = "runc"\nmemory_mib = 256')
    one = steps[0]["launch_ms"][0]
    # Step 8 keeps step 1's sandbox and launches 7: scale its wall to 8 by the one launch.
    wall8 = steps[1]["launch_wall_ms"] + one
    img = json.loads(sh(SB, "image", "build", "--json").stdout)
    loop = shell_loop_runc(img["rootfs_dir"])
    print("1. eight runc sandboxes (launch → agent ready) against a shell loop of `runc run -d` (start only), ms")
    print(f"   sandbench, one step of 8 (parallel_launches = 8): {wall8:8.1f}   one launch alone: {one:7.1f}"
          f"   8 × one: {8 * one:8.1f}   parallel speed-up {8 * one / wall8:4.2f}×")
    print(f"   peer: shell loop of 8 × `runc run -d`:          {loop:8.1f}   ratio sandbench / loop {wall8 / loop:5.2f}")

    cap16 = "[capacity]\nstreams = [16]\nsla = { p90_ms = 1000 }\nsettle_s = 0\nparallel_launches = 8\n"
    trials, _ = run(out, "sampler16", "native", "native", "noop", '{ scenario = "idle", duration_s = 10 }', cap16)
    cpu_ms = sum(t["host"]["sampler_cpu_ms"] for t in trials if t.get("host"))
    wall = max(t["host_wall_ms"] for t in trials)
    pct = cpu_ms / wall * 100
    print(f"\n2. host sampler's CPU with 16 sandboxes (a step of 16 samples each every 8 × 100 ms): {pct:.3f} % of one core "
          f"({len(trials)} samplers, {cpu_ms:.1f} ms over {wall / 1e3:.1f} s; goal < 1 %: {'ok' if pct < 1 else 'MISS'})")

    ss, _ = run(out, "generator", "native", "native", "cpu",
                '{ scenario = "single_stream", duration_s = 5, max_prime = 10000 }', trials=3)
    bare, _ = run(out, "bare", "native", "native", "cpu", '{ threads = 1, time_s = 5, max_prime = 10000 }', trials=3)
    noop, _ = run(out, "noopgen", "native", "native", "noop", '{ scenario = "single_stream", duration_s = 2 }')
    g = statistics.median(t["metrics"]["latency_avg"]["value"] for t in ss)
    b = statistics.median(t["metrics"]["latency_avg"]["value"] for t in bare)
    n_us = noop[0]["metrics"]["latency_avg"]["value"] * 1e3
    print(f"\n3. a sysbench cpu event (max_prime 10000): as a single_stream query {g:.4f} ms, in the bare cpu loop "
          f"{b:.4f} ms; ratio {g / b:.4f} (goal < 1.01: {'ok' if g / b < 1.01 else 'MISS'})")
    print(f"   a noop query through the generator: {n_us:.3f} µs mean ({noop[0]['metrics']['queries']['value']:.0f} queries in 2 s)")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
