#!/usr/bin/env python3
"""Check sonovec's decoder against each codec's reference decoder, file by file.

    check_decode.py corpus OUT_DIR TRACK.ogg ...   # make the test corpus from real tracks
    check_decode.py check FILE_OR_DIR ...          # compare; prints one row per file

`corpus` writes, for every track: the track itself, 45 s excerpts cut the way many Ogg files in
the wild are made (`ffmpeg -ss S -t 45 -i in -c copy`, at two start times) and re-encoded by
ffmpeg in every codec sonovec reads (Vorbis, Opus, MP3, AAC in MP4, FLAC, WAV).

`check` decodes each file with sonovec (`cargo run --release --example decode_dump`, native rate,
f32 WAV) and with the reference decoders of its codec:

    vorbis  libvorbis through libsndfile (python-soundfile, float) and oggdec (16-bit; the
            reference of a chained file, which libsndfile cannot read; samples that it clipped
            at full scale where sonovec's float goes beyond are not compared)
    opus    libopus through opusdec --float and ffmpeg -c:a libopus
    mp3     mpg123 -e f32 (gapless, LAME header) and ffmpeg's mp3float decoder
    aac     ffmpeg's aac decoder
    flac    libFLAC through `flac -d` (integers, exact) and ffmpeg
    wav     libsndfile

The first reference is the one the errors are measured against; `refs_agree` says whether every
reference gives the same length, and where they do not, there is one row per reference (`-`
marks a reference the file does not match while it matches another). Per file: `len_diff` (sonovec frames minus reference frames),
`offset` (lag in frames that best aligns sonovec's first 10 s with the reference, by
cross-correlation; positive means sonovec starts late), `max_abs` and `rms` error over the
overlap after that alignment. Goal: len_diff 0 and offset 0 where the references agree;
max_abs <= 1e-4 for vorbis/opus/mp3/aac (plus half a 16-bit step against oggdec), 0 for
flac/wav. Exit status 1 when a file misses it.

Needs ffmpeg, vorbis-tools, opus-tools, mpg123, flac (Debian packages) and numpy + soundfile
(the reference venv, scripts/make_venv.sh).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
FLOAT_TOLERANCE = 1e-4
EXCERPT_STARTS_S = (17.3, 61.0)
EXCERPT_LENGTH_S = 45


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


# --- corpus ------------------------------------------------------------------------------------

REENCODES = {
    # name suffix, ffmpeg codec arguments
    "vorbis.ogg": ["-c:a", "libvorbis", "-q:a", "4"],
    "opus": ["-c:a", "libopus", "-b:a", "128k"],
    "mp3": ["-c:a", "libmp3lame", "-q:a", "2"],
    "m4a": ["-c:a", "aac", "-b:a", "192k"],
    "flac": ["-c:a", "flac"],
    "wav": ["-c:a", "pcm_s16le"],
}


def make_corpus(out_dir, tracks):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for track in map(Path, tracks):
        stem = track.parent.name[:6] + "_" + track.stem
        native = out / f"{stem}.native.ogg"
        if not native.exists():
            native.write_bytes(track.read_bytes())
        for start in EXCERPT_STARTS_S:
            tag = f"{stem}.ss{int(start)}"
            copy = out / f"{tag}.copy.ogg"
            cut = ["ffmpeg", "-y", "-v", "error", "-ss", str(start), "-t", str(EXCERPT_LENGTH_S), "-i", str(track)]
            run(cut + ["-c", "copy", str(copy)])
            for suffix, codec in REENCODES.items():
                run(cut + codec + [str(out / f"{tag}.{suffix}")])


# --- decoding ----------------------------------------------------------------------------------


def probe(path):
    """(codec name, decoded sample rate) of the first audio stream, as ffprobe sees them."""
    info = json.loads(
        run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=codec_name,sample_rate", "-of", "json", str(path)]).stdout
    )["streams"][0]
    return info["codec_name"], int(info["sample_rate"])


def decode_sonovec(path, tmp):
    """Frames x channels float32 array, plus the warnings sonovec gave."""
    out = Path(tmp) / "sonovec.wav"
    exe = ROOT / "target" / "release" / "examples" / "decode_dump"
    proc = subprocess.run([str(exe), str(path), str(out)], capture_output=True, text=True)
    warnings = [l[len("warning: "):] for l in proc.stderr.splitlines() if l.startswith("warning: ")]
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip())
    data, _ = sf.read(out, dtype="float32", always_2d=True)
    return data, warnings


def read_f32(path):
    return sf.read(path, dtype="float32", always_2d=True)[0]


def ffmpeg_f32(path, tmp, decoder=None):
    out = Path(tmp) / "ffmpeg.wav"
    cmd = ["ffmpeg", "-y", "-v", "error"]
    if decoder:
        cmd += ["-c:a", decoder]
    run(cmd + ["-i", str(path), "-c:a", "pcm_f32le", str(out)])
    return sf.read(out, dtype="float32", always_2d=True)[0]


def references(path, codec, tmp):
    """(name, frames x channels array or None when only the length is meaningful, length)."""
    refs = []

    def add(name, data):
        refs.append((name, data, len(data)))

    if codec == "vorbis":
        try:
            add("libsndfile", sf.read(path, dtype="float32", always_2d=True)[0])
        except (RuntimeError, ValueError) as e:
            # libsndfile reads no chained Ogg file (its length comes out absurd); oggdec does.
            print(f"{Path(path).name}: libsndfile cannot read it ({e}); oggdec is the reference",
                  file=sys.stderr)
        wav = Path(tmp) / "oggdec.wav"
        run(["oggdec", "-Q", "-o", str(wav), str(path)])
        add("oggdec", read_f32(wav))
        add("ffmpeg", ffmpeg_f32(path, tmp))
    elif codec == "opus":
        wav = Path(tmp) / "opusdec.wav"
        run(["opusdec", "--quiet", "--float", str(path), str(wav)])
        add("opusdec", sf.read(wav, dtype="float32", always_2d=True)[0])
        add("ffmpeg-libopus", ffmpeg_f32(path, tmp, "libopus"))
    elif codec == "mp3":
        wav = Path(tmp) / "mpg123.wav"
        run(["mpg123", "-q", "-e", "f32", "-w", str(wav), str(path)])
        add("mpg123", sf.read(wav, dtype="float32", always_2d=True)[0])
        add("ffmpeg", ffmpeg_f32(path, tmp))
    elif codec == "aac":
        add("ffmpeg", ffmpeg_f32(path, tmp))
    elif codec == "flac":
        wav = Path(tmp) / "flac.wav"
        run(["flac", "-s", "-d", "-f", "-o", str(wav), str(path)])
        add("libFLAC", sf.read(wav, dtype="float32", always_2d=True)[0])
        add("ffmpeg", ffmpeg_f32(path, tmp))
    else:
        add("libsndfile", sf.read(path, dtype="float32", always_2d=True)[0])
    return refs


# --- comparing ---------------------------------------------------------------------------------


def best_offset(ours, ref, rate, max_lag=4096):
    """Lag (frames) that best aligns ours with ref over the first 10 s; >0: ours starts late."""
    n = min(len(ours), len(ref), 10 * rate)
    if n < 2 * max_lag:
        return 0
    a = ours[:n].mean(axis=1).astype(np.float64)
    b = ref[:n].mean(axis=1).astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate([corr[: max_lag + 1], corr[-max_lag:]])
    lag = int(np.argmax(lags))
    return lag if lag <= max_lag else lag - len(lags)


def measure(ours, ref, rate, clips=False):
    """len_diff, offset, max_abs, rms of ours against one reference. With `clips` (a 16-bit
    reference), samples that it clipped at full scale where ours goes beyond count as equal."""
    offset = best_offset(ours, ref, rate)
    a, b = (ours[offset:], ref) if offset >= 0 else (ours, ref[-offset:])
    n = min(len(a), len(b))
    channels = min(a.shape[1], b.shape[1])
    err = a[:n, :channels].astype(np.float64) - b[:n, :channels]
    if clips:
        full = 32767 / 32768
        clipped = (np.abs(b[:n, :channels]) >= full) & (np.abs(a[:n, :channels]) >= full)
        err[clipped] = 0.0
    max_abs = float(np.abs(err).max()) if n else float("nan")
    rms = float(np.sqrt((err**2).mean())) if n else float("nan")
    return len(ours) - len(ref), offset, max_abs, rms


def compare(path):
    """One row per reference decoder; the first is the codec's primary reference.

    A file is ok when it matches the primary reference (length, offset, tolerance), or, where the
    references disagree on the length, when it matches any one of them.
    """
    codec, rate = probe(path)
    with tempfile.TemporaryDirectory() as tmp:
        ours, warnings = decode_sonovec(path, tmp)
        refs = references(path, codec, tmp)
    rate = 48000 if codec == "opus" else rate
    agree = len({r[2] for r in refs}) == 1
    tolerance = 0.0 if codec == "flac" or codec.startswith("pcm") else FLOAT_TOLERANCE
    if codec == "vorbis":
        tolerance_of = {"oggdec": 1.0 / 32768 + FLOAT_TOLERANCE}  # 16-bit output
    else:
        tolerance_of = {}
    rows = []
    for name, ref, ref_len in refs if not agree else refs[:1]:
        len_diff, offset, max_abs, rms = measure(ours, ref, rate, clips=name == "oggdec")
        ok = len_diff == 0 and offset == 0 and max_abs <= tolerance_of.get(name, tolerance)
        rows.append({
            "file": Path(path).name, "codec": codec, "ref": name, "ours": len(ours),
            "ref_len": ref_len, "len_diff": len_diff, "refs_agree": agree, "offset": offset,
            "max_abs": max_abs, "rms": rms, "ok": ok, "warnings": warnings,
        })
    any_ok = any(r["ok"] for r in rows)
    for r in rows:
        r["file_ok"] = any_ok
    return rows


def expand(args):
    for arg in map(Path, args):
        if arg.is_dir():
            yield from sorted(p for p in arg.iterdir() if p.is_file())
        else:
            yield arg


def check(args):
    exe = ROOT / "target" / "release" / "examples" / "decode_dump"
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "decode_dump"], cwd=ROOT, check=True)
    assert exe.exists()
    print(f"{'file':44} {'codec':7} {'ref':14} {'ours':>9} {'ref_len':>9} {'len_diff':>8} {'agree':>5} "
          f"{'offset':>6} {'max_abs':>9} {'rms':>9}  ok")
    bad = 0
    for path in expand(args):
        try:
            rows = compare(path)
        except Exception as e:  # one broken file does not stop the table
            print(f"{path.name:44} error: {e}")
            bad += 1
            continue
        bad += not rows[0]["file_ok"]
        for r in rows:
            print(f"{r['file'][:44]:44} {r['codec']:7} {r['ref']:14} {r['ours']:9d} {r['ref_len']:9d} "
                  f"{r['len_diff']:8d} {str(r['refs_agree']):>5} {r['offset']:6d} {r['max_abs']:9.2e} "
                  f"{r['rms']:9.2e}  {'ok' if r['ok'] else 'FAIL' if not r['file_ok'] else '-'}"
                  + (f"  warnings={r['warnings']}" if r["warnings"] else ""), flush=True)
    return 1 if bad else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "corpus":
        make_corpus(sys.argv[2], sys.argv[3:])
        return 0
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        return check(sys.argv[2:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
