//! The `net` and `transfer` workloads over each environment's private link to sandbench's peer on the host:
//! natively (veth into a namespace), in a runc container (the same) and in a QEMU microvm
//! guest (tap + virtio-net), with byte counts confirmed by the peer and nothing left behind.

mod common;
use common::*;
use sandbench_spec::Status;

const WORKLOADS: &str = r#"
[[workload]]
name = "stream-64"
kind = "net"
params = { mode = "stream", msg_size = 64, time_s = 1 }

[[workload]]
name = "stream-4096"
kind = "net"
params = { mode = "stream", msg_size = 4096, time_s = 1 }

[[workload]]
name = "rr"
kind = "net"
params = { mode = "rr", msg_size = 128, time_s = 1 }

[[workload]]
name = "transfer"
kind = "transfer"
params = { files = 40, file_size = "48K" }
"#;

#[test]
fn tcp_and_tls_transfers_cross_each_environments_own_link() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "net.toml", &native_runc_microvm("net", 120, 1024, 512, "", WORKLOADS));
    let (code, run, _pid) = run_campaign(&campaign, &tmp.path().join("out"));
    let rs = records(&run);
    assert_eq!(rs.len(), 12);
    for r in &rs {
        let what = format!("{} {}: {:?} {:?}", r.key.environment, r.key.workload, r.error, r.console_tail);
        assert_eq!(r.status, Status::Ok, "{what}");
        let network = r.launch.as_ref().and_then(|l| l.facts.get("network").cloned()).unwrap_or_default();
        let want = if r.key.environment == "microvm" { "tap sbh" } else { "veth sbh" };
        assert!(network.starts_with(want) && network.contains("host 10.213."), "{what}: {network}");
        let m = &r.metrics;
        if r.key.workload == "transfer" {
            // Every file acknowledged with its SHA-256 on arrival, over TLS 1.3.
            assert_eq!(m["bytes"].value, 40.0 * 48.0 * 1024.0, "{what}");
            assert_eq!(r.outputs["checksums_verified"], 40);
            assert_eq!(r.outputs["bytes_stored_by_receiver"], r.outputs["bytes_sent"]);
            assert_eq!(r.outputs["protocol"], "TLSv1_3");
            assert!(m["kb_per_s"].value > 0.0);
        } else if r.key.workload == "rr" {
            assert!(m["transactions"].value > 5.0, "{what} {m:?}");
            assert!(m["lat_p50"].value > 0.0);
        } else {
            assert!(m["bytes"].value > 0.0 && m["mbit_per_s"].value > 0.0, "{what} {m:?}");
            assert_eq!(r.outputs["bytes_sent"], r.outputs["bytes_received_by_peer"], "{what}");
            // The peer is on the host end of this sandbox's link, never loopback.
            assert!(r.outputs["peer"].as_str().unwrap().starts_with("10.213."), "{}", r.outputs);
        }
    }
    assert_eq!(code, Some(0));
    // run_campaign checked for leaked processes and paths; links and namespaces too:
    let links = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .filter(|e| std::fs::read_to_string(e.path().join("ifalias")).unwrap_or_default().starts_with("sandbench sb"));
    assert_eq!(links.count(), 0, "a sandbench interface was left behind");
}
