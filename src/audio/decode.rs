//! Streaming decode with symphonia: probe a source, then pull planar `f32` chunks packet by packet.
//!
//! The decoder never holds more than one packet's worth of samples. Damaged packets are skipped
//! and counted; a stream that breaks after some audio was decoded ends early with a warning rather
//! than throwing the good part away.

use std::sync::OnceLock;

use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use super::declared_rate;
use super::end_trim::{EditWindow, EndTrim};
use super::mp4_edit;
use super::ogg_headers;
use super::segments::{decode_one, next_packet, Outcome, Preroll, Segmented, Step};
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

/// Every decoder symphonia offers, plus libopus for Opus and nanomp3 for MP3 (registered after
/// symphonia's, so they take the place of its decoders for those codecs).
pub(super) fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        registry.register_audio_decoder::<super::mp3::Mp3Decoder>();
        registry
    })
}

/// Seconds per unit of a packet's timestamp and duration on `track`, if it says.
fn tick_seconds(track: &Track) -> Option<f64> {
    track
        .time_base
        .map(|tb| f64::from(tb.numer.get()) / f64::from(tb.denom.get()))
}

fn container_name(short_name: &str) -> &str {
    match short_name {
        "wave" => "wav",
        "isomp4" => "mp4",
        "matroska" => "mkv",
        other => other,
    }
}

/// One or a few decoded packets (a few when packets were held back to settle their end trim).
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
    decoding: Decoding,
    params: AudioCodecParameters,
    /// Seconds per unit of a packet's duration, if the track says.
    tick_seconds: Option<f64>,
    track_id: u32,
    info: SourceInfo,
    planar: Vec<Vec<f32>>,
    /// One packet's decoded frames before [`EndTrim`] decides on its end trim.
    scratch: Vec<Vec<f32>>,
    end_trim: EndTrim,
    /// The MP4 edit list's priming and length; open for every other container.
    window: EditWindow,
    /// Decoded packets still to drop whole: as many as there are audio packets on an Ogg Vorbis
    /// file's last header page, which libvorbis never decodes, so that its first decoded packet
    /// gives nothing and the first samples are those of the packet after it (see
    /// [`ogg_headers`]).
    undecoded_packets: usize,
    frames_decoded: u64,
    /// Audio packets read and their bytes, and the frames their demuxer says they keep once
    /// their trims are cut (each link of a chained Opus stream trims its own pre-skip).
    packets: u64,
    packet_bytes: u64,
    packet_frames: u64,
    /// Whether any decoded sample was not exactly zero.
    heard: bool,
    bad_packets: usize,
    /// Links of a chained stream begun after the first.
    links: usize,
    warnings: Vec<String>,
    finished: bool,
}

impl AudioStream {
    /// Probes `source` and prepares a decoder for its first decodable audio track.
    ///
    /// `extension` is a hint only: a mislabelled file is still recognised by its content.
    ///
    /// For MP4, the audio track's edit list (encoder priming and padding) is honoured as ffmpeg
    /// honours it, which symphonia's MP4 reader does not do (see [`mp4_edit`]). For Ogg Vorbis
    /// from a seekable source, audio packets on the last header page are left out as libvorbis
    /// leaves them out (see [`ogg_headers`]).
    pub fn open(mut source: Box<dyn MediaSource>, extension: Option<&str>) -> Result<AudioStream> {
        let read_failed = |e: std::io::Error| {
            AnalysisError::new(ErrorKind::Io, format!("reading the file failed: {e}"))
        };
        // The file's first bytes, read once for the two headers we parse before symphonia (from
        // a pipe, nothing: neither can be read back).
        let head = if source.is_seekable() {
            declared_rate::head(&mut source).map_err(read_failed)?
        } else {
            Vec::new()
        };
        // A rate symphonia would lose (saturate, or give up on the file before reporting it) is
        // refused here, with the header's own number.
        if let Some(rate) = declared_rate::rate_in(&head) {
            super::limits::check_declared_rate(rate)?;
        }
        let header_page_packets = ogg_headers::audio_packets_on_header_page(&head);
        let edits = if source.is_seekable() {
            mp4_edit::audio_edits(&mut source).map_err(read_failed)?
        } else {
            Vec::new()
        };
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
        let container = container_name(format.format_info().short_name).to_string();
        let track_id = track.id;
        let mut window = EditWindow::default();
        let mut declared_duration_s = declared_duration_s;
        if let Some(edit) = edits.iter().find(|e| e.track_id == track_id) {
            if container == "mp4" && sample_rate > 0 {
                let (skip, keep) = edit.frames(sample_rate);
                // The track's declared length counts the priming and padding too.
                let media = track.num_frames.map(|n| n.saturating_sub(skip));
                let length = match (media, keep) {
                    (Some(m), Some(k)) => Some(m.min(k)),
                    (m, k) => m.or(k),
                };
                declared_duration_s = length.map(|n| n as f64 / sample_rate as f64);
                // Only the priming is dropped. ffmpeg, the reference decoder for AAC, ignores the
                // edit's end and passes the encoder padding of the last frame on (checked on
                // ffmpeg 5.1: 12 to 921 samples more than the edit keeps, on the corpus of
                // scripts/check_decode.py); trimming it would differ from the reference (and from
                // every librosa/audioread pipeline) by up to a frame at the end.
                window = EditWindow::new(skip, None);
            }
        }
        let info = SourceInfo {
            codec: registered.codec.info.short_name.to_string(),
            container,
            sample_rate,
            channels,
            declared_duration_s,
        };
        let ogg_vorbis = info.container == "ogg" && info.codec == "vorbis";
        let end_trim = if ogg_vorbis {
            EndTrim::last_packet_only()
        } else {
            EndTrim::default()
        };
        let undecoded_packets = if ogg_vorbis { header_page_packets } else { 0 };
        let params = params.clone();
        let tick_seconds = tick_seconds(track);
        Ok(AudioStream {
            format,
            decoding: Decoding::One(decoder),
            params,
            tick_seconds,
            track_id,
            info,
            planar: Vec::new(),
            scratch: Vec::new(),
            end_trim,
            window,
            undecoded_packets,
            frames_decoded: 0,
            packets: 0,
            packet_bytes: 0,
            packet_frames: 0,
            heard: false,
            bad_packets: 0,
            links: 0,
            warnings: Vec::new(),
            finished: false,
        })
    }

