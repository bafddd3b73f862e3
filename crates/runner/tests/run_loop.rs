//! The run loop with a fake sandbox (a test stand-in: an in-process agent on a pair of pipes,
//! no root, no processes): a warm sandbox serves every trial, cold mode launches one per
//! trial, a trial that times out or crashes gets a fresh sandbox, two failed launches end an
//! environment, and a cancelled run resumes to exactly its plan.

use sandbench_protocol::{decode_host, encode, AgentMsg, HostMsg};
use sandbench_runner::{run, DriverFactory, ResultsDir, RunOptions};
use sandbench_sampler::Accounting;
use sandbench_sandbox::channel::AgentChannel;
use sandbench_sandbox::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_spec::{BootTimeline, Manifest, Status, TrialRecord};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// What the fake agent does, by environment name and trial number (1-based; 0 = warm-up).
#[derive(Default, Clone)]
struct Script {
    /// Environments whose every launch fails.
    broken: Vec<String>,
    /// Launches (1-based, counted across environments) that hang: no `ready` within the
    /// boot timeout, as a VM whose kernel wedges early does.
    hung_launches: Vec<u32>,
    /// Trials whose `run` is never answered (the runner's timeout ends them).
    hang: Vec<u32>,
    /// Trials at which the agent closes its channel, as a crashed sandbox does.
    crash: Vec<u32>,
    /// Set this flag (the runner's Ctrl-C) when this trial's `run` arrives (once), then answer it.
    cancel_at: Option<(u32, Arc<AtomicBool>)>,
}

#[derive(Default, Debug)]
struct Stats {
    launches: u32,
    teardowns: u32,
    runs: Vec<(String, u32)>,
}

struct Fake {
    env: String,
    script: Script,
    stats: Arc<Mutex<Stats>>,
    live: bool,
}

impl Sandbox for Fake {
    fn launch(&mut self, _spec: &LaunchSpec) -> Result<Running, SandboxError> {
        let n = {
            let mut s = self.stats.lock().unwrap();
            s.launches += 1;
            s.launches
        };
        if self.script.hung_launches.contains(&n) {
            // A hung start leaves its sandbox up for the runner to tear down.
            self.live = true;
            return Err(SandboxError::Boot {
                source: sandbench_sandbox::ChannelError::Timeout(0.1),
                reached: "first output at 3 ms; no init and no ready".into(),
                console_tail: vec!["x86: Booting SMP configuration:".into()],
            });
        }
        if self.script.broken.contains(&self.env) {
            return Err(SandboxError::Unsupported { why: format!("{} cannot start (fake)", self.env) });
        }
        let (host_read, agent_write) = std::io::pipe().unwrap();
        let (agent_read, host_write) = std::io::pipe().unwrap();
        let (env, script, stats) = (self.env.clone(), self.script.clone(), self.stats.clone());
        std::thread::spawn(move || agent(env, script, stats, agent_read, agent_write));
        self.live = true;
        Ok(Running {
            accel: None,
            channel: AgentChannel::new(host_read, host_write),
            accounting: Accounting::default(),
            boot: BootTimeline { total_ms: 1.0, ..Default::default() },
            facts: Default::default(),
            peers: None,
        })
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        if std::mem::take(&mut self.live) {
            self.stats.lock().unwrap().teardowns += 1;
        }
        Ok(())
    }
}

/// The fake agent's loop: answers `run` with an empty result, `shutdown` with `bye`.
fn agent(env: String, script: Script, stats: Arc<Mutex<Stats>>, input: impl std::io::Read, mut out: impl Write) {
    for line in BufReader::new(input).lines() {
        let Ok(line) = line else { return };
        match decode_host(&line) {
            Some(Ok(HostMsg::Run { id, trial, .. })) => {
                stats.lock().unwrap().runs.push((env.clone(), trial));
                if script.crash.contains(&trial) {
                    return;
                }
                if script.hang.contains(&trial) {
                    continue;
                }
                if let Some((at, flag)) = &script.cancel_at {
                    if *at == trial && !flag.swap(true, Ordering::SeqCst) {
                        // Ctrl-C while the trial runs: the runner stops waiting for it.
                        continue;
                    }
                }
                let result = AgentMsg::Result {
                    id,
                    wall_ms: 1.0,
                    metrics: Default::default(),
                    outputs: serde_json::Value::Null,
                    guest_cpu: None,
                };
                let _ = out.write_all(encode(&result).as_bytes());
            }
            Some(Ok(HostMsg::Shutdown)) => {
                let _ = out.write_all(encode(&AgentMsg::Bye).as_bytes());
                return;
            }
            _ => {}
        }
    }
}

struct Harness {
    tmp: tempfile::TempDir,
    stats: Arc<Mutex<Stats>>,
    script: Script,
}

