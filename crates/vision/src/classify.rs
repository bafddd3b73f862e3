//! `classify`: an ImageNet classifier (torchvision MobileNetV2), with torchvision's eval
//! transform: `Resize(256)` (Pillow's antialiased bilinear), `CenterCrop(224)`, ImageNet
//! mean/std; top-5 labels with softmax probabilities.

use crate::engine::Tensor;
use crate::preprocess::{resize_centre_crop, to_nchw};
use crate::{Prepared, Task, VisionError};
use image::RgbImage;
use serde_json::{json, Value};

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

pub struct Classify {
    pub labels: Vec<String>,
}

impl Task for Classify {
    fn prepare(&self, img: &RgbImage) -> Prepared {
        Prepared { canvas: resize_centre_crop(img, 256, 224), placement: None, size: img.dimensions() }
    }
    fn pack(&self, canvases: &[&RgbImage]) -> Tensor {
        to_nchw(canvases, false, |c, v| (v as f32 / 255.0 - MEAN[c]) / STD[c])
    }
    fn decode(&self, outputs: &[Tensor], n: usize, _p: &Prepared) -> Result<Value, VisionError> {
        let logits = outputs.first().ok_or_else(|| VisionError::Output("no output".into()))?;
        let classes = *logits.shape.last().unwrap_or(&0);
        let row = logits
            .data
            .get(n * classes..(n + 1) * classes)
            .ok_or_else(|| VisionError::Output(format!("logits shape {:?}", logits.shape)))?;
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = row.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let mut idx: Vec<usize> = (0..classes).collect();
        idx.sort_by(|&a, &b| exp[b].total_cmp(&exp[a]));
        let top: Vec<Value> = idx
            .iter()
            .take(5)
            .map(|&i| {
                let label = self.labels.get(i).cloned().unwrap_or_else(|| format!("class {i}"));
                json!({"class": i, "label": label, "score": round4(exp[i] / sum)})
            })
            .collect();
        Ok(json!({ "top5": top }))
    }
}

pub fn round4(v: f32) -> f64 {
    (v as f64 * 1e4).round() / 1e4
}
