//! Records as an Arrow table: one schema for `tracks.parquet` and the Python package.
//!
//! Each column is one value of the JSON record, named by its path with `_` for `/`
//! (`loudness.integrated_lufs` → `loudness_integrated_lufs`), and says where it comes from in its
//! field metadata (`json_pointer`, RFC 6901), so a reader can map columns back to `tracks.jsonl`.
//! Scalars are columns; `vector`, `embedding`, `embedding_std`, `cf_vector` and `tags` (the
//! probabilities, named by the schema's `tags` metadata) are `list<float32>`; MFCC and chroma
//! statistics and beat times `list<float64>`. A value absent from a record is null. The error
//! of a failed record is split into `error_kind` and `error_message`.
//!
//! The schema's metadata names what the vectors are: `vector_version`, `model` (the model id,
//! empty without one), `tags`, `sonovec_version` and `schema` (this layout's version).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, Float32Builder, Float64Builder, ListBuilder, StringBuilder, UInt32Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use serde_json::Value;

use crate::record::Record;

/// Version of the column layout below; bump it when a column changes meaning or type.
pub const TABLE_SCHEMA: &str = "sonovec.tracks/1";

/// The type of a column, and how a JSON value becomes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Utf8,
    F64,
    U32,
    U64,
    F32List,
    F64List,
    Utf8List,
    /// `[{tag, p}, …]` → the `p`s as `list<float32>`.
    TagProbs,
}

/// `(column, JSON pointer, kind)` in column order.
const COLUMNS: &[(&str, &str, Kind)] = &[
    ("path", "/path", Kind::Utf8),
    ("id", "/id", Kind::Utf8),
    ("version", "/version", Kind::Utf8),
    ("model", "/model", Kind::Utf8),
    ("vector_version", "/vector_version", Kind::Utf8),
    ("duration_s", "/duration_s", Kind::F64),
    ("sample_rate", "/sample_rate", Kind::U32),
    ("channels", "/channels", Kind::U32),
    ("codec", "/codec", Kind::Utf8),
    ("container", "/container", Kind::Utf8),
    ("frames", "/frames", Kind::U64),
    (
        "loudness_integrated_lufs",
        "/loudness/integrated_lufs",
        Kind::F64,
    ),
    ("loudness_range_lu", "/loudness/range_lu", Kind::F64),
    (
        "loudness_true_peak_dbtp",
        "/loudness/true_peak_dbtp",
        Kind::F64,
    ),
    (
        "loudness_rms_dbfs_mean",
        "/loudness/rms_dbfs_mean",
        Kind::F64,
    ),
    ("loudness_rms_dbfs_std", "/loudness/rms_dbfs_std", Kind::F64),
    (
        "loudness_dynamic_complexity_lu",
        "/loudness/dynamic_complexity_lu",
        Kind::F64,
    ),
    (
        "loudness_silent_fraction",
        "/loudness/silent_fraction",
        Kind::F64,
    ),
    (
        "spectral_centroid_hz_mean",
        "/spectral/centroid_hz_mean",
        Kind::F64,
    ),
    (
        "spectral_centroid_hz_std",
        "/spectral/centroid_hz_std",
        Kind::F64,
    ),
    (
        "spectral_bandwidth_hz_mean",
        "/spectral/bandwidth_hz_mean",
        Kind::F64,
    ),
    (
        "spectral_bandwidth_hz_std",
        "/spectral/bandwidth_hz_std",
        Kind::F64,
    ),
    (
        "spectral_rolloff_hz_mean",
        "/spectral/rolloff_hz_mean",
        Kind::F64,
    ),
    (
        "spectral_rolloff_hz_std",
        "/spectral/rolloff_hz_std",
        Kind::F64,
    ),
    (
        "spectral_flatness_mean",
        "/spectral/flatness_mean",
        Kind::F64,
    ),
    ("spectral_flatness_std", "/spectral/flatness_std", Kind::F64),
    ("spectral_flux_mean", "/spectral/flux_mean", Kind::F64),
    ("spectral_flux_std", "/spectral/flux_std", Kind::F64),
    ("spectral_zcr_mean", "/spectral/zcr_mean", Kind::F64),
    ("spectral_zcr_std", "/spectral/zcr_std", Kind::F64),
    ("spectral_mfcc_mean", "/spectral/mfcc_mean", Kind::F64List),
    ("spectral_mfcc_std", "/spectral/mfcc_std", Kind::F64List),
    ("tonal_chroma_mean", "/tonal/chroma_mean", Kind::F64List),
    ("tonal_key", "/tonal/key", Kind::Utf8),
    ("tonal_mode", "/tonal/mode", Kind::Utf8),
    ("tonal_key_strength", "/tonal/key_strength", Kind::F64),
    ("tonal_chroma_contrast", "/tonal/chroma_contrast", Kind::F64),
    ("tempo_bpm", "/tempo/bpm", Kind::F64),
    ("tempo_confidence", "/tempo/confidence", Kind::F64),
    ("tempo_beat_count", "/tempo/beat_count", Kind::U64),
    ("tempo_median_ibi_s", "/tempo/median_ibi_s", Kind::F64),
    ("tempo_stability", "/tempo/stability", Kind::F64),
    ("tempo_beats_s", "/tempo/beats_s", Kind::F64List),
    ("tempo_null_reason", "/tempo_null_reason", Kind::Utf8),
    ("energy_score", "/energy/score", Kind::F64),
    (
        "energy_spectral_entropy",
        "/energy/spectral_entropy",
        Kind::F64,
    ),
    ("energy_onset_rate", "/energy/onset_rate", Kind::F64),
    ("danceability_score", "/danceability/score", Kind::F64),
    ("danceability_raw", "/danceability/raw", Kind::F64),
    ("embedding", "/embedding", Kind::F32List),
    ("embedding_std", "/embedding_std", Kind::F32List),
    ("embedding_patches", "/embedding_patches", Kind::U64),
    ("tags", "/tags", Kind::TagProbs),
    ("vector", "/vector", Kind::F32List),
    ("cf_vector", "/cf_vector", Kind::F32List),
    ("warnings", "/warnings", Kind::Utf8List),
    ("error_kind", "/error/kind", Kind::Utf8),
    ("error_message", "/error/message", Kind::Utf8),
];

