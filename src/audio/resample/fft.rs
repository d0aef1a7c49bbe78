//! Rational-ratio resampling by FFT overlap-save: the fast path for the common rates.
//!
//! Each block of `F_in = c·M` input samples is transformed once; the bins below the narrower
//! Nyquist are multiplied by the kernel's frequency response and transformed back at size
//! `F_out = c·L`, which evaluates the filtered block at the output instants (the spacing
//! `F_in / F_out` is exactly the rate ratio). The filter's span is short next to the block, so
//! only the `K'` samples at each end of a block see the circular wrap; they are the overlap
//! between blocks and are discarded. `K'` is a whole number of `M`, so every block starts on an
//! output instant and the output has no delay.
//!
//! When downsampling, a block's transforms run in f32 when its level is even and in f64 when it
//! has a stretch far below its peak ([`F32_QUIETEST_STRETCH`]): f32 takes half the time, and
//! its rounding noise matters only where something that quiet sits beside something loud. On
//! the 21 real tracks of the speed benchmark, 23,818 of 23,878 blocks ran in f32; in two of the
//! bundled drum loops, with silences between their hits, a third and two fifths ran in f64.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::num_traits::{AsPrimitive, Zero};
use realfft::{ComplexToReal, RealToComplex};

use crate::dsp::plans::{self, Planned};

use super::kernel::Kernel;

/// Blocks span at least this many filter half-lengths, so that the overlap costs little...
const BLOCK_HALF_SPANS: usize = 16;
/// ...unless that exceeds this many input samples (at 192 kHz and up), to bound the memory.
const BLOCK_TARGET_MAX: usize = 32_768;

/// Input samples per stretch when a block's level is surveyed for the choice of precision.
const STRETCH: usize = 512;
/// A block runs its transforms in f32 only if its quietest stretch peaks within this factor
/// (50 dB) of the block's peak.
///
/// In f32 the transforms' rounding noise, ~1e-7 of the block's level and white, spreads over the
/// whole block. Next to a stretch 50 dB down it is still ~70 dB below that stretch; in the quiet
/// between the hits of a drum loop (80–120 dB down) it would be what the quiet is made of: the
/// bundled `fourfloor_120.flac`'s ZCR read 2.6 % higher with every block in f32, and a centroid
/// near 4 kHz in such a stretch. Those blocks run in f64, where the noise is 1e-16.
const F32_QUIETEST_STRETCH: f32 = 3.162e-3;

pub struct FftPath {
    l: usize,
    m: usize,
    /// Input samples the kernel reaches on either side of an output instant.
    half: usize,
    size_in: usize,
    hop_in: usize,
    hop_out: usize,
    /// Output samples at the start of each inverse transform that the wrap spoils.
    skip_out: usize,
    /// The transforms for blocks of even level (none when upsampling), and for the others.
    narrow: Option<Transforms<f32>>,
    wide: Transforms<f64>,
    /// Input from the start of the next block on (it begins with `K'` zeros: time before 0),
    /// once the first `consumed` samples, already done with, are dropped: that happens once
    /// per call rather than once per block, so a long push is not shifted block after block.
    pending: Vec<f32>,
    consumed: usize,
    /// Running count of non-zero input samples over the block, when it has zeros.
    nonzero: Vec<u32>,
}

/// One precision's plans, gains and buffers.
struct Transforms<T: Planned> {
    /// Real gain per output bin, with the transforms' `1 / size_in` folded in.
    response: Vec<T>,
    forward: Arc<dyn RealToComplex<T>>,
    inverse: Arc<dyn ComplexToReal<T>>,
    time_in: Vec<T>,
    spectrum_in: Vec<Complex<T>>,
    spectrum_out: Vec<Complex<T>>,
    time_out: Vec<T>,
    scratch: Vec<Complex<T>>,
}

