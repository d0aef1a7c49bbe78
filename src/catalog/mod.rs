//! The catalog: every record of every run in one SQLite database (`--catalog PATH`).
//!
//! One row per content id and `vector_version` in `tracks` (path, the record as JSON, the vector
//! as a float32 little-endian blob, model, sonovec version, when it was analysed), so a track's
//! vectors of each model and set of weights live side by side, and one row per failed input in
//! `failures` (keyed like [`Record::key`], with the error). Every write is
//! one transaction, so a crash never leaves half a track; the database runs in WAL mode so
//! readers (`similar`, `export`) are not blocked by a running `extract`.
//!
//! Storing is idempotent: the same content analysed twice with one `vector_version` is one row,
//! and a file that moved keeps its rows with the new path. A success is never replaced by a later
//! failure of the same content. Every read of a track names the `vector_version` it wants.

mod blob;
mod schema;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::record::Record;

pub use blob::{blob_to_vector, vector_to_blob};

/// Turns a database error into the I/O error the command line reports (exit code 3).
pub(crate) fn db_error(err: rusqlite::Error) -> io::Error {
    io::Error::other(format!("catalog: {err}"))
}

/// An open catalog database.
pub struct Catalog {
    conn: Connection,
}

/// The vectors of one layout, held contiguously for search and fitting.
#[derive(Clone, Debug, Default)]
pub struct VectorTable {
    /// Content id of each row.
    pub ids: Vec<String>,
    /// Path of each row (the latest path the track was seen at).
    pub paths: Vec<String>,
    /// Values per row.
    pub dim: usize,
    /// `ids.len() × dim` values, row-major.
    pub data: Vec<f32>,
}

impl VectorTable {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

impl Catalog {
    /// Opens the catalog at `path`, creating the database and its tables if needed.
    pub fn open(path: &Path) -> io::Result<Catalog> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut conn = Connection::open(path).map_err(db_error)?;
        // Another process (a second extract, a similar query) may hold the write lock briefly.
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(db_error)?;
        schema::prepare(&mut conn).map_err(db_error)?;
        Ok(Catalog { conn })
    }

