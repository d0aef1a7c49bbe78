//! The part of libopus's C API that sonovec uses (decoding through symphonia-adapter-libopus),
//! declared by hand from `opus/include/opus.h` and `opus_defines.h`, with the names the crates.io
//! `opusic-sys` gives them so the adapter builds against this crate unchanged.
//!
//! The library itself is libopus compiled from `opus/` by `build.rs`.

#![no_std]
#![allow(non_camel_case_types)]

use core::ffi::{c_char, c_int};

/// No error.
pub const OPUS_OK: c_int = 0;
/// One or more invalid or out of range arguments.
pub const OPUS_BAD_ARG: c_int = -1;
/// Not enough bytes allocated in the buffer.
pub const OPUS_BUFFER_TOO_SMALL: c_int = -2;
/// An internal error was detected.
pub const OPUS_INTERNAL_ERROR: c_int = -3;
/// The compressed data passed is corrupted.
pub const OPUS_INVALID_PACKET: c_int = -4;
/// Invalid or unsupported request number.
pub const OPUS_UNIMPLEMENTED: c_int = -5;
/// An encoder or decoder structure is invalid or already freed.
pub const OPUS_INVALID_STATE: c_int = -6;
/// Memory allocation has failed.
pub const OPUS_ALLOC_FAIL: c_int = -7;
/// `opus_decoder_ctl` request: reset the codec state as if freshly initialised.
pub const OPUS_RESET_STATE: c_int = 4028;

/// Opaque decoder state.
#[repr(C)]
pub struct OpusDecoder {
    _private: [u8; 0],
}

extern "C" {
    /// The libopus version, a NUL-terminated string such as `libopus 1.6.1`.
    pub fn opus_get_version_string() -> *const c_char;
    /// Allocates and initialises a decoder for `fs` Hz (8, 12, 16, 24 or 48 kHz) and 1 or 2
    /// channels; `error` receives `OPUS_OK` or an error code.
    pub fn opus_decoder_create(fs: i32, channels: c_int, error: *mut c_int) -> *mut OpusDecoder;
    /// Decodes one packet (`data` null for loss) into interleaved floats; returns samples per
    /// channel or a negative error code.
    pub fn opus_decode_float(
        st: *mut OpusDecoder,
        data: *const u8,
        len: i32,
        pcm: *mut f32,
        frame_size: c_int,
        decode_fec: c_int,
    ) -> c_int;
    /// Performs a CTL request (`OPUS_RESET_STATE` takes no argument).
    pub fn opus_decoder_ctl(st: *mut OpusDecoder, request: c_int, ...) -> c_int;
    /// Samples per channel at `fs` Hz that a packet of `len` bytes decodes to, by its TOC byte
    /// and frame count; `OPUS_BAD_ARG` or `OPUS_INVALID_PACKET` for a packet that cannot be
    /// decoded. Used by sonovec itself (how long a packet is, whatever its container says).
    pub fn opus_packet_get_nb_samples(packet: *const u8, len: i32, fs: i32) -> c_int;
    /// Frees a decoder from `opus_decoder_create`.
    pub fn opus_decoder_destroy(st: *mut OpusDecoder);
}

