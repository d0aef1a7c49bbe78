//! Direct (im2col-free) convolutions of musicnn's front end, with the pooling fused in.
//!
//! Both front-end layers are correlations along a row of their input: output position `p` of
//! filter `o` is `Σ_{i<rows, j<taps} x[base + i·row_stride + j + p] · w[i·taps + j, o]`. The
//! kernel keeps a block of outputs in registers for the whole sum and pools it there (a max and
//! a min over positions, or over the same positions of several windows), so only pooled values
//! reach memory. A block is laid out one of two ways ([`Tile`]):
//!
//! - *positions in lanes*: `MR filters × V vectors` of consecutive positions. The vectors are
//!   loaded straight from the input (nothing to copy or pack), the `MR` weights broadcast from
//!   a copy of the kernel packed once at model load. The last vector of a row starts at
//!   `P − LANES` and overlaps the one before it: max and min do not mind seeing a value twice,
//!   and no lane is ever masked; but a row of 59 positions fills 64 lanes.
//! - *filters in lanes*: `MR positions × V vectors` of consecutive filters, the input values
//!   broadcast and the weights loaded as vectors. Used where the outputs are pooled over
//!   positions and the row fits the lanes badly: on AVX2, 204 filters fill 208 lanes where 59
//!   positions fill 64 (and 30 fill 32). The last tile of positions overlaps the one before it.
//!
//! Either way each output is summed in the same order (tap after tap, one FMA each), so the two
//! layouts give the same bits.

use super::aligned::CacheAligned;
use super::simd::{Isa, Simd};

/// A layer's kernel `(rows · row taps) × out`, repacked for [`Isa`]: panels of `width`
/// filters, and within a panel tap after tap, the `width` weights of a tap contiguous (for
/// [`Isa::Avx512Bf16`], pair of taps after pair of taps within each row: see `super::bf16`).
/// Filters past `out` are zero.
pub struct Packed {
    pub isa: Isa,
    tile: Tile,
    /// `[rows, row_taps]`: the windows it correlates with must have exactly this shape.
    shape: [usize; 2],
    out: usize,
    kernel: Kernel,
}

/// A packed kernel's elements.
enum Kernel {
    F32(CacheAligned<f32>),
    /// Two bf16 weights in each `u32`, the even tap in the low half.
    Bf16Pairs(CacheAligned<u32>),
    /// bf16 weights as AMX right-hand tiles (`super::amx::pack`).
    Tiles(CacheAligned<u16>),
}

/// How a layer's outputs are pooled, which decides the [`Tile`] its kernel is packed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Over all positions of a call ([`Pool::Extremes`]).
    OverPositions,
    /// Position by position over several windows ([`Pool::AcrossWindows`]).
    AcrossWindows,
}

/// What a kernel's vectors hold (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lanes {
    Positions,
    Filters,
}

/// A kernel's register block: `mr × v` accumulators, `v` vectors wide; `mr` counts filters when
/// the lanes hold positions, and positions when they hold filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tile {
    lanes: Lanes,
    mr: usize,
    v: usize,
}

impl Tile {
    /// The block for this instruction set, row length and pooling: the `MR · V` accumulators,
    /// the `V` vectors and a broadcast must fit the register file, or the kernel spills.
    /// AVX-512 has 32 registers: 24 accumulators, shaped to the row (59 positions: 4 vectors,
    /// 30: 2, 187: 12 = 2 × 6). AVX2 has 16: 6 × 2 = 12 accumulators, 2 vectors, 1 broadcast;
    /// filters in lanes where the pooling allows it (16 filters a panel: 204 fill 208 lanes).
    /// AVX-512 keeps positions in its lanes: its filter panels would waste more (32 filters a
    /// panel fill 224 lanes for 204; 16 a panel leave tiles of 24 positions, 72 for 59).
    fn choose(isa: Isa, positions: usize, reduce: Reduce) -> Tile {
        let positions_in_lanes = |mr, v| Tile {
            lanes: Lanes::Positions,
            mr,
            v,
        };
        match (isa, positions, reduce) {
            // AMX's blocks are its own (`super::amx`); this tile is not used there.
            (Isa::Amx | Isa::Avx512 | Isa::Avx512Bf16, p, _) if p <= 32 => {
                positions_in_lanes(12, 2)
            }
            (Isa::Amx | Isa::Avx512 | Isa::Avx512Bf16, p, _) if p <= 64 => positions_in_lanes(6, 4),
            (Isa::Amx | Isa::Avx512 | Isa::Avx512Bf16, _, _) => positions_in_lanes(4, 6),
            (_, p, Reduce::OverPositions) if p >= 6 => Tile {
                lanes: Lanes::Filters,
                mr: 6,
                v: 2,
            },
            _ => positions_in_lanes(6, 2),
        }
    }
}