    /// Opens an existing catalog; a missing file is an error rather than a new empty catalog.
    pub fn open_existing(path: &Path) -> io::Result<Catalog> {
        if !path.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no catalog at {}", path.display()),
            ));
        }
        Catalog::open(path)
    }

    /// Stores one record in a single transaction.
    ///
    /// A success upserts its `tracks` row (same content id and `vector_version`: one row, path and
    /// analysis replaced; rows of other versions are left alone) and clears failures of the same
    /// content or path. A failure upserts its `failures` row,
    /// unless the same content is already in `tracks`.
    pub fn store(&mut self, record: &Record) -> io::Result<()> {
        self.store_all(std::slice::from_ref(record))
    }

    /// Stores many records in one transaction (all or none): bulk loads commit once.
    pub fn store_all(&mut self, records: &[Record]) -> io::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        for record in records {
            store_in(&tx, record)?;
        }
        tx.commit().map_err(db_error)
    }

    /// Content ids (with their stored path) analysed successfully with `vector_version`: a
    /// resumed run skips them.
    pub fn completed(&self, vector_version: &str) -> io::Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path FROM tracks WHERE vector_version = ?1")
            .map_err(db_error)?;
        let rows = stmt
            .query_map([vector_version], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    }

    /// Records that a track's content is now found at `path` (a moved or renamed file), in the
    /// rows of every version: the path belongs to the content, not to its vectors.
    pub fn set_path(&mut self, id: &str, path: &str) -> io::Result<()> {
        self.conn
            .execute(
                "UPDATE tracks SET path = ?2 WHERE id = ?1 AND path <> ?2",
                params![id, path],
            )
            .map(drop)
            .map_err(db_error)
    }

    /// The stored record of content `id` analysed with `vector_version`, with its current path.
    pub fn record(&self, id: &str, vector_version: &str) -> io::Result<Option<Record>> {
        self.conn
            .query_row(
                "SELECT path, record, vector FROM tracks WHERE id = ?1 AND vector_version = ?2",
                [id, vector_version],
                row_parts,
            )
            .optional()
            .map_err(db_error)?
            .map(parse_record)
            .transpose()
    }

    /// True if content `id` is stored as a track (with any `vector_version`).
    pub fn has_track(&self, id: &str) -> io::Result<bool> {
        self.exists("SELECT 1 FROM tracks WHERE id = ?1", id)
    }

    /// The `vector_version`s content `id` is stored with, oldest row first.
    pub fn versions_of(&self, id: &str) -> io::Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT vector_version FROM tracks WHERE id = ?1 ORDER BY rowid")
            .map_err(db_error)?;
        let rows = stmt.query_map([id], |row| row.get(0)).map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    }

    /// True if content `id` is catalogued with vectors of `vector_version` (content stored with
    /// another model or weights is not done).
    pub fn has_track_with(&self, id: &str, vector_version: &str) -> io::Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM tracks WHERE id = ?1 AND vector_version = ?2",
                [id, vector_version],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(db_error)
    }

    /// True if content `id` is recorded as a failure.
    pub fn has_failure(&self, id: &str) -> io::Result<bool> {
        self.exists("SELECT 1 FROM failures WHERE key = ?1", id)
    }

    /// True if content `id` is stored as a failure of the input itself (not `internal`, not
    /// `io`): analysing the same bytes again would fail again, so watchers skip it.
    pub fn has_final_failure(&self, id: &str) -> io::Result<bool> {
        let kind: Option<Option<String>> = self
            .conn
            .query_row("SELECT kind FROM failures WHERE key = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .map_err(db_error)?;
        let kind = kind
            .flatten()
            .and_then(|k| serde_json::from_value::<crate::ErrorKind>(k.into()).ok());
        Ok(kind.is_some_and(crate::ErrorKind::is_bad_input))
    }

    fn exists(&self, sql: &str, id: &str) -> io::Result<bool> {
        self.conn
            .query_row(sql, [id], |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
            .map_err(db_error)
    }

    /// The content id of the track last seen at `path`, if any.
    pub fn id_of_path(&self, path: &str) -> io::Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT id FROM tracks WHERE path = ?1 ORDER BY analysed_at DESC LIMIT 1",
                [path],
                |row| row.get(0),
            )
            .optional()
            .map_err(db_error)
    }

    /// Every record of `vector_version`: the analysed tracks, then the failures (which have no
    /// version), each with its current path.
    pub fn records(&self, vector_version: &str) -> io::Result<Vec<Record>> {
        let mut records = Vec::new();
        let queries: [(&str, &[&dyn rusqlite::ToSql]); 2] = [
            (
                "SELECT path, record, vector FROM tracks WHERE vector_version = ?1
                 ORDER BY path, id",
                &[&vector_version],
            ),
            (
                "SELECT path, record, NULL FROM failures ORDER BY path, key",
                &[],
            ),
        ];
        for (sql, args) in queries {
            let mut stmt = self.conn.prepare(sql).map_err(db_error)?;
            let rows = stmt.query_map(args, row_parts).map_err(db_error)?;
            for row in rows {
                records.push(parse_record(row.map_err(db_error)?)?);
            }
        }
        Ok(records)
    }

    /// The vectors of every track of layout `vector_version`, in the order they were first
    /// stored (a fixed order for a given catalog).
    ///
    /// Rows whose length differs from the first row's are skipped (they cannot share a matrix);
    /// the count of skipped rows is returned alongside.
    pub fn vectors(&self, vector_version: &str) -> io::Result<(VectorTable, usize)> {
        let tracks = self
            .conn
            .query_row(
                "SELECT count(*) FROM tracks WHERE vector_version = ?1",
                [vector_version],
                |row| row.get::<_, i64>(0),
            )
            .map_err(db_error)? as usize;
        // One sequential scan of the table: `+` keeps SQLite off the vector_version index, whose
        // order would cost a random page read per row.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, path, vector FROM tracks
                 WHERE +vector_version = ?1 AND vector IS NOT NULL ORDER BY rowid",
            )
            .map_err(db_error)?;
        let mut rows = stmt.query([vector_version]).map_err(db_error)?;
        let mut table = VectorTable {
            ids: Vec::with_capacity(tracks),
            paths: Vec::with_capacity(tracks),
            ..VectorTable::default()
        };
        let mut skipped = 0;
        while let Some(row) = rows.next().map_err(db_error)? {
            let blob = row.get_ref(2).map_err(db_error)?;
            let bytes = blob.as_blob().map_err(|e| db_error(e.into()))?;
            if table.ids.is_empty() {
                table.dim = bytes.len() / 4;
                table.data.reserve_exact(tracks * table.dim);
            }
            if bytes.len() != table.dim * 4 {
                skipped += 1;
                continue;
            }
            table.ids.push(row.get(0).map_err(db_error)?);
            table.paths.push(row.get(1).map_err(db_error)?);
            blob::extend_from_blob(&mut table.data, bytes);
        }
        Ok((table, skipped))
    }

    /// Counts of `tracks` rows (one per content id and `vector_version`) and of failures.
    pub fn counts(&self) -> io::Result<(usize, usize)> {
        let count = |sql: &str| -> io::Result<usize> {
            self.conn
                .query_row(sql, [], |row| row.get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(db_error)
        };
        Ok((
            count("SELECT count(*) FROM tracks")?,
            count("SELECT count(*) FROM failures")?,
        ))
    }
}

