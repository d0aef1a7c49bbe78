//! Features computed from the shared spectrogram. Each is a [`crate::dsp::FrameSink`].

pub mod chroma;
pub mod danceability;
pub mod descriptors;
pub mod energy;
pub mod frame_levels;
pub mod key;
pub mod loudness;
pub mod mfcc;
pub mod oversample;
pub mod r128;
pub mod spectral_shape;
pub mod stats;
pub mod tempo;
pub mod true_peak;

pub use descriptors::{Descriptors, Loudness, Spectral, Tonal};
pub use tempo::TempoTracker;
