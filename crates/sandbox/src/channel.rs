//! The host end of the agent protocol over any byte stream (pipe or serial console).

use sandbench_protocol::{encode, AgentMsg, Event, HostMsg, LineParser};
use sandbench_spec::{BootTimeline, Phase};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Lines of non-protocol output kept for failure reports.
const TAIL_LINES: usize = 40;
/// Longest console line kept in the tail (the rest is cut).
const TAIL_LINE_BYTES: usize = 512;
/// Protocol messages queued and not yet read. When full, the reader stops reading, so a guest
/// that floods (or a warm sandbox nobody reads) blocks on its own output instead of growing
/// the host's memory.
const QUEUE: usize = 32;
/// Bytes of output a sandbox may send outside protocol messages between two `run`s before it
/// counts as flooding: its trial fails and the sandbox is replaced.
pub const FLOOD_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("timed out after {0:.1} s")]
    Timeout(f64),
    #[error("the sandbox closed its channel (it exited or crashed)")]
    Closed,
    #[error("interrupted")]
    Cancelled,
    #[error("cannot write to the agent: {0}")]
    Write(std::io::Error),
    #[error("protocol version {got} is not {want}")]
    Version { got: u32, want: u32 },
    #[error("the sandbox flooded its channel: more than {} MiB of non-protocol output", FLOOD_BYTES >> 20)]
    Flooded,
}

/// Sends commands to an agent and receives its messages, with deadlines.
pub struct AgentChannel {
    /// Lines to the writer thread, which owns the sandbox's input: a guest that stops reading
    /// blocks that thread, never the caller (see [`AgentChannel::send_by`]).
    writer: mpsc::SyncSender<(Vec<u8>, mpsc::Sender<std::io::Result<()>>)>,
    rx: Receiver<AgentMsg>,
    tail: Arc<Mutex<VecDeque<String>>>,
    first_byte: Arc<OnceLock<Instant>>,
    /// Non-protocol bytes since the last [`AgentChannel::drain`].
    noise: Arc<AtomicU64>,
}

impl AgentChannel {
    /// Starts a reader thread on `reader`; `writer` carries commands.
    pub fn new(reader: impl Read + Send + 'static, writer: impl Write + Send + 'static) -> AgentChannel {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let first_byte = Arc::new(OnceLock::new());
        let noise = Arc::new(AtomicU64::new(0));
        let (t, fb, nz) = (tail.clone(), first_byte.clone(), noise.clone());
        let _ = std::thread::Builder::new().name("sandbench-channel".into()).spawn(move || {
            let mut reader = reader;
            let mut parser = LineParser::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let _ = fb.set(Instant::now());
                let events = parser.feed(&buf[..n]);
                let messages = events.iter().filter(|e| matches!(e, Event::Msg(_))).count();
                if messages == 0 {
                    nz.fetch_add(n as u64, Ordering::SeqCst);
                }
                for ev in events {
                    if !deliver(ev, &tx, &t) {
                        return;
                    }
                }
            }
            if let Some(ev) = parser.finish() {
                deliver(ev, &tx, &t);
            }
        });
        AgentChannel { writer: spawn_writer(writer), rx, tail, first_byte, noise }
    }

    /// Drops every message already queued (answers to nothing asked yet, or to an earlier
    /// trial) and resets the flood count; returns how many were dropped. Called before `run`.
    pub fn drain(&self) -> usize {
        self.noise.store(0, Ordering::SeqCst);
        std::iter::from_fn(|| self.rx.try_recv().ok()).count()
    }

    /// Sends `msg`, waiting at most 10 s for the sandbox to take it.
    pub fn send(&mut self, msg: &HostMsg) -> Result<(), ChannelError> {
        self.send_by(msg, Instant::now() + Duration::from_secs(10))
    }

    /// Sends `msg`; a sandbox that has not taken it by `deadline` (it stopped reading and its
    /// pipe is full) fails with a timeout, and the caller replaces the sandbox.
    pub fn send_by(&mut self, msg: &HostMsg, deadline: Instant) -> Result<(), ChannelError> {
        let (done_tx, done_rx) = mpsc::channel();
        let closed = || ChannelError::Write(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        let wait = deadline.saturating_duration_since(Instant::now());
        let timeout = || ChannelError::Timeout(wait.as_secs_f64());
        match self.writer.try_send((encode(msg).into_bytes(), done_tx)) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => return Err(timeout()),
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(closed()),
        }
        match done_rx.recv_timeout(wait) {
            Ok(r) => r.map_err(ChannelError::Write),
            Err(RecvTimeoutError::Timeout) => Err(timeout()),
            Err(RecvTimeoutError::Disconnected) => Err(closed()),
        }
    }

    /// Next message, waiting until `deadline`; checks `cancel` every 50 ms.
    pub fn recv(&self, deadline: Instant, cancel: &AtomicBool) -> Result<AgentMsg, ChannelError> {
        let start = Instant::now();
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(ChannelError::Cancelled);
            }
            if self.noise.load(Ordering::SeqCst) > FLOOD_BYTES {
                return Err(ChannelError::Flooded);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ChannelError::Timeout((now - start).as_secs_f64()));
            }
            match self.rx.recv_timeout((deadline - now).min(Duration::from_millis(50))) {
                Ok(m) => return Ok(m),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) if self.noise.load(Ordering::SeqCst) > FLOOD_BYTES => {
                    return Err(ChannelError::Flooded)
                }
                Err(RecvTimeoutError::Disconnected) => return Err(ChannelError::Closed),
            }
        }
    }

    /// The last lines the sandbox printed outside the protocol.
    pub fn console_tail(&self) -> Vec<String> {
        self.tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default()
    }

    /// Adds lines from elsewhere (e.g. the VMM's stderr) to the tail.
    pub fn note(&self, line: String) {
        push_tail(&self.tail, line);
    }

    /// Waits for `ready` (noting a VM's `init` on the way) and builds the boot timeline.
    /// `t0` is when the launch began; `spawned` when the runtime/VMM process had started.
    pub fn wait_ready(
        &self,
        t0: Instant,
        spawned: Instant,
        timeout: Duration,
        cancel: &AtomicBool,
        vm: bool,
    ) -> Result<BootTimeline, Stalled> {
        let ms = |t: Instant| t.duration_since(t0).as_secs_f64() * 1e3;
        let mut tl =
            BootTimeline { phases: vec![Phase { name: "spawned".into(), at_ms: ms(spawned) }], ..Default::default() };
        let deadline = t0 + timeout;
        loop {
            let msg = self.recv(deadline, cancel).map_err(|source| {
                let first_output = self.first_byte.get().map(|fb| ms(*fb));
                Stalled { source, reached: reached(first_output, &tl, vm) }
            })?;
            match msg {
                AgentMsg::Init { uptime_ms } => {
                    tl.phases.push(Phase { name: "init".into(), at_ms: ms(Instant::now()) });
                    tl.guest_uptime_at_init_ms = Some(uptime_ms);
                }
                AgentMsg::Ready { v, uptime_ms, clocksource, .. } => {
                    let now = Instant::now();
                    if v != sandbench_protocol::PROTOCOL_VERSION {
                        let source = ChannelError::Version { got: v, want: sandbench_protocol::PROTOCOL_VERSION };
                        return Err(Stalled { source, reached: "the agent answered `ready`".into() });
                    }
                    if let Some(fb) = self.first_byte.get() {
                        tl.phases.insert(1, Phase { name: "first_output".into(), at_ms: ms(*fb) });
                    }
                    tl.phases.push(Phase { name: "agent_ready".into(), at_ms: ms(now) });
                    tl.total_ms = ms(now);
                    tl.guest_clocksource = clocksource.filter(|c| c.len() < 64);
                    if vm {
                        tl.guest_uptime_at_ready_ms = Some(uptime_ms);
                    }
                    return Ok(tl);
                }
                _ => continue,
            }
        }
    }
}

