//! The pipeline for one track: decode → mono → 16 kHz → shared spectrogram → features → vector.

use std::cell::Cell;
use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::audio::hashing::hashing_source;
use crate::audio::{AudioStream, MAX_SAMPLE_MAGNITUDE};
use crate::dsp::{SpectrogramPlan, StreamingSpectrogram};
use crate::embed::{Embedder, Model, WeightsError};
use crate::error::{AnalysisError, ErrorKind, Result};
use crate::record::Record;
use crate::vector::VectorSpec;

mod config;
mod content_id;
mod extractors;
mod occupancy;
mod stream;

pub use config::{
    Config, EmbeddingConfig, StageTimings, SMALL_INPUT_BYTES, SMALL_INPUT_EMBEDDING_S,
};
pub use content_id::{content_id, content_id_of_file};
use content_id::{hex_id, open_regular_file};
use extractors::Extractors;
pub use occupancy::Occupancy;
pub use stream::StreamThreads;
use stream::{run as run_stream, Back, Front};

/// The most worker threads a caller may ask for (`-j`, `serve --workers`, the Python `jobs`):
/// more than the cores of any machine this is meant for, and few enough that starting them
/// cannot exhaust the process's threads or memory before the first track (a mistyped `-j
/// 100000` is a usage error, not a crash).
pub const MAX_WORKERS: usize = 1024;

/// The outcome of analysing one input: its record, and how long each stage took.
#[derive(Clone, Debug)]
pub struct Track {
    pub record: Record,
    pub timings: StageTimings,
}

/// Analyses tracks. Cheap to share: one per process, used from any number of threads.
pub struct Analyzer {
    config: Config,
    plan: SpectrogramPlan,
    model: Option<Model>,
    /// The vector spec of the loaded model (so a model file is hashed once, not per track).
    vector: VectorSpec,
    /// Analyses running and to come: whether a core is free for a second decoding thread.
    occupancy: Occupancy,
}

thread_local! {
    /// Set while this thread runs an analysis, so the panic hook can stay quiet about panics
    /// that are caught and reported in the record.
    static ANALYSING: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread is inside the demuxer or decoder; a panic leaves it set, which is
    /// how [`Analyzer`] tells a decoder failure (the input's fault) from one of ours.
    static IN_DECODER: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a call into symphonia) marked as decoder work for the panic classification.
fn in_decoder<T>(f: impl FnOnce() -> T) -> T {
    IN_DECODER.with(|d| d.set(true));
    let out = f();
    IN_DECODER.with(|d| d.set(false));
    out
}

/// Whether analyses give the memory they free back to the kernel as they go
/// ([`release_freed_memory`]): off unless the process says so ([`give_back_freed_memory`]).
static GIVE_BACK_FREED_MEMORY: AtomicBool = AtomicBool::new(false);

/// Has analyses in this process give the memory they free back to the kernel, at the end of
/// each track's stream and, in a worker, after each track (`malloc_trim`, on glibc). For a
/// process that runs analyses and little else, as the `sonovec` binary and its workers do:
/// `malloc_trim` walks every malloc arena of the process, which in a large host (a Python
/// process with a fragmented heap of 1.4 GB) took 34–39 ms a call. Without it, a worker's peak RSS
/// was 1–2 MB higher (BENCHMARKS.md, sessions 29 and 30).
pub fn give_back_freed_memory(on: bool) {
    GIVE_BACK_FREED_MEMORY.store(on, Ordering::Relaxed);
}

