//! The vision workloads `detect`, `classify` and `face`, run by the agent in every environment.
//!
//! A trial loads the model once (timed as `model_load_ms`), then runs every input through
//! pre-processing, inference and post-processing, `repetitions` times, timing each step per
//! image as `yolo predict` prints them. Outputs (boxes, labels, scores) are returned with the
//! timings so correctness can be checked after the fact.

pub mod boxes;
pub mod classify;
pub mod detect;
pub mod engine;
pub mod face;
mod opencv;
mod pillow;
pub mod preprocess;
mod queries;

pub use queries::queries;

use engine::{Engine, Tensor};
use image::RgbImage;
use preprocess::Placement;
use sandbench_protocol::Metric;
use sandbench_workloads::ai::{mean, ms_since as ms, resolve_asset as resolve, AiParams, Engine as EngineChoice};
use sandbench_workloads::{Kind, Outcome, Params, WorkloadError};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a vision trial failed.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("{engine}: {why}")]
    Engine { engine: &'static str, why: String },
    #[error("input {path}: {why}")]
    Input { path: PathBuf, why: String },
    #[error("unexpected model output: {0}")]
    Output(String),
    #[error("{path}: {why}")]
    Asset { path: PathBuf, why: String },
}

impl From<VisionError> for WorkloadError {
    fn from(e: VisionError) -> Self {
        WorkloadError::Engine(Box::new(e))
    }
}

/// One image after pre-processing.
pub struct Prepared {
    /// What goes into the model.
    pub canvas: RgbImage,
    /// How the original maps onto the canvas (letterboxed tasks).
    pub placement: Option<Placement>,
    /// The original's width and height.
    pub size: (u32, u32),
}

/// One vision task: its pre- and post-processing around the model.
pub trait Task {
    /// Whether every prepared canvas has one shape (batches of any images can be packed);
    /// otherwise the model runs at each image's own size, one image a call.
    fn fixed_shape(&self) -> bool {
        true
    }
    fn prepare(&self, img: &RgbImage) -> Prepared;
    /// Packs prepared canvases into the model's input tensor.
    fn pack(&self, canvases: &[&RgbImage]) -> Tensor;
    /// The results for image `n` of the batch.
    fn decode(&self, outputs: &[Tensor], n: usize, p: &Prepared) -> Result<Value, VisionError>;
}

/// The assets folder: `$SANDBENCH_ASSETS`, else `assets/` next to the agent binary (where the
/// guest image puts it), else `/sandbench/assets`.
pub fn assets_root() -> PathBuf {
    if let Some(p) = std::env::var_os("SANDBENCH_ASSETS") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("assets")))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("/sandbench/assets"))
}

/// The kinds this crate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisionKind {
    Detect,
    Classify,
    Face,
}

impl VisionKind {
    /// The vision kind `kind` is, if it is one.
    pub fn of(kind: Kind) -> Option<VisionKind> {
        match kind {
            Kind::Detect => Some(VisionKind::Detect),
            Kind::Classify => Some(VisionKind::Classify),
            Kind::Face => Some(VisionKind::Face),
            Kind::Stt | Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => None,
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            VisionKind::Detect => Kind::Detect,
            VisionKind::Classify => Kind::Classify,
            VisionKind::Face => Kind::Face,
        }
    }
}

/// Default model and sample inputs per kind: the asset catalog's, the one list the host
/// fetches from and the agent reads.
fn defaults(kind: Kind) -> (&'static str, &'static [&'static str]) {
    let model = sandbench_assets::catalog::models(kind).first().copied().unwrap_or_default();
    (model, sandbench_assets::catalog::sample_inputs(kind))
}

fn require(path: PathBuf) -> Result<PathBuf, VisionError> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(VisionError::Asset { path, why: "not found (run `sandbench assets fetch`)".into() })
    }
}

/// Loads the engine the parameters ask for. `auto` is onnxruntime where its library is in the
/// assets and loads, else tract; the second value says why the fallback happened.
fn load_engine(
    choice: EngineChoice,
    root: &Path,
    model: &Path,
    input_shape: &[usize],
    threads: usize,
) -> Result<(Box<dyn Engine>, Option<String>), VisionError> {
    let lib = root.join(sandbench_assets::catalog::ONNXRUNTIME_LIB);
    match choice {
        EngineChoice::Tract => Ok((Box::new(engine::Tract::load(model, input_shape, threads)?), None)),
        EngineChoice::Onnxruntime => Ok((Box::new(engine::Onnxruntime::load(&require(lib)?, model, threads)?), None)),
        EngineChoice::Candle => {
            Err(VisionError::Engine { engine: "candle", why: "runs only stt; the vision kinds take tract".into() })
        }
        EngineChoice::Auto => {
            if !lib.is_file() {
                let why = format!("{} not in the assets", lib.display());
                return Ok((Box::new(engine::Tract::load(model, input_shape, threads)?), Some(why)));
            }
            match engine::Onnxruntime::load(&lib, model, threads) {
                Ok(e) => Ok((Box::new(e), None)),
                Err(e) => Ok((Box::new(engine::Tract::load(model, input_shape, threads)?), Some(e.to_string()))),
            }
        }
    }
}

