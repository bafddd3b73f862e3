//! A capacity run (`[capacity]`, docs/CAMPAIGN.md): per environment × workload, N sandboxes
//! running the workload's load scenario at once, N growing step by step until the budget
//! breaks with confidence, the stream counts run out, a launch fails, or the next step's
//! projected memory would eat into the reserve. Each step's windows are trials like any
//! (`trials.jsonl`, with their step in `dims.capacity`); each step's summary and each series'
//! end are lines of `capacity.jsonl`, and `--resume` goes on after the last finished step.

mod judge;
mod pool;
mod step;
mod window;

use crate::options::{Guest, LaunchBase, RunOptions, RunOutcome};
use crate::results::ResultsDir;
use crate::RunError;
use pool::{Launcher, Pool};
use sandbench_protocol::ScenarioKind;
use sandbench_sampler::memory::{mem_available_mib, Ksm};
use sandbench_spec::capacity::{Ksm as KsmChoice, StepMemory};
use sandbench_spec::{
    Campaign, CapacityEnd, CapacityLine, CapacitySpec, CapacityStep, CapacityStop, Environment, Manifest, SlaVerdict,
    Trials, WorkloadSpec,
};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use window::{run_window, WindowCtx, WindowEnd};

/// Memory a container sandbox is assumed to take before one has been measured.
const FIRST_GUESS_CONTAINER_MIB: f64 = 64.0;
/// What a VMM adds to its guest's memory, before one has been measured.
const VMM_OVERHEAD_MIB: f64 = 32.0;

/// Windows per step: the campaign's `trials` (a stopping rule's minimum).
pub(crate) fn windows(t: &Trials) -> u32 {
    match t {
        Trials::Fixed(n) => *n,
        Trials::UntilPrecise(r) => r.min,
    }
}

