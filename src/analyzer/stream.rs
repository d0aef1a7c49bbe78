//! The stream loop of one track, on one thread or as a pipeline of three.
//!
//! The loop has three parts that share no state:
//! - the front ([`Front`]): decoding and the mono mixdown;
//! - the native-rate meter: EBU R128 loudness, loudness range and true peak of the source
//!   channels, fed with copies of the decoded chunks;
//! - the back ([`Back`]): the resampler to the analysis rate, the descriptors of the analysis
//!   signal, the shared spectrogram and every feature it feeds (the embedding's patches
//!   included).
//!
//! The front cuts the stream into batches: each [`Front::fill`] decodes chunks until the batch
//! holds at least [`MONO_BATCH_FRAMES`] frames or [`NATIVE_BATCH_SAMPLES`] source samples, and
//! gives the meter and the back their part of it. [`run`] either feeds both on the calling
//! thread, batch after batch, or runs the front and the meter on threads of their own, the
//! batches passing through bounded channels (at most [`DEPTH`] mono batches and
//! [`NATIVE_DEPTH`] native ones in flight, their buffers recycled: at most 3 MiB and 1.5 MiB),
//! so that one long track keeps two cores busy even without the embedding. Both ways give the
//! meter and the back the very same batches, in order, and each part performs the same
//! operations in the same order, so the record is the same bit for bit.
//!
//! Why these three: decoding is sequential and, for FLAC, half the work of `--model none`
//! (`sonovec -j 1 bench`: 0.46 of 0.89 s on 684 s of FLAC); on Ogg Vorbis it is 41 % of the
//! instructions (callgrind, 112 s: decoding 894 M, the meter 294 M, resampling 267 M, the rest
//! of the back about 670 M, the spectrogram's frames among them, which the back already spreads
//! over the rayon pool). So the decoder gets a thread to itself and everything else goes where
//! it balances it. Neither the front nor the meter uses the pool, so a thread blocked on a full
//! channel never holds up work that another waits for, whatever the pool's size; the back,
//! which may run on a pool thread, only ever waits for the front.

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
/// spectrogram (16.4 s), so that the front goes on while the back computes a block.
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
    fn pipelined(self) -> bool {
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
    pub mixdown: Duration,
    /// The native-rate meter.
    pub meter: Duration,
    /// CPU time of each thread of a pipelined stream (decoding, meter, back), from the clock
    /// of each thread; zero on one thread. The busiest one bounds how much faster than one
    /// thread the track can run: whatever the load, a ratio other jobs do not stretch.
    pub threads_cpu: [Duration; 3],
}

/// The source channels of one batch's chunks, concatenated, for the native-rate meter.
#[derive(Default)]
pub(super) struct NativeBatch {
    planar: Vec<Vec<f32>>,
    rate: u32,
    /// A chunk of another rate or channel count than the stream's first has arrived: the meter
    /// stops (no chunk of it, or after it, is in the batch).
    changed: bool,
}

impl MonoBatch {
    fn clear(&mut self) {
        self.samples.clear();
        (self.rate, self.last) = (None, false);
    }
}

impl NativeBatch {
    fn clear(&mut self) {
        self.planar.iter_mut().for_each(Vec::clear);
        self.changed = false;
    }

    fn samples(&self) -> usize {
        self.planar.iter().map(Vec::len).sum()
    }
}

/// Feeds `batch` to `meter`: the same calls, in the same order, on either thread.
fn measure(meter: &mut R128Meter, batch: &NativeBatch, spent: &mut Duration) {
    let clock = Instant::now();
    if !batch.planar.is_empty() {
        meter.accept(&batch.planar, batch.rate);
    }
    if batch.changed {
        meter.format_changed();
    }
    *spent += clock.elapsed();
}

/// The mono mix of one batch's chunks at the source rate, for the back.
#[derive(Default)]
pub(super) struct MonoBatch {
    samples: Vec<f32>,
    /// The rate of the batch's first chunk; `None` if it holds none.
    rate: Option<u32>,
    /// The stream has ended with this batch.
    last: bool,
}

