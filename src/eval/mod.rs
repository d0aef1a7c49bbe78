//! Evaluation against labelled audio: the community's metrics, used by `sonovec eval-tempo`.

pub mod beat_metrics;

pub use beat_metrics::{acc1, acc2, beat_f_measure, p_score, trim_beats};
