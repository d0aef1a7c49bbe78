//! Block weights of the content vector and their `--vector-weights` syntax.

use serde::{Deserialize, Serialize};

/// Weight of each block. Blocks are unit-scaled before weighting, so the cosine of two vectors
/// is `Σ w_b² · cos_b / Σ w_b²` when every block has unit norm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockWeights {
    pub embedding: f64,
    pub tags: f64,
    pub descriptors: f64,
}

impl BlockWeights {
    /// Weights must be finite, non-negative and not all zero.
    pub fn check(&self) -> Result<(), String> {
        let all = [self.embedding, self.tags, self.descriptors];
        if all.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err("block weights must be finite and ≥ 0".into());
        }
        if all.iter().all(|&w| w == 0.0) {
            return Err("at least one block weight must be positive".into());
        }
        Ok(())
    }

    /// Parses `embedding=1,tags=0.5,descriptors=0.7`; blocks not named keep their weight in
    /// `self`.
    pub fn with_overrides(mut self, spec: &str) -> Result<BlockWeights, String> {
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected BLOCK=WEIGHT"))?;
            let value: f64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: {value:?} is not a number"))?;
            match name.trim() {
                "embedding" => self.embedding = value,
                "tags" => self.tags = value,
                "descriptors" => self.descriptors = value,
                other => {
                    return Err(format!(
                        "unknown block {other:?}: use embedding, tags or descriptors"
                    ))
                }
            }
        }
        self.check()?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONES: BlockWeights = BlockWeights {
        embedding: 1.0,
        tags: 1.0,
        descriptors: 1.0,
    };

    #[test]
    fn overrides_parse_and_are_checked() {
        let w = ONES.with_overrides("tags=0.5, descriptors=0").unwrap();
        assert_eq!((w.embedding, w.tags, w.descriptors), (1.0, 0.5, 0.0));
        assert!(ONES.with_overrides("bass=1").is_err());
        assert!(ONES.with_overrides("tags=-1").is_err());
        assert!(ONES.with_overrides("tags").is_err());
        assert!(ONES
            .with_overrides("embedding=0,tags=0,descriptors=0")
            .is_err());
    }
}
