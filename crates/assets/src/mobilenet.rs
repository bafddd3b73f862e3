//! torchvision's MobileNetV2 (ImageNet) as an ONNX graph, built from its state dict.
//!
//! The architecture is torchvision's `mobilenet_v2` (width 1.0): a 3×3 stem, 17 inverted
//! residual blocks, a 1×1 conv to 1280 channels, global average pooling and a linear layer.
//! Batch norms are folded into the preceding convolutions (inference only), ReLU6 becomes
//! `Clip(0, 6)`. Input `input` [batch,3,224,224] (ImageNet-normalised RGB), output `logits` [batch,1000].

use crate::onnx::{Attr, Graph};
use crate::torch::Tensor;
use std::collections::BTreeMap;

/// Strides of blocks 1..=17 (torchvision's inverted residual settings, expanded).
const STRIDES: [usize; 17] = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1];
const BN_EPS: f32 = 1e-5;

/// Why the state dict does not describe torchvision's MobileNetV2.
#[derive(Debug, thiserror::Error)]
#[error("not a torchvision MobileNetV2 state dict: {0}")]
pub struct ShapeError(String);

struct Builder<'a> {
    sd: &'a BTreeMap<String, Tensor>,
    g: Graph,
    /// Channel count of every value produced so far (tells depthwise convs apart).
    channels: BTreeMap<String, usize>,
}

impl Builder<'_> {
    fn get(&self, name: &str) -> Result<&Tensor, ShapeError> {
        self.sd.get(name).ok_or_else(|| ShapeError(format!("missing tensor {name}")))
    }

    /// conv (no bias) + batch norm folded, optional ReLU6. Returns the output name.
    fn conv_bn(&mut self, x: &str, conv: &str, bn: &str, stride: usize, relu6: bool) -> Result<String, ShapeError> {
        let w = self.get(&format!("{conv}.weight"))?.clone();
        let [out_c, in_per_group, kh, kw] = w.shape[..] else {
            return Err(ShapeError(format!("{conv}.weight has shape {:?}", w.shape)));
        };
        let gamma = &self.get(&format!("{bn}.weight"))?.data;
        let beta = &self.get(&format!("{bn}.bias"))?.data;
        let mean = &self.get(&format!("{bn}.running_mean"))?.data;
        let var = &self.get(&format!("{bn}.running_var"))?.data;
        if gamma.len() != out_c || beta.len() != out_c || mean.len() != out_c || var.len() != out_c {
            return Err(ShapeError(format!("{bn} does not match {conv}")));
        }
        let per_out = in_per_group * kh * kw;
        let mut wf = w.data.clone();
        let mut bias = vec![0f32; out_c];
        for o in 0..out_c {
            let scale = gamma[o] / (var[o] + BN_EPS).sqrt();
            for v in &mut wf[o * per_out..(o + 1) * per_out] {
                *v *= scale;
            }
            bias[o] = beta[o] - mean[o] * scale;
        }
        let wn = self.g.constant(&format!("{conv}.w"), &w.shape, &wf);
        let bn_name = self.g.constant(&format!("{conv}.b"), &[out_c], &bias);
        let in_c = self.channels_in(x);
        let group = if in_per_group == 1 && in_c == out_c && out_c > 1 { out_c } else { 1 };
        let pad = (kh / 2) as i64;
        let y = self.g.node(
            "Conv",
            &[x, &wn, &bn_name],
            &format!("{conv}.out"),
            vec![
                Attr::Ints("kernel_shape", vec![kh as i64, kw as i64]),
                Attr::Ints("strides", vec![stride as i64, stride as i64]),
                Attr::Ints("pads", vec![pad, pad, pad, pad]),
                Attr::Int("group", group as i64),
            ],
        );
        self.channels.insert(y.clone(), out_c);
        if !relu6 {
            return Ok(y);
        }
        let r = self.g.node("Clip", &[&y, "zero", "six"], &format!("{conv}.relu6"), vec![]);
        self.channels.insert(r.clone(), out_c);
        Ok(r)
    }

    fn channels_in(&self, x: &str) -> usize {
        self.channels.get(x).copied().unwrap_or(3)
    }
}

/// Builds the ONNX model bytes from a MobileNetV2 state dict.
pub fn build(sd: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, ShapeError> {
    let mut b = Builder { sd, g: Graph::default(), channels: BTreeMap::new() };
    b.g.input("input", &[-1, 3, 224, 224]);
    b.g.constant("zero", &[], &[0.0]);
    b.g.constant("six", &[], &[6.0]);
    let mut x = b.conv_bn("input", "features.0.0", "features.0.1", 2, true)?;
    for (i, &stride) in STRIDES.iter().enumerate() {
        let p = format!("features.{}.conv", i + 1);
        let input = x.clone();
        let in_c = b.channels_in(&input);
        let expanded = sd.contains_key(&format!("{p}.3.weight"));
        let y = if expanded {
            let e = b.conv_bn(&input, &format!("{p}.0.0"), &format!("{p}.0.1"), 1, true)?;
            let d = b.conv_bn(&e, &format!("{p}.1.0"), &format!("{p}.1.1"), stride, true)?;
            b.conv_bn(&d, &format!("{p}.2"), &format!("{p}.3"), 1, false)?
        } else {
            let d = b.conv_bn(&input, &format!("{p}.0.0"), &format!("{p}.0.1"), stride, true)?;
            b.conv_bn(&d, &format!("{p}.1"), &format!("{p}.2"), 1, false)?
        };
        let out_c = b.channels_in(&y);
        x = if stride == 1 && in_c == out_c {
            let s = b.g.node("Add", &[&input, &y], &format!("features.{}.add", i + 1), vec![]);
            b.channels.insert(s.clone(), out_c);
            s
        } else {
            y
        };
    }
    x = b.conv_bn(&x, "features.18.0", "features.18.1", 1, true)?;
    let pooled = b.g.node("GlobalAveragePool", &[&x], "pool", vec![]);
    let flat = b.g.node("Flatten", &[&pooled], "flatten", vec![Attr::Int("axis", 1)]);
    let w = b.get("classifier.1.weight")?.clone();
    let bias = b.get("classifier.1.bias")?.clone();
    let wn = b.g.constant("classifier.w", &w.shape, &w.data);
    let bn = b.g.constant("classifier.b", &bias.shape, &bias.data);
    b.g.node("Gemm", &[&flat, &wn, &bn], "logits", vec![Attr::Int("transB", 1)]);
    b.g.output("logits", &[-1, bias.data.len() as i64]);
    Ok(b.g.encode(
        "mobilenet_v2",
        &[
            ("source", "torchvision mobilenet_v2-b0353104.pth (ImageNet), converted by sandbench"),
            ("preprocess", "resize 256, centre crop 224, RGB /255, mean 0.485,0.456,0.406, std 0.229,0.224,0.225"),
        ],
    ))
}
