//! Isolation environments behind one trait.
//!
//! Each driver module launches the real thing (a process, an OCI runtime, a VMM), hands back
//! the agent's channel, what to account to the sandbox and how it booted, and tears everything
//! down again: idempotently, on success, failure, timeout and interruption alike.

pub mod cgroups;
pub mod channel;
pub mod driver;
pub mod firewall;
pub mod hardening;
pub mod ids;
pub mod net;
pub mod probe;
mod process;
pub mod scratch;
pub mod stale;
pub mod stand_in;

use channel::AgentChannel;
use sandbench_image::GuestImage;
use sandbench_sampler::Accounting;
use sandbench_spec::{BootTimeline, Environment};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

pub use channel::ChannelError;
pub use driver::daemon_container::cgroup_from_proc;
pub use driver::{DoctorContext, DriverDims, Technology};

/// Everything a driver needs to start one sandbox.
pub struct LaunchSpec<'a> {
    /// Unique among live sandboxes on this host; used for cgroup, container and VM names.
    pub id: String,
    pub env: &'a Environment,
    /// The static agent binary (what `native` runs).
    pub agent: &'a std::path::Path,
    /// The guest image; needed by every driver but `native`.
    pub image: Option<&'a GuestImage>,
    /// Scratch space for this sandbox (bundle, logs); removed by teardown.
    pub work_dir: PathBuf,
    /// The host's asset folder (models, inputs), given to the native agent as
    /// `SANDBENCH_ASSETS`; sandboxes read the copy inside the guest image.
    pub assets: Option<&'a std::path::Path>,
    pub boot_timeout: Duration,
    /// Give the sandbox a private link to a peer on the host (`net` workloads); needs root.
    pub network: bool,
    /// What the link's peers accept at most in one session (from the campaign's workloads).
    pub peer_limits: sandbench_workloads::PeerLimits,
    /// Set by Ctrl-C: a launch in progress gives up promptly.
    pub cancel: Arc<AtomicBool>,
}

/// A sandbox whose agent is ready.
pub struct Running {
    pub channel: AgentChannel,
    pub accounting: Accounting,
    pub boot: BootTimeline,
    /// Driver facts for the record: versions, command line, accel and why, limits applied.
    pub facts: BTreeMap<String, String>,
    /// sandbench's peers on the host end of the sandbox's link, when `LaunchSpec::network`
    /// asked for one.
    pub peers: Option<sandbench_workloads::Peers>,
    /// The accelerator a VM really runs on (`auto` resolved); `None` for containers.
    pub accel: Option<sandbench_spec::Accel>,
}

/// Why a sandbox could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("`{program}` could not be started: {source}; {hint}")]
    Spawn { program: String, source: std::io::Error, hint: String },
    #[error("the agent did not become ready: {source} ({reached})")]
    Boot { source: ChannelError, reached: String, console_tail: Vec<String> },
    #[error("unsupported: {why}")]
    Unsupported { why: String },
    /// A command sandbench ran (tar, docker import, ip, nft, mount, ctr) failed.
    #[error("{command}: {detail}")]
    Command { command: String, detail: String },
    /// A command that must end did not, and was killed.
    #[error("{what} did not finish within {secs} s; killed")]
    Wedged { what: String, secs: u64 },
    #[error("driver `{driver}` needs the guest image; none was built")]
    NoImage { driver: &'static str },
    /// A VMM's API refused or failed a request.
    #[error("{vmm} {request}: {detail}")]
    Api { vmm: &'static str, request: String, detail: String },
    /// A daemon's container is not in the state its driver needs (no pid, no cgroup).
    #[error("{0}")]
    ContainerState(String),
}

impl SandboxError {
    /// The sandbox's last console lines, where the error carries them.
    pub fn console_tail(&self) -> Vec<String> {
        match self {
            SandboxError::Boot { console_tail, .. } => console_tail.clone(),
            _ => Vec::new(),
        }
    }

    /// The error with the sandbox's last console line, where it has one: what a one-line
    /// verdict (a KVM probe, a hung start's launch fact) says of a failed start.
    pub fn with_last_output(&self) -> String {
        match self.console_tail().last() {
            Some(l) => format!("{self} (last output: {l})"),
            None => self.to_string(),
        }
    }

    /// A start that hung: the sandbox made no error of its own but its agent never said
    /// `ready` within the boot timeout. Another launch may well succeed (see the runner's
    /// `boot_retries`); a crash, a refusal or an unsupported feature would not.
    pub fn is_hung_start(&self) -> bool {
        matches!(self, SandboxError::Boot { source: ChannelError::Timeout(_), .. })
    }
}

/// One isolation technology.
pub trait Sandbox: Send {
    /// Starts the sandbox and waits until its agent is ready.
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError>;
    /// Stops everything `launch` started. Idempotent; never leaves a process, cgroup, mount or
    /// bundle behind, whatever state the sandbox is in.
    fn teardown(&mut self) -> Result<(), SandboxError>;
    /// The VMM's own counters since the previous call (Firecracker's metrics), asked after
    /// every trial; `None` where the technology has none.
    fn vmm_metrics(&mut self) -> Option<serde_json::Value> {
        None
    }
}

/// The driver for an environment.
pub fn driver_for(env: &Environment) -> Box<dyn Sandbox> {
    driver::for_environment(env).sandbox()
}

/// Versions of what an environment's driver runs (runtime, daemon, shim, VMM), for the
/// manifest: each driver answers for itself.
pub fn versions(env: &Environment) -> Vec<(String, String)> {
    driver::for_environment(env).versions()
}

/// What an environment's records carry of its driver.
pub fn dimensions(env: &Environment) -> DriverDims {
    driver::for_environment(env).dimensions()
}

impl LaunchSpec<'_> {
    /// The image, or an error saying this driver needs one.
    pub fn need_image(&self) -> Result<&GuestImage, SandboxError> {
        self.image.ok_or_else(|| SandboxError::NoImage { driver: self.env.driver().as_str() })
    }
}

/// Root is needed for cgroups, OCI runtimes and tap devices.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// How long to wait for processes to exit after a kill.
pub(crate) const KILL_WAIT: Duration = Duration::from_secs(5);
/// Longest a teardown command (runtime kill/delete, docker rm, ip, nft) may take before it is
/// killed: a wedged daemon must not hold teardown forever.
pub const TEARDOWN_WAIT: Duration = Duration::from_secs(20);
