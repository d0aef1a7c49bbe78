//! Global tempo from the onset envelope: an autocorrelation tempogram summed over the period's
//! multiples, weighted by a tempo prior, with an explicit choice between metrical levels.

use crate::dsp::plans;

/// Lowest and highest tempo considered, in BPM.
pub const MIN_BPM: f64 = 30.0;
pub const MAX_BPM: f64 = 300.0;
/// Tempo grid resolution: points per octave of the log-spaced BPM grid (0.29 % apart).
const GRID_PER_OCTAVE: f64 = 240.0;
/// Multiples of a candidate period whose autocorrelation is averaged into its salience.
const HARMONICS: usize = 4;
/// Centre (BPM) and width (octaves, one standard deviation) of the log-normal tempo prior.
const PRIOR_CENTRE_BPM: f64 = 120.0;
const PRIOR_OCTAVES: f64 = 1.0;
/// Window of the moving average removed from the envelope before the autocorrelation, seconds.
const DETREND_S: f64 = 1.0;

/// A tempo hypothesis: the beat rate and how strongly the onsets repeat at that period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    pub bpm: f64,
    /// Pulse salience in 0–1: the mean normalised autocorrelation of the onset envelope at 1–4
    /// beat periods (1 = every onset repeats exactly every beat, 0 = no repetition).
    pub salience: f64,
    /// `salience × prior(bpm)`, in 0–1: the score candidates are ranked by.
    pub score: f64,
}

impl Candidate {
    /// The candidate at `bpm`, scored from the autocorrelation `acf` of an envelope at
    /// `frame_rate` frames per second.
    pub fn at(acf: &[f64], frame_rate: f64, bpm: f64) -> Candidate {
        let salience = salience(acf, 60.0 * frame_rate / bpm);
        Candidate {
            bpm,
            salience,
            score: salience * prior(bpm),
        }
    }
}

/// The periodicity analysis of a whole track.
#[derive(Clone, Debug)]
pub struct Periodicity {
    /// Normalised autocorrelation of the detrended envelope, lags 0..len (`A[0] = 1`).
    pub acf: Vec<f64>,
    /// Up to three best-scoring distinct tempo peaks, best first.
    pub candidates: Vec<Candidate>,
}

/// Analyses `envelope` (one onset strength per frame at `frame_rate` frames/s).
///
/// Returns `None` when the envelope is too short for the slowest tempo to repeat or does not
/// vary at all (silence, a perfectly steady drone).
pub fn analyse(envelope: &[f32], frame_rate: f64) -> Option<Periodicity> {
    let max_lag =
        (envelope.len() / 2).min((HARMONICS as f64 * 60.0 * frame_rate / MIN_BPM) as usize + 2);
    if (max_lag as f64) < 2.0 * 60.0 * frame_rate / MIN_BPM.max(60.0) {
        return None;
    }
    let detrended = detrend(envelope, (DETREND_S * frame_rate) as usize);
    let acf = autocorrelation(detrended, max_lag)?;
    let scored: Vec<Candidate> = bpm_grid()
        .map(|bpm| Candidate::at(&acf, frame_rate, bpm))
        .collect();
    let candidates = top_peaks(&scored, 3);
    Some(Periodicity { acf, candidates })
}

/// The tempo grid, log-spaced from [`MIN_BPM`] to [`MAX_BPM`].
fn bpm_grid() -> impl Iterator<Item = f64> {
    let octaves = (MAX_BPM / MIN_BPM).log2();
    let n = (octaves * GRID_PER_OCTAVE).round() as usize;
    (0..=n).map(move |i| MIN_BPM * (i as f64 / GRID_PER_OCTAVE).exp2())
}

/// Log-normal prior on tempo: 1 at the centre, `e^{-1/2}` one width away.
pub fn prior(bpm: f64) -> f64 {
    let octaves = (bpm / PRIOR_CENTRE_BPM).log2() / PRIOR_OCTAVES;
    (-0.5 * octaves * octaves).exp()
}

/// Mean autocorrelation at 1…`HARMONICS` periods (those within the computed lags), clipped to
/// 0–1. Summing over multiples sharpens the period estimate (the error grows with k) and makes
/// the beat level and slower levels score alike; the prior and `top_peaks` choose among them.
pub fn salience(acf: &[f64], period: f64) -> f64 {
    let mut sum = 0.0;
    let mut count = 0;
    for k in 1..=HARMONICS {
        let lag = period * k as f64;
        if lag + 1.0 >= acf.len() as f64 {
            break;
        }
        let (i, frac) = (lag.floor() as usize, lag.fract());
        sum += acf[i] * (1.0 - frac) + acf[i + 1] * frac;
        count += 1;
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64).clamp(0.0, 1.0)
    }
}

