//! Opening a file's default audio track with symphonia alone, for tests that work below
//! [`super::AudioStream`] (one decoder against another, packets cut by hand).

use std::path::Path;

use symphonia::core::codecs::audio::AudioCodecParameters;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// The demuxer of `path`, its default audio track's id and that track's codec parameters.
pub(crate) fn open_default_track(
    path: impl AsRef<Path>,
) -> (Box<dyn FormatReader>, u32, AudioCodecParameters) {
    let file = std::fs::File::open(path).unwrap();
    let source = MediaSourceStream::new(Box::new(file), Default::default());
    let format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .unwrap();
    let track = format.default_track(TrackType::Audio).unwrap();
    let params = track
        .codec_params
        .as_ref()
        .unwrap()
        .audio()
        .unwrap()
        .clone();
    let id = track.id;
    (format, id, params)
}
