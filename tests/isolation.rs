//! Worker-process isolation (sonovec::isolate): an abort, a stack overflow, runaway memory or CPU
//! while analysing one file costs that file only. The crashes are real crashes of a real worker
//! process, set off by the worker's test hooks: compiled in only for `cargo test` builds (the
//! `test-hooks` feature) and armed only by `SONOVEC_TEST_HOOKS=1`.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::{records, repo_path};

const LIMIT: Duration = Duration::from_secs(300);

/// A folder with one file per crash and two good files.
fn crash_corpus(dir: &Path) {
    for (name, marker) in [
        ("abort.wav", "SONOVEC-TEST-ABORT"),
        ("overflow.wav", "SONOVEC-TEST-OVERFLOW"),
        ("allocate.wav", "SONOVEC-TEST-ALLOCATE"),
        ("spin.wav", "SONOVEC-TEST-SPIN"),
    ] {
        std::fs::write(
            dir.join(name),
            format!("{marker} padding to look like a file"),
        )
        .unwrap();
    }
    std::fs::copy(repo_path("samples/hiphop_92.mp3"), dir.join("good.mp3")).unwrap();
    std::fs::copy(
        repo_path("tests/fixtures/formats/flac_s24_16000_1ch.flac"),
        dir.join("good.flac"),
    )
    .unwrap();
}

/// `extract` with the hooks armed, a 1 GiB worker memory limit and a 2 s CPU budget.
fn extract(
    corpus: &Path,
    out: &Path,
    hooks: bool,
) -> (Option<i32>, HashMap<String, serde_json::Value>) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sonovec"));
    command
        .args([
            "extract",
            corpus.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args(["--quiet", "--worker-memory", "1024", "--cpu-budget", "2"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if hooks {
        command.env("SONOVEC_TEST_HOOKS", "1");
    } else {
        command.env_remove("SONOVEC_TEST_HOOKS");
    }
    let run = run_with_limit(command, LIMIT);
    let by_name = records(&out.join("tracks.jsonl"))
        .into_iter()
        .map(|r| {
            let name = Path::new(r["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, r)
        })
        .collect();
    (run.status.code(), by_name)
}

/// Runs `command`, killing it (and failing) if it takes longer than `limit`.
fn run_with_limit(mut command: std::process::Command, limit: Duration) -> std::process::Output {
    let mut child = command.spawn().unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn kind(record: &serde_json::Value) -> &str {
    record["error"]["kind"].as_str().unwrap_or("ok")
}

#[test]
fn extract_turns_each_worker_crash_into_that_files_record_and_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    crash_corpus(&corpus);
    let (code, by_name) = extract(&corpus, &tmp.path().join("out"), true);
    assert_eq!(code, Some(1), "failed files give exit code 1");
    assert_eq!(by_name.len(), 6, "{by_name:?}");
    for good in ["good.mp3", "good.flac"] {
        assert_eq!(kind(&by_name[good]), "ok", "{}", by_name[good]);
    }
    // A fresh folder reads each file once, in the worker; a worker that dies leaves the id to
    // the parent. Either way the record has the hash of the file.
    for (name, record) in &by_name {
        let id = sonovec::content_id_of_file(&corpus.join(name)).unwrap();
        assert_eq!(record["id"], id.as_str(), "{name}");
    }
    let message = |name: &str| {
        by_name[name]["error"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(kind(&by_name["abort.wav"]), "worker_crashed");
    assert!(
        message("abort.wav").contains("SIGABRT"),
        "{}",
        message("abort.wav")
    );
    assert_eq!(kind(&by_name["overflow.wav"]), "worker_crashed");
    assert!(
        message("overflow.wav").contains("stack overflow"),
        "{}",
        message("overflow.wav")
    );
    assert_eq!(kind(&by_name["allocate.wav"]), "worker_crashed");
    assert!(
        message("allocate.wav").contains("1024 MiB"),
        "{}",
        message("allocate.wav")
    );
    assert_eq!(kind(&by_name["spin.wav"]), "over_budget");
    assert!(
        message("spin.wav").contains("2 s"),
        "{}",
        message("spin.wav")
    );
}

#[test]
fn in_process_and_isolated_analyses_give_identical_records() {
    let tmp = tempfile::tempdir().unwrap();
    let samples = repo_path("samples");
    let mut outputs = Vec::new();
    for (name, flag) in [("isolated", None), ("in-process", Some("--in-process"))] {
        let out = tmp.path().join(name);
        let mut args = vec![
            "extract",
            samples.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend(flag);
        let run = common::sonovec(&args, LIMIT);
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        outputs.push((
            std::fs::read(out.join("tracks.jsonl")).unwrap(),
            std::fs::read(out.join("vectors.npy")).unwrap(),
        ));
    }
    assert!(
        outputs[0] == outputs[1],
        "records differ between isolated and in-process runs"
    );
}

#[test]
fn the_hooks_are_inert_unless_armed() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    crash_corpus(&corpus);
    let (code, by_name) = extract(&corpus, &tmp.path().join("out"), false);
    assert_eq!(code, Some(1));
    for name in ["abort.wav", "overflow.wav", "allocate.wav", "spin.wav"] {
        assert_eq!(
            kind(&by_name[name]),
            "unsupported_format",
            "{}",
            by_name[name]
        );
    }
}
