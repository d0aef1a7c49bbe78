//! Records and errors into Python objects.

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use sonovec::{AnalysisError, Record};

/// The record as the dict of its JSON form, except that `vector`, `cf_vector`, `embedding` and
/// `embedding_std` are float32 NumPy arrays that own the record's buffers (no copy).
pub fn record_to_dict(py: Python<'_>, mut record: Record) -> PyResult<Bound<'_, PyDict>> {
    let arrays = [
        ("vector", record.vector.take()),
        ("cf_vector", record.cf_vector.take()),
        ("embedding", record.embedding.take()),
        ("embedding_std", record.embedding_std.take()),
    ];
    // Through the JSON text, so that each number is the one `tracks.jsonl` holds (an f32 such as
    // a tag probability is written as its shortest decimal, not widened to f64).
    let json: Value = serde_json::to_string(&record)
        .and_then(|text| serde_json::from_str(&text))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let dict = json_to_py(py, &json)?.cast_into::<PyDict>()?;
    for (key, values) in arrays {
        if let Some(values) = values {
            dict.set_item(key, PyArray1::from_vec(py, values))?;
        }
    }
    Ok(dict)
}

fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_pyobject(py)?.into_any(),
            (None, Some(i)) => i.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => s.into_pyobject(py)?.into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// The Python exception for `error` (`sonovec.DecodeError` and kin, see `_errors.py`), with
/// the record attached when there is one.
pub fn error_to_py(
    py: Python<'_>,
    error: &AnalysisError,
    record: Option<Bound<'_, PyDict>>,
) -> PyErr {
    let kind = serde_json::to_value(error.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "internal".to_string());
    let made = py.import("sonovec._errors").and_then(|m| {
        m.getattr("error_for")?.call1((
            kind,
            error.message.clone(),
            error.kind.is_bad_input(),
            record,
        ))
    });
    match made {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => e,
    }
}
