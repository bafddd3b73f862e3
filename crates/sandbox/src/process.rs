//! Child processes in their own process group, so Ctrl-C reaches sandbench only and teardown
//! can kill a whole tree at once.

use crate::{SandboxError, KILL_WAIT};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

/// A started child with its pipes taken out.
pub struct Spawned {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
}

/// Most bytes a child's stderr log keeps (it is on `/run`, which is memory): past it the log
/// is rotated, keeping its last half in `<log>.1`.
pub const LOG_BOUND: u64 = 4 << 20;

/// Starts `cmd` with piped stdin/stdout and its stderr copied into `stderr_log` by a thread
/// that keeps the file under [`LOG_BOUND`], in a new process group. `hint` tells the user how
/// to get the program when it is missing.
pub fn spawn(cmd: &mut Command, stderr_log: &Path, hint: &str) -> Result<Spawned, SandboxError> {
    let bounded = sandbench_hostfs::BoundedLog::create(stderr_log, LOG_BOUND)
        .map_err(|source| SandboxError::Io { what: format!("open {}", stderr_log.display()), source })?;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    // If sandbench itself dies (kill -9), the kernel kills the runtime/VMM too; what survives
    // that (a container's processes, cgroups) is removed by `reap_stale` on the next run.
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = spawn_from_lasting_thread(cmd).map_err(|source| SandboxError::Spawn {
        program,
        source,
        hint: hint.to_string(),
    })?;
    let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        return Err(SandboxError::Command {
            command: cmd.get_program().to_string_lossy().into_owned(),
            detail: "child has no stdin/stdout/stderr pipe".into(),
        });
    };
    let _ = std::thread::Builder::new().name("sandbench-stderr".into()).spawn(move || bounded.pump(stderr));
    Ok(Spawned { child, stdin, stdout })
}

/// A spawn request for [`spawn_from_lasting_thread`]: the command, and where its result goes.
type SpawnJob = (Command, std::sync::mpsc::Sender<(Command, std::io::Result<Child>)>);

/// Spawns `cmd` from one thread that lives as long as the process. `PR_SET_PDEATHSIG` fires
/// when the *thread* that spawned a child exits, not the process: a runtime or VMM started
/// from a short-lived thread (a capacity step launches its sandboxes in parallel threads)
/// would be killed the moment that thread ended.
fn spawn_from_lasting_thread(cmd: &mut Command) -> std::io::Result<Child> {
    use std::sync::{mpsc, Mutex, OnceLock};
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        let started = std::thread::Builder::new().name("sandbench-spawner".into()).spawn(move || {
            for (mut cmd, reply) in rx {
                let result = cmd.spawn();
                let _ = reply.send((cmd, result));
            }
        });
        if let Err(e) = started {
            tracing::warn!("no spawner thread ({e}): children are spawned from their caller's thread");
        }
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    let owned = std::mem::replace(cmd, Command::new(cmd.get_program()));
    let sent = spawner.lock().map_err(|_| std::io::Error::other("spawner lock poisoned"))?.send((owned, reply_tx));
    if let Err(mpsc::SendError((mut owned, _))) = sent {
        // No spawner thread: spawn here (a caller on a lasting thread loses nothing).
        let r = owned.spawn();
        *cmd = owned;
        return r;
    }
    let (owned, result) = reply_rx.recv().map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    *cmd = owned;
    result
}

/// Removes a sandbox's work dir. A log's copy thread can still be writing its last output
/// (a rotation creates `<log>.1`) while the directory goes; a second pass a moment later takes
/// what came in between, so no part of a torn-down sandbox stays on `/run`.
pub fn remove_work_dir(dir: &Path) {
    for _ in 0..10 {
        let _ = std::fs::remove_dir_all(dir);
        if !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Kills the process group of `child` and reaps it; waits at most [`KILL_WAIT`].
pub fn kill_group(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pgid = child.id() as i32;
    // SAFETY: kill has no memory-safety preconditions; a negative pid names the group that
    // process_group(0) created for this child alone.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let start = Instant::now();
    while start.elapsed() < KILL_WAIT {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Last lines of a child's stderr log (rotated part included), for failure reports.
pub fn log_tail(path: &Path, n: usize) -> Vec<String> {
    sandbench_hostfs::BoundedLog::tail(path, n)
}

/// First line of `program args…` output, for version facts.
pub fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().ok()?;
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    String::from_utf8_lossy(&text).lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
}

/// Waits for `child` at most `limit`, collecting its output; kills it past the limit.
pub fn wait_output(
    mut child: Child,
    limit: std::time::Duration,
    what: &str,
) -> Result<std::process::Output, SandboxError> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => {
                return child
                    .wait_with_output()
                    .map_err(|source| SandboxError::Io { what: format!("wait for {what}"), source })
            }
            Ok(None) if start.elapsed() < limit => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SandboxError::Wedged { what: what.to_string(), secs: limit.as_secs() });
            }
        }
    }
}

/// Runs a teardown command (no stdin, output collected) and kills it after
/// [`crate::TEARDOWN_WAIT`]; None when it could not start or had to be killed.
pub fn run_bounded(cmd: &mut Command) -> Option<std::process::Output> {
    let what = cmd.get_program().to_string_lossy().into_owned();
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().ok()?;
    match wait_output(child, crate::TEARDOWN_WAIT, &what) {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::warn!("teardown: {e}");
            None
        }
    }
}

/// The full path of `program` on PATH.
pub fn on_path(program: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).map(|d| d.join(program)).find(|f| f.is_file()).map(|f| f.display().to_string())
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    #[test]
    fn a_wedged_teardown_command_is_killed_at_its_limit() {
        let child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let t = Instant::now();
        let e = super::wait_output(child, std::time::Duration::from_millis(200), "sleep").unwrap_err();
        assert!(e.to_string().contains("did not finish"), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
}
