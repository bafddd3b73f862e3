//! The JSON lines our Ansible callback (`fleet/callback_plugins/sandbench_events.py`) prints.
//! A line that is not one of them (Ansible's own warnings) is ignored; a line is read only up
//! to [`MAX_LINE`] bytes, so a host's long message cannot grow the controller's memory.

use serde_json::{Map, Value};

/// Longest event line read; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 64 * 1024;

/// One host event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The playbook started.
    Start,
    /// A task started on a host.
    Task {
        host: String,
        task: String,
    },
    /// A task ended well; `facts` holds what the facts tasks found.
    Ok {
        host: String,
        task: String,
        facts: Map<String, Value>,
        rc: Option<i64>,
        stdout_tail: Option<String>,
    },
    /// A task failed (and was not ignored).
    Failed {
        host: String,
        task: String,
        msg: String,
    },
    /// The host could not be reached (SSH).
    Unreachable {
        host: String,
        task: String,
        msg: String,
    },
    Skipped {
        host: String,
        task: String,
    },
    /// An async task was polled.
    Poll {
        host: String,
        task: String,
    },
    /// The play's end: per host, how many tasks failed and whether it was unreachable.
    Stats {
        hosts: Vec<(String, u64, u64)>,
    },
}

impl Event {
    /// The host the event is about.
    pub fn host(&self) -> Option<&str> {
        match self {
            Event::Task { host, .. }
            | Event::Ok { host, .. }
            | Event::Failed { host, .. }
            | Event::Unreachable { host, .. }
            | Event::Skipped { host, .. }
            | Event::Poll { host, .. } => Some(host),
            Event::Start | Event::Stats { .. } => None,
        }
    }
}

/// The event of one line, if it is one.
pub fn parse_line(line: &str) -> Option<Event> {
    let v: Value = serde_json::from_str(line.trim()).ok()?;
    let s = |k: &str| v[k].as_str().map(str::to_string);
    let (host, task) = (s("host").unwrap_or_default(), s("task").unwrap_or_default());
    Some(match v["event"].as_str()? {
        "start" => Event::Start,
        "task" => Event::Task { host, task },
        "ok" => Event::Ok {
            host,
            task,
            facts: v["facts"].as_object().cloned().unwrap_or_default(),
            rc: v["rc"].as_i64(),
            stdout_tail: s("stdout_tail"),
        },
        "failed" if v["ignored"].as_bool() == Some(true) => Event::Skipped { host, task },
        "failed" => Event::Failed { host, task, msg: s("msg").unwrap_or_default() },
        "unreachable" => Event::Unreachable { host, task, msg: s("msg").unwrap_or_default() },
        "skipped" => Event::Skipped { host, task },
        "poll" => Event::Poll { host, task },
        "stats" => Event::Stats {
            hosts: v["hosts"]
                .as_object()?
                .iter()
                .map(|(h, c)| (h.clone(), c["failures"].as_u64().unwrap_or(0), c["unreachable"].as_u64().unwrap_or(0)))
                .collect(),
        },
        _ => return None,
    })
}

/// Reads event lines from `r` until it ends, each bounded to [`MAX_LINE`] bytes.
pub fn read_events(r: impl std::io::Read, mut each: impl FnMut(Event)) {
    let mut r = std::io::BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match bounded_line(&mut r, &mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if let Some(e) = parse_line(&String::from_utf8_lossy(&buf)) {
                    each(e);
                }
            }
        }
    }
}

/// One line into `buf` (at most MAX_LINE bytes kept); the bytes consumed.
fn bounded_line(r: &mut impl std::io::BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_line() {
        let lines = include_str!("../tests/fixtures/events.jsonl");
        let mut got = Vec::new();
        read_events(lines.as_bytes(), |e| got.push(e));
        assert_eq!(got[0], Event::Start);
        assert!(matches!(&got[1], Event::Task { host, task } if host == "host1" && task == "facts"));
        let Event::Ok { facts, .. } = &got[2] else { panic!("{:?}", got[2]) };
        assert_eq!(facts["architecture"], "x86_64");
        assert!(
            matches!(&got[3], Event::Unreachable { host, msg, .. } if host == "host2" && msg.contains("Connection refused"))
        );
        assert!(matches!(&got[4], Event::Failed { host, .. } if host == "host3"));
        assert!(matches!(&got[5], Event::Skipped { .. }), "an ignored failure is not a failure");
        assert!(matches!(&got[6], Event::Stats { hosts } if hosts.len() == 3));
        assert_eq!(got.len(), 7, "Ansible's own warning lines are not events");
    }

    #[test]
    fn a_huge_line_is_cut_not_kept() {
        let mut text = String::from("{\"event\":\"task\",\"host\":\"h\",\"task\":\"");
        text.push_str(&"x".repeat(10 * MAX_LINE));
        text.push_str("\"}\n{\"event\":\"start\"}\n");
        let mut got = Vec::new();
        read_events(text.as_bytes(), |e| got.push(e));
        assert_eq!(got, vec![Event::Start], "the cut line is not JSON any more; the next one is read");
    }
}
