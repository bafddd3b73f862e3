//! The fidelity suite, speech half: stt, with each engine (onnxruntime and candle), on the clips of `fidelity/inputs/` (and the beckett.wav
//! sample) against faster-whisper's transcripts in `fidelity/reference.json` (greedy,
//! temperature 0, the same CTranslate2 files; made by `bench/fidelity.sh`), a word error rate
//! of at most 5 % each (`sandbench_workloads::fidelity`).

use sandbench_assets::{catalog, Store};
use sandbench_workloads::{fidelity, Kind};
use serde_json::{json, Value};
use std::path::PathBuf;

#[test]
fn stt_agrees_with_faster_whisper_on_every_clip() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let reference: Value =
        serde_json::from_slice(&std::fs::read(repo.join("fidelity/reference.json")).unwrap()).unwrap();
    let store = Store::new(Store::default_root());
    let mut names = catalog::models(Kind::Stt).to_vec();
    names.extend(catalog::sample_inputs(Kind::Stt).iter().map(|i| catalog::input_asset(i)));
    store.fetch(&names, &mut |l| eprintln!("{l}")).expect("assets fetch");
    let results = reference["kinds"]["stt"]["results"].as_object().expect("stt results");
    let clips: Vec<(String, PathBuf)> = results
        .keys()
        .map(|name| {
            let local = repo.join("fidelity/inputs").join(name);
            let path = if local.is_file() { local } else { store.tree().join("inputs").join(name) };
            let got = std::fs::read(&path).map(|b| sandbench_assets::sha256_hex(&b)).unwrap_or_default();
            assert_eq!(got, reference["inputs"][name]["sha256"].as_str().unwrap_or_default(), "{}", path.display());
            (name.clone(), path)
        })
        .collect();
    let paths: Vec<String> = clips.iter().map(|(_, p)| p.display().to_string()).collect();
    let mut problems = Vec::new();
    let mut transcripts = Vec::new();
    for engine in ["onnxruntime", "candle"] {
        let params = json!({ "threads": 2, "inputs": paths, "engine": engine });
        let out = sandbench_speech::run(params.as_object().unwrap(), &store.tree()).unwrap();
        assert_eq!(out.outputs["engine"], engine);
        let rows: Vec<fidelity::Agreement> = clips
            .iter()
            .zip(out.outputs["inputs"].as_array().unwrap())
            .map(|((name, _), ours)| {
                let r = results[name]["transcript"].as_str().unwrap_or_default();
                let o = ours["result"]["transcript"].as_str().unwrap_or_default();
                eprintln!("stt {name} ({engine}): ours {o:?}\n    faster-whisper {r:?}");
                fidelity::stt(name, r, o)
            })
            .collect();
        eprintln!("FIDELITY stt/{engine}: {}", fidelity::summary(&rows));
        problems.extend(rows.iter().flat_map(|a| a.problems.iter().map(move |p| format!("{engine} {}: {p}", a.input))));
        transcripts.push(
            out.outputs["inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["result"]["transcript"].clone())
                .collect::<Vec<_>>(),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The two engines run one model: the same words on every clip.
    assert_eq!(transcripts[0], transcripts[1], "onnxruntime and candle transcribe differently");
}
