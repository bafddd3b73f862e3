#!/usr/bin/env python3
"""Report speed: `sandbench report` on 8 environments × 4 workloads × 50 trials with 10 Hz CPU
series (goal: under 2 s), against the papers' way of summarising (a Python script computing mean
and standard deviation per group from the same trials.jsonl), timed in the same run.
Usage: bench/report_speed.py (uses the release build; builds it if needed)."""
import copy, json, os, random, shutil, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/cache/sandbench/target")
SB = os.path.join(TARGET, "release", "sandbench")
FIXTURE = os.path.join(ROOT, "crates", "report", "tests", "fixtures", "quick-run")


def generate(dir, envs=8, workloads=4, trials=50, samples=100):
    manifest = json.load(open(os.path.join(FIXTURE, "manifest.json")))
    template = json.loads(open(os.path.join(FIXTURE, "trials.jsonl")).readline())
    rng = random.Random(1)
    os.makedirs(os.path.join(dir, "samples"))
    env_names = [f"env-{i}" for i in range(envs)]
    wl_names = [f"cpu-{j}" for j in range(workloads)]
    text = "name = \"speed\"\ntrials = %d\nwarmup = 1\n" % trials
    text += "".join(f"[[environment]]\nname = \"{e}\"\ndriver = \"native\"\n" for e in env_names)
    text += "".join(f"[[workload]]\nname = \"{w}\"\nkind = \"cpu\"\n" for w in wl_names)
    manifest.update(run_id="speed", campaign_text=text, campaign_path="speed.toml", plan=[], state="complete")
    json.dump(manifest, open(os.path.join(dir, "manifest.json"), "w"))
    header = "t_ms,cpu_pct,user_pct,system_pct,guest_pct,pss_kib,cgroup_mem_kib,sys_user_pct,sys_system_pct,sys_iowait_pct,sys_irq_pct,sys_softirq_pct,sys_steal_pct,sys_guest_pct,sys_idle_pct\n"
    with open(os.path.join(dir, "trials.jsonl"), "w") as out:
        seq = 0
        for i, e in enumerate(env_names):
            for w in wl_names:
                for idx in range(trials + 1):
                    r = copy.deepcopy(template)
                    r["key"] = {"environment": e, "workload": w, "index": idx}
                    r["dims"].update(environment=e, workload=w, warmup=idx == 0, trial=idx)
                    r["seq"] = seq; seq += 1
                    v = rng.gauss(9000 * (1 - 0.05 * i), 300)
                    r["metrics"]["events_per_s"]["value"] = v
                    r["host_wall_ms"] = 2000 * 9000 / v
                    rel = f"samples/{e}.{w}.{idx:03}.a1.csv"
                    r["host"]["series"] = rel
                    r["launch"]["fresh"] = idx == 0
                    with open(os.path.join(dir, rel), "w") as f:
                        f.write(header)
                        for k in range(samples):
                            f.write(f"{(k + 1) * 100.0},{rng.uniform(150, 200):.2f},180,10,0,900,700,90,5,0,0,0.5,0.1,0,4\n")
                    out.write(json.dumps(r) + "\n")


def python_peer(dir):
    """The papers' summary: mean and sd per environment × workload."""
    groups = {}
    for line in open(os.path.join(dir, "trials.jsonl")):
        r = json.loads(line)
        if r["dims"]["warmup"]:
            continue
        groups.setdefault((r["key"]["environment"], r["key"]["workload"]), []).append(r["metrics"]["events_per_s"]["value"])
    return {k: (statistics.mean(v), statistics.stdev(v)) for k, v in groups.items()}


def timed(f, n=5):
    t = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); t.append(time.perf_counter() - t0)
    return statistics.median(t), t


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "sandbench"], cwd=ROOT, check=True)
    d = tempfile.mkdtemp(prefix="sandbench-report-speed-")
    run = os.path.join(d, "speed")
    generate(run)
    sb, sbt = timed(lambda: subprocess.run([SB, "report", run, "--brief"], check=True, capture_output=True))
    py, pyt = timed(lambda: python_peer(run))
    print("report on 8 environments × 4 workloads × 50 trials (+1 warm-up), 10 Hz series of 10 s")
    print(f"  {'tool':<44} {'median s':>9}   runs")
    print(f"  {'sandbench report (stats, 10k resamples, figures, HTML)':<44} {sb:9.3f}   {', '.join(f'{x:.3f}' for x in sbt)}   goal < 2 s: {'ok' if sb < 2 else 'MISS'}")
    print(f"  {'python mean/sd per group (the papers’ way)':<44} {py:9.3f}   {', '.join(f'{x:.3f}' for x in pyt)}")
    print(f"  ratio sandbench / python: {sb / py:.1f}")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