/// What the schema's metadata says about the vectors of a table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableMeta {
    pub vector_version: String,
    /// Model id (`msd_musicnn@…`), `None` without an embedding.
    pub model: Option<String>,
    /// Names of the `tags` values, in order.
    pub tags: Vec<String>,
}

impl TableMeta {
    /// The metadata of a run with vector layout `layout`.
    pub fn of_layout(layout: &crate::vector::Layout) -> TableMeta {
        let tags = layout
            .blocks
            .iter()
            .find(|b| b.name == "tags")
            .map(|b| b.dims.clone())
            .unwrap_or_default();
        TableMeta {
            vector_version: layout.vector_version.clone(),
            model: layout.model.clone(),
            tags,
        }
    }
}

fn data_type(kind: Kind) -> DataType {
    let list = |item: DataType| DataType::List(Arc::new(Field::new("item", item, true)));
    match kind {
        Kind::Utf8 => DataType::Utf8,
        Kind::F64 => DataType::Float64,
        Kind::U32 => DataType::UInt32,
        Kind::U64 => DataType::UInt64,
        Kind::F32List | Kind::TagProbs => list(DataType::Float32),
        Kind::F64List => list(DataType::Float64),
        Kind::Utf8List => list(DataType::Utf8),
    }
}

/// The Arrow schema of the records, with `meta` in its metadata.
pub fn schema(meta: &TableMeta) -> Schema {
    let fields: Vec<Field> = COLUMNS
        .iter()
        .map(|&(name, pointer, kind)| {
            // Every record has a path and a version; anything else may be absent.
            let nullable = !matches!(name, "path" | "version");
            Field::new(name, data_type(kind), nullable).with_metadata(HashMap::from([(
                "json_pointer".to_string(),
                pointer.to_string(),
            )]))
        })
        .collect();
    let metadata = HashMap::from([
        ("schema".to_string(), TABLE_SCHEMA.to_string()),
        ("sonovec_version".to_string(), crate::VERSION.to_string()),
        ("vector_version".to_string(), meta.vector_version.clone()),
        ("model".to_string(), meta.model.clone().unwrap_or_default()),
        (
            "tags".to_string(),
            serde_json::to_string(&meta.tags).expect("strings serialise"),
        ),
    ]);
    Schema::new_with_metadata(fields, metadata)
}

/// One builder per column kind.
enum Column {
    Utf8(StringBuilder),
    F64(Float64Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F32List(ListBuilder<Float32Builder>),
    F64List(ListBuilder<Float64Builder>),
    Utf8List(ListBuilder<StringBuilder>),
}

impl Column {
    fn new(kind: Kind, field: &Field) -> Column {
        let item = match field.data_type() {
            DataType::List(item) => Some(Arc::clone(item)),
            _ => None,
        };
        let item = || item.clone().expect("a list column");
        match kind {
            Kind::Utf8 => Column::Utf8(StringBuilder::new()),
            Kind::F64 => Column::F64(Float64Builder::new()),
            Kind::U32 => Column::U32(UInt32Builder::new()),
            Kind::U64 => Column::U64(UInt64Builder::new()),
            Kind::F32List | Kind::TagProbs => {
                Column::F32List(ListBuilder::new(Float32Builder::new()).with_field(item()))
            }
            Kind::F64List => {
                Column::F64List(ListBuilder::new(Float64Builder::new()).with_field(item()))
            }
            Kind::Utf8List => {
                Column::Utf8List(ListBuilder::new(StringBuilder::new()).with_field(item()))
            }
        }
    }

