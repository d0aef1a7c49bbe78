//! Decodes one file with sonovec's decoder and writes the native-rate samples as a 32-bit float
//! WAV, so `scripts/check_decode.py` can compare them with a reference decoder's output.
//!
//! ```sh
//! cargo run --release --example decode_dump -- in.ogg out.wav
//! ```
//!
//! The decoder's warnings go to stderr, one per line, prefixed `warning:`.

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use sonovec::audio::AudioStream;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        eprintln!("usage: decode_dump IN OUT.wav");
        return ExitCode::from(2);
    };
    match dump(input, output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn dump(input: &str, output: &str) -> Result<(), String> {
    let file = File::open(input).map_err(|e| format!("{input}: {e}"))?;
    let ext = std::path::Path::new(input)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let mut stream =
        AudioStream::open(Box::new(file), ext.as_deref()).map_err(|e| e.to_string())?;
    let mut writer: Option<hound::WavWriter<BufWriter<File>>> = None;
    while let Some(chunk) = stream.next_chunk().map_err(|e| e.to_string())? {
        let writer = match &mut writer {
            Some(w) => w,
            None => {
                let spec = hound::WavSpec {
                    channels: chunk.planar.len() as u16,
                    sample_rate: chunk.sample_rate,
                    bits_per_sample: 32,
                    sample_format: hound::SampleFormat::Float,
                };
                writer.insert(hound::WavWriter::create(output, spec).map_err(|e| e.to_string())?)
            }
        };
        let frames = chunk.planar[0].len();
        for i in 0..frames {
            for channel in chunk.planar {
                writer.write_sample(channel[i]).map_err(|e| e.to_string())?;
            }
        }
    }
    for warning in stream.warnings() {
        eprintln!("warning: {warning}");
    }
    match writer {
        Some(w) => w.finalize().map_err(|e| e.to_string()),
        None => Err("no audio decoded".into()),
    }
}