/// Writes one record inside the caller's transaction (see [`Catalog::store`]).
fn store_in(tx: &Transaction<'_>, record: &Record) -> io::Result<()> {
    // The vector lives in its blob only: storing it twice would double the catalog.
    let without_vector = Record {
        vector: None,
        ..record.clone()
    };
    let json = serde_json::to_string(&without_vector).map_err(io::Error::other)?;
    match (&record.id, record.is_ok()) {
        (Some(id), true) => {
            let vector = record.vector.as_deref().map(vector_to_blob);
            let dim = record.vector.as_ref().map(|v| v.len() as i64);
            tx.execute(
                "INSERT INTO tracks (id, path, record, vector, dim, model, vector_version,
                                     sonovec_version, analysed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                 ON CONFLICT(id, vector_version) DO UPDATE SET
                     path = excluded.path, record = excluded.record, vector = excluded.vector,
                     dim = excluded.dim, model = excluded.model,
                     sonovec_version = excluded.sonovec_version,
                     analysed_at = excluded.analysed_at",
                params![
                    id,
                    record.path,
                    json,
                    vector,
                    dim,
                    record.model,
                    record.vector_version.as_deref().unwrap_or(""),
                    record.version
                ],
            )
            .map_err(db_error)?;
            tx.execute(
                "DELETE FROM failures WHERE key = ?1 OR path = ?2",
                params![id, record.path],
            )
            .map_err(db_error)?;
        }
        _ => {
            let analysed: bool = match &record.id {
                Some(id) => tx
                    .query_row("SELECT 1 FROM tracks WHERE id = ?1", [id], |_| Ok(()))
                    .optional()
                    .map_err(db_error)?
                    .is_some(),
                None => false,
            };
            if !analysed {
                let (kind, message) = match &record.error {
                    Some(e) => (
                        serde_json::to_value(e.kind)
                            .ok()
                            .and_then(|k| k.as_str().map(str::to_string)),
                        Some(e.message.clone()),
                    ),
                    None => (None, None),
                };
                tx.execute(
                    "INSERT INTO failures (key, id, path, kind, message, record, sonovec_version,
                                           failed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
                     ON CONFLICT(key) DO UPDATE SET
                         id = excluded.id, path = excluded.path, kind = excluded.kind,
                         message = excluded.message, record = excluded.record,
                         sonovec_version = excluded.sonovec_version,
                         failed_at = excluded.failed_at",
                    params![
                        record.key(),
                        record.id,
                        record.path,
                        kind,
                        message,
                        json,
                        record.version
                    ],
                )
                .map_err(db_error)?;
            }
        }
    }
    Ok(())
}

/// A stored row: path, record JSON (without its vector), vector blob.
type RowParts = (String, String, Option<Vec<u8>>);

fn row_parts(row: &rusqlite::Row<'_>) -> rusqlite::Result<RowParts> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

/// Rebuilds a record from its row: the current path and the vector from the blob.
fn parse_record((path, json, vector): RowParts) -> io::Result<Record> {
    let mut record: Record = serde_json::from_str(&json)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("catalog record: {e}")))?;
    record.path = path;
    if let Some(blob) = vector {
        record.vector = Some(blob_to_vector(&blob));
    }
    Ok(record)
}

#[cfg(test)]
mod tests;