impl<T: Planned + AsPrimitive<f32>> Transforms<T>
where
    f64: AsPrimitive<T>,
{
    fn new(response: &[f64], size_in: usize, size_out: usize) -> Transforms<T> {
        let forward = plans::forward::<T>(size_in);
        let inverse = plans::inverse::<T>(size_out);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        Transforms {
            response: response.iter().map(|&g| g.as_()).collect(),
            time_in: forward.make_input_vec(),
            spectrum_in: forward.make_output_vec(),
            spectrum_out: inverse.make_input_vec(),
            time_out: inverse.make_output_vec(),
            scratch: vec![Complex::zero(); scratch_len],
            forward,
            inverse,
        }
    }

    /// Filters `time_in` into `time_out`, evaluated at the output instants.
    fn run(&mut self) {
        self.forward
            .process_with_scratch(&mut self.time_in, &mut self.spectrum_in, &mut self.scratch)
            .expect("buffers come from the plan");
        // Bins past the input's Nyquist (when upsampling) stay zero.
        let shared = self.spectrum_in.len().min(self.spectrum_out.len());
        let bins = self.spectrum_out.iter_mut().zip(&self.spectrum_in);
        for ((y, x), &gain) in bins.zip(&self.response) {
            *y = *x * gain;
        }
        self.spectrum_out[shared..].fill(Complex::zero());
        // The inverse real transform wants real DC and Nyquist bins (the latter's gain is zero).
        self.spectrum_out[0].im = T::zero();
        if let Some(last) = self.spectrum_out.last_mut() {
            last.im = T::zero();
        }
        self.inverse
            .process_with_scratch(
                &mut self.spectrum_out,
                &mut self.time_out,
                &mut self.scratch,
            )
            .expect("buffers come from the plan");
    }

    /// Appends `count` filtered samples from the first one the wrap leaves intact.
    fn emit(&self, skip: usize, count: usize, out: &mut Vec<f32>) {
        out.extend(self.time_out[skip..][..count].iter().map(|&y| y.as_()));
    }
}

/// What a block's samples are like, from one pass over them.
struct Survey {
    all_zero: bool,
    any_zero: bool,
    /// Whether the quietest stretch is loud enough, next to the peak, for the f32 transforms.
    even: bool,
}

impl Survey {
    fn of(block: &[f32]) -> Survey {
        // On the magnitudes' bit patterns, which order as the magnitudes do: integer maxima
        // and tests vectorise, where `f32::max`'s chain (NaN rules) and a scan that stops at
        // the first zero do not, and either cost as much as the transforms.
        let mut any_zero = false;
        let (mut peak, mut quietest) = (0u32, u32::MAX);
        for stretch in block.chunks(STRETCH) {
            let mut level = 0u32;
            for &x in stretch {
                let magnitude = x.to_bits() & 0x7fff_ffff;
                any_zero |= magnitude == 0;
                level = level.max(magnitude);
            }
            peak = peak.max(level);
            quietest = quietest.min(level);
        }
        let (peak, quietest) = (f32::from_bits(peak), f32::from_bits(quietest));
        Survey {
            all_zero: peak == 0.0,
            any_zero,
            even: quietest >= peak * F32_QUIETEST_STRETCH,
        }
    }
}

impl FftPath {
    /// `m` input samples per `l` output samples (coprime), for rates `input_rate`/`output_rate`.
    pub fn new(input_rate: u32, output_rate: u32, l: usize, m: usize) -> FftPath {
        let kernel = Kernel::new(input_rate, output_rate);
        let half = kernel.half_taps(input_rate);
        let overlap = half.div_ceil(m) * m;
        let blocks = (BLOCK_HALF_SPANS * half)
            .min(BLOCK_TARGET_MAX)
            .max(2 * overlap + m)
            .div_ceil(m)
            .next_power_of_two()
            .max(2);
        let (size_in, size_out) = (blocks * m, blocks * l);
        let hop_in = size_in - 2 * overlap;
        let response = response(&kernel, input_rate, output_rate, size_in, size_out);
        FftPath {
            l,
            m,
            half,
            size_in,
            hop_in,
            hop_out: hop_in / m * l,
            skip_out: overlap / m * l,
            // Upsampling (sources below 16 kHz, rare) keeps to f64: its output transforms are
            // the largest, up to 16 times the input's, and a second precision's buffers would
            // take the state past `MAX_STATE_BYTES`.
            narrow: (size_in >= size_out).then(|| Transforms::new(&response, size_in, size_out)),
            wide: Transforms::new(&response, size_in, size_out),
            pending: vec![0.0; overlap],
            consumed: 0,
            nonzero: Vec::new(),
        }
    }

