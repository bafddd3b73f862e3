//! The `onnxruntime` engine: Whisper's two graphs (`graph`) run by onnxruntime's CPU provider.
//! The encoder also projects every decoder layer's cross-attention keys and values once per
//! window; the decoder keeps its self-attention keys and values between steps, so each step
//! feeds one new token.

use crate::ct2::Var;
use crate::graph::{self, Dims};
use crate::network::{causal_mask, new_tokens, row_of, Network};
use crate::SpeechError;
use ort::session::{builder::GraphOptimizationLevel, Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

pub struct OrtNet {
    encoder: Session,
    decoder: Session,
    dims: Dims,
    /// The encoder's outputs for the current window: `cross_k{i}`, `cross_v{i}`.
    cross: Vec<(String, DynValue)>,
    /// The decoder's self-attention cache: `past_k{i}`, `past_v{i}` (empty before the first step).
    past: Vec<(String, DynValue)>,
    /// Tokens the cache holds.
    cached: usize,
}

fn session(env: &ort::environment::Environment, model: &[u8], threads: usize) -> Result<Session, ort::Error> {
    Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(threads.max(1))?
        .with_inter_threads(1)?
        .commit_from_memory(model)
}

impl OrtNet {
    /// Writes both graphs from the weights `w` and loads them with the library at `lib`.
    pub fn load(lib: &Path, w: &HashMap<String, Var>, dims: Dims, threads: usize) -> Result<OrtNet, SpeechError> {
        let env = sandbench_vision::engine::ort_env(lib)?;
        let encoder = session(env, &graph::encoder(w, dims)?, threads)?;
        let decoder = session(env, &graph::decoder(w, dims)?, threads)?;
        Ok(OrtNet { encoder, decoder, dims, cross: Vec::new(), past: Vec::new(), cached: 0 })
    }

    /// An empty cache: [heads, 0, 64] for every layer's keys and values.
    fn empty_cache(&self) -> Result<Vec<(String, DynValue)>, ort::Error> {
        let shape = [self.dims.d_model as i64 / 64, 0, 64];
        let mut cache = Vec::new();
        for i in 0..self.dims.decoder_layers {
            for side in ["k", "v"] {
                cache.push((format!("past_{side}{i}"), Tensor::<f32>::from_array((shape, Vec::new()))?.into_dyn()));
            }
        }
        Ok(cache)
    }
}

impl Network for OrtNet {
    fn encode(&mut self, window: &[f32], frames: usize) -> Result<(), SpeechError> {
        let mel = Tensor::from_array(([1, self.dims.n_mels, frames], window.to_vec()))?;
        let empty = self.empty_cache()?;
        let mut out = self.encoder.run(ort::inputs!["mel" => mel])?;
        self.cross = (0..self.dims.decoder_layers)
            .flat_map(|i| [format!("cross_k{i}"), format!("cross_v{i}")])
            .map(|name| out.remove(&name).map(|v| (name.clone(), v)).ok_or(SpeechError::Output(name)))
            .collect::<Result<_, _>>()?;
        self.past = empty;
        self.cached = 0;
        Ok(())
    }

    fn logits(&mut self, tokens: &[u32], at: &[usize]) -> Result<Vec<Vec<f32>>, SpeechError> {
        let (past, total) = (self.cached, tokens.len());
        let ids: Vec<i64> = new_tokens(tokens, past)?.iter().map(|&t| t as i64).collect();
        let new = ids.len();
        let positions: Vec<i64> = (past as i64..total as i64).collect();
        let mask = causal_mask(past, new);
        let mut inputs: Vec<(Cow<str>, SessionInputValue)> = vec![
            ("tokens".into(), Tensor::from_array(([new], ids))?.into()),
            ("positions".into(), Tensor::from_array(([new], positions))?.into()),
            ("mask".into(), Tensor::from_array(([new, total], mask))?.into()),
        ];
        inputs.extend(self.past.iter().chain(&self.cross).map(|(n, v)| (Cow::from(n.as_str()), v.into())));
        let mut out = self.decoder.run(inputs)?;
        let (shape, logits) = out["logits"].try_extract_tensor::<f32>()?;
        let (rows, vocab) = (shape[0] as usize, shape[1] as usize);
        let picked = at
            .iter()
            .map(|&p| row_of(p, total - rows, rows).map(|r| logits[r * vocab..(r + 1) * vocab].to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        for (name, value) in &mut self.past {
            let present = name.replacen("past", "present", 1);
            *value = out.remove(&present).ok_or(SpeechError::Output(present))?;
        }
        self.cached = total;
        Ok(picked)
    }
}
