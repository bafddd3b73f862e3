//! `sandbench-agent`: speaks the sandbench protocol on stdin/stdout (native, containers) or on
//! the serial console (VMs, where it runs as PID 1 after the initramfs's switch_root).
//!
//! The same binary, statically linked, runs in every environment.

mod engines;
mod guest;

use sandbench_protocol::{decode_host, encode, AgentMsg, HostMsg, PROTOCOL_VERSION};
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::rc::Rc;
use std::time::Instant;

/// The channel to the host, shared with the phase hook that sends `phase` messages mid-trial.
type Out = Rc<RefCell<Box<dyn Write>>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version") {
        println!("sandbench-agent {} protocol {PROTOCOL_VERSION} {}", env!("CARGO_PKG_VERSION"), engines::built_with());
        return;
    }
    // `--vm`: the guest image's init handed over; the agent is the VM's init and powers it off
    // at the end. In a container the agent may be PID 1 of its namespace too, but it must not
    // act as a machine's init there (no mounts of its own, no reboot: it just exits).
    let vm = args.iter().any(|a| a == "--vm") && std::process::id() == 1;
    let pid1 = std::process::id() == 1;
    if vm {
        guest::init_as_pid1();
        eprintln!("sandbench-agent: {}", guest::mount_scratch());
    }
    let mut input: Box<dyn Read> = Box::new(std::io::stdin());
    let mut output: Box<dyn Write> = Box::new(std::io::stdout());
    if let Some(dev) = args.iter().position(|a| a == "--serial").and_then(|i| args.get(i + 1)) {
        match std::fs::OpenOptions::new().read(true).write(true).open(dev) {
            Ok(f) => {
                guest::make_raw(&f);
                input = Box::new(f.try_clone().unwrap_or_else(|_| guest::fatal(vm, "dup serial")));
                output = Box::new(f);
            }
            Err(e) => guest::fatal(vm, &format!("open {dev}: {e}")),
        }
    } else {
        guest::make_raw(&std::io::stdin());
    }
    let code = serve(BufReader::new(input), Rc::new(RefCell::new(output)), pid1);
    if vm {
        guest::power_off();
    }
    std::process::exit(code);
}

fn send(out: &Out, msg: &AgentMsg) -> bool {
    let Ok(mut out) = out.try_borrow_mut() else { return false };
    out.write_all(encode(msg).as_bytes()).and_then(|_| out.flush()).is_ok()
}

/// The protocol loop. Returns the exit code.
fn serve(mut input: impl BufRead, out: Out, pid1: bool) -> i32 {
    let ready = AgentMsg::Ready {
        v: PROTOCOL_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_ms: guest::uptime_ms(),
        clock_unix_ms: guest::clock_unix_ms(),
        kernel: guest::kernel_release(),
        cpus: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
        mem_total_kib: guest::mem_total_kib(),
        pid1,
        clocksource: guest::clocksource(),
    };
    if !send(&out, &ready) {
        return 1;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.by_ref().take(sandbench_protocol::MAX_LINE as u64).read_until(b'\n', &mut line) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(_) => return 1,
        }
        let text = String::from_utf8_lossy(&line);
        let msg = match decode_host(&text) {
            None => continue,
            Some(Err(e)) => {
                send(&out, &AgentMsg::Error { id: None, message: format!("bad command: {e}") });
                continue;
            }
            Some(Ok(m)) => m,
        };
        match msg {
            HostMsg::Shutdown => {
                send(&out, &AgentMsg::Bye);
                return 0;
            }
            HostMsg::Run { id, workload, params, .. } => {
                let before = guest::cpu_times();
                let t0 = Instant::now();
                let hook_out = out.clone();
                let hook = Box::new(move |name: &str| {
                    let t_ms = t0.elapsed().as_secs_f64() * 1e3;
                    send(&hook_out, &AgentMsg::Phase { id, name: name.to_string(), t_ms });
                });
                let result = sandbench_workloads::phase::with_hook(hook, || {
                    let kind = sandbench_workloads::Kind::parse(&workload)?;
                    if kind.is_ai() {
                        engines::run_ai(kind, &params)
                    } else {
                        sandbench_workloads::run(kind, &params)
                    }
                });
                let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
                let guest_cpu = match (before, guest::cpu_times()) {
                    (Some(a), Some(b)) => guest::cpu_view(&a, &b),
                    _ => None,
                };
                let reply = match result {
                    Ok(o) => AgentMsg::Result { id, wall_ms, metrics: o.metrics, outputs: o.outputs, guest_cpu },
                    Err(e) => AgentMsg::Error { id: Some(id), message: e.to_string() },
                };
                if !send(&out, &reply) {
                    return 1;
                }
            }
        }
    }
}
