//! One window of a capacity step: the workload's scenario in every sandbox of the pool at
//! once, each a trial of its own (sampled, checked and recorded as any trial).

use super::pool::Member;
use crate::plan::PlannedTrial;
use crate::record::new_record;
use crate::results::ResultsDir;
use crate::trial::{run_trial, TrialCtx, TrialEnd};
use crate::RunError;
use sandbench_spec::{Campaign, CapacityDims, Environment, TrialKey, TrialRecord, WorkloadSpec};
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

/// What a window left.
pub(crate) enum WindowEnd {
    /// Every trial's record, in stream order.
    Done(Vec<TrialRecord>),
    /// Ctrl-C or SIGTERM: nothing recorded.
    Interrupted,
}

pub(crate) struct WindowCtx<'a> {
    pub c: &'a Campaign,
    pub dir: &'a ResultsDir,
    pub env: &'a Environment,
    pub wl: &'a WorkloadSpec,
    pub cancel: &'a AtomicBool,
    /// Attempts recorded per key so far (a resumed run's repeated step gets new attempts).
    pub attempts: &'a HashMap<TrialKey, (u32, bool)>,
}

/// How often each of `streams` sandboxes is sampled: the campaign's interval up to two
/// sandboxes, then longer in proportion, so the samplers' work stays that of two sandboxes at
/// the campaign's rate however many run (16 at 10 Hz each took 4 % of a core here).
pub(crate) fn sampling(c: &Campaign, streams: u32) -> std::time::Duration {
    std::time::Duration::from_millis(c.sampling.interval_ms * u64::from(streams.div_ceil(2).max(1)))
}

/// The key of stream `stream` of a step of `streams` in window `window`.
pub(crate) fn key(env: &str, wl: &str, d: CapacityDims) -> TrialKey {
    TrialKey { environment: env.into(), workload: format!("{wl}-n{}-s{}", d.streams, d.stream), index: d.window - 1 }
}

/// Runs window `window` (1-based) in every member at once.
pub(crate) fn run_window(members: &mut [Member], window: u32, x: &WindowCtx<'_>) -> Result<WindowEnd, RunError> {
    let streams = members.len() as u32;
    let ctx = TrialCtx { c: x.c, dir: x.dir, power: None, cancel: x.cancel, sampling: sampling(x.c, streams) };
    let ends: Vec<Result<(TrialEnd, TrialRecord), RunError>> = std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter_mut()
            .enumerate()
            .map(|(i, m)| {
                let dims = CapacityDims { streams, stream: i as u32 + 1, window };
                let ctx = &ctx;
                s.spawn(move || {
                    let mut record = record_for(x, dims, m);
                    let running = m
                        .running
                        .as_mut()
                        .ok_or_else(|| RunError::Capacity("a sandbox of the step has no running agent".into()))?;
                    let end = run_trial(running, &mut record, x.wl, ctx)?;
                    m.launch.fresh = false;
                    Ok((end, record))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(RunError::Capacity("a window's trial thread panicked".into()))))
            .collect()
    });
    let mut records = Vec::new();
    let mut interrupted = false;
    for end in ends {
        let (end, record) = end?;
        match end {
            TrialEnd::Done { .. } => records.push(record),
            TrialEnd::Interrupted => interrupted = true,
            TrialEnd::Storage(e) => {
                x.dir.append(&record)?;
                return Err(e.into());
            }
        }
    }
    if interrupted {
        return Ok(WindowEnd::Interrupted);
    }
    for r in &records {
        x.dir.append(r)?;
    }
    Ok(WindowEnd::Done(records))
}

fn record_for(x: &WindowCtx<'_>, dims: CapacityDims, m: &Member) -> TrialRecord {
    let key = key(&x.env.name, &x.wl.name, dims);
    let attempt = x.attempts.get(&key).map(|(a, _)| a + 1).unwrap_or(1);
    let planned = PlannedTrial { key, env: 0, workload: 0, warmup: false, trial: dims.window };
    let mut record = new_record(&planned, attempt, x.env, x.wl, x.c.mode, 0);
    record.dims.capacity = Some(dims);
    if let Some(a) = m.running.as_ref().and_then(|r| r.accel) {
        record.dims.accel = Some(a);
    }
    record.launch = Some(m.launch.clone());
    record
}
