//! Where file workloads write, and what they write with.
//!
//! Every environment gives the agent a scratch directory on the disk being measured: a host
//! directory for `native`, a bind mount of one for OCI containers, the container's writable
//! layer for daemons, a virtio-blk disk of its own for VMs. The driver says where through
//! `SANDBENCH_SCRATCH`; without it the agent uses `/scratch`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use sandbench_protocol::SCRATCH_ENV as ENV;

/// The scratch directory of this environment (`dir` parameter first).
pub fn root(dir: Option<&str>) -> PathBuf {
    if let Some(d) = dir {
        return PathBuf::from(d);
    }
    std::env::var_os(ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(sandbench_protocol::SCRATCH_DIR))
}

/// A fresh directory for one trial under `root`, removed when dropped.
pub struct TrialDir {
    pub path: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl TrialDir {
    pub fn create(root: &Path, kind: &str) -> Result<TrialDir, crate::WorkloadError> {
        use crate::WorkloadError;
        std::fs::create_dir_all(root)
            .map_err(WorkloadError::io(format!("cannot create scratch directory {}", root.display())))?;
        let path = root.join(format!("{kind}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).map_err(WorkloadError::io(format!("cannot create {}", path.display())))?;
        Ok(TrialDir { path })
    }
}

impl Drop for TrialDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The filesystem type of `path`, by name (`ext4`, `tmpfs`, `overlay`, …), for the record.
pub fn filesystem(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return "unknown".into();
    };
    // SAFETY: a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: statfs writes into the struct we own; `c` is a valid NUL-terminated string.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "unknown".into();
    }
    fs_name(st.f_type as i64)
}

/// Names a `statfs` magic number.
pub fn fs_name(magic: i64) -> String {
    match magic {
        0xEF53 => "ext4".into(),
        0x0102_1994 => "tmpfs".into(),
        0x794C_7630 => "overlay".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1997 => "9p".into(),
        0x6573_5546 => "fuse".into(),
        0x6A65_6A63 => "virtiofs".into(),
        0x6969 => "nfs".into(),
        other => format!("unknown (statfs magic {other:#x})"),
    }
}

/// A heap buffer aligned for O_DIRECT (4 KiB), filled with incompressible bytes.
pub struct AlignedBuf {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the buffer is owned uniquely, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    pub const ALIGN: usize = 4096;

    pub fn new(len: usize, seed: u64) -> AlignedBuf {
        let layout = std::alloc::Layout::from_size_align(len.max(1), Self::ALIGN).expect("valid layout");
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        let mut b = AlignedBuf { ptr, len };
        let mut x = seed | 1;
        for chunk in b.as_mut().chunks_mut(8) {
            // xorshift64: cheap, incompressible enough that no layer can shrink the data.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        b
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: ptr is valid for len bytes for the life of self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr is valid for len bytes and uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = std::alloc::Layout::from_size_align(self.len.max(1), Self::ALIGN).expect("valid layout");
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, layout) }
    }
}

/// Asks the kernel to drop `file`'s clean cached pages, so reads that follow come from the
/// device (works without root, unlike drop_caches). Returns whether the kernel accepted it.
pub fn evict(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: plain syscall on an open descriptor.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) == 0 }
}

/// Where the file workloads' unit tests write: `$SANDBENCH_TEST_SCRATCH`, else a folder of
/// this user's under /var/tmp (on disk on most hosts; tmpfs refuses O_DIRECT), so that root's
/// runs and another user's never share one.
#[cfg(test)]
pub(crate) fn test_dir() -> String {
    use std::os::unix::fs::MetadataExt;
    std::env::var("SANDBENCH_TEST_SCRATCH").unwrap_or_else(|_| {
        let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
        format!("/var/tmp/sandbench-unit-{uid}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_are_aligned_and_filled() {
        let b = AlignedBuf::new(8192 + 3, 7);
        assert_eq!(b.as_ref().as_ptr() as usize % AlignedBuf::ALIGN, 0);
        assert_eq!(b.as_ref().len(), 8195);
        let zeros = b.as_ref().iter().filter(|x| **x == 0).count();
        assert!(zeros < 200, "{zeros} zero bytes: not random-looking");
    }

    #[test]
    fn filesystem_names() {
        assert_eq!(fs_name(0xEF53), "ext4");
        assert_eq!(fs_name(0x794C7630), "overlay");
        assert!(fs_name(1).starts_with("unknown"));
        assert_ne!(filesystem(Path::new("/")), "");
    }

    #[test]
    fn trial_dirs_are_removed() {
        let root = std::env::temp_dir().join(format!("sb-scratch-test-{}", std::process::id()));
        let p = {
            let d = TrialDir::create(&root, "t").unwrap();
            std::fs::write(d.path.join("f"), b"x").unwrap();
            d.path.clone()
        };
        assert!(!p.exists());
        let _ = std::fs::remove_dir_all(root);
    }
}
