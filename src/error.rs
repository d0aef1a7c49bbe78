//! Why a track could not be analysed.
//!
//! Every failure ends in an [`AnalysisError`] with a machine-readable [`ErrorKind`] and a message a
//! person can act on. The kind decides the CLI's exit code and the `error.kind` field of the record.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The class of a failure, serialised in snake_case into the record's `error.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No container or codec we can decode (unknown magic, a text file, 0 channels …).
    UnsupportedFormat,
    /// The container or codec was recognised but its data is broken, or the decoder panicked.
    Corrupt,
    /// The file decodes but holds no audio samples (0 bytes, header only, tag only).
    Empty,
    /// Longer than the configured limit (`--max-duration`).
    TooLong,
    /// The file could not be read (missing, a directory, permission denied, not a regular file).
    Io,
    /// A bug in sonovec rather than a property of the input: a panic outside the decoder, a
    /// non-finite vector. Re-runs of `extract` and `watch` retry it.
    Internal,
    /// The analysis used more CPU time than the per-track budget of `serve` or `watch`
    /// (`--cpu-budget`); analysing the same bytes again would cost as much.
    OverBudget,
    /// The worker process analysing the input died (an abort, a stack overflow, memory over the
    /// worker's limit, a signal): the input may be hostile or sonovec may have a bug, so the
    /// message says how it died and re-runs of `extract` and `watch` retry it.
    WorkerCrashed,
}

impl ErrorKind {
    /// True when the input, not sonovec or the machine, is at fault.
    pub fn is_bad_input(self) -> bool {
        matches!(
            self,
            ErrorKind::UnsupportedFormat
                | ErrorKind::Corrupt
                | ErrorKind::Empty
                | ErrorKind::TooLong
                | ErrorKind::OverBudget
        )
    }
}

/// A failure to analyse one input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AnalysisError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        AnalysisError {
            kind,
            message: message.into(),
        }
    }

    /// Classifies an I/O error from opening or reading the input.
    pub fn from_io(err: &std::io::Error) -> Self {
        AnalysisError::new(ErrorKind::Io, format!("cannot read the file: {err}"))
    }
}

impl fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = serde_json::to_value(self.kind).ok();
        let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("error");
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for AnalysisError {}

pub type Result<T, E = AnalysisError> = std::result::Result<T, E>;
