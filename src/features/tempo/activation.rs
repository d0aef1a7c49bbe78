//! The beat activation: a small learned network's probability, per spectrogram frame, that a
//! beat falls there. The beat tracker follows it instead of the onset envelope.
//!
//! The network is a temporal convolutional network after Böck & Davies ("Multi-task learning of
//! tempo and beat", ISMIR 2019), 27,289 weights, fitted by `scripts/probe_tempo_tcn.py` on the
//! fitting sets (never on the held-out ones) and shipped as `models/beat_activation.safetensors`.
//! Its input is the shared spectrogram as every log-mel feature reads it (96 bands to 8 kHz,
//! 62.5 frames per second, `log10(1 + 10000·mel)`):
//!
//! 1. the front, per frame with two frames of context each side: mel bands averaged in pairs
//!    (48), a 3×3 convolution over (band, frame) to 8 channels, ELU, the maximum of each 3 bands
//!    (16), a 3×3 convolution to 16 channels, ELU, the maximum of each 3 bands (5, the last band
//!    dropped), and a convolution over the 5 bands to 20 channels, ELU: 20 numbers a frame;
//! 2. ten residual blocks over time, block `i` a 5-tap convolution dilated by `2^i` frames, ELU,
//!    and a 1×1 convolution added to its input: about 65 s of context each side;
//! 3. a 1×1 convolution to one logit a frame, and its sigmoid.
//!
//! Convolutions see zeros beyond the track's ends (PyTorch's zero padding), so the activation is
//! the network's on the whole track, whatever the blocks the spectrogram arrives in. Every layer
//! runs as the frames stream past, on fixed runs of 64 frames, so the result does not
//! depend on how the stream is cut either.
//!
//! Why it helps: where the onset envelope is as high on a strong off-beat (hi-hat, offbeat bass,
//! a slow attack) as on the beat, the network has learned which onsets beats fall on; on the
//! held-out sets it raised beat F under two different trackers (docs/tempo-experiments.md).

use safetensors::SafeTensors;

use super::beat_kernels::{widened, BlockInput, Front, ResidualBlock};
use crate::dsp::lanes::log_mel_into;
use crate::dsp::{FrameSink, SpectrogramBlock};
use crate::embed::weights::f32_tensor;

static WEIGHTS: &[u8] = include_bytes!("../../../models/beat_activation.safetensors");

/// The spectrogram the network was fitted on: mel bands and frames per second.
const INPUT_BANDS: usize = 96;
const INPUT_FRAME_RATE: f64 = 62.5;
/// Bands after the pair averaging, with one zero band at each edge for the 3×3 convolution.
const BANDS: usize = INPUT_BANDS / 2;
pub(super) const PADDED: usize = BANDS + 2;
/// The second convolution's bands (after the first pooling), likewise padded.
pub(super) const BANDS2: usize = BANDS / 3;
pub(super) const PADDED2: usize = BANDS2 + 2;
/// Bands left after the second pooling.
pub(super) const BANDS3: usize = BANDS2 / 3;
pub(super) const CHANNELS1: usize = 8;
pub(super) const CHANNELS2: usize = 16;
/// Channels of the front's output and of every residual block.
pub(super) const CHANNELS: usize = 20;
const BLOCKS: usize = 10;
pub(super) const TAPS: usize = 5;
/// Frames of context the front needs on each side of the frame it computes.
pub(super) const CONTEXT: usize = 2;
/// Frames the front computes at a time. (When its buffers held about 4 KB a frame, through
/// `gemm`, 256 frames held 1 MB at the same CPU time as 64: `long.mp3`, `--model none`, A/B
/// 0.99. The context read twice, `2·CONTEXT` frames a run, is under 7 %.)
const CHUNK: usize = 64;

/// The trained parameters, rearranged from PyTorch's layouts into the row-major
/// `(taps) × out` matrices the kernels (`super::beat_kernels`) read.
struct Network {
    front: Front,
    blocks: Vec<ResidualBlock>,
    beat: Vec<f32>,
    beat_bias: f32,
}

