//! Streams a track's log-mel spectrogram through musicnn in 3 s patches and averages the outputs.

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use super::network::{EMBEDDING_DIM, N_MELS, N_TAGS, PATCH_FRAMES};
use super::{Core, Model};
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
/// By default every patch is analysed as soon as the spectrogram completes it, on the rayon
/// pool the embedder was made in (on the caller itself if the pool has one thread), while the
/// caller goes on decoding: one long track keeps every worker busy. At most two patches per
/// worker are in flight; a caller that reaches that bound helps run them (or waits for them)
/// before it goes on. With [`Embedder::with_seconds`] only about `N / 3` evenly spaced patches
/// are analysed, after the track ends; a bounded sample of candidate patches (at most
/// `2·N/3 + 8`) is held meanwhile.
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
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    tag_sum: Vec<f64>,
    patches_run: usize,
    sample: Option<Sample>,
    flight: Flight,
}

/// Every `stride`-th patch of the track, thinned by half whenever it outgrows `capacity`.
struct Sample {
    wanted: usize,
    capacity: usize,
    stride: usize,
    patches: Vec<(usize, Vec<f32>)>,
}

/// A patch's output (embedding then tags), or the panic that stopped it.
type Outcome = std::thread::Result<Vec<f32>>;

/// Patches submitted to the pool whose outputs are not summed yet, oldest first.
struct Flight {
    core: Arc<Core>,
    /// Most patches submitted and not yet summed.
    limit: usize,
    /// One worker: compute on the caller, nothing is spawned.
    inline: bool,
    sender: Sender<(usize, Outcome)>,
    receiver: Receiver<(usize, Outcome)>,
    /// Index of the next patch submitted; `slots[0]` is patch `submitted - slots.len()`.
    submitted: usize,
    slots: VecDeque<Slot>,
    /// The last patch submitted, to recognise a repeat, and the last output summed.
    last_patch: Vec<f32>,
    last_output: Vec<f32>,
}

enum Slot {
    Waiting,
    Done(Vec<f32>),
    /// Equal to the patch before it (a held tone, a DC offset, silence: any signal whose frames
    /// repeat), so it has that patch's output: a track costs what its changing audio
    /// justifies, with the same numbers.
    Repeat,
}

impl Flight {
    fn new(core: Arc<Core>) -> Flight {
        let threads = rayon::current_num_threads().max(1);
        let (sender, receiver) = channel();
        Flight {
            core,
            limit: 2 * threads,
            inline: threads == 1,
            sender,
            receiver,
            submitted: 0,
            slots: VecDeque::new(),
            last_patch: Vec::new(),
            last_output: Vec::new(),
        }
    }

    /// Queues `patch`; outputs that complete the run of summed patches go to `sums`.
    fn submit(&mut self, patch: &[f32], sums: &mut Sums<'_>) {
        let index = self.submitted;
        self.submitted += 1;
        if self.submitted > 1 && self.last_patch == patch {
            self.slots.push_back(Slot::Repeat);
        } else if self.inline {
            self.slots.push_back(Slot::Done(run(&self.core, patch)));
        } else {
            self.slots.push_back(Slot::Waiting);
            let (core, sender, patch) = (self.core.clone(), self.sender.clone(), patch.to_vec());
            rayon::spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| run(&core, &patch)));
                // The receiver outlives every patch it waits for; if it is gone, so is the track.
                let _ = sender.send((index, outcome));
            });
        }
        self.last_patch.clear();
        self.last_patch.extend_from_slice(patch);
        self.sum_ready(sums);
        while self.slots.len() > self.limit {
            self.wait_one(sums);
        }
    }

    /// Waits until every submitted patch is summed.
    fn flush(&mut self, sums: &mut Sums<'_>) {
        self.sum_ready(sums);
        while !self.slots.is_empty() {
            self.wait_one(sums);
        }
    }

    /// Receives one output, helping the pool run queued work meanwhile when the caller is one
    /// of its threads (blocking there could starve the pool of the very thread it needs).
    fn wait_one(&mut self, sums: &mut Sums<'_>) {
        let (index, outcome) = loop {
            if let Ok(done) = self.receiver.try_recv() {
                break done;
            }
            if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                continue;
            }
            // Nothing queued: every patch still out is running on some thread.
            match self.receiver.recv() {
                Ok(done) => break done,
                Err(_) => unreachable!("the flight holds a sender"),
            }
        };
        let output = outcome.unwrap_or_else(|panic| resume_unwind(panic));
        let first = self.submitted - self.slots.len();
        self.slots[index - first] = Slot::Done(output);
        self.sum_ready(sums);
    }

    /// Sums the outputs at the front of the queue, in track order.
    fn sum_ready(&mut self, sums: &mut Sums<'_>) {
        while let Some(slot) = self.slots.front_mut() {
            match std::mem::replace(slot, Slot::Waiting) {
                Slot::Waiting => return,
                Slot::Done(output) => self.last_output = output,
                Slot::Repeat => {}
            }
            self.slots.pop_front();
            sums.add(&self.last_output);
        }
    }
}

