//! Image pre-processing shared by the vision workloads: decoding, the reference pipelines'
//! resizes (Pillow's antialiased bilinear, `crate::pillow`; OpenCV's `INTER_LINEAR`,
//! `crate::opencv`), Ultralytics' letterbox, torchvision's resize + centre crop, and packing
//! into NCHW float32.

use crate::engine::Tensor;
use crate::VisionError;
use image::{Rgb, RgbImage};
use std::path::Path;

/// Decodes an image file to RGB8 as the reference pipelines do: JPEG through libjpeg-turbo's
/// decoder (mozjpeg's build of it; Pillow and OpenCV use libjpeg-turbo, and image-rs's decoder
/// differs by up to 4 levels, enough to move a small face's box by a pixel), everything else
/// and JPEGs libjpeg cannot turn into RGB (CMYK) through image-rs. Alpha is dropped and grey
/// replicated, as Pillow's `convert("RGB")` does.
pub fn load_rgb(path: &Path) -> Result<RgbImage, VisionError> {
    let err = |why: String| VisionError::Input { path: path.to_path_buf(), why };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        if let Some(img) = decode_jpeg(&bytes) {
            return Ok(img);
        }
    }
    image::load_from_memory(&bytes).map(|i| i.to_rgb8()).map_err(|e| err(e.to_string()))
}

/// libjpeg's RGB output of a JPEG, or `None` where libjpeg fails (its errors unwind, caught here).
fn decode_jpeg(bytes: &[u8]) -> Option<RgbImage> {
    std::panic::catch_unwind(|| {
        let mut started = mozjpeg::Decompress::new_mem(bytes).ok()?.rgb().ok()?;
        let (w, h) = (started.width() as u32, started.height() as u32);
        let pixels: Vec<[u8; 3]> = started.read_scanlines().ok()?;
        started.finish().ok()?;
        RgbImage::from_raw(w, h, pixels.into_flattened())
    })
    .ok()
    .flatten()
}

/// The resampling filter of a reference pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Pillow's `BILINEAR`, which torchvision's `Resize` runs on a PIL image: a triangle
    /// filter widened by the scale when shrinking, so it antialiases.
    PillowBilinear,
    /// OpenCV's `INTER_LINEAR` (Ultralytics' letterbox): the 2×2 neighbours at half-pixel
    /// centres, whatever the scale, so it does not antialias.
    OpencvLinear,
}

/// `img` resized to `w`×`h` (each at least 1) with `filter`.
pub fn resize(img: &RgbImage, w: u32, h: u32, filter: Filter) -> RgbImage {
    let (w, h) = (w.max(1), h.max(1));
    if img.dimensions() == (w, h) || img.width() == 0 || img.height() == 0 {
        return img.clone();
    }
    match filter {
        Filter::PillowBilinear => crate::pillow::resize_bilinear(img, w, h),
        Filter::OpencvLinear => crate::opencv::resize_linear(img, w, h),
    }
}

