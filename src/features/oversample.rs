//! The `ebur128` crate's true-peak interpolator, computed a stretch at a time, eight outputs at
//! once, with exactly the crate's results.
//!
//! The crate oversamples frame by frame: for each input sample `x[n]` and each phase `p` it sums
//! `h[t·F + p] · x[n − t]` over `t = 0 … T − 1` in `f32`, in that order, starting from 0 (one
//! multiplication and one addition per term, no fused multiply-add), and keeps the largest
//! |value|. [`Interpolator::peak`] computes the same sums in the same order for eight consecutive
//! `n` at once, one per vector lane, so every value, and the peak, is the crate's bit for bit,
//! for a fraction of its instructions: the crate shifts a ring buffer and computes one frame's
//! channels per step. Like the crate, it runs with the SSE flush-to-zero mode on, so that results
//! in the subnormal range round as the crate's do too.
//!
//! The body is plain Rust over a const number of lanes. On x86-64 it is compiled twice more:
//! with AVX for eight lanes (one `ymm` register each), and with AVX-512 for sixteen (one `zmm`),
//! which halves the instructions per output where the CPU has it. The copy that runs is chosen
//! from what the CPU reports at run time (no compile-time assumption). Each lane computes its
//! own output in the same order whatever the width, so every copy gives the same bits.

/// Taps of the crate's interpolator (`interp.rs`: `TAPS = 48`), over all phases.
pub const TAPS: usize = 48;
/// Lanes of the portable and AVX copies, and of the AVX-512 one.
const LANES: usize = 8;
const WIDE_LANES: usize = 16;

/// The crate's polyphase interpolator at one oversampling factor (1, 2 or 4).
pub struct Interpolator {
    factor: usize,
    /// Taps per phase, `T`.
    taps: usize,
    /// `h[t·F + p]` at index `t·F + p`, exactly as the crate computes them (f64 rounded to f32);
    /// at factor 1, the identity (the crate does not oversample there: its true peak is the
    /// sample peak).
    coeffs: [f32; TAPS],
}

/// The crate's coefficient `j` of its 48-tap Hann-windowed sinc at `factor`× (`InterpF::new`).
pub fn coefficient(j: usize, factor: usize) -> f64 {
    let jf = j as f64;
    let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * jf / TAPS as f64).cos());
    let m = jf - TAPS as f64 / 2.0;
    let x = m * std::f64::consts::PI / factor as f64;
    if m.abs() > 1e-6 {
        w * x.sin() / x
    } else {
        w
    }
}

impl Interpolator {
    /// The interpolator the crate uses at `factor`× (4 below 96 kHz, 2 below 192 kHz, else 1).
    pub fn new(factor: usize) -> Self {
        let mut coeffs = [0.0f32; TAPS];
        if factor <= 1 {
            coeffs[0] = 1.0;
            return Interpolator {
                factor: 1,
                taps: 1,
                coeffs,
            };
        }
        for (j, c) in coeffs.iter_mut().enumerate() {
            *c = coefficient(j, factor) as f32;
        }
        Interpolator {
            factor,
            taps: TAPS / factor,
            coeffs,
        }
    }

    /// Input samples before the first output that each computation needs (`T − 1`).
    pub fn history(&self) -> usize {
        self.taps - 1
    }

