//! The catalog's tables, created on first open.
//!
//! `schema_version` in `meta` lets a later sonovec migrate an older catalog instead of guessing.

use rusqlite::{Connection, OptionalExtension};

/// Version of the table layout below.
pub const SCHEMA_VERSION: i64 = 1;

/// Sets the connection up (WAL, foreign keys off, sane sync) and creates missing tables.
pub fn prepare(conn: &Connection) -> rusqlite::Result<()> {
    // WAL: readers never block the writer; NORMAL sync is durable across application crashes
    // (a power cut may lose the last transactions, never corrupt the file).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Reading the vectors of 100 000 tracks is a scan of ~150 MB: mapping the file spares a
    // copy of every page (halves `similar`'s load time).
    conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (
             key   TEXT PRIMARY KEY,
             value TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS tracks (
             id              TEXT PRIMARY KEY,   -- content id (BLAKE3, 32 hex)
             path            TEXT NOT NULL,      -- latest path the content was seen at
             record          TEXT NOT NULL,      -- the record as JSON, without `vector`
             vector          BLOB,               -- float32 little-endian, dim values
             dim             INTEGER,
             model           TEXT,
             vector_version  TEXT,
             sonovec_version TEXT NOT NULL,
             analysed_at     TEXT NOT NULL       -- UTC, ISO 8601
         );
         CREATE INDEX IF NOT EXISTS tracks_path ON tracks(path);
         CREATE INDEX IF NOT EXISTS tracks_vector_version ON tracks(vector_version);
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
         CREATE INDEX IF NOT EXISTS failures_path ON failures(path);",
    )?;
    let stored: Option<String> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    match stored {
        None => {
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )?;
        }
        Some(v) if v.parse::<i64>().ok() != Some(SCHEMA_VERSION) => {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "catalog schema version {v} is not {SCHEMA_VERSION}, the one this sonovec knows"
            )));
        }
        Some(_) => {}
    }
    Ok(())
}
