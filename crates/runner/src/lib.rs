//! Runs a campaign from plan to results folder.
//!
//! [`plan`] turns a campaign into an ordered list of trials (pure, seeded); [`results`] owns the
//! results folder (manifest, append-only `trials.jsonl`, sample series) and reads it back for
//! `--resume`; [`execute`] drives sandboxes through the plan; [`host`] records the facts that
//! could explain a number.

mod agent_choice;
pub mod assets;
mod capacity;
pub mod energy;
mod execute;
pub mod guard;
pub mod host;
mod load_check;
mod options;
pub mod plan;
mod progress;
mod record;
pub mod results;
mod session;
pub mod stopping;
mod trial;
pub mod validation;

pub use execute::{check_campaign, check_machines, image_for, run};
pub use options::{timestamp, work_root, DriverFactory, RunOptions, RunOutcome};
pub use plan::{plan, PlannedTrial};
pub use progress::ProgressMode;
pub use results::{ResultsDir, ResultsError};

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error("guest image: {0}")]
    Image(#[from] sandbench_image::ImageError),
    #[error("{path}: workload `{workload}`: {why}")]
    Workload { path: String, workload: String, why: String },
    #[error("{path}: environment `{environment}`: {why}")]
    Environment { path: String, environment: String, why: String },
    #[error(transparent)]
    Campaign(#[from] sandbench_spec::CampaignError),
    /// A workload names an asset (model, input) the catalog cannot give.
    #[error(transparent)]
    AssetChoice(#[from] crate::assets::AssetNeedError),
    #[error("assets: {0}")]
    Assets(#[from] sandbench_assets::AssetError),
    #[error("[power] source = \"{kind}\": {source}")]
    Power { kind: sandbench_spec::power::PowerSourceKind, source: sandbench_power::PowerError },
    #[error(
        "engine `onnxruntime` needs the dynamically linked sandbench-agent (next to `sandbench`); \
         build it with scripts/build-agent.sh, or use engine = \"tract\""
    )]
    NeedsDynamicAgent,
    #[error(
        "the campaign's AI kinds need an agent built with the inference engines, and neither the static \
         sandbench-agent nor a dynamically linked one next to `sandbench` has them: build it with \
         scripts/build-agent.sh (about 15 min on 2 cores, once), or run only cpu, noop and the I/O kinds"
    )]
    NeedsEngines,
    /// A capacity run could not go on.
    #[error("capacity: {0}")]
    Capacity(String),
    #[error("work directory: {0}")]
    WorkDir(#[from] sandbench_hostfs::HostFsError),
}
