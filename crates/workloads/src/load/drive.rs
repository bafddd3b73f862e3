//! The query generator: issues queries as the scenario says, times each one, and sums them up
//! as the trial's metrics and a latency histogram the host can merge across sandboxes.

use super::{poisson_arrivals, Load, Scenario, MAX_QUERIES};
use crate::{Outcome, WorkloadError};
use sandbench_protocol::{Histogram, Metric, Metrics};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A workload that answers one query at a time, its model (if any) already loaded.
pub trait Queries {
    /// Runs one query to its end.
    fn query(&mut self) -> Result<(), WorkloadError>;
    /// Queries per query call that count as inferences (a batch of images), for energy per
    /// inference; 1 for most.
    fn inferences_per_query(&self) -> u64 {
        1
    }
    /// What the queries run (model, engine, input count), for the trial's outputs.
    fn describe(&self) -> Value {
        Value::Null
    }
}

/// What the generator measured.
#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    /// Queries dropped at a full queue (server) or frames skipped while busy (fixed rate).
    dropped: u64,
    /// Queries over the bound (server) or past the next frame's tick (fixed rate).
    late: u64,
    /// Frames the camera produced (fixed rate) or queries that arrived (server).
    offered: u64,
}

/// Runs `load` against `q` and returns the trial's outcome.
pub fn drive(load: &Load, q: &mut dyn Queries) -> Result<Outcome, WorkloadError> {
    crate::phase::mark(crate::phase::FIRST_INFERENCE);
    let t0 = Instant::now();
    let tally = match load.scenario {
        Scenario::SingleStream => single_stream(load.duration_s, q)?,
        Scenario::Server { rate, seed, latency_bound_ms, max_queue } => {
            let arrivals = poisson_arrivals(rate, seed, load.duration_s, MAX_QUERIES as usize);
            server(&arrivals, latency_bound_ms, max_queue, t0, q)?
        }
        Scenario::FixedRate { fps } => fixed_rate(fps, load.duration_s, t0, q)?,
        Scenario::Idle => {
            std::thread::sleep(Duration::from_secs_f64(load.duration_s));
            Tally::default()
        }
    };
    let window_s = t0.elapsed().as_secs_f64();
    Ok(outcome(load, tally, window_s, q))
}

