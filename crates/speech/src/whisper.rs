//! Whisper with candle: model loading from CTranslate2 weights, faster-whisper's log-mel input
//! and its greedy decoding (`WhisperModel.transcribe` with beam_size=1, temperature=0,
//! without timestamps: 30-second windows, each prompted with the previous windows' text, a
//! window skipped as silence where `<|nocaptions|>` is likely and the text is not), and
//! byte-level BPE detokenisation.

use crate::candle_net::CandleNet;
use crate::graph::Dims;
use crate::network::{Engine, Network};
use crate::ort_net::OrtNet;
use crate::{audio, ct2, SpeechError};
use candle_transformers::models::whisper::{self as m, Config};
use std::collections::HashMap;
use std::path::Path;

/// A log-mel spectrogram, `[n_mels, frames]` row-major.
pub struct Mel {
    data: Vec<f32>,
    frames: usize,
}

pub struct Model {
    net: Box<dyn Network>,
    n_mels: usize,
    filters: Vec<f32>,
    vocab: Vec<String>,
    sot: u32,
    sot_prev: u32,
    eot: u32,
    no_timestamps: u32,
    no_speech: u32,
    /// Never sampled, by token id: the config's `suppress_ids` and every special token but
    /// end-of-text. A mask, not a list: it is consulted for every logit at every step.
    suppress: Vec<bool>,
    /// Not sampled first, by token id: the config's `suppress_ids_begin`.
    suppress_begin: Vec<bool>,
    /// Encoder positions per window (`audio_ctx`).
    audio_ctx: usize,
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

/// The model's sizes, read from the weights themselves (tiny.en or any other Whisper).
fn config(vars: &HashMap<String, ct2::Var>) -> Result<Config, SpeechError> {
    let layers = |prefix: &str| {
        (0..).take_while(|i| vars.contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))).count()
    };
    let get = |name: &str| vars.get(name).ok_or_else(|| SpeechError::Model(format!("{name} missing")));
    let (emb, conv1) = (get("decoder/embeddings/weight")?, get("encoder/conv1/weight")?);
    let d_model = emb.shape[1];
    Ok(Config {
        num_mel_bins: conv1.shape[1],
        max_source_positions: 1500,
        d_model,
        encoder_attention_heads: d_model / 64,
        encoder_layers: layers("encoder"),
        vocab_size: emb.shape[0],
        max_target_positions: vars.get("decoder/position_encodings/encodings").map(|v| v.shape[0]).unwrap_or(448),
        decoder_attention_heads: d_model / 64,
        decoder_layers: layers("decoder"),
        suppress_tokens: Vec::new(),
    })
}