impl Harness {
    fn new(script: Script) -> Harness {
        Harness { tmp: tempfile::tempdir().unwrap(), stats: Default::default(), script }
    }

    fn options(&self, campaign: &str, resume: Option<PathBuf>, cancel: Arc<AtomicBool>) -> RunOptions {
        let (script, stats) = (self.script.clone(), self.stats.clone());
        let drivers: DriverFactory = Arc::new(move |e| {
            Box::new(Fake { env: e.name.clone(), script: script.clone(), stats: stats.clone(), live: false })
                as Box<dyn Sandbox>
        });
        RunOptions {
            campaign_path: self.tmp.path().join("loop.toml"),
            campaign_text: Some(campaign.to_string()),
            out_root: self.tmp.path().join("out"),
            resume,
            agent: PathBuf::from("/nonexistent/fake-agent"),
            agent_dynamic: None,
            cancel,
            progress: sandbench_runner::ProgressMode::Quiet,
            git_revision: None,
            drivers: Some(drivers),
        }
    }

    fn run(&self, campaign: &str) -> (PathBuf, Vec<TrialRecord>) {
        let out = run(&self.options(campaign, None, Arc::new(AtomicBool::new(false)))).unwrap();
        let rs = records(&out.dir);
        (out.dir, rs)
    }
}