impl Network {
    fn shipped() -> &'static Network {
        static NETWORK: std::sync::OnceLock<Network> = std::sync::OnceLock::new();
        NETWORK.get_or_init(|| {
            Network::from_safetensors(WEIGHTS).expect("the shipped beat activation weights load")
        })
    }

    fn from_safetensors(bytes: &[u8]) -> Result<Network, String> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
        let tensor = |name: &str, shape: &[usize]| f32_tensor(&file, name, shape);
        let w1 = tensor("front.1.weight", &[CHANNELS1, 1, 3, 3])?;
        let w2 = tensor("front.5.weight", &[CHANNELS2, CHANNELS1, 3, 3])?;
        let w3 = tensor("front.9.weight", &[CHANNELS, CHANNELS2, BANDS3, 1])?;
        let blocks = (0..BLOCKS)
            .map(|i| -> Result<ResidualBlock, String> {
                let conv = tensor(
                    &format!("blocks.{i}.conv.weight"),
                    &[CHANNELS, CHANNELS, TAPS],
                )?;
                let mix = tensor(&format!("blocks.{i}.mix.weight"), &[CHANNELS, CHANNELS, 1])?;
                Ok(ResidualBlock::new(
                    &std::array::from_fn(|k| time_tap(&conv, [CHANNELS, CHANNELS, 1, TAPS], k)),
                    &tensor(&format!("blocks.{i}.conv.bias"), &[CHANNELS])?,
                    &time_tap(&mix, [CHANNELS, CHANNELS, 1, 1], 0),
                    &tensor(&format!("blocks.{i}.mix.bias"), &[CHANNELS])?,
                ))
            })
            .collect::<Result<_, _>>()?;
        Ok(Network {
            front: Front {
                conv1: std::array::from_fn(|dt| array(time_tap(&w1, [CHANNELS1, 1, 3, 3], dt))),
                bias1: array(tensor("front.1.bias", &[CHANNELS1])?),
                conv2: std::array::from_fn(|dt| {
                    array(time_tap(&w2, [CHANNELS2, CHANNELS1, 3, 3], dt))
                }),
                bias2: array(tensor("front.5.bias", &[CHANNELS2])?),
                conv3: widened(&time_tap(&w3, [CHANNELS, CHANNELS2, BANDS3, 1], 0)),
                bias3: widened(&tensor("front.9.bias", &[CHANNELS])?),
            },
            blocks,
            beat: tensor("beat.weight", &[1, CHANNELS, 1])?,
            beat_bias: tensor("beat.bias", &[1])?[0],
        })
    }
}

/// A tensor whose length [`f32_tensor`] has checked, as an array.
fn array<const N: usize>(values: Vec<f32>) -> [f32; N] {
    values.try_into().expect("shape checked on load")
}

/// One time tap of a PyTorch convolution weight `[out, in, band taps, time taps]` (a Conv1d's
/// is `[out, in, 1, taps]`), as the row-major `(band tap, in) × out` matrix the products read.
fn time_tap(
    weight: &[f32],
    [out, inputs, band_taps, time_taps]: [usize; 4],
    tap: usize,
) -> Vec<f32> {
    let mut m = vec![0.0; band_taps * inputs * out];
    for o in 0..out {
        for c in 0..inputs {
            for band in 0..band_taps {
                m[(band * inputs + c) * out + o] =
                    weight[((o * inputs + c) * band_taps + band) * time_taps + tap];
            }
        }
    }
    m
}

/// The network run as the frames stream past; [`BeatActivation::finish`] gives the activation,
/// one value in (0, 1) per frame.
///
/// Every layer keeps only the frames its kernel still needs: the front two frames each side,
/// residual block `i` its input `2·2^i` frames each side (80 bytes a frame, 0.33 MB in all, and
/// up to as many again before it drops them), the front its runs of `CHUNK` frames (0.04 MB).
/// Memory is thus under 0.7 MB whatever the track's length, besides the activation itself (4
/// bytes a frame);
/// each layer's output lags its input by that context and catches up at
/// [`BeatActivation::finish`].
#[derive(Clone)]
pub struct BeatActivation {
    network: &'static Network,
    /// Pair-averaged log-mel frames not yet through the front, [`PADDED`] values each, the
    /// first of them frame `next − CONTEXT` (frames before the track are zeros).
    pending: Vec<f32>,
    /// Index of the next frame the front computes.
    next: usize,
    stages: Vec<Stage>,
    activation: Vec<f32>,
    scratch: Scratch,
}

#[derive(Clone, Default)]
struct Scratch {
    log_mel: Vec<f32>,
    /// The front's first pooled layer.
    pooled: Vec<f32>,
    /// A layer's output on its way to the next, [`CHANNELS`] values a frame.
    passed: Vec<f32>,
    received: Vec<f32>,
}

/// One residual block in the stream: the frames of its input its 5 taps may still read.
#[derive(Clone)]
struct Stage {
    dilation: usize,
    /// Input frames from `first` on, [`CHANNELS`] values each.
    input: Vec<f32>,
    first: usize,
    /// Index of the next frame of output.
    next: usize,
}