impl Packed {
    /// Packs the row-major `(rows · row_taps) × out` `kernel` (`shape` = `[rows, row_taps]`)
    /// for rows of `positions` outputs pooled as `reduce` says.
    pub fn new(
        isa: Isa,
        kernel: &[f32],
        shape: [usize; 2],
        out: usize,
        positions: usize,
        reduce: Reduce,
    ) -> Packed {
        let [rows, row_taps] = shape;
        let taps = rows * row_taps;
        assert_eq!(kernel.len(), taps * out, "kernel is taps × out");
        let tile = Tile::choose(isa, positions, reduce);
        let width = match tile.lanes {
            Lanes::Positions => tile.mr,
            Lanes::Filters => tile.v * isa.lanes(),
        };
        let weight = |tap: usize, o: usize| if o < out { kernel[tap * out + o] } else { 0.0 };
        let panels = out.div_ceil(width);
        let kernel = if isa == Isa::Amx {
            Kernel::Tiles(CacheAligned::new(&super::amx::pack(shape, out, weight)))
        } else if isa == Isa::Avx512Bf16 {
            Kernel::Bf16Pairs(CacheAligned::new(&super::bf16::pack(
                shape, width, panels, weight,
            )))
        } else {
            let mut data = Vec::with_capacity(panels * taps * width);
            for panel in 0..panels {
                for tap in 0..taps {
                    data.extend((0..width).map(|r| weight(tap, panel * width + r)));
                }
            }
            Kernel::F32(CacheAligned::new(&data))
        };
        Packed {
            isa,
            tile,
            shape,
            out,
            kernel,
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
    /// The same window `by` values further into the input (the next of several windows).
    pub(super) fn moved(self, by: usize) -> Window {
        Window {
            base: self.base + by,
            ..self
        }
    }

    fn last_read(&self) -> usize {
        self.base + (self.rows - 1) * self.row_stride + self.taps - 1 + self.positions - 1
    }
}

/// A correlation's input: its values, and for a kernel packed for [`Isa::Avx512Bf16`] the same
/// values as bf16 pairs ([`super::bf16::pair_up`]), for one packed for [`Isa::Amx`] as bf16
/// values ([`super::amx::halves`]). A kernel reads only the form it was packed for; the others
/// may be empty.
#[derive(Clone, Copy)]
pub struct Signal<'a> {
    pub values: &'a [f32],
    pub pairs: &'a [u32],
    pub halves: &'a [u16],
}

/// What is done with each filter's outputs.
pub enum Pool<'a> {
    /// `max[o]`, `min[o]` = the max and min of filter `o`'s outputs over all positions.
    Extremes {
        max: &'a mut [f32],
        min: &'a mut [f32],
    },
    /// `max[o·P + p]`, `min[o·P + p]` = the max and min of filter `o`'s output at position `p`
    /// over `count` windows, the window moved `stride` further into the input each time (e.g.
    /// one window per mel band). Kept in registers from window to window: a block of outputs is
    /// summed for every window before the next block, and only the extremes are stored.
    AcrossWindows {
        max: &'a mut [f32],
        min: &'a mut [f32],
        count: usize,
        stride: usize,
    },
}

