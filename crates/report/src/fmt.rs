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

/// Like [`num`], with three significant digits below 0.01 too (0.000513 J/event).
pub fn small(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        let digits = (2 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
        format!("{x:.digits$}")
    } else {
        num(x)
    }
}

/// The mean of `v`, or `None` when it is empty.
pub fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The distinct strings of `it`, in the order they first come.
pub(crate) fn first_order_str(it: impl Iterator<Item = String>) -> Vec<String> {
    first_order(it)
}

/// Each distinct item once, in the order it first comes.
pub(crate) fn first_order<T: PartialEq>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for s in it {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
