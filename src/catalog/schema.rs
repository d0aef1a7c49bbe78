//! The catalog's tables, created on first open and migrated from older layouts.
//!
//! `schema_version` in `meta` says which layout a file has:
//! - 1: one `tracks` row per content id (a track stored with another model replaced the row).
//! - 2: one `tracks` row per (content id, `vector_version`): the vectors of each model and set of
//!   weights live side by side. A version-1 file is migrated in place, in one transaction, the
//!   first time this sonovec opens it; its rows keep their order (`rowid`) and their contents.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Version of the table layout below.
pub const SCHEMA_VERSION: i64 = 2;

/// The `tracks` table of layout 2 (created under `name`, so a migration can build it beside the
/// old one).
fn tracks_table(name: &str) -> String {
    format!(
        "CREATE TABLE {name} (
             id              TEXT NOT NULL,      -- content id (BLAKE3, 32 hex)
             vector_version  TEXT NOT NULL,      -- what the vector is ('' for none)
             path            TEXT NOT NULL,      -- latest path the content was seen at
             record          TEXT NOT NULL,      -- the record as JSON, without `vector`
             vector          BLOB,               -- float32 little-endian, dim values
             dim             INTEGER,
             model           TEXT,
             sonovec_version TEXT NOT NULL,
             analysed_at     TEXT NOT NULL,      -- UTC, ISO 8601
             PRIMARY KEY (id, vector_version)
         );"
    )
}

const TRACKS_INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS tracks_path ON tracks(path);
    CREATE INDEX IF NOT EXISTS tracks_vector_version ON tracks(vector_version);";

const FAILURES: &str = "
    CREATE TABLE IF NOT EXISTS failures (
        key             TEXT PRIMARY KEY,   -- content id, or 'path:' + path if unreadable
        id              TEXT,
        path            TEXT NOT NULL,
        kind            TEXT,               -- error.kind of the record
        message         TEXT,
        record          TEXT NOT NULL,
        sonovec_version TEXT NOT NULL,
        failed_at       TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS failures_path ON failures(path);";

/// Sets the connection up (WAL, sane sync), creates the tables of a new catalog and migrates an
/// older one. A catalog of a newer layout than this sonovec knows is an error, never rewritten.
pub fn prepare(conn: &mut Connection) -> rusqlite::Result<()> {
    // WAL: readers never block the writer; NORMAL sync is durable across application crashes
    // (a power cut may lose the last transactions, never corrupt the file).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Reading the vectors of 100 000 tracks is a scan of ~150 MB: mapping the file spares a
    // copy of every page (halves `similar`'s load time).
    conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
    // Immediate: two processes opening one new or old catalog at once do not both create or
    // migrate it; the second sees the first one's result.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (
             key   TEXT PRIMARY KEY,
             value TEXT NOT NULL
         );",
    )?;
    let stored: Option<String> = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    match stored.as_deref().map(str::parse::<i64>) {
        None => {
            tx.execute_batch(&tracks_table("tracks"))?;
            tx.execute_batch(TRACKS_INDEXES)?;
            tx.execute_batch(FAILURES)?;
            set_version(&tx)?;
        }
        Some(Ok(1)) => migrate_1_to_2(&tx)?,
        Some(Ok(SCHEMA_VERSION)) => {}
        _ => {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "catalog schema version {} is not one this sonovec knows (1 to {SCHEMA_VERSION})",
                stored.unwrap_or_default()
            )))
        }
    }
    tx.commit()
}

fn set_version(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [SCHEMA_VERSION.to_string()],
    )
    .map(drop)
}

/// Layout 1 → 2: the same rows, keyed by (id, vector_version); a NULL version becomes ''.
fn migrate_1_to_2(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&tracks_table("tracks_v2"))?;
    // In rowid order, so `vectors()` lists the tracks in the order they were first stored.
    conn.execute_batch(
        "INSERT INTO tracks_v2 (id, vector_version, path, record, vector, dim, model,
                               sonovec_version, analysed_at)
         SELECT id, coalesce(vector_version, ''), path, record, vector, dim, model,
                sonovec_version, analysed_at
         FROM tracks ORDER BY rowid;
         DROP TABLE tracks;
         ALTER TABLE tracks_v2 RENAME TO tracks;",
    )?;
    conn.execute_batch(TRACKS_INDEXES)?;
    set_version(conn)
}

/// The layout-1 tables, as sonovec 0.1 created them: for the migration's tests.
#[cfg(test)]
pub(crate) const LAYOUT_1: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('schema_version', '1');
    CREATE TABLE tracks (
        id              TEXT PRIMARY KEY,
        path            TEXT NOT NULL,
        record          TEXT NOT NULL,
        vector          BLOB,
        dim             INTEGER,
        model           TEXT,
        vector_version  TEXT,
        sonovec_version TEXT NOT NULL,
        analysed_at     TEXT NOT NULL
    );
    CREATE INDEX tracks_path ON tracks(path);
    CREATE INDEX tracks_vector_version ON tracks(vector_version);
    CREATE TABLE failures (
        key             TEXT PRIMARY KEY,
        id              TEXT,
        path            TEXT NOT NULL,
        kind            TEXT,
        message         TEXT,
        record          TEXT NOT NULL,
        sonovec_version TEXT NOT NULL,
        failed_at       TEXT NOT NULL
    );
    CREATE INDEX failures_path ON failures(path);";
