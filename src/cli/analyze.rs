//! `sonovec analyze FILE`: the call an upload pipeline makes for one track.

use std::io::{self, Read, Write};

use sonovec::{Analyzer, Config};

use super::{Outcome, PathArg};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The audio file, or `-` to read the upload from standard input.
    file: PathArg,

    /// Indent the JSON for people.
    #[arg(long)]
    pretty: bool,
}

/// Prints the track's record as one JSON object on stdout, error records included.
///
/// The exit code tells a pipeline what to do with the track without parsing the JSON: `0`
/// analysed, `1` bad input (reject the upload), `3` unreadable, `4` internal failure (retry, report).
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let analyzer = Analyzer::new(config);
    let track = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        analyzer.analyze_bytes(bytes, "-")
    } else {
        analyzer.analyze_path(&args.file)
    };
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
