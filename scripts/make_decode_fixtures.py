#!/usr/bin/env python3
"""Make tests/fixtures/decode/: short excerpts of real music and their reference decodes.

    make_decode_fixtures.py [TRACK]   # TRACK: "Media Threat.ogg" from Debian's singularity-music

Each fixture reproduces one way a decoder can lose or shift samples, cut and encoded the way
users make such files (`ffmpeg -ss S -t T -i track.ogg -c:a ENCODER`):

    vorbis_midstream_granule.ogg  libvorbis; a mid-stream page's granule is 448 samples short of
                                  its packets, and symphonia's Ogg reader trimmed a packet there
    opus_midstream_granule.opus   libopus; the same on an Opus page
    mp3_gapless.mp3               LAME; encoder delay and padding from the LAME header
    flac_exact.flac               libFLAC; must be bit-exact
    aac_edit_list.m4a             ffmpeg's AAC encoder in MP4; the edit list says to drop 1024
                                  samples of encoder priming, which symphonia's MP4 reader ignores

The reference decoder of each codec (libvorbis through libsndfile, cross-checked by oggdec;
libopus through opusdec --float, cross-checked by ffmpeg -c:a libopus; mpg123, cross-checked by
ffmpeg; libFLAC through `flac -d`; ffmpeg's float AAC decoder, cross-checked by its fixed-point
one, aac_fixed) gives the length and, per block of 4096 frames and channel,
the mean and the RMS of the samples. tests/decode_reference.rs requires sonovec's decode to have
the same length and every block's mean and RMS within 1e-4 (0 for FLAC): if every sample is
within 1e-4, so are those, and a shift or a gap of even a few samples moves them well past it.
The script refuses a fixture whose references disagree on the length.

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
BLOCK = 4096

# file name, start s, length s, ffmpeg codec arguments
FIXTURES = [
    ("vorbis_midstream_granule.ogg", 3, 6, ["-c:a", "libvorbis"]),
    ("opus_midstream_granule.opus", 160, 6, ["-c:a", "libopus"]),
    ("mp3_gapless.mp3", 61, 4, ["-c:a", "libmp3lame", "-q:a", "2"]),
    ("flac_exact.flac", 61, 2, ["-c:a", "flac", "-compression_level", "8"]),
    ("aac_edit_list.m4a", 61, 4, ["-c:a", "aac", "-b:a", "160k"]),
]


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


def block_stats(samples):
    """Per block of BLOCK frames (the last may be shorter), per channel: [mean, rms]."""
    stats = []
    for start in range(0, len(samples), BLOCK):
        block = samples[start : start + BLOCK].astype(np.float64)
        stats.append([[float(c.mean()), float(np.sqrt((c * c).mean()))] for c in block.T])
    return stats


def main():
    track = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_TRACK
    OUT.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, start, length, codec in FIXTURES:
        path = OUT / name
        run(["ffmpeg", "-y", "-v", "error", "-ss", str(start), "-t", str(length), "-i", str(track)]
            + codec + ["-map_metadata", "-1", str(path)])
        with tempfile.TemporaryDirectory() as tmp:
            ref_name, samples, others = reference(path, tmp)
        if any(n != len(samples) for n in others.values()):
            sys.exit(f"{name}: the references disagree on the length: {len(samples)} {others}")
        entries.append({
            "file": name,
            "reference": ref_name,
            "cross_checked_by": sorted(others),
            "frames": len(samples),
            "channels": samples.shape[1],
            "block": BLOCK,
            "tolerance": 0.0 if name.endswith(".flac") else 1e-4,
            "blocks": block_stats(samples),
        })
        print(f"{name}: {len(samples)} frames, {samples.shape[1]} channel(s), {ref_name}")
    (OUT / "reference.json").write_text(json.dumps({"fixtures": entries}, indent=1) + "\n")

    run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "3",
         "-c:a", "libvorbis", "-map_metadata", "-1", str(OUT / "silence.ogg")])
    whole = OUT / "flac_whole.flac"
    run(["ffmpeg", "-y", "-v", "error", "-ss", "61", "-t", "3", "-i", str(track), "-ac", "1",
         "-c:a", "flac", "-map_metadata", "-1", str(whole)])
    data = whole.read_bytes()
    (OUT / "flac_truncated.flac").write_bytes(data[: len(data) * 2 // 5])
    whole.unlink()


if __name__ == "__main__":
    main()
