//! The reference tools' side of `sandbench validate`: each tool run with the parameters of
//! sandbench's workload, its output read by `runner::validation`'s parsers.

use anyhow::{bail, Context, Result};
use sandbench_runner::validation::{parse_fio, parse_iperf3, parse_sysbench_cpu};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The tool's first line of `--version`, or `None` when it is not installed.
pub fn version(tool: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next().unwrap_or(tool).trim().to_string())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `sysbench cpu --cpu-max-prime=10000`: events/s.
pub fn sysbench_cpu(threads: u32, time: u32) -> Result<f64> {
    let text = output(Command::new("sysbench").args([
        "cpu",
        &format!("--threads={threads}"),
        "--cpu-max-prime=10000",
        &format!("--time={time}"),
        "run",
    ]))?;
    Ok(parse_sysbench_cpu(&text)?)
}

/// fio with fileio's parameters: O_DIRECT, psync, one job, a 256 MiB file, time-based; writes
/// overwrite the file and end with an fsync, as fileio's do. The file is laid out afresh before
/// every run, as fileio writes its file in full before every trial: overwriting a file written
/// moments ago is measurably faster on this kind of virtual disk than one written rounds ago
/// (docs/BENCHMARKS.md), and fio's `overwrite=1` keeps an existing file as it is. MiB/s.
pub fn fio(mode: &str, bs: &str, dir: &Path, time: u32) -> Result<f64> {
    let file = dir.join("fio.dat");
    match std::fs::remove_file(&file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(anyhow::anyhow!("remove {}: {e}", file.display()))
        }
        _ => {}
    }
    let write = mode.ends_with("wr");
    Ok(parse_fio(&output(Command::new("fio").args(fio_args(mode, bs, &file, time)))?, write)?)
}

/// Blocks up to this size get fresh content in every write (`--refill_buffers`).
const REFILL_UP_TO: u64 = 64 << 10;

/// fio's command line for one check. Writes of small blocks refill the buffer with fresh random
/// bytes every time, as each of fileio's writes is unique in every sector: with fio's default
/// (one buffer, scrambled a little per write) this disk took 4 KiB random writes 12 % slower
/// than with fresh content, and fileio's equalled fio's with fresh content (docs/BENCHMARKS.md,
/// issue 29). Large blocks keep the default: refilling 1 MiB halves fio's throughput in CPU
/// time alone, which would measure fio's random generator instead of the disk.
fn fio_args(mode: &str, bs: &str, file: &Path, time: u32) -> Vec<String> {
    let rw = match mode {
        "seqrd" => "read",
        "seqwr" => "write",
        "rndrd" => "randread",
        _ => "randwrite",
    };
    let mut args: Vec<String> = [
        "--name=validate".to_string(),
        format!("--filename={}", file.display()),
        "--size=256M".into(),
        format!("--bs={bs}"),
        format!("--rw={rw}"),
        "--direct=1".into(),
        "--ioengine=psync".into(),
        "--numjobs=1".into(),
        "--time_based".into(),
        format!("--runtime={time}"),
        "--output-format=json".into(),
        "--randrepeat=0".into(),
    ]
    .into();
    if mode.ends_with("wr") {
        args.extend(["--end_fsync=1".into(), "--overwrite=1".into()]);
        if sandbench_workloads::parse_size(bs).is_some_and(|b| b <= REFILL_UP_TO) {
            args.push("--refill_buffers".into());
        }
    }
    args
}

/// A veth pair into a network namespace, like the native driver's link, on a free /30 of the
/// project's own private range (as the driver picks one); removed when dropped.
pub struct Link {
    ns: String,
    pub server_ip: String,
}

impl Link {
    pub fn up() -> Result<Link> {
        let id = std::process::id() % 100_000;
        let (ns, host, guest) = (format!("sbv-{id}"), format!("sbvh{id}"), format!("sbvg{id}"));
        let used = output(Command::new("ip").args(["-o", "addr"]))?;
        let (h, g) = sandbench_sandbox::net::free_subnet(16383 - id % 1024, &used);
        let link = Link { ns: ns.clone(), server_ip: h.to_string() };
        let (host_cidr, guest_cidr) = (format!("{h}/30"), format!("{g}/30"));
        let steps: [Vec<&str>; 7] = [
            vec!["netns", "add", &ns],
            vec!["link", "add", &host, "type", "veth", "peer", "name", &guest, "netns", &ns],
            vec!["addr", "add", &host_cidr, "dev", &host],
            vec!["link", "set", &host, "up"],
            vec!["-n", &ns, "addr", "add", &guest_cidr, "dev", &guest],
            vec!["-n", &ns, "link", "set", &guest, "up"],
            vec!["-n", &ns, "link", "set", "lo", "up"],
        ];
        for step in steps {
            output(Command::new("ip").args(&step))?;
        }
        Ok(link)
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veth pair with it.
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}

/// `iperf3 -s` on the host end of a [`Link`]; stopped when dropped.
pub struct Iperf3Server<'a> {
    link: &'a Link,
    child: Child,
}

