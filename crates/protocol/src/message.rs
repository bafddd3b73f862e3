use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the protocol spoken by this build; sent by the agent in `ready`.
pub const PROTOCOL_VERSION: u32 = 1;

/// One measured value with its unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub value: f64,
    pub unit: String,
}

impl Metric {
    pub fn new(value: f64, unit: &str) -> Self {
        Metric { value, unit: unit.to_string() }
    }
}

/// Metrics by name, ordered for stable output.
pub type Metrics = BTreeMap<String, Metric>;

/// The guest's own view of its CPUs during a trial, from its /proc/stat, in percent where
/// 100 % is one CPU (as `top` prints it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestCpu {
    pub busy_pct: f64,
    pub user_pct: f64,
    pub system_pct: f64,
    pub iowait_pct: f64,
    pub steal_pct: f64,
    pub cpus: u32,
}

/// Host → agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostMsg {
    /// Run one trial of a workload.
    Run {
        id: u64,
        workload: String,
        #[serde(default)]
        params: serde_json::Map<String, serde_json::Value>,
        trial: u32,
    },
    /// Stop the agent (a VM guest powers off).
    Shutdown,
}

/// Agent → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMsg {
    /// Printed by a guest's initramfs `/init` as soon as it runs (VMs only).
    Init { uptime_ms: f64 },
    /// The agent is ready for commands.
    Ready {
        v: u32,
        agent_version: String,
        /// Guest uptime (from /proc/uptime) when the agent became ready.
        uptime_ms: f64,
        /// Guest wall clock, Unix milliseconds.
        clock_unix_ms: f64,
        kernel: String,
        cpus: u32,
        mem_total_kib: u64,
        pid1: bool,
        /// The kernel's current clock source, where /sys shows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clocksource: Option<String>,
    },
    /// A named phase of trial `id` began, `t_ms` after the `run` was received.
    Phase { id: u64, name: String, t_ms: f64 },
    /// Trial `id` finished.
    Result {
        id: u64,
        /// Wall time of the trial inside the guest.
        wall_ms: f64,
        metrics: Metrics,
        #[serde(default)]
        outputs: serde_json::Value,
        #[serde(default)]
        guest_cpu: Option<GuestCpu>,
    },
    /// Trial `id` (or the agent, when `id` is absent) failed.
    Error {
        #[serde(default)]
        id: Option<u64>,
        message: String,
    },
    /// The agent is exiting after `shutdown`.
    Bye,
}
