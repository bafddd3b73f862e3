//! One `[[environment]]`: what every driver has (name, vCPUs, memory) and its driver's own
//! configuration, a type per driver with its own defaults (as Firecracker's `vmm_config`: a
//! config type per resource).
//!
//! The campaign file stays flat: [`EnvironmentFile`] is its table, read with
//! `deny_unknown_fields`, and [`Environment`] is made from it by one conversion that refuses a
//! key its driver does not take (naming the drivers that do). Serializing writes the same flat
//! table back, so results folders and campaign files keep their shape.

use crate::arch::{Arch, Machine};
use crate::driver::{Accel, DiskCache, Driver, Runtime};
use serde::{Deserialize, Serialize};

/// Default `pids_max`: far above what the agent and its workloads start, far below a fork bomb.
pub const DEFAULT_PIDS_MAX: u32 = 1024;
/// Default size of a VM's scratch disk, MiB (a sparse file).
pub const DEFAULT_SCRATCH_MIB: u64 = 4096;
/// The jailer's default uid and gid: nobody.
pub const DEFAULT_JAILER_ID: u32 = 65534;

/// One isolation environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "EnvironmentFile", into = "EnvironmentFile")]
pub struct Environment {
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// The driver and what only it takes.
    pub config: DriverConfig,
}

/// A driver and its own configuration: one variant per driver, matched exhaustively.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverConfig {
    Native(NativeConfig),
    Oci(OciConfig),
    Docker(DockerConfig),
    Containerd(ContainerdConfig),
    Qemu(QemuConfig),
    Firecracker(FirecrackerConfig),
    CloudHypervisor(CloudHypervisorConfig),
}

/// `native`: the host's agent in namespaces and a cgroup of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeConfig {
    /// The cgroup's `pids.max`.
    pub pids_max: u32,
}

/// `oci`: a bundle run by an OCI runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct OciConfig {
    pub runtime: Runtime,
    /// Global flags given to the runtime before its command; absent: the runtime's defaults
    /// (gVisor's platform and network flags), present and empty: none.
    pub runtime_args: Option<Vec<String>>,
    pub pids_max: u32,
    /// The syscall filter.
    pub seccomp: Seccomp,
    /// Run the container in a user namespace (its root is host uid 100000).
    pub user_namespace: bool,
}

/// `docker`: a container through the Docker daemon.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerConfig {
    /// The OCI runtime as registered with the daemon.
    pub runtime: Runtime,
    /// The daemon's socket, when not the usual one.
    pub socket: Option<String>,
    pub pids_max: u32,
}

/// `containerd`: a container through containerd and a shim.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerdConfig {
    /// `io.containerd.runc.v2`, `io.containerd.kata.v2`, …
    pub shim: String,
    /// The daemon's socket, when not the usual one.
    pub socket: Option<String>,
    pub pids_max: u32,
}

/// What every VM driver takes.
#[derive(Debug, Clone, PartialEq)]
pub struct VmConfig {
    /// The campaign's machine; absent: this host's default (see [`VmConfig::machine`]).
    pub machine: Option<Machine>,
    pub accel: Accel,
    pub disk_cache: DiskCache,
    /// Size of the sandbox's scratch disk in MiB (file workloads write there).
    pub scratch_mib: u64,
}

/// `qemu`: a full VM or a microvm under QEMU.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QemuConfig {
    pub vm: VmConfig,
    /// The QEMU binary (default: the host architecture's `qemu-system-*`).
    pub qemu_binary: Option<String>,
    /// The guest CPU model (`-cpu`; see [`QemuConfig::cpu_model`]).
    pub cpu_model: Option<String>,
    /// Extra arguments appended to QEMU's command line.
    pub extra_args: Vec<String>,
}

/// `firecracker`: a KVM microVM.
#[derive(Debug, Clone, PartialEq)]
pub struct FirecrackerConfig {
    pub vm: VmConfig,
    /// The VMM binary.
    pub binary: String,
    /// Run it under the jailer (chroot, cgroup, namespaces).
    pub jailer: Option<JailerConfig>,
}

