//! The fidelity rules: how close sandbench's AI outputs must be to the reference pipelines'
//! (`fidelity/reference.json`, made by `bench/fidelity.sh`; `fidelity/README.md` says what
//! each reference is). Pure: one input's reference result and sandbench's, in the JSON each
//! writes, to the figures and the broken rules.

use crate::expect::wer;
use serde::Serialize;
use serde_json::Value;

/// classify: the same top-1 class, its probability within this.
pub const CLASSIFY_MAX_DP: f64 = 0.02;
/// detect and face: every box of the reference matched by one of the same class with at
/// least this IoU.
pub const MIN_IOU: f64 = 0.95;
/// detect: the matched boxes' scores within this. A box whose score is within it of the
/// threshold may be on one side only: the tolerance allows it to cross.
pub const DETECT_MAX_DSCORE: f64 = 0.02;
/// face: each of the five landmarks within this many pixels (Euclidean).
pub const FACE_MAX_LANDMARK_PX: f64 = 2.0;
/// stt: word error rate against the reference transcript.
pub const STT_MAX_WER: f64 = 0.05;

/// One input's agreement with its reference.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Agreement {
    pub input: String,
    /// classify: |Δp| of the reference's top-1 class.
    pub dp: Option<f64>,
    /// detect/face: objects in the reference and in sandbench's result.
    pub counts: Option<(usize, usize)>,
    pub min_iou: Option<f64>,
    pub max_dscore: Option<f64>,
    pub max_landmark_px: Option<f64>,
    pub wer: Option<f64>,
    /// The rules this input breaks; empty when it agrees.
    pub problems: Vec<String>,
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

fn corners(v: &Value) -> [f64; 4] {
    let b = list(v, "box");
    std::array::from_fn(|i| b.get(i).map(f).unwrap_or(f64::NAN))
}

/// Intersection over union of two `[x1, y1, x2, y2]` boxes.
pub fn iou(a: [f64; 4], b: [f64; 4]) -> f64 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: [f64; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - w * h;
    if union > 0.0 {
        w * h / union
    } else {
        0.0
    }
}

/// classify: `reference` and `ours` each hold `top5`, best first, of `{class, score}`.
pub fn classify(input: &str, reference: &Value, ours: &Value) -> Agreement {
    let mut a = Agreement { input: input.into(), ..Default::default() };
    let (Some(r), Some(o)) = (list(reference, "top5").first(), list(ours, "top5").first()) else {
        a.problems.push("no top-5".into());
        return a;
    };
    if r["class"] != o["class"] {
        a.problems.push(format!("top-1 class {} here, {} in the reference", o["class"], r["class"]));
    }
    // The reference's top-1 class, wherever it is in ours.
    let ours_p = list(ours, "top5").iter().find(|x| x["class"] == r["class"]).map(|x| f(&x["score"])).unwrap_or(0.0);
    let dp = (ours_p - f(&r["score"])).abs();
    a.dp = Some(dp);
    if dp.is_nan() || dp > CLASSIFY_MAX_DP {
        a.problems.push(format!("p(top-1) differs by {dp:.4} (> {CLASSIFY_MAX_DP})"));
    }
    a
}

