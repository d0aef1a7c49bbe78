//! One stream's packets decoded on two threads, in the order and to the bits of one decoder.
//!
//! A decoder is sequential: what a packet decodes to depends on the state the packets before it
//! left. To decode one long stream on two cores anyway, its packets are cut into segments of a
//! fixed length, and each segment after the first is decoded by a fresh decoder that first
//! decodes the packets just before the segment (its pre-roll) and drops what they give. Why: on
//! one long Opus file decoding is about 70 % of `--model none`, so with one decoding thread two
//! cores could be at most 1.4 times as fast as one.
//!
//! The two threads share each segment. The calling thread decodes the first; from then on,
//! whenever it takes a segment to hand out, the helper starts on the next one. When the calling
//! thread has handed out everything before that next segment, it asks for it: it gets what the
//! helper has decoded so far, then the helper's decoder and the packets left, and decodes those
//! itself while the helper starts on the segment after. So neither thread waits for the other to
//! finish a whole segment, and the helper holds at most one segment's samples. Where one thread
//! stops and the other goes on changes nothing: each segment's packets are decoded in order by
//! one decoder.
//!
//! The pre-roll each codec needs, and why, is in `segments/preroll.rs`.
//!
//! The segments are a fixed length whatever the number of threads, so the outcome does not
//! depend on how the two threads are scheduled. Opus segments and pre-rolls are measured by the
//! audio each packet holds by its own TOC byte, not by the container's timestamps, which a
//! damaged or hostile file makes jump (see [`Preroll::length`]).

use std::collections::VecDeque;
use std::panic;

use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatReader;
use symphonia::core::packet::Packet;

use self::helper::{Helper, HelperOutput, MAX_HELPER_SAMPLES};
pub use self::preroll::Preroll;
use crate::error::{AnalysisError, ErrorKind, Result};

/// Packets in one segment at most, whatever their declared durations (a hostile stream may
/// declare none): 20 s of 2.5 ms Opus frames.
const MAX_SEGMENT_PACKETS: usize = 8_192;
/// Bytes of packets in one segment at most: the calling thread reads two segments ahead.
const MAX_SEGMENT_BYTES: usize = 32 << 20;
/// Packets of pre-roll at most, likewise.
const MAX_PREROLL_PACKETS: usize = 1_024;

/// What the demuxer said of one packet, before it was decoded.
#[derive(Clone, Copy, Debug)]
pub struct PacketFacts {
    pub bytes: usize,
    /// Frames the packet holds, by the demuxer, its trims included.
    pub dur: u64,
    /// Frames the demuxer has the decoder trim from its start (an Opus link's pre-skip).
    pub trim_start: u64,
    /// Frames the demuxer would have the decoder trim from its end (left to the caller).
    pub trim_end: usize,
}

impl PacketFacts {
    pub fn of(packet: &Packet) -> PacketFacts {
        PacketFacts {
            bytes: packet.data.len(),
            dur: packet.dur.get(),
            trim_start: packet.trim_start.get(),
            trim_end: packet.trim_end.get() as usize,
        }
    }
}

/// The next packet of `track_id` and what the demuxer says of it, its end trim taken off (left
/// to the caller, see [`PacketFacts::trim_end`]); `None` at the end of the stream.
pub(super) fn next_packet(
    format: &mut dyn FormatReader,
    track_id: u32,
) -> std::result::Result<Option<(Packet, PacketFacts)>, SymphoniaError> {
    loop {
        let Some(mut packet) = format.next_packet()? else {
            return Ok(None);
        };
        if packet.track_id == track_id {
            let facts = PacketFacts::of(&packet);
            packet.trim_end = Default::default();
            return Ok(Some((packet, facts)));
        }
    }
}

/// What decoding one packet gave.
pub enum Outcome {
    /// Audio, in the planar buffer passed in.
    Audio { rate: u32, channels: usize },
    /// No frames (a decoder's first packet, say).
    Nothing,
    /// The decoder refused the packet.
    Failed(SymphoniaError),
}

