//! musicnn's forward pass for one patch of log-mel frames, by hand.
//!
//! The front end (81 % of the arithmetic) runs on the direct convolution kernels of
//! `super::conv` where the CPU has AVX2 or AVX-512, with the max-pooling fused into them.
//! Everything else, and the front end on other CPUs, is GEMMs over strided views of the input
//! (zero-copy where the view is affine, an im2col copy for the 2-D timbral kernels), with
//! ReLU, batch-norm and pooling applied after them.

use super::amx::halves;
use super::bf16::pair_up;
use super::conv::{correlate, Packed, Pool, Reduce, Signal, Window};
use super::gemm::{matmul, View};
use super::simd::Isa;
use super::spectral::FrameSpectra;
use super::weights::{BatchNorm, Layer, Weights};

/// Frames per patch: 3 s at 16 kHz with hop 256 (`librosa.time_to_frames(3) + 1`).
pub const PATCH_FRAMES: usize = 187;
/// Mel bands of the input.
pub const N_MELS: usize = 96;
/// Width of the penultimate layer (the embedding).
pub const EMBEDDING_DIM: usize = 200;
/// Tags the model predicts.
pub const N_TAGS: usize = 50;
/// Channels after the front end (204 + 204 + 3 × 51) and after the mid end (+ 3 × 64).
const FRONT: usize = 561;
const MID: usize = 64;
const POOLED: usize = 2 * (FRONT + 3 * MID);
/// Multiply-accumulates of one patch: timbral 7×38 and 7×67 (204 filters), temporal 128, 64
/// and 32 taps (51 filters each, at 96 bands), mid end 7×561 and 2 × 7×64 (64 filters), dense.
/// A patch costs `2 · MACS_PER_PATCH` floating-point operations (≈ 2.8 GFLOP).
pub const MACS_PER_PATCH: u64 =
    FRONT_MACS_PER_PATCH + 187 * 64 * 7 * (561 + 64 + 64) + 1506 * 200 + 200 * 50;
/// The front end's part of [`MACS_PER_PATCH`] (96 %): the convolutions that run on the direct
/// kernels, in bf16 pairs where the CPU has AVX-512 BF16.
pub const FRONT_MACS_PER_PATCH: u64 =
    DIRECT_TIMBRAL_MACS_PER_PATCH + 187 * 96 * 51 * (128 + 64 + 32);
/// The timbral layers' part of [`FRONT_MACS_PER_PATCH`] as direct convolutions.
const DIRECT_TIMBRAL_MACS_PER_PATCH: u64 = 187 * 59 * 204 * 7 * 38 + 187 * 30 * 204 * 7 * 67;
/// The timbral layers' part of a patch's multiply-adds on the DFT path (`super::spectral`,
/// AVX2), in place of their part of [`FRONT_MACS_PER_PATCH`]: for each time step and filter,
/// 49 complex bins times 7 rows (4 real multiply-adds each) a layer, and 96 a frequency
/// position for the inverse DFT (38 % of the direct convolutions' 1,135 M).
pub const SPECTRAL_TIMBRAL_MACS_PER_PATCH: u64 =
    2 * 187 * 204 * 49 * 7 * 4 + 187 * 204 * 96 * (59 + 30);
/// `(m, k, n)` of the GEMM that dominates a patch (43 % of its MACs): one im2col block of the
/// 7×38 timbral convolution, 16 time steps × 59 frequency positions by 266 taps by 204 filters.
pub const DOMINANT_GEMM: (usize, usize, usize) = (TIMBRAL_BLOCK * 59, 7 * 38, 204);
/// Zero frames on each side of the 7-tap convolutions (`pad 3 + 3`).
const PAD7: usize = 3;
/// Zeros before/after the signal for the widest temporal kernel (TF "SAME": (k − 1) / 2 before).
const TEMPORAL_BEFORE: usize = 63;
const TEMPORAL_AFTER: usize = 64;
/// Time steps per im2col block of the timbral convolutions (bounds the scratch to ~1 MB).
const TIMBRAL_BLOCK: usize = 16;

