//! Computes the descriptor standardisation of `models/vector.json` from the records of a
//! reference corpus, keeping the file's version and weights. Run by `scripts/make_vector_stats.sh`:
//!
//!     cargo run --release --example make_vector_stats -- models/vector.json REF/tracks.jsonl…
//!
//! Mean and population std of each descriptor dimension over the successful records where it is
//! not `null`, each content id once; a dimension that never varies gets std 1. The file is rewritten in place.

use std::path::Path;

use sonovec::output::jsonl::read_records;
use sonovec::vector::{descriptor_names, raw_descriptors, N_DESCRIPTORS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model_path, tracks @ ..] = args.as_slice() else {
        eprintln!("usage: make_vector_stats models/vector.json TRACKS.jsonl…");
        std::process::exit(2);
    };
    let mut sum = vec![0.0f64; N_DESCRIPTORS];
    let mut sum_sq = vec![0.0f64; N_DESCRIPTORS];
    let mut count = vec![0usize; N_DESCRIPTORS];
    let mut tracks_used = 0usize;
    let mut seconds = 0.0;
    // The same content in two runs (or two copies of a file) counts once.
    let mut seen = std::collections::HashSet::new();
    for path in tracks {
        let (records, _) = read_records(Path::new(path)).expect("readable tracks.jsonl");
        for record in records.iter().filter(|r| r.is_ok()) {
            if !seen.insert(record.key()) {
                continue;
            }
            tracks_used += 1;
            seconds += record.duration_s.unwrap_or(0.0);
            for (i, value) in raw_descriptors(record).into_iter().enumerate() {
                if let Some(v) = value.filter(|v| v.is_finite()) {
                    sum[i] += v;
                    sum_sq[i] += v * v;
                    count[i] += 1;
                }
            }
        }
    }
    let mean: Vec<f64> = (0..N_DESCRIPTORS)
        .map(|i| sum[i] / count[i].max(1) as f64)
        .collect();
    let std: Vec<f64> = (0..N_DESCRIPTORS)
        .map(|i| {
            let var = sum_sq[i] / count[i].max(1) as f64 - mean[i] * mean[i];
            let std = var.max(0.0).sqrt();
            if std > 1e-12 {
                std
            } else {
                1.0
            }
        })
        .collect();
    let text = std::fs::read_to_string(model_path).expect("readable vector.json");
    let mut model: serde_json::Value = serde_json::from_str(&text).expect("vector.json is JSON");
    model["descriptors"] = serde_json::json!({
        "names": descriptor_names(),
        "mean": mean,
        "std": std,
        "clamp": model["descriptors"]["clamp"].as_f64().unwrap_or(5.0),
        "non_null_tracks": count,
    });
    model["reference"]["tracks"] = tracks_used.into();
    model["reference"]["hours"] = ((seconds / 36.0).round() / 100.0).into();
    let out = serde_json::to_string_pretty(&model).expect("serialisable") + "\n";
    std::fs::write(model_path, out).expect("writable vector.json");
    eprintln!("{model_path}: statistics of {tracks_used} tracks");
}
