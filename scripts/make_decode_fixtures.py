#!/usr/bin/env python3
"""Make tests/fixtures/decode/: short excerpts of real music and their reference decodes.

    make_decode_fixtures.py [TRACK]   # TRACK: "Media Threat.ogg" from Debian's singularity-music
    make_decode_fixtures.py --only vorbis_header_page_audio.ogg   # one fixture, the rest untouched

Each fixture reproduces one way a decoder can lose or shift samples, cut and encoded the way
users make such files (`ffmpeg -ss S -t T -i track.ogg -c:a ENCODER`):

    vorbis_midstream_granule.ogg  libvorbis; a mid-stream page's granule is 448 samples short of
                                  its packets, and symphonia's Ogg reader trimmed a packet there
    opus_midstream_granule.opus   libopus; the same on an Opus page
    mp3_gapless.mp3               LAME; encoder delay and padding from the LAME header
    flac_exact.flac               libFLAC; must be bit-exact
    aac_edit_list.m4a             ffmpeg's AAC encoder in MP4; the edit list says to drop 1024
                                  samples of encoder priming, which symphonia's MP4 reader ignores
    vorbis_header_page_audio.ogg  the pages of wesnoth's battle-epic.ogg up to 3 s, byte for byte
                                  (the last flagged end of stream): its first audio packet is on
                                  the page that ends the setup header, which libvorbis never
                                  decodes when it can seek, so it gives 128 samples fewer at the
                                  start than symphonia and ffmpeg (WESNOTH_TRACK)

The reference decoder of each codec (libvorbis through libsndfile, cross-checked by oggdec;
libopus through opusdec --float, cross-checked by ffmpeg -c:a libopus; mpg123, cross-checked by
ffmpeg; libFLAC through `flac -d`; ffmpeg's float AAC decoder, cross-checked by its fixed-point
one, aac_fixed) gives the length and, per block of 4096 frames and channel,
the mean and the RMS of the samples. tests/decode_reference.rs requires sonovec's decode to have
the same length and every block's mean and RMS within 1e-4 (0 for FLAC): if every sample is
within 1e-4, so are those, and a shift or a gap of even a few samples moves them well past it.
The script refuses a fixture whose references disagree on the length.

A chained stream (Ogg files concatenated, as internet radio recordings and `cat` make them) is
checked without a file of its own: the test concatenates committed fixtures in memory, and the
reference decodes that concatenation as one file:

    silence.ogg+vorbis_header_page_audio.ogg   libvorbis through oggdec (libsndfile cannot read
                                               a chain; 16-bit, so the tolerance is 1e-4 plus
                                               one 16-bit step): each link from its own headers,
                                               and the later link's audio on its setup header's
                                               page decoded (vorbisfile leaves it out only in
                                               the first link)

Two more fixtures check that a wrong-looking decode is reported (the test asserts the warning
and its numbers): `silence.ogg`, 3 s of digital silence through libvorbis, and
`flac_truncated.flac`, a 3 s mono FLAC excerpt cut to 40 % of its bytes, whose STREAMINFO still
declares the whole length.

Needs ffmpeg, vorbis-tools, opus-tools, mpg123, flac and the reference venv (numpy, soundfile).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "decode"
DEFAULT_TRACK = Path(
    "/work/data/real/singularity-music/usr/share/games/singularity/music/Media Threat.ogg"
)
WESNOTH_TRACK = Path(
    "/work/data/real/wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/battle-epic.ogg"
)
BLOCK = 4096

# file name, start s, length s, ffmpeg codec arguments
FIXTURES = [
    ("vorbis_midstream_granule.ogg", 3, 6, ["-c:a", "libvorbis"]),
    ("opus_midstream_granule.opus", 160, 6, ["-c:a", "libopus"]),
    ("mp3_gapless.mp3", 61, 4, ["-c:a", "libmp3lame", "-q:a", "2"]),
    ("flac_exact.flac", 61, 2, ["-c:a", "flac", "-compression_level", "8"]),
    ("aac_edit_list.m4a", 61, 4, ["-c:a", "aac", "-b:a", "160k"]),
]


def ogg_crc(data):
    """The Ogg page checksum: CRC-32, polynomial 0x04c11db7, not reflected, initial value 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def ogg_pages_until(src, dst, samples):
    """Copies the Ogg pages of `src` up to the first whose granule reaches `samples`, flagging
    that one the end of the stream (its checksum recomputed)."""
    data, pages, at = src.read_bytes(), [], 0
    while at < len(data):
        assert data[at:at + 4] == b"OggS", f"no page at byte {at}"
        lacing = data[at + 27:at + 27 + data[at + 26]]
        end = at + 27 + len(lacing) + sum(lacing)
        page = bytearray(data[at:end])
        at = end
        granule = int.from_bytes(page[6:14], "little", signed=True)
        if granule >= samples:
            page[5] |= 4
            page[22:26] = b"\0\0\0\0"
            page[22:26] = ogg_crc(page).to_bytes(4, "little")
            pages.append(bytes(page))
            break
        pages.append(bytes(page))
    dst.write_bytes(b"".join(pages))


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def read(path):
    return sf.read(path, dtype="float32", always_2d=True)[0]


