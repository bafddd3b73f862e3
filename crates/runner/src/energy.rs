//! The campaign's power source for the length of a run: the idle baseline before the first
//! trial and after the last, and each trial's energy, per domain, per unit of work, with its
//! validity. See docs/ENERGY.md.

use crate::RunError;
use sandbench_power::{Meter, Window};
use sandbench_sampler::Series;
use sandbench_spec::{Campaign, DomainEnergy, EnergySummary, PowerSourceKind, PowerSpec, TrialRecord, WorkEnergy};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Fewer source updates than this during a trial make its energy coarse.
pub const MIN_UPDATES: u64 = 10;
/// Idle power that moved by more than this between the start and the end of a run.
pub const MAX_IDLE_DRIFT: f64 = 0.05;
/// How long a trial's end waits for a meter that prints on its own clock.
const PATIENCE: Duration = Duration::from_secs(2);

/// A running power source and what the run knows of idle.
pub struct PowerSession {
    meter: Meter,
    spec: PowerSpec,
    /// Which of the source's domains sum into a trial's energy.
    summed: Vec<bool>,
    /// Idle power measured before the first trial.
    pub idle_w: Option<f64>,
}

/// The source a campaign asks for, started; `Ok(None)` with the reason when `auto` found
/// nothing. A source the campaign names that cannot work is an error before any trial.
pub fn start(c: &Campaign, campaign_dir: &Path) -> Result<(Option<PowerSession>, String), RunError> {
    let spec = c.power.clone();
    let kind = spec.source;
    let source = match sandbench_power::open(kind, &spec.command, campaign_dir) {
        Ok(s) => s,
        Err(e) if spec.source == PowerSourceKind::Auto => return Ok((None, format!("unsupported: {e}"))),
        Err(source) => return Err(RunError::Power { kind, source }),
    };
    let summed = sandbench_power::probe::select(source.domains(), &spec.domains, source.kind())
        .map_err(|source| RunError::Power { kind, source })?;
    let interval = Duration::from_millis(spec.interval_ms.unwrap_or(c.sampling.interval_ms));
    let meter = Meter::start(source, interval);
    let fact = meter.describe().to_string();
    Ok((Some(PowerSession { meter, spec, summed, idle_w: None }), fact))
}

impl PowerSession {
    /// Marks a trial's edge with a reading (a sysfs source is read at once).
    pub fn mark(&self) {
        self.meter.mark();
    }

    /// Measures idle power for `idle_s` with no sandbox running; `None` when `idle_s` is 0 or
    /// the run was cancelled meanwhile.
    pub fn measure_idle(&self, cancel: &AtomicBool) -> Option<f64> {
        if self.spec.idle_s <= 0.0 {
            return None;
        }
        self.meter.mark();
        let from = Instant::now();
        let until = from + Duration::from_secs_f64(self.spec.idle_s);
        while Instant::now() < until {
            if cancel.load(Ordering::SeqCst) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
        }
        let w = self.meter.window(from, Instant::now(), PATIENCE);
        (w.seconds > 0.0).then(|| self.total(&w.energy_j) / w.seconds)
    }

    fn total(&self, per_domain: &[f64]) -> f64 {
        per_domain.iter().zip(&self.summed).filter(|(_, s)| **s).map(|(e, _)| e).sum()
    }

    /// Power over each sample's interval of a trial's series (for the CSV's `power_w`).
    pub fn power_column(&self, sampler_start: Instant, series: &Series) -> Vec<Option<f64>> {
        let mut prev = sampler_start;
        series
            .samples
            .iter()
            .map(|s| {
                let end = sampler_start + Duration::from_secs_f64(s.t_ms / 1e3);
                let w = self.meter.window(prev, end, Duration::ZERO);
                prev = end;
                (w.seconds > 0.0 && w.covered).then(|| self.total(&w.energy_j) / w.seconds)
            })
            .collect()
    }

