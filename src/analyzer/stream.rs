//! The stream loop of one track, on one thread or as a pipeline of three.
//!
//! The loop has three parts that share no state:
//! - the front ([`Front`]): decoding;
//! - the meter ([`Meter`]): EBU R128 loudness, loudness range and true peak of the source
//!   channels, then the mono mixdown;
//! - the back ([`Back`]): the resampler to the analysis rate, the descriptors of the analysis
//!   signal, the shared spectrogram and every feature it feeds (the embedding's patches
//!   included).
//!
//! The front cuts the stream into batches: each [`Front::fill`] decodes chunks until the batch
//! holds at least [`MONO_BATCH_FRAMES`] frames or [`NATIVE_BATCH_SAMPLES`] source samples; the
//! meter measures the batch and mixes it down for the back. [`run`] either does all three on the
//! calling thread, batch after batch, or runs the front and the meter on threads of their own,
//! the batches passing through bounded channels (at most [`NATIVE_DEPTH`] source batches and
//! [`DEPTH`] mono ones in flight, their buffers recycled: at most 1.5 MiB and 3 MiB), so that
//! one long track keeps two cores busy even without the embedding. Both ways give each part the
//! very same batches, in order, and each part performs the same operations in the same order,
//! so the record is the same bit for bit.
//!
//! Why these three: decoding is sequential and, for FLAC, half the work of `--model none`
//! (`sonovec -j 1 bench`: 0.46 of 0.89 s on 684 s of FLAC); on Ogg Vorbis it is 41 % of the
//! instructions (callgrind, 112 s: decoding 894 M, the meter 294 M, resampling 267 M, the rest
//! of the back about 670 M, the spectrogram's frames among them). So the decoder gets a thread to
//! itself and does nothing else: on one long track at `-j 2` it is the busiest thread (52–55 % of
//! the samples of `perf record` on 954 s of FLAC, Ogg and MP3 with the mixdown on it), so the
//! mixdown goes to the meter, the lightest. The decoder bounds the pipeline, so nothing else
//! competes with it for a core when it can be helped: the back computes its spectrogram frames
//! itself rather than spreading them over the pool, and the meter thread runs at a lower
//! priority (see `priority`). Neither the front nor the meter uses the pool, so a thread blocked
//! on a full channel never holds up work that another waits for, whatever the pool's size; the
//! back, which may run on a pool thread, only ever waits for the meter, which only waits for
//! the front.
//!
//! Where even that thread bounds the stream (Opus, whose decoding is about 70 % of the work),
//! the front decodes in segments, shared with a helper thread of its own
//! ([`crate::audio::segments`]), when the analyzer judges a core free; the helper too only ever
//! waits for the front.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::time::{Duration, Instant};

use super::extractors::Extractors;
use super::{in_decoder, panic_error, IN_DECODER};
use crate::audio::{downmix_into, AudioStream, MonoResampler, Repairs};
use crate::bench::thread_cpu_time;
use crate::dsp::StreamingSpectrogram;
use crate::error::{AnalysisError, ErrorKind, Result};
use crate::features::loudness::R128Meter;

/// A batch ends once it holds this many frames (1.5 s at 44.1 kHz, 256 KiB of mono mix) …
/// Large, because every hand-over between threads may cost a wake-up: with 0.37 s batches
/// the pipelined stream took about 5 % more CPU time than one thread.
pub const MONO_BATCH_FRAMES: usize = 65_536;
/// … or this many source samples over all channels (512 KiB).
pub const NATIVE_BATCH_SAMPLES: usize = 131_072;
/// Mono batches in flight towards the back: 17.8 s at 44.1 kHz, longer than one block of the
/// spectrogram (16.4 s), so that the front and the meter go on while the back computes a block.
pub const DEPTH: usize = 12;
/// Native batches in flight towards the meter, which keeps an even pace.
pub const NATIVE_DEPTH: usize = 3;

/// How the stream loop of one track uses threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StreamThreads {
    /// A pipeline when the rayon pool the analysis runs in has at least two threads, else one
    /// thread; the environment variable `SONOVEC_STREAM_THREADS=1|3` overrides it (to compare).
    #[default]
    Auto,
    /// Everything on the calling thread.
    One,
    /// The front and the native-rate meter on threads of their own, the back on the caller's.
    Pipeline,
}

