//! Beat tracking at a known period: the most probable beat sequence under the model of Degara et
//! al. (2012, "Reliability-informed beat tracking of musical signals", the tracker behind
//! Essentia's `BeatTrackerDegara`), found by dynamic programming over beat positions.

/// Standard deviation of a beat interval around the period, in seconds (Degara's 25 ms).
const INTERVAL_SD_S: f64 = 0.025;
/// Intervals considered: the period plus or minus this many standard deviations.
const INTERVAL_SPAN_SD: f64 = 4.0;
/// The envelope over its maximum, times this, is a frame's probability of being a beat (below 1,
/// so that the frame with the strongest onset may still be a no-beat).
const BEAT_PROBABILITY_SCALE: f64 = 0.99;
/// The least probability of a beat, where the envelope is 0: `ln 0` must not occur, and a beat on
/// a frame without onset costs `ln` of this (about −16) against one on a frame with one.
const BEAT_PROBABILITY_FLOOR: f64 = f32::EPSILON as f64;

/// Beat frames (indices into `envelope`, ascending) for a track whose beat period is
/// `period_frames`, the envelope having `frame_rate` frames per second. The envelope is any
/// non-negative beat evidence per frame: sonovec passes the learned beat activation
/// ([`super::activation`]), or the onset envelope where there is none.
///
/// Each frame is a beat with probability `p = 0.99 · envelope / max(envelope)` (at least
/// `f32::EPSILON`); each interval `Δ` between beats has the log-probability
/// `−½ ((Δ − period) / σ)²`, σ = 25 ms, within four σ of the period. The sequence maximises the sum
/// over its beats of `ln(p / (1 − p))` (a beat's log-odds against a no-beat) plus the sum over its
/// intervals, with equal weight. Because a beat on a frame without onset costs about 16, the
/// sequence keeps to the phase with an onset at every beat rather than the one with louder onsets
/// at some: where an off-beat bass line or hi-hat enters, a tracker that sums the envelope (Ellis
/// 2007, librosa's) drifts onto it, this one stays. The phase is chosen with a free start and end
/// (the first beat anywhere within one longest interval of the start, the last within one of the
/// end); beats are then added at either end one interval at a time while one fits, and those at
/// either end whose smoothed onset strength is weak (a quiet intro or outro) are dropped. An
/// envelope that is silent throughout has no beats.
pub fn track_beats(envelope: &[f32], period_frames: f64, frame_rate: f64) -> Vec<usize> {
    let n = envelope.len();
    if n == 0
        || period_frames.is_nan()
        || period_frames < 1.0
        || frame_rate.is_nan()
        || frame_rate <= 0.0
    {
        return Vec::new();
    }
    let Some(log_odds) = beat_log_odds(envelope) else {
        return Vec::new();
    };
    let sd = INTERVAL_SD_S * frame_rate;
    let min_step = ((period_frames - INTERVAL_SPAN_SD * sd).floor() as usize).max(1);
    let max_step = ((period_frames + INTERVAL_SPAN_SD * sd).ceil() as usize).max(min_step);
    let interval_log_p: Vec<f64> = (min_step..=max_step)
        .map(|step| {
            let z = (step as f64 - period_frames) / sd;
            -0.5 * z * z
        })
        .collect();
    let mut score = vec![f64::NEG_INFINITY; n];
    let mut previous = vec![usize::MAX; n];
    for i in 0..n {
        let mut best = f64::NEG_INFINITY;
        let mut from = usize::MAX;
        for (step, log_p) in (min_step..=max_step.min(i)).zip(&interval_log_p) {
            let candidate = score[i - step] + log_p;
            if candidate > best {
                best = candidate;
                from = i - step;
            }
        }
        // Within the first longest interval a sequence may start here, owing nothing for the
        // beats it did not have before.
        if from == usize::MAX || (i < max_step && best < 0.0) {
            score[i] = log_odds[i];
        } else {
            score[i] = log_odds[i] + best;
            previous[i] = from;
        }
    }
    let tail = n.saturating_sub(max_step);
    let last = (tail..n).fold(
        tail,
        |best, i| if score[i] > score[best] { i } else { best },
    );
    let mut beats = vec![last];
    while let Some(&b) = beats.last() {
        match previous[b] {
            usize::MAX => break,
            before => beats.push(before),
        }
    }
    beats.reverse();
    extend_to_the_ends(&mut beats, &log_odds, min_step, &interval_log_p);
    trim_weak_ends(&mut beats, envelope, period_frames);
    beats
}