impl<'a> Iperf3Server<'a> {
    pub fn start(link: &'a Link) -> Result<Iperf3Server<'a>> {
        let child = Command::new("iperf3")
            .args(["-s", "-B", &link.server_ip])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("iperf3 -s")?;
        std::thread::sleep(std::time::Duration::from_millis(500));
        Ok(Iperf3Server { link, child })
    }

    /// One client run from inside the namespace, `size`-byte writes, one stream, the ends
    /// pinned as `pin` says: Mb/s.
    pub fn client(&self, size: u32, time: u32, pin: Option<Pin>) -> Result<f64> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.link.ns]).args(iperf3_args(&self.link.server_ip, size, time, pin));
        Ok(parse_iperf3(&output(&mut cmd)?)?)
    }
}

/// Where the two ends of a stream run: the sender on one CPU, the receiver on another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pin {
    pub sender: u32,
    pub receiver: u32,
}

impl Pin {
    /// The sender on CPU 1 and the receiver on CPU 0 where the host has two CPUs or more: where
    /// the scheduler would put them otherwise decides a small-message stream's throughput on a
    /// small host, run by run, in both tools (docs/BENCHMARKS.md, issue 29).
    pub fn for_host(cpus: usize) -> Option<Pin> {
        (cpus >= 2).then_some(Pin { sender: 1, receiver: 0 })
    }

    /// sandbench's `net` parameters for the same placement (iperf3's `-A sender,receiver`).
    pub fn params(pin: Option<Pin>) -> serde_json::Map<String, serde_json::Value> {
        pin.map(|p| {
            serde_json::Map::from_iter([
                ("sender_cpu".into(), p.sender.into()),
                ("receiver_cpu".into(), p.receiver.into()),
            ])
        })
        .unwrap_or_default()
    }
}

/// iperf3's client command line for one check.
fn iperf3_args(server_ip: &str, size: u32, time: u32, pin: Option<Pin>) -> Vec<String> {
    let mut args: Vec<String> = ["iperf3", "-c", server_ip, "-J", "-t", &time.to_string(), "-l", &size.to_string()]
        .iter()
        .map(|a| a.to_string())
        .collect();
    args.extend(["-P".into(), "1".into()]);
    if let Some(p) = pin {
        args.extend(["-A".into(), format!("{},{}", p.sender, p.receiver)]);
    }
    args
}

impl Drop for Iperf3Server<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ORT_SCRIPT: &str = r#"
import sys, time, statistics
import numpy as np, onnxruntime as ort
o = ort.SessionOptions()
o.intra_op_num_threads = 1
o.inter_op_num_threads = 1
o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).random((1, 3, 224, 224), dtype=np.float32)
name = s.get_inputs()[0].name
s.run(None, {name: x})
t = []
for _ in range(int(sys.argv[2])):
    a = time.perf_counter(); s.run(None, {name: x}); t.append((time.perf_counter() - a) * 1e3)
print(statistics.median(t))
"#;

/// The venv `bench/ai.py` makes with onnxruntime, faster-whisper and the other references.
pub const BENCH_VENV_PYTHON: &str = "/var/cache/sandbench/bench-venv/bin/python";

/// The Pythons that may have onnxruntime, in the order they are tried: `$SANDBENCH_PYTHON`,
/// `python3`, then `bench/ai.py`'s venv.
pub fn python_candidates() -> Vec<String> {
    let mut out: Vec<String> = std::env::var("SANDBENCH_PYTHON").ok().filter(|p| !p.is_empty()).into_iter().collect();
    out.extend(["python3".to_string(), BENCH_VENV_PYTHON.to_string()]);
    out
}

