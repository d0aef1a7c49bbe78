//! Key and mode by correlation of the mean chroma with the Krumhansl–Kessler key profiles.
//!
//! The 24 candidate keys are the major and minor profiles of Krumhansl & Kessler (1982, probe-tone
//! ratings) rotated to each tonic; the key is the one whose profile has the highest Pearson
//! correlation with the track's mean chroma, and that correlation (−1 … 1) is its strength.
//! This is Essentia's `Key` with `profileType = 'krumhansl'` in spirit (Essentia correlates its
//! HPCP, we correlate librosa's chroma).

use super::chroma::N_CHROMA;

/// Krumhansl–Kessler major profile, tonic first.
const MAJOR: [f64; N_CHROMA] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
/// Krumhansl–Kessler minor profile, tonic first.
const MINOR: [f64; N_CHROMA] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// Pitch-class names as Essentia spells them.
pub const PITCH_CLASSES: [&str; N_CHROMA] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

/// A key estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyEstimate {
    /// Tonic, one of [`PITCH_CLASSES`].
    pub tonic: &'static str,
    /// `"major"` or `"minor"`.
    pub mode: &'static str,
    /// Pearson correlation of the chroma with the winning profile, −1 … 1.
    pub strength: f64,
}

/// The best of the 24 keys for `chroma` (C … B), or `None` when the chroma is constant (silence,
/// white noise) and no correlation is defined.
pub fn estimate_key(chroma: &[f64; N_CHROMA]) -> Option<KeyEstimate> {
    let mut best: Option<KeyEstimate> = None;
    for (mode, profile) in [("major", &MAJOR), ("minor", &MINOR)] {
        for (tonic, name) in PITCH_CLASSES.iter().enumerate() {
            let rotated: Vec<f64> = (0..N_CHROMA)
                .map(|pc| profile[(pc + N_CHROMA - tonic) % N_CHROMA])
                .collect();
            let r = pearson(chroma, &rotated)?;
            if best.as_ref().is_none_or(|b| r > b.strength) {
                best = Some(KeyEstimate {
                    tonic: name,
                    mode,
                    strength: r,
                });
            }
        }
    }
    best
}

fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    let denominator = (va * vb).sqrt();
    (denominator > 1e-12 * (1.0 + vb)).then(|| cov / denominator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_its_own_key() {
        let mut a_minor = [0.0; N_CHROMA];
        for (pc, v) in a_minor.iter_mut().enumerate() {
            *v = MINOR[(pc + N_CHROMA - 9) % N_CHROMA];
        }
        let key = estimate_key(&a_minor).unwrap();
        assert_eq!((key.tonic, key.mode), ("A", "minor"));
        assert!((key.strength - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_c_major_triad_is_c_major_and_flat_chroma_has_no_key() {
        let mut triad = [0.1; N_CHROMA];
        triad[0] = 1.0;
        triad[4] = 0.8;
        triad[7] = 0.9;
        let key = estimate_key(&triad).unwrap();
        assert_eq!((key.tonic, key.mode), ("C", "major"));
        assert_eq!(estimate_key(&[0.5; N_CHROMA]), None);
    }
}
