//! `sonovec.load`: sonovec's decoder and resampler, for code that wants the samples.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use sonovec::audio::{downmix_into, AudioStream, MonoResampler, MAX_SAMPLE_MAGNITUDE};
use sonovec::{AnalysisError, ErrorKind};

use crate::convert::error_to_py;
use crate::source::Source;

/// Decoded audio: one `Vec` per output channel, at `rate`.
struct Decoded {
    channels: Vec<Vec<f32>>,
    rate: u32,
}

/// Decodes `source` to float32 in [-1, 1] (mono: the channel mean; else one row per channel),
/// resampled to `sr` (sonovec's resampler) unless `sr` is `None`. Returns `(samples, rate)`.
#[pyfunction]
#[pyo3(signature = (source, sr = Some(16000), mono = true, max_duration = 21600.0))]
pub fn load<'py>(
    py: Python<'py>,
    source: &Bound<'py, PyAny>,
    sr: Option<u32>,
    mono: bool,
    max_duration: f64,
) -> PyResult<(Bound<'py, PyAny>, u32)> {
    if sr == Some(0) {
        return Err(PyValueError::new_err(
            "sr must be positive, or None for the native rate",
        ));
    }
    let source = Source::from_py(source, None)?;
    let decoded = py
        .detach(|| decode(source, sr, mono, max_duration))
        .map_err(|e| error_to_py(py, &e, None))?;
    let rate = decoded.rate;
    let n_channels = decoded.channels.len();
    let frames = decoded.channels.first().map_or(0, Vec::len);
    if mono {
        let samples = decoded.channels.into_iter().next().unwrap_or_default();
        return Ok((PyArray1::from_vec(py, samples).into_any(), rate));
    }
    // One allocation in (channels, frames) C order, handed to NumPy without a copy.
    let flat: Vec<f32> = decoded.channels.concat();
    let array = PyArray1::from_vec(py, flat).reshape([n_channels, frames])?;
    Ok((array.into_any(), rate))
}

fn decode(
    source: Source,
    sr: Option<u32>,
    mono: bool,
    max_duration: f64,
) -> Result<Decoded, AnalysisError> {
    let mut stream = match source {
        Source::Path { path, .. } => {
            let file = File::open(&path).map_err(|e| AnalysisError::from_io(&e))?;
            AudioStream::open(Box::new(file), extension(&path).as_deref())?
        }
        Source::Bytes { bytes, label } => {
            if bytes.is_empty() {
                return Err(AnalysisError::new(
                    ErrorKind::Empty,
                    "the input is empty (0 bytes)",
                ));
            }
            AudioStream::open(
                Box::new(Cursor::new(bytes)),
                extension(Path::new(&label)).as_deref(),
            )?
        }
    };
    let mut out: Vec<Vec<f32>> = Vec::new();
    let mut resamplers: Vec<MonoResampler> = Vec::new();
    let mut mixed = Vec::new();
    let mut source_rate = 0;
    while let Some(chunk) = stream.next_chunk()? {
        if chunk.frames_decoded as f64 > max_duration * chunk.sample_rate as f64 {
            return Err(AnalysisError::new(
                ErrorKind::TooLong,
                format!("longer than the limit of {max_duration} s (raise max_duration)"),
            ));
        }
        let planar: Vec<&[f32]> = if mono {
            downmix_into(chunk.planar, &mut mixed);
            vec![&mixed]
        } else {
            chunk.planar.iter().map(Vec::as_slice).collect()
        };
        if out.is_empty() {
            source_rate = chunk.sample_rate;
            out = vec![Vec::new(); planar.len()];
            if let Some(rate) = sr.filter(|&r| r != source_rate) {
                for _ in 0..planar.len() {
                    resamplers.push(MonoResampler::new(source_rate, rate)?);
                }
            }
        }
        if planar.len() != out.len() || chunk.sample_rate != source_rate {
            return Err(AnalysisError::new(
                ErrorKind::Corrupt,
                "the channel count or sample rate changes within the stream",
            ));
        }
        for (i, channel) in planar.into_iter().enumerate() {
            match resamplers.get_mut(i) {
                Some(resampler) => resampler.push(channel, &mut out[i]),
                None => out[i].extend_from_slice(channel),
            }
        }
    }
    if out.is_empty() {
        return Err(AnalysisError::new(
            ErrorKind::Empty,
            "the stream holds no audio samples",
        ));
    }
    for (resampler, channel) in resamplers.iter_mut().zip(&mut out) {
        resampler.finish(channel);
    }
    if !mono {
        // The mono path repairs samples in `downmix_into`; do the same here.
        for channel in &mut out {
            for s in channel.iter_mut() {
                *s = if s.is_finite() {
                    s.clamp(-MAX_SAMPLE_MAGNITUDE, MAX_SAMPLE_MAGNITUDE)
                } else {
                    0.0
                };
            }
        }
    }
    Ok(Decoded {
        channels: out,
        rate: sr.unwrap_or(source_rate),
    })
}

fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}
