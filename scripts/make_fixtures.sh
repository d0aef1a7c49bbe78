#!/usr/bin/env bash
# Generate the decoder/format test fixtures.
#
# Usage:
#     bash scripts/make_fixtures.sh          # from anywhere; writes into the repository
#
# Makes (overwriting whatever is there):
#     tests/fixtures/formats/*               one 1.000 s clip per codec/container/bit depth,
#                                            with sample rates and channel counts varied
#     tests/fixtures/formats/manifest.csv    file,codec,container,sample_rate,channels,
#                                            duration_s,duration_tolerance_s
#     tests/fixtures/formats/README.md       what the files are + tool versions used
#     tests/fixtures/mel/tone_noise_16k.wav  2.0 s mono 16 kHz s16 linear chirp 100->7000 Hz
#                                            plus low noise, for the mel-spectrogram parity test
#
# The source signal of every format clip is 0.4*sin(440 Hz) + 0.3*sin(1 kHz) plus uniform noise
# of amplitude 0.001 (about -60 dBFS); each channel has a slightly lower gain, a different
# 1 kHz phase and its own noise seed, so channels are distinguishable. The master is rendered
# by ffmpeg's aevalsrc as 64-bit float with exactly `rate` samples (1.000 s), then converted or
# encoded. aevalsrc's random() is a seeded LCG, so the output is deterministic; ffmpeg runs with
# -bitexact and the Ogg encoders with fixed --serial numbers so re-runs are byte-identical for
# the same tool versions.
#
# manifest.csv: sample_rate and channels are what a decoder outputs (Opus always decodes at
# 48 kHz whatever the input rate was). duration_s is the nominal 1.0 s; duration_tolerance_s
# covers encoder priming/padding for a decoder that does NOT trim it (see README.md).
#
# Needs: ffmpeg (with libmp3lame, libopus, libvorbis), lame, flac, oggenc, opusenc, python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FMT="$ROOT/tests/fixtures/formats"
MEL="$ROOT/tests/fixtures/mel"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

