//! Real FFTs of even length with `realfft`'s arithmetic, their pair step vectorized.
//!
//! `realfft` transforms `N` real samples as `N/2` complex ones (rustfft's plan), then untangles
//! the two interleaved half-length spectra with one twiddle per bin pair; the inverse tangles
//! them again before its complex transform. That pair loop walks the spectrum from both ends at
//! once, which the compiler leaves scalar (SSE2, one complex value per instruction) in a
//! baseline build: on real music the forward one took more time than the complex FFT before it
//! (4.5 % of a `--model none` run against about 1 % for the 512-point transforms themselves,
//! perf), the inverse 0.8 %. Here the same loop, the same operations in the same order for each
//! pair, also runs in AVX or AVX-512 registers (`x86`, chosen at run time), so the results are
//! `realfft`'s bit for bit (the tests compare them) for a fraction of the instructions.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, FftError, FftNum, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftDirection, FftPlanner};

#[cfg(target_arch = "x86_64")]
mod x86;

/// A forward real FFT of `len` points (odd lengths and the shortest are `realfft`'s own).
pub fn forward<T: PairKernels>(len: usize) -> Arc<dyn RealToComplex<T>> {
    if len % 2 == 1 || len < 4 {
        return RealFftPlanner::<T>::new().plan_fft_forward(len);
    }
    Arc::new(EvenForward(EvenPlan::new(len, FftDirection::Forward)))
}

/// An inverse real FFT of `len` points (odd lengths and the shortest are `realfft`'s own).
pub fn inverse<T: PairKernels>(len: usize) -> Arc<dyn ComplexToReal<T>> {
    if len % 2 == 1 || len < 4 {
        return RealFftPlanner::<T>::new().plan_fft_inverse(len);
    }
    Arc::new(EvenInverse(EvenPlan::new(len, FftDirection::Inverse)))
}

/// The element types whose pair step has vector kernels.
pub trait PairKernels: FftNum {
    /// Does pairs `0..n` of the pair step (`pair_step`) in vector registers where the CPU
    /// allows, `left`, `right` and `twiddles` each `n` long (pair `k` is `left[k]` and
    /// `right[n − 1 − k]`); returns how many pairs it did, the first ones.
    fn pairs<const INVERSE: bool>(
        left: &mut [Complex<Self>],
        right: &mut [Complex<Self>],
        twiddles: &[Complex<Self>],
    ) -> usize;
}

macro_rules! pair_kernels_for {
    ($t:ty, $avx512:ident, $avx:ident) => {
        impl PairKernels for $t {
            #[allow(unreachable_code)]
            fn pairs<const INVERSE: bool>(
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
                        return unsafe { x86::$avx512::<INVERSE>(left, right, twiddles) };
                    }
                    if has!("avx") && kernels != Kernels::Scalar {
                        // SAFETY: the CPU has AVX, checked just above.
                        return unsafe { x86::$avx::<INVERSE>(left, right, twiddles) };
                    }
                }
                0
            }
        }
    };
}

pair_kernels_for!(f32, f32_avx512, f32_avx);
pair_kernels_for!(f64, f64_avx512, f64_avx);

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

/// One pair of `realfft`'s loop, operation for operation: from `a = X[k]`, `b = X[N/2 − k]` and
/// the twiddle `t`, the new `a` and `b`. Forward (`t = e^{−2πik/N} / 2`) it untangles the
/// half-length spectrum into the real signal's; inverse (`t = e^{+2πik/N}`) it tangles a real
/// signal's spectrum for the half-length transform. The kernels in `x86` do the same
/// operations in each pair of lanes (multiplications and additions separate: Rust never fuses
/// them), so the results are the same bits.
#[inline(always)]
fn pair_step<T: FftNum, const INVERSE: bool>(
    a: Complex<T>,
    b: Complex<T>,
    t: Complex<T>,
) -> (Complex<T>, Complex<T>) {
    let (sum_re, sum_im) = (a.re + b.re, a.im + b.im);
    let (diff_re, diff_im) = (a.re - b.re, a.im - b.im);
    let twiddled_real = sum_im * t.re + diff_re * t.im;
    let twiddled_im = sum_im * t.im - diff_re * t.re;
    if INVERSE {
        (
            Complex::new(sum_re - twiddled_real, diff_im - twiddled_im),
            Complex::new(sum_re + twiddled_real, -twiddled_im - diff_im),
        )
    } else {
        let half = T::from_f64(0.5).expect("one half is a number of every float type");
        let (half_sum_re, half_diff_im) = (half * sum_re, half * diff_im);
        (
            Complex::new(half_sum_re + twiddled_real, half_diff_im + twiddled_im),
            Complex::new(half_sum_re - twiddled_real, twiddled_im - half_diff_im),
        )
    }
}