def ffmpeg_f32(path, tmp, decoder=None):
    out = Path(tmp) / "ffmpeg.wav"
    cmd = ["ffmpeg", "-y", "-v", "error"] + (["-c:a", decoder] if decoder else [])
    run(cmd + ["-i", str(path), "-c:a", "pcm_f32le", str(out)])
    return read(out)


def reference(path, tmp):
    """(reference name, samples, {cross-check name: length})."""
    suffix = path.suffix
    if suffix == ".ogg":
        wav = Path(tmp) / "oggdec.wav"
        run(["oggdec", "-Q", "-o", str(wav), str(path)])
        return "libvorbis (libsndfile)", read(path), {"oggdec": sf.info(wav).frames}
    if suffix == ".opus":
        wav = Path(tmp) / "opusdec.wav"
        run(["opusdec", "--quiet", "--float", str(path), str(wav)])
        other = ffmpeg_f32(path, tmp, "libopus")
        return "libopus (opusdec --float)", read(wav), {"ffmpeg -c:a libopus": len(other)}
    if suffix == ".mp3":
        wav = Path(tmp) / "mpg123.wav"
        run(["mpg123", "-q", "-e", "f32", "-w", str(wav), str(path)])
        return "mpg123 -e f32", read(wav), {"ffmpeg": len(ffmpeg_f32(path, tmp))}
    if suffix == ".flac":
        wav = Path(tmp) / "flac.wav"
        run(["flac", "-s", "-d", "-f", "-o", str(wav), str(path)])
        return "libFLAC (flac -d)", read(wav), {"ffmpeg": len(ffmpeg_f32(path, tmp))}
    if suffix == ".m4a":
        other = ffmpeg_f32(path, tmp, "aac_fixed")
        return "ffmpeg aac", ffmpeg_f32(path, tmp, "aac"), {"ffmpeg aac_fixed": len(other)}
    raise ValueError(path)


# Chained fixtures: the links, committed fixtures of one rate and channel count, in order.
CHAINS = [("silence.ogg", "vorbis_header_page_audio.ogg")]


def chain_entry(links):
    """The reference entry of `links` concatenated, decoded by oggdec as one chained file."""
    name = "+".join(links)
    with tempfile.TemporaryDirectory() as tmp:
        chained = Path(tmp) / "chained.ogg"
        chained.write_bytes(b"".join((OUT / link).read_bytes() for link in links))
        wav = Path(tmp) / "oggdec.wav"
        run(["oggdec", "-Q", "-o", str(wav), str(chained)])
        samples = read(wav)
    print(f"{name}: {len(samples)} frames, {samples.shape[1]} channel(s), oggdec")
    entry = reference_entry(name, "libvorbis (oggdec, 16-bit)", [], samples, 1e-4 + 1 / 32768)
    return {**entry, "links": list(links)}