mkdir -p "$FMT" "$MEL"
rm -f "$FMT"/*.wav "$FMT"/*.aiff "$FMT"/*.caf "$FMT"/*.flac "$FMT"/*.mp3 "$FMT"/*.mp2 \
      "$FMT"/*.ogg "$FMT"/*.opus "$FMT"/*.webm "$FMT"/*.m4a "$FMT"/*.mkv

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y)
BITEXACT=(-fflags +bitexact -flags:a +bitexact -map_metadata -1)

# master RATE LAYOUT OUT.wav  -> exactly RATE frames of float64 PCM (1.000 s)
master() {
    local rate=$1 layout=$2 out=$3 nch exprs="" ch
    case $layout in
        mono) nch=1 ;;
        stereo) nch=2 ;;
        5.1) nch=6 ;;
        *) echo "unknown layout $layout" >&2; exit 1 ;;
    esac
    for ((ch = 0; ch < nch; ch++)); do
        local gain phase seed
        gain=$(awk "BEGIN{printf \"%.3f\", 1 - 0.08 * $ch}")
        phase=$(awk "BEGIN{printf \"%.3f\", 0.7 * $ch}")
        seed=$((104729 * (ch + 1) + rate))
        [[ -n $exprs ]] && exprs+="|"
        exprs+="if(eq(n,0),st(0,$seed),0);$gain*(0.4*sin(2*PI*440*t)+0.3*sin(2*PI*1000*t+$phase))+0.001*(2*random(0)-1)"
    done
    "${FF[@]}" -f lavfi -i "aevalsrc=exprs='$exprs':s=$rate:c=$layout:d=1.1" \
        -af "atrim=end_sample=$rate" -c:a pcm_f64le "${BITEXACT[@]}" "$out"
}

# ff IN OUT ARGS...  -> ffmpeg conversion with deterministic output
ff() {
    local in=$1 out=$2
    shift 2
    "${FF[@]}" -i "$in" "$@" "${BITEXACT[@]}" "$out"
}

MANIFEST="file,codec,container,sample_rate,channels,duration_s,duration_tolerance_s"
row() { MANIFEST+=$'\n'"$1,$2,$3,$4,$5,1.0,$6"; }

# --- PCM in WAV / AIFF / CAF ------------------------------------------------------------------
master 8000 mono "$TMP/m8k1.wav"
master 8000 stereo "$TMP/m8k2.wav"
master 11025 mono "$TMP/m11k1.wav"
master 11025 stereo "$TMP/m11k2.wav"
master 16000 mono "$TMP/m16k1.wav"
master 22050 stereo "$TMP/m22k2.wav"
master 32000 mono "$TMP/m32k1.wav"
master 44100 mono "$TMP/m44k1.wav"
master 44100 stereo "$TMP/m44k2.wav"
master 48000 stereo "$TMP/m48k2.wav"
master 48000 5.1 "$TMP/m48k6.wav"
master 8000 5.1 "$TMP/m8k6.wav"
master 96000 stereo "$TMP/m96k2.wav"
master 192000 mono "$TMP/m192k1.wav"

ff "$TMP/m8k1.wav" "$FMT/wav_u8_8000_1ch.wav" -c:a pcm_u8
row wav_u8_8000_1ch.wav pcm wav 8000 1 0.002
ff "$TMP/m11k2.wav" "$FMT/wav_s16_11025_2ch.wav" -c:a pcm_s16le
row wav_s16_11025_2ch.wav pcm wav 11025 2 0.002
ff "$TMP/m16k1.wav" "$FMT/wav_s24_16000_1ch.wav" -c:a pcm_s24le
row wav_s24_16000_1ch.wav pcm wav 16000 1 0.002
ff "$TMP/m8k2.wav" "$FMT/wav_s32_8000_2ch.wav" -c:a pcm_s32le
row wav_s32_8000_2ch.wav pcm wav 8000 2 0.002
# sox writes float as plain WAVE_FORMAT_IEEE_FLOAT (tag 3); ffmpeg would use EXTENSIBLE (f64 below).
sox -V1 -D "$TMP/m11k1.wav" -e floating-point -b 32 "$FMT/wav_f32_11025_1ch.wav"
row wav_f32_11025_1ch.wav pcm wav 11025 1 0.002
ff "$TMP/m8k1.wav" "$FMT/wav_f64_8000_1ch.wav" -c:a pcm_f64le
row wav_f64_8000_1ch.wav pcm wav 8000 1 0.002
ff "$TMP/m32k1.wav" "$FMT/aiff_s16_32000_1ch.aiff" -c:a pcm_s16be
row aiff_s16_32000_1ch.aiff pcm aiff 32000 1 0.002
ff "$TMP/m16k1.wav" "$FMT/caf_s16_16000_1ch.caf" -c:a pcm_s16be -f caf
row caf_s16_16000_1ch.caf pcm caf 16000 1 0.002

# --- FLAC (reference encoder) -----------------------------------------------------------------
ff "$TMP/m192k1.wav" "$TMP/f192k1_s16.wav" -c:a pcm_s16le
flac --silent --force -8 -o "$FMT/flac_s16_192000_1ch.flac" "$TMP/f192k1_s16.wav"
row flac_s16_192000_1ch.flac flac flac 192000 1 0.002
ff "$TMP/m16k1.wav" "$TMP/f16k1_s24.wav" -c:a pcm_s24le
flac --silent --force -8 -o "$FMT/flac_s24_16000_1ch.flac" "$TMP/f16k1_s24.wav"
row flac_s24_16000_1ch.flac flac flac 16000 1 0.002

# --- MPEG audio -------------------------------------------------------------------------------
# lame writes a Xing/LAME info frame with encoder delay + padding (gapless); without using it a
# decoder returns 1105 priming samples and pads to whole 1152-sample frames.
ff "$TMP/m44k2.wav" "$TMP/l44k2.wav" -c:a pcm_s16le
lame --quiet --cbr -b 128 "$TMP/l44k2.wav" "$FMT/mp3_cbr128_44100_2ch.mp3"
row mp3_cbr128_44100_2ch.mp3 mp3 mp3 44100 2 0.06
# MP2 as a bare MPEG-1 Layer II stream (ffprobe calls the container "mp3"); no gapless info.
ff "$TMP/m48k2.wav" "$FMT/mp2_192k_48000_2ch.mp2" -c:a mp2 -b:a 192k -f mp2
row mp2_192k_48000_2ch.mp2 mp2 mp3 48000 2 0.06

# --- Vorbis / Opus in Ogg ---------------------------------------------------------------------
ff "$TMP/m48k6.wav" "$TMP/v48k6.wav" -c:a pcm_s16le
oggenc --quiet -q4 --serial 4806 -o "$FMT/vorbis_q4_48000_6ch.ogg" "$TMP/v48k6.wav"
row vorbis_q4_48000_6ch.ogg vorbis ogg 48000 6 0.06
# opusenc input is 16 kHz mono; the stream records input_sample_rate=16000 but decodes at 48k.
ff "$TMP/m16k1.wav" "$TMP/o16k1.wav" -c:a pcm_s16le
opusenc --quiet --bitrate 48 --serial 1601 "$TMP/o16k1.wav" "$FMT/opus_48k_in16000_1ch.opus"
row opus_48k_in16000_1ch.opus opus ogg 48000 1 0.06

# --- WebM / Matroska --------------------------------------------------------------------------
ff "$TMP/m48k2.wav" "$FMT/opus_96k_48000_2ch.webm" -c:a libopus -b:a 96k -f webm
row opus_96k_48000_2ch.webm opus webm 48000 2 0.06
ff "$TMP/m22k2.wav" "$FMT/vorbis_q4_22050_2ch.webm" -c:a libvorbis -q:a 4 -f webm
row vorbis_q4_22050_2ch.webm vorbis webm 22050 2 0.06
ff "$TMP/m8k6.wav" "$FMT/flac_s16_8000_6ch.mkv" -c:a flac -sample_fmt s16 -f matroska
row flac_s16_8000_6ch.mkv flac mkv 8000 6 0.002

# --- MP4 (M4A) --------------------------------------------------------------------------------
ff "$TMP/m96k2.wav" "$FMT/aac_lc_96000_2ch.m4a" -c:a aac -profile:a aac_low -b:a 128k -f mp4
row aac_lc_96000_2ch.m4a aac mp4 96000 2 0.06
ff "$TMP/m44k1.wav" "$FMT/alac_s16_44100_1ch.m4a" -c:a alac -sample_fmt s16p -f mp4
row alac_s16_44100_1ch.m4a alac mp4 44100 1 0.002

printf '%s\n' "$MANIFEST" > "$FMT/manifest.csv"

# --- mel parity fixture -----------------------------------------------------------------------
# Linear chirp 100 -> 7000 Hz over 2 s: phase = 2*pi*(100*t + (6900/4)*t^2); amplitude 0.5,
# plus uniform noise of amplitude 0.003 (about -50 dBFS). Exactly 32000 samples, s16, no dither.
# scripts/reference_mel.py computed tests/fixtures/mel/librosa_*.npy from this exact file and
# records its sha256 in librosa_versions.json (c64b33bb...). If you change this signal, rerun
# reference_mel.py too.
"${FF[@]}" -f lavfi \
    -i "aevalsrc=exprs='if(eq(n,0),st(0,160007),0);0.5*sin(2*PI*(100*t+1725*t*t))+0.003*(2*random(0)-1)':s=16000:c=mono:d=2.1" \
    -af "atrim=end_sample=32000" -c:a pcm_s16le "${BITEXACT[@]}" "$MEL/tone_noise_16k.wav"

# --- README with tool versions ----------------------------------------------------------------
{
    cat <<'EOF'
# Format fixtures

Generated by `bash scripts/make_fixtures.sh`; do not edit by hand. Each file is the same 1.000 s
signal (0.4·sin 440 Hz + 0.3·sin 1 kHz + uniform noise of amplitude 0.001; each channel a little
quieter than the one before, with its own 1 kHz phase and noise seed), rendered as float64 with
exactly `rate` samples and then converted or encoded. `manifest.csv` lists what a decoder should
report:

- `sample_rate`, `channels`: the decoded stream. Opus always decodes at 48 kHz;
  `opus_48k_in16000_1ch.opus` was encoded from a 16 kHz source (its header records
  input_sample_rate=16000, which is informational only).
- `codec`: pcm, flac, mp3, mp2, vorbis, opus, aac, alac.
- `container`: wav, aiff, caf, flac, mp3, ogg, webm, mp4, mkv. `mp3` means a bare MPEG audio
  elementary stream; the `.mp2` file (MPEG-1 Layer II) is one too, and ffprobe reports
  `format_name=mp3` for it.
- `duration_s` is the nominal 1.0; `duration_tolerance_s` is how far a decoder may honestly be off.
  Lossless PCM/FLAC/ALAC decode to exactly 1.000 s (tolerance 0.002). Lossy codecs add encoder
  priming and pad to whole frames; decoders that honour the gapless metadata (LAME tag, Ogg
  granule positions / Opus pre-skip, MP4 edit list, WebM CodecDelay) get 1.000 s, decoders that
  ignore it get up to the untrimmed length measured below.

Channel layouts: the two 5.1 files (Vorbis in Ogg, FLAC in Matroska) carry FL FR FC LFE BL BR
in the order each codec defines (Vorbis stores FL FC FR BL BR LFE).

WAV headers: ffmpeg writes WAVE_FORMAT_EXTENSIBLE for more than 2 channels or more than 16 bits,
so s24, s32 and f64 have format tag 0xFFFE (with a KSDATAFORMAT subtype GUID); u8 and s16 use
plain PCM tag 1; the f32 file is written by sox and uses plain tag 3 (IEEE float) with a `fact`
chunk.

EOF
    echo "## Measured durations"
    echo
    echo "| file | ffprobe duration (s) | decoded by ffmpeg (s) | untrimmed packets (s) |"
    echo "|---|---|---|---|"
    tail -n +2 "$FMT/manifest.csv" | while IFS=, read -r file codec container rate ch dur tol; do
        probe=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$FMT/$file")
        # Decoded length after ffmpeg's own trimming of priming/padding.
        dec=$(ffmpeg -nostdin -v error -i "$FMT/$file" -map 0:a:0 -f f32le -ac 1 - | wc -c)
        dec=$(awk "BEGIN{printf \"%.6f\", $dec / 4 / $rate}")
        # Sum of packet durations (what a decoder that ignores trimming would output).
        pk=$(ffprobe -v error -select_streams a:0 -show_entries packet=duration_time -of csv=p=0 "$FMT/$file" \
            | awk -F, '{s += $1} END {printf "%.6f", s}')
        echo "| $file | $probe | $dec | $pk |"
    done
    echo
    echo "## Tool versions"
    echo
    echo '```'
    ffmpeg -hide_banner -version | head -n 1
    lame --version | head -n 1
    flac --version
    oggenc --version
    opusenc --version | head -n 1
    sox --version | sed 's/^ *//'
    echo '```'
} > "$FMT/README.md"

echo "wrote $(($(wc -l < "$FMT/manifest.csv") - 1)) format fixtures to $FMT and $MEL/tone_noise_16k.wav"
