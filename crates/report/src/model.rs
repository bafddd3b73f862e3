//! The report model: every number the exporters show, computed once from the records.

use sandbench_protocol::{Kind, RecordedKind};
use sandbench_spec::campaign::{Accel, DiskCache, HostPageCache};
use sandbench_spec::{Manifest, TrialKey, TrialRecord};
use sandbench_stats::{adjust_family, compare, summarize, Comparison, Summary, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;

/// Version of `summary.json`.
pub const REPORT_SCHEMA: u32 = 2;

use crate::sentences::sentence;
pub use crate::sentences::{family_note, level_pct};
pub use crate::types::{ComparisonRow, HostRow, Options, Series, Status, Validity};

/// Start-up of an environment's sandboxes.
#[derive(Debug, Clone, Serialize)]
pub struct BootRow {
    pub environment: String,
    pub launches: usize,
    pub total_ms: Option<Summary>,
    /// Mean of each split part (before_kernel_ms, kernel_ms, guest_userspace_ms) where known.
    pub split_ms: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportModel {
    pub schema: u32,
    pub run_id: String,
    pub state: String,
    pub baseline: Option<String>,
    pub margin: f64,
    pub resamples: usize,
    pub headlines: Vec<String>,
    pub warnings: Vec<String>,
    pub series: Vec<Series>,
    pub comparisons: Vec<ComparisonRow>,
    /// Energy per unit of work against the baseline (its own Bonferroni family).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub energy_comparisons: Vec<ComparisonRow>,
    /// Power, energy and efficiency per environment × workload, where a power source measured.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub energy: Vec<crate::energy::EnergyRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub efficiency: Vec<crate::energy::Efficiency>,
    pub host: Vec<HostRow>,
    pub boot: Vec<BootRow>,
    /// Headline metric against a parameter that varies across workloads of one kind.
    pub sweeps: Vec<crate::sweep::Sweep>,
    pub system: BTreeMap<String, String>,
    pub versions: BTreeMap<String, String>,
    pub image: BTreeMap<String, String>,
    /// A capacity run's answer (`capacity.jsonl`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::capacity::CapacityReport>,
}

/// The latest attempt of every trial (a resumed run may retry failures).
pub fn latest(records: &[TrialRecord]) -> Vec<&TrialRecord> {
    let mut by_key: BTreeMap<&TrialKey, &TrialRecord> = BTreeMap::new();
    for r in records {
        if by_key.get(&r.key).is_none_or(|old| r.attempt >= old.attempt) {
            by_key.insert(&r.key, r);
        }
    }
    let mut v: Vec<&TrialRecord> = by_key.into_values().collect();
    v.sort_by_key(|r| (r.key.environment.clone(), r.key.workload.clone(), r.key.index));
    v
}

fn first_order(records: &[TrialRecord], f: impl Fn(&TrialRecord) -> String) -> Vec<String> {
    crate::fmt::first_order_str(records.iter().map(f))
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

/// Builds the model from a run's manifest (which holds its campaign) and records.
pub fn build(manifest: &Manifest, records: &[TrialRecord], opts: &Options) -> ReportModel {
    build_with(manifest, records, &[], opts)
}

/// [`build`] with a capacity run's lines: its trials (each stream of each step) are not series
/// of their own; the capacity section answers for them.
pub fn build_with(
    manifest: &Manifest,
    all_records: &[TrialRecord],
    capacity: &[sandbench_spec::CapacityLine],
    opts: &Options,
) -> ReportModel {
    let campaign =
        sandbench_spec::Campaign::parse(&manifest.campaign_text, std::path::Path::new(&manifest.campaign_path)).ok();
    let series_records: Vec<TrialRecord> = all_records.iter().filter(|r| r.dims.capacity.is_none()).cloned().collect();
    let records = &series_records[..];
    let warmup = campaign.as_ref().map(|c| c.warmup).unwrap_or(0);
    let latest = latest(records);
    let envs = first_order(records, |r| r.key.environment.clone());
    let workloads = first_order(records, |r| r.key.workload.clone());
    let baseline =
        opts.baseline.clone().or_else(|| native_environment(records, &envs)).or_else(|| envs.first().cloned());
    let (mut series, mut host) = (Vec::new(), Vec::new());
    let mut seed = opts.seed;
    for wl in &workloads {
        for env in &envs {
            let Some(group) = crate::rows::Group::of(&latest, env, wl) else { continue };
            for (metric, higher) in group.metrics() {
                seed = seed.wrapping_add(1);
                series.push(group.series(&metric, higher, warmup, manifest, opts, seed));
            }
            host.push(group.host_row());
        }
    }
    // Energy per unit of work: a family of its own, so it does not widen the headline's intervals.
    let energy_comparisons = comparisons(&series, baseline.as_deref(), opts, |s| s.metric == "j_per_unit");
    let comparisons = comparisons(&series, baseline.as_deref(), opts, |s| s.kind.headline().0 == s.metric);
    let energy = crate::energy::rows(&latest, &series, manifest);
    let efficiency = crate::energy::efficiency(&energy, baseline.as_deref());
    let boot = envs.iter().map(|env| boot_row(&latest, env)).collect();
    let sweeps = crate::sweep::sweeps(records, &series);
    let mut model = ReportModel {
        schema: REPORT_SCHEMA,
        run_id: manifest.run_id.clone(),
        state: manifest.state.to_string(),
        baseline,
        margin: opts.margin,
        resamples: opts.resamples,
        headlines: Vec::new(),
        warnings: Vec::new(),
        series,
        comparisons,
        energy_comparisons,
        energy,
        efficiency,
        host,
        boot,
        sweeps,
        system: system_rows(manifest),
        versions: manifest.versions.clone(),
        image: manifest.image.clone(),
        capacity: crate::capacity::build(campaign.as_ref(), capacity),
    };
    model.headlines = headlines(&model);
    model.warnings = run_warnings(&model, manifest, campaign.as_ref());
    model.warnings.extend(hung_starts(records));
    model.warnings.extend(stand_in(all_records));
    model
}

fn comparisons(
    series: &[Series],
    baseline: Option<&str>,
    opts: &Options,
    which: impl Fn(&Series) -> bool,
) -> Vec<ComparisonRow> {
    let Some(base) = baseline else { return Vec::new() };
    let mut rows = Vec::new();
    for s in series.iter().filter(|s| s.environment != base && which(s)) {
        let Some(b) = series.iter().find(|b| b.environment == base && b.workload == s.workload && b.metric == s.metric)
        else {
            continue;
        };
        let c = compare(&s.values, &b.values, opts.margin, opts.resamples, opts.seed ^ rows.len() as u64);
        let mut reasons = Vec::new();
        if s.accel != b.accel && (s.accel.is_some() && b.accel.is_some()) {
            reasons.push(format!(
                "accelerators differ: {} vs {}",
                s.accel.map(Accel::as_str).unwrap_or_default(),
                b.accel.map(Accel::as_str).unwrap_or_default()
            ));
        }
        if s.disk_cache != b.disk_cache && s.disk_cache.is_some() && b.disk_cache.is_some() {
            reasons.push("disk cache modes differ".into());
        }
        for x in [s, b] {
            reasons.extend(cache_caveat(&x.kind, &x.environment, x.disk_cache));
        }
        rows.push(ComparisonRow {
            workload: s.workload.clone(),
            metric: s.metric.clone(),
            environment: s.environment.clone(),
            baseline: base.to_string(),
            higher_is_better: s.higher_is_better,
            comparison: c,
            sentence: String::new(),
            validity: Validity::from(reasons),
        });
    }
    let mut refs: Vec<&mut Comparison> = rows.iter_mut().map(|r| &mut r.comparison).collect();
    adjust_family(&mut refs);
    for r in &mut rows {
        r.sentence = sentence(r);
    }
    for (r, s) in rows.iter_mut().zip(series.iter().filter(|s| s.environment != base && which(s))) {
        if s.metric == "j_per_unit" {
            // "… on classify energy per inference …": the workload alone would read as its headline.
            let unit = s.unit.trim_start_matches("J/");
            r.sentence = r.sentence.replacen(
                &format!(" on {}", r.workload),
                &format!(" on {} energy per {unit}", r.workload),
                1,
            );
        }
    }
    rows
}

/// Why a VM's file I/O numbers are not like for like: with a host-side disk cache that is not
/// `none`/`directsync`, the guest's writes (O_DIRECT and fsync included) can land in the
/// host's page cache instead of the disk — the papers' "microVM writes faster than native".
pub fn cache_caveat(kind: &RecordedKind, env: &str, disk_cache: Option<DiskCache>) -> Option<String> {
    let cache = disk_cache?;
    let disk_io = match kind.known()? {
        Kind::Fileio | Kind::Filemix => true,
        Kind::Cpu | Kind::Noop | Kind::Net | Kind::Transfer => false,
        Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => false,
    };
    let what = match cache.host_page_cache() {
        HostPageCache::Bypassed => return None,
        HostPageCache::Reads => ": reads may be served from host memory",
        HostPageCache::Writes => " writes are not durable",
    };
    disk_io.then(|| {
        format!(
            "{env}: disk_cache = \"{cache}\" sends guest I/O through the host page cache (even \
             O_DIRECT{what}); use \"none\" for like-for-like disk numbers"
        )
    })
}

/// The "CPU while busy" cell: the figure, "never ≥ 100 %" when no sample got there, "–" for
/// records from before it was measured.
pub fn busy_cell(h: &HostRow) -> String {
    match (h.cpu_busy_mean_pct, h.cpu_max_pct) {
        (Some(b), _) => crate::fmt::num(b),
        (None, Some(max)) if max < 100.0 => "never ≥ 100 %".into(),
        _ => "–".into(),
    }
}

fn boot_row(latest: &[&TrialRecord], env: &str) -> BootRow {
    let launches: Vec<&sandbench_spec::record::LaunchInfo> = latest
        .iter()
        .filter(|r| r.key.environment == env)
        .filter_map(|r| r.launch.as_ref().filter(|l| l.fresh))
        .collect();
    let totals: Vec<f64> = launches.iter().map(|l| l.boot.total_ms).collect();
    let mut split: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for l in &launches {
        for (k, v) in l.boot.split() {
            if k != "total_ms" {
                let e = split.entry(k).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    BootRow {
        environment: env.to_string(),
        launches: launches.len(),
        total_ms: summarize(&totals),
        split_ms: split.into_iter().map(|(k, (s, n))| (k, s / n as f64)).collect(),
    }
}

fn headlines(m: &ReportModel) -> Vec<String> {
    let mut out = Vec::new();
    let workloads = crate::fmt::first_order_str(m.series.iter().map(|s| s.workload.clone()));
    for wl in workloads {
        let heads: Vec<&Series> = m
            .series
            .iter()
            .filter(|s| s.workload == wl && s.kind.headline().0 == s.metric && s.summary.is_some())
            .collect();
        let Some(first) = heads.first() else { continue };
        let mean = |s: &&Series| s.summary.as_ref().map(|x| x.mean).unwrap_or(f64::NAN);
        let best = heads.iter().max_by(|a, b| {
            let (x, y) = (mean(a), mean(b));
            if first.higher_is_better {
                x.total_cmp(&y)
            } else {
                y.total_cmp(&x)
            }
        });
        let stable = heads.iter().filter(|s| s.values.len() > 1).min_by(|a, b| {
            a.summary
                .as_ref()
                .map(|x| x.cv)
                .unwrap_or(f64::MAX)
                .total_cmp(&b.summary.as_ref().map(|x| x.cv).unwrap_or(f64::MAX))
        });
        if let Some(b) = best {
            out.push(format!(
                "{wl}: best {} is {} ({:.2} {}){}",
                first.metric,
                b.environment,
                mean(b),
                b.unit,
                stable
                    .map(|s| format!(
                        "; most stable is {} (CV {})",
                        s.environment,
                        pct(s.summary.as_ref().map(|x| x.cv).unwrap_or(0.0))
                    ))
                    .unwrap_or_default()
            ));
        }
    }
    // Energy per unit's verdicts are in the energy section; the summary keeps its sentence.
    for c in &m.comparisons {
        if c.comparison.verdict != Verdict::NotEnoughData {
            out.push(c.sentence.clone());
        }
    }
    out.extend(m.efficiency.iter().map(|e| e.sentence.clone()));
    out
}

fn run_warnings(m: &ReportModel, manifest: &Manifest, campaign: Option<&sandbench_spec::Campaign>) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(c) = campaign {
        if c.mode == sandbench_spec::Mode::Warm
            && c.order != sandbench_spec::Order::Sequential
            && c.environments.len() > 1
        {
            let order = format!("{:?}", c.order).to_lowercase();
            w.push(format!(
                "Warm mode with {order} order keeps every environment's sandbox up while another is measured; idle VMs (especially under TCG) take host CPU: use order = \"sequential\" or mode = \"cold\" for isolation"
            ));
        }
    }
    if manifest.state != sandbench_spec::RunState::Complete {
        w.push(format!("the run is {}: results are partial", manifest.state));
    }
    if m.series.iter().any(|s| s.accel == Some(Accel::Tcg)) {
        w.push("VMs ran under TCG (software CPU emulation): their CPU-bound numbers are not comparable with KVM guests or with native".into());
    }
    // Where a sandbox has a cgroup, its CPU comes from there (what `docker stats` reports); the
    // host processes' own CPU can disagree (a VM runtime's VMM outside the container cgroup).
    for h in &m.host {
        if let (Some(cg), Some(tree)) = (h.cpu_mean_pct.as_ref().map(|s| s.mean), h.tree_cpu_mean_pct) {
            if (cg - tree).abs() > 10.0 && (cg - tree).abs() > 0.25 * cg.max(tree) {
                w.push(format!(
                    "{} / {}: the cgroup's CPU ({cg:.0} %, what docker stats reports) and the sandbox's host processes ({tree:.0} %) disagree; see which one covers the whole sandbox",
                    h.environment, h.workload
                ));
            }
        }
    }
    for c in m.comparisons.iter().filter(|c| c.validity.status == Status::Warn) {
        w.push(format!("{} vs {} on {}: {}", c.environment, c.baseline, c.workload, c.validity.reasons.join("; ")));
    }
    let warn_series = m.series.iter().filter(|s| s.validity.status == Status::Warn).count();
    if warn_series > 0 {
        w.push(format!("{warn_series} of {} series have validity warnings (see the tables)", m.series.len()));
    }
    if let Some(off) = manifest.validation_outside() {
        w.push(format!(
            "on this host `sandbench validate` could not place sandbench within ±10 % of the reference tools: {off}"
        ));
    }
    let power = manifest.power_facts();
    if let Some(p) = power.as_ref().map(|p| &p.source) {
        if p.starts_with("unsupported") {
            w.push(format!("power: {p}"));
        } else if p.contains("TEST STAND-IN") {
            w.push(format!("power comes from a test stand-in meter, not a measurement: {p}"));
        }
    }
    if let Some(p) = power.filter(|p| p.idle_drift_pct.is_some_and(|d| d > crate::energy::MAX_IDLE_DRIFT_PCT)) {
        let w_of = |v: Option<f64>| v.map(|w| format!("{w:.3}")).unwrap_or_else(|| "?".into());
        w.push(format!(
            "idle power drifted {:.1} % between the run's start ({} W) and end ({} W): energy figures may be off by as much",
            p.idle_drift_pct.unwrap_or_default(),
            w_of(p.idle_w),
            w_of(p.idle_end_w)
        ));
    }
    w
}

/// The default baseline: the first environment (in record order) whose driver is `native`,
/// whatever the campaign named it.
fn native_environment(records: &[TrialRecord], envs: &[String]) -> Option<String> {
    let native =
        |e: &String| records.iter().any(|r| &r.key.environment == e && r.dims.driver == sandbench_spec::Driver::Native);
    envs.iter().find(|e| native(e)).cloned()
}

/// The system table: the host's facts, with the typed power and validation facts as the rows
/// older runs wrote into `host` (so a report reads the same either way).
fn system_rows(manifest: &Manifest) -> std::collections::BTreeMap<String, String> {
    let mut rows = manifest.host.clone();
    if let Some(p) = &manifest.power {
        rows.extend(p.rows().into_iter().map(|(k, v)| (k.to_string(), v)));
    }
    rows.extend(manifest.validation_rows().into_iter().map(|(k, v)| (k.to_string(), v)));
    rows
}

/// One warning per environment whose sandboxes hung while starting and were launched again
/// (the `boot_retries` launch fact): a start that hangs is a finding about the technology on
/// this host, even when the retry made the trial whole.
fn hung_starts(records: &[TrialRecord]) -> Vec<String> {
    let mut per_env: std::collections::BTreeMap<&str, std::collections::BTreeSet<u32>> = Default::default();
    for r in records {
        if let Some(l) = r.launch.as_ref().filter(|l| l.facts.contains_key(sandbench_spec::record::BOOT_RETRIES_FACT)) {
            per_env.entry(r.key.environment.as_str()).or_default().insert(l.launch_id);
        }
    }
    per_env
        .into_iter()
        .map(|(env, launches)| {
            format!(
                "{env}: {} launch(es) followed a start that hung (no `ready` within `timeouts.boot_s`); see the `boot_retries` launch fact",
                launches.len()
            )
        })
        .collect()
}

/// The warning that a run used the test stand-in (`--debug-mode`) for its sandboxes: its
/// numbers say nothing of any isolation technology.
fn stand_in(records: &[TrialRecord]) -> Option<String> {
    let fact = sandbench_spec::record::STAND_IN_FACT;
    let n = records.iter().filter(|r| r.launch.as_ref().is_some_and(|l| l.facts.contains_key(fact))).count();
    (n > 0).then(|| {
        format!("TEST STAND-IN: {n} trial(s) ran in the test stand-in (`--debug-mode`), with no isolation: not a measurement of any environment")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_disk_cache_that_is_not_none_is_a_caveat_for_file_workloads_only() {
        let k = |k: Kind| RecordedKind::Known(k);
        let c = cache_caveat(&k(Kind::Fileio), "fc", Some(DiskCache::Unsafe)).unwrap();
        assert!(c.contains("host page cache") && c.contains("not durable") && c.contains("\"unsafe\""), "{c}");
        assert!(cache_caveat(&k(Kind::Fileio), "q", Some(DiskCache::None)).is_none());
        assert!(cache_caveat(&k(Kind::Fileio), "native", None).is_none());
        assert!(cache_caveat(&k(Kind::Cpu), "q", Some(DiskCache::Writeback)).is_none());
        let reads = cache_caveat(&k(Kind::Filemix), "q", Some(DiskCache::Writethrough)).unwrap();
        assert!(reads.contains("reads may be served"), "{reads}");
        assert!(cache_caveat(&RecordedKind::Unknown("fileio2".into()), "q", Some(DiskCache::Unsafe)).is_none());
    }

    #[test]
    fn the_default_baseline_is_the_native_driver_whatever_its_name() {
        let text = include_str!("../tests/fixtures/quick-run/trials.jsonl");
        let mut records: Vec<TrialRecord> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let envs = |r: &[TrialRecord]| first_order(r, |r| r.key.environment.clone());
        assert_eq!(native_environment(&records, &envs(&records)).as_deref(), Some("native"));
        for r in records.iter_mut().filter(|r| r.key.environment == "native") {
            r.key.environment = "bare-metal".into();
        }
        assert_eq!(native_environment(&records, &envs(&records)).as_deref(), Some("bare-metal"));
        records.retain(|r| r.dims.driver != sandbench_spec::Driver::Native);
        assert_eq!(native_environment(&records, &envs(&records)), None, "then the first environment is");
    }

    #[test]
    fn a_launch_after_a_hung_start_is_one_warning_per_environment() {
        let text = include_str!("../tests/fixtures/quick-run/trials.jsonl");
        let mut records: Vec<TrialRecord> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(hung_starts(&records).is_empty(), "the fixture has no hung start");
        // Every trial of the VM's one launch carries the fact: one launch, one warning.
        for r in records.iter_mut().filter(|r| r.key.environment == "qemu-microvm") {
            let l = r.launch.as_mut().unwrap();
            l.facts.insert("boot_retries".into(), "a launch hung and was replaced: …".into());
        }
        let w = hung_starts(&records);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("qemu-microvm: 1 launch(es)"), "{w:?}");
    }
}
