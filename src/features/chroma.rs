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
use realfft::RealToComplex;

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
            fft: crate::dsp::real_fft::forward::<f32>(n_fft),
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

/// Each of the 12 rows of `filters` (row-major, `power.len()` columns) dotted with `power`, as
/// [`project_portable`] computes it, bit for bit: with AVX2 where the CPU has it
/// ([`project_avx2`]), otherwise portably.
fn project(filters: &[f32], power: &[f32]) -> [f64; N_CHROMA] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { project_avx2(filters, power) };
    }
    project_portable(filters, power)
}

/// [`project`] one row at a time with [`dot`]: the reference the AVX2 kernel must match.
fn project_portable(filters: &[f32], power: &[f32]) -> [f64; N_CHROMA] {
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
    let tail = tail_dot(a8.remainder(), b8.remainder());
    for (x, y) in a8.zip(b8) {
        let (x, y): ([f32; 8], [f32; 8]) = (x.try_into().unwrap(), y.try_into().unwrap());
        lanes += f32x8::new(x) * f32x8::new(y);
    }
    combine(lanes.to_array(), tail)
}

/// The last `n mod 8` products of a dot, summed in f64.
#[inline(always)]
fn tail_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// A dot's 8 lanes summed in f64 in lane order, then its tail added.
#[inline(always)]
fn combine(lanes: [f32; 8], tail: f64) -> f64 {
    lanes.iter().map(|&l| l as f64).sum::<f64>() + tail
}

/// [`project_portable`] with all 12 rows in one pass over `power`: each 8 power values are
/// loaded once for the 12 rows, whose sums stay in 12 of the 16 AVX registers. Each row keeps
/// [`dot`]'s lanes (bin `k` in lane `k mod 8`) and its separate multiply and add (no fused
/// multiply-add, which would round once where `dot` rounds twice), so the bits are the same.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn project_avx2(filters: &[f32], power: &[f32]) -> [f64; N_CHROMA] {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let n = power.len();
    assert!(
        filters.len() >= N_CHROMA * n,
        "12 rows of power.len() filters"
    );
    let whole = n - n % 8;
    let mut acc = [_mm256_setzero_ps(); N_CHROMA];
    // Raw pointers rather than slices of the rows: with a bounds check per row and chunk, the
    // sums were spilled to the stack and the loop took about 3 times the instructions.
    let (f, p) = (filters.as_ptr(), power.as_ptr());
    for at in (0..whole).step_by(8) {
        // SAFETY: `at + 8 ≤ whole ≤ n`, so both loads stay within `power` and within row `r`
        // of `filters` (checked above to hold 12 rows); the loads need no alignment.
        unsafe {
            let p = _mm256_loadu_ps(p.add(at));
            for (r, a) in acc.iter_mut().enumerate() {
                *a = _mm256_add_ps(*a, _mm256_mul_ps(_mm256_loadu_ps(f.add(r * n + at)), p));
            }
        }
    }
    std::array::from_fn(|r| {
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds 8 values; the store needs no alignment.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r]) };
        combine(
            lanes,
            tail_dot(&filters[r * n + whole..(r + 1) * n], &power[whole..]),
        )
    })
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

    /// Values spread over many binades, as power spectra are, from a fixed xorshift sequence.
    fn random_values(n: usize, state: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                let mantissa = (*state >> 40) as f32 / (1u64 << 24) as f32;
                mantissa * 2f32.powi((*state % 40) as i32 - 30)
            })
            .collect()
    }

    #[test]
    fn the_dispatched_projection_matches_the_portable_one_bit_for_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let plan = ChromaPlan::new(16_000, 4096, 2048);
        for _ in 0..20 {
            let power = random_values(2049, &mut state);
            let expected = project_portable(&plan.filters, &power);
            assert_eq!(
                project(&plan.filters, &power).map(f64::to_bits),
                expected.map(f64::to_bits)
            );
        }
        for n in [1, 7, 8, 9, 16, 100, 2049] {
            let filters = random_values(N_CHROMA * n, &mut state);
            let power = random_values(n, &mut state);
            let expected = project_portable(&filters, &power);
            let got = project(&filters, &power);
            assert_eq!(got.map(f64::to_bits), expected.map(f64::to_bits), "n = {n}");
        }
    }
}
