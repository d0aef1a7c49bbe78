//! `sonovec export --catalog DB -o OUT`: a catalog's records as `tracks.jsonl`, `vectors.npy` and
//! `ids.txt`, the same folder `extract` writes.

use std::io;
use std::path::PathBuf;

use sonovec::catalog::Catalog;
use sonovec::output::{jsonl, OutputDir};

use sonovec::embed::Model;
use sonovec::vector::Layout;
use sonovec::Config;

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

/// Writes the records of the catalog analysed with the layout of the global `--model` and
/// `--vector-weights` (the default layout without them) and every failure, sorted by path, then
/// their matrix and ids, and that layout as `vectors.json`, exactly as `extract` would. The rows
/// of other vector versions are left out (one record per track, one matrix).
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let catalog = Catalog::open_existing(&args.catalog)?;
    let records = catalog.records(&config.vector_spec().version())?;
    drop(catalog);
    let out = OutputDir::create(&args.output)?;
    jsonl::write_records(&out.tracks_path(), &records)?;
    let finalized = out.finalize(&layout_of(&config)?)?;
    eprintln!(
        "sonovec: {} records, {} vectors written to {}",
        finalized.records,
        finalized.vectors,
        args.output.display()
    );
    Ok(Outcome::Success)
}

/// The layout of `config`'s vectors, its tag dimensions named by the model.
fn layout_of(config: &Config) -> io::Result<Layout> {
    let model = match &config.embedding {
        Some(embedding) => Some(
            Model::load(&embedding.model)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        ),
        None => None,
    };
    Ok(config
        .vector_spec()
        .layout(model.as_ref().map(|m| m.tags.as_slice())))
}
