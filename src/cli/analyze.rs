//! `sonovec analyze FILE`: the call an upload pipeline makes for one track.

use std::io::{self, Read, Write};

use sonovec::catalog::Catalog;
use sonovec::{Analyzer, Config};

use super::{load_projection, Outcome, PathArg};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The audio file, or `-` to read the upload from standard input.
    file: PathArg,

    /// Indent the JSON for people.
    #[arg(long)]
    pretty: bool,

    /// Also store the record in this catalog (SQLite; created if missing).
    #[arg(long, value_name = "DB")]
    catalog: Option<PathArg>,

    /// Add `cf_vector`: the vector mapped by this projection (from `fit-projection`).
    #[arg(long, value_name = "FILE")]
    projection: Option<PathArg>,
}

/// Prints the track's record as one JSON object on stdout, error records included.
///
/// The exit code tells a pipeline what to do with the track without parsing the JSON: `0`
/// analysed, `1` bad input (reject the upload), `3` unreadable, `4` internal failure (retry, report).
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let projection = load_projection(args.projection.as_deref(), &config.vector_spec().version())?;
    let mut catalog = args.catalog.as_deref().map(Catalog::open).transpose()?;
    let analyzer = Analyzer::new(config);
    let mut track = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        analyzer.analyze_bytes(bytes, "-")
    } else {
        analyzer.analyze_path(&args.file)
    };
    if let Some(projection) = &projection {
        projection.apply_to(&mut track.record);
    }
    if let Some(catalog) = &mut catalog {
        catalog.store(&track.record)?;
    }
    let record = &track.record;
    let json = if args.pretty {
        serde_json::to_string_pretty(record)
    } else {
        serde_json::to_string(record)
    }
    .map_err(io::Error::other)?;
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{json}")?;
    stdout.flush()?;
    Ok(match &record.error {
        None => Outcome::Success,
        Some(error) => {
            eprintln!("sonovec: {}: {error}", record.path);
            Outcome::of_error_kind(error.kind)
        }
    })
}
