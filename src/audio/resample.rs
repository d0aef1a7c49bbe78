//! Streaming sample-rate conversion of the mono mix to the analysis rate.
//!
//! rubato's synchronous FFT resampler is used because the ratio is fixed for a whole file: it is a
//! windowed-sinc filter applied in the frequency domain, as good as a long time-domain sinc and far
//! cheaper. One FFT block spans several thousand input frames, so its anti-aliasing filter is long.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::error::{AnalysisError, ErrorKind, Result};

/// Input frames per FFT block; with one sub-chunk this is also the filter's span.
const CHUNK_FRAMES: usize = 4096;

/// About `CHUNK_FRAMES` input frames, made of an even number of the smallest blocks the ratio
/// allows, so that the output block is even and the filter delay a whole number of samples (an odd
/// block would shift the output by half a sample).
fn chunk_frames(input_rate: u32, output_rate: u32) -> usize {
    let (mut a, mut b) = (input_rate as usize, output_rate as usize);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let unit = input_rate as usize / a;
    let blocks = CHUNK_FRAMES.div_ceil(unit).next_multiple_of(2);
    blocks * unit
}

/// Converts a mono stream to `output_rate`, chunk by chunk, with exact length and no delay.
///
/// The output of a whole stream has `ceil(n_in * output_rate / input_rate)` samples and starts at
/// the same instant as the input: the filter delay is removed and the tail is flushed by `finish`.
pub struct MonoResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    chunk_out: Vec<f32>,
    delay_to_skip: usize,
    frames_in: u64,
    frames_out: u64,
    ratio: f64,
}

impl MonoResampler {
    pub fn new(input_rate: u32, output_rate: u32) -> Result<MonoResampler> {
        let ratio = output_rate as f64 / input_rate as f64;
        let inner = if input_rate == output_rate {
            None
        } else {
            let fft = Fft::<f32>::new_custom(
                input_rate as usize,
                output_rate as usize,
                chunk_frames(input_rate, output_rate),
                1,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| {
                AnalysisError::new(
                    ErrorKind::UnsupportedFormat,
                    format!("cannot resample {input_rate} Hz to {output_rate} Hz: {e}"),
                )
            })?;
            Some(fft)
        };
        let delay_to_skip = inner.as_ref().map_or(0, |r| r.output_delay());
        let chunk_out = vec![0.0; inner.as_ref().map_or(0, |r| r.output_frames_max())];
        Ok(MonoResampler {
            inner,
            pending: Vec::new(),
            chunk_out,
            delay_to_skip,
            frames_in: 0,
            frames_out: 0,
            ratio,
        })
    }

    /// Appends the resampled form of `input` to `output`, as far as the filter allows so far.
    pub fn push(&mut self, input: &[f32], output: &mut Vec<f32>) {
        self.frames_in += input.len() as u64;
        let Some(resampler) = self.inner.as_mut() else {
            output.extend_from_slice(input);
            self.frames_out += input.len() as u64;
            return;
        };
        self.pending.extend_from_slice(input);
        let need = resampler.input_frames_next();
        let mut offset = 0;
        while self.pending.len() - offset >= need {
            let chunk = &self.pending[offset..offset + need];
            let produced = Self::process(resampler, chunk, None, &mut self.chunk_out);
            Self::emit(
                &self.chunk_out[..produced],
                &mut self.delay_to_skip,
                &mut self.frames_out,
                u64::MAX,
                output,
            );
            offset += need;
        }
        self.pending.drain(..offset);
    }

    /// Flushes the filter tail so the whole stream's output has its exact length.
    pub fn finish(&mut self, output: &mut Vec<f32>) {
        let target = (self.frames_in as f64 * self.ratio).ceil() as u64;
        let Some(resampler) = self.inner.as_mut() else {
            return;
        };
        let need = resampler.input_frames_next();
        let mut chunk = std::mem::take(&mut self.pending);
        let mut valid = chunk.len();
        // Zero-filled chunks push the last real samples through the filter delay.
        while self.frames_out < target {
            chunk.resize(need, 0.0);
            let produced = Self::process(resampler, &chunk, Some(valid), &mut self.chunk_out);
            Self::emit(
                &self.chunk_out[..produced],
                &mut self.delay_to_skip,
                &mut self.frames_out,
                target,
                output,
            );
            chunk.clear();
            valid = 0;
        }
    }

    /// Runs one chunk through the filter; returns how many output frames it wrote.
    fn process(
        resampler: &mut Fft<f32>,
        chunk: &[f32],
        valid: Option<usize>,
        out: &mut [f32],
    ) -> usize {
        let frames_out = out.len();
        let input = InterleavedSlice::new(chunk, 1, chunk.len()).expect("mono slice fits");
        let mut output = InterleavedSlice::new_mut(out, 1, frames_out).expect("mono slice fits");
        let indexing = valid.map(|n| Indexing::new().partial_len(n));
        let (_, written) = resampler
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .expect("buffers are sized from the resampler's own limits");
        written
    }

    fn emit(produced: &[f32], skip: &mut usize, count: &mut u64, target: u64, out: &mut Vec<f32>) {
        let skipped = (*skip).min(produced.len());
        *skip -= skipped;
        let room = target.saturating_sub(*count).min(usize::MAX as u64) as usize;
        let kept = &produced[skipped..][..(produced.len() - skipped).min(room)];
        out.extend_from_slice(kept);
        *count += kept.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample_all(input: &[f32], from: u32, to: u32, piece: usize) -> Vec<f32> {
        let mut r = MonoResampler::new(from, to).unwrap();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            r.push(chunk, &mut out);
        }
        r.finish(&mut out);
        out
    }

    #[test]
    fn output_length_is_exact_and_independent_of_chunking() {
        let input: Vec<f32> = (0..44_100).map(|i| (i as f32 * 0.01).sin()).collect();
        let a = resample_all(&input, 44_100, 16_000, 1152);
        let b = resample_all(&input, 44_100, 16_000, 4097);
        assert_eq!(a.len(), 16_000);
        assert_eq!(a, b);
    }

    #[test]
    fn a_sine_below_nyquist_keeps_its_amplitude_and_phase_at_every_rate() {
        let f = 1000.0f64;
        for rate in [
            8_000u32, 11_025, 22_050, 32_000, 44_100, 48_000, 96_000, 192_000,
        ] {
            let input: Vec<f32> = (0..rate as usize)
                .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin() as f32)
                .collect();
            let out = resample_all(&input, rate, 16_000, 1024);
            assert_eq!(out.len(), 16_000);
            // Away from the edges the output is the same sine sampled at 16 kHz, with no delay.
            for (i, &y) in out.iter().enumerate().take(15_000).skip(1000) {
                let expected = (2.0 * std::f64::consts::PI * f * i as f64 / 16_000.0).sin() as f32;
                assert!(
                    (y - expected).abs() < 2e-3,
                    "{rate} Hz, sample {i}: {y} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn content_above_the_new_nyquist_is_removed() {
        let input: Vec<f32> = (0..44_100)
            .map(|i| (2.0 * std::f64::consts::PI * 12_000.0 * i as f64 / 44_100.0).sin() as f32)
            .collect();
        let out = resample_all(&input, 44_100, 16_000, 2048);
        let rms = (out[1000..15_000].iter().map(|x| x * x).sum::<f32>() / 14_000.0).sqrt();
        assert!(rms < 1e-3, "aliased energy left: rms {rms}");
    }
}
