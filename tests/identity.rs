//! Content is "done" only for the vector version it was analysed with: a track catalogued with
//! one model is analysed again under another (the real binary, `extract` then `watch`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The first `stored …` or `known …` line `watch` prints for the folder's one file.
fn first_verdict(dir: &Path, catalog: &Path, model: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sonovec"))
        .args(["--model", model, "watch"])
        .arg(dir)
        .arg("--catalog")
        .arg(catalog)
        .args(["--settle", "0.3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = common::lines_of(child.stdout.take().unwrap());
    let verdict = loop {
        match lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.starts_with("stored") || line.starts_with("known") => break line,
            Ok(_) => {}
            Err(e) => panic!("no verdict from watch: {e}"),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    verdict
}

#[test]
fn another_model_analyses_catalogued_content_again() {
    let tmp = tempfile::tempdir().unwrap();
    let drop = tmp.path().join("drop");
    std::fs::create_dir(&drop).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/fourfloor_120.flac");
    std::fs::copy(&sample, drop.join("a.flac")).unwrap();
    let catalog = tmp.path().join("db.sqlite");

    let extract = Command::new(env!("CARGO_BIN_EXE_sonovec"))
        .args(["--model", "none", "extract", "--quiet", "-o"])
        .arg(tmp.path().join("out"))
        .arg("--catalog")
        .arg(&catalog)
        .arg(&drop)
        .status()
        .unwrap();
    assert!(extract.success());

    // Same model: the content is known. Another model: its vectors are not there yet.
    let same = first_verdict(&drop, &catalog, "none");
    assert!(same.starts_with("known"), "{same}");
    let other = first_verdict(&drop, &catalog, "mtt");
    assert!(other.starts_with("stored"), "{other}");
    // And now the catalog holds the MTT vectors: known under MTT.
    let again = first_verdict(&drop, &catalog, "mtt");
    assert!(again.starts_with("known"), "{again}");
}
