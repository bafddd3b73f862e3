//! The server scenario's arrival times: a Poisson process from a seeded generator, so the host
//! can compute the same schedule and check the guest's query count against it.

use rand::{Rng, SeedableRng};

/// Arrival times (seconds from the start) of a Poisson process at `rate` per second, seeded
/// by `seed`, up to `duration_s`; at most `cap` of them.
pub fn poisson_arrivals(rate: f64, seed: u64, duration_s: f64, cap: usize) -> Vec<f64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut t = 0.0;
    let mut out = Vec::new();
    while out.len() < cap {
        // Exponential gaps by inversion; 1 - u is in (0, 1], so the logarithm is finite.
        let u: f64 = rng.gen();
        t += -(1.0 - u).ln() / rate;
        if t >= duration_s {
            break;
        }
        out.push(t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_dispersion_are_poissons() {
        // 2000 one-second windows at 50/s: counts per window have mean 50 and variance 50.
        let a = poisson_arrivals(50.0, 7, 2000.0, usize::MAX);
        let mut counts = vec![0f64; 2000];
        for t in &a {
            counts[*t as usize] += 1.0;
        }
        let mean = counts.iter().sum::<f64>() / counts.len() as f64;
        let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (counts.len() - 1) as f64;
        // Standard errors: mean sqrt(50/2000) = 0.16; variance about 50·sqrt(2/2000) = 1.6.
        assert!((mean - 50.0).abs() < 0.6, "mean {mean}");
        assert!((var / mean - 1.0).abs() < 0.12, "dispersion {}", var / mean);
        // Gaps: exponential, so their coefficient of variation is 1.
        let gaps: Vec<f64> = a.windows(2).map(|w| w[1] - w[0]).collect();
        let gm = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let gsd = (gaps.iter().map(|g| (g - gm).powi(2)).sum::<f64>() / gaps.len() as f64).sqrt();
        assert!((gm - 0.02).abs() < 0.0005 && (gsd / gm - 1.0).abs() < 0.03, "gaps {gm} ± {gsd}");
    }

    #[test]
    fn same_seed_same_schedule() {
        assert_eq!(poisson_arrivals(5.0, 1, 10.0, 100), poisson_arrivals(5.0, 1, 10.0, 100));
        assert_ne!(poisson_arrivals(5.0, 1, 10.0, 100), poisson_arrivals(5.0, 2, 10.0, 100));
        assert_eq!(poisson_arrivals(1e6, 1, 10.0, 3).len(), 3);
    }
}