/// [`pair_step`] over every pair `(k, N/2 − k)`, `0 < k < N/4`, of `spectrum` (`N/2 + 1`
/// values), after the first and last bins were handled.
fn all_pairs<T: PairKernels, const INVERSE: bool>(
    spectrum: &mut [Complex<T>],
    twiddles: &[Complex<T>],
) {
    let len = spectrum.len();
    let (left, right) = spectrum.split_at_mut(len / 2);
    let right_len = right.len();
    let (left, right) = (&mut left[1..], &mut right[..right_len - 1]);
    let pairs = twiddles.len().min(left.len()).min(right.len());
    let right_start = right.len() - pairs;
    let (left, right) = (&mut left[..pairs], &mut right[right_start..]);
    let done = T::pairs::<INVERSE>(left, right, &twiddles[..pairs]);
    for k in done..pairs {
        let partner = pairs - 1 - k;
        (left[k], right[partner]) = pair_step::<T, INVERSE>(left[k], right[partner], twiddles[k]);
    }
}

/// What an even-length plan holds in either direction.
struct EvenPlan<T> {
    length: usize,
    twiddles: Vec<Complex<T>>,
    fft: Arc<dyn Fft<T>>,
    scratch_len: usize,
}

impl<T: PairKernels> EvenPlan<T> {
    fn new(length: usize, direction: FftDirection) -> Self {
        // As `realfft`: twiddles 1 … ⌈N/4⌉ − 1 from f64, halved (forward) or conjugated.
        let half = T::from_f64(0.5).expect("one half is a number of every float type");
        let twiddles = (1..length.div_ceil(4))
            .map(|i| {
                let angle = -2.0 * std::f64::consts::PI / length as f64 * i as f64;
                let t = Complex::new(
                    T::from_f64(angle.cos()).expect("a cosine is a number"),
                    T::from_f64(angle.sin()).expect("a sine is a number"),
                );
                match direction {
                    FftDirection::Forward => t * half,
                    FftDirection::Inverse => t.conj(),
                }
            })
            .collect();
        let fft = FftPlanner::<T>::new().plan_fft(length / 2, direction);
        let scratch_len = fft.get_outofplace_scratch_len();
        EvenPlan {
            length,
            twiddles,
            fft,
            scratch_len,
        }
    }

    fn complex_len(&self) -> usize {
        self.length / 2 + 1
    }

    /// `realfft`'s checks, in its order: the input's length, the output's, then the scratch's,
    /// each `(given, wanted)`.
    fn check(
        &self,
        (input, wanted_input): (usize, usize),
        (output, wanted_output): (usize, usize),
        scratch: usize,
    ) -> Result<(), FftError> {
        if input != wanted_input {
            return Err(FftError::InputBuffer(wanted_input, input));
        }
        if output != wanted_output {
            return Err(FftError::OutputBuffer(wanted_output, output));
        }
        if scratch < self.scratch_len {
            return Err(FftError::ScratchBuffer(self.scratch_len, scratch));
        }
        Ok(())
    }

    fn zeros(&self, n: usize) -> Vec<Complex<T>> {
        vec![Complex::new(T::zero(), T::zero()); n]
    }
}

/// `length / 2` complex values over the `length` reals of `real`.
fn as_complex<T>(real: &mut [T]) -> &mut [Complex<T>] {
    let pairs: &mut [[T; 2]] = real.as_chunks_mut::<2>().0;
    // SAFETY: `Complex<T>` is `#[repr(C)]` `{ re, im }`, the layout of `[T; 2]`; `pairs` is
    // initialised and borrowed mutably for as long as the result.
    unsafe { std::slice::from_raw_parts_mut(pairs.as_mut_ptr().cast(), pairs.len()) }
}

