//! The accept loop both host-side peers share (`net::Peer`, `transfer::Receiver`): a listener on
//! a free port, each connection handled on a thread of its own (so stopping never waits for a
//! silent client), a bounded number at once, and a clean stop when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Longest a connection may stay silent before its read fails and the handler ends.
pub const IDLE: Duration = Duration::from_secs(60);

/// A listening server; stops accepting when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Listens on `ip` with a free port and runs `handle` for each connection (blocking, with
    /// TCP_NODELAY and an [`IDLE`] read timeout), at most `max` at once: more are closed.
    pub fn start(
        ip: std::net::IpAddr,
        name: &str,
        max: usize,
        handle: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind((ip, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = Arc::new(handle);
        let live = Arc::new(AtomicUsize::new(0));
        let conn_name = format!("{name}-conn");
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) if live.load(Ordering::SeqCst) < max => {
                        let ready = conn.set_nonblocking(false).and_then(|_| conn.set_read_timeout(Some(IDLE)));
                        if ready.and_then(|_| conn.set_nodelay(true)).is_err() {
                            continue;
                        }
                        live.fetch_add(1, Ordering::SeqCst);
                        let (live, handle) = (live.clone(), handle.clone());
                        let done = live.clone();
                        let spawned = std::thread::Builder::new().name(conn_name.clone()).spawn(move || {
                            handle(conn);
                            live.fetch_sub(1, Ordering::SeqCst);
                        });
                        if spawned.is_err() {
                            done.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
        Ok(Server { addr, stop, thread: Some(thread) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    #[test]
    fn connections_beyond_the_bound_are_closed_and_stopping_is_prompt() {
        let s = Server::start("127.0.0.1".parse().unwrap(), "t", 1, |mut c: TcpStream| {
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
}
