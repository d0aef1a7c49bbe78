//! Decodes a file with sonovec's own decoder, mixes it to mono and resamples it to 16 kHz with
//! [`MonoResampler`], so that `scripts/compare_resampler.py` can hold the resampler alone against
//! python-soxr on the very same native-rate samples, and so its CPU cost can be measured.
//!
//!     cargo run --release --example resample_file -- IN.ogg OUT_PREFIX [REPEAT]
//!
//! Writes `OUT_PREFIX.native.f32` (mono mix at the source rate) and `OUT_PREFIX.16k.f32`
//! (little-endian f32), and prints one JSON line: the rate, the sample counts and the thread CPU
//! seconds spent in the resampler (summed over REPEAT runs over the same samples, default 1).

use std::io::Write;

use sonovec::audio::{downmix_into, AudioStream, MonoResampler};

fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn write_f32(path: &str, samples: &[f32]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for x in samples {
        out.write_all(&x.to_le_bytes()).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: resample_file IN OUT_PREFIX [REPEAT]");
        std::process::exit(2);
    }
    let repeat: usize = args.get(2).map_or(1, |r| r.parse().unwrap());
    let path = std::path::Path::new(&args[0]);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_string);
    let file = std::fs::File::open(path).unwrap();
    let mut stream = AudioStream::open(Box::new(file), ext.as_deref()).unwrap();
    // Keep each decoded packet as one push, as the analyser does.
    let (mut chunks, mut rate) = (Vec::new(), 0);
    while let Some(chunk) = stream.next_chunk().unwrap() {
        rate = chunk.sample_rate;
        let mut mono = Vec::new();
        downmix_into(chunk.planar, &mut mono);
        chunks.push(mono);
    }
    let native: Vec<f32> = chunks.concat();
    let mut output = Vec::new();
    let mut cpu = 0.0;
    for _ in 0..repeat {
        output.clear();
        let started = thread_cpu_seconds();
        let mut resampler = MonoResampler::new(rate, 16_000).unwrap();
        for chunk in &chunks {
            resampler.push(chunk, &mut output);
        }
        resampler.finish(&mut output);
        cpu += thread_cpu_seconds() - started;
    }
    write_f32(&format!("{}.native.f32", args[1]), &native);
    write_f32(&format!("{}.16k.f32", args[1]), &output);
    println!(
        "{{\"rate\": {rate}, \"n_in\": {}, \"n_out\": {}, \"repeat\": {repeat}, \"resample_cpu_s\": {cpu:.6}}}",
        native.len(),
        output.len()
    );
}
