//! Writes confined beneath one directory, whatever its contents link to.

use crate::HostFsError;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// How symlinks inside the tree are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed, but resolved as if the tree were `/` (a rootfs: `lib -> usr/lib` works,
    /// `etc -> /etc` stays inside).
    InRoot,
    /// Never followed: any symlink on the way is an error (a guest-writable directory).
    Refuse,
}

/// An open directory that every write of this handle stays beneath.
#[derive(Debug)]
pub struct Beneath {
    fd: OwnedFd,
    root: PathBuf,
    links: Links,
}

impl Beneath {
    /// Opens `root`, which must itself be a real directory (not a symlink).
    pub fn open(root: &Path, links: Links) -> Result<Beneath, HostFsError> {
        let fd = rustix::fs::open(root, OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| HostFsError::io("open directory", root.display(), e))?;
        Ok(Beneath { fd, root: root.to_path_buf(), links })
    }

    fn resolve(&self) -> ResolveFlags {
        match self.links {
            Links::InRoot => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            Links::Refuse => ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        }
    }

    fn shown(&self, rel: &Path) -> String {
        self.root.join(rel).display().to_string()
    }

    fn open_at(&self, rel: &Path, flags: OFlags, mode: u32) -> Result<OwnedFd, HostFsError> {
        let rel = relative(rel).ok_or_else(|| HostFsError::Refused {
            path: self.shown(rel),
            why: "not a plain relative path (`..` or empty)".into(),
        })?;
        rustix::fs::openat2(&self.fd, &rel, flags | OFlags::CLOEXEC, Mode::from_raw_mode(mode), self.resolve()).map_err(
            |e| {
                if e == rustix::io::Errno::XDEV || e == rustix::io::Errno::LOOP {
                    HostFsError::Refused {
                        path: self.shown(&rel),
                        why: "a symlink on the way leads outside the directory sandbench may write".into(),
                    }
                } else {
                    HostFsError::io("open", self.shown(&rel), e)
                }
            },
        )
    }

    /// Creates every missing directory of `rel` (mode 0755), each beneath the root.
    pub fn create_dir_all(&self, rel: &Path) -> Result<(), HostFsError> {
        let Some(rel) = relative(rel) else {
            return Err(HostFsError::Refused { path: self.shown(rel), why: "not a plain relative path".into() });
        };
        let mut at = PathBuf::new();
        for c in rel.components() {
            at.push(c);
            match self.open_at(&at, OFlags::DIRECTORY | OFlags::RDONLY, 0) {
                Ok(_) => continue,
                Err(HostFsError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let (parent, name) = split(&at);
            let dir = if parent.as_os_str().is_empty() {
                None
            } else {
                Some(self.open_at(parent, OFlags::DIRECTORY | OFlags::RDONLY, 0)?)
            };
            let base = dir.as_ref().unwrap_or(&self.fd);
            match rustix::fs::mkdirat(base, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(HostFsError::io("create directory", self.shown(&at), e)),
            }
        }
        Ok(())
    }

    /// Creates (or truncates) the file `rel` with `mode`. With [`Links::Refuse`] a symlink at
    /// `rel` itself is refused too.
    pub fn create(&self, rel: &Path, mode: u32) -> Result<File, HostFsError> {
        let mut flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC;
        if self.links == Links::Refuse {
            flags |= OFlags::NOFOLLOW;
        }
        Ok(File::from(self.open_at(rel, flags, mode)?))
    }

    /// Writes `bytes` to `rel`, creating its parents.
    pub fn write(&self, rel: &Path, bytes: &[u8]) -> Result<(), HostFsError> {
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(parent)?;
        }
        let mut f = self.create(rel, 0o644)?;
        f.write_all(bytes).map_err(|e| HostFsError::io("write", self.shown(rel), e))
    }

    /// Copies the host file `src` to `rel` (keeping its permission bits), creating parents.
    pub fn copy_from(&self, src: &Path, rel: &Path) -> Result<u64, HostFsError> {
        use std::os::unix::fs::PermissionsExt;
        let mut from = File::open(src).map_err(|e| HostFsError::io("open", src.display(), e))?;
        let mode = from.metadata().map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(parent)?;
        }
        let mut to = self.create(rel, mode)?;
        let n = std::io::copy(&mut from, &mut to).map_err(|e| HostFsError::io("copy to", self.shown(rel), e))?;
        // O_CREAT's mode is masked by the umask and ignored for an existing file.
        to.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| HostFsError::io("chmod", self.shown(rel), e))?;
        Ok(n)
    }
}

/// `rel` without `.` components, or None when it is absolute-after-normalising, empty or has `..`.
fn relative(rel: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn split(p: &Path) -> (&Path, &std::ffi::OsStr) {
    (p.parent().unwrap_or(Path::new("")), p.file_name().unwrap_or_default())
}