/// Timings (ms, one per repetition) and the last result of one input.
#[derive(Default)]
struct InputRun {
    pre: Vec<f64>,
    inf: Vec<f64>,
    post: Vec<f64>,
    result: Value,
}

/// Runs one trial of `detect`, `classify` or `face`.
pub fn run(kind: Kind, params: &Map<String, Value>) -> Result<Outcome, WorkloadError> {
    if let (Some(scenario), rest) = sandbench_workloads::load::split(kind, params)? {
        return sandbench_workloads::load::drive(&scenario, queries(kind, &rest)?.as_mut());
    }
    let vision = VisionKind::of(kind).ok_or(WorkloadError::NotHere { kind, why: "is not a vision workload" })?;
    let p = AiParams::parse(kind, &Params::new(params))?;
    let root = assets_root();
    let threads =
        if p.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { p.threads };
    let (default_model, samples) = defaults(kind);
    let model = require(resolve(&root, p.model.as_deref().unwrap_or(default_model), "models"))?;
    let names: Vec<String> =
        if p.inputs.is_empty() { samples.iter().map(|s| s.to_string()).collect() } else { p.inputs.clone() };
    let inputs: Vec<PathBuf> = names.iter().map(|n| require(resolve(&root, n, "inputs"))).collect::<Result<_, _>>()?;

    let t_load = Instant::now();
    let mut loaded = load(vision, &p, &root, &model, threads)?;
    let model_load_ms = ms(t_load);
    sandbench_workloads::phase::mark(sandbench_workloads::phase::MODEL_LOADED);

    let decoded: Vec<RgbImage> = inputs.iter().map(|i| preprocess::load_rgb(i)).collect::<Result<_, _>>()?;
    let t_all = Instant::now();
    let per_input = run_inputs(&p, loaded.task.as_ref(), loaded.engine.as_mut(), &decoded)?;
    let total_ms = ms(t_all);
    let all = |f: fn(&InputRun) -> &Vec<f64>| -> Vec<f64> { per_input.iter().flat_map(|x| f(x).clone()).collect() };
    let images = (names.len() * p.repetitions) as f64;
    let mut metrics = sandbench_protocol::Metrics::new();
    metrics.insert("model_load_ms".into(), Metric::new(model_load_ms, "ms"));
    metrics.insert("preprocess_ms".into(), Metric::new(mean(&all(|x| &x.pre)), "ms"));
    metrics.insert("inference_ms".into(), Metric::new(mean(&all(|x| &x.inf)), "ms"));
    metrics.insert("postprocess_ms".into(), Metric::new(mean(&all(|x| &x.post)), "ms"));
    metrics.insert("images_per_s".into(), Metric::new(images / (total_ms / 1e3), "images/s"));
    metrics.insert("inferences".into(), Metric::new(images, "inferences"));
    let round = |v: &[f64]| v.iter().map(|x| (x * 1e3).round() / 1e3).collect::<Vec<_>>();
    let outputs = json!({
        "engine": loaded.engine.name(),
        "engine_fallback": loaded.fallback,
        "model": model.file_name().map(|f| f.to_string_lossy().into_owned()),
        "threads": threads,
        "batch": p.batch,
        "size": loaded.side,
        "repetitions": p.repetitions,
        "inputs": names.iter().zip(&per_input).zip(&decoded).map(|((name, x), img)| json!({
            "input": name,
            "width": img.width(),
            "height": img.height(),
            "preprocess_ms": round(&x.pre),
            "inference_ms": round(&x.inf),
            "postprocess_ms": round(&x.post),
            "result": x.result,
        })).collect::<Vec<_>>(),
    });
    Ok(Outcome { metrics, outputs })
}

/// A loaded model and the task around it.
struct Loaded {
    engine: Box<dyn Engine>,
    /// Why `auto` fell back to tract, if it did.
    fallback: Option<String>,
    task: Box<dyn Task>,
    /// The square side the network really runs at (detect: the model's own unless asked;
    /// `None`: each image's own size).
    side: Option<u32>,
}

