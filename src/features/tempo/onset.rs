//! The onset-strength envelope: half-wave-rectified spectral flux of the log-mel spectrogram.

use crate::dsp::lanes::log_mel_into;
use crate::dsp::{FrameSink, SpectrogramBlock};

/// Onset strength per spectrogram frame (62.5 per second by default), kept as one `f32` a frame.
///
/// Value of frame `t`: the mean over the mel bands of `max(0, L[t][b] − L[t−1][b])`, where
/// `L = log10(1 + 10000·mel)` is the shared log-mel compression; frame 0 is 0. The unit is log-mel
/// units per frame (≥ 0; a loud drum hit from silence gives about 1–3). Log compression makes the
/// flux respond to relative changes, so quiet and loud passages count alike; the band mean weights
/// every mel band the same, which on the mel scale favours the low and middle registers where
/// kick, snare and bass carry the pulse. Smoothing is left to the consumers: the periodicity
/// analysis and the beat tracker each smooth it as they need.
///
/// Alongside, the same flux (mean rise per band) over two registers, which the metrical-level
/// decision reads separately: the lowest [`LOW_BAND_FRACTION`] of the mel bands (below about
/// 250 Hz with 96 bands to 8 kHz: kick drum and bass) and the middle [`MID_BANDS`] (about
/// 0.75–3.6 kHz: the snare's noise, claps, rim shots); and the totals of the low and the whole
/// flux (their ratio is the share of onset energy in the low register).
#[derive(Clone, Debug)]
pub struct OnsetEnvelope {
    previous: Vec<f32>,
    current: Vec<f32>,
    strength: Vec<f32>,
    low: Vec<f32>,
    mid: Vec<f32>,
    low_total: f64,
    total: f64,
}

/// Fraction of the mel bands, from the lowest, in the low-register envelope.
pub const LOW_BAND_FRACTION: f64 = 1.0 / 12.0;
/// The middle register, as fractions of the mel bands from the lowest: `[start, end)`.
pub const MID_BANDS: (f64, f64) = (0.25, 0.75);

/// Band index ranges `[0, low)` and `[mid.0, mid.1)` of `n` mel bands.
fn registers(n: usize) -> (usize, (usize, usize)) {
    let at = |f: f64| ((n as f64 * f).round() as usize).min(n);
    (
        at(LOW_BAND_FRACTION).max(1).min(n),
        (at(MID_BANDS.0), at(MID_BANDS.1)),
    )
}

impl OnsetEnvelope {
    pub fn new(n_mels: usize) -> Self {
        OnsetEnvelope {
            previous: Vec::with_capacity(n_mels),
            current: vec![0.0; n_mels],
            strength: Vec::new(),
            low: Vec::new(),
            mid: Vec::new(),
            low_total: 0.0,
            total: 0.0,
        }
    }

    /// The low-register envelope (mean rise of the lowest bands), one value per frame.
    pub fn low(&self) -> &[f32] {
        &self.low
    }

    /// The middle-register envelope (snare, claps), one value per frame.
    pub fn mid(&self) -> &[f32] {
        &self.mid
    }

    /// Share of the summed rises that falls in the low bands, 0–1 (0 without onsets).
    pub fn low_share(&self) -> f64 {
        if self.total > 0.0 {
            (self.low_total / self.total).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The envelope so far, one value per frame.
    pub fn strength(&self) -> &[f32] {
        &self.strength
    }

    /// The next frame, already log-compressed (`log10(1 + 10000·mel)`, as
    /// [`log_mel_into`] computes it): for a caller that needs that frame too.
    pub fn push_log_mel(&mut self, log_mel: &[f32]) {
        self.current.clear();
        self.current.extend_from_slice(log_mel);
        self.push_current();
    }

    /// Adds the frame in `current` to the envelopes.
    fn push_current(&mut self) {
        let n = self.current.len();
        let (n_low, (mid_start, mid_end)) = registers(n);
        // The full flux is summed as low + rest (in that order) so its f32 rounding, which
        // the energy score's onset rate also reads, is what it was before the registers.
        let (mut low, mut rest, mut mid) = (0.0f32, 0.0f32, 0.0f32);
        if self.previous.len() == n {
            for (b, (c, p)) in self.current.iter().zip(&self.previous).enumerate() {
                let rise = (c - p).max(0.0);
                if b < n_low {
                    low += rise;
                } else {
                    rest += rise;
                }
                if (mid_start..mid_end).contains(&b) {
                    mid += rise;
                }
            }
        }
        let all = low + rest;
        let mean = |sum: f32, count: usize| sum / count.max(1) as f32;
        self.total += all as f64;
        self.low_total += low as f64;
        self.strength.push(mean(all, n));
        self.low.push(mean(low, n_low));
        self.mid.push(mean(mid, mid_end - mid_start));
        std::mem::swap(&mut self.previous, &mut self.current);
    }
}

impl FrameSink for OnsetEnvelope {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        for frame in block.mel_frames() {
            self.current.resize(frame.len(), 0.0);
            log_mel_into(frame, &mut self.current);
            self.push_current();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_is_the_mean_rise_of_the_log_mel_bands() {
        let mut onset = OnsetEnvelope::new(2);
        // Frame values 9e-4 → log-mel 1, 9.9e-3 → 2; 0 → 0.
        let mel = [0.0f32, 0.0, 9e-4, 9.9e-3, 9e-4, 9e-4, 0.0, 0.0];
        onset.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: 2,
            n_bins: 0,
            n_mels: 2,
            power: &[],
            mel: &mel[..4],
        });
        onset.accept(&SpectrogramBlock {
            first_frame: 2,
            n_frames: 2,
            n_bins: 0,
            n_mels: 2,
            power: &[],
            mel: &mel[4..],
        });
        let s = onset.strength();
        assert_eq!(s.len(), 4);
        assert!(s[0] == 0.0 && (s[1] - 1.5).abs() < 1e-5, "{s:?}");
        assert!(
            s[2].abs() < 1e-6 && s[3] == 0.0,
            "falls are not onsets: {s:?}"
        );
    }
}
