//! Signal processing shared by every feature: windows, the STFT and the mel filterbank.

pub mod lanes;
pub mod mel;
pub mod plans;
pub mod real_fft;
pub mod stft;
pub mod window;

pub use mel::MelFilterbank;
pub use stft::{SpectrogramConfig, SpectrogramPlan, StreamingSpectrogram};

/// A run of consecutive spectrogram frames, row-major (one frame per row).
pub struct SpectrogramBlock<'a> {
    /// Index of the first frame in the whole track.
    pub first_frame: usize,
    pub n_frames: usize,
    /// Power-spectrum bins per frame (`n_fft / 2 + 1`).
    pub n_bins: usize,
    /// Mel bands per frame.
    pub n_mels: usize,
    /// `|X|²` of each frame, `n_frames × n_bins`.
    pub power: &'a [f32],
    /// Mel energies of each frame (linear power), `n_frames × n_mels`.
    pub mel: &'a [f32],
}

impl SpectrogramBlock<'_> {
    pub fn mel_frames(&self) -> std::slice::ChunksExact<'_, f32> {
        self.mel.chunks_exact(self.n_mels)
    }

    pub fn power_frames(&self) -> std::slice::ChunksExact<'_, f32> {
        self.power.chunks_exact(self.n_bins)
    }
}

/// A consumer of spectrogram blocks: each feature that reads the shared spectrogram is one.
///
/// Blocks arrive in order, each exactly once; a sink keeps only what it needs of them.
pub trait FrameSink {
    fn accept(&mut self, block: &SpectrogramBlock<'_>);
}

/// musicnn's log compression of mel power, `log10(1 + 10000·x)`, used for every log-mel feature.
#[inline]
pub fn log_mel(power: f32) -> f32 {
    (1.0 + 10_000.0 * power).log10()
}
