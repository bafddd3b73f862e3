//! A host's results archive, unpacked with the same distrust as anything a guest sends
//! (docs/SECURITY.md): only plain files and directories, every path inside the host's own
//! folder (no absolute paths, no `..`, no links), at most [`MAX_FILES`] entries and
//! [`MAX_BYTES`] unpacked, and what comes out must be a results folder whose manifest says the
//! run is complete.

use crate::{io, FleetError};
use sandbench_hostfs::{Beneath, Links};
use sandbench_spec::{Manifest, RunState};
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Most entries an archive may have.
pub const MAX_FILES: usize = 100_000;
/// Most bytes it may unpack to.
pub const MAX_BYTES: u64 = 4 << 30;

/// Why a host's results archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("open {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("not a tar archive: {0}")]
    NotTar(std::io::Error),
    #[error("more than {MAX_FILES} entries")]
    TooManyEntries,
    #[error("entry {index}: {source}")]
    Entry { index: usize, source: std::io::Error },
    #[error("entry `{}` leaves its folder", path.display())]
    Leaves { path: PathBuf },
    #[error("entry `{}` is a {kind:?}, not a file or folder", path.display())]
    NotFileOrFolder { path: PathBuf, kind: tar::EntryType },
    #[error("unpacks to more than {} MiB", MAX_BYTES >> 20)]
    TooLarge,
    #[error(transparent)]
    Refused(#[from] sandbench_hostfs::HostFsError),
    #[error("write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no manifest.json: {0}")]
    NoManifest(std::io::Error),
    #[error("manifest.json: {0}")]
    ManifestJson(serde_json::Error),
    #[error("run id `{0}` is not a folder name")]
    RunId(String),
    #[error("the run there is {0}, not complete")]
    NotComplete(RunState),
}

/// Unpacks `archive` into `dest/<run id>/` and returns that folder and its manifest. `dest`
/// must not hold that folder yet (a resumed host's older copy is replaced).
pub fn results(host: &str, archive: &Path, dest: &Path) -> Result<(PathBuf, Manifest), FleetError> {
    let staging = dest.join(format!(".unpack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(format!("create {}", staging.display())))?;
    let m = match unpack_into(archive, &staging).and_then(|_| complete_run(&staging)) {
        Ok(m) => m,
        Err(cause) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(FleetError::Results { host: host.to_string(), cause });
        }
    };
    let dir = dest.join(&m.run_id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(io(format!("rename {} to {}", staging.display(), dir.display())))?;
    Ok((dir, m))
}

/// A single path component of letters, digits, `-`, `_` and `.` (not `.` or `..`).
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 200
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The manifest of the unpacked folder, if it is a complete run with a folder-safe id.
fn complete_run(dir: &Path) -> Result<Manifest, UnpackError> {
    let bytes = std::fs::read(dir.join("manifest.json")).map_err(UnpackError::NoManifest)?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(UnpackError::ManifestJson)?;
    if !safe_name(&m.run_id) {
        return Err(UnpackError::RunId(m.run_id));
    }
    if m.state != RunState::Complete {
        return Err(UnpackError::NotComplete(m.state));
    }
    Ok(m)
}

fn unpack_into(archive: &Path, dest: &Path) -> Result<(), UnpackError> {
    let file =
        std::fs::File::open(archive).map_err(|source| UnpackError::Open { path: archive.to_path_buf(), source })?;
    let gz = flate2::read::GzDecoder::new(file).take(MAX_BYTES + 1);
    let mut tar = tar::Archive::new(gz);
    let root = Beneath::open(dest, Links::Refuse)?;
    let mut total: u64 = 0;
    let entries = tar.entries().map_err(UnpackError::NotTar)?;
    for (index, entry) in entries.enumerate() {
        if index >= MAX_FILES {
            return Err(UnpackError::TooManyEntries);
        }
        let mut entry = entry.map_err(|source| UnpackError::Entry { index, source })?;
        let path = entry.path().map_err(|source| UnpackError::Entry { index, source })?.into_owned();
        let rel = inside(&path).ok_or_else(|| UnpackError::Leaves { path: path.clone() })?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            if !rel.as_os_str().is_empty() {
                root.create_dir_all(&rel)?;
            }
            continue;
        }
        if !kind.is_file() {
            return Err(UnpackError::NotFileOrFolder { path, kind });
        }
        total += entry.size();
        if total > MAX_BYTES {
            return Err(UnpackError::TooLarge);
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            root.create_dir_all(parent)?;
        }
        let mut out = root.create(&rel, 0o644)?;
        std::io::copy(&mut entry, &mut out).map_err(|source| UnpackError::Write { path: rel.clone(), source })?;
    }
    Ok(())
}

/// The path relative to the archive's root, if it stays inside it.
fn inside(path: &Path) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => rel.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(rel)
}
