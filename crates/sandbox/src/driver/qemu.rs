//! `qemu`: the guest image in a QEMU VM, on x86_64 machine `microvm` (PVH boot of the ELF
//! vmlinux, virtio-mmio) or `q35` (bzImage through SeaBIOS, virtio-pci), on aarch64 machine
//! `virt` (the arm64 `Image`, virtio-pci, the PL011 console), root on virtio-blk, the agent on
//! the serial console.
//!
//! `accel = "auto"` really boots with KVM first; if that guest does not come up (as on hosts
//! whose /dev/kvm cannot run a stock kernel), it boots with TCG and records why.

use super::vmm_process::VmmProcess;
use crate::process;
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_spec::{Accel, Arch, Environment, Machine, QemuConfig};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// KVM boot probe results per machine type, for the life of the process.
static KVM_VERDICT: Mutex<Option<HashMap<&'static str, Result<(), String>>>> = Mutex::new(None);

/// Longest a KVM probe boot may take before `auto` falls back to TCG.
const KVM_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Qemu {
    cfg: QemuConfig,
    vmm: VmmProcess,
}

/// The host TSC frequency in kHz, from /proc/cpuinfo.
fn host_tsc_khz() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let mhz: f64 = text.lines().find(|l| l.starts_with("cpu MHz"))?.split(':').nth(1)?.trim().parse().ok()?;
    Some((mhz * 1000.0) as u64)
}

/// What a VM boots and attaches, besides its environment's settings.
#[derive(Clone, Copy)]
pub struct GuestFiles<'a> {
    pub kernel: &'a Path,
    pub initramfs: &'a Path,
    /// The read-only root disk.
    pub rootfs: &'a Path,
    /// The sandbox's own scratch disk.
    pub scratch: Option<&'a Path>,
    /// The sandbox's network link (a tap device).
    pub net: Option<&'a crate::net::Link>,
}

/// The guest's NIC on the tap `net0`. A PCI NIC gets no option ROM (`romfile=`): the kernel is
/// booted directly, nothing boots from the network, and QEMU installed without its recommended
/// packages (an arm64 board's `qemu-system-arm` without `ipxe-qemu`) has no `efi-virtio.rom`
/// and refuses to start otherwise.
fn nic_device(machine: Machine) -> String {
    match machine {
        Machine::Microvm => "virtio-net-device,netdev=net0".into(),
        Machine::Q35 | Machine::Virt => "virtio-net-pci,netdev=net0,romfile=".into(),
    }
}

/// The QEMU command line for `env` (of config `cfg`) with a concrete accelerator (not `auto`).
pub fn command_line(env: &Environment, cfg: &QemuConfig, accel: Accel, files: &GuestFiles, name: &str) -> Vec<String> {
    let GuestFiles { kernel, initramfs, rootfs, scratch, net } = *files;
    let machine = cfg.vm.machine();
    let mut append = super::vmm_process::guest_kernel_args(machine.console(), machine.arch());
    let mut a: Vec<String> = vec![
        "-name".into(),
        name.into(),
        "-nodefaults".into(),
        "-no-user-config".into(),
        "-display".into(),
        "none".into(),
    ];
    a.extend(["-serial", "stdio", "-monitor", "none", "-no-reboot"].map(String::from));
    let blk = match machine {
        Machine::Microvm => {
            a.extend(["-M".into(), "microvm".into()]);
            // Under TCG the PIT calibration of the TSC is unreliable on microvm (no HPET or
            // PM timer to fall back on): tell the kernel the host's TSC rate, which TCG uses.
            if accel == Accel::Tcg {
                if let Some(khz) = host_tsc_khz() {
                    append.push(format!("tsc_early_khz={khz}"));
                }
                // TCG's TSC follows the host's monotonic clock, but the kernel's watchdog finds it
                // unstable and falls back to jiffies (4 ms ticks: every guest timing would be
                // a multiple of 4 ms). It is reliable here; say so.
                append.push("tsc=reliable".into());
            }
            "virtio-blk-device"
        }
        Machine::Q35 => {
            a.extend(["-M".into(), "q35".into()]);
            "virtio-blk-pci"
        }
        Machine::Virt => {
            // With KVM the interrupt controller must be the host's own (GICv2 on a Pi 4, v3 on
            // newer boards); under TCG QEMU's default (v2, the Cortex-A72's) works everywhere.
            let m = if accel == Accel::Kvm { "virt,gic-version=host" } else { "virt" };
            a.extend(["-M".into(), m.into()]);
            "virtio-blk-pci"
        }
    };
    if let Some(link) = net {
        append.push(link.kernel_arg());
    }
    a.extend(["-accel".into(), accel.as_str().into()]);
    a.extend(["-cpu".into(), cfg.cpu_model(accel)]);
    a.extend(["-smp".into(), env.vcpus.to_string(), "-m".into(), env.memory_mib.to_string()]);
    a.extend(["-kernel".into(), kernel.display().to_string(), "-initrd".into(), initramfs.display().to_string()]);
    a.extend(["-append".into(), append.join(" ")]);
    a.extend([
        "-drive".into(),
        format!(
            "id=root,file={},format=raw,if=none,readonly=on,cache={}",
            rootfs.display(),
            cfg.vm.disk_cache.as_str()
        ),
        "-device".into(),
        format!("{blk},drive=root"),
    ]);
    if let Some(disk) = scratch {
        a.extend([
            "-drive".into(),
            format!("id=scratch,file={},format=raw,if=none,cache={}", disk.display(), cfg.vm.disk_cache.as_str()),
            "-device".into(),
            format!("{blk},drive=scratch,serial={}", crate::scratch::DISK_SERIAL),
        ]);
    }
    if let Some(link) = net {
        a.extend([
            "-netdev".into(),
            format!("tap,id=net0,ifname={},script=no,downscript=no", link.host_if),
            "-device".into(),
            nic_device(machine),
        ]);
    }
    a.extend(cfg.extra_args.iter().cloned());
    a
}

