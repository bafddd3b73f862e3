//! Whisper's text decoder for the `candle` engine with the caches candle-transformers' lacks:
//! each layer keeps its self-attention keys and values between steps, and its cross-attention
//! keys and values for the whole window, so a step feeds only the new tokens. The arithmetic is
//! candle-transformers' own (`models::whisper::model::TextDecoder`: q and k each scaled by
//! head_dim^-0.25, its tanh GELU), on the same weights.

use candle_core::{Result, Tensor, D};
use candle_nn::{embedding, layer_norm, linear, linear_no_bias, Embedding, LayerNorm, Linear, Module, VarBuilder};

struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn load(d: usize, heads: usize, vb: VarBuilder) -> Result<Attention> {
        Ok(Attention {
            query: linear(d, d, vb.pp("q_proj"))?,
            key: linear_no_bias(d, d, vb.pp("k_proj"))?,
            value: linear(d, d, vb.pp("v_proj"))?,
            out: linear(d, d, vb.pp("out_proj"))?,
            heads,
        })
    }

    /// [1, n, d] → [1, heads, n, d / heads].
    fn split(&self, x: &Tensor) -> Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        x.reshape((b, n, self.heads, d / self.heads))?.transpose(1, 2)
    }

    /// softmax(q·kᵀ [+ mask])·v through the output projection; `q` [1, n, d], `k` and `v`
    /// [1, m, d], `mask` [n, m].
    fn attend(&self, q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let d = q.dim(D::Minus1)?;
        let scale = ((d / self.heads) as f64).powf(-0.25);
        let q = (self.split(q)? * scale)?;
        let k = (self.split(k)?.transpose(2, 3)? * scale)?;
        let v = self.split(v)?.contiguous()?;
        let mut qk = q.matmul(&k)?;
        if let Some(mask) = mask {
            qk = qk.broadcast_add(mask)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&qk)?;
        self.out.forward(&w.matmul(&v)?.transpose(1, 2)?.flatten_from(2)?)
    }
}

struct Block {
    attn: Attention,
    attn_ln: LayerNorm,
    cross: Attention,
    cross_ln: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    mlp_ln: LayerNorm,
    /// Self-attention keys and values of every position fed since the window began.
    cache: Option<(Tensor, Tensor)>,
    /// Cross-attention keys and values of the window's encoder output.
    cross_kv: Option<(Tensor, Tensor)>,
}

impl Block {
    fn load(d: usize, heads: usize, vb: VarBuilder) -> Result<Block> {
        Ok(Block {
            attn: Attention::load(d, heads, vb.pp("self_attn"))?,
            attn_ln: layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            cross: Attention::load(d, heads, vb.pp("encoder_attn"))?,
            cross_ln: layer_norm(d, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
            fc1: linear(d, 4 * d, vb.pp("fc1"))?,
            fc2: linear(4 * d, d, vb.pp("fc2"))?,
            mlp_ln: layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
            cache: None,
            cross_kv: None,
        })
    }

    fn forward(&mut self, x: &Tensor, features: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let h = self.attn_ln.forward(x)?;
        let (mut k, mut v) = (self.attn.key.forward(&h)?, self.attn.value.forward(&h)?);
        if let Some((pk, pv)) = &self.cache {
            (k, v) = (Tensor::cat(&[pk, &k], 1)?, Tensor::cat(&[pv, &v], 1)?);
        }
        let a = self.attn.attend(&self.attn.query.forward(&h)?, &k, &v, mask)?;
        self.cache = Some((k, v));
        let x = (x + a)?;
        let (ck, cv) = match &self.cross_kv {
            Some(kv) => kv.clone(),
            None => {
                let kv = (self.cross.key.forward(features)?, self.cross.value.forward(features)?);
                self.cross_kv = Some(kv.clone());
                kv
            }
        };
        let x = (&x + self.cross.attend(&self.cross.query.forward(&self.cross_ln.forward(&x)?)?, &ck, &cv, None)?)?;
        let mlp = self.fc2.forward(&self.fc1.forward(&self.mlp_ln.forward(&x)?)?.gelu()?)?;
        x + mlp
    }
}

pub struct CachedDecoder {
    embed: Embedding,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    /// Positions the caches hold.
    pub cached: usize,
}

impl CachedDecoder {
    /// The decoder under `model.decoder` of `vb`: `d` wide, `heads` heads, `layers` blocks,
    /// `vocab` tokens, `positions` text positions.
    pub fn load(vb: VarBuilder, d: usize, heads: usize, layers: usize, vocab: usize, positions: usize) -> Result<Self> {
        let vb = vb.pp("model.decoder");
        Ok(CachedDecoder {
            embed: embedding(vocab, d, vb.pp("embed_tokens"))?,
            positions: vb.get((positions, d), "embed_positions.weight")?,
            blocks: (0..layers).map(|i| Block::load(d, heads, vb.pp(format!("layers.{i}")))).collect::<Result<_>>()?,
            ln: layer_norm(d, 1e-5, vb.pp("layer_norm"))?,
            cached: 0,
        })
    }

    /// Forgets the previous window: its tokens and its encoder output.
    pub fn reset(&mut self) {
        self.cached = 0;
        for b in &mut self.blocks {
            (b.cache, b.cross_kv) = (None, None);
        }
    }

    /// The decoder's output [1, n, d] for `tokens` [1, n], which follow the cached positions.
    pub fn forward(&mut self, tokens: &Tensor, features: &Tensor) -> Result<Tensor> {
        let (past, n) = (self.cached, tokens.dim(D::Minus1)?);
        let mut x = self.embed.forward(tokens)?.broadcast_add(&self.positions.narrow(0, past, n)?)?;
        let mask = if n > 1 {
            Some(Tensor::from_vec(crate::network::causal_mask(past, n), (n, past + n), tokens.device())?)
        } else {
            None
        };
        for b in &mut self.blocks {
            x = b.forward(&x, features, mask.as_ref())?;
        }
        self.cached = past + n;
        self.ln.forward(&x)
    }

    /// The vocabulary logits of one position's output `y` [1, 1, d].
    pub fn logits(&self, y: &Tensor) -> Result<Vec<f32>> {
        y.flatten_all()?.unsqueeze(0)?.matmul(&self.embed.embeddings().t()?)?.flatten_all()?.to_vec1::<f32>()
    }
}
