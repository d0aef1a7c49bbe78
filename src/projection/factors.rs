//! Latent factors of warm tracks, as a recommender exports them: a CSV of `key, f1, …, fK` rows
//! (the key a content id or a path; an optional header row), or a `.npy` matrix with a text file
//! of keys, one per row.

use std::io;
use std::path::Path;

/// One row of K factors per key, unit-normalised.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Factors {
    pub keys: Vec<String>,
    pub k: usize,
    /// `keys.len() × k`, row-major, each row of unit L2 norm.
    pub data: Vec<f64>,
    /// Rows dropped because all their factors were zero (no direction to predict).
    pub zero_rows: usize,
}

impl Factors {
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.k..(i + 1) * self.k]
    }

    /// Adds a row after checking its length and values, normalising it to unit length.
    fn push(&mut self, key: String, mut values: Vec<f64>, at: &str) -> io::Result<()> {
        if self.keys.is_empty() && self.zero_rows == 0 {
            self.k = values.len();
        }
        if values.is_empty() || values.len() != self.k {
            return Err(invalid(format!(
                "{at}: {} factors, expected {}",
                values.len(),
                self.k.max(1)
            )));
        }
        if !values.iter().all(|v| v.is_finite()) {
            return Err(invalid(format!("{at}: a factor is not a finite number")));
        }
        let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm == 0.0 {
            self.zero_rows += 1;
            return Ok(());
        }
        values.iter_mut().for_each(|v| *v /= norm);
        self.keys.push(key);
        self.data.extend(values);
        Ok(())
    }
}

/// Reads a CSV of `key, f1, …, fK`. A first row whose second field is not a number is a header;
/// lines starting with `#` are comments. Keys may be quoted (paths with commas).
pub fn read_csv(path: &Path) -> io::Result<Factors> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(io::Error::other)?;
    let mut factors = Factors::default();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(io::Error::other)?;
        let at = format!("{} row {}", path.display(), line + 1);
        let key = row.get(0).unwrap_or_default().to_string();
        let values: Result<Vec<f64>, _> = row.iter().skip(1).map(str::parse::<f64>).collect();
        match values {
            Ok(values) => factors.push(key, values, &at)?,
            Err(_) if line == 0 => continue,
            Err(_) => return Err(invalid(format!("{at}: a factor is not a number"))),
        }
    }
    Ok(factors)
}

/// Reads a 2-D float32 or float64 `.npy` of factors and the keys of its rows from `keys_path`.
pub fn read_npy(path: &Path, keys_path: &Path) -> io::Result<Factors> {
    let bytes = std::fs::read(path)?;
    let npy = npyz::NpyFile::new(&bytes[..])?;
    let shape = npy.shape().to_vec();
    let [rows, k] = shape[..] else {
        return Err(invalid(format!(
            "{}: factors must be a 2-D matrix, not shape {shape:?}",
            path.display()
        )));
    };
    let values: Vec<f64> = match npy.into_vec::<f64>() {
        Ok(v) => v,
        Err(_) => npyz::NpyFile::new(&bytes[..])?
            .into_vec::<f32>()
            .map_err(|e| invalid(format!("{}: not float32 or float64: {e}", path.display())))?
            .into_iter()
            .map(f64::from)
            .collect(),
    };
    let keys: Vec<String> = std::fs::read_to_string(keys_path)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    if keys.len() as u64 != rows {
        return Err(invalid(format!(
            "{} has {} keys for {rows} rows of {}",
            keys_path.display(),
            keys.len(),
            path.display()
        )));
    }
    let mut factors = Factors::default();
    for (i, key) in keys.into_iter().enumerate() {
        let row = values[i * k as usize..(i + 1) * k as usize].to_vec();
        factors.push(key, row, &format!("{} row {}", path.display(), i + 1))?;
    }
    Ok(factors)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csv_with_a_header_quoted_keys_and_normalises_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(
            &path,
            "track,f1,f2\n# a comment\nabc, 3, 4\n\"music/a, b.flac\",0,2\nzero,0,0\n",
        )
        .unwrap();
        let f = read_csv(&path).unwrap();
        assert_eq!(f.keys, ["abc", "music/a, b.flac"]);
        assert_eq!(f.k, 2);
        assert_eq!(f.row(0), [0.6, 0.8]);
        assert_eq!(f.row(1), [0.0, 1.0]);
        assert_eq!(f.zero_rows, 1);

        std::fs::write(&path, "a,1,2\nb,1\n").unwrap();
        assert!(read_csv(&path).is_err(), "ragged rows are an error");
        std::fs::write(&path, "a,1,2\nb,1,nan\n").unwrap();
        assert!(read_csv(&path).is_err(), "NaN is an error");
    }

    #[test]
    fn reads_npy_with_keys() {
        let dir = tempfile::tempdir().unwrap();
        let npy = dir.path().join("f.npy");
        let ids = dir.path().join("ids.txt");
        crate::output::npy::write_matrix(
            &npy,
            2,
            [&[0.0f32, 5.0][..], &[1.0, 0.0][..]].into_iter(),
        )
        .unwrap();
        std::fs::write(&ids, "x\ny\n").unwrap();
        let f = read_npy(&npy, &ids).unwrap();
        assert_eq!(f.keys, ["x", "y"]);
        assert_eq!(f.data, [0.0, 1.0, 1.0, 0.0]);
        std::fs::write(&ids, "x\n").unwrap();
        assert!(read_npy(&npy, &ids).is_err());
    }
}