/// Correlates `input` through `window` with `packed` (see the module docs) and pools the
/// outputs as `pool` says. Panics if the window's `[rows, taps]` is not the kernel's, if a
/// window reads past `input` (the form of it `packed` reads), if the row is shorter than the
/// kernel's block (`positions < LANES`, or `< 6` with filters in lanes), if the pool's slices
/// are too short for `packed`'s filters, or if `pool` runs across windows on a kernel packed for
/// [`Reduce::OverPositions`] with filters in lanes (AVX2).
pub fn correlate(packed: &Packed, input: Signal<'_>, window: Window, pool: Pool<'_>) {
    assert_eq!(
        [window.rows, window.taps],
        packed.shape,
        "window and kernel differ"
    );
    let (need, count, stride) = match &pool {
        Pool::Extremes { .. } => (packed.out, 1, 0),
        Pool::AcrossWindows { count, stride, .. } => {
            assert!(*count > 0, "no window to pool over");
            (packed.out * window.positions, *count, *stride)
        }
    };
    let last_read = (count - 1).checked_mul(stride).and_then(|l| {
        let window_end = match packed.kernel {
            // Tiles read each row's taps padded to a multiple of 32.
            Kernel::Tiles(_) => super::amx::last_read(&window),
            _ => window.last_read(),
        };
        l.checked_add(window_end)
    });
    let last_read = last_read.unwrap_or(usize::MAX);
    let input_len = match packed.kernel {
        Kernel::F32(_) => input.values.len(),
        Kernel::Bf16Pairs(_) => input.pairs.len(),
        Kernel::Tiles(_) => input.halves.len(),
    };
    assert!(last_read < input_len, "window reads past its input");
    let ok = match &pool {
        Pool::Extremes { max, min } | Pool::AcrossWindows { max, min, .. } => {
            max.len() >= need && min.len() >= need
        }
    };
    assert!(ok, "pool slices too short");
    // SAFETY: the instruction set was detected on this CPU (`Isa::detect`) before packing; the
    // reads stay within `input` (checked above: the last vector or tile of a row ends at the
    // row's last position, in the last window) and the writes within the pool slices (checked
    // above).
    unsafe {
        let Tile { lanes, mr, v } = packed.tile;
        let (isa, out) = (packed.isa, packed.out);
        match (&packed.kernel, isa, lanes, mr, v, pool) {
            #[cfg(target_arch = "x86_64")]
            (Kernel::Tiles(w), Isa::Amx, _, _, _, pool) => {
                super::amx::correlate(w, out, packed.shape, input.halves, window, pool)
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::Bf16Pairs(w), Isa::Avx512Bf16, Lanes::Positions, mr, v, pool) => {
                use super::bf16::avx512 as bf16;
                let x = input.pairs;
                match (mr, v) {
                    (12, 2) => bf16::<12, 2>(w, out, x, window, pool),
                    (6, 4) => bf16::<6, 4>(w, out, x, window, pool),
                    (4, 6) => bf16::<4, 6>(w, out, x, window, pool),
                    _ => panic!("no bf16 kernel for {:?}", packed.tile),
                }
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::F32(w), Isa::Avx2, Lanes::Filters, 6, 2, Pool::Extremes { max, min }) => {
                avx2_across::<6, 2>(w, out, input.values, window, max, min)
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::F32(w), Isa::Avx512, Lanes::Positions, 12, 2, pool) => {
                avx512::<12, 2>(w, out, input.values, window, pool)
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::F32(w), Isa::Avx512, Lanes::Positions, 6, 4, pool) => {
                avx512::<6, 4>(w, out, input.values, window, pool)
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::F32(w), Isa::Avx512, Lanes::Positions, 4, 6, pool) => {
                avx512::<4, 6>(w, out, input.values, window, pool)
            }
            #[cfg(target_arch = "x86_64")]
            (Kernel::F32(w), Isa::Avx2, Lanes::Positions, 6, 2, pool) => {
                avx2::<6, 2>(w, out, input.values, window, pool)
            }
            (_, isa, ..) => panic!(
                "no convolution kernel for {isa:?} {:?} with this pooling",
                packed.tile
            ),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512<const MR: usize, const V: usize>(
    weights: &[f32],
    out: usize,
    input: &[f32],
    window: Window,
    pool: Pool<'_>,
) {
    drive::<super::simd::Avx512, Fma, MR, V>(weights, out, input, window, pool)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<const MR: usize, const V: usize>(
    weights: &[f32],
    out: usize,
    input: &[f32],
    window: Window,
    pool: Pool<'_>,
) {
    drive::<super::simd::Avx2, Fma, MR, V>(weights, out, input, window, pool)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_across<const MR: usize, const V: usize>(
    weights: &[f32],
    out: usize,
    input: &[f32],
    window: Window,
    max: &mut [f32],
    min: &mut [f32],
) {
    drive_across::<super::simd::Avx2, MR, V>(weights, out, input, window, max, min)
}

/// The max and min over `window`'s positions of each filter of one panel of 16 filters laid
/// out as AVX2's filters-in-lanes kernels are (`[rows · taps][16]`), into the first
/// `max.len()` of them: `correlate` for one panel whose weights are not a packed model's (the
/// products of `super::spectral`).
///
/// # Panics
/// If the CPU lacks AVX2 and FMA, if the window reads past `input` or has fewer than 6
/// positions, if `panel` is not `rows · taps · 16` values, or if `max` and `min` differ in
/// length or exceed 16.
#[cfg(target_arch = "x86_64")]
pub(super) fn avx2_extremes(
    panel: &[f32],
    input: &[f32],
    window: Window,
    max: &mut [f32],
    min: &mut [f32],
) {
    const WIDTH: usize = 16;
    assert!(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"));
    assert_eq!(panel.len(), window.rows * window.taps * WIDTH, "one panel");
    assert!(window.positions >= 6, "a row holds at least one tile");
    assert!(
        window.last_read() < input.len(),
        "window reads past its input"
    );
    assert!(
        max.len() == min.len() && max.len() <= WIDTH,
        "at most one panel's filters"
    );
    // SAFETY: the features were detected just above; the panel is one chunk of `rows · taps ·
    // 16` weights, the reads stay within `input` (checked: a tile's last position is at most
    // the row's last), and `drive_across` writes only the first `max.len()` of each slice.
    unsafe { avx2_across::<6, 2>(panel, max.len(), input, window, max, min) }
}

/// How a block sums its products: one f32 FMA a tap ([`Fma`]), or one bf16 dot product a pair
/// of taps (`super::bf16::PairDot`). Every method is `unsafe` as [`Simd`]'s are.
pub(super) trait Taps<S: Simd> {
    /// What the packed kernel and the input hold: one tap's value, or a pair's.
    type Elem: Copy;
    /// A vector of input elements, or one element broadcast.
    type X: Copy;
    /// Taps one element covers.
    const STEP: usize;
    unsafe fn load(p: *const Self::Elem) -> Self::X;
    unsafe fn broadcast(w: *const Self::Elem) -> Self::X;
    /// `acc` plus the products of `x` and `w`.
    unsafe fn add_products(acc: S::V, x: Self::X, w: Self::X) -> S::V;
}

/// One f32 FMA a tap.
struct Fma;

impl<S: Simd> Taps<S> for Fma {
    type Elem = f32;
    type X = S::V;
    const STEP: usize = 1;

    #[inline(always)]
    unsafe fn load(p: *const f32) -> S::V {
        S::load(p)
    }
    #[inline(always)]
    unsafe fn broadcast(w: *const f32) -> S::V {
        S::splat(*w)
    }
    #[inline(always)]
    unsafe fn add_products(acc: S::V, x: S::V, w: S::V) -> S::V {
        S::fma(w, x, acc)
    }
}

/// One `MR × V` block of outputs summed over every tap of `window` in registers, from the panel
/// at `w`; vector `v` holds the positions from `starts[v]` on.
#[inline(always)]
unsafe fn block<S: Simd, K: Taps<S>, const MR: usize, const V: usize>(
    mut w: *const K::Elem,
    input: *const K::Elem,
    window: Window,
    starts: &[usize; V],
) -> [[S::V; V]; MR] {
    let mut acc = [[S::splat(0.0); V]; MR];
    for i in 0..window.rows {
        let row = input.add(window.base + i * window.row_stride);
        let ptrs: [*const K::Elem; V] = std::array::from_fn(|v| row.add(starts[v]));
        for j in (0..window.taps).step_by(K::STEP) {
            let x: [K::X; V] = std::array::from_fn(|v| K::load(ptrs[v].add(j)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let b = K::broadcast(w.add(r));
                for (a, &xv) in acc_r.iter_mut().zip(&x) {
                    *a = K::add_products(*a, xv, b);
                }
            }
            w = w.add(MR);
        }
    }
    acc
}

/// Every panel of filters over every chunk of `V` vectors of positions.
/// `weights` holds the panels of `out` filters, `MR` a panel; `input` is what the kernel reads.
#[inline(always)]
pub(super) unsafe fn drive<S: Simd, K: Taps<S>, const MR: usize, const V: usize>(
    weights: &[K::Elem],
    out: usize,
    input: &[K::Elem],
    window: Window,
    mut pool: Pool<'_>,
) {
    let lanes = S::LANES;
    let p = window.positions;
    assert!(p >= lanes, "a row holds at least one vector");
    let vectors = p.div_ceil(lanes);
    let start = |v: usize| (v * lanes).min(p - lanes);
    let panel_len = weights.len() / out.div_ceil(MR);
    for (panel, weights) in weights.chunks_exact(panel_len).enumerate() {
        let filters = MR.min(out - panel * MR);
        let first = panel * MR;
        if let Pool::Extremes { max, min } = &mut pool {
            max[first..first + filters].fill(f32::NEG_INFINITY);
            min[first..first + filters].fill(f32::INFINITY);
        }
        for chunk in (0..vectors).step_by(V) {
            // A short last chunk repeats its last vector: wasted work, never a wrong value.
            let starts: [usize; V] = std::array::from_fn(|v| start((chunk + v).min(vectors - 1)));
            match &mut pool {
                Pool::Extremes { max, min } => {
                    let acc =
                        block::<S, K, MR, V>(weights.as_ptr(), input.as_ptr(), window, &starts);
                    for (r, row) in acc.iter().enumerate().take(filters) {
                        let o = first + r;
                        let (mut hi, mut lo) = (row[0], row[0]);
                        for &x in &row[1..] {
                            hi = S::max(hi, x);
                            lo = S::min(lo, x);
                        }
                        max[o] = max[o].max(S::reduce_max(hi));
                        min[o] = min[o].min(S::reduce_min(lo));
                    }
                }
                Pool::AcrossWindows {
                    max,
                    min,
                    count,
                    stride,
                } => {
                    let mut hi =
                        block::<S, K, MR, V>(weights.as_ptr(), input.as_ptr(), window, &starts);
                    let mut lo = hi;
                    for k in 1..*count {
                        let moved = window.moved(k * *stride);
                        let acc =
                            block::<S, K, MR, V>(weights.as_ptr(), input.as_ptr(), moved, &starts);
                        for r in 0..MR {
                            for v in 0..V {
                                hi[r][v] = S::max(hi[r][v], acc[r][v]);
                                lo[r][v] = S::min(lo[r][v], acc[r][v]);
                            }
                        }
                    }
                    for r in 0..filters {
                        let o = first + r;
                        for (v, &s) in starts.iter().enumerate() {
                            let at = o * p + s;
                            S::store(max[at..at + lanes].as_mut_ptr(), hi[r][v]);
                            S::store(min[at..at + lanes].as_mut_ptr(), lo[r][v]);
                        }
                    }
                }
            }
        }
    }
}

/// Filters in lanes: every panel of `V · LANES` filters over every tile of `MR` positions, the
/// extremes over positions kept in registers across the tiles.
#[inline(always)]
unsafe fn drive_across<S: Simd, const MR: usize, const V: usize>(
    weights: &[f32],
    out: usize,
    input: &[f32],
    window: Window,
    max: &mut [f32],
    min: &mut [f32],
) {
    let lanes = S::LANES;
    let p = window.positions;
    assert!(p >= MR, "a row holds at least one tile");
    let width = V * lanes;
    let mut spill = [0.0f32; 64];
    assert!(width <= spill.len(), "a panel is at most 64 filters");
    let taps = window.rows * window.taps;
    for (panel, weights) in weights.chunks_exact(taps * width).enumerate() {
        let mut hi = [S::splat(f32::NEG_INFINITY); V];
        let mut lo = [S::splat(f32::INFINITY); V];
        for tile in 0..p.div_ceil(MR) {
            let start = (tile * MR).min(p - MR);
            let acc = block_across::<S, MR, V>(weights.as_ptr(), input.as_ptr(), window, start);
            for row in &acc {
                for v in 0..V {
                    hi[v] = S::max(hi[v], row[v]);
                    lo[v] = S::min(lo[v], row[v]);
                }
            }
        }
        let first = panel * width;
        let filters = width.min(out - first);
        for (extremes, dst) in [(hi, &mut *max), (lo, &mut *min)] {
            for (v, &x) in extremes.iter().enumerate() {
                S::store(spill.as_mut_ptr().add(v * lanes), x);
            }
            dst[first..first + filters].copy_from_slice(&spill[..filters]);
        }
    }
}

/// One `MR positions × V vectors of filters` block of outputs, summed over every tap in
/// registers; the positions start at `start`.
#[inline(always)]
unsafe fn block_across<S: Simd, const MR: usize, const V: usize>(
    mut w: *const f32,
    input: *const f32,
    window: Window,
    start: usize,
) -> [[S::V; V]; MR] {
    let mut acc = [[S::splat(0.0); V]; MR];
    for i in 0..window.rows {
        let row = input.add(window.base + i * window.row_stride + start);
        for j in 0..window.taps {
            let weights: [S::V; V] = std::array::from_fn(|v| S::load(w.add(v * S::LANES)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let x = S::splat(*row.add(j + r));
                for (a, &wv) in acc_r.iter_mut().zip(&weights) {
                    *a = S::fma(wv, x, *a);
                }
            }
            w = w.add(V * S::LANES);
        }
    }
    acc
}

#[cfg(test)]
mod tests;
