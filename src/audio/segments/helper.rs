//! The helper thread: decodes whole segments, one at a time, and hands each back.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;

use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder};

use super::{decode_one, new_decoder, warm_up, Outcome, PacketFacts, Packets, Segment};
use crate::error::{AnalysisError, ErrorKind, Result};

/// Samples (over all channels) the helper holds at most: 64 MiB. Past them it stops and hands
/// its decoder and the rest of its segment back, and the calling thread decodes them itself,
/// so a stream whose packets decode to more than they declare cannot make it hold more.
pub(super) const MAX_HELPER_SAMPLES: usize = 16 << 20;

/// A packet as the helper decoded it.
pub(super) struct Decoded {
    pub(super) facts: PacketFacts,
    pub(super) outcome: std::thread::Result<Result<Outcome>>,
    pub(super) planar: Vec<Vec<f32>>,
}

/// What the helper gives back for one segment: its packets decoded, and, if it stopped before
/// the end, its decoder and the packets it left.
pub(super) struct HelperOutput {
    pub(super) decoded: VecDeque<Decoded>,
    pub(super) rest: Option<(Box<dyn AudioDecoder>, Packets)>,
}

/// The helper thread and its two channels. It lives as long as the stream, through every link
/// of a chained one: each segment comes with the parameters of its link's decoder.
pub(super) struct Helper {
    segments: Sender<(AudioCodecParameters, Segment)>,
    decoded: Receiver<HelperOutput>,
    /// Set when the stream is dropped: the helper stops at the next packet.
    cancelled: Arc<AtomicBool>,
    /// Set while the calling thread waits for the segment the helper is decoding: the helper
    /// hands back what it has decoded, with its decoder and the packets left, at the next
    /// packet.
    awaited: Arc<AtomicBool>,
}

impl Helper {
    pub(super) fn start(max_samples: usize) -> Result<Helper> {
        let (segments, received) = channel::<(AudioCodecParameters, Segment)>();
        let (send_decoded, decoded) = channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancelled);
        let awaited = Arc::new(AtomicBool::new(false));
        let hand_back = Arc::clone(&awaited);
        std::thread::Builder::new()
            .name("sonovec-decode-2".into())
            .spawn(move || {
                crate::analyzer::quiet_panics_on_this_thread();
                for (params, segment) in received {
                    let out = decode_segment(&params, segment, max_samples, &stop, &hand_back);
                    if send_decoded.send(out).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| {
                AnalysisError::new(
                    ErrorKind::Internal,
                    format!("could not start a decoding thread: {e}"),
                )
            })?;
        Ok(Helper {
            segments,
            decoded,
            cancelled,
            awaited,
        })
    }

    pub(super) fn send(&mut self, params: AudioCodecParameters, segment: Segment) {
        // A helper that has gone away is noticed at `receive`.
        let _ = self.segments.send((params, segment));
    }

    /// The segment sent first of those not yet received: whole if the helper has finished it,
    /// else what it has decoded so far, with its decoder and the rest, for the calling thread
    /// to decode. Why: a calling thread that waited for the whole segment would leave a core
    /// idle while the helper finished alone (about 6 % of a long Opus file's samples). The
    /// packets are decoded by the same decoder either way, so the samples do not change.
    pub(super) fn receive(&mut self) -> Result<HelperOutput> {
        let stopped =
            || AnalysisError::new(ErrorKind::Internal, "the second decoding thread stopped");
        match self.decoded.try_recv() {
            Ok(output) => return Ok(output),
            Err(TryRecvError::Disconnected) => return Err(stopped()),
            Err(TryRecvError::Empty) => {}
        }
        self.awaited.store(true, Ordering::Relaxed);
        let output = self.decoded.recv().map_err(|_| stopped());
        // The helper has nothing queued (one segment at a time): the next one it is sent does
        // not see the flag.
        self.awaited.store(false, Ordering::Relaxed);
        output
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// The helper's work: a fresh decoder through the pre-roll, then the segment, packet by packet,
/// until it holds `max_samples` or the calling thread awaits it (`awaited`). It stops at a
/// panic, which the calling thread raises again when it reaches that packet.
pub(super) fn decode_segment(
    params: &AudioCodecParameters,
    segment: Segment,
    max_samples: usize,
    stop: &AtomicBool,
    awaited: &AtomicBool,
) -> HelperOutput {
    let Segment {
        preroll,
        mut packets,
    } = segment;
    let mut decoded = VecDeque::with_capacity(packets.len());
    let first = packets.front().map(|(_, facts)| *facts);
    let mut failed_at_first = |outcome| {
        if let Some(facts) = first {
            decoded.push_back(Decoded {
                facts,
                outcome,
                planar: Vec::new(),
            });
        }
        HelperOutput {
            decoded: std::mem::take(&mut decoded),
            rest: None,
        }
    };
    let mut decoder = match new_decoder(params) {
        Ok(decoder) => decoder,
        Err(e) => return failed_at_first(Ok(Err(e))),
    };
    let warmed = panic::catch_unwind(AssertUnwindSafe(|| warm_up(decoder.as_mut(), &preroll)));
    if let Err(payload) = warmed {
        // A decoder that panicked is not trusted with the segment.
        return failed_at_first(Err(payload));
    }
    let mut held = 0usize;
    while held < max_samples {
        if stop.load(Ordering::Relaxed) || awaited.load(Ordering::Relaxed) {
            break;
        }
        let Some((packet, facts)) = packets.pop_front() else {
            return HelperOutput {
                decoded,
                rest: None,
            };
        };
        let mut planar = Vec::new();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            decode_one(decoder.as_mut(), &packet, &mut planar)
        }));
        let panicked = outcome.is_err();
        held += planar.iter().map(Vec::len).sum::<usize>();
        decoded.push_back(Decoded {
            facts,
            outcome,
            planar,
        });
        if panicked {
            return HelperOutput {
                decoded,
                rest: None,
            };
        }
    }
    HelperOutput {
        decoded,
        rest: Some((decoder, packets)),
    }
}