/// Firecracker's jailer: its binary and the ids it drops the VMM to.
#[derive(Debug, Clone, PartialEq)]
pub struct JailerConfig {
    pub binary: String,
    pub uid: u32,
    pub gid: u32,
}

/// `cloud-hypervisor`: a KVM microVM.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudHypervisorConfig {
    pub vm: VmConfig,
    /// The VMM binary.
    pub binary: String,
}

/// The OCI syscall filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Seccomp {
    /// The syscalls Docker's default profile blocks.
    Default,
    Unconfined,
}

impl VmConfig {
    /// The QEMU machine: the campaign's, else this host's default (`microvm` on x86_64, `virt`
    /// on aarch64).
    pub fn machine(&self) -> Machine {
        self.machine.unwrap_or(Arch::HOST.default_machine())
    }
}

impl QemuConfig {
    /// The QEMU `-cpu` model for `accel`: the campaign's, else `host` under KVM and `max`
    /// (every feature TCG emulates) under TCG.
    pub fn cpu_model(&self, accel: Accel) -> String {
        self.cpu_model.clone().unwrap_or_else(|| if accel == Accel::Kvm { "host".into() } else { "max".into() })
    }
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig { runtime: Runtime::Runc, socket: None, pids_max: DEFAULT_PIDS_MAX }
    }
}

impl Default for ContainerdConfig {
    fn default() -> Self {
        ContainerdConfig { shim: DEFAULT_SHIM.into(), socket: None, pids_max: DEFAULT_PIDS_MAX }
    }
}

impl Default for FirecrackerConfig {
    fn default() -> Self {
        FirecrackerConfig { vm: VmConfig::default(), binary: "firecracker".into(), jailer: None }
    }
}

impl Default for CloudHypervisorConfig {
    fn default() -> Self {
        CloudHypervisorConfig { vm: VmConfig::default(), binary: "cloud-hypervisor".into() }
    }
}

impl Default for OciConfig {
    fn default() -> Self {
        OciConfig {
            runtime: Runtime::Runc,
            runtime_args: None,
            pids_max: DEFAULT_PIDS_MAX,
            seccomp: Seccomp::Default,
            user_namespace: false,
        }
    }
}

impl Default for NativeConfig {
    fn default() -> Self {
        NativeConfig { pids_max: DEFAULT_PIDS_MAX }
    }
}

impl Default for VmConfig {
    fn default() -> Self {
        VmConfig { machine: None, accel: Accel::Auto, disk_cache: DiskCache::None, scratch_mib: DEFAULT_SCRATCH_MIB }
    }
}

impl DriverConfig {
    /// `driver` with every key at its default (what a table with only `driver` gives).
    pub fn default_for(driver: Driver) -> DriverConfig {
        match driver {
            Driver::Native => DriverConfig::Native(NativeConfig::default()),
            Driver::Oci => DriverConfig::Oci(OciConfig::default()),
            Driver::Docker => DriverConfig::Docker(DockerConfig::default()),
            Driver::Containerd => DriverConfig::Containerd(ContainerdConfig::default()),
            Driver::Qemu => DriverConfig::Qemu(QemuConfig::default()),
            Driver::Firecracker => DriverConfig::Firecracker(FirecrackerConfig::default()),
            Driver::CloudHypervisor => DriverConfig::CloudHypervisor(CloudHypervisorConfig::default()),
        }
    }

    pub fn driver(&self) -> Driver {
        match self {
            DriverConfig::Native(_) => Driver::Native,
            DriverConfig::Oci(_) => Driver::Oci,
            DriverConfig::Docker(_) => Driver::Docker,
            DriverConfig::Containerd(_) => Driver::Containerd,
            DriverConfig::Qemu(_) => Driver::Qemu,
            DriverConfig::Firecracker(_) => Driver::Firecracker,
            DriverConfig::CloudHypervisor(_) => Driver::CloudHypervisor,
        }
    }