/// Scratch buffers for one forward pass; reused patch after patch, never reallocated.
pub struct Workspace {
    /// Normalised input, time-padded 3 + 3: `(T + 6) × 96`.
    padded: Vec<f32>,
    /// Normalised input transposed (one row per mel band), padded 63 + 64 in time.
    transposed: Vec<f32>,
    /// `padded` and `transposed` as bf16 pairs, for kernels packed for
    /// [`Isa::Avx512Bf16`] (empty otherwise).
    padded_pairs: Vec<u32>,
    transposed_pairs: Vec<u32>,
    /// `padded` and `transposed` in bf16, for kernels packed for [`Isa::Amx`] (empty
    /// otherwise).
    padded_halves: Vec<u16>,
    transposed_halves: Vec<u16>,
    im2col: Vec<f32>,
    product: Vec<f32>,
    /// Front-end features, time-padded 3 + 3: `(T + 6) × 561`.
    front: Vec<f32>,
    /// Mid-end outputs (the first two time-padded): `(T + 6) × 64`, `(T + 6) × 64`, `T × 64`.
    mid: [Vec<f32>; 3],
    pooled: Vec<f32>,
    hidden: Vec<f32>,
    /// Max and min of each front-end filter (see [`conv::Pool`](super::conv::Pool)).
    high: Vec<f32>,
    low: Vec<f32>,
    /// The DFT of each frame of `padded`, for timbral layers on the DFT path.
    spectra: FrameSpectra,
}

/// The front end's kernels packed once, at model load, for this CPU's instruction set.
pub struct Kernels {
    isa: Isa,
    timbral: [TimbralKernel; 2],
    temporal: [Packed; 3],
}

/// How a timbral layer runs: on a direct kernel, or through the DFT along the mel axis
/// (`super::spectral`: AVX2, where it takes 38 % of the direct kernel's arithmetic).
enum TimbralKernel {
    Direct(Packed),
    Spectral(super::spectral::Timbral),
}

impl Kernels {
    /// Packs `weights` for `isa`; `None` where there is no direct kernel for it (the forward
    /// pass then runs the GEMM path).
    pub fn new(weights: &Weights, isa: Isa) -> Option<Kernels> {
        if isa == Isa::Fallback {
            return None;
        }
        // The windows' shapes: a timbral kernel's rows are time steps `N_MELS` apart, each
        // `w` taps along the mel axis; a temporal kernel is one row of `k` taps along time.
        let timbral = |(layer, _): &(Layer, BatchNorm)| {
            if isa == Isa::Avx2 {
                let spectral = super::spectral::Timbral::new(&layer.kernel, layer.shape, layer.out);
                return TimbralKernel::Spectral(spectral);
            }
            let positions = N_MELS - layer.shape[1] + 1;
            let reduce = Reduce::OverPositions;
            TimbralKernel::Direct(Packed::new(
                isa,
                &layer.kernel,
                layer.shape,
                layer.out,
                positions,
                reduce,
            ))
        };
        let temporal = |(layer, _): &(Layer, BatchNorm)| {
            let shape = [1, layer.shape[0] * layer.shape[1]];
            let reduce = Reduce::AcrossWindows;
            Packed::new(isa, &layer.kernel, shape, layer.out, PATCH_FRAMES, reduce)
        };
        Some(Kernels {
            isa,
            timbral: weights.timbral.each_ref().map(timbral),
            temporal: weights.temporal.each_ref().map(temporal),
        })
    }

    /// The instruction set the kernels were packed for.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The multiply-adds of one patch on these kernels: [`MACS_PER_PATCH`], less what the DFT
    /// path saves on the timbral layers where they take it.
    pub fn macs_per_patch(&self) -> u64 {
        if self.timbral_through_dft() {
            MACS_PER_PATCH - DIRECT_TIMBRAL_MACS_PER_PATCH + SPECTRAL_TIMBRAL_MACS_PER_PATCH
        } else {
            MACS_PER_PATCH
        }
    }

    /// Whether the timbral layers go through the DFT (both do, or neither: it goes by the
    /// instruction set).
    fn timbral_through_dft(&self) -> bool {
        matches!(self.timbral[0], TimbralKernel::Spectral(_))
    }
}

