//! From a file or bytes to the 16 kHz mono analysis signal.

pub mod decode;
pub mod resample;

pub use decode::{AudioStream, DecodedChunk, SourceInfo};
pub use resample::MonoResampler;

/// Averages planar channels into `mono`, replacing non-finite samples by silence.
///
/// Returns how many non-finite samples were replaced, so the caller can warn about them.
pub fn downmix_into(planar: &[Vec<f32>], mono: &mut Vec<f32>) -> usize {
    let frames = planar.first().map_or(0, Vec::len);
    mono.clear();
    mono.resize(frames, 0.0);
    let mut non_finite = 0;
    for channel in planar {
        for (m, &s) in mono.iter_mut().zip(channel) {
            if s.is_finite() {
                *m += s;
            } else {
                non_finite += 1;
            }
        }
    }
    let scale = 1.0 / planar.len().max(1) as f32;
    mono.iter_mut().for_each(|m| *m *= scale);
    non_finite
}