/// Loads the model and builds its task. The input side of detect comes from the model's
/// metadata: tract needs the shape up front, so a detect model is first opened by the default
/// size and reopened if its own differs.
fn load(kind: VisionKind, p: &AiParams, root: &Path, model: &Path, threads: usize) -> Result<Loaded, VisionError> {
    let size = p.size.map(|s| s as u32);
    let side = match kind {
        VisionKind::Classify => 224,
        VisionKind::Face => size.unwrap_or(0),
        VisionKind::Detect => size.unwrap_or(640),
    };
    // Face at native size: tract plans each input shape before the timed loop (`Engine::plan`).
    let shape = if side == 0 { vec![] } else { vec![p.batch, 3, side as usize, side as usize] };
    let (mut engine, fallback) = load_engine(p.engine, root, model, &shape, threads)?;
    let (task, side): (Box<dyn Task>, Option<u32>) = match kind {
        VisionKind::Classify => {
            let labels_path = require(root.join(sandbench_assets::catalog::IMAGENET_LABELS))?;
            let text = std::fs::read_to_string(&labels_path)
                .map_err(|e| VisionError::Asset { path: labels_path.clone(), why: e.to_string() })?;
            (Box::new(classify::Classify { labels: text.lines().map(String::from).collect() }), Some(side))
        }
        VisionKind::Detect => {
            let names = engine.metadata("names").map(|m| detect::parse_names(&m)).unwrap_or_default();
            let model_side = engine.metadata("imgsz").and_then(|m| detect::parse_imgsz(&m));
            if let (Some(ms), None) = (model_side, size) {
                if ms != side {
                    let shape = [p.batch, 3, ms as usize, ms as usize];
                    engine = load_engine(p.engine, root, model, &shape, threads)?.0;
                }
            }
            let side = size.or(model_side).unwrap_or(640);
            let conf = p.score_threshold.unwrap_or(0.25) as f32;
            (Box::new(detect::Detect { size: side, names, conf, iou: p.iou.unwrap_or(0.7) as f32 }), Some(side))
        }
        VisionKind::Face => {
            let (conf, iou) = (p.score_threshold.unwrap_or(0.9) as f32, p.iou.unwrap_or(0.4) as f32);
            (Box::new(face::Face { canvas: size, conf, iou }), size)
        }
    };
    Ok(Loaded { engine, fallback, task, side })
}

/// Runs every input through pre-processing, inference and post-processing, in batches,
/// `repetitions` times; the timings per input and each input's last result.
fn run_inputs(
    p: &AiParams,
    task: &dyn Task,
    engine: &mut dyn Engine,
    decoded: &[RgbImage],
) -> Result<Vec<InputRun>, VisionError> {
    let mut per_input: Vec<InputRun> = decoded.iter().map(|_| InputRun::default()).collect();
    let batch = if task.fixed_shape() { p.batch } else { 1 };
    plan_shapes(task, engine, decoded, batch)?;
    let mut first = true;
    for _ in 0..p.repetitions {
        for (c, chunk) in decoded.chunks(batch).enumerate() {
            let t = Instant::now();
            let prepared: Vec<Prepared> = chunk.iter().map(|img| task.prepare(img)).collect();
            let canvases: Vec<&RgbImage> = prepared.iter().map(|x| &x.canvas).collect();
            let tensor = task.pack(&canvases);
            let pre = ms(t) / chunk.len() as f64;
            let t = Instant::now();
            let outputs = engine.run(tensor)?;
            let inf = ms(t) / chunk.len() as f64;
            if std::mem::take(&mut first) {
                sandbench_workloads::phase::mark(sandbench_workloads::phase::FIRST_INFERENCE);
            }
            for (n, prep) in prepared.iter().enumerate() {
                let t = Instant::now();
                let result = task.decode(&outputs, n, prep)?;
                let slot = &mut per_input[c * batch + n];
                slot.pre.push(pre);
                slot.inf.push(inf);
                slot.post.push(ms(t));
                slot.result = result;
            }
        }
    }
    Ok(per_input)
}

/// Lets the engine plan every input shape the loop will run, outside its timings.
fn plan_shapes(
    task: &dyn Task,
    engine: &mut dyn Engine,
    decoded: &[RgbImage],
    batch: usize,
) -> Result<(), VisionError> {
    // A canvas's size depends only on its image's size (and, with a fixed shape, not even on
    // that): one preparation per distinct (batch length, image size) is enough. The engine
    // keeps one plan per shape, so keys that give the same shape cost nothing more.
    let mut seen: Vec<(usize, (u32, u32))> = Vec::new();
    for chunk in decoded.chunks(batch) {
        let Some(first) = chunk.first() else { continue };
        let key = (chunk.len(), if task.fixed_shape() { (0, 0) } else { first.dimensions() });
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let (w, h) = task.prepare(first).canvas.dimensions();
        engine.plan(&[chunk.len(), 3, h as usize, w as usize])?;
    }
    Ok(())
}
