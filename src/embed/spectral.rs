//! musicnn's timbral convolutions through a 96-point DFT along the mel axis, for AVX2.
//!
//! A timbral layer correlates the 7 frames under it, each with one row of `w` taps along the
//! 96 mel bands, sums the seven, and keeps each filter's max and min over the `96 − w + 1`
//! frequency positions. Directly that is `7 · w` multiply-adds a position (266 at `w` = 38,
//! 469 at `w` = 67). A 96-point DFT holds a whole frame: position `p` reads bands `p` to
//! `p + w − 1 ≤ 95`, so the circular correlation is the linear one at every position kept, and
//! for each time step and filter:
//!
//! 1. the seven frames' spectra (49 bins, once a patch, shared by both layers and every
//!    filter) times the conjugate spectra of the filter's seven rows (once, at model load),
//!    summed over the rows: `7 · 49` complex multiply-adds;
//! 2. back to positions as a product with a fixed `96 × P` matrix, the inverse DFT of the 96
//!    real numbers that make up the 49 bins: 96 multiply-adds a position, on the direct
//!    convolution's register-pooled kernel (`super::conv`), so only the max and min leave the
//!    registers.
//!
//! A patch's timbral arithmetic falls from 1,135 M multiply-adds to 431 M. The sums are rounded
//! in another order than the direct ones: within 1e-5 of the output's scale (tests below).
//! Only AVX2: AVX-512 machines run their own kernels (bf16 pairs, AMX tiles, or the direct f32
//! one, whose filter panels would fill 224 lanes for 204 filters).

use realfft::num_complex::Complex;

use super::aligned::CacheAligned;
use super::conv::Window;

/// Points of the DFT: the mel bands of a frame.
const POINTS: usize = super::network::N_MELS;
/// Complex bins of a real `POINTS`-point DFT.
const BINS: usize = POINTS / 2 + 1;
/// Filters a panel: two AVX2 vectors.
const WIDTH: usize = 16;
/// Time steps whose products one pass over a panel's spectra makes (sharing their loads).
const STEPS: usize = 2;

