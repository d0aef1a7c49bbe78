//! The forward real FFT of even length with `realfft`'s arithmetic, its last step vectorized.
//!
//! `realfft` transforms `N` real samples as `N/2` complex ones (rustfft's plan), then untangles
//! the two interleaved half-length spectra with one twiddle per bin pair. That last loop walks
//! the spectrum from both ends at once, which the compiler leaves scalar (SSE2, one complex value
//! per instruction) in a baseline build: on real music it took more time than the complex FFT
//! before it (4.3 % of a `--model none` run, against about 1 % for the 512-point transforms
//! themselves, perf). Here the same loop, the same operations in the same order for each bin, is
//! compiled again for AVX2 and for AVX-512 and chosen at run time, so the spectra are `realfft`'s
//! bit for bit (the tests compare them) for a fraction of the instructions.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{FftError, FftNum, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

#[cfg(target_arch = "x86_64")]
mod x86;

/// A forward real FFT of `len` points (any length: odd ones are `realfft`'s own).
pub fn forward<T: Untangle>(len: usize) -> Arc<dyn RealToComplex<T>> {
    if len % 2 == 1 || len < 4 {
        return RealFftPlanner::<T>::new().plan_fft_forward(len);
    }
    Arc::new(EvenForward::new(len))
}

/// The element types whose untangling has vector kernels.
pub trait Untangle: FftNum {
    /// Untangles pairs `0..n` of [`untangle`] in vector registers where the CPU allows, `left`,
    /// `right` and `twiddles` each `n` long (pair `k` is `left[k]` and `right[n − 1 − k]`);
    /// returns how many pairs it did, the first ones.
    fn untangle_pairs(
        left: &mut [Complex<Self>],
        right: &mut [Complex<Self>],
        twiddles: &[Complex<Self>],
    ) -> usize;
}

macro_rules! untangle_for {
    ($t:ty, $avx512:ident, $avx2:ident) => {
        impl Untangle for $t {
            #[allow(unreachable_code)]
            fn untangle_pairs(
                left: &mut [Complex<$t>],
                right: &mut [Complex<$t>],
                twiddles: &[Complex<$t>],
            ) -> usize {
                #[cfg(target_arch = "x86_64")]
                {
                    use std::arch::is_x86_feature_detected as has;
                    let kernels = forced();
                    if has!("avx512f") && kernels == Kernels::Widest {
                        // SAFETY: the CPU has AVX-512F, checked just above.
                        return unsafe { x86::$avx512(left, right, twiddles) };
                    }
                    if has!("avx") && kernels != Kernels::Scalar {
                        // SAFETY: the CPU has AVX, checked just above.
                        return unsafe { x86::$avx2(left, right, twiddles) };
                    }
                }
                0
            }
        }
    };
}

untangle_for!(f32, f32_avx512, f32_avx);
untangle_for!(f64, f64_avx512, f64_avx);

/// Which kernels a test asked for on this thread: the widest the CPU has, at most AVX, or none.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(test), allow(dead_code))]
enum Kernels {
    Widest,
    Avx,
    Scalar,
}