/// The next thing in the stream.
pub enum Step {
    Packet(PacketFacts, Outcome),
    /// The demuxer has ended: `None` at the end of the stream, or its error.
    End(Option<SymphoniaError>),
}

/// Decodes `packet` into `planar` (one vector per channel), refusing a buffer beyond the
/// limits before copying it.
pub(super) fn decode_one(
    decoder: &mut dyn AudioDecoder,
    packet: &Packet,
    planar: &mut Vec<Vec<f32>>,
) -> Result<Outcome> {
    let buffer = match decoder.decode(packet) {
        Ok(buffer) => buffer,
        Err(e) => return Ok(Outcome::Failed(e)),
    };
    if buffer.frames() == 0 {
        return Ok(Outcome::Nothing);
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
    buffer.copy_to_vecs_planar::<f32>(planar);
    Ok(Outcome::Audio { rate, channels })
}

/// Decodes `preroll` and drops what it gives: whatever it is, it is the previous segment's to
/// report.
fn warm_up(decoder: &mut dyn AudioDecoder, preroll: &[Packet]) {
    for packet in preroll {
        let _ = decoder.decode(packet);
    }
}

fn new_decoder(params: &AudioCodecParameters) -> Result<Box<dyn AudioDecoder>> {
    super::decode::codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| {
            AnalysisError::new(
                ErrorKind::Corrupt,
                format!("a second decoder could not be made: {e}"),
            )
        })
}

/// Packets in the order read, with what the demuxer said of each.
type Packets = VecDeque<(Packet, PacketFacts)>;

/// A segment: the packets before it to decode first, then its own.
struct Segment {
    preroll: Vec<Packet>,
    packets: Packets,
}

/// What comes next, in the stream's order.
enum Work {
    /// A segment for the calling thread.
    Inline(Segment),
    /// A segment given to the helper.
    Helper,
    End(Option<SymphoniaError>),
}

/// The segment being handed out.
enum Current {
    Inline {
        decoder: Box<dyn AudioDecoder>,
        packets: Packets,
    },
    Helper(HelperOutput),
}

/// The packets of one track, decoded in segments on the calling thread and a helper.
pub struct Segmented {
    params: AudioCodecParameters,
    preroll: Preroll,
    track_id: u32,
    /// Seconds per unit of a packet's declared duration (the track's time base).
    tick_seconds: f64,
    segment_seconds: f64,
    /// The next segment's pre-roll: the last packets read, as many as a pre-roll needs.
    next_preroll: Vec<Packet>,
    segments_read: usize,
    demuxer_ended: bool,
    /// A packet whose state a pre-roll does not rebuild was read: no more cuts.
    unsettled: bool,
    queue: VecDeque<Work>,
    current: Option<Current>,
    /// Whether the helper starts every segment after the first.
    shared: bool,
    /// Samples the helper holds at most ([`MAX_HELPER_SAMPLES`], less in tests).
    helper_samples: usize,
    helper: Option<Helper>,
}

impl Segmented {
    /// Cuts the stream of `track_id` into segments of `segment_seconds`, each decoded after
    /// `preroll`; `None` without a sample rate, when durations in seconds mean nothing.
    pub fn new(
        params: AudioCodecParameters,
        track_id: u32,
        tick_seconds: Option<f64>,
        preroll: Preroll,
        segment_seconds: f64,
    ) -> Option<Segmented> {
        let rate = params.sample_rate.filter(|&r| r > 0).map(f64::from)?;
        let tick_seconds = tick_seconds.unwrap_or(1.0 / rate);
        Some(Segmented {
            params,
            preroll,
            track_id,
            tick_seconds,
            segment_seconds,
            next_preroll: Vec::new(),
            segments_read: 0,
            demuxer_ended: false,
            unsettled: false,
            queue: VecDeque::new(),
            current: None,
            shared: false,
            helper_samples: MAX_HELPER_SAMPLES,
            helper: None,
        })
    }

