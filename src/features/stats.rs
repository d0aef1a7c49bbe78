//! Running statistics and the rule that keeps NaN and infinity out of the record.

use std::collections::BTreeMap;

/// Mean and population standard deviation of a stream of values (Welford's update, in `f64`).
///
/// Values are added in track order, so the result does not depend on block sizes or threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeanStd {
    count: u64,
    mean: f64,
    m2: f64,
}

impl MeanStd {
    pub fn push(&mut self, value: f64) {
        self.count += 1;
        let delta = value - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (value - self.mean);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The mean, `None` when no value was added.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// The population standard deviation, `None` when no value was added.
    pub fn std(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.m2 / self.count as f64).max(0.0).sqrt())
    }
}

/// Why some fields of a feature group are `null`, keyed by field name.
pub type NullReasons = BTreeMap<String, String>;

/// `value` if it is a finite number; otherwise `None`, with `reason` recorded under `field`.
pub fn finite_or_null(
    value: Option<f64>,
    field: &str,
    reason: &str,
    reasons: &mut NullReasons,
) -> Option<f64> {
    match value {
        Some(v) if v.is_finite() => Some(v),
        _ => {
            reasons.insert(field.to_string(), reason.to_string());
            None
        }
    }
}

/// Like [`finite_or_null`] for a whole vector: `None` unless every element is finite.
pub fn finite_vec_or_null(
    values: Option<Vec<f64>>,
    field: &str,
    reason: &str,
    reasons: &mut NullReasons,
) -> Option<Vec<f64>> {
    match values {
        Some(v) if v.iter().all(|x| x.is_finite()) => Some(v),
        _ => {
            reasons.insert(field.to_string(), reason.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_of_known_values() {
        let mut s = MeanStd::default();
        assert_eq!(s.mean(), None);
        for v in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
            s.push(v);
        }
        assert!((s.mean().unwrap() - 5.0).abs() < 1e-12);
        assert!((s.std().unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn non_finite_values_become_null_with_a_reason() {
        let mut reasons = NullReasons::new();
        assert_eq!(finite_or_null(Some(1.0), "a", "r", &mut reasons), Some(1.0));
        assert_eq!(
            finite_or_null(Some(f64::NEG_INFINITY), "b", "silent", &mut reasons),
            None
        );
        assert_eq!(finite_or_null(None, "c", "too short", &mut reasons), None);
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons["b"], "silent");
    }
}
