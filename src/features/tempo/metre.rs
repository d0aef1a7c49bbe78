//! Accents between beats: are the midpoints (or the thirds) between a level's beats beats too?

/// An onset envelope's local peaks: at each frame, the envelope's maximum within ±1 frame
/// (tolerating played timing). Made once per envelope; every fold below reads it, one value per
/// visited frame, instead of taking the maximum again for each hypothesis.
pub struct Peaks(Vec<f32>);

impl Peaks {
    pub fn of(envelope: &[f32]) -> Peaks {
        let n = envelope.len();
        Peaks(
            (0..n)
                .map(|t| {
                    envelope[t.saturating_sub(1)..(t + 2).min(n)]
                        .iter()
                        .fold(0.0f32, |a, &b| a.max(b))
                })
                .collect(),
        )
    }
}

/// How strongly the points between a level's beats are accented, relative to its beats, in 0–1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Accents {
    /// The ratio of onset strength half-way between beats to onset strength on the beats, at
    /// the phase where the beats are strongest. Near 1 both halves of each beat carry accents
    /// alike (the level is a half-time reading); near 0 the midpoints are mere subdivisions.
    pub offbeat: f64,
    /// The same for the points one and two thirds of the way between beats (the mean of the
    /// two): near 1 when the level is a triple grouping of a faster pulse (a dotted or triplet
    /// reading), near 0 when the thirds are mere triplet subdivisions or empty.
    pub third: f64,
}

/// The [`Accents`] of beats `period` frames apart. The envelope is folded at the period:
/// `profile[φ]` is the mean of its [`Peaks`] at frames `φ, φ + P, φ + 2P …`; with `φ*` the
/// strongest phase, `offbeat = profile[φ* + P/2] / profile[φ*]`, and `third` likewise at
/// `φ* + P/3` and `φ* + 2P/3`. Both 0 when the envelope is shorter than two periods or flat.
pub fn accents(peaks: &Peaks, period: f64) -> Accents {
    let Some((profile, best_phase, best)) = folded(peaks, period) else {
        return Accents {
            offbeat: 0.0,
            third: 0.0,
        };
    };
    let p = profile.len();
    let at = |f: f64| profile[(best_phase as f64 + period * f).round() as usize % p];
    Accents {
        offbeat: (at(0.5) / best).clamp(0.0, 1.0),
        third: (0.5 * (at(1.0 / 3.0) + at(2.0 / 3.0)) / best).clamp(0.0, 1.0),
    }
}

