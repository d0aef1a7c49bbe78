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

use crate::dsp::lanes::lane_sums;
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
    /// The frame's sums of [`ROLLOFF_BLOCK`] magnitudes.
    blocks: Vec<f64>,
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
            blocks: Vec::new(),
            centroid_hz: MeanStd::default(),
            bandwidth_hz: MeanStd::default(),
            rolloff_hz: MeanStd::default(),
            flatness: MeanStd::default(),
            flux: MeanStd::default(),
        }
    }

    fn frame(&mut self, power: &[f32]) {
        let n_bins = power.len();
        let has_previous = self.previous.len() == n_bins;
        if !has_previous {
            // The first frame: its flux is computed against zeros and not kept, so that the
            // pass below needs no second version without a previous frame.
            self.previous.clear();
            self.previous.resize(n_bins, 0.0);
        }
        self.current.resize(n_bins, 0.0);
        self.blocks.clear();
        let pass = first_pass(power, &self.previous, &mut self.current, &mut self.blocks);
        let magnitude = &self.current;
        let [total, moment] = pass.total_moment;

        let (centroid, bandwidth, rolloff) = if total > 0.0 {
            let centroid = moment * self.bin_hz / total;
            let [spread] = lane_sums(magnitude, |k, m| [m * (k * self.bin_hz - centroid).powi(2)]);
            let bin = rolloff_bin(magnitude, &self.blocks, ROLL_PERCENT * total);
            (centroid, (spread / total).sqrt(), bin as f64 * self.bin_hz)
        } else {
            (0.0, 0.0, 0.0)
        };
        self.centroid_hz.push(centroid);
        self.bandwidth_hz.push(bandwidth);
        self.rolloff_hz.push(rolloff);

        let (log_sum, sum) = pass.log_and_sum;
        let n = n_bins as f64;
        self.flatness.push((log_sum / n).exp() / (sum / n));

        if has_previous {
            self.flux.push(pass.change.sqrt() * self.amplitude_scale);
        }
        std::mem::swap(&mut self.previous, &mut self.current);
    }
}

/// What one pass over a frame's power spectrum gathers.
struct FirstPass {
    /// `[Σ |X|, Σ k·|X|]`.
    total_moment: [f64; 2],
    /// `(Σ ln max(amin, p), Σ max(amin, p))`.
    log_and_sum: (f64, f64),
    /// `Σ (|X| − |X_previous|)²`.
    change: f64,
}

/// Bins per block of the roll-off's search ([`rolloff_bin`]).
const ROLLOFF_BLOCK: usize = 16;
/// Bins per vector logarithm of the flatness: four lanes each multiply 16 values (a product of
/// 16 powers in [1e-10, 1e5] stays far inside f64's range), and one vector logarithm serves the
/// four products.
const FLATNESS_GROUP: usize = 64;

/// Writes the magnitudes `|X| = sqrt(max(0, p))` of `power` into `magnitude` and, in the same
/// pass, every sum of the frame that does not need the centroid: the magnitude's total and first
/// moment, the sum of each block of [`ROLLOFF_BLOCK`] magnitudes (appended to `blocks`), the
/// flatness's log-sum and sum, and the squared change from `previous`.
///
/// One pass instead of five (the magnitudes, the moments, the block sums, the flatness, the
/// flux, each over the whole frame), each sum in the lanes and order its own pass took
/// ([`crate::dsp::lanes::lane_sums`]: four lanes by bin mod 4, combined as
/// `(l0 + l1) + (l2 + l3)`, then the last `n mod 4` bins in order), so that every result is
/// the same bit for bit.
fn first_pass(
    power: &[f32],
    previous: &[f64],
    magnitude: &mut [f64],
    blocks: &mut Vec<f64>,
) -> FirstPass {
    let combine = |l: f64x4| {
        let l = l.to_array();
        (l[0] + l[1]) + (l[2] + l[3])
    };
    let (mut total, mut moment, mut change) = (f64x4::ZERO, f64x4::ZERO, f64x4::ZERO);
    let (mut block, mut products, mut sums) = (f64x4::ZERO, f64x4::ONE, f64x4::ZERO);
    let mut log_sum = 0.0;
    let mut k = f64x4::new([0.0, 1.0, 2.0, 3.0]);
    let quads = power
        .chunks_exact(4)
        .zip(previous.chunks_exact(4))
        .zip(magnitude.chunks_exact_mut(4));
    for (q, ((p, before), m)) in quads.enumerate() {
        let p = [p[0] as f64, p[1] as f64, p[2] as f64, p[3] as f64];
        let mag = f64x4::new(p.map(|v| v.max(0.0))).sqrt();
        m.copy_from_slice(&mag.to_array());
        total += mag;
        moment += k * mag;
        k += f64x4::splat(4.0);
        let d = mag - f64x4::new(before.try_into().expect("four values"));
        change += d * d;
        block += mag;
        if (q + 1).is_multiple_of(ROLLOFF_BLOCK / 4) {
            blocks.push(combine(block));
            block = f64x4::ZERO;
        }
        let floored = f64x4::new(p.map(|v| v.max(FLATNESS_AMIN)));
        products *= floored;
        sums += floored;
        if (q + 1).is_multiple_of(FLATNESS_GROUP / 4) {
            log_sum += products.ln().reduce_add();
            products = f64x4::ONE;
        }
    }
    let done = power.len() - power.len() % 4;
    let (mut total, mut moment, mut change) = (combine(total), combine(moment), combine(change));
    let mut block_sum = combine(block);
    let (mut tail_products, mut tail_sums) = ([1.0f64; 4], [0.0f64; 4]);
    for (j, i) in (done..power.len()).enumerate() {
        let p = power[i] as f64;
        let m = p.max(0.0).sqrt();
        magnitude[i] = m;
        total += m;
        moment += i as f64 * m;
        change += (m - previous[i]).powi(2);
        block_sum += m;
        tail_products[j] = p.max(FLATNESS_AMIN);
        tail_sums[j] = tail_products[j];
    }
    if !done.is_multiple_of(ROLLOFF_BLOCK) || done < power.len() {
        blocks.push(block_sum);
    }
    if done < power.len() {
        products *= f64x4::new(tail_products);
        sums += f64x4::new(tail_sums);
    }
    if !done.is_multiple_of(FLATNESS_GROUP) || done < power.len() {
        log_sum += products.ln().reduce_add();
    }
    FirstPass {
        total_moment: [total, moment],
        log_and_sum: (log_sum, sums.reduce_add()),
        change,
    }
}

