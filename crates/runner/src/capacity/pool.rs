//! The sandboxes of one capacity series: launched in parallel (bounded), kept across steps,
//! each step adding the ones it needs; all torn down when the series ends, fails or is
//! interrupted (also when the pool is dropped on an error path).

use crate::options::{Guest, LaunchBase, RunOptions};
use sandbench_sandbox::{Running, Sandbox};
use sandbench_spec::record::LaunchInfo;
use sandbench_spec::{Campaign, Environment};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// A launch's number in the run, its sandbox, its outcome and its host milliseconds to ready.
type Launched = (u32, Box<dyn Sandbox>, Result<Running, String>, f64);

/// One live sandbox.
pub(crate) struct Member {
    pub sandbox: Box<dyn Sandbox>,
    pub running: Option<Running>,
    pub launch: LaunchInfo,
}

/// What launching needs, shared by every series of a run.
pub(crate) struct Launcher<'a> {
    pub opts: &'a RunOptions,
    pub c: &'a Campaign,
    pub guest: &'a Guest,
    pub base: LaunchBase,
    pub launches: AtomicU32,
}

pub(crate) struct Pool<'a> {
    launcher: &'a Launcher<'a>,
    env: &'a Environment,
    pub members: Vec<Member>,
}

impl<'a> Pool<'a> {
    pub fn new(launcher: &'a Launcher<'a>, env: &'a Environment) -> Pool<'a> {
        Pool { launcher, env, members: Vec::new() }
    }

    pub fn len(&self) -> u32 {
        self.members.len() as u32
    }

    /// Launches `count` more sandboxes, at most `parallel` at once; the host milliseconds each
    /// took to become ready, or the first launch error (the ones that came up are kept, for
    /// the teardown).
    pub fn grow(&mut self, count: u32, parallel: u32) -> Result<Vec<f64>, String> {
        let mut times = Vec::new();
        let mut first_error = None;
        let mut left = count;
        while left > 0 && first_error.is_none() {
            let batch = left.min(parallel.max(1));
            left -= batch;
            let launched: Vec<Launched> = std::thread::scope(|s| {
                let (launcher, env) = (self.launcher, self.env);
                let handles: Vec<_> = (0..batch).map(|_| s.spawn(move || launch_one(launcher, env))).collect();
                handles.into_iter().filter_map(|h| h.join().ok()).collect()
            });
            if launched.len() < batch as usize {
                first_error.get_or_insert_with(|| "a launch thread panicked".to_string());
            }
            for (launch_id, sandbox, result, ms) in launched {
                match result {
                    Ok(r) => {
                        times.push(ms);
                        let launch =
                            LaunchInfo { launch_id, fresh: true, boot: r.boot.clone(), facts: r.facts.clone() };
                        self.members.push(Member { sandbox, running: Some(r), launch });
                    }
                    Err(e) => {
                        let mut sandbox = sandbox;
                        let _ = sandbox.teardown();
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(times),
        }
    }
}

/// One launch of a sandbox of `env`, under a fresh number and id.
fn launch_one(l: &Launcher<'_>, env: &Environment) -> Launched {
    let n = l.launches.fetch_add(1, Ordering::SeqCst) + 1;
    let mut sandbox = l.opts.sandbox_for(env);
    let spec = l.base.spec(n, env, l.guest);
    let t = Instant::now();
    let result = sandbox.launch(&spec).map_err(|e| e.with_last_output());
    (n, sandbox, result, t.elapsed().as_secs_f64() * 1e3)
}

impl Pool<'_> {
    /// Tears every sandbox down, in parallel.
    pub fn retire_all(&mut self) {
        let cancel = &self.launcher.opts.cancel;
        let members = std::mem::take(&mut self.members);
        std::thread::scope(|s| {
            for mut m in members {
                s.spawn(move || crate::session::retire(m.sandbox.as_mut(), m.running.take(), cancel));
            }
        });
    }
}

impl Drop for Pool<'_> {
    fn drop(&mut self) {
        self.retire_all();
    }
}