impl Default for Workspace {
    /// Buffers for the direct kernels' path; the GEMM path's own (about 1.8 MB, most of a
    /// workspace) grow on its first patch.
    fn default() -> Self {
        let t = PATCH_FRAMES;
        Workspace {
            padded: vec![0.0; (t + 2 * PAD7) * N_MELS],
            transposed: vec![0.0; N_MELS * (t + TEMPORAL_BEFORE + TEMPORAL_AFTER)],
            padded_pairs: Vec::new(),
            transposed_pairs: Vec::new(),
            padded_halves: Vec::new(),
            transposed_halves: Vec::new(),
            im2col: Vec::new(),
            product: vec![0.0; t * MID],
            front: vec![0.0; (t + 2 * PAD7) * FRONT],
            mid: [
                vec![0.0; (t + 2 * PAD7) * MID],
                vec![0.0; (t + 2 * PAD7) * MID],
                vec![0.0; t * MID],
            ],
            pooled: vec![0.0; POOLED],
            hidden: vec![0.0; EMBEDDING_DIM],
            high: vec![0.0; 204.max(51 * t)],
            low: vec![0.0; 204.max(51 * t)],
            spectra: FrameSpectra::default(),
        }
    }
}

/// Makes `buffer` at least `len` long.
fn grow(buffer: &mut Vec<f32>, len: usize) {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
}

/// ReLU then batch-norm, the order musicnn applies them in every convolutional layer.
#[inline]
fn relu_bn(x: f32, bias: f32, bn: &BatchNorm, channel: usize) -> f32 {
    (x + bias).max(0.0) * bn.scale[channel] + bn.shift[channel]
}

/// Runs musicnn on one patch, the front end on `kernels` if given (they must have been packed
/// from `weights`), else on the GEMM path; the two agree to float rounding.
///
/// `patch` is `187 × 96` row-major: frame after frame of `log10(1 + 10000·mel)`. Writes the
/// penultimate layer (200 values, after its batch-norm) to `embedding` and the 50 tag
/// probabilities (sigmoid of the logits, in `[0, 1]`) to `tags`.
pub fn forward(
    weights: &Weights,
    kernels: Option<&Kernels>,
    patch: &[f32],
    ws: &mut Workspace,
    embedding: &mut [f32],
    tags: &mut [f32],
) {
    let t = PATCH_FRAMES;
    assert_eq!(patch.len(), t * N_MELS, "a patch is 187 × 96 values");
    assert_eq!(embedding.len(), EMBEDDING_DIM);
    assert_eq!(tags.len(), N_TAGS);

    // Input batch-norm; the zero padding is added after it, as in the graph.
    let (scale, shift) = (weights.input_bn.scale[0], weights.input_bn.shift[0]);
    let stride_t = t + TEMPORAL_BEFORE + TEMPORAL_AFTER;
    for (frame, row) in patch.chunks_exact(N_MELS).enumerate() {
        let dst = &mut ws.padded[(frame + PAD7) * N_MELS..][..N_MELS];
        for (band, (d, &x)) in dst.iter_mut().zip(row).enumerate() {
            *d = x * scale + shift;
            ws.transposed[band * stride_t + TEMPORAL_BEFORE + frame] = *d;
        }
    }

    match kernels.map(Kernels::isa) {
        Some(Isa::Avx512Bf16) => {
            pair_up(&ws.padded, &mut ws.padded_pairs);
            pair_up(&ws.transposed, &mut ws.transposed_pairs);
        }
        Some(Isa::Amx) => {
            halves(&ws.padded, &mut ws.padded_halves);
            halves(&ws.transposed, &mut ws.transposed_halves);
        }
        // The timbral layers go through the DFT there (`Kernels::new`).
        Some(Isa::Avx2) => ws.spectra.compute(&ws.padded),
        _ => {}
    }

    let mut offset = 0;
    for (n, (layer, bn)) in weights.timbral.iter().enumerate() {
        match kernels.map(|k| &k.timbral[n]) {
            Some(TimbralKernel::Direct(packed)) => timbral_direct(packed, layer, bn, ws, offset),
            Some(TimbralKernel::Spectral(spectral)) => {
                timbral_spectral(spectral, layer, bn, ws, offset)
            }
            None => timbral(layer, bn, ws, offset),
        }
        offset += layer.out;
    }
    for (n, (layer, bn)) in weights.temporal.iter().enumerate() {
        match kernels {
            Some(k) => temporal_direct(&k.temporal[n], layer, bn, ws, offset),
            None => temporal(layer, bn, ws, offset),
        }
        offset += layer.out;
    }
    debug_assert_eq!(offset, FRONT);
    midend(weights, ws);
    backend(weights, ws, embedding, tags);
}

