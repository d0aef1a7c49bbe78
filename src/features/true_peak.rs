//! True peak (ITU-R BS.1770-4 Annex 2, EBU Tech 3341) exactly as the `ebur128` crate measures it,
//! by its oversampler ([`super::oversample`], the crate's arithmetic eight outputs at a time), run
//! only on the stretches of audio that could raise the maximum.
//!
//! The crate's true-peak interpolator is a 48-tap windowed-sinc FIR in polyphase form: 4 phases of
//! 12 taps below 96 kHz, 2 phases of 24 taps below 192 kHz. Every interpolated value is
//! `y = Σ_t h[t·F + p] · x[n − t]`, so `|y| ≤ G · max|x[n − T + 1 ..= n]|` with
//! `G = max_p Σ_t |h[t·F + p]|` (the largest L1 norm of a phase; [`interpolator_gain`]: 1.864,
//! +5.41 dB, at 4×; 2.307, +7.26 dB, at 2×). A stretch of audio whose sample peak, counting the
//! `T − 1` samples before it that the filter still holds, times `G` does not exceed the maximum
//! already known cannot raise the true peak, so it is not oversampled. The maximum already known
//! includes the sample peak of everything seen, since phase 0 of the interpolator reproduces the
//! input samples (its centre tap is 1, the others sin(kπ) ≈ 0): the true peak is never below the
//! sample peak. The result therefore equals the crate's true peak over the whole signal (each
//! measured stretch is oversampled from the `T − 1` samples that precede it, zeros before the
//! stream's start, as the crate's filter holds them), at a fraction of the cost on music whose
//! loud passages are short.

use ebur128::{EbuR128, Mode};

use super::oversample::{Interpolator, TAPS};

/// Frames per stretch that is measured or skipped as a whole (about 6 ms at 44.1 kHz).
const STRETCH: usize = 256;
/// Covers the f32 arithmetic of the crate's interpolator (12–24 products summed in f32).
const ROUNDING_MARGIN: f64 = 1e-5;

/// Oversampling factor of the crate at `sample_rate`: 4× below 96 kHz, 2× below 192 kHz, none
/// above (the true peak is then the sample peak).
pub fn oversampling(sample_rate: u32) -> usize {
    match sample_rate {
        r if r < 96_000 => 4,
        r if r < 192_000 => 2,
        _ => 1,
    }
}

/// `G`: the largest sum of absolute coefficients over the phases of the crate's interpolator at
/// `factor`× (the same Hann-windowed sinc as `ebur128::interp::InterpF::new`), so that no
/// interpolated value exceeds `G` times the largest input it is computed from.
pub fn interpolator_gain(factor: usize) -> f64 {
    if factor <= 1 {
        return 1.0;
    }
    let mut phases = vec![0.0f64; factor];
    for j in 0..TAPS {
        phases[j % factor] += (super::oversample::coefficient(j, factor) as f32 as f64).abs();
    }
    phases.into_iter().fold(0.0, f64::max)
}

/// The largest |sample| of `s` (0 for none), NaN skipped as `f32::max` skips it; eight lanes,
/// each a comparison and a select, so that it vectorises (the maximum does not depend on the
/// order it is taken in).
fn abs_max(s: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, x) in lanes.iter_mut().zip(chunk) {
            let a = x.abs();
            if a > *m {
                *m = a;
            }
        }
    }
    rest.iter()
        .chain(&lanes)
        .fold(0.0f32, |m, x| if x.abs() > m { x.abs() } else { m })
}

/// Running true peak of planar audio, fed in pieces of any size.
pub struct TruePeak {
    interp: Interpolator,
    /// `G` of the crate's interpolator at this rate, rounding margin included.
    gain: f64,
    /// Inputs each interpolated value depends on (`TAPS / factor`), `T` above.
    taps: usize,
    /// The last `taps` frames seen, per channel (shorter at the start of the stream).
    tail: Vec<Vec<f32>>,
    /// Largest |sample| seen, over all channels.
    sample_peak: f64,
    /// Largest true peak measured so far, over all channels.
    measured_peak: f64,
    /// One channel's stretch and the samples before it, as the interpolator reads them.
    context: Vec<f32>,
    /// Frames that went through the interpolator, for the statistics in tests and benches.
    pub frames_measured: u64,
    pub frames_seen: u64,
}

