//! Assembly of the content vector: the one row per track that a recommender searches.

use crate::features::MelStats;

/// Identifies the layout of [`content_vector`]; bumped whenever the layout or meaning changes.
pub const VECTOR_VERSION: &str = "logmel-stats-1";

/// Mean then standard deviation of each log-mel band: `2 × n_mels` values (192 by default).
///
/// Rows of different tracks are comparable component by component; this first vector is not
/// normalised, so compare with cosine or standardise the columns first.
pub fn content_vector(mel_stats: &MelStats) -> Vec<f32> {
    let mut vector = mel_stats.mean();
    vector.extend(mel_stats.std());
    vector
}
