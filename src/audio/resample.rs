//! Streaming sample-rate conversion of the mono mix to the analysis rate, with soxr HQ's filter.
//!
//! The reference front ends (librosa ≥ 0.10 `soxr_hq`, hence musicnn's) resample with python-soxr
//! `quality='HQ'`: linear phase, flat (−0.01 dB) to 0.913 of the narrower Nyquist, −6 dB at
//! 0.957, ≥ 120 dB down from the Nyquist on. What a resampler keeps between 7.3 and 8 kHz moves
//! the spectral centroid, the ZCR and the top mel bands, so sonovec uses the same response: one
//! Kaiser-windowed sinc (`kernel`) fitted to soxr's measured impulse response (within 1.1e-3
//! of it at every frequency; 130 dB stopband). No crate offers that filter: rubato's FFT
//! resampler ties its cutoff to its block size, its sinc resamplers have no Kaiser window, and
//! libsoxr (LGPL) cannot be linked into an MIT/Apache binary. `scripts/compare_resampler.py`
//! holds the result against python-soxr on real music.
//!
//! The filter is applied by one of two exact methods, chosen from the reduced ratio `L/M`
//! (output/input samples):
//! - `M ≤ 1024` (44.1, 48, 22.05, 96, 192 kHz and every other usual rate): FFT overlap-save
//!   (`fft`), a few dozen flops per input sample;
//! - otherwise (primes, rates coprime to 16 kHz): a polyphase FIR (`poly`), ~200
//!   multiply-adds per input sample (per output sample when upsampling).
//!
//! Values below [`OUTPUT_FLOOR`] (half a 24-bit step) come out as zero, and so does every
//! sample whose input within the kernel's reach is digital silence.
//!
//! Contract, for every input rate from 1 kHz to 768 kHz: the whole stream's output has exactly
//! `ceil(n_in · output_rate / input_rate)` samples, sample `n` is the input's band-limited value
//! at `n / output_rate` seconds (no delay), the result does not depend on how the input is cut
//! into pushes, and the resampler holds at most [`MAX_STATE_BYTES`] besides one pushed chunk.

mod fft;
mod kernel;
mod poly;

use crate::error::{AnalysisError, ErrorKind, Result};

/// Upper bound on the memory a resampler holds, whatever the rates in 1 kHz–768 kHz (worst case
/// measured by `tests/resample_memory.rs`): coefficients, FFT plans, one block of history.
pub const MAX_STATE_BYTES: usize = 4 << 20;

/// Output below half a 24-bit step is set to zero. What lies there is no recording's content but
/// the far tails of the filter (which differ between any two resamplers, soxr's included) and
/// rounding; in the frames next to digital silence it would set the spectral centroid and ZCR.
pub const OUTPUT_FLOOR: f32 = 1.0 / (1 << 24) as f32;

/// Rates the resampler takes, in Hz: its memory and CPU bounds are stated and tested for these
/// (the decoder's limits refuse other rates before it is built; this is the last line).
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = super::limits::SAMPLE_RATE_RANGE;

/// Largest ratio denominator taken by the FFT path (its block spans at least this many inputs).
const FFT_MAX_DENOMINATOR: usize = 1024;

enum Path {
    Same,
    Fft(Box<fft::FftPath>),
    Poly(Box<poly::PolyPath>),
}

/// Converts a mono stream to `output_rate`, chunk by chunk, with exact length and no delay.
///
/// The output of a whole stream has `ceil(n_in * output_rate / input_rate)` samples and starts at
/// the same instant as the input; `finish` flushes the tail.
pub struct MonoResampler {
    path: Path,
    /// Reduced ratio: `l` output samples per `m` input samples.
    l: u64,
    m: u64,
    frames_in: u64,
    frames_out: u64,
}

impl MonoResampler {
    pub fn new(input_rate: u32, output_rate: u32) -> Result<MonoResampler> {
        if input_rate != output_rate
            && !(RATE_RANGE.contains(&input_rate) && RATE_RANGE.contains(&output_rate))
        {
            return Err(AnalysisError::new(
                ErrorKind::UnsupportedFormat,
                format!(
                    "cannot resample {input_rate} Hz to {output_rate} Hz: rates from {} to {} Hz \
                     are supported",
                    RATE_RANGE.start(),
                    RATE_RANGE.end()
                ),
            ));
        }
        let g = gcd(input_rate as u64, output_rate as u64);
        let (l, m) = (output_rate as u64 / g, input_rate as u64 / g);
        let path = if input_rate == output_rate {
            Path::Same
        } else if m as usize <= FFT_MAX_DENOMINATOR {
            Path::Fft(Box::new(fft::FftPath::new(
                input_rate,
                output_rate,
                l as usize,
                m as usize,
            )))
        } else {
            Path::Poly(Box::new(poly::PolyPath::new(
                input_rate,
                output_rate,
                l as usize,
                m as usize,
            )))
        };
        Ok(MonoResampler {
            path,
            l,
            m,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Appends the resampled form of `input` to `output`, as far as the filter allows so far.
    pub fn push(&mut self, input: &[f32], output: &mut Vec<f32>) {
        self.frames_in += input.len() as u64;
        let first = output.len();
        let produced = &mut self.frames_out;
        match &mut self.path {
            Path::Same => {
                output.extend_from_slice(input);
                *produced += input.len() as u64;
            }
            Path::Fft(p) => p.push(input, output, produced, u64::MAX),
            Path::Poly(p) => p.push(input, output, produced, u64::MAX),
        }
        floor(&mut output[first..]);
    }

    /// Flushes the filter tail so the whole stream's output has its exact length.
    pub fn finish(&mut self, output: &mut Vec<f32>) {
        let target = (self.frames_in as u128 * self.l as u128).div_ceil(self.m as u128) as u64;
        let first = output.len();
        let produced = &mut self.frames_out;
        match &mut self.path {
            Path::Same => {}
            Path::Fft(p) => p.flush(output, produced, target),
            Path::Poly(p) => p.flush(output, produced, target),
        }
        floor(&mut output[first..]);
    }
}

fn floor(output: &mut [f32]) {
    for y in output {
        if y.abs() < OUTPUT_FLOOR {
            *y = 0.0;
        }
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests;
