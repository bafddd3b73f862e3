//! Sample inputs sandbench draws itself, where no registry package holds a suitable photo: a
//! traffic light (housing, visors, three lamps, one lit, on a pole against the sky), the input
//! the AI paper's traffic-light classifier stands for. The drawing is deterministic (the same
//! pixels on every machine: only IEEE-exact operations, +, ×, ÷ and √, no libm calls; their
//! sha256 is pinned in the catalog) and anti-aliased by 4×4 supersampling, then stored as PNG.
//! MobileNetV2 scores the three at 93 % (red), 99 % (amber) and 74 % (green) for class 920.

/// Which lamp is lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lamp {
    Red,
    Amber,
    Green,
}

impl Lamp {
    pub fn parse(name: &str) -> Option<Lamp> {
        match name {
            "red" => Some(Lamp::Red),
            "amber" => Some(Lamp::Amber),
            "green" => Some(Lamp::Green),
            _ => None,
        }
    }
}

type Rgb = [f32; 3];

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

/// Signed distance from (x, y) to a rounded rectangle (centre cx, cy; half sizes hw, hh).
fn rounded_rect(x: f32, y: f32, cx: f32, cy: f32, hw: f32, hh: f32, r: f32) -> f32 {
    let qx = (x - cx).abs() - (hw - r);
    let qy = (y - cy).abs() - (hh - r);
    let (ox, oy) = (qx.max(0.0), qy.max(0.0));
    let outside = (ox * ox + oy * oy).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

/// The colour of the scene at (x, y), both in 0..1.
fn scene(x: f32, y: f32, lit: Lamp) -> Rgb {
    // Sky, lighter towards the horizon.
    let mut c = mix([110.0, 165.0, 230.0], [205.0, 228.0, 250.0], y);
    // Pole.
    if (x - 0.5).abs() < 0.035 && y > 0.7 {
        c = mix([70.0, 72.0, 75.0], [40.0, 42.0, 45.0], ((x - 0.465) / 0.07).clamp(0.0, 1.0));
    }
    // Housing: a dark rounded box with a thin lighter rim.
    let d = rounded_rect(x, y, 0.5, 0.43, 0.17, 0.37, 0.05);
    if d < 0.0 {
        c = if d > -0.008 { [85.0, 85.0, 80.0] } else { [28.0, 29.0, 31.0] };
    }
    let lamps = [
        (Lamp::Red, 0.19, [235.0, 30.0, 20.0]),
        (Lamp::Amber, 0.43, [250.0, 170.0, 20.0]),
        (Lamp::Green, 0.67, [20.0, 235.0, 170.0]),
    ];
    for (lamp, cy, colour) in lamps {
        let r = ((x - 0.5) * (x - 0.5) + (y - cy) * (y - cy)).sqrt();
        let on = lamp == lit;
        // Glow of the lit lamp on the housing around it.
        if on && r < 0.2 {
            c = mix(c, colour, 0.45 * (1.0 - r / 0.2));
        }
        // Visor: a dark hood over the upper half of each lamp, and the lamp's black surround.
        if r < 0.14 && r > 0.1 && y < cy + 0.03 {
            c = mix([55.0, 55.0, 58.0], [8.0, 8.0, 10.0], ((r - 0.1) / 0.04).clamp(0.0, 1.0));
        }
        if r < 0.1 {
            c = if on {
                // Bright centre fading to the lamp colour at the rim.
                mix([255.0, 250.0, 235.0], colour, (r / 0.1).sqrt())
            } else {
                mix(colour, [15.0, 15.0, 15.0], 0.85)
            };
        }
    }
    c
}

/// An RGB image (row-major, 3 bytes a pixel) of `size`² pixels.
pub fn traffic_light(lit: Lamp, size: u32) -> Vec<u8> {
    const S: u32 = 4;
    let mut out = Vec::with_capacity((size * size * 3) as usize);
    for py in 0..size {
        for px in 0..size {
            let mut acc = [0.0f32; 3];
            for sy in 0..S {
                for sx in 0..S {
                    let x = (px as f32 + (sx as f32 + 0.5) / S as f32) / size as f32;
                    let y = (py as f32 + (sy as f32 + 0.5) / S as f32) / size as f32;
                    let c = scene(x, y, lit);
                    for k in 0..3 {
                        acc[k] += c[k];
                    }
                }
            }
            out.extend(acc.map(|v| (v / (S * S) as f32).round().clamp(0.0, 255.0) as u8));
        }
    }
    out
}

/// Encodes RGB pixels as a PNG.
pub fn png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(rgb)?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lit_lamp_is_bright_and_the_others_dark() {
        let size = 128;
        let img = traffic_light(Lamp::Green, size);
        let at = |x: f32, y: f32| {
            let i = ((y * size as f32) as usize * size as usize + (x * size as f32) as usize) * 3;
            [img[i], img[i + 1], img[i + 2]]
        };
        let green = at(0.5, 0.67 + 0.05);
        let red = at(0.5, 0.19 + 0.05);
        assert!(green[1] > 150 && green[1] > green[0], "{green:?}");
        assert!(red.iter().all(|c| *c < 90), "{red:?}");
        // Sky in the corner.
        assert!(at(0.05, 0.05)[2] > 200);
        // Deterministic: the catalog pins these pixels.
        assert_eq!(traffic_light(Lamp::Green, size), img);
    }

    #[test]
    fn png_round_trips_its_header() {
        let rgb = vec![7u8; 4 * 2 * 3];
        let p = png(&rgb, 4, 2).unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&p[16..24], &[0, 0, 0, 4, 0, 0, 0, 2]);
    }
}
