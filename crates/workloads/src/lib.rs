//! Workloads run by `sandbench-agent` in every environment.
//!
//! A workload says *what* runs, never *how* it is isolated. Each kind has one module with a
//! parameter parser (used on the host to validate campaign files before anything launches) and
//! a `run` function (used in the agent).

pub mod ai;
pub mod cpu;
pub mod expect;
pub mod fidelity;
pub mod fileio;
pub mod filemix;
pub mod kind;
pub mod latency;
pub mod load;
pub mod net;
pub mod noop;
mod params;
pub mod phase;
pub mod scratch;
pub mod server;
pub mod transfer;

pub use kind::{Kind, RecordedKind, UnknownKind};
pub use params::{ParamError, Params};
pub use sandbench_protocol::parse_size;
use sandbench_protocol::Metrics;

/// What one trial of a workload produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub metrics: Metrics,
    /// The workload's outputs, kept so correctness can be checked after the fact.
    pub outputs: serde_json::Value,
}

/// Why a trial failed inside the agent.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The kind is not one this build knows.
    #[error(transparent)]
    UnknownKind(#[from] UnknownKind),
    #[error(transparent)]
    Params(#[from] ParamError),
    /// A system call failed: what was being done, and the OS's error.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The kind cannot run in this program (an AI kind in the agent without engines, or in the
    /// test stand-in).
    #[error("`{kind}` {why}")]
    NotHere { kind: Kind, why: &'static str },
    /// A step of a TLS transfer session failed (the I/O or TLS error as the cause).
    #[error("{what}: {source}")]
    Session {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The sandbox has no usable network peer for a network kind.
    #[error("{0}")]
    NoPeer(String),
    /// The workload's input is missing (a folder without files to send).
    #[error("{0}")]
    NoInput(String),
    /// A check of what moved failed: the data read back, the peer's count or answer.
    #[error("{0}")]
    Check(String),
    /// An inference engine or its input failed (its own typed error as the cause).
    #[error("{0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A load scenario's queries could not be made for this kind.
    #[error("{0}")]
    Scenario(String),
}

impl WorkloadError {
    /// [`WorkloadError::Io`] of `what` (made before the call: not for a timed loop, where a
    /// closure makes the words only on an error).
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorkloadError {
        let what = what.into();
        move |source| WorkloadError::Io { what, source }
    }
}

/// What a sandbox's peers on the host accept at most, whatever the guest sends: the runner
/// sets it from the campaign's own `net` and `transfer` workloads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerLimits {
    /// Files in one transfer session.
    pub transfer_files: u64,
    /// Bytes in one transfer session.
    pub transfer_bytes: u64,
    /// Longest one connection to a peer may last.
    pub session: std::time::Duration,
}

impl Default for PeerLimits {
    /// The `transfer` defaults (300 files of 48 KiB) and a 10-minute session.
    fn default() -> Self {
        PeerLimits {
            transfer_files: 300,
            transfer_bytes: 300 * (48 << 10),
            session: std::time::Duration::from_secs(600),
        }
    }
}

impl PeerLimits {
    /// The largest session any of `workloads` (kind, parameters) asks for; `session` is the
    /// trial timeout.
    pub fn for_workloads<'a>(
        workloads: impl Iterator<Item = (Kind, &'a serde_json::Map<String, serde_json::Value>)>,
        session: std::time::Duration,
    ) -> PeerLimits {
        let mut l = PeerLimits { transfer_files: 0, transfer_bytes: 0, session };
        for (kind, params) in workloads {
            if kind != Kind::Transfer {
                continue;
            }
            if let Ok(t) = transfer::TransferParams::parse(&Params::new(params)) {
                l.transfer_files = l.transfer_files.max(t.files);
                // Files of a guest directory have sizes only the guest knows: the per-file cap.
                let size = if t.source_dir.is_some() { transfer::MAX_FILE } else { t.file_size };
                l.transfer_bytes = l.transfer_bytes.max(t.files.saturating_mul(size));
            }
        }
        l
    }
}

/// Where a sandbox's network workloads find their peers on the host: the runner adds these to
/// the parameters of `net` and `transfer` trials (unless the campaign set them).
#[derive(Debug, Clone, PartialEq)]
pub struct Peers {
    pub net: String,
    pub net_token: String,
    pub transfer: String,
    pub transfer_cert_sha256: String,
    pub transfer_token: String,
}

impl Peers {
    /// The parameters `kind` takes from the peers.
    pub fn params(&self, kind: Kind) -> Vec<(&'static str, String)> {
        match kind {
            Kind::Net => vec![("peer", self.net.clone()), ("token", self.net_token.clone())],
            Kind::Transfer => vec![
                ("peer", self.transfer.clone()),
                ("peer_cert_sha256", self.transfer_cert_sha256.clone()),
                ("token", self.transfer_token.clone()),
            ],
            Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix => Vec::new(),
            Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => Vec::new(),
        }
    }
}

/// Checks a workload's parameters without running it (host side, at campaign load).
pub fn validate(kind: Kind, params: &serde_json::Map<String, serde_json::Value>) -> Result<(), WorkloadError> {
    kind::validate(kind, &Params::new(params))
}

/// Runs one trial of `kind` with `params` in this process.
pub fn run(kind: Kind, params: &serde_json::Map<String, serde_json::Value>) -> Result<Outcome, WorkloadError> {
    kind::run(kind, &Params::new(params))
}
