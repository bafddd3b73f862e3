//! Number formatting shared by the text exporters.

/// Three significant-ish digits: 0.123, 12.35, 1234.
pub fn num(x: f64) -> String {
    if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}