    /// Appends `value` (null when absent or `null`).
    fn push(&mut self, kind: Kind, value: Option<&Value>) {
        let value = value.filter(|v| !v.is_null());
        let items = || value.and_then(Value::as_array);
        match self {
            Column::Utf8(b) => b.append_option(value.and_then(Value::as_str)),
            Column::F64(b) => b.append_option(value.and_then(Value::as_f64)),
            Column::U32(b) => b.append_option(
                value
                    .and_then(Value::as_u64)
                    .and_then(|v| v.try_into().ok()),
            ),
            Column::U64(b) => b.append_option(value.and_then(Value::as_u64)),
            Column::F32List(b) => match items() {
                Some(items) => {
                    for item in items {
                        let v = if kind == Kind::TagProbs {
                            item.get("p")
                        } else {
                            Some(item)
                        };
                        b.values()
                            .append_option(v.and_then(Value::as_f64).map(|v| v as f32));
                    }
                    b.append(true);
                }
                None => b.append(false),
            },
            Column::F64List(b) => match items() {
                Some(items) => {
                    for item in items {
                        b.values().append_option(item.as_f64());
                    }
                    b.append(true);
                }
                None => b.append(false),
            },
            Column::Utf8List(b) => match items() {
                Some(items) => {
                    for item in items {
                        b.values().append_option(item.as_str());
                    }
                    b.append(true);
                }
                None => b.append(false),
            },
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Utf8(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::U32(b) => Arc::new(b.finish()),
            Column::U64(b) => Arc::new(b.finish()),
            Column::F32List(b) => Arc::new(b.finish()),
            Column::F64List(b) => Arc::new(b.finish()),
            Column::Utf8List(b) => ArrayBuilder::finish(b),
        }
    }
}

/// The records as one batch of `schema` (from [`schema`]), one row each, in order.
pub fn record_batch<'a>(
    schema: SchemaRef,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<Column> = COLUMNS
        .iter()
        .zip(schema.fields())
        .map(|(&(_, _, kind), field)| Column::new(kind, field))
        .collect();
    for record in records {
        // Through the record's JSON text, so each column reads exactly what `tracks.jsonl`
        // holds (an f32 is written as its shortest decimal, not widened to f64).
        let json: Value = serde_json::to_string(record)
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| ArrowError::JsonError(e.to_string()))?;
        for (column, &(_, pointer, kind)) in columns.iter_mut().zip(COLUMNS) {
            column.push(kind, json.pointer(pointer));
        }
    }
    let arrays: Vec<ArrayRef> = columns.iter_mut().map(Column::finish).collect();
    RecordBatch::try_new(schema, arrays)
}

/// `batch` (or, without one, just `schema`) as an Arrow IPC stream: what pyarrow's
/// `ipc.open_stream` reads.
pub fn ipc_stream(schema: &Schema, batch: Option<&RecordBatch>) -> Result<Vec<u8>, ArrowError> {
    let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), schema)?;
    if let Some(batch) = batch {
        writer.write(batch)?;
    }
    writer.finish()?;
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;
    use arrow_array::Array;

    #[test]
    fn columns_read_the_record_and_absent_values_are_null() {
        let mut ok = Record::new("a.flac".into(), Some("ab".into()));
        ok.duration_s = Some(1.5);
        ok.vector = Some(vec![0.6, 0.8]);
        ok.tags = Some(vec![crate::record::TagScore {
            tag: "rock".into(),
            p: 0.25,
        }]);
        let mut failed = Record::new("b.mp3".into(), None);
        failed.fail(crate::AnalysisError::new(
            crate::ErrorKind::Corrupt,
            "broken",
        ));
        let schema = Arc::new(schema(&TableMeta::default()));
        let batch = record_batch(Arc::clone(&schema), [&ok, &failed]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let col = |name: &str| batch.column(schema.index_of(name).unwrap()).clone();
        let vector = col("vector");
        let vector = vector.as_list::<i32>();
        assert_eq!(
            vector.value(0).as_primitive::<Float32Type>().values(),
            &[0.6, 0.8]
        );
        assert!(vector.is_null(1));
        let tags = col("tags");
        let tags = tags.as_list::<i32>();
        assert_eq!(tags.value(0).as_primitive::<Float32Type>().value(0), 0.25);
        assert_eq!(col("error_kind").as_string::<i32>().value(1), "corrupt");
        assert!(col("error_kind").is_null(0));
        assert!(col("id").is_null(1));
    }

    #[test]
    fn ipc_stream_carries_the_metadata() {
        let meta = TableMeta {
            vector_version: "content-2".into(),
            model: Some("msd_musicnn@0123".into()),
            tags: vec!["rock".into()],
        };
        let schema = schema(&meta);
        let bytes = ipc_stream(&schema, None).unwrap();
        let reader =
            arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        assert_eq!(reader.schema().metadata()["vector_version"], "content-2");
        assert_eq!(reader.schema().metadata()["tags"], "[\"rock\"]");
    }
}