fn records(dir: &Path) -> Vec<TrialRecord> {
    ResultsDir::open(dir).unwrap().records(false).unwrap()
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn campaign(envs: &[&str], extra: &str) -> String {
    let mut c = format!("name = \"loop\"\n{extra}\n[power]\nidle_s = 0\n");
    for e in envs {
        c.push_str(&format!("[[environment]]\nname = \"{e}\"\ndriver = \"native\"\n"));
    }
    c + "[[workload]]\nname = \"noop\"\nkind = \"noop\"\n"
}

#[test]
fn a_warm_sandbox_serves_every_trial_and_is_retired_once() {
    let h = Harness::new(Script::default());
    let (dir, rs) = h.run(&campaign(&["a"], "trials = 3\nwarmup = 1"));
    assert_eq!(rs.len(), 4);
    assert!(rs.iter().all(|r| r.status == Status::Ok));
    let s = h.stats.lock().unwrap();
    assert_eq!((s.launches, s.teardowns), (1, 1), "{s:?}");
    // One sandbox: the first trial says it was launched for it, the others that they reused it.
    let fresh: Vec<bool> = rs.iter().map(|r| r.launch.as_ref().unwrap().fresh).collect();
    assert_eq!(fresh, [true, false, false, false]);
    assert_eq!(manifest(&dir).state, "complete");
}

#[test]
fn cold_mode_launches_a_sandbox_per_trial() {
    let h = Harness::new(Script::default());
    let (_, rs) = h.run(&campaign(&["a", "b"], "trials = 3\nwarmup = 0\nmode = \"cold\""));
    assert_eq!(rs.len(), 6);
    let s = h.stats.lock().unwrap();
    assert_eq!((s.launches, s.teardowns), (6, 6), "{s:?}");
    let ids: std::collections::BTreeSet<u32> = rs.iter().map(|r| r.launch.as_ref().unwrap().launch_id).collect();
    assert_eq!(ids.len(), 6);
}

#[test]
fn a_trial_that_times_out_or_crashes_is_recorded_and_the_next_gets_a_fresh_sandbox() {
    let h = Harness::new(Script { hang: vec![2], crash: vec![4], ..Default::default() });
    let (_, rs) = h.run(&campaign(&["a"], "trials = 5\nwarmup = 0\n[timeouts]\ntrial_s = 0.5"));
    let status: Vec<Status> = rs.iter().map(|r| r.status).collect();
    assert_eq!(status, [Status::Ok, Status::Timeout, Status::Ok, Status::Failed, Status::Ok]);
    assert!(
        rs[1].error.as_deref().unwrap().contains("timeout") || rs[1].error.as_deref().unwrap().contains("timed out")
    );
    // Trials 1-2 in the first sandbox, 3-4 in the second, 5 in the third.
    let launch: Vec<u32> = rs.iter().map(|r| r.launch.as_ref().unwrap().launch_id).collect();
    assert_eq!(launch, [1, 1, 2, 2, 3]);
    let s = h.stats.lock().unwrap();
    assert_eq!((s.launches, s.teardowns), (3, 3), "{s:?}");
}

#[test]
fn two_failed_launches_end_an_environment_and_spare_the_others() {
    let h = Harness::new(Script { broken: vec!["broken".into()], ..Default::default() });
    let (_, rs) = h.run(&campaign(&["broken", "a"], "trials = 4\nwarmup = 0\norder = \"sequential\""));
    let broken: Vec<&str> =
        rs.iter().filter(|r| r.key.environment == "broken").map(|r| r.error.as_deref().unwrap_or("")).collect();
    assert_eq!(broken.len(), 4);
    assert!(broken[..2].iter().all(|e| e.starts_with("launch failed: unsupported: broken cannot start")), "{broken:?}");
    assert!(broken[2..].iter().all(|e| e.contains("failed to launch twice")), "{broken:?}");
    assert!(rs.iter().filter(|r| r.key.environment == "a").all(|r| r.status == Status::Ok));
    // Two launches tried for `broken`, one for `a`.
    assert_eq!(h.stats.lock().unwrap().launches, 3);
}

#[test]
fn a_cancelled_run_is_interrupted_and_resume_runs_exactly_what_is_left() {
    let cancel = Arc::new(AtomicBool::new(false));
    let h = Harness::new(Script { cancel_at: Some((3, cancel.clone())), ..Default::default() });
    let text = campaign(&["a", "b"], "trials = 4\nwarmup = 0\norder = \"interleaved\"");
    let first = run(&h.options(&text, None, cancel)).unwrap();
    assert!(first.interrupted);
    assert_eq!(manifest(&first.dir).state, "interrupted");
    let done = records(&first.dir);
    // Interleaved: a1 b1 a2 b2, then Ctrl-C during a3, which is not recorded.
    assert_eq!(done.len(), 4, "{:?}", done.iter().map(|r| r.key.slug()).collect::<Vec<_>>());
    {
        let s = h.stats.lock().unwrap();
        assert_eq!(s.launches, s.teardowns, "every sandbox torn down on cancel: {s:?}");
    }
    let again = run(&h.options(&text, Some(first.dir.clone()), Arc::new(AtomicBool::new(false)))).unwrap();
    assert!(!again.interrupted);
    assert_eq!((again.ok, again.skipped_done), (4, 4));
    let all = records(&first.dir);
    let keys: std::collections::BTreeSet<String> = all.iter().map(|r| r.key.slug()).collect();
    assert_eq!((all.len(), keys.len()), (8, 8), "every planned trial once");
    let m = manifest(&first.dir);
    assert_eq!((m.state.to_string().as_str(), m.resumes), ("complete", 1));
    let s = h.stats.lock().unwrap();
    assert_eq!(s.launches, s.teardowns, "{s:?}");
    // Resume runs the interrupted trial again and no finished one: a3 twice, a2 once.
    let times = |env: &str, t: u32| s.runs.iter().filter(|(e, n)| e == env && *n == t).count();
    assert_eq!((times("a", 3), times("a", 2), times("b", 2)), (2, 1, 1), "{:?}", s.runs);
}

#[test]
fn a_start_that_hangs_is_torn_down_and_launched_again_as_often_as_boot_retries_says() {
    let h = Harness::new(Script { hung_launches: vec![1, 3, 4], ..Default::default() });
    let (dir, rs) = h.run(&campaign(&["a"], "trials = 3\nwarmup = 0\nmode = \"cold\""));
    let status: Vec<Status> = rs.iter().map(|r| r.status).collect();
    // Trial 1: launch 1 hangs, launch 2 serves it. Trial 2: launches 3 and 4 hang, and one
    // retry (the default) is all it gets. Trial 3: launch 5.
    assert_eq!(status, [Status::Ok, Status::Failed, Status::Ok]);
    let fact = |i: usize| rs[i].launch.as_ref().and_then(|l| l.facts.get("boot_retries").cloned());
    let first = fact(0).expect("the hang is a fact of the launch that replaced it");
    assert!(first.contains("timed out") && first.contains("no init") && first.contains("Booting SMP"), "{first}");
    assert_eq!(fact(2), None);
    let error = rs[1].error.as_deref().unwrap();
    assert!(error.starts_with("launch failed: the agent did not become ready: timed out"), "{error}");
    assert_eq!(rs[1].console_tail, ["x86: Booting SMP configuration:"]);
    {
        let s = h.stats.lock().unwrap();
        assert_eq!((s.launches, s.teardowns), (5, 5), "every hung start torn down: {s:?}");
    }
    assert_eq!(manifest(&dir).state, "complete");

    // With no retries, a hung start fails its trial at once.
    let h = Harness::new(Script { hung_launches: vec![1], ..Default::default() });
    let (_, rs) = h.run(&campaign(&["a"], "trials = 2\nwarmup = 0\n[timeouts]\nboot_retries = 0"));
    let status: Vec<Status> = rs.iter().map(|r| r.status).collect();
    assert_eq!(status, [Status::Failed, Status::Ok]);
    assert_eq!(h.stats.lock().unwrap().launches, 2);
}
