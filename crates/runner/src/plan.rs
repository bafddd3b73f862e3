//! The trial order of a campaign: pure and reproducible from the seed.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use sandbench_spec::{Campaign, Order, TrialKey};

/// One trial to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTrial {
    pub key: TrialKey,
    pub env: usize,
    pub workload: usize,
    pub warmup: bool,
    /// 1-based measured trial number; 0 for warm-ups.
    pub trial: u32,
}

fn planned(c: &Campaign, env: usize, workload: usize, index: u32) -> PlannedTrial {
    let e = c.environments[env].get_ref();
    let w = c.workloads[workload].get_ref();
    let warmup = index < c.warmup;
    PlannedTrial {
        key: TrialKey { environment: e.name.clone(), workload: w.name.clone(), index },
        env,
        workload,
        warmup,
        trial: if warmup { 0 } else { index - c.warmup + 1 },
    }
}

/// Every trial of the campaign in run order. Warm-ups of an environment × workload always come
/// before its measured trials.
pub fn plan(c: &Campaign) -> Vec<PlannedTrial> {
    let (ne, nw, per) = (c.environments.len(), c.workloads.len(), c.warmup + c.trials.max());
    let mut out = Vec::with_capacity(ne * nw * per as usize);
    match c.order {
        Order::Sequential => {
            for e in 0..ne {
                for w in 0..nw {
                    for i in 0..per {
                        out.push(planned(c, e, w, i));
                    }
                }
            }
        }
        Order::Interleaved => {
            for i in 0..per {
                for e in 0..ne {
                    for w in 0..nw {
                        out.push(planned(c, e, w, i));
                    }
                }
            }
        }
        Order::Randomized => {
            let mut measured: Vec<(usize, usize, u32)> = Vec::new();
            for e in 0..ne {
                for w in 0..nw {
                    for i in c.warmup..per {
                        measured.push((e, w, i));
                    }
                }
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(c.seed);
            measured.shuffle(&mut rng);
            // Renumber so each pair's measured trials keep ascending indices in run order, and
            // put the pair's warm-ups just before its first measured trial.
            let mut next = vec![c.warmup; ne * nw];
            let mut warmed = vec![false; ne * nw];
            for (e, w, _) in measured {
                let pair = e * nw + w;
                if !warmed[pair] {
                    for i in 0..c.warmup {
                        out.push(planned(c, e, w, i));
                    }
                    warmed[pair] = true;
                }
                out.push(planned(c, e, w, next[pair]));
                next[pair] += 1;
            }
            if c.trials.max() == 0 {
                for pair in 0..ne * nw {
                    for i in 0..c.warmup {
                        out.push(planned(c, pair / nw, pair % nw, i));
                    }
                }
            }
        }
    }
    // A workload limited to some environments runs only there.
    out.retain(|t| c.workloads[t.workload].get_ref().runs_in(&c.environments[t.env].get_ref().name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn campaign(order: &str, seed: u64) -> Campaign {
        let text = format!(
            "trials = 3\nwarmup = 1\norder = \"{order}\"\nseed = {seed}\n\
             [[environment]]\nname = \"a\"\ndriver = \"native\"\n\
             [[environment]]\nname = \"b\"\ndriver = \"native\"\n\
             [[workload]]\nname = \"w\"\nkind = \"noop\"\n"
        );
        Campaign::parse(&text, Path::new("t.toml")).unwrap()
    }

    fn names(p: &[PlannedTrial]) -> Vec<String> {
        p.iter().map(|t| format!("{}{}", t.key.environment, t.key.index)).collect()
    }

    #[test]
    fn sequential_and_interleaved() {
        assert_eq!(names(&plan(&campaign("sequential", 1))), ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]);
        assert_eq!(names(&plan(&campaign("interleaved", 1))), ["a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3"]);
    }

    #[test]
    fn randomized_is_seeded_complete_and_warms_up_first() {
        let p1 = plan(&campaign("randomized", 42));
        assert_eq!(p1, plan(&campaign("randomized", 42)));
        assert_eq!(p1.len(), 8);
        for env in ["a", "b"] {
            let idx: Vec<u32> = p1.iter().filter(|t| t.key.environment == env).map(|t| t.key.index).collect();
            assert_eq!(idx, [0, 1, 2, 3], "{env}: warm-up first, then ascending");
        }
        let differs = (1..20).any(|s| names(&plan(&campaign("randomized", s))) != names(&p1));
        assert!(differs, "the seed must change the order");
    }

    #[test]
    fn trial_numbers() {
        let p = plan(&campaign("sequential", 1));
        assert!(p[0].warmup && p[0].trial == 0);
        assert_eq!((p[1].warmup, p[1].trial), (false, 1));
        assert_eq!(p[3].trial, 3);
    }
}
