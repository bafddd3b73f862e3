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

/// Unpacks `archive` into `dest/<run id>/` and returns that folder and its manifest. `dest`
/// must not hold that folder yet (a resumed host's older copy is replaced).
pub fn results(host: &str, archive: &Path, dest: &Path) -> Result<(PathBuf, Manifest), FleetError> {
    let bad = |detail: String| FleetError::Results { host: host.to_string(), detail };
    let staging = dest.join(format!(".unpack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(io(format!("create {}", staging.display())))?;
    let unpacked = unpack_into(archive, &staging).map_err(bad);
    let checked = unpacked.and_then(|_| {
        let bytes = std::fs::read(staging.join("manifest.json")).map_err(|e| bad(format!("no manifest.json: {e}")))?;
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad(format!("manifest.json: {e}")))?;
        if !safe_name(&m.run_id) {
            return Err(bad(format!("run id `{}` is not a folder name", m.run_id)));
        }
        if m.state != RunState::Complete {
            return Err(bad(format!("the run there is {}, not complete", m.state)));
        }
        Ok(m)
    });
    let m = match checked {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
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

fn unpack_into(archive: &Path, dest: &Path) -> Result<(), String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("open {}: {e}", archive.display()))?;
    let gz = flate2::read::GzDecoder::new(file).take(MAX_BYTES + 1);
    let mut tar = tar::Archive::new(gz);
    let root = Beneath::open(dest, Links::Refuse).map_err(|e| e.to_string())?;
    let mut total: u64 = 0;
    let entries = tar.entries().map_err(|e| format!("not a tar archive: {e}"))?;
    for (n, entry) in entries.enumerate() {
        if n >= MAX_FILES {
            return Err(format!("more than {MAX_FILES} entries"));
        }
        let mut entry = entry.map_err(|e| format!("entry {n}: {e}"))?;
        let path = entry.path().map_err(|e| format!("entry {n}: {e}"))?.into_owned();
        let rel = inside(&path).ok_or_else(|| format!("entry `{}` leaves its folder", path.display()))?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            if !rel.as_os_str().is_empty() {
                root.create_dir_all(&rel).map_err(|e| e.to_string())?;
            }
            continue;
        }
        if !kind.is_file() {
            return Err(format!("entry `{}` is a {kind:?}, not a file or folder", path.display()));
        }
        total += entry.size();
        if total > MAX_BYTES {
            return Err(format!("unpacks to more than {} MiB", MAX_BYTES >> 20));
        }
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            root.create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut out = root.create(&rel, 0o644).map_err(|e| e.to_string())?;
        std::io::copy(&mut entry, &mut out).map_err(|e| format!("write {}: {e}", rel.display()))?;
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
