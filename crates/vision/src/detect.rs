//! `detect`: an Ultralytics YOLOv8 ONNX export (output `[batch, 4 + classes, anchors]`, class
//! names in the model's `names` metadata). Ultralytics' `LetterBox` to the model's size (OpenCV
//! `INTER_LINEAR`, grey 114), RGB /255; boxes whose best class score is above the threshold,
//! class-wise NMS in canvas space, then `scale_boxes` back and clipped, as `yolo predict` does.

use crate::boxes::{nms, BBox};
use crate::classify::round4;
use crate::engine::Tensor;
use crate::preprocess::{letterbox, to_nchw};
use crate::{Prepared, Task, VisionError};
use image::RgbImage;
use serde_json::{json, Value};

pub struct Detect {
    pub size: u32,
    pub names: Vec<String>,
    pub conf: f32,
    pub iou: f32,
}

/// Parses Ultralytics' `names` metadata: `{0: 'person', 1: 'bicycle', ...}`.
pub fn parse_names(meta: &str) -> Vec<String> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let body = meta.trim().trim_start_matches('{').trim_end_matches('}');
    let mut rest = body;
    while let Some(colon) = rest.find(':') {
        let Ok(id) = rest[..colon].trim().trim_start_matches(',').trim().parse::<usize>() else { break };
        let after = rest[colon + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '\'' || *c == '"') else { break };
        let Some(end) = after[1..].find(q) else { break };
        out.push((id, after[1..1 + end].to_string()));
        rest = &after[2 + end..];
    }
    out.sort();
    out.into_iter().map(|(_, n)| n).collect()
}

/// Parses Ultralytics' `imgsz` metadata (`[640, 640]`) into its first side.
pub fn parse_imgsz(meta: &str) -> Option<u32> {
    meta.trim_matches(|c| c == '[' || c == ']').split(',').next()?.trim().parse().ok()
}

impl Task for Detect {
    fn prepare(&self, img: &RgbImage) -> Prepared {
        let (canvas, placement) = letterbox(img, self.size, [114, 114, 114]);
        Prepared { canvas, placement: Some(placement), size: img.dimensions() }
    }
    fn pack(&self, canvases: &[&RgbImage]) -> Tensor {
        to_nchw(canvases, false, |_, v| v as f32 / 255.0)
    }
    fn decode(&self, outputs: &[Tensor], n: usize, p: &Prepared) -> Result<Value, VisionError> {
        let out = outputs.first().ok_or_else(|| VisionError::Output("no output".into()))?;
        let [_, rows, anchors] = out.shape[..] else {
            return Err(VisionError::Output(format!("expected [batch, 4+classes, anchors], got {:?}", out.shape)));
        };
        if rows < 5 {
            return Err(VisionError::Output(format!("expected [batch, 4+classes, anchors], got {:?}", out.shape)));
        }
        let d = &out.data[n * rows * anchors..(n + 1) * rows * anchors];
        let at = |r: usize, a: usize| d[r * anchors + a];
        let place = p.placement.ok_or_else(|| VisionError::Output("no placement".into()))?;
        let (w, h) = (p.size.0 as f32, p.size.1 as f32);
        let (mut boxes, mut scores, mut classes) = (Vec::new(), Vec::new(), Vec::new());
        for a in 0..anchors {
            let (mut best, mut cls) = (f32::MIN, 0);
            for c in 0..rows - 4 {
                if at(4 + c, a) > best {
                    best = at(4 + c, a);
                    cls = c;
                }
            }
            if best <= self.conf {
                continue;
            }
            let (cx, cy, bw, bh) = (at(0, a), at(1, a), at(2, a), at(3, a));
            let (x1, y1) = place.to_image(cx - bw / 2.0, cy - bh / 2.0);
            let (x2, y2) = place.to_image(cx + bw / 2.0, cy + bh / 2.0);
            boxes.push(BBox { x1, y1, x2, y2 });
            scores.push(best);
            classes.push(cls);
        }
        // Ultralytics suppresses before it clips (one gain on both axes keeps IoUs as in canvas space).
        let keep = nms(&boxes, &scores, &classes, self.iou, 300);
        let dets: Vec<Value> = keep
            .iter()
            .map(|&i| {
                let b = boxes[i].clamp(w, h);
                let name = self.names.get(classes[i]).cloned().unwrap_or_else(|| format!("class {}", classes[i]));
                json!({
                    "class": classes[i], "name": name, "score": round4(scores[i]),
                    "box": [b.x1.round(), b.y1.round(), b.x2.round(), b.y2.round()],
                })
            })
            .collect();
        Ok(json!({ "detections": dets }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ultralytics_metadata() {
        assert_eq!(parse_names("{0: 'Normal', 1: 'Fall'}"), vec!["Normal", "Fall"]);
        assert_eq!(parse_names("{0: 'person', 1: \"it's\"}"), vec!["person", "it's"]);
        assert_eq!(parse_imgsz("[640, 640]"), Some(640));
    }
}
