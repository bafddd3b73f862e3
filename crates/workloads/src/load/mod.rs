//! Load scenarios inside a trial, with MLPerf LoadGen's semantics (docs/CAMPAIGN.md): the
//! query generator runs beside the workload in the sandbox, as LoadGen runs in the system
//! under test, and times every query.
//!
//! - `single_stream`: queries back to back for `duration_s`.
//! - `server`: Poisson arrivals at `rate` queries/s from a seeded generator, served in order
//!   by one worker; a query arriving while `max_queue` are outstanding is dropped; one slower
//!   than `latency_bound_ms` (arrival to completion) is late.
//! - `fixed_rate`: a camera at `fps`; a frame that ticks while the worker is busy is skipped,
//!   one whose query ends after the next tick missed its deadline; both count as misses.
//! - `idle`: no query, the sandbox just lives for `duration_s` (footprint measurements).
//!
//! Any kind that can answer one query at a time takes a scenario: `cpu` (one sysbench event),
//! `noop` (nothing: the generator's own cost) and the AI kinds (one input per query).

mod arrivals;
mod drive;
mod queries;

pub use arrivals::poisson_arrivals;
pub use drive::{drive, Queries};
pub use queries::queries;

use crate::{Kind, ParamError, Params};
pub use sandbench_protocol::ScenarioKind;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The parameters every kind with a scenario shares; the rest of the table is the kind's.
pub const KEYS: &[&str] = &["scenario", "duration_s", "rate", "fps", "seed", "latency_bound_ms", "max_queue"];

/// The scenario names, as the campaign writes them.
pub const SCENARIOS: &[&str] = &["single_stream", "server", "fixed_rate", "idle"];

/// How queries arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scenario", rename_all = "snake_case")]
pub enum Scenario {
    SingleStream,
    Server { rate: f64, seed: u64, latency_bound_ms: f64, max_queue: u64 },
    FixedRate { fps: f64 },
    Idle,
}

/// A scenario and how long it runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Load {
    #[serde(flatten)]
    pub scenario: Scenario,
    pub duration_s: f64,
}

impl Scenario {
    pub fn kind(&self) -> ScenarioKind {
        match self {
            Scenario::SingleStream => ScenarioKind::SingleStream,
            Scenario::Server { .. } => ScenarioKind::Server,
            Scenario::FixedRate { .. } => ScenarioKind::FixedRate,
            Scenario::Idle => ScenarioKind::Idle,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// Whether `kind` can run one query at a time under a scenario.
pub fn takes_scenario(kind: Kind) -> bool {
    match kind {
        Kind::Cpu | Kind::Noop | Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => true,
        Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => false,
    }
}

/// Splits a workload's parameters into its load scenario (when it sets `scenario`) and the
/// kind's own parameters.
pub fn split(kind: Kind, params: &Map<String, Value>) -> Result<(Option<Load>, Map<String, Value>), ParamError> {
    if !params.contains_key("scenario") {
        if let Some(k) = KEYS.iter().find(|k| params.contains_key(**k)) {
            return Err(ParamError::Invalid {
                name: (*k).into(),
                why: "only a workload with a `scenario` takes it".into(),
            });
        }
        return Ok((None, params.clone()));
    }
    if !takes_scenario(kind) {
        return Err(ParamError::Invalid {
            name: "scenario".into(),
            why: format!("`{kind}` runs as a whole, not query by query; kinds with a scenario: cpu, noop, detect, classify, face, stt"),
        });
    }
    let (mine, rest): (Map<String, Value>, Map<String, Value>) =
        params.clone().into_iter().partition(|(k, _)| KEYS.contains(&k.as_str()));
    Ok((Some(parse(&Params::new(&mine))?), rest))
}

fn parse(p: &Params) -> Result<Load, ParamError> {
    let name = p.choice("scenario", "single_stream", SCENARIOS)?;
    let allowed: &[&str] = match name {
        "server" => &["scenario", "duration_s", "rate", "seed", "latency_bound_ms", "max_queue"],
        "fixed_rate" => &["scenario", "duration_s", "fps"],
        _ => &["scenario", "duration_s"],
    };
    p.only(allowed)?;
    let required = |key: &str| -> Result<f64, ParamError> {
        if !p.has(key) {
            return Err(ParamError::Invalid { name: key.into(), why: format!("scenario `{name}` needs it") });
        }
        p.f64_in(key, 0.0, 0.001, 1e6)
    };
    let scenario = match name {
        "server" => Scenario::Server {
            rate: required("rate")?,
            seed: p.u64_in("seed", 1, 0, u64::MAX)?,
            latency_bound_ms: p.f64_in("latency_bound_ms", 100.0, 0.001, 3.6e6)?,
            max_queue: p.u64_in("max_queue", 64, 1, 1 << 20)?,
        },
        "fixed_rate" => Scenario::FixedRate { fps: required("fps")? },
        "idle" => Scenario::Idle,
        _ => Scenario::SingleStream,
    };
    Ok(Load { scenario, duration_s: p.f64_in("duration_s", 10.0, 0.01, 86_400.0)? })
}

/// Most queries one trial may answer (a `noop` single stream would otherwise count millions).
pub const MAX_QUERIES: u64 = 5_000_000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn splits_the_scenario_from_the_kinds_parameters() {
        let p = map(json!({"scenario": "fixed_rate", "fps": 10, "duration_s": 2, "threads": 1}));
        let (load, rest) = split(Kind::Classify, &p).unwrap();
        assert_eq!(load, Some(Load { scenario: Scenario::FixedRate { fps: 10.0 }, duration_s: 2.0 }));
        assert_eq!(rest, map(json!({"threads": 1})));
        let (none, same) = split(Kind::Cpu, &map(json!({"threads": 2}))).unwrap();
        assert_eq!((none, same), (None, map(json!({"threads": 2}))));
    }

    #[test]
    fn the_scenario_names_are_the_kinds_names() {
        let names: Vec<&str> = ScenarioKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(SCENARIOS, names.as_slice());
    }

    #[test]
    fn names_what_is_wrong() {
        let e = split(Kind::Fileio, &map(json!({"scenario": "server", "rate": 1}))).unwrap_err();
        assert!(e.to_string().contains("kinds with a scenario"), "{e}");
        let e = split(Kind::Noop, &map(json!({"scenario": "server"}))).unwrap_err();
        assert!(e.to_string().contains("`rate`") && e.to_string().contains("needs it"), "{e}");
        let e = split(Kind::Noop, &map(json!({"scenario": "burst"}))).unwrap_err();
        assert!(e.to_string().contains("single_stream"), "{e}");
        let e = split(Kind::Noop, &map(json!({"fps": 3}))).unwrap_err();
        assert!(e.to_string().contains("only a workload with a `scenario`"), "{e}");
        let e = split(Kind::Noop, &map(json!({"scenario": "fixed_rate", "fps": 3, "rate": 2}))).unwrap_err();
        assert!(e.to_string().contains("unknown parameter `rate`"), "{e}");
    }
}
