//! Chained streams: Ogg files one after the other, as internet radio recordings and `cat a.ogg
//! b.ogg` make them. symphonia's Ogg reader reports each new link as `ResetRequired`; libvorbis's
//! vorbisfile and FFmpeg play on through every link, and so does [`AudioStream`].

use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoderOptions};

use super::{codecs, tick_seconds, AudioStream, Decoding};

/// Links of a chained stream decoded, at most. Each costs a new decoder, whose
/// setup a hostile link can make slow (a Vorbis setup header's codebooks); a real chain is an
/// album or a radio recording, tens or hundreds of links.
const MAX_LINKS: usize = 4096;

impl AudioStream {
    /// The demuxer has begun the next link of a chained stream (Ogg files concatenated, as
    /// internet radio recordings and some tools write them): goes on with a fresh decoder for
    /// that link's audio track when it has the codec, rate and channel count of the links
    /// before, as libvorbis's vorbisfile and FFmpeg play a chained file through, each link from
    /// its own headers (its own Opus pre-skip, say), in segments where the first link was.
    /// Otherwise, or past [`MAX_LINKS`], the rest is ignored with a warning and `false`
    /// returned. Links after the first decode every audio packet: vorbisfile, reading on into a
    /// later link, does not leave out the audio on its last header page (measured with
    /// `oggdec`; see [`super::ogg_headers`]).
    pub(super) fn next_link(&mut self) -> bool {
        let at = self.frames_decoded as f64 / self.info.sample_rate.max(1) as f64;
        let mut stop = |why: String| {
            self.warnings.push(format!(
                "the chained stream's link {} (after {at:.1} s) {why}; the rest was ignored",
                self.links + 2
            ));
            false
        };
        if self.links + 1 >= MAX_LINKS {
            return stop(format!("is past the limit of {MAX_LINKS} links"));
        }
        let next = self.format.tracks().iter().find_map(|track| {
            let params = track.codec_params.as_ref()?.audio()?;
            codecs().get_audio_decoder(params.codec)?;
            Some((track.id, params.clone(), tick_seconds(track)))
        });
        let Some((track_id, params, tick)) = next else {
            return stop("has no audio track we decode".to_string());
        };
        let channels = |p: &AudioCodecParameters| p.channels.as_ref().map_or(0, |c| c.count());
        if params.codec != self.params.codec
            || params.sample_rate != self.params.sample_rate
            || channels(&params) != channels(&self.params)
        {
            let codec = codecs()
                .get_audio_decoder(params.codec)
                .map_or("?", |d| d.codec.info.short_name);
            return stop(format!(
                "is {codec} at {} Hz with {} channel(s), unlike the links before",
                params.sample_rate.unwrap_or(0),
                channels(&params)
            ));
        }
        if let Err(e) = crate::audio::limits::check_source(&params) {
            return stop(format!("was refused: {e}"));
        }
        let decoder = match codecs().make_audio_decoder(&params, &AudioDecoderOptions::default()) {
            Ok(decoder) => decoder,
            Err(e) => return stop(format!("could not be decoded: {e}")),
        };
        self.links += 1;
        // The first link's header page says nothing of this one's (see above).
        self.undecoded_packets = 0;
        self.track_id = track_id;
        self.tick_seconds = tick;
        self.params = params.clone();
        // Decoded as the first link was: in segments if it was (two cores serve a radio
        // recording's later hours as well as its first link).
        let ended = std::mem::replace(&mut self.decoding, Decoding::One(decoder));
        if let Decoding::Segmented(segmented) = ended {
            if let Some(next) = segmented.into_next_link(params, track_id, tick) {
                self.decoding = Decoding::Segmented(Box::new(next));
            }
        }
        true
    }
}
