//! The conversions between the campaign file's flat table and [`Environment`], and which keys
//! each driver takes.

use super::*;

/// The driver-specific keys `driver` takes: an exhaustive match, so a new driver must say.
/// Firecracker and Cloud Hypervisor are KVM microVMs: `machine = "microvm"` and
/// `accel = "kvm"`/"auto" stay valid so an environment switches VMM in one line.
pub fn keys_of(driver: Driver) -> &'static [&'static str] {
    const VM: [&str; 4] = ["machine", "accel", "disk_cache", "scratch_mib"];
    match driver {
        Driver::Native => &["pids_max"],
        Driver::Oci => &["runtime", "runtime_args", "pids_max", "seccomp", "user_namespace"],
        Driver::Docker => &["runtime", "socket", "pids_max"],
        Driver::Containerd => &["shim", "socket", "pids_max"],
        Driver::Qemu => &[VM[0], VM[1], VM[2], VM[3], "qemu_binary", "cpu_model", "extra_args"],
        Driver::Firecracker => &[VM[0], VM[1], VM[2], VM[3], "binary", "jailer", "jailer_uid", "jailer_gid"],
        Driver::CloudHypervisor => &[VM[0], VM[1], VM[2], VM[3], "binary"],
    }
}

impl EnvironmentFile {
    /// The driver keys this table sets.
    fn keys_set(&self) -> impl Iterator<Item = &'static str> {
        let set: [(&'static str, bool); 18] = [
            ("runtime", self.runtime.is_some()),
            ("runtime_args", self.runtime_args.is_some()),
            ("shim", self.shim.is_some()),
            ("socket", self.socket.is_some()),
            ("machine", self.machine.is_some()),
            ("accel", self.accel.is_some()),
            ("disk_cache", self.disk_cache.is_some()),
            ("qemu_binary", self.qemu_binary.is_some()),
            ("cpu_model", self.cpu_model.is_some()),
            ("extra_args", self.extra_args.is_some()),
            ("binary", self.binary.is_some()),
            ("scratch_mib", self.scratch_mib.is_some()),
            ("jailer", self.jailer.is_some()),
            ("pids_max", self.pids_max.is_some()),
            ("seccomp", self.seccomp.is_some()),
            ("user_namespace", self.user_namespace.is_some()),
            ("jailer_uid", self.jailer_uid.is_some()),
            ("jailer_gid", self.jailer_gid.is_some()),
        ];
        set.into_iter().filter(|(_, set)| *set).map(|(key, _)| key)
    }

    /// The first key of another driver, or what the microVM drivers refuse.
    fn check(&self) -> Result<(), EnvironmentError> {
        let driver = self.driver;
        if let Some(key) = self.keys_set().find(|k| !keys_of(driver).contains(k)) {
            let takers = Driver::all().filter(|d| keys_of(*d).contains(&key)).collect();
            return Err(EnvironmentError::KeyOfAnotherDriver { key, takers, environment: self.name.clone(), driver });
        }
        if matches!(driver, Driver::Firecracker | Driver::CloudHypervisor) {
            if self.machine.is_some_and(|m| m != Machine::Microvm) {
                return Err(EnvironmentError::OnlyMicrovm { driver });
            }
            if self.accel == Some(Accel::Tcg) {
                return Err(EnvironmentError::NeedsKvm { driver });
            }
        }
        if self.jailer.is_none() && (self.jailer_uid.is_some() || self.jailer_gid.is_some()) {
            return Err(EnvironmentError::JailerIdsWithoutJailer { environment: self.name.clone() });
        }
        Ok(())
    }

    fn vm(&self) -> VmConfig {
        let d = VmConfig::default();
        VmConfig {
            machine: self.machine,
            accel: self.accel.unwrap_or(d.accel),
            disk_cache: self.disk_cache.unwrap_or(d.disk_cache),
            scratch_mib: self.scratch_mib.unwrap_or(d.scratch_mib),
        }
    }
}

impl TryFrom<EnvironmentFile> for Environment {
    type Error = EnvironmentError;

