//! The accept loop both host-side peers share (`net::Peer`, `transfer::Receiver`): a listener on
//! a free port, each connection handled on a thread of its own (so stopping never waits for a
//! silent client), a bounded number at once, and a clean stop when dropped.

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
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
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A live connection the accept loop watches: when it began, a handle to shut it down, and
/// whether its handler has finished.
struct Live {
    since: Instant,
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
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = Arc::new(handle);
        let conn_name = format!("{name}-conn");
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let mut live: Vec<Live> = Vec::new();
            while !flag.load(Ordering::SeqCst) {
                live.retain(|l| !l.done.load(Ordering::SeqCst));
                for l in live.iter().filter(|l| l.since.elapsed() > limits.session) {
                    let _ = l.conn.shutdown(Shutdown::Both);
                }
                match listener.accept() {
                    Ok((conn, _)) if live.len() < limits.connections => {
                        if let Some(l) = serve(conn, &conn_name, handle.clone()) {
                            live.push(l);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            for l in &live {
                let _ = l.conn.shutdown(Shutdown::Both);
            }
        })?;
        Ok(Server { addr, stop, thread: Some(thread) })
    }
}

/// Starts the handler of one accepted connection on its own thread.
fn serve(conn: TcpStream, name: &str, handle: Arc<dyn Fn(TcpStream) + Send + Sync>) -> Option<Live> {
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
        })
        .ok()?;
    Some(Live { since: Instant::now(), conn: watch, done })
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
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