impl StreamThreads {
    /// Whether the stream runs as a pipeline here and now.
    pub(super) fn pipelined(self) -> bool {
        match self {
            StreamThreads::One => false,
            StreamThreads::Pipeline => true,
            StreamThreads::Auto => match std::env::var("SONOVEC_STREAM_THREADS").as_deref() {
                Ok("1") => false,
                Ok("3") => true,
                _ => rayon::current_num_threads() >= 2,
            },
        }
    }
}

/// Time spent in each part of the stream outside the back (on their own threads when
/// pipelined).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FrontTimings {
    pub decode: Duration,
    /// The mixdown, on the meter's thread when pipelined.
    pub mixdown: Duration,
    /// The native-rate meter.
    pub meter: Duration,
    /// CPU time of each thread of a pipelined stream (decoding, meter and mixdown, back), from
    /// the clock of each thread; zero on one thread. The busiest one bounds how much faster
    /// than one thread the track can run: whatever the load, a ratio other jobs do not stretch.
    pub threads_cpu: [Duration; 3],
}

/// The source channels of one batch's chunks, concatenated.
#[derive(Default)]
pub(super) struct NativeBatch {
    planar: Vec<Vec<f32>>,
    /// The stream's rate; `None` if the batch holds no chunk.
    rate: Option<u32>,
    /// The stream has ended with this batch.
    last: bool,
}

impl NativeBatch {
    fn clear(&mut self) {
        self.planar.iter_mut().for_each(Vec::clear);
        (self.rate, self.last) = (None, false);
    }

    fn frames(&self) -> usize {
        self.planar.first().map_or(0, Vec::len)
    }

    fn samples(&self) -> usize {
        self.planar.iter().map(Vec::len).sum()
    }
}

/// The mono mix of one batch at the source rate, for the back.
#[derive(Default)]
pub(super) struct MonoBatch {
    samples: Vec<f32>,
    /// The stream's rate; `None` if the batch holds no sample.
    rate: Option<u32>,
    /// The stream has ended with this batch.
    last: bool,
}

/// The native-rate meter and the mixdown: what each batch goes through between the front and
/// the back, on one thread or the other.
#[derive(Default)]
struct Meter {
    loudness: R128Meter,
    repairs: Repairs,
    meter_time: Duration,
    mixdown_time: Duration,
}

impl Meter {
    /// Measures `native`, then mixes it down into `mono`: the same calls, in the same order,
    /// on either thread.
    fn take(&mut self, native: &NativeBatch, mono: &mut MonoBatch) {
        let clock = Instant::now();
        // A batch with a rate holds at least one chunk, of at least one channel.
        if let Some(rate) = native.rate {
            self.loudness.accept(&native.planar, rate);
        }
        let measured = Instant::now();
        // The mix is per frame, so a batch's is its chunks' mixes end to end.
        self.repairs += downmix_into(&native.planar, &mut mono.samples);
        (mono.rate, mono.last) = (native.rate, native.last);
        self.meter_time += measured - clock;
        self.mixdown_time += measured.elapsed();
    }
}

/// Decoding of one stream, cut into batches.
pub(super) struct Front<'s> {
    stream: &'s mut AudioStream,
    max_duration_s: f64,
    /// Rate and channel count of the stream's first chunk.
    format: Option<(u32, usize)>,
    timings: FrontTimings,
    ended: bool,
}

/// What the front and the meter leave when the stream has ended.
pub(super) struct FrontDone {
    pub loudness: R128Meter,
    pub repairs: Repairs,
    pub timings: FrontTimings,
}

impl<'s> Front<'s> {
    pub fn new(stream: &'s mut AudioStream, max_duration_s: f64) -> Self {
        Front {
            stream,
            max_duration_s,
            format: None,
            timings: FrontTimings::default(),
            ended: false,
        }
    }

    /// Decodes the next chunks into one batch, their channels appended to `native`'s, until it
    /// holds [`MONO_BATCH_FRAMES`] frames or [`NATIVE_BATCH_SAMPLES`] samples or the stream
    /// ends. Returns whether more may follow.
    fn fill(&mut self, native: &mut NativeBatch) -> Result<bool> {
        while !self.ended
            && native.frames() < MONO_BATCH_FRAMES
            && native.samples() < NATIVE_BATCH_SAMPLES
        {
            let clock = Instant::now();
            let chunk = in_decoder(|| self.stream.next_chunk())?;
            self.timings.decode += clock.elapsed();
            let Some(chunk) = chunk else {
                self.ended = true;
                break;
            };
            let rate = chunk.sample_rate;
            if chunk.frames_decoded as f64 > self.max_duration_s * rate as f64 {
                return Err(AnalysisError::new(
                    ErrorKind::TooLong,
                    format!(
                        "longer than the limit of {} s (raise it with --max-duration)",
                        self.max_duration_s
                    ),
                ));
            }
            let format = (rate, chunk.planar.len());
            if *self.format.get_or_insert(format) != format {
                // AudioStream ends a stream whose format changes, so this is a bug of ours.
                return Err(AnalysisError::new(
                    ErrorKind::Internal,
                    "the decoded stream changed its rate or channel count midway",
                ));
            }
            native.rate = Some(rate);
            native.planar.resize_with(format.1, Vec::new);
            for (all, c) in native.planar.iter_mut().zip(chunk.planar) {
                all.extend_from_slice(c);
            }
        }
        native.last = self.ended;
        Ok(!self.ended)
    }

