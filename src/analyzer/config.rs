//! What an [`Analyzer`](super::Analyzer) is set up with, and what it reports of its time.

use std::time::Duration;

use super::StreamThreads;
use crate::dsp::SpectrogramConfig;
use crate::embed::ModelChoice;
use crate::features::tempo::BpmRange;
use crate::vector::{BlockWeights, VectorSpec};

/// Inputs smaller than this run the embedding on at most [`SMALL_INPUT_EMBEDDING_S`] seconds of
/// evenly spaced patches, unless the configuration chooses how many itself.
///
/// Analysis costs time per second of audio, and the embedding most of it (85 % of 1000 s of
/// 8-bit noise at 1 kHz, a 1 MB WAV); a small input can hold a long stretch of audio honestly
/// (PCM at a low rate, speech codecs) or by a header's lie, so this is what bounds the cost of
/// an upload under 1 MB. An input this small holding more than 300 s of audio is under
/// 28 kbit/s; music at any usual bitrate never meets the cap.
pub const SMALL_INPUT_BYTES: u64 = 1 << 20;
/// See [`SMALL_INPUT_BYTES`]: 100 patches of 3 s.
pub const SMALL_INPUT_EMBEDDING_S: f64 = 300.0;

/// Settings of an [`Analyzer`](super::Analyzer).
#[derive(Clone, Debug)]
pub struct Config {
    /// Tracks longer than this many seconds are rejected with `too_long` once decoding reaches it.
    pub max_duration_s: f64,
    /// The shared spectrogram (16 kHz, Hann 512, hop 256, 96 mel bands by default).
    pub spectrogram: SpectrogramConfig,
    /// Write the beat times (`tempo.beats_s`) into the record.
    pub beats: bool,
    /// The learned embedding (musicnn MSD by default); `None` skips it.
    pub embedding: Option<EmbeddingConfig>,
    /// Block weights of the content vector; `None` for those of `models/vector.json`.
    pub vector_weights: Option<BlockWeights>,
    /// The tempo is chosen within this range (`--bpm-range`); `None` lets the metrical-level
    /// model choose from 40–260 BPM.
    pub bpm_range: Option<BpmRange>,
    /// Whether decoding and the native-rate meter run on threads of their own beside the
    /// features (the same record either way).
    pub stream_threads: StreamThreads,
}

impl Config {
    /// What this configuration's content vectors are made of (and so their `vector_version`).
    /// Hashes a model file (`ModelChoice::File`) to name it; an unreadable one, which no
    /// analyzer can load, falls back to its name.
    pub fn vector_spec(&self) -> VectorSpec {
        let model = self
            .embedding
            .as_ref()
            .map(|e| e.model.id().unwrap_or_else(|_| e.model.name()));
        VectorSpec::new(model, self.vector_weights).with_bpm_range(self.bpm_range)
    }
}

/// Which embedding model runs, and on how much of each track.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingConfig {
    pub model: ModelChoice,
    /// Analyse about this many seconds of evenly spaced 3 s patches instead of every patch.
    pub seconds: Option<f64>,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model: ModelChoice::Msd,
            seconds: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_duration_s: 6.0 * 3600.0,
            spectrogram: SpectrogramConfig::default(),
            beats: false,
            embedding: Some(EmbeddingConfig::default()),
            vector_weights: None,
            bpm_range: None,
            stream_threads: StreamThreads::Auto,
        }
    }
}

/// Wall-clock time spent in each stage of one analysis (for `bench` and profiling).
///
/// On one thread the stages do not overlap and add up to `total` (up to the few instructions
/// between the clocks); when the stream is pipelined (see [`StreamThreads`]), `decode` is the
/// decoding thread's time, the mixdown in `resample` and the native-rate part of `descriptors`
/// the meter thread's, and they overlap the others. `descriptors` covers every feature other than tempo and the embedding: loudness,
/// spectral shape, chroma/key, the mel statistics and the content vector. `embedding` includes
/// the patches run in parallel on the rayon pool (wall time of this thread while it waits).
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimings {
    pub hash: Duration,
    pub decode: Duration,
    pub resample: Duration,
    pub spectrogram: Duration,
    pub descriptors: Duration,
    pub tempo: Duration,
    pub embedding: Duration,
    pub total: Duration,
    /// CPU time of the three threads of a pipelined stream: decoding, the native-rate meter and
    /// the features (the spectrogram's frames and the embedding's patches on the rayon pool
    /// not included); zero when the stream ran on one thread.
    pub stream_threads_cpu: [Duration; 3],
}

impl StageTimings {
    /// Every feature stage together: descriptors, tempo and beats, and the embedding.
    pub fn features(&self) -> Duration {
        self.descriptors + self.tempo + self.embedding
    }
}

impl std::ops::AddAssign for StageTimings {
    fn add_assign(&mut self, other: StageTimings) {
        self.hash += other.hash;
        self.decode += other.decode;
        self.resample += other.resample;
        self.spectrogram += other.spectrogram;
        self.descriptors += other.descriptors;
        self.tempo += other.tempo;
        self.embedding += other.embedding;
        self.total += other.total;
        for (a, b) in self
            .stream_threads_cpu
            .iter_mut()
            .zip(other.stream_threads_cpu)
        {
            *a += b;
        }
    }
}
