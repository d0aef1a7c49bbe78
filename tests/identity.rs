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

/// `extract` under MSD, then under MTT, into one catalog: both rows of every track are there,
/// each version is deduplicated on its own, and `similar` searches one version's rows.
#[test]
fn msd_and_mtt_vectors_of_one_track_live_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db.sqlite");
    let samples = common::repo_path("samples");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let extract = |model: &str, out: &str| {
        let out = tmp.path().join(out);
        let args = [
            "--model",
            model,
            "extract",
            &s(&samples),
            "-o",
            &s(&out),
            "--catalog",
            &s(&db),
        ];
        let done = common::sonovec(&args, Duration::from_secs(300));
        assert!(done.status.success(), "{args:?}: {done:?}");
        (out, String::from_utf8_lossy(&done.stderr).into_owned())
    };
    let version_of = |out: &Path| {
        let records = common::records(&out.join("tracks.jsonl"));
        assert_eq!(records.len(), 4);
        records[0]["vector_version"].as_str().unwrap().to_string()
    };

    let (msd_out, _) = extract("msd", "msd");
    let (mtt_out, _) = extract("mtt", "mtt");
    let (msd, mtt) = (version_of(&msd_out), version_of(&mtt_out));
    assert_ne!(msd, mtt);
    let catalog = sonovec::catalog::Catalog::open_existing(&db).unwrap();
    assert_eq!(
        catalog.counts().unwrap(),
        (8, 0),
        "one row per track and version"
    );
    let (msd_rows, _) = catalog.vectors(&msd).unwrap();
    let (mtt_rows, _) = catalog.vectors(&mtt).unwrap();
    assert_eq!((msd_rows.len(), mtt_rows.len()), (4, 4));
    for (i, id) in msd_rows.ids.iter().enumerate() {
        assert_eq!(catalog.versions_of(id).unwrap(), [msd.clone(), mtt.clone()]);
        let j = mtt_rows.ids.iter().position(|m| m == id).unwrap();
        assert_ne!(
            msd_rows.row(i),
            mtt_rows.row(j),
            "each row keeps its own vector"
        );
    }
    drop(catalog);

    // Dedup per version: a second run of either model analyses nothing and gives back the very
    // records of its own model.
    for (model, first) in [("msd", &msd_out), ("mtt", &mtt_out)] {
        let (again, summary) = extract(model, &format!("{model}-again"));
        assert!(
            summary.contains("0 ok, 0 failed, 4 skipped"),
            "{model}: {summary}"
        );
        assert_eq!(
            std::fs::read(first.join("tracks.jsonl")).unwrap(),
            std::fs::read(again.join("tracks.jsonl")).unwrap(),
            "{model}: the catalog's rows of this version"
        );
    }
    let catalog = sonovec::catalog::Catalog::open_existing(&db).unwrap();
    assert_eq!(catalog.counts().unwrap(), (8, 0));
    drop(catalog);

    // Search per version: each model's query searches the 4 rows of its own version.
    let query = s(&samples.join("house_128.ogg"));
    for (model, version) in [("msd", &msd), ("mtt", &mtt)] {
        let args = [
            "--model",
            model,
            "similar",
            "--catalog",
            &s(&db),
            &query,
            "--json",
        ];
        let done = common::sonovec(&args, Duration::from_secs(120));
        assert!(done.status.success(), "{args:?}: {done:?}");
        let answer: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(answer["vector_version"].as_str(), Some(version.as_str()));
        assert_eq!(answer["searched"], 4, "{model}: {answer}");
        assert_eq!(answer["neighbours"].as_array().unwrap().len(), 3);
    }
}