impl TruePeak {
    /// A true-peak meter for `channels` channels at `sample_rate` Hz (the crate's limits apply).
    pub fn new(channels: u32, sample_rate: u32) -> Result<Self, ebur128::Error> {
        // The crate says which channel counts and rates it measures; its meter is not kept.
        EbuR128::new(channels, sample_rate, Mode::TRUE_PEAK)?;
        let factor = oversampling(sample_rate);
        Ok(TruePeak {
            interp: Interpolator::new(factor),
            gain: interpolator_gain(factor) * (1.0 + ROUNDING_MARGIN),
            taps: TAPS / factor,
            tail: vec![Vec::new(); channels as usize],
            sample_peak: 0.0,
            measured_peak: 0.0,
            context: Vec::new(),
            frames_measured: 0,
            frames_seen: 0,
        })
    }

    /// Adds planar samples, one slice per channel, all of the same length.
    pub fn accept(&mut self, planar: &[&[f32]]) -> Result<(), ebur128::Error> {
        let len = planar.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut start = 0;
        while start < len {
            let end = len.min(start + STRETCH);
            self.stretch(planar, start, end);
            start = end;
        }
        // Keep the last `taps` frames for the stretches of the next piece.
        for (tail, c) in self.tail.iter_mut().zip(planar) {
            let from_piece = &c[len.saturating_sub(self.taps)..len];
            let keep = tail.len().min(self.taps - from_piece.len());
            tail.drain(..tail.len() - keep);
            tail.extend_from_slice(from_piece);
        }
        Ok(())
    }

    fn stretch(&mut self, planar: &[&[f32]], start: usize, end: usize) {
        let peak = planar
            .iter()
            .map(|c| abs_max(&c[start..end]))
            .fold(0.0f32, f32::max) as f64;
        // The interpolator still holds up to `taps − 1` earlier samples, from the tail or from
        // this piece.
        let held = planar
            .iter()
            .zip(&self.tail)
            .map(|(c, tail)| {
                let before = &c[start.saturating_sub(self.taps - 1)..start];
                let from_tail = (self.taps - 1).saturating_sub(before.len()).min(tail.len());
                abs_max(before).max(abs_max(&tail[tail.len() - from_tail..]))
            })
            .fold(0.0f32, f32::max) as f64;
        self.sample_peak = self.sample_peak.max(peak);
        self.frames_seen += (end - start) as u64;
        let known = self.measured_peak.max(self.sample_peak);
        if self.gain * peak.max(held) <= known {
            return;
        }
        let history = self.interp.history();
        for (c, tail) in planar.iter().zip(&self.tail) {
            let before = &c[start.saturating_sub(history)..start];
            let from_tail = (history - before.len()).min(tail.len());
            self.context.clear();
            self.context.resize(history - before.len() - from_tail, 0.0);
            self.context
                .extend_from_slice(&tail[tail.len() - from_tail..]);
            self.context.extend_from_slice(before);
            self.context.extend_from_slice(&c[start..end]);
            let measured = self.interp.peak(&self.context) as f64;
            self.measured_peak = self.measured_peak.max(measured);
        }
        self.frames_measured += (end - start) as u64;
    }