fn run(core: &Core, patch: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; OUT_LEN];
    let (embedding, tags) = out.split_at_mut(EMBEDDING_DIM);
    core.forward(patch, embedding, tags);
    out
}

/// The running sums of an [`Embedder`], borrowed while its flight is out.
struct Sums<'a> {
    sum: &'a mut [f64],
    sum_sq: &'a mut [f64],
    tag_sum: &'a mut [f64],
    patches: &'a mut usize,
}

impl Sums<'_> {
    fn add(&mut self, output: &[f32]) {
        let (embedding, tags) = output.split_at(EMBEDDING_DIM);
        for ((s, sq), &x) in self
            .sum
            .iter_mut()
            .zip(self.sum_sq.iter_mut())
            .zip(embedding)
        {
            *s += x as f64;
            *sq += x as f64 * x as f64;
        }
        for (s, &p) in self.tag_sum.iter_mut().zip(tags) {
            *s += p as f64;
        }
        *self.patches += 1;
    }
}

impl<'m> Embedder<'m> {
    /// Analyses every complete patch of the track.
    pub fn new(model: &'m Model) -> Self {
        Embedder {
            model,
            pending: Vec::new(),
            patches_seen: 0,
            short: Vec::new(),
            sum: vec![0.0; EMBEDDING_DIM],
            sum_sq: vec![0.0; EMBEDDING_DIM],
            tag_sum: vec![0.0; N_TAGS],
            patches_run: 0,
            sample: None,
            flight: Flight::new(model.core().clone()),
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

    /// Submits (or, with a sample, offers) the complete patches at the front of `pending` and
    /// drops their frames.
    fn drain(&mut self) {
        let complete = self.pending.len() / PATCH_LEN;
        if complete == 0 {
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
            self.submit(&patches[..used]);
            self.pending = patches;
            self.patches_seen += complete;
        }
        self.pending.drain(..used);
    }

    /// Submits each patch of `patches` (concatenated, in track order).
    fn submit(&mut self, patches: &[f32]) {
        let mut sums = Sums {
            sum: &mut self.sum,
            sum_sq: &mut self.sum_sq,
            tag_sum: &mut self.tag_sum,
            patches: &mut self.patches_run,
        };
        for patch in patches.chunks_exact(PATCH_LEN) {
            self.flight.submit(patch, &mut sums);
        }
    }

    fn flush(&mut self) {
        let mut sums = Sums {
            sum: &mut self.sum,
            sum_sq: &mut self.sum_sq,
            tag_sum: &mut self.tag_sum,
            patches: &mut self.patches_run,
        };
        self.flight.flush(&mut sums);
    }

    /// The track's summary, or `None` if it had no spectrogram frames at all.
    pub fn finish(mut self) -> Option<EmbeddingSummary> {
        self.drain();
        if let Some(sample) = self.sample.take() {
            let chosen = sample.choose(self.patches_seen);
            self.submit(&chosen);
        }
        self.flush();
        if self.patches_run == 0 {
            let frames = self.short.len() / N_MELS;
            if frames == 0 {
                return None;
            }
            let patch: Vec<f32> = self.short.iter().copied().cycle().take(PATCH_LEN).collect();
            self.submit(&patch);
            self.flush();
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
        let started = crate::bench::thread_cpu_time();
        for frame in block.mel_frames() {
            let start = self.pending.len();
            self.pending.extend(frame.iter().map(|&p| log_mel(p)));
            if self.patches_seen == 0 && self.short.len() < PATCH_LEN {
                self.short.extend_from_slice(&self.pending[start..]);
            }
        }
        // The log-mel input is part of the embedding stage's cost (see `Model::computed`).
        self.flight
            .core
            .add_cpu(crate::bench::thread_cpu_time().saturating_sub(started));
        self.drain();
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
