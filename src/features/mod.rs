//! Features computed from the shared spectrogram. Each is a [`crate::dsp::FrameSink`].

pub mod mel_stats;

pub use mel_stats::MelStats;
