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

/// The tokens of `tokens` after the `cached` ones a network already holds: the `logits`
/// contract says there is at least one.
pub fn new_tokens(tokens: &[u32], cached: usize) -> Result<&[u32], SpeechError> {
    tokens
        .get(cached..)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| SpeechError::Output(format!("new tokens ({} given, {cached} already cached)", tokens.len())))
}

/// The row of position `p` in an output whose `rows` rows start at position `first`.
pub fn row_of(p: usize, first: usize, rows: usize) -> Result<usize, SpeechError> {
    p.checked_sub(first)
        .filter(|r| *r < rows)
        .ok_or_else(|| SpeechError::Output(format!("logits of position {p} (rows hold {first}..{})", first + rows)))
}

/// The additive self-attention mask of `new` positions after `past` cached ones, [new, past +
/// new] row-major: position `past + i` sees every position up to itself.
pub fn causal_mask(past: usize, new: usize) -> Vec<f32> {
    let total = past + new;
    (0..new).flat_map(|i| (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_hides_only_later_positions() {
        let x = f32::NEG_INFINITY;
        // The prompt (3 positions, nothing cached): lower triangle.
        assert_eq!(causal_mask(0, 3), vec![0., x, x, 0., 0., x, 0., 0., 0.]);
        // One step after 3 cached positions: all four visible.
        assert_eq!(causal_mask(3, 1), vec![0.; 4]);
        assert_eq!(causal_mask(1, 2), vec![0., 0., x, 0., 0., 0.]);
    }

    #[test]
    fn only_new_positions_are_asked_for() {
        assert_eq!(new_tokens(&[1, 2, 3], 1).unwrap(), &[2, 3]);
        assert!(new_tokens(&[1, 2], 2).is_err() && new_tokens(&[1], 2).is_err());
        assert_eq!(row_of(5, 4, 2).unwrap(), 1);
        assert!(row_of(3, 4, 2).is_err() && row_of(6, 4, 2).is_err());
    }
}
