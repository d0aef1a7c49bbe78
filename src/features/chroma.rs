//! A 12-bin chroma of the 16 kHz analysis signal from a longer STFT of its own.
//!
//! Matches `librosa.feature.chroma_stft(y, sr=16000, n_fft=4096, hop_length=2048, tuning=0,
//! norm=inf)` with librosa 0.11's defaults (periodic Hann, centred with zero padding, power
//! spectrum, `librosa.filters.chroma(ctroct=5, octwidth=2, norm=2, base_c=True)`): each frame is
//! projected onto the 12 pitch classes C … B and divided by its largest bin (frames whose largest
//! bin is zero stay zero). A 4096-point window (256 ms, 3.9 Hz bins) resolves semitones down to
//! about 65 Hz; with hop 2048 it adds one FFT per 128 ms of audio, about 1/8 of the work of the
//! shared 512-point spectrogram per second.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use wide::f32x8;

use crate::dsp::window::periodic_hann;

/// Pitch classes per octave.
pub const N_CHROMA: usize = 12;

/// The chroma filterbank and FFT plan for one sample rate and FFT size.
pub struct ChromaPlan {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    /// `N_CHROMA × (n_fft / 2 + 1)`, row-major.
    filters: Vec<f32>,
}

impl ChromaPlan {
    pub fn new(sample_rate: u32, n_fft: usize, hop: usize) -> Self {
        ChromaPlan {
            n_fft,
            hop,
            window: periodic_hann(n_fft),
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(n_fft),
            filters: chroma_filters(sample_rate as f64, n_fft),
        }
    }
}

/// `librosa.filters.chroma(sr, n_fft, n_chroma=12, tuning=0, ctroct=5, octwidth=2, norm=2,
/// base_c=True)`: Gaussian bumps around each pitch class in every octave, each FFT bin's column
/// normalised to unit L2 norm, weighted by a Gaussian over octaves centred on C5 (octave 5 above
/// A0 = 27.5 Hz, i.e. 880 Hz) with a half-width of 2 octaves.
fn chroma_filters(sample_rate: f64, n_fft: usize) -> Vec<f32> {
    let n_chroma = N_CHROMA as f64;
    let a440_over_16 = 440.0 / 16.0;
    // Frequencies of bins 1 … n_fft−1 in chroma units; bin 0 gets a made-up value 1.5 octaves
    // below bin 1, as librosa does.
    let mut frqbins: Vec<f64> = (1..n_fft)
        .map(|k| {
            let hz = sample_rate * k as f64 / n_fft as f64;
            n_chroma * (hz / a440_over_16).log2()
        })
        .collect();
    frqbins.insert(0, frqbins[0] - 1.5 * n_chroma);
    let mut binwidth: Vec<f64> = frqbins.windows(2).map(|w| (w[1] - w[0]).max(1.0)).collect();
    binwidth.push(1.0);
    let half = (n_chroma / 2.0).round();
    let n_bins = n_fft / 2 + 1;
    let mut weights = vec![0.0f64; N_CHROMA * n_bins];
    for k in 0..n_bins {
        let column: Vec<f64> = (0..N_CHROMA)
            .map(|c| {
                let d =
                    (frqbins[k] - c as f64 + half + 10.0 * n_chroma).rem_euclid(n_chroma) - half;
                (-0.5 * (2.0 * d / binwidth[k]).powi(2)).exp()
            })
            .collect();
        let norm = column.iter().map(|w| w * w).sum::<f64>().sqrt();
        let octave_weight = (-0.5 * ((frqbins[k] / n_chroma - 5.0) / 2.0).powi(2)).exp();
        for (c, w) in column.iter().enumerate() {
            let w = if norm > 0.0 { w / norm } else { *w };
            // base_c: roll by −3 so that row 0 is C rather than A.
            let row = (c + N_CHROMA - 3) % N_CHROMA;
            weights[row * n_bins + k] = w * octave_weight;
        }
    }
    weights.into_iter().map(|w| w as f32).collect()
}