/// ReLU then batch-norm of a pooled value: the max of `relu_bn` over a set of outputs is
/// `relu_bn` of their max where the batch-norm scale is ≥ 0 and of their min where it is
/// negative (`relu_bn` is monotone either way, and so is its float rounding): exactly equal.
#[inline]
fn relu_bn_of_max(high: f32, low: f32, bias: f32, bn: &BatchNorm, channel: usize) -> f32 {
    let x = if bn.scale[channel] >= 0.0 { high } else { low };
    relu_bn(x, bias, bn, channel)
}

/// [`timbral`] on a direct kernel: for each time step, every filter's max and min over the
/// frequency positions straight from the padded input.
fn timbral_direct(
    packed: &Packed,
    layer: &Layer,
    bn: &BatchNorm,
    ws: &mut Workspace,
    offset: usize,
) {
    let [kh, kw] = layer.shape;
    let out = layer.out;
    for t in 0..PATCH_FRAMES {
        let window = Window {
            base: t * N_MELS,
            rows: kh,
            row_stride: N_MELS,
            taps: kw,
            positions: N_MELS - kw + 1,
        };
        let (high, low) = (&mut ws.high[..out], &mut ws.low[..out]);
        let input = Signal {
            values: &ws.padded,
            pairs: &ws.padded_pairs,
            halves: &ws.padded_halves,
        };
        correlate(
            packed,
            input,
            window,
            Pool::Extremes {
                max: high,
                min: low,
            },
        );
        let dst = &mut ws.front[(t + PAD7) * FRONT + offset..][..out];
        for (o, d) in dst.iter_mut().enumerate() {
            *d = relu_bn_of_max(high[o], low[o], layer.bias[o], bn, o);
        }
    }
}

/// [`timbral`] through the DFT along the mel axis (`super::spectral`), from the spectra of
/// `ws.padded`'s frames already in `ws.spectra`.
fn timbral_spectral(
    spectral: &super::spectral::Timbral,
    layer: &Layer,
    bn: &BatchNorm,
    ws: &mut Workspace,
    offset: usize,
) {
    let front = &mut ws.front;
    spectral.extremes(&ws.spectra, |t, first, high, low| {
        let dst = &mut front[(t + PAD7) * FRONT + offset + first..][..high.len()];
        for (r, d) in dst.iter_mut().enumerate() {
            let o = first + r;
            *d = relu_bn_of_max(high[r], low[r], layer.bias[o], bn, o);
        }
    });
}

/// [`temporal`] on a direct kernel: the max and min over mel bands of every filter's output at
/// every time step, one window per band, pooled in the kernel's registers.
fn temporal_direct(
    packed: &Packed,
    layer: &Layer,
    bn: &BatchNorm,
    ws: &mut Workspace,
    offset: usize,
) {
    let k = layer.shape[0];
    let out = layer.out;
    let stride_t = PATCH_FRAMES + TEMPORAL_BEFORE + TEMPORAL_AFTER;
    let (high, low) = (
        &mut ws.high[..out * PATCH_FRAMES],
        &mut ws.low[..out * PATCH_FRAMES],
    );
    let window = Window {
        base: TEMPORAL_BEFORE - (k - 1) / 2,
        rows: 1,
        row_stride: 0,
        taps: k,
        positions: PATCH_FRAMES,
    };
    let pool = Pool::AcrossWindows {
        max: &mut *high,
        min: &mut *low,
        count: N_MELS,
        stride: stride_t,
    };
    let input = Signal {
        values: &ws.transposed,
        pairs: &ws.transposed_pairs,
        halves: &ws.transposed_halves,
    };
    correlate(packed, input, window, pool);
    for t in 0..PATCH_FRAMES {
        let dst = &mut ws.front[(t + PAD7) * FRONT + offset..][..out];
        for (o, d) in dst.iter_mut().enumerate() {
            let at = o * PATCH_FRAMES + t;
            *d = relu_bn_of_max(high[at], low[at], layer.bias[o], bn, o);
        }
    }
}

