//! What sonovec accepts from a file's header, checked before anything is sized from it.
//!
//! A header can lie about anything, and several of its numbers size memory or work: the sample
//! rate sizes the resampler and the duration of the analysis signal, the channel count sizes
//! every decoded buffer and the per-channel loudness state, the frames per packet size the
//! decoder's buffer, the codec private data is copied whole. Each is checked here against a
//! documented limit, once from the codec parameters before the decoder is built
//! ([`check_source`]) and again for every decoded buffer ([`check_buffer`]), because a decoder
//! may report a different rate or layout than the container did.
//!
//! A value outside a limit is an [`ErrorKind::UnsupportedFormat`] whose message names the limit:
//! the file may be perfectly valid (a 2 MHz measurement recording), but sonovec does not analyse
//! it. README.md, "What sonovec refuses, and why", lists the same numbers.

use std::ops::RangeInclusive;

use symphonia::core::codecs::audio::AudioCodecParameters;

use crate::error::{AnalysisError, ErrorKind, Result};

/// Sample rates sonovec decodes, in Hz. Below 1 kHz nothing of the 0–8 kHz analysis band
/// survives and one second of upsampled signal costs 16 output samples per input sample; above
/// 768 kHz (the highest rate any audio interface records, DXD×2) lies only measurement data or a
/// lying header.
pub const SAMPLE_RATE_RANGE: RangeInclusive<u32> = 1_000..=768_000;

/// Most channels sonovec decodes: every channel is decoded, measured for loudness and mixed
/// down, so cost grows with the count. 64 covers 22.2 and third-order ambisonics with room.
pub const MAX_CHANNELS: usize = 64;

/// Most samples (frames × channels) one decoded packet may hold: 4 Mi samples, 16 MiB of `f32`.
/// Real codecs stay far below (FLAC at most 65535 frames × 8 channels; PCM packets 1152 frames).
pub const MAX_SAMPLES_PER_PACKET: u64 = 1 << 22;

/// Largest codec private data (decoder configuration: Vorbis and Opus headers, an ALAC cookie,
/// an AAC AudioSpecificConfig) the decoder is given. Real ones are under 64 KiB; Vorbis setup
/// headers with large codebooks reach a few KiB.
pub const MAX_CODEC_PRIVATE_BYTES: usize = 1 << 20;

fn refuse(message: String) -> AnalysisError {
    AnalysisError::new(ErrorKind::UnsupportedFormat, message)
}

/// The sample rate is inside [`SAMPLE_RATE_RANGE`].
pub fn check_rate(rate: u32) -> Result<()> {
    if SAMPLE_RATE_RANGE.contains(&rate) {
        return Ok(());
    }
    Err(refuse(format!(
        "sample rate {rate} Hz is outside the supported range of {}–{} Hz",
        SAMPLE_RATE_RANGE.start(),
        SAMPLE_RATE_RANGE.end()
    )))
}

/// The sample rate a header declares ([`super::declared_rate`]), before symphonia reads it
/// (and may saturate it to `u32::MAX` or give up on the file for another reason): a rate that
/// does not round into [`SAMPLE_RATE_RANGE`] is refused with the header's own number, never a
/// saturated one.
pub fn check_declared_rate(rate: f64) -> Result<()> {
    let range = || {
        format!(
            "the supported range of {}–{} Hz",
            SAMPLE_RATE_RANGE.start(),
            SAMPLE_RATE_RANGE.end()
        )
    };
    if rate.is_nan() {
        return Err(refuse(format!(
            "the header's sample rate is not a number ({} is what sonovec decodes)",
            range()
        )));
    }
    let rounded = rate.round();
    if rounded >= f64::from(*SAMPLE_RATE_RANGE.start())
        && rounded <= f64::from(*SAMPLE_RATE_RANGE.end())
    {
        return Ok(());
    }
    if rounded >= 0.0 && rounded <= f64::from(u32::MAX) && rounded == rate {
        return check_rate(rate as u32);
    }
    Err(refuse(format!(
        "the header's sample rate of {rate:e} Hz is outside {}",
        range()
    )))
}

/// At least one channel and at most [`MAX_CHANNELS`].
pub fn check_channels(channels: usize) -> Result<()> {
    match channels {
        0 => Err(refuse("the audio has 0 channels".to_string())),
        n if n > MAX_CHANNELS => Err(refuse(format!(
            "{n} channels is more than the supported maximum of {MAX_CHANNELS}"
        ))),
        _ => Ok(()),
    }
}

