//! Boxes and non-maximum suppression.

/// An axis-aligned box in pixels: top-left and bottom-right corners.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn area(&self) -> f32 {
        (self.x2 - self.x1).max(0.0) * (self.y2 - self.y1).max(0.0)
    }

    pub fn iou(&self, o: &BBox) -> f32 {
        let w = (self.x2.min(o.x2) - self.x1.max(o.x1)).max(0.0);
        let h = (self.y2.min(o.y2) - self.y1.max(o.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + o.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    pub fn clamp(self, w: f32, h: f32) -> BBox {
        BBox {
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
            x2: self.x2.clamp(0.0, w),
            y2: self.y2.clamp(0.0, h),
        }
    }
}

/// Greedy NMS: indices of the kept candidates, best score first. Candidates of different
/// `class` never suppress each other.
pub fn nms(boxes: &[BBox], scores: &[f32], class: &[usize], iou: f32, max: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.len() >= max {
            break;
        }
        if keep.iter().all(|&k| class[k] != class[i] || boxes[k].iou(&boxes[i]) <= iou) {
            keep.push(i);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    #[test]
    fn iou_of_half_overlap() {
        assert!((b(0., 0., 2., 2.).iou(&b(1., 0., 3., 2.)) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(b(0., 0., 1., 1.).iou(&b(2., 2., 3., 3.)), 0.0);
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let boxes = [b(0., 0., 10., 10.), b(1., 1., 10., 10.), b(0., 0., 10., 10.), b(20., 20., 30., 30.)];
        let scores = [0.8, 0.9, 0.7, 0.5];
        let class = [0, 0, 1, 0];
        assert_eq!(nms(&boxes, &scores, &class, 0.5, 300), vec![1, 2, 3]);
        assert_eq!(nms(&boxes, &scores, &class, 0.5, 1), vec![1]);
    }
}