/// Python's `round()`: to the nearest integer, halves to the even one.
pub fn round_half_even(v: f64) -> f64 {
    let r = v.round();
    if (v - v.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - v.signum()
    } else {
        r
    }
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

/// Ultralytics' `LetterBox` (auto = False, centred, scale-up allowed) onto a `size`² canvas
/// of grey `fill`: the scaled size rounded as Python rounds, OpenCV's `INTER_LINEAR`, the
/// padding split with its `round(d ∓ 0.1)`. The placement is `scale_boxes`' inverse (its gain
/// and its own rounded padding), so boxes map back exactly as `yolo predict` maps them.
pub fn letterbox(img: &RgbImage, size: u32, fill: [u8; 3]) -> (RgbImage, Placement) {
    let (w, h) = (img.width() as f64, img.height() as f64);
    let s = size as f64;
    let r = (s / h).min(s / w);
    let nw = (round_half_even(w * r) as u32).clamp(1, size);
    let nh = (round_half_even(h * r) as u32).clamp(1, size);
    let (dw, dh) = ((size - nw) as f64 / 2.0, (size - nh) as f64 / 2.0);
    let (left, top) = (round_half_even(dw - 0.1).max(0.0) as i64, round_half_even(dh - 0.1).max(0.0) as i64);
    let resized = resize(img, nw, nh, Filter::OpencvLinear);
    let mut canvas = RgbImage::from_pixel(size, size, Rgb(fill));
    image::imageops::replace(&mut canvas, &resized, left, top);
    let pad_x = round_half_even((s - w * r) / 2.0 - 0.1);
    let pad_y = round_half_even((s - h * r) / 2.0 - 0.1);
    (canvas, Placement { scale: r as f32, pad_x: pad_x as f32, pad_y: pad_y as f32 })
}

/// Scales `img` to fit a `size`² canvas at its top-left corner, keeping its aspect ratio
/// (Pillow's bilinear), the rest filled with `fill`: a fixed input shape for engines that
/// need one.
pub fn fixed_canvas(img: &RgbImage, size: u32, fill: [u8; 3]) -> (RgbImage, Placement) {
    let (w, h) = img.dimensions();
    let scale = (size as f32 / w as f32).min(size as f32 / h as f32);
    let nw = ((w as f32 * scale).round() as u32).clamp(1, size);
    let nh = ((h as f32 * scale).round() as u32).clamp(1, size);
    let resized = resize(img, nw, nh, Filter::PillowBilinear);
    let mut canvas = RgbImage::from_pixel(size, size, Rgb(fill));
    image::imageops::replace(&mut canvas, &resized, 0, 0);
    (canvas, Placement { scale, pad_x: 0.0, pad_y: 0.0 })
}

/// torchvision's eval transform on a PIL image: `Resize(short)` (the shorter side to
/// `short`, the longer to `int(short * long / shorter)`, Pillow's antialiased bilinear), then
/// `CenterCrop(crop)` at offsets `int(round((side - crop) / 2))`.
pub fn resize_centre_crop(img: &RgbImage, short: u32, crop: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    let long = |a: u32, b: u32| ((short as f64 * a as f64 / b as f64) as u32).max(1);
    let (nw, nh) = if w <= h { (short, long(h, w)) } else { (long(w, h), short) };
    let resized = resize(img, nw, nh, Filter::PillowBilinear);
    let offset = |side: u32| round_half_even((side as f64 - crop as f64) / 2.0).max(0.0) as u32;
    let (cw, ch) = (crop.min(nw), crop.min(nh));
    image::imageops::crop_imm(&resized, offset(nw), offset(nh), cw, ch).to_image()
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
        let (canvas, p) = letterbox(&img, 64, [114, 114, 114]);
        assert_eq!(canvas.dimensions(), (64, 64));
        assert_eq!(p, Placement { scale: 0.32, pad_x: 0.0, pad_y: 16.0 });
        assert_eq!(canvas.get_pixel(0, 0).0, [114, 114, 114]);
        assert_eq!(canvas.get_pixel(32, 32).0, [255, 0, 0]);
        let (x, y) = p.to_image(64.0, 48.0);
        assert!((x - 200.0).abs() < 1e-3 && (y - 100.0).abs() < 1e-3);
    }

    #[test]
    fn letterbox_pads_as_ultralytics_rounds() {
        // 640 × 427 → 640: r = 1, 213 rows of padding split round(106.4) = 106 over, 107 under.
        let img = RgbImage::from_pixel(640, 427, Rgb([9, 9, 9]));
        let (canvas, p) = letterbox(&img, 640, [114, 114, 114]);
        assert_eq!(canvas.get_pixel(0, 105).0, [114, 114, 114]);
        assert_eq!(canvas.get_pixel(0, 106).0, [9, 9, 9]);
        assert_eq!(canvas.get_pixel(0, 532).0, [9, 9, 9]);
        assert_eq!(canvas.get_pixel(0, 533).0, [114, 114, 114]);
        assert_eq!(p.pad_y, 106.0);
    }

    #[test]
    fn python_rounding_sends_halves_to_even() {
        assert_eq!(round_half_even(58.5), 58.0);
        assert_eq!(round_half_even(59.5), 60.0);
        assert_eq!(round_half_even(-0.5), -0.0);
        assert_eq!(round_half_even(-1.5), -2.0);
        assert_eq!(round_half_even(2.4), 2.0);
        assert_eq!(round_half_even(2.6), 3.0);
    }

    #[test]
    fn centre_crop_follows_torchvision_sizes_and_offsets() {
        // 500 × 375: Resize(256) → int(256 * 500 / 375) = 341 × 256; the crop's left edge is
        // round(58.5) = 58, so column 58 of the resized image is the crop's first.
        let mut img = RgbImage::from_pixel(500, 375, Rgb([0, 0, 0]));
        for y in 0..375 {
            for x in 0..500 {
                img.put_pixel(x, y, Rgb([(x % 256) as u8, 0, 0]));
            }
        }
        let resized = resize(&img, 341, 256, Filter::PillowBilinear);
        let crop = resize_centre_crop(&img, 256, 224);
        assert_eq!(crop.dimensions(), (224, 224));
        assert_eq!(crop.get_pixel(0, 0), resized.get_pixel(58, 16));
        assert_eq!(resize_centre_crop(&RgbImage::new(640, 480), 256, 224).dimensions(), (224, 224));
    }

    #[test]
    fn pillow_bilinear_antialiases_and_opencv_linear_does_not() {
        // Stripes four pixels wide, shrunk four times: OpenCV's 2×2 samples fall inside one
        // stripe; Pillow's widened triangle also reaches into the next. The expected rows are
        // Pillow 9.4's `Image.resize((16, 1), BILINEAR)` and OpenCV 5.0's `INTER_LINEAR`.
        let img = RgbImage::from_fn(64, 4, |x, _| if (x / 4) % 2 == 0 { Rgb([0, 0, 0]) } else { Rgb([255, 255, 255]) });
        let row = |i: &RgbImage| (0..16).map(|x| i.get_pixel(x, 0).0[0]).collect::<Vec<u8>>();
        let pillow = [36, 191, 64, 191, 64, 191, 64, 191, 64, 191, 64, 191, 64, 191, 64, 219];
        let opencv = [0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255];
        assert_eq!(row(&resize(&img, 16, 1, Filter::PillowBilinear)), pillow);
        assert_eq!(row(&resize(&img, 16, 1, Filter::OpencvLinear)), opencv);
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
