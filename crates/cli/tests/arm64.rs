//! The aarch64 build on an emulated CPU: the `sandbench` that `scripts/cross-build.sh` makes,
//! run under qemu-user (`qemu-aarch64-static`, no `-L`: the multiarch arm64 libc is used).
//! `doctor --quick` names QEMU's arm64 machine `virt`, a campaign asking for x86's `microvm`
//! is refused with the valid choices, and a whole run with the test stand-in for every
//! sandbox ends in a report. `scripts/test.sh` cross-builds first and sets
//! `SANDBENCH_AARCH64_DIR`; without it (or without qemu-user) the tests say why they skip.
//! The emulated board (scripts/emulated-board.sh: QEMU `virt`, a Cortex-A72, Debian's arm64
//! kernel, TCG) runs the aarch64 `sandbench` as on a Pi: doctor and a native campaign.
//! What this cannot show: KVM on a real board and Firecracker's aarch64 build (DESIGN.md).

mod common;
use common::*;
use std::path::PathBuf;
use std::process::{Command, Output};

/// The cross-built `sandbench` and the emulator that runs it, or why not.
fn aarch64() -> Result<(String, PathBuf), String> {
    let dir = std::env::var_os("SANDBENCH_AARCH64_DIR")
        .map(PathBuf::from)
        .ok_or("SANDBENCH_AARCH64_DIR is not set (scripts/test.sh cross-builds and sets it)")?;
    let bin = dir.join("sandbench");
    if !bin.is_file() {
        return Err(format!("{} not found: run scripts/cross-build.sh", bin.display()));
    }
    let qemu = "/usr/bin/qemu-aarch64-static";
    if !std::path::Path::new(qemu).is_file() {
        return Err("qemu-aarch64-static not found (apt-get install qemu-user-static)".into());
    }
    Ok((qemu.into(), bin))
}

fn emulated(qemu: &str, bin: &PathBuf) -> Command {
    let mut c = Command::new(qemu);
    c.arg(bin).env_remove("SANDBENCH_AGENT").env_remove("SANDBENCH_AGENT_DYNAMIC").env_remove("QEMU_LD_PREFIX");
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_aarch64_binary_knows_its_machine_and_refuses_x86_ones() {
    let (qemu, bin) = match aarch64() {
        Ok(x) => x,
        Err(why) => return skip("aarch64 under qemu-user", &why),
    };
    let file = run_ok(Command::new("file").arg(&bin));
    assert!(String::from_utf8_lossy(&file.stdout).contains("ARM aarch64"), "{}", text(&file));

    let doctor = emulated(&qemu, &bin).args(["doctor", "--quick"]).output().unwrap();
    let d = text(&doctor);
    assert!(d.contains("qemu-virt") && !d.contains("qemu-microvm"), "{d}");

    let tmp = tempfile::tempdir().unwrap();
    let c = write(
        tmp.path(),
        "c.toml",
        &campaign("x86", 60, &[microvm_env(256, "")], "[[workload]]\nname = \"n\"\nkind = \"noop\"\n"),
    );
    let refused = emulated(&qemu, &bin).args(["run", "--out"]).arg(tmp.path().join("r")).arg(&c).output().unwrap();
    let r = text(&refused);
    assert!(!refused.status.success(), "{r}");
    assert!(r.contains("environment `microvm`") && r.contains("valid machines here: \"virt\""), "{r}");
    assert!(r.contains("c.toml:"), "the error names the file and line: {r}");
}

#[test]
fn a_whole_run_on_aarch64_with_the_stand_in_ends_in_a_report() {
    let (qemu, bin) = match aarch64() {
        Ok(x) => x,
        Err(why) => return skip("aarch64 run under qemu-user", &why),
    };
    let tmp = tempfile::tempdir().unwrap();
    let envs = [
        native_env(256),
        "\n[[environment]]\nname = \"virt\"\ndriver = \"qemu\"\nvcpus = 1\nmemory_mib = 256\n".to_string(),
    ];
    let workloads = "[[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = { threads = 1, events = 100 }\n";
    let c = write(tmp.path(), "c.toml", &campaign("arm", 60, &envs, workloads).replace("trials = 1\n", "trials = 2\n"));
    let out = tmp.path().join("r");
    let run =
        emulated(&qemu, &bin).args(["run", "--debug-mode", "--quiet", "--out"]).arg(&out).arg(&c).output().unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let dir = only_run(&out);
    let rs = records(&dir);
    assert_eq!(rs.iter().filter(|r| r.status == sandbench_spec::Status::Ok).count(), 4, "{}", text(&run));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["host"]["arch"], "aarch64", "{}", manifest["host"]);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("| virt |") && report.contains("TEST STAND-IN"), "{report}");
}

#[test]
fn an_emulated_arm64_board_runs_doctor_and_a_campaign_natively() {
    let dir = match aarch64() {
        Ok((_, bin)) => bin.parent().unwrap().to_path_buf(),
        Err(why) => return skip("emulated arm64 board", &why),
    };
    if which("qemu-system-aarch64").is_none() {
        return skip("emulated arm64 board", "qemu-system-aarch64 not found (apt-get install qemu-system-arm)");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/emulated-board.sh");
    // With the agent that has the engines where it was built (scripts/test.sh builds it).
    let engines = dir.join("sandbench-agent-dynamic").is_file();
    let mut cmd = Command::new(script);
    cmd.arg("--binaries").arg(&dir).args(["--mem", "2048"]);
    if engines {
        cmd.arg("--engines");
    } else {
        skip("classify on the emulated arm64 board", "no sandbench-agent-dynamic: scripts/cross-build.sh --engines");
    }
    let out = cmd.output().unwrap();
    let console = text(&out);
    assert!(out.status.success(), "{console}");
    // The board: QEMU's virt machine with a Cortex-A72 core, as on a Pi 4.
    assert!(console.contains("board: aarch64, 2 CPUs, CPU part 0xd08"), "{console}");
    assert!(console.contains("| cpu_model | ARM Cortex-A72 (implementer 0x41, part 0xd08) |"), "{console}");
    // doctor names the arm64 machine, and the native driver has its cgroup limits.
    assert!(console.contains("qemu-virt") && !console.contains("qemu-microvm"), "{console}");
    assert!(console.contains("limits through cgroup v2"), "{console}");
    // The campaign ran natively on the board: 2 workloads × (1 warm-up + 3 trials), all ok, and
    // with the engines MobileNetV2 under tract, whose answers `--verify` checks (espresso, tabby).
    if engines {
        assert!(console.contains("(12 ok, 0 failed, 0 timed out)"), "{console}");
        assert!(console.contains("verify: 12 trials checked, 0 with a wrong answer"), "{console}");
        assert!(console.contains("| native | classify | inference_ms (ms) |"), "{console}");
    } else {
        assert!(console.contains("(8 ok, 0 failed, 0 timed out)"), "{console}");
    }
    assert!(console.contains("board: campaign exit 0") && console.contains("\"arch\": \"aarch64\""), "{console}");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join(program)).find(|p| p.is_file())
}