/// The first bin at which the running sum of `magnitude` reaches `threshold` (the last bin if it
/// never does), from the sums of its blocks of [`ROLLOFF_BLOCK`] bins: only the block where the
/// running sum crosses is walked bin by bin.
fn rolloff_bin(magnitude: &[f64], blocks: &[f64], threshold: f64) -> usize {
    let mut cumulative = 0.0;
    for ((b, block), &block_sum) in magnitude.chunks(ROLLOFF_BLOCK).enumerate().zip(blocks) {
        if cumulative + block_sum >= threshold {
            for (i, m) in block.iter().enumerate() {
                cumulative += m;
                if cumulative >= threshold {
                    return ROLLOFF_BLOCK * b + i;
                }
            }
        }
        cumulative += block_sum;
    }
    magnitude.len() - 1
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

    /// The sums of [`first_pass`] as five separate passes would take them: lane sums and pair
    /// sums, the flatness's products by groups of 64 and quads.
    fn separate_passes(power: &[f32], previous: &[f64]) -> (Vec<f64>, Vec<f64>, [f64; 5]) {
        use crate::dsp::lanes::pair_sums;
        let magnitude: Vec<f64> = power.iter().map(|&p| (p.max(0.0) as f64).sqrt()).collect();
        let [total, moment] = lane_sums(&magnitude, |k, m| [m, k * m]);
        let blocks = magnitude
            .chunks(ROLLOFF_BLOCK)
            .map(|b| lane_sums(b, |_, m| [m])[0])
            .collect();
        let [change] = pair_sums(previous, &magnitude, |a, b| [(b - a).powi(2)]);
        let (mut log_sum, mut sums) = (0.0, f64x4::ZERO);
        for group in power.chunks(FLATNESS_GROUP) {
            let mut products = f64x4::ONE;
            for quad in group.chunks(4) {
                let (mut p, mut s) = ([1.0f64; 4], [0.0f64; 4]);
                for (j, &v) in quad.iter().enumerate() {
                    p[j] = (v as f64).max(FLATNESS_AMIN);
                    s[j] = p[j];
                }
                products *= f64x4::new(p);
                sums += f64x4::new(s);
            }
            log_sum += products.ln().reduce_add();
        }
        let sums = [total, moment, log_sum, sums.reduce_add(), change];
        (magnitude, blocks, sums)
    }

    #[test]
    fn the_single_pass_matches_separate_passes_bit_for_bit() {
        for n in [1usize, 3, 4, 5, 16, 17, 63, 64, 65, 70, 128, 257, 300] {
            let power: Vec<f32> = (0..n)
                .map(|k| match k % 11 {
                    0 => 0.0,
                    5 => -1e-9,
                    _ => 1e-12 * 3.7f32.powi((k * 7 % 23) as i32),
                })
                .collect();
            let previous: Vec<f64> = (0..n).map(|k| (k % 5) as f64 * 0.01).collect();
            let (mut magnitude, mut blocks) = (vec![0.0; n], Vec::new());
            let pass = first_pass(&power, &previous, &mut magnitude, &mut blocks);
            let (expected_magnitude, expected_blocks, expected) =
                separate_passes(&power, &previous);
            let [total, moment] = pass.total_moment;
            let (log_sum, sum) = pass.log_and_sum;
            assert_eq!(magnitude, expected_magnitude, "n = {n}");
            assert_eq!(blocks, expected_blocks, "n = {n}");
            assert_eq!(
                [total, moment, log_sum, sum, pass.change],
                expected,
                "n = {n}"
            );
        }
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