/// Runs (or resumes) every capacity series of the campaign.
pub(crate) fn run(
    opts: &RunOptions,
    dir: &ResultsDir,
    c: &Campaign,
    cap: &CapacitySpec,
    guest: Guest,
    manifest: &mut Manifest,
) -> Result<RunOutcome, RunError> {
    let base = LaunchBase::new(c, opts.cancel.clone())?;
    if opts.drivers.is_none() {
        crate::session::sweep_stale(c, &base.work_root);
    }
    let power = crate::energy::begin(c, manifest, &opts.cancel)?;
    let power_why =
        manifest.power.as_ref().map(|p| p.source.clone()).unwrap_or_else(|| "unsupported: no power source".into());
    let ksm = KsmSetting::apply(cap.ksm, manifest);
    dir.write_manifest(manifest)?;
    let launcher = Launcher { opts, c, guest: &guest, base, launches: Default::default() };
    let lines = dir.capacity_lines(true)?;
    let attempts = crate::results::attempts(&dir.records(true)?);
    let mut out =
        RunOutcome { dir: dir.path.clone(), ok: 0, failed: 0, timeout: 0, skipped_done: 0, interrupted: false };
    let result = (|| {
        for env in c.envs() {
            for wl in c.workload_specs().filter(|w| w.runs_in(&env.name)) {
                if opts.cancel.load(Ordering::SeqCst) {
                    out.interrupted = true;
                    return Ok(());
                }
                let s = Series { launcher: &launcher, dir, cap, env, wl, attempts: &attempts, power: power.as_ref() };
                let before: Vec<&CapacityLine> =
                    lines.iter().filter(|l| l.series() == (env.name.as_str(), wl.name.as_str())).collect();
                if before.iter().any(|l| matches!(l, CapacityLine::End(_))) {
                    out.skipped_done += 1;
                    continue;
                }
                let done: Vec<&CapacityStep> = before
                    .iter()
                    .filter_map(|l| match l {
                        CapacityLine::Step(s) => Some(s.as_ref()),
                        CapacityLine::End(_) => None,
                    })
                    .collect();
                if !s.run(&done, &power_why, &mut out)? {
                    out.interrupted = true;
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    ksm.restore();
    if let Some(p) = &power {
        if !out.interrupted {
            crate::energy::finish(p, manifest, &opts.cancel);
        }
    }
    result.map(|()| out)
}

/// Turns KSM on for the run when asked (and back after), and records its state.
struct KsmSetting {
    restore_to: Option<bool>,
}

impl KsmSetting {
    fn apply(choice: KsmChoice, manifest: &mut Manifest) -> KsmSetting {
        let ksm = Ksm::host();
        let was = ksm.running();
        let fact = match (choice, was) {
            (_, None) => "unsupported: this kernel has no KSM (/sys/kernel/mm/ksm)".to_string(),
            (KsmChoice::Off, Some(on)) => format!("left as it was (run = {})", u8::from(on)),
            (KsmChoice::On, Some(true)) => "on (already)".into(),
            (KsmChoice::On, Some(false)) => match ksm.set_running(true) {
                Ok(()) => "on for the run".into(),
                Err(e) => format!("unsupported: could not turn KSM on: {e} (needs root)"),
            },
        };
        manifest.host.insert("ksm".into(), fact);
        let restore_to = (choice == KsmChoice::On && was == Some(false)).then_some(false);
        KsmSetting { restore_to }
    }

    fn restore(&self) {
        if let Some(on) = self.restore_to {
            let _ = Ksm::host().set_running(on);
        }
    }
}

/// A step's windows (each its trials' records) and the host's energy over them.
type Windows = (Vec<Vec<sandbench_spec::TrialRecord>>, Option<f64>);

struct Series<'a> {
    launcher: &'a Launcher<'a>,
    dir: &'a ResultsDir,
    cap: &'a CapacitySpec,
    env: &'a Environment,
    wl: &'a WorkloadSpec,
    attempts: &'a std::collections::HashMap<sandbench_spec::TrialKey, (u32, bool)>,
    power: Option<&'a crate::energy::PowerSession>,
}

impl Series<'_> {
    /// Runs the series' remaining steps; false when interrupted.
    fn run(&self, done: &[&CapacityStep], power_why: &str, out: &mut RunOutcome) -> Result<bool, RunError> {
        let last_done = done.last().map(|s| s.streams).unwrap_or(0);
        let mut capacity = done.iter().filter(|s| s.sla == SlaVerdict::Pass).map(|s| s.streams).max();
        let counts: Vec<u32> = self.cap.streams.steps().into_iter().filter(|&n| n > last_done).collect();
        let mut pool = Pool::new(self.launcher, self.env);
        let baseline = mem_available_mib();
        let mut previous: Option<(u32, f64)> = None;
        let mut last = last_done;
        for n in counts {
            let add = n.saturating_sub(pool.len());
            if let Some(stop) = self.memory_stop(n, add, previous) {
                return self.end(capacity, stop);
            }
            eprintln!("capacity · {} · {} · {n} stream(s): launching {add}", self.env.name, self.wl.name);
            let t_launch = Instant::now();
            let launch_ms = match pool.grow(add, self.cap.parallel_launches) {
                Ok(t) => t,
                Err(_) if self.cancelled() => return Ok(false),
                Err(error) => return self.end(capacity, CapacityStop::LaunchFailed { streams: n, error }),
            };
            let launch_wall_ms = t_launch.elapsed().as_secs_f64() * 1e3;
            if !self.settle() {
                return Ok(false);
            }
            let drop_mib = baseline.zip(mem_available_mib()).map(|(b, a)| (b - a).max(0.0)).unwrap_or(0.0);
            let memory = StepMemory {
                mem_available_drop_mib: drop_mib,
                marginal_mib: previous.map(|(pn, pd)| (drop_mib - pd) / (n - pn).max(1) as f64),
                ksm_pages_sharing: Ksm::host().pages_sharing(),
                ..StepMemory::default()
            };
            let Some((windows, energy_j)) = self.windows(&mut pool, out)? else { return Ok(false) };
            let first_error = windows.iter().flatten().find_map(|r| r.error.clone());
            let facts = step::StepFacts {
                streams: n,
                scenario: self.scenario(),
                windows,
                memory,
                energy_unsupported: energy_j.is_none().then(|| power_why.to_string()),
                energy_j,
                launch_ms,
                launch_wall_ms,
            };
            let s = step::summarize(&self.env.name, &self.wl.name, self.cap.sla, facts);
            eprintln!("capacity · {} · {} · {n} stream(s): {:?}, {}", self.env.name, self.wl.name, s.sla, s.sla_why);
            self.dir.append_capacity(&CapacityLine::Step(Box::new(s.clone())))?;
            if s.sla == SlaVerdict::Pass {
                capacity = Some(n);
            }
            if s.trials_ok == 0 {
                let error = first_error.unwrap_or_else(|| "no trial ended ok".into());
                return self.end(capacity, CapacityStop::TrialsFailed { streams: n, error });
            }
            if s.sla == SlaVerdict::Fail {
                return self.end(capacity, CapacityStop::SlaBroken { streams: n });
            }
            previous = Some((n, drop_mib));
            last = n;
        }
        self.end(capacity, CapacityStop::Max { streams: last })
    }

    fn cancelled(&self) -> bool {
        self.launcher.opts.cancel.load(Ordering::SeqCst)
    }

    /// The workload's scenario (execute::capacity_fit refused the campaign without one).
    fn scenario(&self) -> ScenarioKind {
        sandbench_workloads::load::split(self.wl.kind, &self.wl.params)
            .ok()
            .and_then(|(l, _)| l)
            .map_or(ScenarioKind::SingleStream, |l| l.scenario.kind())
    }

    /// The reserve check before a step: `add` more sandboxes at the size measured so far (or
    /// a first guess) must leave `memory_reserve_mib` available.
    fn memory_stop(&self, n: u32, add: u32, previous: Option<(u32, f64)>) -> Option<CapacityStop> {
        let per = match previous {
            Some((pn, drop)) if drop > 0.0 => drop / pn as f64,
            _ if self.env.driver().needs_image() => self.env.memory_mib as f64 + VMM_OVERHEAD_MIB,
            _ => FIRST_GUESS_CONTAINER_MIB,
        };
        let available = mem_available_mib()?;
        let projected = available - per * add as f64;
        (projected < self.cap.memory_reserve_mib as f64).then_some(CapacityStop::MemoryReserve {
            streams: n,
            projected_free_mib: projected,
            reserve_mib: self.cap.memory_reserve_mib,
        })
    }

    /// Waits `settle_s`; false when interrupted meanwhile.
    fn settle(&self) -> bool {
        let end = Instant::now() + Duration::from_secs_f64(self.cap.settle_s);
        while Instant::now() < end {
            if self.cancelled() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())));
        }
        !self.cancelled()
    }

    /// Every window of a step; `None` when interrupted. The energy is the host's over all
    /// windows, where there is a power source.
    fn windows(&self, pool: &mut Pool<'_>, out: &mut RunOutcome) -> Result<Option<Windows>, RunError> {
        let c = self.launcher.c;
        let x = WindowCtx {
            c,
            dir: self.dir,
            env: self.env,
            wl: self.wl,
            cancel: &self.launcher.opts.cancel,
            attempts: self.attempts,
        };
        let mut all = Vec::new();
        let mut energy = self.power.map(|_| 0.0);
        for w in 1..=windows(&c.trials) {
            let t0 = Instant::now();
            if let Some(p) = self.power {
                p.mark();
            }
            let records = match run_window(&mut pool.members, w, &x)? {
                WindowEnd::Done(r) => r,
                WindowEnd::Interrupted => return Ok(None),
            };
            if let (Some(p), Some(e)) = (self.power, energy.as_mut()) {
                *e += p.window_j(t0, Instant::now());
            }
            for r in &records {
                out.count(r.status);
            }
            all.push(records);
        }
        Ok(Some((all, energy)))
    }

    fn end(&self, capacity: Option<u32>, stop: CapacityStop) -> Result<bool, RunError> {
        eprintln!(
            "capacity · {} · {}: {} ({})",
            self.env.name,
            self.wl.name,
            capacity.map_or("no stream count within the budget".to_string(), |n| format!("{n} stream(s)")),
            stop.describe()
        );
        let end = CapacityEnd { environment: self.env.name.clone(), workload: self.wl.name.clone(), capacity, stop };
        self.dir.append_capacity(&CapacityLine::End(end))?;
        Ok(true)
    }
}