/// Waits for the agent of a just-started sandbox; on failure the error carries the channel's
/// console tail and the last lines of the runtime's or VMM's stderr `log`.
pub fn await_agent(
    channel: &AgentChannel,
    spec: &crate::LaunchSpec,
    t0: Instant,
    spawned: Instant,
    log: &std::path::Path,
    vm: bool,
) -> Result<BootTimeline, crate::SandboxError> {
    await_agent_within(channel, spec, t0, spawned, log, vm, spec.boot_timeout)
}

/// [`await_agent`] with a timeout of its own (a KVM probe boot gives up sooner).
pub fn await_agent_within(
    channel: &AgentChannel,
    spec: &crate::LaunchSpec,
    t0: Instant,
    spawned: Instant,
    log: &std::path::Path,
    vm: bool,
    timeout: Duration,
) -> Result<BootTimeline, crate::SandboxError> {
    channel.wait_ready(t0, spawned, timeout, &spec.cancel, vm).map_err(|Stalled { source, reached }| {
        let mut tail = channel.console_tail();
        tail.extend(crate::process::log_tail(log, 20));
        crate::SandboxError::Boot { source, reached, console_tail: tail }
    })
}

/// A start whose agent did not become ready: why, and how far it got.
#[derive(Debug)]
pub struct Stalled {
    pub source: ChannelError,
    /// The last start-up phase seen, in words ([`reached`]).
    pub reached: String,
}

/// How far a start got, in words, from when its first byte of output came (ms since launch)
/// and the phases seen: a hung VM boot says whether the kernel printed anything and whether
/// the initramfs ran (only a VM has an init phase).
fn reached(first_output_ms: Option<f64>, tl: &BootTimeline, vm: bool) -> String {
    match (first_output_ms, tl.phases.iter().find(|p| p.name == "init")) {
        (_, Some(init)) => format!("the guest's init ran at {:.0} ms; no ready from the agent", init.at_ms),
        (Some(at), None) if vm => format!("first output at {at:.0} ms; no init and no ready"),
        (Some(at), None) => format!("first output at {at:.0} ms; no ready"),
        (None, None) => "no output at all".into(),
    }
}

