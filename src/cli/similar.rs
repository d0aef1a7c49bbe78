//! `sonovec similar --catalog DB QUERY -k 10`: the tracks of a catalog nearest to a query track.
//!
//! The search runs over the vectors of one `vector_version`: the one the global `--model` and
//! `--vector-weights` make (the default layout without them), as `extract` stores them.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use sonovec::catalog::Catalog;
use sonovec::search::CosineIndex;
use sonovec::{content_id_of_file, Analyzer, Config};

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The catalog to search (written by `extract --catalog`).
    #[arg(long, value_name = "DB")]
    catalog: PathBuf,

    /// An audio file (analysed on the fly unless its content is in the catalog with this vector
    /// version), a content id, or the path of a catalogued track.
    query: String,

    /// How many neighbours to print.
    #[arg(short, default_value_t = 10)]
    k: usize,

    /// Print one JSON object instead of lines of `id <TAB> path <TAB> score`.
    #[arg(long)]
    json: bool,

    /// Also print to standard error how long loading and searching took.
    #[arg(long)]
    timings: bool,
}

/// The query's vector and what identifies it.
struct Query {
    id: Option<String>,
    path: String,
    vector_version: String,
    vector: Vec<f32>,
}

#[derive(Serialize)]
struct Neighbour<'a> {
    rank: usize,
    id: &'a str,
    path: &'a str,
    /// Cosine similarity to the query, in [-1, 1].
    score: f32,
}

#[derive(Serialize)]
struct Answer<'a> {
    query_id: Option<&'a str>,
    query_path: &'a str,
    vector_version: &'a str,
    searched: usize,
    neighbours: Vec<Neighbour<'a>>,
}

/// Finds the query's vector of the configured `vector_version`, loads every stored vector of that
/// version and prints the `k` nearest by cosine (the query's own track left out). Exact search:
/// every stored vector of the version is scored.
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let catalog = Catalog::open_existing(&args.catalog)?;
    let query = match resolve(&catalog, &args.query, config)? {
        Ok(query) => query,
        Err(outcome) => return Ok(outcome),
    };

    let clock = Instant::now();
    let (table, skipped) = catalog.vectors(&query.vector_version)?;
    drop(catalog);
    if skipped > 0 {
        eprintln!("sonovec: {skipped} stored vector(s) of another length left out");
    }
    if !table.is_empty() && table.dim != query.vector.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the catalog's {} vectors have {} values, the query {}",
                query.vector_version,
                table.dim,
                query.vector.len()
            ),
        ));
    }
    let own_row = query
        .id
        .as_ref()
        .and_then(|id| table.ids.iter().position(|row_id| row_id == id));
    let dim = query.vector.len().max(1);
    let ids = table.ids;
    let paths = table.paths;
    let index = CosineIndex::new(dim, table.data);
    let loaded = clock.elapsed();

    let clock = Instant::now();
    let hits = index.search(&query.vector, args.k, |row| Some(row) == own_row);
    let searched = clock.elapsed();
    if args.timings {
        eprintln!(
            "sonovec: loaded {} vectors of {} values in {:.1} ms; searched in {:.1} ms",
            index.len(),
            dim,
            loaded.as_secs_f64() * 1e3,
            searched.as_secs_f64() * 1e3
        );
    }

    let neighbours: Vec<Neighbour> = hits
        .iter()
        .enumerate()
        .map(|(rank, hit)| Neighbour {
            rank: rank + 1,
            id: &ids[hit.row],
            path: &paths[hit.row],
            score: hit.score,
        })
        .collect();
    let mut out = io::BufWriter::new(io::stdout().lock());
    if args.json {
        let answer = Answer {
            query_id: query.id.as_deref(),
            query_path: &query.path,
            vector_version: &query.vector_version,
            searched: index.len(),
            neighbours,
        };
        serde_json::to_writer(&mut out, &answer).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        for n in &neighbours {
            writeln!(out, "{}\t{}\t{:.6}", n.id, n.path, n.score)?;
        }
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// Resolves QUERY: a file (its stored vector if its content is catalogued, else analysed now), a
/// content id, or a catalogued path. `Err(outcome)` when a file could not be analysed.
fn resolve(catalog: &Catalog, query: &str, config: Config) -> io::Result<Result<Query, Outcome>> {
    let version = config.vector_spec().version();
    let as_path = Path::new(query);
    if as_path.is_file() {
        let id = content_id_of_file(as_path)?;
        if let Some(found) = stored(catalog, &id, &version)? {
            return Ok(Ok(Query {
                path: query.to_string(),
                ..found
            }));
        }
        let fallback_version = version;
        let track = Analyzer::new(config).analyze_file_with_id(as_path, id);
        let record = track.record;
        return Ok(match (&record.error, record.vector) {
            (None, Some(vector)) => Ok(Query {
                id: record.id,
                path: record.path,
                vector_version: record.vector_version.unwrap_or(fallback_version),
                vector,
            }),
            (error, _) => {
                let kind = error.as_ref().map(|e| e.kind);
                if let Some(e) = error {
                    eprintln!("sonovec: {query}: {e}");
                }
                Err(kind.map_or(Outcome::Internal, Outcome::of_error_kind))
            }
        });
    }
    let id = match catalog.id_of_path(query)? {
        Some(id) => id,
        None => query.to_string(),
    };
    if let Some(found) = stored(catalog, &id, &version)? {
        return Ok(Ok(found));
    }
    let others = catalog.versions_of(&id)?;
    let why = if others.is_empty() {
        format!("{query}: no such file, and no track with this id or path in the catalog")
    } else {
        format!(
            "{query}: the catalog has this track with vector_version {} only, not {version} \
             (choose the model and weights with --model and --vector-weights)",
            others.join(", ")
        )
    };
    Err(io::Error::new(io::ErrorKind::NotFound, why))
}

/// The catalogued vector of content `id` of `vector_version`, if it has one.
fn stored(catalog: &Catalog, id: &str, vector_version: &str) -> io::Result<Option<Query>> {
    Ok(catalog.record(id, vector_version)?.and_then(|record| {
        Some(Query {
            id: record.id,
            path: record.path,
            vector_version: record.vector_version?,
            vector: record.vector?,
        })
    }))
}
