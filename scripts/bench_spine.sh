#!/usr/bin/env bash
# Spine throughput on real music, next to ffmpeg's decode+resample floor.
#
#   bash scripts/bench_spine.sh                 # convert (once), build, measure, print one table
#   bash scripts/bench_spine.sh --convert-only  # steps 1-2 only
#
# 1. Fetches the Debian game-soundtrack packages into data/music if they are not there yet.
# 2. Converts 12 full-length tracks (> 1 min) to MP3 (libmp3lame 192k) and FLAC, both 44.1 kHz
#    stereo, into data/bench/mp3 and data/bench/flac. Files already there are kept (idempotent).
# 3. Builds the benches (`cargo bench --no-run`), so compile time is never measured, and runs the
#    built `throughput` harness directly so a concurrent edit of src/ cannot trigger a rebuild
#    halfway through the run.
# 4. For each of mp3 and flac: `throughput --stage decode` and `--stage mel`, with --jobs 1 and 2;
#    then the floor `ffmpeg -v error -i f -f f32le -ac 1 -ar 16000 - > /dev/null` over the same
#    files, one after the other (1 core) and two at a time with xargs -P2 (2 cores).
# 5. Prints every x-realtime figure in one table (also saved to data/bench/results.txt).
#
# Environment: ROUNDS=n repeats every measurement n times and keeps the best (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
music=$root/data/music
bench=$root/data/bench
rounds=${ROUNDS:-1}

# Twelve tracks, 3–6 minutes each, from three of the packages (the 48 kHz ones are resampled to
# 44.1 kHz by the conversion). Paths are relative to data/music.
tracks=(
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/battle.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/breaking_the_chains.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/elvish-theme.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/heroes_rite.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/knolls.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/northerners.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/the_city_falls.ogg"
  "wesnoth-1.16-music/usr/share/games/wesnoth/1.16/data/core/music/wanderer.ogg"
  "singularity-music/usr/share/games/singularity/music/A New Journey.ogg"
  "singularity-music/usr/share/games/singularity/music/Coherence.ogg"
  "singularity-music/usr/share/games/singularity/music/Media Threat.ogg"
  "drascula-music/usr/share/scummvm/drascula/audio/track2.ogg"
)

log() { printf '%s\n' "$*" >&2; }

# --- 1. real music -------------------------------------------------------------------------------
if [ ! -f "$music/tracks.txt" ]; then
  fetch=$root/../shared/data/fetch_real_music.sh
  [ -f "$fetch" ] || { log "no $music/tracks.txt and no $fetch"; exit 1; }
  bash "$fetch" "$music"
fi

