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
}

impl ResultsDir {
    /// Creates a new folder (it must not exist yet).
    pub fn create(path: &Path) -> Result<ResultsDir, ResultsError> {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).map_err(io(path))?;
        std::fs::create_dir(path).map_err(io(path))?;
        std::fs::create_dir(path.join("samples")).map_err(io(path))?;
        Ok(ResultsDir { path: path.to_path_buf() })
    }

    /// Opens an existing folder.
    pub fn open(path: &Path) -> Result<ResultsDir, ResultsError> {
        if !path.join("manifest.json").is_file() {
            return Err(ResultsError::NotResults { path: path.to_path_buf() });
        }
        std::fs::create_dir_all(path.join("samples")).map_err(io(path))?;
        Ok(ResultsDir { path: path.to_path_buf() })
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
        std::fs::rename(&tmp, &path).map_err(io(&path))
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

    /// Appends one record and fsyncs it before returning.
    pub fn append(&self, r: &TrialRecord) -> Result<(), ResultsError> {
        let path = self.trials_path();
        let mut line =
            serde_json::to_string(r).map_err(|e| ResultsError::Io { path: path.clone(), source: e.into() })?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
        f.write_all(line.as_bytes()).and_then(|_| f.sync_data()).map_err(io(&path))
    }

    /// Reads every record. A last line cut short by a crash is dropped (and cut from the file
    /// when `repair` is set, so appends start on a clean line); any other bad line is an error.
    pub fn records(&self, repair: bool) -> Result<Vec<TrialRecord>, ResultsError> {
        let path = self.trials_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ResultsError::Io { path, source: e }),
        };
        let mut out = Vec::new();
        let mut good_len = 0;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            match serde_json::from_str::<TrialRecord>(line.trim_end()) {
                Ok(r) => {
                    out.push(r);
                    good_len += line.len();
                    if !line.ends_with('\n') && repair {
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
                Err(e) => return Err(ResultsError::Corrupt { path, line: i + 1, why: e.to_string() }),
            }
        }
        Ok(out)
    }

    /// Where a trial's sample series goes, and its name relative to the folder.
    pub fn samples_path(&self, key: &TrialKey, attempt: u32) -> (PathBuf, String) {
        let rel = format!("samples/{}.a{attempt}.csv", key.slug());
        (self.path.join(&rel), rel)
    }
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
