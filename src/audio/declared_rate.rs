//! The sample rate a file's header declares, read by us before symphonia sees the file.
//!
//! Only WAV, AIFF, CAF and FLAC headers are read: the containers whose rate field is a number
//! a crafted file can set to anything at no cost.
//!
//! symphonia loses the header's number in three containers, so a refusal built from what it
//! reports would blame the wrong thing: an AIFF's 80-bit float rate and a CAF's `f64` rate are
//! saturated to `u32::MAX` (1e300 Hz would read "4294967295 Hz"), and a FLAC STREAMINFO rate that
//! its frames contradict (1 Hz over 44.1 kHz frames) makes the FLAC reader scan to the end of the
//! file for a frame it accepts ("the file ends before its audio starts"). Reading the field
//! ourselves lets [`super::limits::check_declared_rate`] name the rate and its limit.
//!
//! Only the first [`SNIFF_BYTES`] are read; a header we cannot find there, or do not parse, is
//! `None` and left to symphonia, so a good file is decoded exactly as before.

use std::io::{self, Read, Seek, SeekFrom};

/// Bytes read from the start of the file: the FLAC STREAMINFO, the CAF `desc` chunk and,
/// in every AIFF writer we know, the `COMM` chunk lie within the first few hundred.
pub const SNIFF_BYTES: usize = 64 << 10;

/// The sample rate, in Hz, that the header of the file in `src` declares, if it is a WAV, AIFF,
/// CAF or FLAC file whose header field we find. Reads at most [`SNIFF_BYTES`] and leaves `src` at
/// its start.
pub fn declared_rate<R: Read + Seek>(src: &mut R) -> io::Result<Option<f64>> {
    Ok(rate_in(&head(src)?))
}

/// The first [`SNIFF_BYTES`] of `src` (fewer if it is shorter), leaving `src` at its start: read
/// once by [`super::decode::AudioStream::open`] for this module and for
/// [`super::ogg_headers`].
pub fn head<R: Read + Seek>(src: &mut R) -> io::Result<Vec<u8>> {
    src.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    src.by_ref()
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;
    src.seek(SeekFrom::Start(0))?;
    Ok(head)
}

/// The declared rate in the first bytes of a file (see [`declared_rate`]).
pub fn rate_in(head: &[u8]) -> Option<f64> {
    match head.get(..4)? {
        b"fLaC" => flac_rate(head),
        b"FORM" if matches!(head.get(8..12)?, b"AIFF" | b"AIFC") => aiff_rate(head),
        b"caff" => caf_rate(head),
        b"RIFF" if head.get(8..12)? == b"WAVE" => wav_rate(head),
        _ => None,
    }
}

/// STREAMINFO, which must be the first metadata block: the 20-bit rate follows the block and
/// frame size bounds (10 bytes into the block, after the 4-byte block header).
fn flac_rate(head: &[u8]) -> Option<f64> {
    if head.get(4)? & 0x7f != 0 {
        return None;
    }
    let b = head.get(18..21)?;
    Some(f64::from(
        (u32::from(b[0]) << 12) | (u32::from(b[1]) << 4) | (u32::from(b[2]) >> 4),
    ))
}

