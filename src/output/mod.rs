//! The output folder of `extract`: `tracks.jsonl`, `vectors.npy`, `ids.txt`, `tracks.parquet`.
//!
//! `tracks.jsonl` is the source of truth and is only ever appended to while a run is going, so an
//! interrupted run loses nothing already written. When a run ends, the file is compacted (the
//! latest record per track, sorted by path) and the matrix, ids and Parquet table are derived
//! from it.

pub mod jsonl;
pub mod npy;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod table;

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::record::Record;
use crate::vector::Layout;

pub use jsonl::JsonlAppender;

pub const TRACKS_FILE: &str = "tracks.jsonl";
pub const VECTORS_FILE: &str = "vectors.npy";
pub const IDS_FILE: &str = "ids.txt";
pub const LAYOUT_FILE: &str = "vectors.json";
pub const PARQUET_FILE: &str = "tracks.parquet";

/// What the folder holds after [`OutputDir::finalize`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Finalized {
    /// Records in `tracks.jsonl`.
    pub records: usize,
    /// Rows in `vectors.npy` (records analysed without error by this layout).
    pub vectors: usize,
    /// Lines that could not be parsed and were dropped.
    pub unreadable_lines: usize,
}

/// An `extract` output folder.
pub struct OutputDir {
    dir: PathBuf,
}

impl OutputDir {
    /// Uses `dir`, creating it if needed.
    pub fn create(dir: &Path) -> io::Result<OutputDir> {
        std::fs::create_dir_all(dir)?;
        Ok(OutputDir {
            dir: dir.to_path_buf(),
        })
    }

    pub fn tracks_path(&self) -> PathBuf {
        self.dir.join(TRACKS_FILE)
    }

    /// Keys of tracks already analysed successfully with vector layout `vector_version`: a
    /// resumed run skips them. Failed tracks are not included, so a re-run retries them.
    pub fn completed_keys(&self, vector_version: &str) -> io::Result<HashSet<String>> {
        let (records, _) = jsonl::read_records(&self.tracks_path())?;
        Ok(records
            .iter()
            .filter(|r| is_current(r, vector_version))
            .map(Record::key)
            .collect())
    }

    pub fn appender(&self) -> io::Result<JsonlAppender> {
        JsonlAppender::open(&self.tracks_path())
    }

    /// Compacts `tracks.jsonl` to the latest record per track, sorted by path, and writes
    /// `vectors.npy` and `ids.txt` for the successful records of `layout`'s vector version in
    /// that order, `layout` itself as `vectors.json`, and every record as `tracks.parquet` (with
    /// the `parquet` feature).
    pub fn finalize(&self, layout: &Layout) -> io::Result<Finalized> {
        let version = layout.vector_version.as_str();
        let (records, unreadable_lines) = jsonl::read_records(&self.tracks_path())?;
        let mut latest: BTreeMap<String, Record> = BTreeMap::new();
        for record in records {
            let key = record.key();
            // A success is never replaced by a later failure of the same content (a copy that
            // could not be read, say), but a newer success replaces an older one.
            let keep_old = latest
                .get(&key)
                .is_some_and(|old| is_current(old, version) && !is_current(&record, version));
            if !keep_old {
                latest.insert(key, record);
            }
        }
        let mut records: Vec<Record> = latest.into_values().collect();
        records.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.id.cmp(&b.id)));
        jsonl::write_records(&self.tracks_path(), &records)?;

        let rows: Vec<&Record> = records.iter().filter(|r| is_current(r, version)).collect();
        let dim = rows
            .first()
            .and_then(|r| r.vector.as_ref())
            .map_or(0, Vec::len);
        let vectors = rows.iter().map(|r| r.vector.as_deref().unwrap_or_default());
        npy::write_matrix(&self.dir.join(VECTORS_FILE), dim, vectors)?;
        npy::write_lines(
            &self.dir.join(IDS_FILE),
            rows.iter().map(|r| r.id.as_deref().unwrap_or_default()),
        )?;
        write_layout(&self.dir.join(LAYOUT_FILE), layout)?;
        #[cfg(feature = "parquet")]
        parquet::write_records(
            &self.dir.join(PARQUET_FILE),
            &table::TableMeta::of_layout(layout),
            &records,
        )?;
        Ok(Finalized {
            records: records.len(),
            vectors: rows.len(),
            unreadable_lines,
        })
    }
}

/// A successful record whose vector has layout `vector_version`.
fn is_current(record: &Record, vector_version: &str) -> bool {
    record.is_ok()
        && record.vector.is_some()
        && record.vector_version.as_deref() == Some(vector_version)
}

/// Writes `vectors.json` atomically.
fn write_layout(path: &Path, layout: &Layout) -> io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_string_pretty(layout).map_err(io::Error::other)?;
    std::fs::write(&tmp, json + "\n")?;
    std::fs::rename(tmp, path)
}
