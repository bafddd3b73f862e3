//! `net`: netperf-style TCP from the sandbox to a peer inside sandbench on the host.
//!
//! - `stream` (TCP_STREAM): writes `msg_size` messages for `time_s`, closes its sending side,
//!   and reads back how many bytes the peer received: the two counts must match.
//! - `rr` (TCP_RR): one `msg_size` request and one `msg_size` response per transaction,
//!   latency per transaction.
//!
//! Both ends live here, so they are tested against each other: [`Peer`] is what the host runs
//! on its side of the sandbox's private link. The runner gives the agent the peer's address as
//! the `peer` parameter.
//!
//! `sender_cpu` and `receiver_cpu` pin the two ends to CPUs, as iperf3's `-A n,m` and netperf's
//! `-T` do. Unpinned (the default, as the tools'), where the scheduler puts the two ends decides
//! small-message throughput on a small host: on 2 cores, 4 KiB streams ran 2.5–4× faster with
//! both ends on one CPU than on two, in both tools (docs/BENCHMARKS.md, issue 29).

use crate::server::{check_token, fresh_token, Limits, Server, IDLE};
use crate::{Outcome, ParamError, Params, WorkloadError};
use sandbench_protocol::{Metric, Metrics};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const MODES: &[&str] = &["stream", "rr"];
const STREAM: u8 = b'S';
const RR: u8 = b'R';
/// Connections a peer serves at once; more are refused (bounded load).
const MAX_CONNECTIONS: usize = 16;
/// Buffer memory all of a peer's connections may hold together.
const BUFFER_BUDGET: usize = 64 << 20;
/// Largest read buffer of one `stream` connection (messages are read in their own size up to it).
const STREAM_CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct NetParams {
    pub mode: &'static str,
    pub msg_size: usize,
    pub time_s: f64,
    /// `ip:port` of the peer; set by the runner from the sandbox's link.
    pub peer: Option<String>,
    /// The peer's per-sandbox token; set by the runner.
    pub token: Option<String>,
    pub nodelay: bool,
    /// The CPU the sending thread runs on (iperf3 `-A n`), if pinned.
    pub sender_cpu: Option<u32>,
    /// The CPU the peer's receiving thread runs on (iperf3 `-A n,m`'s `m`), if pinned; the peer
    /// refuses a CPU its host does not have.
    pub receiver_cpu: Option<u32>,
}

/// Highest CPU number a pinned end may name (the kernel's `CPU_SETSIZE` - 1).
const MAX_CPU: u64 = 1023;
/// The hello's receiver CPU when the receiver is not pinned.
const UNPINNED: u32 = u32::MAX;
/// The peer's answer to the hello: ready, or it could not pin its receiving thread.
const READY: u8 = b'+';
const CANNOT_PIN: u8 = b'!';

impl NetParams {
    pub fn parse(p: &Params) -> Result<Self, ParamError> {
        p.only(&["mode", "msg_size", "time_s", "peer", "token", "nodelay", "sender_cpu", "receiver_cpu"])?;
        let cpu = |name: &str| -> Result<Option<u32>, ParamError> {
            Ok(if p.has(name) { Some(p.u64_in(name, 0, 0, MAX_CPU)? as u32) } else { None })
        };
        let mode = p.choice("mode", "stream", MODES)?;
        Ok(NetParams {
            mode,
            msg_size: p.size_in("msg_size", 1024, 1, 16 << 20)? as usize,
            time_s: p.f64_in("time_s", 10.0, 0.01, 3600.0)?,
            peer: p.string("peer")?,
            token: p.string("token")?,
            // netperf leaves Nagle on for streams and the RR test is latency-bound either way.
            nodelay: p.flag("nodelay", mode == "rr")?,
            sender_cpu: cpu("sender_cpu")?,
            receiver_cpu: cpu("receiver_cpu")?,
        })
    }
}

fn failed(what: &str, e: std::io::Error) -> WorkloadError {
    WorkloadError::Io { what: what.into(), source: e }
}

/// Pins the calling thread to `cpu`; a CPU beyond [`MAX_CPU`] or not on this host is refused.
fn pin_to(cpu: u32) -> std::io::Result<()> {
    if u64::from(cpu) > MAX_CPU {
        return Err(std::io::ErrorKind::InvalidInput.into());
    }
    let mut set = rustix::process::CpuSet::new();
    set.set(cpu as usize);
    rustix::process::sched_setaffinity(None, &set).map_err(std::io::Error::from)
}