/// The thread that writes to the sandbox, one line at a time, reporting each write's result.
fn spawn_writer(
    mut writer: impl Write + Send + 'static,
) -> mpsc::SyncSender<(Vec<u8>, mpsc::Sender<std::io::Result<()>>)> {
    let (tx, rx) = mpsc::sync_channel::<(Vec<u8>, mpsc::Sender<std::io::Result<()>>)>(1);
    let _ = std::thread::Builder::new().name("sandbench-channel-writer".into()).spawn(move || {
        for (line, done) in rx {
            let _ = done.send(writer.write_all(&line).and_then(|_| writer.flush()));
        }
    });
    tx
}

fn push_tail(tail: &Mutex<VecDeque<String>>, mut line: String) {
    if line.len() > TAIL_LINE_BYTES {
        line.truncate(sandbench_protocol::truncate(&line, TAIL_LINE_BYTES).len());
        line.push_str(" […]");
    }
    if let Ok(mut t) = tail.lock() {
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

/// Routes one parsed line; false when the receiving side is gone.
fn deliver(ev: Event, tx: &mpsc::SyncSender<AgentMsg>, tail: &Mutex<VecDeque<String>>) -> bool {
    match ev {
        Event::Msg(m) => tx.send(m).is_ok(),
        Event::Noise(line) => {
            if !line.trim().is_empty() {
                push_tail(tail, line);
            }
            true
        }
        Event::Malformed(why) => {
            push_tail(tail, format!("[malformed protocol line] {why}"));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel_over(bytes: Vec<u8>) -> AgentChannel {
        AgentChannel::new(std::io::Cursor::new(bytes), std::io::sink())
    }

    #[test]
    fn queued_messages_are_bounded_and_drained_before_a_run() {
        let line = encode_agent(&AgentMsg::Phase { id: 7, name: "x".into(), t_ms: 1.0 });
        let ch = channel_over(line.repeat(10_000).into_bytes());
        std::thread::sleep(Duration::from_millis(300));
        // The reader stopped at the bound instead of queueing all 10,000.
        let dropped = ch.drain();
        assert!((1..=QUEUE + 1).contains(&dropped), "{dropped} queued");
    }

    #[test]
    fn a_flood_of_console_output_fails_the_wait() {
        let noise = vec![b'x'; 1 << 20];
        let mut bytes = Vec::new();
        for _ in 0..(FLOOD_BYTES >> 20) + 2 {
            bytes.extend_from_slice(&noise);
            bytes.push(b'\n');
        }
        let ch = channel_over(bytes);
        let never = AtomicBool::new(false);
        let e = ch.recv(Instant::now() + Duration::from_secs(20), &never).unwrap_err();
        assert!(matches!(e, ChannelError::Flooded), "{e}");
        assert!(ch.console_tail().iter().all(|l| l.len() <= TAIL_LINE_BYTES + 8), "tail lines are cut");
    }

    /// A start that never says `ready` within the timeout, after `output`: how far it got.
    fn stall_after(output: &str, vm: bool) -> Stalled {
        use std::io::Write;
        let (read, mut write) = std::io::pipe().unwrap();
        write.write_all(output.as_bytes()).unwrap();
        let ch = AgentChannel::new(read, std::io::sink());
        let t0 = Instant::now();
        let never = AtomicBool::new(false);
        let stalled = ch.wait_ready(t0, t0, Duration::from_millis(300), &never, vm).unwrap_err();
        drop(write);
        stalled
    }

    #[test]
    fn a_start_that_times_out_says_how_far_it_got() {
        let none = stall_after("", true);
        assert!(matches!(none.source, ChannelError::Timeout(_)), "{}", none.source);
        assert_eq!(none.reached, "no output at all");
        let kernel = stall_after("[    0.7] x86: Booting SMP configuration:\n", true);
        assert!(kernel.reached.starts_with("first output at ") && kernel.reached.ends_with("no init and no ready"));
        let init = encode_agent(&AgentMsg::Init { uptime_ms: 1300.0 });
        let userspace = stall_after(&format!("kernel text\n{init}"), true);
        assert!(userspace.reached.starts_with("the guest's init ran at "), "{}", userspace.reached);
        // A container has no init phase to miss.
        assert!(stall_after("runc: starting\n", false).reached.ends_with("ms; no ready"));
    }

    fn encode_agent(m: &AgentMsg) -> String {
        format!("{}{}\n", sandbench_protocol::PREFIX, serde_json::to_string(m).unwrap())
    }

    #[test]
    fn a_sandbox_that_stops_reading_cannot_block_a_send_past_its_deadline() {
        // A socket nobody reads: writes block once its buffer is full.
        let (_reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut ch = AgentChannel::new(std::io::empty(), writer);
        let big = HostMsg::Run { id: 1, workload: "x".repeat(1 << 20), params: Default::default(), trial: 0 };
        let t = Instant::now();
        let e = ch.send_by(&big, Instant::now() + Duration::from_millis(500)).unwrap_err();
        assert!(matches!(e, ChannelError::Timeout(_)), "{e}");
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
}
