//! A test stand-in, never shipped: it speaks sandbench's agent protocol like the real agent
//! (ready, run, result) and misbehaves as the trial's `trial` number says, so the hostile-
//! guest suite (`crates/cli/tests/hostile.rs`) can check that the host holds. In a VM it is
//! PID 1 like the real agent and reuses its guest duties (`crates/agent/src/guest.rs`).
//!
//! | trial | misbehaviour |
//! |---|---|
//! | 1 | floods stdout with 1 MiB lines, forever |
//! | 2 | floods stderr with 1 MiB lines and never answers |
//! | 3 | answers ids it was not given, sends `ready` twice, then answers late and twice |
//! | 4 | stops reading its input and never answers |
//! | 5 | plants symlinks to a host directory in every writable place, then answers |
//! | 6 | connects to every port of the host end it can see; sends more transfer files than asked |
//! | 7 | exits in the middle of a message |
//! | 8 | starts threads until refused (up to 300), tries `unshare` and `mount`, reports both |
//! | 9 and on | behaves: runs the workload like the real agent |

#[path = "../../agent/src/guest.rs"]
#[allow(dead_code)]
mod guest;

use sandbench_protocol::{encode, AgentMsg, HostMsg, Metric, Metrics, PREFIX, PROTOCOL_VERSION};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

/// The host directory the symlinks point at (the suite checks it stays empty).
const VICTIM: &str = "/tmp/sandbench-hostile-victim";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let vm = args.iter().any(|a| a == "--vm") && std::process::id() == 1;
    if vm {
        guest::init_as_pid1();
        eprintln!("hostile-agent: {}", guest::mount_scratch());
    }
    let (input, mut output): (Box<dyn Read>, Box<dyn Write>) =
        match args.iter().position(|a| a == "--serial").and_then(|i| args.get(i + 1)) {
            Some(dev) => {
                let f = std::fs::OpenOptions::new().read(true).write(true).open(dev).expect("serial");
                guest::make_raw(&f);
                (Box::new(f.try_clone().expect("dup")), Box::new(f))
            }
            None => (Box::new(std::io::stdin()), Box::new(std::io::stdout())),
        };
    let mut input = BufReader::new(input);
    send(&mut output, &ready());
    let mut line = String::new();
    while input.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
        let msg = line.split_once(PREFIX).and_then(|(_, body)| serde_json::from_str::<HostMsg>(body.trim()).ok());
        line.clear();
        match msg {
            Some(HostMsg::Run { id, workload, params, trial }) => misbehave(trial, id, &workload, &params, &mut output),
            Some(HostMsg::Shutdown) => break,
            None => {}
        }
    }
    if vm {
        guest::power_off();
    }
}

fn ready() -> AgentMsg {
    AgentMsg::Ready {
        v: PROTOCOL_VERSION,
        agent_version: "hostile".into(),
        uptime_ms: guest::uptime_ms(),
        clock_unix_ms: guest::clock_unix_ms(),
        kernel: guest::kernel_release(),
        cpus: 1,
        mem_total_kib: guest::mem_total_kib(),
        pid1: std::process::id() == 1,
        clocksource: guest::clocksource(),
    }
}

fn send(out: &mut dyn Write, m: &AgentMsg) {
    let _ = out.write_all(encode(m).as_bytes()).and_then(|_| out.flush());
}

fn result(id: u64, wall_ms: f64, outputs: serde_json::Value) -> AgentMsg {
    let mut metrics = Metrics::new();
    metrics.insert("total_time".into(), Metric::new(wall_ms, "ms"));
    AgentMsg::Result { id, wall_ms, metrics, outputs, guest_cpu: None }
}

