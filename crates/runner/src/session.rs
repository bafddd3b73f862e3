//! One run's loop over its plan: a slot per environment holding its sandbox, launched when a
//! trial needs it and retired when its environment has no trial left (or every trial, in
//! cold mode, or after a timeout or crash); each trial recorded as it ends.

use crate::energy::PowerSession;
use crate::options::{Guest, LaunchBase, RunOptions, RunOutcome};
use crate::plan::{plan, PlannedTrial};
use crate::progress::Progress;
use crate::record::new_record;
use crate::results::{attempts, ResultsDir};
use crate::stopping::Stopping;
use crate::trial::{run_trial, TrialCtx, TrialEnd};
use crate::RunError;
use sandbench_protocol::{AgentMsg, HostMsg};
use sandbench_sandbox::{Running, Sandbox};
use sandbench_spec::record::{LaunchInfo, BOOT_RETRIES_FACT};
use sandbench_spec::{Campaign, Environment, Manifest, Mode, Status, TrialRecord, WorkloadSpec};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Slot {
    sandbox: Box<dyn Sandbox>,
    running: Option<Running>,
    launch: LaunchInfo,
    launch_failures: u32,
}

impl Slot {
    /// Asks the agent to stop, then tears the sandbox down whatever it answered.
    fn retire(&mut self, cancel: &AtomicBool) {
        retire(self.sandbox.as_mut(), self.running.take(), cancel);
    }
}

/// Asks a sandbox's agent to stop, then tears the sandbox down whatever it answered.
pub(crate) fn retire(sandbox: &mut dyn Sandbox, running: Option<Running>, cancel: &AtomicBool) {
    if let Some(mut r) = running {
        if r.channel.send(&HostMsg::Shutdown).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while let Ok(m) = r.channel.recv(deadline, cancel) {
                if m == AgentMsg::Bye {
                    // Let it exit on its own (a VM syncs and powers off): wait for the
                    // channel to close before teardown kills whatever is left.
                    let closing = Instant::now() + Duration::from_secs(3);
                    while r.channel.recv(closing, cancel).is_ok() {}
                    break;
                }
            }
        }
    }
    if let Err(e) = sandbox.teardown() {
        tracing::warn!("teardown: {e}");
        eprintln!("warning: teardown failed: {e}");
    }
}

/// What one planned trial led to.
enum Step {
    Next,
    /// Ctrl-C: the loop stops; the trial is not recorded.
    Stop,
}

/// How getting a ready sandbox for a trial went.
enum Launch {
    Ready,
    /// The trial was recorded as not run or failed to launch.
    Recorded,
    Interrupted,
}

pub(crate) struct Session<'a> {
    opts: &'a RunOptions,
    dir: &'a ResultsDir,
    c: &'a Campaign,
    guest: Guest,
    pub power: Option<PowerSession>,
    planned: Vec<PlannedTrial>,
    /// Indices into `planned` of the trials still to run.
    todo: Vec<usize>,
    /// Attempts so far and whether the latest succeeded, per trial key.
    done: HashMap<sandbench_spec::TrialKey, (u32, bool)>,
    stopping: Stopping,
    envs: Vec<&'a Environment>,
    workloads: Vec<&'a WorkloadSpec>,
    /// Per environment, the position in `todo` of its last trial.
    last_use: Vec<usize>,
    slots: Vec<Slot>,
    launches: u32,
    base: LaunchBase,
    bar: Progress,
    out: RunOutcome,
}

