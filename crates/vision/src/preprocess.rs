//! Image pre-processing shared by the vision workloads: decoding, letterboxing, resize and
//! centre crop, and packing into NCHW float32.

use crate::engine::Tensor;
use crate::VisionError;
use image::imageops::FilterType;
use image::{Rgb, RgbImage};
use std::path::Path;

pub fn load_rgb(path: &Path) -> Result<RgbImage, VisionError> {
    image::open(path)
        .map(|i| i.to_rgb8())
        .map_err(|e| VisionError::Input { path: path.to_path_buf(), why: e.to_string() })
}

/// Where an image landed inside a letterboxed canvas: `canvas = image * scale + (pad_x, pad_y)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
}

impl Placement {
    /// Canvas coordinates back to the original image's.
    pub fn to_image(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_x) / self.scale, (y - self.pad_y) / self.scale)
    }
}

/// Scales `img` to fit a `size`×`size` canvas keeping its aspect ratio, filled with `fill`.
/// `centre` centres it (Ultralytics), otherwise it sits at the top-left corner.
pub fn letterbox(img: &RgbImage, size: u32, fill: [u8; 3], centre: bool) -> (RgbImage, Placement) {
    let (w, h) = img.dimensions();
    let scale = (size as f32 / w as f32).min(size as f32 / h as f32);
    let nw = ((w as f32 * scale).round() as u32).clamp(1, size);
    let nh = ((h as f32 * scale).round() as u32).clamp(1, size);
    let resized =
        if (nw, nh) == (w, h) { img.clone() } else { image::imageops::resize(img, nw, nh, FilterType::Triangle) };
    let (px, py) = if centre { ((size - nw) / 2, (size - nh) / 2) } else { (0, 0) };
    let mut canvas = RgbImage::from_pixel(size, size, Rgb(fill));
    image::imageops::replace(&mut canvas, &resized, px as i64, py as i64);
    (canvas, Placement { scale, pad_x: px as f32, pad_y: py as f32 })
}

/// Resizes the shorter side to `short` and crops the centre `crop`×`crop` (torchvision's
/// `Resize(256)` + `CenterCrop(224)`).
pub fn resize_centre_crop(img: &RgbImage, short: u32, crop: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let s = short as f32 / w.min(h) as f32;
    let nw = ((w as f32 * s).round() as u32).max(crop);
    let nh = ((h as f32 * s).round() as u32).max(crop);
    let resized = image::imageops::resize(img, nw, nh, FilterType::Triangle);
    image::imageops::crop_imm(&resized, (nw - crop) / 2, (nh - crop) / 2, crop, crop).to_image()
}

/// Packs images into an NCHW tensor, channel `c` of pixel `p` becoming `f(c, p[c])`; `bgr`
/// swaps the channel order first.
pub fn to_nchw(images: &[&RgbImage], bgr: bool, f: impl Fn(usize, u8) -> f32) -> Tensor {
    let (w, h) = images.first().map(|i| i.dimensions()).unwrap_or((0, 0));
    let plane = (w * h) as usize;
    let mut data = vec![0f32; images.len() * 3 * plane];
    for (n, img) in images.iter().enumerate() {
        let base = n * 3 * plane;
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                let src = if bgr { 2 - c } else { c };
                data[base + c * plane + i] = f(c, p.0[src]);
            }
        }
    }
    Tensor { shape: vec![images.len(), 3, h as usize, w as usize], data }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_centres_and_maps_back() {
        let img = RgbImage::from_pixel(200, 100, Rgb([255, 0, 0]));
        let (canvas, p) = letterbox(&img, 64, [114, 114, 114], true);
        assert_eq!(canvas.dimensions(), (64, 64));
        assert_eq!(p, Placement { scale: 0.32, pad_x: 0.0, pad_y: 16.0 });
        assert_eq!(canvas.get_pixel(0, 0).0, [114, 114, 114]);
        assert_eq!(canvas.get_pixel(32, 32).0, [255, 0, 0]);
        let (x, y) = p.to_image(64.0, 48.0);
        assert!((x - 200.0).abs() < 1e-3 && (y - 100.0).abs() < 1e-3);
    }

    #[test]
    fn centre_crop_has_the_requested_size() {
        let img = RgbImage::from_pixel(640, 480, Rgb([1, 2, 3]));
        assert_eq!(resize_centre_crop(&img, 256, 224).dimensions(), (224, 224));
    }

    #[test]
    fn nchw_packs_planes_and_swaps_to_bgr() {
        let mut img = RgbImage::new(2, 1);
        img.put_pixel(0, 0, Rgb([1, 2, 3]));
        img.put_pixel(1, 0, Rgb([4, 5, 6]));
        let t = to_nchw(&[&img], true, |_, v| v as f32);
        assert_eq!(t.shape, vec![1, 3, 1, 2]);
        assert_eq!(t.data, vec![3., 6., 2., 5., 1., 4.]);
    }
}
