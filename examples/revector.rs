//! Re-assembles the content vectors of an output folder's records with this build's vector
//! (`models/vector.json`) into a new output folder, without analysing the audio again: the
//! vector is a view of the record's fields. Used by the vector evaluation to try weightings and
//! new statistics on records of an earlier run.
//!
//!     cargo run --release --example revector -- IN/tracks.jsonl OUT [BLOCK=W,…]

use std::path::Path;

use sonovec::embed::{Model, ModelChoice};
use sonovec::output::{jsonl, OutputDir};
use sonovec::vector::{VectorModel, VectorSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: revector IN/tracks.jsonl OUT [embedding=1,tags=1,descriptors=1]");
        std::process::exit(2);
    }
    let weights = args.get(2).map(|w| {
        VectorModel::bundled()
            .weights
            .with_overrides(w)
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let (mut records, _) = jsonl::read_records(Path::new(&args[0])).expect("readable records");
    let model = records
        .iter()
        .find_map(|r| r.model.as_deref())
        // The vector version names the model by its id (name@content hash), as the records do.
        .map(str::to_string);
    let spec = VectorSpec::new(model.clone(), weights);
    for record in records.iter_mut().filter(|r| r.is_ok()) {
        let (version, vector) = spec.assemble(record);
        record.vector_version = Some(version);
        record.vector = Some(vector);
    }
    let out = OutputDir::create(Path::new(&args[1])).expect("output folder");
    jsonl::write_records(&out.tracks_path(), &records).expect("writable tracks.jsonl");
    let tags = match model
        .as_deref()
        .map(|id| id.split('@').next().unwrap_or(id))
    {
        Some("mtt_musicnn") => Some(Model::load(&ModelChoice::Mtt).expect("bundled").tags),
        Some(_) => Some(Model::load(&ModelChoice::Msd).expect("bundled").tags),
        None => None,
    };
    let finalized = out
        .finalize(&spec.layout(tags.as_deref()))
        .expect("finalize");
    eprintln!(
        "{} records, {} vectors of {}",
        finalized.records,
        finalized.vectors,
        spec.version()
    );
}
