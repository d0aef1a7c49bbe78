//! The content vector: the one row per track that a recommender searches.
//!
//! Three blocks, each scaled to unit size, multiplied by its weight, concatenated, and the whole
//! L2-normalised (so cosine is a dot product):
//! - `embedding` (200): musicnn's penultimate layer (`record.embedding`), L2-normalised;
//! - `tags` (50): the model's tag probabilities (`record.tags`), L2-normalised;
//! - `descriptors` (60): the record's descriptors standardised by the reference-corpus mean and
//!   std of `models/vector.json`, clamped to ±5, `null` → 0 (the corpus mean), divided by √60.
//!
//! Without an embedding model (`--model none`) the vector is the descriptor block alone,
//! L2-normalised, under its own version (`<version>-descriptors`).

pub mod descriptors;
mod model;
mod weights;

use serde::Serialize;

use crate::features::tempo::BpmRange;
use crate::record::Record;

pub use descriptors::{descriptor_names, raw_descriptors, N_DESCRIPTORS};
pub use model::{Standardisation, VectorModel};
pub use weights::BlockWeights;

/// Length of the embedding block (musicnn's penultimate layer).
pub const EMBEDDING_LEN: usize = crate::embed::EMBEDDING_DIM;
/// Length of the tags block.
pub const TAGS_LEN: usize = crate::embed::N_TAGS;
/// The id of the bundled MSD musicnn (`msd_musicnn@<sha256 prefix>`): the one model whose
/// vectors carry the bare version.
pub fn default_model_id() -> String {
    crate::embed::ModelChoice::Msd
        .id()
        .expect("the bundled model is compiled in")
}

/// What a run's vectors are made of: the embedding model (if any), the block weights, and the
/// tempo range imposed on the tempo descriptor (if any).
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSpec {
    /// Id of the embedding model (`<name>@<sha256 prefix>`, see `ModelChoice::id`), `None`
    /// for descriptors only.
    pub model: Option<String>,
    pub weights: BlockWeights,
    /// The `--bpm-range` of the analysis: it moves `log(tempo.bpm)` by octaves.
    pub bpm_range: Option<BpmRange>,
}

impl Default for VectorSpec {
    fn default() -> Self {
        VectorSpec::new(Some(default_model_id()), None)
    }
}

impl VectorSpec {
    /// `weights` default to those of `models/vector.json`.
    pub fn new(model: Option<String>, weights: Option<BlockWeights>) -> VectorSpec {
        VectorSpec {
            model,
            weights: weights.unwrap_or(VectorModel::bundled().weights),
            bpm_range: None,
        }
    }

    /// The same spec for records whose tempo was chosen within `range`.
    pub fn with_bpm_range(self, range: Option<BpmRange>) -> VectorSpec {
        VectorSpec {
            bpm_range: range,
            ..self
        }
    }

    /// The `vector_version` of this spec's vectors. Vectors of equal versions are comparable;
    /// the version names everything that changes them: the base version of `models/vector.json`,
    /// then `+<model id>` for a model other than the bundled MSD musicnn (named by its content
    /// hash, so a retrained model with the same file name gets its own version) and
    /// `+w<e>,<t>,<d>` for non-default weights; `<base>-descriptors` without a model (the weights then do not matter);
    /// last, `+bpm<low>-<high>` for a tempo range.
    pub fn version(&self) -> String {
        let Some(model) = &self.model else {
            return self.descriptors_only_version();
        };
        let bundled = VectorModel::bundled();
        let mut version = bundled.version.clone();
        // The hash decides: the bundled weights under another file name are the same model.
        let hash = |id: &str| id.rsplit_once('@').map(|(_, h)| h.to_string());
        if hash(model).is_none() || hash(model) != hash(&default_model_id()) {
            version.push('+');
            version.push_str(model);
        }
        if self.weights != bundled.weights {
            let w = self.weights;
            version.push_str(&format!("+w{},{},{}", w.embedding, w.tags, w.descriptors));
        }
        version + &self.range_suffix()
    }

    /// The version of this spec's vectors made of the descriptor block alone.
    fn descriptors_only_version(&self) -> String {
        let base = &VectorModel::bundled().version;
        format!("{base}-descriptors{}", self.range_suffix())
    }

    fn range_suffix(&self) -> String {
        self.bpm_range
            .map_or_else(String::new, |r| format!("+bpm{r}"))
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        match self.model {
            Some(_) => EMBEDDING_LEN + TAGS_LEN + N_DESCRIPTORS,
            None => N_DESCRIPTORS,
        }
    }

