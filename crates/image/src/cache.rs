//! The one asset cache shared by users, tests and CI.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `$SANDBENCH_CACHE`, else `/var/cache/sandbench` for root, else `~/.cache/sandbench`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SANDBENCH_CACHE") {
        return PathBuf::from(d);
    }
    if rustix_is_root() {
        return PathBuf::from("/var/cache/sandbench");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/sandbench"))
        .unwrap_or_else(|| PathBuf::from("/tmp/sandbench-cache"))
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

/// Hex sha256 of a file's bytes.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Hex sha256 of some bytes.
pub fn sha256_bytes(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
