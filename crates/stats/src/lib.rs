//! Pure functions on slices of measurements. No I/O, no state; every random procedure takes
//! a seed, so the same input gives the same answer.

mod compare;
pub mod early_stopping;
mod outliers;
mod resample;
mod summary;
mod welch;

pub use compare::{adjust_family, compare, permutation_min_p, Comparison, PermutationCheck, Verdict, ALPHA};
pub use outliers::{outliers, Outliers};
pub use resample::{bootstrap_mean_ci, bootstrap_ratio_ci, permutation_test, Ci};
pub use summary::{cumulative_sd, median_ci, nearest_rank, summarize, Summary};
pub use welch::{Scale, Welch};
