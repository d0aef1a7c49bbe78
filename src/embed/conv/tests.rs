//! The convolution kernels against a plain loop, on every instruction set this CPU has.

use super::super::{amx, bf16};
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

/// A window with the kernel's number of taps but another shape would walk a bf16 kernel's
/// pairs out of step (and past its panel): refused for every instruction set.
#[test]
fn a_window_of_another_shape_is_refused() {
    for isa in Isa::vector_sets() {
        let positions = isa.lanes();
        let packed = Packed::new(isa, &[1.0; 3], [1, 3], 1, positions, Reduce::AcrossWindows);
        let input = vec![0.0; 64];
        let mut pairs = Vec::new();
        bf16::pair_up(&input, &mut pairs);
        let mut halves = Vec::new();
        amx::halves(&input, &mut halves);
        let window = Window {
            base: 0,
            rows: 3,
            row_stride: 1,
            taps: 1,
            positions,
        };
        let run = std::panic::catch_unwind(|| {
            let (mut max, mut min) = (vec![0.0; 1], vec![0.0; 1]);
            let signal = Signal {
                values: &input,
                pairs: &pairs,
                halves: &halves,
            };
            let pool = Pool::Extremes {
                max: &mut max,
                min: &mut min,
            };
            correlate(&packed, signal, window, pool);
        });
        assert!(
            run.is_err(),
            "{isa:?} took a 3 × 1 window for a 1 × 3 kernel"
        );
    }
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
        // A bf16 kernel's products are exact in f64 from the bf16-rounded values.
        let exact = |x: Vec<f32>| match isa {
            Isa::Avx512Bf16 | Isa::Amx => x.into_iter().map(bf16::round).collect(),
            _ => x,
        };
        let (mut pairs, mut halves) = (Vec::new(), Vec::new());
        for (n, &(rows, taps, positions, out)) in shapes.iter().enumerate() {
            if positions < isa.lanes() {
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
            bf16::pair_up(&input, &mut pairs);
            amx::halves(&input, &mut halves);
            let signal = Signal {
                values: &input,
                pairs: &pairs,
                halves: &halves,
            };
            let kernel = noise(rows * taps * out, 100 + n as u64);
            let want = reference(&exact(kernel.clone()), out, &exact(input.clone()), w);
            let tol = 1e-5 * (rows * taps) as f64;

            // Extremes over positions, with either tile (AVX2 packs filters in lanes for
            // these, AVX-512 positions): right, and the same bits either way.
            let mut bits = Vec::new();
            for reduce in [Reduce::OverPositions, Reduce::AcrossWindows] {
                let packed = Packed::new(isa, &kernel, [rows, taps], out, positions, reduce);
                let (mut max, mut min) = (vec![0.0; out], vec![0.0; out]);
                correlate(
                    &packed,
                    signal,
                    w,
                    Pool::Extremes {
                        max: &mut max,
                        min: &mut min,
                    },
                );
                for o in 0..out {
                    let hi = want[o].iter().copied().fold(f64::MIN, f64::max);
                    let lo = want[o].iter().copied().fold(f64::MAX, f64::min);
                    let at = format!("{isa:?} {reduce:?} {n} filter {o}");
                    assert!((max[o] as f64 - hi).abs() <= tol, "max, {at}");
                    assert!((min[o] as f64 - lo).abs() <= tol, "min, {at}");
                }
                bits.push([max, min].map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()));
            }
            assert_eq!(bits[0], bits[1], "{isa:?} {n}: the two tiles differ");

            // Extremes over three windows, each `taps + 1` further on: against the
            // reference of each window.
            let packed = Packed::new(
                isa,
                &kernel,
                [rows, taps],
                out,
                positions,
                Reduce::AcrossWindows,
            );
            let (count, stride) = (3, taps + 1);
            let input = noise(w.last_read() + (count - 1) * stride + 1, 50 + n as u64);
            bf16::pair_up(&input, &mut pairs);
            amx::halves(&input, &mut halves);
            let (kernel, input) = (exact(kernel), exact(input.clone()));
            let wants: Vec<_> = (0..count)
                .map(|k| {
                    let moved = Window {
                        base: w.base + k * stride,
                        ..w
                    };
                    reference(&kernel, out, &input, moved)
                })
                .collect();
            let (mut max, mut min) = (vec![0.0; out * positions], vec![0.0; out * positions]);
            let signal = Signal {
                values: &input,
                pairs: &pairs,
                halves: &halves,
            };
            correlate(
                &packed,
                signal,
                w,
                Pool::AcrossWindows {
                    max: &mut max,
                    min: &mut min,
                    count,
                    stride,
                },
            );
            for o in 0..out {
                for p in 0..positions {
                    let ys = wants.iter().map(|want| want[o][p]);
                    let hi = ys.clone().fold(f64::MIN, f64::max);
                    let lo = ys.fold(f64::MAX, f64::min);
                    let (got_hi, got_lo) =
                        (max[o * positions + p] as f64, min[o * positions + p] as f64);
                    assert!((got_hi - hi).abs() <= tol, "{isa:?} {n} max over windows");
                    assert!((got_lo - lo).abs() <= tol, "{isa:?} {n} min over windows");
                }
            }
        }
    }
}
