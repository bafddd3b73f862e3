//! The results folder: `manifest.json`, append-only `trials.jsonl` (each record fsynced when
//! its trial ends) and `samples/<trial>.csv`. A run killed at any point leaves a folder that
//! `--resume` can finish.

use sandbench_spec::{Manifest, Status, TrialKey, TrialRecord};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: not a trial record: {why}")]
    Corrupt { path: PathBuf, line: usize, why: String },
    #[error("{path}: not a sandbench results folder (no manifest.json)")]
    NotResults { path: PathBuf },
    #[error("{path}: another sandbench (run or --resume) is using this results folder; wait for it to finish")]
    Locked { path: PathBuf },
    #[error("{path}: results schema {found} is newer than this sandbench understands ({supported})")]
    Schema { path: PathBuf, found: u32, supported: u32 },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ResultsError + '_ {
    move |source| ResultsError::Io { path: path.to_path_buf(), source }
}

/// An open results folder.
#[derive(Debug, Clone)]
pub struct ResultsDir {
    pub path: PathBuf,
    /// The exclusive `flock` on `.lock`, held while this folder is being written.
    lock: Option<std::sync::Arc<std::fs::File>>,
}

impl ResultsDir {
    /// Creates a new folder (it must not exist yet).
    pub fn create(path: &Path) -> Result<ResultsDir, ResultsError> {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io(path))?;
        std::fs::create_dir(path).map_err(io(path))?;
        std::fs::create_dir(path.join("samples")).map_err(io(path))?;
        sync_dir(path)?;
        Ok(ResultsDir { path: path.to_path_buf(), lock: None })
    }

    /// Takes the folder for writing: an exclusive lock a second `run --resume` cannot get.
    pub fn lock(mut self) -> Result<ResultsDir, ResultsError> {
        let p = self.path.join(".lock");
        let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&p).map_err(io(&p))?;
        match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(ResultsError::Locked { path: self.path.clone() }),
            Err(e) => return Err(ResultsError::Io { path: p, source: e.into() }),
        }
        self.lock = Some(std::sync::Arc::new(f));
        Ok(self)
    }

    /// Opens an existing folder.
    pub fn open(path: &Path) -> Result<ResultsDir, ResultsError> {
        if !path.join("manifest.json").is_file() {
            return Err(ResultsError::NotResults { path: path.to_path_buf() });
        }
        std::fs::create_dir_all(path.join("samples")).map_err(io(path))?;
        Ok(ResultsDir { path: path.to_path_buf(), lock: None })
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.path.join("manifest.json")
    }

    pub fn trials_path(&self) -> PathBuf {
        self.path.join("trials.jsonl")
    }

    /// Writes the manifest atomically (temp file, fsync, rename).
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), ResultsError> {
        let path = self.manifest_path();
        let tmp = self.path.join(".manifest.json.tmp");
        let bytes =
            serde_json::to_vec_pretty(m).map_err(|e| ResultsError::Io { path: path.clone(), source: e.into() })?;
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        // The rename is durable only once the folder's own entry list is.
        sync_dir(&self.path)
    }

    pub fn read_manifest(&self) -> Result<Manifest, ResultsError> {
        let path = self.manifest_path();
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| ResultsError::Corrupt {
            path: path.clone(),
            line: e.line(),
            why: e.to_string(),
        })?;
        let found = v.get("schema").and_then(|s| s.as_u64()).unwrap_or(0) as u32;
        if found > sandbench_spec::SCHEMA_VERSION {
            return Err(ResultsError::Schema { path, found, supported: sandbench_spec::SCHEMA_VERSION });
        }
        serde_json::from_value(v).map_err(|e| ResultsError::Corrupt { path, line: 1, why: e.to_string() })
    }

    /// Appends one record (its guest-supplied fields cut to their bounds, see
    /// [`crate::guard`]) and fsyncs it before returning.
    pub fn append(&self, r: &TrialRecord) -> Result<(), ResultsError> {
        let mut r = r.clone();
        crate::guard::bound_record(&mut r);
        self.append_line(&self.trials_path(), &r)
    }

    /// `capacity.jsonl`: a capacity run's steps and series ends.
    pub fn capacity_path(&self) -> PathBuf {
        self.path.join("capacity.jsonl")
    }

    /// Appends one line of a capacity run and fsyncs it.
    pub fn append_capacity(&self, l: &sandbench_spec::CapacityLine) -> Result<(), ResultsError> {
        self.append_line(&self.capacity_path(), l)
    }

    /// Every line of `capacity.jsonl` (none when there is no such file); a torn last line is
    /// dropped, and cut when `repair` is set.
    pub fn capacity_lines(&self, repair: bool) -> Result<Vec<sandbench_spec::CapacityLine>, ResultsError> {
        read_lines(&self.capacity_path(), repair)
    }

    fn append_line<T: serde::Serialize>(&self, path: &Path, value: &T) -> Result<(), ResultsError> {
        let mut line =
            serde_json::to_string(value).map_err(|e| ResultsError::Io { path: path.into(), source: e.into() })?;
        line.push('\n');
        let created = !path.exists();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
        f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(io(path))?;
        if created {
            sync_dir(&self.path)?;
        }
        Ok(())
    }

    /// Reads every record. A last line cut short by a crash is dropped (and cut from the file
    /// when `repair` is set, so appends start on a clean line); any other bad line is an error.
    pub fn records(&self, repair: bool) -> Result<Vec<TrialRecord>, ResultsError> {
        read_lines(&self.trials_path(), repair)
    }

    /// Where a trial's sample series goes, and its name relative to the folder.
    pub fn samples_path(&self, key: &TrialKey, attempt: u32) -> (PathBuf, String) {
        let rel = format!("samples/{}.a{attempt}.csv", key.slug());
        (self.path.join(&rel), rel)
    }
}

