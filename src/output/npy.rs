//! `vectors.npy` and `ids.txt`: the content vectors as one float32 matrix, and its row labels.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use npyz::WriterBuilder;

/// Writes `rows` (all of length `dim`) as a C-order float32 `.npy` of shape `(rows.len(), dim)`,
/// atomically, so `numpy.load` never sees a half-written file.
pub fn write_matrix<'a>(
    path: &Path,
    dim: usize,
    rows: impl ExactSizeIterator<Item = &'a [f32]>,
) -> io::Result<()> {
    let tmp = path.with_extension("npy.tmp");
    {
        let mut out = BufWriter::new(File::create(&tmp)?);
        let n = rows.len() as u64;
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&[n, dim as u64])
            .writer(&mut out)
            .begin_nd()?;
        for row in rows {
            if row.len() != dim {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "vector rows differ in length",
                ));
            }
            writer.extend(row.iter().copied())?;
        }
        writer.finish()?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Writes one line per id, in row order, atomically.
pub fn write_lines<'a>(path: &Path, lines: impl Iterator<Item = &'a str>) -> io::Result<()> {
    let tmp = path.with_extension("txt.tmp");
    {
        let mut out = BufWriter::new(File::create(&tmp)?);
        for line in lines {
            writeln!(out, "{line}")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    std::fs::rename(tmp, path)
}