/// The autocorrelation at a fractional lag of `period` frames (linear interpolation), 0 beyond
/// the computed lags.
pub fn acf_at(acf: &[f64], period: f64) -> f64 {
    if period < 0.0 || period + 1.0 >= acf.len() as f64 {
        return 0.0;
    }
    let (i, frac) = (period.floor() as usize, period.fract());
    acf[i] * (1.0 - frac) + acf[i + 1] * frac
}

/// The hypothesis of highest salience within `±relative` of `bpm` on the tempo grid (so a
/// 3:2 or 2:1 relative of a peak lands on the music's own period, not on the exact ratio).
pub fn refine(acf: &[f64], frame_rate: f64, bpm: f64, relative: f64) -> Candidate {
    let steps = (GRID_PER_OCTAVE * (1.0 + relative).log2()).ceil() as i32;
    (-steps..=steps)
        .map(|k| Candidate::at(acf, frame_rate, bpm * (k as f64 / GRID_PER_OCTAVE).exp2()))
        .fold(None, |best: Option<Candidate>, c| match best {
            Some(b) if b.salience >= c.salience => Some(b),
            _ => Some(c),
        })
        .expect("at least one grid point")
}

/// Local maxima of the score, refined by a parabola through the neighbours in log-BPM, best
/// first, at most `n`.
fn top_peaks(scored: &[Candidate], n: usize) -> Vec<Candidate> {
    let mut peaks: Vec<Candidate> = (1..scored.len().saturating_sub(1))
        .filter(|&i| {
            scored[i].score > 0.0
                && scored[i].score >= scored[i - 1].score
                && scored[i].score > scored[i + 1].score
        })
        .map(|i| {
            let (a, b, c) = (scored[i - 1].score, scored[i].score, scored[i + 1].score);
            let denom = a - 2.0 * b + c;
            let shift = if denom < 0.0 {
                (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            let bpm = scored[i].bpm * (shift / GRID_PER_OCTAVE).exp2();
            Candidate { bpm, ..scored[i] }
        })
        .collect();
    peaks.sort_by(|x, y| y.score.total_cmp(&x.score).then(x.bpm.total_cmp(&y.bpm)));
    peaks.truncate(n);
    peaks
}

/// The envelope minus its centred moving average over `window` frames, so slow loudness changes
/// do not read as periodicity.
fn detrend(envelope: &[f32], window: usize) -> Vec<f64> {
    let half = window.max(1) / 2;
    let mut prefix = Vec::with_capacity(envelope.len() + 1);
    prefix.push(0.0f64);
    for &x in envelope {
        prefix.push(prefix.last().unwrap() + x as f64);
    }
    (0..envelope.len())
        .map(|t| {
            let (lo, hi) = (t.saturating_sub(half), (t + half + 1).min(envelope.len()));
            envelope[t] as f64 - (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect()
}

/// Points of the transforms the autocorrelation is computed with, at least (see
/// [`autocorrelation`]).
const ACF_TRANSFORM: usize = 8192;

/// Autocorrelation of `x` for lags `0..max_lag`, each lag's sum divided by its number of terms
/// and by the lag-0 value. A light [1, 2, 1] smoothing of `x` first (in place) widens the peaks
/// so fractional lags interpolate well. `None` when `x` has no energy.
///
/// Computed in blocks: each block of `x` is correlated with itself and the `max_lag` frames
/// after it, through transforms of a fixed size, and the blocks' products are summed in the
/// frequency domain, so one inverse transform ends it. O(n log m) like a whole-track transform,
/// but its memory is three transforms of [`ACF_TRANSFORM`] points whatever the track's length:
/// a transform of the whole track, zero-padded to twice its length, made the end of a 16-minute
/// track the peak of its analysis (about 5 MB over the stream) and, on 3.4 hours, raised the
/// peak from 73 to 133 MB.
fn autocorrelation(mut x: Vec<f64>, max_lag: usize) -> Option<Vec<f64>> {
    let n = x.len();
    if n == 0 {
        return None;
    }
    let mut before = x[0];
    for t in 0..n {
        let (here, next) = (x[t], x[(t + 1).min(n - 1)]);
        x[t] = 0.25 * before + 0.5 * here + 0.25 * next;
        before = here;
    }
    let max_lag = max_lag.min(n);
    let size = (4 * max_lag).max(ACF_TRANSFORM).next_power_of_two();
    // With a block of `size - max_lag` frames and the lags up to `max_lag` after it, the
    // circular correlation of one transform never wraps.
    let block = size - max_lag;
    let forward = plans::forward(size);
    let inverse = plans::inverse(size);
    let mut frames = forward.make_input_vec();
    let mut scratch = forward.make_scratch_vec();
    let mut own = forward.make_output_vec();
    let mut reach = forward.make_output_vec();
    let mut sum = forward.make_output_vec();
    for start in (0..n).step_by(block) {
        for (spectrum, end) in [(&mut own, start + block), (&mut reach, start + size)] {
            let end = end.min(n);
            frames.fill(0.0);
            frames[..end - start].copy_from_slice(&x[start..end]);
            forward
                .process_with_scratch(&mut frames, spectrum, &mut scratch)
                .ok()?;
        }
        for ((s, a), b) in sum.iter_mut().zip(&own).zip(&reach) {
            *s += a.conj() * b;
        }
    }
    // Real at 0 and at the Nyquist frequency, to the bit: both transforms are real there.
    for bin in [0, sum.len() - 1] {
        sum[bin].im = 0.0;
    }
    let mut scratch = inverse.make_scratch_vec();
    inverse
        .process_with_scratch(&mut sum, &mut frames, &mut scratch)
        .ok()?;
    let energy = frames[0] / n as f64;
    if energy.is_nan() || energy <= 1e-12 {
        return None;
    }
    Some(
        (0..max_lag)
            .map(|lag| frames[lag] / (n - lag) as f64 / energy)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_blocked_autocorrelation_is_the_direct_sum() {
        // Long enough for several blocks and a short last one; a pulse every 37 frames plus a
        // deterministic jumble, so every lag has its own value.
        let n = 3 * (ACF_TRANSFORM - 300) + 1234;
        let x: Vec<f64> = (0..n)
            .map(|t| (t % 37 == 0) as u8 as f64 + ((t * 7919) % 1013) as f64 / 1013.0 - 0.5)
            .collect();
        let max_lag = 300;
        let acf = autocorrelation(x.clone(), max_lag).unwrap();
        let s: Vec<f64> = (0..n)
            .map(|t| 0.25 * x[t.saturating_sub(1)] + 0.5 * x[t] + 0.25 * x[(t + 1).min(n - 1)])
            .collect();
        let sum = |lag: usize| (0..n - lag).map(|t| s[t] * s[t + lag]).sum::<f64>();
        let energy = sum(0) / n as f64;
        assert_eq!(acf.len(), max_lag);
        for (lag, &a) in acf.iter().enumerate() {
            let direct = sum(lag) / (n - lag) as f64 / energy;
            assert!((a - direct).abs() < 1e-9, "lag {lag}: {a} against {direct}");
        }
        assert!(acf[37] > 0.2 && acf[36] < acf[37], "{:?}", &acf[35..39]);
    }

    fn clicks(bpm: f64, seconds: f64, frame_rate: f64) -> Vec<f32> {
        let n = (seconds * frame_rate) as usize;
        let period = 60.0 * frame_rate / bpm;
        let mut env = vec![0.0f32; n];
        let mut t = 0.0;
        while (t as usize) < n {
            env[t as usize] = 1.0;
            t += period;
        }
        env
    }

    #[test]
    fn a_click_train_peaks_at_its_tempo() {
        for bpm in [72.0, 97.0, 128.0, 174.0] {
            let p = analyse(&clicks(bpm, 30.0, 62.5), 62.5).unwrap();
            let best = p.candidates[0].bpm;
            let related = [bpm, bpm / 2.0, bpm * 2.0];
            assert!(
                related.iter().any(|r| (best - r).abs() < 0.02 * r),
                "{bpm}: got {best} ({:?})",
                p.candidates
            );
        }
    }

    #[test]
    fn silence_and_short_input_have_no_periodicity() {
        assert!(analyse(&vec![0.0; 2000], 62.5).is_none());
        assert!(analyse(&clicks(120.0, 1.0, 62.5), 62.5).is_none());
    }

    #[test]
    fn prior_is_one_at_the_centre_and_symmetric_in_octaves() {
        assert!((prior(PRIOR_CENTRE_BPM) - 1.0).abs() < 1e-12);
        assert!((prior(60.0) - prior(240.0)).abs() < 1e-12);
    }
}