    /// The true peak over all channels, linear (full scale 1.0); 0 for digital silence.
    pub fn peak(&self) -> f64 {
        self.measured_peak.max(self.sample_peak)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The crate's own true peak over the whole signal, every sample oversampled.
    fn reference(planar: &[Vec<f32>], rate: u32, piece: usize) -> f64 {
        let mut m = EbuR128::new(planar.len() as u32, rate, Mode::TRUE_PEAK).unwrap();
        let len = planar[0].len();
        let mut start = 0;
        while start < len {
            let end = len.min(start + piece);
            let s: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            m.add_frames_planar_f32(&s).unwrap();
            start = end;
        }
        (0..m.channels())
            .map(|c| m.true_peak(c).unwrap())
            .fold(0.0, f64::max)
    }

    fn ours(planar: &[Vec<f32>], rate: u32, piece: usize) -> (f64, f64) {
        let mut tp = TruePeak::new(planar.len() as u32, rate).unwrap();
        let len = planar[0].len();
        let mut start = 0;
        while start < len {
            let end = len.min(start + piece);
            let s: Vec<&[f32]> = planar.iter().map(|c| &c[start..end]).collect();
            tp.accept(&s).unwrap();
            start = end;
        }
        (tp.peak(), tp.frames_measured as f64 / tp.frames_seen as f64)
    }

    /// A pseudo-random sign sequence (xorshift), the same on every run.
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    /// The input that drives phase `p` of the interpolator to `G`: each sample the sign of the
    /// coefficient it meets, reversed in time.
    fn worst_case(factor: usize, amplitude: f32) -> Vec<f32> {
        let taps = TAPS / factor;
        let (mut best, mut best_sum) = (0, 0.0);
        let h = |j: usize| crate::features::oversample::coefficient(j, factor);
        for p in 0..factor {
            let sum: f64 = (0..taps).map(|t| h(t * factor + p).abs()).sum();
            if sum > best_sum {
                (best, best_sum) = (p, sum);
            }
        }
        (0..taps)
            .rev()
            .map(|t| amplitude * h(t * factor + best).signum() as f32)
            .collect()
    }

    #[test]
    fn the_gain_bound_is_reached_by_the_crate_on_its_worst_case_input() {
        for (rate, factor) in [(44_100, 4), (96_000, 2)] {
            let mut signal = vec![0.0f32; 100];
            signal.extend(worst_case(factor, 0.25));
            signal.extend(vec![0.0f32; 100]);
            let tp = reference(&[signal], rate, 4096);
            let g = interpolator_gain(factor);
            assert!(
                (tp / 0.25 - g).abs() < 1e-4,
                "{rate}: crate {} bound {g}",
                tp / 0.25
            );
        }
        assert!((20.0 * interpolator_gain(4).log10() - 5.41).abs() < 0.01);
    }

    #[test]
    fn skipping_gives_exactly_the_crates_true_peak() {
        let rate = 44_100;
        // Loud noise first, then a quiet passage with a worst-case burst that stays below the
        // bound, then a louder worst-case burst late in a quiet stretch that must be found.
        let mut a: Vec<f32> = noise(rate as usize, 1).iter().map(|x| x * 0.5).collect();
        let mut b: Vec<f32> = noise(rate as usize, 2).iter().map(|x| x * 0.5).collect();
        a.extend(vec![0.0; 3000]);
        b.extend(vec![0.0; 3000]);
        a.extend(noise(20_000, 3).iter().map(|x| x * 0.2));
        b.extend(worst_case(4, 0.3));
        b.extend(vec![0.01; 20_000 - worst_case(4, 0.3).len()]);
        a.extend(vec![0.0; 5000]);
        let mut late = vec![0.0; 4000];
        late.extend(worst_case(4, 0.9));
        late.resize(5000, 0.0);
        b.extend(late);
        let planar = [a, b];
        let full = reference(&planar, rate, 1152);
        for piece in [1, 7, 1152, 65_536] {
            let (peak, measured) = ours(&planar, rate, piece);
            assert_eq!(peak, full, "piece {piece}");
            assert!(measured < 0.9, "piece {piece}: measured {measured}");
        }
        assert!(
            full > 0.9 * interpolator_gain(4) * 0.99,
            "the late burst sets it: {full}"
        );
    }

    #[test]
    fn a_quiet_track_after_a_loud_start_is_mostly_skipped() {
        let rate = 48_000;
        let mut s: Vec<f32> = (0..rate as usize)
            .map(|i| 0.9 * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / rate as f32).sin())
            .collect();
        s.extend(noise(10 * rate as usize, 5).iter().map(|x| x * 0.3));
        let full = reference(std::slice::from_ref(&s), rate, 4096);
        let (peak, measured) = ours(&[s], rate, 4096);
        assert_eq!(peak, full);
        assert!(measured < 0.2, "{measured}");
    }

    #[test]
    fn abs_max_is_the_fold_of_f32_max_nan_and_all() {
        let mut x = noise(1003, 9);
        x[5] = f32::NAN;
        x[700] = -0.999;
        x[1002] = f32::NAN;
        for end in [0, 1, 7, 8, 9, 17, 1003] {
            let s = &x[..end];
            let reference = s.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            assert_eq!(abs_max(s).to_bits(), reference.to_bits(), "{end}");
        }
        assert_eq!(abs_max(&[f32::NAN, f32::NAN]), 0.0);
    }
}
