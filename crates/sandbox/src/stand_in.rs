//! **Test stand-in, never a user's choice**: a sandbox that isolates nothing. Its "agent" is a
//! thread of the sandbench process that speaks the real protocol over a pair of pipes and runs
//! the real workloads crate (`cpu`, `noop`; a kind that needs the inference engines, scratch
//! space or a link is refused), so that the run loop, resume, stopping, timeouts, the report
//! and compare are tested without root, QEMU, runc or a built agent: `sandbench run
//! --debug-mode` (hidden, as hyperfine's `--debug-mode` and its `MockExecutor`) puts it in
//! place of every environment's driver. Every launch records the fact [`STAND_IN_FACT`], so a
//! results folder made with it cannot pass for a measurement of isolation.
//!
//! Tests script misbehaviour through `$SANDBENCH_STAND_IN` ([`Script`]): trials that are never
//! answered (the runner's timeout ends them), trials at which the agent's channel closes (a
//! crashed sandbox), environments whose every launch fails.

use crate::channel::AgentChannel;
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_protocol::{decode_host, encode, AgentMsg, HostMsg};
use sandbench_spec::{BootTimeline, Environment};
use sandbench_workloads::{Kind, WorkloadError};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Instant;

pub use sandbench_spec::record::STAND_IN_FACT;
/// The environment variable tests script the stand-in with.
pub const SCRIPT_ENV: &str = "SANDBENCH_STAND_IN";

/// What the stand-in does wrong, by trial number (1-based; 0 is a warm-up) and environment:
/// `hang=2,5;crash=3;broken=runc;slow=20` (each part optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Trials whose `run` is never answered.
    pub hang: Vec<u32>,
    /// Trials at which the agent closes its channel without an answer.
    pub crash: Vec<u32>,
    /// Environments whose every launch fails.
    pub broken: Vec<String>,
    /// Milliseconds each query of a load scenario takes per *other* live stand-in sandbox: a
    /// stand-in whose latency grows with the number of streams, for the capacity loop's tests.
    pub slow_ms: u32,
}

/// Stand-in sandboxes whose agent thread is serving (for [`Script::slow_ms`]).
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A part of `$SANDBENCH_STAND_IN` that is not `hang=`, `crash=` or `broken=` with its list.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("SANDBENCH_STAND_IN: `{part}` is not one of hang=N,…  crash=N,…  broken=ENV,…  slow=MS")]
pub struct ScriptError {
    pub part: String,
}

impl Script {
    /// Parses `hang=2,5;crash=3;broken=runc`; an empty text is no misbehaviour.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let mut s = Script::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || ScriptError { part: part.to_string() };
            let (key, list) = part.split_once('=').ok_or_else(bad)?;
            let items: Vec<&str> = list.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
            let numbers = || items.iter().map(|i| i.parse().map_err(|_| bad())).collect::<Result<Vec<u32>, _>>();
            match key.trim() {
                "hang" => s.hang = numbers()?,
                "crash" => s.crash = numbers()?,
                "broken" => s.broken = items.iter().map(|i| i.to_string()).collect(),
                "slow" => s.slow_ms = numbers()?.first().copied().unwrap_or(0),
                _ => return Err(bad()),
            }
        }
        Ok(s)
    }

    /// The script of this process's environment (none when the variable is unset).
    pub fn from_env() -> Result<Script, ScriptError> {
        Script::parse(&std::env::var(SCRIPT_ENV).unwrap_or_default())
    }
}

/// The stand-in sandbox of one environment.
pub struct StandIn {
    env: String,
    script: Script,
}

impl StandIn {
    pub fn new(env: &Environment, script: Script) -> StandIn {
        StandIn { env: env.name.clone(), script }
    }
}

impl Sandbox for StandIn {
    fn launch(&mut self, _spec: &LaunchSpec) -> Result<Running, SandboxError> {
        let t0 = Instant::now();
        if self.script.broken.contains(&self.env) {
            return Err(SandboxError::Unsupported { why: format!("the test stand-in's script breaks `{}`", self.env) });
        }
        let pipe = |what: &str| std::io::pipe().map_err(|source| SandboxError::Io { what: what.into(), source });
        let (host_read, agent_write) = pipe("stand-in pipe")?;
        let (agent_read, host_write) = pipe("stand-in pipe")?;
        let script = self.script.clone();
        LIVE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::Builder::new()
            .name(format!("stand-in-{}", self.env))
            .spawn(move || {
                serve(&script, agent_read, agent_write);
                LIVE.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            })
            .map_err(|source| SandboxError::Io { what: "stand-in thread".into(), source })?;
        let total_ms = t0.elapsed().as_secs_f64() * 1e3;
        Ok(Running {
            accel: None,
            channel: AgentChannel::new(host_read, host_write),
            accounting: Default::default(),
            boot: BootTimeline { total_ms, ..Default::default() },
            facts: [(
                STAND_IN_FACT.to_string(),
                "test stand-in: workloads in a thread of sandbench, no isolation".into(),
            )]
            .into(),
            peers: None,
        })
    }

