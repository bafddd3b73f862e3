//! `fileio`: sysbench-fileio / fio-style block I/O on the environment's scratch disk.
//!
//! Files are prepared first (written in full, synced, and their pages evicted from the cache;
//! none of it timed), then `threads` workers issue `block_size` operations, sequential or
//! random, until `io_size` bytes have moved or `time_s` has passed. Every block carries a header
//! naming its file and offset, and every read checks it: a layer that returns the wrong bytes
//! fails the trial instead of looking fast.
//!
//! Random modes visit every block once per pass over the file set, in a new order each pass,
//! as fio's random map does by default (`randommap = false`: blocks drawn with replacement, as
//! fio's `norandommap`).

use crate::scratch::{self, AlignedBuf, TrialDir};
use crate::{Outcome, ParamError, Params, WorkloadError};
use sandbench_protocol::{Metric, Metrics};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const MODES: &[&str] = &["seqrd", "seqwr", "rndrd", "rndwr", "rndrw"];
const MAGIC: u32 = 0x5342_494F; // "SBIO"
const HEADER: usize = 16;
/// The unit [`stamp`] makes unique, and the bytes it writes at the start of each.
const SECTOR: usize = 512;
const STAMP: usize = HEADER + 8;

#[derive(Debug, Clone, PartialEq)]
pub struct FileioParams {
    pub mode: &'static str,
    pub block_size: u64,
    /// Total size of the file set.
    pub file_size: u64,
    pub files: u64,
    pub threads: usize,
    pub direct: bool,
    /// fsync a file after this many writes to it by one thread (0: never during the run).
    pub fsync_every: u64,
    pub fsync_end: bool,
    /// Reads per write in `rndrw`.
    pub rw_ratio: f64,
    /// Bytes to move in all; 0 means until `time_s`.
    pub io_size: u64,
    pub time_s: f64,
    pub seed: u64,
    pub dir: Option<String>,
    /// Random modes: every block once per pass (fio's default random map), else drawn with
    /// replacement.
    pub randommap: bool,
}

impl FileioParams {
    pub fn parse(p: &Params) -> Result<Self, ParamError> {
        p.only(&[
            "mode",
            "block_size",
            "file_size",
            "files",
            "threads",
            "direct",
            "fsync_every",
            "fsync_end",
            "rw_ratio",
            "io_size",
            "time_s",
            "seed",
            "dir",
            "randommap",
        ])?;
        let block_size = p.size_in("block_size", 16 << 10, 512, 64 << 20)?;
        let files = p.u64_in("files", 1, 1, 4096)?;
        let file_size = p.size_in("file_size", 128 << 20, block_size * files, 1 << 44)?;
        let direct = p.flag("direct", false)?;
        if direct && block_size % 512 != 0 {
            return Err(ParamError::Invalid {
                name: "block_size".into(),
                why: format!("{block_size} is not a multiple of 512, which O_DIRECT needs"),
            });
        }
        let time_s = p.f64_in("time_s", 0.0, 0.0, 86_400.0)?;
        let io_size = p.size_in("io_size", file_size, 0, 1 << 50)?;
        if io_size == 0 && time_s == 0.0 {
            return Err(ParamError::Invalid { name: "io_size".into(), why: "0 needs a time_s limit".into() });
        }
        Ok(FileioParams {
            mode: p.choice("mode", "seqrd", MODES)?,
            block_size,
            file_size,
            files,
            threads: p.u64_in("threads", 1, 1, 1024)? as usize,
            direct,
            fsync_every: p.u64_in("fsync_every", 0, 0, u64::MAX)?,
            fsync_end: p.flag("fsync_end", true)?,
            rw_ratio: p.f64_in("rw_ratio", 1.5, 0.0, 1e6)?,
            io_size,
            time_s,
            seed: p.u64_in("seed", 1, 0, u64::MAX)?,
            dir: p.string("dir")?,
            randommap: p.flag("randommap", true)?,
        })
    }

    fn blocks_per_file(&self) -> u64 {
        self.file_size / self.files / self.block_size
    }
}

/// The header stamped at the start of every block.
fn header(file: u64, offset: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(&MAGIC.to_le_bytes());
    h[4..8].copy_from_slice(&(file as u32).to_le_bytes());
    h[8..].copy_from_slice(&offset.to_le_bytes());
    h
}