    fn done(self, meter: Meter) -> FrontDone {
        FrontDone {
            loudness: meter.loudness,
            repairs: meter.repairs,
            timings: FrontTimings {
                meter: meter.meter_time,
                mixdown: meter.mixdown_time,
                ..self.timings
            },
        }
    }
}

/// The features of the analysis signal: the resampler to the analysis rate, the signal's own
/// descriptors, then the spectrogram and its sinks.
pub(super) struct Back<'p, 'm> {
    pub analysis_rate: u32,
    /// Made from the rate of the stream's first chunk; `None` until a chunk arrives.
    pub resampler: Option<MonoResampler>,
    pub analysis: Vec<f32>,
    pub spectrogram: StreamingSpectrogram<'p>,
    pub sinks: Extractors<'m>,
    pub resample_time: Duration,
    /// Time in the spectrogram, its calls to the sinks included.
    pub spectrogram_time: Duration,
}

impl Back<'_, '_> {
    /// The next batch of the mono mix, in order: resampled, then analysed.
    fn accept(&mut self, batch: &MonoBatch) -> Result<()> {
        let clock = Instant::now();
        if let (None, Some(rate)) = (&self.resampler, batch.rate) {
            self.resampler = Some(MonoResampler::new(rate, self.analysis_rate)?);
        }
        let Some(resampler) = &mut self.resampler else {
            return Ok(());
        };
        self.analysis.clear();
        resampler.push(&batch.samples, &mut self.analysis);
        if batch.last {
            resampler.finish(&mut self.analysis);
        }
        self.resample_time += clock.elapsed();

        #[cfg(test)]
        super::tests::maybe_panic_in_features();
        self.sinks.accept_signal(&self.analysis);
        let clock = Instant::now();
        self.spectrogram.push(&self.analysis, &mut self.sinks);
        self.spectrogram_time += clock.elapsed();
        Ok(())
    }
}

/// Streams the whole of `front` through the meter and the mixdown, then `back`, as a pipeline
/// of three threads or on the calling thread. A pipelined back computes its spectrogram on its
/// own thread ([`StreamingSpectrogram::parallel_frames`]).
pub(super) fn run(front: Front<'_>, back: &mut Back<'_, '_>, pipelined: bool) -> Result<FrontDone> {
    if pipelined {
        run_pipelined(front, back)
    } else {
        run_serial(front, back)
    }
}

fn run_serial(mut front: Front<'_>, back: &mut Back<'_, '_>) -> Result<FrontDone> {
    let mut meter = Meter::default();
    let mut native = NativeBatch::default();
    let mut mono = MonoBatch::default();
    loop {
        native.clear();
        let more = front.fill(&mut native)?;
        meter.take(&native, &mut mono);
        back.accept(&mono)?;
        if !more {
            return Ok(front.done(meter));
        }
    }
}

/// A batch, or why the front stopped.
type Message<T> = Result<T>;