    /// The channel's ends close with `Running`; the thread then sees end of input and ends.
    fn teardown(&mut self) -> Result<(), SandboxError> {
        Ok(())
    }
}

/// The agent's side: `run` → the workload's result or error, `shutdown` → `bye`.
fn serve(script: &Script, input: impl Read, mut out: impl Write) {
    for line in BufReader::new(input).lines() {
        let Ok(line) = line else { return };
        let reply = match decode_host(&line) {
            Some(Ok(HostMsg::Run { id, workload, params, trial })) => {
                if script.crash.contains(&trial) {
                    return;
                }
                if script.hang.contains(&trial) {
                    continue;
                }
                run(id, &workload, &params, script.slow_ms)
            }
            Some(Ok(HostMsg::Shutdown)) => {
                let _ = out.write_all(encode(&AgentMsg::Bye).as_bytes());
                return;
            }
            _ => continue,
        };
        if out.write_all(encode(&reply).as_bytes()).and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}

/// One trial of `workload`, where the stand-in can run it.
fn run(id: u64, workload: &str, params: &serde_json::Map<String, serde_json::Value>, slow_ms: u32) -> AgentMsg {
    let t0 = Instant::now();
    let result = match sandbench_workloads::Kind::parse(workload) {
        Ok(k @ (Kind::Cpu | Kind::Noop)) if slow_ms > 0 => run_slowed(k, params, slow_ms),
        Ok(k @ (Kind::Cpu | Kind::Noop)) => sandbench_workloads::run(k, params),
        Ok(k) => {
            Err(WorkloadError::NotHere { kind: k, why: "does not run in the test stand-in (only cpu and noop do)" })
        }
        Err(e) => Err(e.into()),
    };
    let wall_ms = t0.elapsed().as_secs_f64() * 1e3;
    match result {
        Ok(o) => AgentMsg::Result { id, wall_ms, metrics: o.metrics, outputs: o.outputs, guest_cpu: None },
        Err(e) => AgentMsg::Error { id: Some(id), message: e.to_string() },
    }
}

/// A load scenario whose every query also sleeps `slow_ms` per other live stand-in.
fn run_slowed(
    kind: Kind,
    params: &serde_json::Map<String, serde_json::Value>,
    slow_ms: u32,
) -> Result<sandbench_workloads::Outcome, WorkloadError> {
    use sandbench_workloads::load::{drive, queries, split, Queries};
    struct Slowed(Box<dyn Queries>, u32);
    impl Queries for Slowed {
        fn query(&mut self) -> Result<(), WorkloadError> {
            let others = LIVE.load(std::sync::atomic::Ordering::SeqCst).saturating_sub(1) as u64;
            std::thread::sleep(std::time::Duration::from_millis(self.1 as u64 * others));
            self.0.query()
        }
    }
    match split(kind, params)? {
        (Some(load), rest) => drive(&load, &mut Slowed(queries(kind, &rest)?, slow_ms)),
        (None, _) => sandbench_workloads::run(kind, params),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_bad_parts_are_named() {
        assert_eq!(Script::parse("").unwrap(), Script::default());
        let s = Script::parse("hang=2,5; crash=3 ;broken=runc,qemu").unwrap();
        assert_eq!(s.hang, [2, 5]);
        assert_eq!(s.crash, [3]);
        assert_eq!(s.broken, ["runc", "qemu"]);
        assert_eq!(Script::parse("hang=x").unwrap_err().part, "hang=x");
        assert!(Script::parse("explode=1").unwrap_err().to_string().contains("hang=N"));
    }

    #[test]
    fn the_thread_answers_run_with_a_real_cpu_trial_and_shutdown_with_bye() {
        let (host_read, agent_write) = std::io::pipe().unwrap();
        let (agent_read, mut host_write) = std::io::pipe().unwrap();
        let t = std::thread::spawn(move || serve(&Script::default(), agent_read, agent_write));
        let run = HostMsg::Run {
            id: 7,
            workload: "cpu".into(),
            params: serde_json::json!({"events": 20, "threads": 1}).as_object().unwrap().clone(),
            trial: 1,
        };
        host_write.write_all(encode(&run).as_bytes()).unwrap();
        host_write.write_all(encode(&HostMsg::Shutdown).as_bytes()).unwrap();
        let lines: Vec<String> = BufReader::new(host_read).lines().map(Result::unwrap).collect();
        t.join().unwrap();
        assert!(lines[0].contains("\"result\"") && lines[0].contains("\"events\""), "{lines:?}");
        assert!(lines[1].contains("bye"), "{lines:?}");
    }
}
