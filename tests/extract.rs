//! `extract` end to end as a process: outputs, resume, determinism, analyze from stdin.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{read_npy_f32, records, repo_path, sonovec};

const LIMIT: Duration = Duration::from_secs(120);

fn extract(args: &[&str]) -> std::process::Output {
    let run = sonovec(args, LIMIT);
    assert!(
        run.status.success(),
        "extract failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

#[test]
fn extract_writes_records_vectors_and_ids_that_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let samples = repo_path("samples");
    extract(&[
        "extract",
        samples.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);

    let all = records(&out.join("tracks.jsonl"));
    assert_eq!(all.len(), 4);
    let paths: Vec<&str> = all.iter().map(|r| r["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "records are in path order");
    for r in &all {
        assert_eq!(r["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(r["id"].as_str().unwrap().len(), 32);
        assert!(r["duration_s"].as_f64().unwrap() > 7.0);
        assert!(r["error"].is_null());
    }
    let ids = std::fs::read_to_string(out.join("ids.txt")).unwrap();
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(
        ids,
        all.iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect::<Vec<_>>()
    );
    let (shape, values) = read_npy_f32(&out.join("vectors.npy"));
    let dim = sonovec::vector::VectorSpec::default().dim();
    assert_eq!(shape, [4, dim as u64]);
    for (row, record) in values.chunks(dim).zip(&all) {
        let json: Vec<f32> = record["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(row, &json[..]);
    }
}

#[test]
fn a_rerun_resumes_and_force_recomputes_the_same_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (samples, out_s) = (repo_path("samples"), out.to_str().unwrap().to_string());
    extract(&[
        "extract",
        samples.to_str().unwrap(),
        "-o",
        &out_s,
        "--jobs",
        "2",
    ]);
    let first = std::fs::read_to_string(out.join("tracks.jsonl")).unwrap();

    // Simulate a crash: one record lost, another cut mid-line.
    let mut lines: Vec<&str> = first.lines().collect();
    lines.pop();
    let cut = &lines.pop().unwrap()[..40];
    let damaged = format!("{}\n{cut}", lines.join("\n"));
    std::fs::write(out.join("tracks.jsonl"), damaged).unwrap();

    let resumed = extract(&["extract", samples.to_str().unwrap(), "-o", &out_s]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        stderr.contains("2 ok") && stderr.contains("2 skipped"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("tracks.jsonl")).unwrap(),
        first
    );

    // Determinism: one thread, everything recomputed, byte-identical records.
    extract(&[
        "extract",
        samples.to_str().unwrap(),
        "-o",
        &out_s,
        "--force",
        "--jobs",
        "1",
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("tracks.jsonl")).unwrap(),
        first
    );
}

/// Two files with the same content get one record, whichever way the run hashes: as it decodes
/// (a fresh output folder) or before (a folder with records to skip), and the record's id is
/// the hash of the whole file either way.
#[test]
fn duplicate_content_is_recorded_once_with_the_id_of_its_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in");
    std::fs::create_dir(&src).unwrap();
    let house = repo_path("samples/house_128.ogg");
    std::fs::copy(&house, src.join("a.ogg")).unwrap();
    std::fs::copy(&house, src.join("b.ogg")).unwrap();
    let expected_id = sonovec::content_id_of_file(&house).unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let fresh = extract(&["extract", src.to_str().unwrap(), "-o", out_s, "--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&fresh.stderr);
    assert!(
        stderr.contains("1 ok") && stderr.contains("1 skipped"),
        "{stderr}"
    );
    let fresh_records = records(&out.join("tracks.jsonl"));
    assert_eq!(fresh_records.len(), 1);
    assert_eq!(fresh_records[0]["id"], expected_id.as_str());

    // A second copy, and a folder that already has the first: hashed before decoding.
    std::fs::copy(&house, src.join("c.ogg")).unwrap();
    let resumed = extract(&["extract", src.to_str().unwrap(), "-o", out_s]);
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(stderr.contains("3 skipped"), "{stderr}");
    assert_eq!(records(&out.join("tracks.jsonl")), fresh_records);
}

#[test]
fn analyze_reads_an_upload_from_stdin() {
    let bytes = std::fs::read(repo_path("samples/dnb_174.opus")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sonovec"))
        .args(["analyze", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(record["codec"], "opus");
    assert_eq!(record["id"].as_str().unwrap(), sonovec::content_id(&bytes));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let path = repo_path("samples/house_128.ogg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sonovec"))
        .args(["analyze", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
