//! Types shared by every stage of sandbench: what a campaign file says ([`campaign`]) and what
//! a run writes ([`record`]). Pure data, serde only.

pub mod arch;
pub mod campaign;
pub mod capacity;
mod checks;
pub mod driver;
pub mod environment;
pub mod fleet;
pub mod power;
pub mod record;
pub mod trials;
pub mod validation;

pub use campaign::{
    Accel, Arch, Campaign, CampaignError, DiskCache, Driver, Environment, Machine, Mode, Order, UnknownOverrideEnv,
    WorkloadSpec,
};
pub use capacity::{
    CapacityDims, CapacityEnd, CapacityLine, CapacitySpec, CapacityStep, CapacityStop, Sla, SlaVerdict,
};
pub use environment::{
    CloudHypervisorConfig, ContainerdConfig, DockerConfig, DriverConfig, EnvironmentError, FirecrackerConfig,
    JailerConfig, NativeConfig, OciConfig, QemuConfig, VmConfig,
};
pub use power::{DomainEnergy, EnergySummary, PowerSourceKind, PowerSpec, WorkEnergy};
pub use record::{
    BootTimeline, Dimensions, HostSummary, LoadCheck, Manifest, Phase, PowerFacts, RunState, Status, TrialKey,
    TrialPhase, TrialRecord, SCHEMA_VERSION,
};
pub use trials::{Stop, StopRule, Trials};
