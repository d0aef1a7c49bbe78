//! Streaming decode with symphonia: probe a source, then pull planar `f32` chunks packet by packet.
//!
//! The decoder never holds more than one packet's worth of samples. Damaged packets are skipped
//! and counted; a stream that breaks after some audio was decoded ends early with a warning rather
//! than throwing the good part away.

use std::sync::OnceLock;

use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::error::{AnalysisError, ErrorKind, Result};

/// Consecutive undecodable packets after which a stream is declared corrupt.
const MAX_CONSECUTIVE_BAD_PACKETS: usize = 64;

/// What the container and codec say about the source, in the units of the record.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceInfo {
    /// Codec short name as symphonia names it (`flac`, `mp3`, `vorbis`, `opus`, `aac`, `pcm_s16le` …).
    pub codec: String,
    /// Container (`wav`, `aiff`, `caf`, `flac`, `mp3`, `ogg`, `mp4`, `mkv` …).
    pub container: String,
    /// Sample rate of the decoded audio in Hz.
    pub sample_rate: u32,
    /// Number of decoded channels.
    pub channels: usize,
    /// Duration the container declares, in seconds, if it declares one.
    pub declared_duration_s: Option<f64>,
}

/// Every decoder symphonia offers, plus libopus for Opus.
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        registry
    })
}

fn container_name(short_name: &str) -> &str {
    match short_name {
        "wave" => "wav",
        "isomp4" => "mp4",
        "matroska" => "mkv",
        other => other,
    }
}

/// One decoded packet.
pub struct DecodedChunk<'a> {
    /// One slice of samples per channel, all of the same length.
    pub planar: &'a [Vec<f32>],
    pub sample_rate: u32,
    /// Frames decoded from the start of the stream up to and including this chunk.
    pub frames_decoded: u64,
}

/// An open, probed audio stream that yields planar `f32` chunks at the source rate.
pub struct AudioStream {
    format: Box<dyn FormatReader + 'static>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    info: SourceInfo,
    planar: Vec<Vec<f32>>,
    frames_decoded: u64,
    bad_packets: usize,
    warnings: Vec<String>,
    finished: bool,
}

impl AudioStream {
    /// Probes `source` and prepares a decoder for its first decodable audio track.
    ///
    /// `extension` is a hint only: a mislabelled file is still recognised by its content.
    pub fn open(source: Box<dyn MediaSource>, extension: Option<&str>) -> Result<AudioStream> {
        let mss = MediaSourceStream::new(source, Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| classify_open_error(&e))?;

        let track = format
            .tracks()
            .iter()
            .find(|t| {
                t.codec_params
                    .as_ref()
                    .and_then(|p| p.audio())
                    .is_some_and(|p| codecs().get_audio_decoder(p.codec).is_some())
            })
            .or_else(|| format.default_track(TrackType::Audio))
            .ok_or_else(|| {
                AnalysisError::new(
                    ErrorKind::UnsupportedFormat,
                    "the container holds no audio track",
                )
            })?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| {
                AnalysisError::new(
                    ErrorKind::UnsupportedFormat,
                    "the audio track has no codec parameters",
                )
            })?;
        let registered = codecs().get_audio_decoder(params.codec).ok_or_else(|| {
            AnalysisError::new(
                ErrorKind::UnsupportedFormat,
                format!("no decoder for codec {}", params.codec),
            )
        })?;
        super::limits::check_source(params)?;
        let decoder = codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .map_err(|e| classify_open_error(&e))?;

