//! Streams a track's log-mel spectrogram through musicnn in 3 s patches and averages the outputs.

use rayon::prelude::*;

use super::network::{EMBEDDING_DIM, N_MELS, N_TAGS, PATCH_FRAMES};
use super::Model;
use crate::dsp::{log_mel, FrameSink, SpectrogramBlock};

const PATCH_LEN: usize = PATCH_FRAMES * N_MELS;
const OUT_LEN: usize = EMBEDDING_DIM + N_TAGS;

/// What the network says about a whole track.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingSummary {
    /// Mean over patches of the penultimate layer (200 values, unbounded, typically −3…6).
    pub embedding: Vec<f32>,
    /// Population standard deviation over patches of each embedding value (0 for one patch).
    pub embedding_std: Vec<f32>,
    /// Mean over patches of each tag probability, in `[0, 1]`, in the model's tag order.
    pub tags: Vec<f32>,
    /// Patches averaged.
    pub patches: usize,
}

/// A [`FrameSink`] that cuts the log-mel spectrogram `log10(1 + 10000·mel)` into consecutive,
/// non-overlapping patches of 187 frames (3.0 s) and runs each through the model, as musicnn
/// does: the trailing partial patch is dropped, and a track shorter than one patch is
/// repeat-padded to one patch.
///
/// By default every patch is analysed, a few at a time in parallel (rayon) as the spectrogram
/// streams in; only the frames of the patches not yet run are held. With
/// [`Embedder::with_seconds`] only about `N / 3` evenly spaced patches are analysed, after the
/// track ends; a bounded sample of candidate patches (at most `2·N/3 + 8`) is held meanwhile.
///
/// Results do not depend on the thread count: each patch is computed alone and the sums run
/// over patches in track order, in `f64`.
pub struct Embedder<'m> {
    model: &'m Model,
    /// Log-mel frames not yet part of a run or stored patch, row-major.
    pending: Vec<f32>,
    /// Complete patches seen so far.
    patches_seen: usize,
    /// The first frames of the track, kept only until one patch is complete (for repeat-padding).
    short: Vec<f32>,
    batch: usize,
    outputs: Vec<f32>,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    tag_sum: Vec<f64>,
    patches_run: usize,
    sample: Option<Sample>,
    /// The last patch run and its output, to recognise a repeat at the start of the next run.
    last_patch: Option<Vec<f32>>,
    last_output: Vec<f32>,
}

/// Every `stride`-th patch of the track, thinned by half whenever it outgrows `capacity`.
struct Sample {
    wanted: usize,
    capacity: usize,
    stride: usize,
    patches: Vec<(usize, Vec<f32>)>,
}

impl<'m> Embedder<'m> {
    /// Analyses every complete patch of the track.
    pub fn new(model: &'m Model) -> Self {
        Embedder {
            model,
            pending: Vec::new(),
            patches_seen: 0,
            short: Vec::new(),
            batch: 2 * rayon::current_num_threads().max(1),
            outputs: Vec::new(),
            sum: vec![0.0; EMBEDDING_DIM],
            sum_sq: vec![0.0; EMBEDDING_DIM],
            tag_sum: vec![0.0; N_TAGS],
            patches_run: 0,
            sample: None,
            last_patch: None,
            last_output: Vec::new(),
        }
    }

    /// Analyses `ceil(seconds / 3)` evenly spaced patches (all of them if the track has fewer).
    pub fn with_seconds(model: &'m Model, seconds: f64) -> Self {
        let wanted = ((seconds / 3.0).ceil() as usize).max(1);
        let mut embedder = Embedder::new(model);
        embedder.sample = Some(Sample {
            wanted,
            capacity: 2 * wanted + 8,
            stride: 1,
            patches: Vec::new(),
        });
        embedder
    }