    /// Decodes the stream in segments, shared with a second thread (see
    /// [`super::segments`]), where its codec gains by it (Opus) and nothing was decoded yet.
    /// Returns whether it will.
    ///
    /// The samples are those of one decoder wherever the pre-roll settles the decoder's state to
    /// the bit, which it did at every boundary measured; the module's tests hold the two equal.
    pub fn decode_ahead(&mut self) -> bool {
        let seconds = match Preroll::of(&self.params) {
            Some(preroll) if Preroll::cut_by_default(&self.params) => preroll.segment_seconds(),
            _ => return false,
        };
        if !self.cut_into_segments(seconds) {
            return false;
        }
        if let Decoding::Segmented(segmented) = &mut self.decoding {
            segmented.share();
        }
        true
    }

    /// Cuts the stream into segments of `seconds`, all decoded on this thread, where its codec
    /// allows it and nothing was decoded yet: for tests and measurements, which compare it with
    /// one decoder. Returns whether the stream is cut.
    pub fn cut_into_segments(&mut self, seconds: f64) -> bool {
        if self.packets == 0 && matches!(self.decoding, Decoding::One(_)) {
            let segmented = Preroll::of(&self.params).and_then(|preroll| {
                let params = self.params.clone();
                Segmented::new(params, self.track_id, self.tick_seconds, preroll, seconds)
            });
            if let Some(segmented) = segmented {
                // The decoder made at opening is dropped: each segment makes its own.
                self.decoding = Decoding::Segmented(Box::new(segmented));
            }
        }
        matches!(self.decoding, Decoding::Segmented(_))
    }

    /// Lets the helper thread share the segments of a stream cut by [`Self::cut_into_segments`],
    /// holding at most `max_samples` of each.
    #[cfg(any(test, fuzzing))]
    pub fn share_segments(&mut self, max_samples: usize) {
        if let Decoding::Segmented(segmented) = &mut self.decoding {
            segmented.share();
            segmented.limit_helper(max_samples);
        }
    }