/// Stamps every 512-byte sector of a block with its own file, offset and the write's number,
/// as fio scrambles its buffers (`scramble_buffers`, on by default): no two sectors written are
/// alike, so no layer below (a host's dedupe or compressed cache) can make writes or later
/// reads cheaper than fio's. The first sector's stamp starts with the block's [`header`].
fn stamp(block: &mut [u8], file: u64, offset: u64, write: u64) {
    for (i, sector) in block.chunks_mut(SECTOR).enumerate() {
        let mut s = [0u8; STAMP];
        s[..HEADER].copy_from_slice(&header(file, offset + (i * SECTOR) as u64));
        s[HEADER..].copy_from_slice(&write.to_le_bytes());
        let n = sector.len().min(STAMP);
        sector[..n].copy_from_slice(&s[..n]);
    }
}

fn open(path: &PathBuf, direct: bool, create: bool) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(create);
    if direct {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path)
}

/// Writes the file set in full, syncs it and evicts it from the page cache.
fn prepare(p: &FileioParams, dir: &std::path::Path) -> Result<(Vec<File>, bool), WorkloadError> {
    let bs = p.block_size as usize;
    let per = p.blocks_per_file();
    let chunk_blocks = ((1usize << 20) / bs).max(1);
    let mut buf = AlignedBuf::new(bs * chunk_blocks, p.seed);
    let mut files = Vec::new();
    let mut evicted = true;
    for f in 0..p.files {
        let path = dir.join(format!("fileio.{f}"));
        let file = open(&path, p.direct, true).map_err(|e| open_error(&path, p.direct, e))?;
        let mut block = 0;
        while block < per {
            let n = (chunk_blocks as u64).min(per - block) as usize;
            for i in 0..n {
                let off = (block + i as u64) * p.block_size;
                stamp(&mut buf.as_mut()[i * bs..(i + 1) * bs], f, off, 0);
            }
            file.write_all_at(&buf.as_ref()[..n * bs], block * p.block_size)
                .map_err(WorkloadError::io(format!("prepare {}", path.display())))?;
            block += n as u64;
        }
        file.sync_all().map_err(WorkloadError::io(format!("fsync {}", path.display())))?;
        evicted &= scratch::evict(&file);
        files.push(file);
    }
    Ok((files, evicted))
}

fn open_error(path: &std::path::Path, direct: bool, e: std::io::Error) -> WorkloadError {
    let what = if direct && e.raw_os_error() == Some(libc::EINVAL) {
        format!(
            "{}: this filesystem ({}) does not support O_DIRECT; set direct = false or point `dir` at a disk",
            path.display(),
            scratch::filesystem(path.parent().unwrap_or(path))
        )
    } else {
        format!("open {}", path.display())
    };
    WorkloadError::Io { what, source: e }
}

#[derive(Default)]
struct Tally {
    lat_us: Vec<f64>,
    reads: u64,
    writes: u64,
    fsyncs: u64,
    bad: Option<WorkloadError>,
}

