//! Frame RMS level and zero-crossing rate of the 16 kHz analysis signal, in the frames of the
//! shared spectrogram (512 samples, hop 256, centred).
//!
//! Both are computed in the time domain, as librosa does, from per-hop partial sums, so the signal
//! is read once and never buffered: frame `t` covers samples `[256·t − 256, 256·t + 256)`, which
//! is hops `t − 1` and `t`.

use crate::dsp::lanes::lane_sums;

use super::stats::MeanStd;

/// Frame length and hop of the shared spectrogram, in samples at 16 kHz.
const FRAME: usize = 512;
const HOP: usize = 256;
/// A frame whose RMS is below this level is counted as silent.
pub const SILENCE_DBFS: f64 = -60.0;
/// librosa's `amplitude_to_db` floor (`amin = 1e-5`): RMS levels are clamped at −100 dBFS.
const RMS_FLOOR: f64 = 1e-5;

/// Running statistics of frame RMS level (dBFS) and zero-crossing rate.
///
/// A crossing belongs to the hop of its right-hand sample `i` (the pair `(i − 1, i)`); frame `t`
/// counts the crossings of hop `t − 1` except the one into its first sample (that pair starts in
/// hop `t − 2`), and every crossing of hop `t`.
#[derive(Clone, Debug, Default)]
pub struct FrameLevels {
    /// The samples of a hop that came in pieces, until the hop is whole: each hop is summed at
    /// once, so its rounding does not depend on how the stream was cut.
    partial: Vec<f32>,
    last_negative: Option<bool>,
    hop: HopSums,
    prev: HopSums,
    rms_dbfs: MeanStd,
    zcr: MeanStd,
    silent_frames: u64,
}

/// Sums over one hop of 256 samples.
#[derive(Clone, Copy, Debug, Default)]
struct HopSums {
    energy: f64,
    /// Crossing into the hop's first sample from the previous hop's last.
    first_crossing: u32,
    /// Crossings between samples of this hop.
    inner_crossings: u32,
}

/// librosa.zero_crossings: |x| ≤ 1e-10 counts as +0, a crossing is a sign-bit change.
fn negative(x: f32) -> bool {
    x.is_sign_negative() && x.abs() > 1e-10
}

/// The sums of a hop's samples (all of them, or the last hop's few), in four partial sums;
/// `last_negative` is the sign of the sample before the hop, and becomes that of its last one.
fn hop_sums(last_negative: &mut Option<bool>, hop: &[f32]) -> HopSums {
    let Some((&first, &last)) = hop.first().zip(hop.last()) else {
        return HopSums::default();
    };
    let first_crossing = last_negative.is_some_and(|n| n != negative(first)) as u32;
    *last_negative = Some(negative(last));
    let inner_crossings = hop
        .windows(2)
        .map(|pair| u32::from(negative(pair[0]) != negative(pair[1])))
        .sum();
    let [energy] = lane_sums(hop, |_, x| [x as f64 * x as f64]);
    HopSums {
        energy,
        first_crossing,
        inner_crossings,
    }
}

impl FrameLevels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next samples of the 16 kHz mono signal.
    pub fn accept(&mut self, mut samples: &[f32]) {
        while !samples.is_empty() {
            if self.partial.is_empty() && samples.len() >= HOP {
                let (hop, rest) = samples.split_at(HOP);
                let sums = hop_sums(&mut self.last_negative, hop);
                self.close_hop(sums);
                samples = rest;
                continue;
            }
            let take = (HOP - self.partial.len()).min(samples.len());
            self.partial.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.partial.len() == HOP {
                let sums = hop_sums(&mut self.last_negative, &self.partial);
                self.close_hop(sums);
                self.partial.clear();
            }
        }
    }

    /// Emits the frame that ends with the hop of these sums and makes it the previous hop.
    fn close_hop(&mut self, sums: HopSums) {
        self.hop = sums;
        self.emit_frame();
        self.prev = std::mem::take(&mut self.hop);
    }

    /// Emits the frame made of the previous hop and the current one.
    fn emit_frame(&mut self) {
        let energy = self.prev.energy + self.hop.energy;
        let crossings =
            self.prev.inner_crossings + self.hop.first_crossing + self.hop.inner_crossings;
        let rms = (energy / FRAME as f64).sqrt();
        let dbfs = 20.0 * rms.max(RMS_FLOOR).log10();
        self.rms_dbfs.push(dbfs);
        if dbfs < SILENCE_DBFS {
            self.silent_frames += 1;
        }
        self.zcr.push(crossings as f64 / FRAME as f64);
    }

    /// Emits the last frame (the last, partial or empty, hop and the padding) and returns the
    /// statistics over all `1 + n / 256` frames, the frames of the shared spectrogram.
    pub fn finish(mut self) -> FrameLevelStats {
        self.hop = hop_sums(&mut self.last_negative, &self.partial);
        self.emit_frame();
        FrameLevelStats {
            frames: self.rms_dbfs.count(),
            rms_dbfs: self.rms_dbfs,
            zcr: self.zcr,
            silent_fraction: self.silent_frames as f64 / self.rms_dbfs.count() as f64,
        }
    }
}

