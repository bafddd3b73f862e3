//! `fleet.json`: what a fleet run is (campaign, inventory, Ansible's version) and how it stands
//! on each host. Written atomically (a temporary file renamed over it), so an interrupted
//! controller leaves either the old or the new manifest, never half of one.

use crate::{io, FleetError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// How a fleet run stands on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", content = "why", rename_all = "snake_case")]
pub enum HostState {
    /// Not started yet.
    Pending,
    /// The playbook runs on it.
    Running,
    /// Its results folder came back and is a complete run.
    Complete,
    /// A task failed there (the why names the task and Ansible's message).
    Failed(String),
    /// SSH could not reach it (the why is Ansible's message).
    Unreachable(String),
    /// The controller was stopped while the host ran.
    Interrupted,
}

impl HostState {
    /// Done with: a resumed fleet run leaves it alone.
    pub fn is_complete(&self) -> bool {
        matches!(self, HostState::Complete)
    }

    /// The state as one word and its reason, for tables.
    pub fn describe(&self) -> String {
        match self {
            HostState::Pending => "pending".into(),
            HostState::Running => "running".into(),
            HostState::Complete => "complete".into(),
            HostState::Failed(why) => format!("failed: {why}"),
            HostState::Unreachable(why) => format!("unreachable: {why}"),
            HostState::Interrupted => "interrupted".into(),
        }
    }
}

/// One host of the fleet run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub address: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// What the facts task found (architecture, cores, memory, kernel, KVM).
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub state: HostState,
    /// The task it was at last.
    #[serde(default)]
    pub task: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub started: Option<u64>,
    #[serde(default)]
    pub ended: Option<u64>,
    /// Its results folder, relative to the fleet run's folder, once it came back.
    #[serde(default)]
    pub results: Option<String>,
}

/// The fleet run's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetManifest {
    pub schema: u32,
    pub id: String,
    /// The campaign file as given, and its text (campaign.toml in the folder).
    pub campaign_path: String,
    /// The inventory as given; `inventory.json` in the folder is what Ansible read from it.
    pub inventory_path: String,
    pub ansible_version: String,
    pub sandbench_version: String,
    /// Hosts run in parallel at most.
    pub forks: u32,
    /// Longest a host's campaign may run, in seconds.
    pub host_time_limit_s: u64,
    pub created: u64,
    pub hosts: BTreeMap<String, HostRecord>,
}

/// The schema of `fleet.json` this build writes.
pub const SCHEMA: u32 = 1;
/// The manifest's name in a fleet run's folder.
pub const FILE: &str = "fleet.json";

impl FleetManifest {
    pub fn load(dir: &Path) -> Result<FleetManifest, FleetError> {
        let path = dir.join(FILE);
        let bytes = std::fs::read(&path).map_err(io(format!("read {}", path.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|source| FleetError::Manifest { path: path.display().to_string(), source })
    }

    /// Writes the manifest atomically.
    pub fn save(&self, dir: &Path) -> Result<(), FleetError> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!(".{FILE}.tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(self)
            .map_err(|source| FleetError::Manifest { path: path.display().to_string(), source })?;
        std::fs::write(&tmp, text).map_err(io(format!("write {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(io(format!("rename {} to {}", tmp.display(), path.display())))
    }

    /// The hosts a resumed run still has to do.
    pub fn unfinished(&self) -> Vec<String> {
        self.hosts.iter().filter(|(_, h)| !h.state.is_complete()).map(|(n, _)| n.clone()).collect()
    }

    /// How the whole run ended.
    pub fn outcome(&self) -> Outcome {
        let done = self.hosts.values().filter(|h| h.state.is_complete()).count();
        match done {
            n if n == self.hosts.len() => Outcome::Complete,
            0 => Outcome::Failed,
            _ => Outcome::Partial,
        }
    }
}

/// Every host complete, some, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Complete,
    Partial,
    Failed,
}

impl Outcome {
    /// The exit code `sandbench fleet run` ends with (docs/FLEET.md).
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Complete => 0,
            Outcome::Partial => 4,
            Outcome::Failed => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(state: HostState) -> HostRecord {
        HostRecord {
            address: "10.0.0.1".into(),
            groups: vec![],
            facts: Default::default(),
            state,
            task: None,
            started: None,
            ended: None,
            results: None,
        }
    }

    #[test]
    fn states_round_trip_and_decide_the_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = FleetManifest {
            schema: SCHEMA,
            id: "fleet-x".into(),
            campaign_path: "c.toml".into(),
            inventory_path: "i.yml".into(),
            ansible_version: "2.14".into(),
            sandbench_version: "0.1.0".into(),
            forks: 5,
            host_time_limit_s: 60,
            created: 1,
            hosts: BTreeMap::new(),
        };
        m.hosts.insert("a".into(), host(HostState::Complete));
        m.hosts.insert("b".into(), host(HostState::Unreachable("ssh: Connection refused".into())));
        m.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(
            text.contains("\"state\": \"unreachable\"") && text.contains("\"why\": \"ssh: Connection refused\""),
            "{text}"
        );
        let back = FleetManifest::load(dir.path()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.unfinished(), ["b"]);
        assert_eq!(back.outcome(), Outcome::Partial);
        m.hosts.get_mut("b").unwrap().state = HostState::Complete;
        assert_eq!(m.outcome().exit_code(), 0);
        for h in m.hosts.values_mut() {
            h.state = HostState::Failed("task x".into());
        }
        assert_eq!(m.outcome(), Outcome::Failed);
    }
}
