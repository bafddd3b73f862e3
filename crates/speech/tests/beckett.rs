//! Whisper tiny.en transcribes beckett.wav with a word error rate of at most 10 %, and the LJ
//! Speech sentences espeak-ng speaks within their (synthetic-voice) limit, `expect::wer_limit`.

use sandbench_assets::{catalog, Store};
use sandbench_workloads::Kind;
use serde_json::json;

#[test]
fn transcribes_beckett_within_ten_percent_word_error_rate() {
    let store = Store::new(Store::default_root());
    let mut names = catalog::models(Kind::Stt).to_vec();
    names.extend(catalog::sample_inputs(Kind::Stt).iter().map(|i| catalog::input_asset(i)));
    store.fetch(&names, &mut |l| eprintln!("{l}")).expect("assets fetch");
    let params = json!({ "threads": 2 });
    let out = sandbench_speech::run(params.as_object().unwrap(), &store.tree()).unwrap();
    let r = &out.outputs["inputs"][0]["result"];
    let text = r["transcript"].as_str().unwrap();
    let wer = r["wer"].as_f64().unwrap();
    eprintln!("transcript: {text:?}, WER {wer}, metrics {:?}", out.metrics);
    assert!(wer <= 0.10, "WER {wer} for {text:?}");
    let wrong = sandbench_workloads::expect::check(Kind::Stt, &out.outputs);
    assert!(wrong.is_empty(), "{wrong:?}\n{}", out.outputs);
    let inputs = out.outputs["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 4, "beckett and three LJ Speech sentences");
    for i in &inputs[1..] {
        eprintln!("{}: {:?} WER {}", i["input"], i["result"]["transcript"], i["result"]["wer"]);
        assert!(
            i["result"]["wer"].as_f64().unwrap()
                <= sandbench_workloads::expect::wer_limit(i["input"].as_str().unwrap())
        );
    }
    assert!(out.metrics["real_time_factor"].value > 0.0);
    assert!(out.metrics["model_load_ms"].value > 0.0);
}
