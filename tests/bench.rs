//! `sonovec bench --json` on a tiny folder: the structure of its report, not its timings.

mod common;

use std::time::Duration;

use common::{repo_path, sonovec};

const STAGES: [&str; 8] = [
    "hash",
    "decode",
    "resample",
    "spectrogram",
    "descriptors",
    "tempo",
    "embedding",
    "pipeline",
];

#[test]
fn bench_json_reports_every_stage_for_one_worker_and_for_all() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["house_128.ogg", "hiphop_92.mp3"] {
        std::fs::copy(repo_path("samples").join(name), tmp.path().join(name)).unwrap();
    }
    let run = sonovec(
        &[
            "--embed-seconds",
            "3",
            "bench",
            "--json",
            "--gemm-seconds",
            "0.01",
            tmp.path().to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert!(
        run.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON document");
    assert_eq!(report["files"], 2);
    assert_eq!(report["embed_seconds"], 3.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runs = report["runs"].as_array().expect("runs");
    let jobs: Vec<u64> = runs.iter().map(|r| r["jobs"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = if cores > 1 {
        vec![1, cores as u64]
    } else {
        vec![1]
    };
    assert_eq!(jobs, expected);

    for run in runs {
        assert_eq!(run["files_ok"], 2, "{run}");
        assert_eq!(run["files_failed"], 0);
        let audio = run["audio_s"].as_f64().unwrap();
        assert!(audio > 1.0, "two samples of several seconds: {audio}");
        let decoded = run["decode_only"]["audio_s"].as_f64().unwrap();
        assert!((decoded - audio).abs() < 0.1, "{decoded} vs {audio}");
        let stages = run["stages"].as_object().unwrap();
        assert_eq!(stages.keys().count(), STAGES.len(), "{stages:?}");
        let seconds = |stage: &str| stages[stage]["seconds"].as_f64().expect(stage);
        let whole = seconds("pipeline");
        assert!(whole >= 0.0);
        let parts: Vec<(&str, f64)> = STAGES
            .iter()
            .filter(|&&stage| stage != "pipeline")
            .map(|&stage| (stage, seconds(stage)))
            .collect();
        for &(stage, s) in &parts {
            assert!(s >= 0.0, "{stage}");
        }
        let within = |s: f64| s <= whole * 1.0001 + 1e-4;
        if run["jobs"] == 1 {
            // On one thread the stages do not overlap: together they are at most the whole.
            let sum: f64 = parts.iter().map(|&(_, s)| s).sum();
            assert!(within(sum), "{sum} > {whole}");
        } else {
            // Pipelined, decoding and the meter (with the mixdown) run on threads of their own
            // beside the rest, so the stages overlap (StageTimings says so); each stage is still
            // within its tracks' wall time.
            for &(stage, s) in &parts {
                assert!(within(s), "{stage}: {s} > {whole}");
            }
        }
        assert!(stages["embedding"]["seconds"].as_f64().unwrap() > 0.0);
        for key in ["wall_s", "cpu_s", "files_per_s", "audio_hours_per_hour"] {
            assert!(run[key].as_f64().unwrap() > 0.0, "{key}");
        }
    }
    let gemm = &report["gemm"];
    assert_eq!(
        gemm["patches"], 2,
        "one patch per track with --embed-seconds 3"
    );
    assert!(gemm["embedding_gflops"].as_f64().unwrap() > 0.0);
    assert!(gemm["sgemm_gflops"].as_f64().unwrap() > 0.0);
    assert_eq!(gemm["sgemm_shape"], serde_json::json!([944, 266, 204]));
    assert!(report["peak_rss_mb"].as_f64().unwrap() > 1.0);

    // The throughput table, measured before the stages: every sonovec row for each worker
    // count, its x-realtime filled in once the stages knew the audio's length.
    let table = &report["table"];
    let audio = table["audio_s"].as_f64().unwrap();
    assert!(audio > 1.0, "{table}");
    let floor = table["rss_floor_mb"].as_f64().unwrap();
    let rows = table["rows"].as_array().expect("rows");
    let sonovec_rows: Vec<_> = rows
        .iter()
        .filter(|r| r["tool"].as_str().unwrap().starts_with("sonovec"))
        .collect();
    assert_eq!(sonovec_rows.len(), 3 * expected.len(), "{table}");
    for row in sonovec_rows {
        assert_eq!(row["failed_processes"], 0, "{row}");
        let cpu = row["cpu_s"].as_f64().unwrap();
        let rate = row["x_realtime_per_cpu_s"].as_f64().unwrap();
        assert!((rate * cpu - audio).abs() < 1e-6 * audio, "{row}");
        assert!(row["peak_rss_mb"].as_f64().unwrap() >= floor, "{row}");
    }
}
