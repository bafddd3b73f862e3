//! Firecracker and Cloud Hypervisor end to end. They need their release binaries and a KVM
//! that boots a stock kernel; neither exists on the development machines (no Debian package,
//! PVM KVM), so there the test says why it did not run. Their configurations are validated
//! against the published API specs everywhere (crates/sandbox/tests/vmm_specs.rs).

mod common;
use common::*;

fn run_vmm(driver: &str, binary: &str) {
    if let Some(why) = sandbench_sandbox::driver::firecracker::missing(binary, "no release binary installed") {
        skip(&format!("{driver} end to end"), &why.to_string());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(
        tmp.path(),
        "vmm.toml",
        &format!(
            "trials = 2\nwarmup = 0\n[[environment]]\nname = \"vm\"\ndriver = \"{driver}\"\nmemory_mib = 512\n[[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = {{ threads = 2, events = 200 }}\n"
        ),
    );
    let (code, run, _) = run_campaign(&campaign, &tmp.path().join("r"));
    let rs = records(&run);
    assert!(code == Some(0), "{driver}: {:?}", rs.iter().map(|r| (&r.error, &r.console_tail)).collect::<Vec<_>>());
    assert_eq!(ok_records(&rs, "vm").len(), 2);
    assert!(rs[0].launch.as_ref().unwrap().boot.guest_uptime_at_ready_ms.is_some());
}

#[test]
fn firecracker_end_to_end_where_it_can_run() {
    run_vmm("firecracker", "firecracker");
}

#[test]
fn cloud_hypervisor_end_to_end_where_it_can_run() {
    run_vmm("cloud-hypervisor", "cloud-hypervisor");
}

#[test]
fn an_environment_this_host_cannot_run_is_recorded_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(
        tmp.path(),
        "fc.toml",
        "trials = 1\nwarmup = 0\n[[environment]]\nname = \"fc\"\ndriver = \"firecracker\"\nbinary = \"/nonexistent/firecracker\"\n[[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = { events = 10 }\n",
    );
    let out =
        sandbench().arg("run").arg(&campaign).arg("--out").arg(tmp.path().join("r")).arg("--quiet").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let rs = records(&only_run(&tmp.path().join("r")));
    let err = rs[0].error.as_deref().unwrap();
    assert!(err.contains("unsupported: /nonexistent/firecracker not found"), "{err}");
}
