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

impl RunOptions {
    /// A sandbox of `env`: the given factory's (tests, `--debug-mode`), else its driver's.
    pub(crate) fn sandbox_for(&self, env: &Environment) -> Box<dyn Sandbox> {
        self.drivers.as_ref().map(|make| make(env)).unwrap_or_else(|| sandbench_sandbox::driver_for(env))
    }
}

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

impl RunOutcome {
    /// Counts a recorded trial by how it ended.
    pub(crate) fn count(&mut self, status: sandbench_spec::Status) {
        match status {
            sandbench_spec::Status::Ok => self.ok += 1,
            sandbench_spec::Status::Failed => self.failed += 1,
            sandbench_spec::Status::Timeout => self.timeout += 1,
        }
    }
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

/// What every launch of a run shares: where sandboxes keep their files, whether they get a
/// link to the host's peers and what those accept, how long a start may take.
pub(crate) struct LaunchBase {
    pub work_root: PathBuf,
    /// Give every sandbox a link to the host's peers (a workload needs one).
    pub network: bool,
    pub peer_limits: sandbench_workloads::PeerLimits,
    pub boot_timeout: std::time::Duration,
    pub cancel: Arc<AtomicBool>,
}

impl LaunchBase {
    /// The run's; creates its private work root.
    pub fn new(c: &sandbench_spec::Campaign, cancel: Arc<AtomicBool>) -> Result<LaunchBase, crate::RunError> {
        let work_root = work_root();
        sandbench_hostfs::private_dir(&work_root)?;
        Ok(LaunchBase {
            work_root,
            network: c.workload_specs().any(|w| w.kind.needs_link()),
            peer_limits: sandbench_workloads::PeerLimits::for_workloads(
                c.workload_specs().map(|w| (w.kind, &w.params)),
                std::time::Duration::from_secs_f64(c.timeouts.trial_s),
            ),
            boot_timeout: std::time::Duration::from_secs_f64(c.timeouts.boot_s),
            cancel,
        })
    }

    /// The run's `launch`-th launch, of a sandbox of `env` from `guest`, under an id unique on
    /// this host (the stale sweep knows it by its prefix).
    pub fn spec<'a>(&self, launch: u32, env: &'a Environment, guest: &'a Guest) -> sandbench_sandbox::LaunchSpec<'a> {
        let id = format!("{}{}-{launch}", sandbench_sandbox::stale::id_prefix(), env.name);
        sandbench_sandbox::LaunchSpec {
            work_dir: self.work_root.join(&id),
            id,
            env,
            agent: &guest.agent,
            image: guest.image.as_ref(),
            assets: guest.assets_dir.as_deref(),
            boot_timeout: self.boot_timeout,
            network: self.network,
            peer_limits: self.peer_limits,
            cancel: self.cancel.clone(),
        }
    }
}
