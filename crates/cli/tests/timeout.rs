//! A trial that overruns its timeout is recorded as `timeout` with the sandbox's last output,
//! its sandbox is torn down and replaced, and nothing is left behind.

mod common;
use common::*;
use sandbench_spec::Status;

const CAMPAIGN: &str = r#"
name = "timeout"
trials = 2
warmup = 0
order = "sequential"
[timeouts]
trial_s = 1.5
boot_s = 240
[[environment]]
name = "native"
driver = "native"
[[environment]]
name = "runc"
driver = "oci"
runtime = "runc"
[[environment]]
name = "microvm"
driver = "qemu"
machine = "microvm"
accel = "tcg"
memory_mib = 512
[[workload]]
name = "long"
kind = "cpu"
params = { threads = 1, time_s = 60 }
"#;

#[test]
fn timeouts_are_recorded_and_leak_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "c.toml", CAMPAIGN);
    let (code, run, _) = run_campaign(&campaign, &tmp.path().join("r"));
    assert_eq!(code, Some(1), "timeouts make the run exit 1");
    let rs = records(&run);
    assert_eq!(rs.len(), 6);
    for r in &rs {
        assert_eq!(r.status, Status::Timeout, "{}: {:?}", r.key.slug(), r.error);
        assert!(r.host_wall_ms >= 1500.0 && r.host_wall_ms < 10_000.0, "{}", r.host_wall_ms);
    }
    // Each timed-out sandbox was replaced: every trial has a launch of its own.
    let mut ids: Vec<u32> = rs.iter().map(|r| r.launch.as_ref().unwrap().launch_id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 6);
}
