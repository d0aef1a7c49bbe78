//! The content vector against its specification: the layout of `vectors.json` matches
//! `models/vector.json`, every vector has unit norm, and each value is recomputed here from the
//! record's own fields and the shipped standardisation (an implementation independent of
//! `src/vector`, driven by the dimension names).

mod common;

use std::time::Duration;

use serde_json::Value;

use common::{read_npy_f32, records, repo_path, sonovec};

const LIMIT: Duration = Duration::from_secs(120);

fn run_ok(args: &[&str]) -> std::process::Output {
    let run = sonovec(args, LIMIT);
    assert!(
        run.status.success(),
        "sonovec {args:?} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

fn json_file(relative: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_path(relative)).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The raw value of descriptor dimension `name` in `record`, by the naming rule of README:
/// `group.field`, `group.field[i]`, `log(tempo.bpm)`, `tonal.mode == major`.
fn raw(record: &Value, name: &str) -> Option<f64> {
    if name == "log(tempo.bpm)" {
        return record["tempo"]["bpm"].as_f64().map(f64::ln);
    }
    if name == "tonal.mode == major" {
        return record["tonal"]["mode"]
            .as_str()
            .map(|m| if m == "major" { 1.0 } else { 0.0 });
    }
    let (group, field) = name.split_once('.').unwrap();
    match field.split_once('[') {
        Some((field, index)) => {
            let i: usize = index.trim_end_matches(']').parse().unwrap();
            record[group][field][i].as_f64()
        }
        None => record[group][field].as_f64(),
    }
}

fn unit(v: Vec<f64>) -> Vec<f64> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// The standardised descriptor block of `record`, before weighting.
fn descriptor_block(record: &Value, model: &Value) -> Vec<f64> {
    let d = &model["descriptors"];
    let (mean, std) = (floats(&d["mean"]), floats(&d["std"]));
    let clamp = d["clamp"].as_f64().unwrap();
    let names = d["names"].as_array().unwrap();
    let scale = (names.len() as f64).sqrt();
    names
        .iter()
        .enumerate()
        .map(|(i, name)| match raw(record, name.as_str().unwrap()) {
            Some(x) => ((x - mean[i]) / std[i]).clamp(-clamp, clamp) / scale,
            None => 0.0,
        })
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 2e-6, "{what}: max |Δ| = {worst}");
}

#[test]
fn vectors_follow_the_shipped_layout_weights_and_standardisation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let samples = repo_path("samples");
    run_ok(&[
        "extract",
        "-q",
        samples.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let model = json_file("models/vector.json");
    let layout: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("vectors.json")).unwrap()).unwrap();

    // The layout: three contiguous blocks, weights and names from models/vector.json.
    let blocks = layout["blocks"].as_array().unwrap();
    let names: Vec<&str> = blocks.iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["embedding", "tags", "descriptors"]);
    let mut offset = 0;
    for b in blocks {
        assert_eq!(b["offset"].as_u64().unwrap(), offset);
        assert_eq!(
            b["length"].as_u64().unwrap() as usize,
            b["dims"].as_array().unwrap().len()
        );
        assert_eq!(b["weight"], model["weights"][b["name"].as_str().unwrap()]);
        offset += b["length"].as_u64().unwrap();
    }
    assert_eq!(layout["dim"].as_u64().unwrap(), offset);
    assert_eq!(blocks[0]["length"], 200);
    assert_eq!(
        blocks[1]["dims"],
        json_file("models/msd_musicnn.json")["tags"]
    );
    assert_eq!(blocks[2]["dims"], model["descriptors"]["names"]);
    assert_eq!(layout["vector_version"], model["version"]);

    let all = records(&out.join("tracks.jsonl"));
    let (shape, matrix) = read_npy_f32(&out.join("vectors.npy"));
    assert_eq!(shape, [all.len() as u64, offset]);
    let w = |name: &str| model["weights"][name].as_f64().unwrap();
    for (record, row) in all.iter().zip(matrix.chunks(offset as usize)) {
        assert_eq!(record["vector_version"], layout["vector_version"]);
        let vector: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
        let norm = vector.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");

        let embedding = unit(floats(&record["embedding"]));
        let tags = unit(
            record["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["p"].as_f64().unwrap())
                .collect(),
        );
        let mut want: Vec<f64> = embedding.iter().map(|x| x * w("embedding")).collect();
        want.extend(tags.iter().map(|x| x * w("tags")));
        want.extend(
            descriptor_block(record, &model)
                .iter()
                .map(|x| x * w("descriptors")),
        );
        assert_close(&vector, &unit(want), record["path"].as_str().unwrap());
    }
}

#[test]
fn descriptors_only_and_reweighted_vectors_have_their_own_versions() {
    let file = repo_path("samples/house_128.ogg");
    let model = json_file("models/vector.json");
    let base = model["version"].as_str().unwrap();

    let run = run_ok(&["analyze", "--model", "none", file.to_str().unwrap()]);
    let record: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(record["vector_version"], format!("{base}-descriptors"));
    assert_close(
        &floats(&record["vector"]),
        &unit(descriptor_block(&record, &model)),
        "descriptors only",
    );

    let run = run_ok(&[
        "analyze",
        "--vector-weights",
        "tags=0",
        file.to_str().unwrap(),
    ]);
    let record: Value = serde_json::from_slice(&run.stdout).unwrap();
    let version = record["vector_version"].as_str().unwrap();
    assert!(
        version.starts_with(base) && version.contains("+w"),
        "{version}"
    );
    let vector = floats(&record["vector"]);
    assert!(vector[200..250].iter().all(|&v| v == 0.0));

    let bad = sonovec(
        &[
            "analyze",
            "--vector-weights",
            "bass=1",
            file.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert_eq!(bad.status.code(), Some(2));
}
