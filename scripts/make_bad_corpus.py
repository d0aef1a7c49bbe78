#!/usr/bin/env python3
"""Generate the corpus of broken, odd and hostile inputs in tests/fixtures/bad/.

Usage:
    python3 scripts/make_bad_corpus.py         # from the repository root (or anywhere)

Makes (overwriting whatever is there), all small, all deterministic (fixed seeds, fixed Ogg
serial number):
    empty.wav                 0 bytes
    random.mp3                4 KiB of seeded pseudo-random bytes
    zero_channels.wav         RIFF/WAVE whose fmt chunk says 0 channels, then 1 KiB of data
    huge_data_chunk.wav       data chunk size 0xFFFFFFF0 (RIFF size 0xFFFFFFFF) but only 1 s of
                              real 16-bit mono 16 kHz samples after the header
    truncated.mp3             a real 1 s CBR MP3 cut to 40 % of its bytes
    truncated.flac            a real 1 s FLAC cut to 40 % of its bytes
    cut_mid_frame.ogg         a real 2 s Ogg Vorbis cut at an odd byte in the middle of a page
    id3_only.mp3              an ID3v2.3 tag (title, artist, padding) and no audio frames
    text.wav                  a plain text file
    one_sample.wav            16-bit mono 44.1 kHz WAV holding exactly 1 sample
    silence_10min.flac        10 minutes of digital silence, 16-bit mono 16 kHz
    nan_inf.wav               32-bit float WAV (format tag 3), 1 s at 8 kHz: a 440 Hz sine with
                              NaN, +inf and -inf samples at the indices listed in README.md
    header_only.wav           a 44-byte canonical header with data size 0
    wrong_ext.flac            a valid MP3 with a .flac extension
    garbage_after_header.flac "fLaC" magic followed by random bytes
    expect.csv                file,expect  (ok | error | either)
    hostile/                  headers that lie about rates, channel counts, block sizes, tag
                              sizes and offsets (no other damage); see HOSTILE below and
                              hostile/expect.csv (file,expect,kind). Standard library only:
                              encoded media are patched copies of tests/fixtures/formats.

README.md in that directory (hand-written) explains each file and the cases the Rust tests
create at run time (directory named x.flac, unreadable file, FIFO, dangling symlink).

Needs: python3 (standard library only), lame, flac, oggenc on PATH.
`--hostile-only` writes only the hostile/ family (no external tools needed).
"""

import math
import os
import sys
import random
import struct
import subprocess
import tempfile
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "bad")

# Indices of the non-finite samples in nan_inf.wav (also documented in README.md).
NAN_AT = [100, 1000, 2500, 7999]
POS_INF_AT = [1500, 4000]
NEG_INF_AT = [3000, 6500]

EXPECT = [
    # file, expect: ok = a valid analysis result; error = an error record; either = both fine
    # (in every case: no panic, no hang, one record for the file).
    ("empty.wav", "error"),
    ("random.mp3", "either"),
    ("zero_channels.wav", "error"),
    ("huge_data_chunk.wav", "either"),
    ("truncated.mp3", "either"),
    ("truncated.flac", "either"),
    ("cut_mid_frame.ogg", "either"),
    ("id3_only.mp3", "error"),
    ("text.wav", "error"),
    ("one_sample.wav", "either"),
    ("silence_10min.flac", "ok"),
    ("nan_inf.wav", "ok"),
    ("header_only.wav", "error"),
    ("wrong_ext.flac", "ok"),
    ("garbage_after_header.flac", "error"),
]


def path(name):
    return os.path.join(OUT, name)


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def sine_s16(n, rate, freq=440.0, amp=0.5, noise=0.0, seed=0):
    rng = random.Random(seed)
    out = []
    for k in range(n):
        v = amp * math.sin(2 * math.pi * freq * k / rate)
        if noise:
            v += noise * (2 * rng.random() - 1)
        out.append(int(round(v * 32767)))
    return out


def write_wav_s16(p, samples, rate, channels=1):
    with wave.open(p, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % len(samples), *samples))


def riff(chunks, riff_size=None):
    body = b"WAVE" + b"".join(chunks)
    size = len(body) if riff_size is None else riff_size
    return b"RIFF" + struct.pack("<I", size) + body


def chunk(tag, payload, size=None):
    data = tag + struct.pack("<I", len(payload) if size is None else size) + payload
    if len(payload) % 2 and size is None:
        data += b"\0"
    return data


def fmt_pcm(channels, rate, bits, tag=1, extra=None):
    block = channels * bits // 8
    payload = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    if extra is not None:
        payload += struct.pack("<H", len(extra)) + extra
    return chunk(b"fmt ", payload)


