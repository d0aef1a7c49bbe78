//! The pipeline for one track: decode → mono → 16 kHz → shared spectrogram → features → vector.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::audio::hashing::hashing_source;
use crate::audio::{AudioStream, MAX_SAMPLE_MAGNITUDE};
use crate::dsp::{SpectrogramConfig, SpectrogramPlan, StreamingSpectrogram};
use crate::embed::{Embedder, Model, ModelChoice, WeightsError};
use crate::error::{AnalysisError, ErrorKind, Result};
use crate::record::Record;
use crate::vector::{BlockWeights, VectorSpec};

mod extractors;
mod stream;

use extractors::Extractors;
pub use stream::StreamThreads;
use stream::{run as run_stream, Back, Front};

/// Inputs smaller than this run the embedding on at most [`SMALL_INPUT_EMBEDDING_S`] seconds of
/// evenly spaced patches, unless the configuration chooses how many itself.
///
/// Analysis costs time per second of audio, and the embedding most of it (85 % of 1000 s of
/// 8-bit noise at 1 kHz, a 1 MB WAV); a small input can hold a long stretch of audio honestly
/// (PCM at a low rate, speech codecs) or by a header's lie, so this is what bounds the cost of
/// an upload under 1 MB. An input this small holding more than 300 s of audio is under
/// 28 kbit/s; music at any usual bitrate never meets the cap.
pub const SMALL_INPUT_BYTES: u64 = 1 << 20;
/// See [`SMALL_INPUT_BYTES`]: 100 patches of 3 s.
pub const SMALL_INPUT_EMBEDDING_S: f64 = 300.0;

/// Settings of an [`Analyzer`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Tracks longer than this many seconds are rejected with `too_long` once decoding reaches it.
    pub max_duration_s: f64,
    /// The shared spectrogram (16 kHz, Hann 512, hop 256, 96 mel bands by default).
    pub spectrogram: SpectrogramConfig,
    /// Write the beat times (`tempo.beats_s`) into the record.
    pub beats: bool,
    /// The learned embedding (musicnn MSD by default); `None` skips it.
    pub embedding: Option<EmbeddingConfig>,
    /// Block weights of the content vector; `None` for those of `models/vector.json`.
    pub vector_weights: Option<BlockWeights>,
    /// Whether decoding and the native-rate meter run on threads of their own beside the
    /// features (the same record either way).
    pub stream_threads: StreamThreads,
}

impl Config {
    /// What this configuration's content vectors are made of (and so their `vector_version`).
    /// Hashes a model file (`ModelChoice::File`) to name it; an unreadable one, which no
    /// analyzer can load, falls back to its name.
    pub fn vector_spec(&self) -> VectorSpec {
        let model = self
            .embedding
            .as_ref()
            .map(|e| e.model.id().unwrap_or_else(|_| e.model.name()));
        VectorSpec::new(model, self.vector_weights)
    }
}

/// Which embedding model runs, and on how much of each track.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingConfig {
    pub model: ModelChoice,
    /// Analyse about this many seconds of evenly spaced 3 s patches instead of every patch.
    pub seconds: Option<f64>,
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        EmbeddingConfig {
            model: ModelChoice::Msd,
            seconds: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_duration_s: 6.0 * 3600.0,
            spectrogram: SpectrogramConfig::default(),
            beats: false,
            embedding: Some(EmbeddingConfig::default()),
            vector_weights: None,
            stream_threads: StreamThreads::Auto,
        }
    }
}

/// Wall-clock time spent in each stage of one analysis (for `bench` and profiling).
///
/// On one thread the stages do not overlap and add up to `total` (up to the few instructions
/// between the clocks); when decoding runs on a thread of its own (see [`StreamThreads`]),
/// `decode`, `resample` and the native-rate part of `descriptors` are that thread's time and
/// overlap the others. `descriptors` covers every feature other than tempo and the embedding: loudness,
/// spectral shape, chroma/key, the mel statistics and the content vector. `embedding` includes
/// the patches run in parallel on the rayon pool (wall time of this thread while it waits).
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimings {
    pub hash: Duration,
    pub decode: Duration,
    pub resample: Duration,
    pub spectrogram: Duration,
    pub descriptors: Duration,
    pub tempo: Duration,
    pub embedding: Duration,
    pub total: Duration,
    /// CPU time of the three threads of a pipelined stream: decoding, the native-rate meter and
    /// the features (the spectrogram's frames and the embedding's patches on the rayon pool
    /// not included); zero when the stream ran on one thread.
    pub stream_threads_cpu: [Duration; 3],
}

impl StageTimings {
    /// Every feature stage together: descriptors, tempo and beats, and the embedding.
    pub fn features(&self) -> Duration {
        self.descriptors + self.tempo + self.embedding
    }
}

impl std::ops::AddAssign for StageTimings {
    fn add_assign(&mut self, other: StageTimings) {
        self.hash += other.hash;
        self.decode += other.decode;
        self.resample += other.resample;
        self.spectrogram += other.spectrogram;
        self.descriptors += other.descriptors;
        self.tempo += other.tempo;
        self.embedding += other.embedding;
        self.total += other.total;
        for (a, b) in self
            .stream_threads_cpu
            .iter_mut()
            .zip(other.stream_threads_cpu)
        {
            *a += b;
        }
    }
}

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

/// True while the current thread is inside [`Analyzer`] (a panic here becomes an error record).
pub fn panic_is_caught_here() -> bool {
    ANALYSING.with(Cell::get)
}

/// The content id of `bytes`: the first 128 bits of their BLAKE3 hash, as 32 hex digits.
pub fn content_id(bytes: &[u8]) -> String {
    hex_id(blake3::hash(bytes))
}

/// The content id of the file at `path`, read in a stream.
pub fn content_id_of_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut file = open_regular_file(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex_id(hasher.finalize()))
}

fn hex_id(hash: blake3::Hash) -> String {
    hash.to_hex()[..32].to_string()
}

/// Opens `path` only if it is a regular file: a FIFO would block and a directory cannot be read.
fn open_regular_file(path: &Path) -> io::Result<File> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    File::open(path)
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
        let vector = VectorSpec::new(model.as_ref().map(|m| m.id.clone()), config.vector_weights);
        Ok(Analyzer {
            config,
            plan,
            model,
            vector,
        })
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
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut stream = in_decoder(open)?;
            self.analyze_stream(&mut stream, &mut record, &mut timings, input_bytes)
        }));
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
        let mut back = Back {
            analysis_rate: spectrogram_config.sample_rate,
            resampler: None,
            analysis: Vec::new(),
            spectrogram: StreamingSpectrogram::new(&self.plan),
            sinks: Extractors::new(
                &spectrogram_config,
                &self.config,
                self.vector.clone(),
                embedder,
            ),
            resample_time: Duration::ZERO,
            spectrogram_time: Duration::ZERO,
        };
        let front = Front::new(stream, self.config.max_duration_s);
        let front = run_stream(front, &mut back, self.config.stream_threads)?;
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
