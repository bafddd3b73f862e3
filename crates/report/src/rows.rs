//! The rows of one environment × workload: a series per metric (summary, interval, outliers,
//! validity) and the host row (CPU, memory, the median trial's samples).

use crate::fmt::first_order_str;
use crate::fmt::mean;
use crate::types::{HostRow, Options};
use crate::types::{Series, Validity};
use sandbench_spec::{Manifest, Status, TrialRecord};
use sandbench_stats::{cumulative_sd, outliers, summarize, Outliers, Summary};

/// The latest records of one environment × workload.
pub(crate) struct Group<'r> {
    env: &'r str,
    wl: &'r str,
    first: &'r TrialRecord,
    measured: Vec<&'r TrialRecord>,
    ok: Vec<&'r TrialRecord>,
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

impl<'r> Group<'r> {
    pub fn of(latest: &[&'r TrialRecord], env: &'r str, wl: &'r str) -> Option<Group<'r>> {
        let group: Vec<&TrialRecord> =
            latest.iter().copied().filter(|r| r.key.workload == wl && r.key.environment == env).collect();
        let first = *group.first()?;
        let measured: Vec<&TrialRecord> = group.iter().copied().filter(|r| !r.dims.warmup).collect();
        let ok = measured.iter().copied().filter(|r| r.status == Status::Ok).collect();
        Some(Group { env, wl, first, measured, ok })
    }

    /// The headline metric, the host's round trip, and the energy metrics where measured.
    pub fn metrics(&self) -> Vec<(String, bool)> {
        let (headline, hib) = self.first.dims.kind.headline();
        let mut metrics = vec![(headline.to_string(), hib)];
        if headline != "host_wall_ms" {
            metrics.push(("host_wall_ms".into(), false));
        }
        // Host-measured energy, where the run had a power source.
        for (m, higher) in sandbench_spec::record::ENERGY_METRICS {
            if self.ok.iter().any(|r| r.metric(m).is_some()) {
                metrics.push((m.to_string(), higher));
            }
        }
        metrics
    }

    pub fn series(
        &self,
        metric: &str,
        higher: bool,
        warmup: u32,
        manifest: &Manifest,
        opts: &Options,
        seed: u64,
    ) -> Series {
        let values: Vec<f64> = self.ok.iter().filter_map(|r| r.metric(metric)).collect();
        let summary = summarize(&values);
        let outl = outliers(&values);
        let reasons = self.reasons(summary.as_ref(), outl.as_ref(), warmup);
        let headline = self.first.dims.kind.headline().0;
        Series {
            environment: self.env.to_string(),
            workload: self.wl.to_string(),
            kind: self.first.dims.kind.clone(),
            driver: self.first.dims.driver,
            accel: self.ok.first().and_then(|r| r.dims.accel).or(self.first.dims.accel),
            disk_cache: self.first.dims.disk_cache,
            metric: metric.to_string(),
            unit: self.ok.iter().find_map(|r| r.unit(metric)).unwrap_or_default(),
            higher_is_better: higher,
            ci: sandbench_stats::bootstrap_mean_ci(&values, 0.95, opts.resamples, seed),
            outliers: outl,
            cumulative_sd: cumulative_sd(&values, 10),
            summary,
            values,
            failed: self.measured.len() - self.ok.len(),
            validity: Validity::from(reasons),
            stop: (metric == headline)
                .then(|| {
                    manifest.stops.get(&sandbench_spec::trials::series_key(self.env, self.wl)).map(|s| s.describe())
                })
                .flatten(),
        }
    }

    /// Why a series is not VALID: too few samples for its percentiles, spread, failures, no
    /// warm-up, outliers, mixed accelerators.
    fn reasons(&self, summary: Option<&Summary>, outl: Option<&Outliers>, warmup: u32) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some(s) = summary {
            if s.n < 64 {
                reasons.push(format!("p90/p95 need ≥ 64 samples at 99 % confidence (have {})", s.n));
            } else if s.n < 662 {
                reasons.push(format!("p99 needs ≥ 662 samples at 99 % confidence (have {})", s.n));
            }
            if s.cv >= 0.03 {
                reasons.push(format!("CV {} ≥ 3 %: more trials would tighten the estimate", pct(s.cv)));
            }
        } else {
            reasons.push("no successful measured trial".into());
        }
        let (measured, ok) = (self.measured.len(), self.ok.len());
        if measured > ok {
            reasons.push(format!("{} of {measured} measured trials did not succeed", measured - ok));
        }
        if warmup == 0 {
            reasons.push("no warm-up trials: the first trial includes cold caches".into());
        }
        if let Some(o) = outl.filter(|o| !o.mad.is_empty() || !o.tukey.is_empty()) {
            reasons.push(format!(
                "outliers (kept): {} by modified z-score, {} by Tukey fences",
                o.mad.len(),
                o.tukey.len()
            ));
        }
        let accels =
            first_order_str(self.ok.iter().map(|r| r.dims.accel.map(|a| a.as_str().to_string()).unwrap_or_default()));
        if accels.len() > 1 {
            reasons.push(format!("mixed accelerators in one series: {}", accels.join(", ")));
        }
        reasons.extend(self.board_reason());
        reasons
    }

    /// Trials during which the board throttled, ran hot or held its clock back: their numbers
    /// are the board's as much as the sandbox's.
    fn board_reason(&self) -> Option<String> {
        let warned: Vec<Vec<String>> = self
            .ok
            .iter()
            .filter_map(|r| r.host.as_ref()?.board.as_ref().map(|b| b.warnings()))
            .filter(|w| !w.is_empty())
            .collect();
        let first = warned.first()?;
        Some(format!("board: {} of {} trials ran so ({})", warned.len(), self.ok.len(), first.join("; ")))
    }

    /// Host CPU and memory over the ok trials, and the median trial's samples (by headline).
    pub fn host_row(&self) -> HostRow {
        let host = |f: &dyn Fn(&sandbench_spec::HostSummary) -> Option<f64>| -> Vec<f64> {
            self.ok.iter().filter_map(|r| r.host.as_ref().and_then(f)).collect()
        };
        let max_mib = |f: &dyn Fn(&sandbench_spec::HostSummary) -> Option<u64>| -> Option<f64> {
            self.ok.iter().filter_map(|r| r.host.as_ref().and_then(f)).max().map(|k| k as f64 / 1024.0)
        };
        let headline = self.first.dims.kind.headline().0;
        let mut by_metric: Vec<&&TrialRecord> = self.ok.iter().filter(|r| r.metric(headline).is_some()).collect();
        by_metric.sort_by(|a, b| a.metric(headline).unwrap_or(0.0).total_cmp(&b.metric(headline).unwrap_or(0.0)));
        HostRow {
            environment: self.env.to_string(),
            workload: self.wl.to_string(),
            cpu_mean_pct: summarize(&host(&|h| Some(h.cpu_mean_pct))),
            tree_cpu_mean_pct: mean(&host(&|h| h.tree_cpu_mean_pct)),
            cpu_busy_mean_pct: mean(&host(&|h| h.cpu_busy_mean_pct)),
            cpu_max_pct: host(&|h| Some(h.cpu_max_pct)).into_iter().reduce(f64::max),
            first_200pct_ms: mean(&host(&|h| h.first_200pct_ms)),
            pss_max_mib: max_mib(&|h| h.pss_max_kib),
            cgroup_mem_max_mib: max_mib(&|h| h.cgroup_mem_max_kib),
            cgroup_working_set_max_mib: max_mib(&|h| h.cgroup_working_set_max_kib),
            representative_series: by_metric
                .get(by_metric.len() / 2)
                .and_then(|r| r.host.as_ref().map(|h| h.series.clone()))
                .filter(|s| !s.is_empty()),
        }
    }
}
