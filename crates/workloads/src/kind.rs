//! Every workload kind this build knows, and all that the host needs to know of each: its
//! name, the metric it is judged by and which way is better, whether it needs a link to a
//! host peer, whether it is an AI kind (run by the agent's inference crates, with assets),
//! and the count energy is divided by. Each answer is an exhaustive `match`: a new kind that
//! forgets one does not compile. Records keep the kind as its name (the same JSON).

use crate::{Outcome, Params, WorkloadError};
use sandbench_protocol::Metrics;

/// The AI workload kinds ([`Kind::is_ai`]).
pub const AI_KINDS: [&str; 4] = names_of([Kind::Detect, Kind::Classify, Kind::Face, Kind::Stt]);

/// A workload kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Cpu,
    Noop,
    Fileio,
    Filemix,
    Net,
    Transfer,
    Detect,
    Classify,
    Face,
    Stt,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Cpu,
        Kind::Noop,
        Kind::Fileio,
        Kind::Filemix,
        Kind::Net,
        Kind::Transfer,
        Kind::Detect,
        Kind::Classify,
        Kind::Face,
        Kind::Stt,
    ];

    /// The name campaigns and records use.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Cpu => "cpu",
            Kind::Noop => "noop",
            Kind::Fileio => "fileio",
            Kind::Filemix => "filemix",
            Kind::Net => "net",
            Kind::Transfer => "transfer",
            Kind::Detect => "detect",
            Kind::Classify => "classify",
            Kind::Face => "face",
            Kind::Stt => "stt",
        }
    }

    pub fn parse(name: &str) -> Result<Kind, WorkloadError> {
        Kind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| WorkloadError::UnknownKind { kind: name.into() })
    }

    /// The metric the kind is judged by, and whether higher is better.
    pub const fn headline(self) -> (&'static str, bool) {
        match self {
            Kind::Cpu => ("events_per_s", true),
            // The AI paper's figure: mean inference time per image (model load is its own metric).
            Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => ("inference_ms", false),
            // sysbench fileio and fio print throughput first; Filebench prints ops/s.
            Kind::Fileio => ("mib_per_s", true),
            Kind::Filemix => ("ops_per_s", true),
            // netperf's TCP_STREAM figure; `rr` trials report transactions/s and latency instead,
            // shown in the metric tables.
            Kind::Net => ("mbit_per_s", true),
            // Nothing but the round trip (noop), or the whole copy (transfer, as `time scp`).
            Kind::Noop | Kind::Transfer => ("host_wall_ms", false),
        }
    }

    /// Needs a private link to sandbench's peers on the host.
    pub const fn needs_link(self) -> bool {
        match self {
            Kind::Net | Kind::Transfer => true,
            Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix => false,
            Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => false,
        }
    }

    /// Runs a model: in the agent's inference crates, with assets from the cache.
    pub const fn is_ai(self) -> bool {
        match self {
            Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => true,
            Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => false,
        }
    }

    /// The unit of work energy is divided by, and the metric that counts it.
    pub const fn work(self) -> Option<(&'static str, &'static str)> {
        match self {
            Kind::Cpu => Some(("event", "events")),
            Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt => Some(("inference", "inferences")),
            Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => Some(("MiB", "bytes")),
            Kind::Noop => None,
        }
    }

    /// How much work a trial's metrics say was done, in [`Kind::work`]'s unit.
    pub fn work_units(self, metrics: &Metrics) -> Option<(&'static str, f64)> {
        let get = |name: &str| metrics.get(name).map(|m| m.value);
        let (unit, metric) = self.work()?;
        let n = match (self, get(metric)) {
            (_, Some(v)) if metric == "bytes" => Some((unit, v / (1u64 << 20) as f64)),
            (_, Some(v)) => Some((unit, v)),
            // `rr` trials move little data: their count is transactions.
            (Kind::Net, None) => get("transactions").map(|n| ("transaction", n)),
            _ => None,
        };
        n.filter(|(_, n)| *n > 0.0)
    }

    /// Checks the kind's parameters without running it (host side, at campaign load).
    pub fn validate(self, p: &Params) -> Result<(), WorkloadError> {
        let checked = match self {
            Kind::Cpu => crate::cpu::CpuParams::parse(p).map(|_| ()),
            Kind::Noop => crate::noop::parse(p),
            Kind::Fileio => crate::fileio::FileioParams::parse(p).map(|_| ()),
            Kind::Filemix => crate::filemix::FilemixParams::parse(p).map(|_| ()),
            Kind::Net => crate::net::NetParams::parse(p).map(|_| ()),
            Kind::Transfer => crate::transfer::TransferParams::parse(p).map(|_| ()),
            k @ (Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt) => {
                crate::ai::AiParams::parse(k.name(), p).map(|_| ())
            }
        };
        checked.map_err(Into::into)
    }

    /// Runs one trial in this process (the AI kinds run in the agent, with the engines).
    pub fn run(self, p: &Params) -> Result<Outcome, WorkloadError> {
        match self {
            Kind::Cpu => Ok(crate::cpu::run(&crate::cpu::CpuParams::parse(p)?)),
            Kind::Noop => {
                crate::noop::parse(p)?;
                Ok(Outcome::default())
            }
            Kind::Fileio => crate::fileio::run(&crate::fileio::FileioParams::parse(p)?),
            Kind::Filemix => crate::filemix::run(&crate::filemix::FilemixParams::parse(p)?),
            Kind::Net => crate::net::run(&crate::net::NetParams::parse(p)?),
            Kind::Transfer => crate::transfer::run(&crate::transfer::TransferParams::parse(p)?),
            k @ (Kind::Detect | Kind::Classify | Kind::Face | Kind::Stt) => Err(WorkloadError::Failed(format!(
                "`{}` runs only in sandbench-agent (built with the inference engines)",
                k.name()
            ))),
        }
    }
}

/// The names of `kinds`, at compile time.
pub const fn names_of<const N: usize>(kinds: [Kind; N]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = kinds[i].name();
        i += 1;
    }
    out
}

/// Every kind's name.
pub const NAMES: [&str; 10] = names_of(Kind::ALL);

#[cfg(test)]
mod tests {
    use super::*;
    use sandbench_protocol::Metric;

    #[test]
    fn names_round_trip_and_unknown_kinds_list_the_valid_ones() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()).unwrap(), k);
        }
        let e = Kind::parse("gpu").unwrap_err().to_string();
        assert!(e.contains("gpu") && e.contains("classify"), "{e}");
    }

    #[test]
    fn work_units_by_kind() {
        let mut m = Metrics::new();
        m.insert("bytes".into(), Metric::new(3.0 * (1 << 20) as f64, "B"));
        assert_eq!(Kind::Fileio.work_units(&m), Some(("MiB", 3.0)));
        assert_eq!(Kind::Cpu.work_units(&m), None);
        let mut rr = Metrics::new();
        rr.insert("transactions".into(), Metric::new(500.0, "trans"));
        assert_eq!(Kind::Net.work_units(&rr), Some(("transaction", 500.0)));
        assert_eq!(Kind::Noop.work_units(&rr), None);
    }
}
