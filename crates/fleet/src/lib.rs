//! One campaign on many hosts (`sandbench fleet`), driven through Ansible rather than a
//! home-made remote runner: Ansible's inventory, a playbook shipped with sandbench
//! (`fleet/run.yml`), and a stdout callback of ours (`fleet/callback_plugins`) whose JSON lines
//! tell, per host, which task runs and how each ended. The Rust side keeps the fleet run's
//! manifest (state per host, written atomically), resumes only the hosts not done, and checks
//! every results folder a host sends back before it is read.

pub mod events;
pub mod inventory;
pub mod manifest;
pub mod playbook;
pub mod run;
pub mod unpack;

pub use events::Event;
pub use inventory::{Host, Inventory};
pub use manifest::{FleetManifest, HostRecord, HostState};

/// Why a fleet operation could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// An Ansible program is missing or failed as a whole.
    #[error("{program}: {detail}")]
    Ansible { program: String, detail: String },
    #[error("inventory {path}: {detail}")]
    Inventory { path: String, detail: String },
    #[error("inventory {path}: ansible-inventory printed no JSON: {source}")]
    InventoryJson { path: String, source: serde_json::Error },
    #[error("{path}: {source}")]
    Manifest { path: String, source: serde_json::Error },
    /// A host's results archive is unsafe or not a results folder (the cause is in the
    /// message, and kept typed).
    #[error("results of {host}: {cause}")]
    Results { host: String, cause: crate::unpack::UnpackError },
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> FleetError {
    let what = what.into();
    move |source| FleetError::Io { what, source }
}
