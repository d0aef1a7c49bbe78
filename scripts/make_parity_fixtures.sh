#!/usr/bin/env bash
# Real-music parity fixtures (tests/fixtures/parity/): 5 s excerpts of free game soundtracks,
# each encoded by FFmpeg in every codec sonovec reads, and their reference values.
#
#   scripts/make_parity_fixtures.sh [REAL_MUSIC_DIR]   (default /work/data/real, made by
#                                                     ../shared/data/fetch_real_music.sh)
#
# Excerpts are decoded from the Debian packages' Ogg Vorbis by FFmpeg into PCM and re-encoded
# whole (never cut with `-c copy`), so each file starts at its first sample and the tests measure
# sonovec's resampler and features, not the known Vorbis excerpt-trimming bug (#12.1):
#   vorbis: libvorbis q5 .ogg   opus: libopus 96k .opus (48 kHz)   mp3: LAME 160k .mp3
#   aac:    FFmpeg aac 160k .m4a   flac: 16-bit .flac (mono, to keep the repository small)
# The excerpts keep their source rate (44.1 or 48 kHz), so both FFT ratios are exercised.
#
# References (what a user of the reference tools gets from the same file):
#   scripts/reference_musicnn.py --no-logmel   TF musicnn, librosa.load(sr=16000) front end
#                                              -> <stem>.penultimate.npy, <stem>.tags.npy
#   scripts/reference_parity_descriptors.py    librosa 0.11 features -> descriptors.json
# Needs: ffmpeg with libvorbis/libopus/libmp3lame, /work/data/venv-tf, /work/main/.venv-ref.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REAL="${1:-/work/data/real}"
OUT="$ROOT/tests/fixtures/parity"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# name | source file (under REAL) | start s
EXCERPTS=(
  "apex_aleph|singularity-music/usr/share/games/singularity/music/win/Apex Aleph.ogg|70"
  "frantic|wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/frantic.ogg|20"
  "battle|wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/battle.ogg|45"
)
for e in "${EXCERPTS[@]}"; do
  IFS='|' read -r name src start <<<"$e"
  ff=(ffmpeg -v error -y)
  "${ff[@]}" -ss "$start" -t 5 -i "$REAL/$src" -c:a pcm_s16le "$TMP/$name.wav"
  "${ff[@]}" -i "$TMP/$name.wav" -c:a libvorbis -q:a 5 "$OUT/${name}_vorbis.ogg"
  "${ff[@]}" -i "$TMP/$name.wav" -c:a libopus -b:a 96k "$OUT/${name}_opus.opus"
  "${ff[@]}" -i "$TMP/$name.wav" -c:a libmp3lame -b:a 160k "$OUT/${name}_mp3.mp3"
  "${ff[@]}" -i "$TMP/$name.wav" -c:a aac -b:a 160k "$OUT/${name}_aac.m4a"
  "${ff[@]}" -i "$TMP/$name.wav" -ac 1 -c:a flac -compression_level 12 "$OUT/${name}_flac.flac"
done
ls -l "$OUT"

cd "$ROOT"
/work/data/venv-tf/bin/python scripts/reference_musicnn.py --no-logmel --out-dir "$OUT" \
  "$OUT"/*_vorbis.ogg "$OUT"/*_opus.opus "$OUT"/*_mp3.mp3 "$OUT"/*_aac.m4a "$OUT"/*_flac.flac
/work/main/.venv-ref/bin/python scripts/reference_parity_descriptors.py
