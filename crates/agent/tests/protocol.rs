//! The agent binary over pipes: ready, a trial, a bad command, shutdown and a clean exit.
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serves_a_session_and_exits_cleanly_after_shutdown() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbench-agent"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("@@sb {\"type\":\"ready\",\"v\":1"), "{line}");
    stdin
        .write_all(b"@@sb {\"type\":\"run\",\"id\":5,\"workload\":\"cpu\",\"params\":{\"events\":3},\"trial\":1}\n")
        .unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("\"type\":\"result\",\"id\":5") && line.contains("\"primes_per_event\":1228"), "{line}");
    stdin.write_all(b"@@sb {\"type\":\"run\",\"id\":6,\"workload\":\"gpu\",\"trial\":1}\nnot a command\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("\"type\":\"error\",\"id\":6") && line.contains("valid kinds: cpu, noop"), "{line}");
    stdin.write_all(b"@@sb {\"type\":\"shutdown\"}\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "@@sb {\"type\":\"bye\"}\n");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "agent did not exit after shutdown");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
}