    /// Segments read so far when decoding ahead, else 0.
    #[cfg(any(test, fuzzing))]
    pub fn segments_read(&self) -> usize {
        match &self.decoding {
            Decoding::Segmented(segmented) => segmented.segments_read(),
            _ => 0,
        }
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

    /// Samples per channel of mid-stream end trims that were not applied (see [`EndTrim`]).
    pub fn ignored_end_trims(&self) -> u64 {
        self.end_trim.ignored_frames()
    }

    /// Decodes the next packet of the track into one planar slice per channel.
    ///
    /// Returns `Ok(None)` at the end of the stream. Chunks are never empty.
    pub fn next_chunk(&mut self) -> Result<Option<DecodedChunk<'_>>> {
        let mut consecutive_bad = 0usize;
        while !self.finished && !self.window.is_full() {
            let step = self
                .decoding
                .next(&mut *self.format, self.track_id, &mut self.scratch)?;
            let (facts, outcome) = match step {
                Step::Packet(facts, outcome) => (facts, outcome),
                Step::End(None) => break,
                Step::End(Some(SymphoniaError::ResetRequired)) => {
                    if !self.next_link() {
                        break;
                    }
                    // The end of a link: its held end trims were real (libvorbis trims each
                    // link's last packet by its own granule position).
                    let released = self.end_trim.finish(&mut self.planar);
                    if self.pass_on(released) > 0 {
                        return Ok(Some(self.chunk(self.info.sample_rate)));
                    }
                    continue;
                }
                Step::End(Some(err)) => {
                    self.end_early(&err)?;
                    break;
                }
            };
            self.packets += 1;
            self.packet_bytes += facts.bytes as u64;
            let trims = facts.trim_start.saturating_add(facts.trim_end as u64);
            let kept = facts.dur.saturating_sub(trims);
            self.packet_frames = self.packet_frames.saturating_add(kept);
            match outcome {
                Outcome::Nothing => continue,
                Outcome::Audio { rate, channels } => {
                    if self.frames_decoded == 0 && self.end_trim.held_frames() == 0 {
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
                    if self.undecoded_packets > 0 {
                        self.undecoded_packets -= 1;
                        continue;
                    }
                    if !self.heard {
                        self.heard = self.scratch.iter().flatten().any(|&s| s != 0.0);
                    }
                    // The decoder would have cut the end trim; EndTrim decides once it knows
                    // what follows.
                    let released =
                        self.end_trim
                            .push(&mut self.scratch, facts.trim_end, &mut self.planar);
                    if self.pass_on(released) > 0 {
                        return Ok(Some(self.chunk(rate)));
                    }
                }
                Outcome::Failed(SymphoniaError::DecodeError(_))
                | Outcome::Failed(SymphoniaError::IoError(_)) => {
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
                Outcome::Failed(err) => {
                    self.end_early(&err)?;
                    break;
                }
            }
        }
        self.finished = true;
        // The end of the stream: what is held back was the real end, trims and all.
        let released = self.end_trim.finish(&mut self.planar);
        if self.pass_on(released) > 0 {
            return Ok(Some(self.chunk(self.info.sample_rate)));
        }
        Ok(None)
    }

    /// Passes on the `released` frames that [`EndTrim`] has just moved into `planar`: cut to
    /// the edit window and counted. Returns how many are left to hand out (0: none).
    fn pass_on(&mut self, released: usize) -> usize {
        if released == 0 {
            return 0;
        }
        let frames = self.window.apply(&mut self.planar);
        self.frames_decoded += frames as u64;
        frames
    }

    /// The frames in `planar`, at `sample_rate`.
    fn chunk(&self, sample_rate: u32) -> DecodedChunk<'_> {
        DecodedChunk {
            planar: &self.planar,
            sample_rate,
            frames_decoded: self.frames_decoded,
        }
    }

    /// A demux or decode failure mid-stream: keep what was decoded, or fail if nothing was.
    fn end_early(&mut self, err: &SymphoniaError) -> Result<()> {
        self.finished = true;
        let eof = matches!(err, SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof);
        if eof {
            // The usual way a demuxer reports the end of a stream with no end marker.
            return Ok(());
        }
        if self.frames_decoded == 0 && self.end_trim.held_frames() == 0 {
            return Err(classify_open_error(err));
        }
        self.warnings.push(format!(
            "stream ended early after {:.1} s: {err}",
            self.frames_decoded as f64 / self.info.sample_rate.max(1) as f64
        ));
        Ok(())
    }
}

/// Who decodes the packets.
enum Decoding {
    /// One decoder, packet after packet as they are read.
    One(Box<dyn AudioDecoder>),
    /// Segments on two threads.
    Segmented(Box<Segmented>),
}

impl Decoding {
    /// The next packet of `track_id`, decoded into `planar`, or the demuxer's end.
    fn next(
        &mut self,
        format: &mut dyn FormatReader,
        track_id: u32,
        planar: &mut Vec<Vec<f32>>,
    ) -> Result<Step> {
        match self {
            Decoding::One(decoder) => match next_packet(format, track_id) {
                Ok(Some((packet, facts))) => {
                    let outcome = decode_one(decoder.as_mut(), &packet, planar)?;
                    Ok(Step::Packet(facts, outcome))
                }
                Ok(None) => Ok(Step::End(None)),
                Err(err) => Ok(Step::End(Some(err))),
            },
            Decoding::Segmented(segmented) => segmented.next(format, planar),
        }
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

mod links;
mod warnings;
