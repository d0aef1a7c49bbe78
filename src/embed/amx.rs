//! The front end's convolutions on Intel's AMX tiles (AMX-BF16), where the CPU has them and
//! Linux lets the process use them.
//!
//! `tdpbf16ps` multiplies a 16 × 32 tile of bf16 values by a 32 × 16 one and adds the products
//! to a 16 × 16 tile of f32 sums: 8,192 multiply-adds in one instruction. On the Xeon measured
//! (family 6, model 207) a loop of them ran at 1.6–2.9 TFLOP/s on one core from registers and
//! at 676–839 GFLOP/s with the loads of its tiles, against 175–228 for AVX-512 f32 FMAs and
//! 86–115 for `vdpbf16ps`. What is lost is the
//! same as with `vdpbf16ps` (`super::bf16`): the input's and the weights' mantissa below 8
//! bits; the sums stay f32, in another order.
//!
//! A correlation (see `super::conv`) maps onto tiles directly, with no copy of the input:
//!
//! - the left tile's row `r` is output position `start + r`, its 32 columns 32 consecutive taps
//!   of one kernel row. In the bf16 input those are 32 consecutive values, and the next
//!   position starts one value (2 bytes) further on, so the tile is one strided load
//!   straight from the input, its rows overlapping;
//! - the right tile holds those 32 taps of 16 filters, in pairs ([`pack`]), each row on a cache
//!   line of its own (`super::aligned`: rows that straddled two lines made the embedding take 1.4–1.6×
//!   as long);
//! - the sum tile is 16 positions × 16 filters. A kernel row's taps are padded with zero weights
//!   to a multiple of 32, so a tile may read up to 31 values past the row: [`halves`] leaves
//!   zeros after the input for that.
//!
//! Each block is 2 × 2 sum tiles (two runs of positions, two groups of filters), all eight
//! tile registers in use. The sums are stored and pooled with AVX-512.

use super::conv::{Pool, Window};
use std::sync::OnceLock;

/// Filters in a tile's columns, positions in its rows.
const TILE: usize = 16;
/// Taps (bf16 values) in a left tile's row.
const K_STEP: usize = 32;
/// Zero values [`halves`] leaves after its input, so that a tile of padded taps stays in it.
pub const SLACK: usize = K_STEP;

/// Whether this CPU has AMX-BF16 tiles and Linux lets this process use them (asked once, the
/// first time: `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`; without the kernel's
/// consent the first tile instruction would end the process).
pub fn available() -> bool {
    static GRANTED: OnceLock<bool> = OnceLock::new();
    *GRANTED.get_or_init(|| has_tiles() && ask_for_tiles())
}