/// How strongly the low register (kick, bass) and the middle register (snare, claps) take turns
/// at one beat of `period` frames, 0–1: the backbeat a musician taps along to (kick on 1 and 3,
/// snare on 2 and 4: rock at 120, drum and bass at 174). The full-band pulse cannot see it, as
/// alternate beats sound different; at twice the period the kicks fall on every beat and the
/// snares between them, at half the period kick and snare share a phase.
///
/// Both registers' peaks are folded at two beats (see [`accents`]); with `L`, `M` the profiles
/// scaled to their maxima, the score is the largest `√(ΔL·ΔM)` over the phases `φ` of one beat
/// where `ΔL = L(φ) − L(φ + period) > 0` (a kick on `φ`, none a beat later) and
/// `ΔM = M(φ + period) − M(φ) > 0` (a snare a beat later, none on `φ`); 0 when no phase has both.
pub fn backbeat(low: &Peaks, mid: &Peaks, period: f64) -> f64 {
    let (Some(l), Some(m)) = (profile(low, 2.0 * period), profile(mid, 2.0 * period)) else {
        return 0.0;
    };
    let top = |p: &[f64]| p.iter().copied().fold(0.0f64, f64::max);
    let (l_top, m_top) = (top(&l), top(&m));
    if l_top <= 0.0 || m_top <= 0.0 {
        return 0.0;
    }
    let n = l.len();
    (0..n)
        .map(|phase| {
            let later = (phase as f64 + period).round() as usize % n;
            let dl = (l[phase] - l[later]) / l_top;
            let dm = (m[later] - m[phase]) / m_top;
            if dl > 0.0 && dm > 0.0 {
                (dl * dm).sqrt()
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// The peaks folded at `period` (see [`accents`]), the strongest phase and its value.
fn folded(peaks: &Peaks, period: f64) -> Option<(Vec<f64>, usize, f64)> {
    let profile = profile(peaks, period)?;
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

/// `profile[φ]`, `φ < round(period)`: the mean over `k` of the peaks at frame `φ + k·period`.
/// `None` when the envelope is shorter than two periods.
fn profile(peaks: &Peaks, period: f64) -> Option<Vec<f64>> {
    let peaks = &peaks.0;
    let n = peaks.len();
    let length = period.round() as usize;
    if length < 2 || n < 2 * length {
        return None;
    }
    Some(
        (0..length)
            .map(|phase| {
                let (mut sum, mut count) = (0.0, 0usize);
                let mut k = 0usize;
                loop {
                    let t = (phase as f64 + k as f64 * period).round() as usize;
                    if t >= n {
                        break;
                    }
                    sum += peaks[t] as f64;
                    count += 1;
                    k += 1;
                }
                sum / count.max(1) as f64
            })
            .collect(),
    )
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
        assert!(accents(&Peaks::of(&env), 40.0).offbeat > 0.95);
        for t in (10..2000).step_by(20) {
            env[t] = 0.2;
        }
        let r = accents(&Peaks::of(&env), 20.0).offbeat;
        assert!((r - 0.2).abs() < 0.05, "{r}");
    }

    /// The profile by its definition: for each phase, the mean over the beats of the
    /// envelope's maximum within ±1 frame of the beat.
    fn profile_by_definition(envelope: &[f32], period: f64) -> Vec<f64> {
        let n = envelope.len();
        (0..period.round() as usize)
            .map(|phase| {
                let beats: Vec<usize> = (0..)
                    .map(|k| (phase as f64 + k as f64 * period).round() as usize)
                    .take_while(|&t| t < n)
                    .collect();
                let peak = |t: usize| {
                    let lo = t.saturating_sub(1);
                    (lo..(t + 2).min(n))
                        .map(|i| envelope[i])
                        .fold(0.0f32, f32::max) as f64
                };
                beats.iter().map(|&t| peak(t)).sum::<f64>() / beats.len() as f64
            })
            .collect()
    }

    #[test]
    fn folds_read_the_local_peaks() {
        // An irregular envelope (no two neighbours alike), a period that is not a whole frame.
        let envelope: Vec<f32> = (0..997u32)
            .map(|i| ((i * 7919) % 104_729) as f32 / 104_729.0)
            .collect();
        let period = 23.37;
        let peaks = Peaks::of(&envelope);
        assert_eq!(
            profile(&peaks, period).unwrap(),
            profile_by_definition(&envelope, period)
        );
    }

    #[test]
    fn triplet_accents_read_on_the_thirds_not_the_half() {
        // Beats every 30 frames, half-strength accents a third and two thirds of the way,
        // nothing half-way.
        let mut envelope = vec![0.0f32; 3000];
        for beat in (0..3000).step_by(30) {
            envelope[beat] = 1.0;
            envelope[beat + 10] = 0.5;
            envelope[beat + 20] = 0.5;
        }
        let accents = accents(&Peaks::of(&envelope), 30.0);
        assert_eq!(accents.third, 0.5);
        assert_eq!(accents.offbeat, 0.0);
    }

    #[test]
    fn kick_and_snare_taking_turns_score_at_their_beat_only() {
        // Kick on beats 1 and 3, snare on 2 and 4, beats 30 frames apart, hats on every
        // eighth in neither register.
        let (mut low, mut mid) = (vec![0.0f32; 3000], vec![0.0f32; 3000]);
        for beat in 0..100 {
            let t = beat * 30;
            if beat % 2 == 0 {
                low[t] = 1.0;
            } else {
                mid[t] = 1.0;
            }
        }
        let (low, mid) = (Peaks::of(&low), Peaks::of(&mid));
        let at_beat = backbeat(&low, &mid, 30.0);
        assert!(at_beat > 0.9, "{at_beat}");
        for other in [60.0, 15.0, 45.0] {
            let b = backbeat(&low, &mid, other);
            assert!(b < 0.3, "period {other}: {b}");
        }
        // Kick and snare together on every beat: no turns at any level.
        assert!(backbeat(&low, &low, 30.0) < 1e-9);
    }
}
