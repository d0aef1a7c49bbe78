//! What `extract` accepts: a path (`str`, `os.PathLike`), `bytes`, any buffer (`memoryview`,
//! `bytearray`, a NumPy uint8 array) or a binary file object (anything with `read()`).

use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use sonovec::{Analyzer, Record};

/// One input, owned, so it can cross into the GIL-free analysis.
pub enum Source {
    Path {
        path: PathBuf,
        label: Option<String>,
    },
    Bytes {
        bytes: Vec<u8>,
        label: String,
    },
}

/// Label of an upload with no name: no extension, so the format is found from the content.
const UNNAMED: &str = "<bytes>";

impl Source {
    /// Reads `obj` into a source. `label` names the record (`path`) and hints at the format by
    /// its extension; for a path it defaults to the path, for a file object to its `name`.
    pub fn from_py(obj: &Bound<'_, PyAny>, label: Option<String>) -> PyResult<Source> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Source::Bytes {
                bytes: bytes.as_bytes().to_vec(),
                label: label.unwrap_or_else(|| UNNAMED.to_string()),
            });
        }
        if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
            let path: PathBuf = obj.extract()?;
            return Ok(Source::Path { path, label });
        }
        if obj.hasattr("read")? {
            let data = obj.call_method0("read")?;
            let bytes = match data.cast::<PyBytes>() {
                Ok(b) => b.as_bytes().to_vec(),
                Err(_) => buffer_bytes(&data).map_err(|_| {
                    PyTypeError::new_err(
                        "the file object's read() must return bytes (open it in 'rb' mode)",
                    )
                })?,
            };
            let label = label
                .or_else(|| obj.getattr("name").ok()?.extract::<String>().ok())
                .unwrap_or_else(|| UNNAMED.to_string());
            return Ok(Source::Bytes { bytes, label });
        }
        match buffer_bytes(obj) {
            Ok(bytes) => Ok(Source::Bytes {
                bytes,
                label: label.unwrap_or_else(|| UNNAMED.to_string()),
            }),
            Err(_) => Err(PyTypeError::new_err(format!(
                "cannot read audio from a {}: pass a path, bytes, a memoryview or a binary file object",
                obj.get_type().name()?
            ))),
        }
    }

    /// Analyses the source (never panics; a failure is the record's `error`).
    pub fn analyze(self, analyzer: &Analyzer) -> Record {
        match self {
            Source::Path { path, label } => {
                let mut record = analyzer.analyze_path(&path).record;
                if let Some(label) = label {
                    record.path = label;
                }
                record
            }
            Source::Bytes { bytes, label } => analyzer.analyze_bytes(bytes, &label).record,
        }
    }
}

/// `PyBUF_WRITE` of CPython's `memoryobject.h`: pyo3-ffi declares it only outside the limited API.
const PYBUF_WRITE: std::ffi::c_int = 0x200;

/// The bytes of any object with the buffer protocol, in C order, copied once.
///
/// pyo3's `PyBuffer` (`PyObject_GetBuffer`) is not in the stable ABI of Python 3.10, which the
/// one wheel targets, so the source's memory cannot be read from Rust directly. Instead Python
/// copies it into a Rust buffer: `PyMemoryView_FromMemory` (stable ABI) exposes our `Vec` as a
/// writable memoryview and `view[:] = memoryview(obj).cast("B")` is one `memcpy`. A buffer that
/// is not C-contiguous cannot be cast to bytes: it goes through `tobytes()` (two copies).
fn buffer_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let py = obj.py();
    // `memoryview` first: `bytes(12345)` would make 12345 zero bytes of an int.
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((obj,))?;
    let flat = match view.call_method1("cast", ("B",)) {
        Ok(flat) => flat,
        Err(_) => {
            let bytes = view.call_method0("tobytes")?;
            return Ok(bytes.cast::<PyBytes>()?.as_bytes().to_vec());
        }
    };
    let len: usize = flat.len()?;
    let mut out = vec![0u8; len];
    // SAFETY: the memoryview points into `out`, which outlives it: it is released below, before
    // `out` is returned or dropped, and nobody else holds it (a release with exports fails, and
    // then `out` is not returned either).
    let target = unsafe {
        let raw = pyo3::ffi::PyMemoryView_FromMemory(
            out.as_mut_ptr().cast(),
            len as pyo3::ffi::Py_ssize_t,
            PYBUF_WRITE,
        );
        Bound::from_owned_ptr_or_err(py, raw)?
    };
    let copied = target.set_item(pyo3::types::PySlice::full(py), &flat);
    target.call_method0("release")?;
    copied?;
    Ok(out)
}
