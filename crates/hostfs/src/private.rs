//! Directories at predictable paths (`/var/tmp/sandbench-scratch`) that nobody else may own.

use crate::HostFsError;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// Makes sure `path` is a directory owned by the caller with mode 0700: creates it (and its
/// missing parents, with the usual mode) when absent, tightens its mode when the caller owns
/// it, and refuses a symlink or a directory owned by anyone else.
pub fn private_dir(path: &Path) -> Result<(), HostFsError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| HostFsError::io("create directory", parent.display(), e))?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(HostFsError::io("create directory", path.display(), e)),
    }
    let meta = std::fs::symlink_metadata(path).map_err(|e| HostFsError::io("inspect", path.display(), e))?;
    let refuse = |why: String| Err(HostFsError::Refused { path: path.display().to_string(), why });
    if !meta.file_type().is_dir() {
        return refuse("is not a directory (a symlink or file stands there); remove it".into());
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "is owned by uid {}, not by this user (uid {me}); remove it or choose another path",
            meta.uid()
        ));
    }
    if meta.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| HostFsError::io("chmod 0700", path.display(), e))?;
    }
    Ok(())
}
