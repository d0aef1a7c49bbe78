//! Swung beats moved off the late off-beat.
//!
//! In swing each beat is followed by a long interval and a short one: the off-beat comes two
//! thirds of the way to the next beat. Where that off-beat is the louder onset (a swung ride
//! or bass note), the beat tracker, which keeps the phase with the stronger onset at every
//! period, may follow it instead of the beat: its beats then each come a short interval before
//! a strong onset (the beat), and nothing lies at a half or two thirds of the period after
//! them. Tracked on the beat, the same music has the off-beat two thirds after each beat and
//! nothing a third after, so the two phases can be told apart by which third is filled.
//!
//! Measured on the tracked beats of the labelled sets (`scripts/probe_swing_phase.py`, on a
//! replica of the onset envelope; `docs/tempo-experiments.md`, session 21), clips at the right
//! tempo: where the rule moves the beats (three swung openmsx compositions, a tracker module and a
//! slip jig, beat F-measure 0 before, 0.98–1 after) the onset a third after the tracked beats is
//! 0.45–1.06 of theirs and 3.0–14.5 times the stronger of those at a half and two thirds. Of the
//! other 618 clips, 58 reach a third of the beats' onset there (strings, dense tracker songs,
//! choirs), none more than 1.18 times that stronger one; none of the fitting generators' clips
//! is moved.

/// The onset a third of a period after the tracked beats must be at least this fraction of the
/// onset at the beats themselves …
const THIRD_OF_BEAT: f64 = 0.35;
/// … and this many times the onsets at a half and at two thirds of the period.
const CONTRAST: f64 = 2.0;
/// Beats needed to judge (the first and last are not read).
const MIN_BEATS: usize = 8;

/// Moves `beats` (frames of `envelope`, ascending, tracked at `period` frames) a third of a
/// period later when they lie on a swing's late off-beat (see the module's documentation): when
/// the onset a third of a period after them is at least 0.35 of theirs, at least twice those at a
/// half and at two thirds, and above the envelope's mean.
/// Returns whether they were moved; beats moved past the envelope's end are dropped.
pub fn move_off_the_late_off_beat(beats: &mut Vec<usize>, envelope: &[f32], period: f64) -> bool {
    if beats.len() < MIN_BEATS || period.is_nan() || period < 3.0 {
        return false;
    }
    let inner = &beats[1..beats.len() - 1];
    let at = |fraction: f64| onset_after(envelope, inner, fraction * period);
    let (beat, third, half, two_thirds) = (at(0.0), at(1.0 / 3.0), at(0.5), at(2.0 / 3.0));
    let swung = third >= THIRD_OF_BEAT * beat
        && third >= CONTRAST * half
        && third >= CONTRAST * two_thirds
        // An onset, not the floor of a nearly flat envelope, where ratios are noise.
        && third > super::mean_and_sd(envelope).0;
    if swung {
        let n = envelope.len();
        let shift = period / 3.0;
        beats.retain_mut(|b| {
            *b = (*b as f64 + shift).round() as usize;
            *b < n
        });
    }
    swung
}

/// The median over `beats` of the strongest envelope within one frame of `offset` frames after
/// each (0 where that lies outside the envelope).
fn onset_after(envelope: &[f32], beats: &[usize], offset: f64) -> f64 {
    let strengths: Vec<f64> = beats
        .iter()
        .map(|&b| {
            let centre = (b as f64 + offset).round() as usize;
            let window = centre.saturating_sub(1)..centre.saturating_add(2).min(envelope.len());
            envelope
                .get(window)
                .unwrap_or_default()
                .iter()
                .fold(0.0f64, |m, &x| m.max(x as f64))
        })
        .collect();
    super::median(&strengths).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An envelope with onsets of `beat` strength every `period` frames from `first`, and of
    /// `off` strength at `offset` frames after each.
    fn swung_envelope(period: usize, first: usize, beat: f32, offset: usize, off: f32) -> Vec<f32> {
        let mut envelope = vec![0.01f32; 40 * period];
        for b in (first..envelope.len() - offset).step_by(period) {
            envelope[b] = beat;
            envelope[b + offset] = off;
        }
        envelope
    }

    /// Beats every `period` frames from `first`, up to two periods before the end.
    fn tracked(envelope: &[f32], first: usize, period: usize) -> Vec<usize> {
        (first..envelope.len() - 2 * period)
            .step_by(period)
            .collect()
    }

    #[test]
    fn beats_on_the_late_off_beat_move_onto_the_beat() {
        // Beats every 30 frames from 10, a louder swung off-beat 20 frames after each: a
        // tracker on the off-beat has its beats at 30, 60, …, the beat 10 frames after each.
        let envelope = swung_envelope(30, 10, 0.6, 20, 1.0);
        let mut beats = tracked(&envelope, 30, 30);
        assert!(move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
        assert_eq!(&beats[..3], &[40, 70, 100]);
        assert!(beats.iter().all(|&b| envelope[b] == 0.6));
    }

    #[test]
    fn beats_on_the_beat_of_swing_stay() {
        let envelope = swung_envelope(30, 10, 1.0, 20, 0.6);
        let mut beats = tracked(&envelope, 10, 30);
        let before = beats.clone();
        assert!(!move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
        assert_eq!(beats, before);
    }

    #[test]
    fn straight_off_beats_and_triplets_stay() {
        // Eighths: the off-beat at the half.
        let envelope = swung_envelope(30, 10, 1.0, 15, 0.8);
        let mut beats = tracked(&envelope, 25, 30);
        assert!(!move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
        // Triplets: both thirds filled.
        let mut envelope = swung_envelope(30, 10, 1.0, 10, 0.7);
        for b in (30..envelope.len()).step_by(30) {
            envelope[b] = 0.7;
        }
        let mut beats = tracked(&envelope, 10, 30);
        assert!(!move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
    }

    #[test]
    fn a_nearly_flat_envelope_is_not_read() {
        // A faint tick a third after each beat and nothing else near the beats: the ratios say
        // swing, but the ticks are below the envelope's mean (a few loud onsets elsewhere).
        let mut envelope = vec![0.0f32; 1200];
        for b in (10..1200).step_by(30) {
            envelope[b] = 0.001;
        }
        for b in (5..300).step_by(30) {
            envelope[b] = 1.0;
        }
        let mut beats = tracked(&envelope, 0, 30);
        assert!(!move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
        // The same ticks over a quieter track are onsets.
        for b in (5..300).step_by(30) {
            envelope[b] = 0.0;
        }
        assert!(move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
    }

    #[test]
    fn a_weak_onset_a_third_later_is_not_swing() {
        // A drum machine's ghost note a third after the beat, nothing elsewhere: a quarter of the
        // beat's strength is not enough to move it.
        let envelope = swung_envelope(30, 10, 1.0, 10, 0.25);
        let mut beats = tracked(&envelope, 10, 30);
        assert!(!move_off_the_late_off_beat(&mut beats, &envelope, 30.0));
    }
}