/// The `fmt ` chunk's rate, a little-endian `u32` after the format tag and channel count
/// (symphonia reports it as read; reading it here gives a rate of 0 Hz the same refusal).
fn wav_rate(head: &[u8]) -> Option<f64> {
    let mut at = 12usize;
    while let Some(header) = head.get(at..at + 8) {
        let size = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
        if &header[..4] == b"fmt " {
            let rate = head.get(at + 12..at + 16)?;
            return Some(f64::from(u32::from_le_bytes(rate.try_into().ok()?)));
        }
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}

/// The `COMM` chunk's rate: an IEEE 754 80-bit extended float after channels, frames and bits.
fn aiff_rate(head: &[u8]) -> Option<f64> {
    let mut at = 12usize;
    while let Some(header) = head.get(at..at + 8) {
        let size = u32::from_be_bytes(header[4..8].try_into().ok()?) as usize;
        if &header[..4] == b"COMM" {
            let rate: [u8; 10] = head.get(at + 16..at + 26)?.try_into().ok()?;
            return Some(extended_to_f64(rate));
        }
        // Chunks are padded to an even length.
        at = at
            .checked_add(8)?
            .checked_add(size)?
            .checked_add(size & 1)?;
    }
    None
}

/// The `desc` chunk, which must come first, opens with the rate as a big-endian `f64`.
fn caf_rate(head: &[u8]) -> Option<f64> {
    if head.get(8..12)? != b"desc" {
        return None;
    }
    Some(f64::from_be_bytes(head.get(20..28)?.try_into().ok()?))
}

/// An 80-bit extended float (sign, 15-bit exponent, 64-bit mantissa with an explicit integer
/// bit) as the nearest `f64`; beyond `f64`'s range it is infinite, and NaN stays NaN.
fn extended_to_f64(b: [u8; 10]) -> f64 {
    let sign = if b[0] & 0x80 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from(u16::from_be_bytes([b[0] & 0x7f, b[1]]));
    let mantissa = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
    if exponent == 0x7fff {
        return if mantissa << 1 == 0 {
            sign * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    // Two steps, so that a power of two beyond f64's range on its own cannot make 0·∞ = NaN.
    let e = exponent - 16_383 - 63;
    sign * (mantissa as f64) * 2f64.powi(e / 2) * 2f64.powi(e - e / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `value` as an 80-bit extended float (normal, positive, integers up to 2^63).
    fn extended(value: u64) -> [u8; 10] {
        let shift = value.leading_zeros();
        let exponent = (16_383 + 63 - shift) as u16;
        let mut out = [0u8; 10];
        out[..2].copy_from_slice(&exponent.to_be_bytes());
        out[2..].copy_from_slice(&(value << shift).to_be_bytes());
        out
    }

    #[test]
    fn extended_floats_convert_exactly_and_saturate_to_infinity() {
        for rate in [1u64, 8_000, 44_100, 48_000, 768_000, 4_294_967_295] {
            assert_eq!(extended_to_f64(extended(rate)), rate as f64);
        }
        let mut huge = [0u8; 10];
        huge[..2].copy_from_slice(&(16_383u16 + 996).to_be_bytes());
        huge[2] = 0x80;
        assert_eq!(extended_to_f64(huge), 2f64.powi(996));
        huge[..2].copy_from_slice(&0x7ffeu16.to_be_bytes());
        assert_eq!(extended_to_f64(huge), f64::INFINITY);
        huge[..2].copy_from_slice(&0x7fffu16.to_be_bytes());
        huge[2] = 0xc0;
        assert!(extended_to_f64(huge).is_nan());
    }

    #[test]
    fn rates_are_found_in_each_header() {
        let mut flac = b"fLaC\x00\x00\x00\x22".to_vec();
        flac.extend_from_slice(&[0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        // 44100 = 0x0AC44 in 20 bits, then 3 bits of channels − 1 and the bits per sample.
        flac.extend_from_slice(&[0x0a, 0xc4, 0x42, 0xf0]);
        assert_eq!(rate_in(&flac), Some(44_100.0));
        flac[4] = 4; // a VORBIS_COMMENT first: not a FLAC stream we know how to read
        assert_eq!(rate_in(&flac), None);

        let mut aiff = b"FORM\0\0\0\0AIFF".to_vec();
        aiff.extend_from_slice(b"NAME\0\0\0\x03abc\0"); // odd size, padded
        aiff.extend_from_slice(b"COMM\0\0\0\x12\0\x02\0\0\0\x10\0\x10");
        aiff.extend_from_slice(&extended(48_000));
        assert_eq!(rate_in(&aiff), Some(48_000.0));
        assert_eq!(
            rate_in(&aiff[..aiff.len() - 1]),
            None,
            "cut inside the rate"
        );

        let mut caf = b"caff\0\x01\0\0desc\0\0\0\0\0\0\0\x20".to_vec();
        caf.extend_from_slice(&1e12f64.to_be_bytes());
        assert_eq!(rate_in(&caf), Some(1e12));

        assert_eq!(rate_in(b"RIFF\0\0\0\0WAVE"), None);
        let mut wav = b"RIFF\0\0\0\0WAVEJUNK\x01\0\0\0j\0fmt \x10\0\0\0\x01\0\x02\0".to_vec();
        wav.extend_from_slice(&44_100u32.to_le_bytes());
        assert_eq!(rate_in(&wav), Some(44_100.0));
        let hostile = |name: &str| {
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bad/hostile/");
            rate_in(&std::fs::read(format!("{dir}{name}")).unwrap())
        };
        let e300 = hostile("aiff_rate_1e300.aiff").unwrap();
        assert!((e300 / 1e300 - 1.0).abs() < 1e-12, "{e300}");
        assert_eq!(hostile("flac_streaminfo_rate_1.flac"), Some(1.0));
        assert!(hostile("caf_rate_nan.caf").unwrap().is_nan());
        assert_eq!(rate_in(b"fL"), None);
    }

    #[test]
    fn the_source_is_left_at_its_start() {
        let mut src = io::Cursor::new(vec![7u8; 100_000]);
        src.seek(SeekFrom::Start(50)).unwrap();
        assert_eq!(declared_rate(&mut src).unwrap(), None);
        assert_eq!(src.position(), 0);
    }
}
