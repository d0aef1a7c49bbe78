//! `sonovec worker` (hidden): the analysis worker process that `extract`, `watch` and `serve`
//! start (see `sonovec::isolate`). Not for people: it speaks framed JSON on stdin and stdout.

use std::io;

use sonovec::{Analyzer, Config};

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address-space limit of this process in bytes (`RLIMIT_AS`).
    #[arg(long, value_name = "BYTES")]
    memory_bytes: Option<u64>,
}

/// Serves jobs until stdin closes.
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let analyzer = Analyzer::try_new(config)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    sonovec::isolate::worker::run(&analyzer, args.memory_bytes)?;
    Ok(Outcome::Success)
}