/// Adds beats before the first and after the last while a whole interval fits, each at the frame
/// most probably a beat one interval away (the interval model applies).
///
/// Every beat lowers a sequence's score (its log-odds are negative unless its onset is the
/// loudest), so the free start and end let the sequence leave out a beat at either end; put back,
/// the trimming keeps those that onsets carry.
fn extend_to_the_ends(
    beats: &mut Vec<usize>,
    log_odds: &[f64],
    min_step: usize,
    interval_log_p: &[f64],
) {
    let n = log_odds.len();
    // The frame one interval before `beat` (or after it), if one fits, most probably a beat.
    let next = |beat: usize, after: bool| {
        (min_step..)
            .zip(interval_log_p)
            .filter_map(|(step, log_p)| {
                let frame = if after {
                    Some(beat + step).filter(|&f| f < n)
                } else {
                    beat.checked_sub(step)
                }?;
                Some((frame, log_odds[frame] + log_p))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(frame, _)| frame)
    };
    let mut extended: Vec<usize> =
        std::iter::successors(next(beats[0], false), |&b| next(b, false)).collect();
    extended.reverse();
    extended.extend_from_slice(beats);
    let last = beats[beats.len() - 1];
    extended.extend(std::iter::successors(next(last, true), |&b| next(b, true)));
    *beats = extended;
}

/// Each frame's log-odds of being a beat, `ln(p / (1 − p))` with `p` as [`track_beats`] says, or
/// `None` when the envelope has no onset at all.
fn beat_log_odds(envelope: &[f32]) -> Option<Vec<f64>> {
    let peak = envelope.iter().copied().fold(0.0f32, f32::max) as f64;
    if peak <= 0.0 || !peak.is_finite() {
        return None;
    }
    let scale = BEAT_PROBABILITY_SCALE / peak;
    Some(
        envelope
            .iter()
            .map(|&x| {
                // `max` also maps a NaN frame to the floor.
                let p = (x as f64 * scale).max(BEAT_PROBABILITY_FLOOR);
                p.ln() - (-p).ln_1p()
            })
            .collect(),
    )
}

/// The onset envelope in units of its standard deviation, smoothed by a Gaussian of standard
/// deviation `period / 32` frames (truncated at ±one period), at each of `frames`: what the
/// trimming of weak ends reads (only at the beats, so only there).
fn local_score_at(envelope: &[f32], period: f64, frames: &[usize]) -> Vec<f64> {
    let (_, sd) = super::mean_and_sd(envelope);
    let scale = if sd > 0.0 { 1.0 / sd } else { 0.0 };
    let radius = period.round() as isize;
    let kernel: Vec<f64> = (-radius..=radius)
        .map(|k| (-0.5 * (k as f64 * 32.0 / period).powi(2)).exp())
        .collect();
    let len = envelope.len() as isize;
    frames
        .iter()
        .map(|&t| {
            let (first, last) = (t as isize - radius, t as isize + radius);
            // Away from the ends the whole kernel applies: the same terms, in the same order, as
            // the bounds-checked sum near them, without a check per tap.
            let sum = if first >= 0 && last < len {
                kernel
                    .iter()
                    .zip(&envelope[first as usize..=last as usize])
                    .map(|(w, &x)| w * x as f64)
                    .sum::<f64>()
            } else {
                kernel
                    .iter()
                    .enumerate()
                    .filter_map(|(i, w)| {
                        let s = first + i as isize;
                        (0..len)
                            .contains(&s)
                            .then(|| w * envelope[s as usize] as f64)
                    })
                    .sum::<f64>()
            };
            sum * scale
        })
        .collect()
}

/// Drops beats at the start and end whose Hann-smoothed local score is below half the RMS of the
/// smoothed scores at all beats (librosa's trimming).
fn trim_weak_ends(beats: &mut Vec<usize>, envelope: &[f32], period: f64) {
    if beats.len() < 3 {
        return;
    }
    let at_beats = local_score_at(envelope, period, beats);
    let window = [0.25, 0.75, 1.0, 0.75, 0.25];
    let smoothed: Vec<f64> = (0..at_beats.len() as isize)
        .map(|i| {
            window
                .iter()
                .enumerate()
                .filter_map(|(k, w)| {
                    let j = i + k as isize - 2;
                    (0..at_beats.len() as isize)
                        .contains(&j)
                        .then(|| w * at_beats[j as usize])
                })
                .sum()
        })
        .collect();
    let rms = (smoothed.iter().map(|x| x * x).sum::<f64>() / smoothed.len() as f64).sqrt();
    let threshold = 0.5 * rms;
    let first = smoothed.iter().position(|&s| s > threshold).unwrap_or(0);
    let last = smoothed
        .iter()
        .rposition(|&s| s > threshold)
        .unwrap_or(beats.len() - 1);
    beats.truncate(last + 1);
    beats.drain(..first);
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME_RATE: f64 = 62.5;

    /// Frames of a click every `period` frames from `first`, rounded.
    fn clicks(first: f64, period: f64, len: usize) -> Vec<usize> {
        (0..)
            .map(|k| (first + k as f64 * period).round() as usize)
            .take_while(|&t| t < len)
            .collect()
    }

    /// An envelope of `len` frames, 0 but at `frames`, where it is `strength`.
    fn envelope_of(len: usize, frames: &[usize], strength: f32) -> Vec<f32> {
        let mut envelope = vec![0.0f32; len];
        for &t in frames {
            envelope[t] = strength;
        }
        envelope
    }

    /// Every beat within a frame of one of `truth`, and at most `missing` of those without one.
    fn assert_on(beats: &[usize], truth: &[usize], missing: usize) {
        assert!(beats.len() + missing >= truth.len(), "{beats:?}");
        for b in beats {
            assert!(
                truth.iter().any(|t| t.abs_diff(*b) <= 1),
                "beat {b} off {truth:?}"
            );
        }
    }

    #[test]
    fn follows_a_click_train_with_an_offset() {
        let period = 31.25; // 120 BPM at 62.5 frames/s
        let truth = clicks(7.0, period, 1500);
        let env = envelope_of(1500, &truth, 1.0);
        assert_on(&track_beats(&env, period, FRAME_RATE), &truth, 2);
    }

    #[test]
    fn keeps_the_clicks_at_the_very_start_and_end() {
        // Soft clicks and one loud one: every soft beat has negative log-odds, so a sequence that
        // starts and ends freely would leave out the click at frame 1 and the one a frame before
        // the end.
        let period = 40.76; // 92 BPM
        let truth = clicks(1.0, period, 1000);
        let mut env = envelope_of(truth.last().unwrap() + 2, &truth, 0.3);
        env[truth[truth.len() / 2]] = 1.0;
        assert_eq!(track_beats(&env, period, FRAME_RATE), truth);
    }

    #[test]
    fn keeps_the_phase_with_an_onset_at_every_beat() {
        // Soft onsets on every beat, and twice as loud ones on every other off-beat: summing the
        // envelope prefers the off-beats (1.0 against 0.5 + 0.5 per two beats, plus the odd
        // half), but half of those beats would fall on frames without onset.
        let period = 31.25;
        let len = 2000;
        let on_beats = clicks(10.0, period, len);
        let mut env = envelope_of(len, &on_beats, 0.5);
        for t in clicks(10.0 + period / 2.0, 2.0 * period, len) {
            env[t] = 1.2;
        }
        assert_on(&track_beats(&env, period, FRAME_RATE), &on_beats, 4);
    }

    #[test]
    fn follows_a_slowly_drifting_tempo_from_its_mean_period() {
        // Intervals from 30.25 to 32.25 frames (119 to 124 BPM) around the mean of 31.25:
        // within the interval model's few frames, every beat stays on its click.
        let mut truth = vec![5usize];
        let mut t = 5.0f64;
        for k in 0..60 {
            t += 30.25 + 2.0 * k as f64 / 59.0;
            truth.push(t.round() as usize);
        }
        let env = envelope_of(*truth.last().unwrap() + 20, &truth, 1.0);
        assert_on(&track_beats(&env, 31.25, FRAME_RATE), &truth, 2);
    }

    #[test]
    fn empty_silent_and_broken_envelopes_give_no_beats_and_no_crash() {
        assert!(track_beats(&[], 30.0, FRAME_RATE).is_empty());
        assert!(track_beats(&[0.0; 500], 30.0, FRAME_RATE).is_empty());
        assert!(track_beats(&[1.0; 500], f64::NAN, FRAME_RATE).is_empty());
        assert!(track_beats(&[1.0; 500], 30.0, 0.0).is_empty());
        let mut env = vec![0.0f32; 500];
        env[100] = f32::NAN;
        env[200] = 1.0;
        let beats = track_beats(&env, 30.0, FRAME_RATE);
        assert!(beats.len() < 20, "{beats:?}");
        // A period shorter than the interval model's spread still gives beats one frame apart at
        // the least.
        let beats = track_beats(&[1.0; 100], 1.0, FRAME_RATE);
        assert!(beats.windows(2).all(|w| w[1] > w[0]));
    }
}