    /// The energy of a trial that ran from `t0` (`run` sent) to `t1` (answer received).
    pub fn trial(&self, t0: Instant, t1: Instant, record: &TrialRecord, series: &Series) -> EnergySummary {
        let w = self.meter.window(t0, t1, PATIENCE);
        let energy_j = self.total(&w.energy_j);
        let seconds = w.seconds.max(1e-9);
        let idle_w = self.idle_w.unwrap_or(0.0);
        let energy_idle_j = idle_w * w.seconds;
        let energy_dynamic_j = (energy_j - energy_idle_j).max(0.0);
        let load = host_load(series);
        let mut warnings = window_warnings(&w, self.meter.error());
        if self.idle_w.is_none() {
            warnings.push("no idle baseline (power.idle_s = 0): idle and dynamic energy are not split".into());
        }
        if let Some((_, other)) = load.filter(|(_, other)| *other > self.spec.other_load_max_pct) {
            warnings.push(format!(
                "other host load {other:.0} % of a core (> {:.0} %) shared the measured power",
                self.spec.other_load_max_pct
            ));
        }
        let power_max_w = max_total(&w, &self.summed);
        EnergySummary {
            source: self.meter.describe().to_string(),
            energy_j,
            power_mean_w: energy_j / seconds,
            power_max_w,
            energy_idle_j,
            energy_dynamic_j,
            energy_attributed_j: self.idle_w.and(load).map(|(sandbox, other)| {
                let share = if sandbox + other > 0.0 { sandbox / (sandbox + other) } else { 1.0 };
                share * energy_dynamic_j
            }),
            updates: w.updates,
            domains: self
                .meter
                .domains()
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let e = w.energy_j[i];
                    (
                        d.name.clone(),
                        DomainEnergy { energy_j: e, power_mean_w: e / seconds, power_max_w: w.power_max_w[i] },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            work: self.work(t0, t1, record),
            warnings,
        }
    }

    /// Energy per unit of the workload's work, over the interval that did it: after the model
    /// loaded for the AI kinds, the whole trial otherwise.
    fn work(&self, t0: Instant, t1: Instant, record: &TrialRecord) -> Option<WorkEnergy> {
        let (unit, units) = record.dims.kind.work_units(&record.metrics)?;
        let from_ms = record
            .phases
            .iter()
            .find(|p| p.name == sandbench_workloads::phase::MODEL_LOADED)
            .map(|p| p.host_ms)
            .unwrap_or(0.0);
        let from = t0 + Duration::from_secs_f64(from_ms / 1e3);
        let w = self.meter.window(from.min(t1), t1, Duration::ZERO);
        let energy_j = self.total(&w.energy_j);
        (energy_j > 0.0).then(|| WorkEnergy {
            unit: unit.to_string(),
            units,
            from_ms,
            energy_j,
            duration_ms: w.seconds * 1e3,
            j_per_unit: energy_j / units,
            units_per_j: units / energy_j,
        })
    }

    /// The host's energy (the summed domains) from `t0` to `t1`, in joules.
    pub fn window_j(&self, t0: Instant, t1: Instant) -> f64 {
        self.total(&self.meter.window(t0, t1, PATIENCE).energy_j)
    }

    /// Readings before `at` are not needed by any later trial.
    pub fn forget_before(&self, at: Instant) {
        self.meter.forget_before(at);
    }

    /// CPU time the meter's thread used, and its polls.
    pub fn cost(&self) -> (f64, u64) {
        self.meter.cost()
    }
}

/// The sandbox's CPU and everything else's over a trial, 100 % = one core.
fn host_load(series: &Series) -> Option<(f64, f64)> {
    let n = series.samples.len();
    if n == 0 {
        return None;
    }
    let mean = |f: &dyn Fn(&sandbench_sampler::Sample) -> f64| series.samples.iter().map(f).sum::<f64>() / n as f64;
    let sandbox = mean(&|s| s.cpu_pct.max(s.tree_cpu_pct.unwrap_or(0.0)));
    let busy = mean(&sandbench_sampler::Sample::host_busy_pct);
    Some((sandbox, (busy - sandbox).max(0.0)))
}

fn max_total(w: &Window, summed: &[bool]) -> f64 {
    // The highest domain powers need not coincide: their sum bounds the total's peak.
    w.power_max_w.iter().zip(summed).filter(|(_, s)| **s).map(|(p, _)| p).sum()
}

fn window_warnings(w: &Window, error: Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    if w.updates < MIN_UPDATES {
        out.push(format!(
            "the power source changed {} times during the trial (< {MIN_UPDATES}): its energy is coarse; \
             run longer trials or poll faster",
            w.updates
        ));
    }
    if w.ambiguous > 0 {
        out.push(format!(
            "an energy counter may have wrapped more than once between {} pairs of readings: poll faster",
            w.ambiguous
        ));
    }
    if !w.covered {
        out.push("the power readings do not cover the whole trial: its energy is for the covered part".into());
    }
    if let Some(e) = error {
        out.push(format!("the power source stopped: {e}"));
    }
    out
}

/// The idle drift between the run's two baselines, as a fraction of the first.
pub fn idle_drift(start_w: f64, end_w: f64) -> f64 {
    if start_w > 0.0 {
        (end_w - start_w).abs() / start_w
    } else {
        0.0
    }
}

/// Starts the campaign's source, records what it is in the manifest (`power.source`) and
/// measures the idle baseline before any sandbox runs (`power.idle_w`).
pub fn begin(
    c: &Campaign,
    manifest: &mut sandbench_spec::Manifest,
    cancel: &AtomicBool,
) -> Result<Option<PowerSession>, RunError> {
    let campaign_dir = Path::new(&manifest.campaign_path).parent().filter(|p| !p.as_os_str().is_empty());
    let (session, source) = start(c, campaign_dir.unwrap_or(Path::new(".")))?;
    let facts = manifest.power.insert(sandbench_spec::PowerFacts { source, ..Default::default() });
    let Some(mut session) = session else { return Ok(None) };
    if c.power.idle_s > 0.0 {
        eprintln!("power: measuring the idle baseline for {} s", c.power.idle_s);
    }
    session.idle_w = session.measure_idle(cancel);
    facts.idle_w = session.idle_w;
    Ok(Some(session))
}

/// Measures idle again after the last trial and records the drift (`power.idle_end_w`,
/// `power.idle_drift_pct`) and the meter's own cost.
pub fn finish(session: &PowerSession, manifest: &mut sandbench_spec::Manifest, cancel: &AtomicBool) {
    let facts = manifest.power.get_or_insert_with(Default::default);
    if let (Some(start_w), Some(end_w)) = (session.idle_w, session.measure_idle(cancel)) {
        facts.idle_end_w = Some(end_w);
        facts.idle_drift_pct = Some(idle_drift(start_w, end_w) * 100.0);
    }
    let (cpu_ms, polls) = session.cost();
    (facts.sampler_cpu_ms, facts.sampler_polls) = (Some(cpu_ms), Some(polls));
}
