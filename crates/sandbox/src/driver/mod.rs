//! The drivers, one module each, and the one place that maps a campaign's `driver` to its
//! module.
//!
//! Besides launching (`Sandbox`), every driver answers for itself through `Technology`: the
//! cheap check that trims the embedded campaign to this host, its `doctor` rows, the versions
//! and record dimensions of what it runs, and the sweep of what a killed sandbench left of it.
//! Adding a driver is its own module, one arm in `technology`, and the campaign enum.

pub mod cloud_hypervisor;
pub mod containerd;
pub(crate) mod daemon_container;
pub mod docker;
pub mod firecracker;
mod firecracker_jail;
pub mod native;
pub mod oci;
mod oci_image;
pub mod qemu;
pub mod vmm_api;
pub(crate) mod vmm_process;

use crate::probe::Availability;
use crate::Sandbox;
use sandbench_image::GuestImage;
use sandbench_spec::{Driver, DriverConfig, Environment};
use std::path::Path;

/// What doctor's checks may use: a real guest image to start containers and boot VMs from,
/// when one could be built.
pub struct DoctorContext<'a> {
    /// The guest image, or why there is none (`--quick`, no agent, a build error).
    pub image: Result<&'a GuestImage, &'a str>,
    /// The static agent (what a VM check boots).
    pub agent: Option<&'a Path>,
    /// Scratch space for bundles and logs; doctor removes it afterwards.
    pub work: &'a Path,
}

/// What the stale sweep gives every driver.
pub struct Sweep<'a> {
    /// The campaign's own daemon sockets (`socket = …`), swept besides the usual ones.
    pub sockets: &'a [String],
}

/// Everything a driver knows besides launching and tearing down one sandbox.
pub trait Technology: Sync {
    /// What it needs of a host, declared once: `fleet doctor` and the fleet playbook's list of
    /// programs derive from it.
    fn requires(&self) -> Requirements;
    /// `sandbench doctor`'s rows for this driver, checked for real where `cx` allows.
    fn doctor(&self, cx: &DoctorContext) -> Vec<Availability>;
    /// Removes what dead sandbench processes left of this driver (containers, VMM processes,
    /// jail cgroups). Returns what it removed, for the log. Cgroups, links, firewall tables and
    /// directories common to every driver are swept by `stale` itself.
    fn reap_stale(&self, _sweep: &Sweep) -> Vec<String> {
        Vec::new()
    }
}

/// What a driver does with one environment of its own: each module's implementation holds its
/// own config type, so no driver reads another's keys.
pub trait ForEnvironment {
    /// A fresh, unlaunched sandbox.
    fn sandbox(&self) -> Box<dyn Sandbox>;
    /// A cheap check that the environment can be launched here at all (its program exists,
    /// root where needed); the real proof is the launch.
    fn can_run(&self) -> Result<(), Unsupported>;
    /// Versions of what it runs (runtime, daemon, shim, VMM), for the manifest.
    fn versions(&self) -> Vec<(String, String)>;
    /// The dimensions of a trial record that this driver decides.
    fn dimensions(&self) -> DriverDims;
}

/// An environment's driver with the environment's own config: one exhaustive `match` over the
/// config's variants.
pub fn for_environment(env: &Environment) -> Box<dyn ForEnvironment + '_> {
    match &env.config {
        DriverConfig::Native(cfg) => Box::new(native::ForEnv { cfg }),
        DriverConfig::Oci(cfg) => Box::new(oci::ForEnv { cfg }),
        DriverConfig::Docker(cfg) => Box::new(docker::ForEnv { cfg }),
        DriverConfig::Containerd(cfg) => Box::new(containerd::ForEnv { cfg }),
        DriverConfig::Qemu(cfg) => Box::new(qemu::ForEnv { cfg }),
        DriverConfig::Firecracker(cfg) => Box::new(firecracker::ForEnv { cfg }),
        DriverConfig::CloudHypervisor(cfg) => Box::new(cloud_hypervisor::ForEnv { cfg }),
    }
}

/// The module that implements `driver`: the one `match` over drivers outside the campaign enum.
pub fn technology(driver: Driver) -> &'static dyn Technology {
    match driver {
        Driver::Native => &native::Tech,
        Driver::Oci => &oci::Tech,
        Driver::Docker => &docker::Tech,
        Driver::Containerd => &containerd::Tech,
        Driver::Qemu => &qemu::Tech,
        Driver::Firecracker => &firecracker::Tech,
        Driver::CloudHypervisor => &cloud_hypervisor::Tech,
    }
}

/// A cheap check that `env` can be launched here at all (its program exists, root where needed);
/// used to trim the embedded default campaign to this host. The real proof is the launch.
pub fn can_run(env: &Environment) -> Result<(), Unsupported> {
    for_environment(env).can_run()
}