impl<'a> Session<'a> {
    pub fn new(
        opts: &'a RunOptions,
        dir: &'a ResultsDir,
        c: &'a Campaign,
        guest: Guest,
    ) -> Result<Session<'a>, RunError> {
        let planned = plan(c);
        let written = dir.records(true)?;
        let done = attempts(&written);
        let stopping = Stopping::new(c.trials.rule(), &written);
        let todo: Vec<usize> =
            (0..planned.len()).filter(|&i| !done.get(&planned[i].key).is_some_and(|(_, ok)| *ok)).collect();
        let envs: Vec<&Environment> = c.envs().collect();
        let mut last_use = vec![usize::MAX; envs.len()];
        for (i, &t) in todo.iter().enumerate() {
            last_use[planned[t].env] = i;
        }
        let slots = envs
            .iter()
            .map(|e| Slot {
                sandbox: opts.sandbox_for(e),
                running: None,
                launch: LaunchInfo::default(),
                launch_failures: 0,
            })
            .collect();
        let out = RunOutcome {
            dir: dir.path.clone(),
            ok: 0,
            failed: 0,
            timeout: 0,
            skipped_done: planned.len() - todo.len(),
            interrupted: false,
        };
        let base = LaunchBase::new(c, opts.cancel.clone())?;
        Ok(Session {
            opts,
            dir,
            c,
            guest,
            power: None,
            bar: Progress::new(opts.progress, todo.len()),
            todo,
            done,
            stopping,
            workloads: c.workload_specs().collect(),
            envs,
            last_use,
            slots,
            launches: 0,
            base,
            planned,
            out,
        })
    }

    /// Removes what a killed sandbench left (containers, VMMs, cgroups, links, work dirs).
    pub fn sweep_stale(&self) {
        sweep_stale(self.c, &self.base.work_root);
    }

    /// Every trial still to run, in plan order; a full disk ends it with an error.
    pub fn run_plan(&mut self) -> Result<(), RunError> {
        for i in 0..self.todo.len() {
            let t = self.planned[self.todo[i]].clone();
            match self.step(i, &t) {
                Ok(Step::Next) => {}
                Ok(Step::Stop) => break,
                Err(e) => {
                    self.retire_all();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn cancelled(&self) -> bool {
        self.opts.cancel.load(Ordering::SeqCst)
    }

    /// One planned trial: skipped once its series is done, else launched if needed, run and
    /// recorded.
    fn step(&mut self, i: usize, t: &PlannedTrial) -> Result<Step, RunError> {
        if self.cancelled() {
            self.out.interrupted = true;
            return Ok(Step::Stop);
        }
        let (env, wl) = (self.envs[t.env], self.workloads[t.workload]);
        if !t.warmup && self.stopping.judge(&env.name, &wl.name).stopped() {
            // The series met the stopping rule: its remaining trials are not needed.
            self.bar.skip();
            if self.last_use[t.env] == i {
                self.slots[t.env].retire(&self.opts.cancel);
            }
            return Ok(Step::Next);
        }
        self.bar.start(format!(
            "{} · {} · {}",
            env.name,
            wl.name,
            if t.warmup { "warm-up".to_string() } else { format!("trial {}", t.trial) }
        ));
        let attempt = self.done.get(&t.key).map(|(a, _)| a + 1).unwrap_or(1);
        let mut record = new_record(t, attempt, env, wl, self.c.mode, i as u32);
        if self.c.mode == Mode::Cold {
            self.slots[t.env].retire(&self.opts.cancel);
        }
        match self.ensure_launched(t, &mut record)? {
            Launch::Ready => self.measure(i, t, record),
            Launch::Recorded => Ok(Step::Next),
            Launch::Interrupted => {
                self.out.interrupted = true;
                Ok(Step::Stop)
            }
        }
    }

    /// A ready sandbox in the trial's slot: the one already up, or a new launch. A launch that
    /// fails is recorded; after two in a row the environment's trials are recorded as not run.
    fn ensure_launched(&mut self, t: &PlannedTrial, record: &mut TrialRecord) -> Result<Launch, RunError> {
        let env = self.envs[t.env];
        if self.slots[t.env].running.is_some() {
            return Ok(Launch::Ready);
        }
        if self.slots[t.env].launch_failures >= 2 {
            record.status = Status::Failed;
            record.error = Some(format!("not run: environment `{}` failed to launch twice", env.name));
            self.record_unrun(record)?;
            return Ok(Launch::Recorded);
        }
        let mut hangs = Vec::new();
        let launched = loop {
            let result = self.launch_once(t.env);
            if let Err(e) = &result {
                let _ = self.slots[t.env].sandbox.teardown();
                let retry = e.is_hung_start() && hangs.len() < self.c.timeouts.boot_retries as usize;
                if retry && !self.opts.cancel.load(Ordering::SeqCst) {
                    hangs.push(format!("a launch hung and was replaced: {}", e.with_last_output()));
                    continue;
                }
            }
            break result;
        };
        let slot = &mut self.slots[t.env];
        match launched {
            Ok(mut r) => {
                if !hangs.is_empty() {
                    r.facts.insert(BOOT_RETRIES_FACT.into(), hangs.join("; "));
                }
                slot.launch =
                    LaunchInfo { launch_id: self.launches, fresh: true, boot: r.boot.clone(), facts: r.facts.clone() };
                slot.running = Some(r);
                slot.launch_failures = 0;
                Ok(Launch::Ready)
            }
            Err(e) => {
                if self.opts.cancel.load(Ordering::SeqCst) {
                    return Ok(Launch::Interrupted);
                }
                slot.launch_failures += 1;
                record.status = Status::Failed;
                // With the sandbox's last line of output: a VMM that exits at once says why
                // only on its stderr (for example a disk it cannot open).
                record.error = Some(format!("launch failed: {}", e.with_last_output()));
                record.console_tail = e.console_tail();
                self.record_unrun(record)?;
                Ok(Launch::Recorded)
            }
        }
    }

    /// One launch of a sandbox for environment `env`, under a fresh id.
    fn launch_once(&mut self, env_index: usize) -> Result<Running, sandbench_sandbox::SandboxError> {
        let env = self.envs[env_index];
        self.launches += 1;
        let spec = self.base.spec(self.launches, env, &self.guest);
        self.slots[env_index].sandbox.launch(&spec)
    }

    fn record_unrun(&mut self, record: &TrialRecord) -> Result<(), RunError> {
        self.dir.append(record)?;
        self.out.failed += 1;
        self.bar.finish_trial(record.error.as_deref().unwrap_or("failed"));
        Ok(())
    }

    /// Runs the trial in its slot's ready sandbox and records it; retires the sandbox when it
    /// is no longer usable, in cold mode, or after its environment's last trial.
    fn measure(&mut self, i: usize, t: &PlannedTrial, mut record: TrialRecord) -> Result<Step, RunError> {
        let (env, wl) = (self.envs[t.env], self.workloads[t.workload]);
        let slot = &mut self.slots[t.env];
        let Some(running) = slot.running.as_mut() else { return Ok(Step::Next) };
        if let Some(a) = running.accel {
            record.dims.accel = Some(a);
        }
        record.launch = Some(slot.launch.clone());
        slot.launch.fresh = false;
        let ctx = TrialCtx {
            c: self.c,
            dir: self.dir,
            power: self.power.as_ref(),
            cancel: &self.opts.cancel,
            sampling: Duration::from_millis(self.c.sampling.interval_ms),
        };
        let usable = match run_trial(running, &mut record, wl, &ctx)? {
            TrialEnd::Interrupted => {
                // Not recorded: a resumed run runs this trial again.
                self.out.interrupted = true;
                slot.retire(&self.opts.cancel);
                return Ok(Step::Stop);
            }
            TrialEnd::Done { usable } => usable,
            TrialEnd::Storage(e) => {
                self.dir.append(&record)?;
                return Err(e.into());
            }
        };
        if usable {
            record.vmm_metrics = slot.sandbox.vmm_metrics();
        }
        self.out.count(record.status);
        self.stopping.record(&record);
        record.stop = Some(self.stopping.judge(&env.name, &wl.name)).filter(|s| s.stopped());
        self.dir.append(&record)?;
        self.bar.finish_trial(&trial_status(&record));
        if !usable || self.c.mode == Mode::Cold || self.last_use[t.env] == i {
            self.slots[t.env].retire(&self.opts.cancel);
        }
        Ok(Step::Next)
    }

    fn retire_all(&mut self) {
        for s in &mut self.slots {
            s.retire(&self.opts.cancel);
        }
    }

    /// Retires every sandbox and, when the plan ran to its end, records why each series
    /// stopped and the closing idle baseline.
    pub fn finish(mut self, manifest: &mut Manifest) -> RunOutcome {
        self.retire_all();
        if !self.out.interrupted && !self.cancelled() {
            let series = self.envs.iter().flat_map(|e| {
                self.workloads.iter().filter(|w| w.runs_in(&e.name)).map(move |w| (e.name.as_str(), w.name.as_str()))
            });
            manifest.stops = self.stopping.final_stops(series);
            if let Some(p) = &self.power {
                crate::energy::finish(p, manifest, &self.opts.cancel);
            }
        }
        self.bar.finish();
        if self.cancelled() {
            self.out.interrupted = true;
        }
        self.out
    }
}

/// Removes what a killed sandbench left (containers, VMMs, cgroups, links, work dirs).
pub(crate) fn sweep_stale(c: &Campaign, work_root: &std::path::Path) {
    let sockets: Vec<String> = c.envs().filter_map(|e| e.config.own_socket().map(str::to_string)).collect();
    for what in sandbench_sandbox::driver::reap_stale(work_root, &sockets) {
        eprintln!("removed stale {what} (left by a sandbench that was killed)");
    }
}

/// A finished trial in a few words: `ok, 1.23 s` or `failed: why`.
pub(crate) fn trial_status(r: &TrialRecord) -> String {
    let ms = r.host_wall_ms;
    let wall = if ms < 1e3 { format!(", {ms:.1} ms") } else { format!(", {:.2} s", ms / 1e3) };
    match r.status {
        Status::Ok => format!("ok{wall}"),
        Status::Failed => format!("failed: {}", r.error.as_deref().unwrap_or("no reason recorded")),
        Status::Timeout => format!("timed out{wall}"),
    }
}