impl Model {
    /// Loads `model.bin`, `config.json` and `vocabulary.txt` from `dir` for `engine`, with
    /// windows of `audio_ctx` encoder positions.
    pub fn load(dir: &Path, threads: usize, engine: &Engine, audio_ctx: usize) -> Result<Model, SpeechError> {
        let (spec, vars) = ct2::read(&read(&dir.join("model.bin"))?)?;
        if spec != "WhisperSpec" {
            return Err(SpeechError::Model(format!("{}: spec `{spec}`, expected WhisperSpec", dir.display())));
        }
        let cfg = config(&vars)?;
        let hf = ct2::to_hf(&vars, cfg.encoder_layers, cfg.decoder_layers)?;
        drop(vars);
        let audio_ctx = audio_ctx.clamp(1, m::N_FRAMES / 2);
        let net: Box<dyn Network> = match engine {
            Engine::Candle => {
                // candle's CPU kernels size their pool from this before first use.
                std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
                Box::new(CandleNet::load(hf, cfg.clone())?)
            }
            Engine::Onnxruntime(lib) => {
                let dims = Dims {
                    d_model: cfg.d_model,
                    n_mels: cfg.num_mel_bins,
                    encoder_layers: cfg.encoder_layers,
                    decoder_layers: cfg.decoder_layers,
                    audio_ctx,
                };
                Box::new(OrtNet::load(lib, &hf, dims, threads)?)
            }
        };
        let config: serde_json::Value = serde_json::from_slice(&read(&dir.join("config.json"))?)
            .map_err(|source| SpeechError::Config { path: dir.join("config.json"), source })?;
        let vocab: Vec<String> =
            String::from_utf8_lossy(&read(&dir.join("vocabulary.txt"))?).lines().map(String::from).collect();
        let id = |tok: &str| {
            vocab
                .iter()
                .position(|v| v == tok)
                .map(|i| i as u32)
                .ok_or_else(|| SpeechError::Model(format!("token {tok} not in the vocabulary")))
        };
        let (sot, eot, no_timestamps) = (id(m::SOT_TOKEN)?, id(m::EOT_TOKEN)?, id(m::NO_TIMESTAMPS_TOKEN)?);
        let sot_prev = id("<|startofprev|>")?;
        let no_speech = id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?;
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
            net,
            n_mels: cfg.num_mel_bins,
            filters,
            vocab,
            sot,
            sot_prev,
            eot,
            no_timestamps,
            no_speech,
            suppress,
            suppress_begin: mask(ids(&config, "suppress_ids_begin")),
            audio_ctx,
        })
    }

    /// faster-whisper's log-mel features and how many of the frames are content
    /// (`frames − 1`, as its `transcribe` counts them).
    pub fn mel(&self, samples: &[f32]) -> (Mel, usize) {
        let (data, frames) = audio::log_mel(samples, &self.filters, self.n_mels);
        (Mel { data, frames }, frames.saturating_sub(1))
    }

    /// Frames `from..from + len` of every mel bin, zero-padded to `window` frames as
    /// faster-whisper's `pad_or_trim` pads.
    fn window(&self, mel: &Mel, from: usize, len: usize, window: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.n_mels * window];
        for (bin, row) in out.chunks_mut(window).enumerate() {
            let src = &mel.data[bin * mel.frames..(bin + 1) * mel.frames];
            row[..len].copy_from_slice(&src[from..from + len]);
        }
        out
    }

    /// Transcribes `content` frames of `mel` window by window: `2 × audio_ctx` frames each
    /// (Whisper's own window is 1500 positions, 3000 frames, 30 s); returns the text tokens.
    pub fn transcribe(&mut self, mel: &Mel, content: usize) -> Result<Vec<u32>, SpeechError> {
        let window = 2 * self.audio_ctx;
        let content = content.min(mel.frames);
        let mut text: Vec<u32> = Vec::new();
        let mut seek = 0;
        while seek < content {
            let len = (content - seek).min(window);
            let segment = self.window(mel, seek, len, window);
            self.net.encode(&segment, window)?;
            let decoded = self.decode_window(&text)?;
            // faster-whisper's no-speech check (no_speech_threshold 0.6, log_prob_threshold −1).
            let silent = decoded.no_speech_prob > m::NO_SPEECH_THRESHOLD && decoded.avg_logprob < m::LOGPROB_THRESHOLD;
            if !silent {
                text.extend_from_slice(&decoded.tokens);
            }
            seek += len;
        }
        Ok(text)
    }

    /// faster-whisper's `get_prompt`: `<|startofprev|>` and the last 223 earlier tokens when
    /// there are any, then `<|startoftranscript|>` `<|notimestamps|>`.
    fn prompt(&self, previous: &[u32]) -> Vec<u32> {
        let mut prompt = Vec::new();
        if !previous.is_empty() {
            prompt.push(self.sot_prev);
            prompt.extend_from_slice(&previous[previous.len().saturating_sub(MAX_LENGTH / 2 - 1)..]);
        }
        prompt.extend([self.sot, self.no_timestamps]);
        prompt
    }

    /// Greedy decoding of one window as CTranslate2 does it for faster-whisper: suppressed
    /// tokens never chosen, blank and end-of-text not first, at most 448 positions with the
    /// prompt; the probability of `<|nocaptions|>` at the start-of-transcript position and the
    /// tokens' mean log-probability (end-of-text included) come along.
    fn decode_window(&mut self, previous: &[u32]) -> Result<Window, SpeechError> {
        let mut tokens = self.prompt(previous);
        let (start, sot_at) = (tokens.len(), tokens.len() - 2);
        let (mut sum_logprob, mut no_speech_prob) = (0f64, 0f64);
        while tokens.len() < MAX_LENGTH {
            let last = tokens.len() - 1;
            let logits = if tokens.len() == start {
                let mut both = self.net.logits(&tokens, &[sot_at, last])?;
                no_speech_prob = softmax_at(&both[0], self.no_speech as usize);
                both.pop()
            } else {
                self.net.logits(&tokens, &[last])?.pop()
            }
            .ok_or_else(|| SpeechError::Output("logits".into()))?;
            let (best, logprob) = self.choose(&logits, tokens.len() == start);
            sum_logprob += logprob;
            if best == self.eot {
                break;
            }
            tokens.push(best);
        }
        let generated = tokens.split_off(start);
        let avg_logprob = sum_logprob / (generated.len() + 1) as f64;
        Ok(Window { tokens: generated, avg_logprob, no_speech_prob })
    }

    /// The most likely token that may be chosen here, and its log-probability among those.
    fn choose(&self, logits: &[f32], first: bool) -> (u32, f64) {
        let blocked = |m: &[bool], id: usize| m.get(id).copied().unwrap_or(false);
        let allowed = |id: usize| !(blocked(&self.suppress, id) || first && blocked(&self.suppress_begin, id));
        let mut best = (f32::NEG_INFINITY, self.eot);
        let mut max = f32::NEG_INFINITY;
        for (id, &v) in logits.iter().enumerate().filter(|(id, _)| allowed(*id)) {
            max = max.max(v);
            if v > best.0 {
                best = (v, id as u32);
            }
        }
        let sum: f64 =
            logits.iter().enumerate().filter(|(id, _)| allowed(*id)).map(|(_, &v)| ((v - max) as f64).exp()).sum();
        (best.1, (best.0 - max) as f64 - sum.ln())
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

/// Positions in a window, prompt included (Whisper's text context).
const MAX_LENGTH: usize = 448;

/// One decoded window.
struct Window {
    tokens: Vec<u32>,
    avg_logprob: f64,
    no_speech_prob: f64,
}

/// `softmax(logits)[id]`.
fn softmax_at(logits: &[f32], id: usize) -> f64 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = logits.iter().map(|&v| ((v - max) as f64).exp()).sum();
    logits.get(id).map(|&v| ((v - max) as f64).exp() / sum).unwrap_or(0.0)
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