/// The statistics of [`FrameLevels`] over the whole track.
#[derive(Clone, Copy, Debug)]
pub struct FrameLevelStats {
    pub frames: u64,
    /// `20·log10(max(1e-5, rms))` of each frame, dBFS (a full-scale sine is −3.01 dBFS).
    pub rms_dbfs: MeanStd,
    /// Fraction of the 511 sample pairs of each frame whose sign differs, divided by 512.
    pub zcr: MeanStd,
    /// Fraction of frames below [`SILENCE_DBFS`], 0–1.
    pub silent_fraction: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// librosa's definitions written out frame by frame, for comparison.
    fn direct(signal: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let n = signal.len() as i64;
        let frames = 1 + n / HOP as i64;
        let at = |i: i64| signal[i.clamp(0, n - 1) as usize];
        let mut rms = Vec::new();
        let mut zcr = Vec::new();
        for t in 0..frames {
            let (lo, hi) = (t * HOP as i64 - 256, t * HOP as i64 + 256);
            let energy: f64 = (lo.max(0)..hi.min(n)).map(|i| (at(i) as f64).powi(2)).sum();
            rms.push(20.0 * (energy / 512.0).sqrt().max(1e-5).log10());
            let neg = |x: f32| x.is_sign_negative() && x.abs() > 1e-10;
            let crossings = (lo + 1..hi)
                .filter(|&i| neg(at(i)) != neg(at(i - 1)))
                .count();
            zcr.push(crossings as f64 / 512.0);
        }
        (rms, zcr)
    }

    #[test]
    fn streaming_sums_equal_the_frame_by_frame_definition() {
        for n in [1usize, 255, 256, 257, 511, 512, 5000] {
            let signal: Vec<f32> = (0..n)
                .map(|i| ((i as f32 * 0.37).sin() + 0.2) * (1.0 + (i % 13) as f32 / 10.0))
                .collect();
            let (rms, zcr) = direct(&signal);
            let mut levels = FrameLevels::new();
            for piece in signal.chunks(100) {
                levels.accept(piece);
            }
            let stats = levels.finish();
            assert_eq!(stats.frames as usize, rms.len(), "n = {n}");
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            assert!(
                (stats.rms_dbfs.mean().unwrap() - mean(&rms)).abs() < 1e-9,
                "n = {n}"
            );
            assert!(
                (stats.zcr.mean().unwrap() - mean(&zcr)).abs() < 1e-12,
                "n = {n}"
            );
        }
    }

    /// However the stream is cut into pieces, every hop is summed whole: the same bits.
    #[test]
    fn the_cut_of_the_stream_does_not_change_a_bit() {
        let signal: Vec<f32> = (0..5000)
            .map(|i| ((i as f32 * 0.37).sin() + 0.2) * (1.0 + (i % 13) as f32 / 10.0))
            .collect();
        let bits = |piece: usize| {
            let mut levels = FrameLevels::new();
            for chunk in signal.chunks(piece) {
                levels.accept(chunk);
            }
            let stats = levels.finish();
            let (rms, zcr) = (stats.rms_dbfs, stats.zcr);
            [rms.mean(), rms.std(), zcr.mean(), zcr.std()].map(|v| v.unwrap().to_bits())
        };
        let whole = bits(signal.len());
        for piece in [1, 7, 100, 256, 300, 1024] {
            assert_eq!(bits(piece), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn a_full_scale_sine_is_minus_3_dbfs_and_silence_is_silent() {
        let sine: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let mut levels = FrameLevels::new();
        levels.accept(&sine[..]);
        levels.accept(&[0.0; 32_000]);
        let stats = levels.finish();
        let frames = stats.frames as f64;
        assert!(
            (stats.silent_fraction - 125.0 / frames).abs() < 0.01,
            "{stats:?}"
        );
        let mut sine_only = FrameLevels::new();
        sine_only.accept(&sine[..]);
        let s = sine_only.finish();
        // Interior frames are -3.01 dBFS; the two half-empty edge frames pull the mean down a bit.
        assert!((s.rms_dbfs.mean().unwrap() + 3.01).abs() < 0.2, "{s:?}");
        // 2000 crossings per second of a 1 kHz tone: 64 per 512-sample frame.
        assert!((s.zcr.mean().unwrap() - 0.125).abs() < 0.01, "{s:?}");
    }
}
