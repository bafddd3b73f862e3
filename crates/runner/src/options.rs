//! What a run is given (`RunOptions`) and gives back (`RunOutcome`), and what every sandbox of
//! it starts from: shared by the run (`execute`), its loop (`session`) and its trials.

use sandbench_image::GuestImage;
use sandbench_sandbox::Sandbox;
use sandbench_spec::Environment;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// How to run.
pub struct RunOptions {
    /// The campaign file (ignored when resuming: the manifest holds the campaign).
    pub campaign_path: PathBuf,
    /// The campaign's text when it does not come from `campaign_path` (the embedded default);
    /// `campaign_path` then only names it in messages and the manifest.
    pub campaign_text: Option<String>,
    /// Where new results folders are created.
    pub out_root: PathBuf,
    /// Finish this results folder instead of starting a new one.
    pub resume: Option<PathBuf>,
    /// The static agent binary.
    pub agent: PathBuf,
    /// The dynamically linked agent, used when a workload wants the onnxruntime engine (a
    /// static program cannot load `libonnxruntime.so`); `None` when it was not built.
    pub agent_dynamic: Option<PathBuf>,
    /// Set by Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    /// How progress shows on stderr.
    pub progress: crate::ProgressMode,
    /// The git revision sandbench was built from, for the manifest.
    pub git_revision: Option<String>,
    /// Makes each environment's sandbox; `None`: the environment's own driver
    /// (`sandbox::driver_for`). Tests pass a fake sandbox here to drive the loop without root.
    pub drivers: Option<DriverFactory>,
}

/// Makes the sandbox of an environment.
pub type DriverFactory = Arc<dyn Fn(&Environment) -> Box<dyn Sandbox> + Send + Sync>;

/// What a run did.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub ok: usize,
    pub failed: usize,
    pub timeout: usize,
    pub skipped_done: usize,
    pub interrupted: bool,
}

pub(crate) fn unix_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
}

/// `YYYYmmdd-HHMMSS` in UTC.
pub fn timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// What every sandbox of the run starts from: the agent, the guest image (when a driver needs
/// one) and the host's asset folder.
pub(crate) struct Guest {
    pub agent: PathBuf,
    pub image: Option<GuestImage>,
    pub assets_dir: Option<PathBuf>,
}

/// Scratch space of live sandboxes (bundles, VMM logs).
pub fn work_root() -> PathBuf {
    if sandbench_sandbox::is_root() {
        PathBuf::from("/run/sandbench/work")
    } else {
        std::env::temp_dir().join("sandbench-work")
    }
}