/// `realfft::RealToComplexEven`, with [`all_pairs`] for its pair loop.
struct EvenForward<T>(EvenPlan<T>);

/// `realfft::ComplexToRealEven`, with [`all_pairs`] for its pair loop.
struct EvenInverse<T>(EvenPlan<T>);

impl<T: PairKernels> RealToComplex<T> for EvenForward<T> {
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
        let plan = &self.0;
        plan.check(
            (input.len(), plan.length),
            (output.len(), plan.complex_len()),
            scratch.len(),
        )?;
        let half = self.0.length / 2;
        self.0
            .fft
            .process_outofplace_with_scratch(as_complex(input), &mut output[..half], scratch);
        let first = output[0];
        output[0] = Complex::new(first.re + first.im, T::zero());
        output[half] = Complex::new(first.re - first.im, T::zero());
        all_pairs::<T, false>(output, &self.0.twiddles);
        if output.len() % 2 == 1 {
            output[output.len() / 2].im = -output[output.len() / 2].im;
        }
        Ok(())
    }

    fn get_scratch_len(&self) -> usize {
        self.0.scratch_len
    }

    fn len(&self) -> usize {
        self.0.length
    }

    fn make_input_vec(&self) -> Vec<T> {
        vec![T::zero(); self.0.length]
    }

    fn make_output_vec(&self) -> Vec<Complex<T>> {
        self.0.zeros(self.0.complex_len())
    }

    fn make_scratch_vec(&self) -> Vec<Complex<T>> {
        self.0.zeros(self.0.scratch_len)
    }
}

impl<T: PairKernels> ComplexToReal<T> for EvenInverse<T> {
    fn process(&self, input: &mut [Complex<T>], output: &mut [T]) -> Result<(), FftError> {
        let mut scratch = self.make_scratch_vec();
        self.process_with_scratch(input, output, &mut scratch)
    }

    /// As `realfft`: imaginary parts in the first and last bins are taken as zeros and reported
    /// as [`FftError::InputValues`] after the transform.
    fn process_with_scratch(
        &self,
        input: &mut [Complex<T>],
        output: &mut [T],
        scratch: &mut [Complex<T>],
    ) -> Result<(), FftError> {
        let plan = &self.0;
        plan.check(
            (input.len(), plan.complex_len()),
            (output.len(), plan.length),
            scratch.len(),
        )?;
        let last = input.len() - 1;
        let first_invalid = input[0].im != T::zero();
        let last_invalid = input[last].im != T::zero();
        input[0].im = T::zero();
        input[last].im = T::zero();
        let (first_sum, first_diff) = (input[0] + input[last], input[0] - input[last]);
        input[0] = Complex::new(first_sum.re - first_sum.im, first_diff.re - first_diff.im);
        all_pairs::<T, true>(input, &self.0.twiddles);
        if input.len() % 2 == 1 {
            let centre = input[input.len() / 2];
            input[input.len() / 2] = (centre + centre).conj();
        }
        let half = self.0.length / 2;
        self.0
            .fft
            .process_outofplace_with_scratch(&mut input[..half], as_complex(output), scratch);
        if first_invalid || last_invalid {
            return Err(FftError::InputValues(first_invalid, last_invalid));
        }
        Ok(())
    }

    fn get_scratch_len(&self) -> usize {
        self.0.scratch_len
    }

    fn len(&self) -> usize {
        self.0.length
    }

    fn make_input_vec(&self) -> Vec<Complex<T>> {
        self.0.zeros(self.0.complex_len())
    }

    fn make_output_vec(&self) -> Vec<T> {
        vec![T::zero(); self.0.length]
    }

