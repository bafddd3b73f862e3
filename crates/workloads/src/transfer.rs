//! `transfer`: the AI paper's scp experiment. Sends `files` files of `file_size` bytes (300 ×
//! 48 KB by default) to a receiver inside sandbench on the host, over TLS 1.3 (rustls): the
//! receiver's certificate is pinned by its SHA-256 and the sender proves itself with a per-
//! sandbox token, so both ends are authenticated, as with scp. The receiver writes every file to
//! disk and answers with its SHA-256, which must match the sender's; like scp, each file waits
//! for its acknowledgement.
//!
//! Both ends live here and are tested against each other; the runner gives the agent the
//! receiver's address, certificate digest and token as parameters.

use crate::scratch::{self, TrialDir};
use crate::server::{check_token, fresh_token, hex, Limits, Server, IDLE};
use crate::{Outcome, ParamError, Params, WorkloadError};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sandbench_hostfs::{Beneath, Links};
use sandbench_protocol::{Metric, Metrics};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The name the receiver's certificate is issued to.
const SERVER_NAME: &str = "sandbench-peer";
/// Largest file the receiver accepts.
pub const MAX_FILE: u64 = 1 << 30;

#[derive(Debug, Clone, PartialEq)]
pub struct TransferParams {
    pub files: u64,
    pub file_size: u64,
    /// Send the files of this directory instead of generated ones.
    pub source_dir: Option<String>,
    pub seed: u64,
    pub peer: Option<String>,
    pub peer_cert_sha256: Option<String>,
    pub token: Option<String>,
}

impl TransferParams {
    pub fn parse(p: &Params) -> Result<Self, ParamError> {
        p.only(&["files", "file_size", "source_dir", "seed", "peer", "peer_cert_sha256", "token"])?;
        Ok(TransferParams {
            files: p.u64_in("files", 300, 1, 1_000_000)?,
            file_size: p.size_in("file_size", 48 << 10, 0, MAX_FILE)?,
            source_dir: p.string("source_dir")?,
            seed: p.u64_in("seed", 1, 0, u64::MAX)?,
            peer: p.string("peer")?,
            peer_cert_sha256: p.string("peer_cert_sha256")?,
            token: p.string("token")?,
        })
    }
}

