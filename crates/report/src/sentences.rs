//! The words of a verdict: one sentence per comparison, and how its family was decided.

use crate::types::ComparisonRow;
use sandbench_stats::{Comparison, Verdict};

/// "runc is worse than native on cpu by 8.1 % (ratio 0.919, 97.5 % CI 0.897–0.940; Welch's t
/// on log values, p = 0.0001, α = 0.0250: 0.05 over 2 comparisons, g = −3.10)".
pub(crate) fn sentence(r: &ComparisonRow) -> String {
    let c = &r.comparison;
    let better = |higher: bool| if higher == r.higher_is_better { "better" } else { "worse" };
    let ci = c
        .ratio_ci
        .map(|ci| format!("{} % CI {:.3}–{:.3}", level_pct(ci.level), ci.lo, ci.hi))
        .unwrap_or_else(|| "no interval of the ratio".into());
    let alpha = if c.family > 1 {
        format!("α = {:.4}: 0.05 over {} comparisons", c.alpha, c.family)
    } else {
        "α = 0.05".into()
    };
    let p = if c.p_value < 1e-4 { "p < 0.0001".to_string() } else { format!("p = {:.4}", c.p_value) };
    let how = format!("{}, {p}, {alpha}", c.test_name());
    let by = if c.ratio >= 2.0 {
        format!("a factor of {:.1}", c.ratio)
    } else {
        format!("{:.1} %", (c.ratio - 1.0).abs() * 100.0)
    };
    let (who, base, wl) = (&r.environment, &r.baseline, &r.workload);
    match c.verdict {
        Verdict::Equivalent => format!(
            "{who} is equivalent to {base} within ±{:.0} % on {wl} (ratio {:.3}, {ci} inside the margin; {})",
            c.margin * 100.0,
            c.ratio,
            c.test_name()
        ),
        Verdict::Higher | Verdict::Lower => format!(
            "{who} is {} than {base} on {wl} by {by} (ratio {:.3}, {ci}; {how}, g = {:.2}){}",
            better(c.verdict == Verdict::Higher),
            c.ratio,
            c.effect_size,
            robustness(c)
        ),
        Verdict::Inconclusive => format!(
            "{who} vs {base} on {wl}: no difference shown and no equivalence within ±{:.0} % (ratio {:.3}, {ci} holds 1; {how}){}; more trials needed",
            c.margin * 100.0,
            c.ratio,
            robustness(c)
        ),
        Verdict::NotEnoughData => format!("{who} vs {base} on {wl}: fewer than 2 successful trials on a side"),
    }
}

/// How a family of comparisons was decided: "Welch's t; intervals at 99.17 % (1 − 0.05/6,
/// Bonferroni over 6 comparisons)".
pub fn family_note(c: &Comparison) -> String {
    if c.family > 1 {
        format!(
            "Welch's t; intervals at {} % (1 − 0.05/{}, Bonferroni over {} comparisons)",
            level_pct(c.level()),
            c.family,
            c.family
        )
    } else {
        "Welch's t; intervals at 95 %".into()
    }
}

/// A confidence level as a percentage, to two decimals at most: 0.95 → "95", 1 − 0.05/6 → "99.17".
pub fn level_pct(level: f64) -> String {
    let s = format!("{:.2}", level * 100.0);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What the permutation check on the same values says: agrees, disagrees, or cannot reach α
/// at these trial counts.
fn robustness(c: &Comparison) -> String {
    match c.permutation {
        Some(p) if !p.possible => {
            format!("; a permutation check cannot go below p = {:.3} at {} vs {} trials", p.min_p, c.n, c.n_baseline)
        }
        Some(p) if p.agrees == Some(false) => {
            format!("; WARN: a permutation test on the same values disagrees (p = {:.4})", p.p_value)
        }
        Some(p) => format!("; a permutation test agrees (p = {:.4})", p.p_value),
        None => String::new(),
    }
}
