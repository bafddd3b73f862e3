//! A log file a child process writes that never grows past a bound.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The stderr log of a runtime, VMM or native agent. The child writes into a pipe that
/// [`BoundedLog::pump`] copies to the file, so the bound holds however fast it writes: when
/// the file passes `max` bytes its last `max / 2` move to `<file>.1` and it starts afresh. The
/// two files together never hold more than `max * 1.5` plus one read (64 KiB); a child that
/// writes faster than the copy waits on its own pipe.
#[derive(Debug, Clone)]
pub struct BoundedLog {
    pub path: PathBuf,
    pub max: u64,
}

impl BoundedLog {
    pub fn new(path: &Path, max: u64) -> BoundedLog {
        BoundedLog { path: path.to_path_buf(), max }
    }

    /// Opens the file for a child's stderr (append; created 0600).
    pub fn open_for_child(&self) -> std::io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(libc_nofollow()).open(&self.path)
    }

    /// Copies `from` (a child's stderr pipe) into the log until end of file, rotating at the
    /// bound. Returns the bytes copied.
    pub fn pump(&self, mut from: impl Read) -> std::io::Result<u64> {
        use std::io::Write;
        let mut file = self.open_for_child()?;
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            file.write_all(&buf[..n])?;
            total += n as u64;
            if !self.path.exists() {
                // Removed by teardown: stop rather than grow a file nobody can see.
                return Ok(total);
            }
            self.enforce();
        }
    }

    /// Rotates when the file is over its bound; returns true when it did.
    pub fn enforce(&self) -> bool {
        let Ok(meta) = std::fs::symlink_metadata(&self.path) else { return false };
        if !meta.is_file() || meta.len() <= self.max {
            return false;
        }
        let keep = self.max / 2;
        let mut tail = Vec::new();
        if let Ok(mut f) = File::open(&self.path) {
            let _ = f.seek(SeekFrom::Start(meta.len().saturating_sub(keep)));
            let _ = f.take(keep).read_to_end(&mut tail);
        }
        let _ = std::fs::write(self.rotated(), &tail);
        // Truncating in place: the child's O_APPEND descriptor goes on writing at the new end.
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&self.path) {
            let _ = f.set_len(0);
        }
        true
    }

    fn rotated(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".1");
        PathBuf::from(p)
    }

    /// The last `n` non-empty lines (of the rotated part too), reading at most 64 KiB of each.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let mut lines = tail_of(&self.rotated(), n, 64 << 10);
        lines.extend(tail_of(&self.path, n, 64 << 10));
        lines.split_off(lines.len().saturating_sub(n))
    }
}

/// The last `n` non-empty lines of `path`, reading at most `limit` bytes from its end.
pub fn tail_of(path: &Path, n: usize, limit: u64) -> Vec<String> {
    let Ok(mut f) = File::open(path) else { return Vec::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(limit)));
    let mut bytes = Vec::new();
    let _ = f.take(limit).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| truncate(l, 1024)).collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}
