//! `fit-projection` and `--projection` end to end, on a catalog of synthetic warm tracks.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use common::{normals, repo_path, sonovec};
use sonovec::catalog::Catalog;
use sonovec::projection::Projection;
use sonovec::vector::default_version;
use sonovec::Record;

const LIMIT: Duration = Duration::from_secs(120);
const TRACKS: usize = 500;
/// The length of this build's default vectors, so `extract --projection` can apply the fit.
const DIM: usize =
    sonovec::vector::EMBEDDING_LEN + sonovec::vector::TAGS_LEN + sonovec::vector::N_DESCRIPTORS;
const K: usize = 16;

/// A catalog of synthetic tracks with this build's vector layout; returns their vectors.
fn synthetic_catalog(db: &Path) -> Vec<Vec<f64>> {
    let values = normals(TRACKS * DIM, 1);
    let vectors: Vec<Vec<f64>> = values
        .chunks(DIM)
        .map(|v| v.iter().map(|x| 2.0 + x).collect())
        .collect();
    let records: Vec<Record> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let mut r = Record::new(format!("warm/{i}.flac"), Some(format!("{i:032x}")));
            r.vector_version = Some(default_version());
            r.vector = Some(v.iter().map(|&x| x as f32).collect());
            r
        })
        .collect();
    Catalog::open(db).unwrap().store_all(&records).unwrap();
    vectors
}

/// Writes factors as CSV, keyed by id for even rows and by path for odd rows.
fn write_factors(path: &Path, factors: &[Vec<f64>]) {
    let mut csv = String::from("track");
    (0..K).for_each(|j| write!(csv, ",f{j}").unwrap());
    csv.push('\n');
    for (i, row) in factors.iter().enumerate() {
        if i % 2 == 0 {
            write!(csv, "{i:032x}").unwrap();
        } else {
            write!(csv, "warm/{i}.flac").unwrap();
        }
        row.iter().for_each(|f| write!(csv, ",{f}").unwrap());
        csv.push('\n');
    }
    std::fs::write(path, csv).unwrap();
}

fn fit(db: &Path, factors: &Path, output: &Path) -> serde_json::Value {
    let out = sonovec(
        &[
            "fit-projection",
            "--catalog",
            db.to_str().unwrap(),
            "--factors",
            factors.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--json",
        ],
        LIMIT,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!(
        "fit-projection: lambda {}, held-out R² {}, cosine {}",
        report["lambda"], report["cv_r2"], report["cv_cosine"]
    );
    report
}

#[test]
fn a_noisy_linear_map_is_recovered_and_applied_by_extract() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warm.db");
    let vectors = synthetic_catalog(&db);
    let map = normals(DIM * K, 2);
    let noise = normals(TRACKS * K, 3);
    let factors: Vec<Vec<f64>> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (0..K)
                .map(|j| {
                    let signal: f64 = v.iter().enumerate().map(|(d, x)| x * map[d * K + j]).sum();
                    signal + 0.1 * signal.abs().max(1.0) * noise[i * K + j]
                })
                .collect()
        })
        .collect();
    let csv = dir.path().join("factors.csv");
    write_factors(&csv, &factors);
    let output = dir.path().join("projection.safetensors");
    let report = fit(&db, &csv, &output);
    assert_eq!(report["tracks"], TRACKS);
    assert_eq!(report["k"], K);
    let (r2, cosine) = (
        report["cv_r2"].as_f64().unwrap(),
        report["cv_cosine"].as_f64().unwrap(),
    );
    assert!(
        r2 > 0.8 && cosine > 0.9,
        "held-out R² {r2}, cosine {cosine}"
    );

    // The saved map reproduces held-in factors' directions.
    let projection = Projection::load(&output).unwrap();
    assert_eq!((projection.dim, projection.k), (DIM, K));
    let v: Vec<f32> = vectors[0].iter().map(|&x| x as f32).collect();
    let predicted = projection.apply(&v).unwrap();
    let norm = factors[0].iter().map(|f| f * f).sum::<f64>().sqrt();
    let dot: f64 = predicted
        .iter()
        .zip(&factors[0])
        .map(|(p, f)| *p as f64 * f / norm)
        .sum();
    let p_norm = predicted
        .iter()
        .map(|p| (*p as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(dot / p_norm > 0.9, "cosine {}", dot / p_norm);

    // extract --projection adds K finite values to each record.
    let out_dir = dir.path().join("out");
    let run = sonovec(
        &[
            "extract",
            repo_path("samples").to_str().unwrap(),
            "-o",
            out_dir.to_str().unwrap(),
            "--projection",
            output.to_str().unwrap(),
            "-q",
        ],
        LIMIT,
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for record in common::records(&out_dir.join("tracks.jsonl")) {
        let cf = record["cf_vector"].as_array().expect("a cf_vector");
        assert_eq!(cf.len(), K);
        assert!(cf.iter().all(|x| x.as_f64().is_some_and(f64::is_finite)));
    }
}

#[test]
fn random_factors_are_not_fitted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warm.db");
    synthetic_catalog(&db);
    let random = normals(TRACKS * K, 9);
    let factors: Vec<Vec<f64>> = random.chunks(K).map(<[f64]>::to_vec).collect();
    let csv = dir.path().join("factors.csv");
    write_factors(&csv, &factors);
    let report = fit(&db, &csv, &dir.path().join("p.safetensors"));
    let r2 = report["cv_r2"].as_f64().unwrap();
    assert!(r2.abs() < 0.03, "held-out R² {r2} on random factors");
    let overfit = report["grid"][0]["r2"].as_f64().unwrap();
    assert!(
        overfit < -0.1,
        "the smallest λ overfits ({overfit}); CV must see it"
    );
}

#[test]
fn a_projection_of_another_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.safetensors");
    Projection {
        vector_version: "some-other-layout".into(),
        dim: 2,
        k: 1,
        weight: vec![1.0, 1.0],
        bias: vec![0.0],
        report: Default::default(),
    }
    .save(&path)
    .unwrap();
    let out = sonovec(
        &[
            "analyze",
            repo_path("samples/dnb_174.opus").to_str().unwrap(),
            "--projection",
            path.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fit it again"));
}
