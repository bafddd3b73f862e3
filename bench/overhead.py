#!/usr/bin/env python3
"""Harness benchmark: prints, from real runs on this host,
  1. warm noop round trip per environment (goal: < 5 ms native/runc, < 20 ms over a serial console),
     against the per-trial cost of the way the papers' scripts worked (fork+exec / `runc exec`);
  2. the host sampler's own CPU at 10 Hz (goal: < 1 % of one core) against `top -d 0.1`;
  3. cold start per environment against the bare runtime/VMM started by hand.
Usage: bench/overhead.py  (after scripts/setup.sh; uses the release build)."""
import json, os, statistics, subprocess, sys, tempfile, time, glob, shutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/cache/sandbench/target")
SB = os.path.join(TARGET, "release", "sandbench")


def sh(*a, **kw):
    return subprocess.run(a, check=True, capture_output=True, text=True, **kw)


def run_campaign(name, out):
    out = os.path.join(out, name)
    sh(SB, "run", "--quiet", "--agent", AGENT, "--out", out, os.path.join(ROOT, "bench", name))
    run = glob.glob(os.path.join(out, "*"))[0]
    return [json.loads(l) for l in open(os.path.join(run, "trials.jsonl"))]


def ms(xs):
    return f"{statistics.mean(xs):8.2f} ± {statistics.stdev(xs) if len(xs) > 1 else 0:6.2f}"


def proc_cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def peer_fork_exec(n=50):
    t = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"])
        t.append((time.perf_counter() - t0) * 1e3)
    return t


def runc_bundle(rootfs, args):
    """A minimal OCI bundle over the guest image's rootfs running `args` (a fresh temp dir)."""
    d = tempfile.mkdtemp()
    cfg = {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/", "env": ["PATH=/bin"]},
        "root": {"path": rootfs, "readonly": True},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]},
    }
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"))
    return d


def peer_runc_exec(rootfs, n=20):
    """What a script harness pays per trial in a container: `runc exec` of a command."""
    d = runc_bundle(rootfs, ["/sandbench/sandbench-agent"])
    state = os.path.join(d, "state")
    cid = f"sbbench{os.getpid()}"
    p = subprocess.Popen(["runc", "--root", state, "run", "--bundle", d, cid], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    p.stdout.readline()  # ready line
    t = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            sh("runc", "--root", state, "exec", cid, "/sandbench/sandbench-agent", "--version")
            t.append((time.perf_counter() - t0) * 1e3)
    finally:
        subprocess.run(["runc", "--root", state, "delete", "--force", cid], capture_output=True)
        p.kill(); p.wait(); shutil.rmtree(d, ignore_errors=True)
    return t


def peer_top(seconds=10):
    """The papers' method: `top -b -d 0.1 -p PID` piped to a file; its own CPU per second."""
    spin = subprocess.Popen(["sleep", str(seconds + 5)])
    top = subprocess.Popen(["top", "-b", "-d", "0.1", "-p", str(spin.pid)], stdout=subprocess.DEVNULL)
    time.sleep(seconds)
    cpu = proc_cpu_s(top.pid)
    top.kill(); spin.kill(); top.wait(); spin.wait()
    return cpu / seconds * 100


def peer_runc_start(rootfs, n=5):
    d = runc_bundle(rootfs, ["/sandbench/sandbench-agent", "--version"])
    t = []
    for i in range(n):
        t0 = time.perf_counter()
        sh("runc", "--root", os.path.join(d, "s"), "run", "--bundle", d, f"sbbench{os.getpid()}-{i}")
        t.append((time.perf_counter() - t0) * 1e3)
    shutil.rmtree(d, ignore_errors=True)
    return t


def main():
    global AGENT
    sh("cargo", "build", "--release", "--quiet", "-p", "sandbench", cwd=ROOT)
    AGENT = sh(os.path.join(ROOT, "scripts", "build-agent.sh"), cwd=ROOT).stdout.strip()
    img = json.loads(sh(SB, "image", "build", "--agent", AGENT, "--json").stdout)
    out = tempfile.mkdtemp(prefix="sandbench-bench-")
    print(f"host: {os.cpu_count()} cores, {open('/proc/sys/kernel/osrelease').read().strip()}\n")

    noop = run_campaign("noop-warm.toml", out)
    print("1. warm noop round trip (run → result), ms, 50 trials after 3 warm-ups")
    print(f"   {'environment':<14} {'sandbench':>18} {'goal':>8}   peer (a script's per-trial cost)        ratio")
    peers = {"native": ("fork+exec /bin/true", peer_fork_exec()), "runc": ("runc exec agent --version", peer_runc_exec(img["rootfs_dir"]))}
    for env in ["native", "runc", "qemu-microvm"]:
        xs = [r["host_wall_ms"] for r in noop if r["key"]["environment"] == env and r["status"] == "ok" and not r["dims"]["warmup"]]
        goal = 20 if env.startswith("qemu") else 5
        name, p = peers.get(env, ("–", None))
        ratio = f"{statistics.mean(xs) / statistics.mean(p):6.3f}" if p else "     –"
        verdict = "ok " if statistics.mean(xs) < goal else "MISS"
        accel = next((r["dims"].get("accel") for r in noop if r["key"]["environment"] == env and r["dims"].get("accel")), None)
        label = f"{env} ({accel})" if accel else env
        peer = f"{name}: {ms(p)}" if p else "–"
        print(f"   {label:<14} {ms(xs):>18} {'<' + str(goal):>6} {verdict}  {peer:<40} {ratio}")

    samp = run_campaign("sampler.toml", out)
    costs = [r["host"]["sampler_cpu_ms"] / r["host_wall_ms"] * 100 for r in samp if r["status"] == "ok"]
    top = peer_top()
    print("\n2. host sampler's own CPU at 10 Hz (% of one core; 2-thread cpu workload sampled natively)")
    print(f"   sandbench sampler {statistics.mean(costs):.3f} %  (goal < 1 %: {'ok' if statistics.mean(costs) < 1 else 'MISS'})"
          f"   peer top -b -d 0.1 -p PID: {top:.3f} %   ratio {statistics.mean(costs) / top if top else float('nan'):.3f}")

    cold = run_campaign("cold.toml", out)
    print("\n3. cold start, launch → agent ready, ms (5 fresh sandboxes each)")
    bare = peer_runc_start(img["rootfs_dir"])
    for env in ["native", "runc", "qemu-microvm", "qemu-q35"]:
        rs = [r for r in cold if r["key"]["environment"] == env and r["status"] == "ok" and not r["dims"]["warmup"]]
        xs = [r["launch"]["boot"]["total_ms"] for r in rs]
        split = rs[0]["launch"]["boot"] if rs else {}
        extra = ""
        if split.get("guest_uptime_at_ready_ms"):
            k = [r["launch"]["boot"]["guest_uptime_at_init_ms"] for r in rs]
            extra = f"  (kernel to init {statistics.mean(k):.0f} ms, accel {rs[0]['dims'].get('accel')})"
        peer = f"   peer bare `runc run agent --version`: {ms(bare)}  ratio {statistics.mean(xs) / statistics.mean(bare):.2f}" if env == "runc" else ""
        print(f"   {env:<14} {ms(xs)}{extra}{peer}")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