fn single_stream(duration_s: f64, q: &mut dyn Queries) -> Result<Tally, WorkloadError> {
    let mut t = Tally::default();
    let end = Instant::now() + Duration::from_secs_f64(duration_s);
    while Instant::now() < end && (t.latencies.len() as u64) < MAX_QUERIES {
        let s = Instant::now();
        q.query()?;
        t.latencies.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.offered = t.latencies.len() as u64;
    Ok(t)
}

/// One worker serves arrivals in order; `outstanding` holds the finish times of admitted
/// queries (increasing, as they are served in order).
fn server(
    arrivals: &[f64],
    bound_ms: f64,
    max_queue: u64,
    t0: Instant,
    q: &mut dyn Queries,
) -> Result<Tally, WorkloadError> {
    let mut t = Tally { offered: arrivals.len() as u64, ..Tally::default() };
    let mut outstanding: VecDeque<f64> = VecDeque::new();
    for &at in arrivals {
        while outstanding.front().is_some_and(|&f| f <= at) {
            outstanding.pop_front();
        }
        if outstanding.len() as u64 >= max_queue {
            t.dropped += 1;
            continue;
        }
        sleep_until(t0, at);
        q.query()?;
        let finish = t0.elapsed().as_secs_f64();
        let ms = (finish - at) * 1e3;
        t.late += u64::from(ms > bound_ms);
        t.latencies.push(ms);
        outstanding.push_back(finish);
    }
    Ok(t)
}

/// A frame every `1/fps` s for `duration_s`; after each query the worker takes the next frame
/// that ticks after it finished.
fn fixed_rate(fps: f64, duration_s: f64, t0: Instant, q: &mut dyn Queries) -> Result<Tally, WorkloadError> {
    let period = 1.0 / fps;
    let frames = ((duration_s * fps).ceil() as u64).clamp(1, MAX_QUERIES);
    let mut t = Tally { offered: frames, ..Tally::default() };
    let mut k = 0u64;
    while k < frames {
        let tick = k as f64 * period;
        sleep_until(t0, tick);
        q.query()?;
        let finish = t0.elapsed().as_secs_f64();
        let ms = (finish - tick) * 1e3;
        t.late += u64::from(ms > period * 1e3);
        t.latencies.push(ms);
        // The next frame is the first tick at or after `finish`; those in between were skipped.
        let next = ((finish / period).ceil() as u64).max(k + 1).min(frames);
        t.dropped += next - k - 1;
        k = next;
    }
    Ok(t)
}

fn sleep_until(t0: Instant, at_s: f64) {
    let now = t0.elapsed().as_secs_f64();
    if at_s > now {
        std::thread::sleep(Duration::from_secs_f64(at_s - now));
    }
}

fn outcome(load: &Load, t: Tally, window_s: f64, q: &dyn Queries) -> Outcome {
    let n = t.latencies.len() as u64;
    let mut m = Metrics::new();
    let mut hist = Histogram::default();
    for &l in &t.latencies {
        hist.record(l);
    }
    crate::latency::insert_summary(&mut m, "latency", t.latencies, "ms");
    m.insert("queries".into(), Metric::new(n as f64, "queries"));
    m.insert("inferences".into(), Metric::new((n * q.inferences_per_query()) as f64, "inferences"));
    m.insert("query_rate".into(), Metric::new(n as f64 / window_s.max(1e-9), "queries/s"));
    m.insert("window_s".into(), Metric::new(window_s, "s"));
    match load.scenario {
        Scenario::Server { .. } => {
            m.insert("late".into(), Metric::new(t.late as f64, "queries"));
            m.insert("dropped".into(), Metric::new(t.dropped as f64, "queries"));
        }
        Scenario::FixedRate { .. } => {
            let missed = t.late + t.dropped;
            m.insert("skipped_frames".into(), Metric::new(t.dropped as f64, "frames"));
            m.insert("deadline_misses".into(), Metric::new(t.late as f64, "frames"));
            m.insert("miss_ratio".into(), Metric::new(missed as f64 / t.offered.max(1) as f64, "ratio"));
        }
        Scenario::SingleStream | Scenario::Idle => {}
    }
    let outputs = json!({
        "load": load,
        "offered": t.offered,
        "histogram": hist,
        "queries_ran": q.describe(),
    });
    Outcome { metrics: m, outputs }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test stand-in query that sleeps a fixed time.
    struct Sleep(Duration);
    impl Queries for Sleep {
        fn query(&mut self) -> Result<(), WorkloadError> {
            std::thread::sleep(self.0);
            Ok(())
        }
    }

    #[test]
    fn fixed_rate_counts_frames_missed_while_busy() {
        // 20 fps for 1 s, each query 70 ms: every query spans a tick, so it misses its
        // deadline and the frame that ticked meanwhile is skipped.
        let load = Load { scenario: Scenario::FixedRate { fps: 20.0 }, duration_s: 1.0 };
        let o = drive(&load, &mut Sleep(Duration::from_millis(70))).unwrap();
        let (ran, skipped, late) =
            (o.metrics["queries"].value, o.metrics["skipped_frames"].value, o.metrics["deadline_misses"].value);
        assert_eq!(ran + skipped, 20.0, "{ran} ran, {skipped} skipped");
        assert_eq!(late, ran);
        assert_eq!(o.metrics["miss_ratio"].value, 1.0);
        // Fast queries miss nothing.
        let o = drive(&load, &mut Sleep(Duration::from_millis(1))).unwrap();
        assert_eq!((o.metrics["queries"].value, o.metrics["miss_ratio"].value), (20.0, 0.0));
    }

    #[test]
    fn server_drops_at_a_full_queue_and_counts_late_queries() {
        let arrivals: Vec<f64> = (0..10).map(|i| i as f64 * 0.001).collect();
        let t = server(&arrivals, 15.0, 3, Instant::now(), &mut Sleep(Duration::from_millis(10))).unwrap();
        // Ten arrivals within 10 ms, each query 10 ms: three admitted, the rest dropped.
        assert_eq!((t.latencies.len(), t.dropped), (3, 7));
        assert!(t.late >= 1, "the third waited 20 ms: {:?}", t.latencies);
    }

    #[test]
    fn single_stream_records_every_query_in_the_histogram() {
        let load = Load { scenario: Scenario::SingleStream, duration_s: 0.2 };
        let o = drive(&load, &mut Sleep(Duration::from_millis(5))).unwrap();
        let h: Histogram = serde_json::from_value(o.outputs["histogram"].clone()).unwrap();
        assert_eq!(h.count() as f64, o.metrics["queries"].value);
        assert!(o.metrics["latency_p50"].value >= 5.0);
    }
}