def reference_entry(name, reference, cross_checked_by, samples, tolerance):
    """The reference.json entry of fixture `name`: the reference's length and block statistics."""
    return {
        "file": name,
        "reference": reference,
        "cross_checked_by": sorted(cross_checked_by),
        "frames": len(samples),
        "channels": samples.shape[1],
        "block": BLOCK,
        "tolerance": tolerance,
        "blocks": block_stats(samples),
    }


def block_stats(samples):
    """Per block of BLOCK frames (the last may be shorter), per channel: [mean, rms]."""
    stats = []
    for start in range(0, len(samples), BLOCK):
        block = samples[start : start + BLOCK].astype(np.float64)
        stats.append([[float(c.mean()), float(np.sqrt((c * c).mean()))] for c in block.T])
    return stats


def main():
    args = sys.argv[1:]
    only = args[args.index("--only") + 1] if "--only" in args else None
    args = [a for a in args if a not in ("--only", only)]
    track = Path(args[0]) if args else DEFAULT_TRACK
    OUT.mkdir(parents=True, exist_ok=True)
    reference_json = OUT / "reference.json"
    entries = json.loads(reference_json.read_text())["fixtures"] if only else []
    for name, start, length, codec in FIXTURES + [("vorbis_header_page_audio.ogg", 0, 3, None)]:
        if only and name != only:
            continue
        path = OUT / name
        if codec is None:
            ogg_pages_until(WESNOTH_TRACK, path, length * 44100)
        else:
            run(["ffmpeg", "-y", "-v", "error", "-ss", str(start), "-t", str(length), "-i",
                 str(track)] + codec + ["-map_metadata", "-1", str(path)])
        entries = [e for e in entries if e["file"] != name]
        with tempfile.TemporaryDirectory() as tmp:
            ref_name, samples, others = reference(path, tmp)
        if any(n != len(samples) for n in others.values()):
            sys.exit(f"{name}: the references disagree on the length: {len(samples)} {others}")
        tolerance = 0.0 if name.endswith(".flac") else 1e-4
        entries.append(reference_entry(name, ref_name, others, samples, tolerance))
        print(f"{name}: {len(samples)} frames, {samples.shape[1]} channel(s), {ref_name}")
    if not only:
        make_warning_fixtures(track)
    for links in CHAINS:
        name = "+".join(links)
        if only and name != only:
            continue
        entries = [e for e in entries if e["file"] != name]
        entries.append(chain_entry(links))
    reference_json.write_text(json.dumps({"fixtures": entries}, indent=1) + "\n")


def make_warning_fixtures(track):
    """silence.ogg, flac_truncated.flac and tiny_link.opus, whose tests assert a warning, not a
    reference. tiny_link.opus is one 20 ms Opus packet: the test chains 4,097 copies of it to
    reach the limit of links cheaply."""
    run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3",
         "-c:a", "libvorbis", "-map_metadata", "-1", str(OUT / "silence.ogg")])
    run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:r=48000", "-t", "0.02",
         "-c:a", "libopus", "-b:a", "16k", "-map_metadata", "-1", "-fflags", "+bitexact",
         str(OUT / "tiny_link.opus")])
    whole = OUT / "flac_whole.flac"
    run(["ffmpeg", "-y", "-v", "error", "-ss", "61", "-t", "3", "-i", str(track), "-ac", "1",
         "-c:a", "flac", "-map_metadata", "-1", str(whole)])
    data = whole.read_bytes()
    (OUT / "flac_truncated.flac").write_bytes(data[: len(data) * 2 // 5])
    whole.unlink()


if __name__ == "__main__":
    main()
