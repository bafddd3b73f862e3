//! The accept loop both host-side peers share (`net::Peer`, `transfer::Receiver`): a listener on
//! a free port, each connection handled on a thread of its own (so stopping never waits for a
//! silent client), a bounded number at once, and a clean stop when dropped.

use rustix::event::{eventfd, poll, EventfdFlags, PollFd, PollFlags};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a connection may stay silent before its read fails and the handler ends.
pub const IDLE: Duration = Duration::from_secs(60);

/// How much one server may take from the host, whatever its clients do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Connections served at once; more are closed unanswered.
    pub connections: usize,
    /// Longest a connection may last; it is shut down then, wherever it is.
    pub session: Duration,
}

/// A listening server; stops accepting when dropped, and shuts down every live connection.
///
/// The accept loop sleeps in `poll(2)` until a client connects, a session reaches its limit,
/// a handler finishes or the server is dropped: it wakes on no timer of its own (but for a
/// 20 ms rest after `accept` fails). An idle peer that polled every 20 ms took 10–23 % off a
/// pinned 4 KiB stream on a 2-core host, iperf3's as much as sandbench's (issue 29,
/// docs/BENCHMARKS.md); the peer lives beside every `net` and `transfer` trial.
pub struct Server {
    pub addr: SocketAddr,
    signal: Arc<Signal>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What wakes the accept loop besides a client: a handler that finished (so its connection is
/// closed at once) or the server being dropped.
struct Signal {
    fd: OwnedFd,
    stop: AtomicBool,
}

impl Signal {
    fn new() -> std::io::Result<Signal> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Signal { fd, stop: AtomicBool::new(false) })
    }

