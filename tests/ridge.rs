//! The ridge fit on synthetic data with known answers: a noisy linear map is recovered, noise is
//! not fitted, and degenerate inputs stay finite.

mod common;

use common::normals;
use nalgebra::DMatrix;
use sonovec::projection::ridge::{default_lambdas, fit};

#[test]
fn recovers_a_noisy_linear_map() {
    let (n, d, k) = (600, 24, 6);
    let x = DMatrix::from_row_slice(n, d, &normals(n * d, 1)).map(|v| 3.0 * v + 5.0);
    let truth = DMatrix::from_row_slice(d, k, &normals(d * k, 2));
    let bias = DMatrix::from_fn(n, k, |_, j| j as f64);
    let noise = DMatrix::from_row_slice(n, k, &normals(n * k, 3)) * 0.5;
    let y = &x * &truth + bias + noise;
    let fit = fit(&x, &y, &default_lambdas(), 5);
    let error = (&fit.weight - &truth).abs().max();
    assert!(error < 0.05, "weights off by {error}");
    assert!(fit.chosen.r2 > 0.95, "{:?}", fit.chosen);
    assert!(fit.chosen.cosine > 0.95, "{:?}", fit.chosen);
    assert!(
        fit.chosen.lambda < 1e-2,
        "little noise wants little penalty"
    );
    for (j, b) in fit.bias.iter().enumerate() {
        // y = x·W + j on raw x (its mean of 5 is part of x), so the intercept is j; its error
        // is about 5·Σ(weight errors) ≈ 0.17 (1σ) here.
        let expected = j as f64;
        assert!((b - expected).abs() < 0.5, "bias {j}: {b} vs {expected}");
    }
}

#[test]
fn random_targets_are_not_fitted() {
    let (n, d, k) = (400, 96, 8);
    let x = DMatrix::from_row_slice(n, d, &normals(n * d, 4));
    let y = DMatrix::from_row_slice(n, k, &normals(n * k, 5));
    let fit = fit(&x, &y, &default_lambdas(), 5);
    assert!(fit.chosen.r2 < 0.02, "{:?}", fit.chosen);
    assert!(fit.chosen.r2 > -0.1, "{:?}", fit.chosen);
    assert!(
        fit.chosen.lambda >= 1.0,
        "noise wants a large penalty: {:?}",
        fit.chosen
    );
    // The smallest penalty overfits: its held-out R² is clearly negative.
    assert!(fit.grid[0].r2 < -0.1, "{:?}", fit.grid[0]);
}

#[test]
fn more_dimensions_than_rows_and_constant_columns_stay_finite() {
    let (n, d, k) = (20, 50, 3);
    let mut x = DMatrix::from_row_slice(n, d, &normals(n * d, 6));
    x.column_mut(7).fill(4.0);
    let y = DMatrix::from_row_slice(n, k, &normals(n * k, 7));
    let fit = fit(&x, &y, &default_lambdas(), 4);
    assert!(fit.weight.iter().all(|w| w.is_finite()));
    assert!(fit.bias.iter().all(|b| b.is_finite()));
    assert!(fit
        .grid
        .iter()
        .all(|s| s.r2.is_finite() && s.cosine.is_finite()));
}