/// Connects, pins the sender if asked, and says hello: the token, the mode, the message size
/// and the receiver's CPU. Waits for the peer's answer.
fn connect(p: &NetParams, addr: SocketAddr) -> Result<TcpStream, WorkloadError> {
    if let Some(cpu) = p.sender_cpu {
        pin_to(cpu).map_err(|e| failed(&format!("pin the sender to CPU {cpu} (sender_cpu)"), e))?;
    }
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| failed(&format!("connect {addr}"), e))?;
    s.set_nodelay(p.nodelay).map_err(|e| failed("TCP_NODELAY", e))?;
    s.set_read_timeout(Some(IDLE)).map_err(|e| failed("timeout", e))?;
    let mut hello = format!("{}\n", p.token.as_deref().unwrap_or_default()).into_bytes();
    hello.push(if p.mode == "rr" { RR } else { STREAM });
    hello.extend_from_slice(&(p.msg_size as u32).to_le_bytes());
    hello.extend_from_slice(&p.receiver_cpu.unwrap_or(UNPINNED).to_le_bytes());
    s.write_all(&hello).map_err(|e| failed("hello", e))?;
    let mut answer = [0u8; 1];
    s.read_exact(&mut answer).map_err(|e| failed("the peer's answer to the hello", e))?;
    match answer[0] {
        READY => Ok(s),
        _ => Err(WorkloadError::Check(format!(
            "the peer cannot pin its receiving thread to CPU {} (receiver_cpu): its host has no such CPU",
            p.receiver_cpu.unwrap_or(UNPINNED)
        ))),
    }
}

