//! One musicnn patch (187 × 96 log-mel frames, ≈ 1.4 GMAC directly, ≈ 0.7 through the DFT
//! path on AVX2) on one thread.
//!
//! `cargo bench --bench musicnn_patch`; GFLOP/s = 2 · `Model::macs_per_patch` / time per patch.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sonovec::embed::{Model, ModelChoice, Workspace, EMBEDDING_DIM, N_MELS, N_TAGS, PATCH_FRAMES};

fn patch(c: &mut Criterion) {
    let model = Model::load(&ModelChoice::Msd).expect("bundled model");
    // A deterministic, music-like input: log-mel values in 0…4.
    let input: Vec<f32> = (0..PATCH_FRAMES * N_MELS)
        .map(|i| 2.0 + 2.0 * ((i as f32 * 0.37).sin() * (i as f32 * 0.011).cos()))
        .collect();
    let mut ws = Workspace::default();
    let (mut embedding, mut tags) = (vec![0.0; EMBEDDING_DIM], vec![0.0; N_TAGS]);
    let mut group = c.benchmark_group("musicnn");
    group.throughput(Throughput::Elements(2 * model.macs_per_patch()));
    group.sample_size(20);
    group.bench_function("patch_187x96_flops", |b| {
        b.iter(|| model.forward_with(&input, &mut ws, &mut embedding, &mut tags))
    });
    group.finish();
}

criterion_group!(benches, patch);
criterion_main!(benches);
