//! The queries of the kinds this crate runs: `cpu` (one sysbench event at `max_prime`) and
//! `noop` (nothing, so its latency is the generator's own cost).

use super::Queries;
use crate::{Kind, Params, WorkloadError};
use serde_json::{json, Map, Value};

struct CpuEvent {
    max_prime: u64,
}

impl Queries for CpuEvent {
    fn query(&mut self) -> Result<(), WorkloadError> {
        std::hint::black_box(crate::cpu::prime_event(std::hint::black_box(self.max_prime)));
        Ok(())
    }
    fn describe(&self) -> Value {
        json!({ "query": "one sysbench cpu event", "max_prime": self.max_prime })
    }
}

struct Nothing;

impl Queries for Nothing {
    fn query(&mut self) -> Result<(), WorkloadError> {
        std::hint::black_box(());
        Ok(())
    }
    fn describe(&self) -> Value {
        json!({ "query": "nothing" })
    }
}

/// The queries of `kind` with its own parameters `rest` (the scenario's keys taken out).
pub fn queries(kind: Kind, rest: &Map<String, Value>) -> Result<Box<dyn Queries>, WorkloadError> {
    let p = Params::new(rest);
    match kind {
        Kind::Cpu => {
            p.only(&["max_prime"])?;
            Ok(Box::new(CpuEvent { max_prime: crate::cpu::CpuParams::parse(&p)?.max_prime }))
        }
        Kind::Noop => {
            crate::noop::parse(&p)?;
            Ok(Box::new(Nothing))
        }
        k @ (Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt) => Err(WorkloadError::NotHere {
            kind: k,
            why: "queries run only in sandbench-agent (built with the inference engines)",
        }),
        k @ (Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer) => {
            Err(WorkloadError::Scenario(format!("`{}` takes no scenario", k.name())))
        }
    }
}
