//! `sandbench fleet` on the fleet testbed (scripts/fleet-testbed.sh): emulated hosts on this
//! machine, each a network namespace with its own sshd and private cache, state and results
//! paths, driven through the real Ansible. Needs root (namespaces), ansible-core and
//! openssh-server (scripts/setup.sh installs both).

mod common;

use common::{run_ok, sandbench, skip};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fleet-testbed.sh");
const CAMPAIGN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/fleet-campaign.toml");

/// N emulated hosts, taken down again when dropped. One testbed at a time: the tests of this
/// file hold the lock while theirs is up (the suite runs one test at a time anyway).
struct Testbed {
    dir: PathBuf,
    _one: std::sync::MutexGuard<'static, ()>,
}

static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Testbed {
    fn up(test: &str, n: u32) -> Option<Testbed> {
        Testbed::up_with(test, &[&n.to_string()])
    }

    /// `args` after `fleet-testbed.sh up`.
    fn up_with(test: &str, args: &[&str]) -> Option<Testbed> {
        if !sandbench_sandbox::is_root() {
            skip(test, "needs root (network and mount namespaces)");
            return None;
        }
        for (program, package) in [("ansible-playbook", "ansible-core"), ("/usr/sbin/sshd", "openssh-server")] {
            if Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {program}"))
                .output()
                .map_or(true, |o| !o.status.success())
            {
                panic!("{program} missing: scripts/setup.sh installs {package}");
            }
        }
        let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let dir = PathBuf::from("/run/sandbench-fleet-testbed");
        let tb = Testbed { dir, _one: one };
        tb.script(&["down"]);
        tb.script(&[&["up"], args].concat());
        Some(tb)
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new(SCRIPT).args(args).env("SANDBENCH_FLEET_TESTBED", &self.dir).output().unwrap();
        assert!(out.status.success(), "fleet-testbed.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.yml")
    }

    /// Processes other than sshd left in a host's network namespace, after a grace period for
    /// Ansible's async wrapper, which exits a moment after writing its job's result.
    fn leftovers(&self, i: u32) -> Vec<String> {
        let t = Instant::now();
        loop {
            let left = self.processes(i);
            if left.is_empty() || t.elapsed() > Duration::from_secs(15) {
                return left;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn processes(&self, i: u32) -> Vec<String> {
        let out = Command::new("ip").args(["netns", "pids", &format!("sbfleet-{i}")]).output().unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok().map(|c| (pid.to_string(), c)))
            .map(|(pid, c)| format!("{pid}: {}", String::from_utf8_lossy(&c).replace('\0', " ")))
            .filter(|c| !c.contains("sshd"))
            .collect()
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT).arg("down").env("SANDBENCH_FLEET_TESTBED", &self.dir).status();
    }
}

fn fleet_run(out: &Path, inventory: &Path) -> Command {
    let mut c = sandbench();
    c.args(["fleet", "run", CAMPAIGN, "--quiet", "--host-time-limit-s", "900", "--inventory"])
        .arg(inventory)
        .arg("--out")
        .arg(out);
    c
}

fn only_dir(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("fleet.json")).unwrap()).unwrap()
}

