//! Least privilege inside OCI sandboxes: a syscall filter, a pids limit and, as an option, a
//! user namespace.
//!
//! The filter blocks what Docker's default seccomp profile blocks (the list Docker documents
//! as "significant syscalls blocked by the default profile", docs.docker.com/engine/security/
//! seccomp): kernel modules, kexec, mount and namespace calls, ptrace and cross-process memory
//! access, keyrings, clock setting, swap, reboot, BPF, perf and userfaultfd. Docker's profile
//! is an allow-list; this is the same set written as a deny-list (default allow, those fail
//! with EPERM), which is what an OCI runtime needs to load it without Docker's per-capability
//! conditions.

use serde_json::{json, Value};

/// The syscalls Docker's default profile denies.
pub const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "perf_event_open",
    "personality",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "set_mempolicy",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "sysfs",
    "_sysctl",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
];

/// Host uid (and gid) the container's root maps to with `user_namespace = true`.
pub const USERNS_BASE: u32 = 100_000;
/// How many ids the container's user namespace maps.
pub const USERNS_SIZE: u32 = 65_536;

/// The OCI `linux.seccomp` object.
pub fn seccomp() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "syscalls": [{ "names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
    })
}

/// Adds the filter (unless `unconfined`), the pids limit and the user namespace to `config`.
/// Returns a line for the record.
pub fn harden(config: &mut Value, seccomp_on: bool, pids_max: u32, user_namespace: bool) -> String {
    let mut what = vec![format!("pids.max {pids_max}")];
    if config["linux"]["resources"].is_object() {
        config["linux"]["resources"]["pids"] = json!({ "limit": pids_max });
    }
    if seccomp_on {
        config["linux"]["seccomp"] = seccomp();
        what.push(format!("seccomp: {} syscalls Docker's default profile blocks fail with EPERM", DENIED.len()));
    } else {
        what.push("seccomp: unconfined".into());
    }
    if user_namespace {
        if let Some(ns) = config["linux"]["namespaces"].as_array_mut() {
            ns.push(json!({"type": "user"}));
        }
        let map = json!([{ "containerID": 0, "hostID": USERNS_BASE, "size": USERNS_SIZE }]);
        config["linux"]["uidMappings"] = map.clone();
        config["linux"]["gidMappings"] = map;
        // A user namespace may not mount sysfs for a network namespace it does not own (the
        // sandbox's link): bind the host's read-only, as `runc spec --rootless` does.
        if let Some(mounts) = config["mounts"].as_array_mut() {
            for m in mounts.iter_mut().filter(|m| m["destination"] == "/sys") {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
        }
        what.push(format!("user namespace: root is host uid {USERNS_BASE}"));
    }
    what.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hardened_config_is_a_valid_oci_spec() {
        let mut v = crate::driver::oci::config_json(std::path::Path::new("/r"), "abc", 1, 256, true);
        let line = harden(&mut v, true, 64, true);
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.resources().as_ref().unwrap().pids().as_ref().unwrap().limit(), 64);
        let sc = linux.seccomp().as_ref().unwrap();
        assert!(sc.syscalls().as_ref().unwrap()[0].names().contains(&"ptrace".to_string()));
        assert_eq!(linux.uid_mappings().as_ref().unwrap()[0].host_id(), USERNS_BASE);
        assert!(line.contains("pids.max 64") && line.contains("seccomp") && line.contains("user namespace"));
    }
}