    /// The largest |interpolated value| over every phase of every sample of
    /// `x[history()..]`; `x` starts with the `history()` samples before them (zeros before the
    /// start of the stream, as the crate's fresh buffer holds). 0 if there is none.
    pub fn peak(&self, x: &[f32]) -> f32 {
        if x.len() <= self.history() {
            return 0.0;
        }
        with_flush_to_zero(|| {
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                return unsafe { self.peak_avx512(x) };
            }
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx") {
                // SAFETY: the CPU has AVX, checked just above.
                return unsafe { self.peak_avx(x) };
            }
            self.peak_portable(x)
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn peak_avx512(&self, x: &[f32]) -> f32 {
        self.dispatch::<WIDE_LANES>(x)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn peak_avx(&self, x: &[f32]) -> f32 {
        self.dispatch::<LANES>(x)
    }

    fn peak_portable(&self, x: &[f32]) -> f32 {
        self.dispatch::<LANES>(x)
    }

    /// One copy of the body per factor, so that its loops have constant bounds.
    #[inline(always)]
    fn dispatch<const L: usize>(&self, x: &[f32]) -> f32 {
        match self.factor {
            4 => peak_of::<4, { TAPS / 4 }, L>(&self.coeffs, x),
            2 => peak_of::<2, { TAPS / 2 }, L>(&self.coeffs, x),
            _ => peak_of::<1, 1, L>(&self.coeffs, x),
        }
    }
}

/// `max |Σ_t h[t·F + p] · x[n − t]|` over `p` and `n ≥ T − 1`, the sum in the crate's order.
#[inline(always)]
fn peak_of<const F: usize, const T: usize, const L: usize>(coeffs: &[f32; TAPS], x: &[f32]) -> f32 {
    let h = T - 1;
    let n = x.len() - h;
    let mut peak = [0.0f32; L];
    let mut i = 0;
    while i + L <= n {
        let mut acc = [[0.0f32; L]; F];
        for t in 0..T {
            // Lane l is output n = h + i + l, whose term t reads x[n − t].
            let xs: &[f32; L] = x[h + i - t..h + i - t + L].try_into().unwrap();
            for (p, acc) in acc.iter_mut().enumerate() {
                let c = coeffs[t * F + p];
                for l in 0..L {
                    acc[l] += c * xs[l];
                }
            }
        }
        for acc in &acc {
            for l in 0..L {
                let a = acc[l].abs();
                // As the crate: a NaN never becomes the peak.
                if a > peak[l] {
                    peak[l] = a;
                }
            }
        }
        i += L;
    }
    let mut best = peak
        .into_iter()
        .fold(0.0f32, |m, a| if a > m { a } else { m });
    for k in h + i..x.len() {
        for p in 0..F {
            let mut acc = 0.0f32;
            for t in 0..T {
                acc += coeffs[t * F + p] * x[k - t];
            }
            let a = acc.abs();
            if a > best {
                best = a;
            }
        }
    }
    best
}

/// Runs `f` with the SSE flush-to-zero mode on, as the crate computes its true peak, and
/// restores the caller's mode after it (also when `f` panics).
#[allow(deprecated)] // `_mm_getcsr`/`_mm_setcsr`: the one way to set the mode the crate sets.
fn with_flush_to_zero<T>(f: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    let _restore = {
        use std::arch::x86_64::{_mm_getcsr, _mm_setcsr, _MM_FLUSH_ZERO_ON};
        // SAFETY: SSE is part of x86-64; only the flush-to-zero bit changes, for the duration
        // of `f`, which computes nothing but this peak.
        unsafe {
            let csr = _mm_getcsr();
            _mm_setcsr(csr | _MM_FLUSH_ZERO_ON);
            RestoreCsr(csr)
        }
    };
    f()
}

/// Writes the saved SSE control word back when dropped.
#[cfg(target_arch = "x86_64")]
struct RestoreCsr(u32);

#[cfg(target_arch = "x86_64")]
impl Drop for RestoreCsr {
    #[allow(deprecated)]
    fn drop(&mut self) {
        // SAFETY: the control word read by `with_flush_to_zero`.
        unsafe { std::arch::x86_64::_mm_setcsr(self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::true_peak::tests::noise;
    use ebur128::{EbuR128, Mode};

    /// The crate's true peak of `x` from a fresh meter, every sample oversampled.
    fn crate_peak(x: &[f32], rate: u32) -> f64 {
        let mut m = EbuR128::new(1, rate, Mode::TRUE_PEAK).unwrap();
        m.add_frames_planar_f32(&[x]).unwrap();
        m.true_peak(0).unwrap()
    }

    /// Bit for bit the crate's peak, on every code path the CPU can run, at every factor, for
    /// lengths around both lane counts, on noise (whose peak lands anywhere) and on tiny values (subnormal products).
    #[test]
    fn the_peak_is_the_crates_bit_for_bit() {
        for (rate, factor) in [(44_100, 4), (96_000, 2), (192_000, 1)] {
            let interp = Interpolator::new(factor);
            for len in [1, 7, 8, 9, 15, 16, 17, 31, 33, 256, 1000] {
                for (seed, scale) in [(1, 1.0f32), (2, 0.01), (3, 1e-36)] {
                    let x: Vec<f32> = noise(len, seed).iter().map(|v| v * scale).collect();
                    // Zeros before the stream's start, as the crate's fresh buffer.
                    let mut padded = vec![0.0f32; interp.history()];
                    padded.extend_from_slice(&x);
                    let reference = crate_peak(&x, rate);
                    // The crate's true peak includes the sample peak; so does phase 0 here.
                    let sample_peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let ours = interp.peak(&padded).max(sample_peak) as f64;
                    assert_eq!(ours, reference, "{factor}× len {len} seed {seed}");
                    let portable = with_flush_to_zero(|| interp.peak_portable(&padded));
                    let portable = portable.max(sample_peak) as f64;
                    assert_eq!(
                        portable, reference,
                        "portable {factor}× len {len} seed {seed}"
                    );
                    // The dispatch above ran the widest copy the CPU has; the narrower one too.
                    #[cfg(target_arch = "x86_64")]
                    if is_x86_feature_detected!("avx") {
                        // SAFETY: the CPU has AVX, checked just above.
                        let avx = with_flush_to_zero(|| unsafe { interp.peak_avx(&padded) });
                        let avx = avx.max(sample_peak) as f64;
                        assert_eq!(avx, reference, "AVX {factor}× len {len} seed {seed}");
                    }
                }
            }
        }
    }
}
