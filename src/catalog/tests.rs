use super::*;
use crate::error::{AnalysisError, ErrorKind};

fn analysed(id: &str, path: &str, vector: Vec<f32>) -> Record {
    analysed_as(id, path, vector, "test-1")
}

fn analysed_as(id: &str, path: &str, vector: Vec<f32>, vector_version: &str) -> Record {
    let mut record = Record::new(path.to_string(), Some(id.to_string()));
    record.vector_version = Some(vector_version.to_string());
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
    let record = catalog.record("aa", "test-1").unwrap().unwrap();
    assert_eq!(record.path, "new/a.flac");
    assert_eq!(record.vector, Some(vec![1.0, 2.0]));

    catalog.set_path("aa", "moved/a.flac").unwrap();
    assert_eq!(
        catalog.record("aa", "test-1").unwrap().unwrap().path,
        "moved/a.flac"
    );
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
    let records = catalog.records("test-1").unwrap();
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

const MSD: &str = "test-1";
const MTT: &str = "test-1+mtt_musicnn@0123";

#[test]
fn each_vector_version_has_its_own_row_deduplicated_and_searched_alone() {
    let (_dir, mut catalog) = open_temp();
    catalog
        .store_all(&[
            analysed_as("aa", "a.ogg", vec![1.0, 0.0], MSD),
            analysed_as("bb", "b.ogg", vec![0.0, 1.0], MSD),
        ])
        .unwrap();
    // The same content under another model: a row beside the first, which is left as it was.
    catalog
        .store(&analysed_as("aa", "a.ogg", vec![0.5, 0.5, 0.5], MTT))
        .unwrap();
    assert_eq!(catalog.counts().unwrap(), (3, 0));
    assert_eq!(catalog.versions_of("aa").unwrap(), [MSD, MTT]);
    let msd = catalog.record("aa", MSD).unwrap().unwrap();
    let mtt = catalog.record("aa", MTT).unwrap().unwrap();
    assert_eq!(msd.vector, Some(vec![1.0, 0.0]));
    assert_eq!(mtt.vector, Some(vec![0.5, 0.5, 0.5]));
    assert!(catalog.record("bb", MTT).unwrap().is_none());

    // Storing again deduplicates within a version, never across.
    catalog
        .store(&analysed_as("aa", "moved/a.ogg", vec![0.25, 0.5, 0.5], MTT))
        .unwrap();
    assert_eq!(catalog.counts().unwrap(), (3, 0));
    assert_eq!(
        catalog.record("aa", MSD).unwrap().unwrap().vector,
        Some(vec![1.0, 0.0])
    );
    assert_eq!(
        catalog.record("aa", MTT).unwrap().unwrap().vector,
        Some(vec![0.25, 0.5, 0.5])
    );
    // A move is the content's: every version's row follows it.
    catalog.set_path("aa", "new/a.ogg").unwrap();
    assert_eq!(
        catalog.record("aa", MSD).unwrap().unwrap().path,
        "new/a.ogg"
    );
    assert_eq!(
        catalog.record("aa", MTT).unwrap().unwrap().path,
        "new/a.ogg"
    );

    // Search, resume and export read one version's rows only.
    let (table, skipped) = catalog.vectors(MSD).unwrap();
    assert_eq!(
        (table.ids.as_slice(), table.dim, skipped),
        (&["aa".to_string(), "bb".to_string()][..], 2, 0)
    );
    let (table, skipped) = catalog.vectors(MTT).unwrap();
    assert_eq!(
        (table.ids.as_slice(), table.dim, skipped),
        (&["aa".to_string()][..], 3, 0)
    );
    assert_eq!(catalog.completed(MTT).unwrap().len(), 1);
    assert_eq!(catalog.completed(MSD).unwrap().len(), 2);
    assert_eq!(catalog.records(MTT).unwrap().len(), 1);
    assert!(catalog.has_track_with("bb", MSD).unwrap());
    assert!(!catalog.has_track_with("bb", MTT).unwrap());
}

#[test]
fn a_layout_1_catalog_is_migrated_in_place_with_its_rows_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        let old = Connection::open(&path).unwrap();
        old.execute_batch(schema::LAYOUT_1).unwrap();
        let insert = "INSERT INTO tracks (id, path, record, vector, dim, model, vector_version,
                                          sonovec_version, analysed_at)
                      VALUES (?1, ?2, ?3, ?4, 2, 'msd', ?5, '0.1.0', '2026-01-01T00:00:00Z')";
        for (id, version) in [("zz", Some(MSD)), ("aa", Some(MSD)), ("nv", None)] {
            let record = analysed_as(id, &format!("{id}.ogg"), vec![], MSD);
            let json = serde_json::to_string(&Record {
                vector: None,
                ..record
            })
            .unwrap();
            old.execute(
                insert,
                params![
                    id,
                    format!("{id}.ogg"),
                    json,
                    vector_to_blob(&[1.0, 2.0]),
                    version
                ],
            )
            .unwrap();
        }
        old.execute(
            "INSERT INTO failures (key, id, path, kind, message, record, sonovec_version,
                                   failed_at)
             VALUES ('bad', 'bad', 'bad.mp3', 'corrupt', 'broken', ?1, '0.1.0', 'now')",
            [serde_json::to_string(&failed(Some("bad"), "bad.mp3")).unwrap()],
        )
        .unwrap();
    }
    let mut catalog = Catalog::open_existing(&path).unwrap();
    let version: String = catalog
        .conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, schema::SCHEMA_VERSION.to_string());
    assert_eq!(catalog.counts().unwrap(), (3, 1));
    let (table, _) = catalog.vectors(MSD).unwrap();
    assert_eq!(table.ids, ["zz", "aa"], "the order first stored survives");
    assert_eq!(table.row(1), [1.0, 2.0]);
    assert_eq!(catalog.versions_of("nv").unwrap(), [""]);
    assert!(catalog.has_final_failure("bad").unwrap());
    // After the migration a second model's vectors go beside the first's.
    catalog
        .store(&analysed_as("aa", "aa.ogg", vec![3.0], MTT))
        .unwrap();
    assert_eq!(catalog.counts().unwrap(), (4, 1));
    drop(catalog);
    // Opened again: already layout 2, nothing to do.
    assert_eq!(Catalog::open(&path).unwrap().counts().unwrap(), (4, 1));
}

#[test]
fn a_catalog_of_an_unknown_layout_is_refused_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '99');",
        )
        .unwrap();
    let err = Catalog::open(&path).err().expect("refused");
    assert!(err.to_string().contains("99"), "{err}");
}
