//! How a run shows where it is: a bar in a terminal, a line per trial in a log (so a run
//! redirected to a file is never silent for long), or nothing.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;

/// How the run reports progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// An indicatif bar (stderr is a terminal).
    Bar,
    /// One line per finished trial (stderr is a file or a pipe).
    Lines,
    /// Nothing (`--quiet`, tests, `try`).
    #[default]
    Quiet,
}

impl ProgressMode {
    /// The bar in a terminal, lines elsewhere, nothing when `quiet`.
    pub fn for_stderr(quiet: bool, terminal: bool) -> ProgressMode {
        match (quiet, terminal) {
            (true, _) => ProgressMode::Quiet,
            (false, true) => ProgressMode::Bar,
            (false, false) => ProgressMode::Lines,
        }
    }
}

/// The run's progress display.
pub(crate) struct Progress {
    mode: ProgressMode,
    bar: ProgressBar,
    total: u64,
    done: u64,
    t0: Instant,
    current: String,
}

impl Progress {
    pub fn new(mode: ProgressMode, len: usize) -> Progress {
        let bar = if mode == ProgressMode::Bar { ProgressBar::new(len as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} trials  {msg}  [{elapsed_precise}, eta {eta}]")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress { mode, bar, total: len as u64, done: 0, t0: Instant::now(), current: String::new() }
    }

    /// A planned trial that will not run (its series met the stopping rule).
    pub fn skip(&mut self) {
        self.total = self.total.saturating_sub(1);
        self.bar.set_length(self.total);
    }

    /// The trial about to start: `env · workload · trial n`.
    pub fn start(&mut self, what: String) {
        self.bar.set_message(what.clone());
        self.current = what;
    }

    /// The current trial ended, with `status` (ok, failed: …).
    pub fn finish_trial(&mut self, status: &str) {
        self.done += 1;
        self.bar.inc(1);
        if self.mode == ProgressMode::Lines {
            let s = self.t0.elapsed().as_secs();
            eprintln!("[{:>3}/{:<3} {:>3}m{:02}s] {}: {status}", self.done, self.total, s / 60, s % 60, self.current);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
