//! The DFT path against a plain correlation summed in f64.

use super::*;
use crate::features::true_peak::tests::noise;

/// Each time step's max and min over positions of each filter, by the definition.
fn reference(
    kernel: &[f32],
    [rows, taps]: [usize; 2],
    out: usize,
    padded: &[f32],
) -> Vec<[f64; 2]> {
    let steps = padded.len() / POINTS + 1 - rows;
    let positions = POINTS - taps + 1;
    let mut extremes = Vec::new();
    for t in 0..steps {
        for o in 0..out {
            let (mut hi, mut lo) = (f64::NEG_INFINITY, f64::INFINITY);
            for p in 0..positions {
                let mut sum = 0.0f64;
                for r in 0..rows {
                    for j in 0..taps {
                        let x = padded[(t + r) * POINTS + p + j] as f64;
                        sum += x * kernel[(r * taps + j) * out + o] as f64;
                    }
                }
                hi = hi.max(sum);
                lo = lo.min(sum);
            }
            extremes.push([hi, lo]);
        }
    }
    extremes
}

fn through_the_dft(kernel: &[f32], shape: [usize; 2], out: usize, padded: &[f32]) -> Vec<[f64; 2]> {
    let layer = Timbral::new(kernel, shape, out);
    let mut spectra = FrameSpectra::default();
    spectra.compute(padded);
    let steps = padded.len() / POINTS + 1 - shape[0];
    let mut extremes = vec![[f64::NAN; 2]; steps * out];
    let mut seen = vec![0usize; steps * out];
    layer.extremes(&spectra, |t, first, max, min| {
        for r in 0..max.len() {
            extremes[t * out + first + r] = [max[r] as f64, min[r] as f64];
            seen[t * out + first + r] += 1;
        }
    });
    assert!(
        seen.iter().all(|&n| n == 1),
        "each (step, filter) emitted once"
    );
    extremes
}

fn avx2() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Both of musicnn's timbral shapes, a filter count that leaves the last panel part-full and an
/// odd number of time steps (the last pass starts early): the extremes of the definition, to
/// float rounding of the output's scale.
#[test]
fn the_dft_path_gives_the_correlations_extremes() {
    if !avx2() {
        eprintln!("skipped: no AVX2 and FMA");
        return;
    }
    for (shape, out, frames) in [([7, 38], 20, 21), ([7, 67], 37, 16), ([3, 91], 5, 4)] {
        let kernel = noise(shape[0] * shape[1] * out, 1);
        let padded: Vec<f32> = noise(frames * POINTS, 2)
            .iter()
            .map(|x| 3.0 * x + 1.0)
            .collect();
        let want = reference(&kernel, shape, out, &padded);
        let got = through_the_dft(&kernel, shape, out, &padded);
        let scale = want.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
        let worst = want
            .iter()
            .flatten()
            .zip(got.iter().flatten())
            .map(|(w, g)| (w - g).abs())
            .fold(0.0f64, f64::max);
        assert!(scale > 1.0);
        assert!(worst <= 1e-5 * scale, "{shape:?}: |Δ| {worst} of {scale}");
    }
}

/// A kernel row shifted by one band moves every output by one position: a basis or sign error
/// in the inverse DFT would show here as the wrong position winning.
#[test]
fn a_single_band_kernel_picks_the_loudest_band_in_reach() {
    if !avx2() {
        eprintln!("skipped: no AVX2 and FMA");
        return;
    }
    // One row of 38 taps, only tap 37 set: position p reads band p + 37, p in 0..59.
    let mut kernel = vec![0.0f32; 38];
    kernel[37] = 1.0;
    let mut padded = vec![0.0f32; 2 * POINTS];
    for (band, x) in padded.iter_mut().enumerate() {
        *x = band as f32 % 96.0;
    }
    let got = through_the_dft(&kernel, [1, 38], 1, &padded);
    for [max, min] in got {
        assert!((max - 95.0).abs() < 1e-3, "max {max}");
        assert!((min - 37.0).abs() < 1e-3, "min {min}");
    }
}
