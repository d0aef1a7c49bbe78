//! The catalog end to end: `extract --catalog`, resume, moved files, `export` and `similar`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{read_npy_f32, repo_path, sonovec};
use sonovec::catalog::Catalog;
use sonovec::vector::{default_version, VectorSpec};

const LIMIT: Duration = Duration::from_secs(120);

fn run(args: &[&str]) -> std::process::Output {
    let out = sonovec(args, LIMIT);
    assert!(
        out.status.success(),
        "sonovec {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn extract_stores_once_resumes_from_the_catalog_and_export_matches() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let (out1, out2, exported) = (
        dir.path().join("out1"),
        dir.path().join("out2"),
        dir.path().join("exported"),
    );
    let samples = repo_path("samples");
    run(&[
        "extract",
        s(&samples),
        "-o",
        s(&out1),
        "--catalog",
        s(&db),
        "--quiet",
    ]);
    let catalog = Catalog::open_existing(&db).unwrap();
    assert_eq!(catalog.counts().unwrap(), (4, 0));
    drop(catalog);

    // A second run into a fresh folder analyses nothing: the records come from the catalog.
    let again = run(&["extract", s(&samples), "-o", s(&out2), "--catalog", s(&db)]);
    let summary = String::from_utf8_lossy(&again.stderr);
    assert!(summary.contains("0 ok, 0 failed, 4 skipped"), "{summary}");
    assert_eq!(
        std::fs::read(out1.join("tracks.jsonl")).unwrap(),
        std::fs::read(out2.join("tracks.jsonl")).unwrap(),
        "the catalog gives back the very records extract wrote"
    );

    run(&["export", "--catalog", s(&db), "-o", s(&exported)]);
    for file in ["tracks.jsonl", "vectors.npy", "ids.txt"] {
        assert_eq!(
            std::fs::read(out1.join(file)).unwrap(),
            std::fs::read(exported.join(file)).unwrap(),
            "{file} differs between extract and export"
        );
    }
    let (shape, _) = read_npy_f32(&exported.join("vectors.npy"));
    assert_eq!(shape[0], 4);

    // A folder extracted without a catalog fills a new catalog on the next run with one.
    let db2 = dir.path().join("second.db");
    run(&[
        "extract",
        s(&samples),
        "-o",
        s(&exported),
        "--catalog",
        s(&db2),
        "-q",
    ]);
    assert_eq!(
        Catalog::open_existing(&db2).unwrap().counts().unwrap(),
        (4, 0)
    );
}

#[test]
fn a_moved_file_keeps_its_row_and_failures_have_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    std::fs::copy(repo_path("samples/hiphop_92.mp3"), music.join("a.mp3")).unwrap();
    std::fs::write(music.join("broken.mp3"), b"not audio at all").unwrap();
    let out = sonovec(
        &[
            "extract",
            s(&music),
            "-o",
            s(&dir.path().join("o1")),
            "--catalog",
            s(&db),
            "-q",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "one input is bad");
    let catalog = Catalog::open_existing(&db).unwrap();
    assert_eq!(catalog.counts().unwrap(), (1, 1));
    let id = catalog
        .completed(&default_version())
        .unwrap()
        .into_keys()
        .next()
        .unwrap();
    drop(catalog);

    std::fs::rename(music.join("a.mp3"), music.join("renamed.mp3")).unwrap();
    std::fs::remove_file(music.join("broken.mp3")).unwrap();
    run(&[
        "extract",
        s(&music),
        "-o",
        s(&dir.path().join("o2")),
        "--catalog",
        s(&db),
        "-q",
    ]);
    let catalog = Catalog::open_existing(&db).unwrap();
    assert_eq!(
        catalog.counts().unwrap(),
        (1, 1),
        "still one row for the content"
    );
    let record = catalog.record(&id, &default_version()).unwrap().unwrap();
    assert!(record.path.ends_with("renamed.mp3"), "{}", record.path);
    let failures: Vec<_> = catalog
        .records(&default_version())
        .unwrap()
        .into_iter()
        .filter(|r| !r.is_ok())
        .collect();
    assert!(failures[0].path.ends_with("broken.mp3"));
}

