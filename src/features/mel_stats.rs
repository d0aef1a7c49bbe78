//! Per-band statistics of the log-mel spectrogram over the whole track.

use crate::dsp::{log_mel, FrameSink, SpectrogramBlock};

/// Running mean and standard deviation of each log-mel band, `log10(1 + 10000·mel)`.
///
/// Sums are kept in `f64` and frames are added in track order, so the result is exact enough for
/// hours of audio and independent of how the spectrogram was split into blocks or threads.
#[derive(Clone, Debug)]
pub struct MelStats {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    frames: u64,
}

impl MelStats {
    pub fn new(n_mels: usize) -> Self {
        MelStats {
            sum: vec![0.0; n_mels],
            sum_sq: vec![0.0; n_mels],
            frames: 0,
        }
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Mean of each band over all frames (zeros when there were none).
    pub fn mean(&self) -> Vec<f32> {
        let n = self.frames.max(1) as f64;
        self.sum.iter().map(|s| (s / n) as f32).collect()
    }

    /// Population standard deviation of each band over all frames.
    pub fn std(&self) -> Vec<f32> {
        let n = self.frames.max(1) as f64;
        self.sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, sq)| {
                let mean = s / n;
                (sq / n - mean * mean).max(0.0).sqrt() as f32
            })
            .collect()
    }
}

impl FrameSink for MelStats {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        for frame in block.mel_frames() {
            for ((sum, sum_sq), &power) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(frame) {
                let value = log_mel(power) as f64;
                *sum += value;
                *sum_sq += value * value;
            }
        }
        self.frames += block.n_frames as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_of_known_frames() {
        let mut stats = MelStats::new(2);
        // log10(1 + 10000·x) = 1 for x = 9e-4 and 2 for x = 9.9e-3.
        let mel = [9e-4f32, 9e-4, 9.9e-3, 9e-4];
        stats.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: 2,
            n_bins: 0,
            n_mels: 2,
            power: &[],
            mel: &mel,
        });
        let (mean, std) = (stats.mean(), stats.std());
        assert!((mean[0] - 1.5).abs() < 1e-5 && (mean[1] - 1.0).abs() < 1e-5);
        assert!((std[0] - 0.5).abs() < 1e-5 && std[1].abs() < 1e-3);
    }
}
