//! An external meter: a program that prints one reading per line (a USB meter's logger, a
//! smart plug's poller, SPEC PTDaemon's client). Lines:
//!
//! - `9.25` or `9.25 W`: watts, averaged since the previous line;
//! - `1234.5 J`: a cumulative energy counter in joules;
//! - `1733060000.125 9.25 W`: the same with the meter's own Unix timestamp (seconds) first;
//!   without one, a line is timestamped when it arrives;
//! - `# text`: a comment; the first one describes the meter and is recorded with the run.

use crate::{Domain, PowerError, Reading, Source, Value};
use sandbench_spec::power::PowerSourceKind;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest line read; a meter printing longer ones is broken.
pub const MAX_LINE: usize = 256;
/// Readings held between two polls at most (the meter is dropped to this if it floods).
const QUEUE: usize = 65_536;

/// A line of meter output.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    Comment(String),
    Reading { unix_s: Option<f64>, value: Value },
    Blank,
}

/// Parses one line; the error says what was wrong.
pub fn parse_line(line: &str) -> Result<Line, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Line::Blank);
    }
    if let Some(c) = line.strip_prefix('#') {
        return Ok(Line::Comment(c.trim().to_string()));
    }
    let mut tokens: Vec<&str> = line.split_whitespace().collect();
    // A unit glued to the number (`9.25W`) or on its own (`9.25 W`).
    let mut unit = "W";
    if let Some(last) = tokens.last_mut() {
        for u in ["W", "J"] {
            if *last == u {
                unit = u;
                tokens.pop();
                break;
            }
            if let Some(n) = last.strip_suffix(u) {
                unit = u;
                *last = n;
                break;
            }
        }
    }
    let nums: Vec<f64> = tokens
        .iter()
        .map(|t| t.parse::<f64>().map_err(|_| format!("`{t}` is not a number")))
        .collect::<Result<_, _>>()?;
    let (unix_s, x) = match nums.as_slice() {
        [x] => (None, *x),
        [t, x] => (Some(*t), *x),
        _ => return Err("expected `[unix_seconds] value [W|J]`".into()),
    };
    if !x.is_finite() || x < 0.0 {
        return Err(format!("{x} is not a reading (finite, ≥ 0)"));
    }
    let value = if unit == "J" { Value::Joules(x) } else { Value::Watts(x) };
    Ok(Line::Reading { unix_s, value })
}

/// The command source.
pub struct Meter {
    argv: Vec<String>,
    child: Child,
    rx: Receiver<Result<Reading, String>>,
    description: Arc<Mutex<Option<String>>>,
    domains: Vec<Domain>,
    /// The first reading, waited for at start and handed to the first poll.
    first: Option<Reading>,
}

impl Meter {
    /// Starts `argv` in `cwd` (the campaign file's folder) and waits up to `first` for its
    /// first reading, so a meter that cannot work fails before any trial.
    pub fn open(argv: &[String], cwd: &Path, first: Duration) -> Result<Meter, PowerError> {
        let (program, args) = argv.split_first().ok_or_else(|| PowerError::Meter("empty command".into()))?;
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        // SAFETY: prctl and setpgid are async-signal-safe and touch no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::setpgid(0, 0);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| PowerError::Meter(format!("cannot start `{}` in {}: {e}", argv.join(" "), cwd.display())))?;
        let stdout = child.stdout.take().ok_or_else(|| PowerError::Meter("no stdout".into()))?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let description = Arc::new(Mutex::new(None));
        let desc = description.clone();
        let epoch =
            (Instant::now(), SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0));
        std::thread::Builder::new()
            .name("sandbench-meter".into())
            .spawn(move || read_lines(stdout, &tx, &desc, epoch))
            .map_err(|e| PowerError::Meter(e.to_string()))?;
        let mut m = Meter {
            argv: argv.to_vec(),
            child,
            rx,
            description,
            domains: vec![Domain { name: "meter".into(), top_level: true }],
            first: None,
        };
        m.wait_first(first)?;
        Ok(m)
    }

    fn wait_first(&mut self, first: Duration) -> Result<(), PowerError> {
        match self.rx.recv_timeout(first) {
            Ok(Ok(r)) => {
                self.first = Some(r);
                Ok(())
            }
            Ok(Err(e)) => Err(PowerError::Meter(e)),
            Err(_) => Err(PowerError::Meter(format!(
                "`{}` printed no reading within {} s{}",
                self.argv.join(" "),
                first.as_secs(),
                self.exit_status().map(|s| format!(" (exited: {s})")).unwrap_or_default()
            ))),
        }
    }

    fn exit_status(&mut self) -> Option<String> {
        self.child.try_wait().ok().flatten().map(|s| s.to_string())
    }
}

