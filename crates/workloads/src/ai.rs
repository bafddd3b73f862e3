//! Parameters of the AI workloads (`detect`, `classify`, `face`, `stt`), parsed the same way on
//! the host (campaign validation) and in the agent. The inference itself lives in the
//! `sandbench-vision` and `sandbench-speech` crates, linked only into the agent.

use crate::{Kind, ParamError, Params};

/// The `engine` parameter: which inference engine runs the model. `auto` picks onnxruntime
/// where its library is in the assets and loads, else the kind's pure-Rust engine (tract for
/// the vision kinds, candle for stt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Auto,
    Onnxruntime,
    Tract,
    Candle,
}

impl Engine {
    /// The engines `kind` can run on (empty for a kind without a model).
    pub fn choices(kind: Kind) -> &'static [Engine] {
        match kind {
            Kind::Detect | Kind::Classify | Kind::Face => &[Engine::Auto, Engine::Onnxruntime, Engine::Tract],
            Kind::Stt => &[Engine::Auto, Engine::Onnxruntime, Engine::Candle],
            Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => &[],
        }
    }

    /// The pure-Rust engine of `kind`, which `auto` falls back to.
    pub fn pure_rust(kind: Kind) -> Engine {
        if kind == Kind::Stt {
            Engine::Candle
        } else {
            Engine::Tract
        }
    }

    /// The parameter's value (and the name trials record as `engine`).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Onnxruntime => "onnxruntime",
            Engine::Tract => "tract",
            Engine::Candle => "candle",
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AiParams {
    /// Input files: names of sample inputs (in the assets' `inputs/`) or absolute paths.
    /// Empty means the kind's sample inputs.
    pub inputs: Vec<String>,
    /// A model file replacing the default one (absolute path or a name under the assets).
    pub model: Option<String>,
    pub engine: Engine,
    /// Inference threads; 0 means one per CPU the sandbox has.
    pub threads: usize,
    /// Passes over the whole input set; every pass is timed.
    pub repetitions: usize,
    /// Images per inference call (needs a model whose batch dimension is not fixed).
    pub batch: usize,
    /// Minimum score kept (detect 0.25, face 0.9 by default; unused by classify and stt).
    pub score_threshold: Option<f64>,
    /// IoU above which non-maximum suppression drops a box (detect 0.7, face 0.4).
    pub iou: Option<f64>,
    /// Square input side for detect (from the model, 640) and face (640).
    pub size: Option<u64>,
    /// stt: encoder positions per window (20 ms of audio each). Whisper's own window is 1500
    /// (30 s); fewer positions run the encoder on a shorter window, faster and less accurate,
    /// as whisper.cpp's `--audio-ctx`.
    pub audio_ctx: Option<u64>,
}

/// Whisper's encoder positions per 30-second window.
pub const WHISPER_AUDIO_CTX: u64 = 1500;

impl AiParams {
    pub fn parse(kind: Kind, p: &Params) -> Result<Self, ParamError> {
        // A load scenario's keys (checked by `load::split`) may sit beside the kind's own.
        let own = [
            "inputs",
            "model",
            "engine",
            "threads",
            "repetitions",
            "batch",
            "score_threshold",
            "iou",
            "size",
            "audio_ctx",
        ];
        p.only(&[&own[..], crate::load::KEYS].concat())?;
        if kind != Kind::Stt && p.has("audio_ctx") {
            return Err(ParamError::Invalid { name: "audio_ctx".into(), why: "only the stt workload has it".into() });
        }
        let choices = Engine::choices(kind);
        let names: Vec<&'static str> = choices.iter().map(|e| e.as_str()).collect();
        let chosen = p.choice("engine", "auto", &names)?;
        let engine = choices.iter().copied().find(|e| e.as_str() == chosen).unwrap_or(Engine::Auto);
        Ok(AiParams {
            inputs: p.list("inputs")?.unwrap_or_default(),
            model: p.string("model")?,
            engine,
            threads: p.u64_in("threads", 0, 0, 1024)? as usize,
            repetitions: p.u64_in("repetitions", 1, 1, 1_000_000)? as usize,
            batch: p.u64_in("batch", 1, 1, 256)? as usize,
            score_threshold: p.map_f64("score_threshold", 0.0, 1.0)?,
            iou: p.map_f64("iou", 0.0, 1.0)?,
            size: match p.map_f64("size", 32.0, 4096.0)? {
                Some(s) if !(s as u64).is_multiple_of(32) => {
                    return Err(ParamError::Invalid {
                        name: "size".into(),
                        why: format!("{s} is not a multiple of 32"),
                    })
                }
                other => other.map(|s| s as u64),
            },
            audio_ctx: match p.u64_in("audio_ctx", 0, 0, WHISPER_AUDIO_CTX)? {
                0 => None,
                n => Some(n),
            },
        })
    }
}

/// An input or model named in the parameters: absolute paths as they are, `dir/name` under
/// the assets folder, a bare name under `<assets>/<dir>/`.
pub fn resolve_asset(root: &std::path::Path, name: &str, dir: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else if name.contains('/') {
        root.join(name)
    } else {
        root.join(dir).join(name)
    }
}

/// Milliseconds since `t`.
pub fn ms_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Arithmetic mean; 0 for no values.
pub fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn engine(kind: Kind, value: &str) -> Result<Engine, String> {
        let map = json!({ "engine": value }).as_object().cloned().unwrap_or_default();
        AiParams::parse(kind, &Params::new(&map)).map(|p| p.engine).map_err(|e| e.to_string())
    }

    #[test]
    fn each_kind_takes_its_own_engines_and_names_them_when_refusing() {
        assert_eq!(engine(Kind::Stt, "onnxruntime"), Ok(Engine::Onnxruntime));
        assert_eq!(engine(Kind::Stt, "candle"), Ok(Engine::Candle));
        assert_eq!(engine(Kind::Classify, "tract"), Ok(Engine::Tract));
        let e = engine(Kind::Stt, "tract").unwrap_err();
        assert!(e.contains("auto, onnxruntime, candle"), "{e}");
        let e = engine(Kind::Detect, "candle").unwrap_err();
        assert!(e.contains("auto, onnxruntime, tract"), "{e}");
        let none = serde_json::Map::new();
        assert_eq!(AiParams::parse(Kind::Face, &Params::new(&none)).map(|p| p.engine).ok(), Some(Engine::Auto));
        assert_eq!(Engine::pure_rust(Kind::Stt), Engine::Candle);
        assert_eq!(Engine::pure_rust(Kind::Face), Engine::Tract);
    }
}