    /// The model this embedder runs.
    pub fn model(&self) -> &'m Model {
        self.model
    }

    /// Runs the complete patches at the front of `pending` (all of them when `all`, else only
    /// once a full batch is waiting) and drops their frames.
    fn drain(&mut self, all: bool) {
        let complete = self.pending.len() / PATCH_LEN;
        if complete == 0 || (!all && complete < self.batch && self.sample.is_none()) {
            return;
        }
        let used = complete * PATCH_LEN;
        if let Some(sample) = &mut self.sample {
            for patch in self.pending[..used].chunks_exact(PATCH_LEN) {
                sample.offer(self.patches_seen, patch);
                self.patches_seen += 1;
            }
        } else {
            let patches = std::mem::take(&mut self.pending);
            self.run(&patches[..used]);
            self.pending = patches;
            self.patches_seen += complete;
        }
        self.pending.drain(..used);
    }

    /// Runs the patches in parallel and adds their outputs to the sums, in order.
    ///
    /// A patch equal to the one before it (a held tone, a DC offset, silence: any signal whose
    /// frames repeat) has that patch's output, so only the first of a run is computed: a track
    /// costs what its changing audio justifies, with the same numbers.
    fn run(&mut self, patches: &[f32]) {
        let n = patches.len() / PATCH_LEN;
        self.outputs.resize(n * OUT_LEN, 0.0);
        let model = self.model;
        let repeats: Vec<bool> = patches
            .chunks_exact(PATCH_LEN)
            .enumerate()
            .map(|(i, patch)| match i {
                0 => self.last_patch.as_deref() == Some(patch),
                _ => patch == &patches[(i - 1) * PATCH_LEN..i * PATCH_LEN],
            })
            .collect();
        self.outputs
            .par_chunks_exact_mut(OUT_LEN)
            .zip(patches.par_chunks_exact(PATCH_LEN))
            .zip(repeats.par_iter())
            .for_each(|((out, patch), &repeat)| {
                if !repeat {
                    let (embedding, tags) = out.split_at_mut(EMBEDDING_DIM);
                    model.forward(patch, embedding, tags);
                }
            });
        for i in 0..n {
            if repeats[i] {
                let (done, rest) = self.outputs.split_at_mut(i * OUT_LEN);
                let previous = match i {
                    0 => &self.last_output[..],
                    _ => &done[(i - 1) * OUT_LEN..],
                };
                rest[..OUT_LEN].copy_from_slice(previous);
            }
        }
        if n > 0 {
            self.last_patch = Some(patches[(n - 1) * PATCH_LEN..n * PATCH_LEN].to_vec());
            self.last_output = self.outputs[(n - 1) * OUT_LEN..n * OUT_LEN].to_vec();
        }
        for out in self.outputs.chunks_exact(OUT_LEN) {
            let (embedding, tags) = out.split_at(EMBEDDING_DIM);
            for ((s, sq), &x) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(embedding) {
                *s += x as f64;
                *sq += x as f64 * x as f64;
            }
            for (s, &p) in self.tag_sum.iter_mut().zip(tags) {
                *s += p as f64;
            }
        }
        self.patches_run += n;
    }

    /// The track's summary, or `None` if it had no spectrogram frames at all.
    pub fn finish(mut self) -> Option<EmbeddingSummary> {
        self.drain(true);
        if let Some(sample) = self.sample.take() {
            let chosen = sample.choose(self.patches_seen);
            self.run(&chosen);
        }
        if self.patches_run == 0 {
            let frames = self.short.len() / N_MELS;
            if frames == 0 {
                return None;
            }
            let patch: Vec<f32> = self.short.iter().copied().cycle().take(PATCH_LEN).collect();
            self.run(&patch);
        }
        let n = self.patches_run as f64;
        let embedding: Vec<f32> = self.sum.iter().map(|s| (s / n) as f32).collect();
        let embedding_std = self
            .sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, sq)| {
                let mean = s / n;
                (sq / n - mean * mean).max(0.0).sqrt() as f32
            })
            .collect();
        let tags = self.tag_sum.iter().map(|s| (s / n) as f32).collect();
        Some(EmbeddingSummary {
            embedding,
            embedding_std,
            tags,
            patches: self.patches_run,
        })
    }
}

