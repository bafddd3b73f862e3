//! Whisper with candle: model loading from CTranslate2 weights, log-mel input, greedy decoding
//! and byte-level BPE detokenisation.

use crate::{audio, ct2, SpeechError};
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::whisper::{self as m, audio::pcm_to_mel, Config};
use std::collections::HashMap;
use std::path::Path;

pub struct Model {
    whisper: m::model::Whisper,
    cfg: Config,
    filters: Vec<f32>,
    vocab: Vec<String>,
    sot: u32,
    eot: u32,
    no_timestamps: u32,
    /// Never sampled, by token id: the config's `suppress_ids` and every special token but
    /// end-of-text. A mask, not a list: it is consulted for every logit at every step.
    suppress: Vec<bool>,
    /// Not sampled first, by token id: the config's `suppress_ids_begin`.
    suppress_begin: Vec<bool>,
    device: Device,
}

fn err(e: impl std::fmt::Display) -> SpeechError {
    SpeechError::Model(e.to_string())
}

fn read(path: &Path) -> Result<Vec<u8>, SpeechError> {
    std::fs::read(path).map_err(|e| SpeechError::Asset {
        path: path.to_path_buf(),
        why: format!("{e} (run `sandbench assets fetch stt`)"),
    })
}

fn ids(cfg: &serde_json::Value, key: &str) -> Vec<u32> {
    cfg.get(key).and_then(|v| v.as_array()).into_iter().flatten().filter_map(|v| v.as_u64()).map(|v| v as u32).collect()
}

