#!/usr/bin/env bash
# sonovec next to ffmpeg, librosa, Essentia and bliss-rs on the same folder, A B A B.
#
#   bash scripts/peers/run.sh [SET_DIR]      # default SET_DIR: data/peers/set (made if missing)
#
# 1. Makes the set if SET_DIR is missing: 21 full-length tracks of the Debian game-music packages
#    (data/music, fetched by ../shared/data/fetch_real_music.sh), 7 kept as Ogg Vorbis, 7 encoded
#    to MP3 (libmp3lame 192k), 7 to FLAC.
# 2. Creates the venv data/peers/venv (pip: librosa, essentia; madmom too when PEERS_MADMOM=1:
#    off by default, since its last release predates numpy 2 and may need a source build).
# 3. Builds bliss-cli from scripts/peers/bliss-cli (its own workspace; needs Debian's
#    libavcodec-dev libavformat-dev libavutil-dev libswresample-dev libavfilter-dev
#    libavdevice-dev clang libclang-dev pkg-config) and sonovec (`cargo build --release`), and
#    copies both binaries into the output folder so a rebuild during the run changes nothing.
# 4. Runs `peers.py run` (see its doc comment): every tool with --jobs 1 and --jobs $(nproc),
#    ROUNDS rounds (default 3) in rotated order, stopping new measurements that would end after
#    DEADLINE (a `date -d` string, e.g. 07:00; default none). Then prints `peers.py report`.
#
# Output: data/peers/out-YYYYmmddTHHMMSS/{results.jsonl,meta.json,runs/,report.md}.
# Environment: SONOVEC=bin, BLISS=bin use those binaries instead of building; PEERS_DATA=dir
# (default data/peers) holds the venv, the set and the output; MUSIC=dir (default data/music);
# ONLY=tool,tool measures only those, in that order (names as in peers.py); JOBS=1,2 the worker
# counts; SONOVEC_BEFORE=bin measures that sonovec too (--model none, --embed-seconds 30 and
# default rows marked "before"), for a before/after comparison in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${PEERS_DATA:-$root/data/peers}
set_dir=${1:-$data/set}
rounds=${ROUNDS:-3}
out=$data/out-$(date -u +%Y%m%dT%H%M%S)
mkdir -p "$out/bin"
log() { printf '%s\n' "$*" >&2; }

# --- 1. the set ----------------------------------------------------------------------------------
if [ ! -d "$set_dir" ]; then
  music=${MUSIC:-$root/data/music}
  [ -f "$music/tracks.txt" ] || bash "$root/../shared/data/fetch_real_music.sh" "$music"
  mkdir -p "$set_dir"
  D=drascula-music/usr/share/scummvm/drascula/audio
  W=wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music
  G=singularity-music/usr/share/games/singularity/music
  put() {  # put FORMAT TRACK...
    local fmt=$1 t b p; shift
    for t in "$@"; do
      b=$(basename "$t"); b=${b// /_}; p=${t%%-*}
      case $fmt in
        ogg) cp "$music/$t.ogg" "$set_dir/${p}_$b.ogg" ;;
        mp3) ffmpeg -nostdin -v error -y -i "$music/$t.ogg" -map 0:a:0 -map_metadata -1 \
               -c:a libmp3lame -b:a 192k "$set_dir/${p}_$b.mp3" ;;
        flac) ffmpeg -nostdin -v error -y -i "$music/$t.ogg" -map 0:a:0 -map_metadata -1 \
               -c:a flac "$set_dir/${p}_$b.flac" ;;
      esac
    done
  }
  put ogg $D/track5 $D/track18 $D/track9 $W/underground $D/track16 $D/track14 "$G/win/Apex Aleph"
  put mp3 $D/track11 $D/track24 $D/track26 $D/track23 $W/frantic $D/track30 $W/loyalists
  put flac $D/track1 $D/track2 $W/elvish-theme "$G/Awakening" $W/northerners \
    $W/into_the_shadows $W/northern_mountains
fi

# --- 2. the venv ---------------------------------------------------------------------------------
venv=$data/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q librosa essentia
  if [ "${PEERS_MADMOM:-0}" = 1 ]; then
    "$venv/bin/pip" install -q madmom || log "madmom did not install; left out"
  fi
fi

# --- 3. binaries ---------------------------------------------------------------------------------
if [ -z "${BLISS:-}" ]; then
  cargo build --release --manifest-path "$here/bliss-cli/Cargo.toml" \
    --target-dir "$data/bliss-target" >&2
  BLISS=$data/bliss-target/release/bliss-cli
fi
SONOVEC_GIVEN=${SONOVEC:-}
if [ -z "${SONOVEC:-}" ]; then
  (cd "$root" && cargo build --release >&2)
  SONOVEC=$root/target/release/sonovec
fi
cp "$BLISS" "$out/bin/bliss-cli"
cp "$SONOVEC" "$out/bin/sonovec"
[ -n "${SONOVEC_BEFORE:-}" ] && cp "$SONOVEC_BEFORE" "$out/bin/sonovec-before"

# --- 4. the run ----------------------------------------------------------------------------------
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB"
  if [ -n "${SONOVEC_GIVEN:-}" ]; then
    echo "sonovec: $("$out/bin/sonovec" --version) (prebuilt: $SONOVEC_GIVEN)"
  else
    echo "sonovec: $("$out/bin/sonovec" --version) ($(cd "$root" && git rev-parse --short HEAD))"
  fi
  echo "bliss-audio: $(grep -A1 'name = "bliss-audio"' "$here/bliss-cli/Cargo.lock" | sed -n 's/version = //p')"
  echo "ffmpeg: $(ffmpeg -version | head -1)"
  "$venv/bin/python" -c 'import librosa, essentia, numpy, soxr, numba, sys
print("python:", sys.version.split()[0]); print("librosa:", librosa.__version__)
print("essentia:", essentia.__version__); print("numpy:", numpy.__version__)
print("numba:", numba.__version__); print("soxr:", soxr.__version__)'
} > "$out/versions.txt"
cat "$out/versions.txt" >&2
deadline=0
[ -n "${DEADLINE:-}" ] && deadline=$(date -u -d "$DEADLINE" +%s)
"$venv/bin/python" "$here/peers.py" run --set "$set_dir" --out "$out" \
  --sonovec "$out/bin/sonovec" --bliss "$out/bin/bliss-cli" --rounds "$rounds" \
  --deadline "$deadline" ${ONLY:+--only "$ONLY"} ${JOBS:+--jobs "$JOBS"} \
  ${SONOVEC_BEFORE:+--sonovec-before "$out/bin/sonovec-before"}
"$venv/bin/python" "$here/peers.py" report "$out" | tee "$out/report.md"