/// A 7 × w convolution over (time, mel) of the padded input, then ReLU, batch-norm and the max
/// over all frequency positions: writes `layer.out` channels of `front` from column `offset`.
fn timbral(layer: &Layer, bn: &BatchNorm, ws: &mut Workspace, offset: usize) {
    let [kh, kw] = layer.shape;
    let positions = N_MELS - kw + 1;
    let taps = kh * kw;
    let kernel = View::dense(&layer.kernel, taps, layer.out);
    grow(&mut ws.im2col, TIMBRAL_BLOCK * positions * taps);
    grow(&mut ws.product, TIMBRAL_BLOCK * positions * layer.out);
    for t0 in (0..PATCH_FRAMES).step_by(TIMBRAL_BLOCK) {
        let steps = TIMBRAL_BLOCK.min(PATCH_FRAMES - t0);
        let rows = steps * positions;
        // im2col: one row per (time, frequency position), the 7 × w input window flattened.
        for s in 0..steps {
            for f in 0..positions {
                let row = &mut ws.im2col[(s * positions + f) * taps..][..taps];
                for (i, dst) in row.chunks_exact_mut(kw).enumerate() {
                    let src = (t0 + s + i) * N_MELS + f;
                    dst.copy_from_slice(&ws.padded[src..src + kw]);
                }
            }
        }
        let a = View::dense(&ws.im2col[..rows * taps], rows, taps);
        matmul(a, kernel, &mut ws.product, false);
        for s in 0..steps {
            let out = &mut ws.front[(t0 + s + PAD7) * FRONT + offset..][..layer.out];
            out.fill(f32::NEG_INFINITY);
            for f in 0..positions {
                let row = &ws.product[(s * positions + f) * layer.out..][..layer.out];
                for (o, (dst, &x)) in out.iter_mut().zip(row).enumerate() {
                    *dst = dst.max(relu_bn(x, layer.bias[o], bn, o));
                }
            }
        }
    }
}

/// A k × 1 convolution over time with TF "SAME" padding, applied to each mel band, then ReLU,
/// batch-norm and the max over bands. Each band's input is read in place as a Toeplitz matrix.
fn temporal(layer: &Layer, bn: &BatchNorm, ws: &mut Workspace, offset: usize) {
    let k = layer.shape[0];
    let before = (k - 1) / 2;
    let stride_t = PATCH_FRAMES + TEMPORAL_BEFORE + TEMPORAL_AFTER;
    let kernel = View::dense(&layer.kernel, k, layer.out);
    grow(&mut ws.product, PATCH_FRAMES * layer.out);
    for t in 0..PATCH_FRAMES {
        ws.front[(t + PAD7) * FRONT + offset..][..layer.out].fill(f32::NEG_INFINITY);
    }
    for band in 0..N_MELS {
        let start = band * stride_t + TEMPORAL_BEFORE - before;
        let a = View {
            data: &ws.transposed[start..start + PATCH_FRAMES + k - 1],
            rows: PATCH_FRAMES,
            cols: k,
            row_stride: 1,
            col_stride: 1,
        };
        matmul(a, kernel, &mut ws.product, false);
        for t in 0..PATCH_FRAMES {
            let out = &mut ws.front[(t + PAD7) * FRONT + offset..][..layer.out];
            let row = &ws.product[t * layer.out..][..layer.out];
            for (o, (dst, &x)) in out.iter_mut().zip(row).enumerate() {
                *dst = dst.max(relu_bn(x, layer.bias[o], bn, o));
            }
        }
    }
}

