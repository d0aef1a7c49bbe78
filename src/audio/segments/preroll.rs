//! How much of the stream before a segment a fresh decoder must decode first, by codec.
//!
//! The pre-roll each codec needs was measured by decoding 947 s of real music (three wesnoth
//! tracks joined, transcoded by ffmpeg) from a fresh decoder at boundaries spread over the file
//! and comparing every sample with one decoder's (`examples/preroll_probe.rs`):
//! - FLAC: frames are independent; exact with none.
//! - Vorbis: a packet overlaps only the one before it; exact with one packet, two are used.
//! - MP3: the IMDCT overlap and the bit reservoir (up to 511 bytes back): exact with two frames at
//!   192 kb/s; three frames and at least 2048 bytes are used, so that the reservoir of a low bit
//!   rate, which spans more frames, is covered.
//! - Opus: CELT predicts each band's energy from the previous frame's, so a difference is halved
//!   each 20 ms frame until float rounding makes it vanish: exact after 40 packets at every one
//!   of 189 boundaries, after 32 at 179 of them; 1 s (50 packets) is used. Shorter frames
//!   predict with a larger factor but there are more of them in the same time: 0.65 for 10 ms,
//!   0.9 for 2.5 ms (`celt/quant_bands.c`), under 0.7 s for the same decay; 300 s encoded with
//!   10, 2.5 and 60 ms frames (CELT only, every packet) were exact in 0.25 s segments. Hybrid
//!   packets, whose SILK layer keeps its own state, do not settle (differences of 1e-3 after
//!   10 s of pre-roll, on 300 s of music at 16 kb/s for speech: hybrid, every packet), so an
//!   Opus stream is cut only until its first SILK or hybrid packet (SILK alone was not measured).
//!   The music files encoded here at 64–128 kb/s were CELT only.
//! - AAC is not cut: a fresh decoder never gave the same samples (differences up to 0.09 after
//!   256 frames of pre-roll). Perhaps the generator of ffmpeg's perceptual noise substitution,
//!   which runs from the first frame on; not checked. Nor are PCM and the other codecs, whose
//!   decoding costs little or whose state was not measured.

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_FLAC, CODEC_ID_MP3, CODEC_ID_OPUS, CODEC_ID_VORBIS,
};
use symphonia::core::codecs::audio::AudioCodecParameters;
use symphonia::core::packet::Packet;

/// How much of the stream before a segment a fresh decoder must decode first: at least all of
/// these.
#[derive(Clone, Copy, Debug)]
pub struct Preroll {
    pub packets: usize,
    pub bytes: usize,
    /// Seconds of audio by [`Self::length`] (0 where the codec has none).
    pub seconds: f64,
    /// Whether a pre-roll rebuilds the state a packet leaves; after one that it does not, the
    /// stream is no longer cut.
    pub settles: fn(&Packet) -> bool,
    /// The audio a packet holds by the codec's own framing, in microseconds, where its packets
    /// say (Opus). Segments and the pre-roll are then measured by what the decoder will decode,
    /// not by the container's timestamps: a stream whose timestamps jump (a damaged page
    /// dropped by the demuxer, or a hostile file) would otherwise get a pre-roll of too few
    /// packets, and samples unlike one decoder's; one whose timestamps jump at every packet
    /// would get a segment, and a fresh decoder, every two packets. Without it, segments are
    /// measured by timestamps.
    pub length: Option<fn(&Packet) -> u64>,
}

/// Every packet's state is rebuilt by the pre-roll.
fn always(_: &Packet) -> bool {
    true
}

/// A CELT-only Opus packet (TOC configurations 16–31). The state of a SILK layer does not
/// settle: on real music encoded at 16 kb/s for speech (hybrid packets), samples still differed
/// by 1e-3 after 10 s of pre-roll. So a stream is cut only until its first SILK or hybrid
/// packet; before that, SILK's state is the same as a fresh decoder's.
fn celt_only(packet: &Packet) -> bool {
    packet.data.first().is_some_and(|toc| toc >> 3 >= 16)
}

/// An Opus packet's audio by its TOC byte and frame count, as libopus reads them (RFC 6716,
/// section 3.1), in microseconds; 0 for a packet that libopus will refuse.
pub(super) fn opus_micros(packet: &Packet) -> u64 {
    let Ok(len) = i32::try_from(packet.data.len()) else {
        return 0;
    };
    // SAFETY: libopus reads at most `len` bytes of `packet.data` and keeps no pointer to it.
    let samples =
        unsafe { opusic_sys::opus_packet_get_nb_samples(packet.data.as_ptr(), len, 48_000) };
    // 48 samples a millisecond.
    u64::try_from(samples).map_or(0, |samples| samples * 1000 / 48)
}

impl Preroll {
    /// The pre-roll of the codec, if its streams may be cut (see the module's documentation).
    pub fn of(params: &AudioCodecParameters) -> Option<Preroll> {
        let unmeasured = |packets, bytes| Preroll {
            packets,
            bytes,
            seconds: 0.0,
            settles: always,
            length: None,
        };
        Some(match params.codec {
            CODEC_ID_FLAC => unmeasured(0, 0),
            CODEC_ID_VORBIS => unmeasured(2, 0),
            CODEC_ID_MP3 => unmeasured(3, 2048),
            CODEC_ID_OPUS => Preroll {
                packets: 2,
                bytes: 0,
                seconds: 1.0,
                settles: celt_only,
                length: Some(opus_micros),
            },
            _ => return None,
        })
    }

    /// Segments of 5 s, or 20 pre-rolls if longer: the pre-roll costs at most 5 % more decoding.
    pub fn segment_seconds(&self) -> f64 {
        (20.0 * self.seconds).max(5.0)
    }

    /// Whether streams of `params` are cut unless asked otherwise: Opus only. Its decoding is
    /// about 70 % of `--model none`, so a second thread pays for the pre-roll. For FLAC, MP3
    /// and Vorbis, decoding is under half the work and a second decoding thread took more than
    /// it gave: with 5 s segments, CPU time at `-j 2` was 1.09, 1.10 and 1.22 times that at
    /// `-j 1` (1.04, 1.01, 1.01 uncut; Vorbis builds its codebooks again for every new
    /// decoder) and one long file on two cores got slower
    /// (ratios of `-j 1` to `-j 2` wall time, medians of 9 pairs: FLAC 1.68 to 1.50, MP3 1.81
    /// to 1.56, Vorbis 1.75 to 1.40).
    pub fn cut_by_default(params: &AudioCodecParameters) -> bool {
        params.codec == CODEC_ID_OPUS
    }
}
