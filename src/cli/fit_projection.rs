//! `sonovec fit-projection --catalog DB --factors FACTORS -o projection.safetensors`: learn the map
//! from content vectors to a recommender's latent factors on the tracks it already knows.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use serde_json::json;

use sonovec::catalog::Catalog;
use sonovec::content_id_of_file;
use sonovec::projection::{factors, ridge, FitReport, Projection};
use sonovec::Config;

use super::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The catalog holding the warm tracks' vectors.
    #[arg(long, value_name = "DB")]
    catalog: PathBuf,

    /// Latent factors: a CSV of `id-or-path, f1, …, fK` (header optional), or a `.npy` matrix
    /// with `--ids`.
    #[arg(long, value_name = "FILE")]
    factors: PathBuf,

    /// For a `.npy` of factors: the content id or path of each row, one per line.
    #[arg(long, value_name = "FILE")]
    ids: Option<PathBuf>,

    /// Where to write the projection.
    #[arg(short, long, default_value = "projection.safetensors")]
    output: PathBuf,

    /// Folds of the cross-validation that chooses the ridge penalty.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=50))]
    folds: u16,

    /// Print the report as JSON (with every λ tried) instead of text.
    #[arg(long)]
    json: bool,
}

/// Matches the factors to catalogued vectors, fits ridge regression with λ chosen by k-fold
/// cross-validation, writes the projection and prints the held-out R² and cosine. The vectors
/// used are those of the layout of the global `--model` and `--vector-weights`.
pub fn run(args: Args, config: Config) -> io::Result<Outcome> {
    let factors = match (&args.ids, is_npy(&args.factors)) {
        (Some(ids), _) => factors::read_npy(&args.factors, ids)?,
        (None, true) => return Err(usage("a .npy of factors needs --ids FILE")),
        (None, false) => factors::read_csv(&args.factors)?,
    };
    let catalog = Catalog::open_existing(&args.catalog)?;
    let vector_version = config.vector_spec().version();
    let (table, _) = catalog.vectors(&vector_version)?;
    drop(catalog);

    let row_of_id: HashMap<&str, usize> = table
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let row_of_path: HashMap<&str, usize> = table
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    // (catalog row, factor row), ordered by content id: a hash unrelated to the audio or to the
    // order tracks were added (albums together), so the `row mod folds` split is as good as a
    // shuffle and needs no random seed.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut unmatched: Vec<&str> = Vec::new();
    for (f, key) in factors.keys.iter().enumerate() {
        let row = row_of_id
            .get(key.as_str())
            .or_else(|| row_of_path.get(key.as_str()))
            .copied()
            .or_else(|| {
                let id = content_id_of_file(Path::new(key)).ok()?;
                row_of_id.get(id.as_str()).copied()
            });
        match row {
            Some(row) => pairs.push((row, f)),
            None => unmatched.push(key),
        }
    }
    pairs.sort_unstable_by(|a, b| table.ids[a.0].cmp(&table.ids[b.0]).then(a.1.cmp(&b.1)));
    pairs.dedup_by_key(|p| p.0);

    let folds = args.folds as usize;
    if pairs.len() < 2 * folds {
        return Err(usage(&format!(
            "only {} warm track(s) matched the catalog's {vector_version} vectors; need at least \
             {} for {folds}-fold cross-validation",
            pairs.len(),
            2 * folds
        )));
    }
    let (dim, k) = (table.dim, factors.k);
    let x = DMatrix::from_fn(pairs.len(), dim, |r, c| table.row(pairs[r].0)[c] as f64);
    let y = DMatrix::from_fn(pairs.len(), k, |r, c| factors.row(pairs[r].1)[c]);
    let fit = ridge::fit(&x, &y, &ridge::default_lambdas(), folds);

    let projection = Projection {
        vector_version: vector_version.clone(),
        dim,
        k,
        weight: fit.weight.transpose().iter().map(|&w| w as f32).collect(),
        bias: fit.bias.iter().map(|&b| b as f32).collect(),
        report: FitReport {
            tracks: pairs.len(),
            folds,
            lambda: fit.chosen.lambda,
            cv_r2: fit.chosen.r2,
            cv_cosine: fit.chosen.cosine,
        },
    };
    if !projection
        .weight
        .iter()
        .chain(&projection.bias)
        .all(|v| v.is_finite())
    {
        return Err(io::Error::other("the fitted projection is not finite"));
    }
    projection.save(&args.output)?;

    let mut out = io::stdout().lock();
    if args.json {
        let grid: Vec<_> = fit
            .grid
            .iter()
            .map(|s| json!({"lambda": s.lambda, "r2": s.r2, "cosine": s.cosine}))
            .collect();
        let report = json!({
            "output": args.output.display().to_string(),
            "vector_version": vector_version,
            "dim": dim,
            "k": k,
            "tracks": pairs.len(),
            "unmatched": unmatched.len(),
            "zero_factor_rows": factors.zero_rows,
            "folds": folds,
            "lambda": fit.chosen.lambda,
            "cv_r2": fit.chosen.r2,
            "cv_cosine": fit.chosen.cosine,
            "grid": grid,
        });
        writeln!(out, "{report}")?;
    } else {
        writeln!(
            out,
            "fitted {dim} → {k} on {} warm tracks ({} factor rows unmatched, {} all-zero)",
            pairs.len(),
            unmatched.len(),
            factors.zero_rows
        )?;
        writeln!(
            out,
            "lambda {:.3e} (chosen by {folds}-fold cross-validation); held-out R² {:.4}, \
             held-out cosine {:.4}",
            fit.chosen.lambda, fit.chosen.r2, fit.chosen.cosine
        )?;
        writeln!(out, "wrote {}", args.output.display())?;
    }
    if let Some(first) = unmatched.first() {
        eprintln!(
            "sonovec: {} factor row(s) match no catalogued track, e.g. {first}",
            unmatched.len()
        );
    }
    Ok(Outcome::Success)
}

fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

fn usage(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_string())
}
