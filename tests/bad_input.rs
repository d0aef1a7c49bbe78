//! No bad input kills a run: every file of the bad corpus gets one record, no panic, no hang,
//! and the good files in the same run are still analysed.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::{records, repo_path, sonovec};

const LIMIT: Duration = Duration::from_secs(120);

/// Copies the committed corpus and adds what git cannot hold: a folder named like audio, a FIFO,
/// a dangling link and a file without read permission.
fn build_corpus(dir: &Path) {
    let bad = repo_path("tests/fixtures/bad");
    for entry in std::fs::read_dir(&bad).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e != "csv" && e != "md") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::create_dir(dir.join("x.flac")).unwrap();
    std::fs::copy(
        repo_path("samples/fourfloor_120.flac"),
        dir.join("x.flac/inside.flac"),
    )
    .unwrap();
    std::fs::copy(repo_path("samples/hiphop_92.mp3"), dir.join("good.mp3")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe.mp3"))
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink(dir.join("missing.wav"), dir.join("dangling.ogg")).unwrap();
    let unreadable = dir.join("unreadable.wav");
    std::fs::copy(
        repo_path("tests/fixtures/formats/wav_s16_11025_2ch.wav"),
        &unreadable,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
}

/// `sonovec extract CORPUS -o OUT --quiet`, which must end within the time limit.
fn extract_quietly(corpus: &Path, out: &Path) -> std::process::Output {
    let (corpus, out) = (corpus.to_str().unwrap(), out.to_str().unwrap());
    sonovec(&["extract", corpus, "-o", out, "--quiet"], LIMIT)
}

fn by_file_name(records: &[serde_json::Value]) -> HashMap<String, serde_json::Value> {
    records
        .iter()
        .map(|r| {
            let path = r["path"].as_str().unwrap();
            (
                Path::new(path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                r.clone(),
            )
        })
        .collect()
}

#[test]
fn extract_survives_the_bad_corpus_and_keeps_the_good_files() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    build_corpus(&corpus);
    let out = tmp.path().join("out");

    let run = extract_quietly(&corpus, &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(
        run.status.code(),
        Some(1),
        "bad inputs must give exit code 1; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "a panic escaped: {stderr}");

    let all = records(&out.join("tracks.jsonl"));
    let by_name = by_file_name(&all);
    for row in common::read_csv(&repo_path("tests/fixtures/bad/expect.csv")) {
        let record = by_name
            .get(&row["file"])
            .unwrap_or_else(|| panic!("no record for {}", row["file"]));
        let failed = !record["error"].is_null();
        match row["expect"].as_str() {
            "ok" => assert!(!failed, "{} should be analysed: {record}", row["file"]),
            "error" => assert!(
                failed,
                "{} should be an error record: {record}",
                row["file"]
            ),
            _ => {}
        }
        if failed {
            let kind = record["error"]["kind"].as_str().unwrap();
            assert!(
                ["unsupported_format", "corrupt", "empty", "too_long", "io"].contains(&kind),
                "{kind}"
            );
            assert!(record["error"]["message"].as_str().unwrap().len() > 10);
            assert!(record["vector"].is_null());
        } else {
            let vector = record["vector"].as_array().unwrap();
            assert!(
                vector
                    .iter()
                    .all(|v| v.as_f64().is_some_and(f64::is_finite)),
                "{}",
                row["file"]
            );
        }
    }
    for good in [
        "good.mp3",
        "inside.flac",
        "wrong_ext.flac",
        "silence_10min.flac",
    ] {
        assert!(
            by_name[good]["error"].is_null(),
            "{good}: {}",
            by_name[good]
        );
    }
    for not_a_file in ["pipe.mp3", "dangling.ogg"] {
        assert_eq!(by_name[not_a_file]["error"]["kind"], "io", "{not_a_file}");
    }
    // Root reads mode-000 files anyway; anyone else must get an I/O error record.
    let unreadable = &by_name["unreadable.wav"];
    assert!(
        unreadable["error"].is_null() || unreadable["error"]["kind"] == "io",
        "{unreadable}"
    );
    assert!(
        by_name["nan_inf.wav"]["warnings"]
            .to_string()
            .contains("NaN"),
        "replaced samples must be reported"
    );
    assert!(by_name["truncated.flac"]["warnings"]
        .to_string()
        .contains("truncated"));
    assert_eq!(by_name["silence_10min.flac"]["duration_s"], 600.0);

    // The matrix holds exactly the successful records, in record order.
    let ok_ids: Vec<&str> = all
        .iter()
        .filter(|r| r["error"].is_null())
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let ids = std::fs::read_to_string(out.join("ids.txt")).unwrap();
    assert_eq!(ids.lines().collect::<Vec<_>>(), ok_ids);
    let (shape, _) = common::read_npy_f32(&out.join("vectors.npy"));
    assert_eq!(
        shape,
        [
            ok_ids.len() as u64,
            sonovec::vector::VectorSpec::default().dim() as u64
        ]
    );
}

#[test]
fn analyze_exit_codes_tell_bad_input_from_unreadable() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (repo_path("samples/house_128.ogg"), Some(0)),
        (repo_path("tests/fixtures/bad/text.wav"), Some(1)),
        (repo_path("tests/fixtures/bad/empty.wav"), Some(1)),
        (tmp.path().join("does-not-exist.mp3"), Some(3)),
        (tmp.path().to_path_buf(), Some(3)),
    ];
    for (path, code) in cases {
        let run = sonovec(&["analyze", path.to_str().unwrap()], LIMIT);
        assert_eq!(
            run.status.code(),
            code,
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&run.stderr)
        );
        let record: serde_json::Value =
            serde_json::from_slice(&run.stdout).expect("a record is printed even on failure");
        assert_eq!(record["path"], path.to_str().unwrap());
        assert_eq!(record["error"].is_null(), code == Some(0));
    }
}

