//! The feature extractors fed by the analysis signal and the shared spectrogram, and what they
//! write into the record at the end of the track.

use std::time::{Duration, Instant};

use super::Config;
use crate::dsp::{FrameSink, SpectrogramBlock, SpectrogramConfig};
use crate::embed::Embedder;
use crate::features::danceability::DanceabilityMeter;
use crate::features::energy::EnergyInputs;
use crate::features::loudness::R128Meter;
use crate::features::{Descriptors, TempoTracker};
use crate::record::{Record, TagScore};
use crate::vector::VectorSpec;

/// Every feature computed from the analysis signal, one field each. Two feeds reach them: the
/// 16 kHz mono analysis signal (features with a transform of their own) and the shared
/// spectrogram (everything else). The native-rate loudness meter runs in the stream's front
/// (`super::stream`) and joins them in [`Extractors::finish`].
pub(super) struct Extractors<'m> {
    descriptors: Descriptors,
    tempo: TempoTracker,
    danceability: DanceabilityMeter,
    keep_beats: bool,
    vector: VectorSpec,
    embedder: Option<Embedder<'m>>,
    spent: Spent,
}

/// Time spent in the feature stages, measured where the extractors are called (a few clock
/// reads per spectrogram block and per decoded chunk, nothing per frame).
#[derive(Default)]
pub(super) struct Spent {
    pub(super) descriptors: Duration,
    pub(super) tempo: Duration,
    pub(super) embedding: Duration,
    /// The part of the three above spent inside the spectrogram's calls to the sinks.
    pub(super) in_sinks: Duration,
}

impl<'m> Extractors<'m> {
    pub(super) fn new(
        spectrogram: &SpectrogramConfig,
        config: &Config,
        vector: VectorSpec,
        embedder: Option<Embedder<'m>>,
    ) -> Self {
        Extractors {
            descriptors: Descriptors::new(spectrogram),
            tempo: TempoTracker::new(
                spectrogram.n_mels,
                spectrogram.frame_rate(),
                config.bpm_range,
            ),
            danceability: DanceabilityMeter::new(spectrogram.sample_rate),
            keep_beats: config.beats,
            vector,
            embedder,
            spent: Spent::default(),
        }
    }

    /// The 16 kHz mono analysis signal, in order, in pieces of any length.
    pub(super) fn accept_signal(&mut self, samples: &[f32]) {
        let clock = Instant::now();
        self.descriptors.accept_signal(samples);
        self.danceability.accept(samples);
        self.spent.descriptors += clock.elapsed();
    }

    /// Writes the features, the native-rate `loudness` meter's among them, and the content
    /// vector into the record; returns the time each feature stage took over the whole track.
    ///
    /// The descriptors' and danceability's ends run beside the embedding's and the tempo's, on
    /// the pool: on one long track they are all that is left once decoding ends, so every
    /// millisecond here is wall time that a second core could take (no result depends on
    /// which runs first).
    pub(super) fn finish(self, record: &mut Record, loudness: R128Meter) -> Spent {
        let Extractors {
            descriptors,
            mut tempo,
            danceability,
            keep_beats,
            vector,
            embedder,
            mut spent,
        } = self;
        // The beat activation's network and buffers (about 2 MB) go before the ends below need
        // theirs: `--embed-seconds` runs all of its patches there. They were allocated on the
        // streaming thread and the ends run on the pool's, hence the release.
        tempo.end_stream();
        super::release_freed_memory();
        let onset_rate = tempo.onset_rate();
        // Each side writes fields of its own, of the record and of `spent`.
        rayon::join(
            || {
                let clock = Instant::now();
                let spectral_entropy = descriptors.spectral_entropy();
                let (loudness, spectral, tonal) = descriptors.finish(loudness);
                record.energy = Some(crate::features::energy::Energy {
                    score: crate::features::energy::energy(&EnergyInputs {
                        loudness_lufs: loudness.integrated_lufs,
                        range_lu: loudness.range_lu,
                        onset_rate,
                        flux: spectral.flux_mean,
                        centroid_hz: spectral.centroid_hz_mean,
                        spectral_entropy,
                    }),
                    spectral_entropy: spectral_entropy.unwrap_or(0.0),
                    onset_rate,
                });
                record.danceability = Some(danceability.finish());
                record.loudness = Some(loudness);
                record.spectral = Some(spectral);
                record.tonal = Some(tonal);
                spent.descriptors += clock.elapsed();
            },
            || {
                let clock = Instant::now();
                if let Some(embedder) = embedder {
                    let model = embedder.model();
                    let finite = |s: &crate::embed::EmbeddingSummary| {
                        s.embedding
                            .iter()
                            .chain(&s.embedding_std)
                            .chain(&s.tags)
                            .all(|x| x.is_finite())
                    };
                    match embedder.finish() {
                        Some(summary) if !finite(&summary) => record.warnings.push(
                            "the embedding model produced non-finite values (extreme sample \
                             values?): embedding and tags are absent"
                                .to_string(),
                        ),
                        Some(summary) => {
                            record.model = Some(model.id.clone());
                            record.tags = Some(
                                model
                                    .tags
                                    .iter()
                                    .zip(&summary.tags)
                                    .map(|(tag, &p)| TagScore {
                                        tag: tag.clone(),
                                        p,
                                    })
                                    .collect(),
                            );
                            record.embedding = Some(summary.embedding);
                            record.embedding_std = Some(summary.embedding_std);
                            record.embedding_patches = Some(summary.patches);
                        }
                        None => record.warnings.push(
                            "no spectrogram frames: embedding and tags are absent".to_string(),
                        ),
                    }
                }
                spent.embedding += clock.elapsed();
                // After the embedding: the metrical-level decision reads its tags when there
                // are any.
                let clock = Instant::now();
                match tempo.finish(keep_beats, record.tags.as_deref()) {
                    Ok(tempo) => record.tempo = Some(Some(tempo)),
                    Err(reason) => {
                        record.tempo = Some(None);
                        record.tempo_null_reason = Some(reason);
                    }
                }
                spent.tempo += clock.elapsed();
            },
        );
        // Last: the vector is a view of the fields above.
        let (version, vector) = vector.assemble(record);
        record.vector_version = Some(version);
        record.vector = Some(vector);
        spent
    }
}

impl FrameSink for Extractors<'_> {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        let start = Instant::now();
        self.descriptors.accept(block);
        let descriptors_done = Instant::now();
        self.tempo.accept(block);
        let tempo_done = Instant::now();
        if let Some(embedder) = &mut self.embedder {
            embedder.accept(block);
        }
        let end = Instant::now();
        self.spent.descriptors += descriptors_done - start;
        self.spent.tempo += tempo_done - descriptors_done;
        self.spent.embedding += end - tempo_done;
        self.spent.in_sinks += end - start;
    }
}
