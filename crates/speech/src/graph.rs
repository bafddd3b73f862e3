//! Whisper as two ONNX graphs, written from the model's weights (the names `ct2::to_hf` gives),
//! for the `onnxruntime` engine; the way `sandbench_assets::mobilenet` writes MobileNetV2.
//!
//! - **encoder**: `mel` [1, n_mels, 2·ctx] → the cross-attention keys `cross_k{i}` [H, 64, ctx]
//!   (already transposed) and values `cross_v{i}` [H, ctx, 64] of every decoder layer, so the
//!   decoder never projects the 1500 audio positions again.
//! - **decoder**: `tokens` and `positions` [n] (int64), an additive causal `mask` [n, past+n] and
//!   each layer's self-attention cache `past_k{i}`/`past_v{i}` [H, past, 64] → `logits` of the
//!   last two positions (or the one) and the grown caches `present_k{i}`/`present_v{i}`.
//!
//! Activations are 2-D ([positions, d_model], batch 1) so every projection is one `Gemm` on the
//! weights as stored ([out, in], `transB`). The model is OpenAI's Whisper: pre-norm blocks,
//! exact GELU, keys without bias, scores scaled by 1/√64, sinusoidal encoder positions.

use crate::ct2::Var;
use sandbench_assets::onnx::{Attr, Dim, Elem, Graph};
use std::collections::HashMap;

/// ONNX opset of both graphs (`Gelu` is from 20, `LayerNormalization` from 17).
const OPSET: i64 = 20;
/// Each attention head's width in every Whisper size.
const HEAD: usize = 64;

/// A weight the graphs need that the model does not have.
#[derive(Debug, thiserror::Error)]
#[error("whisper graph: {0}")]
pub struct GraphError(String);

/// The sizes both graphs are written for.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub d_model: usize,
    pub n_mels: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    /// Encoder positions per window (1500 for Whisper's 30 s).
    pub audio_ctx: usize,
}

impl Dims {
    fn heads(&self) -> usize {
        self.d_model / HEAD
    }
}

struct Builder<'a> {
    w: &'a HashMap<String, Var>,
    g: Graph,
    /// Weights already in the graph.
    added: std::collections::HashSet<String>,
}