#[cfg(target_arch = "x86_64")]
fn has_tiles() -> bool {
    use std::arch::x86_64::__cpuid_count;
    const AMX_BF16: u32 = 1 << 22;
    const AMX_TILE: u32 = 1 << 24;
    // The sums are pooled with AVX-512F; every AMX CPU has it, but say so.
    let leaf7 = __cpuid_count(0, 0).eax >= 7 && {
        let edx = __cpuid_count(7, 0).edx;
        edx & AMX_BF16 != 0 && edx & AMX_TILE != 0
    };
    leaf7 && std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_tiles() -> bool {
    false
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn ask_for_tiles() -> bool {
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl with these arguments only asks for a permission; it touches no memory.
    let granted = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    granted == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn ask_for_tiles() -> bool {
    false
}

/// `values` in bf16 ([`super::bf16::to_bf16`]), followed by [`SLACK`] zeros.
pub fn halves(values: &[f32], out: &mut Vec<u16>) {
    out.clear();
    out.extend(values.iter().map(|&x| super::bf16::to_bf16(x)));
    out.resize(values.len() + SLACK, 0);
}

/// The kernel `weight(tap, filter)` (`shape` = `[rows, row_taps]`, taps numbered row after row,
/// `out` filters) as right-hand tiles: for each group of 16 filters, each kernel row, each run
/// of 32 taps (zero past the row's end), one tile of 16 rows, row `k` holding the pair of taps
/// `2k`, `2k + 1` of each of the 16 filters (zero past `out`).
pub fn pack(shape: [usize; 2], out: usize, weight: impl Fn(usize, usize) -> f32) -> Vec<u16> {
    let [rows, row_taps] = shape;
    let steps = row_taps.div_ceil(K_STEP);
    let groups = out.div_ceil(TILE);
    let mut data = Vec::with_capacity(groups * rows * steps * K_STEP * TILE);
    for group in 0..groups {
        for i in 0..rows {
            for step in 0..steps {
                for pair in 0..K_STEP / 2 {
                    for f in 0..TILE {
                        let o = group * TILE + f;
                        for j in [2 * pair, 2 * pair + 1] {
                            let tap = step * K_STEP + j;
                            let w = if o < out && tap < row_taps {
                                weight(i * row_taps + tap, o)
                            } else {
                                0.0
                            };
                            data.push(super::bf16::to_bf16(w));
                        }
                    }
                }
            }
        }
    }
    data
}

/// The last input value a correlation through `window` reads with tiles (its taps padded to a
/// multiple of 32).
pub fn last_read(window: &Window) -> usize {
    let padded_taps = window.taps.div_ceil(K_STEP) * K_STEP;
    window.base + (window.rows - 1) * window.row_stride + (window.positions - 1) + padded_taps - 1
}

#[cfg(target_arch = "x86_64")]
pub use x86::{correlate, peak_rounds};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Pool, Window, K_STEP, TILE};
    use std::arch::asm;
    use std::arch::x86_64::*;

    /// The tile configuration (`ldtilecfg`'s 64 bytes): palette 1, all eight tiles 16 rows of
    /// 64 bytes (16 f32 sums, or 32 bf16 values).
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        bytes_per_row: [u16; 16],
        rows: [u8; 16],
    }

    const CONFIG: Config = Config {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        bytes_per_row: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
    };

    /// The four sum tiles of a block, as stored: `[tile][position row][filter]`, tile 0 = (first
    /// positions, first filters), 1 = (first, second), 2 = (second, first), 3 = (second, second).
    type Sums = [[[f32; TILE]; TILE]; 4];

    /// Correlates `input` ([`super::halves`]) through `window` with `weights` ([`super::pack`],
    /// `out` filters, `shape` the kernel's) and pools as `pool` says, like
    /// `super::super::conv::correlate`.
    ///
    /// # Safety
    /// [`super::available`] must have returned true; `window.positions ≥ 16`; every read up to
    /// [`super::last_read`] must be inside `input`; the pool slices must hold `out` (or
    /// `out · positions`) values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn correlate(
        weights: &[u16],
        out: usize,
        shape: [usize; 2],
        input: &[u16],
        window: Window,
        mut pool: Pool<'_>,
    ) {
        let [rows, row_taps] = shape;
        let steps = row_taps.div_ceil(K_STEP);
        let group_len = rows * steps * K_STEP * TILE;
        let p = window.positions;
        assert!(p >= TILE, "a row holds at least one tile of positions");
        let runs = p.div_ceil(TILE);
        let groups = out.div_ceil(TILE);
        // The last run of positions starts at `p − 16` and overlaps the one before it; an odd
        // last pair repeats its run or group: work done twice, never a wrong value.
        let start = |run: usize| (run.min(runs - 1) * TILE).min(p - TILE);
        let group = |g: usize| g.min(groups - 1);
        if let Pool::Extremes { max, min } = &mut pool {
            max[..out].fill(f32::NEG_INFINITY);
            min[..out].fill(f32::INFINITY);
        }
        asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly));
        let mut sums: Sums = [[[0.0; TILE]; TILE]; 4];
        for g in (0..groups).step_by(2) {
            let filters = [group(g), group(g + 1)];
            let w = filters.map(|f| weights.as_ptr().add(f * group_len));
            for run in (0..runs).step_by(2) {
                let starts = [start(run), start(run + 1)];
                match &mut pool {
                    Pool::Extremes { max, min } => {
                        block(w, input, &window, starts, steps, &mut sums);
                        pool_over_positions(&sums, filters, out, max, min);
                    }
                    Pool::AcrossWindows {
                        max,
                        min,
                        count,
                        stride,
                    } => {
                        block(w, input, &window, starts, steps, &mut sums);
                        let (mut hi, mut lo) = (sums, sums);
                        for k in 1..*count {
                            let moved = window.moved(k * *stride);
                            block(w, input, &moved, starts, steps, &mut sums);
                            elementwise_extremes(&sums, &mut hi, &mut lo);
                        }
                        let at = Placed {
                            filters,
                            starts,
                            out,
                            positions: p,
                        };
                        store_across_windows(&hi, &lo, at, max, min);
                    }
                }
            }
        }
        asm!("tilerelease", options(nostack, nomem));
    }

    /// `iters` rounds of four independent `tdpbf16ps` on tiles already loaded, for `sonovec
    /// bench`'s peak: 4 × 16 × 16 × 32 multiply-adds a round. Returns a sum of the results.
    ///
    /// # Safety
    /// [`super::available`] must have returned true.
    pub unsafe fn peak_rounds(iters: u64) -> f32 {
        let one = super::super::bf16::to_bf16(std::hint::black_box(1e-3));
        let left = [one; K_STEP * TILE];
        asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly));
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "tileloadd tmm4, [{x} + {sixty_four}*1]",
            "tileloadd tmm5, [{x} + {sixty_four}*1]",
            "tileloadd tmm6, [{x} + {sixty_four}*1]",
            "tileloadd tmm7, [{x} + {sixty_four}*1]",
            x = in(reg) left.as_ptr(),
            sixty_four = in(reg) 64usize,
            options(nostack, readonly)
        );
        for _ in 0..iters {
            asm!(
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                options(nostack, nomem)
            );
        }
        let mut sums: Sums = [[[0.0; TILE]; TILE]; 4];
        store_sums(&mut sums);
        asm!("tilerelease", options(nostack, nomem));
        sums.iter().flatten().flatten().sum()
    }

    /// One block of 2 × 2 sum tiles over every kernel row and run of 32 taps of `window`: the
    /// positions from `starts[0]` and `starts[1]`, the filters of the groups at `w[0]`, `w[1]`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block(
        w: [*const u16; 2],
        input: &[u16],
        window: &Window,
        starts: [usize; 2],
        steps: usize,
        sums: &mut Sums,
    ) {
        asm!(
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            options(nostack, nomem)
        );
        let x = input.as_ptr();
        let mut panel = 0;
        for i in 0..window.rows {
            let row = window.base + i * window.row_stride;
            for step in 0..steps {
                let at = row + step * K_STEP;
                asm!(
                    "tileloadd tmm4, [{a0} + {two}*1]",
                    "tileloadd tmm5, [{a1} + {two}*1]",
                    "tileloadd tmm6, [{b0} + {sixty_four}*1]",
                    "tileloadd tmm7, [{b1} + {sixty_four}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    a0 = in(reg) x.add(at + starts[0]),
                    a1 = in(reg) x.add(at + starts[1]),
                    b0 = in(reg) w[0].add(panel),
                    b1 = in(reg) w[1].add(panel),
                    two = in(reg) 2usize,
                    sixty_four = in(reg) 64usize,
                    options(nostack, readonly)
                );
                panel += K_STEP * TILE;
            }
        }
        store_sums(sums);
    }

    /// Stores the four sum tiles (`tmm0`–`tmm3`) into `sums`.
    #[inline(always)]
    unsafe fn store_sums(sums: &mut Sums) {
        asm!(
            "tilestored [{s0} + {sixty_four}*1], tmm0",
            "tilestored [{s1} + {sixty_four}*1], tmm1",
            "tilestored [{s2} + {sixty_four}*1], tmm2",
            "tilestored [{s3} + {sixty_four}*1], tmm3",
            s0 = in(reg) sums[0].as_mut_ptr(),
            s1 = in(reg) sums[1].as_mut_ptr(),
            s2 = in(reg) sums[2].as_mut_ptr(),
            s3 = in(reg) sums[3].as_mut_ptr(),
            sixty_four = in(reg) 64usize,
            options(nostack)
        );
    }

    /// Where a block's four sum tiles belong: their groups of filters (of `out`) and runs of
    /// positions (of `positions`).
    #[derive(Clone, Copy)]
    struct Placed {
        filters: [usize; 2],
        starts: [usize; 2],
        out: usize,
        positions: usize,
    }

    /// `max[o]`, `min[o]` take in filter `o`'s extremes over the positions of a block's sums.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn pool_over_positions(
        sums: &Sums,
        filters: [usize; 2],
        out: usize,
        max: &mut [f32],
        min: &mut [f32],
    ) {
        for (t, tile) in sums.iter().enumerate() {
            let first = filters[t % 2] * TILE;
            let (hi, lo) = column_extremes(tile);
            for f in 0..TILE.min(out - first) {
                max[first + f] = max[first + f].max(hi[f]);
                min[first + f] = min[first + f].min(lo[f]);
            }
        }
    }

    /// Stores a block's extremes over windows at `max[o · positions + p]`, `min[…]`.
    fn store_across_windows(hi: &Sums, lo: &Sums, at: Placed, max: &mut [f32], min: &mut [f32]) {
        for t in 0..4 {
            let (first, s) = (at.filters[t % 2] * TILE, at.starts[t / 2]);
            for f in 0..TILE.min(at.out - first) {
                let o = (first + f) * at.positions + s;
                for r in 0..TILE {
                    max[o + r] = hi[t][r][f];
                    min[o + r] = lo[t][r][f];
                }
            }
        }
    }

    /// Each filter's (column's) max and min over a tile's 16 positions.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn column_extremes(tile: &[[f32; TILE]; TILE]) -> ([f32; TILE], [f32; TILE]) {
        let mut hi = _mm512_loadu_ps(tile[0].as_ptr());
        let mut lo = hi;
        for row in &tile[1..] {
            let x = _mm512_loadu_ps(row.as_ptr());
            hi = _mm512_max_ps(hi, x);
            lo = _mm512_min_ps(lo, x);
        }
        let (mut h, mut l) = ([0.0; TILE], [0.0; TILE]);
        _mm512_storeu_ps(h.as_mut_ptr(), hi);
        _mm512_storeu_ps(l.as_mut_ptr(), lo);
        (h, l)
    }

    /// `hi` and `lo` become the elementwise max and min of themselves and `sums`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn elementwise_extremes(sums: &Sums, hi: &mut Sums, lo: &mut Sums) {
        for t in 0..4 {
            for r in 0..TILE {
                let x = _mm512_loadu_ps(sums[t][r].as_ptr());
                let h = hi[t][r].as_mut_ptr();
                let l = lo[t][r].as_mut_ptr();
                _mm512_storeu_ps(h, _mm512_max_ps(_mm512_loadu_ps(h), x));
                _mm512_storeu_ps(l, _mm512_min_ps(_mm512_loadu_ps(l), x));
            }
        }
    }
}
