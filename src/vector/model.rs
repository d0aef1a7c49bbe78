//! `models/vector.json`: the version, default block weights and descriptor standardisation of the
//! content vector, computed by `scripts/make_vector_stats.sh` and compiled into the binary.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::descriptors::{descriptor_names, N_DESCRIPTORS};
use super::weights::BlockWeights;

const VECTOR_JSON: &str = include_str!("../../models/vector.json");

/// The parsed `models/vector.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VectorModel {
    /// Base version of the layout and its meaning, e.g. `content-2`.
    pub version: String,
    /// Default weight of each block.
    pub weights: BlockWeights,
    /// Standardisation of the descriptor block.
    pub descriptors: Standardisation,
    /// Where the statistics come from (free text: corpus, tracks, command).
    #[serde(default)]
    pub reference: serde_json::Value,
}

/// `z = clamp((x − mean) / std, ±clamp)` per descriptor dimension, `null` → 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Standardisation {
    pub names: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Bound on |z|, so one extreme value (a silent track's `silent_fraction`) cannot dominate.
    pub clamp: f64,
}

impl VectorModel {
    /// The model compiled into this build. Panics only if `models/vector.json` is malformed,
    /// which `tests/vector.rs` rules out.
    pub fn bundled() -> &'static VectorModel {
        static MODEL: OnceLock<VectorModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            VectorModel::parse(VECTOR_JSON).unwrap_or_else(|e| panic!("models/vector.json: {e}"))
        })
    }

    /// Parses and checks a `vector.json`: descriptor names must be this build's, in order, and
    /// every std positive.
    pub fn parse(json: &str) -> Result<VectorModel, String> {
        let model: VectorModel = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let d = &model.descriptors;
        if d.names != descriptor_names() {
            return Err("descriptor names differ from this build's descriptor dimensions".into());
        }
        if d.mean.len() != N_DESCRIPTORS || d.std.len() != N_DESCRIPTORS {
            return Err(format!("mean and std need {N_DESCRIPTORS} values each"));
        }
        if d.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || !d.mean.iter().all(|m| m.is_finite())
        {
            return Err("every mean must be finite and every std positive".into());
        }
        if d.clamp.is_nan() || d.clamp <= 0.0 {
            return Err("clamp must be positive".into());
        }
        model.weights.check()?;
        Ok(model)
    }

    /// The standardised descriptor block, before weighting: `z / sqrt(n)`, so that over the
    /// reference corpus its mean squared norm is at most 1, like the unit-norm blocks.
    pub fn descriptor_block(&self, raw: &[Option<f64>]) -> Vec<f64> {
        let d = &self.descriptors;
        let scale = (raw.len() as f64).sqrt().recip();
        raw.iter()
            .zip(d.mean.iter().zip(&d.std))
            .map(|(x, (mean, std))| match x {
                Some(x) if x.is_finite() => ((x - mean) / std).clamp(-d.clamp, d.clamp) * scale,
                _ => 0.0,
            })
            .collect()
    }
}