impl Qemu {
    fn boot(&mut self, spec: &LaunchSpec, accel: Accel, timeout: Duration) -> Result<Running, SandboxError> {
        let t0 = Instant::now();
        let machine = self.cfg.vm.machine();
        let image = spec.need_image()?;
        if let Some(why) = sandbench_spec::arch::wrong_arch(machine, Arch::HOST) {
            return Err(SandboxError::Unsupported { why });
        }
        let kernel = match machine {
            Machine::Microvm => image.vmlinux.clone().ok_or_else(|| SandboxError::Unsupported {
                why: "microvm boots an ELF vmlinux with a PVH note and none could be extracted from this kernel".into(),
            })?,
            // bzImage (q35, through SeaBIOS) and the arm64 Image (virt) boot as they are.
            Machine::Q35 | Machine::Virt => image.vmlinuz.clone(),
        };
        let binary = binary(&self.cfg);
        let files = GuestFiles {
            kernel: &kernel,
            initramfs: &image.initramfs,
            rootfs: &image.rootfs_ext4,
            scratch: self.vmm.disk(),
            net: self.vmm.link(),
        };
        let args = command_line(spec.env, &self.cfg, accel, &files, &format!("sandbench-{}", spec.id));
        let log = spec.work_dir.join(format!("qemu-{}.stderr", accel.as_str()));
        let mut cmd = Command::new(&binary);
        cmd.args(&args).current_dir(&spec.work_dir);
        let (channel, pid, spawned_at) =
            self.vmm.start(&mut cmd, &log, &format!("install it: apt-get install {}", Arch::HOST.qemu().1))?;
        let boot = crate::channel::await_agent_within(&channel, spec, t0, spawned_at, &log, true, timeout)?;
        let mut facts = BTreeMap::new();
        facts.insert("machine".into(), machine.as_str().into());
        facts.insert("cpu_model".into(), self.cfg.cpu_model(accel));
        facts.insert("disk_cache".into(), self.cfg.vm.disk_cache.as_str().into());
        facts.insert("qemu".into(), process::version_of(&binary, &["--version"]).unwrap_or_default());
        facts.insert("qemu_command".into(), format!("{binary} {}", args.join(" ")));
        Ok(self.vmm.running(channel, pid, boot, facts, accel))
    }
}