impl Sample {
    fn offer(&mut self, index: usize, patch: &[f32]) {
        if !index.is_multiple_of(self.stride) {
            return;
        }
        self.patches.push((index, patch.to_vec()));
        if self.patches.len() > self.capacity {
            self.stride *= 2;
            let stride = self.stride;
            self.patches.retain(|(i, _)| i.is_multiple_of(stride));
        }
    }

    /// The held patches nearest to `wanted` evenly spaced positions among `total` patches
    /// (position k at `(k + ½)·total / wanted`), concatenated in track order.
    fn choose(self, total: usize) -> Vec<f32> {
        let mut picked: Vec<usize> = if total <= self.wanted {
            (0..self.patches.len()).collect()
        } else {
            (0..self.wanted)
                .map(|k| {
                    let target = (k as f64 + 0.5) * total as f64 / self.wanted as f64;
                    let nearest = self.patches.iter().enumerate().min_by(|a, b| {
                        let da = (a.1 .0 as f64 - target).abs();
                        let db = (b.1 .0 as f64 - target).abs();
                        da.total_cmp(&db)
                    });
                    nearest.map(|(slot, _)| slot).unwrap_or(0)
                })
                .collect()
        };
        picked.dedup();
        picked
            .into_iter()
            .flat_map(|slot| self.patches[slot].1.iter().copied())
            .collect()
    }
}

impl FrameSink for Embedder<'_> {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        for frame in block.mel_frames() {
            let start = self.pending.len();
            self.pending.extend(frame.iter().map(|&p| log_mel(p)));
            if self.patches_seen == 0 && self.short.len() < PATCH_LEN {
                self.short.extend_from_slice(&self.pending[start..]);
            }
        }
        self.drain(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::ModelChoice;

    fn feed(embedder: &mut Embedder<'_>, frames: &[f32]) {
        embedder.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: frames.len() / N_MELS,
            n_bins: 0,
            n_mels: N_MELS,
            power: &[],
            mel: frames,
        });
    }

    #[test]
    fn short_tracks_are_repeat_padded_and_partial_patches_dropped() {
        let model = Model::load(&ModelChoice::Msd).unwrap();
        let mel: Vec<f32> = (0..250 * N_MELS)
            .map(|i| 1e-3 * (1.0 + (i as f32 * 0.05).sin()))
            .collect();
        let logmel: Vec<f32> = mel.iter().map(|&p| log_mel(p)).collect();
        let run = |patch: &[f32]| {
            let (mut e, mut t) = (vec![0.0; EMBEDDING_DIM], vec![0.0; N_TAGS]);
            model.forward(patch, &mut e, &mut t);
            e
        };

        // 100 frames: one patch of frames 0..100, 0..87.
        let mut short = Embedder::new(&model);
        feed(&mut short, &mel[..100 * N_MELS]);
        let summary = short.finish().unwrap();
        let tiled: Vec<f32> = logmel[..100 * N_MELS]
            .iter()
            .copied()
            .cycle()
            .take(PATCH_LEN)
            .collect();
        assert_eq!(summary.patches, 1);
        assert_eq!(summary.embedding, run(&tiled));

        // 250 frames in two blocks: one full patch, the 63 trailing frames dropped.
        let mut long = Embedder::new(&model);
        feed(&mut long, &mel[..120 * N_MELS]);
        feed(&mut long, &mel[120 * N_MELS..]);
        let summary = long.finish().unwrap();
        assert_eq!(summary.patches, 1);
        assert_eq!(summary.embedding, run(&logmel[..PATCH_LEN]));
        assert!(summary.embedding_std.iter().all(|&s| s == 0.0));
    }

    #[test]
    fn sample_picks_evenly_spaced_patches_in_bounded_memory() {
        let mut sample = Sample {
            wanted: 3,
            capacity: 8,
            stride: 1,
            patches: Vec::new(),
        };
        for i in 0..100 {
            sample.offer(i, &[i as f32]);
            assert!(sample.patches.len() <= 8);
        }
        // Targets 16.7, 50, 83.3 among multiples of the final stride (16): 16, 48, 80.
        assert_eq!(sample.choose(100), vec![16.0, 48.0, 80.0]);
    }
}
