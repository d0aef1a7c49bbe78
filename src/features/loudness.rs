//! EBU R128 loudness of the source channels at their native rate: integrated loudness and
//! loudness range as the `ebur128` crate measures them (computed in one pass by [`super::r128`],
//! which tests hold to the crate within 1e-9 LU), true peak by the crate's oversampler
//! ([`TruePeak`]), and the dynamic complexity from the same 100 ms steps.
//!
//! Channels are weighted as ITU-R BS.1770 says: a one-channel file is measured as one channel
//! (weight 1.0), the same as ffmpeg's `ebur128` filter and libebur128 by default. The same audio
//! stored as two identical channels therefore measures 3.01 LU louder; that is the standard's
//! rule, not a bug. More channels follow libebur128's default map: 4 = L R Ls Rs, 5 = L R C Ls
//! Rs, 6+ = L R C LFE(ignored) Ls Rs, the rest ignored.

use super::r128::{energy_to_loudness, Gating, KWeightedSteps};
use super::stats::{finite_or_null, MeanStd, NullReasons};
use super::true_peak::TruePeak;

/// Short-term loudness integrates the last 3 s.
const SHORT_TERM_S: f64 = 3.0;
/// Tech 3341's absolute gate: short-term values below it are silence, not dynamics.
const ABSOLUTE_GATE_LUFS: f64 = -70.0;

/// What the EBU R128 measurement found; each value finite or `None` with a reason.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct R128Values {
    pub integrated_lufs: Option<f64>,
    pub range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub dynamic_complexity_lu: Option<f64>,
}

/// The meters of one stream, made when its first audio arrives.
struct Meters {
    channels: usize,
    rate: u32,
    steps: KWeightedSteps,
    gating: Gating,
    /// True peak, measured apart so that quiet stretches can skip the oversampler.
    peak: TruePeak,
}

/// Streams native-rate planar audio through EBU R128 meters (integrated, range, true peak) and
/// samples the short-term loudness every 100 ms for the dynamic complexity.
pub struct R128Meter {
    meters: Option<Meters>,
    /// Set when the stream cannot be measured (unsupported layout, a format change midway).
    broken: Option<String>,
    frames_seen: u64,
    short_term: MeanStd,
    short_term_values: Vec<f64>,
}

impl Default for R128Meter {
    fn default() -> Self {
        Self::new()
    }
}

impl R128Meter {
    pub fn new() -> Self {
        R128Meter {
            meters: None,
            broken: None,
            frames_seen: 0,
            short_term: MeanStd::default(),
            short_term_values: Vec::new(),
        }
    }

    /// Adds planar samples (`planar[channel][frame]`, full scale ±1) at `sample_rate` Hz.
    pub fn accept(&mut self, planar: &[Vec<f32>], sample_rate: u32) {
        if self.broken.is_some() || planar.is_empty() {
            return;
        }
        let channels = planar.len();
        let meters = match &mut self.meters {
            Some(m) if m.channels == channels && m.rate == sample_rate => m,
            Some(_) => {
                self.broken = Some("the stream changed sample rate or channel count midway".into());
                return;
            }
            None => match TruePeak::new(channels as u32, sample_rate) {
                // The crate's true-peak meter checks the channel count and rate it can measure.
                Ok(peak) => {
                    let steps = KWeightedSteps::new(channels, sample_rate);
                    self.meters.insert(Meters {
                        channels,
                        rate: sample_rate,
                        gating: Gating::new(steps.step_frames()),
                        steps,
                        peak,
                    })
                }
                Err(e) => {
                    self.broken = Some(format!(
                        "EBU R128 cannot measure {channels} channel(s) at {sample_rate} Hz ({e:?})"
                    ));
                    return;
                }
            },
        };
        let len = planar.iter().map(Vec::len).min().unwrap_or(0);
        let slices: Vec<&[f32]> = planar.iter().map(|c| &c[..len]).collect();
        if let Err(e) = meters.peak.accept(&slices) {
            self.broken = Some(format!("EBU R128 true-peak meter error ({e:?})"));
            return;
        }
        self.frames_seen += len as u64;
        let (gating, short_term, values) = (
            &mut meters.gating,
            &mut self.short_term,
            &mut self.short_term_values,
        );
        meters.steps.accept(&slices, |step_sum| {
            let Some(energy) = gating.push(step_sum) else {
                return;
            };
            let lufs = energy_to_loudness(energy);
            if lufs.is_finite() && lufs >= ABSOLUTE_GATE_LUFS {
                short_term.push(lufs);
                values.push(lufs);
            }
        });
    }

