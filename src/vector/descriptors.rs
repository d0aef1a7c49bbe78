//! The descriptor dimensions of the content vector, read from a record's descriptor fields.
//!
//! Only fields are read here, never recomputed: the vector is a view of the record, so a record
//! from any earlier run can be re-vectorised. `null` fields stay `None`; standardisation (in
//! [`super::VectorModel`]) turns them into the corpus mean.

use crate::record::Record;

/// Number of descriptor dimensions.
pub const N_DESCRIPTORS: usize = 60;

/// The name of each descriptor dimension, in vector order. A name is the record field it comes
/// from (`group.field`, `[i]` for an array element), or for derived values what is taken of it.
pub fn descriptor_names() -> Vec<String> {
    let mut names: Vec<String> = vec!["log(tempo.bpm)".into(), "tempo.confidence".into()];
    for field in LOUDNESS_FIELDS {
        names.push(format!("loudness.{field}"));
    }
    for field in SPECTRAL_FIELDS {
        names.push(format!("spectral.{field}"));
    }
    for i in 0..N_MFCC {
        names.push(format!("spectral.mfcc_mean[{i}]"));
    }
    for i in 0..N_MFCC {
        names.push(format!("spectral.mfcc_std[{i}]"));
    }
    for i in 0..N_CHROMA {
        names.push(format!("tonal.chroma_mean[{i}]"));
    }
    names.push("tonal.key_strength".into());
    names.push("tonal.mode == major".into());
    names.push("danceability.raw".into());
    names
}

const N_MFCC: usize = 13;
const N_CHROMA: usize = 12;

/// Level-independent loudness descriptors first; `integrated_lufs` is the one level value (the
/// mastering level is part of a track's character, but only one dimension of it).
const LOUDNESS_FIELDS: [&str; 5] = [
    "integrated_lufs",
    "range_lu",
    "rms_dbfs_std",
    "dynamic_complexity_lu",
    "silent_fraction",
];

const SPECTRAL_FIELDS: [&str; 12] = [
    "centroid_hz_mean",
    "centroid_hz_std",
    "bandwidth_hz_mean",
    "bandwidth_hz_std",
    "rolloff_hz_mean",
    "rolloff_hz_std",
    "flatness_mean",
    "flatness_std",
    "flux_mean",
    "flux_std",
    "zcr_mean",
    "zcr_std",
];

/// The raw (unstandardised) descriptor values of `record`, in [`descriptor_names`] order; `None`
/// where the record has `null` or lacks the group. Tempo enters as `ln(bpm)`, so a tempo ratio is
/// a fixed distance whatever the tempo; mode as 1 (major) or 0 (minor).
///
/// `danceability.raw` is in (it left every retrieval figure of `scripts/eval_vectors.py` equal
/// or better); `energy.score` is not: it is level-dependent by design and made of dimensions
/// already here (loudness, range, flux, centroid), and adding it lowered halves recall@10.
pub fn raw_descriptors(record: &Record) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(N_DESCRIPTORS);
    let tempo = record.tempo.as_ref().and_then(Option::as_ref);
    out.push(tempo.map(|t| t.bpm.ln()));
    out.push(tempo.map(|t| t.confidence));

    let loudness = record.loudness.as_ref();
    let l = |f: fn(&crate::features::Loudness) -> Option<f64>| loudness.and_then(f);
    out.push(l(|l| l.integrated_lufs));
    out.push(l(|l| l.range_lu));
    out.push(l(|l| l.rms_dbfs_std));
    out.push(l(|l| l.dynamic_complexity_lu));
    out.push(l(|l| l.silent_fraction));

    let spectral = record.spectral.as_ref();
    let s = |f: fn(&crate::features::Spectral) -> Option<f64>| spectral.and_then(f);
    out.push(s(|s| s.centroid_hz_mean));
    out.push(s(|s| s.centroid_hz_std));
    out.push(s(|s| s.bandwidth_hz_mean));
    out.push(s(|s| s.bandwidth_hz_std));
    out.push(s(|s| s.rolloff_hz_mean));
    out.push(s(|s| s.rolloff_hz_std));
    out.push(s(|s| s.flatness_mean));
    out.push(s(|s| s.flatness_std));
    out.push(s(|s| s.flux_mean));
    out.push(s(|s| s.flux_std));
    out.push(s(|s| s.zcr_mean));
    out.push(s(|s| s.zcr_std));
    push_array(
        &mut out,
        spectral.and_then(|s| s.mfcc_mean.as_deref()),
        N_MFCC,
    );
    push_array(
        &mut out,
        spectral.and_then(|s| s.mfcc_std.as_deref()),
        N_MFCC,
    );

    let tonal = record.tonal.as_ref();
    push_array(
        &mut out,
        tonal.and_then(|t| t.chroma_mean.as_deref()),
        N_CHROMA,
    );
    out.push(tonal.and_then(|t| t.key_strength));
    out.push(
        tonal
            .and_then(|t| t.mode.as_deref())
            .map(|mode| match mode {
                "major" => 1.0,
                _ => 0.0,
            }),
    );
    out.push(record.danceability.as_ref().map(|d| d.raw));
    debug_assert_eq!(out.len(), N_DESCRIPTORS);
    out
}

/// `n` values of `array`, or `n` × `None` if it is absent or of another length.
fn push_array(out: &mut Vec<Option<f64>>, array: Option<&[f64]>, n: usize) {
    match array {
        Some(values) if values.len() == n => out.extend(values.iter().map(|&v| Some(v))),
        _ => out.extend(std::iter::repeat_n(None, n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_line_up() {
        assert_eq!(descriptor_names().len(), N_DESCRIPTORS);
        let mut record = Record::default();
        assert_eq!(raw_descriptors(&record), vec![None; N_DESCRIPTORS]);
        record.tonal = Some(crate::features::Tonal {
            mode: Some("major".into()),
            ..Default::default()
        });
        record.danceability = Some(crate::features::danceability::Danceability {
            score: 0.4,
            raw: 1.2,
        });
        let values = raw_descriptors(&record);
        assert_eq!(values[N_DESCRIPTORS - 2], Some(1.0));
        assert_eq!(values[N_DESCRIPTORS - 1], Some(1.2));
    }
}