/// Chroma frames computed as the signal streams in; keeps their sum for the mean.
pub struct StreamingChroma {
    plan: ChromaPlan,
    /// Padded signal from the first sample of the next frame on.
    signal: Vec<f32>,
    samples_in: u64,
    frames: u64,
    sum: [f64; N_CHROMA],
    windowed: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl StreamingChroma {
    /// Takes the plan: building one costs about as much as a few frames, so each track has its own.
    pub fn new(plan: ChromaPlan) -> Self {
        StreamingChroma {
            signal: vec![0.0; plan.n_fft / 2],
            samples_in: 0,
            frames: 0,
            sum: [0.0; N_CHROMA],
            windowed: plan.fft.make_input_vec(),
            spectrum: plan.fft.make_output_vec(),
            scratch: plan.fft.make_scratch_vec(),
            power: vec![0.0; plan.n_fft / 2 + 1],
            plan,
        }
    }

    /// Adds the next samples of the analysis signal.
    pub fn accept(&mut self, samples: &[f32]) {
        self.samples_in += samples.len() as u64;
        self.signal.extend_from_slice(samples);
        self.drain_frames();
    }

    fn drain_frames(&mut self) {
        let (n_fft, hop) = (self.plan.n_fft, self.plan.hop);
        let mut start = 0;
        while self.signal.len() - start >= n_fft {
            self.frame(start);
            start += hop;
        }
        self.signal.drain(..start);
    }

    fn frame(&mut self, start: usize) {
        let plan = &self.plan;
        let samples = &self.signal[start..start + plan.n_fft];
        if samples.iter().all(|&s| s == 0.0) {
            // Digital silence: an all-zero chroma, which adds nothing to the sum.
            self.frames += 1;
            return;
        }
        for ((x, &s), &w) in self.windowed.iter_mut().zip(samples).zip(&plan.window) {
            *x = s * w;
        }
        plan.fft
            .process_with_scratch(&mut self.windowed, &mut self.spectrum, &mut self.scratch)
            .expect("buffers come from the same plan");
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.norm_sqr();
        }
        let chroma = project(&plan.filters, &self.power);
        let peak = chroma.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if peak > f32::MIN_POSITIVE as f64 {
            for (sum, v) in self.sum.iter_mut().zip(chroma) {
                *sum += v / peak;
            }
        }
        self.frames += 1;
    }

    /// Pads the end with zeros, computes the last frames (`1 + n / hop` in all) and returns the
    /// mean chroma (C … B, each 0–1), `None` for an empty signal.
    pub fn finish(mut self) -> Option<[f64; N_CHROMA]> {
        let total = 1 + self.samples_in / self.plan.hop as u64;
        self.signal
            .resize(self.signal.len() + self.plan.n_fft / 2, 0.0);
        self.drain_frames();
        debug_assert_eq!(self.frames, total);
        (self.samples_in > 0).then(|| self.sum.map(|s| s / self.frames as f64))
    }
}

/// Each of the 12 rows of `filters` (row-major, `power.len()` columns) dotted with `power`.
fn project(filters: &[f32], power: &[f32]) -> [f64; N_CHROMA] {
    let mut chroma = [0.0f64; N_CHROMA];
    for (value, row) in chroma.iter_mut().zip(filters.chunks_exact(power.len())) {
        *value = dot(row, power);
    }
    chroma
}

/// `Σ a·b` in f32 over 8 independent lanes, summed in f64 at the end; over 2049 bins the relative
/// error stays near 1e-6, far inside the parity tolerance. The lanes are `wide`'s `f32x8`: the
/// compiler turned the same lanes written as an array into a loop half of scalar adds, which
/// took twice the time.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = f32x8::ZERO;
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| *x as f64 * *y as f64)
        .sum();
    for (x, y) in a8.zip(b8) {
        let (x, y): ([f32; 8], [f32; 8]) = (x.try_into().unwrap(), y.try_into().unwrap());
        lanes += f32x8::new(x) * f32x8::new(y);
    }
    lanes.to_array().iter().map(|&l| l as f64).sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chroma_of(signal: &[f32], piece: usize) -> [f64; N_CHROMA] {
        let plan = ChromaPlan::new(16_000, 4096, 2048);
        let mut chroma = StreamingChroma::new(plan);
        for p in signal.chunks(piece) {
            chroma.accept(p);
        }
        chroma.finish().unwrap()
    }

    #[test]
    fn an_a440_tone_lights_up_a_and_chunking_does_not_matter() {
        let tone: Vec<f32> = (0..48_000)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin())
            .collect();
        let a = chroma_of(&tone, 1000);
        let b = chroma_of(&tone, 7777);
        assert_eq!(a, b);
        let best = (0..N_CHROMA)
            .max_by(|&i, &j| a[i].total_cmp(&a[j]))
            .unwrap();
        assert_eq!(best, 9, "A is the tenth pitch class from C: {a:?}");
    }

    #[test]
    fn frame_count_matches_a_centred_stft() {
        for n in [1usize, 2047, 2048, 2049, 10_000] {
            let plan = ChromaPlan::new(16_000, 4096, 2048);
            let mut chroma = StreamingChroma::new(plan);
            chroma.accept(&vec![0.1; n]);
            let expected = 1 + n as u64 / 2048;
            let frames = {
                let total_before = chroma.frames;
                assert!(total_before <= expected);
                chroma.signal.resize(chroma.signal.len() + 2048, 0.0);
                chroma.drain_frames();
                chroma.frames
            };
            assert_eq!(frames, expected, "n = {n}");
        }
    }
}
