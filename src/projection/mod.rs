//! A linear map from content vectors into a recommender's own latent-factor space, for tracks
//! nobody has played yet (van den Oord, Dieleman & Schrauwen 2013: predict a new item's factors
//! from its audio).
//!
//! `sonovec fit-projection` fits it on warm tracks ([`ridge`]) and writes `projection.safetensors`:
//! tensors `weight` (`dim × k`, float32) and `bias` (`k`), so `cf = vector · weight + bias` in any
//! language; metadata records the vector layout it was fitted for, the chosen λ and the
//! cross-validated R² and cosine. `extract --projection` applies it to each record (`cf_vector`).

pub mod factors;
pub mod ridge;

use std::collections::HashMap;
use std::io;
use std::path::Path;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::record::Record;

/// Identifies the file format in the safetensors metadata.
pub const FORMAT: &str = "sonovec-projection-1";

/// How the projection was fitted, as stored in the file's metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FitReport {
    /// Warm tracks the map was fitted on.
    pub tracks: usize,
    pub folds: usize,
    /// The ridge penalty chosen by cross-validation (on standardised vectors; see [`ridge`]).
    pub lambda: f64,
    /// Pooled held-out R² of the chosen λ.
    pub cv_r2: f64,
    /// Mean held-out cosine between predicted and true (unit-normalised) factors.
    pub cv_cosine: f64,
}

/// `cf = vector · weight + bias`, valid for vectors of layout `vector_version`.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub vector_version: String,
    pub dim: usize,
    pub k: usize,
    /// `dim × k`, row-major.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub report: FitReport,
}

impl Projection {
    /// The factors predicted for `vector`, or `None` if its length is not `dim` or a value would
    /// not be finite.
    pub fn apply(&self, vector: &[f32]) -> Option<Vec<f32>> {
        if vector.len() != self.dim {
            return None;
        }
        let mut out: Vec<f64> = self.bias.iter().map(|&b| b as f64).collect();
        for (x, row) in vector.iter().zip(self.weight.chunks_exact(self.k)) {
            for (o, w) in out.iter_mut().zip(row) {
                *o += *x as f64 * *w as f64;
            }
        }
        let out: Vec<f32> = out.into_iter().map(|v| v as f32).collect();
        out.iter().all(|v| v.is_finite()).then_some(out)
    }

    /// Sets `record.cf_vector` for a successful record whose vector has this projection's layout;
    /// otherwise leaves it absent and, for a successful record, says why in `warnings`.
    pub fn apply_to(&self, record: &mut Record) {
        record.cf_vector = None;
        let Some(vector) = record.vector.as_deref().filter(|_| record.is_ok()) else {
            return;
        };
        if record.vector_version.as_deref() != Some(self.vector_version.as_str()) {
            record.warnings.push(format!(
                "no cf_vector: the projection was fitted for vector layout {}, not {}",
                self.vector_version,
                record.vector_version.as_deref().unwrap_or("none")
            ));
            return;
        }
        match self.apply(vector) {
            Some(cf) => record.cf_vector = Some(cf),
            None => record
                .warnings
                .push("no cf_vector: the projection gave a non-finite value".to_string()),
        }
    }

