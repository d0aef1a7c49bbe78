//! Spectral shape of each frame of the shared spectrogram, as librosa 0.11 defines it.
//!
//! Computed from the power spectrum `|X|²` (periodic Hann 512, hop 256 at 16 kHz; bin `k` is at
//! `k · 31.25` Hz) with librosa's defaults, which read the magnitude `|X|`:
//!
//! * centroid: `Σ f·|X| / Σ |X|` (`librosa.feature.spectral_centroid`), Hz;
//! * bandwidth: `sqrt(Σ |X|·(f − centroid)² / Σ |X|)` (`spectral_bandwidth`, p = 2), Hz;
//! * roll-off: the lowest bin frequency below which 85 % of `Σ |X|` lies (`spectral_rolloff`), Hz;
//! * flatness: geometric over arithmetic mean of `max(1e-10, |X|²)` (`spectral_flatness`), 0–1;
//! * flux: L2 norm of the change of the amplitude spectrum `|X| · 2 / Σw` from the previous frame
//!   (a full-scale sine's peak reads 1.0), Essentia's `Flux` with `norm = 'L2'`; no librosa twin.
//!
//! A silent frame (`Σ |X| = 0`) has centroid, bandwidth and roll-off 0 and flatness 1, exactly as
//! librosa returns; such frames are kept in the statistics, as librosa users would average them.

use crate::dsp::{FrameSink, SpectrogramBlock};

use super::stats::MeanStd;

/// Fraction of spectral magnitude below the roll-off frequency.
pub const ROLL_PERCENT: f64 = 0.85;
/// librosa's `amin` for the flatness.
const FLATNESS_AMIN: f64 = 1e-10;

/// Running statistics of the per-frame spectral shape.
#[derive(Clone, Debug)]
pub struct SpectralShape {
    bin_hz: f64,
    /// `2 / Σ window`: turns `|X|` into the amplitude of a sinusoid.
    amplitude_scale: f64,
    previous: Vec<f64>,
    current: Vec<f64>,
    pub centroid_hz: MeanStd,
    pub bandwidth_hz: MeanStd,
    pub rolloff_hz: MeanStd,
    pub flatness: MeanStd,
    pub flux: MeanStd,
}

impl SpectralShape {
    /// For a spectrogram of `n_fft` points at `sample_rate` Hz with a periodic Hann window.
    pub fn new(sample_rate: u32, n_fft: usize) -> Self {
        SpectralShape {
            bin_hz: sample_rate as f64 / n_fft as f64,
            // The periodic Hann window sums to n_fft / 2.
            amplitude_scale: 2.0 / (n_fft as f64 / 2.0),
            previous: Vec::new(),
            current: Vec::new(),
            centroid_hz: MeanStd::default(),
            bandwidth_hz: MeanStd::default(),
            rolloff_hz: MeanStd::default(),
            flatness: MeanStd::default(),
            flux: MeanStd::default(),
        }
    }

    fn frame(&mut self, power: &[f32]) {
        self.current.clear();
        self.current
            .extend(power.iter().map(|&p| (p.max(0.0) as f64).sqrt()));
        let magnitude = &self.current;
        let total: f64 = magnitude.iter().sum();

        let (centroid, bandwidth, rolloff) = if total > 0.0 {
            let centroid = magnitude
                .iter()
                .enumerate()
                .map(|(k, m)| k as f64 * self.bin_hz * m)
                .sum::<f64>()
                / total;
            let variance = magnitude
                .iter()
                .enumerate()
                .map(|(k, m)| m * (k as f64 * self.bin_hz - centroid).powi(2))
                .sum::<f64>()
                / total;
            let threshold = ROLL_PERCENT * total;
            let mut cumulative = 0.0;
            let bin = magnitude
                .iter()
                .position(|m| {
                    cumulative += m;
                    cumulative >= threshold
                })
                .unwrap_or(magnitude.len() - 1);
            (centroid, variance.sqrt(), bin as f64 * self.bin_hz)
        } else {
            (0.0, 0.0, 0.0)
        };
        self.centroid_hz.push(centroid);
        self.bandwidth_hz.push(bandwidth);
        self.rolloff_hz.push(rolloff);

        // Σ ln p as ln of products of 16 values: one logarithm per 16 bins instead of one per bin
        // (a product of 16 powers in [1e-10, 1e12] stays well inside f64's range).
        let (mut log_sum, mut sum) = (0.0, 0.0);
        for chunk in power.chunks(16) {
            let mut product = 1.0f64;
            for &p in chunk {
                let p = (p as f64).max(FLATNESS_AMIN);
                product *= p;
                sum += p;
            }
            log_sum += product.ln();
        }
        let n = power.len() as f64;
        self.flatness.push((log_sum / n).exp() / (sum / n));

        if !self.previous.is_empty() {
            let flux = self
                .previous
                .iter()
                .zip(magnitude)
                .map(|(a, b)| ((b - a) * self.amplitude_scale).powi(2))
                .sum::<f64>()
                .sqrt();
            self.flux.push(flux);
        }
        std::mem::swap(&mut self.previous, &mut self.current);
    }
}

impl FrameSink for SpectralShape {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        for power in block.power_frames() {
            self.frame(power);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(frames: &[Vec<f32>]) -> SpectralShape {
        let mut shape = SpectralShape::new(16_000, 512);
        let power: Vec<f32> = frames.concat();
        shape.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: frames.len(),
            n_bins: 257,
            n_mels: 0,
            power: &power,
            mel: &[],
        });
        shape
    }

    #[test]
    fn a_single_bin_has_its_frequency_as_centroid_and_roll_off() {
        let mut frame = vec![0.0f32; 257];
        frame[32] = 4.0; // 1000 Hz
        let shape = run(&[frame.clone(), frame]);
        assert!((shape.centroid_hz.mean().unwrap() - 1000.0).abs() < 1e-9);
        assert!(shape.bandwidth_hz.mean().unwrap().abs() < 1e-9);
        assert!((shape.rolloff_hz.mean().unwrap() - 1000.0).abs() < 1e-9);
        assert!(shape.flux.mean().unwrap().abs() < 1e-12);
        assert!(shape.flatness.mean().unwrap() < 1e-3);
    }

    #[test]
    fn a_flat_spectrum_is_flat_and_silence_follows_librosa() {
        let flat = vec![1.0f32; 257];
        let shape = run(&[flat]);
        assert!((shape.flatness.mean().unwrap() - 1.0).abs() < 1e-9);
        assert!((shape.centroid_hz.mean().unwrap() - 4000.0).abs() < 1e-6);
        assert_eq!(shape.flux.count(), 0, "one frame has no flux");
        let silent = run(&[vec![0.0f32; 257]]);
        assert_eq!(silent.centroid_hz.mean(), Some(0.0));
        assert_eq!(silent.rolloff_hz.mean(), Some(0.0));
        assert!((silent.flatness.mean().unwrap() - 1.0).abs() < 1e-9);
    }
}
