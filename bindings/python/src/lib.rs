//! `sonovec._sonovec`: the native half of the Python package (the pure-Python half lives in
//! `python/sonovec/`). Every analysis runs with the GIL released, on a rayon pool owned by its
//! `Extractor`; records cross into Python as dicts whose vectors are NumPy arrays that take
//! over the Rust buffers, and batches as Arrow IPC streams that pyarrow maps without copying.

mod convert;
mod load;
mod source;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use rayon::prelude::*;

use sonovec::embed::ModelChoice;
use sonovec::features::tempo::BpmRange;
use sonovec::output::table::{self, TableMeta};
use sonovec::vector::{BlockWeights, VectorModel};
use sonovec::{Analyzer, Config, EmbeddingConfig, Record};

use source::Source;

/// What an `Extractor` was made with: enough to make it again (pickling, after `fork`).
#[derive(Clone, Debug)]
struct Settings {
    /// `msd`, `mtt`, `none`, or a `.safetensors` path.
    model: String,
    embed_seconds: Option<f64>,
    jobs: usize,
    max_duration: f64,
    beats: bool,
    /// As the CLI's `--vector-weights`, `None` for the defaults.
    vector_weights: Option<String>,
    /// As the CLI's `--bpm-range` (`LOW-HIGH`), `None` for none.
    bpm_range: Option<String>,
}

impl Settings {
    fn config(&self) -> PyResult<Config> {
        let model = match self.model.as_str() {
            "msd" => Some(ModelChoice::Msd),
            "mtt" => Some(ModelChoice::Mtt),
            "none" => None,
            path if path.ends_with(".safetensors") => Some(ModelChoice::File(PathBuf::from(path))),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown model {other:?}: use 'msd', 'mtt', None or a .safetensors path"
                )))
            }
        };
        if let Some(s) = self.embed_seconds {
            if !(s.is_finite() && s > 0.0) {
                return Err(PyValueError::new_err(
                    "embed_seconds must be a positive number",
                ));
            }
        }
        if !(self.max_duration.is_finite() && self.max_duration > 0.0) {
            return Err(PyValueError::new_err(
                "max_duration must be a positive number",
            ));
        }
        let vector_weights: Option<BlockWeights> = match &self.vector_weights {
            Some(w) => Some(
                VectorModel::bundled()
                    .weights
                    .with_overrides(w)
                    .map_err(PyValueError::new_err)?,
            ),
            None => None,
        };
        let bpm_range: Option<BpmRange> = self
            .bpm_range
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(PyValueError::new_err)?;
        Ok(Config {
            max_duration_s: self.max_duration,
            beats: self.beats,
            embedding: model.map(|model| EmbeddingConfig {
                model,
                seconds: self.embed_seconds,
            }),
            vector_weights,
            bpm_range,
            ..Default::default()
        })
    }

    fn analyzer(&self) -> PyResult<Analyzer> {
        Analyzer::try_new(self.config()?).map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

/// The analyzer and its thread pool, valid in the process that made them.
struct Engine {
    pid: u32,
    analyzer: Arc<Analyzer>,
    pool: Arc<rayon::ThreadPool>,
}

impl Engine {
    fn new(settings: &Settings) -> PyResult<Engine> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(settings.jobs)
            .thread_name(|i| format!("sonovec-{i}"))
            .build()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(Engine {
            pid: std::process::id(),
            analyzer: Arc::new(settings.analyzer()?),
            pool: Arc::new(pool),
        })
    }
}

/// Loads the model once and analyses tracks with it (see the stubs for the contract).
#[pyclass(frozen, subclass, module = "sonovec._sonovec")]
struct Extractor {
    settings: Settings,
    engine: Mutex<Engine>,
    meta: TableMeta,
}

impl Extractor {
    /// The analyzer and pool of this process. A forked child has the parent's structures but
    /// not its threads: it builds its own (and leaks the parent's, which it must not join).
    fn engine(&self) -> PyResult<(Arc<Analyzer>, Arc<rayon::ThreadPool>)> {
        let mut engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        if engine.pid != std::process::id() {
            let fresh = Engine::new(&self.settings)?;
            std::mem::forget(std::mem::replace(&mut *engine, fresh));
        }
        Ok((Arc::clone(&engine.analyzer), Arc::clone(&engine.pool)))
    }

