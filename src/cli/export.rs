//! `sonovec export --catalog DB -o OUT`: a catalog's records as `tracks.jsonl`, `vectors.npy` and
//! `ids.txt`, the same folder `extract` writes.

use std::io;
use std::path::PathBuf;

use sonovec::catalog::Catalog;
use sonovec::output::{jsonl, OutputDir};

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The catalog to read.
    #[arg(long, value_name = "DB")]
    catalog: PathBuf,

    /// Output folder (its tracks.jsonl, vectors.npy and ids.txt are replaced).
    #[arg(short, long, default_value = "out")]
    output: PathBuf,
}

/// Writes every record of the catalog (analysed tracks and failures) sorted by path, then the
/// matrix and ids of those whose vector has this build's layout, exactly as `extract` would.
pub fn run(args: Args) -> io::Result<Outcome> {
    let catalog = Catalog::open_existing(&args.catalog)?;
    let records = catalog.records()?;
    drop(catalog);
    let out = OutputDir::create(&args.output)?;
    jsonl::write_records(&out.tracks_path(), &records)?;
    let finalized = out.finalize()?;
    eprintln!(
        "sonovec: {} records, {} vectors written to {}",
        finalized.records,
        finalized.vectors,
        args.output.display()
    );
    Ok(Outcome::Success)
}
