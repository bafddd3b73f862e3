//! Watches a sandbox from the host.
//!
//! [`proc`] and [`cgroup`] hold pure parsers tested on captured files; [`Accounting`] says what
//! belongs to a sandbox (process trees, a cgroup, or both); [`Sampler`] samples it at a fixed
//! interval on its own thread for the life of a trial.

pub mod board;
pub mod cgroup;
pub mod memory;
pub mod proc;
mod sampler;
mod snapshot;

pub use cgroup::CgroupRef;
pub use sampler::{thread_cpu_ms, Sample, Sampler, Series};
pub use snapshot::{read_snapshot, Snapshot};

/// What to account to a sandbox.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accounting {
    /// Root pids whose whole process trees belong to the sandbox (the VMM, the runtime, the
    /// native agent).
    pub roots: Vec<u32>,
    /// The sandbox's cgroup, when it has one. Preferred for CPU when present.
    pub cgroup: Option<CgroupRef>,
}

/// A sample that could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: cannot parse: {what}")]
    Parse { path: String, what: String },
}

/// Clock ticks per second (`USER_HZ`), for /proc times.
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}
