//! `filemix`: Filebench "fileserver"-style mixed file operations on the scratch disk.
//!
//! A file set of `files` files (80 % of them created before timing, as Filebench preallocates)
//! spread over directories of `dir_width` entries. Each of `threads` workers repeats the
//! fileserver flow: create and write a whole file, append to one, read one whole, delete one,
//! stat one. Every whole-file read must return exactly the size the set has on record.

use crate::scratch::{self, AlignedBuf, TrialDir};
use crate::{Outcome, ParamError, Params, WorkloadError};
use sandbench_protocol::{Metric, Metrics};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const OPS: &[&str] = &["create", "append", "read", "delete", "stat"];

#[derive(Debug, Clone, PartialEq)]
pub struct FilemixParams {
    pub files: u64,
    pub file_size: u64,
    pub append_size: u64,
    pub io_size: u64,
    pub dir_width: u64,
    pub threads: usize,
    /// Flow iterations in all (0: until `time_s`).
    pub loops: u64,
    pub time_s: f64,
    pub seed: u64,
    pub dir: Option<String>,
}

impl FilemixParams {
    pub fn parse(p: &Params) -> Result<Self, ParamError> {
        p.only(&[
            "files",
            "file_size",
            "append_size",
            "io_size",
            "dir_width",
            "threads",
            "loops",
            "time_s",
            "seed",
            "dir",
        ])?;
        let loops = p.u64_in("loops", 0, 0, 1 << 40)?;
        Ok(FilemixParams {
            files: p.u64_in("files", 1000, 2, 10_000_000)?,
            file_size: p.size_in("file_size", 128 << 10, 1, 1 << 34)?,
            append_size: p.size_in("append_size", 16 << 10, 1, 1 << 30)?,
            io_size: p.size_in("io_size", 1 << 20, 512, 1 << 30)?,
            dir_width: p.u64_in("dir_width", 20, 1, 1 << 20)?,
            threads: p.u64_in("threads", 1, 1, 1024)? as usize,
            loops,
            time_s: p.f64_in("time_s", if loops == 0 { 10.0 } else { 0.0 }, 0.0, 86_400.0)?,
            seed: p.u64_in("seed", 1, 0, u64::MAX)?,
            dir: p.string("dir")?,
        })
    }
}

/// One file of the set: its size while it exists.
type Slot = Mutex<Option<u64>>;

fn slot_path(root: &Path, i: u64, width: u64) -> PathBuf {
    root.join(format!("d{}", i / width)).join(format!("f{i}"))
}

#[derive(Default)]
struct Tally {
    count: [u64; 5],
    lat_us: [Vec<f64>; 5],
    bytes_read: u64,
    bytes_written: u64,
    bad: Option<WorkloadError>,
}

struct Worker<'a> {
    p: &'a FilemixParams,
    root: &'a Path,
    slots: &'a [Slot],
    buf: AlignedBuf,
    rng: u64,
}

impl<'a> Worker<'a> {
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// A slot whose existence is `exists`, locked; tries a bounded number of random picks.
    fn pick(&mut self, exists: bool) -> Option<(u64, std::sync::MutexGuard<'a, Option<u64>>)> {
        for _ in 0..64 {
            let i = self.next() % self.slots.len() as u64;
            let slots = self.slots;
            if let Ok(g) = slots[i as usize].try_lock() {
                if g.is_some() == exists {
                    return Some((i, g));
                }
            }
        }
        None
    }

    fn write_file(&self, path: &Path, size: u64, append: bool) -> std::io::Result<u64> {
        let mut f = OpenOptions::new().create(true).write(true).append(append).truncate(!append).open(path)?;
        let mut left = size;
        while left > 0 {
            let n = left.min(self.p.io_size) as usize;
            f.write_all(&self.buf.as_ref()[..n])?;
            left -= n as u64;
        }
        Ok(size)
    }

