//! `tracks.parquet`: the records of `tracks.jsonl` as one Parquet file of the table schema
//! (see [`super::table`]), so DuckDB, pandas, Polars and Spark read them with no glue.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::table::{record_batch, schema, TableMeta};
use crate::record::Record;

/// Records per row group: bounds the writer's memory (a row is ~3 KB with its vectors).
const ROWS_PER_GROUP: usize = 8192;

/// Writes `records` to `path` atomically (a temporary file renamed into place), Snappy
/// compressed, in row groups of `ROWS_PER_GROUP`.
pub fn write_records(path: &Path, meta: &TableMeta, records: &[Record]) -> io::Result<()> {
    let schema = Arc::new(schema(meta));
    let tmp = path.with_extension("parquet.tmp");
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .build();
    let file = File::create(&tmp)?;
    let mut writer =
        ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(io::Error::other)?;
    for chunk in records.chunks(ROWS_PER_GROUP) {
        let batch = record_batch(Arc::clone(&schema), chunk).map_err(io::Error::other)?;
        writer.write(&batch).map_err(io::Error::other)?;
    }
    writer.into_inner().map_err(io::Error::other)?.sync_all()?;
    std::fs::rename(tmp, path)
}
