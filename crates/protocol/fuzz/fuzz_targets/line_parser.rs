#![no_main]
//! Feeds arbitrary bytes, split at an arbitrary point, to the host-side parser.
//! Run: `cargo +nightly fuzz run line_parser` from crates/protocol.
use libfuzzer_sys::fuzz_target;
use sandbench_protocol::LineParser;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map(|b| *b as usize % (data.len() + 1)).unwrap_or(0);
    let mut p = LineParser::new();
    let _ = p.feed(&data[..split]);
    let _ = p.feed(&data[split..]);
    let _ = p.finish();
});
