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
}

/// Runs one trial in a ready sandbox and fills `record`.
pub(crate) fn run_trial(
    running: &mut Running,
    record: &mut TrialRecord,
    wl: &WorkloadSpec,
    ctx: &TrialCtx<'_>,
) -> Result<TrialEnd, RunError> {
    let TrialCtx { c, dir, power, cancel } = *ctx;
    // Unpredictable per trial: a guest cannot answer a `run` before it is sent.
    let id = nonce();
    let mut params = wl.params.clone();
    if sandbench_workloads::needs_link(&wl.kind) && !params.contains_key("peer") {
        match &running.peers {
            Some(peers) => {
                for (k, v) in peers.params(&wl.kind) {
                    params.insert(k.into(), v.into());
                }
            }
            None => {
                record.status = Status::Failed;
                record.error = Some(
                    running.facts.get("network").cloned().unwrap_or_else(|| "this sandbox has no network link".into()),
                );
                return Ok(TrialEnd::Done { usable: true });
            }
        }
    }
    let sampler_start = Instant::now();
    let sampler = Sampler::start(running.accounting.clone(), Duration::from_millis(c.sampling.interval_ms));
    record.started_unix_ms = crate::execute::unix_ms();
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
    let run = HostMsg::Run { id, workload: wl.kind.clone(), params, trial: record.dims.trial };
    let sent = running.channel.send_by(&run, deadline);
    let mut usable = true;
    if let Err(e) = sent {
        record.status = Status::Failed;
        record.error = Some(e.to_string());
        usable = false;
    } else {
        loop {
            match running.channel.recv(deadline, cancel) {
                Ok(AgentMsg::Result { id: rid, wall_ms, metrics, outputs, guest_cpu }) if rid == id => {
                    record.host_wall_ms = t0.elapsed().as_secs_f64() * 1e3;
                    record.status = Status::Ok;
                    record.guest_wall_ms = Some(wall_ms);
                    record.metrics = metrics;
                    record.outputs = outputs;
                    record.guest_cpu = guest_cpu;
                    break;
                }
                // Bounded: the guest is untrusted.
                Ok(AgentMsg::Phase { id: rid, name, t_ms }) if rid == id && record.phases.len() < 64 => {
                    let host_ms = t0.elapsed().as_secs_f64() * 1e3;
                    record.phases.push(sandbench_spec::TrialPhase { name, host_ms, guest_ms: t_ms });
                }
                Ok(AgentMsg::Error { id: Some(rid), message }) if rid == id => {
                    record.host_wall_ms = t0.elapsed().as_secs_f64() * 1e3;
                    record.status = Status::Failed;
                    record.error = Some(message);
                    break;
                }
                Ok(_) => continue,
                Err(sandbench_sandbox::ChannelError::Cancelled) => {
                    let _ = sampler.stop();
                    return Ok(TrialEnd::Interrupted);
                }
                Err(e) => {
                    record.host_wall_ms = t0.elapsed().as_secs_f64() * 1e3;
                    record.status = match e {
                        sandbench_sandbox::ChannelError::Timeout(_) => Status::Timeout,
                        _ => Status::Failed,
                    };
                    record.error = Some(e.to_string());
                    usable = false;
                    break;
                }
            }
        }
    }
    let t1 = Instant::now();
    let mut series = sampler.stop();
    if let Some(p) = power {
        let energy = p.trial(t0, t1, record, &series);
        series.power_w = p.power_column(sampler_start, &series);
        record.host.get_or_insert_with(Default::default).energy = Some(energy);
    }
    if record.status != Status::Ok {
        record.console_tail = running.channel.console_tail();
    }
    let (path, rel) = dir.samples_path(&record.key, record.attempt);
    let written = std::fs::File::create(&path).and_then(|f| {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(f);
        series.write_csv(&mut w)?;
        w.flush()
    });
    if let Err(source) = written {
        // Disk full or gone: the trial is recorded as failed with this error, and the run stops.
        record.status = Status::Failed;
        record.error = Some(format!("write {}: {source}", path.display()));
        let _ = std::fs::remove_file(&path);
        return Ok(TrialEnd::Storage(crate::ResultsError::Io { path, source }));
    }
    let energy = record.host.take().and_then(|h| h.energy);
    record.host = Some(sandbench_spec::HostSummary { energy, ..series.summary(rel) });
    Ok(TrialEnd::Done { usable })
}