/// Reads every line of a JSON-lines file: a last line cut short by a crash is dropped (and
/// cut from the file when `repair` is set, so appends start on a clean line); any other bad
/// line is an error.
fn read_lines<T: serde::de::DeserializeOwned>(path: &Path, repair: bool) -> Result<Vec<T>, ResultsError> {
    let path = path.to_path_buf();
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ResultsError::Io { path, source: e }),
    };
    let mut out = Vec::new();
    let mut good_len = 0;
    // Bytes, not text: a crash can cut the last line inside a UTF-8 character.
    let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let parsed = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|l| serde_json::from_str::<T>(l.trim_end()).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => {
                out.push(r);
                good_len += line.len();
                if !line.ends_with(b"\n") && repair {
                    let mut f = std::fs::OpenOptions::new().append(true).open(&path).map_err(io(&path))?;
                    f.write_all(b"\n").map_err(io(&path))?;
                }
            }
            Err(_) if last => {
                if repair {
                    let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                    f.set_len(good_len as u64).map_err(io(&path))?;
                }
            }
            Err(why) => return Err(ResultsError::Corrupt { path, line: i + 1, why }),
        }
    }
    Ok(out)
}

/// fsyncs a directory, so entries created or renamed in it survive a crash.
fn sync_dir(path: &Path) -> Result<(), ResultsError> {
    std::fs::File::open(path).and_then(|d| d.sync_all()).map_err(io(path))
}

/// Per trial key: the highest attempt recorded, and whether any attempt was ok.
pub fn attempts(records: &[TrialRecord]) -> HashMap<TrialKey, (u32, bool)> {
    let mut m: HashMap<TrialKey, (u32, bool)> = HashMap::new();
    for r in records {
        let e = m.entry(r.key.clone()).or_insert((0, false));
        e.0 = e.0.max(r.attempt);
        e.1 |= r.status == Status::Ok;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TrialRecord {
        serde_json::from_str(include_str!("../tests/fixtures/record.json")).unwrap()
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_folder() {
        let t = tempfile::tempdir().unwrap();
        let first = ResultsDir::create(&t.path().join("run")).unwrap().lock().unwrap();
        std::fs::write(first.manifest_path(), "{}").unwrap();
        let e = ResultsDir::open(&first.path).unwrap().lock().unwrap_err();
        assert!(matches!(e, ResultsError::Locked { .. }), "{e}");
        assert!(e.to_string().contains("another sandbench"), "{e}");
        drop(first);
        assert!(ResultsDir::open(&t.path().join("run")).unwrap().lock().is_ok(), "free again once released");
    }

    #[test]
    fn a_last_line_torn_inside_a_utf8_character_is_dropped_and_cut() {
        let t = tempfile::tempdir().unwrap();
        let dir = ResultsDir::create(&t.path().join("run")).unwrap();
        let mut r = record();
        r.error = Some("é".repeat(50));
        dir.append(&r).unwrap();
        let whole = std::fs::read(dir.trials_path()).unwrap();
        let mut torn = whole.clone();
        let line = serde_json::to_string(&r).unwrap();
        let cut = line.find('é').unwrap() + 1; // inside the two bytes of `é`
        torn.extend_from_slice(&line.as_bytes()[..cut]);
        std::fs::write(dir.trials_path(), &torn).unwrap();
        assert_eq!(dir.records(true).unwrap().len(), 1);
        assert_eq!(std::fs::read(dir.trials_path()).unwrap(), whole, "the torn tail is cut on repair");
        dir.append(&r).unwrap();
        assert_eq!(dir.records(false).unwrap().len(), 2);
    }
}