/// Every driver's doctor rows, checked for real where `cx` allows (a container started, a
/// guest booted).
pub fn doctor(cx: &DoctorContext) -> Vec<Availability> {
    all().flat_map(|d| d.doctor(cx)).collect()
}

/// Removes what sandbench processes that no longer run left behind: each driver's own
/// (containers, VMM processes, jail cgroups), then what every driver shares (cgroups, links,
/// firewall tables, work and scratch directories). Returns what it removed, for the log.
/// `sockets` are the campaign's own docker/containerd sockets (`socket = …`), swept besides the
/// usual ones. Every daemon call is bounded: a wedged daemon must not hold the run's start.
pub fn reap_stale(work_root: &Path, sockets: &[String]) -> Vec<String> {
    let sweep = Sweep { sockets };
    let mut removed: Vec<String> = all().flat_map(|d| d.reap_stale(&sweep)).collect();
    removed.extend(crate::stale::reap_shared(work_root));
    removed
}

/// Every driver's module, in the campaign enum's order.
pub fn all() -> impl Iterator<Item = &'static dyn Technology> {
    Driver::all().map(technology)
}

/// Why a driver cannot run an environment on this host (the cheap check before any launch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    #[error("{program} not found ({hint})")]
    Missing { program: String, hint: String },
    #[error("no /dev/kvm: this VMM runs only with KVM")]
    NoKvm,
    #[error("{what} needs root")]
    NeedsRoot { what: String },
    #[error("no daemon at {socket} (scripts/daemons.sh start)")]
    NoDaemon { socket: String },
    #[error("{}", sandbench_spec::arch::wrong_arch(*.machine, sandbench_spec::Arch::HOST).unwrap_or_default())]
    WrongArch { machine: sandbench_spec::Machine },
}

/// What a driver needs of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    /// Programs on `PATH`, any one of which lets the driver run (empty: none needed).
    pub any_program: &'static [&'static str],
    /// `/dev/kvm` (that boots a stock kernel).
    pub kvm: bool,
    /// Root (namespaces, cgroups, daemon sockets).
    pub root: bool,
}

/// Every program some driver may run, each once, in driver order: what `fleet doctor` looks
/// for on each host.
pub fn programs_to_probe() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for p in all().flat_map(|t| t.requires().any_program.iter().copied()) {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The drivers a host allows, by its programs and whether it has KVM (a cheap check: the real
/// proof is `sandbench doctor` on the host, as root).
pub fn allowed_by(programs: &[&str], kvm: bool) -> Vec<Driver> {
    Driver::all()
        .filter(|&d| {
            let r = technology(d).requires();
            (r.any_program.is_empty() || r.any_program.iter().any(|p| programs.contains(p))) && (kvm || !r.kvm)
        })
        .collect()
}

/// The dimensions of a trial record that its driver decides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverDims {
    /// The OCI runtime (oci, docker) or the containerd shim.
    pub runtime: Option<String>,
    /// QEMU's machine type.
    pub machine: Option<sandbench_spec::Machine>,
    /// The accelerator as configured (QEMU's `auto` is resolved when the VM runs); `kvm` for
    /// the KVM-only VMMs.
    pub accel: Option<sandbench_spec::Accel>,
    /// A VM's disk cache mode.
    pub disk_cache: Option<sandbench_spec::DiskCache>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_driver_has_a_module_that_names_its_doctor_rows() {
        // Without an image nothing is started, so the work dir is never written.
        let work = std::path::Path::new("/nonexistent");
        let cx = super::DoctorContext { image: Err("no image in this test"), agent: None, work };
        for d in sandbench_spec::Driver::all() {
            let rows = super::technology(d).doctor(&cx);
            assert!(!rows.is_empty(), "{d:?} has no doctor row");
            assert!(rows.iter().all(|r| !r.detail.is_empty()), "{d:?}: {rows:?}");
        }
    }

    #[test]
    fn a_host_allows_the_drivers_whose_programs_it_has() {
        use sandbench_spec::Driver::*;
        let probed = super::programs_to_probe();
        for p in ["runc", "crun", "runsc", "docker", "ctr", "qemu-system-x86_64", "qemu-system-aarch64", "firecracker"]
        {
            assert!(probed.contains(&p), "{p} not probed: {probed:?}");
        }
        assert_eq!(super::allowed_by(&[], false), [Native]);
        assert_eq!(super::allowed_by(&["crun", "qemu-system-aarch64", "firecracker"], false), [Native, Oci, Qemu]);
        assert_eq!(
            super::allowed_by(&["crun", "qemu-system-aarch64", "firecracker"], true),
            [Native, Oci, Qemu, Firecracker]
        );
    }
}