fn read_lines(
    stdout: impl Read,
    tx: &mpsc::SyncSender<Result<Reading, String>>,
    desc: &Mutex<Option<String>>,
    (epoch, epoch_unix): (Instant, f64),
) {
    let mut r = BufReader::new(stdout);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        match r.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        n += 1;
        let arrived = Instant::now();
        if buf.len() > MAX_LINE && !buf.ends_with(b"\n") {
            let _ = tx.send(Err(format!("line {n}: longer than {MAX_LINE} bytes")));
            return;
        }
        let text = String::from_utf8_lossy(&buf);
        let item = match parse_line(&text) {
            Ok(Line::Reading { unix_s, value }) => {
                let at = match unix_s {
                    Some(t) if t >= epoch_unix => epoch + Duration::from_secs_f64(t - epoch_unix),
                    Some(t) => epoch.checked_sub(Duration::from_secs_f64(epoch_unix - t)).unwrap_or(epoch),
                    None => arrived,
                };
                Ok(Reading { at, values: vec![value], ambiguous: false, fresh: true })
            }
            Ok(Line::Comment(c)) => {
                let mut d = desc.lock().unwrap_or_else(|p| p.into_inner());
                if d.is_none() && !c.is_empty() {
                    *d = Some(c.chars().take(200).collect());
                }
                continue;
            }
            Ok(Line::Blank) => continue,
            Err(why) => Err(format!("line {n} `{}`: {why}", text.trim())),
        };
        let fatal = item.is_err();
        if tx.send(item).is_err() || fatal {
            return;
        }
    }
}

impl Source for Meter {
    fn kind(&self) -> PowerSourceKind {
        PowerSourceKind::Command
    }

    fn describe(&self) -> String {
        let what = self.description.lock().unwrap_or_else(|p| p.into_inner()).clone();
        format!("command: `{}`{}", self.argv.join(" "), what.map(|d| format!(" ({d})")).unwrap_or_default())
    }

    fn domains(&self) -> &[Domain] {
        &self.domains
    }

    fn poll(&mut self, out: &mut Vec<Reading>) -> Result<(), PowerError> {
        out.extend(self.first.take());
        loop {
            match self.rx.try_recv() {
                Ok(Ok(r)) => out.push(r),
                Ok(Err(e)) => return Err(PowerError::Meter(e)),
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    let status = self.exit_status().unwrap_or_else(|| "closed its output".into());
                    return Err(PowerError::Meter(format!("`{}` stopped: {status}", self.argv.join(" "))));
                }
            }
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // Its whole process group: a shell wrapper's children too.
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's group.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_every_documented_form() {
        let w = |x| Line::Reading { unix_s: None, value: Value::Watts(x) };
        assert_eq!(parse_line("9.25").unwrap(), w(9.25));
        assert_eq!(parse_line(" 9.25 W\n").unwrap(), w(9.25));
        assert_eq!(parse_line("9.25W").unwrap(), w(9.25));
        assert_eq!(parse_line("1234.5 J").unwrap(), Line::Reading { unix_s: None, value: Value::Joules(1234.5) });
        assert_eq!(
            parse_line("1733060000.125 4.0 W").unwrap(),
            Line::Reading { unix_s: Some(1733060000.125), value: Value::Watts(4.0) }
        );
        assert_eq!(parse_line("# USB meter UM25C").unwrap(), Line::Comment("USB meter UM25C".into()));
        assert_eq!(parse_line("  ").unwrap(), Line::Blank);
        assert!(parse_line("nine").unwrap_err().contains("`nine` is not a number"));
        assert!(parse_line("-3 W").is_err());
        assert!(parse_line("1 2 3").is_err());
    }
}
