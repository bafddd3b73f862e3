//! `cpu`: sysbench-cpu-like prime events.
//!
//! One event checks every number in `3..max_prime` for primality by trial division up to its
//! square root, exactly as `sysbench cpu` does, so events/s are comparable with it. `threads`
//! workers run events until `events` have run in total or `time_s` has passed.

use crate::{Outcome, ParamError, Params};
use sandbench_protocol::Metric;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub struct CpuParams {
    pub threads: usize,
    pub max_prime: u64,
    /// Total events to run; 0 means run for `time_s`.
    pub events: u64,
    pub time_s: f64,
}

impl CpuParams {
    pub fn parse(p: &Params) -> Result<Self, ParamError> {
        p.only(&["threads", "max_prime", "events", "time_s"])?;
        let events = p.u64_in("events", 0, 0, 1 << 40)?;
        Ok(CpuParams {
            threads: p.u64_in("threads", 1, 1, 1024)? as usize,
            max_prime: p.u64_in("max_prime", 10_000, 3, 1 << 32)?,
            events,
            time_s: p.f64_in("time_s", if events == 0 { 10.0 } else { 0.0 }, 0.0, 86_400.0)?,
        })
    }
}

/// `a % b` with the CPU's 64-bit division, as sysbench's `unsigned long long` loop compiles
/// (gcc). LLVM would otherwise test at run time whether both fit in 32 bits and divide in 32
/// bits (its x86-64 tuning for slow 64-bit division): always true for these numbers, and much
/// faster on CPUs whose 64-bit `div` is slow, which made sandbench's events/s 1.41× sysbench's
/// on an Intel Xeon host and 1.01× on an AMD EPYC one (docs/BENCHMARKS.md); now 0.99–1.00.
#[inline(always)]
fn rem64(a: u64, b: u64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let rem: u64;
        // SAFETY: `div` divides rdx:rax by the operand; rdx is 0, so the quotient (in rax)
        // cannot overflow, and the divisor is at least 2 (the loop starts there). It touches
        // no memory and no stack.
        unsafe {
            core::arch::asm!("div {b}", b = in(reg) b, inout("rax") a => _, inout("rdx") 0u64 => rem,
                options(pure, nomem, nostack));
        }
        rem
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a % b
    }
}

/// Counts primes in `3..max_prime` the way sysbench's cpu test does, operation for operation
/// (sysbench 1.0 `cpu_execute_event`): the bound is the `double` square root and every step
/// compares the 64-bit divisor, converted, with it (`l <= t`), then divides in 64 bits
/// ([`rem64`]).
///
/// Never inlined: the cpu loop and a load scenario's cpu query then run the very same machine
/// code (an inlined copy's alignment alone moved an event's time by 4 %).
#[inline(never)]
pub fn prime_event(max_prime: u64) -> u64 {
    let mut n = 0;
    for c in 3..max_prime {
        let t = (c as f64).sqrt();
        let mut l: u64 = 2;
        // gcc converts the unsigned divisor with one signed conversion while it is below
        // 2^63 (always, here); LLVM's unsigned conversion is a longer sequence.
        while (l as i64) as f64 <= t {
            // gcc turns the first step's `c % 2` into a bit test (sysbench's binary does it).
            let divisible = if l == 2 { c & 1 == 0 } else { rem64(c, l) == 0 };
            if divisible {
                break;
            }
            l += 1;
        }
        if (l as i64) as f64 > t {
            n += 1;
        }
    }
    n
}

pub fn run(p: &CpuParams) -> Outcome {
    let issued = AtomicU64::new(0);
    let deadline = (p.time_s > 0.0).then(|| Instant::now() + Duration::from_secs_f64(p.time_s));
    let start = Instant::now();
    let per_thread: Vec<(Vec<f64>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..p.threads)
            .map(|_| {
                s.spawn(|| {
                    let mut lat = Vec::new();
                    let mut primes = 0;
                    loop {
                        if p.events > 0 && issued.fetch_add(1, Ordering::Relaxed) >= p.events {
                            break;
                        }
                        if deadline.is_some_and(|d| Instant::now() >= d) {
                            break;
                        }
                        let t0 = Instant::now();
                        primes = std::hint::black_box(prime_event(std::hint::black_box(p.max_prime)));
                        lat.push(t0.elapsed().as_secs_f64() * 1e3);
                    }
                    (lat, primes)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let total_s = start.elapsed().as_secs_f64();
    let primes = per_thread.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let lat: Vec<f64> = per_thread.into_iter().flat_map(|(l, _)| l).collect();
    let events = lat.len() as f64;
    let mut m = sandbench_protocol::Metrics::new();
    m.insert("events".into(), Metric::new(events, "events"));
    m.insert("events_per_s".into(), Metric::new(if total_s > 0.0 { events / total_s } else { 0.0 }, "events/s"));
    m.insert("total_time".into(), Metric::new(total_s * 1e3, "ms"));
    crate::latency::insert_summary(&mut m, "latency", lat, "ms");
    Outcome {
        metrics: m,
        outputs: serde_json::json!({ "primes_per_event": primes, "threads": p.threads, "max_prime": p.max_prime }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prime_count_matches_known_values() {
        // pi(10000) = 1229 primes, sysbench counts from 3 so 2 is excluded.
        assert_eq!(prime_event(10_000), 1228);
        assert_eq!(prime_event(100), 24);
    }

    #[test]
    fn fixed_event_count_runs_exactly_that_many() {
        let p = CpuParams { threads: 2, max_prime: 2000, events: 50, time_s: 0.0 };
        let out = run(&p);
        assert_eq!(out.metrics["events"].value, 50.0);
        assert!(out.metrics["events_per_s"].value > 0.0);
        assert_eq!(out.outputs["primes_per_event"], json!(302));
    }

    #[test]
    fn params_are_checked() {
        let map = json!({"threads": 0}).as_object().cloned().unwrap_or_default();
        assert!(CpuParams::parse(&Params::new(&map)).is_err());
        let map = json!({"treads": 2}).as_object().cloned().unwrap_or_default();
        let err = CpuParams::parse(&Params::new(&map)).unwrap_err().to_string();
        assert!(err.contains("valid parameters: threads"), "{err}");
    }
}
