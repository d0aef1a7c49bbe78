#!/usr/bin/env python3
"""The hostile-header family of the bad-input corpus: tests/fixtures/bad/hostile/.

Each file is small (under 100 KB) and damaged in one way only: its header lies about a number
that a reader might size memory or work from (sample rate, channel count, block or packet size,
tag size, sample-table size, an offset). Encoded media (FLAC, ALAC in MP4, MP3) are patched copies
of the committed format fixtures, so this needs the standard library only and is deterministic.

Called by scripts/make_bad_corpus.py (`--hostile-only` for this family alone). Writes
hostile/expect.csv: file,expect,kind where expect is ok | error | either and kind is the error
kind an error record must have (empty when any kind is fine or the file must be analysed).
"""

import math
import os
import struct

# A prime rate inside the supported range, coprime to 16000 (the analysis rate).
PRIME_RATE = 44111
# The largest prime below the top of the supported range (768 kHz).
TOP_PRIME_RATE = 767957


def sine_s16(n, rate, freq=440.0):
    return [int(round(0.5 * math.sin(2 * math.pi * freq * k / rate) * 32767)) for k in range(n)]


def le_chunk(tag, payload, size=None):
    data = tag + struct.pack("<I", len(payload) if size is None else size) + payload
    return data + (b"\0" if len(payload) % 2 and size is None else b"")