fn host_run(dir: &Path, m: &Value, host: &str) -> Value {
    let run = dir.join(m["hosts"][host]["results"].as_str().unwrap());
    serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn three_hosts_run_one_campaign_into_one_report() {
    let Some(tb) = Testbed::up("three_hosts_run_one_campaign_into_one_report", 3) else { return };
    let doctor = run_ok(sandbench().args(["fleet", "doctor", "--inventory"]).arg(tb.inventory()));
    let text = String::from_utf8_lossy(&doctor.stdout);
    for h in ["host1", "host2", "host3"] {
        let line = text.lines().find(|l| l.starts_with(h)).unwrap_or_else(|| panic!("{h} missing:\n{text}"));
        assert!(line.ends_with(" ok") && line.contains("x86_64") && line.contains("native,oci"), "{line}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out = run_ok(&mut fleet_run(tmp.path(), &tb.inventory()));
    eprintln!("fleet of 3 hosts: {:.0} s", t.elapsed().as_secs_f64());
    let dir = only_dir(tmp.path());
    let m = manifest(&dir);
    assert!(m["ansible_version"].as_str().unwrap().contains("core"), "{}", m["ansible_version"]);
    for h in ["host1", "host2", "host3"] {
        let rec = &m["hosts"][h];
        assert_eq!(rec["state"], "complete", "{h}: {rec}");
        assert_eq!(rec["facts"]["architecture"], "x86_64");
        assert_eq!(host_run(&dir, &m, h)["state"], "complete");
        let records = common::records(&dir.join(rec["results"].as_str().unwrap()));
        for env in ["native", "runc"] {
            let ok =
                records.iter().filter(|r| r.key.environment == env && r.status == sandbench_spec::Status::Ok).count();
            assert!(ok >= 9, "{h}/{env}: {ok} ok trials");
        }
        let left = tb.leftovers(h[4..].parse().unwrap());
        assert!(left.is_empty(), "{h}: {left:?}");
    }
    // One report with the three devices side by side, per workload.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("3 of 3 hosts complete"), "{md}");
    let cpu = md.split("## cpu: events_per_s").nth(1).unwrap();
    let header = cpu.lines().find(|l| l.starts_with("| environment")).unwrap();
    assert_eq!(header, "| environment | host1 | host2 | host3 |");
    let native = cpu.lines().find(|l| l.starts_with("| native |")).unwrap();
    assert_eq!(native.matches('[').count(), 3, "a mean and CI on every host: {native}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 3, "one chart per workload");
    assert!(String::from_utf8_lossy(&out.stdout).contains("(complete)"));
    // Hosts side by side, environment by environment.
    let cmp = run_ok(sandbench().args(["compare", "--by", "host"]).arg(&dir));
    let text = String::from_utf8_lossy(&cmp.stdout);
    assert!(text.contains("host2") && text.contains("host3") && text.contains("cpu"), "{text}");
}

/// Waits until the fleet manifest shows `host` at `task`.
fn wait_for_task(dir_root: &Path, host: &str, task: &str, limit: Duration) -> PathBuf {
    let t = Instant::now();
    loop {
        assert!(t.elapsed() < limit, "{host} never reached `{task}`");
        if let Some(dir) =
            std::fs::read_dir(dir_root).unwrap().flatten().map(|e| e.path()).find(|p| p.join("fleet.json").is_file())
        {
            if let Ok(m) = serde_json::from_slice::<Value>(&std::fs::read(dir.join("fleet.json")).unwrap_or_default()) {
                if m["hosts"][host]["task"] == task {
                    return dir;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn hosts_that_drop_mid_run_are_reported_apart_and_resumed() {
    let Some(tb) = Testbed::up("hosts_that_drop_mid_run_are_reported_apart_and_resumed", 3) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut child = fleet_run(tmp.path(), &tb.inventory()).spawn().unwrap();
    let dir = wait_for_task(tmp.path(), "host3", "sandbench running", Duration::from_secs(300));
    wait_for_task(tmp.path(), "host2", "sandbench running", Duration::from_secs(300));
    // host3 drops off the network (its campaign goes on); host2 loses power (its campaign dies).
    tb.script(&["stop-ssh", "host3"]);
    tb.script(&["power-cut", "host2"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(4), "partial");
    let m = manifest(&dir);
    assert_eq!(m["hosts"]["host1"]["state"], "complete");
    for h in ["host2", "host3"] {
        assert_eq!(m["hosts"][h]["state"], "unreachable", "{h}: {}", m["hosts"][h]);
        assert!(m["hosts"][h]["why"].as_str().unwrap().contains("ssh"), "{}", m["hosts"][h]);
    }
    let host1_ended = m["hosts"]["host1"]["ended"].clone();
    tb.script(&["start-ssh", "host2"]);
    tb.script(&["start-ssh", "host3"]);
    let out = run_ok(sandbench().args(["fleet", "run", "--quiet", "--resume"]).arg(&dir));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("(complete)"), "{text}");
    let m = manifest(&dir);
    for h in ["host1", "host2", "host3"] {
        assert_eq!(m["hosts"][h]["state"], "complete", "{h}: {}", m["hosts"][h]);
    }
    assert_eq!(m["hosts"]["host1"]["ended"], host1_ended, "a complete host is left alone");
    // host2's campaign was killed with it, and resumed there; host3's had finished meanwhile.
    assert!(host_run(&dir, &m, "host2")["resumes"].as_u64().unwrap() >= 1);
    assert_eq!(host_run(&dir, &m, "host3")["resumes"], 0);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("3 of 3 hosts complete"), "{md}");
}

#[test]
fn fleet_doctor_says_which_host_it_cannot_reach_and_why() {
    let Some(tb) = Testbed::up("fleet_doctor_says_which_host_it_cannot_reach_and_why", 1) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(tb.inventory()).unwrap();
    // A host that does not exist: nothing answers at its address (a closed port on this
    // machine, so that nothing leaves it).
    let ghost = "    ghost:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n";
    let inventory = common::write(tmp.path(), "fleet.yml", &format!("{text}{ghost}"));
    let out = sandbench().args(["fleet", "doctor", "--inventory"]).arg(&inventory).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "not every host is reachable");
    let text = String::from_utf8_lossy(&out.stdout);
    let ghost: Vec<&str> = text.lines().filter(|l| l.contains("ghost")).collect();
    assert_eq!(ghost.len(), 1, "one line: {text}");
    assert!(ghost[0].contains("unreachable: ") && ghost[0].contains("Connection refused"), "{}", ghost[0]);
    assert!(text.lines().any(|l| l.starts_with("host1") && l.ends_with(" ok")), "{text}");
}

/// The aarch64 binaries of scripts/cross-build.sh, or why there are none.
fn aarch64_binaries() -> Result<PathBuf, String> {
    let dir = std::env::var_os("SANDBENCH_AARCH64_DIR")
        .map(PathBuf::from)
        .ok_or("SANDBENCH_AARCH64_DIR is not set (scripts/test.sh cross-builds and sets it)")?;
    for f in ["sandbench", "sandbench-agent", "sandbench-agent-dynamic"] {
        if !dir.join(f).is_file() {
            return Err(format!("{} not found: scripts/cross-build.sh --engines", dir.join(f).display()));
        }
    }
    Ok(dir)
}

/// Three x86 hosts and an emulated arm64 board (QEMU `virt`, Cortex-A72, TCG: a test stand-in
/// for a Raspberry Pi 4) run one campaign, the board with the cross-built binaries, into one
/// report that shows both architectures. The board is offline: the fleet run seeds its cache
/// with the model and the arm64 packages its runc image is built from.
#[test]
fn x86_hosts_and_an_arm64_board_run_one_campaign_into_one_report() {
    let test = "x86_hosts_and_an_arm64_board_run_one_campaign_into_one_report";
    let arm = match aarch64_binaries() {
        Ok(d) => d,
        Err(why) => return skip(test, &why),
    };
    if !Path::new("/usr/bin/qemu-system-aarch64").is_file() {
        return skip(test, "qemu-system-aarch64 not found (apt-get install qemu-system-arm)");
    }
    let t = Instant::now();
    let Some(tb) = Testbed::up_with(test, &["3", "--arm64-board"]) else { return };
    eprintln!("testbed with the board up: {:.0} s", t.elapsed().as_secs_f64());
    let inventory = std::fs::read_to_string(tb.inventory()).unwrap();
    assert!(inventory.contains("arm64:") && inventory.contains("host4:"), "{inventory}");
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out =
        run_ok(fleet_run(tmp.path(), &tb.inventory()).arg("--binaries").arg(format!("aarch64={}", arm.display())));
    eprintln!("fleet of 3 x86 hosts and an arm64 board: {:.0} s", t.elapsed().as_secs_f64());
    let dir = only_dir(tmp.path());
    let m = manifest(&dir);
    for (h, arch) in [("host1", "x86_64"), ("host2", "x86_64"), ("host3", "x86_64"), ("host4", "aarch64")] {
        let rec = &m["hosts"][h];
        assert_eq!(rec["state"], "complete", "{h}: {rec}");
        assert_eq!(rec["facts"]["architecture"], arch, "{h}");
        let run = host_run(&dir, &m, h);
        assert_eq!(run["state"], "complete", "{h}");
        assert_eq!(run["host"]["arch"], arch, "{h}: the host's own manifest");
        let records = common::records(&dir.join(rec["results"].as_str().unwrap()));
        for env in ["native", "runc"] {
            for kind in ["noop", "cpu", "classify"] {
                let ok = records
                    .iter()
                    .filter(|r| r.key.environment == env && r.key.workload == kind)
                    .filter(|r| r.status == sandbench_spec::Status::Ok)
                    .count();
                assert!(ok >= 3, "{h}/{env}/{kind}: {ok} ok trials");
            }
        }
    }
    let board = host_run(&dir, &m, "host4");
    assert!(board["host"]["cpu_model"].as_str().unwrap_or("").contains("Cortex-A72"), "{}", board["host"]);
    // One report: the hosts' table names both architectures, the workloads have four columns.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("4 of 4 hosts complete"), "{md}");
    let hosts_row = |h: &str| md.lines().find(|l| l.starts_with(&format!("| {h} |"))).unwrap_or("").to_string();
    assert!(hosts_row("host1").contains("| x86_64 |"), "{md}");
    assert!(hosts_row("host4").contains("| aarch64 |"), "{md}");
    let cpu = md.split("## cpu: events_per_s").nth(1).unwrap();
    let header = cpu.lines().find(|l| l.starts_with("| environment")).unwrap();
    assert_eq!(header, "| environment | host1 | host2 | host3 | host4 |");
    assert!(String::from_utf8_lossy(&out.stdout).contains("(complete)"));
}
