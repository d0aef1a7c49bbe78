//! musicnn in Rust against the original TF model (fixtures from `scripts/reference_musicnn.py`,
//! TensorFlow 2.16 running musicnn's own graph and checkpoint; see
//! `tests/fixtures/musicnn/reference_versions.json`).
//!
//! - the network alone, on the exact log-mel patches TF was fed: max |Δ| ≤ 1e-4 on every
//!   penultimate value and tag probability in f32, for MSD and MTT; with the bf16 products of
//!   AVX-512 BF16 CPUs (the default on AMD's), cosine ≥ 0.9995 per patch and tags within 0.01;
//! - the whole chain, audio file → decode → resample → spectrogram → network → average:
//!   cosine ≥ 0.999 between the track embeddings and max |Δ| ≤ 0.01 on the averaged tags.

mod common;

use sonovec::embed::{Model, ModelChoice, EMBEDDING_DIM, N_MELS, N_TAGS, PATCH_FRAMES};
use sonovec::{Analyzer, Config};

fn fixture(name: &str) -> (Vec<u64>, Vec<f32>) {
    common::read_npy_f32(&common::repo_path(&format!(
        "tests/fixtures/musicnn/{name}"
    )))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn mean_rows(values: &[f32], width: usize) -> Vec<f32> {
    let rows = values.len() / width;
    (0..width)
        .map(|c| (0..rows).map(|r| values[r * width + c]).sum::<f32>() / rows as f32)
        .collect()
}

fn network_alone(choice: ModelChoice, prefix: &str) {
    let model = Model::load(&choice).unwrap();
    let (shape, logmel) = fixture("dnb_174.logmel.npy");
    assert_eq!(shape[1..], [PATCH_FRAMES as u64, N_MELS as u64]);
    let (_, want_embedding) = fixture(&format!("dnb_174.{prefix}penultimate.npy"));
    let (_, want_tags) = fixture(&format!("dnb_174.{prefix}tags.npy"));
    // Every path the CPU has, whichever of them is its default.
    let in_bf16 = model.in_bf16().into_iter().map(|m| (m, false));
    let in_f32 = model.in_every_f32().into_iter().map(|m| (m, true));
    for (model, exact) in in_f32.chain(in_bf16) {
        for (i, patch) in logmel.chunks_exact(PATCH_FRAMES * N_MELS).enumerate() {
            let (mut embedding, mut tags) = (vec![0.0; EMBEDDING_DIM], vec![0.0; N_TAGS]);
            model.forward(patch, &mut embedding, &mut tags);
            let want = &want_embedding[i * EMBEDDING_DIM..][..EMBEDDING_DIM];
            let d_embedding = max_abs_diff(&embedding, want);
            let cos = cosine(&embedding, want);
            let d_tags = max_abs_diff(&tags, &want_tags[i * N_TAGS..][..N_TAGS]);
            let isa = model.isa();
            eprintln!(
                "{prefix}patch {i} ({isa}): max |Δ| embedding {d_embedding:.2e}, tags \
                 {d_tags:.2e}, cosine {cos:.7}"
            );
            if exact {
                assert!(
                    d_embedding <= 1e-4,
                    "{isa}: embedding differs by {d_embedding}"
                );
                assert!(d_tags <= 1e-4, "{isa}: tags differ by {d_tags}");
            } else {
                assert!(cos >= 0.9995, "{isa}: cosine {cos}");
                assert!(d_tags <= 0.01, "{isa}: tags differ by {d_tags}");
            }
        }
    }
}

#[test]
fn msd_network_matches_tensorflow_on_its_own_input() {
    network_alone(ModelChoice::Msd, "");
}

#[test]
fn mtt_network_matches_tensorflow_on_its_own_input() {
    network_alone(ModelChoice::Mtt, "mtt_");
}

/// Analyses `path` and compares its embedding and tags with the reference `<stem>.*.npy`.
fn chain(analyzer: &Analyzer, path: &str, stem: &str) -> (f64, f32) {
    let record = analyzer.analyze_path(&common::repo_path(path)).record;
    assert!(record.is_ok(), "{path}: {:?}", record.error);
    let (shape, per_patch) = fixture(&format!("{stem}.penultimate.npy"));
    let (_, per_patch_tags) = fixture(&format!("{stem}.tags.npy"));
    assert_eq!(record.embedding_patches, Some(shape[0] as usize), "{path}");
    assert!(record.model.as_deref().unwrap().starts_with("msd_musicnn@"));
    let embedding = record.embedding.as_ref().unwrap();
    assert!(embedding.iter().all(|x| x.is_finite()));
    let tags: Vec<f32> = record.tags.as_ref().unwrap().iter().map(|t| t.p).collect();
    let cos = cosine(embedding, &mean_rows(&per_patch, EMBEDDING_DIM));
    let d_tags = max_abs_diff(&tags, &mean_rows(&per_patch_tags, N_TAGS));
    eprintln!("{path}: cosine {cos:.6}, tags max |Δ| {d_tags:.4}");
    (cos, d_tags)
}

/// Audio file → decode → spectrogram → network → average, on 16 kHz files (librosa's own
/// resampling of two samples, as 16-bit FLAC): no resampler runs on either side.
#[test]
fn whole_chain_at_16_khz_matches_tensorflow() {
    let analyzer = Analyzer::new(Config::default());
    for stem in ["dnb_174_16k", "hiphop_92_16k"] {
        let path = format!("tests/fixtures/musicnn/{stem}.flac");
        let (cos, d_tags) = chain(&analyzer, &path, stem);
        assert!(cos >= 0.999, "{stem}: cosine {cos}");
        assert!(d_tags <= 0.01, "{stem}: tags differ by {d_tags}");
    }
}

/// The same from the samples at their native rates (44.1 and 48 kHz): sonovec's decoders and
/// soxr-HQ-equivalent resampler against librosa.load's (FFmpeg/libsndfile decoders, soxr_hq).
/// Before the resampler followed soxr (rubato's FFT resampler) this measured cosine 0.9901
/// (opus), 0.9990 (flac), 0.9973 (mp3), 0.9991 (ogg), tags max |Δ| 0.024.
#[test]
fn whole_chain_at_native_rates_matches_tensorflow() {
    let analyzer = Analyzer::new(Config::default());
    for name in [
        "dnb_174.opus",
        "fourfloor_120.flac",
        "hiphop_92.mp3",
        "house_128.ogg",
    ] {
        let stem = name.split('.').next().unwrap();
        let (cos, d_tags) = chain(&analyzer, &format!("samples/{name}"), stem);
        assert!(cos >= 0.999, "{name}: cosine {cos}");
        assert!(d_tags <= 0.01, "{name}: tags differ by {d_tags}");
    }
}

/// Real music in every codec (tests/fixtures/parity/, made by scripts/make_parity_fixtures.sh:
/// 5 s excerpts of game soundtracks at 44.1 and 48 kHz, encoded whole by FFmpeg) against the TF
/// model fed by librosa.load at 16 kHz. Every file is measured before any assertion, so a
/// failure shows the whole table.
#[test]
fn whole_chain_on_real_music_matches_tensorflow_in_vorbis_opus_mp3_flac() {
    real_music_parity(&[".ogg", ".opus", ".mp3", ".flac"]);
}

/// AAC (.m4a) as well. symphonia's MP4 reader keeps the encoder's 1024 priming samples; our
/// edit-list window (`audio::mp4_edit`) drops them as FFmpeg does. Without it the signal starts
/// 23 ms late and the cosine falls to 0.947–0.985.
#[test]
fn whole_chain_on_real_music_matches_tensorflow_in_aac() {
    real_music_parity(&[".m4a"]);
}

fn real_music_parity(extensions: &[&str]) {
    let analyzer = Analyzer::new(Config::default());
    let dir = common::repo_path("tests/fixtures/parity");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| extensions.iter().any(|x| n.ends_with(x)))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        3 * extensions.len(),
        "3 excerpts per codec: {names:?}"
    );
    let mut failures = Vec::new();
    for name in &names {
        let stem = name.split('.').next().unwrap();
        let path = format!("tests/fixtures/parity/{name}");
        let (shape, per_patch) = common::read_npy_f32(&dir.join(format!("{stem}.penultimate.npy")));
        let (_, per_patch_tags) = common::read_npy_f32(&dir.join(format!("{stem}.tags.npy")));
        let record = analyzer.analyze_path(&common::repo_path(&path)).record;
        assert!(record.is_ok(), "{path}: {:?}", record.error);
        assert_eq!(record.embedding_patches, Some(shape[0] as usize), "{path}");
        let tags: Vec<f32> = record.tags.as_ref().unwrap().iter().map(|t| t.p).collect();
        let cos = cosine(
            record.embedding.as_ref().unwrap(),
            &mean_rows(&per_patch, EMBEDDING_DIM),
        );
        let d_tags = max_abs_diff(&tags, &mean_rows(&per_patch_tags, N_TAGS));
        eprintln!("{name:28} cosine {cos:.6}  tags max |Δ| {d_tags:.4}");
        if cos < 0.999 || d_tags > 0.01 {
            failures.push(format!("{name}: cosine {cos:.6}, tags {d_tags:.4}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let path = common::repo_path("samples/hiphop_92.mp3");
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let analyzer = Analyzer::new(Config::default());
            analyzer.analyze_path(&path).record
        })
    };
    let (one, three) = (run(1), run(3));
    assert_eq!(one.embedding, three.embedding);
    assert_eq!(one.tags, three.tags);
}

/// `--embed-seconds 3` on a 3-patch track analyses only the middle patch.
#[test]
fn embed_seconds_picks_evenly_spaced_patches() {
    let config = Config {
        embedding: Some(sonovec::EmbeddingConfig {
            seconds: Some(3.0),
            ..Default::default()
        }),
        ..Default::default()
    };
    let path = common::repo_path("tests/fixtures/musicnn/hiphop_92_16k.flac");
    let record = Analyzer::new(config).analyze_path(&path).record;
    assert_eq!(record.embedding_patches, Some(1));
    let (_, per_patch) = fixture("hiphop_92_16k.penultimate.npy");
    let middle = &per_patch[EMBEDDING_DIM..2 * EMBEDDING_DIM];
    let cos = cosine(record.embedding.as_ref().unwrap(), middle);
    assert!(cos >= 0.9999, "cosine with the middle patch {cos}");
    assert!(record.embedding_std.unwrap().iter().all(|&s| s == 0.0));
}
