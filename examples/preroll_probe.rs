//! How many packets of pre-roll a fresh decoder needs before its samples equal those of one
//! decoder that ran from the start: the measurement behind the pre-rolls of
//! `src/audio/segments.rs`.
//!
//! ```sh
//! cargo run --release --example preroll_probe -- FILE [EVERY] [PREROLLS] [CHECK]
//! cargo run --release --example preroll_probe -- long.opus 250 16,24,32,40,48 60
//! ```
//!
//! Every `EVERY` packets (default 4000) a fresh decoder decodes `P` packets before the boundary,
//! for each `P` of `PREROLLS` (default 0,1,2,3,4,8,16,32,64,128,256), then the `CHECK` packets
//! after it (default 200). One line per boundary: for each `P`, `exact` if every sample of those
//! packets has the bits of the one decoder's, else the largest difference and the last packet
//! that differs. The same decoders as sonovec's (libopus for Opus, nanomp3 for MP3).

use std::io::Write;
use std::process::ExitCode;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: preroll_probe FILE [EVERY] [PREROLLS] [CHECK]");
        return ExitCode::from(2);
    };
    let every: usize = args
        .get(1)
        .map_or(Some(4000), |s| s.parse().ok())
        .unwrap_or(4000);
    let prerolls: Vec<usize> = args
        .get(2)
        .map_or("0,1,2,3,4,8,16,32,64,128,256", |s| s)
        .split(',')
        .filter_map(|p| p.parse().ok())
        .collect();
    let check: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    match probe(path, every.max(1), &prerolls, check.max(1)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn probe(path: &str, every: usize, prerolls: &[usize], check: usize) -> Result<(), String> {
    let mut registry = CodecRegistry::new();
    symphonia::default::register_enabled_codecs(&mut registry);
    registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
    registry.register_audio_decoder::<sonovec::audio::mp3::Mp3Decoder>();
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = std::path::Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
    {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| e.to_string())?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or("no audio track")?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or("no codec parameters")?
        .clone();
    let track_id = track.id;
    let mut packets = Vec::new();
    while let Ok(Some(packet)) = format.next_packet() {
        if packet.track_id == track_id {
            packets.push(packet);
        }
    }
    let decoder = || {
        registry
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| e.to_string())
    };
    let whole = decode_all(decoder()?.as_mut(), &packets);
    let mut out = std::io::stdout().lock();
    let mut say = |line: String| writeln!(out, "{line}").is_ok();
    if !say(format!("{} packets", packets.len())) {
        return Ok(());
    }
    let mut boundary = every;
    while boundary + check < packets.len() {
        let mut line = format!("packet {boundary}:");
        for &preroll in prerolls.iter().filter(|&&p| p <= boundary) {
            let fresh = decode_all(
                decoder()?.as_mut(),
                &packets[boundary - preroll..boundary + check],
            );
            let (mut largest, mut last) = (0f32, None);
            for i in 0..check {
                let (a, b) = (&fresh[preroll + i], &whole[boundary + i]);
                let difference = if a.len() == b.len() {
                    a.iter()
                        .zip(b)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0f32, f32::max)
                } else {
                    f32::INFINITY
                };
                if difference > 0.0 || a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits()) {
                    (largest, last) = (largest.max(difference), Some(i));
                }
            }
            line += &match last {
                None => format!(" P{preroll}:exact"),
                Some(i) => format!(" P{preroll}:{largest:.1e}@..{i}"),
            };
        }
        if !say(line) {
            // A closed pipe (`| head`): stop quietly.
            return Ok(());
        }
        boundary += every;
    }
    Ok(())
}

/// Each packet's samples, channels one after the other; empty where the decoder refused it.
fn decode_all(decoder: &mut dyn AudioDecoder, packets: &[Packet]) -> Vec<Vec<f32>> {
    let mut planar: Vec<Vec<f32>> = Vec::new();
    packets
        .iter()
        .map(|packet| match decoder.decode(packet) {
            Ok(buffer) => {
                buffer.copy_to_vecs_planar::<f32>(&mut planar);
                planar.concat()
            }
            Err(_) => Vec::new(),
        })
        .collect()
}