impl Sandbox for Qemu {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        self.vmm.prepare(spec)?;
        self.vmm.scratch_disk(spec, self.cfg.vm.scratch_mib)?;
        self.vmm.tap(spec)?;
        match self.cfg.vm.accel {
            Accel::Auto => {
                let key = self.cfg.vm.machine().as_str();
                let known = KVM_VERDICT.lock().ok().and_then(|m| m.as_ref().and_then(|m| m.get(key).cloned()));
                let verdict = match known {
                    Some(v) => v,
                    None if !Path::new("/dev/kvm").exists() => Err("no /dev/kvm".to_string()),
                    None => {
                        let probe = self.boot(spec, Accel::Kvm, KVM_PROBE_TIMEOUT.min(spec.boot_timeout));
                        let v = match probe {
                            Ok(running) => return Ok(remember(key, Ok(()), running)),
                            Err(e) => Err(format!("a KVM guest did not boot: {}", e.with_last_output())),
                        };
                        self.vmm.kill();
                        v
                    }
                };
                remember_verdict(key, verdict.clone());
                match verdict {
                    Ok(()) => self.boot(spec, Accel::Kvm, spec.boot_timeout),
                    Err(why) => {
                        let mut r = self.boot(spec, Accel::Tcg, spec.boot_timeout)?;
                        r.facts.insert("accel_auto".into(), format!("tcg, because {why}"));
                        Ok(r)
                    }
                }
            }
            accel => self.boot(spec, accel, spec.boot_timeout),
        }
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        self.vmm.stop();
        Ok(())
    }
}

fn remember_verdict(key: &'static str, v: Result<(), String>) {
    if let Ok(mut m) = KVM_VERDICT.lock() {
        m.get_or_insert_with(HashMap::new).insert(key, v);
    }
}

fn remember(key: &'static str, v: Result<(), String>, mut running: Running) -> Running {
    remember_verdict(key, v);
    running.facts.insert("accel_auto".into(), "kvm (a KVM guest booted)".into());
    running
}

/// Boots the image once with KVM to tell whether KVM really works here (doctor).
pub fn probe_kvm(spec: &LaunchSpec, cfg: &QemuConfig) -> Result<f64, String> {
    if !Path::new("/dev/kvm").exists() {
        return Err("no /dev/kvm".into());
    }
    let mut q = Qemu { cfg: cfg.clone(), ..Qemu::default() };
    if let Err(e) = q.vmm.prepare(spec) {
        return Err(e.to_string());
    }
    let r = q.boot(spec, Accel::Kvm, KVM_PROBE_TIMEOUT.min(spec.boot_timeout));
    let out = r.map(|r| r.boot.total_ms).map_err(|e| e.with_last_output());
    let _ = q.teardown();
    out
}

/// The QEMU binary an environment runs: the campaign's, else the one of its machine's
/// architecture.
fn binary(cfg: &QemuConfig) -> String {
    cfg.qemu_binary.clone().unwrap_or_else(|| cfg.vm.machine().arch().qemu().0.into())
}

/// Doctor's rows for the machine types sandbench drives on this host's architecture.
fn machine_rows() -> Vec<crate::probe::Availability> {
    use crate::probe::{avail, Verdict};
    let (bin, package) = Arch::HOST.qemu();
    let found = process::on_path(bin);
    let version = found.as_ref().and_then(|_| process::version_of(bin, &["--version"]));
    let help = found
        .as_ref()
        .and_then(|_| process::run_bounded(Command::new(bin).args(["-machine", "help"])))
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    Arch::HOST
        .machines()
        .iter()
        .map(|m| {
            let m = m.as_str();
            let has = help.as_deref().is_some_and(|t| t.lines().any(|l| l.split_whitespace().next() == Some(m)));
            let (verdict, detail) = match (&found, has) {
                (None, _) => (Verdict::Missing, format!("{bin} not found")),
                (Some(_), false) => (Verdict::Unsupported, format!("this QEMU has no `{m}` machine")),
                (Some(_), true) => (Verdict::Ok, format!("machine {m} available")),
            };
            avail(
                &format!("qemu-{m}"),
                "qemu",
                verdict,
                version.clone(),
                detail,
                Some(&format!("apt-get install {package}")),
            )
        })
        .collect()
}

