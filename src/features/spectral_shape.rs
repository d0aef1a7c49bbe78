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

use wide::f64x4;

use crate::dsp::lanes::{lane_sums, pair_sums};
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
        let [total, moment] = lane_sums(magnitude, |k, m| [m, k * m]);

        let (centroid, bandwidth, rolloff) = if total > 0.0 {
            let centroid = moment * self.bin_hz / total;
            let [spread] = lane_sums(magnitude, |k, m| [m * (k * self.bin_hz - centroid).powi(2)]);
            let bin = rolloff_bin(magnitude, ROLL_PERCENT * total);
            (centroid, (spread / total).sqrt(), bin as f64 * self.bin_hz)
        } else {
            (0.0, 0.0, 0.0)
        };
        self.centroid_hz.push(centroid);
        self.bandwidth_hz.push(bandwidth);
        self.rolloff_hz.push(rolloff);

        let (log_sum, sum) = log_and_sum(power);
        let n = power.len() as f64;
        self.flatness.push((log_sum / n).exp() / (sum / n));

        if !self.previous.is_empty() {
            let [change] = pair_sums(&self.previous, magnitude, |a, b| [(b - a).powi(2)]);
            self.flux.push(change.sqrt() * self.amplitude_scale);
        }
        std::mem::swap(&mut self.previous, &mut self.current);
    }
}

/// The first bin at which the running sum of `magnitude` reaches `threshold` (the last bin if it
/// never does): blocks of 16 bins are summed on their own, and only the block where the running
/// sum crosses is walked bin by bin.
fn rolloff_bin(magnitude: &[f64], threshold: f64) -> usize {
    let mut cumulative = 0.0;
    for (b, block) in magnitude.chunks(16).enumerate() {
        let [block_sum] = lane_sums(block, |_, m| [m]);
        if cumulative + block_sum >= threshold {
            for (i, m) in block.iter().enumerate() {
                cumulative += m;
                if cumulative >= threshold {
                    return 16 * b + i;
                }
            }
        }
        cumulative += block_sum;
    }
    magnitude.len() - 1
}

/// `(Σ ln max(amin, p), Σ max(amin, p))` over a power spectrum.
///
/// The logarithms are taken of products: four lanes each multiply 16 values (a product of 16
/// powers in [1e-10, 1e5] stays far inside f64's range), and one vector logarithm serves the
/// four products, 64 bins.
fn log_and_sum(power: &[f32]) -> (f64, f64) {
    let (mut log_sum, mut sums) = (0.0, f64x4::ZERO);
    for group in power.chunks(64) {
        let mut products = f64x4::ONE;
        for quad in group.chunks(4) {
            let mut p = [1.0f64; 4];
            let mut s = [0.0f64; 4];
            for (j, &v) in quad.iter().enumerate() {
                p[j] = (v as f64).max(FLATNESS_AMIN);
                s[j] = p[j];
            }
            products *= f64x4::new(p);
            sums += f64x4::new(s);
        }
        log_sum += products.ln().reduce_add();
    }
    (log_sum, sums.reduce_add())
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
