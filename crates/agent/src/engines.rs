//! The AI kinds, run by the inference crates when the agent is built with them (cargo feature
//! `engines`, the default); without them an AI trial fails with a message that says how to
//! get an agent that has them, and the host can tell from the binary's marker before it
//! launches anything ([`sandbench_protocol::agent_has_engines`]).

use sandbench_workloads::{Kind, Outcome, WorkloadError};
use serde_json::{Map, Value};

/// The build marker, kept in the binary by [`built_with`] (which `--version` prints).
#[cfg(feature = "engines")]
static MARKER: &str = sandbench_protocol::WITH_ENGINES;
#[cfg(not(feature = "engines"))]
static MARKER: &str = sandbench_protocol::WITHOUT_ENGINES;

/// `engines: yes` or `engines: no`, as the marker says.
pub fn built_with() -> String {
    // Read through black_box, so the optimiser keeps the marker's bytes whole in the binary
    // instead of folding the string operations below into a constant.
    let marker: &str = std::hint::black_box(MARKER);
    let answer = marker.trim_start_matches(sandbench_protocol::ENGINES_MARKER).trim_end_matches(';');
    format!("engines: {answer}")
}

/// Runs one trial of the AI kind `kind`.
#[cfg(feature = "engines")]
pub fn run_ai(kind: Kind, params: &Map<String, Value>) -> Result<Outcome, WorkloadError> {
    match kind {
        Kind::Stt => sandbench_speech::run(params, &sandbench_vision::assets_root()),
        Kind::Detect | Kind::Classify | Kind::Face => sandbench_vision::run(kind, params),
        Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => {
            sandbench_workloads::run(kind, params)
        }
    }
}

#[cfg(not(feature = "engines"))]
pub fn run_ai(workload: Kind, _params: &Map<String, Value>) -> Result<Outcome, WorkloadError> {
    Err(WorkloadError::NotHere {
        kind: workload,
        why: "needs the inference engines, and this sandbench-agent was built without them \
              (cargo feature `engines`): scripts/build-agent.sh builds the agent that has them",
    })
}
