//! From a file or bytes to the 16 kHz mono analysis signal.

pub mod declared_rate;
pub mod decode;
pub mod end_trim;
pub mod hashing;
pub mod limits;
pub mod mp3;
pub mod mp4_edit;
pub mod ogg_headers;
pub mod resample;
pub mod segments;
#[cfg(test)]
mod test_tracks;

pub use decode::{AudioStream, DecodedChunk, SourceInfo};
pub use resample::MonoResampler;

/// Largest sample magnitude passed on. Full scale is 1.0; float files may exceed it a little, but
/// garbage in a float file (1e30, say) would overflow the power spectrum to infinity.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1000.0;

/// Samples that [`downmix_into`] had to repair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repairs {
    /// NaN or infinite samples, replaced by silence.
    pub non_finite: usize,
    /// Samples beyond ±[`MAX_SAMPLE_MAGNITUDE`], clipped to it.
    pub clipped: usize,
}

impl std::ops::AddAssign for Repairs {
    fn add_assign(&mut self, other: Repairs) {
        self.non_finite += other.non_finite;
        self.clipped += other.clipped;
    }
}

/// Averages planar channels into `mono`, repairing samples no real signal has.
pub fn downmix_into(planar: &[Vec<f32>], mono: &mut Vec<f32>) -> Repairs {
    let frames = planar.first().map_or(0, Vec::len);
    mono.clear();
    let clean = |channel: &[f32]| {
        channel
            .iter()
            .fold(true, |ok, s| ok & (s.abs() <= MAX_SAMPLE_MAGNITUDE))
    };
    if let [left, right] = planar {
        if left.len() == right.len() && clean(left) && clean(right) {
            // Nearly every stereo packet: one pass, the same operations as below (a sum from
            // +0.0, then the scale), so the same bits.
            mono.extend(left.iter().zip(right).map(|(&l, &r)| ((0.0 + l) + r) * 0.5));
            return Repairs::default();
        }
    }
    mono.resize(frames, 0.0);
    let mut repairs = Repairs::default();
    for channel in planar {
        // A branch-free scan (NaN fails the comparison) lets clean packets, nearly all of them,
        // take the plain vectorised sum.
        if clean(channel) {
            mono.iter_mut().zip(channel).for_each(|(m, &s)| *m += s);
            continue;
        }
        for (m, &s) in mono.iter_mut().zip(channel) {
            if !s.is_finite() {
                repairs.non_finite += 1;
            } else if s.abs() > MAX_SAMPLE_MAGNITUDE {
                repairs.clipped += 1;
                *m += s.clamp(-MAX_SAMPLE_MAGNITUDE, MAX_SAMPLE_MAGNITUDE);
            } else {
                *m += s;
            }
        }
    }
    if planar.len() > 1 {
        let scale = 1.0 / planar.len() as f32;
        mono.iter_mut().for_each(|m| *m *= scale);
    }
    repairs
}
