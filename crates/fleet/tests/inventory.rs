//! The inventory as `ansible-inventory --list` prints it (fixture captured from ansible-core's
//! output shape), and a real `ansible-inventory` on a YAML inventory where one is installed.

use sandbench_fleet::Inventory;

#[test]
fn hosts_addresses_ports_and_nested_groups() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inventory-list.json")).unwrap();
    let inv = Inventory::parse_list(&text).unwrap();
    assert_eq!(inv.names(), ["lab-x86", "nano-4g", "pi4-4g", "pi4-8g"]);
    let pi = &inv.hosts["pi4-8g"];
    assert_eq!((pi.address.as_str(), pi.port, pi.user.as_deref()), ("192.168.7.11", Some(2222), Some("pi")));
    assert_eq!(pi.groups, ["boards", "pi"]);
    assert_eq!(inv.hosts["pi4-4g"].port, Some(22));
    let lab = &inv.hosts["lab-x86"];
    assert_eq!((lab.address.as_str(), lab.groups.len()), ("lab-x86", 0));
}

#[test]
fn output_that_is_not_json_is_an_error() {
    assert!(Inventory::parse_list("[WARNING]: nothing").unwrap_err().is_syntax());
}

#[test]
fn ansible_reads_a_yaml_inventory() {
    if std::process::Command::new("ansible-inventory").arg("--version").output().is_err() {
        println!("sandbench-test: skipped: ansible_reads_a_yaml_inventory: ansible-inventory not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yml");
    std::fs::write(
        &path,
        "all:\n  hosts:\n    a:\n      ansible_host: 10.0.0.5\n  children:\n    boards:\n      hosts:\n        b:\n",
    )
    .unwrap();
    let inv = Inventory::load(&path).unwrap();
    assert_eq!(inv.hosts["a"].address, "10.0.0.5");
    assert_eq!(inv.hosts["b"].groups, ["boards"]);
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "all: [unclosed\n").unwrap();
    let e = Inventory::load(&bad).unwrap_err().to_string();
    assert!(e.contains("bad.yml"), "{e}");
}
