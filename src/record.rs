//! The record of one track: the JSON object written per line of `tracks.jsonl`.
//!
//! Field names are snake_case with units in the name where a unit applies. A record carries either
//! the analysis (`vector` and the features) or an `error`; the decode facts are filled in as far as
//! they were learned before a failure.

use serde::{Deserialize, Deserializer, Serialize};

use crate::audio::SourceInfo;
use crate::error::AnalysisError;
use crate::features::danceability::Danceability;
use crate::features::energy::Energy;
use crate::features::tempo::{NoTempo, Tempo};
use crate::features::{Loudness, Spectral, Tonal};

/// One line of `tracks.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Content hash of the file's bytes (first 128 bits of BLAKE3, hex): a moved or renamed file
    /// keeps its id. `null` only when the file could not be read at all.
    pub id: Option<String>,
    /// The path as given or found by the folder walk.
    pub path: String,
    /// Version of sonovec that wrote the record.
    pub version: String,
    /// Id of the embedding model used, `null` while no model contributes to the vector.
    pub model: Option<String>,
    /// Decoded duration in seconds (samples decoded / sample rate, not the header's claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Sample rate of the source in Hz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    /// Channels in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Codec, as symphonia names it (`mp3`, `flac`, `vorbis`, `opus`, `aac`, `alac`, `pcm_s16le` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// Container (`wav`, `aiff`, `caf`, `flac`, `mp3`, `ogg`, `mp4`, `mkv` …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Frames of the shared spectrogram (62.5 per second of audio).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<usize>,
    /// Layout of `vector`; see `vector::VectorSpec::version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector_version: Option<String>,
    /// The content vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
    /// The vector mapped into a recommender's latent-factor space by `--projection` (K values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cf_vector: Option<Vec<f32>>,
    /// Loudness and energy (EBU R128 on the source channels, RMS on the 16 kHz mono signal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<Loudness>,
    /// Spectral shape and MFCC statistics of the shared spectrogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spectral: Option<Spectral>,
    /// Chroma, key and mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tonal: Option<Tonal>,
    /// Global tempo and beats (see `features::tempo::Tempo`); `null` when the track has no
    /// pulse, with the reason in `tempo_null_reason`. Absent from error records.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_even_if_null"
    )]
    pub tempo: Option<Option<Tempo>>,
    /// Why `tempo` is `null`: `too_short`, `no_onsets` or `no_pulse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo_null_reason: Option<NoTempo>,
    /// Perceived intensity, 0–1, and two of its ingredients (see `features::energy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy: Option<Energy>,
    /// Danceability by detrended fluctuation analysis, as Essentia's `Danceability` (see
    /// `features::danceability`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub danceability: Option<Danceability>,
    /// musicnn's penultimate layer (200 values) averaged over the analysed 3 s patches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// Standard deviation over patches of each `embedding` value (0 when one patch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_std: Option<Vec<f32>>,
    /// 3 s patches averaged into `embedding` and `tags`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_patches: Option<usize>,
    /// The model's tag probabilities averaged over patches, in the model's tag order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagScore>>,
    /// Problems that did not stop the analysis (skipped packets, replaced NaN samples …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Why the track could not be analysed; present only on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AnalysisError>,
}

/// One tag of the embedding model and its probability averaged over patches, in `[0, 1]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagScore {
    pub tag: String,
    pub p: f32,
}

impl Record {
    /// An empty record for `path`, stamped with this build's version.
    pub fn new(path: String, id: Option<String>) -> Self {
        Record {
            id,
            path,
            version: crate::VERSION.to_string(),
            ..Record::default()
        }
    }

    /// Copies what the decoder knows about the source.
    pub fn set_source(&mut self, info: &SourceInfo) {
        self.sample_rate = Some(info.sample_rate);
        self.channels = Some(info.channels);
        self.codec = Some(info.codec.clone());
        self.container = Some(info.container.clone());
    }

    /// Marks the record failed, dropping any partial analysis.
    pub fn fail(&mut self, error: AnalysisError) {
        self.vector = None;
        self.cf_vector = None;
        self.vector_version = None;
        self.frames = None;
        self.loudness = None;
        self.spectral = None;
        self.tonal = None;
        self.tempo = None;
        self.tempo_null_reason = None;
        self.energy = None;
        self.danceability = None;
        self.embedding = None;
        self.embedding_std = None;
        self.embedding_patches = None;
        self.tags = None;
        self.error = Some(error);
    }

    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// The key under which a run remembers this record: its content id, or its path if unread.
    pub fn key(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("path:{}", self.path),
        }
    }
}

/// Reads a field that is present as `null` into `Some(None)`, so `"tempo": null` round-trips.
fn present_even_if_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
