//! Reading a campaign file and checking it: the top-level keys, each `[[environment]]` table
//! (its own values, and which keys its driver takes) and each workload's parameters. A problem
//! is reported at the file, line and column it concerns.

use crate::campaign::{
    invalid, valid_name, Accel, Campaign, CampaignError, Driver, Environment, Machine, Problem, MAX_TIMEOUT_S,
};
use std::path::Path;

impl Campaign {
    /// Reads and parses a campaign file; structural checks only (see [`Campaign::check`]).
    pub fn load(path: &Path) -> Result<(Campaign, String), CampaignError> {
        let text = std::fs::read_to_string(path).map_err(|source| CampaignError::Read { path: path.into(), source })?;
        let c = Self::parse(&text, path)?;
        Ok((c, text))
    }

    pub fn parse(text: &str, path: &Path) -> Result<Campaign, CampaignError> {
        let c: Campaign = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            invalid(path, text, span.start, e.message().to_string())
        })?;
        if let Some(p) = c.problems().into_iter().next() {
            // A problem of a top-level key has no span of its own: point at the key it names.
            let at = if p.span == (0..0) { key_offset(text, &p.message).unwrap_or(0) } else { p.span.start };
            return Err(invalid(path, text, at, p.message));
        }
        Ok(c)
    }

    /// Checks that do not depend on the host: names, counts, options per driver.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = self.top_level_problems();
        let mut names = std::collections::HashSet::new();
        for env in &self.environments {
            out.extend(crate::checks::environment_problems(env.get_ref(), env.span(), &mut names));
            out.extend(crate::checks::driver_key_problems(env.get_ref(), env.span()));
        }
        out.extend(self.workload_problems());
        out
    }

    /// The top-level keys: at least one environment and workload, trials, sampling, timeouts,
    /// the run's name, `[power]`.
    fn top_level_problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let whole = 0..0;
        if self.environments.is_empty() {
            out.push(Problem { span: whole.clone(), message: "no [[environment]] table; add at least one".into() });
        }
        if self.workloads.is_empty() {
            out.push(Problem { span: whole.clone(), message: "no [[workload]] table; add at least one".into() });
        }
        if let Some(message) = self.trials.problem() {
            out.push(Problem { span: whole.clone(), message });
        }
        for message in self.capacity.iter().flat_map(|c| c.problems()) {
            out.push(Problem { span: whole.clone(), message });
        }
        for message in self.power.problems() {
            out.push(Problem { span: whole.clone(), message });
        }
        if self.sampling.interval_ms < 10 {
            out.push(Problem { span: whole.clone(), message: "`sampling.interval_ms` must be at least 10".into() });
        }
        for (key, v) in [("trial_s", self.timeouts.trial_s), ("boot_s", self.timeouts.boot_s)] {
            if !(v > 0.0 && v <= MAX_TIMEOUT_S) {
                out.push(Problem {
                    span: whole.clone(),
                    message: format!(
                        "`timeouts.{key}` = {v} must be a number of seconds in (0, {MAX_TIMEOUT_S}] (7 days)"
                    ),
                });
            }
        }
        if self.timeouts.boot_retries > crate::campaign::MAX_BOOT_RETRIES {
            out.push(Problem {
                span: whole.clone(),
                message: format!(
                    "`timeouts.boot_retries` = {} must be 0 to {}",
                    self.timeouts.boot_retries,
                    crate::campaign::MAX_BOOT_RETRIES
                ),
            });
        }
        if let Some(name) = self.name.as_deref().filter(|n| !valid_run_name(n)) {
            out.push(Problem {
                span: whole,
                message: format!(
                    "`name` = {name:?} must be 1-64 characters of A-Z, a-z, 0-9, `.`, `-` or `_`, not starting with `.`: \
                     it names the results folder under --out"
                ),
            });
        }
        out
    }

    /// Workload names: valid and unique.
    fn workload_problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut wnames = std::collections::HashSet::new();
        for w in &self.workloads {
            let name = &w.get_ref().name;
            if !valid_name(name) {
                out.push(Problem {
                    span: w.span(),
                    message: format!("workload name `{name}` must be 1-40 characters of a-z, 0-9, `-` or `_`"),
                });
            }
            if !wnames.insert(name.clone()) {
                out.push(Problem { span: w.span(), message: format!("workload name `{name}` is used twice") });
            }
            let envs: Vec<&str> = self.envs().map(|e| e.name.as_str()).collect();
            if let Some(bad) = w.get_ref().environments.iter().find(|e| !envs.contains(&e.as_str())) {
                out.push(Problem {
                    span: w.span(),
                    message: format!("workload `{name}`: no environment `{bad}`; valid: {}", envs.join(", ")),
                });
            }
        }
        out
    }
}

/// A campaign name is a single path component: no `/`, no `..`, nothing hidden.
fn valid_run_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Where the key a message names first (in backticks, last dotted part) is set in `text`.
fn key_offset(text: &str, message: &str) -> Option<usize> {
    let named = message.split('`').nth(1)?;
    let key = named.rsplit('.').next()?;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        if let Some(rest) = body.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                return Some(offset + (line.len() - body.len()));
            }
        }
        offset += line.len();
    }
    None
}