/// detect: `detections` of `{class, score, box}`; `conf` is the score threshold both used.
pub fn detect(input: &str, reference: &Value, ours: &Value, conf: f64) -> Agreement {
    let (r, o) = (list(reference, "detections"), list(ours, "detections"));
    let mut a = Agreement { input: input.into(), counts: Some((r.len(), o.len())), ..Default::default() };
    let marginal = |d: &Value| f(&d["score"]) < conf + DETECT_MAX_DSCORE;
    let pairs = match_boxes(r, o, |x, y| x["class"] == y["class"]);
    let (mut min_iou, mut max_ds) = (1.0f64, 0.0f64);
    for (i, d) in r.iter().enumerate() {
        match pairs.iter().find(|p| p.0 == i) {
            Some(&(_, j, v)) => {
                min_iou = min_iou.min(v);
                max_ds = max_ds.max((f(&d["score"]) - f(&o[j]["score"])).abs());
            }
            None if marginal(d) => {}
            None => a.problems.push(format!("reference box {:?} (score {:.3}) not found", corners(d), f(&d["score"]))),
        }
    }
    for (j, d) in o.iter().enumerate() {
        if !pairs.iter().any(|p| p.1 == j) && !marginal(d) {
            a.problems.push(format!("box {:?} (score {:.3}) is not in the reference", corners(d), f(&d["score"])));
        }
    }
    if !pairs.is_empty() {
        a.min_iou = Some(min_iou);
        a.max_dscore = Some(max_ds);
        if min_iou < MIN_IOU {
            a.problems.push(format!("IoU {min_iou:.3} (< {MIN_IOU})"));
        }
        if max_ds > DETECT_MAX_DSCORE {
            a.problems.push(format!("score differs by {max_ds:.4} (> {DETECT_MAX_DSCORE})"));
        }
    }
    a
}

/// face: `faces` of `{score, box, landmarks: [[x, y]; 5]}`; a score threshold of 0.9.
pub fn face(input: &str, reference: &Value, ours: &Value) -> Agreement {
    let (r, o) = (list(reference, "faces"), list(ours, "faces"));
    let mut a = Agreement { input: input.into(), counts: Some((r.len(), o.len())), ..Default::default() };
    if r.len() != o.len() {
        a.problems.push(format!("{} faces here, {} in the reference", o.len(), r.len()));
    }
    let pairs = match_boxes(r, o, |_, _| true);
    let (mut min_iou, mut max_px) = (1.0f64, 0.0f64);
    for &(i, j, v) in &pairs {
        min_iou = min_iou.min(v);
        for (p, q) in list(&r[i], "landmarks").iter().zip(list(&o[j], "landmarks")) {
            let (dx, dy) = (f(&p[0]) - f(&q[0]), f(&p[1]) - f(&q[1]));
            max_px = max_px.max((dx * dx + dy * dy).sqrt());
        }
    }
    if !pairs.is_empty() {
        a.min_iou = Some(min_iou);
        a.max_landmark_px = Some(max_px);
        if min_iou < MIN_IOU {
            a.problems.push(format!("IoU {min_iou:.3} (< {MIN_IOU})"));
        }
        if max_px > FACE_MAX_LANDMARK_PX {
            a.problems.push(format!("a landmark is {max_px:.2} px away (> {FACE_MAX_LANDMARK_PX})"));
        }
    }
    a
}

/// stt: the transcripts' word error rate, the reference's words as the reference.
pub fn stt(input: &str, reference: &str, ours: &str) -> Agreement {
    let w = wer(reference, ours);
    let mut a = Agreement { input: input.into(), wer: Some(w), ..Default::default() };
    if w > STT_MAX_WER {
        a.problems.push(format!("WER {:.1} % (> {} %): {ours:?} vs {reference:?}", w * 100.0, STT_MAX_WER * 100.0));
    }
    a
}

/// Greedy one-to-one matching, best IoU first: `(reference index, ours index, IoU)`.
fn match_boxes(r: &[Value], o: &[Value], same: impl Fn(&Value, &Value) -> bool) -> Vec<(usize, usize, f64)> {
    let mut cand: Vec<(usize, usize, f64)> = Vec::new();
    for (i, x) in r.iter().enumerate() {
        for (j, y) in o.iter().enumerate() {
            let v = iou(corners(x), corners(y));
            if same(x, y) && v > 0.0 {
                cand.push((i, j, v));
            }
        }
    }
    cand.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut pairs: Vec<(usize, usize, f64)> = Vec::new();
    for c in cand {
        if !pairs.iter().any(|p| p.0 == c.0 || p.1 == c.1) {
            pairs.push(c);
        }
    }
    pairs
}

