//! `sonovec watch`: the real binary on a temporary drop folder.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use sonovec::catalog::Catalog;

struct Watcher {
    child: Child,
    lines: Receiver<String>,
}

impl Watcher {
    fn start(dir: &Path, catalog: &Path) -> Watcher {
        Watcher::start_with_env(dir, catalog, &[])
    }

    fn start_with_env(dir: &Path, catalog: &Path, env: &[(&str, &str)]) -> Watcher {
        Watcher::spawn(
            Command::new(env!("CARGO_BIN_EXE_sonovec")).envs(env.iter().copied()),
            dir,
            catalog,
        )
    }

    /// Watches `dir` given relative to the working directory `cwd`.
    fn start_in(cwd: &Path, dir: &Path, catalog: &Path) -> Watcher {
        Watcher::spawn(
            Command::new(env!("CARGO_BIN_EXE_sonovec")).current_dir(cwd),
            dir,
            catalog,
        )
    }

    fn spawn(command: &mut Command, dir: &Path, catalog: &Path) -> Watcher {
        let mut child = command
            .arg("watch")
            .arg(dir)
            .arg("--catalog")
            .arg(catalog)
            .args(["--settle", "0.6", "--model", "none"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = common::lines_of(child.stdout.take().unwrap());
        Watcher { child, lines }
    }

    /// Lines printed until `n` lines starting with `stored` or `failed` have been seen.
    fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while seen
            .iter()
            .filter(|l: &&String| l.starts_with("stored") || l.starts_with("failed"))
            .count()
            < n
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => seen.push(line),
                Err(_) => panic!("gave up waiting for {n} results; saw {seen:#?}"),
            }
        }
        seen
    }

    /// Lines printed within `quiet` (nothing more should happen).
    fn drain(&self, quiet: Duration) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            seen.push(line);
        }
        seen
    }

    fn interrupt(mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no exit after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(common::repo_path(relative)).unwrap()
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

#[test]
fn dropped_files_are_stored_once_slow_writes_wait_and_corrupt_files_are_recorded() {
    let drop_dir = tempfile::tempdir().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let catalog = db_dir.path().join("catalog.db");
    let dir = drop_dir.path();

    // Present before the watcher starts: caught up on start.
    std::fs::write(
        dir.join("early.flac"),
        fixture("tests/fixtures/formats/flac_s24_16000_1ch.flac"),
    )
    .unwrap();
    let watcher = Watcher::start(dir, &catalog);
    std::thread::sleep(Duration::from_millis(300));

    std::fs::write(
        dir.join("quick.mp3"),
        fixture("tests/fixtures/formats/mp3_cbr128_44100_2ch.mp3"),
    )
    .unwrap();
    std::fs::write(
        dir.join("broken.mp3"),
        fixture("tests/fixtures/bad/random.mp3"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not audio").unwrap();
    // Written in pieces with pauses shorter than the settle time: analysed once, complete.
    let slow = fixture("tests/fixtures/formats/wav_s16_11025_2ch.wav");
    let mut file = std::fs::File::create(dir.join("slow.wav")).unwrap();
    for piece in slow.chunks(slow.len() / 6 + 1) {
        file.write_all(piece).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(file);

    let mut lines = watcher.wait_for(4);
    // Rewriting a file with the same bytes is not a new track.
    std::fs::write(
        dir.join("quick.mp3"),
        fixture("tests/fixtures/formats/mp3_cbr128_44100_2ch.mp3"),
    )
    .unwrap();
    lines.extend(watcher.drain(Duration::from_secs(2)));
    assert_eq!(count(&lines, "stored"), 3, "{lines:#?}");
    assert_eq!(count(&lines, "failed"), 1, "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("failed") && l.contains("broken.mp3")),
        "{lines:#?}"
    );
    assert!(watcher.interrupt().success());

    let db = Catalog::open_existing(&catalog).unwrap();
    assert_eq!(db.counts().unwrap(), (3, 1));
    // The rows of the watcher's vector version (`--model none`).
    let version = sonovec::Config {
        embedding: None,
        ..Default::default()
    }
    .vector_spec()
    .version();
    let records = db.records(&version).unwrap();
    let slow_record = records
        .iter()
        .find(|r| r.path.ends_with("slow.wav"))
        .expect("slow.wav stored");
    assert!(
        (slow_record.duration_s.unwrap() - 1.0).abs() < 0.01,
        "{slow_record:?}"
    );
    assert!(records.iter().all(|r| !r.path.ends_with("notes.txt")));
    drop(db);

    // Down for a while: a file arriving meanwhile is caught up on restart; the rest is known.
    std::fs::write(
        dir.join("late.wav"),
        fixture("tests/fixtures/formats/wav_s24_16000_1ch.wav"),
    )
    .unwrap();
    let watcher = Watcher::start(dir, &catalog);
    let mut lines = watcher.wait_for(1);
    lines.extend(watcher.drain(Duration::from_secs(2)));
    assert_eq!(count(&lines, "stored"), 1, "{lines:#?}");
    assert!(lines
        .iter()
        .any(|l| l.starts_with("stored") && l.ends_with("late.wav")));
    assert_eq!(count(&lines, "failed"), 1, "{lines:#?}"); // broken.mp3, recorded before
    assert!(watcher.interrupt().success());
    assert_eq!(
        Catalog::open_existing(&catalog).unwrap().counts().unwrap(),
        (4, 1)
    );

    // The user's files are all still there.
    for name in [
        "early.flac",
        "quick.mp3",
        "broken.mp3",
        "notes.txt",
        "slow.wav",
        "late.wav",
    ] {
        assert!(dir.join(name).is_file(), "{name} was moved or deleted");
    }
}

/// Issue #16: a recorded `internal` failure is retried, a recorded bad input is not, and a file
/// that kills its worker process costs that file only (the watcher goes on with the next).
#[test]
fn internal_failures_are_retried_and_worker_crashes_cost_one_file() {
    use sonovec::{content_id, AnalysisError, ErrorKind, Record};
    let drop_dir = tempfile::tempdir().unwrap();
    let db_dir = tempfile::tempdir().unwrap();
    let catalog_path = db_dir.path().join("catalog.db");
    let dir = drop_dir.path();
    let good = fixture("tests/fixtures/formats/flac_s24_16000_1ch.flac");
    let bad = fixture("tests/fixtures/bad/random.mp3");
    {
        let mut catalog = Catalog::open(&catalog_path).unwrap();
        for (bytes, kind) in [(&good, ErrorKind::Internal), (&bad, ErrorKind::Corrupt)] {
            let mut record = Record::new("before".into(), Some(content_id(bytes)));
            record.fail(AnalysisError::new(kind, "recorded by an earlier run"));
            catalog.store(&record).unwrap();
        }
    }
    std::fs::write(dir.join("good.flac"), &good).unwrap();
    std::fs::write(dir.join("bad.mp3"), &bad).unwrap();
    std::fs::write(dir.join("abort.wav"), "SONOVEC-TEST-ABORT upload").unwrap();
    let watcher = Watcher::start_with_env(dir, &catalog_path, &[("SONOVEC_TEST_HOOKS", "1")]);
    let lines = watcher.wait_for(3);
    assert_eq!(count(&lines, "stored"), 1, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l.starts_with("failed")
            && l.contains("bad.mp3")
            && l.contains("recorded before")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("abort.wav") && l.contains("worker_crashed")),
        "{lines:#?}"
    );
    // After the crash, the watcher still analyses what comes next.
    std::fs::write(
        dir.join("next.wav"),
        fixture("tests/fixtures/formats/wav_s16_11025_2ch.wav"),
    )
    .unwrap();
    let lines = watcher.wait_for(1);
    assert_eq!(count(&lines, "stored"), 1, "{lines:#?}");
    assert!(watcher.interrupt().success());
    let catalog = Catalog::open_existing(&catalog_path).unwrap();
    assert!(catalog.has_track(&content_id(&good)).unwrap());
}

#[test]
fn a_folder_given_relative_is_one_set_of_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("drop");
    std::fs::create_dir(&dir).unwrap();
    let flac = fixture("tests/fixtures/formats/flac_s24_16000_1ch.flac");
    std::fs::write(dir.join("early.flac"), &flac).unwrap();
    let watcher = Watcher::start_in(tmp.path(), Path::new("drop"), &tmp.path().join("db.sqlite"));
    let lines = watcher.wait_for(1);
    // Touched after the catch-up: its event names the file by the watched folder's absolute
    // path, the catch-up listed it by the same path, so it is the file already handled.
    std::fs::write(dir.join("early.flac"), &flac).unwrap();
    let later = watcher.drain(Duration::from_secs(3));
    assert!(watcher.interrupt().success());
    let about_it: Vec<_> = lines
        .iter()
        .chain(&later)
        .filter(|l| l.contains("early.flac"))
        .collect();
    assert_eq!(
        about_it.len(),
        1,
        "one line for the one file: {about_it:#?}"
    );
    assert!(about_it[0].starts_with("stored"), "{about_it:#?}");
}