/// Runs one trial.
pub fn run(p: &FileioParams) -> Result<Outcome, WorkloadError> {
    let root = scratch::root(p.dir.as_deref());
    let dir = TrialDir::create(&root, "fileio")?;
    let t_prep = Instant::now();
    let (files, evicted) = prepare(p, &dir.path)?;
    let prepare_ms = t_prep.elapsed().as_secs_f64() * 1e3;

    let start = Instant::now();
    let plan = Plan {
        p,
        files: &files,
        issued: AtomicU64::new(0),
        ops_limit: if p.io_size == 0 { u64::MAX } else { p.io_size.div_ceil(p.block_size) },
        deadline: (p.time_s > 0.0).then(|| start + Duration::from_secs_f64(p.time_s)),
    };
    let mut tallies: Vec<Tally> = std::thread::scope(|s| {
        let plan = &plan;
        let handles: Vec<_> = (0..p.threads).map(|t| s.spawn(move || plan.worker(t))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut fsyncs: u64 = tallies.iter().map(|t| t.fsyncs).sum();
    if p.fsync_end && tallies.iter().any(|t| t.writes > 0) {
        for f in &files {
            f.sync_all().map_err(WorkloadError::io("final fsync"))?;
            fsyncs += 1;
        }
    }
    let total_s = start.elapsed().as_secs_f64();
    if let Some(bad) = tallies.iter_mut().find_map(|t| t.bad.take()) {
        return Err(bad);
    }
    let (metrics, reads, writes) = metrics(p, tallies, fsyncs, total_s);
    let outputs = serde_json::json!({
        "mode": p.mode,
        "block_size": p.block_size,
        "files": p.files,
        "file_size": p.blocks_per_file() * p.block_size * p.files,
        "threads": p.threads,
        "direct": p.direct,
        "dir": root.display().to_string(),
        "filesystem": scratch::filesystem(&dir.path),
        "prepare_ms": prepare_ms,
        "cache_evicted_after_prepare": evicted,
        "bytes_read": reads * p.block_size,
        "bytes_written": writes * p.block_size,
        "blocks_verified": reads,
    });
    Ok(Outcome { metrics, outputs })
}

/// What every thread of one trial shares: the files, the count of operations issued so far and
/// when to stop.
struct Plan<'a> {
    p: &'a FileioParams,
    files: &'a [std::fs::File],
    issued: AtomicU64,
    ops_limit: u64,
    deadline: Option<Instant>,
}

impl Plan<'_> {
    /// One thread's loop: take the next operation number, do it, time it, until the trial ends
    /// or an operation fails.
    fn worker(&self, t: usize) -> Tally {
        let p = self.p;
        let mut buf = AlignedBuf::new(p.block_size as usize, p.seed.wrapping_add(t as u64 + 1));
        let mut rng = p.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(t as u64) | 1;
        let mut tally = Tally::default();
        let mut writes_per_file = vec![0u64; self.files.len()];
        loop {
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            if n >= self.ops_limit || self.deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let (f, off) = self.block(n, &mut rng);
            let t0 = Instant::now();
            let done = if self.is_write(n) {
                self.write(&mut buf, (f, off, n), &mut tally, &mut writes_per_file)
            } else {
                self.read(&mut buf, f, off, &mut tally)
            };
            if let Err(bad) = done {
                tally.bad = Some(bad);
                break;
            }
            tally.lat_us.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        tally
    }

    /// The file and offset of operation `n`: in order for the sequential modes; else the `n`th
    /// of a pass's shuffled order of all blocks (a new order each pass), or, without the random
    /// map, from the thread's xorshift generator.
    fn block(&self, n: u64, rng: &mut u64) -> (u64, u64) {
        let per = self.p.blocks_per_file();
        let total_blocks = per * self.p.files;
        let global = if self.p.mode.starts_with("seq") {
            n % total_blocks
        } else if self.p.randommap {
            let pass = n / total_blocks;
            permute(n % total_blocks, total_blocks, self.p.seed ^ pass.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        } else {
            *rng ^= *rng << 13;
            *rng ^= *rng >> 7;
            *rng ^= *rng << 17;
            *rng % total_blocks
        };
        (global / per, (global % per) * self.p.block_size)
    }

    fn is_write(&self, n: u64) -> bool {
        match self.p.mode {
            "seqwr" | "rndwr" => true,
            "rndrw" => (n as f64 % (self.p.rw_ratio + 1.0)) >= self.p.rw_ratio,
            _ => false,
        }
    }

    /// Writes a block stamped with its file, offset and operation number `n` (unique across
    /// threads, [`stamp`]), syncing every `fsync_every` writes.
    fn write(
        &self,
        buf: &mut AlignedBuf,
        (f, off, n): (u64, u64, u64),
        tally: &mut Tally,
        writes_per_file: &mut [u64],
    ) -> Result<(), WorkloadError> {
        let file = &self.files[f as usize];
        stamp(buf.as_mut(), f, off, n + 1);
        // The error's words are made only on an error: this is the timed loop.
        file.write_all_at(buf.as_ref(), off)
            .map_err(|e| WorkloadError::Io { what: format!("write file {f} at {off}"), source: e })?;
        tally.writes += 1;
        writes_per_file[f as usize] += 1;
        if self.p.fsync_every > 0 && writes_per_file[f as usize].is_multiple_of(self.p.fsync_every) {
            let _ = file.sync_data();
            tally.fsyncs += 1;
        }
        Ok(())
    }

    /// Reads a block back and checks that it is the one asked for.
    fn read(&self, buf: &mut AlignedBuf, f: u64, off: u64, tally: &mut Tally) -> Result<(), WorkloadError> {
        self.files[f as usize]
            .read_exact_at(buf.as_mut(), off)
            .map_err(|e| WorkloadError::Io { what: format!("read file {f} at {off}"), source: e })?;
        if buf.as_ref()[..HEADER] != header(f, off) {
            return Err(WorkloadError::Check(format!(
                "read back the wrong data: block at offset {off} of file {f} has another block's header"
            )));
        }
        tally.reads += 1;
        Ok(())
    }
}

/// `i`'s place in a pseudo-random order of `0..n` chosen by `key`: a balanced Feistel network
/// over the smallest even power of two not below `n`, walked until it lands inside (a bijection
/// of `0..n` without a table, so every thread computes any operation's block on its own).
fn permute(i: u64, n: u64, key: u64) -> u64 {
    debug_assert!(i < n);
    let half = (64 - (n.max(2) - 1).leading_zeros()).div_ceil(2);
    let mask = (1u64 << half) - 1;
    let mut x = i;
    loop {
        let (mut l, mut r) = (x >> half, x & mask);
        for round in 0..4u64 {
            let f = mix(r ^ key.rotate_left(16 * round as u32) ^ round) & mask;
            (l, r) = (r, l ^ f);
        }
        x = (l << half) | r;
        if x < n {
            return x;
        }
    }
}

/// splitmix64's finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The trial's metrics from its threads' tallies; also the read and write counts.
fn metrics(p: &FileioParams, tallies: Vec<Tally>, fsyncs: u64, total_s: f64) -> (Metrics, u64, u64) {
    let reads: u64 = tallies.iter().map(|t| t.reads).sum();
    let writes: u64 = tallies.iter().map(|t| t.writes).sum();
    let (rb, wb) = (reads * p.block_size, writes * p.block_size);
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64 / total_s.max(1e-9);
    let mut m = Metrics::new();
    m.insert("mib_per_s".into(), Metric::new(mib(rb + wb), "MiB/s"));
    m.insert("read_mib_per_s".into(), Metric::new(mib(rb), "MiB/s"));
    m.insert("write_mib_per_s".into(), Metric::new(mib(wb), "MiB/s"));
    m.insert("iops".into(), Metric::new((reads + writes) as f64 / total_s.max(1e-9), "ops/s"));
    m.insert("reads".into(), Metric::new(reads as f64, "ops"));
    m.insert("writes".into(), Metric::new(writes as f64, "ops"));
    m.insert("fsyncs".into(), Metric::new(fsyncs as f64, "ops"));
    m.insert("bytes".into(), Metric::new((rb + wb) as f64, "B"));
    m.insert("total_time".into(), Metric::new(total_s * 1e3, "ms"));
    let lat: Vec<f64> = tallies.into_iter().flat_map(|t| t.lat_us).collect();
    crate::latency::insert_summary(&mut m, "lat", lat, "us");
    (m, reads, writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: serde_json::Value) -> FileioParams {
        let map = v.as_object().cloned().unwrap_or_default();
        FileioParams::parse(&Params::new(&map)).unwrap()
    }

    fn tmp() -> String {
        crate::scratch::test_dir()
    }

    #[test]
    fn the_shuffle_is_a_permutation_and_each_pass_has_its_own() {
        for n in [1u64, 2, 3, 5, 64, 1000, 4097] {
            for key in [0u64, 1, 0xDEAD_BEEF] {
                let mut seen: Vec<u64> = (0..n).map(|i| permute(i, n, key)).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}, key = {key}");
            }
        }
        let a: Vec<u64> = (0..1000).map(|i| permute(i, 1000, 1)).collect();
        let b: Vec<u64> = (0..1000).map(|i| permute(i, 1000, 2)).collect();
        assert_ne!(a, b);
        assert_ne!(a, (0..1000).collect::<Vec<_>>(), "shuffled, not in order");
    }

    /// fio's random map: a random pass writes every block of every file exactly once.
    fn blocks_of_one_pass(randommap: bool) -> Vec<(u64, u64)> {
        let p = params(json!({"mode": "rndwr", "block_size": "4K", "file_size": "1M", "files": 2,
                              "randommap": randommap}));
        let plan = Plan { p: &p, files: &[], issued: AtomicU64::new(0), ops_limit: u64::MAX, deadline: None };
        let mut rng = 12345u64;
        let total = p.blocks_per_file() * p.files;
        let mut got: Vec<(u64, u64)> = (0..total).map(|n| plan.block(n, &mut rng)).collect();
        got.sort_unstable();
        got
    }

    #[test]
    fn random_modes_visit_every_block_once_per_pass_as_fio_does() {
        let all: Vec<(u64, u64)> = (0..2).flat_map(|f| (0..128).map(move |b| (f, b * 4096))).collect();
        assert_eq!(blocks_of_one_pass(true), all);
        let mut drawn = blocks_of_one_pass(false);
        drawn.dedup();
        assert!(drawn.len() < all.len(), "without the map, blocks are drawn with replacement");
    }

    #[test]
    fn every_sector_written_is_unlike_every_other() {
        let mut a = AlignedBuf::new(1 << 20, 1);
        stamp(a.as_mut(), 3, 1 << 20, 7);
        assert_eq!(a.as_ref()[..HEADER], header(3, 1 << 20));
        let mut sectors: Vec<&[u8]> = a.as_ref().chunks(SECTOR).collect();
        sectors.sort();
        sectors.dedup();
        assert_eq!(sectors.len(), (1 << 20) / SECTOR, "sectors of one block are all different");
        // The same block written again (the next write's number) differs in every sector.
        let before = a.as_ref().to_vec();
        stamp(a.as_mut(), 3, 1 << 20, 8);
        assert!(before.chunks(SECTOR).zip(a.as_ref().chunks(SECTOR)).all(|(x, y)| x != y));
    }

    #[test]
    fn sequential_read_moves_exactly_the_requested_bytes_and_checks_them() {
        let p = params(json!({"mode": "seqrd", "block_size": "4K", "file_size": "1M", "files": 2, "dir": tmp()}));
        let o = run(&p).unwrap();
        assert_eq!(o.metrics["reads"].value, 256.0);
        assert_eq!(o.metrics["bytes"].value, (1 << 20) as f64);
        assert_eq!(o.outputs["blocks_verified"], json!(256));
        assert!(o.metrics["mib_per_s"].value > 0.0);
        assert!(o.metrics["lat_p99"].value >= o.metrics["lat_p50"].value);
    }

    #[test]
    fn random_mixed_io_with_threads_and_fsync() {
        let p = params(json!({"mode": "rndrw", "block_size": 8192, "file_size": "2M", "threads": 2,
            "io_size": "4M", "fsync_every": 10, "dir": tmp()}));
        let o = run(&p).unwrap();
        let (r, w) = (o.metrics["reads"].value, o.metrics["writes"].value);
        assert_eq!(r + w, 512.0);
        // 1.5 reads per write: 3 of every 5 operations read.
        assert!((r / (r + w) - 0.6).abs() < 0.05, "{r} reads, {w} writes");
        assert!(o.metrics["fsyncs"].value >= (w / 10.0).floor());
        assert_eq!(o.metrics["bytes"].value, 512.0 * 8192.0);
    }

    #[test]
    fn direct_io_works_on_a_disk_and_writes_are_durable() {
        let p = params(json!({"mode": "seqwr", "block_size": "64K", "file_size": "1M", "direct": true, "dir": tmp()}));
        let o = run(&p).unwrap();
        assert_eq!(o.metrics["writes"].value, 16.0);
        assert_eq!(o.metrics["fsyncs"].value, 1.0);
        assert_eq!(o.outputs["direct"], json!(true));
    }

    #[test]
    fn time_limited_runs_stop() {
        let p = params(json!({"mode": "rndrd", "block_size": "4K", "file_size": "256K", "io_size": 0,
            "time_s": 0.3, "dir": tmp()}));
        let t = Instant::now();
        let o = run(&p).unwrap();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(o.metrics["reads"].value > 0.0);
    }

    #[test]
    fn bad_parameters_name_the_choices() {
        let map = json!({"mode": "seqread"}).as_object().cloned().unwrap_or_default();
        let e = FileioParams::parse(&Params::new(&map)).unwrap_err().to_string();
        assert!(e.contains("seqrd, seqwr, rndrd, rndwr, rndrw"), "{e}");
        let map = json!({"io_size": 0}).as_object().cloned().unwrap_or_default();
        assert!(FileioParams::parse(&Params::new(&map)).is_err());
        let map = json!({"block_size": "1M", "file_size": "512K"}).as_object().cloned().unwrap_or_default();
        assert!(FileioParams::parse(&Params::new(&map)).is_err());
    }
}
