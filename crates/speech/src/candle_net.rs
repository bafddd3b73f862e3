//! The `candle` engine: candle-transformers' Whisper encoder on the CPU and its decoder with
//! caches (`candle_decoder`), pure Rust, so it runs where onnxruntime's library does not (an
//! architecture without a pinned build, `auto`'s fallback).

use crate::candle_decoder::CachedDecoder;
use crate::ct2::Var;
use crate::network::{new_tokens, row_of, Network};
use crate::SpeechError;
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{model::Whisper, Config};
use std::collections::HashMap;

pub struct CandleNet {
    /// candle-transformers' model, for its encoder.
    whisper: Whisper,
    decoder: CachedDecoder,
    n_mels: usize,
    /// The encoder's output for the current window.
    features: Option<Tensor>,
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
        let (d, heads, layers) = (cfg.d_model, cfg.decoder_attention_heads, cfg.decoder_layers);
        let decoder =
            CachedDecoder::load(vb.clone(), d, heads, layers, cfg.vocab_size, cfg.max_target_positions).map_err(err)?;
        let n_mels = cfg.num_mel_bins;
        let whisper = Whisper::load(&vb, cfg).map_err(err)?;
        Ok(CandleNet { whisper, decoder, n_mels, features: None })
    }
}

impl Network for CandleNet {
    fn encode(&mut self, window: &[f32], frames: usize) -> Result<(), SpeechError> {
        let mel = Tensor::from_slice(window, (1, self.n_mels, frames), &Device::Cpu).map_err(err)?;
        self.features = Some(self.whisper.encoder.forward(&mel, true).map_err(err)?);
        self.decoder.reset();
        Ok(())
    }

    fn logits(&mut self, tokens: &[u32], at: &[usize]) -> Result<Vec<Vec<f32>>, SpeechError> {
        let features = self.features.as_ref().ok_or_else(|| SpeechError::Output("encoded window".into()))?;
        let past = self.decoder.cached;
        let new = new_tokens(tokens, past)?;
        let t = Tensor::new(new, &Device::Cpu).and_then(|t| t.unsqueeze(0)).map_err(err)?;
        let ys = self.decoder.forward(&t, features).map_err(err)?;
        at.iter()
            .map(|&p| {
                let row = row_of(p, past, new.len())?;
                ys.i((.., row..row + 1, ..)).and_then(|y| self.decoder.logits(&y)).map_err(err)
            })
            .collect()
    }
}
