//! A source polled on its own thread into a [`Ledger`], for the whole run.

use crate::{Domain, Ledger, PowerError, Reading, Source, Window};
use sandbench_spec::power::PowerSourceKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// At most this many readings are kept (an hour at 100 Hz with room to spare); the runner
/// forgets what is older than the trial it measures.
pub const HISTORY: usize = 1 << 19;

enum Request {
    /// Poll now and say when done.
    Now(Sender<()>),
}

/// Polls a source every `interval` until dropped.
pub struct Meter {
    requests: Option<Sender<Request>>,
    handle: Option<JoinHandle<()>>,
    ledger: Arc<Mutex<Ledger>>,
    error: Arc<Mutex<Option<String>>>,
    own_cpu_us: Arc<AtomicU64>,
    polls: Arc<AtomicU64>,
    describe: String,
    kind: PowerSourceKind,
    domains: Vec<Domain>,
}

impl Meter {
    pub fn start(mut source: Box<dyn Source>, interval: Duration) -> Meter {
        let domains = source.domains().to_vec();
        let ledger = Arc::new(Mutex::new(Ledger::new(Instant::now(), domains.len(), HISTORY)));
        let error = Arc::new(Mutex::new(None));
        let own_cpu_us = Arc::new(AtomicU64::new(0));
        let polls = Arc::new(AtomicU64::new(0));
        let (tx, rx) = mpsc::channel::<Request>();
        let (describe, kind) = (source.describe(), source.kind());
        let (l, err, cpu, n) = (ledger.clone(), error.clone(), own_cpu_us.clone(), polls.clone());
        let handle = std::thread::Builder::new()
            .name("sandbench-power".into())
            .spawn(move || {
                let cpu0 = crate::thread_cpu_ms();
                let mut buf = Vec::new();
                let mut next = Instant::now();
                loop {
                    let ack = match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                        Ok(Request::Now(ack)) => Some(ack),
                        Err(RecvTimeoutError::Timeout) => {
                            next += interval;
                            if next < Instant::now() {
                                next = Instant::now() + interval;
                            }
                            None
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if let Err(e) = poll_into(source.as_mut(), &mut buf, &l) {
                        tracing::warn!("power source stopped: {e}");
                        *err.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
                        break;
                    }
                    n.fetch_add(1, Ordering::Relaxed);
                    cpu.store(((crate::thread_cpu_ms() - cpu0) * 1e3) as u64, Ordering::Relaxed);
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                }
            })
            .ok();
        Meter { requests: Some(tx), handle, ledger, error, own_cpu_us, polls, describe, kind, domains }
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    pub fn kind(&self) -> PowerSourceKind {
        self.kind
    }

    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// Takes a reading now (a sysfs source) and returns once it is in the ledger, so that a
    /// trial's edges fall on readings rather than between two polls.
    pub fn mark(&self) {
        let (ack, done) = mpsc::channel();
        if let Some(tx) = &self.requests {
            if tx.send(Request::Now(ack)).is_ok() {
                let _ = done.recv_timeout(Duration::from_secs(2));
            }
        }
    }

    /// Energy between two instants, once the ledger has a reading at or after `to` (a meter
    /// that prints on its own clock may be a reading behind), waiting at most `patience`.
    pub fn window(&self, from: Instant, to: Instant, patience: Duration) -> Window {
        let give_up = Instant::now() + patience;
        let mut marked = false;
        loop {
            let l = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
            let reached = l.last_t().is_some_and(|t| l.epoch() + Duration::from_secs_f64(t) >= to);
            if reached || (marked && Instant::now() >= give_up) || self.error().is_some() {
                return l.window(from, to);
            }
            drop(l);
            if marked {
                std::thread::sleep(Duration::from_millis(5));
            }
            // A sysfs source is read at once; a meter's next line may take a period.
            self.mark();
            marked = true;
        }
    }

    /// Readings older than `at` are no longer needed.
    pub fn forget_before(&self, at: Instant) {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner()).forget_before(at);
    }

    /// Why the source stopped, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// CPU time the polling thread has used, in ms, and how many polls it made.
    pub fn cost(&self) -> (f64, u64) {
        (self.own_cpu_us.load(Ordering::Relaxed) as f64 / 1e3, self.polls.load(Ordering::Relaxed))
    }
}

fn poll_into(source: &mut dyn Source, buf: &mut Vec<Reading>, ledger: &Mutex<Ledger>) -> Result<(), PowerError> {
    buf.clear();
    source.poll(buf)?;
    let mut l = ledger.lock().unwrap_or_else(|p| p.into_inner());
    for r in buf.iter() {
        l.push(r);
    }
    Ok(())
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
