//! The names a campaign gives its technologies: the drivers, the OCI runtimes, QEMU's
//! accelerators and disk cache modes. Each prints as the campaign file writes it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    Native,
    Oci,
    Docker,
    Containerd,
    Qemu,
    Firecracker,
    #[serde(rename = "cloud-hypervisor")]
    CloudHypervisor,
}

impl Driver {
    /// Every driver, in the order doctor lists them (declaration order, derived: a new
    /// variant is in it).
    pub fn all() -> impl Iterator<Item = Driver> {
        <Driver as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Native => "native",
            Driver::Oci => "oci",
            Driver::Docker => "docker",
            Driver::Containerd => "containerd",
            Driver::Qemu => "qemu",
            Driver::Firecracker => "firecracker",
            Driver::CloudHypervisor => "cloud-hypervisor",
        }
    }

    /// Runs the agent from the guest image (every driver but `native`, which runs the host's).
    pub fn needs_image(self) -> bool {
        match self {
            Driver::Native => false,
            Driver::Oci | Driver::Docker | Driver::Containerd => true,
            Driver::Qemu | Driver::Firecracker | Driver::CloudHypervisor => true,
        }
    }

    /// A virtual machine with a guest kernel of its own: records carry its accelerator and
    /// disk cache mode. An exhaustive match, so a new driver must say.
    pub fn is_vm(self) -> bool {
        match self {
            Driver::Qemu | Driver::Firecracker | Driver::CloudHypervisor => true,
            Driver::Native | Driver::Oci | Driver::Docker | Driver::Containerd => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runtime {
    Runc,
    Crun,
    Runsc,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Runc => "runc",
            Runtime::Crun => "crun",
            Runtime::Runsc => "runsc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accel {
    Kvm,
    Tcg,
    /// KVM if a guest really boots with it, else TCG; the choice is recorded.
    Auto,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
            Accel::Auto => "auto",
        }
    }
}

/// QEMU `-drive cache=` modes. Only `none` and `directsync` make a guest's O_DIRECT write
/// durable on the host disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskCache {
    None,
    Writeback,
    Writethrough,
    Directsync,
    Unsafe,
}

impl DiskCache {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskCache::None => "none",
            DiskCache::Writeback => "writeback",
            DiskCache::Writethrough => "writethrough",
            DiskCache::Directsync => "directsync",
            DiskCache::Unsafe => "unsafe",
        }
    }

    /// Whether the guest's I/O (O_DIRECT and fsync included) can land in the host's page cache
    /// instead of on the disk, and whether reads can be served from host memory.
    pub fn host_page_cache(self) -> HostPageCache {
        match self {
            DiskCache::None | DiskCache::Directsync => HostPageCache::Bypassed,
            DiskCache::Writethrough => HostPageCache::Reads,
            DiskCache::Writeback | DiskCache::Unsafe => HostPageCache::Writes,
        }
    }
}

/// What a disk cache mode lets the host's page cache do with a guest's I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostPageCache {
    /// Nothing: guest I/O reaches the disk as the guest asked.
    Bypassed,
    /// Writes reach the disk, reads may be served from host memory.
    Reads,
    /// Writes (even O_DIRECT and fsync) are acknowledged from host memory.
    Writes,
}

/// `{}` prints the name campaigns and records use.
macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_by_name!(Driver, Runtime, Accel, DiskCache);