    /// The vector of `record` and its version, from the record's `embedding`, `tags` and
    /// descriptor fields. A record lacking the embedding or tags (the model produced non-finite
    /// values) gets the descriptors-only vector and version.
    pub fn assemble(&self, record: &Record) -> (String, Vec<f32>) {
        let bundled = VectorModel::bundled();
        let descriptors = bundled.descriptor_block(&raw_descriptors(record));
        let learned = match (&self.model, &record.embedding, &record.tags) {
            (Some(_), Some(e), Some(t)) if e.len() == EMBEDDING_LEN && t.len() == TAGS_LEN => {
                Some((e, t))
            }
            _ => None,
        };
        let Some((embedding, tags)) = learned else {
            return (self.descriptors_only_version(), to_f32(unit(descriptors)));
        };
        let w = self.weights;
        let mut vector = Vec::with_capacity(self.dim());
        let embedding = unit(embedding.iter().map(|&v| f64::from(v)).collect());
        vector.extend(embedding.iter().map(|v| v * w.embedding));
        let tags = unit(tags.iter().map(|t| f64::from(t.p)).collect());
        vector.extend(tags.iter().map(|v| v * w.tags));
        vector.extend(descriptors.iter().map(|v| v * w.descriptors));
        (self.version(), to_f32(unit(vector)))
    }

    /// The layout of this spec's vectors, written as `vectors.json` beside `vectors.npy`.
    /// `tag_names` name the tag dimensions (the model's tags); `tag[i]` without them.
    pub fn layout(&self, tag_names: Option<&[String]>) -> Layout {
        let bundled = VectorModel::bundled();
        let mut blocks = Vec::new();
        let mut offset = 0;
        let mut push = |name: &str, weight: f64, dims: Vec<String>| {
            blocks.push(BlockLayout {
                name: name.to_string(),
                offset,
                length: dims.len(),
                weight,
                dims,
            });
            offset += blocks.last().map_or(0, |b| b.length);
        };
        if self.model.is_some() {
            push(
                "embedding",
                self.weights.embedding,
                (0..EMBEDDING_LEN)
                    .map(|i| format!("embedding[{i}]"))
                    .collect(),
            );
            let tags = match tag_names {
                Some(names) if names.len() == TAGS_LEN => names.to_vec(),
                _ => (0..TAGS_LEN).map(|i| format!("tag[{i}]")).collect(),
            };
            push("tags", self.weights.tags, tags);
        }
        let descriptor_weight = if self.model.is_some() {
            self.weights.descriptors
        } else {
            1.0
        };
        push("descriptors", descriptor_weight, descriptor_names());
        Layout {
            vector_version: self.version(),
            dim: self.dim(),
            model: self.model.clone(),
            blocks,
            descriptor_standardisation: bundled.descriptors.clone(),
        }
    }
}

/// The version this build writes by default (MSD musicnn, default weights).
pub fn default_version() -> String {
    VectorSpec::default().version()
}

/// `vectors.json`: how to slice a vector into its blocks.
#[derive(Clone, Debug, Serialize)]
pub struct Layout {
    pub vector_version: String,
    pub dim: usize,
    /// Embedding model name, `null` for descriptors-only vectors.
    pub model: Option<String>,
    pub blocks: Vec<BlockLayout>,
    pub descriptor_standardisation: Standardisation,
}

/// One block: `vector[offset .. offset + length]`.
#[derive(Clone, Debug, Serialize)]
pub struct BlockLayout {
    pub name: String,
    pub offset: usize,
    pub length: usize,
    pub weight: f64,
    /// Name of each dimension.
    pub dims: Vec<String>,
}

/// `values / ‖values‖`, or unchanged when the norm is 0 (nothing to compare: all zeros).
fn unit(mut values: Vec<f64>) -> Vec<f64> {
    let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        values.iter_mut().for_each(|v| *v /= norm);
    }
    values
}

fn to_f32(values: Vec<f64>) -> Vec<f32> {
    values.into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::ModelChoice;
    use crate::{Config, EmbeddingConfig};

    fn version_of(choice: ModelChoice) -> String {
        Config {
            embedding: Some(EmbeddingConfig {
                model: choice,
                seconds: None,
            }),
            ..Config::default()
        }
        .vector_spec()
        .version()
    }

    #[test]
    fn the_version_names_the_model_by_its_content_hash() {
        let bundled = std::fs::read(crate::embed::models_dir().join("msd_musicnn.safetensors"))
            .expect("the bundled model");
        let dir = tempfile::tempdir().unwrap();
        // Same file name as the bundled model, other weights (a retrained model).
        let retrained = dir.path().join("msd_musicnn.safetensors");
        let mut other = bundled.clone();
        *other.last_mut().unwrap() ^= 1;
        std::fs::write(&retrained, &other).unwrap();
        // The bundled weights under another name.
        let renamed = dir.path().join("renamed.safetensors");
        std::fs::write(&renamed, &bundled).unwrap();

        let base = default_version();
        assert_eq!(version_of(ModelChoice::Msd), base);
        assert_eq!(version_of(ModelChoice::File(renamed)), base);
        let retrained = version_of(ModelChoice::File(retrained));
        assert!(
            retrained.starts_with(&format!("{base}+msd_musicnn@")) && retrained != base,
            "{retrained}"
        );
        let mtt = version_of(ModelChoice::Mtt);
        assert!(mtt.starts_with(&format!("{base}+mtt_musicnn@")), "{mtt}");
        assert_ne!(mtt, retrained);
    }
}
