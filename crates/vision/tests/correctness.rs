//! Right answers on the sample inputs with both engines, natively: espresso for coffee.png, a
//! traffic light for each drawn traffic light,
//! the people in bus.jpg, one face in astronaut.png and two in zidane.jpg. The assets come
//! from the shared cache (`sandbench assets fetch`; fetched here when missing).

use sandbench_assets::{catalog, Store};
use sandbench_workloads::{expect, Kind};
use serde_json::{json, Value};

fn assets() {
    let store = Store::new(Store::default_root());
    let mut names: Vec<&str> = vec![catalog::ONNXRUNTIME_LIB];
    for k in [Kind::Detect, Kind::Classify, Kind::Face] {
        names.extend(catalog::models(k));
        names.extend(catalog::sample_inputs(k).iter().map(|i| catalog::input_asset(i)));
    }
    store.fetch(&names, &mut |l| eprintln!("{l}")).expect("assets fetch");
    std::env::set_var("SANDBENCH_ASSETS", store.tree());
}

fn run(name: &str, engine: &str) -> Value {
    assets();
    let kind = Kind::parse(name).unwrap();
    let params = json!({ "engine": engine, "threads": 2 });
    let out =
        sandbench_vision::run(kind, params.as_object().unwrap()).unwrap_or_else(|e| panic!("{kind}/{engine}: {e}"));
    assert_eq!(out.outputs["engine"], engine);
    for m in ["model_load_ms", "preprocess_ms", "inference_ms", "postprocess_ms", "images_per_s"] {
        assert!(out.metrics[m].value > 0.0, "{kind}/{engine}: {m} = {}", out.metrics[m].value);
    }
    let wrong = expect::check(kind, &out.outputs);
    assert!(wrong.is_empty(), "{kind}/{engine}: {wrong:?}\n{}", out.outputs);
    out.outputs
}

fn result_of<'a>(outputs: &'a Value, input: &str) -> &'a Value {
    outputs["inputs"].as_array().unwrap().iter().find(|i| i["input"] == input).map(|i| &i["result"]).unwrap()
}

#[test]
fn classify_finds_espresso_and_traffic_lights_with_both_engines_and_they_agree() {
    let ort = run("classify", "onnxruntime");
    let tract = run("classify", "tract");
    let top = &result_of(&ort, "coffee.png")["top5"][0];
    assert_eq!(top["label"], "espresso");
    assert!(top["score"].as_f64().unwrap() > 0.9, "{top}");
    // The drawn traffic lights (the paper's traffic-light classifier's input): class 920.
    for input in ["traffic_light_red.png", "traffic_light_amber.png", "traffic_light_green.png"] {
        let top = &result_of(&ort, input)["top5"][0];
        assert_eq!(top["label"], "traffic light", "{input}: {top}");
        assert!(top["score"].as_f64().unwrap() > 0.5, "{input}: {top}");
    }
    for input in ["coffee.png", "chelsea.png", "astronaut.png", "traffic_light_green.png"] {
        let (a, b) = (&result_of(&ort, input)["top5"], &result_of(&tract, input)["top5"]);
        assert_eq!(a[0]["class"], b[0]["class"], "{input}");
        assert!(
            (a[0]["score"].as_f64().unwrap() - b[0]["score"].as_f64().unwrap()).abs() < 0.01,
            "{input}: {a} vs {b}"
        );
    }
}

#[test]
fn detect_finds_the_people_in_bus_jpg_with_both_engines() {
    let ort = run("detect", "onnxruntime");
    let tract = run("detect", "tract");
    let dets = result_of(&ort, "bus.jpg")["detections"].as_array().unwrap().clone();
    assert!(dets.len() >= 3, "{dets:?}");
    for d in &dets {
        let b: Vec<f64> = d["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(b[0] < b[2] && b[1] < b[3] && b[2] <= 810.0 && b[3] <= 1080.0, "box inside the 810x1080 image: {b:?}");
    }
    assert_eq!(dets.len(), result_of(&tract, "bus.jpg")["detections"].as_array().unwrap().len());
}

#[test]
fn face_finds_one_face_in_astronaut_and_two_in_zidane_with_both_engines() {
    for engine in ["onnxruntime", "tract"] {
        let out = run("face", engine);
        let faces = result_of(&out, "astronaut.png")["faces"].as_array().unwrap().clone();
        assert_eq!(faces.len(), 1);
        assert_eq!(faces[0]["landmarks"].as_array().unwrap().len(), 5);
        assert_eq!(result_of(&out, "zidane.jpg")["faces"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn a_missing_model_is_a_clear_error() {
    assets();
    let params = json!({ "engine": "tract", "model": "/nonexistent/model.onnx" });
    let err = sandbench_vision::run(Kind::Classify, params.as_object().unwrap()).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/model.onnx") && err.contains("assets fetch"), "{err}");
}