#[test]
fn too_long_tracks_are_rejected_with_their_own_kind() {
    let path = repo_path("tests/fixtures/bad/silence_10min.flac");
    let run = sonovec(
        &["analyze", "--max-duration", "60", path.to_str().unwrap()],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1));
    let record: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(record["error"]["kind"], "too_long");
}

/// A small deterministic generator, so the damaged files are the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Damages `data` in one of a few ways real files get damaged.
fn mutate(data: &[u8], rng: &mut XorShift) -> Vec<u8> {
    let mut bytes = data.to_vec();
    let n = bytes.len();
    match rng.below(4) {
        0 => (0..1 + rng.below(64)).for_each(|_| {
            let i = rng.below(n);
            bytes[i] ^= 1 << rng.below(8);
        }),
        1 => bytes.truncate(1 + rng.below(n - 1)),
        2 => {
            let start = rng.below(n);
            let end = (start + 1 + rng.below(8192)).min(n);
            bytes[start..end]
                .iter_mut()
                .for_each(|b| *b = rng.next() as u8);
        }
        _ => {
            let head = 4 + rng.below(60);
            bytes[..head].iter_mut().for_each(|b| *b = rng.next() as u8);
        }
    }
    bytes
}

#[test]
fn damaged_copies_of_every_format_give_one_parseable_record_each() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("damaged");
    std::fs::create_dir(&corpus).unwrap();
    let mut sources: Vec<_> = std::fs::read_dir(repo_path("tests/fixtures/formats"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "csv" && e != "md"))
        .collect();
    sources.push(repo_path("samples/hiphop_92.mp3"));
    sources.sort();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut count = 0;
    for source in &sources {
        let data = std::fs::read(source).unwrap();
        let name = source.file_name().unwrap().to_string_lossy().into_owned();
        for k in 0..8 {
            std::fs::write(corpus.join(format!("{k}-{name}")), mutate(&data, &mut rng)).unwrap();
            count += 1;
        }
    }
    let out = tmp.path().join("out");
    let run = extract_quietly(&corpus, &out);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(matches!(run.status.code(), Some(0 | 1)), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("unreadable line"),
        "{stderr}"
    );
    // `records` panics on a line that is not JSON; every file has exactly one record.
    let all = records(&out.join("tracks.jsonl"));
    assert_eq!(all.len(), count);
    for record in &all {
        if record["error"].is_null() {
            assert!(
                record["vector"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|v| v.as_f64().is_some()),
                "{record}"
            );
        } else {
            assert_ne!(record["error"]["kind"], "internal", "{record}");
        }
    }
}