impl BeatActivation {
    /// An activation for spectrogram frames of `n_mels` bands at `frame_rate` frames per second,
    /// or `None` unless that is the spectrogram the network was fitted on.
    pub fn new(n_mels: usize, frame_rate: f64) -> Option<Self> {
        (n_mels == INPUT_BANDS && (frame_rate - INPUT_FRAME_RATE).abs() < 1e-9).then(|| {
            BeatActivation {
                network: Network::shipped(),
                pending: vec![0.0; CONTEXT * PADDED],
                next: 0,
                stages: (0..BLOCKS)
                    .map(|block| Stage {
                        dilation: 1 << block,
                        input: Vec::new(),
                        first: 0,
                        next: 0,
                    })
                    .collect(),
                activation: Vec::new(),
                scratch: Scratch::default(),
            }
        })
    }

    /// The next frame, already log-compressed (`log10(1 + 10000·mel)`, as [`log_mel_into`]
    /// computes it): for a caller that needs that frame too.
    pub fn push_log_mel(&mut self, log_mel: &[f32]) {
        let at = self.pending.len();
        self.pending.resize(at + PADDED, 0.0);
        for (b, pair) in log_mel.chunks_exact(2).enumerate() {
            self.pending[at + 1 + b] = 0.5 * (pair[0] + pair[1]);
        }
        if self.pending.len() / PADDED >= CHUNK + 2 * CONTEXT {
            self.run_front(CHUNK, None);
            self.run_blocks(None);
        }
    }

    /// The activation of every frame so far, as if the track ended here.
    pub fn finish(mut self) -> Vec<f32> {
        let total = self.next + self.pending.len() / PADDED - CONTEXT;
        self.pending
            .resize(self.pending.len() + CONTEXT * PADDED, 0.0);
        let remaining = total - self.next;
        if remaining > 0 {
            self.run_front(remaining, Some(total));
        }
        self.run_blocks(Some(total));
        self.activation
    }

    /// Passes the front's latest output (`scratch.passed`, empty if none) through the residual
    /// blocks and the beat head, as far as each block's context allows (to the end, given the
    /// track's `total`).
    fn run_blocks(&mut self, total: Option<usize>) {
        let net = self.network;
        let s = &mut self.scratch;
        for (stage, block) in self.stages.iter_mut().zip(&net.blocks) {
            std::mem::swap(&mut s.passed, &mut s.received);
            s.passed.clear();
            stage.run(block, &s.received, total, &mut s.passed);
        }
        self.activation
            .extend(s.passed.chunks_exact(CHANNELS).map(|frame| {
                let logit =
                    net.beat_bias + frame.iter().zip(&net.beat).map(|(a, b)| a * b).sum::<f32>();
                let probability = 1.0 / (1.0 + (-logit).exp());
                // Mel power that overflowed to infinity (samples near f32::MAX) makes NaN
                // here: no beat evidence, rather than NaN in the tracker's sums.
                if probability.is_nan() {
                    0.0
                } else {
                    probability
                }
            }));
        // Empty between calls: the front's next output starts from nothing.
        s.passed.clear();
    }

    /// Runs the front on the next `count` frames; `pending` holds them with [`CONTEXT`] frames
    /// each side. With `total`, the track's length, frames at and past it are zeros.
    fn run_front(&mut self, count: usize, total: Option<usize>) {
        let s = &mut self.scratch;
        s.passed.resize(count * CHANNELS, 0.0);
        let (pending, pooled) = (&self.pending, &mut s.pooled);
        self.network
            .front
            .run(pending, self.next, count, total, pooled, &mut s.passed);
        self.next += count;
        self.pending.drain(..count * PADDED);
    }
}

impl Stage {
    /// Appends `input` (the next frames of the block's input) and writes to `out` every frame
    /// of output that the input now determines: `out = x + mix(elu(conv(x)))`. Given the
    /// track's `total`, frames at and past it are zeros and the output runs to the end.
    fn run(
        &mut self,
        block: &ResidualBlock,
        input: &[f32],
        total: Option<usize>,
        out: &mut Vec<f32>,
    ) {
        self.input.extend_from_slice(input);
        let reach = 2 * self.dilation;
        let received = self.first + self.input.len() / CHANNELS;
        let end = match total {
            Some(total) => total,
            None => received.saturating_sub(reach),
        };
        if end > self.next {
            let at = out.len();
            out.resize(at + (end - self.next) * CHANNELS, 0.0);
            let input = BlockInput {
                frames: &self.input,
                first: self.first,
                received,
                dilation: self.dilation,
            };
            block.run(&input, self.next, end, &mut out[at..]);
        }
        self.next = self.next.max(end);
        // The next output frame reads back to `reach` frames before it. The frames before those
        // go once they are as many as the frames kept, so that each frame is moved down about
        // once: moving the deepest block's 2,048 frames down after every run of 64 was 1.5 % of
        // a `--model none` run's instructions (callgrind, one MP3).
        let keep = self.next.saturating_sub(reach).max(self.first);
        if keep - self.first >= (received - keep).max(CHUNK) {
            self.input.drain(..(keep - self.first) * CHANNELS);
            self.first = keep;
        }
    }
}

