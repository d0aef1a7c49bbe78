#!/usr/bin/env python3
"""Cut the load-test clips for `sonovec serve` (scripts/load_test.py) with ffmpeg.

Writes OUT/good/*.{flac,mp3,ogg}: 10 s excerpts of the tracks listed in TRACKS (one path a line),
up to --per-track excerpts per track at 10 s steps, in rotating formats; and OUT/bad/: half
random bytes, half truncated copies (first 40 %) of other excerpts. Only the standard library
and the ffmpeg binary are used.

    python3 scripts/make_serve_clips.py /work/main/data/music/tracks.txt /work/main/data/serve
"""
import argparse
import os
import random
import subprocess
from concurrent.futures import ThreadPoolExecutor

FORMATS = [
    ("flac", ["-c:a", "flac", "-ar", "22050"]),
    ("mp3", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    ("ogg", ["-c:a", "libvorbis", "-q:a", "3"]),
]


def duration(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "csv=p=0", path], capture_output=True, text=True).stdout
    try:
        return float(out.strip())
    except ValueError:
        return 0.0


def cut(src, start, seconds, dst, codec, check=True):
    """Cuts one excerpt (kept if already there). A cut past the end of a short track holds no
    audio (a bare header): it is deleted, so every "good" clip really has `seconds` of audio."""
    if not os.path.exists(dst):
        cmd = ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-t", str(seconds), "-i", src,
               "-vn", *codec, dst]
        subprocess.run(cmd, check=True)
    if check and duration(dst) < 0.9 * seconds:
        os.remove(dst)
        return None
    return dst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tracks")
    ap.add_argument("out")
    ap.add_argument("--good", type=int, default=400)
    ap.add_argument("--bad", type=int, default=100)
    ap.add_argument("--per-track", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    tracks = [l.strip() for l in open(args.tracks) if l.strip()]
    os.makedirs(os.path.join(args.out, "good"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "bad"), exist_ok=True)
    jobs = []
    for k in range(args.per_track):
        for n, src in enumerate(tracks):
            i = len(jobs)
            ext, codec = FORMATS[i % len(FORMATS)]
            jobs.append((src, 5 + 10 * k, os.path.join(args.out, "good", f"g{i:04d}.{ext}"), codec))
    jobs = jobs[: args.good + args.bad // 2 + 40]  # spare clips: some tracks are short
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda j: cut(j[0], j[1], args.seconds, j[2], j[3]), jobs))
    good = [d for d in done if d]
    keep, spare = good[: args.good], good[args.good:]
    for path in spare:
        os.remove(path)
    rng = random.Random(7)
    for i in range(args.bad):
        dst = os.path.join(args.out, "bad", f"b{i:04d}")
        if any(os.path.exists(f"{dst}.{e}") for e in ("mp3", "flac", "ogg")):
            continue
        if i % 2 == 0 or not spare:
            with open(dst + ".mp3", "wb") as f:
                f.write(rng.randbytes(rng.randint(20_000, 200_000)))
        else:
            src_ext, codec = FORMATS[i % len(FORMATS)]
            tmp = dst + "-full." + src_ext
            cut(tracks[i % len(tracks)], 1, args.seconds, tmp, codec, check=False)
            data = open(tmp, "rb").read()
            os.remove(tmp)
            with open(dst + "." + src_ext, "wb") as f:
                f.write(data[: int(len(data) * 0.4)])
    print(f"{len(keep)} good clips, {args.bad} bad in {args.out}")


if __name__ == "__main__":
    main()