def wav(rate, channels=1, frames=16000, block_align=None, bits=16):
    """A PCM WAV whose fmt chunk says what it is told to, with `frames` mono-sized frames of data."""
    block = channels * bits // 8 if block_align is None else block_align
    fmt = struct.pack("<HHIIHH", 1, channels & 0xFFFF, rate & 0xFFFFFFFF,
                      (rate * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    data = struct.pack("<%dh" % frames, *sine_s16(frames, 44100))
    body = b"WAVE" + le_chunk(b"fmt ", fmt) + le_chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def ext80(x):
    """IEEE 754 80-bit extended, big-endian (the AIFF COMM sample rate)."""
    if x == 0:
        return b"\0" * 10
    mantissa, exponent = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1
    return struct.pack(">HQ", exponent - 1 + 16383, int(mantissa * (1 << 64)))


def aiff(rate_bytes, channels=1, frames=16000):
    samples = sine_s16(frames * max(channels, 1) if channels < 64 else frames, 44100)
    data = struct.pack(">%dh" % len(samples), *samples)
    comm = struct.pack(">hIh", channels, frames, 16) + rate_bytes
    ssnd = struct.pack(">II", 0, 0) + data
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm
    body += b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


def caf(rate, channels=1, bytes_per_packet=None, frames_per_packet=1, frames=16000):
    bpp = 2 * channels if bytes_per_packet is None else bytes_per_packet
    desc = struct.pack(">d4sIIIII", rate, b"lpcm", 2, bpp & 0xFFFFFFFF, frames_per_packet,
                       channels & 0xFFFFFFFF, 16)  # flags 2: little-endian integer
    data = struct.pack("<%dh" % frames, *sine_s16(frames, 44100))
    out = b"caff" + struct.pack(">HH", 1, 0)
    out += b"desc" + struct.pack(">q", len(desc)) + desc
    out += b"data" + struct.pack(">q", 4 + len(data)) + struct.pack(">I", 0) + data
    return out


def flac_patched(flac, rate=None, min_block=None, max_block=None):
    """The FLAC fixture with STREAMINFO fields replaced (frames untouched)."""
    b = bytearray(flac)
    assert b[:4] == b"fLaC" and b[4] & 0x7F == 0
    si = 8  # STREAMINFO body
    if min_block is not None:
        b[si:si + 2] = struct.pack(">H", min_block)
    if max_block is not None:
        b[si + 2:si + 4] = struct.pack(">H", max_block)
    if rate is not None:
        packed = int.from_bytes(b[si + 10:si + 18], "big")
        packed = (packed & ((1 << 44) - 1)) | (rate << 44)
        b[si + 10:si + 18] = packed.to_bytes(8, "big")
    return bytes(b)


def flac_with_block(flac, block_type, payload, declared=None):
    """The FLAC fixture with one more metadata block right after STREAMINFO."""
    assert flac[:4] == b"fLaC"
    si_end = 8 + int.from_bytes(flac[5:8], "big")
    size = len(payload) if declared is None else declared
    block = bytes([block_type & 0x7F]) + size.to_bytes(3, "big") + payload
    return flac[:si_end] + block + flac[si_end:]


def mp4_patched(m4a, timescale=None, rate=None):
    """The ALAC-in-MP4 fixture with the media timescale (mdhd) and/or every sample rate field
    (sample entry, ALAC cookie) replaced."""
    b = bytearray(m4a)
    if timescale is not None:
        i = b.find(b"mdhd")
        assert b[i + 4] == 0, "version 0 mdhd"
        b[i + 16:i + 20] = struct.pack(">I", timescale)
    if rate is not None:
        entry = b.find(b"alac", b.find(b"stsd"))
        b[entry + 28:entry + 32] = struct.pack(">I", (rate << 16) & 0xFFFFFFFF)
        cookie = b.find(b"alac", entry + 4)
        b[cookie + 8 + 20:cookie + 8 + 24] = struct.pack(">I", rate)
    return bytes(b)


def mp4_stco_to(m4a, offset):
    """Every chunk offset pointed at `offset` (0: the file's own header)."""
    b = bytearray(m4a)
    i = b.find(b"stco")
    count = struct.unpack(">I", b[i + 8:i + 12])[0]
    for k in range(count):
        b[i + 12 + 4 * k:i + 16 + 4 * k] = struct.pack(">I", offset)
    return bytes(b)


def mp4_stsz_count(m4a, count):
    """The sample-size table claims `count` entries (the file holds 11)."""
    b = bytearray(m4a)
    i = b.find(b"stsz")
    b[i + 12:i + 16] = struct.pack(">I", count)
    return bytes(b)


def syncsafe(n):
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


# name, expect, kind (error kind required of an error record; "" = any)
HOSTILE = [
    ("wav_rate_4294967291.wav", "error", "unsupported_format"),
    ("wav_rate_1.wav", "error", "unsupported_format"),
    ("wav_rate_2.wav", "error", "unsupported_format"),
    ("wav_rate_3000017.wav", "error", "unsupported_format"),
    ("wav_rate_0.wav", "error", "unsupported_format"),
    ("wav_rate_prime_44111.wav", "ok", ""),
    ("wav_rate_prime_767957.wav", "ok", ""),
    ("aiff_rate_1e300.aiff", "error", "unsupported_format"),
    ("aiff_rate_1.aiff", "error", "unsupported_format"),
    ("caf_rate_1e12.caf", "error", "unsupported_format"),
    ("caf_rate_nan.caf", "error", "unsupported_format"),
    ("flac_streaminfo_rate_1.flac", "error", "unsupported_format"),
    ("flac_streaminfo_rate_1048575.flac", "error", "unsupported_format"),
    ("mp4_timescale_1.m4a", "either", ""),
    ("mp4_timescale_4294967295.m4a", "either", ""),
    ("mp4_rate_1.m4a", "error", "unsupported_format"),
    ("wav_channels_65535.wav", "error", ""),
    ("wav_channels_4096.wav", "error", ""),
    ("aiff_channels_32767.aiff", "error", "unsupported_format"),
    ("caf_channels_1000000.caf", "error", ""),
    ("wav_block_align_65535.wav", "either", ""),
    ("caf_packet_4294967295.caf", "error", ""),
    ("flac_blocksize_65535.flac", "either", ""),
    ("flac_picture_16mb.flac", "either", ""),
    ("flac_padding_past_eof.flac", "either", ""),
    ("mp3_id3_256mb.mp3", "either", ""),
    ("mp4_stco_self.m4a", "either", ""),
    ("mp4_stsz_4294967295.m4a", "either", ""),
]


def make_hostile(out, formats):
    os.makedirs(out, exist_ok=True)
    flac = open(os.path.join(formats, "flac_s24_16000_1ch.flac"), "rb").read()
    m4a = open(os.path.join(formats, "alac_s16_44100_1ch.m4a"), "rb").read()
    mp3 = open(os.path.join(formats, "mp3_cbr128_44100_2ch.mp3"), "rb").read()
    files = {
        "wav_rate_4294967291.wav": wav(4294967291),
        "wav_rate_1.wav": wav(1, frames=1000),
        "wav_rate_2.wav": wav(2, frames=20000),
        "wav_rate_3000017.wav": wav(3000017),
        "wav_rate_0.wav": wav(0),
        "wav_rate_prime_44111.wav": wav(PRIME_RATE, frames=44111),
        "wav_rate_prime_767957.wav": wav(TOP_PRIME_RATE, frames=40000),
        "aiff_rate_1e300.aiff": aiff(ext80(1e300)),
        "aiff_rate_1.aiff": aiff(ext80(1.0)),
        "caf_rate_1e12.caf": caf(1e12),
        "caf_rate_nan.caf": caf(float("nan")),
        "flac_streaminfo_rate_1.flac": flac_patched(flac, rate=1),
        "flac_streaminfo_rate_1048575.flac": flac_patched(flac, rate=(1 << 20) - 1),
        "mp4_timescale_1.m4a": mp4_patched(m4a, timescale=1),
        "mp4_timescale_4294967295.m4a": mp4_patched(m4a, timescale=0xFFFFFFFF),
        "mp4_rate_1.m4a": mp4_patched(m4a, rate=1),
        "wav_channels_65535.wav": wav(44100, channels=65535),
        "wav_channels_4096.wav": wav(44100, channels=4096, frames=16384),
        "aiff_channels_32767.aiff": aiff(ext80(44100.0), channels=32767),
        "caf_channels_1000000.caf": caf(44100.0, channels=1000000),
        "wav_block_align_65535.wav": wav(44100, block_align=65535),
        "caf_packet_4294967295.caf": caf(44100.0, bytes_per_packet=0xFFFFFFFF,
                                         frames_per_packet=0xFFFFFFFF),
        "flac_blocksize_65535.flac": flac_patched(flac, min_block=65535, max_block=65535),
        # PICTURE block: type 3, MIME length claims 16 MB, no more bytes than the header.
        "flac_picture_16mb.flac": flac_with_block(
            flac, 6, struct.pack(">II", 3, 0xFFFFFF) + b"image/png", declared=0xFFFFFF),
        "flac_padding_past_eof.flac": flac_with_block(flac, 1, b"\0" * 16, declared=0xFFFFFF),
        "mp3_id3_256mb.mp3": b"ID3\x03\x00\x00" + syncsafe(0x0FFFFFFF) + mp3,
        "mp4_stco_self.m4a": mp4_stco_to(m4a, 0),
        "mp4_stsz_4294967295.m4a": mp4_stsz_count(m4a, 0xFFFFFFFF),
    }
    assert sorted(files) == sorted(name for name, _, _ in HOSTILE)
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "expect.csv"), "w") as f:
        f.write("file,expect,kind\n")
        for name, expect, kind in HOSTILE:
            f.write(f"{name},{expect},{kind}\n")


if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    make_hostile(os.path.join(root, "tests", "fixtures", "bad", "hostile"),
                 os.path.join(root, "tests", "fixtures", "formats"))
