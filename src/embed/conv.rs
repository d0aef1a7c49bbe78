//! Direct (im2col-free) convolutions of musicnn's front end, with the pooling fused in.
//!
//! Both front-end layers are correlations along a row of their input: output position `p` of
//! filter `o` is `Σ_{i<rows, j<taps} x[base + i·row_stride + j + p] · w[i·taps + j, o]`. The
//! kernel keeps an `MR filters × V vectors` block of outputs in registers for the whole sum:
//! the `V` vectors are loaded straight from the input (consecutive positions are consecutive
//! in memory, so there is nothing to copy or pack), the `MR` weights are broadcast from a copy
//! of the kernel packed once at model load. The block is then pooled in registers (a max and
//! a min over positions, or a running max and min across calls), so only pooled values reach
//! memory. The last vector of a row starts at `P − LANES` and overlaps the one before it:
//! max and min do not mind seeing a value twice, and no lane is ever masked.

use super::simd::{Isa, Simd};

/// A layer's kernel `(taps) × out`, repacked for [`Isa`]: panels of `mr` filters, and within a
/// panel tap after tap, the `mr` weights of a tap contiguous. Filters past `out` are zero.
pub struct Packed {
    pub isa: Isa,
    mr: usize,
    taps: usize,
    out: usize,
    data: Vec<f32>,
}

/// `(MR, V)` of the kernel for this instruction set and row length: the `MR · V` accumulators,
/// the `V` input vectors and a broadcast must fit the register file, or the kernel spills.
/// AVX-512 has 32 registers: 24 accumulators, shaped to the row (59 positions: 4 vectors, 30:
/// 2, 187: 12 = 2 × 6). AVX2 has 16: 6 × 2 = 12 accumulators, 2 inputs, 1 broadcast.
fn blocking(isa: Isa, positions: usize) -> (usize, usize) {
    match (isa, positions) {
        (Isa::Avx512, p) if p <= 32 => (12, 2),
        (Isa::Avx512, p) if p <= 64 => (6, 4),
        (Isa::Avx512, _) => (4, 6),
        _ => (6, 2),
    }
}

impl Packed {
    /// Packs the row-major `taps × out` `kernel` for rows of `positions` outputs.
    pub fn new(isa: Isa, kernel: &[f32], taps: usize, out: usize, positions: usize) -> Packed {
        assert_eq!(kernel.len(), taps * out, "kernel is taps × out");
        let (mr, _) = blocking(isa, positions);
        let panels = out.div_ceil(mr);
        let mut data = vec![0.0; panels * taps * mr];
        for (p, panel) in data.chunks_exact_mut(taps * mr).enumerate() {
            for (k, dst) in panel.chunks_exact_mut(mr).enumerate() {
                for (r, d) in dst.iter_mut().enumerate() {
                    if let Some(&w) = kernel
                        .get(k * out + p * mr + r)
                        .filter(|_| p * mr + r < out)
                    {
                        *d = w;
                    }
                }
            }
        }
        Packed {
            isa,
            mr,
            taps,
            out,
            data,
        }
    }
}

/// Where a correlation reads: `rows` kernel rows `row_stride` apart from `base`, each `taps`
/// wide, producing `positions` outputs per filter.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub base: usize,
    pub rows: usize,
    pub row_stride: usize,
    pub taps: usize,
    pub positions: usize,
}

impl Window {
    fn last_read(&self) -> usize {
        self.base + (self.rows - 1) * self.row_stride + self.taps - 1 + self.positions - 1
    }
}

/// What is done with each filter's outputs.
pub enum Pool<'a> {
    /// `max[o]`, `min[o]` = the max and min of filter `o`'s outputs over all positions.
    Extremes {
        max: &'a mut [f32],
        min: &'a mut [f32],
    },
    /// `max[o·P + p] = max(max[o·P + p], y)` and likewise `min`, for every output `y` of filter
    /// `o` at position `p` (running extremes across calls, e.g. over mel bands).
    Running {
        max: &'a mut [f32],
        min: &'a mut [f32],
    },
}