    fn analyze_all(&self, py: Python<'_>, sources: Vec<Source>) -> PyResult<Vec<Record>> {
        let (analyzer, pool) = self.engine()?;
        // Said before any starts, so that the first tracks do not take a second decoding
        // thread from the ones after them.
        analyzer.occupancy().expect(sources.len());
        Ok(py.detach(|| {
            pool.install(|| {
                sources
                    .into_par_iter()
                    .map(|source| {
                        analyzer.occupancy().started_one();
                        source.analyze(&analyzer)
                    })
                    .collect()
            })
        }))
    }
}

#[pymethods]
impl Extractor {
    #[new]
    #[pyo3(signature = (model = Some("msd".into()), embed_seconds = None, jobs = 1, max_duration = 21600.0, beats = false, vector_weights = None, bpm_range = None))]
    fn new(
        model: Option<PathOrName>,
        embed_seconds: Option<f64>,
        jobs: Option<usize>,
        max_duration: f64,
        beats: bool,
        vector_weights: Option<Bound<'_, PyAny>>,
        bpm_range: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let jobs = match jobs {
            None | Some(0) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Some(n) if n > sonovec::analyzer::MAX_WORKERS => {
                return Err(PyValueError::new_err(format!(
                    "jobs must be at most {}, not {n}",
                    sonovec::analyzer::MAX_WORKERS
                )))
            }
            Some(n) => n,
        };
        let settings = Settings {
            model: model.map_or_else(|| "none".to_string(), |m| m.0),
            embed_seconds,
            jobs,
            max_duration,
            beats,
            vector_weights: vector_weights.map(|w| weights_arg(&w)).transpose()?,
            bpm_range: bpm_range.map(|r| range_arg(&r)).transpose()?,
        };
        let engine = Engine::new(&settings)?;
        let meta = TableMeta::of_layout(&engine.analyzer.vector_layout());
        Ok(Extractor {
            settings,
            engine: Mutex::new(engine),
            meta,
        })
    }

    /// Analyses one source; returns its record as a dict (an error record on failure).
    #[pyo3(signature = (source, name = None))]
    fn _extract<'py>(
        &self,
        py: Python<'py>,
        source: &Bound<'py, PyAny>,
        name: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let source = Source::from_py(source, name)?;
        let record = self
            .analyze_all(py, vec![source])?
            .pop()
            .expect("one record per source");
        convert::record_to_dict(py, record)
    }

    /// Analyses every source in parallel on this extractor's threads; returns the records as an
    /// Arrow IPC stream of `schema()`, one row per source in order.
    #[pyo3(signature = (sources, paths = None))]
    fn _extract_batch<'py>(
        &self,
        py: Python<'py>,
        sources: &Bound<'py, PyAny>,
        paths: Option<Vec<Option<String>>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let mut items = Vec::new();
        for (i, source) in sources.try_iter()?.enumerate() {
            let name = match &paths {
                Some(paths) => paths
                    .get(i)
                    .cloned()
                    .ok_or_else(|| PyValueError::new_err("paths must have one entry per source"))?,
                None => None,
            };
            items.push(Source::from_py(&source?, name)?);
        }
        if paths.as_ref().is_some_and(|p| p.len() != items.len()) {
            return Err(PyValueError::new_err(
                "paths must have one entry per source",
            ));
        }
        let records = self.analyze_all(py, items)?;
        let meta = self.meta.clone();
        let bytes = py
            .detach(|| {
                let schema = Arc::new(table::schema(&meta));
                let batch = table::record_batch(Arc::clone(&schema), &records)?;
                table::ipc_stream(&schema, Some(&batch))
            })
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// The schema of `extract_batch`'s tables, as an Arrow IPC stream with no batches.
    fn _schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        schema_bytes(py, &self.meta)
    }

    /// `vector_version` of this extractor's vectors (names the model by its content hash).
    #[getter]
    fn vector_version(&self) -> String {
        self.meta.vector_version.clone()
    }

    /// Id of the embedding model (`msd_musicnn@<sha256 prefix>`), `None` without one.
    #[getter]
    fn model_id(&self) -> Option<String> {
        self.meta.model.clone()
    }

    #[getter]
    fn model(&self) -> Option<String> {
        (self.settings.model != "none").then(|| self.settings.model.clone())
    }

    #[getter]
    fn embed_seconds(&self) -> Option<f64> {
        self.settings.embed_seconds
    }

    #[getter]
    fn jobs(&self) -> usize {
        self.settings.jobs
    }

    #[getter]
    fn max_duration(&self) -> f64 {
        self.settings.max_duration
    }

    #[getter]
    fn beats(&self) -> bool {
        self.settings.beats
    }

    #[getter]
    fn vector_weights(&self) -> Option<String> {
        self.settings.vector_weights.clone()
    }

    #[getter]
    fn bpm_range(&self) -> Option<String> {
        self.settings.bpm_range.clone()
    }

    /// Pickles by configuration: the unpickled copy loads its own model.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let s = &slf.get().settings;
        let args = (
            (s.model != "none").then(|| s.model.clone()),
            s.embed_seconds,
            s.jobs,
            s.max_duration,
            s.beats,
            s.vector_weights.clone(),
            s.bpm_range.clone(),
        );
        (slf.get_type(), args).into_pyobject(py)
    }

    fn __repr__(&self) -> String {
        let s = &self.settings;
        format!(
            "Extractor(model={:?}, embed_seconds={:?}, jobs={}, vector_version={:?})",
            s.model, s.embed_seconds, s.jobs, self.meta.vector_version
        )
    }
}