    /// Takes `input` and appends every output sample whose block is complete, up to `limit`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>, produced: &mut u64, limit: u64) {
        self.pending.extend_from_slice(input);
        while self.pending.len() - self.consumed >= self.size_in && *produced < limit {
            self.block(out, produced, limit);
        }
        self.pending.drain(..self.consumed);
        self.consumed = 0;
    }

    /// Runs zeros (the silence after the end) through until `limit` samples have been produced.
    pub fn flush(&mut self, out: &mut Vec<f32>, produced: &mut u64, limit: u64) {
        while *produced < limit {
            if self.pending.len() - self.consumed < self.size_in {
                self.pending.resize(self.consumed + self.size_in, 0.0);
            }
            self.block(out, produced, limit);
        }
        self.pending.drain(..self.consumed);
        self.consumed = 0;
    }

    fn block(&mut self, out: &mut Vec<f32>, produced: &mut u64, limit: u64) {
        let window = &self.pending[self.consumed..][..self.size_in];
        let survey = Survey::of(window);
        let room = (limit - *produced).min(self.hop_out as u64) as usize;
        let first = out.len();
        if survey.all_zero {
            // Digital silence in, digital silence out: every output's span is silent, so
            // `keep_silence_silent` would zero each one the transforms computed.
            out.resize(first + room, 0.0);
        } else if let Some(narrow) = self.narrow.as_mut().filter(|_| survey.even) {
            narrow.time_in.copy_from_slice(window);
            narrow.run();
            narrow.emit(self.skip_out, room, out);
        } else {
            for (t, &x) in self.wide.time_in.iter_mut().zip(window) {
                *t = x as f64;
            }
            self.wide.run();
            self.wide.emit(self.skip_out, room, out);
        }
        if survey.any_zero && !survey.all_zero {
            self.keep_silence_silent(&mut out[first..]);
        }
        *produced += room as u64;
        self.consumed += self.hop_in;
    }

    /// Sets to exactly zero the outputs whose whole kernel span of input is digital silence (for a
    /// block that has zeros).
    ///
    /// The transforms spread rounding noise (~1e-7 of the block's peak) over the whole block,
    /// where a direct filter, and soxr, give exact zeros. Around silence the spectral centroid
    /// and the ZCR of a frame would otherwise be those of that noise.
    fn keep_silence_silent(&mut self, emitted: &mut [f32]) {
        let block = &self.pending[self.consumed..][..self.size_in];
        self.nonzero.clear();
        self.nonzero.push(0);
        let mut count = 0;
        for &x in block {
            count += u32::from(x != 0.0);
            self.nonzero.push(count);
        }
        for (i, y) in emitted.iter_mut().enumerate() {
            let whole = (self.skip_out + i) * self.m / self.l;
            let (lo, hi) = (whole - self.half, (whole + self.half + 2).min(self.size_in));
            if self.nonzero[hi] == self.nonzero[lo] {
                *y = 0.0;
            }
        }
    }
}

/// The kernel's frequency response at the output transform's bins (spacing
/// `input_rate / size_in` Hz), zero from the narrower Nyquist up.
///
/// The kernel is sampled at the higher of the two rates, where it does not alias, and its
/// discrete transform at that rate is taken in f64.
fn response(
    kernel: &Kernel,
    input_rate: u32,
    output_rate: u32,
    size_in: usize,
    size_out: usize,
) -> Vec<f64> {
    let (rate, size) = if input_rate >= output_rate {
        (input_rate, size_in)
    } else {
        (output_rate, size_out)
    };
    let half = kernel.half_taps(rate);
    debug_assert!(2 * half < size);
    let mut taps = vec![0.0f64; size];
    for m in 0..=half {
        let v = kernel.value(m as f64 / rate as f64) / rate as f64;
        taps[m] = v;
        if m > 0 {
            taps[size - m] = v;
        }
    }
    let plan = plans::forward(size);
    let mut spectrum = plan.make_output_vec();
    plan.process(&mut taps, &mut spectrum)
        .expect("buffers come from the plan");
    let passed = size_in.min(size_out) / 2;
    (0..=size_out / 2)
        .map(|k| {
            if k < passed {
                spectrum[k].re / size_in as f64
            } else {
                0.0
            }
        })
        .collect()
}
