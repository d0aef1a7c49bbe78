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
    /// `ln(AMIN)` as [`lanes::ln_floored`] computes it at each position (vector or libm).
    ln_amin: Vec<f64>,
    /// The frame's `ln(max(f64::MIN_POSITIVE, mel))`, when the frames come through
    /// [`FrameSink::accept`].
    ln_mel: Vec<f64>,
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
        let mut ln_amin = vec![0.0; n_mels];
        lanes::ln_floored(&vec![0.0; n_mels], AMIN, &mut ln_amin);
        MfccStats {
            dct,
            n_mels,
            log_mel: vec![0.0; n_mels],
            ln_amin,
            ln_mel: vec![0.0; n_mels],
            coefficients: vec![MeanStd::default(); N_MFCC],
        }
    }

    /// One frame of `n_mels` mel energies, with their logarithms floored far lower than
    /// `AMIN` (10⁻¹⁰): `ln_mel = ln(max(f64::MIN_POSITIVE, mel))` ([`lanes::ln_floored`]), which the
    /// spectral entropy takes too ([`super::energy::EntropyMeter::frame`]), so each frame's
    /// logarithms are taken once for both.
    ///
    /// Above `AMIN` the two floors give the same logarithm; at or below it `ln(AMIN)` is put
    /// back, so the values are those of `ln(max(AMIN, mel))` bit for bit.
    pub fn frame(&mut self, mel: &[f32], ln_mel: &[f64]) {
        let floored = self.log_mel.iter_mut().zip(mel.iter().zip(ln_mel));
        for ((l, (&p, &ln_p)), &ln_amin) in floored.zip(&self.ln_amin) {
            *l = if p as f64 > AMIN { ln_p } else { ln_amin };
        }
        // The DCT rows hold the factor 10 / ln 10 that turns these logarithms into dB.
        for (row, stats) in self
            .dct
            .chunks_exact(self.n_mels)
            .zip(&mut self.coefficients)
        {
            stats.push(lanes::dot(row, &self.log_mel));
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
        let mut ln_mel = std::mem::take(&mut self.ln_mel);
        for frame in block.mel_frames() {
            lanes::ln_floored(frame, f64::MIN_POSITIVE, &mut ln_mel);
            self.frame(frame, &ln_mel);
        }
        self.ln_mel = ln_mel;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_logarithms_give_the_floored_ones_bit_for_bit() {
        let mel: Vec<f32> = (0..96)
            .map(|k| match k % 7 {
                0 => 0.0,
                1 => 1e-10,
                2 => -1e-3,
                _ => 1e-14 * 2.9f32.powi(k / 3),
            })
            .collect();
        let mut mfcc = MfccStats::new(96);
        let mut ln_mel = vec![0.0; 96];
        lanes::ln_floored(&mel, f64::MIN_POSITIVE, &mut ln_mel);
        mfcc.frame(&mel, &ln_mel);
        let mut expected = vec![0.0; 96];
        lanes::ln_floored(&mel, AMIN, &mut expected);
        assert_eq!(mfcc.log_mel, expected);
    }

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
