//! Whisper tiny.en transcribes beckett.wav with a word error rate of at most 10 %.

use sandbench_assets::{catalog, Store};
use serde_json::json;

#[test]
fn transcribes_beckett_within_ten_percent_word_error_rate() {
    let store = Store::new(Store::default_root());
    let mut names = catalog::models("stt").to_vec();
    names.push(catalog::input_asset("beckett.wav"));
    store.fetch(&names, &mut |l| eprintln!("{l}")).expect("assets fetch");
    let params = json!({ "threads": 2 });
    let out = sandbench_speech::run(params.as_object().unwrap(), &store.tree()).unwrap();
    let r = &out.outputs["inputs"][0]["result"];
    let text = r["transcript"].as_str().unwrap();
    let wer = r["wer"].as_f64().unwrap();
    eprintln!("transcript: {text:?}, WER {wer}, metrics {:?}", out.metrics);
    assert!(wer <= 0.10, "WER {wer} for {text:?}");
    assert!(sandbench_workloads::expect::check("stt", &out.outputs).is_empty());
    assert!(out.metrics["real_time_factor"].value > 0.0);
    assert!(out.metrics["model_load_ms"].value > 0.0);
}
