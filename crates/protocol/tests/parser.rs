use sandbench_protocol::{encode, AgentMsg, Event, HostMsg, LineParser, MAX_LINE};

fn ready() -> AgentMsg {
    AgentMsg::Ready {
        v: 1,
        agent_version: "0.1.0".into(),
        uptime_ms: 812.5,
        clock_unix_ms: 1.7e12,
        kernel: "6.1.0".into(),
        cpus: 2,
        mem_total_kib: 1000,
        pid1: true,
        clocksource: Some("tsc".into()),
    }
}

#[test]
fn round_trip_in_any_chunking() {
    let line = encode(&ready());
    for split in 0..line.len() {
        let mut p = LineParser::new();
        let mut ev = p.feed(&line.as_bytes()[..split]);
        ev.extend(p.feed(&line.as_bytes()[split..]));
        assert_eq!(ev, vec![Event::Msg(ready())], "split at {split}");
    }
}

#[test]
fn kernel_noise_and_crlf_are_handled() {
    let mut p = LineParser::new();
    let input = format!(
        "[    0.000000] Linux version 6.1.0\r\n[    1.2] virtio_blk virtio0: [vda]\r\n{}",
        encode(&AgentMsg::Bye).replace('\n', "\r\n")
    );
    let ev = p.feed(input.as_bytes());
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[0], Event::Noise("[    0.000000] Linux version 6.1.0".into()));
    assert_eq!(ev[2], Event::Msg(AgentMsg::Bye));
}

#[test]
fn prefix_after_kernel_text_on_same_line_still_parses() {
    let mut p = LineParser::new();
    let line = format!("[ 3.1] random: crng init done{}", encode(&AgentMsg::Bye));
    assert_eq!(p.feed(line.as_bytes()), vec![Event::Msg(AgentMsg::Bye)]);
}

#[test]
fn malformed_and_overlong_lines_are_reported_not_fatal() {
    let mut p = LineParser::new();
    let ev = p.feed(b"@@sb {\"type\":\"nonsense\"}\n@@sb {not json\n");
    assert!(matches!(ev[0], Event::Malformed(_)));
    assert!(matches!(ev[1], Event::Malformed(_)));
    let big = vec![b'x'; MAX_LINE + 10];
    let ev = p.feed(&big);
    assert!(matches!(ev[0], Event::Malformed(_)));
    // The rest of the long line is skipped, the next line parses.
    let mut more = b"yyyy\n".to_vec();
    more.extend_from_slice(encode(&AgentMsg::Bye).as_bytes());
    assert_eq!(p.feed(&more), vec![Event::Msg(AgentMsg::Bye)]);
}

#[test]
fn random_garbage_never_panics() {
    // Deterministic xorshift so the test is reproducible; the fuzz target covers more.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut p = LineParser::new();
    for _ in 0..2000 {
        let mut chunk = Vec::new();
        for _ in 0..(x % 300) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let b = (x & 0xff) as u8;
            chunk.push(if b.is_multiple_of(11) { b'\n' } else { b });
            if b.is_multiple_of(97) {
                chunk.extend_from_slice(b"@@sb {\"type\":");
            }
        }
        let _ = p.feed(&chunk);
    }
    let _ = p.finish();
}

#[test]
fn host_messages_decode() {
    let run = HostMsg::Run { id: 7, workload: "cpu".into(), params: Default::default(), trial: 3 };
    let line = encode(&run);
    assert_eq!(sandbench_protocol::decode_host(&line).map(Result::ok), Some(Some(run)));
    assert!(sandbench_protocol::decode_host("login:").is_none());
    let bad = format!("{}{{\"type\":\"launch\"}}", sandbench_protocol::PREFIX);
    let e = sandbench_protocol::decode_host(&bad).unwrap().unwrap_err();
    assert!(e.is_data() && e.to_string().contains("unknown variant"), "{e}");
}
