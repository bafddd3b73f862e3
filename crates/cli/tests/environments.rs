//! Every driver of this build, for real: the agent natively, runc/crun/runsc containers, and
//! QEMU microvm and q35 guests (KVM where it boots, TCG otherwise), each running `cpu` trials.

mod common;
use common::*;

const CAMPAIGN: &str = r#"
name = "envs"
trials = 2
warmup = 1
order = "interleaved"
[timeouts]
trial_s = 120
boot_s = 240
[sampling]
interval_ms = 50

[[environment]]
name = "native"
driver = "native"
vcpus = 2
memory_mib = 512

[[environment]]
name = "runc"
driver = "oci"
runtime = "runc"

[[environment]]
name = "crun"
driver = "oci"
runtime = "crun"

[[environment]]
name = "runsc"
driver = "oci"
runtime = "runsc"

[[environment]]
name = "microvm"
driver = "qemu"
machine = "microvm"
accel = "auto"
memory_mib = 512

[[environment]]
name = "q35"
driver = "qemu"
machine = "q35"
accel = "tcg"
memory_mib = 512

[[workload]]
name = "cpu"
kind = "cpu"
params = { threads = 2, events = 400, max_prime = 10000 }
"#;

#[test]
fn every_driver_runs_cpu_trials_and_records_them() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "envs.toml", CAMPAIGN);
    let (code, run, _) = run_campaign(&campaign, &tmp.path().join("results"));
    assert_eq!(code, Some(0), "run failed");
    let rs = records(&run);
    assert_eq!(rs.len(), 6 * 3, "6 environments × (1 warm-up + 2 trials)");
    for env in ["native", "runc", "crun", "runsc", "microvm", "q35"] {
        let ok = ok_records(&rs, env);
        assert_eq!(
            ok.len(),
            3,
            "{env}: {:?}",
            rs.iter().filter(|r| r.key.environment == env).map(|r| &r.error).collect::<Vec<_>>()
        );
        for r in &ok {
            assert_eq!(r.metrics["events"].value, 400.0, "{env}");
            assert!(r.metrics["events_per_s"].value > 0.0);
            // The workload really ran: sysbench's prime count for 10000.
            assert_eq!(r.outputs["primes_per_event"], 1228, "{env}");
            let host = r.host.as_ref().unwrap();
            assert!(host.samples >= 1, "{env}: no host samples");
            assert!(run.join(&host.series).is_file(), "{env}: series file");
            if env == "runsc" {
                // gVisor's /proc/stat does not advance: the agent reports no guest view.
                assert!(r.guest_cpu.is_none(), "runsc guest view {:?}", r.guest_cpu);
            } else {
                assert!(r.guest_cpu.as_ref().is_some_and(|g| g.busy_pct > 0.0), "{env}: guest CPU view");
            }
            assert!(r.host_wall_ms >= r.guest_wall_ms.unwrap());
        }
        // The first trial launched the sandbox and carries its boot timeline.
        let first = rs.iter().find(|r| r.key.environment == env).unwrap();
        let launch = first.launch.as_ref().unwrap();
        assert!(launch.fresh && launch.boot.total_ms > 0.0, "{env}");
        assert!(launch.boot.phase("agent_ready").is_some());
        // Warm mode: later trials reuse that sandbox.
        assert!(ok
            .iter()
            .skip(1)
            .all(|r| r.launch.as_ref().unwrap().launch_id == launch.launch_id && !r.launch.as_ref().unwrap().fresh));
    }
    // Containers are accounted through their cgroup, VMs through the VMM process.
    let runc = ok_records(&rs, "runc")[1];
    assert!(runc.host.as_ref().unwrap().cgroup_mem_max_kib.unwrap() > 0);
    assert!(runc.host.as_ref().unwrap().cpu_mean_pct > 10.0, "a 2-thread cpu trial must show host CPU");
    for vm in ["microvm", "q35"] {
        let r = ok_records(&rs, vm)[0];
        let l = r.launch.as_ref().unwrap();
        assert!(l.boot.guest_uptime_at_ready_ms.unwrap() > 0.0, "{vm}: guest uptime");
        assert!(l.boot.guest_uptime_at_init_ms.unwrap() > 0.0, "{vm}: init marker");
        let accel = r.dims.accel.unwrap().as_str();
        assert!(accel == "tcg" || accel == "kvm", "{vm}: accel {accel}");
        assert!(r.host.as_ref().unwrap().pss_max_kib.unwrap() > 10_000, "{vm}: VMM PSS");
    }
    let micro = ok_records(&rs, "microvm")[0].launch.as_ref().unwrap();
    assert!(micro.facts.contains_key("accel_auto"), "auto must record its choice: {:?}", micro.facts);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["state"], "complete");
    assert!(manifest["versions"]["runc"].as_str().unwrap().contains("runc"));
    assert!(manifest["image"]["guest_kernel"].as_str().unwrap().contains("linux-image"));
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for env in ["native", "runc", "crun", "runsc", "microvm", "q35"] {
        assert!(report.contains(&format!("| {env} |")), "report row for {env}:\n{report}");
    }
}
