//! MP3 (MPEG-1/2/2.5 Layer III) frames decoded by `nanomp3-core` behind symphonia's decoder
//! interface, in place of symphonia's own Layer III decoder.
//!
//! Why: on MP3, decoding was most of `--model none`'s time, and symphonia's Layer III decoder
//! costs about what ffmpeg's does (its Huffman reader alone was a quarter of a `--model none` run).
//! `nanomp3-core` is a safe Rust (`forbid(unsafe_code)`) port of minimp3, bit-exact with it on
//! minimp3's conformance vectors, with SIMD through `wide`; on a 954 s MP3 it decoded in
//! 1.04–1.19 s against symphonia's 1.55 s, in one process. Everything around the frames stays
//! symphonia's: the demuxer finds the frames, reads the LAME/Xing tag and sets each packet's
//! gapless trims, and this decoder applies the start trim as symphonia's does.
//!
//! Differences from symphonia's decoder, all at the level of rounding or of broken streams:
//! - samples differ by float rounding (both are float decoders of the same standard; the test
//!   below holds them within 2e-5 of each other on a real file);
//! - a frame whose bit reservoir is missing (the first frames of a stream cut mid-way) comes out
//!   as a frame of silence, where symphonia decodes the granules it can; the timeline is kept;
//! - a corrupt frame is a decode error, which `AudioStream` counts and skips, as it does
//!   symphonia's.
//!
//! Layer I and II streams keep symphonia's decoder (this one registers Layer III only).

use symphonia::core::audio::{
    layouts, AsGenericAudioBufferRef, Audio, AudioBuffer, AudioMut, AudioSpec,
    GenericAudioBufferRef,
};
use symphonia::core::codecs::audio::well_known::CODEC_ID_MP3;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::errors::{decode_error, unsupported_error, Result};
use symphonia::core::packet::PacketRef;

use nanomp3_core::{Channels, DecodeError, Decoder, FrameInfo, MAX_SAMPLES_PER_FRAME};

/// Layer III samples per channel in one frame: 1152 for MPEG-1 (32–48 kHz), 576 for MPEG-2 and
/// 2.5 (8–24 kHz).
fn layer3_frame_samples(sample_rate: u32) -> usize {
    if sample_rate >= 32_000 {
        1152
    } else {
        576
    }
}

/// symphonia's `AudioDecoder` over `nanomp3-core`'s frame decoder.
pub struct Mp3Decoder {
    params: AudioCodecParameters,
    opts: AudioDecoderOptions,
    decoder: Decoder,
    /// Interleaved output of the last frame.
    pcm: Box<[f32; MAX_SAMPLES_PER_FRAME]>,
    buf: AudioBuffer<f32>,
}

impl Mp3Decoder {
    fn try_new(params: &AudioCodecParameters, opts: &AudioDecoderOptions) -> Result<Self> {
        if params.codec != CODEC_ID_MP3 {
            return unsupported_error("mp3: not an MPEG Layer III stream");
        }
        Ok(Mp3Decoder {
            params: params.clone(),
            opts: *opts,
            decoder: Decoder::new(),
            pcm: Box::new([0.0; MAX_SAMPLES_PER_FRAME]),
            buf: AudioBuffer::default(),
        })
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        // The demuxer's packet is one whole frame, header included; a frame that is exactly the
        // input is decoded without looking for the next frame's header.
        let (_, result) = self.decoder.decode(packet.data, &mut self.pcm[..]);
        // Without the `layer12` feature the decoder takes Layer III frames only; others are
        // `UnsupportedLayer`.
        let (info, frames) = match result {
            Ok(info) if info.samples_produced > 0 => (info, info.samples_produced),
            Err(DecodeError::ReservoirUnavailable(info)) => {
                // Silence for the frame, so that the timeline (and the gapless trims) hold.
                let frames = layer3_frame_samples(info.sample_rate);
                self.pcm[..frames * info.channels.num() as usize].fill(0.0);
                (info, frames)
            }
            Ok(_) | Err(DecodeError::NoFrame) => {
                return decode_error("mp3: no frame in the packet")
            }
            Err(DecodeError::Corrupt(_)) => return decode_error("mp3: corrupt frame"),
            Err(_) => return decode_error("mp3: not a Layer III frame"),
        };
        let spec = spec_of(&info);
        if self.buf.is_unused() {
            // A Layer III frame holds at most 1152 samples per channel.
            self.buf = AudioBuffer::new(spec, MAX_SAMPLES_PER_FRAME / 2);
        } else if self.buf.spec() != &spec {
            // As symphonia's decoder: one signal specification per stream.
            return decode_error("mp3: the frame's rate or channels differ from the stream's");
        }
        self.buf.clear();
        self.buf.render_uninit(Some(frames));
        deinterleave(&self.pcm[..], &mut self.buf);
        if self.opts.gapless {
            self.buf.trim(
                packet.trim_start.get() as usize,
                packet.trim_end.get() as usize,
            );
        }
        Ok(())
    }
}