    /// The same cut for the next link of a chained stream, which has its own `params` and
    /// track: fresh segments from that link's first packet, the same helper thread taking every
    /// other one. Called once this link has ended ([`Step::End`]), when the helper holds
    /// nothing. `None` where the link's codec is not cut or has no sample rate.
    pub fn into_next_link(
        self,
        params: AudioCodecParameters,
        track_id: u32,
        tick_seconds: Option<f64>,
    ) -> Option<Segmented> {
        let preroll = Preroll::of(&params)?;
        let mut next = Segmented::new(
            params,
            track_id,
            tick_seconds,
            preroll,
            self.segment_seconds,
        )?;
        next.shared = self.shared;
        next.helper_samples = self.helper_samples;
        // A new thread would allocate in a new malloc arena, and the old one's freed segment
        // would stay resident: 8 MB more at the peak of two long Opus links.
        next.helper = self.helper;
        Some(next)
    }

    /// From now on, a helper thread starts every segment after the first, and the calling
    /// thread decodes what the helper has not yet decoded when it needs it.
    pub fn share(&mut self) {
        self.shared = true;
    }

    /// Lets the helper hold no more than `samples` before handing the rest back.
    #[cfg(any(test, fuzzing))]
    pub fn limit_helper(&mut self, samples: usize) {
        self.helper_samples = samples;
    }

    /// The next packet's facts and outcome, its audio in `planar`, or the demuxer's end.
    pub fn next(
        &mut self,
        format: &mut dyn FormatReader,
        planar: &mut Vec<Vec<f32>>,
    ) -> Result<Step> {
        loop {
            match &mut self.current {
                Some(Current::Inline { decoder, packets }) => {
                    let next = match packets.pop_front() {
                        Some(packet) => Some(packet),
                        // The last segment, once unsettled, runs to the end of the stream.
                        None if self.unsettled && self.queue.is_empty() => {
                            match next_packet(format, self.track_id) {
                                Ok(Some(packet)) => Some(packet),
                                Ok(None) => return Ok(Step::End(None)),
                                Err(e) => return Ok(Step::End(Some(e))),
                            }
                        }
                        None => None,
                    };
                    if let Some((packet, facts)) = next {
                        let outcome = decode_one(decoder.as_mut(), &packet, planar)?;
                        return Ok(Step::Packet(facts, outcome));
                    }
                }
                Some(Current::Helper(output)) => {
                    if let Some(packet) = output.decoded.pop_front() {
                        let outcome = match packet.outcome {
                            Ok(outcome) => outcome?,
                            // The decoder panicked on the helper: go on unwinding here, where
                            // the caller's handler classifies it.
                            Err(payload) => panic::resume_unwind(payload),
                        };
                        *planar = packet.planar;
                        return Ok(Step::Packet(packet.facts, outcome));
                    }
                    if let Some((decoder, packets)) = output.rest.take() {
                        self.current = Some(Current::Inline { decoder, packets });
                        continue;
                    }
                }
                None => {}
            }
            self.current = None;
            self.read_ahead(format)?;
            match self.queue.pop_front() {
                Some(Work::Inline(segment)) => {
                    let mut decoder = new_decoder(&self.params)?;
                    warm_up(decoder.as_mut(), &segment.preroll);
                    self.current = Some(Current::Inline {
                        decoder,
                        packets: segment.packets,
                    });
                }
                Some(Work::Helper) => {
                    let output = self.helper()?.receive()?;
                    self.current = Some(Current::Helper(output));
                    // The helper is free: give it the next segment now.
                    self.read_ahead(format)?;
                }
                Some(Work::End(end)) => return Ok(Step::End(end)),
                None => return Ok(Step::End(None)),
            }
        }
    }

    /// Reads segments until the queue holds one for the helper that it has not handed back, or
    /// the end.
    fn read_ahead(&mut self, format: &mut dyn FormatReader) -> Result<()> {
        while !self.demuxer_ended
            && !self.unsettled
            && self.queue.len() < 2
            && !self.queue.iter().any(|w| matches!(w, Work::Helper))
        {
            let (segment, end) = self.read_segment(format);
            if !segment.packets.is_empty() {
                let index = self.segments_read;
                self.segments_read += 1;
                // Which thread decodes a segment changes nothing in what it decodes to; the
                // first is decoded here, as is the one that goes on to the end of the stream.
                if index >= 1 && self.shared && !self.unsettled {
                    let params = self.params.clone();
                    self.helper()?.send(params, segment);
                    self.queue.push_back(Work::Helper);
                } else {
                    self.queue.push_back(Work::Inline(segment));
                }
            }
            if let Some(end) = end {
                self.demuxer_ended = true;
                self.queue.push_back(Work::End(end));
            }
        }
        Ok(())
    }

