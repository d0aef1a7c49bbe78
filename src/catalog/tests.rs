use super::*;
use crate::error::{AnalysisError, ErrorKind};

fn analysed(id: &str, path: &str, vector: Vec<f32>) -> Record {
    let mut record = Record::new(path.to_string(), Some(id.to_string()));
    record.vector_version = Some("test-1".to_string());
    record.vector = Some(vector);
    record.duration_s = Some(1.5);
    record
}

fn failed(id: Option<&str>, path: &str) -> Record {
    let mut record = Record::new(path.to_string(), id.map(str::to_string));
    record.fail(AnalysisError::new(ErrorKind::Corrupt, "broken"));
    record
}

fn open_temp() -> (tempfile::TempDir, Catalog) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::open(&dir.path().join("db.sqlite")).unwrap();
    (dir, catalog)
}

#[test]
fn the_same_content_twice_is_one_row_and_a_moved_file_keeps_it() {
    let (_dir, mut catalog) = open_temp();
    catalog
        .store(&analysed("aa", "old/a.flac", vec![1.0, 2.0]))
        .unwrap();
    catalog
        .store(&analysed("aa", "old/a.flac", vec![1.0, 2.0]))
        .unwrap();
    catalog
        .store(&analysed("aa", "new/a.flac", vec![1.0, 2.0]))
        .unwrap();
    assert_eq!(catalog.counts().unwrap(), (1, 0));
    let record = catalog.record("aa").unwrap().unwrap();
    assert_eq!(record.path, "new/a.flac");
    assert_eq!(record.vector, Some(vec![1.0, 2.0]));

    catalog.set_path("aa", "moved/a.flac").unwrap();
    assert_eq!(catalog.record("aa").unwrap().unwrap().path, "moved/a.flac");
    let done = catalog.completed("test-1").unwrap();
    assert_eq!(done.get("aa").map(String::as_str), Some("moved/a.flac"));
    assert!(catalog.completed("other-layout").unwrap().is_empty());
}

#[test]
fn failures_live_in_their_own_table_and_never_replace_a_success() {
    let (_dir, mut catalog) = open_temp();
    catalog.store(&failed(Some("bb"), "b.mp3")).unwrap();
    catalog.store(&failed(None, "gone.mp3")).unwrap();
    assert_eq!(catalog.counts().unwrap(), (0, 2));

    // The fixed file (new content, same path) clears the failure of that path.
    catalog.store(&analysed("cc", "b.mp3", vec![0.5])).unwrap();
    assert_eq!(catalog.counts().unwrap(), (1, 1));
    // A later failure of content already analysed is not recorded over it.
    catalog.store(&failed(Some("cc"), "copy/b.mp3")).unwrap();
    assert_eq!(catalog.counts().unwrap(), (1, 1));
    let records = catalog.records().unwrap();
    assert_eq!(records.len(), 2);
    assert!(records[0].is_ok());
    assert_eq!(records[1].path, "gone.mp3");
    assert_eq!(records[1].error.as_ref().unwrap().kind, ErrorKind::Corrupt);
}

#[test]
fn vectors_come_back_bit_exact_in_one_contiguous_matrix() {
    let (_dir, mut catalog) = open_temp();
    let odd = vec![f32::MIN_POSITIVE, -0.0, 1.0e-30, 3.25];
    catalog
        .store_all(&[
            analysed("02", "b", odd.clone()),
            analysed("01", "a", vec![1.0, 2.0, 3.0, 4.0]),
            analysed("03", "c", vec![9.0]),
        ])
        .unwrap();
    let (table, skipped) = catalog.vectors("test-1").unwrap();
    assert_eq!(table.ids, ["02", "01"], "in the order first stored");
    assert_eq!(table.paths, ["b", "a"]);
    assert_eq!(table.dim, 4);
    assert_eq!(skipped, 1, "the row of another length is left out");
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(table.row(0)), bits(&odd));
    assert_eq!(blob_to_vector(&vector_to_blob(&odd)), odd);
}

#[test]
fn a_transaction_that_fails_midway_leaves_nothing() {
    let (dir, mut catalog) = open_temp();
    catalog.store(&analysed("aa", "a", vec![1.0])).unwrap();
    // A second connection holds the write lock: the batch cannot commit and must leave no row.
    let other = Connection::open(dir.path().join("db.sqlite")).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    catalog.conn.busy_timeout(Duration::ZERO).unwrap();
    let batch = [
        analysed("bb", "b", vec![2.0]),
        analysed("cc", "c", vec![3.0]),
    ];
    assert!(catalog.store_all(&batch).is_err());
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(catalog.counts().unwrap(), (1, 0));
    catalog.store_all(&batch).unwrap();
    assert_eq!(catalog.counts().unwrap(), (3, 0));
}

#[test]
fn reopening_keeps_everything_and_checks_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/db.sqlite");
    Catalog::open(&path)
        .unwrap()
        .store(&analysed("aa", "a", vec![1.0]))
        .unwrap();
    let catalog = Catalog::open_existing(&path).unwrap();
    assert_eq!(catalog.counts().unwrap(), (1, 0));
    let mode: String = catalog
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(Catalog::open_existing(&dir.path().join("missing.db")).is_err());
}

#[test]
fn a_track_is_done_only_for_the_vector_version_it_was_stored_with() {
    let (_dir, mut catalog) = open_temp();
    catalog.store(&analysed("dd", "d.flac", vec![1.0])).unwrap();
    assert!(catalog.has_track_with("dd", "test-1").unwrap());
    // Another model's vectors are not there yet: `watch` and `serve` analyse it again.
    assert!(!catalog
        .has_track_with("dd", "test-1+mtt_musicnn@0123")
        .unwrap());
    assert!(!catalog.has_track_with("ee", "test-1").unwrap());
}
