//! Tempo accuracy (Acc1, Acc2) and beat-tracking scores (F-measure, P-score).
//!
//! The beat metrics reproduce `mir_eval.beat` 0.8 exactly, including its edge cases; the unit
//! tests compare against values computed with mir_eval (`scripts/mir_eval_cases.py`). As in
//! `mir_eval.beat.evaluate`, callers trim beats before 5 s with [`trim_beats`] first.

/// Acc1: the estimate is within ±4 % of the reference tempo.
pub fn acc1(estimate_bpm: f64, reference_bpm: f64) -> bool {
    (estimate_bpm - reference_bpm).abs() <= 0.04 * reference_bpm
}

/// Acc2: the estimate is within ±4 % of the reference tempo times 1, 2, 3, 1/2 or 1/3.
pub fn acc2(estimate_bpm: f64, reference_bpm: f64) -> bool {
    [1.0, 2.0, 3.0, 0.5, 1.0 / 3.0]
        .iter()
        .any(|f| acc1(estimate_bpm, reference_bpm * f))
}

/// The beats at or after `min_beat_time` seconds (`mir_eval.beat.trim_beats`, default 5 s).
pub fn trim_beats(beats: &[f64], min_beat_time: f64) -> Vec<f64> {
    beats
        .iter()
        .copied()
        .filter(|&b| b >= min_beat_time)
        .collect()
}

/// Beat F-measure with a ±`window` s tolerance (`mir_eval.beat.f_measure`, window 0.07).
///
/// Each reference beat matches at most one estimated beat and vice versa; on sorted times, greedy
/// matching from the left is a maximum matching, the same count as mir_eval's bipartite matching.
/// 0 when either list is empty. Both lists must be sorted.
pub fn beat_f_measure(reference: &[f64], estimate: &[f64], window: f64) -> f64 {
    if reference.is_empty() || estimate.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut matched) = (0, 0, 0usize);
    while i < reference.len() && j < estimate.len() {
        if (reference[i] - estimate[j]).abs() <= window {
            matched += 1;
            i += 1;
            j += 1;
        } else if estimate[j] < reference[i] {
            j += 1;
        } else {
            i += 1;
        }
    }
    let precision = matched as f64 / estimate.len() as f64;
    let recall = matched as f64 / reference.len() as f64;
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    }
}

/// P-score of McKinney et al. (`mir_eval.beat.p_score`, threshold 0.2).
///
/// Both beat lists become impulse trains at 10 ms resolution (times shifted so the earliest beat
/// is at 0, indices rounded up); the score counts the pairs of reference and estimated impulses
/// no further apart than 0.2 × the median reference interval, over the longer list's length.
/// 0 when either list holds fewer than 2 beats.
pub fn p_score(reference: &[f64], estimate: &[f64], threshold: f64) -> f64 {
    if reference.len() <= 1 || estimate.len() <= 1 {
        return 0.0;
    }
    let offset = reference
        .iter()
        .chain(estimate)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let impulses = |beats: &[f64]| {
        let mut idx: Vec<i64> = beats
            .iter()
            .map(|b| ((b - offset) * 100.0).ceil() as i64)
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    };
    let (reference_idx, estimate_idx) = (impulses(reference), impulses(estimate));
    let mut intervals: Vec<i64> = reference_idx.windows(2).map(|w| w[1] - w[0]).collect();
    let median = median_i64(&mut intervals);
    let window = round_half_even(threshold * median) as i64;
    let mut pairs = 0usize;
    let mut start = 0;
    for &r in &reference_idx {
        while start < estimate_idx.len() && estimate_idx[start] < r - window {
            start += 1;
        }
        pairs += estimate_idx[start..]
            .iter()
            .take_while(|&&e| e <= r + window)
            .count();
    }
    pairs as f64 / reference.len().max(estimate.len()) as f64
}

/// numpy's median: the mean of the two middle values for an even count (NaN-free input).
fn median_i64(values: &mut [i64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2] as f64
    } else {
        (values[n / 2 - 1] + values[n / 2]) as f64 / 2.0
    }
}

/// Python's `round`: halves go to the even neighbour.
fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases and the values mir_eval 0.8.2 gives for them (`scripts/mir_eval_cases.py`).
    #[test]
    fn f_measure_and_p_score_match_mir_eval() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("mir_eval_cases.json")).unwrap();
        assert!(cases.len() >= 6);
        let floats = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let reference = trim_beats(&floats(&case["reference"]), 5.0);
            let estimate = trim_beats(&floats(&case["estimate"]), 5.0);
            let f = beat_f_measure(&reference, &estimate, 0.07);
            let p = p_score(&reference, &estimate, 0.2);
            let (want_f, want_p) = (
                case["f_measure"].as_f64().unwrap(),
                case["p_score"].as_f64().unwrap(),
            );
            assert!((f - want_f).abs() < 1e-12, "{name}: F {f} vs {want_f}");
            assert!((p - want_p).abs() < 1e-12, "{name}: P {p} vs {want_p}");
        }
    }

    #[test]
    fn tempo_accuracy_levels() {
        assert!(acc1(124.0, 120.0) && !acc1(125.0, 120.0));
        assert!(!acc1(60.0, 120.0) && acc2(60.0, 120.0) && acc2(362.0, 120.0));
        assert!(acc2(40.5, 120.0) && !acc2(90.0, 120.0));
    }

    #[test]
    fn empty_lists_score_zero() {
        assert_eq!(beat_f_measure(&[], &[1.0], 0.07), 0.0);
        assert_eq!(p_score(&[1.0], &[1.0, 2.0], 0.2), 0.0);
    }
}
