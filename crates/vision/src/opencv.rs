//! OpenCV's `cv2.resize(img, size, interpolation=INTER_LINEAR)` for 8-bit, 3-channel images,
//! bit for bit on x86-64 (`imgproc/src/resize.cpp`): float source positions rounded to
//! 11-bit fixed-point weights, an exact integer horizontal pass, and the vertical pass as its
//! SIMD loop computes it (`VResizeLinearVec_32s8u`: `>> 4`, a 16-bit high multiply,
//! `(x + 2) >> 2`).
//! A shrink by exactly two on both axes is OpenCV's `INTER_AREA` fast path, as `resize`
//! switches to it. Ultralytics' letterbox is this call.
//!
//! Hand-written because no crate gives OpenCV's values exactly: `fast_image_resize`'s
//! `Interpolation(Bilinear)` (6.1) differs by one level on about 12 % of a letterbox's
//! values, which moved a person's box on `fidelity/inputs/bus_tall_360x1080.jpg` by 6 px.

use image::RgbImage;

const COEF_SCALE: f32 = 2048.0;
const CN: usize = 3;

/// `saturate_cast<short>(float)`: rounded half to even.
fn to_short(v: f32) -> i32 {
    v.round_ties_even().clamp(i16::MIN as f32, i16::MAX as f32) as i32
}

/// Per destination index: the first source index and the two fixed-point weights.
fn taps(src: usize, dst: usize, clamp_border: bool) -> Vec<(i64, i32, i32)> {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            f -= s as f32;
            if clamp_border && s < 0 {
                (f, s) = (0.0, 0);
            }
            if clamp_border && s + 1 >= src as i64 {
                (f, s) = (0.0, src as i64 - 1);
            }
            (s, to_short((1.0 - f) * COEF_SCALE), to_short(f * COEF_SCALE))
        })
        .collect()
}

/// The horizontal pass of one source row: `width × 3` values scaled by 2048.
fn horizontal(row: &[u8], xs: &[(i64, i32, i32)], src_w: usize) -> Vec<i32> {
    let mut out = vec![0i32; xs.len() * CN];
    for (d, &(s, a0, a1)) in xs.iter().enumerate() {
        let s = s as usize;
        let s1 = (s + 1).min(src_w - 1);
        for c in 0..CN {
            out[d * CN + c] = row[s * CN + c] as i32 * a0 + row[s1 * CN + c] as i32 * a1;
        }
    }
    out
}

/// The vertical pass of one destination row. opencv-python's build computes every value the
/// way the vector loop does, the row's tail included (checked on rows of 6, 33 and 639
/// values; its scalar `FixedPtCast` rounding, 22 bits at once, would differ by one).
fn vertical(s0: &[i32], s1: &[i32], b0: i32, b1: i32, out: &mut [u8]) {
    let sat16 = |v: i32| v.clamp(i16::MIN as i32, i16::MAX as i32);
    for (x, o) in out.iter_mut().enumerate() {
        let m0 = (sat16(s0[x] >> 4) * b0) >> 16;
        let m1 = (sat16(s1[x] >> 4) * b1) >> 16;
        *o = ((sat16(m0 + m1) + 2) >> 2).clamp(0, 255) as u8;
    }
}