/// One line per kind and engine: inputs agreeing, and the worst of each figure.
pub fn summary(rows: &[Agreement]) -> String {
    let agree = rows.iter().filter(|r| r.problems.is_empty()).count();
    let worst = |g: fn(&Agreement) -> Option<f64>, max: bool| {
        let v: Vec<f64> = rows.iter().filter_map(g).collect();
        if v.is_empty() {
            None
        } else if max {
            Some(v.iter().copied().fold(f64::MIN, f64::max))
        } else {
            Some(v.iter().copied().fold(f64::MAX, f64::min))
        }
    };
    let mut parts = vec![format!("{agree}/{} agree", rows.len())];
    if let Some(v) = worst(|r| r.dp, true) {
        parts.push(format!("max |Δp| {v:.4}"));
    }
    if let Some(v) = worst(|r| r.min_iou, false) {
        parts.push(format!("min IoU {v:.3}"));
    }
    if let Some(v) = worst(|r| r.max_dscore, true) {
        parts.push(format!("max |Δscore| {v:.4}"));
    }
    if let Some(v) = worst(|r| r.max_landmark_px, true) {
        parts.push(format!("max landmark {v:.2} px"));
    }
    if let Some(v) = worst(|r| r.wer, true) {
        parts.push(format!("max WER {:.1} %", v * 100.0));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classify_wants_the_same_top1_and_close_probability() {
        let r = json!({"top5": [{"class": 967, "score": 0.73}, {"class": 1, "score": 0.1}]});
        assert!(classify("a", &r, &json!({"top5": [{"class": 967, "score": 0.745}]})).problems.is_empty());
        let far = classify("a", &r, &json!({"top5": [{"class": 967, "score": 0.6}]}));
        assert_eq!(far.problems.len(), 1, "{:?}", far.problems);
        let swapped = classify("a", &r, &json!({"top5": [{"class": 1, "score": 0.5}, {"class": 967, "score": 0.4}]}));
        assert_eq!(swapped.problems.len(), 2, "{:?}", swapped.problems);
    }

    #[test]
    fn detect_matches_boxes_and_lets_only_marginal_ones_cross_the_threshold() {
        let d = |b: [f64; 4], s: f64| json!({"class": 0, "score": s, "box": b});
        let r = json!({"detections": [d([10., 10., 110., 210.], 0.8), d([300., 0., 340., 40.], 0.26)]});
        let same = json!({"detections": [d([10., 11., 110., 210.], 0.79)]});
        let a = detect("b", &r, &same, 0.25);
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert!(a.min_iou.unwrap() > 0.99);
        let shifted = json!({"detections": [d([30., 10., 130., 210.], 0.8)]});
        assert!(!detect("b", &r, &shifted, 0.25).problems.is_empty());
        let r2 = json!({"detections": [d([10., 10., 110., 210.], 0.8), d([300., 0., 340., 40.], 0.5)]});
        assert!(!detect("b", &r2, &same, 0.25).problems.is_empty(), "a clear box is missing");
    }

    #[test]
    fn face_counts_boxes_and_landmarks() {
        let lm = |dx: f64| json!([[40. + dx, 50.], [70., 50.], [55., 65.], [45., 80.], [65., 80.]]);
        let r = json!({"faces": [{"score": 0.99, "box": [20., 20., 90., 110.], "landmarks": lm(0.0)}]});
        let near = json!({"faces": [{"score": 0.99, "box": [20., 21., 90., 110.], "landmarks": lm(1.0)}]});
        assert!(face("c", &r, &near).problems.is_empty());
        let off = json!({"faces": [{"score": 0.99, "box": [20., 21., 90., 110.], "landmarks": lm(3.0)}]});
        assert_eq!(face("c", &r, &off).problems.len(), 1);
        assert_eq!(face("c", &r, &json!({"faces": []})).problems.len(), 1);
    }

    #[test]
    fn stt_allows_five_percent_of_words() {
        let r = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        assert!(stt("d", r, &r.replace("twelve", "twelf")).problems.is_empty());
        assert!(!stt("d", r, &r.replace("twelve", "twelf").replace("one", "won")).problems.is_empty());
        assert!(summary(&[stt("d", r, r)]).contains("1/1 agree"));
    }
}