    fn make_scratch_vec(&self) -> Vec<Complex<T>> {
        self.0.zeros(self.0.scratch_len)
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

    fn both<T: PairKernels>(len: usize, seed: u64) -> (Vec<Complex<T>>, Vec<Complex<T>>) {
        let ours = forward::<T>(len);
        let theirs = RealFftPlanner::<T>::new().plan_fft_forward(len);
        let x = signal::<T>(len, seed);
        let (mut a, mut b) = (x.clone(), x);
        let (mut sa, mut sb) = (ours.make_output_vec(), theirs.make_output_vec());
        ours.process(&mut a, &mut sa).unwrap();
        theirs.process(&mut b, &mut sb).unwrap();
        (sa, sb)
    }

    /// The inverse of a spectrum made from `seed` (its first and last imaginary parts set when
    /// `invalid`), by ours and by `realfft`: the signals and what each call returned.
    fn both_inverse<T: PairKernels>(
        len: usize,
        seed: u64,
        invalid: bool,
    ) -> [(Vec<T>, Result<(), String>); 2] {
        let values = signal::<T>(len + 2, seed);
        let mut spectrum: Vec<Complex<T>> = values
            .chunks_exact(2)
            .map(|c| Complex::new(c[0], c[1]))
            .collect();
        if !invalid {
            let last = spectrum.len() - 1;
            (spectrum[0].im, spectrum[last].im) = (T::zero(), T::zero());
        }
        let plans = [
            inverse::<T>(len),
            RealFftPlanner::<T>::new().plan_fft_inverse(len),
        ];
        plans.map(|plan| {
            let mut input = spectrum.clone();
            let mut output = plan.make_output_vec();
            let returned = plan
                .process(&mut input, &mut output)
                .map_err(|e| e.to_string());
            (output, returned)
        })
    }

    const LENGTHS: [usize; 14] = [2, 4, 6, 8, 10, 14, 18, 64, 126, 512, 1000, 4096, 7056, 8192];

    /// The same bits, zeros' signs included (`assert_eq!` on floats would let −0 pass for +0).
    fn bits<T: FftNum>(spectrum: &[Complex<T>]) -> Vec<String> {
        spectrum
            .iter()
            .map(|c| format!("{:?}", (c.re, c.im)))
            .collect()
    }

    fn real_bits<T: FftNum>(signal: &[T]) -> Vec<String> {
        signal.iter().map(|x| format!("{x:?}")).collect()
    }

    /// Both directions of `T`'s transforms of `len` points against `realfft`'s, bit for bit,
    /// with what each inverse returned.
    fn assert_same<T: PairKernels>(len: usize, seed: u64, kernels: Kernels) {
        let name = std::any::type_name::<T>();
        let (ours, theirs) = both::<T>(len, seed);
        assert_eq!(
            bits(&ours),
            bits(&theirs),
            "{name}, {len} points, {kernels:?}"
        );
        let [(ours, ours_said), (theirs, they_said)] = both_inverse::<T>(len, seed, seed == 3);
        let context = format!("inverse {name}, {len}, seed {seed}, {kernels:?}");
        assert_eq!(real_bits(&ours), real_bits(&theirs), "{context}");
        assert_eq!(ours_said, they_said, "{context}");
    }

    /// Every kernel the CPU can run gives `realfft`'s results bit for bit, forward and inverse,
    /// at lengths with an even and an odd half, with and without a centre bin, with every
    /// remainder after the vectors, and at every length sonovec plans.
    #[test]
    fn the_transforms_are_realffts_bit_for_bit() {
        for kernels in [Kernels::Widest, Kernels::Avx, Kernels::Scalar] {
            FORCED.set(kernels);
            for len in LENGTHS.into_iter().chain((20..=52).step_by(2)) {
                for seed in 1..4 {
                    assert_same::<f32>(len, seed, kernels);
                    assert_same::<f64>(len, seed, kernels);
                }
            }
        }
        FORCED.set(Kernels::Widest);
    }

    #[test]
    fn wrong_buffers_are_refused_as_realfft_refuses_them() {
        let inverse_plan = inverse::<f32>(512);
        let theirs = RealFftPlanner::<f32>::new().plan_fft_inverse(512);
        for (spectrum, signal) in [(257, 510), (200, 512)] {
            let said = [&inverse_plan, &theirs].map(|plan| {
                let mut input = vec![Complex::new(0.0, 0.0); spectrum];
                let result = plan.process(&mut input, &mut vec![0.0; signal]);
                result.map_err(|e| e.to_string())
            });
            assert!(said[0].is_err());
            assert_eq!(said[0], said[1]);
        }
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