/// Doctor's KVM row: decided by booting the image with KVM, not by /dev/kvm existing.
fn kvm_row(cx: &super::DoctorContext) -> crate::probe::Availability {
    use crate::probe::{avail, Verdict};
    let present = Path::new("/dev/kvm").exists();
    let (image, agent) = match (cx.image, cx.agent) {
        (Ok(image), Some(agent)) => (image, agent),
        (image, _) => {
            let why = image.err().unwrap_or("no static agent");
            let (verdict, detail) = if present {
                (Verdict::Unknown, format!("/dev/kvm exists, which is not enough; not probed: {why}"))
            } else {
                (Verdict::Missing, "no /dev/kvm".into())
            };
            return avail("kvm", "qemu", verdict, None, detail, None);
        }
    };
    let (verdict, detail) = match boot_with_kvm(image, agent, cx.work) {
        Ok(ms) => {
            (Verdict::Ok, format!("a KVM {} guest booted to the agent in {ms:.0} ms", Arch::HOST.default_machine()))
        }
        Err(e) => (
            Verdict::Unsupported,
            format!("{e}; qemu environments with accel = \"auto\" use TCG (software CPU, several times slower)"),
        ),
    };
    avail("kvm", "qemu", verdict, None, detail, None)
}

/// Boots the smallest KVM guest of this host's default machine: what the doctor checks.
fn boot_with_kvm(image: &sandbench_image::GuestImage, agent: &Path, work: &Path) -> Result<f64, String> {
    let mut cfg = QemuConfig::default();
    cfg.vm.accel = Accel::Kvm;
    let env = &Environment {
        config: sandbench_spec::DriverConfig::Qemu(cfg.clone()),
        ..Environment::new("kvm", sandbench_spec::Driver::Qemu, 1, 256)
    };
    let spec = LaunchSpec {
        id: format!("sbdoctor-{}", std::process::id()),
        env,
        agent,
        image: Some(image),
        work_dir: work.join("kvm"),
        assets: None,
        boot_timeout: KVM_PROBE_TIMEOUT,
        network: false,
        peer_limits: Default::default(),
        cancel: Default::default(),
    };
    probe_kvm(&spec, &cfg)
}

/// The VMM process of a sandbox: QEMU runs as `-name sandbench-<id>`.
fn sandbox_of(args: &[String]) -> Option<String> {
    args.windows(2).find(|w| w[0] == "-name").and_then(|w| w[1].strip_prefix("sandbench-").map(str::to_string))
}

/// What `qemu` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &["qemu-system-x86_64", "qemu-system-aarch64"], kvm: false, root: false }
    }

    fn doctor(&self, cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        let mut rows = machine_rows();
        rows.push(kvm_row(cx));
        rows
    }

    fn reap_stale(&self, _sweep: &super::Sweep) -> Vec<String> {
        crate::stale::kill_processes(sandbox_of)
    }
}

/// A `qemu` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a QemuConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        Box::new(Qemu { cfg: self.cfg.clone(), ..Qemu::default() })
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        let machine = self.cfg.vm.machine();
        if machine.arch() != Arch::HOST {
            return Err(super::Unsupported::WrongArch { machine });
        }
        let bin = binary(self.cfg);
        process::on_path(&bin).map(|_| ()).ok_or_else(|| super::Unsupported::Missing {
            program: bin,
            hint: format!("apt-get install {}", Arch::HOST.qemu().1),
        })
    }

    /// The QEMU binary's version.
    fn versions(&self) -> Vec<(String, String)> {
        let bin = binary(self.cfg);
        let v = process::version_of(&bin, &["--version"]).unwrap_or_else(|| "missing".into());
        vec![(bin, v)]
    }

    fn dimensions(&self) -> super::DriverDims {
        let vm = &self.cfg.vm;
        super::DriverDims {
            machine: Some(vm.machine()),
            accel: Some(vm.accel),
            disk_cache: Some(vm.disk_cache),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_vmm_process_is_known_by_its_name() {
        let argv = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::sandbox_of(&argv(&["qemu", "-name", "sandbench-sb12-q-1", "-m", "256"])),
            Some("sb12-q-1".into())
        );
        assert_eq!(super::sandbox_of(&argv(&["qemu", "-name", "other"])), None);
        assert_eq!(super::sandbox_of(&argv(&["qemu"])), None);
    }

    #[test]
    fn a_pci_nic_asks_for_no_option_rom() {
        use sandbench_spec::campaign::Machine;
        assert_eq!(super::nic_device(Machine::Virt), "virtio-net-pci,netdev=net0,romfile=");
        assert_eq!(super::nic_device(Machine::Q35), "virtio-net-pci,netdev=net0,romfile=");
        assert_eq!(super::nic_device(Machine::Microvm), "virtio-net-device,netdev=net0");
    }
}