/// Runs one trial against the peer.
pub fn run(p: &NetParams) -> Result<Outcome, WorkloadError> {
    let peer = p.peer.as_deref().ok_or_else(|| {
        WorkloadError::NoPeer("no `peer`: this sandbox has no network link (the runner sets it up for `net`)".into())
    })?;
    let addr: SocketAddr =
        peer.parse().map_err(|_| WorkloadError::NoPeer(format!("`peer` = `{peer}` is not an ip:port")))?;
    let mut s = connect(p, addr)?;
    let buf = crate::scratch::AlignedBuf::new(p.msg_size, 7);
    let mut m = Metrics::new();
    let limit = Duration::from_secs_f64(p.time_s);
    let outputs = if p.mode == "stream" {
        let start = Instant::now();
        let mut sent = 0u64;
        let mut messages = 0u64;
        while start.elapsed() < limit {
            s.write_all(buf.as_ref()).map_err(|e| failed("send", e))?;
            sent += p.msg_size as u64;
            messages += 1;
        }
        s.shutdown(Shutdown::Write).map_err(|e| failed("shutdown", e))?;
        let mut count = [0u8; 8];
        s.read_exact(&mut count).map_err(|e| failed("read the peer's byte count", e))?;
        let elapsed = start.elapsed().as_secs_f64();
        let received = u64::from_le_bytes(count);
        if received != sent {
            return Err(WorkloadError::Check(format!("sent {sent} bytes but the peer received {received}")));
        }
        m.insert("mbit_per_s".into(), Metric::new(sent as f64 * 8.0 / 1e6 / elapsed, "Mb/s"));
        m.insert("bytes".into(), Metric::new(sent as f64, "B"));
        m.insert("messages".into(), Metric::new(messages as f64, "msgs"));
        m.insert("total_time".into(), Metric::new(elapsed * 1e3, "ms"));
        serde_json::json!({ "peer": peer, "mode": p.mode, "msg_size": p.msg_size, "bytes_sent": sent, "bytes_received_by_peer": received })
    } else {
        let mut reply = vec![0u8; p.msg_size];
        let mut lat = Vec::new();
        let start = Instant::now();
        while start.elapsed() < limit {
            let t0 = Instant::now();
            s.write_all(buf.as_ref()).map_err(|e| failed("request", e))?;
            s.read_exact(&mut reply).map_err(|e| failed("response", e))?;
            lat.push(t0.elapsed().as_secs_f64() * 1e6);
            if reply != buf.as_ref() {
                return Err(WorkloadError::Check("the peer's response differs from the request".into()));
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        let _ = s.shutdown(Shutdown::Write);
        m.insert("transactions_per_s".into(), Metric::new(lat.len() as f64 / elapsed, "trans/s"));
        m.insert("transactions".into(), Metric::new(lat.len() as f64, "trans"));
        m.insert("total_time".into(), Metric::new(elapsed * 1e3, "ms"));
        crate::latency::insert_summary(&mut m, "lat", lat, "us");
        serde_json::json!({ "peer": peer, "mode": p.mode, "msg_size": p.msg_size })
    };
    Ok(Outcome { metrics: m, outputs })
}

/// The host side: accepts connections on one address and serves `stream` and `rr` until
/// dropped. Bounded: a token per sandbox (compared in constant time), at most
/// [`MAX_CONNECTIONS`] connections at once, [`BUFFER_BUDGET`] of buffers among them, each
/// connection dropped after 60 s of silence or when its session limit passes.
pub struct Peer {
    pub addr: SocketAddr,
    pub token: String,
    _server: Server,
}

impl Peer {
    /// Listens on `ip` with a free port; a connection lasts at most `session`.
    pub fn start(ip: std::net::IpAddr, session: Duration) -> std::io::Result<Peer> {
        let token = fresh_token()?;
        let want = token.clone();
        let budget = std::sync::Arc::new(Budget(std::sync::atomic::AtomicUsize::new(BUFFER_BUDGET)));
        let limits = Limits { connections: MAX_CONNECTIONS, session };
        let server = Server::start(ip, "sandbench-peer", limits, move |mut c| {
            if let Ok(true) = check_token(&mut c, &want) {
                let _ = serve(c, &budget);
            }
        })?;
        Ok(Peer { addr: server.addr, token, _server: server })
    }
}

/// Bytes of buffer the peer's connections may still take.
struct Budget(std::sync::atomic::AtomicUsize);

impl Budget {
    fn take(&self, n: usize) -> Option<Taken<'_>> {
        use std::sync::atomic::Ordering::SeqCst;
        self.0.fetch_update(SeqCst, SeqCst, |left| left.checked_sub(n)).ok().map(|_| Taken(self, n))
    }
}

/// A share of the [`Budget`], given back when dropped.
struct Taken<'a>(&'a Budget, usize);

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        self.0 .0.fetch_add(self.1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn serve(mut c: TcpStream, budget: &Budget) -> std::io::Result<()> {
    let mut hello = [0u8; 9];
    c.read_exact(&mut hello)?;
    let size = u32::from_le_bytes([hello[1], hello[2], hello[3], hello[4]]) as usize;
    // This is the connection's own thread: pinning it moves nothing else of the host's.
    match u32::from_le_bytes([hello[5], hello[6], hello[7], hello[8]]) {
        UNPINNED => c.write_all(&[READY])?,
        cpu if pin_to(cpu).is_ok() => c.write_all(&[READY])?,
        _ => return c.write_all(&[CANNOT_PIN]),
    }
    let over = || std::io::Error::other("the peer's buffer budget is spent");
    match hello[0] {
        STREAM => {
            let len = size.clamp(1, STREAM_CHUNK);
            let _share = budget.take(len).ok_or_else(over)?;
            // Receive in messages of the sender's size, as iperf3 does: the receiver's read
            // size shapes the ACK pattern, and with it small-message throughput under Nagle.
            // (iperf3 also waits in `pselect6` before each read; measured with ends pinned at
            // 4 KiB, that wait changed nothing decidable: docs/BENCHMARKS.md.)
            let mut buf = vec![0u8; len];
            let mut total = 0u64;
            loop {
                match c.read(&mut buf)? {
                    0 => break,
                    n => total += n as u64,
                }
            }
            c.write_all(&total.to_le_bytes())
        }
        RR if size <= 16 << 20 => {
            let _share = budget.take(size).ok_or_else(over)?;
            let mut msg = vec![0u8; size];
            loop {
                match c.read_exact(&mut msg) {
                    Ok(()) => c.write_all(&msg)?,
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> NetParams {
        let map = v.as_object().cloned().unwrap_or_default();
        NetParams::parse(&Params::new(&map)).unwrap()
    }

    fn peer() -> Peer {
        Peer::start("127.0.0.1".parse().unwrap(), Duration::from_secs(60)).unwrap()
    }

    #[test]
    fn a_stream_moves_bytes_the_peer_confirms() {
        let peer = peer();
        let o =
            run(&params(json!({"msg_size": 64, "time_s": 0.2, "peer": peer.addr.to_string(), "token": peer.token})))
                .unwrap();
        assert!(o.metrics["bytes"].value > 0.0);
        assert_eq!(o.metrics["bytes"].value, o.metrics["messages"].value * 64.0);
        assert_eq!(o.outputs["bytes_sent"], o.outputs["bytes_received_by_peer"]);
        assert!(o.metrics["mbit_per_s"].value > 0.0);
    }

    #[test]
    fn a_stream_of_large_messages_ends_on_a_whole_message() {
        // 1 MiB messages fill the socket's buffer at once: writes come back partial and
        // would-block, and the stream still ends on a whole message the peer counted.
        let peer = peer();
        let o =
            run(&params(json!({"msg_size": "1M", "time_s": 0.3, "peer": peer.addr.to_string(), "token": peer.token})))
                .unwrap();
        assert!(o.metrics["messages"].value >= 1.0, "{:?}", o.metrics);
        assert_eq!(o.metrics["bytes"].value, o.metrics["messages"].value * (1 << 20) as f64);
        assert_eq!(o.outputs["bytes_sent"], o.outputs["bytes_received_by_peer"]);
    }

    #[test]
    fn request_response_measures_latency() {
        let peer = peer();
        let o = run(&params(
            json!({"mode": "rr", "msg_size": "1K", "time_s": 0.2, "peer": peer.addr.to_string(), "token": peer.token}),
        ))
        .unwrap();
        assert!(o.metrics["transactions"].value > 10.0, "{:?}", o.metrics);
        assert!(o.metrics["lat_p99"].value >= o.metrics["lat_p50"].value);
    }

    #[test]
    fn without_a_peer_the_error_says_why() {
        let e = run(&params(json!({"time_s": 0.1}))).unwrap_err().to_string();
        assert!(e.contains("no network link"), "{e}");
        let map = json!({"mode": "udp"}).as_object().cloned().unwrap_or_default();
        assert!(NetParams::parse(&Params::new(&map)).unwrap_err().to_string().contains("stream, rr"));
    }

    #[test]
    fn a_sender_without_the_token_is_refused() {
        let peer = peer();
        let bad = "0".repeat(64);
        let e = run(&params(json!({"msg_size": 64, "time_s": 0.2, "peer": peer.addr.to_string(), "token": bad})));
        assert!(e.is_err(), "{e:?}");
    }

    fn on_cpu_zero() -> bool {
        let set = rustix::process::sched_getaffinity(None).unwrap();
        set.count() == 1 && set.is_set(0)
    }

    #[test]
    fn pinned_ends_run_on_their_cpus() {
        let peer = peer();
        let p = json!({"msg_size": 4096, "time_s": 0.2, "peer": peer.addr.to_string(), "token": peer.token,
                       "sender_cpu": 0, "receiver_cpu": 0});
        // On a thread of its own: pinning is per thread, and the test harness's threads are shared.
        let (o, pinned) = std::thread::spawn(move || (run(&params(p)), on_cpu_zero())).join().unwrap();
        let o = o.unwrap();
        assert!(pinned, "the sending thread is not on CPU 0");
        assert_eq!(o.outputs["bytes_sent"], o.outputs["bytes_received_by_peer"]);
    }

    #[test]
    fn a_receiver_cpu_the_host_lacks_is_refused_with_the_reason() {
        let peer = peer();
        for cpu in [1000u32, 1023] {
            let p = json!({"msg_size": 64, "time_s": 0.1, "peer": peer.addr.to_string(), "token": peer.token,
                           "receiver_cpu": cpu});
            let e = run(&params(p)).unwrap_err().to_string();
            assert!(e.contains("receiver_cpu") && e.contains(&cpu.to_string()), "{e}");
        }
        // Out of the kernel's range: refused when parsed, naming the range.
        let map = json!({"sender_cpu": 1024}).as_object().cloned().unwrap_or_default();
        assert!(NetParams::parse(&Params::new(&map)).unwrap_err().to_string().contains("1023"));
        // A hostile hello naming a CPU past the kernel's range gets the same refusal, no panic.
        assert!(pin_to(u32::MAX - 1).is_err());
    }

    #[test]
    fn buffers_beyond_the_budget_are_refused() {
        let b = Budget(std::sync::atomic::AtomicUsize::new(10));
        let one = b.take(6).unwrap();
        assert!(b.take(6).is_none(), "over budget");
        drop(one);
        assert!(b.take(10).is_some(), "given back");
    }
}