fn run_pipelined(front: Front<'_>, back: &mut Back<'_, '_>) -> Result<FrontDone> {
    let start_failed = |e: std::io::Error| {
        AnalysisError::new(
            ErrorKind::Internal,
            format!("could not start a thread of the stream: {e}"),
        )
    };
    std::thread::scope(|scope| {
        // Made inside the scope: if the back panics, unwinding drops `received`, the meter's
        // next send fails, its thread ends and drops the front's receiver, so the front's
        // thread ends too and the scope can join both.
        let (batches, received) = sync_channel::<Message<MonoBatch>>(DEPTH);
        let (recycle, recycled) = channel::<MonoBatch>();
        let (natives, native_received) = sync_channel::<Message<NativeBatch>>(NATIVE_DEPTH);
        let (native_recycle, native_recycled) = channel::<NativeBatch>();
        let meter = std::thread::Builder::new()
            .name("sonovec-meter".into())
            .spawn_scoped(scope, move || {
                meter_thread(native_received, native_recycle, batches, recycled)
            })
            .map_err(start_failed)?;
        let producer = std::thread::Builder::new()
            .name("sonovec-decode".into())
            .spawn_scoped(scope, move || front_thread(front, natives, native_recycled))
            .map_err(start_failed)?;
        let back_cpu = thread_cpu_time();
        let mut failure = None;
        for message in received.iter() {
            let accepted = message.and_then(|batch| {
                let accepted = back.accept(&batch);
                // The meter may have ended already: then the buffer is simply dropped.
                let _ = recycle.send(batch);
                accepted
            });
            if let Err(e) = accepted {
                failure = Some(e);
                break;
            }
        }
        drop(received);
        let back_cpu = thread_cpu_time().saturating_sub(back_cpu);
        let front = producer
            .join()
            .map_err(|payload| panic_error(false, &payload))?;
        let meter = meter
            .join()
            .map_err(|payload| panic_error(false, &payload))?;
        if let Some(e) = failure {
            return Err(e);
        }
        let (meter, meter_cpu) = meter?;
        match front {
            Some(front) => {
                let mut done = front.done(meter);
                done.timings.threads_cpu[1] = meter_cpu;
                done.timings.threads_cpu[2] = back_cpu;
                Ok(done)
            }
            None => Err(AnalysisError::new(
                ErrorKind::Internal,
                "the decoding thread stopped without a reason",
            )),
        }
    })
}

/// The front's thread: fills batches and sends them on until the stream ends or fails, or the
/// meter is gone. A failure or a panic is sent on as the last message, classified as on the
/// caller's thread (a panic inside the decoder is the input's fault). Returns the front when
/// the stream has ended.
fn front_thread<'s>(
    mut front: Front<'s>,
    natives: SyncSender<Message<NativeBatch>>,
    recycled: Receiver<NativeBatch>,
) -> Option<Front<'s>> {
    // The panic hook stays quiet about panics caught here, as on the analysing thread.
    super::ANALYSING.with(|a| a.set(true));
    IN_DECODER.with(|d| d.set(false));
    let cpu = thread_cpu_time();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| loop {
        let mut native = recycled.try_recv().unwrap_or_default();
        native.clear();
        match front.fill(&mut native) {
            Ok(more) => {
                if natives.send(Ok(native)).is_err() {
                    return false;
                }
                if !more {
                    return true;
                }
            }
            Err(e) => {
                let _ = natives.send(Err(e));
                return false;
            }
        }
    }));
    front.timings.threads_cpu[0] = thread_cpu_time().saturating_sub(cpu);
    match outcome {
        Ok(true) => Some(front),
        Ok(false) => None,
        Err(payload) => {
            let in_decoder = IN_DECODER.with(|d| d.replace(false));
            let _ = natives.send(Err(panic_error(in_decoder, &payload)));
            None
        }
    }
}

/// The meter's thread: measures and mixes down every batch and hands the mix to the back, until
/// the front hangs up; the front's failure is passed on as it comes. A panic here (a bug of
/// ours) is an `internal` error.
fn meter_thread(
    received: Receiver<Message<NativeBatch>>,
    native_recycle: Sender<NativeBatch>,
    batches: SyncSender<Message<MonoBatch>>,
    recycled: Receiver<MonoBatch>,
) -> Result<(Meter, Duration)> {
    super::ANALYSING.with(|a| a.set(true));
    priority::lower_this_thread(priority::METER_NICE_INCREMENT);
    let cpu = thread_cpu_time();
    panic::catch_unwind(AssertUnwindSafe(|| {
        let mut meter = Meter::default();
        for message in received.iter() {
            let forwarded = match message {
                Ok(native) => {
                    let mut mono = recycled.try_recv().unwrap_or_default();
                    meter.take(&native, &mut mono);
                    let _ = native_recycle.send(native);
                    batches.send(Ok(mono))
                }
                Err(e) => batches.send(Err(e)),
            };
            if forwarded.is_err() {
                // The back has stopped: dropping `received` stops the front in turn.
                break;
            }
        }
        (meter, thread_cpu_time().saturating_sub(cpu))
    }))
    .map_err(|payload| panic_error(false, &payload))
}

mod priority;
#[cfg(test)]
mod tests;
