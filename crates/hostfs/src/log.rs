//! A log file a child process writes that never grows past a bound.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The stderr log of a runtime, VMM or native agent. The child writes into a pipe that
/// [`BoundedLog::pump`] copies to the file, so the bound holds however fast it writes: when
/// the file passes `max` bytes its last `max / 2` move to `<file>.1` and it starts afresh. The
/// two files together never hold more than `max * 1.5` plus one read (64 KiB); a child that
/// writes faster than the copy waits on its own pipe.
#[derive(Debug)]
pub struct BoundedLog {
    path: PathBuf,
    max: u64,
    file: File,
}

impl BoundedLog {
    /// Opens `path` (created 0600, never through a symlink) for appending and reading back.
    pub fn create(path: &Path, max: u64) -> std::io::Result<BoundedLog> {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        let mut open = std::fs::OpenOptions::new();
        open.create(true).append(true).read(true).mode(0o600).custom_flags(nofollow);
        Ok(BoundedLog { path: path.to_path_buf(), max, file: open.open(path)? })
    }

    /// Copies `from` (a child's stderr pipe) into the log until end of file, rotating at the
    /// bound. The size is counted here, not asked of the file system, and rotation works on
    /// the open file, so the bound holds even once teardown has removed the path. Returns the
    /// bytes copied.
    pub fn pump(mut self, mut from: impl Read) -> std::io::Result<u64> {
        let mut len = self.file.metadata()?.len();
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0u64;
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.file.write_all(&buf[..n])?;
            total += n as u64;
            len += n as u64;
            if len > self.max {
                self.rotate(len)?;
                len = 0;
            }
        }
    }

    /// Moves the last `max / 2` of the file's `len` bytes to `<file>.1` and empties it (the
    /// O_APPEND writes go on at the new end).
    fn rotate(&self, len: u64) -> std::io::Result<()> {
        // Once teardown has removed the log (its work dir is going), nothing more is written
        // beside it: the file is only emptied, so that no `<file>.1` outlives the directory.
        if !self.still_at_its_path() {
            return self.file.set_len(0);
        }
        let keep = (self.max / 2).min(len);
        let mut tail = vec![0u8; keep as usize];
        self.file.read_exact_at(&mut tail, len - keep)?;
        // The work dir is sandbench's own (0700): nothing a guest can link there.
        std::fs::write(rotated(&self.path), &tail)?;
        self.file.set_len(0)
    }

    /// Whether `path` still names the open file.
    fn still_at_its_path(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::symlink_metadata(&self.path), self.file.metadata()) {
            (Ok(at), Ok(open)) => at.ino() == open.ino() && at.dev() == open.dev(),
            _ => false,
        }
    }

    /// The last `n` non-empty lines of the log at `path` (its rotated part too), reading at
    /// most 64 KiB of each.
    pub fn tail(path: &Path, n: usize) -> Vec<String> {
        let mut lines = tail_of(&rotated(path), n, 64 << 10);
        lines.extend(tail_of(path, n, 64 << 10));
        lines.split_off(lines.len().saturating_sub(n))
    }
}

/// Where a log's older half goes at rotation: `<log>.1`.
fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

/// The last `n` non-empty lines of `path`, reading at most `limit` bytes from its end.
fn tail_of(path: &Path, n: usize, limit: u64) -> Vec<String> {
    let Ok(mut f) = File::open(path) else { return Vec::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(limit)));
    let mut bytes = Vec::new();
    let _ = f.take(limit).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].iter().map(|l| l.to_string()).collect()
}
