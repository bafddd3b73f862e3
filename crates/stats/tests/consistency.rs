//! The verdict and the interval printed beside it come from one model: over generated samples
//! (small and large, tight and noisy, positive and not, families of 1 to 12), they never
//! contradict each other.

use proptest::prelude::*;
use sandbench_stats::{adjust_family, compare, Comparison, Verdict};

/// A series: `n` values around `centre` with relative spread `cv`, from unit draws.
fn series(centre: f64, cv: f64, draws: &[f64]) -> Vec<f64> {
    draws.iter().map(|u| centre * (1.0 + cv * (u - 0.5) * 3.4)).collect()
}

fn check(c: &Comparison) -> Result<(), TestCaseError> {
    if c.verdict == Verdict::NotEnoughData {
        prop_assert!(c.n < 2 || c.n_baseline < 2);
        return Ok(());
    }
    let Some(ci) = c.ratio_ci else {
        // Only a raw-scale model with a baseline mean ≤ 0 has no ratio.
        prop_assert!(c.mean_baseline <= 0.0);
        return Ok(());
    };
    prop_assert!(ci.lo <= c.ratio && c.ratio <= ci.hi, "point outside its interval: {c:?}");
    prop_assert!((ci.level - (1.0 - c.alpha)).abs() < 1e-12);
    let excludes_one = ci.lo > 1.0 || ci.hi < 1.0;
    let on_edge = (ci.lo - 1.0).abs() < 1e-12 || (ci.hi - 1.0).abs() < 1e-12;
    let inside_margin = ci.lo > 1.0 - c.margin && ci.hi < 1.0 + c.margin;
    match c.verdict {
        Verdict::Higher => prop_assert!(ci.lo > 1.0 && !inside_margin, "{c:?}"),
        Verdict::Lower => prop_assert!(ci.hi < 1.0 && !inside_margin, "{c:?}"),
        Verdict::Equivalent => prop_assert!(inside_margin, "{c:?}"),
        Verdict::Inconclusive => prop_assert!(!inside_margin && (!excludes_one || on_edge), "{c:?}"),
        Verdict::NotEnoughData => unreachable!(),
    }
    // The p value is the same model's: below α exactly when the interval excludes 1 (away
    // from the rounding edge).
    if (c.p_value - c.alpha).abs() > 1e-9 && !on_edge {
        prop_assert_eq!(c.p_value < c.alpha, excludes_one, "{:?}", c);
        prop_assert_eq!(c.p_adjusted < 0.05, excludes_one, "{:?}", c);
    }
    if let Some(p) = c.permutation {
        prop_assert!(p.p_value >= p.min_p - 1e-12, "{p:?}");
        prop_assert_eq!(p.possible, p.min_p < c.alpha);
        prop_assert_eq!(p.agrees.is_some(), p.possible);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn verdicts_agree_with_their_intervals(
        a in prop::collection::vec(0.0f64..1.0, 1..25),
        b in prop::collection::vec(0.0f64..1.0, 1..25),
        ratio in prop::sample::select(vec![0.2, 0.9, 0.97, 1.0, 1.01, 1.04, 1.3, 5.0]),
        cv in prop::sample::select(vec![0.0, 0.001, 0.01, 0.05, 0.3]),
        margin in prop::sample::select(vec![0.01, 0.05, 0.1]),
        family in 1usize..12,
        shift in prop::sample::select(vec![0.0, 0.0, -99.0, -100.0]),
    ) {
        // `shift` moves some baselines to or below zero: the raw-scale model must hold too.
        let base = series(100.0, cv, &b).into_iter().map(|x| x + shift).collect::<Vec<_>>();
        let cand = series(100.0 * ratio, cv, &a);
        let one = compare(&cand, &base, margin, 500, 7);
        check(&one)?;
        let mut cs = vec![one; family];
        let mut refs: Vec<&mut Comparison> = cs.iter_mut().collect();
        adjust_family(&mut refs);
        for c in &cs {
            check(c)?;
        }
    }
}
