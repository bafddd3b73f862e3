//! Outliers are flagged, never dropped: by modified z-score (Iglewicz and Hoaglin, |M| > 3.5)
//! and by Tukey's fences (outside Q1 − 1.5 IQR, Q3 + 1.5 IQR).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outliers {
    /// Indices (into the input) with |modified z| > 3.5.
    pub mad: Vec<usize>,
    /// Indices outside Tukey's fences.
    pub tukey: Vec<usize>,
    pub fences: (f64, f64),
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Quartile by linear interpolation between order statistics (type 7, as numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Flags outliers; `None` below 5 values, where neither rule means much.
pub fn outliers(v: &[f64]) -> Option<Outliers> {
    if v.len() < 5 {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let med = median(&s);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let mad = median(&dev);
    let mad_idx = if mad > 0.0 {
        v.iter().enumerate().filter(|(_, x)| (0.6745 * (*x - med) / mad).abs() > 3.5).map(|(i, _)| i).collect()
    } else {
        Vec::new()
    };
    let (q1, q3) = (quantile(&s, 0.25), quantile(&s, 0.75));
    let fences = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    let tukey = v.iter().enumerate().filter(|(_, x)| **x < fences.0 || **x > fences.1).map(|(i, _)| i).collect();
    Some(Outliers { mad: mad_idx, tukey, fences })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_far_value_is_flagged_by_both() {
        let v = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.3, 25.0];
        let o = outliers(&v).unwrap();
        assert_eq!(o.mad, vec![7]);
        assert_eq!(o.tukey, vec![7]);
    }

    #[test]
    fn tukey_fences_by_hand() {
        // 1..=9: Q1 = 3, Q3 = 7 (type 7), IQR 4, fences −3 and 13.
        let v: Vec<f64> = (1..=9).map(f64::from).collect();
        let o = outliers(&v).unwrap();
        assert_eq!(o.fences, (-3.0, 13.0));
        assert!(o.tukey.is_empty() && o.mad.is_empty());
    }
}
