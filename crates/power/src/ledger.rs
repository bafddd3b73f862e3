//! Readings turned into cumulative energy per domain, so that the energy between any two
//! instants is a difference of two interpolated values. Pure: tested with made-up readings.

use crate::{Reading, Value};
use std::collections::VecDeque;
use std::time::Instant;

/// One reading, as cumulative joules per domain since the ledger's first reading.
#[derive(Debug, Clone)]
struct Point {
    /// Seconds since the ledger's epoch.
    t: f64,
    e: Vec<f64>,
    /// Some domain's raw value differed from the previous reading's.
    changed: bool,
    ambiguous: bool,
}

/// Energy over one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub seconds: f64,
    /// Per domain, in the source's domain order.
    pub energy_j: Vec<f64>,
    /// Per domain: the highest power of any interval between readings inside the window.
    pub power_max_w: Vec<f64>,
    /// Readings inside the window whose value changed: the source's updates.
    pub updates: u64,
    /// Readings inside the window after which a counter may have wrapped more than once.
    pub ambiguous: u64,
    /// False when the readings do not span the whole window (history pruned, meter stopped):
    /// the energy is then for the covered part only.
    pub covered: bool,
}

/// Cumulative energy per domain over time, holding at most `cap` readings.
#[derive(Debug)]
pub struct Ledger {
    epoch: Instant,
    domains: usize,
    points: VecDeque<Point>,
    last_raw: Vec<Option<Value>>,
    cap: usize,
    /// Readings dropped because they went back in time.
    pub out_of_order: u64,
}

impl Ledger {
    pub fn new(epoch: Instant, domains: usize, cap: usize) -> Ledger {
        Ledger {
            epoch,
            domains,
            points: VecDeque::new(),
            last_raw: vec![None; domains],
            cap: cap.max(2),
            out_of_order: 0,
        }
    }