/// `INTER_AREA`'s fast path for a shrink by two: each 2×2 block's mean, rounded half up.
fn halve(img: &RgbImage, w: usize, h: usize) -> RgbImage {
    let (src, sw) = (img.as_raw(), img.width() as usize);
    let mut out = vec![0u8; w * h * CN];
    for y in 0..h {
        for x in 0..w {
            for c in 0..CN {
                let at = |yy: usize, xx: usize| src[(yy * sw + xx) * CN + c] as u32;
                let sum = at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1);
                out[(y * w + x) * CN + c] = ((sum + 2) >> 2) as u8;
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| img.clone())
}

/// `img` resized to `w`×`h` as `cv2.resize(..., INTER_LINEAR)` resizes it.
pub fn resize_linear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let (w, h) = (w as usize, h as usize);
    if (sw, sh) == (w, h) || sw == 0 || sh == 0 || w == 0 || h == 0 {
        return img.clone();
    }
    if sw == 2 * w && sh == 2 * h {
        return halve(img, w, h);
    }
    let xs = taps(sw, w, true);
    let ys = taps(sh, h, false);
    let src = img.as_raw();
    let mut rows: Vec<Option<Vec<i32>>> = vec![None; sh];
    let mut out = vec![0u8; w * h * CN];
    for (dy, &(sy, b0, b1)) in ys.iter().enumerate() {
        let r0 = sy.clamp(0, sh as i64 - 1) as usize;
        let r1 = (sy + 1).clamp(0, sh as i64 - 1) as usize;
        for r in [r0, r1] {
            if rows[r].is_none() {
                rows[r] = Some(horizontal(&src[r * sw * CN..(r + 1) * sw * CN], &xs, sw));
            }
        }
        let (Some(s0), Some(s1)) = (&rows[r0], &rows[r1]) else { continue };
        vertical(s0, s1, b0, b1, &mut out[dy * w * CN..(dy + 1) * w * CN]);
        // Rows above the next destination row's first source row are not read again.
        if let Some(&(next, _, _)) = ys.get(dy + 1) {
            for row in rows.iter_mut().take(next.clamp(0, sh as i64) as usize) {
                *row = None;
            }
        }
    }
    RgbImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| img.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn stripes_shrink_to_opencvs_values() {
        // OpenCV 5.0 (opencv-python-headless 5.0.0.93): cv2.resize of black/white stripes 4 pixels wide to 16 × 1, INTER_LINEAR.
        let img = RgbImage::from_fn(64, 4, |x, _| if (x / 4) % 2 == 0 { Rgb([0, 0, 0]) } else { Rgb([255, 255, 255]) });
        let out = resize_linear(&img, 16, 1);
        let row: Vec<u8> = (0..16).map(|x| out.get_pixel(x, 0).0[0]).collect();
        assert_eq!(row, [0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255]);
    }

    #[test]
    fn a_gradient_resizes_to_opencvs_values() {
        // OpenCV 5.0 (opencv-python-headless 5.0.0.93): cv2.resize(a, (11, 3), INTER_LINEAR) of a 7 × 5 image whose pixel
        // (x, y) channel c is (37x + 11y + 50c) mod 256: wider (weights at the borders) and
        // shorter; 33 values a row, so the last one is the scalar tail's.
        let img = RgbImage::from_fn(7, 5, |x, y| {
            Rgb(std::array::from_fn(|c| ((x * 37 + y * 11 + c as u32 * 50) % 256) as u8))
        });
        let want: [u8; 99] = [
            4, 54, 104, 20, 70, 120, 44, 94, 144, 67, 117, 167, 91, 141, 191, 114, 165, 215, 138, 188, 184, 162, 212,
            130, 185, 235, 45, 209, 119, 53, 225, 20, 69, 22, 72, 122, 39, 89, 139, 62, 112, 162, 86, 136, 186, 109,
            159, 209, 133, 183, 233, 157, 207, 94, 180, 160, 24, 204, 21, 48, 227, 21, 71, 244, 38, 88, 40, 90, 140,
            57, 107, 157, 80, 131, 181, 104, 154, 204, 128, 178, 228, 151, 201, 251, 175, 225, 112, 198, 178, 42, 222,
            39, 66, 152, 39, 89, 92, 56, 106,
        ];
        assert_eq!(resize_linear(&img, 11, 3).as_raw().as_slice(), want.as_slice());
        // The first three columns to 2 × 3: six values a row.
        let small = RgbImage::from_fn(3, 5, |x, y| *img.get_pixel(x, y));
        let want: [u8; 18] = [13, 63, 113, 68, 118, 168, 31, 81, 131, 87, 137, 187, 49, 100, 149, 105, 155, 205];
        assert_eq!(resize_linear(&small, 2, 3).as_raw().as_slice(), want.as_slice());
    }
}
