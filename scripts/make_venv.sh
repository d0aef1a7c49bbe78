#!/usr/bin/env bash
# Create (idempotently) the throwaway Python reference environment at
# <repo>/.venv-ref and install pinned versions of the reference stack.
# Used only to generate test fixtures (e.g. scripts/reference_mel.py);
# the Rust crate never needs it.
#
# Usage: bash scripts/make_venv.sh        (env PYTHON=python3.11 to override)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv-ref"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

# Pinned versions (latest that resolve together on CPython 3.11, x86_64).
NUMPY_VER="2.4.6"
SCIPY_VER="1.17.1"
SOUNDFILE_VER="0.14.0"
LIBROSA_VER="0.11.0"
NUMBA_VER="0.68.1"          # librosa's JIT dependency, pinned for reproducibility
ESSENTIA_VER="2.1b6.dev1389" # optional; only pre-release wheels exist on PyPI
SAFETENSORS_VER="0.7.0"     # scripts/export_musicnn.py writes models/*.safetensors

# --- .gitignore: keep existing lines, append missing ones -------------------
GITIGNORE="$REPO_ROOT/.gitignore"
touch "$GITIGNORE"
# make sure the file ends with a newline before appending
if [ -s "$GITIGNORE" ] && [ "$(tail -c1 "$GITIGNORE" | od -An -c | tr -d ' ')" != '\n' ]; then
    echo >> "$GITIGNORE"
fi
for pat in /target /out /data .venv-ref/; do
    grep -qxF -- "$pat" "$GITIGNORE" || echo "$pat" >> "$GITIGNORE"
done

# --- venv ---------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    echo "creating venv at $VENV with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
else
    echo "reusing venv at $VENV"
fi
PY="$VENV/bin/python"

"$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$PY" -m pip install --quiet --disable-pip-version-check \
    "numpy==$NUMPY_VER" \
    "scipy==$SCIPY_VER" \
    "soundfile==$SOUNDFILE_VER" \
    "librosa==$LIBROSA_VER" \
    "numba==$NUMBA_VER" \
    "safetensors==$SAFETENSORS_VER" \
    "mir_eval==0.8.2" \
    "mido==1.3.3"
# mir_eval: the beat-metric reference (scripts/mir_eval_cases.py, scripts/peers_tempo.py).
# mido: MIDI tempo maps for the held-out tempo set (scripts/make_tempo_heldout.py).

# essentia is optional: never fail the script because of it.
if "$PY" -m pip install --quiet --disable-pip-version-check "essentia==$ESSENTIA_VER"; then
    echo "essentia installed"
else
    echo "WARNING: essentia $ESSENTIA_VER not installable here; continuing without it" >&2
fi

# --- report -------------------------------------------------------------------
"$PY" - <<'PYEOF'
import importlib, sys
print("python", sys.version.split()[0])
for mod in ("numpy", "scipy", "soundfile", "librosa", "numba", "essentia"):
    try:
        m = importlib.import_module(mod)
        print(f"{mod} {getattr(m, '__version__', '?')}")
    except Exception as e:  # essentia may be absent
        print(f"{mod} NOT AVAILABLE ({type(e).__name__}: {e})")
PYEOF
