#!/usr/bin/env python3
"""System-workload benchmark: sandbench's own workloads next to the reference tools, natively,
in the same run, with the same parameters, and the ratio of the two.

- `fileio` vs fio (Debian): sequential and random, read and write, 4 KiB and 1 MiB blocks,
  O_DIRECT, one thread, pread/pwrite (fio's psync engine), a 256 MiB file written in full before
  timing (fio `--overwrite=1`), time-based runs; writes end with an fsync in both. Compared:
  MiB/s.
- `cpu` vs `sysbench cpu`: the same prime test (max prime 10000), 1 and 2 threads. Compared:
  events/s.
- `net` stream vs iperf3 (Debian) over the same kind of path: a veth pair into a network
  namespace, the client inside, the server on the host end. iperf3's link is made by this
  script, sandbench's by its native driver (`try net`), both 10.213.0.0/16 /30s. `-l` is the
  message size, one stream, no zero-copy. Compared: Mb/s. Needs root.

Goal (issue 4): within +-10 % of each reference, or an explanation that holds up. Each pair runs
back to back, in alternating order, `--rounds` times; the median of each side is compared.
Usage: bench/io.py [--rounds N] [--time S] [--dir DIR] [--only fileio,cpu,net]   (after scripts/setup.sh; root not needed
for these, but DIR must be on a disk, not tmpfs, for O_DIRECT)."""
import json, os, re, shutil, statistics, subprocess, sys, tempfile, time

TARGET = os.environ.get("CARGO_TARGET_DIR", "/var/cache/sandbench/target")
SB = os.path.join(TARGET, "release", "sandbench")


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


ROUNDS, TIME, BASE = arg("--rounds", 3), arg("--time", 5.0), arg("--dir", "/var/tmp")
ONLY = arg("--only", "fileio,cpu,net").split(",")
FIO_RW = {"seqrd": "read", "seqwr": "write", "rndrd": "randread", "rndwr": "randwrite"}


def sandbench(kind, params):
    args = [SB, "try", kind, "--json"]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["metrics"]


def fio(mode, bs, d):
    args = ["fio", "--name=bench", f"--filename={os.path.join(d, 'fio.dat')}", "--size=256M", f"--bs={bs}",
            f"--rw={FIO_RW[mode]}", "--direct=1", "--ioengine=psync", "--numjobs=1", "--time_based",
            f"--runtime={TIME}", "--output-format=json", "--randrepeat=0"]
    if mode.endswith("wr"):
        # Like sysbench's prepare and sandbench's, write the file in full before timing, so
        # both overwrite allocated blocks (fio would otherwise write into fallocated, unwritten
        # extents, which costs an extent conversion per write).
        args += ["--end_fsync=1", "--overwrite=1"]
    job = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)["jobs"][0]
    side = job["write"] if mode.endswith("wr") else job["read"]
    return side["bw_bytes"] / 2**20


def sysbench_cpu(threads):
    out = subprocess.run(["sysbench", "cpu", f"--threads={threads}", "--cpu-max-prime=10000", f"--time={TIME:g}", "run"],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"events per second:\s*([\d.]+)", out).group(1))


def iperf3(msg_size, ns, server_ip):
    out = subprocess.run(["ip", "netns", "exec", ns, "iperf3", "-c", server_ip, "-J", "-t", f"{TIME:g}",
                          "-l", str(msg_size), "-P", "1"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e6


def veth_netns():
    """A namespace with a veth pair like sandbench's native link; returns (ns, server ip)."""
    ns, h, g = f"sb-bench-{os.getpid()}", f"sbbh{os.getpid() % 100000}", f"sbbg{os.getpid() % 100000}"
    for cmd in (["netns", "add", ns], ["link", "add", h, "type", "veth", "peer", "name", g, "netns", ns],
                ["addr", "add", "10.213.255.249/30", "dev", h], ["link", "set", h, "up"],
                ["-n", ns, "addr", "add", "10.213.255.250/30", "dev", g], ["-n", ns, "link", "set", g, "up"],
                ["-n", ns, "link", "set", "lo", "up"]):
        subprocess.run(["ip", *cmd], check=True)
    return ns, "10.213.255.249"


def pair(ours, theirs):
    a, b = [], []
    for r in range(ROUNDS):
        # Alternate who goes first, so drift on a shared host does not favour one side.
        for f in ((ours, theirs) if r % 2 == 0 else (theirs, ours)):
            (a if f is ours else b).append(f())
    return statistics.median(a), statistics.median(b)


def main():
    for tool in ("fio", "sysbench"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed: run scripts/setup.sh (apt-get install {tool})")
    d = tempfile.mkdtemp(prefix="sandbench-bench-", dir=BASE)
    try:
        if "fileio" in ONLY:
            fileio_vs_fio(d)
        if "cpu" in ONLY:
            cpu_vs_sysbench()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if "net" in ONLY:
        net_vs_iperf3()


def fileio_vs_fio(d):
    print(f"fileio vs fio: O_DIRECT, 1 thread, 256 MiB file, {TIME:g} s per run, median of {ROUNDS} (MiB/s)")
    print(f"{'mode':<8}{'block':>7}{'fio':>10}{'sandbench':>11}{'ratio':>8}")
    for mode in ("seqrd", "seqwr", "rndrd", "rndwr"):
        for bs in ("4K", "1M"):
            p = {"mode": mode, "block_size": bs, "file_size": "256M", "direct": "true", "io_size": 0,
                 "time_s": TIME, "dir": d}
            ours, theirs = pair(lambda: sandbench("fileio", p)["mib_per_s"]["value"], lambda: fio(mode, bs, d))
            print(f"{mode:<8}{bs:>7}{theirs:>10.1f}{ours:>11.1f}{ours / theirs:>8.2f}")


def cpu_vs_sysbench():
    print(f"\ncpu vs sysbench cpu: max prime 10000, {TIME:g} s per run, median of {ROUNDS} (events/s)")
    print(f"{'threads':<8}{'':>7}{'sysbench':>10}{'sandbench':>11}{'ratio':>8}")
    for threads in (1, 2):
        p = {"threads": threads, "max_prime": 10000, "time_s": TIME}
        ours, theirs = pair(lambda: sandbench("cpu", p)["events_per_s"]["value"], lambda: sysbench_cpu(threads))
        print(f"{threads:<8}{'':>7}{theirs:>10.1f}{ours:>11.1f}{ours / theirs:>8.2f}")


def net_vs_iperf3():
    if os.geteuid() != 0 or not shutil.which("iperf3"):
        print("\nnet vs iperf3: skipped (needs root and iperf3: run scripts/setup.sh as root)")
        return
    ns, ip = veth_netns()
    server = subprocess.Popen(["iperf3", "-s", "-B", ip], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        print(f"\nnet stream vs iperf3: veth into a namespace, 1 stream, {TIME:g} s per run, median of {ROUNDS} (Mb/s)")
        print(f"{'msg size':<8}{'':>7}{'iperf3':>10}{'sandbench':>11}{'ratio':>8}")
        for size in (64, 512, 4096, 131072):
            p = {"mode": "stream", "msg_size": size, "time_s": TIME}
            ours, theirs = pair(lambda: sandbench("net", p)["mbit_per_s"]["value"], lambda: iperf3(size, ns, ip))
            print(f"{size:<8}{'':>7}{theirs:>10.1f}{ours:>11.1f}{ours / theirs:>8.2f}")
    finally:
        server.terminate()
        server.wait()
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
