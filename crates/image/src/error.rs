use std::path::PathBuf;

/// Why a guest image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("Debian package `{package}` could not be fetched ({detail}); run `apt-get update` and check that the Debian mirror is reachable")]
    Fetch { package: String, detail: String },
    #[error("{path}: {why}")]
    Kernel { path: PathBuf, why: String },
    #[error(transparent)]
    Confined(#[from] sandbench_hostfs::HostFsError),
    #[error("rootfs {path}: member `{member}` {why}; only relative paths inside the tree are accepted")]
    RootfsMember { path: PathBuf, member: String, why: String },
    #[error("agent binary {path}: {why}")]
    Agent { path: PathBuf, why: String },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ImageError {
    let path = path.into();
    move |source| ImageError::Io { path, source }
}
