//! The `candle` engine: candle-transformers' Whisper on the CPU, pure Rust, so it runs where
//! onnxruntime's library does not (an architecture without a pinned build, `auto`'s fallback).
//! candle caches the decoder's cross-attention only, so each step feeds the whole sequence.

use crate::ct2::Var;
use crate::network::Network;
use crate::SpeechError;
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{model::Whisper, Config};
use std::collections::HashMap;

pub struct CandleNet {
    whisper: Whisper,
    n_mels: usize,
    /// The encoder's output for the current window.
    features: Option<Tensor>,
    /// Whether the next decoder step must drop the previous window's cross-attention cache.
    fresh: bool,
}

fn err(e: candle_core::Error) -> SpeechError {
    SpeechError::Candle(Box::new(e))
}

impl CandleNet {
    pub fn load(w: HashMap<String, Var>, cfg: Config) -> Result<CandleNet, SpeechError> {
        let device = Device::Cpu;
        let tensors: HashMap<String, Tensor> = w
            .into_iter()
            .map(|(k, v)| Tensor::from_vec(v.data, v.shape, &device).map(|t| (k, t)))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let n_mels = cfg.num_mel_bins;
        let whisper = Whisper::load(&vb, cfg).map_err(err)?;
        Ok(CandleNet { whisper, n_mels, features: None, fresh: true })
    }
}

impl Network for CandleNet {
    fn encode(&mut self, window: &[f32], frames: usize) -> Result<(), SpeechError> {
        let mel = Tensor::from_slice(window, (1, self.n_mels, frames), &Device::Cpu).map_err(err)?;
        self.features = Some(self.whisper.encoder.forward(&mel, true).map_err(err)?);
        self.fresh = true;
        Ok(())
    }

    fn logits(&mut self, tokens: &[u32], at: &[usize]) -> Result<Vec<Vec<f32>>, SpeechError> {
        let features = self.features.as_ref().ok_or_else(|| SpeechError::Output("no encoded window".into()))?;
        let t = Tensor::new(tokens, &Device::Cpu).and_then(|t| t.unsqueeze(0)).map_err(err)?;
        let ys = self.whisper.decoder.forward(&t, features, std::mem::take(&mut self.fresh)).map_err(err)?;
        at.iter()
            .map(|&p| {
                ys.i((..1, p..p + 1))
                    .and_then(|y| self.whisper.decoder.final_linear(&y))
                    .and_then(|l| l.i(0))
                    .and_then(|l| l.i(0))
                    .and_then(|l| l.to_vec1::<f32>())
                    .map_err(err)
            })
            .collect()
    }
}