        let channels = params.channels.as_ref().map_or(0, |c| c.count());
        let sample_rate = params.sample_rate.unwrap_or(0);
        let declared_duration_s = match (track.num_frames, sample_rate) {
            (Some(n), rate) if rate > 0 => Some(n as f64 / rate as f64),
            _ => None,
        };
        let info = SourceInfo {
            codec: registered.codec.info.short_name.to_string(),
            container: container_name(format.format_info().short_name).to_string(),
            sample_rate,
            channels,
            declared_duration_s,
        };
        let track_id = track.id;
        Ok(AudioStream {
            format,
            decoder,
            track_id,
            info,
            planar: Vec::new(),
            frames_decoded: 0,
            bad_packets: 0,
            warnings: Vec::new(),
            finished: false,
        })
    }

    /// Facts about the source. Sample rate and channels are confirmed by the first decoded packet.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Frames (samples per channel) decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    /// Packets that failed to decode and were skipped, so far.
    pub fn undecodable_packets(&self) -> usize {
        self.bad_packets
    }

    /// Problems that did not stop the decode: skipped packets, a stream that ended early or
    /// before the duration its header declares, a format change midway.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = self.warnings.clone();
        if let Some(declared) = self.info.declared_duration_s {
            let decoded = self.frames_decoded as f64 / self.info.sample_rate.max(1) as f64;
            if self.finished && decoded < 0.99 * declared - 0.05 {
                warnings.push(format!(
                    "decoded {decoded:.2} s of the {declared:.2} s the header declares: the file may be truncated"
                ));
            }
        }
        if self.bad_packets > 0 {
            warnings.push(format!(
                "{} undecodable packet(s) skipped",
                self.bad_packets
            ));
        }
        warnings
    }

    /// Decodes the next packet of the track into one planar slice per channel.
    ///
    /// Returns `Ok(None)` at the end of the stream. Chunks are never empty.
    pub fn next_chunk(&mut self) -> Result<Option<DecodedChunk<'_>>> {
        let mut consecutive_bad = 0usize;
        while !self.finished {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => break,
                Err(err) => {
                    self.end_early(&err)?;
                    break;
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            match self.decoder.decode(&packet) {
                Ok(buffer) => {
                    if buffer.frames() == 0 {
                        continue;
                    }
                    let spec = buffer.spec();
                    let (rate, channels) = (spec.rate(), spec.channels().count());
                    if channels == 0 || rate == 0 {
                        return Err(AnalysisError::new(
                            ErrorKind::UnsupportedFormat,
                            format!("decoded audio has {channels} channel(s) at {rate} Hz"),
                        ));
                    }
                    super::limits::check_buffer(rate, channels, buffer.frames())?;
                    if self.frames_decoded == 0 {
                        self.info.sample_rate = rate;
                        self.info.channels = channels;
                    } else if rate != self.info.sample_rate || channels != self.info.channels {
                        self.warnings.push(format!(
                            "stream changed to {channels} channel(s) at {rate} Hz after {:.1} s; \
                             the rest was ignored",
                            self.frames_decoded as f64 / self.info.sample_rate as f64
                        ));
                        self.finished = true;
                        break;
                    }
                    buffer.copy_to_vecs_planar::<f32>(&mut self.planar);
                    self.frames_decoded += buffer.frames() as u64;
                    return Ok(Some(DecodedChunk {
                        planar: &self.planar,
                        sample_rate: rate,
                        frames_decoded: self.frames_decoded,
                    }));
                }
                Err(SymphoniaError::DecodeError(_)) | Err(SymphoniaError::IoError(_)) => {
                    self.bad_packets += 1;
                    consecutive_bad += 1;
                    if consecutive_bad >= MAX_CONSECUTIVE_BAD_PACKETS {
                        return Err(AnalysisError::new(
                            ErrorKind::Corrupt,
                            format!(
                                "{consecutive_bad} consecutive packets could not be decoded \
                                 after {:.1} s of audio",
                                self.frames_decoded as f64 / self.info.sample_rate.max(1) as f64
                            ),
                        ));
                    }
                }
                Err(err) => {
                    self.end_early(&err)?;
                    break;
                }
            }
        }
        self.finished = true;
        Ok(None)
    }

    /// A demux or decode failure mid-stream: keep what was decoded, or fail if nothing was.
    fn end_early(&mut self, err: &SymphoniaError) -> Result<()> {
        self.finished = true;
        let eof = matches!(err, SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof);
        if eof {
            // The usual way a demuxer reports the end of a stream with no end marker.
            return Ok(());
        }
        if self.frames_decoded == 0 {
            return Err(classify_open_error(err));
        }
        self.warnings.push(format!(
            "stream ended early after {:.1} s: {err}",
            self.frames_decoded as f64 / self.info.sample_rate.max(1) as f64
        ));
        Ok(())
    }
}

fn classify_open_error(err: &SymphoniaError) -> AnalysisError {
    match err {
        SymphoniaError::Unsupported(what) => AnalysisError::new(
            ErrorKind::UnsupportedFormat,
            format!("not a recognised audio file: no supported container or codec matches its contents ({what})"),
        ),
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            AnalysisError::new(ErrorKind::Corrupt, "the file ends before its audio starts")
        }
        // The file itself was opened and read by us; an I/O error inside the demuxer comes from
        // what the data told it to do (seek before the start, read past a bogus size).
        SymphoniaError::IoError(e) => {
            AnalysisError::new(ErrorKind::Corrupt, format!("the container points outside the file: {e}"))
        }
        SymphoniaError::DecodeError(what) => {
            AnalysisError::new(ErrorKind::Corrupt, format!("malformed stream: {what}"))
        }
        SymphoniaError::LimitError(what) => {
            AnalysisError::new(ErrorKind::Corrupt, format!("a decoder limit was exceeded: {what}"))
        }
        other => AnalysisError::new(ErrorKind::Corrupt, other.to_string()),
    }
}