    /// The measurements, with a reason for each one that has no finite value.
    pub fn finish(self, reasons: &mut NullReasons) -> R128Values {
        let Some(meters) = self.meters.filter(|_| self.broken.is_none()) else {
            let reason = self
                .broken
                .unwrap_or_else(|| "no audio reached the loudness meter".into());
            for field in [
                "integrated_lufs",
                "range_lu",
                "true_peak_dbtp",
                "dynamic_complexity_lu",
            ] {
                reasons.insert(field.into(), reason.clone());
            }
            return R128Values::default();
        };
        let integrated_lufs = finite_or_null(
            Some(meters.gating.integrated()),
            "integrated_lufs",
            "no 400 ms block above the -70 LUFS absolute gate (silent, or shorter than 0.4 s)",
            reasons,
        );
        let range_lu = finite_or_null(
            Some(meters.gating.range()),
            "range_lu",
            "no 3 s short-term block above the -70 LUFS absolute gate",
            reasons,
        );
        let true_peak_dbtp = finite_or_null(
            Some(20.0 * meters.peak.peak().log10()),
            "true_peak_dbtp",
            "digital silence: every sample is zero",
            reasons,
        );
        let dynamic_complexity_lu = if self.short_term.count() == 0 {
            let reason = if (self.frames_seen as f64) < SHORT_TERM_S * meters.rate as f64 - 0.5 {
                "shorter than the 3 s short-term loudness window"
            } else {
                "no short-term loudness above the -70 LUFS absolute gate"
            };
            reasons.insert("dynamic_complexity_lu".into(), reason.into());
            None
        } else {
            let mean = self.short_term.mean().unwrap_or(0.0);
            let mad = self
                .short_term_values
                .iter()
                .map(|v| (v - mean).abs())
                .sum::<f64>()
                / self.short_term_values.len() as f64;
            finite_or_null(Some(mad), "dynamic_complexity_lu", "not finite", reasons)
        };
        R128Values {
            integrated_lufs,
            range_lu,
            true_peak_dbtp,
            dynamic_complexity_lu,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(amplitude: f32, seconds: f64, rate: u32) -> Vec<f32> {
        let n = (seconds * rate as f64) as usize;
        (0..n)
            .map(|i| {
                amplitude
                    * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / rate as f64).sin() as f32
            })
            .collect()
    }

    fn measure(planar: &[Vec<f32>], rate: u32, piece: usize) -> (R128Values, NullReasons) {
        let mut meter = R128Meter::new();
        let len = planar[0].len();
        let mut start = 0;
        while start < len {
            let end = len.min(start + piece);
            let chunk: Vec<Vec<f32>> = planar.iter().map(|c| c[start..end].to_vec()).collect();
            meter.accept(&chunk, rate);
            start = end;
        }
        let mut reasons = NullReasons::new();
        (meter.finish(&mut reasons), reasons)
    }

    #[test]
    fn tech_3341_case_1_stereo_sine_at_minus_23_dbfs_is_minus_23_lufs() {
        let s = sine(10f32.powf(-23.0 / 20.0), 20.0, 48_000);
        let (v, _) = measure(&[s.clone(), s], 48_000, 4096);
        assert!((v.integrated_lufs.unwrap() + 23.0).abs() < 0.1, "{v:?}");
        // A steady tone has no dynamics.
        assert!(v.dynamic_complexity_lu.unwrap() < 0.05, "{v:?}");
        assert!(v.range_lu.unwrap() < 0.1, "{v:?}");
    }

    #[test]
    fn chunk_size_does_not_change_the_result() {
        let s: Vec<f32> = sine(0.5, 8.0, 44_100)
            .iter()
            .enumerate()
            .map(|(i, x)| x * (1.0 + (i as f32 / 20_000.0).sin()) / 2.0)
            .collect();
        let (a, _) = measure(std::slice::from_ref(&s), 44_100, 1000);
        let (b, _) = measure(&[s], 44_100, 65_536);
        assert_eq!(a, b);
    }

    /// The dynamic complexity as it was computed before the one-pass meter: the crate's
    /// `loudness_window(100)` every 100 ms, 30 of them averaged in energy.
    fn crate_dynamic_complexity(planar: &[Vec<f32>], rate: u32) -> f64 {
        use ebur128::{EbuR128, Mode};
        let mut m = EbuR128::new(planar.len() as u32, rate, Mode::I | Mode::LRA).unwrap();
        let step = (rate as usize + 5) / 10;
        let (mut recent, mut values) = (std::collections::VecDeque::new(), Vec::new());
        for start in (0..planar[0].len() - step + 1).step_by(step) {
            let s: Vec<&[f32]> = planar.iter().map(|c| &c[start..start + step]).collect();
            m.add_frames_planar_f32(&s).unwrap();
            let l = m.loudness_window(100).unwrap();
            recent.push_back(if l.is_finite() {
                10f64.powf((l + 0.691) / 10.0)
            } else {
                0.0
            });
            if recent.len() > 30 {
                recent.pop_front();
            }
            if recent.len() == 30 {
                let lufs = -0.691 + 10.0 * (recent.iter().sum::<f64>() / 30.0).log10();
                if lufs.is_finite() && lufs >= -70.0 {
                    values.push(lufs);
                }
            }
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        values.iter().map(|v| (v - mean).abs()).sum::<f64>() / values.len() as f64
    }

    #[test]
    fn dynamic_complexity_equals_the_crates_100_ms_windows() {
        for (channels, rate) in [(2, 44_100), (1, 48_000), (6, 96_000)] {
            let planar: Vec<Vec<f32>> = (0..channels)
                .map(|c| {
                    sine(0.5, 20.0, rate)
                        .iter()
                        .enumerate()
                        .map(|(i, x)| {
                            let t = i as f32 / rate as f32;
                            x * (0.55 + 0.45 * (0.9 * t + c as f32).sin())
                        })
                        .collect()
                })
                .collect();
            let (v, _) = measure(&planar, rate, 3000);
            let theirs = crate_dynamic_complexity(&planar, rate);
            let ours = v.dynamic_complexity_lu.unwrap();
            assert!(
                (ours - theirs).abs() < 1e-9,
                "{rate} Hz: {ours} vs {theirs}"
            );
            assert!(ours > 0.2, "the envelope moves the loudness: {ours}");
        }
    }

    #[test]
    fn silence_gives_nulls_with_reasons() {
        let (v, reasons) = measure(&[vec![0.0; 96_000 * 4]], 48_000, 4096);
        assert_eq!(v.integrated_lufs, None);
        assert_eq!(v.true_peak_dbtp, None);
        assert_eq!(v.dynamic_complexity_lu, None);
        assert!(reasons["integrated_lufs"].contains("gate"));
        assert!(reasons["true_peak_dbtp"].contains("silence"));
        assert!(reasons["dynamic_complexity_lu"].contains("gate"));
    }
}