# --- 2. conversion (idempotent) ------------------------------------------------------------------
mkdir -p "$bench/mp3" "$bench/flac"
for t in "${tracks[@]}"; do
  src=$music/$t
  [ -f "$src" ] || { log "missing $src (re-run ../shared/data/fetch_real_music.sh $music)"; exit 1; }
  pkg=${t%%/*}; pkg=${pkg%%-*}
  base=$(basename "$t"); base=${base%.*}; base=${base// /_}
  name="${pkg}_${base}"
  for fmt in mp3 flac; do
    out=$bench/$fmt/$name.$fmt
    [ -s "$out" ] && continue
    case $fmt in
      mp3) codec=(-c:a libmp3lame -b:a 192k) ;;
      flac) codec=(-c:a flac) ;;
    esac
    log "converting $name.$fmt"
    ffmpeg -nostdin -v error -y -i "$src" -map 0:a:0 -map_metadata -1 \
      "${codec[@]}" -ar 44100 -ac 2 "$out.part.$fmt"
    mv "$out.part.$fmt" "$out"
  done
done

[ "${1:-}" = "--convert-only" ] && exit 0

# --- 3. build ------------------------------------------------------------------------------------
log "building benches (cargo bench --no-run)"
throughput=$(cargo bench --no-run --message-format=json 2>/dev/null \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "throughput" and m.get("executable"):
        print(m["executable"])')
[ -x "$throughput" ] || { log "could not build the throughput bench"; cargo bench --no-run; exit 1; }
log "throughput harness: $throughput"

# --- 4. measurements -----------------------------------------------------------------------------
gnu_time=/usr/bin/time
[ -x "$gnu_time" ] || { apt-get install -y -q time >&2; }
field() { sed -E "s/.*[ ]$1=([0-9.]+).*/\\1/" <<<"$2"; }
audio_seconds() {  # total duration of the files in $1, by ffprobe
  local total=0 d
  for f in "$1"/*; do
    d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
    total=$(python3 -c "print($total + $d)")
  done
  echo "$total"
}
better() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$1" "$2"; }

results=$bench/results.txt
load0=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for fmt in mp3 flac; do
  dir=$bench/$fmt
  files=("$dir"/*."$fmt")
  nfiles=${#files[@]}
  audio=$(audio_seconds "$dir")
  log "== $fmt: $nfiles files, $(printf '%.1f' "$audio") s of audio"
  cat "${files[@]}" > /dev/null  # page cache
  for stage in decode mel; do
    for jobs in 1 2; do
      best_xrt=0 best_wall=0 best_cpu=0 a=0
      for _ in $(seq "$rounds"); do
        out=$("$throughput" --bench --jobs "$jobs" --stage "$stage" "$dir")
        printf '%s\n' "$out" | grep -v '^RESULT' >&2
        line=$(printf '%s\n' "$out" | grep '^RESULT')
        xrt=$(field xrt "$line")
        if better "$xrt" "$best_xrt"; then
          best_xrt=$xrt best_wall=$(field wall_s "$line") best_cpu=$(field cpu_s "$line")
          a=$(field audio_s "$line")
        fi
      done
      rows+=("$fmt sonovec_$stage $jobs $nfiles $a $best_wall $best_cpu $best_xrt")
    done
  done
  for jobs in 1 2; do
    best_xrt=0 best_wall=0 best_cpu=0
    for _ in $(seq "$rounds"); do
      # GNU time's user+sys of xargs include every ffmpeg it waited for.
      printf '%s\0' "${files[@]}" | "$gnu_time" -f '%e %U %S' -o "$bench/.time" \
        xargs -0 -n1 -P"$jobs" \
        sh -c 'ffmpeg -nostdin -v error -i "$1" -f f32le -ac 1 -ar 16000 - > /dev/null' _
      read -r wall user sys < "$bench/.time"
      cpu=$(python3 -c "print(f'{$user + $sys:.2f}')")
      xrt=$(python3 -c "print(f'{$audio / $wall:.2f}')")
      log "ffmpeg floor $fmt -P$jobs: wall ${wall}s, cpu ${cpu}s, ${xrt}x"
      if better "$xrt" "$best_xrt"; then best_xrt=$xrt best_wall=$wall best_cpu=$cpu; fi
    done
    rows+=("$fmt ffmpeg_f32le_16k_mono $jobs $nfiles $(printf '%.3f' "$audio") $best_wall $best_cpu $best_xrt")
  done
done

# --- 5. the table --------------------------------------------------------------------------------
{
  echo "# sonovec spine throughput, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) core(s), rounds=$rounds (best kept)"
  echo "# HEAD $(git rev-parse --short HEAD)$(git diff --quiet -- src || echo ' + uncommitted changes in src/')"
  echo "# load average before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# x-realtime = audio s / wall s; per cpu-s = audio s / (user+sys) s, less sensitive to other load"
  printf '%-5s %-22s %5s %6s %10s %9s %9s %11s %13s\n' format stage jobs files "audio s" "wall s" "cpu s" x-realtime "per cpu-s"
  for r in "${rows[@]}"; do
    read -r f s j n a w c x <<<"$r"
    printf '%-5s %-22s %5s %6s %10.1f %9.3f %9.2f %10.1fx %12.1fx\n' "$f" "$s" "$j" "$n" "$a" "$w" "$c" "$x" \
      "$(python3 -c "print($a / max($c, 1e-9))")"
  done
} | tee "$results"
