//! The checked-in quick run the report tests read.
#![allow(dead_code)]

use sandbench_spec::{Manifest, TrialRecord};
use std::path::{Path, PathBuf};

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/quick-run")
}

/// A results folder's manifest and records.
pub fn load(dir: &Path) -> (Manifest, Vec<TrialRecord>) {
    let m: Manifest = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let recs = std::fs::read_to_string(dir.join("trials.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (m, recs)
}
