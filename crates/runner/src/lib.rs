//! Runs a campaign from plan to results folder.
//!
//! [`plan`] turns a campaign into an ordered list of trials (pure, seeded); [`results`] owns the
//! results folder (manifest, append-only `trials.jsonl`, sample series) and reads it back for
//! `--resume`; [`execute`] drives sandboxes through the plan; [`host`] records the facts that
//! could explain a number.

pub mod assets;
pub mod energy;
mod execute;
pub mod guard;
pub mod host;
pub mod plan;
pub mod results;
pub mod stopping;
mod trial;

pub use execute::{run, DriverFactory, RunOptions, RunOutcome};
pub use plan::{plan, PlannedTrial};
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
    #[error("{0}")]
    Other(String),
}