/// The DFT of every frame of one padded patch (`(T + 6) × 96`), real and imaginary parts apart:
/// `re[f · BINS + k]`, `im[f · BINS + k]`. Reused patch after patch.
#[derive(Default)]
pub struct FrameSpectra {
    re: Vec<f32>,
    im: Vec<f32>,
    frame: Vec<f32>,
    bins: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl FrameSpectra {
    /// Transforms each 96-value frame of `padded`.
    pub fn compute(&mut self, padded: &[f32]) {
        assert_eq!(padded.len() % POINTS, 0, "whole frames");
        let fft = crate::dsp::plans::forward::<f32>(POINTS);
        let frames = padded.len() / POINTS;
        self.re.resize(frames * BINS, 0.0);
        self.im.resize(frames * BINS, 0.0);
        self.frame.resize(POINTS, 0.0);
        self.bins.resize(BINS, Complex::default());
        self.scratch
            .resize(fft.get_scratch_len(), Complex::default());
        for (f, row) in padded.chunks_exact(POINTS).enumerate() {
            self.frame.copy_from_slice(row);
            fft.process_with_scratch(&mut self.frame, &mut self.bins, &mut self.scratch)
                .expect("buffers sized by the plan");
            for (k, c) in self.bins.iter().enumerate() {
                self.re[f * BINS + k] = c.re;
                self.im[f * BINS + k] = c.im;
            }
        }
    }

    fn frames(&self) -> usize {
        self.re.len() / BINS
    }
}

/// One timbral layer prepared for the DFT path.
pub struct Timbral {
    rows: usize,
    out: usize,
    positions: usize,
    /// The conjugate spectra of the kernel's rows: per panel of [`WIDTH`] filters, bin after
    /// bin, row after row, the real parts of the panel's filters then their imaginary parts.
    /// Filters past `out` are zero.
    spectra: CacheAligned<f32>,
    /// `basis[c · positions + p]`: output position `p` is `Σ_c basis[c·P + p] · y_c`, where
    /// `y_0 … y_48` are the real parts of bins 0–48 and `y_49 … y_95` the imaginary parts of
    /// bins 1–47 (those of bins 0 and 48 are zero for real signals).
    basis: Vec<f32>,
}

impl Timbral {
    /// Prepares the row-major `(rows · taps) × out` `kernel` of `shape` = `[rows, taps]`;
    /// [`Timbral::extremes`] needs at least 6 positions (`taps ≤ 91`), a tile of its kernel.
    pub fn new(kernel: &[f32], shape: [usize; 2], out: usize) -> Timbral {
        let [rows, taps] = shape;
        assert!(taps <= POINTS, "a kernel row fits a frame");
        assert_eq!(kernel.len(), rows * taps * out, "kernel is taps × out");
        let positions = POINTS - taps + 1;
        let panels = out.div_ceil(WIDTH);
        let fft = crate::dsp::plans::forward::<f64>(POINTS);
        let mut row = vec![0.0f64; POINTS];
        let mut bins = vec![Complex::<f64>::default(); BINS];
        let mut spectra = vec![0.0f32; panels * BINS * rows * 2 * WIDTH];
        for o in 0..out {
            let (panel, lane) = (o / WIDTH, o % WIDTH);
            for r in 0..rows {
                row.fill(0.0);
                for (j, x) in row[..taps].iter_mut().enumerate() {
                    *x = kernel[(r * taps + j) * out + o] as f64;
                }
                fft.process(&mut row, &mut bins)
                    .expect("buffers sized by the plan");
                for (k, w) in bins.iter().enumerate() {
                    let at = ((panel * BINS + k) * rows + r) * 2 * WIDTH + lane;
                    spectra[at] = w.re as f32;
                    spectra[at + WIDTH] = -w.im as f32;
                }
            }
        }
        let n = POINTS as f64;
        let mut basis = vec![0.0f32; POINTS * positions];
        for p in 0..positions {
            let angle = |k: usize| 2.0 * std::f64::consts::PI * (k * p % POINTS) as f64 / n;
            basis[p] = (1.0 / n) as f32;
            basis[(BINS - 1) * positions + p] = (if p % 2 == 0 { 1.0 } else { -1.0 } / n) as f32;
            for k in 1..BINS - 1 {
                basis[k * positions + p] = (2.0 * angle(k).cos() / n) as f32;
                basis[(BINS - 1 + k) * positions + p] = (-2.0 * angle(k).sin() / n) as f32;
            }
        }
        Timbral {
            rows,
            out,
            positions,
            spectra: CacheAligned::new(&spectra),
            basis,
        }
    }

    /// For every time step `t` of the layer's output and every panel of filters from `first`:
    /// `emit(t, first, max, min)` with the max and min over frequency positions of each filter
    /// of the panel (`max.len()` filters). `spectra` holds the padded patch's frames, `rows − 1`
    /// more than the time steps.
    ///
    /// # Panics
    /// If the CPU lacks AVX2 and FMA, or `spectra` holds fewer than `rows + 1` frames.
    pub fn extremes(
        &self,
        spectra: &FrameSpectra,
        mut emit: impl FnMut(usize, usize, &[f32], &[f32]),
    ) {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            let steps = (spectra.frames() + 1).saturating_sub(self.rows);
            assert!(steps >= STEPS, "a patch holds at least {STEPS} time steps");
            let window = Window {
                base: 0,
                rows: POINTS,
                row_stride: self.positions,
                taps: 1,
                positions: self.positions,
            };
            // A panel's products for STEPS time steps, `[step][coefficient][WIDTH]`: 12 KiB.
            let mut products = [0.0f32; STEPS * POINTS * WIDTH];
            let (mut max, mut min) = ([0.0f32; WIDTH], [0.0f32; WIDTH]);
            let panel_len = BINS * self.rows * 2 * WIDTH;
            for (panel, weights) in self.spectra.chunks_exact(panel_len).enumerate() {
                let first = panel * WIDTH;
                let filters = WIDTH.min(self.out - first);
                for t in (0..steps).step_by(STEPS) {
                    // The last pass starts early if `steps` is odd, and emits only what is new.
                    let t0 = t.min(steps - STEPS);
                    // SAFETY: AVX2 and FMA detected above; `multiply` reads frames t0 ..
                    // t0 + STEPS + rows − 1 ≤ frames and writes STEPS · POINTS · WIDTH.
                    unsafe { multiply(weights, self.rows, spectra, t0, &mut products) };
                    for (s, panel_products) in products.chunks_exact(POINTS * WIDTH).enumerate() {
                        if t0 + s < t {
                            continue;
                        }
                        super::conv::avx2_extremes(
                            panel_products,
                            &self.basis,
                            window,
                            &mut max[..filters],
                            &mut min[..filters],
                        );
                        emit(t0 + s, first, &max[..filters], &min[..filters]);
                    }
                }
            }
            return;
        }
        panic!("the DFT path needs AVX2 and FMA");
    }
}

