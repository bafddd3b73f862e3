//! Issue 12, hole 4: a guest on a sandbox link reaches its own two peers and nothing else.
//! Needs root (veth, namespaces, nftables); run by scripts/test.sh as root.

use sandbench_sandbox::net::{LinkKind, Network};
use std::net::TcpListener;
use std::process::Command;

/// Whether a TCP connection from inside namespace `ns` to `addr` succeeds within 3 s.
fn connects_from(ns: &str, addr: &str) -> bool {
    let (ip, port) = addr.rsplit_once(':').unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "3", "bash", "-c", &format!("exec 3<>/dev/tcp/{ip}/{port}")])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn a_guest_reaches_only_its_own_peers() {
    if !rustix::process::geteuid().is_root() {
        println!("sandbench-test: skipped: links and nftables need root");
        return;
    }
    let prefix = sandbench_sandbox::stale::id_prefix();
    let (a_id, b_id) = (format!("{prefix}fw-1"), format!("{prefix}fw-2"));
    let a = Network::create(&a_id, LinkKind::Veth, Default::default()).unwrap();
    let b = Network::create(&b_id, LinkKind::Veth, Default::default()).unwrap();
    let ns = a.link.netns.clone().unwrap();
    let peers = a.peers();
    assert!(connects_from(&ns, &peers.net), "its own net peer must be reachable");
    assert!(connects_from(&ns, &peers.transfer), "its own receiver must be reachable");

    // A host service on every address, as sshd or a database would be.
    let service = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = service.local_addr().unwrap().port();
    assert!(!connects_from(&ns, &format!("{}:{port}", a.link.host_addr)), "a host service on 0.0.0.0 was reachable");

    // With a route of its own, the guest still cannot reach another sandbox's peers.
    let st = Command::new("ip")
        .args(["-n", &ns, "route", "add", "10.213.0.0/16", "dev", &a.link.guest_if])
        .status()
        .unwrap();
    assert!(st.success());
    assert!(!connects_from(&ns, &b.peers().net), "another sandbox's peer was reachable");

    let tables = String::from_utf8(Command::new("nft").args(["list", "tables"]).output().unwrap().stdout).unwrap();
    assert!(tables.contains(&a.filter.table) && tables.contains(&b.filter.table), "{tables}");
    let (ta, tb) = (a.filter.table.clone(), b.filter.table.clone());
    drop((a, b));
    let tables = String::from_utf8(Command::new("nft").args(["list", "tables"]).output().unwrap().stdout).unwrap();
    assert!(!tables.contains(&ta) && !tables.contains(&tb), "tables must go with their links: {tables}");
}
