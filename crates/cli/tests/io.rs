//! The file workloads inside real sandboxes: natively, in a runc container and in a QEMU
//! microvm guest (TCG here), each on its own scratch space, with self-consistent results.

mod common;
use common::*;
use sandbench_spec::Status;

const WORKLOADS: &str = r#"
[[workload]]
name = "seqwr-direct"
kind = "fileio"
params = { mode = "seqwr", block_size = "64K", file_size = "8M", direct = true }

[[workload]]
name = "rndrd-4k"
kind = "fileio"
params = { mode = "rndrd", block_size = "4K", file_size = "4M", io_size = "2M", threads = 2, direct = true }

[[workload]]
name = "rndrw"
kind = "fileio"
params = { mode = "rndrw", block_size = "16K", file_size = "4M", io_size = "4M", fsync_every = 16 }

[[workload]]
name = "filemix"
kind = "filemix"
params = { files = 100, file_size = "32K", append_size = "8K", threads = 2, loops = 60 }
"#;

#[test]
fn file_workloads_move_what_was_asked_in_every_environment_and_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign =
        write(tmp.path(), "io.toml", &native_runc_microvm("io", 300, 1024, 512, "scratch_mib = 256", WORKLOADS));
    let (code, run, _pid) = run_campaign(&campaign, &tmp.path().join("out"));
    let rs = records(&run);
    assert_eq!(rs.len(), 12);
    for r in &rs {
        let what = format!("{} {}: {:?} {:?}", r.key.environment, r.key.workload, r.error, r.console_tail);
        assert_eq!(r.status, Status::Ok, "{what}");
        let m = &r.metrics;
        let scratch = r.launch.as_ref().and_then(|l| l.facts.get("scratch").cloned()).unwrap_or_default();
        match r.key.environment.as_str() {
            "microvm" => {
                assert!(scratch.starts_with("virtio-blk disk of 256 MiB"), "{scratch}");
                // Guest timings need a fine clock: under TCG the kernel would fall back to
                // 4 ms jiffies unless told its TSC is reliable. The guest switches from
                // `tsc-early` to `tsc` after its refined calibration, which under TCG may come
                // after the agent is ready: both read the TSC. What matters is checked below:
                // latencies that are not multiples of a jiffy.
                let cs = r.launch.as_ref().and_then(|l| l.boot.guest_clocksource.clone());
                assert!(matches!(cs.as_deref(), Some("tsc" | "tsc-early")), "{what}: clocksource {cs:?}");
                if r.key.workload == "rndrd-4k" {
                    let lat = ["lat_min", "lat_p50", "lat_p90", "lat_max"].map(|k| m[k].value);
                    assert!(lat.iter().all(|&us| us > 0.0), "{what}: a latency of 0 µs {lat:?}");
                    let quantised = lat.iter().all(|&us| (us / 1000.0 - (us / 1000.0).round()).abs() < 1e-6);
                    assert!(!quantised, "{what}: every latency is a whole number of ms {lat:?}");
                }
            }
            "runc" => assert!(scratch.contains("bind-mounted at /scratch"), "{scratch}"),
            _ => assert!(scratch.starts_with("host directory /var/tmp/sandbench-scratch/"), "{scratch}"),
        }
        // Every environment writes on a real ext4, never on the tmpfs /tmp.
        assert_eq!(r.outputs["filesystem"], "ext4", "{what} {}", r.outputs);
        match r.key.workload.as_str() {
            "seqwr-direct" => {
                assert_eq!(m["writes"].value, 128.0, "{what}");
                assert_eq!(m["bytes"].value, (8 << 20) as f64);
                assert_eq!(m["fsyncs"].value, 1.0);
                assert!(m["write_mib_per_s"].value > 0.0);
            }
            "rndrd-4k" => {
                assert_eq!(m["reads"].value, 512.0, "{what}");
                assert_eq!(r.outputs["blocks_verified"], 512);
                assert!(m["lat_p99"].value >= m["lat_p50"].value && m["lat_p50"].value > 0.0, "{what} {m:?}");
            }
            "rndrw" => {
                assert_eq!(m["reads"].value + m["writes"].value, 256.0, "{what}");
                assert!(m["writes"].value > 0.0 && m["reads"].value > m["writes"].value);
            }
            _ => {
                assert!(m["ops"].value > 200.0, "{what} {m:?}");
                let bytes = r.outputs["bytes_read"].as_u64().unwrap() + r.outputs["bytes_written"].as_u64().unwrap();
                assert_eq!(m["bytes"].value as u64, bytes);
                assert!(m["ops_per_s"].value > 0.0);
            }
        }
    }
    assert_eq!(code, Some(0));
}
