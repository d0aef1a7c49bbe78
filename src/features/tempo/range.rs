//! A tempo range the user imposes on the metrical level: the convention of a catalog.
//!
//! Which level a listener taps is a convention as much as a perception (drum and bass is counted
//! at 174, its half-time feel at 87; a ballad at 66 or its eighths at 132), and DJ software and
//! the peers let the user state it: Mixxx and Rekordbox take a BPM range an octave wide (Mixxx
//! defaults to 70–140), Essentia's `RhythmExtractor2013` a `minTempo` and `maxTempo`, librosa a
//! `start_bpm`. With a range, sonovec moves the level its model chooses by octaves into it, as DJ
//! software does. The range must span an octave, so that every reading has one inside it: some
//! power of two times any tempo falls within `[low, 2 × low)`.

use std::fmt;
use std::str::FromStr;

// A range may name no tempo the hypotheses cannot reach.
use super::level::{HIGHEST_BPM, LOWEST_BPM};

/// Beats per minute from `low` to `high`, both included, with `high ≥ 2 × low`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BpmRange {
    low: f64,
    high: f64,
}

impl BpmRange {
    /// The range `low`–`high`, or why it cannot be one.
    pub fn new(low: f64, high: f64) -> Result<BpmRange, String> {
        let (min, max) = (LOWEST_BPM, HIGHEST_BPM);
        if !(low.is_finite() && high.is_finite()) {
            return Err(format!(
                "a BPM range needs two numbers, got {low} and {high}"
            ));
        }
        if low < min || high > max {
            return Err(format!(
                "a BPM range must lie within {min}-{max}, got {low}-{high}"
            ));
        }
        if high < 2.0 * low {
            // A suggestion that is itself a valid range.
            let (try_low, try_high) = if 2.0 * low <= max {
                (low, 2.0 * low)
            } else {
                (high / 2.0, high)
            };
            return Err(format!(
                "a BPM range must span at least an octave (high ≥ 2 × low), so that every \
                 pulse has a reading inside it; got {low}-{high} (try {try_low}-{try_high})"
            ));
        }
        Ok(BpmRange { low, high })
    }

    pub fn low(&self) -> f64 {
        self.low
    }

    pub fn high(&self) -> f64 {
        self.high
    }

    pub fn contains(&self, bpm: f64) -> bool {
        (self.low..=self.high).contains(&bpm)
    }

    /// `bpm` times the power of two that brings it into `[low, 2 × low)`, which lies within the
    /// range; `None` for a tempo that is not a positive number.
    pub fn fold(&self, bpm: f64) -> Option<f64> {
        if !(bpm.is_finite() && bpm > 0.0) {
            return None;
        }
        let octaves = (self.low / bpm).log2().ceil();
        let folded = bpm * octaves.exp2();
        // Rounding at the boundary may leave it a hair outside.
        Some(if folded < self.low {
            folded * 2.0
        } else if folded >= 2.0 * self.low {
            folded / 2.0
        } else {
            folded
        })
    }
}

/// As the command line writes it: `LOW-HIGH`, e.g. `70-140`.
impl fmt::Display for BpmRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

impl FromStr for BpmRange {
    type Err = String;

    fn from_str(s: &str) -> Result<BpmRange, String> {
        let malformed = || format!("a BPM range is written LOW-HIGH, e.g. 70-140; got {s:?}");
        let (low, high) = s.split_once('-').ok_or_else(malformed)?;
        let number = |part: &str| part.trim().parse::<f64>().map_err(|_| malformed());
        BpmRange::new(number(low)?, number(high)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_the_command_line_writes_them() {
        let r: BpmRange = "70-140".parse().unwrap();
        assert_eq!((r.low(), r.high()), (70.0, 140.0));
        assert_eq!(r.to_string(), "70-140");
        assert_eq!(
            "87.5-175".parse::<BpmRange>().unwrap().to_string(),
            "87.5-175"
        );
        for bad in [
            "70", "70-", "-140", "a-b", "70-139", "30-80", "130-270", "NaN-200",
        ] {
            assert!(bad.parse::<BpmRange>().is_err(), "{bad}");
        }
        // The error of a narrow range suggests one that parses.
        for narrow in ["150-200", "70-100"] {
            let message = narrow.parse::<BpmRange>().unwrap_err();
            let suggested = message
                .rsplit_once("(try ")
                .unwrap()
                .1
                .trim_end_matches(')');
            assert!(suggested.parse::<BpmRange>().is_ok(), "{message}");
        }
    }

    #[test]
    fn every_tempo_folds_into_the_range() {
        let r = BpmRange::new(88.0, 176.0).unwrap();
        for bpm in [
            10.0, 43.5, 87.0, 88.0, 120.0, 175.9, 176.0, 180.0, 348.0, 1000.0,
        ] {
            let folded = r.fold(bpm).unwrap();
            assert!(r.contains(folded) && folded < 176.0, "{bpm} -> {folded}");
            let octaves = (folded / bpm).log2();
            assert!(
                (octaves - octaves.round()).abs() < 1e-9,
                "{bpm} -> {folded}"
            );
        }
        assert_eq!(r.fold(0.0), None);
        assert_eq!(r.fold(f64::NAN), None);
    }
}
