//! The kind of a load scenario (MLPerf LoadGen's names), as records and capacity steps carry it
//! from the agent's workload to the report. Its parameters (`rate`, `fps`, …) live with the
//! scenario itself in `workloads::load`.

use serde::{Deserialize, Serialize};

/// How queries arrive in a trial with a load scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioKind {
    /// One query at a time, the next as soon as the last is answered.
    SingleStream,
    /// Poisson arrivals at a rate, answered in order by one worker.
    Server,
    /// A camera: frames at a fixed rate, skipped while the worker is busy.
    FixedRate,
    /// No queries: the sandbox only idles (its footprint).
    Idle,
}

impl ScenarioKind {
    /// Every scenario, in the order the docs list them.
    pub const ALL: [ScenarioKind; 4] =
        [ScenarioKind::SingleStream, ScenarioKind::Server, ScenarioKind::FixedRate, ScenarioKind::Idle];

    /// Its name in a campaign file and in records.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::SingleStream => "single_stream",
            ScenarioKind::Server => "server",
            ScenarioKind::FixedRate => "fixed_rate",
            ScenarioKind::Idle => "idle",
        }
    }
}

impl std::fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::ScenarioKind;

    #[test]
    fn names_are_the_serde_names() {
        for k in ScenarioKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), serde_json::json!(k.name()));
            assert_eq!(serde_json::from_value::<ScenarioKind>(serde_json::json!(k.name())).unwrap(), k);
        }
    }
}