    /// Every key the table leaves out takes its config type's `Default`: the one place each
    /// driver's defaults are written.
    fn try_from(f: EnvironmentFile) -> Result<Environment, EnvironmentError> {
        f.check()?;
        let config = match f.driver {
            Driver::Native => {
                let d = NativeConfig::default();
                DriverConfig::Native(NativeConfig { pids_max: f.pids_max.unwrap_or(d.pids_max) })
            }
            Driver::Oci => {
                let d = OciConfig::default();
                DriverConfig::Oci(OciConfig {
                    runtime: f.runtime.unwrap_or(d.runtime),
                    runtime_args: f.runtime_args.clone().or(d.runtime_args),
                    pids_max: f.pids_max.unwrap_or(d.pids_max),
                    seccomp: f.seccomp.unwrap_or(d.seccomp),
                    user_namespace: f.user_namespace.unwrap_or(d.user_namespace),
                })
            }
            Driver::Docker => {
                let d = DockerConfig::default();
                DriverConfig::Docker(DockerConfig {
                    runtime: f.runtime.unwrap_or(d.runtime),
                    socket: f.socket.clone().or(d.socket),
                    pids_max: f.pids_max.unwrap_or(d.pids_max),
                })
            }
            Driver::Containerd => {
                let d = ContainerdConfig::default();
                DriverConfig::Containerd(ContainerdConfig {
                    shim: f.shim.clone().unwrap_or(d.shim),
                    socket: f.socket.clone().or(d.socket),
                    pids_max: f.pids_max.unwrap_or(d.pids_max),
                })
            }
            Driver::Qemu => DriverConfig::Qemu(QemuConfig {
                vm: f.vm(),
                qemu_binary: f.qemu_binary.clone(),
                cpu_model: f.cpu_model.clone(),
                extra_args: f.extra_args.clone().unwrap_or_default(),
            }),
            Driver::Firecracker => DriverConfig::Firecracker(FirecrackerConfig {
                vm: f.vm(),
                binary: f.binary.clone().unwrap_or(FirecrackerConfig::default().binary),
                jailer: f.jailer.clone().map(|binary| JailerConfig {
                    binary,
                    uid: f.jailer_uid.unwrap_or(DEFAULT_JAILER_ID),
                    gid: f.jailer_gid.unwrap_or(DEFAULT_JAILER_ID),
                }),
            }),
            Driver::CloudHypervisor => DriverConfig::CloudHypervisor(CloudHypervisorConfig {
                vm: f.vm(),
                binary: f.binary.clone().unwrap_or(CloudHypervisorConfig::default().binary),
            }),
        };
        Ok(Environment { name: f.name, vcpus: f.vcpus, memory_mib: f.memory_mib, config })
    }
}

/// `Some(v)` unless `v` is the default: a table written back sets only what differs from it.
fn unless_default<T: PartialEq>(v: T, default: T) -> Option<T> {
    (v != default).then_some(v)
}

