//! The sandbench agent protocol (version 1).
//!
//! Every message is one line: the prefix [`PREFIX`] followed by one JSON object and `\n`.
//! The prefix lets the host skip everything else that shares the channel, such as kernel log
//! lines on a serial console. Host → agent messages are [`HostMsg`], agent → host messages are
//! [`AgentMsg`]. The host side treats every byte from the guest as untrusted: see
//! [`LineParser`], which bounds line length and never panics.
//!
//! The full description lives in `docs/PROTOCOL.md`.

mod build_marker;
pub mod histogram;
pub mod kind;
mod message;
mod parser;
mod scenario;
mod size;

pub use build_marker::{agent_has_engines, ENGINES_MARKER, WITHOUT_ENGINES, WITH_ENGINES};
pub use histogram::Histogram;
pub use kind::{Kind, RecordedKind, UnknownKind};
pub use scenario::ScenarioKind;
pub use size::parse_size;

pub use message::{AgentMsg, GuestCpu, HostMsg, Metric, Metrics, PROTOCOL_VERSION};
pub use parser::{truncate, Event, LineParser, MAX_LINE};

/// The environment variable a driver sets to tell the agent where its scratch space is
/// (file workloads write there); without it the agent uses [`SCRATCH_DIR`].
pub const SCRATCH_ENV: &str = "SANDBENCH_SCRATCH";
/// The scratch directory inside every sandbox but `native`.
pub const SCRATCH_DIR: &str = "/scratch";
/// The virtio-blk serial of a VM's scratch disk, which the agent mounts at [`SCRATCH_DIR`].
pub const SCRATCH_DISK_SERIAL: &str = "sbscratch";

/// The fixed prefix of every protocol line.
pub const PREFIX: &str = "@@sb ";

/// Encodes a message as one protocol line, prefix and trailing newline included.
pub fn encode<T: serde::Serialize>(msg: &T) -> String {
    // Serialising these plain data types cannot fail: no maps with non-string keys, no
    // user-defined Serialize impls that error.
    let json = serde_json::to_string(msg)
        .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"message\":\"encode failed: {e}\"}}"));
    format!("{PREFIX}{json}\n")
}

/// Decodes a host → agent line (used by the agent). Lines without the prefix are `None`.
pub fn decode_host(line: &str) -> Option<Result<HostMsg, serde_json::Error>> {
    let idx = line.find(PREFIX)?;
    let body = line[idx + PREFIX.len()..].trim_end_matches(['\r', '\n']);
    Some(serde_json::from_str(body))
}