impl Builder<'_> {
    fn new(w: &HashMap<String, Var>, dims: Dims) -> Builder<'_> {
        let mut g = Graph::default();
        g.constant("scale", &[], &[1.0 / (HEAD as f32).sqrt()]);
        let h = dims.heads() as i64;
        g.constant_i64("to_heads", &[-1, h, HEAD as i64]);
        g.constant_i64("to_rows", &[-1, dims.d_model as i64]);
        Builder { w, g, added: Default::default() }
    }

    /// The weight `name` as a graph constant (added once).
    fn weight(&mut self, name: &str) -> Result<String, GraphError> {
        let v = self.w.get(name).ok_or_else(|| GraphError(format!("{name} missing")))?;
        if self.added.insert(name.to_string()) {
            self.g.constant(name, &v.shape, &v.data);
        }
        Ok(name.to_string())
    }

    /// `x · Wᵀ + b` for the linear layer `p` (`b` where the layer has one).
    fn linear(&mut self, x: &str, p: &str, out: &str) -> Result<String, GraphError> {
        let w = self.weight(&format!("{p}.weight"))?;
        let bias = format!("{p}.bias");
        let mut inputs = vec![x.to_string(), w];
        if self.w.contains_key(&bias) {
            inputs.push(self.weight(&bias)?);
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(self.g.node("Gemm", &inputs, out, vec![Attr::Int("transB", 1)]))
    }

    fn layer_norm(&mut self, x: &str, p: &str, out: &str) -> Result<String, GraphError> {
        let (g, b) = (self.weight(&format!("{p}.weight"))?, self.weight(&format!("{p}.bias"))?);
        Ok(self.g.node("LayerNormalization", &[x, &g, &b], out, vec![Attr::Int("axis", -1)]))
    }

    /// [n, d_model] → [H, n, 64] (`perm` [1, 0, 2]) or [H, 64, n] (`perm` [1, 2, 0]).
    fn heads(&mut self, x: &str, perm: [i64; 3], out: &str) -> String {
        let r = self.g.node("Reshape", &[x, "to_heads"], &format!("{out}.r"), vec![]);
        self.g.node("Transpose", &[&r], out, vec![Attr::Ints("perm", perm.to_vec())])
    }

    /// softmax(q·kt/8 [+ mask])·v for heads `q` [H, n, 64], `kt` [H, 64, m], `v` [H, m, 64],
    /// back to rows [n, d_model], through the output projection `p.out_proj`.
    fn attend(&mut self, q: &str, kt: &str, v: &str, mask: Option<&str>, p: &str) -> Result<String, GraphError> {
        let s = self.g.node("MatMul", &[q, kt], &format!("{p}.qk"), vec![]);
        let mut s = self.g.node("Mul", &[&s, "scale"], &format!("{p}.scaled"), vec![]);
        if let Some(m) = mask {
            s = self.g.node("Add", &[&s, m], &format!("{p}.masked"), vec![]);
        }
        let a = self.g.node("Softmax", &[&s], &format!("{p}.softmax"), vec![Attr::Int("axis", -1)]);
        let o = self.g.node("MatMul", &[&a, v], &format!("{p}.av"), vec![]);
        let o = self.g.node("Transpose", &[&o], &format!("{p}.avt"), vec![Attr::Ints("perm", vec![1, 0, 2])]);
        let o = self.g.node("Reshape", &[&o, "to_rows"], &format!("{p}.rows"), vec![]);
        self.linear(&o, &format!("{p}.out_proj"), &format!("{p}.out"))
    }

    /// The feed-forward block with its residual: x + fc2(gelu(fc1(ln(x)))).
    fn mlp(&mut self, x: &str, p: &str) -> Result<String, GraphError> {
        let h = self.layer_norm(x, &format!("{p}.final_layer_norm"), &format!("{p}.ln3"))?;
        let h = self.linear(&h, &format!("{p}.fc1"), &format!("{p}.fc1.out"))?;
        let h = self.g.node("Gelu", &[&h], &format!("{p}.gelu"), vec![]);
        let h = self.linear(&h, &format!("{p}.fc2"), &format!("{p}.fc2.out"))?;
        Ok(self.g.node("Add", &[x, &h], &format!("{p}.out"), vec![]))
    }

    /// Layer `p`'s self-attention queries, keys and values of ln(x), split into heads
    /// ([H, n, 64]; the keys by `key_perm`).
    fn self_projections(
        &mut self,
        x: &str,
        p: &str,
        key_perm: [i64; 3],
    ) -> Result<(String, String, String), GraphError> {
        let h = self.layer_norm(x, &format!("{p}.self_attn_layer_norm"), &format!("{p}.ln1"))?;
        let q = self.linear(&h, &format!("{p}.self_attn.q_proj"), &format!("{p}.q"))?;
        let k = self.linear(&h, &format!("{p}.self_attn.k_proj"), &format!("{p}.k"))?;
        let v = self.linear(&h, &format!("{p}.self_attn.v_proj"), &format!("{p}.v"))?;
        let q = self.heads(&q, [1, 0, 2], &format!("{p}.qh"));
        let k = self.heads(&k, key_perm, &format!("{p}.kh"));
        Ok((q, k, self.heads(&v, [1, 0, 2], &format!("{p}.vh"))))
    }

    /// One encoder block: x + attn(ln(x)), then the feed-forward block.
    fn encoder_layer(&mut self, x: &str, i: usize) -> Result<String, GraphError> {
        let p = format!("model.encoder.layers.{i}");
        // The keys come transposed ([H, 64, n]), ready for q·kᵀ.
        let (q, kt, v) = self.self_projections(x, &p, [1, 2, 0])?;
        let a = self.attend(&q, &kt, &v, None, &format!("{p}.self_attn"))?;
        let x = self.g.node("Add", &[x, &a], &format!("{p}.res1"), vec![]);
        self.mlp(&x, &p)
    }

    /// One decoder block with its self-attention cache and the encoder's keys and values.
    fn decoder_layer(&mut self, x: &str, i: usize) -> Result<String, GraphError> {
        let p = format!("model.decoder.layers.{i}");
        // The keys stay [H, n, 64]: they join the cache before being transposed.
        let (q, k, v) = self.self_projections(x, &p, [1, 0, 2])?;
        let axis = || vec![Attr::Int("axis", 1)];
        let k = self.g.node("Concat", &[&format!("past_k{i}"), &k], &format!("present_k{i}"), axis());
        let v = self.g.node("Concat", &[&format!("past_v{i}"), &v], &format!("present_v{i}"), axis());
        let kt = self.g.node("Transpose", &[&k], &format!("{p}.kt"), vec![Attr::Ints("perm", vec![0, 2, 1])]);
        let a = self.attend(&q, &kt, &v, Some("mask"), &format!("{p}.self_attn"))?;
        let x = self.g.node("Add", &[x, &a], &format!("{p}.res1"), vec![]);
        let h = self.layer_norm(&x, &format!("{p}.encoder_attn_layer_norm"), &format!("{p}.ln2"))?;
        let q = self.linear(&h, &format!("{p}.encoder_attn.q_proj"), &format!("{p}.xq"))?;
        let q = self.heads(&q, [1, 0, 2], &format!("{p}.xqh"));
        let a = self.attend(&q, &format!("cross_k{i}"), &format!("cross_v{i}"), None, &format!("{p}.encoder_attn"))?;
        let x = self.g.node("Add", &[&x, &a], &format!("{p}.res2"), vec![]);
        self.mlp(&x, &p)
    }
}