    /// What a VM driver takes in common; `None` for the others.
    pub fn vm(&self) -> Option<&VmConfig> {
        match self {
            DriverConfig::Qemu(c) => Some(&c.vm),
            DriverConfig::Firecracker(c) => Some(&c.vm),
            DriverConfig::CloudHypervisor(c) => Some(&c.vm),
            DriverConfig::Native(_) | DriverConfig::Oci(_) | DriverConfig::Docker(_) | DriverConfig::Containerd(_) => {
                None
            }
        }
    }

    /// The cgroup's `pids.max` of a process or container driver; `None` for VMs.
    pub fn pids_max(&self) -> Option<u32> {
        match self {
            DriverConfig::Native(c) => Some(c.pids_max),
            DriverConfig::Oci(c) => Some(c.pids_max),
            DriverConfig::Docker(c) => Some(c.pids_max),
            DriverConfig::Containerd(c) => Some(c.pids_max),
            DriverConfig::Qemu(_) | DriverConfig::Firecracker(_) | DriverConfig::CloudHypervisor(_) => None,
        }
    }

    /// A daemon socket the campaign names itself (`socket = …`), besides the usual ones.
    pub fn own_socket(&self) -> Option<&str> {
        match self {
            DriverConfig::Docker(c) => c.socket.as_deref(),
            DriverConfig::Containerd(c) => c.socket.as_deref(),
            DriverConfig::Native(_)
            | DriverConfig::Oci(_)
            | DriverConfig::Qemu(_)
            | DriverConfig::Firecracker(_)
            | DriverConfig::CloudHypervisor(_) => None,
        }
    }
}

/// containerd's default shim.
pub const DEFAULT_SHIM: &str = "io.containerd.runc.v2";
/// The daemons' usual sockets.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";

impl DockerConfig {
    pub fn socket(&self) -> String {
        self.socket.clone().unwrap_or_else(|| DOCKER_SOCKET.into())
    }
}

impl ContainerdConfig {
    pub fn socket(&self) -> String {
        self.socket.clone().unwrap_or_else(|| CONTAINERD_SOCKET.into())
    }
}

impl Environment {
    /// An environment of `driver` with every driver key at its default (the campaign file's
    /// defaults), for code that builds one without a file.
    pub fn new(name: &str, driver: Driver, vcpus: u32, memory_mib: u64) -> Environment {
        Environment { name: name.into(), vcpus, memory_mib, config: DriverConfig::default_for(driver) }
    }

    pub fn driver(&self) -> Driver {
        self.config.driver()
    }
}

fn default_vcpus() -> u32 {
    2
}
fn default_memory() -> u64 {
    1024
}

/// An `[[environment]]` table as the campaign file writes it: flat, every driver key optional.
/// Only [`Environment`]'s conversion reads it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentFile {
    pub name: String,
    pub driver: Driver,
    #[serde(default = "default_vcpus")]
    pub vcpus: u32,
    #[serde(default = "default_memory")]
    pub memory_mib: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accel: Option<Accel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_cache: Option<DiskCache>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu_binary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jailer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Seccomp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_namespace: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jailer_uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jailer_gid: Option<u32>,
}

/// An `[[environment]]` table its driver cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvironmentError {
    #[error(
        "key `{key}` applies only to driver = {} (environment `{environment}` has driver = \"{driver}\")",
        quoted(takers, " or ")
    )]
    KeyOfAnotherDriver { key: &'static str, takers: Vec<Driver>, environment: String, driver: Driver },
    #[error("driver = \"{driver}\" boots only microVMs: `machine` must be \"microvm\" or absent")]
    OnlyMicrovm { driver: Driver },
    #[error("driver = \"{driver}\" needs KVM: `accel` must be \"kvm\", \"auto\" or absent")]
    NeedsKvm { driver: Driver },
    #[error("`jailer_uid` and `jailer_gid` apply only with `jailer` (environment `{environment}`)")]
    JailerIdsWithoutJailer { environment: String },
}

fn quoted(drivers: &[Driver], sep: &str) -> String {
    drivers.iter().map(|d| format!("\"{d}\"")).collect::<Vec<_>>().join(sep)
}

#[path = "environment_file.rs"]
mod file;
pub use file::keys_of;
