//! Accents between beats: are the midpoints (or the thirds) between a level's beats beats too?

/// The ratio of onset strength half-way between beats to onset strength on the beats, for beats
/// `slow_period` frames apart, at the phase where the beats are strongest.
///
/// The envelope is folded at the slow period: `profile[φ]` is the mean of the envelope (its
/// maximum over ±1 frame, tolerating played timing) at frames `φ, φ + P, φ + 2P …`. With `φ*` the
/// strongest phase, the ratio is `profile[φ* + P/2] / profile[φ*]`, in 0–1. Near 1 both halves of
/// each slow beat carry accents alike (the slow level is a half-time reading); near 0 the
/// midpoints are mere subdivisions.
pub fn offbeat_ratio(envelope: &[f32], slow_period: f64) -> f64 {
    let Some((profile, best_phase, best)) = folded(envelope, slow_period) else {
        return 0.0;
    };
    let period = profile.len();
    let half = (best_phase as f64 + slow_period / 2.0).round() as usize % period;
    (profile[half] / best).clamp(0.0, 1.0)
}

/// Like [`offbeat_ratio`] for the points one and two thirds of the way between beats (the mean
/// of the two): near 1 when the level is a triple grouping of a faster pulse (a dotted or
/// triplet reading), near 0 when the thirds are mere triplet subdivisions or empty.
pub fn third_ratio(envelope: &[f32], period: f64) -> f64 {
    let Some((profile, best_phase, best)) = folded(envelope, period) else {
        return 0.0;
    };
    let p = profile.len();
    let at = |f: f64| profile[(best_phase as f64 + period * f).round() as usize % p];
    (0.5 * (at(1.0 / 3.0) + at(2.0 / 3.0)) / best).clamp(0.0, 1.0)
}

/// The envelope folded at `slow_period` (see [`offbeat_ratio`]), its strongest phase and value.
fn folded(envelope: &[f32], slow_period: f64) -> Option<(Vec<f64>, usize, f64)> {
    let n = envelope.len();
    let period = slow_period.round() as usize;
    if period < 2 || n < 2 * period {
        return None;
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
        return None;
    }
    Some((profile, best_phase, best))
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