    fn secs(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.epoch).as_secs_f64()
    }

    /// Seconds since the epoch of the latest reading.
    pub fn last_t(&self) -> Option<f64> {
        self.points.back().map(|p| p.t)
    }

    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Adds a reading. Watts count for the interval since the previous reading (what a meter
    /// that averages between prints reports); joule counters add their increase.
    pub fn push(&mut self, r: &Reading) {
        let t = self.secs(r.at);
        let (prev_t, mut e) = match self.points.back() {
            Some(p) if t < p.t => {
                self.out_of_order += 1;
                return;
            }
            Some(p) => (p.t, p.e.clone()),
            None => (t, vec![0.0; self.domains]),
        };
        let dt = t - prev_t;
        let mut changed = false;
        for (i, v) in r.values.iter().take(self.domains).enumerate() {
            let last = self.last_raw[i];
            changed |= r.fresh || last != Some(*v);
            match (*v, last) {
                (Value::Watts(w), Some(_)) => e[i] += w.max(0.0) * dt,
                (Value::Joules(j), Some(Value::Joules(before))) => e[i] += (j - before).max(0.0),
                // The first reading (or a switch of unit) is where the domain's count starts.
                _ => {}
            }
            self.last_raw[i] = Some(*v);
        }
        self.points.push_back(Point { t, e, changed, ambiguous: r.ambiguous });
        while self.points.len() > self.cap {
            self.points.pop_front();
        }
    }

    /// Drops readings older than `at`, keeping the last one at or before it.
    pub fn forget_before(&mut self, at: Instant) {
        let t = self.secs(at);
        while self.points.len() > 1 && self.points[1].t <= t {
            self.points.pop_front();
        }
    }

    /// Cumulative energy of every domain at `t`, linear between readings, clamped at the ends.
    fn energy_at(&self, t: f64) -> Vec<f64> {
        let i = self.points.partition_point(|p| p.t < t);
        match (i.checked_sub(1).and_then(|j| self.points.get(j)), self.points.get(i)) {
            (Some(a), Some(b)) if b.t > a.t => {
                let f = (t - a.t) / (b.t - a.t);
                a.e.iter().zip(&b.e).map(|(x, y)| x + (y - x) * f).collect()
            }
            (_, Some(b)) => b.e.clone(),
            (Some(a), None) => a.e.clone(),
            (None, None) => vec![0.0; self.domains],
        }
    }

    /// Energy between two instants.
    pub fn window(&self, from: Instant, to: Instant) -> Window {
        let (a, b) = (self.secs(from), self.secs(to));
        let (ea, eb) = (self.energy_at(a), self.energy_at(b));
        let covered = self.points.front().is_some_and(|p| p.t <= a) && self.points.back().is_some_and(|p| p.t >= b);
        let mut power_max_w = vec![0.0f64; self.domains];
        let (mut updates, mut ambiguous) = (0, 0);
        // Only the intervals between readings that overlap (a, b]: from the last reading at or
        // before `a` to the first at or after `b`, found by bisection (the power column asks for
        // a window per sample, over a history as long as the trial).
        let lo = self.points.partition_point(|p| p.t <= a).saturating_sub(1);
        let hi = (self.points.partition_point(|p| p.t < b) + 1).min(self.points.len());
        let span = self.points.range(lo..hi);
        for (p, q) in span.clone().zip(span.skip(1)) {
            if q.t <= a || p.t >= b {
                continue;
            }
            if q.t > p.t {
                for (d, m) in power_max_w.iter_mut().enumerate() {
                    *m = m.max((q.e[d] - p.e[d]) / (q.t - p.t));
                }
            }
            if q.t <= b {
                updates += u64::from(q.changed);
                ambiguous += u64::from(q.ambiguous);
            }
        }
        Window {
            seconds: (b - a).max(0.0),
            energy_j: ea.iter().zip(&eb).map(|(x, y)| (y - x).max(0.0)).collect(),
            power_max_w,
            updates,
            ambiguous,
            covered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(epoch: Instant, s: f64) -> Instant {
        epoch + Duration::from_secs_f64(s)
    }

    fn watts(epoch: Instant, s: f64, w: f64) -> Reading {
        Reading { at: at(epoch, s), values: vec![Value::Watts(w)], ambiguous: false, fresh: false }
    }

    #[test]
    fn watts_integrate_over_the_interval_before_each_reading() {
        let e = Instant::now();
        let mut l = Ledger::new(e, 1, 1000);
        // 4 W until 1 s, 9 W from 1 s to 2 s, 4 W after, one reading every 10 ms.
        for i in 0..=300 {
            let s = i as f64 / 100.0;
            l.push(&watts(e, s, if s > 1.0 && s <= 2.0 { 9.0 } else { 4.0 }));
        }
        let w = l.window(at(e, 1.0), at(e, 2.0));
        assert!((w.energy_j[0] - 9.0).abs() < 1e-9, "{w:?}");
        assert!((w.power_max_w[0] - 9.0).abs() < 1e-9);
        assert!(w.covered);
        // Half of a 10 ms interval at 4 W at each end: linear inside it.
        let w = l.window(at(e, 0.995), at(e, 2.005));
        assert!((w.energy_j[0] - (9.0 + 2.0 * 0.005 * 4.0)).abs() < 1e-9, "{w:?}");
        // Readings changed at 1.01 s and 2.01 s only.
        assert_eq!(l.window(at(e, 0.0), at(e, 3.0)).updates, 2);
    }

    #[test]
    fn joule_counters_add_their_increase_and_history_is_bounded() {
        let e = Instant::now();
        let mut l = Ledger::new(e, 2, 50);
        for i in 0..100 {
            let s = i as f64 * 0.1;
            let r = Reading {
                at: at(e, s),
                values: vec![Value::Joules(1000.0 + 5.0 * s), Value::Watts(2.0)],
                ambiguous: i == 80,
                fresh: false,
            };
            l.push(&r);
        }
        assert_eq!(l.len(), 50);
        let w = l.window(at(e, 6.0), at(e, 8.0));
        assert!((w.energy_j[0] - 10.0).abs() < 1e-9 && (w.energy_j[1] - 4.0).abs() < 1e-9, "{w:?}");
        assert_eq!(w.ambiguous, 1);
        // Before the kept history: only the covered part is counted, and it says so.
        let w = l.window(at(e, 1.0), at(e, 8.0));
        assert!(!w.covered);
        l.forget_before(at(e, 9.0));
        assert_eq!(l.len(), 10);
        // A reading back in time is dropped, not integrated.
        l.push(&watts(e, 1.0, 100.0));
        assert_eq!(l.out_of_order, 1);
    }
}