/// Correlates `input` through `window` with `packed` (see the module docs) and pools the
/// outputs as `pool` says. Panics if the window reads past `input`, if
/// `positions < LANES`, or if the pool's slices are too short for `packed`'s filters.
pub fn correlate(packed: &Packed, input: &[f32], window: Window, pool: Pool<'_>) {
    assert_eq!(
        window.rows * window.taps,
        packed.taps,
        "window and kernel differ"
    );
    assert!(
        window.last_read() < input.len(),
        "window reads past its input"
    );
    let need = match &pool {
        Pool::Extremes { .. } => packed.out,
        Pool::Running { .. } => packed.out * window.positions,
    };
    let ok = match &pool {
        Pool::Extremes { max, min } | Pool::Running { max, min } => {
            max.len() >= need && min.len() >= need
        }
    };
    assert!(ok, "pool slices too short");
    let (_, v) = blocking(packed.isa, window.positions);
    // SAFETY: the instruction set was detected on this CPU (`Isa::detect`) before packing; the
    // reads stay within `input` (checked above: the last vector of a row ends at the row's last
    // position) and the writes within the pool slices (checked above).
    unsafe {
        match (packed.isa, packed.mr, v) {
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, 12, 2) => avx512::<12, 2>(packed, input, window, pool),
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, 6, 4) => avx512::<6, 4>(packed, input, window, pool),
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx512, 4, 6) => avx512::<4, 6>(packed, input, window, pool),
            #[cfg(target_arch = "x86_64")]
            (Isa::Avx2, 6, 2) => avx2::<6, 2>(packed, input, window, pool),
            other => panic!("no convolution kernel for {other:?}"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<const MR: usize, const V: usize>(
    packed: &Packed,
    input: &[f32],
    window: Window,
    pool: Pool<'_>,
) {
    drive::<super::simd::Avx512, MR, V>(packed, input, window, pool)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<const MR: usize, const V: usize>(
    packed: &Packed,
    input: &[f32],
    window: Window,
    pool: Pool<'_>,
) {
    drive::<super::simd::Avx2, MR, V>(packed, input, window, pool)
}

/// Every panel of filters over every chunk of `V` vectors of positions.
#[inline(always)]
unsafe fn drive<S: Simd, const MR: usize, const V: usize>(
    packed: &Packed,
    input: &[f32],
    window: Window,
    mut pool: Pool<'_>,
) {
    let lanes = S::LANES;
    let p = window.positions;
    assert!(p >= lanes, "a row holds at least one vector");
    let vectors = p.div_ceil(lanes);
    let start = |v: usize| (v * lanes).min(p - lanes);
    for (panel, weights) in packed.data.chunks_exact(packed.taps * MR).enumerate() {
        let filters = MR.min(packed.out - panel * MR);
        let first = panel * MR;
        if let Pool::Extremes { max, min } = &mut pool {
            max[first..first + filters].fill(f32::NEG_INFINITY);
            min[first..first + filters].fill(f32::INFINITY);
        }
        for chunk in (0..vectors).step_by(V) {
            // A short last chunk repeats its last vector: wasted work, never a wrong value.
            let starts: [usize; V] = std::array::from_fn(|v| start((chunk + v).min(vectors - 1)));
            let acc = block::<S, MR, V>(weights.as_ptr(), input.as_ptr(), window, &starts);
            for (r, row) in acc.iter().enumerate().take(filters) {
                let o = first + r;
                match &mut pool {
                    Pool::Extremes { max, min } => {
                        let (mut hi, mut lo) = (row[0], row[0]);
                        for &x in &row[1..] {
                            hi = S::max(hi, x);
                            lo = S::min(lo, x);
                        }
                        max[o] = max[o].max(S::reduce_max(hi));
                        min[o] = min[o].min(S::reduce_min(lo));
                    }
                    Pool::Running { max, min } => {
                        for (&x, &s) in row.iter().zip(&starts) {
                            let at = o * p + s;
                            let hi = max[at..at + lanes].as_mut_ptr();
                            let lo = min[at..at + lanes].as_mut_ptr();
                            S::store(hi, S::max(S::load(hi), x));
                            S::store(lo, S::min(S::load(lo), x));
                        }
                    }
                }
            }
        }
    }
}

/// One `MR × V` block of outputs, summed over every tap in registers.
#[inline(always)]
unsafe fn block<S: Simd, const MR: usize, const V: usize>(
    mut w: *const f32,
    input: *const f32,
    window: Window,
    starts: &[usize; V],
) -> [[S::V; V]; MR] {
    let mut acc = [[S::splat(0.0); V]; MR];
    for i in 0..window.rows {
        let row = input.add(window.base + i * window.row_stride);
        let ptrs: [*const f32; V] = std::array::from_fn(|v| row.add(starts[v]));
        for j in 0..window.taps {
            let x: [S::V; V] = std::array::from_fn(|v| S::load(ptrs[v].add(j)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let b = S::splat(*w.add(r));
                for (a, &xv) in acc_r.iter_mut().zip(&x) {
                    *a = S::fma(b, xv, *a);
                }
            }
            w = w.add(MR);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence in [−1, 1).
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn reference(kernel: &[f32], out: usize, input: &[f32], w: Window) -> Vec<Vec<f64>> {
        (0..out)
            .map(|o| {
                (0..w.positions)
                    .map(|p| {
                        let mut sum = 0.0f64;
                        for i in 0..w.rows {
                            for j in 0..w.taps {
                                let x = input[w.base + i * w.row_stride + j + p] as f64;
                                sum += x * kernel[(i * w.taps + j) * out + o] as f64;
                            }
                        }
                        sum
                    })
                    .collect()
            })
            .collect()
    }

    /// Every kernel against a plain f64 loop, on random data, at musicnn's shapes and at edge
    /// sizes: one vector exactly, one lane over, filters not a multiple of the panel, one tap.
    #[test]
    fn kernels_match_a_plain_loop() {
        let shapes = [
            // (rows, taps, positions, out)
            (7, 38, 59, 204),
            (7, 67, 30, 204),
            (1, 128, 187, 51),
            (1, 32, 187, 51),
            (2, 3, 16, 5),
            (3, 1, 17, 13),
            (1, 5, 8, 1),
            (4, 9, 33, 7),
            (2, 4, 65, 25),
        ];
        for isa in Isa::vector_sets() {
            for (n, &(rows, taps, positions, out)) in shapes.iter().enumerate() {
                if positions < if isa == Isa::Avx512 { 16 } else { 8 } {
                    continue;
                }
                let row_stride = taps + positions + 3;
                let w = Window {
                    base: 2,
                    rows,
                    row_stride,
                    taps,
                    positions,
                };
                let input = noise(w.last_read() + 1, n as u64);
                let kernel = noise(rows * taps * out, 100 + n as u64);
                let want = reference(&kernel, out, &input, w);
                let packed = Packed::new(isa, &kernel, rows * taps, out, positions);
                let tol = 1e-5 * (rows * taps) as f64;

                let (mut max, mut min) = (vec![0.0; out], vec![0.0; out]);
                correlate(
                    &packed,
                    &input,
                    w,
                    Pool::Extremes {
                        max: &mut max,
                        min: &mut min,
                    },
                );
                for o in 0..out {
                    let hi = want[o].iter().copied().fold(f64::MIN, f64::max);
                    let lo = want[o].iter().copied().fold(f64::MAX, f64::min);
                    assert!((max[o] as f64 - hi).abs() <= tol, "{isa:?} {n} max {o}");
                    assert!((min[o] as f64 - lo).abs() <= tol, "{isa:?} {n} min {o}");
                }

                // Running extremes: start from a ceiling/floor half the values cross.
                let (mut max, mut min) = (vec![0.0; out * positions], vec![0.0; out * positions]);
                correlate(
                    &packed,
                    &input,
                    w,
                    Pool::Running {
                        max: &mut max,
                        min: &mut min,
                    },
                );
                for o in 0..out {
                    for p in 0..positions {
                        let y = want[o][p];
                        let (hi, lo) =
                            (max[o * positions + p] as f64, min[o * positions + p] as f64);
                        assert!((hi - y.max(0.0)).abs() <= tol, "{isa:?} {n} running max");
                        assert!((lo - y.min(0.0)).abs() <= tol, "{isa:?} {n} running min");
                    }
                }
            }
        }
    }
}