    /// Writes the projection as safetensors (float32 tensors `weight` and `bias`, metadata).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let weight = bytes_of(&self.weight);
        let bias = bytes_of(&self.bias);
        let tensors = [
            ("bias", view(&bias, vec![self.k])?),
            ("weight", view(&weight, vec![self.dim, self.k])?),
        ];
        let r = &self.report;
        let metadata: HashMap<String, String> = [
            ("format", FORMAT.to_string()),
            ("sonovec_version", crate::VERSION.to_string()),
            ("vector_version", self.vector_version.clone()),
            ("tracks", r.tracks.to_string()),
            ("folds", r.folds.to_string()),
            ("lambda", r.lambda.to_string()),
            ("cv_r2", r.cv_r2.to_string()),
            ("cv_cosine", r.cv_cosine.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let tmp = path.with_extension("safetensors.tmp");
        safetensors::serialize_to_file(tensors, Some(metadata), &tmp).map_err(invalid)?;
        std::fs::rename(tmp, path)
    }

    /// Reads a projection written by [`Projection::save`], checking shapes and that every value
    /// is finite.
    pub fn load(path: &Path) -> io::Result<Projection> {
        let bytes = std::fs::read(path)?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let field = |name: &str| {
            metadata
                .get(name)
                .cloned()
                .ok_or_else(|| invalid(format!("{}: no `{name}` in the metadata", path.display())))
        };
        if field("format")? != FORMAT {
            return Err(invalid(format!(
                "{}: not a sonovec projection ({FORMAT})",
                path.display()
            )));
        }
        let number = |name: &str| -> io::Result<f64> {
            field(name)?
                .parse()
                .map_err(|_| invalid(format!("{}: `{name}` is not a number", path.display())))
        };
        let tensors = SafeTensors::deserialize(&bytes).map_err(invalid)?;
        let (weight, weight_shape) = read_f32(&tensors, "weight")?;
        let (bias, bias_shape) = read_f32(&tensors, "bias")?;
        let (dim, k) = match (&weight_shape[..], &bias_shape[..]) {
            (&[dim, k], &[kb]) if k == kb && dim > 0 && k > 0 => (dim, k),
            _ => return Err(invalid("weight must be dim × k and bias k")),
        };
        if !weight.iter().chain(&bias).all(|v| v.is_finite()) {
            return Err(invalid("the projection holds non-finite values"));
        }
        Ok(Projection {
            vector_version: field("vector_version")?,
            dim,
            k,
            weight,
            bias,
            report: FitReport {
                tracks: number("tracks")? as usize,
                folds: number("folds")? as usize,
                lambda: number("lambda")?,
                cv_r2: number("cv_r2")?,
                cv_cosine: number("cv_cosine")?,
            },
        })
    }
}

fn invalid(err: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err.to_string())
}

fn bytes_of(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn view(bytes: &[u8], shape: Vec<usize>) -> io::Result<TensorView<'_>> {
    TensorView::new(Dtype::F32, shape, bytes).map_err(invalid)
}

fn read_f32(tensors: &SafeTensors<'_>, name: &str) -> io::Result<(Vec<f32>, Vec<usize>)> {
    let tensor = tensors.tensor(name).map_err(invalid)?;
    if tensor.dtype() != Dtype::F32 {
        return Err(invalid(format!("tensor `{name}` is not float32")));
    }
    let values = tensor
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((values, tensor.shape().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projection() -> Projection {
        Projection {
            vector_version: "test-1".into(),
            dim: 3,
            k: 2,
            weight: vec![1.0, 0.0, 0.0, 2.0, 0.5, 0.5],
            bias: vec![0.25, -1.0],
            report: FitReport {
                tracks: 40,
                folds: 5,
                lambda: 0.001,
                cv_r2: 0.5,
                cv_cosine: 0.75,
            },
        }
    }

    #[test]
    fn saves_and_loads_the_same_projection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.safetensors");
        projection().save(&path).unwrap();
        assert_eq!(Projection::load(&path).unwrap(), projection());
        std::fs::write(&path, b"not a projection").unwrap();
        assert!(Projection::load(&path).is_err());
    }

    #[test]
    fn applies_to_records_of_its_layout_only() {
        let p = projection();
        assert_eq!(p.apply(&[1.0, 2.0, 4.0]), Some(vec![3.25, 5.0]));
        assert_eq!(p.apply(&[1.0, 2.0]), None);
        assert_eq!(p.apply(&[f32::MAX, f32::MAX, 0.0]), None);

        let mut record = Record::new("a".into(), Some("aa".into()));
        record.vector = Some(vec![1.0, 2.0, 4.0]);
        record.vector_version = Some("test-1".into());
        p.apply_to(&mut record);
        assert_eq!(record.cf_vector, Some(vec![3.25, 5.0]));
        assert!(record.warnings.is_empty());

        record.vector_version = Some("other-2".into());
        p.apply_to(&mut record);
        assert_eq!(record.cf_vector, None);
        assert!(record.warnings[0].contains("other-2"));
    }
}