/// Whisper's sinusoidal encoder positions, [length, channels] (OpenAI's `sinusoids`).
pub fn sinusoids(length: usize, channels: usize) -> Vec<f32> {
    let half = channels / 2;
    let increment = (10000f64).ln() / (half as f64 - 1.0);
    let mut out = vec![0f32; length * channels];
    for t in 0..length {
        for i in 0..half {
            let angle = t as f64 * (-increment * i as f64).exp();
            out[t * channels + i] = angle.sin() as f32;
            out[t * channels + half + i] = angle.cos() as f32;
        }
    }
    out
}

/// The encoder graph's bytes.
pub fn encoder(w: &HashMap<String, Var>, dims: Dims) -> Result<Vec<u8>, GraphError> {
    let mut b = Builder::new(w, dims);
    let (d, ctx) = (dims.d_model as i64, dims.audio_ctx);
    b.g.input_of("mel", Elem::F32, &[Dim::Fixed(1), Dim::Fixed(dims.n_mels as i64), Dim::Fixed(2 * ctx as i64)]);
    let conv = |b: &mut Builder, x: &str, p: &str, stride: i64| -> Result<String, GraphError> {
        let (w, bias) = (b.weight(&format!("{p}.weight"))?, b.weight(&format!("{p}.bias"))?);
        let attrs = vec![Attr::Ints("pads", vec![1, 1]), Attr::Ints("strides", vec![stride])];
        let y = b.g.node("Conv", &[x, &w, &bias], &format!("{p}.out"), attrs);
        Ok(b.g.node("Gelu", &[&y], &format!("{p}.gelu"), vec![]))
    };
    let x = conv(&mut b, "mel", "model.encoder.conv1", 1)?;
    let x = conv(&mut b, &x, "model.encoder.conv2", 2)?;
    b.g.constant_i64("channels_by_time", &[d, ctx as i64]);
    let x = b.g.node("Reshape", &[&x, "channels_by_time"], "conv.2d", vec![]);
    let x = b.g.node("Transpose", &[&x], "conv.rows", vec![Attr::Ints("perm", vec![1, 0])]);
    let pos = b.g.constant("positions", &[ctx, dims.d_model], &sinusoids(ctx, dims.d_model));
    let mut x = b.g.node("Add", &[&x, &pos], "embedded", vec![]);
    for i in 0..dims.encoder_layers {
        x = b.encoder_layer(&x, i)?;
    }
    let x = b.layer_norm(&x, "model.encoder.layer_norm", "encoded")?;
    let h = dims.heads() as i64;
    for i in 0..dims.decoder_layers {
        let p = format!("model.decoder.layers.{i}.encoder_attn");
        let k = b.linear(&x, &format!("{p}.k_proj"), &format!("{p}.k"))?;
        let v = b.linear(&x, &format!("{p}.v_proj"), &format!("{p}.v"))?;
        b.heads(&k, [1, 2, 0], &format!("cross_k{i}"));
        b.heads(&v, [1, 0, 2], &format!("cross_v{i}"));
        let c = ctx as i64;
        b.g.output_of(&format!("cross_k{i}"), &[Dim::Fixed(h), Dim::Fixed(HEAD as i64), Dim::Fixed(c)]);
        b.g.output_of(&format!("cross_v{i}"), &[Dim::Fixed(h), Dim::Fixed(c), Dim::Fixed(HEAD as i64)]);
    }
    Ok(b.g.encode_opset("whisper-encoder", &[], OPSET))
}

