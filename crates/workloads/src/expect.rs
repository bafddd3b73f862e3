//! Expected answers on the sample inputs, so a broken pre-processing step can never pass as a
//! fast one: `sandbench run --verify` and the tests check every trial's outputs against them.

use crate::Kind;
use serde_json::Value;

/// Class names a person detector may use (COCO's `person`; the fall model's `Normal`/`Fall`).
const PERSON: &[&str] = &["person", "Normal", "Fall"];

/// LJ Speech sentences (public domain) that sandbench has espeak-ng speak: (file, text).
pub const LJ_SPEECH: &[(&str, &str)] = &[
    (
        "lj001-0001.wav",
        "Printing, in the only sense with which we are at present concerned, differs from most if not from all the arts and crafts represented in the Exhibition",
    ),
    ("lj001-0002.wav", "in being comparatively modern."),
    (
        "lj001-0003.wav",
        "For although the Chinese took impressions from wood blocks engraved in relief for centuries before the woodcutters of the Netherlands, by a similar process",
    ),
];

/// Reference transcripts of the speech sample inputs.
pub fn reference_transcript(input: &str) -> Option<&'static str> {
    match base(input) {
        // Samuel Beckett, Worstward Ho, as read in moonshine's sample.
        "beckett.wav" => Some("Ever tried. Ever failed. No matter. Try again. Fail again. Fail better."),
        f => LJ_SPEECH.iter().find(|(name, _)| *name == f).map(|(_, text)| *text),
    }
}

/// The highest word error rate that still counts as right for `input`: 10 % for human speech;
/// 45 % for espeak-ng's synthetic voice, which Whisper tiny.en hears less well (faster-whisper
/// itself, greedy, scores 18.5, 0 and 37.5 % on the three LJ sentences, and sandbench the
/// same: `fidelity/reference.json`); a broken pipeline scores near 100 % either way.
pub fn wer_limit(input: &str) -> f64 {
    if LJ_SPEECH.iter().any(|(name, _)| *name == base(input)) {
        0.45
    } else {
        0.10
    }
}

/// Lower case, punctuation dropped (apostrophes kept), split on whitespace.
pub fn normalize_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '\'' { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Word error rate: word-level edit distance over the reference's word count.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (normalize_words(reference), normalize_words(hypothesis));
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(rw != hw)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len() as f64
}

fn base(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// What is wrong with one input's result, if anything is known about that input.
fn check_input(kind: Kind, input: &str, result: &Value) -> Option<String> {
    let file = base(input);
    match kind {
        Kind::Classify => {
            let top = array(result, "top5").first()?;
            let class = top.get("class").and_then(Value::as_u64)?;
            let want: &[u64] = match file {
                "coffee.png" => &[967],
                "chelsea.png" => &[281, 282, 283, 284, 285],
                f if f.starts_with("traffic_light") => &[920],
                _ => return None,
            };
            (!want.contains(&class)).then(|| format!("{file}: top-1 class {class}, expected one of {want:?}"))
        }
        Kind::Detect => {
            let people = array(result, "detections")
                .iter()
                .filter(|d| d.get("name").and_then(Value::as_str).is_some_and(|n| PERSON.contains(&n)))
                .count();
            let want = match file {
                "bus.jpg" => 3,
                "zidane.jpg" => 2,
                _ => return None,
            };
            (people < want).then(|| format!("{file}: {people} people detected, expected at least {want}"))
        }
        Kind::Face => {
            let faces = array(result, "faces").len();
            let want = match file {
                "astronaut.png" | "grace_hopper.jpg" => 1,
                "zidane.jpg" => 2,
                _ => return None,
            };
            (faces != want).then(|| format!("{file}: {faces} faces, expected {want}"))
        }
        Kind::Stt => {
            let reference = reference_transcript(file)?;
            let wer = wer(reference, result.get("transcript").and_then(Value::as_str).unwrap_or(""));
            let limit = wer_limit(file);
            (wer > limit).then(|| {
                format!("{file}: word error rate {:.1} %, expected at most {:.0} %", wer * 100.0, limit * 100.0)
            })
        }
        // No known answers: nothing ran a model.
        Kind::Cpu | Kind::Noop | Kind::Fileio | Kind::Filemix | Kind::Net | Kind::Transfer => None,
    }
}

/// Every wrong answer in a trial's outputs (empty when all known answers are right). A trial
/// of an AI kind without per-input results is wrong too.
pub fn check(kind: Kind, outputs: &Value) -> Vec<String> {
    if !kind.is_ai() {
        return Vec::new();
    }
    let inputs = array(outputs, "inputs");
    if inputs.is_empty() {
        return vec!["no per-input results in the outputs".into()];
    }
    inputs
        .iter()
        .filter_map(|i| {
            let name = i.get("input").and_then(Value::as_str).unwrap_or("");
            match i.get("result") {
                None | Some(Value::Null) => Some(format!("{name}: no result")),
                Some(r) => check_input(kind, name, r),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn right_answers_pass_and_wrong_ones_are_named() {
        let ok = json!({"inputs": [
            {"input": "coffee.png", "result": {"top5": [{"class": 967}]}},
            {"input": "/x/astronaut.png", "result": {"top5": [{"class": 450}]}},
        ]});
        assert!(check(Kind::Classify, &ok).is_empty());
        let bad = json!({"inputs": [{"input": "coffee.png", "result": {"top5": [{"class": 1}]}}]});
        assert_eq!(check(Kind::Classify, &bad), vec!["coffee.png: top-1 class 1, expected one of [967]"]);
        let faces = json!({"inputs": [{"input": "zidane.jpg", "result": {"faces": [{}]}}]});
        assert_eq!(check(Kind::Face, &faces), vec!["zidane.jpg: 1 faces, expected 2"]);
        let people = json!({"inputs": [{"input": "bus.jpg", "result": {"detections": [
            {"name": "Normal"}, {"name": "person"}, {"name": "bus"}]}}]});
        assert_eq!(check(Kind::Detect, &people), vec!["bus.jpg: 2 people detected, expected at least 3"]);
        assert_eq!(check(Kind::Detect, &json!({})), vec!["no per-input results in the outputs"]);
        assert!(check(Kind::Cpu, &json!({})).is_empty());
        let stt = json!({"inputs": [{"input": "beckett.wav", "result": {"transcript": "Ever tried, ever failed."}}]});
        assert_eq!(check(Kind::Stt, &stt), vec!["beckett.wav: word error rate 66.7 %, expected at most 10 %"]);
    }

    #[test]
    fn word_error_rate_counts_substitutions_insertions_and_deletions() {
        assert_eq!(wer("Fail again. Fail better.", "fail again fail better"), 0.0);
        assert_eq!(wer("a b c d", "a x c d"), 0.25);
        assert_eq!(wer("a b c d", "a b c d e"), 0.25);
        assert_eq!(wer("a b c d", "a c d"), 0.25);
        assert_eq!(wer("", ""), 0.0);
    }
}
