//! Criterion micro-benchmarks of the spine's three stages, each on a fixed input:
//!
//! - `decode/*`: a bundled sample (held in memory) decoded to planar `f32` with [`AudioStream`];
//!   elements are frames (samples per channel), so elements/s ÷ 44 100 is x-realtime.
//! - `spectrogram/*`: 30 s of a synthetic 16 kHz signal through [`StreamingSpectrogram`] into a
//!   sink that discards the blocks, on rayon's global pool and on a one-thread pool; elements are
//!   16 kHz samples, so elements/s ÷ 16 000 is x-realtime.
//! - `resample/*`: 30 s of 44.1 kHz mono through [`MonoResampler`] to 16 kHz, pushed in
//!   1152-frame pieces (one MP3 packet) as the analyzer does; elements are input samples, so
//!   elements/s ÷ 44 100 is x-realtime. `resample/downmix_only_*` times the stereo → mono mixdown
//!   ([`downmix_into`]) on its own.
//!
//! `cargo bench --bench spine` runs everything in well under a minute (short warm-up and
//! measurement times); criterion's usual filters and flags work (`cargo bench --bench spine -- decode`).

use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sonovec::audio::{downmix_into, AudioStream, MonoResampler};
use sonovec::dsp::{
    FrameSink, SpectrogramBlock, SpectrogramConfig, SpectrogramPlan, StreamingSpectrogram,
};

const SECONDS: usize = 30;
const ANALYSIS_RATE: u32 = 16_000;
const SOURCE_RATE: u32 = 44_100;

/// Decodes a whole in-memory file; returns the frames decoded.
fn decode_all(bytes: &Arc<[u8]>, ext: &str) -> u64 {
    let source = Box::new(Cursor::new(Arc::clone(bytes)));
    let mut stream = AudioStream::open(source, Some(ext)).expect("bundled sample opens");
    let mut frames = 0u64;
    while let Some(chunk) = stream.next_chunk().expect("bundled sample decodes") {
        frames += chunk.planar[0].len() as u64;
        black_box(chunk.planar);
    }
    frames
}

fn bench_decode(c: &mut Criterion) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut group = c.benchmark_group("decode");
    for (name, ext) in [("hiphop_92.mp3", "mp3"), ("fourfloor_120.flac", "flac")] {
        let bytes: Arc<[u8]> = std::fs::read(samples.join(name))
            .unwrap_or_else(|e| panic!("samples/{name}: {e}"))
            .into();
        let frames = decode_all(&bytes, ext);
        group.throughput(Throughput::Elements(frames));
        group.bench_function(name, |b| b.iter(|| decode_all(&bytes, ext)));
    }
    group.finish();
}

/// A deterministic, broadband test signal: two chirping sines plus xorshift noise.
fn synthetic(rate: u32, seconds: usize) -> Vec<f32> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..rate as usize * seconds)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let t = i as f32 / rate as f32;
            0.4 * (2.0 * std::f32::consts::PI * (220.0 + 40.0 * t) * t).sin()
                + 0.2 * (2.0 * std::f32::consts::PI * 3000.0 * t).sin()
                + 0.1 * noise
        })
        .collect()
}

/// Counts frames and otherwise throws the spectrogram away.
#[derive(Default)]
struct Discard {
    frames: usize,
}

impl FrameSink for Discard {
    fn accept(&mut self, block: &SpectrogramBlock<'_>) {
        self.frames += block.n_frames;
        black_box(block.mel);
    }
}

fn spectrogram_of(plan: &SpectrogramPlan, signal: &[f32]) -> usize {
    let mut stft = StreamingSpectrogram::new(plan);
    let mut sink = Discard::default();
    // About what the resampler hands over per 4 410-frame block at 44.1 kHz.
    for piece in signal.chunks(1600) {
        stft.push(piece, &mut sink);
    }
    stft.finish(&mut sink)
}

fn bench_spectrogram(c: &mut Criterion) {
    let plan = SpectrogramPlan::new(SpectrogramConfig::default());
    let signal = synthetic(ANALYSIS_RATE, SECONDS);
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let mut group = c.benchmark_group("spectrogram");
    group.throughput(Throughput::Elements(signal.len() as u64));
    group.bench_function(
        format!("30s_16k_mel/{}threads", rayon::current_num_threads()),
        |b| b.iter(|| spectrogram_of(&plan, &signal)),
    );
    group.bench_function("30s_16k_mel/1thread", |b| {
        b.iter(|| single.install(|| spectrogram_of(&plan, &signal)))
    });
    group.finish();
}

fn bench_resample(c: &mut Criterion) {
    let mono = synthetic(SOURCE_RATE, SECONDS);
    let stereo = [mono.clone(), mono.iter().map(|x| -0.5 * x).collect()];
    let mut group = c.benchmark_group("resample");
    group.throughput(Throughput::Elements(mono.len() as u64));
    group.bench_function("30s_44k1_to_16k", |b| {
        let mut out = Vec::with_capacity(SECONDS * ANALYSIS_RATE as usize + 4096);
        b.iter(|| {
            out.clear();
            let mut r = MonoResampler::new(SOURCE_RATE, ANALYSIS_RATE).expect("44.1k → 16k");
            for piece in mono.chunks(1152) {
                r.push(piece, &mut out);
            }
            r.finish(&mut out);
            black_box(out.len())
        })
    });
    // The same with the stereo → mono mixdown in front, as the analyzer runs it.
    group.bench_function("30s_44k1_stereo_downmix_to_16k", |b| {
        let (mut out, mut mix) = (Vec::new(), Vec::new());
        let mut planar = vec![Vec::new(), Vec::new()];
        b.iter(|| {
            out.clear();
            let mut r = MonoResampler::new(SOURCE_RATE, ANALYSIS_RATE).expect("44.1k → 16k");
            for (left, right) in stereo[0].chunks(1152).zip(stereo[1].chunks(1152)) {
                planar[0].clear();
                planar[0].extend_from_slice(left);
                planar[1].clear();
                planar[1].extend_from_slice(right);
                downmix_into(&planar, &mut mix);
                r.push(&mix, &mut out);
            }
            r.finish(&mut out);
            black_box(out.len())
        })
    });
    // The mixdown alone, in the same 1152-frame packets.
    group.bench_function("downmix_only_30s_44k1_stereo", |b| {
        let mut mix = Vec::new();
        let packets: Vec<[Vec<f32>; 2]> = stereo[0]
            .chunks(1152)
            .zip(stereo[1].chunks(1152))
            .map(|(l, r)| [l.to_vec(), r.to_vec()])
            .collect();
        b.iter(|| {
            for planar in &packets {
                black_box(downmix_into(planar, &mut mix));
            }
            black_box(mix.len())
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3))
        .nresamples(20_000)
}

criterion_group! {
    name = spine;
    config = config();
    targets = bench_decode, bench_spectrogram, bench_resample
}
criterion_main!(spine);
