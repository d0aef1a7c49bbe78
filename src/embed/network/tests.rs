//! The network's paths against each other.

use super::*;
use crate::embed::{Model, ModelChoice};

/// The direct kernels of every instruction set this CPU has against the GEMM path, on a
/// music-like patch: the same network to float rounding (to bf16 rounding for the bf16
/// kernels).
#[test]
fn direct_kernels_match_the_gemm_path() {
    let model = Model::load(&ModelChoice::Msd).unwrap();
    let weights = model.weights();
    let patch: Vec<f32> = (0..PATCH_FRAMES * N_MELS)
        .map(|i| 2.0 + 2.0 * ((i as f32 * 0.37).sin() * (i as f32 * 0.011).cos()))
        .collect();
    let run = |kernels: Option<&Kernels>| {
        let (mut e, mut t) = (vec![0.0; EMBEDDING_DIM], vec![0.0; N_TAGS]);
        forward(
            weights,
            kernels,
            &patch,
            &mut Workspace::default(),
            &mut e,
            &mut t,
        );
        e.extend(t);
        e
    };
    let want = run(None);
    for isa in Isa::vector_sets() {
        let kernels = Kernels::new(weights, isa).unwrap();
        let got = run(Some(&kernels));
        assert!(got != vec![0.0; got.len()]);
        let diff = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max)
        };
        if matches!(isa, Isa::Avx512Bf16 | Isa::Amx) {
            // bf16 products: the same network to the rounding of the front end's input
            // and weights to 8 significant bits.
            let (e, w) = (&got[..EMBEDDING_DIM], &want[..EMBEDDING_DIM]);
            let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
            let cosine = dot(e, w) / (dot(e, e) * dot(w, w)).sqrt();
            assert!(cosine >= 0.9999, "{isa:?}: cosine {cosine}");
            let tags = diff(&got[EMBEDDING_DIM..], &want[EMBEDDING_DIM..]);
            assert!(tags <= 0.01, "{isa:?}: tags max |Δ| {tags}");
        } else {
            let d = diff(&got, &want);
            assert!(d <= 1e-4, "{isa:?}: max |Δ| {d}");
        }
    }
}
