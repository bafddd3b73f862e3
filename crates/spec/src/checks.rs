//! The checks of one `[[environment]]` table: its own values, and which keys its driver takes.

use crate::campaign::{valid_name, Accel, Driver, Environment, Machine, Problem};

/// One environment's own checks: its name (valid, unique), pids, vcpus and memory.
pub(crate) fn environment_problems(
    e: &Environment,
    span: std::ops::Range<usize>,
    names: &mut std::collections::HashSet<String>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    if !valid_name(&e.name) {
        out.push(Problem {
            span: span.clone(),
            message: format!("environment name `{}` must be 1-40 characters of a-z, 0-9, `-` or `_`", e.name),
        });
    }
    if !names.insert(e.name.clone()) {
        out.push(Problem { span: span.clone(), message: format!("environment name `{}` is used twice", e.name) });
    }
    if e.pids_max.is_some_and(|p| p < 16) {
        out.push(Problem {
            span: span.clone(),
            message: format!(
                "`pids_max` = {} is too low: the agent alone needs about 10; use 16 or more",
                e.pids_max.unwrap_or(0)
            ),
        });
    }
    if e.vcpus == 0 || e.memory_mib < 64 {
        out.push(Problem { span: span.clone(), message: "`vcpus` must be ≥ 1 and `memory_mib` ≥ 64".into() });
    }
    out
}

/// Keys that apply only to some drivers, and what the microVM drivers refuse.
pub(crate) fn driver_key_problems(e: &Environment, span: std::ops::Range<usize>) -> Vec<Problem> {
    let mut out = Vec::new();
    use Driver::*;
    let keys: [(&str, bool, &[Driver]); 18] = [
        ("runtime", e.runtime.is_some(), &[Oci, Docker]),
        ("runtime_args", e.runtime_args.is_some(), &[Oci]),
        ("shim", e.shim.is_some(), &[Containerd]),
        ("socket", e.socket.is_some(), &[Docker, Containerd]),
        // Firecracker and Cloud Hypervisor are KVM microVMs: `machine = "microvm"` and
        // `accel = "kvm"`/"auto" stay valid so an environment switches VMM in one line.
        ("machine", e.machine.is_some(), &[Qemu, Firecracker, CloudHypervisor]),
        ("accel", e.accel.is_some(), &[Qemu, Firecracker, CloudHypervisor]),
        ("disk_cache", e.disk_cache.is_some(), &[Qemu, Firecracker, CloudHypervisor]),
        ("qemu_binary", e.qemu_binary.is_some(), &[Qemu]),
        ("cpu_model", e.cpu_model.is_some(), &[Qemu]),
        ("extra_args", e.extra_args.is_some(), &[Qemu]),
        ("binary", e.binary.is_some(), &[Firecracker, CloudHypervisor]),
        ("scratch_mib", e.scratch_mib.is_some(), &[Qemu, Firecracker, CloudHypervisor]),
        ("jailer", e.jailer.is_some(), &[Firecracker]),
        ("pids_max", e.pids_max.is_some(), &[Native, Oci, Docker, Containerd]),
        ("seccomp", e.seccomp.is_some(), &[Oci]),
        ("user_namespace", e.user_namespace.is_some(), &[Oci]),
        ("jailer_uid", e.jailer_uid.is_some(), &[Firecracker]),
        ("jailer_gid", e.jailer_gid.is_some(), &[Firecracker]),
    ];
    if matches!(e.driver, Firecracker | CloudHypervisor) {
        if e.machine.is_some_and(|m| m != Machine::Microvm) {
            out.push(Problem {
                span: span.clone(),
                message: format!(
                    "driver = \"{}\" boots only microVMs: `machine` must be \"microvm\" or absent",
                    e.driver.as_str()
                ),
            });
        }
        if e.accel == Some(Accel::Tcg) {
            out.push(Problem {
                span: span.clone(),
                message: format!(
                    "driver = \"{}\" needs KVM: `accel` must be \"kvm\", \"auto\" or absent",
                    e.driver.as_str()
                ),
            });
        }
    }
    for (key, set, drivers) in keys {
        if set && !drivers.contains(&e.driver) {
            let valid: Vec<String> = drivers.iter().map(|d| format!("\"{}\"", d.as_str())).collect();
            out.push(Problem {
                span: span.clone(),
                message: format!(
                    "key `{key}` applies only to driver = {} (environment `{}` has driver = \"{}\")",
                    valid.join(" or "),
                    e.name,
                    e.driver.as_str()
                ),
            });
        }
    }
    out
}