/// Decoding and mixdown of one stream, cut into batches.
pub(super) struct Front<'s> {
    stream: &'s mut AudioStream,
    max_duration_s: f64,
    /// Rate and channel count of the stream's first chunk, and whether a later one differed.
    native_format: Option<(u32, usize)>,
    native_changed: bool,
    mono: Vec<f32>,
    repairs: Repairs,
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
            native_format: None,
            native_changed: false,
            mono: Vec::new(),
            repairs: Repairs::default(),
            timings: FrontTimings::default(),
            ended: false,
        }
    }

    /// Decodes the next chunks into one batch: their mono mix appended to `mono`, their source
    /// channels to `native`, until either is full or the stream ends. Returns whether more may
    /// follow.
    fn fill(&mut self, mono: &mut MonoBatch, native: &mut NativeBatch) -> Result<bool> {
        while !self.ended
            && mono.samples.len() < MONO_BATCH_FRAMES
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

            // The meter's copy, as long as the stream keeps the format it started with.
            let channels = chunk.planar.len();
            if channels > 0 && !self.native_changed {
                let format = *self.native_format.get_or_insert((rate, channels));
                if format == (rate, channels) {
                    native.rate = rate;
                    native.planar.resize_with(channels, Vec::new);
                    for (all, c) in native.planar.iter_mut().zip(chunk.planar) {
                        all.extend_from_slice(c);
                    }
                } else {
                    self.native_changed = true;
                }
            }
            native.changed |= self.native_changed;

            let clock = Instant::now();
            self.repairs += downmix_into(chunk.planar, &mut self.mono);
            mono.samples.extend_from_slice(&self.mono);
            mono.rate.get_or_insert(rate);
            self.timings.mixdown += clock.elapsed();
        }
        mono.last = self.ended;
        Ok(!self.ended)
    }

    fn done(self, loudness: R128Meter, meter_time: Duration) -> FrontDone {
        FrontDone {
            loudness,
            repairs: self.repairs,
            timings: FrontTimings {
                meter: meter_time,
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

/// Streams the whole of `front` through the native-rate meter and `back`, pipelined or not as
/// `threads` says.
pub(super) fn run(
    front: Front<'_>,
    back: &mut Back<'_, '_>,
    threads: StreamThreads,
) -> Result<FrontDone> {
    if threads.pipelined() {
        run_pipelined(front, back)
    } else {
        run_serial(front, back)
    }
}

fn run_serial(mut front: Front<'_>, back: &mut Back<'_, '_>) -> Result<FrontDone> {
    let mut meter = R128Meter::new();
    let mut meter_time = Duration::ZERO;
    let mut mono = MonoBatch::default();
    let mut native = NativeBatch::default();
    loop {
        mono.clear();
        native.clear();
        let more = front.fill(&mut mono, &mut native)?;
        measure(&mut meter, &native, &mut meter_time);
        back.accept(&mono)?;
        if !more {
            return Ok(front.done(meter, meter_time));
        }
    }
}

/// A batch of the mono mix, or why the front stopped.
type Message = Result<MonoBatch>;

fn run_pipelined(front: Front<'_>, back: &mut Back<'_, '_>) -> Result<FrontDone> {
    let start_failed = |e: std::io::Error| {
        AnalysisError::new(
            ErrorKind::Internal,
            format!("could not start a thread of the stream: {e}"),
        )
    };
    std::thread::scope(|scope| {
        // Made inside the scope: if the back panics, unwinding drops `received`, the front's
        // next send fails, its thread ends and drops the meter's sender, so the meter's thread
        // ends too and the scope can join both.
        let (batches, received) = sync_channel::<Message>(DEPTH);
        let (recycle, recycled) = channel::<MonoBatch>();
        let (natives, native_received) = sync_channel::<NativeBatch>(NATIVE_DEPTH);
        let (native_recycle, native_recycled) = channel::<NativeBatch>();
        let meter = std::thread::Builder::new()
            .name("sonovec-meter".into())
            .spawn_scoped(scope, move || meter_thread(native_received, native_recycle))
            .map_err(start_failed)?;
        let producer = std::thread::Builder::new()
            .name("sonovec-decode".into())
            .spawn_scoped(scope, move || {
                front_thread(front, batches, recycled, natives, native_recycled)
            })
            .map_err(start_failed)?;
        let back_cpu = thread_cpu_time();
        let mut failure = None;
        for message in received.iter() {
            let accepted = message.and_then(|batch| {
                let accepted = back.accept(&batch);
                // The front may have ended already: then the buffer is simply dropped.
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
        let (loudness, meter_time, meter_cpu) = meter?;
        match front {
            Some(front) => {
                let mut done = front.done(loudness, meter_time);
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
/// back or the meter is gone. A failure or a panic is sent to the back as the last message,
/// classified as on the caller's thread (a panic inside the decoder is the input's fault).
/// Returns the front when the stream has ended.
fn front_thread<'s>(
    mut front: Front<'s>,
    batches: SyncSender<Message>,
    recycled: Receiver<MonoBatch>,
    natives: SyncSender<NativeBatch>,
    native_recycled: Receiver<NativeBatch>,
) -> Option<Front<'s>> {
    // The panic hook stays quiet about panics caught here, as on the analysing thread.
    super::ANALYSING.with(|a| a.set(true));
    IN_DECODER.with(|d| d.set(false));
    let cpu = thread_cpu_time();
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| loop {
        let mut mono = recycled.try_recv().unwrap_or_default();
        let mut native = native_recycled.try_recv().unwrap_or_default();
        mono.clear();
        native.clear();
        match front.fill(&mut mono, &mut native) {
            Ok(more) => {
                if natives.send(native).is_err() || batches.send(Ok(mono)).is_err() {
                    return false;
                }
                if !more {
                    return true;
                }
            }
            Err(e) => {
                let _ = batches.send(Err(e));
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
            let _ = batches.send(Err(panic_error(in_decoder, &payload)));
            None
        }
    }
}

/// The meter's thread: measures every native batch until the front hangs up. A panic of the
/// meter (a bug of ours) is an `internal` error.
fn meter_thread(
    received: Receiver<NativeBatch>,
    recycle: Sender<NativeBatch>,
) -> Result<(R128Meter, Duration, Duration)> {
    super::ANALYSING.with(|a| a.set(true));
    let cpu = thread_cpu_time();
    panic::catch_unwind(AssertUnwindSafe(|| {
        let mut meter = R128Meter::new();
        let mut spent = Duration::ZERO;
        for batch in received.iter() {
            measure(&mut meter, &batch, &mut spent);
            let _ = recycle.send(batch);
        }
        (meter, spent, thread_cpu_time().saturating_sub(cpu))
    }))
    .map_err(|payload| panic_error(false, &payload))
}

#[cfg(test)]
mod tests;
