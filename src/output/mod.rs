//! The output folder of `extract`: `tracks.jsonl`, `vectors.npy`, `ids.txt`.
//!
//! `tracks.jsonl` is the source of truth and is only ever appended to while a run is going, so an
//! interrupted run loses nothing already written. When a run ends, the file is compacted (the
//! latest record per track, sorted by path) and the matrix and ids are derived from it.

pub mod jsonl;
pub mod npy;

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use crate::record::Record;
use crate::vector::VECTOR_VERSION;

pub use jsonl::JsonlAppender;

pub const TRACKS_FILE: &str = "tracks.jsonl";
pub const VECTORS_FILE: &str = "vectors.npy";
pub const IDS_FILE: &str = "ids.txt";

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

    /// Keys of tracks already analysed successfully with this build's vector layout: a resumed run
    /// skips them. Failed tracks are not included, so a re-run retries them.
    pub fn completed_keys(&self) -> io::Result<HashSet<String>> {
        let (records, _) = jsonl::read_records(&self.tracks_path())?;
        Ok(records
            .iter()
            .filter(|r| is_current(r))
            .map(Record::key)
            .collect())
    }

    pub fn appender(&self) -> io::Result<JsonlAppender> {
        JsonlAppender::open(&self.tracks_path())
    }

    /// Compacts `tracks.jsonl` to the latest record per track, sorted by path, and writes
    /// `vectors.npy` and `ids.txt` for the successful records in that order.
    pub fn finalize(&self) -> io::Result<Finalized> {
        let (records, unreadable_lines) = jsonl::read_records(&self.tracks_path())?;
        let mut latest: BTreeMap<String, Record> = BTreeMap::new();
        for record in records {
            let key = record.key();
            // A success is never replaced by a later failure of the same content (a copy that
            // could not be read, say), but a newer success replaces an older one.
            let keep_old = latest
                .get(&key)
                .is_some_and(|old| is_current(old) && !is_current(&record));
            if !keep_old {
                latest.insert(key, record);
            }
        }
        let mut records: Vec<Record> = latest.into_values().collect();
        records.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.id.cmp(&b.id)));
        jsonl::write_records(&self.tracks_path(), &records)?;

        let rows: Vec<&Record> = records.iter().filter(|r| is_current(r)).collect();
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
        Ok(Finalized {
            records: records.len(),
            vectors: rows.len(),
            unreadable_lines,
        })
    }
}

/// A successful record whose vector has this build's layout.
fn is_current(record: &Record) -> bool {
    record.is_ok()
        && record.vector.is_some()
        && record.vector_version.as_deref() == Some(VECTOR_VERSION)
}
