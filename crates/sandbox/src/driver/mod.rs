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
use sandbench_spec::{Driver, Environment};
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
    /// A fresh, unlaunched sandbox for `env`.
    fn sandbox(&self, env: &Environment) -> Box<dyn Sandbox>;
    /// A cheap check that `env` can be launched here at all (its program exists, root where
    /// needed); the real proof is the launch.
    fn can_run(&self, env: &Environment) -> Result<(), String>;
    /// `sandbench doctor`'s rows for this driver, checked for real where `cx` allows.
    fn doctor(&self, cx: &DoctorContext) -> Vec<Availability>;
    /// Versions of what it runs (runtime, daemon, shim, VMM), for the manifest.
    fn versions(&self, env: &Environment) -> Vec<(String, String)>;
    /// The dimensions of a trial record that this driver decides.
    fn dimensions(&self, env: &Environment) -> DriverDims;
    /// Removes what dead sandbench processes left of this driver (containers, VMM processes,
    /// jail cgroups). Returns what it removed, for the log. Cgroups, links, firewall tables and
    /// directories common to every driver are swept by `stale` itself.
    fn reap_stale(&self, _sweep: &Sweep) -> Vec<String> {
        Vec::new()
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
pub fn can_run(env: &Environment) -> Result<(), String> {
    technology(env.driver).can_run(env)
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
    Driver::ALL.into_iter().map(technology)
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
        for d in sandbench_spec::Driver::ALL {
            let rows = super::technology(d).doctor(&cx);
            assert!(!rows.is_empty(), "{d:?} has no doctor row");
            assert!(rows.iter().all(|r| !r.detail.is_empty()), "{d:?}: {rows:?}");
        }
    }
}
