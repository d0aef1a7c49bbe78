#!/usr/bin/env python3
"""A held-out tempo/beat set of real songs: the demo projects that Debian's ``lmms-common`` ships.

Each project is a song written and produced by a person (house, reggae, reggaeton, drum and bass,
chiptune, rock...): its own drum programming, its own harmony, rendered by LMMS's own
synthesisers and samples. Nothing in it was made by this project, nor by a process the tempo
decision (models/tempo_level.json) was fitted on.

Labels come from the project file: its tempo (LMMS counts quarter notes per minute whatever the
time signature, and none of these projects automates it) and its grid, which starts at 0 s. The
beat is the quarter note, as for ``make_tempo_heldout.py midi``: the composer's notated beat, not
a listener's tap; where the two differ (a half-time groove written at 180) Acc2 forgives the
octave and Acc1 does not. One clip per song, ``--seconds`` long (default 30), from the last bar
line at or before a quarter of the song (intros are left out; earlier when the song is too short
for that), encoded by ffmpeg in a codec drawn per clip.

    apt-get install -y --no-install-recommends lmms lmms-common ffmpeg
    python3 scripts/make_tempo_lmms.py --out data/heldout_lmms

Writes OUT/labels.csv (file,bpm,meter,style,beats,source) and OUT/beats/*.txt.
"""
import argparse
import glob
import os
import random
import re
import subprocess
import tempfile
import zlib
from concurrent.futures import ProcessPoolExecutor

from make_tempo_heldout import clip_set_options, write_labels
from make_tempo_set import ENCODER_ARGS, beat_grid

PROJECTS = "/usr/share/lmms/projects"
CODECS = ["flac", "mp3", "ogg", "opus"]


def project_xml(path):
    """The project's XML: `.mmpz` is Qt's qCompress (a 4-byte length, then zlib)."""
    data = open(path, "rb").read()
    return (zlib.decompress(data[4:]) if path.endswith(".mmpz") else data).decode("utf-8", "replace")


def project_tempo(xml):
    """(bpm, numerator, denominator) from the project's <head>, or None when the tempo is
    automated (a <bpm> element instead of the attribute)."""
    head = re.search(r"<head\b[^>]*>", xml).group(0)
    if re.search(r"<bpm\b", xml):
        return None
    attr = dict(re.findall(r'(\w+)="([^"]*)"', head))
    return float(attr["bpm"]), int(attr.get("timesig_numerator", 4)), int(attr.get("timesig_denominator", 4))


def render(job):
    project, wav, out, codec, bpm, bar_beats, seconds = job
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    # LMMS died once with SIGSEGV on EsoXLB-CPU (session 38, with other jobs on both cores), where
    # earlier sessions rendered the same project: a crash is tried once more before it counts.
    def lmms():
        return subprocess.run(["lmms", "--allowroot", "render", project, "-f", "wav", "-o", wav],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = lmms()
    if done.returncode != 0:
        done = lmms()
    done.check_returncode()
    duration = float(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", wav],
        check=True, capture_output=True, text=True).stdout)
    bar_s = bar_beats * 60.0 / bpm
    take = min(seconds, duration)
    start = max(0.0, min(duration / 4, duration - take))
    start = int(start / bar_s) * bar_s
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{start:.6f}", "-t", f"{take:.6f}",
                    "-i", wav, *ENCODER_ARGS[codec], out], check=True)
    os.remove(wav)
    return duration, take


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", default=PROJECTS, help="folder searched for .mmp/.mmpz (default: lmms-common's)")
    clip_set_options(ap, seed=5)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "beats"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="tempo_lmms_")
    projects = sorted(p for p in glob.glob(os.path.join(a.projects, "**", "*.mmp*"), recursive=True)
                      if "/templates/" not in p and "/tutorials/" not in p)
    meta, jobs = [], []
    for i, path in enumerate(projects):
        tempo = project_tempo(project_xml(path))
        if tempo is None:
            print(f"skip {path}: its tempo is automated")
            continue
        bpm, num, den = tempo
        stem = f"l{i:03d}_" + re.sub(r"[^A-Za-z0-9]+", "_", os.path.splitext(os.path.basename(path))[0]).strip("_")
        codec = rng.choice(CODECS)
        bar_beats = num * 4 / den
        meta.append((stem, codec, bpm, f"{num}/{den}"))
        jobs.append((path, os.path.join(tmp, stem + ".wav"), os.path.join(a.out, f"{stem}.{codec}"), codec, bpm,
                     bar_beats, a.seconds))
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        cuts = list(pool.map(render, jobs))
    rows = []
    for (stem, codec, bpm, meter), (duration, take) in zip(meta, cuts):
        if take < a.min_seconds:
            print(f"skip {stem}: the song is {duration:.1f} s")
            os.remove(os.path.join(a.out, f"{stem}.{codec}"))
            continue
        with open(os.path.join(a.out, "beats", stem + ".txt"), "w") as f:
            f.writelines(f"{b:.6f}\n" for b in beat_grid(bpm, take))
        rows.append({"file": f"{stem}.{codec}", "bpm": bpm, "meter": meter, "style": "lmms",
                     "beats": f"beats/{stem}.txt", "source": "lmms-common"})
    write_labels(a.out, rows)


if __name__ == "__main__":
    main()
