//! Every workload kind this build knows, and all that the host needs to know of each: its
//! name, the metric it is judged by and which way is better, whether it needs a link to a
//! host peer, whether it is an AI kind (run by the agent's inference crates, with assets),
//! and the count energy is divided by. Each answer is an exhaustive `match`: a new kind that
//! forgets one does not compile.
//!
//! `Kind` is the one type of a kind from the campaign file to the report: campaigns and records
//! keep its name (serde's lowercase names, the same JSON as before), a campaign naming an
//! unknown kind is refused with the valid ones, and a record from another version that names
//! a kind this build does not know is kept as [`RecordedKind::Unknown`], not dropped.
//! What a kind *runs* lives in `sandbench-workloads` and the agent's inference crates.

use crate::Metrics;
use serde::{Deserialize, Serialize};

/// A workload kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "lowercase")]
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
    /// Every kind, in declaration order (derived: a new variant is in it).
    pub fn all() -> impl Iterator<Item = Kind> {
        <Kind as strum::IntoEnumIterator>::iter()
    }

    /// Every kind's name.
    pub fn names() -> Vec<&'static str> {
        Kind::all().map(Kind::name).collect()
    }

    /// The AI kinds ([`Kind::is_ai`]).
    pub fn ai() -> impl Iterator<Item = Kind> {
        Kind::all().filter(|k| k.is_ai())
    }

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

    pub fn parse(name: &str) -> Result<Kind, UnknownKind> {
        Kind::all().find(|k| k.name() == name).ok_or_else(|| UnknownKind(name.into()))
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
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Kind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Kind, UnknownKind> {
        Kind::parse(s)
    }
}

/// A kind name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workload kind `{name}`; valid kinds: {valid}", name = .0, valid = Kind::names().join(", "))]
pub struct UnknownKind(pub String);

/// The kind a record names: one this build knows, or the name a record from another version
/// used (kept, shown as it is, judged by the host's round trip). Serialised as the plain name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordedKind {
    Known(Kind),
    Unknown(String),
}

impl RecordedKind {
    pub fn known(&self) -> Option<Kind> {
        match self {
            RecordedKind::Known(k) => Some(*k),
            RecordedKind::Unknown(_) => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            RecordedKind::Known(k) => k.name(),
            RecordedKind::Unknown(name) => name,
        }
    }

    /// The metric the kind is judged by, and whether higher is better; an unknown kind is
    /// judged by the host's round trip, which every record has.
    pub fn headline(&self) -> (&'static str, bool) {
        self.known().map_or(("host_wall_ms", false), Kind::headline)
    }

    /// [`Kind::work_units`]; `None` for an unknown kind.
    pub fn work_units(&self, metrics: &Metrics) -> Option<(&'static str, f64)> {
        self.known()?.work_units(metrics)
    }
}

impl From<Kind> for RecordedKind {
    fn from(k: Kind) -> Self {
        RecordedKind::Known(k)
    }
}

impl PartialEq<Kind> for RecordedKind {
    fn eq(&self, other: &Kind) -> bool {
        self.known() == Some(*other)
    }
}

impl std::fmt::Display for RecordedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for RecordedKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for RecordedKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(Kind::parse(&name).map_or(RecordedKind::Unknown(name), RecordedKind::Known))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Metric;

    #[test]
    fn names_round_trip_and_unknown_kinds_list_the_valid_ones() {
        for k in Kind::all() {
            assert_eq!(Kind::parse(k.name()).unwrap(), k);
        }
        let e = Kind::parse("gpu").unwrap_err().to_string();
        assert!(e.contains("gpu") && e.contains("classify"), "{e}");
        assert_eq!(Kind::ai().collect::<Vec<_>>(), [Kind::Detect, Kind::Classify, Kind::Face, Kind::Stt]);
    }

    #[test]
    fn serde_keeps_the_names_and_records_keep_unknown_kinds() {
        for k in Kind::all() {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
            let r: RecordedKind = serde_json::from_str(&format!("\"{k}\"")).unwrap();
            assert_eq!(r, RecordedKind::Known(k));
        }
        let old: RecordedKind = serde_json::from_str("\"gpu\"").unwrap();
        assert_eq!(old, RecordedKind::Unknown("gpu".into()));
        assert_eq!(serde_json::to_string(&old).unwrap(), "\"gpu\"");
        assert_eq!(old.headline(), ("host_wall_ms", false));
        let e = serde_json::from_str::<Kind>("\"gpu\"").unwrap_err().to_string();
        assert!(e.contains("gpu") && e.contains("stt"), "{e}");
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