fn failed(what: &str, e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> WorkloadError {
    WorkloadError::Session { what: what.into(), source: e.into() }
}

/// Accepts exactly the certificate whose SHA-256 is pinned; signatures are checked as usual.
#[derive(Debug)]
struct Pinned {
    sha256: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        // Pinning, not a CA chain: a guest's clock may be anywhere, so validity dates are moot.
        if hex(&Sha256::digest(end_entity.as_ref())) == self.sha256 {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("the receiver's certificate is not the pinned one".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The files to send: generated ones written to the scratch space first (not timed), or those
/// of `source_dir`.
fn sources(p: &TransferParams, dir: &Path) -> Result<Vec<PathBuf>, WorkloadError> {
    if let Some(src) = &p.source_dir {
        let mut files: Vec<PathBuf> = std::fs::read_dir(src)
            .map_err(|e| failed(&format!("read {src}"), e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files.truncate(p.files as usize);
        if files.is_empty() {
            return Err(WorkloadError::NoInput(format!("{src} has no files to send")));
        }
        return Ok(files);
    }
    let data = scratch::AlignedBuf::new(p.file_size as usize, p.seed);
    (0..p.files)
        .map(|i| {
            let path = dir.join(format!("file{i:05}.bin"));
            // Each file differs (its index leads), so a receiver mixing files up is caught.
            let mut bytes = data.as_ref().to_vec();
            let tag = i.to_le_bytes();
            let n = tag.len().min(bytes.len());
            bytes[..n].copy_from_slice(&tag[..n]);
            std::fs::write(&path, &bytes).map_err(|e| failed(&format!("write {}", path.display()), e))?;
            Ok(path)
        })
        .collect()
}

/// Runs one trial against the receiver.
pub fn run(p: &TransferParams) -> Result<Outcome, WorkloadError> {
    let need = |v: &Option<String>, name: &str| {
        v.clone().ok_or_else(|| {
            WorkloadError::NoPeer(format!(
                "no `{name}`: this sandbox has no network link (the runner sets it up for `transfer`)"
            ))
        })
    };
    let (peer, pin, token) =
        (need(&p.peer, "peer")?, need(&p.peer_cert_sha256, "peer_cert_sha256")?, need(&p.token, "token")?);
    let addr: SocketAddr =
        peer.parse().map_err(|_| WorkloadError::NoPeer(format!("`peer` = `{peer}` is not an ip:port")))?;
    let dir = TrialDir::create(&scratch::root(None), "transfer")?;
    let files = sources(p, &dir.path)?;

    let start = Instant::now();
    let mut tls = open_session(addr, &pin, &token)?;
    let handshake_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut sent = 0u64;
    let mut per_file = Vec::new();
    for path in &files {
        let t0 = Instant::now();
        sent += send_file(&mut tls, path)?;
        per_file.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    let stored = close_session(&mut tls, sent)?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut m = Metrics::new();
    m.insert("total_time".into(), Metric::new(elapsed * 1e3, "ms"));
    m.insert("kb_per_s".into(), Metric::new(sent as f64 / 1024.0 / elapsed, "KB/s"));
    m.insert("bytes".into(), Metric::new(sent as f64, "B"));
    m.insert("files".into(), Metric::new(files.len() as f64, "files"));
    m.insert("handshake_ms".into(), Metric::new(handshake_ms, "ms"));
    crate::latency::insert_summary(&mut m, "file_ms", per_file, "ms");
    let outputs = serde_json::json!({
        "peer": peer, "files": files.len(), "bytes_sent": sent, "bytes_stored_by_receiver": stored,
        "checksums_verified": files.len(), "cipher": tls.conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
        "protocol": tls.conn.protocol_version().map(|v| format!("{v:?}")),
    });
    Ok(Outcome { metrics: m, outputs })
}

type Session = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects to the receiver over TLS 1.3, trusting only the certificate whose SHA-256 is `pin`,
/// and presents the session's token.
fn open_session(addr: SocketAddr, pin: &str, token: &str) -> Result<Session, WorkloadError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| failed("TLS", e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned { sha256: pin.to_ascii_lowercase(), provider }))
        .with_no_client_auth();
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| failed(&format!("connect {addr}"), e))?;
    tcp.set_read_timeout(Some(IDLE)).map_err(|e| failed("timeout", e))?;
    tcp.set_nodelay(true).map_err(|e| failed("TCP_NODELAY", e))?;
    let name = ServerName::try_from(SERVER_NAME).map_err(|e| failed("server name", e))?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| failed("TLS", e))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(format!("{token}\n").as_bytes()).map_err(|e| failed("TLS handshake", e))?;
    let mut ok = [0u8; 3];
    tls.read_exact(&mut ok).map_err(|e| failed("the receiver refused the session", e))?;
    if &ok != b"OK\n" {
        return Err(WorkloadError::Check("the receiver refused the token".into()));
    }
    Ok(tls)
}

/// Sends one file (name length, name, size, bytes) and checks the receiver's SHA-256 of what
/// arrived; returns its size.
fn send_file(tls: &mut Session, path: &Path) -> Result<u64, WorkloadError> {
    let data = std::fs::read(path).map_err(|e| failed(&format!("read {}", path.display()), e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut header = (name.len() as u16).to_le_bytes().to_vec();
    header.extend_from_slice(name.as_bytes());
    header.extend_from_slice(&(data.len() as u64).to_le_bytes());
    tls.write_all(&header)
        .and_then(|_| tls.write_all(&data))
        .and_then(|_| tls.flush())
        .map_err(|e| failed("send", e))?;
    let mut digest = [0u8; 32];
    tls.read_exact(&mut digest).map_err(|e| failed(&format!("acknowledgement of {name}"), e))?;
    if digest[..] != Sha256::digest(&data)[..] {
        return Err(WorkloadError::Check(format!("{name} arrived corrupted: its SHA-256 on arrival differs")));
    }
    Ok(data.len() as u64)
}

/// Ends the session and checks that the receiver stored every byte sent; returns its count.
fn close_session(tls: &mut Session, sent: u64) -> Result<u64, WorkloadError> {
    tls.write_all(&0u16.to_le_bytes()).and_then(|_| tls.flush()).map_err(|e| failed("end", e))?;
    let mut total = [0u8; 8];
    tls.read_exact(&mut total).map_err(|e| failed("the receiver's total", e))?;
    let stored = u64::from_le_bytes(total);
    if stored != sent {
        return Err(WorkloadError::Check(format!("sent {sent} bytes, the receiver stored {stored}")));
    }
    Ok(stored)
}

/// The receiver on the host: TLS with a fresh self-signed certificate, a random token, files
/// stored under `store` (emptied after each session). `store` is a directory no guest can
/// write (the runner keeps it beside the scratch space, never inside it); it is created 0700
/// and written without following any symlink. Bounded like [`crate::net::Peer`], and by
/// `limits`: a session that sends more files or bytes than the campaign's workloads ask for,
/// or lasts longer than the session limit, is cut.
pub struct Receiver {
    pub addr: SocketAddr,
    pub cert_sha256: String,
    pub token: String,
    _server: Server,
}

impl Receiver {
    pub fn start(ip: std::net::IpAddr, store: PathBuf, limits: crate::PeerLimits) -> std::io::Result<Receiver> {
        let io = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
        let cert = rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()]).map_err(|e| io(&e))?;
        let der = CertificateDer::from(cert.cert.der().to_vec());
        let key = PrivateKeyDer::try_from(cert.key_pair.serialize_der()).map_err(|e| io(&e))?;
        let cert_sha256 = hex(&Sha256::digest(der.as_ref()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| io(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .map_err(|e| io(&e))?;
        let config = Arc::new(config);
        let token = fresh_token()?;
        let want = token.clone();
        // One session at a time, as an scp target handles one copy.
        let server_limits = Limits { connections: 1, session: limits.session };
        let server = Server::start(ip, "sandbench-receiver", server_limits, move |c| {
            let _ = receive(c, config.clone(), &want, &store, &limits);
            let _ = std::fs::remove_dir_all(&store);
        })?;
        Ok(Receiver { addr: server.addr, cert_sha256, token, _server: server })
    }
}

fn receive(
    c: TcpStream,
    config: Arc<rustls::ServerConfig>,
    token: &str,
    store: &Path,
    limits: &crate::PeerLimits,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, c);
    if !check_token(&mut tls, token)? {
        return Ok(());
    }
    tls.write_all(b"OK\n")?;
    sandbench_hostfs::private_dir(store).map_err(std::io::Error::other)?;
    let dir = Beneath::open(store, Links::Refuse).map_err(std::io::Error::other)?;
    let (mut total, mut files) = (0u64, 0u64);
    loop {
        let mut len = [0u8; 2];
        tls.read_exact(&mut len)?;
        let len = u16::from_le_bytes(len) as usize;
        if len == 0 {
            tls.write_all(&total.to_le_bytes())?;
            return tls.flush();
        }
        let mut name = vec![0u8; len];
        tls.read_exact(&mut name)?;
        let mut size = [0u8; 8];
        tls.read_exact(&mut size)?;
        let size = u64::from_le_bytes(size);
        files += 1;
        if size > MAX_FILE || files > limits.transfer_files || total.saturating_add(size) > limits.transfer_bytes {
            return Err(std::io::Error::other(format!(
                "session over its limits ({} files, {} bytes)",
                limits.transfer_files, limits.transfer_bytes
            )));
        }
        // Only a plain file name is accepted: nothing can be written outside `store`.
        let name = String::from_utf8_lossy(&name).replace(['/', '\\', '\0'], "_");
        let name = if name == "." || name == ".." { "_".to_string() } else { name };
        let mut file = dir.create(Path::new(&name), 0o600).map_err(std::io::Error::other)?;
        let digest = copy_hashed(&mut tls, &mut file, size)?;
        total += size;
        tls.write_all(&digest)?;
        tls.flush()?;
    }
}

/// Streams `size` bytes from `from` into `to` in 64 KiB pieces (never the whole file in
/// memory), returning their SHA-256.
fn copy_hashed(from: &mut impl Read, to: &mut impl Write, size: u64) -> std::io::Result<[u8; 32]> {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut left = size;
    while left > 0 {
        let n = (left as usize).min(buf.len());
        from.read_exact(&mut buf[..n])?;
        hash.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(hash.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> TransferParams {
        let map = v.as_object().cloned().unwrap_or_default();
        TransferParams::parse(&Params::new(&map)).unwrap()
    }

    fn receiver() -> Receiver {
        let store =
            std::env::temp_dir().join(format!("sb-receiver-{}-{:?}", std::process::id(), std::thread::current().id()));
        Receiver::start("127.0.0.1".parse().unwrap(), store, crate::PeerLimits::default()).unwrap()
    }

    #[test]
    fn files_arrive_whole_over_tls() {
        std::env::set_var(scratch::ENV, scratch::test_dir());
        let r = receiver();
        let p = params(json!({"files": 20, "file_size": "4K", "peer": r.addr.to_string(),
            "peer_cert_sha256": r.cert_sha256, "token": r.token}));
        let o = run(&p).unwrap();
        assert_eq!(o.metrics["bytes"].value, 20.0 * 4096.0);
        assert_eq!(o.outputs["checksums_verified"], 20);
        assert_eq!(o.outputs["protocol"], "TLSv1_3");
        assert!(o.metrics["kb_per_s"].value > 0.0 && o.metrics["handshake_ms"].value > 0.0);
    }

    #[test]
    fn stopping_does_not_wait_for_a_silent_sender() {
        let r = receiver();
        let _silent = TcpStream::connect(r.addr).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        drop(r);
        assert!(t.elapsed() < Duration::from_secs(2), "teardown waited {:?}", t.elapsed());
    }

    #[test]
    fn a_wrong_pin_or_token_is_refused() {
        std::env::set_var(scratch::ENV, scratch::test_dir());
        let r = receiver();
        let other = "0".repeat(64);
        let p = params(json!({"files": 1, "file_size": 10, "peer": r.addr.to_string(),
            "peer_cert_sha256": other, "token": r.token}));
        assert!(run(&p).unwrap_err().to_string().contains("pinned"), "a forged receiver must be refused");
        let p = params(json!({"files": 1, "file_size": 10, "peer": r.addr.to_string(),
            "peer_cert_sha256": r.cert_sha256, "token": "f".repeat(64)}));
        assert!(run(&p).is_err(), "a sender without the token must be refused");
    }

    #[test]
    fn a_session_over_its_limits_is_cut_and_a_planted_link_is_not_followed() {
        std::env::set_var(scratch::ENV, scratch::test_dir());
        let t = std::env::temp_dir().join(format!("sb-receiver-limits-{}", std::process::id()));
        let (store, outside) = (t.join("store"), t.join("outside"));
        std::fs::create_dir_all(&outside).unwrap();
        let limits = crate::PeerLimits { transfer_files: 3, transfer_bytes: 3 * 100, session: Duration::from_secs(60) };
        let r = Receiver::start("127.0.0.1".parse().unwrap(), store.clone(), limits).unwrap();
        let send = |files: u64, size: u64| {
            let p = params(json!({"files": files, "file_size": size, "peer": r.addr.to_string(),
                "peer_cert_sha256": r.cert_sha256, "token": r.token}));
            run(&p)
        };
        assert!(send(3, 100).is_ok(), "within the limits");
        assert!(send(4, 10).is_err(), "one file too many");
        assert!(send(1, 301).is_err(), "too many bytes");
        // A link standing where the store goes: the receiver refuses rather than follow it.
        std::os::unix::fs::symlink(&outside, &store).unwrap();
        assert!(send(1, 10).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing may land through the link");
        let _ = std::fs::remove_dir_all(&t);
    }
}