/// The first of `candidates` that imports onnxruntime, with `onnxruntime <version> (<python>)`.
pub fn python_with_onnxruntime(candidates: &[String]) -> Option<(String, String)> {
    candidates.iter().find_map(|python| {
        let out =
            Command::new(python).args(["-c", "import onnxruntime; print(onnxruntime.__version__)"]).output().ok()?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !version.is_empty())
            .then(|| (python.clone(), format!("onnxruntime {version} ({python})")))
    })
}

/// Python onnxruntime's median inference time on `model`, one thread, over `reps` runs after
/// one warm-up (ms), as `bench/ai.py` times it.
pub fn onnxruntime_ms(python: &str, model: &Path, reps: u32) -> Result<f64> {
    let text = output(Command::new(python).args(["-c", ORT_SCRIPT]).arg(model).arg(reps.to_string()))?;
    text.trim().parse().with_context(|| format!("{python} onnxruntime printed {text:?}"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    /// A test stand-in for a Python: answers the version query, or fails as one without
    /// onnxruntime does.
    fn fake_python(dir: &std::path::Path, name: &str, version: Option<&str>) -> String {
        let path = dir.join(name);
        let body = match version {
            Some(v) => format!("#!/bin/sh\necho {v}\n"),
            None => "#!/bin/sh\necho 'ModuleNotFoundError: onnxruntime' >&2\nexit 1\n".into(),
        };
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    #[test]
    fn both_tools_pin_their_stream_ends_alike() {
        use super::Pin;
        let pin = Pin::for_host(2);
        assert_eq!(pin, Some(Pin { sender: 1, receiver: 0 }));
        assert_eq!(Pin::for_host(1), None, "one CPU: nothing to place");
        let args = super::iperf3_args("10.0.0.1", 4096, 3, pin);
        let a = args.iter().position(|a| a == "-A").expect("iperf3 is pinned");
        assert_eq!(args[a + 1], "1,0");
        let ours = Pin::params(pin);
        assert_eq!((ours["sender_cpu"].as_u64(), ours["receiver_cpu"].as_u64()), (Some(1), Some(0)));
        // sandbench's workload takes them as its own parameters.
        let map = serde_json::Map::from_iter(ours.into_iter().chain([("peer".into(), "10.0.0.1:1".into())]));
        let p = sandbench_workloads::net::NetParams::parse(&sandbench_workloads::Params::new(&map)).unwrap();
        assert_eq!((p.sender_cpu, p.receiver_cpu), (Some(1), Some(0)));
        assert!(!super::iperf3_args("10.0.0.1", 64, 3, None).contains(&"-A".to_string()));
    }

    #[test]
    fn the_first_python_that_imports_onnxruntime_is_used() {
        let tmp = tempfile::tempdir().unwrap();
        let without = fake_python(tmp.path(), "bare", None);
        let venv = fake_python(tmp.path(), "venv", Some("1.32.0"));
        let missing = tmp.path().join("absent").display().to_string();
        let (python, version) =
            super::python_with_onnxruntime(&[missing.clone(), without.clone(), venv.clone()]).unwrap();
        assert_eq!(python, venv);
        assert_eq!(version, format!("onnxruntime 1.32.0 ({venv})"));
        assert_eq!(super::python_with_onnxruntime(&[missing, without]), None);
        assert_eq!(super::python_candidates().last().map(String::as_str), Some(super::BENCH_VENV_PYTHON));
    }

    #[test]
    fn fio_writes_small_blocks_with_fresh_content_and_overwrites_like_fileio() {
        let file = std::path::Path::new("/scratch/fio.dat");
        let args = |mode, bs| super::fio_args(mode, bs, file, 3);
        let has = |a: &[String], flag: &str| a.iter().any(|x| x == flag);
        let small = args("rndwr", "4K");
        assert!(has(&small, "--refill_buffers") && has(&small, "--overwrite=1") && has(&small, "--end_fsync=1"));
        assert!(has(&small, "--rw=randwrite") && has(&small, "--bs=4K") && has(&small, "--direct=1"));
        // Refilling 1 MiB per write would time fio's random generator, not the disk.
        let large = args("seqwr", "1M");
        assert!(!has(&large, "--refill_buffers") && has(&large, "--overwrite=1") && has(&large, "--rw=write"));
        // Reads write nothing: no content, no fsync.
        let read = args("rndrd", "4K");
        assert!(!has(&read, "--refill_buffers") && !has(&read, "--end_fsync=1") && has(&read, "--rw=randread"));
        assert!(has(&read, "--filename=/scratch/fio.dat"));
    }
}
