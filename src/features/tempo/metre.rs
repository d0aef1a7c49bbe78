//! The choice between a tempo and its double: are the midpoints between slow beats beats too?

/// Of two octave-related tempo hypotheses, the slower is read as half time, and the faster
/// taken as the beat, when the slower is below this tempo (BPM) and the onsets half-way between
/// its beats reach [`OFFBEAT_RATIO`] of those on its beats. Chosen on the tuning set (seed 1):
/// ballads, shuffles and sparse grooves have offbeat ratios under 0.3; half-time readings of
/// rock, waltz, bossa and hip-hop grooves 0.35–0.99.
pub const HALF_TIME_BELOW_BPM: f64 = 77.0;
pub const OFFBEAT_RATIO: f64 = 0.3;

/// The ratio of onset strength half-way between beats to onset strength on the beats, for beats
/// `slow_period` frames apart, at the phase where the beats are strongest.
///
/// The envelope is folded at the slow period: `profile[φ]` is the mean of the envelope (its
/// maximum over ±1 frame, tolerating played timing) at frames `φ, φ + P, φ + 2P …`. With `φ*` the
/// strongest phase, the ratio is `profile[φ* + P/2] / profile[φ*]`, in 0–1. Near 1 both halves of
/// each slow beat carry accents alike (the slow level is a half-time reading); near 0 the
/// midpoints are mere subdivisions.
pub fn offbeat_ratio(envelope: &[f32], slow_period: f64) -> f64 {
    let n = envelope.len();
    let period = slow_period.round() as usize;
    if period < 2 || n < 2 * period {
        return 0.0;
    }
    let peak = |t: usize| {
        envelope[t.saturating_sub(1)..(t + 2).min(n)]
            .iter()
            .fold(0.0f32, |a, &b| a.max(b)) as f64
    };
    let profile: Vec<f64> = (0..period)
        .map(|phase| {
            let (mut sum, mut count) = (0.0, 0usize);
            let mut k = 0usize;
            loop {
                let t = (phase as f64 + k as f64 * slow_period).round() as usize;
                if t >= n {
                    break;
                }
                sum += peak(t);
                count += 1;
                k += 1;
            }
            sum / count.max(1) as f64
        })
        .collect();
    let (best_phase, best) =
        profile
            .iter()
            .copied()
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |acc, (i, v)| if v > acc.1 { (i, v) } else { acc },
            );
    if best.is_nan() || best <= 0.0 {
        return 0.0;
    }
    let half = (best_phase as f64 + slow_period / 2.0).round() as usize % period;
    (profile[half] / best).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_accents_on_the_half_beats_give_a_ratio_near_one() {
        let mut env = vec![0.0f32; 2000];
        for t in (0..2000).step_by(20) {
            env[t] = 1.0;
        }
        assert!(offbeat_ratio(&env, 40.0) > 0.95);
        for t in (10..2000).step_by(20) {
            env[t] = 0.2;
        }
        let r = offbeat_ratio(&env, 20.0);
        assert!((r - 0.2).abs() < 0.05, "{r}");
    }
}
