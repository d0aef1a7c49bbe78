//! sonovec: audio content features for cold-start recommendation.
//!
//! ```no_run
//! use sonovec::{Analyzer, Config};
//! let analyzer = Analyzer::new(Config::default());
//! let track = analyzer.analyze_path("song.flac".as_ref());
//! println!("{}", serde_json::to_string(&track.record).unwrap());
//! ```

pub mod analyzer;
pub mod audio;
pub mod bench;
pub mod catalog;
pub mod dsp;
pub mod embed;
pub mod error;
pub mod eval;
pub mod features;
pub mod isolate;
pub mod output;
pub mod projection;
pub mod record;
pub mod search;
#[cfg(feature = "serve")]
pub mod serve;
pub mod vector;

pub use analyzer::{
    content_id, content_id_of_file, Analyzer, Config, EmbeddingConfig, StageTimings, Track,
};
pub use error::{AnalysisError, ErrorKind};
pub use record::Record;

/// This build's version, stamped into every record.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
