//! Host-side file system access that a guest cannot redirect.
//!
//! sandbench runs as root, and some of the places it writes are also writable by a guest (a
//! user's rootfs tar, a bind-mounted scratch directory) or predictable (`/var/tmp/...`). Every
//! such write goes through this crate:
//! - [`Beneath`]: a directory handle whose writes resolve with `openat2(RESOLVE_IN_ROOT |
//!   RESOLVE_NO_MAGICLINKS)`, so a symlink planted inside can never lead outside it (an
//!   absolute link resolves against the handle's root, as in a chroot), or with
//!   `RESOLVE_NO_SYMLINKS` where no link may be followed at all;
//! - [`private_dir`]: a directory created 0700 and owned by the caller, refused when someone
//!   else owns it or it is a symlink;
//! - [`BoundedLog`]: a log file that never grows past its bound (one rotation).

mod beneath;
mod log;
mod private;

pub use beneath::{Beneath, Links};
pub use log::BoundedLog;
pub use private::private_dir;

#[derive(Debug, thiserror::Error)]
pub enum HostFsError {
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: String, source: std::io::Error },
    #[error("{path}: {why}")]
    Refused { path: String, why: String },
}

impl HostFsError {
    pub(crate) fn io(what: &'static str, path: impl std::fmt::Display, e: impl Into<std::io::Error>) -> Self {
        HostFsError::Io { what, path: path.to_string(), source: e.into() }
    }
}