#[test]
fn similar_finds_neighbours_by_file_id_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let samples = repo_path("samples");
    run(&[
        "extract",
        s(&samples),
        "-o",
        s(&dir.path().join("out")),
        "--catalog",
        s(&db),
        "-q",
    ]);
    let query_file = repo_path("samples/house_128.ogg");

    let by_file = run(&[
        "similar",
        "--catalog",
        s(&db),
        s(&query_file),
        "-k",
        "10",
        "--json",
    ]);
    let answer: serde_json::Value = serde_json::from_slice(&by_file.stdout).unwrap();
    let neighbours = answer["neighbours"].as_array().unwrap();
    assert_eq!(
        neighbours.len(),
        3,
        "every other track, the query's own left out"
    );
    let scores: Vec<f64> = neighbours
        .iter()
        .map(|n| n["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(scores.iter().all(|s| (-1.0..=1.0).contains(s)));
    assert!(neighbours.iter().all(|n| n["id"] != answer["query_id"]));

    let id = answer["query_id"].as_str().unwrap();
    let by_id = run(&["similar", "--catalog", s(&db), id, "-k", "2"]);
    let lines: Vec<&str> = std::str::from_utf8(&by_id.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(lines.len(), 2);
    let first: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(first[0], neighbours[0]["id"].as_str().unwrap());
    assert_eq!(first[1], neighbours[0]["path"].as_str().unwrap());

    // A file not in the catalog is analysed on the fly: a copy of a catalogued file has the same
    // content, so it is found through its id; a new recording is analysed.
    let louder = dir.path().join("louder.wav");
    let status = std::process::Command::new("sox")
        .args([s(&query_file), s(&louder), "gain", "-3"])
        .status();
    if status.is_ok_and(|s| s.success()) {
        let fresh = run(&[
            "similar",
            "--catalog",
            s(&db),
            s(&louder),
            "-k",
            "1",
            "--json",
        ]);
        let answer: serde_json::Value = serde_json::from_slice(&fresh.stdout).unwrap();
        assert_eq!(
            answer["neighbours"][0]["id"].as_str(),
            Some(id),
            "the same music, quieter"
        );
    }

    let missing = sonovec(&["similar", "--catalog", s(&db), "no-such-track"], LIMIT);
    assert_eq!(missing.status.code(), Some(3));
    let no_db = sonovec(
        &["similar", "--catalog", s(&dir.path().join("none.db")), id],
        LIMIT,
    );
    assert_eq!(no_db.status.code(), Some(3));
}

#[test]
fn analyze_stores_its_record_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    let file = repo_path("samples/dnb_174.opus");
    let out = run(&["analyze", s(&file), "--catalog", s(&db)]);
    let printed: sonovec::Record = serde_json::from_slice(&out.stdout).unwrap();
    let catalog = Catalog::open_existing(&db).unwrap();
    let stored = catalog
        .record(printed.id.as_deref().unwrap(), &default_version())
        .unwrap()
        .unwrap();
    assert_eq!(stored, printed);
}

/// Writes `n` distinct 4-second noise WAVs (different content, so different ids).
fn noise_files(dir: &Path, n: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 22050,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    for file in 0..n {
        let mut writer =
            hound::WavWriter::create(dir.join(format!("{file:02}.wav")), spec).unwrap();
        let mut state = 0x2545_F491_4F6C_DD1D_u64 ^ (file as u64 + 1);
        for _ in 0..4 * 22050 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            writer.write_sample((state >> 52) as i16 - 2048).unwrap();
        }
        writer.finalize().unwrap();
    }
}

#[test]
fn a_killed_run_leaves_whole_tracks_and_the_next_run_finishes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (music, db, out) = (
        dir.path().join("music"),
        dir.path().join("c.db"),
        dir.path().join("o"),
    );
    std::fs::create_dir_all(&music).unwrap();
    let files = 24;
    noise_files(&music, files);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sonovec"))
        .args([
            "extract",
            s(&music),
            "-o",
            s(&out),
            "--catalog",
            s(&db),
            "-q",
            "--jobs",
            "1",
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: no cleanup) once some tracks are stored, wherever it is in the next one.
    let started = std::time::Instant::now();
    while started.elapsed() < LIMIT {
        let stored = Catalog::open_existing(&db)
            .and_then(|c| c.counts())
            .map_or(0, |c| c.0);
        if stored >= 3 || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().ok();
    child.wait().unwrap();

    let catalog = Catalog::open_existing(&db).unwrap();
    let (stored, _) = catalog.counts().unwrap();
    eprintln!("{stored} of {files} tracks stored when the run was killed");
    let records = catalog.records(&default_version()).unwrap();
    assert!(stored <= files);
    for record in &records {
        assert!(record.is_ok(), "{record:?}");
        assert_eq!(
            record.vector.as_ref().map(Vec::len),
            Some(VectorSpec::default().dim()),
            "a whole vector"
        );
    }
    drop(catalog);

    let rerun = run(&["extract", s(&music), "-o", s(&out), "--catalog", s(&db)]);
    let summary = String::from_utf8_lossy(&rerun.stderr);
    assert!(
        summary.contains(&format!("{} ok, 0 failed", files - stored)),
        "{stored} were stored before the kill: {summary}"
    );
    assert_eq!(
        Catalog::open_existing(&db).unwrap().counts().unwrap(),
        (files, 0)
    );
    assert_eq!(common::records(&out.join("tracks.jsonl")).len(), files);
}