    /// Wakes the loop (an eventfd add: it fails only if the counter would overflow).
    fn ring(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// Clears what rang, so the next `poll` sleeps again.
    fn clear(&self) {
        let _ = rustix::io::read(&self.fd, &mut [0u8; 8]);
    }
}

/// A live connection the accept loop watches: when it must end (none once it has been cut, or
/// for a session limit too far off to add to now), a handle to shut it down, and whether its
/// handler has finished.
struct Live {
    deadline: Option<Instant>,
    conn: TcpStream,
    done: Arc<AtomicBool>,
}

impl Server {
    /// Listens on `ip` with a free port and runs `handle` for each connection (blocking, with
    /// TCP_NODELAY and an [`IDLE`] read timeout), within `limits`.
    pub fn start(
        ip: std::net::IpAddr,
        name: &str,
        limits: Limits,
        handle: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind((ip, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let signal = Arc::new(Signal::new()?);
        let rung = signal.clone();
        let handle: Arc<dyn Fn(TcpStream) + Send + Sync> = Arc::new(handle);
        let conn_name = format!("{name}-conn");
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || accept_loop(&listener, &rung, limits, &conn_name, &handle))?;
        Ok(Server { addr, signal, thread: Some(thread) })
    }
}

/// Serves until the server is dropped: waits for the next event, lets go of finished
/// connections, cuts sessions past their limit, accepts what is waiting; then shuts down every
/// live connection.
fn accept_loop(
    listener: &TcpListener,
    signal: &Arc<Signal>,
    limits: Limits,
    conn_name: &str,
    handle: &Arc<dyn Fn(TcpStream) + Send + Sync>,
) {
    let mut live: Vec<Live> = Vec::new();
    loop {
        let woke = wait(listener, signal, next_deadline(&live));
        if matches!(woke, Wake::Stop) {
            break;
        }
        live.retain(|l| !l.done.load(Ordering::SeqCst));
        cut_expired(&mut live);
        if matches!(woke, Wake::Connection) {
            accept_waiting(listener, &mut live, limits, conn_name, handle, signal);
        }
    }
    for l in &live {
        let _ = l.conn.shutdown(Shutdown::Both);
    }
}

/// Why the accept loop woke.
enum Wake {
    Connection,
    /// A session limit came, or a handler finished.
    Other,
    Stop,
}

/// Sleeps in `poll(2)` on the listener and the signal, at most until `deadline`.
fn wait(listener: &TcpListener, signal: &Signal, deadline: Option<Instant>) -> Wake {
    // Rounded up, so a deadline is never woken for a moment early and polled again at once.
    let timeout = deadline.map_or(-1, |d| {
        let left = d.saturating_duration_since(Instant::now());
        i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
    });
    let mut fds = [PollFd::new(listener, PollFlags::IN), PollFd::new(&signal.fd, PollFlags::IN)];
    let polled = poll(&mut fds, timeout);
    let (client, rang) = (!fds[0].revents().is_empty(), !fds[1].revents().is_empty());
    if rang {
        signal.clear();
    }
    match polled {
        Err(rustix::io::Errno::INTR) => Wake::Other,
        // poll itself failing leaves nothing to wait on: stop rather than spin.
        Err(_) => Wake::Stop,
        Ok(_) if signal.stop.load(Ordering::SeqCst) => Wake::Stop,
        Ok(_) if client => Wake::Connection,
        Ok(_) => Wake::Other,
    }
}

/// The earliest session limit among connections not cut yet.
fn next_deadline(live: &[Live]) -> Option<Instant> {
    live.iter().filter_map(|l| l.deadline).min()
}

/// Shuts down every connection whose session limit has passed, once.
fn cut_expired(live: &mut [Live]) {
    let now = Instant::now();
    for l in live.iter_mut().filter(|l| l.deadline.is_some_and(|d| d <= now)) {
        let _ = l.conn.shutdown(Shutdown::Both);
        l.deadline = None;
    }
}

/// How long the loop rests after `accept` failed for a reason other than an empty queue (out
/// of descriptors, say): the listener stays readable then, and `poll` would return at once.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// Accepts every connection waiting; those beyond the bound are closed unanswered. Rests
/// [`ACCEPT_BACKOFF`] if `accept` fails for another reason than an empty queue, so a host out
/// of descriptors is not also spun at full CPU.
fn accept_waiting(
    listener: &TcpListener,
    live: &mut Vec<Live>,
    limits: Limits,
    conn_name: &str,
    handle: &Arc<dyn Fn(TcpStream) + Send + Sync>,
    signal: &Arc<Signal>,
) {
    loop {
        match listener.accept() {
            Ok((conn, _)) if live.len() < limits.connections => {
                live.extend(serve(conn, conn_name, handle.clone(), limits.session, signal.clone()))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(_) => return std::thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

/// Starts the handler of one accepted connection on its own thread.
fn serve(
    conn: TcpStream,
    name: &str,
    handle: Arc<dyn Fn(TcpStream) + Send + Sync>,
    session: Duration,
    signal: Arc<Signal>,
) -> Option<Live> {
    let ready = conn.set_nonblocking(false).and_then(|_| conn.set_read_timeout(Some(IDLE)));
    ready.and_then(|_| conn.set_write_timeout(Some(IDLE))).and_then(|_| conn.set_nodelay(true)).ok()?;
    let watch = conn.try_clone().ok()?;
    let done = Arc::new(AtomicBool::new(false));
    let finished = done.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            handle(conn);
            finished.store(true, Ordering::SeqCst);
            // The loop holds a clone of the connection: it closes it now, not at its next wake.
            signal.ring();
        })
        .ok()?;
    Some(Live { deadline: Instant::now().checked_add(session), conn: watch, done })
}

impl Drop for Server {
    fn drop(&mut self) {
        self.signal.stop.store(true, Ordering::SeqCst);
        self.signal.ring();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Compares two secrets in time that depends on their length only.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh 256-bit secret, hex-encoded.
pub fn fresh_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut raw = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut raw)?;
    Ok(hex(&raw))
}

/// Lower-case hex of `bytes` (tokens, certificate digests).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the client's `token\n` line and checks it against `want`.
pub fn check_token(c: &mut impl std::io::Read, want: &str) -> std::io::Result<bool> {
    let mut line = vec![0u8; want.len() + 1];
    c.read_exact(&mut line)?;
    Ok(line.last() == Some(&b'\n') && same_secret(&line[..want.len()], want.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn connections_beyond_the_bound_are_closed_and_stopping_is_prompt() {
        let limits = Limits { connections: 1, session: Duration::from_secs(600) };
        let s = Server::start("127.0.0.1".parse().unwrap(), "t", limits, |mut c: TcpStream| {
            let mut b = [0u8; 1];
            // Holds its slot until the client speaks or the idle timeout.
            if c.read_exact(&mut b).is_ok() {
                let _ = c.write_all(&b);
            }
        })
        .unwrap();
        let _silent = TcpStream::connect(s.addr).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut second = TcpStream::connect(s.addr).unwrap();
        second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = second.write_all(b"x");
        let mut b = [0u8; 1];
        // Closed unanswered: the one slot is taken.
        assert!(!matches!(second.read(&mut b), Ok(1)));
        let t = Instant::now();
        drop(s);
        assert!(t.elapsed() < Duration::from_secs(2), "stopping waited {:?}", t.elapsed());
    }

    #[test]
    fn a_session_is_cut_at_its_time_limit() {
        let limits = Limits { connections: 4, session: Duration::from_millis(300) };
        let s = Server::start("127.0.0.1".parse().unwrap(), "t", limits, |mut c: TcpStream| {
            let mut b = [0u8; 1];
            while c.read(&mut b).map(|n| n > 0).unwrap_or(false) {}
        })
        .unwrap();
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let t = Instant::now();
        let mut b = [0u8; 1];
        // The server shuts the connection down: the read ends (0 bytes or reset) long before 10 s.
        let _ = c.read(&mut b);
        assert!(t.elapsed() < Duration::from_secs(5), "the session lasted {:?}", t.elapsed());
    }

    /// Voluntary context switches of this process's thread named `name` (its `comm`).
    fn wakeups_of(name: &str) -> u64 {
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            if std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim() == name {
                let status = std::fs::read_to_string(task.path().join("status")).unwrap();
                let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:")).unwrap();
                return line.split_whitespace().nth(1).unwrap().parse().unwrap();
            }
        }
        panic!("no thread named {name}");
    }

    #[test]
    fn the_accept_loop_sleeps_while_nothing_happens() {
        // Issue 29: an accept loop that polled every 20 ms slowed the very stream it served.
        // Idle, and with a connection live within its session, the loop's thread must not wake
        // (polling at 20 ms would have woken it about 25 times in each half second).
        let limits = Limits { connections: 4, session: Duration::from_secs(600) };
        let s = Server::start("127.0.0.1".parse().unwrap(), "sb-quiet", limits, |mut c: TcpStream| {
            let mut b = [0u8; 1];
            while c.read(&mut b).map(|n| n > 0).unwrap_or(false) {
                let _ = c.write_all(&b);
            }
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let idle = wakeups_of("sb-quiet");
        std::thread::sleep(Duration::from_millis(500));
        assert!(wakeups_of("sb-quiet") - idle <= 2, "the idle loop woke {} times", wakeups_of("sb-quiet") - idle);
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        let serving = wakeups_of("sb-quiet");
        std::thread::sleep(Duration::from_millis(500));
        assert!(wakeups_of("sb-quiet") - serving <= 2, "the loop woke {} times", wakeups_of("sb-quiet") - serving);
        let t = Instant::now();
        drop(s);
        assert!(t.elapsed() < Duration::from_secs(2), "stopping waited {:?}", t.elapsed());
        // Dropping shut the live connection down.
        assert!(!matches!(c.read(&mut b), Ok(1)));
    }

    #[test]
    fn a_handler_that_returns_closes_its_connection_at_once() {
        // The loop keeps a clone of each connection; a finished handler wakes it to let go,
        // or the client would wait for its own timeout (60 s in the peers' clients).
        let limits = Limits { connections: 4, session: Duration::from_secs(600) };
        let s = Server::start("127.0.0.1".parse().unwrap(), "t", limits, |_c: TcpStream| {}).unwrap();
        let mut c = TcpStream::connect(s.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let t = Instant::now();
        let mut b = [0u8; 1];
        assert!(matches!(c.read(&mut b), Ok(0)), "the connection was closed, not reset or timed out");
        assert!(t.elapsed() < Duration::from_secs(5), "closed after {:?}", t.elapsed());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abcd", b"abcd"));
        assert!(!same_secret(b"abcd", b"abce") && !same_secret(b"abc", b"abcd"));
        let mut ok = "t0k\n".as_bytes();
        assert!(check_token(&mut ok, "t0k").unwrap());
        let mut bad = "t0x\n".as_bytes();
        assert!(!check_token(&mut bad, "t0k").unwrap());
    }
}