/// Splits the first frames of `pcm`, interleaved, into `buf`'s one or two planes.
///
/// Why not symphonia's `copy_from_slice_interleaved`: it converts sample by sample through its
/// generic `Sample` traits and does not vectorise. On a stereo frame it took 0.66 µs against
/// 0.16 µs for these loops (200 000 frames each, one process), and on one long MP3 at `-j 2` it
/// was 2 % of the run's samples, all on the decoding thread that bounds the pipeline.
fn deinterleave(pcm: &[f32], buf: &mut AudioBuffer<f32>) {
    let frames = buf.frames();
    if let Some((left, right)) = buf.plane_pair_mut(0, 1) {
        let pairs = pcm[..2 * frames].chunks_exact(2);
        for ((pair, l), r) in pairs.zip(left.iter_mut()).zip(right.iter_mut()) {
            (*l, *r) = (pair[0], pair[1]);
        }
    } else if let Some(mono) = buf.plane_mut(0) {
        mono.copy_from_slice(&pcm[..frames]);
    }
}

fn spec_of(info: &FrameInfo) -> AudioSpec {
    let layout = match info.channels {
        Channels::Mono => layouts::CHANNEL_LAYOUT_MONO,
        Channels::Stereo => layouts::CHANNEL_LAYOUT_STEREO,
    };
    AudioSpec::new(info.sample_rate, layout)
}

impl AudioDecoder for Mp3Decoder {
    fn codec_info(&self) -> &CodecInfo {
        &Self::supported_codecs()[0].info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn reset(&mut self) {
        self.decoder = Decoder::new();
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
        match self.decode_inner(packet) {
            Ok(()) => Ok(self.buf.as_generic_audio_buffer_ref()),
            Err(e) => {
                self.buf.clear();
                Err(e)
            }
        }
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        self.buf.as_generic_audio_buffer_ref()
    }
}

impl RegisterableAudioDecoder for Mp3Decoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>> {
        Ok(Box::new(Mp3Decoder::try_new(params, opts)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        &[SupportedAudioCodec {
            id: CODEC_ID_MP3,
            info: CodecInfo {
                short_name: "mp3",
                long_name: "MPEG Audio Layer 3 (nanomp3)",
                profiles: &[],
            },
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_tracks::open_default_track;

    fn planar(buffer: GenericAudioBufferRef<'_>) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        buffer.copy_to_vecs_planar::<f32>(&mut out);
        out
    }

    /// Decodes every packet of `path` with this decoder and with symphonia's own, checking that
    /// they give the same channels and frames. Returns the frames and the largest difference.
    fn against_symphonia(path: &str) -> (usize, f32) {
        let (mut format, track, params) = open_default_track(path);
        let opts = AudioDecoderOptions::default();
        let mut theirs = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &opts)
            .unwrap();
        let mut ours = Mp3Decoder::try_new(&params, &opts).unwrap();
        let (mut packets, mut frames, mut worst) = (0, 0, 0.0f32);
        while let Ok(Some(packet)) = format.next_packet() {
            if packet.track_id != track {
                continue;
            }
            let expected = planar(theirs.decode(&packet).unwrap());
            let got = planar(ours.decode(&packet).unwrap());
            assert_eq!(got.len(), expected.len(), "channels of packet {packets}");
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g.len(), e.len(), "frames of packet {packets}");
                for (a, b) in g.iter().zip(e) {
                    worst = worst.max((a - b).abs());
                }
            }
            frames += expected[0].len();
            packets += 1;
        }
        (frames, worst)
    }

    /// Every packet of a real MP3, gapless trims included, against symphonia's own decoder.
    #[test]
    fn frames_agree_with_symphonias_decoder_to_rounding() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/hiphop_92.mp3");
        let (frames, worst) = against_symphonia(path);
        // mpg123's length of this file (scripts/check_decode.py), gapless trims applied.
        assert_eq!(frames, 402_652);
        assert!(worst < 2e-5, "largest difference {worst}");
    }

    /// The same on a mono stream, whose frames take the other path out of the decoder.
    #[test]
    fn mono_frames_agree_with_symphonias_decoder_to_rounding() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bad/truncated.mp3"
        );
        let (frames, worst) = against_symphonia(path);
        assert!(frames > 0);
        assert!(worst < 2e-5, "largest difference {worst}");
    }

    /// Started mid-stream, frames whose bit reservoir was never seen come out as silence of a
    /// frame's length, and decoding goes on.
    #[test]
    fn a_missing_reservoir_gives_a_silent_frame() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/hiphop_92.mp3");
        let (mut format, track, params) = open_default_track(path);
        let mut ours = Mp3Decoder::try_new(&params, &AudioDecoderOptions::default()).unwrap();
        let mut outputs = Vec::new();
        let mut index = 0;
        while let Ok(Some(packet)) = format.next_packet() {
            if packet.track_id != track {
                continue;
            }
            index += 1;
            if index < 100 {
                continue;
            }
            outputs.push(planar(ours.decode(&packet).unwrap()));
            if outputs.len() == 4 {
                break;
            }
        }
        assert!(outputs.iter().all(|o| o[0].len() == 1152));
        let silent = outputs
            .iter()
            .take_while(|o| o.iter().flatten().all(|&s| s == 0.0))
            .count();
        // This file's frames borrow from the frame before (checked: its first frame from the
        // 100th on is silent), and only from it.
        assert_eq!(silent, 1, "frames without their reservoir");
        assert!(outputs[3].iter().flatten().any(|&s| s != 0.0));
    }
}
