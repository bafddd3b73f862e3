//! Sandbox ids: every id this process creates starts with `sb<pid>-`, so whatever carries the
//! id of a pid that no longer runs is stale; a stable hash of an id names its links and tables.

use std::path::Path;

/// The label sandbench puts on every docker and containerd container it creates (value: the
/// sandbox id). The sweep removes only containers that carry it.
pub const LABEL: &str = "sandbench.id";

/// The prefix of every sandbox id this process creates.
pub fn id_prefix() -> String {
    format!("sb{}-", std::process::id())
}

/// The owning pid encoded in a sandbox id, if it is one of ours.
pub fn owner_of(id: &str) -> Option<u32> {
    id.strip_prefix("sb")?.split('-').next()?.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A sandbox id of ours whose owning sandbench no longer runs.
pub(crate) fn stale(id: &str) -> bool {
    owner_of(id).is_some_and(|p| p != std::process::id() && !alive(p))
}

/// A stable 32-bit hash of a sandbox id (FNV-1a), for interface names and subnets.
pub fn id_hash(id: &str) -> u32 {
    id.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}