/// Gives memory freed on any thread back to the kernel, if the process asked for it
/// ([`give_back_freed_memory`]). The analysis threads allocate in malloc arenas of their own,
/// which keep what they free: memory freed on one thread does not serve another's next
/// allocation.
pub(crate) fn release_freed_memory() {
    if !GIVE_BACK_FREED_MEMORY.load(Ordering::Relaxed) {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and may be called at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// True while the current thread is inside [`Analyzer`] (a panic here becomes an error record).
pub fn panic_is_caught_here() -> bool {
    ANALYSING.with(Cell::get)
}

/// Marks the current thread, one that works for an [`Analyzer`] and whose panics it catches, so
/// that the panic hook stays quiet about them.
pub(crate) fn quiet_panics_on_this_thread() {
    ANALYSING.with(|a| a.set(true));
}

fn extension_of(name: &str) -> Option<String> {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

impl Analyzer {
    /// An analyzer for `config`. Panics if the embedding model cannot be loaded; the bundled
    /// models always load, so only a `ModelChoice::File` can fail (use [`Analyzer::try_new`]).
    pub fn new(config: Config) -> Self {
        Analyzer::try_new(config).expect("the embedding model loads")
    }

    /// An analyzer for `config`, loading its embedding model once for every track.
    pub fn try_new(config: Config) -> std::result::Result<Self, WeightsError> {
        let plan = SpectrogramPlan::new(config.spectrogram);
        let model = match &config.embedding {
            Some(embedding) => Some(Model::load(&embedding.model)?),
            None => None,
        };
        let vector = VectorSpec::new(model.as_ref().map(|m| m.id.clone()), config.vector_weights)
            .with_bpm_range(config.bpm_range);
        Ok(Analyzer {
            config,
            plan,
            model,
            vector,
            occupancy: Occupancy::default(),
        })
    }

    /// The analyses running in this analyzer and those its caller said are to come.
    pub fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The embedding model, if the config has one (for its counters, see [`Model::computed`]).
    pub fn model(&self) -> Option<&Model> {
        self.model.as_ref()
    }

    /// The `vector_version` of this analyzer's content vectors.
    pub fn vector_version(&self) -> String {
        self.vector.version()
    }

    /// The layout of this analyzer's content vectors (`vectors.json`), tags named by its model.
    pub fn vector_layout(&self) -> crate::vector::Layout {
        let tags = self.model.as_ref().map(|m| m.tags.as_slice());
        self.vector.layout(tags)
    }

    /// Analyses the file at `path`. Never panics: every failure is an `error` in the record.
    ///
    /// The file is read once: its content id is hashed from the bytes the decoder reads (plus
    /// any it skipped), and is the same as [`content_id_of_file`] gives.
    pub fn analyze_path(&self, path: &Path) -> Track {
        let started = Instant::now();
        let name = path.display().to_string();
        let opened = open_regular_file(path).and_then(hashing_source);
        let (source, hash) = match opened {
            Ok(pair) => pair,
            Err(e) => {
                let mut record = Record::new(name, None);
                record.fail(AnalysisError::from_io(&e));
                return Track {
                    record,
                    timings: StageTimings {
                        total: started.elapsed(),
                        ..Default::default()
                    },
                };
            }
        };
        let ext = extension_of(&name);
        let size = symphonia::core::io::MediaSource::byte_len(&source);
        let mut track = self.run(name, String::new(), size, || {
            if source.is_empty() {
                return Err(AnalysisError::new(
                    ErrorKind::Empty,
                    "the file is empty (0 bytes)",
                ));
            }
            AudioStream::open(Box::new(source), ext.as_deref())
        });
        let clock = Instant::now();
        match hash.finish() {
            Ok(h) => track.record.id = Some(hex_id(h)),
            Err(e) => {
                track.record.id = None;
                track.record.fail(AnalysisError::from_io(&e));
            }
        }
        track.timings.hash = clock.elapsed();
        track.timings.total = started.elapsed();
        track
    }

    /// Analyses the file at `path` whose content id the caller already computed.
    pub fn analyze_file_with_id(&self, path: &Path, id: String) -> Track {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let size = std::fs::metadata(path).ok().map(|m| m.len());
        self.run(path.display().to_string(), id, size, || {
            let file = open_regular_file(path).map_err(|e| AnalysisError::from_io(&e))?;
            if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
                return Err(AnalysisError::new(
                    ErrorKind::Empty,
                    "the file is empty (0 bytes)",
                ));
            }
            AudioStream::open(Box::new(file), ext.as_deref())
        })
    }

    /// Analyses an upload held in memory. `name` labels the record and hints at the format.
    pub fn analyze_bytes(&self, bytes: Vec<u8>, name: &str) -> Track {
        let started = Instant::now();
        let id = content_id(&bytes);
        let hash = started.elapsed();
        let ext = extension_of(name);
        let size = Some(bytes.len() as u64);
        let mut track = self.run(name.to_string(), id, size, move || {
            if bytes.is_empty() {
                return Err(AnalysisError::new(
                    ErrorKind::Empty,
                    "the upload is empty (0 bytes)",
                ));
            }
            AudioStream::open(Box::new(Cursor::new(bytes)), ext.as_deref())
        });
        track.timings.hash = hash;
        track.timings.total += hash;
        track
    }

    /// Analyses the stream `open` gives; `input_bytes` is the size of the input, if known.
    fn run(
        &self,
        path: String,
        id: String,
        input_bytes: Option<u64>,
        open: impl FnOnce() -> Result<AudioStream>,
    ) -> Track {
        let started = Instant::now();
        let mut record = Record::new(path, Some(id));
        let mut timings = StageTimings::default();
        let was_analysing = ANALYSING.with(|a| a.replace(true));
        IN_DECODER.with(|d| d.set(false));
        let outcome = self.occupancy.run(|| {
            panic::catch_unwind(AssertUnwindSafe(|| {
                let mut stream = in_decoder(open)?;
                self.analyze_stream(&mut stream, &mut record, &mut timings, input_bytes)
            }))
        });
        ANALYSING.with(|a| a.set(was_analysing));
        let in_decoder = IN_DECODER.with(|d| d.replace(false));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => record.fail(error),
            Err(payload) => record.fail(panic_error(in_decoder, &payload)),
        }
        timings.total = started.elapsed();
        Track { record, timings }
    }

    fn analyze_stream(
        &self,
        stream: &mut AudioStream,
        record: &mut Record,
        timings: &mut StageTimings,
        input_bytes: Option<u64>,
    ) -> Result<()> {
        record.set_source(stream.info());
        let spectrogram_config = *self.plan.config();
        let capped = input_bytes.is_some_and(|n| n < SMALL_INPUT_BYTES);
        let embedding_s = self.config.embedding.as_ref().and_then(|e| e.seconds);
        let embedder = self.model.as_ref().map(|model| {
            match embedding_s.or(capped.then_some(SMALL_INPUT_EMBEDDING_S)) {
                Some(seconds) => Embedder::with_seconds(model, seconds),
                None => Embedder::new(model),
            }
        });
        let pipelined = self.config.stream_threads.pipelined();
        let mut back = Back {
            analysis_rate: spectrogram_config.sample_rate,
            resampler: None,
            analysis: Vec::new(),
            spectrogram: StreamingSpectrogram::new(&self.plan).parallel_frames(!pipelined),
            sinks: Extractors::new(
                &spectrogram_config,
                &self.config,
                self.vector.clone(),
                embedder,
            ),
            resample_time: Duration::ZERO,
            spectrogram_time: Duration::ZERO,
        };
        if pipelined && self.occupancy.core_to_spare() {
            // Decoding bounds a pipelined stream; with a core free (one long file, not a
            // folder's worth at once), a second thread decodes where the codec gains by it.
            stream.decode_ahead();
        }
        let front = Front::new(stream, self.config.max_duration_s);
        let front = run_stream(front, &mut back, pipelined)?;
        timings.decode = front.timings.decode;
        timings.stream_threads_cpu = front.timings.threads_cpu;
        // The mixdown (front) and the resampling (back).
        timings.resample = front.timings.mixdown + back.resample_time;

        record.set_source(stream.info());
        record.warnings.extend(stream.warnings());
        if back.resampler.is_none() {
            return Err(AnalysisError::new(
                ErrorKind::Empty,
                "the stream holds no audio samples",
            ));
        }
        let Back {
            mut spectrogram,
            mut sinks,
            spectrogram_time,
            ..
        } = back;
        let clock = Instant::now();
        let frames = spectrogram.finish(&mut sinks);
        timings.spectrogram = spectrogram_time + clock.elapsed();

        let repairs = front.repairs;
        if repairs.non_finite > 0 {
            record.warnings.push(format!(
                "{} NaN or infinite sample(s) replaced by silence",
                repairs.non_finite
            ));
        }
        if repairs.clipped > 0 {
            record.warnings.push(format!(
                "{} sample(s) beyond ±{MAX_SAMPLE_MAGNITUDE} (full scale is ±1) clipped",
                repairs.clipped
            ));
        }
        let info = stream.info();
        record.duration_s = Some(stream.frames_decoded() as f64 / info.sample_rate as f64);
        record.frames = Some(frames);
        let mut spent = sinks.finish(record, front.loudness);
        spent.descriptors += front.timings.meter;
        let patches = frames / crate::embed::PATCH_FRAMES;
        if capped && embedding_s.is_none() && record.embedding_patches.is_some_and(|n| n < patches)
        {
            record.warnings.push(format!(
                "the embedding is the mean of {} evenly spaced patches of {patches}: an input \
                 under {} MiB is analysed on at most {SMALL_INPUT_EMBEDDING_S} s of them",
                record.embedding_patches.unwrap_or(0),
                SMALL_INPUT_BYTES >> 20
            ));
        }
        // The spectrogram's clock ran while its sinks worked on each block: take that out.
        timings.spectrogram = timings.spectrogram.saturating_sub(spent.in_sinks);
        timings.descriptors = spent.descriptors;
        timings.tempo = spent.tempo;
        timings.embedding = spent.embedding;
        if record
            .vector
            .as_ref()
            .is_some_and(|v| v.iter().any(|x| !x.is_finite()))
        {
            return Err(AnalysisError::new(
                ErrorKind::Internal,
                "the content vector is not finite",
            ));
        }
        Ok(())
    }
}

/// A caught panic as an error: the input's fault (`corrupt`) only when the decoder panicked;
/// anywhere else (resampling, features, embedding, vector) it is a bug of ours (`internal`,
/// retried by the next `extract` or `watch`).
fn panic_error(in_decoder: bool, payload: &Box<dyn std::any::Any + Send>) -> AnalysisError {
    let message = panic_message(payload);
    if in_decoder {
        AnalysisError::new(
            ErrorKind::Corrupt,
            format!("the decoder gave up on this file ({message})"),
        )
    } else {
        AnalysisError::new(
            ErrorKind::Internal,
            format!(
                "sonovec failed while analysing the decoded audio ({message}); please report it"
            ),
        )
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        static PANIC_IN_FEATURES: Cell<bool> = const { Cell::new(false) };
    }

    /// Called by the analysis between decoding a chunk and computing its features.
    pub(super) fn maybe_panic_in_features() {
        if PANIC_IN_FEATURES.with(Cell::get) {
            let empty: Vec<f32> = Vec::new();
            let _ = std::hint::black_box(&empty)[3]; // index out of bounds
        }
    }

    #[test]
    fn a_panic_outside_the_decoder_is_internal() {
        let analyzer = Analyzer::new(Config {
            embedding: None,
            ..Config::default()
        });
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/formats/wav_s16_11025_2ch.wav");
        PANIC_IN_FEATURES.with(|p| p.set(true));
        let track = analyzer.analyze_path(&path);
        PANIC_IN_FEATURES.with(|p| p.set(false));
        let error = track.record.error.expect("an error record");
        assert_eq!(error.kind, ErrorKind::Internal, "{}", error.message);
        assert!(error.message.contains("out of bounds"), "{}", error.message);
        // The same file analyses cleanly, and a panic in the decoder is still the input's.
        assert!(analyzer.analyze_path(&path).record.error.is_none());
        let track = analyzer.run("b.wav".into(), "4567".into(), None, || panic!("in open"));
        assert_eq!(track.record.error.unwrap().kind, ErrorKind::Corrupt);
    }

    #[test]
    fn a_panic_while_decoding_becomes_a_corrupt_record() {
        let analyzer = Analyzer::new(Config::default());
        let track = analyzer.run("upload.mp3".into(), "0123".into(), None, || {
            panic!("index out of bounds")
        });
        let error = track.record.error.expect("an error record");
        assert_eq!(error.kind, ErrorKind::Corrupt);
        assert!(
            error.message.contains("index out of bounds"),
            "{}",
            error.message
        );
        assert_eq!(track.record.id.as_deref(), Some("0123"));
        assert!(
            !panic_is_caught_here(),
            "the flag is reset after the analysis"
        );
    }
}