impl std::fmt::Debug for BeatActivation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeatActivation")
            .field("frames_through_the_front", &self.next)
            .field("frames_of_activation", &self.activation.len())
            .finish_non_exhaustive()
    }
}

impl FrameSink for BeatActivation {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        let mut log_mel = std::mem::take(&mut self.scratch.log_mel);
        for frame in block.mel_frames() {
            log_mel.resize(frame.len(), 0.0);
            log_mel_into(frame, &mut log_mel);
            self.push_log_mel(&log_mel);
        }
        self.scratch.log_mel = log_mel;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(name: &str) -> Vec<f32> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let bytes = std::fs::read(&path).unwrap();
        npyz::NpyFile::new(&bytes[..])
            .unwrap()
            .into_vec::<f32>()
            .unwrap()
    }

    /// The activation of the musicnn parity fixture's 374 frames of `dnb_174` repeated 12 times
    /// (4,488 frames: longer than the network's context, so every block streams), fed in
    /// blocks of uneven sizes, against PyTorch's.
    #[test]
    fn matches_pytorch_on_the_fixture() {
        let log_mel_frames = npy("musicnn/dnb_174.logmel.npy");
        let expected = npy("tempo/beat_activation.npy");
        // Back to mel power: the inverse of log10(1 + 10000·x).
        let mel: Vec<f32> = (log_mel_frames
            .iter()
            .cycle()
            .take(12 * log_mel_frames.len()))
        .map(|&l| ((10f64.powf(l as f64) - 1.0) / 10_000.0) as f32)
        .collect();
        let frames = mel.len() / INPUT_BANDS;
        assert_eq!(frames, expected.len());
        let mut activation = BeatActivation::new(INPUT_BANDS, INPUT_FRAME_RATE).unwrap();
        let mut at = 0;
        for size in [1, 60, 200, 7, 300].into_iter().cycle() {
            let n = size.min(frames - at);
            activation.accept(&SpectrogramBlock {
                first_frame: at,
                n_frames: n,
                n_bins: 0,
                n_mels: INPUT_BANDS,
                power: &[],
                mel: &mel[at * INPUT_BANDS..(at + n) * INPUT_BANDS],
            });
            at += n;
            if at == frames {
                break;
            }
        }
        let got = activation.finish();
        assert_eq!(got.len(), frames);
        let worst = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "largest difference from PyTorch {worst}");
        // The fixture has beats: the activation is far from flat.
        assert!(expected.iter().cloned().fold(0.0, f32::max) > 0.5);
    }

    #[test]
    fn other_spectrograms_have_no_activation() {
        assert!(BeatActivation::new(128, INPUT_FRAME_RATE).is_none());
        assert!(BeatActivation::new(INPUT_BANDS, 100.0).is_none());
    }

    #[test]
    fn infinite_mel_power_gives_no_beat_evidence_not_nan() {
        let mut activation = BeatActivation::new(INPUT_BANDS, INPUT_FRAME_RATE).unwrap();
        let frames = 600;
        let mel: Vec<f32> = (0..frames * INPUT_BANDS)
            .map(|i| {
                if (i / INPUT_BANDS).is_multiple_of(31) {
                    f32::INFINITY
                } else {
                    1e-3
                }
            })
            .collect();
        activation.accept(&SpectrogramBlock {
            first_frame: 0,
            n_frames: frames,
            n_bins: 0,
            n_mels: INPUT_BANDS,
            power: &[],
            mel: &mel,
        });
        let got = activation.finish();
        assert_eq!(got.len(), frames);
        assert!(got.iter().all(|p| (0.0..=1.0).contains(p)), "{got:?}");
    }

    #[test]
    fn an_empty_track_has_an_empty_activation() {
        let activation = BeatActivation::new(INPUT_BANDS, INPUT_FRAME_RATE).unwrap();
        assert!(activation.finish().is_empty());
    }
}