def ogg_pages(data):
    """Returns (offset, length) of every Ogg page in `data`."""
    pages, pos = [], 0
    while pos + 27 <= len(data):
        assert data[pos:pos + 4] == b"OggS", pos
        nseg = data[pos + 26]
        body = sum(data[pos + 27:pos + 27 + nseg])
        length = 27 + nseg + body
        pages.append((pos, length))
        pos += length
    return pages


def syncsafe(n):
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def id3_frame(fid, text):
    payload = b"\x00" + text.encode("latin-1")  # encoding 0 = ISO-8859-1
    return fid + struct.pack(">I", len(payload)) + b"\x00\x00" + payload


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # Real encoded sources for the truncated / mislabelled files.
        src = os.path.join(tmp, "tone.wav")
        write_wav_s16(src, sine_s16(44100, 44100, noise=0.01, seed=1), 44100)
        mp3 = os.path.join(tmp, "tone.mp3")
        subprocess.run(["lame", "--quiet", "--cbr", "-b", "96", src, mp3], check=True)
        flac = os.path.join(tmp, "tone.flac")
        subprocess.run(["flac", "--silent", "--force", "-8", "-o", flac, src], check=True)
        src2 = os.path.join(tmp, "tone2.wav")
        write_wav_s16(src2, sine_s16(88200, 44100, freq=660.0, noise=0.05, seed=2), 44100)
        ogg = os.path.join(tmp, "tone.ogg")
        subprocess.run(["oggenc", "--quiet", "-q4", "--serial", "4242", "-o", ogg, src2], check=True)
        silence = os.path.join(tmp, "silence.wav")
        write_wav_s16(silence, [0] * (16000 * 600), 16000)
        subprocess.run(["flac", "--silent", "--force", "-8", "-o", path("silence_10min.flac"), silence],
                       check=True)

        mp3_bytes = open(mp3, "rb").read()
        flac_bytes = open(flac, "rb").read()
        ogg_bytes = open(ogg, "rb").read()

    write("empty.wav", b"")
    write("random.mp3", random.Random(0x5EED).randbytes(4096))

    # 0 channels: byte rate and block align are 0 as well, consistently with the channel count.
    data = struct.pack("<512h", *sine_s16(512, 44100))
    write("zero_channels.wav", riff([fmt_pcm(0, 44100, 16), chunk(b"data", data)]))

    one_second = struct.pack("<16000h", *sine_s16(16000, 16000))
    write("huge_data_chunk.wav",
          riff([fmt_pcm(1, 16000, 16), chunk(b"data", one_second, size=0xFFFFFFF0)], riff_size=0xFFFFFFFF))

    write("truncated.mp3", mp3_bytes[: len(mp3_bytes) * 40 // 100])
    write("truncated.flac", flac_bytes[: len(flac_bytes) * 40 // 100])

    # Cut in the middle of the page holding the middle of the audio, at an odd byte offset.
    pages = ogg_pages(ogg_bytes)
    assert len(pages) >= 5, "need several Ogg pages to cut in the middle of one"
    off, length = pages[len(pages) // 2]
    cut = off + length // 2
    if cut % 2 == 0:
        cut += 1
    write("cut_mid_frame.ogg", ogg_bytes[:cut])

    frames = id3_frame(b"TIT2", "sonovec bad corpus: tag only") + id3_frame(b"TPE1", "nobody")
    frames += b"\0" * 256  # padding, as taggers leave it
    write("id3_only.mp3", b"ID3\x03\x00\x00" + syncsafe(len(frames)) + frames)

    write("text.wav", b"This is not a WAV file.\nIt is plain text with a .wav extension,\n"
                      b"part of sonovec's bad-input corpus (tests/fixtures/bad).\n")

    write_wav_s16(path("one_sample.wav"), [12345], 44100)
    write_wav_s16(path("header_only.wav"), [], 44100)

    samples = [0.5 * math.sin(2 * math.pi * 440 * k / 8000) for k in range(8000)]
    for i in NAN_AT:
        samples[i] = float("nan")
    for i in POS_INF_AT:
        samples[i] = float("inf")
    for i in NEG_INF_AT:
        samples[i] = float("-inf")
    pcm = struct.pack("<8000f", *samples)
    write("nan_inf.wav", riff([fmt_pcm(1, 8000, 32, tag=3, extra=b""),
                               chunk(b"fact", struct.pack("<I", 8000)),
                               chunk(b"data", pcm)]))

    write("wrong_ext.flac", mp3_bytes)
    write("garbage_after_header.flac", b"fLaC" + random.Random(0xF1AC).randbytes(4092))

    with open(path("expect.csv"), "w") as f:
        f.write("file,expect\n")
        for name, expect in EXPECT:
            assert os.path.exists(path(name)), name
            f.write(f"{name},{expect}\n")


if __name__ == "__main__":
    from make_hostile_corpus import make_hostile
    if "--hostile-only" not in sys.argv[1:]:
        main()
    make_hostile(os.path.join(OUT, "hostile"), os.path.join(ROOT, "tests", "fixtures", "formats"))