    /// One operation of the flow; returns false when no file fit (the set is full or empty).
    fn op(&mut self, op: usize, t: &mut Tally) -> Result<bool, WorkloadError> {
        let (root, width, fsize, asize) = (self.root, self.p.dir_width, self.p.file_size, self.p.append_size);
        let t0 = Instant::now();
        let exists = op != 0;
        let Some((i, mut slot)) = self.pick(exists) else { return Ok(false) };
        let path = slot_path(root, i, width);
        let io = |e: std::io::Error| WorkloadError::Io { what: format!("{} {}", OPS[op], path.display()), source: e };
        match op {
            0 => {
                t.bytes_written += self.write_file(&path, fsize, false).map_err(io)?;
                *slot = Some(fsize);
            }
            1 => {
                t.bytes_written += self.write_file(&path, asize, true).map_err(io)?;
                *slot = slot.map(|s| s + asize);
            }
            2 => {
                let mut f = std::fs::File::open(&path).map_err(io)?;
                let mut total = 0u64;
                let mut buf = vec![0u8; self.p.io_size as usize];
                loop {
                    let n = f.read(&mut buf).map_err(io)?;
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                if Some(total) != *slot {
                    return Err(WorkloadError::Check(format!(
                        "read {} bytes of {}, which should hold {:?}",
                        total,
                        path.display(),
                        *slot
                    )));
                }
                t.bytes_read += total;
            }
            3 => {
                std::fs::remove_file(&path).map_err(io)?;
                *slot = None;
            }
            _ => {
                let md = std::fs::metadata(&path).map_err(io)?;
                if Some(md.len()) != *slot {
                    return Err(WorkloadError::Check(format!(
                        "stat {}: {} bytes, expected {:?}",
                        path.display(),
                        md.len(),
                        *slot
                    )));
                }
            }
        }
        drop(slot);
        t.count[op] += 1;
        t.lat_us[op].push(t0.elapsed().as_secs_f64() * 1e6);
        Ok(true)
    }
}

/// Runs one trial.
pub fn run(p: &FilemixParams) -> Result<Outcome, WorkloadError> {
    let root = scratch::root(p.dir.as_deref());
    let dir = TrialDir::create(&root, "filemix")?;
    let t_prep = Instant::now();
    let slots = prepare(p, &dir.path)?;
    let prepare_ms = t_prep.elapsed().as_secs_f64() * 1e3;

    let start = Instant::now();
    let deadline = (p.time_s > 0.0).then(|| start + Duration::from_secs_f64(p.time_s));
    let loops = std::sync::atomic::AtomicU64::new(0);
    let mut tallies: Vec<Tally> = std::thread::scope(|s| {
        let (slots, root, loops) = (&slots, &dir.path, &loops);
        let handles: Vec<_> =
            (0..p.threads).map(|t| s.spawn(move || worker(p, root, slots, loops, deadline, t as u64))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let total_s = start.elapsed().as_secs_f64().max(1e-9);
    if let Some(bad) = tallies.iter_mut().find_map(|t| t.bad.take()) {
        return Err(bad);
    }
    let left = slots.iter().filter(|s| s.lock().map(|g| g.is_some()).unwrap_or(false)).count();
    let outputs = serde_json::json!({
        "files": p.files,
        "file_size": p.file_size,
        "append_size": p.append_size,
        "threads": p.threads,
        "dir": root.display().to_string(),
        "filesystem": scratch::filesystem(&dir.path),
        "prepare_ms": prepare_ms,
        "bytes_read": tallies.iter().map(|t| t.bytes_read).sum::<u64>(),
        "bytes_written": tallies.iter().map(|t| t.bytes_written).sum::<u64>(),
        "files_at_end": left,
    });
    Ok(Outcome { metrics: metrics(&tallies, total_s), outputs })
}

/// The directory tree and the files present at the start (80 % of the slots), synced to disk.
fn prepare(p: &FilemixParams, root: &Path) -> Result<Vec<Slot>, WorkloadError> {
    for d in 0..p.files.div_ceil(p.dir_width) {
        let sub = root.join(format!("d{d}"));
        std::fs::create_dir(&sub).map_err(WorkloadError::io(format!("create {}", sub.display())))?;
    }
    let slots: Vec<Slot> = (0..p.files).map(|_| Mutex::new(None)).collect();
    let prealloc = Worker { p, root, slots: &slots, buf: AlignedBuf::new(p.io_size as usize, p.seed), rng: 1 };
    for i in 0..p.files * 8 / 10 {
        let path = slot_path(root, i, p.dir_width);
        prealloc
            .write_file(&path, p.file_size, false)
            .map_err(WorkloadError::io(format!("prepare {}", path.display())))?;
        if let Ok(mut s) = slots[i as usize].lock() {
            *s = Some(p.file_size);
        }
    }
    drop(prealloc);
    sync_filesystems();
    Ok(slots)
}

/// One thread's loop: the whole sequence of operations per loop, until the loop count or the
/// deadline, or the first failed operation.
fn worker(
    p: &FilemixParams,
    root: &Path,
    slots: &[Slot],
    loops: &std::sync::atomic::AtomicU64,
    deadline: Option<Instant>,
    t: u64,
) -> Tally {
    let seed = p.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(t);
    let buf = AlignedBuf::new(p.io_size as usize, seed);
    let mut w = Worker { p, root, slots, buf, rng: seed | 1 };
    let mut tally = Tally::default();
    loop {
        let n = loops.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if (p.loops > 0 && n >= p.loops) || deadline.is_some_and(|d| Instant::now() >= d) {
            return tally;
        }
        for op in 0..OPS.len() {
            if let Err(e) = w.op(op, &mut tally) {
                tally.bad = Some(e);
                return tally;
            }
        }
    }
}

/// The trial's metrics: throughput, counts and latencies per operation.
fn metrics(tallies: &[Tally], total_s: f64) -> Metrics {
    let mut m = Metrics::new();
    let ops: u64 = tallies.iter().map(|t| t.count.iter().sum::<u64>()).sum();
    let bytes: u64 = tallies.iter().map(|t| t.bytes_read + t.bytes_written).sum();
    m.insert("ops_per_s".into(), Metric::new(ops as f64 / total_s, "ops/s"));
    m.insert("mib_per_s".into(), Metric::new(bytes as f64 / (1u64 << 20) as f64 / total_s, "MiB/s"));
    m.insert("ops".into(), Metric::new(ops as f64, "ops"));
    m.insert("bytes".into(), Metric::new(bytes as f64, "B"));
    m.insert("total_time".into(), Metric::new(total_s * 1e3, "ms"));
    let mut all = Vec::new();
    for (k, name) in OPS.iter().enumerate() {
        let lat: Vec<f64> = tallies.iter().flat_map(|t| t.lat_us[k].iter().copied()).collect();
        m.insert(format!("{name}s"), Metric::new(lat.len() as f64, "ops"));
        if !lat.is_empty() {
            m.insert(format!("{name}_lat_avg"), Metric::new(lat.iter().sum::<f64>() / lat.len() as f64, "us"));
        }
        all.extend(lat);
    }
    crate::latency::insert_summary(&mut m, "lat", all, "us");
    m
}

fn sync_filesystems() {
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fileserver_flow_runs_and_keeps_sizes_consistent() {
        let dir = crate::scratch::test_dir();
        let map = json!({"files": 50, "file_size": "16K", "append_size": "4K", "threads": 2, "loops": 40, "dir": dir})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let p = FilemixParams::parse(&Params::new(&map)).unwrap();
        let o = run(&p).unwrap();
        // 40 loops of 5 operations; a pick can miss only when the set is full or empty.
        assert!(o.metrics["ops"].value > 150.0, "{:?}", o.metrics);
        assert!(o.metrics["reads"].value > 0.0 && o.metrics["creates"].value > 0.0);
        assert_eq!(
            o.metrics["bytes"].value as u64,
            o.outputs["bytes_read"].as_u64().unwrap() + o.outputs["bytes_written"].as_u64().unwrap()
        );
        assert!(o.metrics["ops_per_s"].value > 0.0);
    }

    #[test]
    fn unknown_parameters_list_the_valid_ones() {
        let map = json!({"nfiles": 5}).as_object().cloned().unwrap_or_default();
        let e = FilemixParams::parse(&Params::new(&map)).unwrap_err().to_string();
        assert!(e.contains("valid parameters: files, file_size"), "{e}");
    }
}
