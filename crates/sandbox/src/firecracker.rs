//! `firecracker`: the guest image in a Firecracker microVM started with `--config-file` (as the
//! AI paper did), the ELF vmlinux booted directly, the root disk as a virtio-mmio block device
//! (described in ACPI tables by Firecracker ≥ 1.8, which the Debian kernel reads), the serial
//! console as the agent channel. Needs a working KVM; where the binary or KVM is missing the
//! launch says so as `unsupported`.

use crate::process;
use crate::vmm_process::VmmProcess;
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_image::GuestImage;
use sandbench_sampler::Accounting;
use sandbench_spec::{DiskCache, Environment};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Firecracker's block cache type for a campaign `disk_cache`: only `Writeback` honours the
/// guest's flushes; `Unsafe` (its default) drops them.
pub fn cache_type(c: DiskCache) -> &'static str {
    match c {
        DiskCache::None | DiskCache::Directsync | DiskCache::Writethrough => "Writeback",
        DiskCache::Writeback | DiskCache::Unsafe => "Unsafe",
    }
}

/// The `--config-file` document (Firecracker's `FullVmConfiguration`).
pub fn config(env: &Environment, image: &GuestImage, vmlinux: &Path) -> serde_json::Value {
    let mut args = crate::qemu::guest_kernel_args();
    // No PCI bus in Firecracker; devices come from ACPI (≥ 1.8).
    args.push("pci=off".into());
    json!({
        "boot-source": {
            "kernel_image_path": vmlinux.display().to_string(),
            "initrd_path": image.initramfs.display().to_string(),
            "boot_args": args.join(" "),
        },
        "drives": [{
            "drive_id": "rootfs",
            "path_on_host": image.rootfs_ext4.display().to_string(),
            "is_root_device": false,
            "is_read_only": true,
            "cache_type": cache_type(env.disk_cache()),
            "io_engine": "Sync",
        }],
        "machine-config": {
            "vcpu_count": env.vcpus,
            "mem_size_mib": env.memory_mib,
            "smt": false,
        },
    })
}

pub fn binary(env: &Environment) -> String {
    env.binary.clone().unwrap_or_else(|| "firecracker".into())
}

/// Why this host cannot run a VMM that needs KVM, if it cannot.
pub fn missing(bin: &str, hint: &str) -> Option<String> {
    let found = if bin.contains('/') { Path::new(bin).is_file() } else { crate::probe::on_path(bin).is_some() };
    if !found {
        return Some(format!("{bin} not found ({hint})"));
    }
    if !Path::new("/dev/kvm").exists() {
        return Some("no /dev/kvm: this VMM runs only with KVM".into());
    }
    None
}

#[derive(Default)]
pub struct Firecracker {
    vmm: VmmProcess,
}

impl Sandbox for Firecracker {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let image = spec.need_image()?;
        let bin = binary(spec.env);
        if let Some(why) = missing(
            &bin,
            "no Debian package: install the release binary from the Firecracker project on a host with KVM",
        ) {
            return Err(SandboxError::Unsupported { why });
        }
        let vmlinux = image.vmlinux.clone().ok_or_else(|| SandboxError::Unsupported {
            why: "Firecracker boots an ELF vmlinux; none could be extracted from this kernel".into(),
        })?;
        self.vmm.prepare(spec)?;
        let cfg = config(spec.env, image, &vmlinux);
        let cfg_path = spec.work_dir.join("firecracker.json");
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap_or_default())
            .map_err(|source| SandboxError::Io { what: format!("write {}", cfg_path.display()), source })?;
        let t0 = Instant::now();
        let log = spec.work_dir.join("firecracker.stderr");
        let mut cmd = Command::new(&bin);
        cmd.arg("--no-api").arg("--config-file").arg(&cfg_path).arg("--id").arg(&spec.id).current_dir(&spec.work_dir);
        let (channel, pid, spawned_at) = self.vmm.start(&mut cmd, &log, "install the Firecracker release binary")?;
        let boot = crate::channel::await_agent(&channel, spec, t0, spawned_at, &log, true)?;
        let mut facts = BTreeMap::new();
        facts.insert("accel".into(), "kvm".into());
        facts.insert("machine".into(), "firecracker".into());
        facts.insert("firecracker".into(), process::version_of(&bin, &["--version"]).unwrap_or_default());
        facts.insert(
            "disk_cache".into(),
            format!("{} (cache_type {})", spec.env.disk_cache().as_str(), cache_type(spec.env.disk_cache())),
        );
        facts.insert("config".into(), cfg.to_string());
        Ok(Running { channel, accounting: Accounting { roots: vec![pid], cgroup: None }, boot, facts })
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        self.vmm.stop();
        Ok(())
    }
}