impl Model {
    /// Loads `model.bin`, `config.json` and `vocabulary.txt` from `dir` (tiny.en dimensions are
    /// read from the weights themselves).
    pub fn load(dir: &Path, threads: usize) -> Result<Model, SpeechError> {
        // candle's CPU kernels size their pool from this before first use.
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
        let (spec, vars) = ct2::read(&read(&dir.join("model.bin"))?).map_err(err)?;
        if spec != "WhisperSpec" {
            return Err(err(format!("{}: spec `{spec}`, expected WhisperSpec", dir.display())));
        }
        let layers = |prefix: &str| {
            (0..).take_while(|i| vars.contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))).count()
        };
        let emb = vars.get("decoder/embeddings/weight").ok_or_else(|| err("decoder/embeddings/weight missing"))?;
        let conv1 = vars.get("encoder/conv1/weight").ok_or_else(|| err("encoder/conv1/weight missing"))?;
        let d_model = emb.shape[1];
        let heads = d_model / 64;
        let cfg = Config {
            num_mel_bins: conv1.shape[1],
            max_source_positions: 1500,
            d_model,
            encoder_attention_heads: heads,
            encoder_layers: layers("encoder"),
            vocab_size: emb.shape[0],
            max_target_positions: vars.get("decoder/position_encodings/encodings").map(|v| v.shape[0]).unwrap_or(448),
            decoder_attention_heads: heads,
            decoder_layers: layers("decoder"),
            suppress_tokens: Vec::new(),
        };
        let hf = ct2::to_hf(&vars, cfg.encoder_layers, cfg.decoder_layers).map_err(err)?;
        drop(vars);
        let device = Device::Cpu;
        let tensors: HashMap<String, Tensor> = hf
            .into_iter()
            .map(|(k, v)| Tensor::from_vec(v.data, v.shape, &device).map(|t| (k, t)))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let whisper = m::model::Whisper::load(&vb, cfg.clone()).map_err(err)?;
        let config: serde_json::Value =
            serde_json::from_slice(&read(&dir.join("config.json"))?).map_err(|e| err(format!("config.json: {e}")))?;
        let vocab: Vec<String> =
            String::from_utf8_lossy(&read(&dir.join("vocabulary.txt"))?).lines().map(String::from).collect();
        let id = |tok: &str| {
            vocab
                .iter()
                .position(|v| v == tok)
                .map(|i| i as u32)
                .ok_or_else(|| err(format!("token {tok} not in the vocabulary")))
        };
        let (sot, eot, no_timestamps) = (id(m::SOT_TOKEN)?, id(m::EOT_TOKEN)?, id(m::NO_TIMESTAMPS_TOKEN)?);
        let n = vocab.len().max(cfg.vocab_size);
        let mask = |ids: Vec<u32>| {
            let mut m = vec![false; n];
            for i in ids.into_iter().filter(|i| (*i as usize) < n) {
                m[i as usize] = true;
            }
            m
        };
        let mut suppress = ids(&config, "suppress_ids");
        suppress.extend((eot + 1)..n as u32);
        let suppress = mask(suppress);
        let filters = audio::mel_filters(m::SAMPLE_RATE as f64, m::N_FFT, cfg.num_mel_bins);
        Ok(Model {
            whisper,
            filters,
            vocab,
            sot,
            eot,
            no_timestamps,
            suppress,
            suppress_begin: mask(ids(&config, "suppress_ids_begin")),
            device,
            cfg,
        })
    }

    /// The log-mel spectrogram, `[1, n_mels, frames]` (padded as Whisper pads).
    pub fn mel(&self, samples: &[f32]) -> Result<Tensor, SpeechError> {
        let mel = pcm_to_mel(&self.cfg, samples, &self.filters);
        let frames = mel.len() / self.cfg.num_mel_bins;
        Tensor::from_vec(mel, (1, self.cfg.num_mel_bins, frames), &self.device).map_err(err)
    }

    /// Greedy decoding of every window of `audio_ctx` encoder positions (two mel frames
    /// each; Whisper's own window is 1500 positions, 30 s); returns the text tokens.
    pub fn transcribe(&mut self, mel: &Tensor, audio_ctx: usize) -> Result<Vec<u32>, SpeechError> {
        let (_, _, frames) = mel.dims3().map_err(err)?;
        let window = (2 * audio_ctx).clamp(2, m::N_FRAMES);
        // pcm_to_mel appends at least 30 s of silence: the content ends a window earlier.
        let content = frames.saturating_sub(m::N_FRAMES).max(1);
        let mut text = Vec::new();
        let mut seek = 0;
        while seek < content {
            let len = (content - seek).min(window);
            let segment = mel.narrow(2, seek, window.min(frames - seek)).map_err(err)?;
            let features = self.whisper.encoder.forward(&segment, true).map_err(err)?;
            let mut tokens = vec![self.sot, self.no_timestamps];
            let start = tokens.len();
            for i in 0..self.cfg.max_target_positions / 2 {
                let t = Tensor::new(tokens.as_slice(), &self.device).and_then(|t| t.unsqueeze(0)).map_err(err)?;
                let ys = self.whisper.decoder.forward(&t, &features, i == 0).map_err(err)?;
                let (_, n, _) = ys.dims3().map_err(err)?;
                let logits = self
                    .whisper
                    .decoder
                    .final_linear(&ys.i((..1, n - 1..)).map_err(err)?)
                    .and_then(|l| l.i(0))
                    .and_then(|l| l.i(0))
                    .and_then(|l| l.to_vec1::<f32>())
                    .map_err(err)?;
                let mut best = (f32::NEG_INFINITY, self.eot);
                let first = tokens.len() == start;
                for (id, &v) in logits.iter().enumerate() {
                    let blocked = |m: &[bool]| m.get(id).copied().unwrap_or(false);
                    if blocked(&self.suppress) || (first && blocked(&self.suppress_begin)) {
                        continue;
                    }
                    if v > best.0 {
                        best = (v, id as u32);
                    }
                }
                if best.1 == self.eot {
                    break;
                }
                tokens.push(best.1);
            }
            text.extend_from_slice(&tokens[start..]);
            seek += len;
        }
        self.whisper.reset_kv_cache();
        Ok(text)
    }

    /// Byte-level BPE tokens back to text.
    pub fn decode(&self, tokens: &[u32]) -> String {
        let table = byte_decoder();
        let mut bytes = Vec::new();
        for &t in tokens.iter().filter(|&&t| t < self.eot) {
            for ch in self.vocab.get(t as usize).map(String::as_str).unwrap_or("").chars() {
                if let Some(b) = table.get(&ch) {
                    bytes.push(*b);
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// GPT-2's `bytes_to_unicode`, inverted: the printable stand-in character of every byte.
fn byte_decoder() -> HashMap<char, u8> {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).chain(0xA1..=0xAC).chain(0xAE..=0xFF).collect();
    let mut chars: Vec<u32> = printable.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !printable.contains(&b) {
            printable.push(b);
            chars.push(256 + n);
            n += 1;
        }
    }
    printable.iter().zip(chars).filter_map(|(&b, c)| char::from_u32(c).map(|c| (c, b as u8))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_decoder_maps_the_space_stand_in() {
        let t = byte_decoder();
        assert_eq!(t.len(), 256);
        assert_eq!(t[&'Ġ'], b' ');
        assert_eq!(t[&'a'], b'a');
        assert_eq!(t[&'Ċ'], b'\n');
    }
}