    /// The next segment's packets, and the demuxer's end if it came before the segment was full.
    /// If a packet came whose state the pre-roll does not rebuild, the segment ends there and
    /// [`Self::unsettled`] is set: the rest of the stream is this segment's.
    fn read_segment(
        &mut self,
        format: &mut dyn FormatReader,
    ) -> (Segment, Option<Option<SymphoniaError>>) {
        let mut packets: Packets = VecDeque::new();
        let (mut bytes, mut micros) = (0usize, 0u64);
        let mut end = None;
        while packets.len() < MAX_SEGMENT_PACKETS && bytes < MAX_SEGMENT_BYTES && !self.unsettled {
            let seconds = match (self.preroll.length, packets.front(), packets.back()) {
                (Some(_), ..) => micros as f64 * 1e-6,
                (None, Some((first, _)), Some((last, _))) => self.seconds_between(first, last),
                (None, ..) => 0.0,
            };
            if seconds >= self.segment_seconds {
                break;
            }
            let (packet, facts) = match next_packet(format, self.track_id) {
                Ok(Some(packet)) => packet,
                Ok(None) => {
                    end = Some(None);
                    break;
                }
                Err(e) => {
                    end = Some(Some(e));
                    break;
                }
            };
            bytes += facts.bytes;
            micros += self.preroll.length.map_or(0, |length| length(&packet));
            self.unsettled = !(self.preroll.settles)(&packet);
            packets.push_back((packet, facts));
        }
        let preroll = std::mem::take(&mut self.next_preroll);
        if end.is_none() && !self.unsettled {
            self.next_preroll = self.preroll_after(&preroll, &packets);
        }
        (Segment { preroll, packets }, end)
    }

    /// The fewest packets at the end of `preroll` then `packets` that make a whole pre-roll (or
    /// [`MAX_PREROLL_PACKETS`]): the pre-roll of the segment after them. Only these are copied.
    fn preroll_after(&self, preroll: &[Packet], packets: &Packets) -> Vec<Packet> {
        let need = self.preroll;
        let need_micros = (need.seconds * 1e6) as u64;
        let (mut bytes, mut micros) = (0usize, 0u64);
        let mut kept = Vec::new();
        for packet in packets
            .iter()
            .map(|(p, _)| p)
            .rev()
            .chain(preroll.iter().rev())
        {
            let whole = kept.len() >= need.packets && bytes >= need.bytes && micros >= need_micros;
            if whole || kept.len() >= MAX_PREROLL_PACKETS {
                break;
            }
            bytes += packet.data.len();
            micros += need.length.map_or(0, |length| length(packet));
            kept.push(packet.clone());
        }
        kept.reverse();
        kept
    }

    /// Seconds from the start of `first` to the end of `last`, by their timestamps and
    /// durations, for codecs whose packets do not say how long they are: a container may declare
    /// no durations (Matroska's simple blocks), but it stamps every packet. Timestamps that go
    /// backwards count as nothing.
    fn seconds_between(&self, first: &Packet, last: &Packet) -> f64 {
        let end = last.pts.get().saturating_add_unsigned(last.dur.get());
        end.saturating_sub(first.pts.get()).max(0) as f64 * self.tick_seconds
    }

    /// Segments read from the demuxer so far.
    #[cfg(any(test, fuzzing))]
    pub fn segments_read(&self) -> usize {
        self.segments_read
    }

    fn helper(&mut self) -> Result<&mut Helper> {
        if self.helper.is_none() {
            self.helper = Some(Helper::start(self.helper_samples)?);
        }
        Ok(self.helper.as_mut().expect("started above"))
    }
}

mod helper;
mod preroll;
#[cfg(test)]
mod tests;