/// A model given as a name (`"msd"`) or a path (`str` or `os.PathLike`).
struct PathOrName(String);

impl From<&str> for PathOrName {
    fn from(name: &str) -> Self {
        PathOrName(name.to_string())
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for PathOrName {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.extract::<String>() {
            return Ok(PathOrName(s));
        }
        let path: PathBuf = obj
            .extract()
            .map_err(|_| PyTypeError::new_err("model must be 'msd', 'mtt', None or a path"))?;
        Ok(PathOrName(path.to_string_lossy().into_owned()))
    }
}

/// `vector_weights` as the CLI's `embedding=1,tags=0.5` string, from that string or a dict.
fn weights_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.extract::<String>() {
        return Ok(s);
    }
    let dict = value.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err("vector_weights must be a dict like {'tags': 0.5} or a string")
    })?;
    let mut parts = Vec::new();
    for (k, v) in dict.iter() {
        parts.push(format!(
            "{}={}",
            k.extract::<String>()?,
            v.extract::<f64>()?
        ));
    }
    Ok(parts.join(","))
}

/// `bpm_range` as the CLI's `LOW-HIGH` string, from that string or a `(low, high)` pair.
fn range_arg(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.extract::<String>() {
        return Ok(s);
    }
    let (low, high): (f64, f64) = value.extract().map_err(|_| {
        PyTypeError::new_err("bpm_range must be a (low, high) pair or a string like '70-140'")
    })?;
    Ok(format!("{low}-{high}"))
}

fn schema_bytes<'py>(py: Python<'py>, meta: &TableMeta) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = table::ipc_stream(&table::schema(meta), None)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyBytes::new(py, &bytes))
}

/// The table schema of an extractor made with these arguments, without making one.
#[pyfunction]
#[pyo3(signature = (model = Some("msd".into()), vector_weights = None, bpm_range = None))]
fn _schema<'py>(
    py: Python<'py>,
    model: Option<PathOrName>,
    vector_weights: Option<Bound<'py, PyAny>>,
    bpm_range: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let settings = Settings {
        model: model.map_or_else(|| "none".to_string(), |m| m.0),
        embed_seconds: None,
        jobs: 1,
        max_duration: 1.0,
        beats: false,
        vector_weights: vector_weights.map(|w| weights_arg(&w)).transpose()?,
        bpm_range: bpm_range.map(|r| range_arg(&r)).transpose()?,
    };
    let analyzer = py.detach(|| settings.analyzer())?;
    schema_bytes(py, &TableMeta::of_layout(&analyzer.vector_layout()))
}

#[pymodule]
fn _sonovec(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Extractor>()?;
    m.add_function(wrap_pyfunction!(_schema, m)?)?;
    m.add_function(wrap_pyfunction!(load::load, m)?)?;
    m.add("__version__", sonovec::VERSION)?;
    Ok(())
}