fn forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn misbehave(
    trial: u32,
    id: u64,
    workload: &str,
    params: &serde_json::Map<String, serde_json::Value>,
    out: &mut dyn Write,
) {
    let mib = vec![b'x'; 1 << 20];
    match trial.wrapping_sub(1) {
        0 => loop {
            let _ = out.write_all(&mib).and_then(|_| out.write_all(b"\n"));
        },
        1 => loop {
            let mut err = std::io::stderr();
            let _ = err.write_all(&mib).and_then(|_| err.write_all(b"\n"));
        },
        2 => {
            // Guesses at the id (sequence numbers) and answers from nowhere, then the real
            // answer late, twice.
            for guess in [0, 1, 2, id.wrapping_add(1), id.wrapping_sub(1)] {
                send(out, &result(guess, 0.001, serde_json::json!({"forged": true})));
            }
            send(out, &ready());
            std::thread::sleep(Duration::from_millis(400));
            send(out, &result(id, 400.0, serde_json::json!({"late": true})));
            send(out, &result(id, 0.001, serde_json::json!({"again": true})));
        }
        3 => forever(),
        4 => {
            let planted = plant_links();
            send(out, &result(id, 1.0, serde_json::json!({ "planted": planted })));
        }
        5 => {
            let outputs = probe_and_overflow(params);
            send(out, &result(id, 1.0, outputs));
        }
        7 => {
            let outputs = escalate();
            send(out, &result(id, 1.0, outputs));
        }
        6 => {
            let _ = out.write_all(format!("{PREFIX}{{\"type\":\"result\",\"id\":{id},\"wall").as_bytes());
            let _ = out.flush();
            std::process::exit(3);
        }
        _ => {
            let t0 = Instant::now();
            let ran = sandbench_workloads::Kind::parse(workload)
                .map_err(sandbench_workloads::WorkloadError::from)
                .and_then(|kind| sandbench_workloads::run(kind, params));
            let reply = match ran {
                Ok(o) => AgentMsg::Result {
                    id,
                    wall_ms: t0.elapsed().as_secs_f64() * 1e3,
                    metrics: o.metrics,
                    outputs: o.outputs,
                    guest_cpu: None,
                },
                Err(e) => AgentMsg::Error { id: Some(id), message: e.to_string() },
            };
            send(out, &reply);
        }
    }
}

/// How far the sandbox lets it go: threads (the pids limit), and syscalls a container's
/// filter denies.
fn escalate() -> serde_json::Value {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut threads = Vec::new();
    while threads.len() < 300 {
        let stop = stop.clone();
        let spawned = std::thread::Builder::new().stack_size(64 << 10).spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        match spawned {
            Ok(t) => threads.push(t),
            Err(_) => break,
        }
    }
    let started = threads.len();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    // SAFETY: plain syscalls; a failure is the expected answer in a container.
    let unshare = unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0;
    let target = std::ffi::CString::new("/tmp").unwrap_or_default();
    let fstype = std::ffi::CString::new("tmpfs").unwrap_or_default();
    // SAFETY: as above; the strings outlive the call.
    let mount = unsafe { libc::mount(fstype.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) } == 0;
    serde_json::json!({ "threads": started, "unshare": unshare, "mount": mount })
}

/// Symlinks to [`VICTIM`] wherever this sandbox can write and the host might: the scratch
/// space and the names the host used to write there.
fn plant_links() -> Vec<String> {
    let scratch = std::env::var(sandbench_protocol::SCRATCH_ENV).unwrap_or_else(|_| "/scratch".into());
    let mut planted = Vec::new();
    for name in ["received", "scratch.ext4", "file00000.bin", "samples", "manifest.json", "trials.jsonl"] {
        let p = std::path::Path::new(&scratch).join(name);
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::remove_file(&p);
        if std::os::unix::fs::symlink(VICTIM, &p).is_ok() {
            planted.push(p.display().to_string());
        }
    }
    planted
}

/// Tries every port below 1025 and the peers' neighbours on the host end of the link, and
/// sends ten times the files the transfer asked for.
fn probe_and_overflow(params: &serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
    let peer = params.get("peer").and_then(|v| v.as_str()).unwrap_or("");
    let Ok(peer) = peer.parse::<std::net::SocketAddr>() else {
        return serde_json::json!({ "probe": "no peer" });
    };
    // The transfer receiver is the one other port this sandbox may reach; every other one
    // below 1025 and near the peers is tried, 32 at a time.
    let ports: Vec<u16> = (1..1025u16)
        .chain(peer.port().saturating_sub(20)..peer.port().saturating_add(20))
        .filter(|p| *p != peer.port())
        .collect();
    let reached: Vec<u16> = std::thread::scope(|s| {
        let probes: Vec<_> = ports
            .chunks(ports.len().div_ceil(32))
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .copied()
                        .filter(|port| {
                            let addr = std::net::SocketAddr::new(peer.ip(), *port);
                            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_ok()
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        probes.into_iter().flat_map(|p| p.join().unwrap_or_default()).collect()
    });
    let mut bigger = params.clone();
    let files = bigger.get("files").and_then(|v| v.as_u64()).unwrap_or(300);
    bigger.insert("files".into(), serde_json::json!(files * 10));
    let overflow =
        sandbench_workloads::run(sandbench_workloads::Kind::Transfer, &bigger).map(|_| "accepted").unwrap_or("refused");
    serde_json::json!({ "reached": reached, "overflow": overflow })
}
