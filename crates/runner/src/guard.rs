//! What a guest may put into a trial record, bounded: the guest is untrusted, and a record is
//! one line of `trials.jsonl` read back whole by every report.

use sandbench_spec::TrialRecord;

/// Longest error message kept.
pub const ERROR_BYTES: usize = 4096;
/// Longest metric, phase or unit name kept.
pub const NAME_BYTES: usize = 64;
/// Most metrics one trial may report.
pub const METRICS: usize = 256;
/// Most console lines kept.
pub const CONSOLE_LINES: usize = 60;
/// Longest console line kept.
pub const CONSOLE_LINE_BYTES: usize = 512;
/// Largest `outputs` kept (serialised).
pub const OUTPUTS_BYTES: usize = 256 << 10;

/// Cuts every guest-supplied field of `r` to its bound, noting what was cut.
pub fn bound_record(r: &mut TrialRecord) {
    if let Some(e) = r.error.as_mut() {
        cut(e, ERROR_BYTES);
    }
    r.console_tail.truncate(CONSOLE_LINES);
    for line in &mut r.console_tail {
        cut(line, CONSOLE_LINE_BYTES);
    }
    for p in &mut r.phases {
        cut(&mut p.name, NAME_BYTES);
    }
    if r.metrics.len() > METRICS || r.metrics.keys().any(|k| k.len() > NAME_BYTES) {
        let n = r.metrics.len();
        r.metrics =
            std::mem::take(&mut r.metrics).into_iter().filter(|(k, _)| k.len() <= NAME_BYTES).take(METRICS).collect();
        note(
            r,
            format!("the guest reported {n} metrics; {} kept (names of at most {NAME_BYTES} bytes)", r.metrics.len()),
        );
    }
    for m in r.metrics.values_mut() {
        cut(&mut m.unit, NAME_BYTES);
    }
    let size = serde_json::to_vec(&r.outputs).map(|v| v.len()).unwrap_or(0);
    if size > OUTPUTS_BYTES {
        r.outputs =
            serde_json::json!({ "dropped": format!("outputs of {size} bytes exceed the {OUTPUTS_BYTES}-byte bound") });
    }
}

fn note(r: &mut TrialRecord, what: String) {
    r.console_tail.push(format!("[sandbench] {what}"));
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    s.truncate(sandbench_protocol::truncate(s, max).len());
    s.push_str(" […]");
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbench_protocol::Metric;

    #[test]
    fn a_record_stuffed_by_a_guest_is_cut_to_its_bounds() {
        let mut r: TrialRecord = serde_json::from_str(include_str!("../tests/fixtures/record.json")).unwrap();
        let big = "é".repeat(1 << 16);
        r.error = Some(big.clone());
        r.console_tail = vec![big.clone(); 100];
        r.phases = vec![sandbench_spec::TrialPhase { name: big.clone(), host_ms: 1.0, guest_ms: 1.0 }; 64];
        for i in 0..10_000 {
            r.metrics.insert(format!("m{i}"), Metric::new(1.0, &"u".repeat(100)));
        }
        r.outputs = serde_json::json!({ "x": big, "y": big, "z": big });
        bound_record(&mut r);
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.len() < 1 << 20, "a record stays well under a MiB: {} bytes", line.len());
        assert_eq!(r.metrics.len(), METRICS);
        assert!(r.console_tail.last().unwrap().contains("metrics;"));
        assert!(r.outputs["dropped"].as_str().unwrap().contains("bound"));
    }
}
