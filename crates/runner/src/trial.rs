//! One trial in a ready sandbox: send `run`, collect the answer, sample the host meanwhile,
//! write the sample series and the trial's energy.

use crate::energy::PowerSession;
use crate::results::ResultsDir;
use crate::RunError;
use sandbench_protocol::{AgentMsg, HostMsg};
use sandbench_sampler::Sampler;
use sandbench_sandbox::Running;
use sandbench_spec::{Campaign, Status, TrialRecord, WorkloadSpec};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// A fresh trial id from the OS's random source.
fn nonce() -> u64 {
    use rand::RngCore;
    rand::rngs::OsRng.next_u64()
}

/// How a trial ended.
pub(crate) enum TrialEnd {
    /// Recorded; `usable` is false when the sandbox must be replaced (timeout, crash).
    Done { usable: bool },
    /// Ctrl-C: nothing to record.
    Interrupted,
    /// The results folder could not take the trial's data: record it (if that still works)
    /// and stop the run, so `--resume` can finish once there is room.
    Storage(crate::ResultsError),
}

/// What a trial needs besides its sandbox and record.
pub(crate) struct TrialCtx<'a> {
    pub c: &'a Campaign,
    pub dir: &'a ResultsDir,
    pub power: Option<&'a PowerSession>,
    pub cancel: &'a AtomicBool,
    /// How often the host samples the sandbox.
    pub sampling: Duration,
}

/// Runs one trial in a ready sandbox and fills `record`.
pub(crate) fn run_trial(
    running: &mut Running,
    record: &mut TrialRecord,
    wl: &WorkloadSpec,
    ctx: &TrialCtx<'_>,
) -> Result<TrialEnd, RunError> {
    let TrialCtx { c, dir, power, cancel, sampling } = *ctx;
    let Some(params) = params_with_peers(running, record, wl) else { return Ok(TrialEnd::Done { usable: true }) };
    let sampler_start = Instant::now();
    let sampler = Sampler::start(running.accounting.clone(), sampling);
    record.started_unix_ms = crate::options::unix_ms();
    let stale = running.channel.drain();
    if stale > 0 {
        tracing::warn!("dropped {stale} message(s) the agent sent before this trial's run");
    }
    if let Some(p) = power {
        // A reading at the trial's start, and nothing older kept than it needs.
        p.mark();
        p.forget_before(sampler_start - Duration::from_secs(1));
    }
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(c.timeouts.trial_s);
    // Unpredictable per trial: a guest cannot answer a `run` before it is sent.
    let run = HostMsg::Run { id: nonce(), workload: wl.kind.name().into(), params, trial: record.dims.trial };
    let usable = match exchange(running, record, &run, t0, deadline, cancel) {
        Some(usable) => usable,
        None => {
            let _ = sampler.stop();
            return Ok(TrialEnd::Interrupted);
        }
    };
    let t1 = Instant::now();
    crate::load_check::check(record, wl);
    let mut series = sampler.stop();
    if let Some(p) = power {
        let energy = p.trial(t0, t1, record, &series);
        series.power_w = p.power_column(sampler_start, &series);
        record.host.get_or_insert_with(Default::default).energy = Some(energy);
    }
    if record.status != Status::Ok {
        record.console_tail = running.channel.console_tail();
    }
    if let Err(e) = write_series(dir, record, &series) {
        return Ok(TrialEnd::Storage(e));
    }
    Ok(TrialEnd::Done { usable })
}

/// The workload's parameters plus, for a kind that needs a link, the addresses and secrets of
/// the sandbox's peers; `None` (the trial recorded as failed) when the sandbox has no link.
fn params_with_peers(
    running: &Running,
    record: &mut TrialRecord,
    wl: &WorkloadSpec,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut params = wl.params.clone();
    if !wl.kind.needs_link() || params.contains_key("peer") {
        return Some(params);
    }
    match &running.peers {
        Some(peers) => {
            for (k, v) in peers.params(wl.kind) {
                params.insert(k.into(), v.into());
            }
            Some(params)
        }
        None => {
            record.status = Status::Failed;
            record.error = Some(
                running.facts.get("network").cloned().unwrap_or_else(|| "this sandbox has no network link".into()),
            );
            None
        }
    }
}

/// Sends `run` and waits for its answer, recording the outcome, the phases and the host's
/// wall time. Returns whether the sandbox can serve another trial, or `None` on Ctrl-C.
fn exchange(
    running: &mut Running,
    record: &mut TrialRecord,
    run: &HostMsg,
    t0: Instant,
    deadline: Instant,
    cancel: &AtomicBool,
) -> Option<bool> {
    let HostMsg::Run { id, .. } = *run else { return Some(true) };
    if let Err(e) = running.channel.send_by(run, deadline) {
        record.status = Status::Failed;
        record.error = Some(e.to_string());
        return Some(false);
    }
    let since_run = || t0.elapsed().as_secs_f64() * 1e3;
    loop {
        match running.channel.recv(deadline, cancel) {
            Ok(AgentMsg::Result { id: rid, wall_ms, metrics, outputs, guest_cpu }) if rid == id => {
                record.host_wall_ms = since_run();
                record.status = Status::Ok;
                record.guest_wall_ms = Some(wall_ms);
                record.metrics = metrics;
                record.outputs = outputs;
                record.guest_cpu = guest_cpu;
                return Some(true);
            }
            // Bounded: the guest is untrusted.
            Ok(AgentMsg::Phase { id: rid, name, t_ms }) if rid == id && record.phases.len() < 64 => {
                record.phases.push(sandbench_spec::TrialPhase { name, host_ms: since_run(), guest_ms: t_ms });
            }
            Ok(AgentMsg::Error { id: Some(rid), message }) if rid == id => {
                record.host_wall_ms = since_run();
                record.status = Status::Failed;
                record.error = Some(message);
                return Some(true);
            }
            Ok(_) => continue,
            Err(sandbench_sandbox::ChannelError::Cancelled) => return None,
            Err(e) => {
                record.host_wall_ms = since_run();
                record.status = match e {
                    sandbench_sandbox::ChannelError::Timeout(_) => Status::Timeout,
                    _ => Status::Failed,
                };
                record.error = Some(e.to_string());
                return Some(false);
            }
        }
    }
}

/// Writes the trial's samples CSV and puts its summary (and energy) in the record. A disk
/// that is full or gone fails the trial with that error, and the run stops.
fn write_series(
    dir: &ResultsDir,
    record: &mut TrialRecord,
    series: &sandbench_sampler::Series,
) -> Result<(), crate::ResultsError> {
    let (path, rel) = dir.samples_path(&record.key, record.attempt);
    let written = std::fs::File::create(&path).and_then(|f| {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        series.write_csv(&mut w)?;
        w.flush()
    });
    if let Err(source) = written {
        record.status = Status::Failed;
        record.error = Some(format!("write {}: {source}", path.display()));
        let _ = std::fs::remove_file(&path);
        return Err(crate::ResultsError::Io { path, source });
    }
    let energy = record.host.take().and_then(|h| h.energy);
    record.host = Some(sandbench_spec::HostSummary { energy, ..series.summary(rel) });
    Ok(())
}