fn non_empty(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

impl From<Environment> for EnvironmentFile {
    fn from(e: Environment) -> EnvironmentFile {
        let driver = e.driver();
        let mut f = EnvironmentFile {
            name: e.name,
            driver,
            vcpus: e.vcpus,
            memory_mib: e.memory_mib,
            runtime: None,
            runtime_args: None,
            shim: None,
            socket: None,
            machine: None,
            accel: None,
            disk_cache: None,
            cpu_model: None,
            qemu_binary: None,
            binary: None,
            extra_args: None,
            jailer: None,
            scratch_mib: None,
            pids_max: e.config.pids_max().and_then(|p| unless_default(p, DEFAULT_PIDS_MAX)),
            seccomp: None,
            user_namespace: None,
            jailer_uid: None,
            jailer_gid: None,
        };
        if let Some(vm) = e.config.vm() {
            let d = VmConfig::default();
            f.machine = vm.machine;
            f.accel = unless_default(vm.accel, d.accel);
            f.disk_cache = unless_default(vm.disk_cache, d.disk_cache);
            f.scratch_mib = unless_default(vm.scratch_mib, d.scratch_mib);
        }
        match e.config {
            DriverConfig::Native(_) => {}
            DriverConfig::Oci(c) => {
                let d = OciConfig::default();
                f.runtime = unless_default(c.runtime, d.runtime);
                f.runtime_args = c.runtime_args;
                f.seccomp = unless_default(c.seccomp, d.seccomp);
                f.user_namespace = unless_default(c.user_namespace, d.user_namespace);
            }
            DriverConfig::Docker(c) => {
                (f.runtime, f.socket) = (unless_default(c.runtime, DockerConfig::default().runtime), c.socket);
            }
            DriverConfig::Containerd(c) => {
                (f.shim, f.socket) = (unless_default(c.shim, ContainerdConfig::default().shim), c.socket);
            }
            DriverConfig::Qemu(c) => {
                (f.qemu_binary, f.cpu_model, f.extra_args) = (c.qemu_binary, c.cpu_model, non_empty(c.extra_args));
            }
            DriverConfig::Firecracker(c) => {
                f.binary = unless_default(c.binary, FirecrackerConfig::default().binary);
                if let Some(j) = c.jailer {
                    f.jailer = Some(j.binary);
                    f.jailer_uid = unless_default(j.uid, DEFAULT_JAILER_ID);
                    f.jailer_gid = unless_default(j.gid, DEFAULT_JAILER_ID);
                }
            }
            DriverConfig::CloudHypervisor(c) => {
                f.binary = unless_default(c.binary, CloudHypervisorConfig::default().binary);
            }
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(driver: Driver) -> EnvironmentFile {
        EnvironmentFile::from(Environment::new("e", driver, 1, 256))
    }

    #[test]
    fn every_driver_key_belongs_to_a_driver_and_is_refused_elsewhere_with_the_takers_named() {
        let mut f = file(Driver::Oci);
        (f.cpu_model, f.pids_max) = (Some("max".into()), Some(64));
        let e = Environment::try_from(f.clone()).unwrap_err().to_string();
        assert!(e.contains("key `cpu_model` applies only to driver = \"qemu\""), "{e}");
        // A key's takers are named in declaration order.
        f.driver = Driver::Native;
        (f.cpu_model, f.disk_cache) = (None, Some(DiskCache::Writeback));
        let e = Environment::try_from(f).unwrap_err().to_string();
        assert!(e.contains("driver = \"qemu\" or \"firecracker\" or \"cloud-hypervisor\""), "{e}");
        // The microVM drivers take every key the switch between VMMs needs.
        for d in [Driver::Qemu, Driver::Firecracker, Driver::CloudHypervisor] {
            assert!(["machine", "accel", "disk_cache", "scratch_mib"].iter().all(|k| keys_of(d).contains(k)), "{d:?}");
        }
    }

    #[test]
    fn every_key_a_driver_takes_lands_in_its_config_and_is_written_back() {
        let f: EnvironmentFile = toml::from_str(
            "name = \"fc\"\ndriver = \"firecracker\"\nvcpus = 2\nmemory_mib = 1024\nmachine = \"microvm\"\n\
             accel = \"kvm\"\ndisk_cache = \"writeback\"\nscratch_mib = 512\nbinary = \"/opt/fc\"\n\
             jailer = \"/opt/jailer\"\njailer_uid = 1000\n",
        )
        .unwrap();
        let e = Environment::try_from(f).unwrap();
        let DriverConfig::Firecracker(c) = &e.config else { panic!("{e:?}") };
        assert_eq!(
            c.vm,
            VmConfig {
                machine: Some(Machine::Microvm),
                accel: Accel::Kvm,
                disk_cache: DiskCache::Writeback,
                scratch_mib: 512
            }
        );
        assert_eq!(c.binary, "/opt/fc");
        assert_eq!(c.jailer, Some(JailerConfig { binary: "/opt/jailer".into(), uid: 1000, gid: DEFAULT_JAILER_ID }));
        // Written back, then read again: the same environment.
        let text = toml::to_string(&e).unwrap();
        assert!(text.contains("jailer_uid = 1000") && !text.contains("jailer_gid"), "{text}");
        assert_eq!(toml::from_str::<Environment>(&text).unwrap(), e);
    }

    #[test]
    fn defaults_are_the_drivers_own_and_are_not_written_back() {
        for d in Driver::all() {
            let e = Environment::new("e", d, 1, 256);
            let text = toml::to_string(&e).unwrap();
            assert_eq!(text.lines().count(), 4, "{d}: only name, driver, vcpus, memory: {text}");
            assert_eq!(toml::from_str::<Environment>(&text).unwrap(), e, "{d}");
        }
        let DriverConfig::Containerd(c) = DriverConfig::default_for(Driver::Containerd) else { unreachable!() };
        assert_eq!((c.shim.as_str(), c.socket().as_str()), (DEFAULT_SHIM, CONTAINERD_SOCKET));
    }

    #[test]
    fn the_microvm_drivers_refuse_what_they_cannot_boot() {
        for (extra, want) in [("machine = \"q35\"", "boots only microVMs"), ("accel = \"tcg\"", "needs KVM")] {
            let text = format!("name = \"ch\"\ndriver = \"cloud-hypervisor\"\n{extra}\n");
            let e = Environment::try_from(toml::from_str::<EnvironmentFile>(&text).unwrap()).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
        let text = "name = \"fc\"\ndriver = \"firecracker\"\njailer_uid = 5\n";
        let e = Environment::try_from(toml::from_str::<EnvironmentFile>(text).unwrap()).unwrap_err();
        assert!(matches!(e, EnvironmentError::JailerIdsWithoutJailer { .. }), "{e}");
    }
}
