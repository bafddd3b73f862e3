//! What the VMM drivers (qemu, firecracker, cloud-hypervisor) share: a VMM process whose stdio
//! is the guest's serial console, and the sandbox's work directory.

use crate::channel::AgentChannel;
use crate::process::{self, kill_group};
use crate::scratch::Scratch;
use crate::{LaunchSpec, SandboxError};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

#[derive(Default)]
pub struct VmmProcess {
    child: Option<Child>,
    work_dir: Option<PathBuf>,
    /// The scratch space, the disk image in it and the image's size in MiB.
    scratch: Option<(Scratch, PathBuf, u64)>,
    network: Option<crate::net::Network>,
}

impl VmmProcess {
    /// Creates the sandbox's work directory; [`VmmProcess::stop`] removes it.
    pub fn prepare(&mut self, spec: &LaunchSpec) -> Result<(), SandboxError> {
        std::fs::create_dir_all(&spec.work_dir)
            .map_err(|source| SandboxError::Io { what: format!("create {}", spec.work_dir.display()), source })?;
        self.work_dir = Some(spec.work_dir.clone());
        Ok(())
    }

    /// Creates the sandbox's scratch disk (an empty ext4 image of `mib`, the VM's
    /// `scratch_mib`), which [`VmmProcess::stop`] removes; returns its path.
    pub fn scratch_disk(&mut self, spec: &LaunchSpec, mib: u64) -> Result<PathBuf, SandboxError> {
        let s = Scratch::create(&spec.id)?;
        let disk = s.disk(mib)?;
        self.scratch = Some((s, disk.clone(), mib));
        Ok(disk)
    }

    /// The scratch disk made by [`VmmProcess::scratch_disk`], if any.
    pub fn disk(&self) -> Option<&Path> {
        self.scratch.as_ref().map(|(_, d, _)| d.as_path())
    }

    /// The scratch disk, for the record.
    pub fn scratch_fact(&self) -> Option<String> {
        self.scratch.as_ref().map(|(s, _, mib)| {
            format!(
                "virtio-blk disk of {mib} MiB (ext4, same cache mode as the root disk) mounted at /scratch; {}",
                s.describe("image in")
            )
        })
    }

    /// Creates the sandbox's tap link when the launch asks for a network; [`VmmProcess::stop`]
    /// removes it.
    pub fn tap(&mut self, spec: &LaunchSpec) -> Result<(), SandboxError> {
        if spec.network && self.network.is_none() {
            self.network = Some(crate::net::Network::create(&spec.id, crate::net::LinkKind::Tap, spec.peer_limits)?);
        }
        Ok(())
    }

    /// The tap link, if any.
    pub fn link(&self) -> Option<&crate::net::Link> {
        self.network.as_ref().map(|n| &n.link)
    }

    /// The peers on the host end of the link, for [`crate::Running::peers`].
    pub fn peers(&self) -> Option<sandbench_workloads::Peers> {
        self.network.as_ref().map(crate::net::Network::peers)
    }

    /// The running sandbox: the VMM process `pid` accounted as a whole, with the `scratch` and
    /// `network` facts added to the driver's.
    pub fn running(
        &self,
        channel: AgentChannel,
        pid: u32,
        boot: sandbench_spec::BootTimeline,
        mut facts: std::collections::BTreeMap<String, String>,
        accel: sandbench_spec::Accel,
    ) -> crate::Running {
        // Records keep the accelerator among the launch facts too, as they always did.
        facts.insert("accel".into(), accel.as_str().into());
        if let Some(s) = self.scratch_fact() {
            facts.insert("scratch".into(), s);
        }
        if let Some(n) = &self.network {
            facts.insert("network".into(), n.describe());
        }
        let accounting = sandbench_sampler::Accounting { roots: vec![pid], cgroup: None };
        crate::Running { channel, accounting, boot, facts, peers: self.peers(), accel: Some(accel) }
    }

    /// Starts the VMM; returns the agent channel on its stdio, its pid and when it started.
    pub fn start(
        &mut self,
        cmd: &mut Command,
        log: &Path,
        hint: &str,
    ) -> Result<(AgentChannel, u32, Instant), SandboxError> {
        let s = process::spawn(cmd, log, hint)?;
        let started = Instant::now();
        let pid = s.child.id();
        self.child = Some(s.child);
        Ok((AgentChannel::new(s.stdout, s.stdin), pid, started))
    }

    /// Kills the VMM, keeping the work directory (for a second boot attempt).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(&mut c);
        }
    }

    /// Kills the VMM and removes the work directory and scratch disk.
    pub fn stop(&mut self) {
        self.kill();
        if let Some(d) = self.work_dir.take() {
            crate::process::remove_work_dir(&d);
        }
        if let Some((s, _, _)) = self.scratch.take() {
            s.remove();
        }
        self.network = None;
    }
}

impl Drop for VmmProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why this host cannot run a VMM that needs KVM, if it cannot.
pub fn missing(bin: &str, hint: &str) -> Option<super::Unsupported> {
    let found = if bin.contains('/') { Path::new(bin).is_file() } else { crate::process::on_path(bin).is_some() };
    if !found {
        return Some(super::Unsupported::Missing { program: bin.into(), hint: hint.into() });
    }
    if !Path::new("/dev/kvm").exists() {
        return Some(super::Unsupported::NoKvm);
    }
    None
}

/// The guest kernel command line every VMM driver starts from: the agent's console, quiet
/// boot, no reboot loops, and the root disk the initramfs mounts.
pub fn guest_kernel_args(console: &str, arch: sandbench_spec::Arch) -> Vec<String> {
    let mut args: Vec<String> = vec![format!("console={console}")];
    args.extend(["quiet", "panic=-1", "sandbench.root=/dev/vda"].map(String::from));
    // A reboot by triple fault: the x86 way out that needs no firmware.
    if arch == sandbench_spec::Arch::X86_64 {
        args.push("reboot=t".into());
    }
    args
}

/// A KVM-only VMM's version (Firecracker, Cloud Hypervisor), by its configured `binary`.
pub fn vmm_versions(driver: sandbench_spec::Driver, binary: &str) -> Vec<(String, String)> {
    vec![(
        driver.as_str().into(),
        crate::process::version_of(binary, &["--version"]).unwrap_or_else(|| "missing".into()),
    )]
}

/// Doctor's row for a KVM-only VMM (`name` is also its binary): found or not, and whether
/// /dev/kvm is there; only a launch shows whether KVM really boots a guest.
pub fn doctor_row(name: &str) -> crate::probe::Availability {
    use crate::probe::{avail, Verdict};
    let hint =
        format!("no Debian package: install the {name} release binary on a host with working KVM; see docs/VMMS.md");
    let version = crate::process::on_path(name).and_then(|_| crate::process::version_of(name, &["--version"]));
    let (verdict, detail) = match missing(name, "not on PATH") {
        Some(why) if version.is_none() => (Verdict::Missing, why.to_string()),
        Some(why) => (Verdict::Unsupported, why.to_string()),
        None => (
            Verdict::Unknown,
            "binary and /dev/kvm present; whether KVM really boots a guest is shown by a launch (see the kvm row)"
                .into(),
        ),
    };
    avail(name, name, verdict, version, detail, Some(&hint))
}

/// The record dimensions of a KVM-only VMM.
pub fn vmm_dimensions(vm: &sandbench_spec::VmConfig) -> super::DriverDims {
    super::DriverDims { accel: Some(sandbench_spec::Accel::Kvm), disk_cache: Some(vm.disk_cache), ..Default::default() }
}