/// The decoder graph's bytes.
pub fn decoder(w: &HashMap<String, Var>, dims: Dims) -> Result<Vec<u8>, GraphError> {
    let mut b = Builder::new(w, dims);
    let (h, head, ctx) = (Dim::Fixed(dims.heads() as i64), Dim::Fixed(HEAD as i64), Dim::Fixed(dims.audio_ctx as i64));
    b.g.input_of("tokens", Elem::I64, &[Dim::Named("new")]);
    b.g.input_of("positions", Elem::I64, &[Dim::Named("new")]);
    b.g.input_of("mask", Elem::F32, &[Dim::Named("new"), Dim::Named("total")]);
    for i in 0..dims.decoder_layers {
        b.g.input_of(&format!("past_k{i}"), Elem::F32, &[h, Dim::Named("past"), head]);
        b.g.input_of(&format!("past_v{i}"), Elem::F32, &[h, Dim::Named("past"), head]);
        b.g.input_of(&format!("cross_k{i}"), Elem::F32, &[h, head, ctx]);
        b.g.input_of(&format!("cross_v{i}"), Elem::F32, &[h, ctx, head]);
    }
    let emb = b.weight("model.decoder.embed_tokens.weight")?;
    let pos = b.weight("model.decoder.embed_positions.weight")?;
    let t = b.g.node("Gather", &[&emb, "tokens"], "token_embeddings", vec![]);
    let p = b.g.node("Gather", &[&pos, "positions"], "position_embeddings", vec![]);
    let mut x = b.g.node("Add", &[&t, &p], "embedded", vec![]);
    for i in 0..dims.decoder_layers {
        x = b.decoder_layer(&x, i)?;
        b.g.output_of(&format!("present_k{i}"), &[h, Dim::Named("total"), head]);
        b.g.output_of(&format!("present_v{i}"), &[h, Dim::Named("total"), head]);
    }
    let x = b.layer_norm(&x, "model.decoder.layer_norm", "decoded")?;
    let (from, to, axes) =
        (b.g.constant_i64("last_two", &[-2]), b.g.constant_i64("to_end", &[i64::MAX]), b.g.constant_i64("rows", &[0]));
    let x = b.g.node("Slice", &[&x, &from, &to, &axes], "last", vec![]);
    b.g.node("Gemm", &[&x, &emb], "logits", vec![Attr::Int("transB", 1)]);
    b.g.output_of("logits", &[Dim::Named("last"), Dim::Fixed(w_rows(w, "model.decoder.embed_tokens.weight"))]);
    Ok(b.g.encode_opset("whisper-decoder", &[], OPSET))
}

fn w_rows(w: &HashMap<String, Var>, name: &str) -> i64 {
    w.get(name).and_then(|v| v.shape.first()).map(|&r| r as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoids_are_openais() {
        // sinusoids(3, 4): increment ln(10000)/1, so timescales 1 and 1e-4.
        let s = sinusoids(3, 4);
        assert_eq!(&s[..4], &[0.0, 0.0, 1.0, 1.0]);
        assert!((s[4] - 1f32.sin()).abs() < 1e-7 && (s[5] - 1e-4f32.sin()).abs() < 1e-7);
        assert!((s[10] - 2f32.cos()).abs() < 1e-7);
    }
}