/// Step 1 for one panel and [`STEPS`] time steps from `t0`: `products[s][c][lane]`, the 96
/// real numbers of `Σ_r X[t0 + s + r] · conj(W_r)` for each filter of the panel.
///
/// # Safety
/// The CPU has AVX2 and FMA; `spectra` holds frames up to `t0 + STEPS + rows − 2`; `weights`
/// is one panel of [`Timbral::spectra`] for `rows` rows; `products` holds `STEPS · POINTS ·
/// WIDTH` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn multiply(
    weights: &[f32],
    rows: usize,
    spectra: &FrameSpectra,
    t0: usize,
    products: &mut [f32],
) {
    use std::arch::x86_64::*;
    debug_assert!((t0 + STEPS + rows - 1) * BINS <= spectra.re.len());
    debug_assert_eq!(weights.len(), BINS * rows * 2 * WIDTH);
    debug_assert_eq!(products.len(), STEPS * POINTS * WIDTH);
    let (re, im) = (spectra.re.as_ptr(), spectra.im.as_ptr());
    let out = products.as_mut_ptr();
    for k in 0..BINS {
        // Per step and vector: the real part and the imaginary part, eight chains of FMAs in
        // all (what keeps two FMA pipes of latency 4 busy) and 14 of the 16 registers with the
        // weights and one frame's value.
        let mut acc = [[_mm256_setzero_ps(); 4]; STEPS];
        let mut w = weights.as_ptr().add(k * rows * 2 * WIDTH);
        for r in 0..rows {
            let wr = [_mm256_loadu_ps(w), _mm256_loadu_ps(w.add(8))];
            let wi = [_mm256_loadu_ps(w.add(16)), _mm256_loadu_ps(w.add(24))];
            for (s, acc) in acc.iter_mut().enumerate() {
                let at = (t0 + s + r) * BINS + k;
                let xr = _mm256_set1_ps(*re.add(at));
                let xi = _mm256_set1_ps(*im.add(at));
                for v in 0..2 {
                    acc[v] = _mm256_fmadd_ps(xr, wr[v], acc[v]);
                    acc[v] = _mm256_fnmadd_ps(xi, wi[v], acc[v]);
                    acc[2 + v] = _mm256_fmadd_ps(xr, wi[v], acc[2 + v]);
                    acc[2 + v] = _mm256_fmadd_ps(xi, wr[v], acc[2 + v]);
                }
            }
            w = w.add(2 * WIDTH);
        }
        for (s, acc) in acc.iter().enumerate() {
            let step = out.add(s * POINTS * WIDTH);
            for v in 0..2 {
                _mm256_storeu_ps(step.add(k * WIDTH + 8 * v), acc[v]);
                if k > 0 && k < BINS - 1 {
                    _mm256_storeu_ps(step.add((BINS - 1 + k) * WIDTH + 8 * v), acc[2 + v]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