/// One environment's own checks: its name (valid, unique), pids, vcpus and memory.
pub(crate) fn environment_problems(
    e: &Environment,
    span: std::ops::Range<usize>,
    names: &mut std::collections::HashSet<String>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    if !valid_name(&e.name) {
        out.push(Problem {
            span: span.clone(),
            message: format!("environment name `{}` must be 1-40 characters of a-z, 0-9, `-` or `_`", e.name),
        });
    }
    if !names.insert(e.name.clone()) {
        out.push(Problem { span: span.clone(), message: format!("environment name `{}` is used twice", e.name) });
    }
    if e.pids_max.is_some_and(|p| p < 16) {
        out.push(Problem {
            span: span.clone(),
            message: format!(
                "`pids_max` = {} is too low: the agent alone needs about 10; use 16 or more",
                e.pids_max.unwrap_or(0)
            ),
        });
    }
    if e.vcpus == 0 || e.memory_mib < 64 {
        out.push(Problem { span: span.clone(), message: "`vcpus` must be ≥ 1 and `memory_mib` ≥ 64".into() });
    }
    out
}

/// The driver-specific keys `driver` takes: an exhaustive match, so a new driver must say.
/// Firecracker and Cloud Hypervisor are KVM microVMs: `machine = "microvm"` and
/// `accel = "kvm"`/"auto" stay valid so an environment switches VMM in one line.
fn keys_of(driver: Driver) -> &'static [&'static str] {
    const VM: [&str; 4] = ["machine", "accel", "disk_cache", "scratch_mib"];
    match driver {
        Driver::Native => &["pids_max"],
        Driver::Oci => &["runtime", "runtime_args", "pids_max", "seccomp", "user_namespace"],
        Driver::Docker => &["runtime", "socket", "pids_max"],
        Driver::Containerd => &["shim", "socket", "pids_max"],
        Driver::Qemu => &[VM[0], VM[1], VM[2], VM[3], "qemu_binary", "cpu_model", "extra_args"],
        Driver::Firecracker => &[VM[0], VM[1], VM[2], VM[3], "binary", "jailer", "jailer_uid", "jailer_gid"],
        Driver::CloudHypervisor => &[VM[0], VM[1], VM[2], VM[3], "binary"],
    }
}

/// Keys that apply only to some drivers, and what the microVM drivers refuse.
pub(crate) fn driver_key_problems(e: &Environment, span: std::ops::Range<usize>) -> Vec<Problem> {
    let mut out = Vec::new();
    use Driver::*;
    let set: [(&str, bool); 18] = [
        ("runtime", e.runtime.is_some()),
        ("runtime_args", e.runtime_args.is_some()),
        ("shim", e.shim.is_some()),
        ("socket", e.socket.is_some()),
        ("machine", e.machine.is_some()),
        ("accel", e.accel.is_some()),
        ("disk_cache", e.disk_cache.is_some()),
        ("qemu_binary", e.qemu_binary.is_some()),
        ("cpu_model", e.cpu_model.is_some()),
        ("extra_args", e.extra_args.is_some()),
        ("binary", e.binary.is_some()),
        ("scratch_mib", e.scratch_mib.is_some()),
        ("jailer", e.jailer.is_some()),
        ("pids_max", e.pids_max.is_some()),
        ("seccomp", e.seccomp.is_some()),
        ("user_namespace", e.user_namespace.is_some()),
        ("jailer_uid", e.jailer_uid.is_some()),
        ("jailer_gid", e.jailer_gid.is_some()),
    ];
    if matches!(e.driver, Firecracker | CloudHypervisor) {
        if e.machine.is_some_and(|m| m != Machine::Microvm) {
            out.push(Problem {
                span: span.clone(),
                message: format!(
                    "driver = \"{}\" boots only microVMs: `machine` must be \"microvm\" or absent",
                    e.driver.as_str()
                ),
            });
        }
        if e.accel == Some(Accel::Tcg) {
            out.push(Problem {
                span: span.clone(),
                message: format!(
                    "driver = \"{}\" needs KVM: `accel` must be \"kvm\", \"auto\" or absent",
                    e.driver.as_str()
                ),
            });
        }
    }
    for (key, _) in set.into_iter().filter(|(_, set)| *set) {
        if !keys_of(e.driver).contains(&key) {
            let valid: Vec<String> =
                Driver::all().filter(|d| keys_of(*d).contains(&key)).map(|d| format!("\"{}\"", d.as_str())).collect();
            out.push(Problem {
                span: span.clone(),
                message: format!(
                    "key `{key}` applies only to driver = {} (environment `{}` has driver = \"{}\")",
                    valid.join(" or "),
                    e.name,
                    e.driver.as_str()
                ),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DiskCache;

    #[test]
    fn every_driver_key_belongs_to_a_driver_and_is_refused_elsewhere_with_the_takers_named() {
        let mut e = Environment::new("e", Driver::Oci, 1, 256);
        e.cpu_model = Some("max".into());
        e.pids_max = Some(64);
        let problems = driver_key_problems(&e, 0..0);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("key `cpu_model` applies only to driver = \"qemu\""));
        // A key's takers are named in declaration order.
        e.driver = Driver::Native;
        e.cpu_model = None;
        e.disk_cache = Some(DiskCache::Writeback);
        let problems = driver_key_problems(&e, 0..0);
        assert!(problems[0].message.contains("driver = \"qemu\" or \"firecracker\" or \"cloud-hypervisor\""));
        // The microVM drivers take every key the switch between VMMs needs.
        for d in [Driver::Qemu, Driver::Firecracker, Driver::CloudHypervisor] {
            assert!(["machine", "accel", "disk_cache", "scratch_mib"].iter().all(|k| keys_of(d).contains(k)), "{d:?}");
        }
    }
}
