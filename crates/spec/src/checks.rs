//! Reading a campaign file and checking it: the top-level keys, each `[[environment]]` table
//! (its own values, and which keys its driver takes) and each workload's parameters. A problem
//! is reported at the file, line and column it concerns.

use crate::campaign::{invalid, valid_name, Campaign, CampaignError, Environment, Problem, MAX_TIMEOUT_S};
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
    if let Some(p) = e.config.pids_max().filter(|p| *p < 16) {
        out.push(Problem {
            span: span.clone(),
            message: format!("`pids_max` = {p} is too low: the agent alone needs about 10; use 16 or more"),
        });
    }
    if e.vcpus == 0 || e.memory_mib < 64 {
        out.push(Problem { span: span.clone(), message: "`vcpus` must be ≥ 1 and `memory_mib` ≥ 64".into() });
    }
    out
}
