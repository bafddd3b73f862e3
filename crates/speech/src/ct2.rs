//! Reads a CTranslate2 model file (`model.bin`, binary version 6) and maps a Whisper spec's
//! variables to the names candle-transformers' Whisper loads (the Hugging Face layout).
//!
//! Format: u32 version, string spec name, u32 revision, u32 variable count, then per variable:
//! string name, u8 rank, u32 dims, u8 dtype, u32 byte count, bytes; then u32 alias count and
//! (alias, target) string pairs. Strings are u16 length (with the NUL) + bytes + NUL.

use sandbench_assets::bytes::{Cursor, Truncated};
use std::collections::HashMap;

/// Why the file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Ct2Error {
    #[error("truncated CTranslate2 model at byte {0}")]
    Truncated(usize),
    #[error("unsupported CTranslate2 model: {0}")]
    Unsupported(String),
    #[error("missing variable {0}")]
    Missing(String),
}

/// A variable converted to float32.
#[derive(Debug, Clone)]
pub struct Var {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl From<Truncated> for Ct2Error {
    fn from(t: Truncated) -> Self {
        Ct2Error::Truncated(t.0)
    }
}

/// A u16-length-prefixed, NUL-terminated string.
fn string(c: &mut Cursor) -> Result<String, Truncated> {
    let n = c.u16()? as usize;
    let s = c.take(n)?;
    Ok(String::from_utf8_lossy(s.strip_suffix(&[0]).unwrap_or(s)).into_owned())
}

/// Every float variable of the model (float32, float16 and bfloat16 are widened to float32;
/// integer scalars such as `num_heads` are skipped), aliases resolved.
pub fn read(bytes: &[u8]) -> Result<(String, HashMap<String, Var>), Ct2Error> {
    let mut c = Cursor::new(bytes);
    let version = c.u32()?;
    if version != 6 {
        return Err(Ct2Error::Unsupported(format!("binary version {version}, only 6 is read")));
    }
    let spec = string(&mut c)?;
    let _revision = c.u32()?;
    let count = c.u32()?;
    let mut vars = HashMap::new();
    for _ in 0..count {
        let name = string(&mut c)?;
        let rank = c.u8()? as usize;
        let shape = (0..rank).map(|_| c.u32().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
        let dtype = c.u8()?;
        let n = c.u32()? as usize;
        let raw = c.take(n)?;
        let data: Vec<f32> = match dtype {
            0 => raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            4 => raw.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            5 => raw.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            _ => continue,
        };
        if data.len() != shape.iter().product::<usize>().max(1) {
            return Err(Ct2Error::Unsupported(format!("{name}: {} values for shape {shape:?}", data.len())));
        }
        vars.insert(name, Var { shape, data });
    }
    let aliases = c.u32()?;
    for _ in 0..aliases {
        let (alias, target) = (string(&mut c)?, string(&mut c)?);
        if let Some(v) = vars.get(&target).cloned() {
            vars.insert(alias, v);
        }
    }
    Ok((spec, vars))
}

fn rows(v: &Var, from: usize, n: usize) -> Var {
    let cols: usize = v.shape[1..].iter().product::<usize>().max(1);
    let mut shape = v.shape.clone();
    shape[0] = n;
    Var { shape, data: v.data[from * cols..(from + n) * cols].to_vec() }
}

/// The Hugging Face names candle's Whisper expects, from a CTranslate2 `WhisperSpec`. Fused
/// projections (self-attention QKV, cross-attention KV) are split by rows.
pub fn to_hf(
    vars: &HashMap<String, Var>,
    encoder_layers: usize,
    decoder_layers: usize,
) -> Result<HashMap<String, Var>, Ct2Error> {
    let get = |n: &str| vars.get(n).cloned().ok_or_else(|| Ct2Error::Missing(n.to_string()));
    let mut out = HashMap::new();
    let mut put = |k: String, v: Var| {
        out.insert(k, v);
    };
    let ln = |src: &str, dst: &str, put: &mut dyn FnMut(String, Var)| -> Result<(), Ct2Error> {
        put(format!("{dst}.weight"), get(&format!("{src}/gamma"))?);
        put(format!("{dst}.bias"), get(&format!("{src}/beta"))?);
        Ok(())
    };
    let lin = |src: &str, dst: &str, put: &mut dyn FnMut(String, Var)| -> Result<(), Ct2Error> {
        put(format!("{dst}.weight"), get(&format!("{src}/weight"))?);
        if let Ok(b) = get(&format!("{src}/bias")) {
            put(format!("{dst}.bias"), b);
        }
        Ok(())
    };
    // Splits a fused projection into `names` (equal row blocks); `k_proj` has no bias.
    let split = |src: &str, dst: &str, names: &[&str], put: &mut dyn FnMut(String, Var)| -> Result<(), Ct2Error> {
        let w = get(&format!("{src}/weight"))?;
        let b = get(&format!("{src}/bias"))?;
        let n = w.shape[0] / names.len();
        for (i, name) in names.iter().enumerate() {
            put(format!("{dst}.{name}.weight"), rows(&w, i * n, n));
            if *name != "k_proj" {
                put(format!("{dst}.{name}.bias"), rows(&b, i * n, n));
            }
        }
        Ok(())
    };
    put("model.encoder.conv1.weight".into(), get("encoder/conv1/weight")?);
    put("model.encoder.conv1.bias".into(), get("encoder/conv1/bias")?);
    put("model.encoder.conv2.weight".into(), get("encoder/conv2/weight")?);
    put("model.encoder.conv2.bias".into(), get("encoder/conv2/bias")?);
    ln("encoder/layer_norm", "model.encoder.layer_norm", &mut put)?;
    put("model.decoder.embed_tokens.weight".into(), get("decoder/embeddings/weight")?);
    put("model.decoder.embed_positions.weight".into(), get("decoder/position_encodings/encodings")?);
    ln("decoder/layer_norm", "model.decoder.layer_norm", &mut put)?;
    for (side, layers) in [("encoder", encoder_layers), ("decoder", decoder_layers)] {
        for i in 0..layers {
            let (s, d) = (format!("{side}/layer_{i}"), format!("model.{side}.layers.{i}"));
            ln(&format!("{s}/self_attention/layer_norm"), &format!("{d}.self_attn_layer_norm"), &mut put)?;
            let qkv = ["q_proj", "k_proj", "v_proj"];
            split(&format!("{s}/self_attention/linear_0"), &format!("{d}.self_attn"), &qkv, &mut put)?;
            lin(&format!("{s}/self_attention/linear_1"), &format!("{d}.self_attn.out_proj"), &mut put)?;
            if side == "decoder" {
                ln(&format!("{s}/attention/layer_norm"), &format!("{d}.encoder_attn_layer_norm"), &mut put)?;
                lin(&format!("{s}/attention/linear_0"), &format!("{d}.encoder_attn.q_proj"), &mut put)?;
                split(&format!("{s}/attention/linear_1"), &format!("{d}.encoder_attn"), &qkv[1..], &mut put)?;
                lin(&format!("{s}/attention/linear_2"), &format!("{d}.encoder_attn.out_proj"), &mut put)?;
            }
            ln(&format!("{s}/ffn/layer_norm"), &format!("{d}.final_layer_norm"), &mut put)?;
            lin(&format!("{s}/ffn/linear_0"), &format!("{d}.fc1"), &mut put)?;
            lin(&format!("{s}/ffn/linear_1"), &format!("{d}.fc2"), &mut put)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut v = ((s.len() + 1) as u16).to_le_bytes().to_vec();
        v.extend(s.as_bytes());
        v.push(0);
        v
    }

    #[test]
    fn reads_variables_widens_f16_and_resolves_aliases() {
        let mut b = 6u32.to_le_bytes().to_vec();
        b.extend(string("WhisperSpec"));
        b.extend(3u32.to_le_bytes());
        b.extend(2u32.to_le_bytes());
        b.extend(string("a/weight"));
        b.extend([2u8]);
        b.extend(1u32.to_le_bytes());
        b.extend(2u32.to_le_bytes());
        b.push(4);
        b.extend(4u32.to_le_bytes());
        b.extend(half::f16::from_f32(1.5).to_le_bytes());
        b.extend(half::f16::from_f32(-2.0).to_le_bytes());
        b.extend(string("a/num_heads"));
        b.extend([0u8, 2]);
        b.extend(2u32.to_le_bytes());
        b.extend(6u16.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(string("b/weight"));
        b.extend(string("a/weight"));
        let (spec, vars) = read(&b).unwrap();
        assert_eq!(spec, "WhisperSpec");
        assert_eq!(vars["a/weight"].data, vec![1.5, -2.0]);
        assert_eq!(vars["b/weight"].shape, vec![1, 2]);
        assert!(!vars.contains_key("a/num_heads"));
        assert!(read(&b[..b.len() - 3]).is_err());
    }

    #[test]
    fn fused_rows_split_evenly() {
        let v = Var { shape: vec![6, 2], data: (0..12).map(|x| x as f32).collect() };
        assert_eq!(rows(&v, 2, 2).data, vec![4., 5., 6., 7.]);
    }
}
