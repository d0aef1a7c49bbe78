//! `tracks.jsonl`: one record per line, appended and flushed as each track finishes.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::record::Record;

/// Appends records to a JSON-lines file, flushing after each so a crash loses at most one line.
pub struct JsonlAppender {
    file: File,
    line: Vec<u8>,
}

impl JsonlAppender {
    /// Opens `path` for appending, creating it. A last line cut short by a crash is terminated
    /// so that the next record starts on a line of its own.
    pub fn open(path: &Path) -> io::Result<JsonlAppender> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(JsonlAppender {
            file,
            line: Vec::with_capacity(8192),
        })
    }

    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, record).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.file.write_all(&self.line)?;
        self.file.flush()
    }
}

/// Reads every parseable record of a JSON-lines file, in order; a missing file has none.
///
/// Lines that do not parse (a line cut short by a crash) are skipped and counted.
pub fn read_records(path: &Path) -> io::Result<(Vec<Record>, usize)> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut records = Vec::new();
    let mut unreadable = 0;
    for line in BufReader::new(file).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(&line) {
            Ok(record) => records.push(record),
            Err(_) => unreadable += 1,
        }
    }
    Ok((records, unreadable))
}

/// Writes `records` to `path` atomically (temporary file, then rename).
pub fn write_records(path: &Path, records: &[Record]) -> io::Result<()> {
    let tmp = path.with_extension("jsonl.tmp");
    {
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        for record in records {
            serde_json::to_writer(&mut out, record).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(tmp, path)
}