/// Three 7-tap convolutions across all channels (561 → 64 → 64 → 64), the last two residual.
/// A window of 7 padded frames is contiguous in memory, so each is one GEMM on a strided view.
fn midend(weights: &Weights, ws: &mut Workspace) {
    let [mid1, mid2, mid3] = &mut ws.mid;
    let [(l1, bn1), (l2, bn2), (l3, bn3)] = &weights.midend;
    seven_tap(l1, &ws.front, FRONT, &mut ws.product);
    for (step, row) in ws.product.chunks_exact(MID).take(PATCH_FRAMES).enumerate() {
        let out = &mut mid1[(step + PAD7) * MID..][..MID];
        for (o, (y, &x)) in out.iter_mut().zip(row).enumerate() {
            *y = relu_bn(x, l1.bias[o], bn1, o);
        }
    }
    seven_tap(l2, mid1, MID, &mut ws.product);
    for (step, row) in ws.product.chunks_exact(MID).take(PATCH_FRAMES).enumerate() {
        let at = (step + PAD7) * MID;
        for (o, &x) in row.iter().enumerate() {
            mid2[at + o] = relu_bn(x, l2.bias[o], bn2, o) + mid1[at + o];
        }
    }
    seven_tap(l3, mid2, MID, &mut ws.product);
    for (step, row) in ws.product.chunks_exact(MID).take(PATCH_FRAMES).enumerate() {
        let at = (step + PAD7) * MID;
        for (o, &x) in row.iter().enumerate() {
            mid3[step * MID + o] = relu_bn(x, l3.bias[o], bn3, o) + mid2[at + o];
        }
    }
}

/// `product = conv(input)` for a 7-tap kernel spanning all `channels` of a time-padded input.
fn seven_tap(layer: &Layer, input: &[f32], channels: usize, product: &mut [f32]) {
    let a = View {
        data: input,
        rows: PATCH_FRAMES,
        cols: 7 * channels,
        row_stride: channels,
        col_stride: 1,
    };
    let kernel = View::dense(&layer.kernel, 7 * channels, layer.out);
    matmul(a, kernel, product, false);
}

/// Max and mean over time of all 753 channels, interleaved `[max0, mean0, max1, …]`, then
/// batch-norm → dense 200 → ReLU → batch-norm (the embedding) → dense 50 → sigmoid (the tags).
fn backend(weights: &Weights, ws: &mut Workspace, embedding: &mut [f32], tags: &mut [f32]) {
    let t = PATCH_FRAMES;
    let sources: [(&[f32], usize, usize); 4] = [
        (&ws.front[PAD7 * FRONT..], FRONT, FRONT),
        (&ws.mid[0][PAD7 * MID..], MID, MID),
        (&ws.mid[1][PAD7 * MID..], MID, MID),
        (&ws.mid[2][..], MID, MID),
    ];
    let mut channel = 0;
    for (data, stride, width) in sources {
        for c in 0..width {
            let (mut max, mut sum) = (f32::NEG_INFINITY, 0.0f32);
            for step in 0..t {
                let x = data[step * stride + c];
                max = max.max(x);
                sum += x;
            }
            ws.pooled[2 * channel] = max;
            ws.pooled[2 * channel + 1] = sum / t as f32;
            channel += 1;
        }
    }
    let bn = &weights.pool_bn;
    for (i, x) in ws.pooled.iter_mut().enumerate() {
        *x = *x * bn.scale[i] + bn.shift[i];
    }
    let dense = &weights.penultimate;
    matmul(
        View::dense(&ws.pooled, 1, POOLED),
        View::dense(&dense.kernel, POOLED, EMBEDDING_DIM),
        &mut ws.hidden,
        false,
    );
    for (o, (e, &h)) in embedding.iter_mut().zip(&ws.hidden).enumerate() {
        *e = relu_bn(h, dense.bias[o], &weights.penultimate_bn, o);
    }
    let out = &weights.tags;
    matmul(
        View::dense(embedding, 1, EMBEDDING_DIM),
        View::dense(&out.kernel, EMBEDDING_DIM, N_TAGS),
        tags,
        false,
    );
    for (p, &b) in tags.iter_mut().zip(&out.bias) {
        *p = 1.0 / (1.0 + (-(*p + b)).exp());
    }
}

#[cfg(test)]
mod tests;
