//! What each kind runs: its parameter check and its trial, one exhaustive `match` each. The
//! kind itself, and every fact the host needs of it, is `sandbench_protocol::Kind`, shared by
//! the campaign, the records and the report.

pub use sandbench_protocol::kind::{Kind, RecordedKind, UnknownKind};

use crate::{Outcome, Params, WorkloadError};

/// Checks the kind's parameters without running it (host side, at campaign load).
pub fn validate(kind: Kind, p: &Params) -> Result<(), WorkloadError> {
    let (load, rest) = crate::load::split(kind, p.map())?;
    let p = &Params::new(&rest);
    if load.is_some() && matches!(kind, Kind::Cpu) {
        // A cpu query is one event: the trial-level keys do not apply.
        p.only(&["max_prime"])?;
    }
    let checked = match kind {
        Kind::Cpu => crate::cpu::CpuParams::parse(p).map(|_| ()),
        Kind::Noop => crate::noop::parse(p),
        Kind::Fileio => crate::fileio::FileioParams::parse(p).map(|_| ()),
        Kind::Filemix => crate::filemix::FilemixParams::parse(p).map(|_| ()),
        Kind::Net => crate::net::NetParams::parse(p).map(|_| ()),
        Kind::Transfer => crate::transfer::TransferParams::parse(p).map(|_| ()),
        k @ (Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt) => crate::ai::AiParams::parse(k, p).map(|_| ()),
    };
    checked.map_err(Into::into)
}

/// Runs one trial in this process (the AI kinds run in the agent, with the engines).
pub fn run(kind: Kind, p: &Params) -> Result<Outcome, WorkloadError> {
    if let (Some(load), rest) = crate::load::split(kind, p.map())? {
        return crate::load::drive(&load, crate::load::queries(kind, &rest)?.as_mut());
    }
    match kind {
        Kind::Cpu => Ok(crate::cpu::run(&crate::cpu::CpuParams::parse(p)?)),
        Kind::Noop => {
            crate::noop::parse(p)?;
            Ok(Outcome::default())
        }
        Kind::Fileio => crate::fileio::run(&crate::fileio::FileioParams::parse(p)?),
        Kind::Filemix => crate::filemix::run(&crate::filemix::FilemixParams::parse(p)?),
        Kind::Net => crate::net::run(&crate::net::NetParams::parse(p)?),
        Kind::Transfer => crate::transfer::run(&crate::transfer::TransferParams::parse(p)?),
        k @ (Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt) => Err(WorkloadError::NotHere {
            kind: k,
            why: "runs only in sandbench-agent (built with the inference engines)",
        }),
    }
}
