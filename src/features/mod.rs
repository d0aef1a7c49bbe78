//! Features computed from the shared spectrogram. Each is a [`crate::dsp::FrameSink`].

pub mod mel_stats;
pub mod tempo;

pub use mel_stats::MelStats;
pub use tempo::TempoTracker;
