//! The AI workloads inside real sandboxes: natively, in a runc container and in a QEMU
//! microvm guest (TCG here), with `--verify` checking the answers and every environment
//! giving the same answers as native.

mod common;
use common::*;
use serde_json::Value;

const WORKLOADS: &str = r#"
[[workload]]
name = "classify"
kind = "classify"
params = { inputs = ["coffee.png", "chelsea.png", "traffic_light_green.png"] }

[[workload]]
name = "classify-tract"
kind = "classify"
params = { inputs = ["coffee.png"], engine = "tract" }

[[workload]]
name = "face"
kind = "face"
params = { inputs = ["astronaut.png", "zidane.jpg"] }

[[workload]]
name = "detect"
kind = "detect"
params = { inputs = ["bus.jpg"] }

[[workload]]
name = "stt"
kind = "stt"
params = { inputs = ["beckett.wav"] }
"#;

/// What must agree between environments: per input, the top-1 class, the number of faces or
/// the number of detections.
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

#[test]
fn vision_workloads_give_the_same_right_answers_natively_in_runc_and_in_a_vm() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "ai.toml", &native_runc_microvm("ai", 600, 2048, 1536, "", WORKLOADS));
    let out = tmp.path().join("out");
    let child =
        sandbench().arg("run").arg(&campaign).arg("--out").arg(&out).arg("--quiet").arg("--verify").output().unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&child.stdout), String::from_utf8_lossy(&child.stderr));
    let run = only_run(&out);
    let rs = records(&run);
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
    assert!(text.contains("verify: 15 trials checked, 0 with a wrong answer"), "{text}");
    for w in ["classify", "classify-tract", "face", "detect", "stt"] {
        let of = |env: &str| {
            let r = rs.iter().find(|r| r.key.environment == env && r.key.workload == w).unwrap();
            (answers(&r.outputs), r.outputs["engine"].as_str().unwrap_or("").to_string(), r.metrics.clone())
        };
        // The agent reported, live, when the model was loaded and the first result existed.
        for r in rs.iter().filter(|r| r.key.workload == w) {
            let names: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["model_loaded", "first_inference"], "{} {w}", r.key.environment);
            assert!(r.phases[0].host_ms <= r.phases[1].host_ms && r.phases[1].host_ms <= r.host_wall_ms);
        }
        let (native, engine, metrics) = of("native");
        assert!(!native.is_empty());
        assert!(metrics["inference_ms"].value > 0.0 && metrics["model_load_ms"].value > 0.0, "{metrics:?}");
        let want_engine = match w {
            "classify-tract" => "tract",
            "stt" => "candle",
            _ => "onnxruntime",
        };
        assert_eq!(engine, want_engine, "{w}");
        for env in ["runc", "microvm"] {
            let (a, e, _) = of(env);
            assert_eq!(a, native, "{w} in {env} differs from native");
            assert_eq!(e, engine, "{w} in {env} ran another engine");
        }
    }
}
