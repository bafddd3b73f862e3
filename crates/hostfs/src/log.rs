//! A log file a child process writes that never grows past a bound.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The stderr log of a runtime, VMM or native agent. The child writes the file directly (it
/// is its stderr), so the bound is kept from outside: [`BoundedLog::enforce`] truncates it
/// when it passes `max` bytes, keeping the last `max / 2` bytes in `<file>.1`. At any moment
/// the two files together hold at most about `max * 1.5` bytes plus what the child wrote
/// since the last check.
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

    /// The last `n` non-empty lines, reading at most `max` bytes from the end.
    pub fn tail(&self, n: usize) -> Vec<String> {
        tail_of(&self.path, n, self.max.max(4096))
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
