#!/usr/bin/env bash
# Every test: the Rust crate (`cargo test --release`, then its docs' links), then the Python
# package built into a venv (pytest, mypy.stubtest), then the Ray Data and Spark pipelines in
# local mode. What CI runs.
#
# SONOVEC_TEST_VENV: the venv to use (default .venv-test, made if missing).
# SONOVEC_SKIP_ENGINES=1: leave out the Ray and Spark step (it installs ray and pyspark).
# SONOVEC_SKIP_CARGO=1: only build the binary instead of `cargo test` (the Python tests compare
#   with it), e.g. to time the Python steps alone.
set -euo pipefail
cd "$(dirname "$0")/.."

step_started=$SECONDS
step() {
  echo "== [$((SECONDS - step_started)) s] $*" >&2
  step_started=$SECONDS
}

# pytest exits 5 when it collected nothing: a broken path or import must fail, not pass.
run_pytest() {
  local rc=0
  "$PY" -m pytest -q -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "scripts/test.sh: pytest collected no tests in $*" >&2
  fi
  return "$rc"
}

if [ "${SONOVEC_SKIP_CARGO:-0}" != 1 ]; then
  step "cargo test --release"
  cargo test --release
else
  step "cargo build --release"
  cargo build --release
fi

step "cargo doc (a broken intra-doc link fails)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet -p sonovec

step "python: venv and wheel"
VENV=${SONOVEC_TEST_VENV:-.venv-test}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY=$VENV/bin/python
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -r bindings/python/tests/requirements.txt
# The wheel shares target/ with the crate above (a workspace member): only the binding compiles.
"$PY" -m pip install -q --force-reinstall --no-deps ./bindings/python

step "python: pytest"
run_pytest bindings/python/tests --ignore=bindings/python/tests/engines

step "python: stubs (mypy.stubtest)"
"$PY" -m mypy.stubtest sonovec --mypy-config-file bindings/python/mypy.ini

if [ "${SONOVEC_SKIP_ENGINES:-0}" != 1 ]; then
  step "engines: install ray and pyspark"
  "$PY" -m pip install -q -r bindings/python/tests/engines/requirements.txt
  step "engines: Ray Data and Spark in local mode"
  run_pytest bindings/python/tests/engines
fi
step "done"
