//! Mel-frequency cepstral coefficients of the shared log-mel spectrogram, as librosa computes them.
//!
//! Per frame: `dB = 10·log10(max(1e-10, mel))` — `librosa.power_to_db(mel, ref=1.0, amin=1e-10,
//! top_db=None)` — then the orthonormal DCT-II of the 96 dB values, first 13 coefficients
//! (`librosa.feature.mfcc(S=dB, n_mfcc=13, dct_type=2, norm='ortho')`).
//!
//! librosa's default `top_db = 80` clamps each value at 80 dB below the loudest value of the whole
//! track, which a single streaming pass cannot know; we use the fixed absolute floor of `amin`
//! (−100 dB) instead, so a value never depends on later audio. Parity tests pass librosa the same
//! `top_db=None`.

use crate::dsp::{lanes, FrameSink, SpectrogramBlock};

use super::stats::MeanStd;

/// Cepstral coefficients kept, as `librosa.feature.mfcc(n_mfcc=13)`.
pub const N_MFCC: usize = 13;
/// `power_to_db`'s `amin`: mel power is floored here before the logarithm (−100 dB).
const AMIN: f64 = 1e-10;
/// `10 · log10(x) = DB_PER_NEPER · ln(x)`.
const DB_PER_NEPER: f64 = 10.0 / std::f64::consts::LN_10;

/// Running mean and standard deviation of each MFCC over the frames of a track.
#[derive(Clone, Debug)]
pub struct MfccStats {
    /// `N_MFCC × n_mels` orthonormal DCT-II rows, times [`DB_PER_NEPER`].
    dct: Vec<f64>,
    n_mels: usize,
    /// The frame's `ln(max(AMIN, mel))`.
    log_mel: Vec<f64>,
    coefficients: Vec<MeanStd>,
}

impl MfccStats {
    pub fn new(n_mels: usize) -> Self {
        let n = n_mels as f64;
        let dct = (0..N_MFCC)
            .flat_map(|k| {
                let scale = if k == 0 {
                    (1.0 / n).sqrt()
                } else {
                    (2.0 / n).sqrt()
                };
                (0..n_mels).map(move |m| {
                    DB_PER_NEPER
                        * scale
                        * (std::f64::consts::PI * k as f64 * (2.0 * m as f64 + 1.0) / (2.0 * n))
                            .cos()
                })
            })
            .collect();
        MfccStats {
            dct,
            n_mels,
            log_mel: vec![0.0; n_mels],
            coefficients: vec![MeanStd::default(); N_MFCC],
        }
    }

    /// Per-coefficient mean and standard deviation; `None` before the first frame.
    pub fn mean_std(&self) -> Option<(Vec<f64>, Vec<f64>)> {
        let mean: Option<Vec<f64>> = self.coefficients.iter().map(MeanStd::mean).collect();
        let std: Option<Vec<f64>> = self.coefficients.iter().map(MeanStd::std).collect();
        mean.zip(std)
    }
}

impl FrameSink for MfccStats {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        for frame in block.mel_frames() {
            // The DCT rows hold the factor 10 / ln 10 that turns these logarithms into dB.
            lanes::ln_floored(frame, AMIN, &mut self.log_mel);
            for (row, stats) in self
                .dct
                .chunks_exact(self.n_mels)
                .zip(&mut self.coefficients)
            {
                stats.push(lanes::dot(row, &self.log_mel));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_spectrum_has_only_the_zeroth_coefficient() {
        let mut mfcc = MfccStats::new(96);
        let mel = vec![1e-3f32; 96 * 3]; // -30 dB in every band
        mfcc.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: 3,
            n_bins: 0,
            n_mels: 96,
            power: &[],
            mel: &mel,
        });
        let (mean, std) = mfcc.mean_std().unwrap();
        // DCT-II ortho of a constant c over N values: c·sqrt(N) in coefficient 0, zero elsewhere.
        assert!((mean[0] + 30.0 * 96f64.sqrt()).abs() < 1e-4, "{mean:?}");
        assert!(mean[1..].iter().all(|c| c.abs() < 1e-4), "{mean:?}");
        assert!(std.iter().all(|s| s.abs() < 1e-4));
    }
}
