//! What sandbench sends to Firecracker and Cloud Hypervisor, checked against their published
//! API specifications (tests/fixtures/specs): every property known to the schema, required
//! ones present, types and enum values right. These run everywhere; the VMMs themselves need
//! their binaries and a working KVM (see crates/cli/tests/vmms.rs).

use sandbench_image::{GuestImage, ImageManifest};
use sandbench_sandbox::net::{Link, LinkKind};
use sandbench_spec::{Campaign, DiskCache, DriverConfig, Environment};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn spec(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs").join(name);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_value(yaml).unwrap()
}

fn resolve<'a>(root: &'a Value, reference: &str) -> &'a Value {
    reference.trim_start_matches("#/").split('/').fold(root, |v, k| &v[k])
}

/// Strict validation: unknown properties are errors (the VMMs reject them too).
fn validate(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return validate(root, resolve(root, r), value, at, errors);
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match ty {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        _ => true,
    };
    if !ok {
        errors.push(format!("{at}: expected {}, got {value}", ty.unwrap_or("?")));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            errors.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            if !obj.contains_key(req.as_str().unwrap_or("")) {
                errors.push(format!("{at}: missing required `{}`", req.as_str().unwrap_or("")));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(root, s, v, &format!("{at}.{k}"), errors),
                None if props.is_some() => errors.push(format!("{at}: unknown property `{k}`")),
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            validate(root, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

fn image() -> GuestImage {
    let dir = PathBuf::from("/var/cache/sandbench/images/test");
    GuestImage {
        vmlinuz: dir.join("vmlinuz"),
        vmlinux: Some(dir.join("vmlinux")),
        initramfs: dir.join("initramfs.cpio"),
        rootfs_dir: dir.join("rootfs"),
        rootfs_ext4: dir.join("rootfs.ext4"),
        dir,
        manifest: ImageManifest {
            key: "test".into(),
            format: "x".into(),
            kernel_source: "x".into(),
            kernel_release: "x".into(),
            busybox: "x".into(),
            agent_sha256: "x".into(),
            rootfs_source: "x".into(),
            modules: vec![],
            pvh: true,
            assets: vec![],
            agent_libraries: vec![],
        },
        reused: true,
    }
}

/// The Firecracker config of a firecracker environment.
fn fc(e: &Environment) -> &sandbench_spec::FirecrackerConfig {
    let DriverConfig::Firecracker(c) = &e.config else { panic!("{e:?}") };
    c
}

fn env(driver: &str, extra: &str) -> Environment {
    let text = format!("[[environment]]\nname = \"e\"\ndriver = \"{driver}\"\nvcpus = 4\nmemory_mib = 4096\n{extra}\n[[workload]]\nname = \"w\"\nkind = \"cpu\"\n");
    Campaign::parse(&text, Path::new("t.toml")).unwrap().envs().next().unwrap().clone()
}

#[test]
fn firecracker_config_file_matches_full_vm_configuration() {
    let tap = Link::planned("sb1-fc-1", LinkKind::Tap);
    let root = spec("firecracker-api.yaml");
    let schema = resolve(&root, "#/definitions/FullVmConfiguration").clone();
    for cache in ["none", "unsafe", "writeback"] {
        let e = env("firecracker", &format!("disk_cache = \"{cache}\""));
        let img = image();
        let files = sandbench_sandbox::driver::firecracker::VmFiles {
            kernel: img.vmlinux.clone().unwrap(),
            initrd: img.initramfs.clone(),
            rootfs: img.rootfs_ext4.clone(),
            scratch: Some("/s/scratch.ext4".into()),
            metrics: Some("/w/firecracker.metrics".into()),
        };
        let cfg = sandbench_sandbox::driver::firecracker::config(&e, fc(&e), &files, Some(&tap));
        let mut errors = Vec::new();
        validate(&root, &schema, &cfg, "config", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}\n{cfg:#}");
        assert_eq!(cfg["machine-config"]["vcpu_count"], 4);
        assert_eq!(cfg["machine-config"]["mem_size_mib"], 4096);
        assert_eq!(cfg["drives"][1]["is_read_only"], false);
        assert_eq!(cfg["network-interfaces"][0]["host_dev_name"], tap.host_if);
        assert!(cfg["boot-source"]["boot_args"].as_str().unwrap().contains(&tap.kernel_arg()));
        assert_eq!(cfg["metrics"]["metrics_path"], "/w/firecracker.metrics");
    }
    // The jailed variant points every path inside the chroot and still validates.
    let e = env("firecracker", "jailer = \"/usr/local/bin/jailer\"");
    let jailed = sandbench_sandbox::driver::firecracker::VmFiles {
        kernel: "/vmlinux".into(),
        initrd: "/initramfs".into(),
        rootfs: "/rootfs.ext4".into(),
        scratch: Some("/scratch.ext4".into()),
        metrics: Some("/metrics".into()),
    };
    let cfg = sandbench_sandbox::driver::firecracker::config(&e, fc(&e), &jailed, None);
    let mut errors = Vec::new();
    validate(&root, &schema, &cfg, "config", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{cfg:#}");
    assert_eq!(cfg["drives"][0]["path_on_host"], "/rootfs.ext4");
    // Only the non-Unsafe cache type makes a guest's flushes reach the disk.
    assert_eq!(sandbench_sandbox::driver::firecracker::cache_type(DiskCache::None), "Writeback");
    assert_eq!(sandbench_sandbox::driver::firecracker::cache_type(DiskCache::Unsafe), "Unsafe");
}

#[test]
fn firecracker_metrics_lines_are_summed_per_trial() {
    // Two flushes as Firecracker writes them: each line holds the counts since the last one.
    let lines = r#"{"utc_timestamp_ms":1,"block":{"read_bytes":4096,"write_bytes":0,"flush_count":1},"net":{"rx_bytes_count":100,"tx_bytes_count":50},"vcpu":{"exit_io_out":7,"exit_mmio_read":3,"exit_mmio_write":2}}
{"utc_timestamp_ms":2,"block":{"read_bytes":8192,"write_bytes":512,"flush_count":0},"net":{"rx_bytes_count":1,"tx_bytes_count":2},"vcpu":{"exit_io_out":1,"exit_mmio_read":0,"exit_mmio_write":0}}
not json
"#;
    let m = sandbench_sandbox::driver::firecracker::sum_metrics(lines);
    assert_eq!(m["block_read_bytes"], 12288);
    assert_eq!(m["block_write_bytes"], 512);
    assert_eq!(m["net_tx_bytes_count"], 52);
    assert_eq!(m["vcpu_exit_io_out"], 8);
    assert_eq!(m["flushes"], 2);
}

#[test]
fn cloud_hypervisor_vm_create_body_matches_vm_config() {
    let tap = Link::planned("sb1-ch-1", LinkKind::Tap);
    let root = spec("cloud-hypervisor-api.yaml");
    let schema = resolve(&root, "#/components/schemas/VmConfig").clone();
    let e = env("cloud-hypervisor", "disk_cache = \"none\"");
    let img = image();
    let DriverConfig::CloudHypervisor(ch) = &e.config else { panic!("{e:?}") };
    let cfg = sandbench_sandbox::driver::cloud_hypervisor::vm_config(
        &e,
        ch,
        &img,
        img.vmlinux.as_ref().unwrap(),
        Some(Path::new("/s/scratch.ext4")),
        Some(&tap),
    );
    let mut errors = Vec::new();
    validate(&root, &schema, &cfg, "vm_config", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{cfg:#}");
    assert_eq!(cfg["memory"]["size"], 4096u64 * 1024 * 1024);
    assert_eq!(cfg["disks"][0]["direct"], true);
    assert_eq!(cfg["disks"][1]["readonly"], false);
    assert_eq!(cfg["disks"][1]["serial"], "sbscratch");
    assert_eq!(cfg["net"][0]["tap"], tap.host_if);
    assert!(cfg["payload"]["cmdline"].as_str().unwrap().contains("sandbench.net=10.213."));
}

#[test]
fn the_validator_catches_what_a_vmm_would_reject() {
    let root = spec("firecracker-api.yaml");
    let schema = resolve(&root, "#/definitions/FullVmConfiguration").clone();
    let bad = serde_json::json!({
        "drives": [{"drive_id": "r", "is_root_device": "yes", "cache_type": "None"}],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 512, "turbo": true},
    });
    let mut errors = Vec::new();
    validate(&root, &schema, &bad, "config", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn switching_an_environment_from_qemu_to_firecracker_is_one_line() {
    let qemu = "machine = \"microvm\"\naccel = \"auto\"\ndisk_cache = \"none\"";
    env("qemu", qemu);
    env("firecracker", qemu);
    env("cloud-hypervisor", qemu);
    let text = "[[environment]]\nname = \"e\"\ndriver = \"firecracker\"\naccel = \"tcg\"\n[[workload]]\nname = \"w\"\nkind = \"cpu\"\n";
    let err = Campaign::parse(text, Path::new("t.toml")).unwrap_err().to_string();
    assert!(err.contains("needs KVM"), "{err}");
}

#[test]
fn firecracker_shutdown_action_matches_instance_action_info() {
    let root = spec("firecracker-api.yaml");
    let schema = resolve(&root, "#/definitions/InstanceActionInfo").clone();
    let mut errors = Vec::new();
    validate(&root, &schema, &sandbench_sandbox::driver::firecracker::ctrl_alt_del(), "action", &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn firecracker_version_against_the_guest_kernel() {
    use sandbench_sandbox::driver::firecracker::{kernel_compat, parse_version};
    assert_eq!(parse_version("Firecracker v1.7.0\n"), Some((1, 7)));
    assert_eq!(parse_version("Firecracker v1.10.1"), Some((1, 10)));
    assert_eq!(parse_version("nonsense"), None);
    let debian = "CONFIG_ACPI=y\n# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set\n";
    assert!(kernel_compat((1, 8), Some(debian)).is_ok());
    let old = kernel_compat((1, 7), Some(debian)).unwrap_err();
    assert!(old.contains("CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES") && old.contains("1.8 or newer"), "{old}");
    assert!(kernel_compat((1, 7), Some("CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n")).is_ok());
    assert!(kernel_compat((1, 9), Some("# CONFIG_ACPI is not set\n")).is_err());
}
