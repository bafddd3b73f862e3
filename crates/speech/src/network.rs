//! The seam between Whisper's decoding (`whisper`) and the engines that run the network
//! (`ort_net`, `candle_net`).

use crate::SpeechError;
use std::path::PathBuf;

/// What runs the network for the decoding in `whisper`.
pub trait Network {
    /// Runs the encoder on one window, `[n_mels, frames]` row-major, and starts the decoder
    /// afresh for it.
    fn encode(&mut self, window: &[f32], frames: usize) -> Result<(), SpeechError>;
    /// The vocabulary logits at positions `at` of `tokens`: the tokens given at the previous
    /// call since `encode` are given again unchanged, followed by new ones; `at` names new
    /// positions only.
    fn logits(&mut self, tokens: &[u32], at: &[usize]) -> Result<Vec<Vec<f32>>, SpeechError>;
}

/// The engine that runs Whisper.
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// candle-transformers' Whisper (pure Rust: where onnxruntime's library is not).
    Candle,
    /// Whisper written as ONNX graphs and run by onnxruntime's library at this path.
    Onnxruntime(PathBuf),
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Candle => "candle",
            Engine::Onnxruntime(_) => "onnxruntime",
        }
    }
}