#[cfg(test)]
thread_local! {
    static FORCED: std::cell::Cell<Kernels> = const { std::cell::Cell::new(Kernels::Widest) };
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn forced() -> Kernels {
    #[cfg(test)]
    return FORCED.get();
    #[cfg(not(test))]
    Kernels::Widest
}

/// `realfft::RealToComplexEven`'s post-processing of the half-length complex spectrum in
/// `output` (`N/2 + 1` values, the last one free), `twiddles[k] = e^{−2πi(k+1)/N} / 2`,
/// operation for operation: the first and last bins from the DC value, every other pair
/// `(k, N/2 − k)` from the two values and one twiddle, and the centre bin conjugated. The
/// vector kernels do the same operations on each pair in its lanes (multiplications and
/// additions separate: Rust never fuses them), so the result is the same bits either way.
fn untangle<T: Untangle>(output: &mut [Complex<T>], twiddles: &[Complex<T>]) {
    let len = output.len();
    let (left, right) = output.split_at_mut(len / 2);
    let (Some(first), Some(last)) = (left.first().copied(), right.last_mut()) else {
        return;
    };
    *last = Complex::new(first.re - first.im, T::zero());
    left[0] = Complex::new(first.re + first.im, T::zero());
    let right_len = right.len();
    let (left, right) = (&mut left[1..], &mut right[..right_len - 1]);
    let pairs = twiddles.len().min(left.len()).min(right.len());
    let right_start = right.len() - pairs;
    let (left, right) = (&mut left[..pairs], &mut right[right_start..]);
    let done = T::untangle_pairs(left, right, &twiddles[..pairs]);
    let half = T::from_f64(0.5).expect("one half is a number of every float type");
    for k in done..pairs {
        let (a, b, t) = (left[k], right[pairs - 1 - k], twiddles[k]);
        let (sum_re, sum_im) = (a.re + b.re, a.im + b.im);
        let (diff_re, diff_im) = (a.re - b.re, a.im - b.im);
        let twiddled_real = sum_im * t.re + diff_re * t.im;
        let twiddled_im = sum_im * t.im - diff_re * t.re;
        let (half_sum_re, half_diff_im) = (half * sum_re, half * diff_im);
        left[k] = Complex::new(half_sum_re + twiddled_real, half_diff_im + twiddled_im);
        right[pairs - 1 - k] =
            Complex::new(half_sum_re - twiddled_real, twiddled_im - half_diff_im);
    }
    if len % 2 == 1 {
        output[len / 2].im = -output[len / 2].im;
    }
}

/// `realfft::RealToComplexEven` with [`Untangle::untangle`] for its last step.
struct EvenForward<T> {
    length: usize,
    twiddles: Vec<Complex<T>>,
    fft: Arc<dyn Fft<T>>,
    scratch_len: usize,
}

impl<T: Untangle> EvenForward<T> {
    fn new(length: usize) -> Self {
        // As `RealToComplexEven::new`: twiddles 1 … ⌈N/4⌉ − 1, halved, from f64.
        let count = length.div_ceil(4);
        let half = T::from_f64(0.5).expect("one half is a number of every float type");
        let twiddles = (1..count)
            .map(|i| {
                let angle = -2.0 * std::f64::consts::PI / length as f64 * i as f64;
                let t = Complex::new(
                    T::from_f64(angle.cos()).expect("a cosine is a number"),
                    T::from_f64(angle.sin()).expect("a sine is a number"),
                );
                t * half
            })
            .collect();
        let fft = FftPlanner::<T>::new().plan_fft_forward(length / 2);
        let scratch_len = fft.get_outofplace_scratch_len();
        EvenForward {
            length,
            twiddles,
            fft,
            scratch_len,
        }
    }
}

impl<T: Untangle> RealToComplex<T> for EvenForward<T> {
    fn process(&self, input: &mut [T], output: &mut [Complex<T>]) -> Result<(), FftError> {
        let mut scratch = self.make_scratch_vec();
        self.process_with_scratch(input, output, &mut scratch)
    }

    fn process_with_scratch(
        &self,
        input: &mut [T],
        output: &mut [Complex<T>],
        scratch: &mut [Complex<T>],
    ) -> Result<(), FftError> {
        if input.len() != self.length {
            return Err(FftError::InputBuffer(self.length, input.len()));
        }
        if output.len() != self.complex_len() {
            return Err(FftError::OutputBuffer(self.complex_len(), output.len()));
        }
        if scratch.len() < self.scratch_len {
            return Err(FftError::ScratchBuffer(self.scratch_len, scratch.len()));
        }
        let pairs: &mut [[T; 2]] = input.as_chunks_mut::<2>().0;
        // `Complex<T>` is `#[repr(C)]` `{ re, im }`: the same layout as `[T; 2]`.
        // SAFETY: `pairs` is `length / 2` initialised `[T; 2]`, borrowed mutably for this call.
        let as_complex: &mut [Complex<T>] =
            unsafe { std::slice::from_raw_parts_mut(pairs.as_mut_ptr().cast(), pairs.len()) };
        let half = self.length / 2;
        self.fft
            .process_outofplace_with_scratch(as_complex, &mut output[..half], scratch);
        untangle(output, &self.twiddles);
        Ok(())
    }

    fn get_scratch_len(&self) -> usize {
        self.scratch_len
    }

    fn len(&self) -> usize {
        self.length
    }

    fn make_input_vec(&self) -> Vec<T> {
        vec![T::zero(); self.length]
    }

    fn make_output_vec(&self) -> Vec<Complex<T>> {
        vec![Complex::new(T::zero(), T::zero()); self.complex_len()]
    }

    fn make_scratch_vec(&self) -> Vec<Complex<T>> {
        vec![Complex::new(T::zero(), T::zero()); self.scratch_len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal<T: FftNum>(len: usize, seed: u64) -> Vec<T> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                T::from_f64((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5).unwrap()
            })
            .collect()
    }

    fn both<T: Untangle>(len: usize, seed: u64) -> (Vec<Complex<T>>, Vec<Complex<T>>) {
        let ours = forward::<T>(len);
        let theirs = RealFftPlanner::<T>::new().plan_fft_forward(len);
        let x = signal::<T>(len, seed);
        let (mut a, mut b) = (x.clone(), x);
        let (mut sa, mut sb) = (ours.make_output_vec(), theirs.make_output_vec());
        ours.process(&mut a, &mut sa).unwrap();
        theirs.process(&mut b, &mut sb).unwrap();
        (sa, sb)
    }

    const LENGTHS: [usize; 14] = [2, 4, 6, 8, 10, 14, 18, 64, 126, 512, 1000, 4096, 7056, 8192];

    /// The same bits, zeros' signs included (`assert_eq!` on floats would let −0 pass for +0).
    fn bits<T: FftNum>(spectrum: &[Complex<T>]) -> Vec<String> {
        spectrum
            .iter()
            .map(|c| format!("{:?}", (c.re, c.im)))
            .collect()
    }

    /// Every kernel the CPU can run gives `realfft`'s spectrum bit for bit, at lengths with an
    /// even and an odd half, with and without a centre bin, with every remainder after the
    /// vectors, and at every length sonovec plans.
    #[test]
    fn the_spectrum_is_realffts_bit_for_bit() {
        for kernels in [Kernels::Widest, Kernels::Avx, Kernels::Scalar] {
            FORCED.set(kernels);
            for len in LENGTHS.into_iter().chain((20..=52).step_by(2)) {
                for seed in 1..4 {
                    let (ours, theirs) = both::<f32>(len, seed);
                    assert_eq!(bits(&ours), bits(&theirs), "f32, {len} points, {kernels:?}");
                    let (ours, theirs) = both::<f64>(len, seed);
                    assert_eq!(bits(&ours), bits(&theirs), "f64, {len} points, {kernels:?}");
                }
            }
        }
        FORCED.set(Kernels::Widest);
    }

    #[test]
    fn wrong_buffers_are_refused_as_realfft_refuses_them() {
        let plan = forward::<f32>(512);
        let mut output = plan.make_output_vec();
        assert!(plan.process(&mut vec![0.0; 510], &mut output).is_err());
        assert!(plan
            .process(&mut vec![0.0; 512], &mut output[..200])
            .is_err());
        let mut scratch = vec![Complex::new(0.0, 0.0); plan.get_scratch_len().saturating_sub(1)];
        if plan.get_scratch_len() > 0 {
            assert!(plan
                .process_with_scratch(&mut vec![0.0; 512], &mut output, &mut scratch)
                .is_err());
        }
    }
}
