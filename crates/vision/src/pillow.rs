//! Pillow's `Image.resize(size, BILINEAR)` for RGB8, bit for bit (`libImaging/Resample.c`:
//! `precompute_coeffs`, `normalize_coeffs_8bpc`, the horizontal pass into 8-bit rows, then the
//! vertical pass, 22-bit fixed point rounded half up). torchvision's `Resize` on a PIL image
//! is this call.
//!
//! Hand-written because no crate gives Pillow's values exactly: `fast_image_resize`'s
//! `Convolution(Bilinear)` (6.1) has the same filter but its own fixed point, and differs by
//! one level on about 18 % of the pixels of `fidelity/inputs/coins.png` resized for
//! `classify`, enough to move a MobileNetV2 probability by 0.02.

use image::RgbImage;

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// The triangle filter, support 1.
fn bilinear(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

/// One axis' taps: per output pixel, its first input pixel and fixed-point weights.
struct Taps {
    first: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

/// `precompute_coeffs` and `normalize_coeffs_8bpc` for `input` → `output` pixels.
fn taps(input: usize, output: usize) -> Taps {
    let scale = input as f64 / output as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale;
    // Pillow multiplies by the reciprocal (`ss`); dividing rounds differently.
    let ss = 1.0 / filterscale;
    let (mut first, mut weights) = (Vec::with_capacity(output), Vec::with_capacity(output));
    for xx in 0..output {
        let center = (xx as f64 + 0.5) * scale;
        // C's (int) cast truncates towards zero, as `as` does.
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(input as i64) as usize;
        let k: Vec<f64> = (xmin..xmax.max(xmin)).map(|x| bilinear((x as f64 - center + 0.5) * ss)).collect();
        let ww: f64 = k.iter().sum();
        let fixed = k
            .iter()
            .map(|&w| {
                let w = if ww != 0.0 { w / ww } else { w };
                let v = w * (1u32 << PRECISION_BITS) as f64;
                (if v < 0.0 { v - 0.5 } else { v + 0.5 }) as i32
            })
            .collect();
        first.push(xmin);
        weights.push(fixed);
    }
    Taps { first, weights }
}

fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// `img` resized to `w`×`h` as Pillow resizes it.
pub fn resize_bilinear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let (w, h) = (w as usize, h as usize);
    if (iw, ih) == (w, h) || iw == 0 || ih == 0 || w == 0 || h == 0 {
        return img.clone();
    }
    let src = img.as_raw();
    let vert = taps(ih, h);
    // Only the rows the vertical pass reads go through the horizontal one.
    let row0 = vert.first[0];
    let row_end = vert.first[h - 1] + vert.weights[h - 1].len();
    let (mid, mid_w) = if iw != w {
        let horiz = taps(iw, w);
        let mut out = vec![0u8; (row_end - row0) * w * 3];
        for y in row0..row_end {
            let line = &src[y * iw * 3..(y + 1) * iw * 3];
            let dst = &mut out[(y - row0) * w * 3..(y - row0 + 1) * w * 3];
            convolve_line(line, dst, &horiz, 3, 3);
        }
        (out, w)
    } else {
        (src[row0 * iw * 3..row_end * iw * 3].to_vec(), iw)
    };
    if ih == h {
        return RgbImage::from_raw(w as u32, h as u32, mid).unwrap_or_else(|| img.clone());
    }
    let mut out = vec![0u8; h * mid_w * 3];
    for (yy, (&first, k)) in vert.first.iter().zip(&vert.weights).enumerate() {
        for x in 0..mid_w * 3 {
            let mut ss: i32 = 1 << (PRECISION_BITS - 1);
            for (i, &kv) in k.iter().enumerate() {
                ss += mid[(first - row0 + i) * mid_w * 3 + x] as i32 * kv;
            }
            out[yy * mid_w * 3 + x] = clip8(ss);
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| img.clone())
}

/// One row of the horizontal pass; `stride` bytes a pixel, `bands` channels.
fn convolve_line(line: &[u8], dst: &mut [u8], taps: &Taps, stride: usize, bands: usize) {
    for (xx, (&first, k)) in taps.first.iter().zip(&taps.weights).enumerate() {
        for b in 0..bands {
            let mut ss: i32 = 1 << (PRECISION_BITS - 1);
            for (i, &kv) in k.iter().enumerate() {
                ss += line[(first + i) * stride + b] as i32 * kv;
            }
            dst[xx * stride + b] = clip8(ss);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn stripes_shrink_to_pillows_values() {
        // Pillow 9.4: Image.resize((16, 1), BILINEAR) of black/white stripes 4 pixels wide.
        let img = RgbImage::from_fn(64, 4, |x, _| if (x / 4) % 2 == 0 { Rgb([0, 0, 0]) } else { Rgb([255, 255, 255]) });
        let out = resize_bilinear(&img, 16, 1);
        let row: Vec<u8> = (0..16).map(|x| out.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, [36, 191, 64, 191, 64, 191, 64, 191, 64, 191, 64, 191, 64, 191, 64, 219]);
    }

    #[test]
    fn a_ramp_grows_to_pillows_values() {
        // Pillow 9.4: Image.resize((7, 2), BILINEAR) of a 3×2 ramp (0, 100, 200) per row.
        let img = RgbImage::from_fn(3, 2, |x, _| Rgb([(x * 100) as u8, 0, 0]));
        let out = resize_bilinear(&img, 7, 2);
        let row: Vec<u8> = (0..7).map(|x| out.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, [0, 14, 57, 100, 143, 186, 200]);
    }
}