/// Checks what the container says about the track before a decoder is sized from it. Values
/// the container leaves unknown (some codecs learn the rate from the first packet) are checked
/// by [`check_buffer`] instead.
pub fn check_source(params: &AudioCodecParameters) -> Result<()> {
    // 0 means "not known here": an MP4 sample entry cannot hold rates above 65535 Hz in its
    // 16.16 field and writes 0, leaving the rate to the codec (the decoded buffers are checked).
    if let Some(rate) = params.sample_rate.filter(|&r| r != 0) {
        check_rate(rate)?;
    }
    let channels = params.channels.as_ref().map(|c| c.count());
    if let Some(channels) = channels {
        check_channels(channels)?;
    }
    if let Some(frames) = params.max_frames_per_packet {
        let samples = frames.saturating_mul(channels.unwrap_or(1).max(1) as u64);
        if samples > MAX_SAMPLES_PER_PACKET {
            return Err(refuse(format!(
                "packets of {frames} frames are larger than the supported maximum of \
                 {MAX_SAMPLES_PER_PACKET} samples"
            )));
        }
    }
    if let Some(extra) = &params.extra_data {
        if extra.len() > MAX_CODEC_PRIVATE_BYTES {
            return Err(refuse(format!(
                "{} bytes of codec configuration is more than the supported maximum of \
                 {MAX_CODEC_PRIVATE_BYTES}",
                extra.len()
            )));
        }
    }
    Ok(())
}

/// Checks one decoded buffer: its rate, its channel count and its size.
pub fn check_buffer(rate: u32, channels: usize, frames: usize) -> Result<()> {
    check_rate(rate)?;
    check_channels(channels)?;
    if (frames as u64).saturating_mul(channels as u64) > MAX_SAMPLES_PER_PACKET {
        return Err(refuse(format!(
            "a decoded packet of {frames} frames × {channels} channels is larger than the \
             supported maximum of {MAX_SAMPLES_PER_PACKET} samples"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_the_range_are_refused_with_the_limit_named() {
        for rate in [0, 1, 2, 999, 768_001, 3_000_017, u32::MAX - 4, u32::MAX] {
            let error = check_rate(rate).unwrap_err();
            assert_eq!(error.kind, ErrorKind::UnsupportedFormat);
            assert!(
                error.message.contains("1000–768000 Hz"),
                "{}",
                error.message
            );
        }
        for rate in [1_000, 8_000, 44_111, 767_957, 768_000] {
            assert!(check_rate(rate).is_ok(), "{rate}");
        }
    }

    #[test]
    fn declared_rates_are_refused_with_their_own_number() {
        for rate in [1_000.0, 44_100.0, 44_099.6, 768_000.0] {
            assert!(check_declared_rate(rate).is_ok(), "{rate}");
        }
        let message = |rate: f64| check_declared_rate(rate).unwrap_err().message;
        assert_eq!(message(1.0), check_rate(1).unwrap_err().message);
        for (rate, shown) in [(1e300, "1e300 Hz"), (1e12, "1e12 Hz"), (0.5, "5e-1 Hz")] {
            let m = message(rate);
            assert!(m.contains(shown) && m.contains("1000–768000 Hz"), "{m}");
            assert!(!m.contains("4294967295"), "{m}");
        }
        for rate in [f64::NAN, f64::INFINITY, -44_100.0] {
            assert!(message(rate).contains("1000–768000 Hz"), "{rate}");
        }
    }

    #[test]
    fn channel_counts_are_bounded() {
        assert!(check_channels(0).is_err());
        assert!(check_channels(1).is_ok());
        assert!(check_channels(MAX_CHANNELS).is_ok());
        let error = check_channels(MAX_CHANNELS + 1).unwrap_err();
        assert!(error.message.contains("maximum of 64"), "{}", error.message);
    }

    #[test]
    fn oversized_buffers_are_refused() {
        assert!(check_buffer(44_100, 2, 4096).is_ok());
        assert!(check_buffer(44_100, 64, 1 << 16).is_ok());
        assert!(check_buffer(44_100, 64, 1 << 17).is_err());
        assert!(check_buffer(1, 1, 16).is_err());
    }
}
