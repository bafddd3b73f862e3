//! The AI workloads inside real sandboxes, with `--verify` checking the answers and every
//! environment giving the same answers as native: the full-size models natively and in a runc
//! container, and small trials of every kind in a QEMU microvm guest (TCG here, where float
//! code runs thousands of times slower than on the host).

mod common;
use common::*;
use sandbench_spec::TrialRecord;
use serde_json::Value;

/// Every model at full size on its sample inputs, and Whisper with `stt_params` (with
/// onnxruntime, the `auto` engine here, and with candle).
///
/// In a VM (TCG here) this runs in well under a minute per trial with a CPU model whose vector
/// instructions TCG emulates fast (`cpu_model = "Nehalem"`: MobileNetV2 1.6 s per image there,
/// 20.7 s with `max`'s AVX). Only Whisper is shortened there, to a two-second clip with a
/// three-second encoder window (`audio_ctx`), since its full 30-second window takes 200 s.
/// (The YOLOv8s export has a fixed 640² input, so detect cannot run smaller.)
fn workloads(stt_params: &str) -> String {
    format!(
        r#"
[[workload]]
name = "classify"
kind = "classify"
params = {{ inputs = ["coffee.png", "chelsea.png", "traffic_light_green.png"] }}

[[workload]]
name = "classify-tract"
kind = "classify"
params = {{ inputs = ["coffee.png"], engine = "tract" }}

[[workload]]
name = "face"
kind = "face"
params = {{ inputs = ["astronaut.png", "zidane.jpg"] }}

[[workload]]
name = "detect"
kind = "detect"
params = {{ inputs = ["bus.jpg"] }}

[[workload]]
name = "stt"
kind = "stt"
params = {stt_params}

[[workload]]
name = "stt-candle"
kind = "stt"
params = {stt_candle}
"#,
        stt_candle = stt_params.replacen('{', "{ engine = \"candle\",", 1)
    )
}

const FULL_STT: &str = r#"{ inputs = ["beckett.wav"] }"#;
const SHORT_STT: &str = r#"{ inputs = ["lj001-0002.wav"], audio_ctx = 150 }"#;

/// What must agree between environments: per input, the top-1 class, the transcript's words,
/// the number of faces or the number of detections.
fn answers(outputs: &Value) -> Vec<String> {
    let inputs = outputs["inputs"].as_array().cloned().unwrap_or_default();
    inputs
        .iter()
        .map(|i| {
            let r = &i["result"];
            let a = if let Some(t) = r["top5"].as_array() {
                format!("class {}", t[0]["class"])
            } else if let Some(t) = r["transcript"].as_str() {
                format!("transcript {:?}", sandbench_workloads::expect::normalize_words(t))
            } else if let Some(f) = r["faces"].as_array() {
                format!("{} faces", f.len())
            } else {
                format!("{} detections", r["detections"].as_array().map(Vec::len).unwrap_or(0))
            };
            format!("{}: {a}", i["input"].as_str().unwrap_or("?"))
        })
        .collect()
}

/// Runs `campaign` with `--verify` and returns its records, after checking that every trial
/// ran and every answer was right.
fn run_verified(tmp: &std::path::Path, campaign: &str, trials: usize) -> Vec<TrialRecord> {
    let campaign = write(tmp, "ai.toml", campaign);
    let out = tmp.join("out");
    let child = sandbench()
        .arg("run")
        .arg(&campaign)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .arg("--verify")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let child = child.wait_with_output().unwrap();
    assert_no_leaks(pid);
    let text = format!("{}\n{}", String::from_utf8_lossy(&child.stdout), String::from_utf8_lossy(&child.stderr));
    let rs = records(&only_run(&out));
    assert_eq!(rs.len(), trials, "{text}");
    for r in &rs {
        assert_eq!(
            r.status,
            sandbench_spec::Status::Ok,
            "{}: {:?} {:?}\n{text}",
            r.key.slug(),
            r.error,
            r.console_tail
        );
    }
    assert_eq!(child.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("verify: {trials} trials checked, 0 with a wrong answer")), "{text}");
    rs
}

/// For every workload: live phases in order, real timings natively, the engine the kind asks
/// for, and in every other environment the same engine and the same answers as native.
fn assert_same_answers(rs: &[TrialRecord], workloads: &[&str], others: &[&str]) {
    for w in workloads {
        let of = |env: &str| {
            let r = rs.iter().find(|r| r.key.environment == env && r.key.workload == *w).unwrap();
            (answers(&r.outputs), r.outputs["engine"].as_str().unwrap_or("").to_string(), r.metrics.clone())
        };
        // The agent reported, live, when the model was loaded and the first result existed.
        for r in rs.iter().filter(|r| r.key.workload == *w) {
            let names: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["model_loaded", "first_inference"], "{} {w}", r.key.environment);
            assert!(r.phases[0].host_ms <= r.phases[1].host_ms && r.phases[1].host_ms <= r.host_wall_ms);
        }
        let (native, engine, metrics) = of("native");
        assert!(!native.is_empty());
        assert!(metrics["inference_ms"].value > 0.0 && metrics["model_load_ms"].value > 0.0, "{metrics:?}");
        let want_engine = match *w {
            "classify-tract" => "tract",
            "stt-candle" => "candle",
            _ => "onnxruntime",
        };
        assert_eq!(engine, want_engine, "{w}");
        for env in others {
            let (a, e, _) = of(env);
            assert_eq!(a, native, "{w} in {env} differs from native");
            assert_eq!(e, engine, "{w} in {env} ran another engine");
        }
    }
}

#[test]
fn full_size_models_give_the_same_right_answers_natively_and_in_runc() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = campaign("ai", 600, &[native_env(2048), runc_env(2048)], &workloads(FULL_STT));
    let rs = run_verified(tmp.path(), &campaign, 12);
    assert_same_answers(&rs, &["classify", "classify-tract", "face", "detect", "stt", "stt-candle"], &["runc"]);
}

#[test]
fn every_ai_kind_gives_the_same_right_answers_in_a_vm_as_natively() {
    let tmp = tempfile::tempdir().unwrap();
    let vm = microvm_env(1536, "cpu_model = \"Nehalem\"");
    let campaign = campaign("ai-vm", 600, &[native_env(2048), vm], &workloads(SHORT_STT));
    let rs = run_verified(tmp.path(), &campaign, 12);
    assert_same_answers(&rs, &["classify", "classify-tract", "face", "detect", "stt", "stt-candle"], &["microvm"]);
    let vm = |w: &str| rs.iter().find(|r| r.key.environment == "microvm" && r.key.workload == w).unwrap();
    // The guest really ran what was asked: the shorter encoder window, the CPU model.
    assert_eq!(vm("stt").outputs["audio_ctx"], 150);
    assert_eq!(vm("detect").outputs["size"], 640);
    let facts = &vm("classify").launch.as_ref().unwrap().facts;
    assert_eq!(facts.get("cpu_model").map(String::as_str), Some("Nehalem"), "{facts:?}");
}
