//! One progress line per host: its current task while it runs, its state when it ends. On a
//! terminal these are indicatif spinners; elsewhere one printed line per change.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sandbench_fleet::{HostRecord, HostState};
use std::collections::BTreeMap;
use std::io::IsTerminal;

pub struct Bars {
    bars: BTreeMap<String, ProgressBar>,
    /// What was last printed per host, when not on a terminal.
    last: BTreeMap<String, String>,
    quiet: bool,
}

impl Bars {
    pub fn new(hosts: &[String], show: bool) -> Bars {
        let mut bars = BTreeMap::new();
        if show && std::io::stderr().is_terminal() {
            let multi = MultiProgress::new();
            let style = ProgressStyle::with_template("{spinner} {prefix:<16} {elapsed:>5} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            for h in hosts {
                let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()).with_prefix(h.clone()));
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
                bars.insert(h.clone(), bar);
            }
        }
        Bars { bars, last: BTreeMap::new(), quiet: !show }
    }

    /// Shows a host's new task or state.
    pub fn show(&mut self, host: &str, r: &HostRecord) {
        let text = match &r.state {
            HostState::Running => r.task.clone().unwrap_or_default(),
            other => other.describe(),
        };
        if let Some(bar) = self.bars.get(host) {
            if r.state == HostState::Running {
                bar.set_message(text);
            } else {
                bar.finish_with_message(text);
            }
        } else if !self.quiet && self.last.get(host) != Some(&text) {
            eprintln!("fleet: {host}: {text}");
            self.last.insert(host.to_string(), text);
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}
