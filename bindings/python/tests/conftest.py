"""Shared fixtures: the repository's samples and the CLI built by `cargo test --release`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "samples"
AUDIO = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".ogg", ".mp3", ".flac", ".opus"})


def cli() -> Path:
    """The release binary; `scripts/test.sh` builds it (cargo test --release) before pytest."""
    path = Path(os.environ.get("SONOVEC_BIN", REPO / "target" / "release" / "sonovec"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run `cargo build --release` first")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cli()), *args], capture_output=True, text=True, check=False)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def samples() -> list[Path]:
    assert len(AUDIO) >= 4, AUDIO
    return AUDIO


@pytest.fixture(scope="session")
def extractor():
    import sonovec

    return sonovec.Extractor()


@pytest.fixture(scope="session")
def cli_out(tmp_path_factory) -> Path:
    """`sonovec extract IN -o OUT` once per session; IN holds the samples and a broken file."""
    root = tmp_path_factory.mktemp("cli")
    (root / "in").mkdir()
    for path in AUDIO:
        (root / "in" / path.name).symlink_to(path)
    (root / "in" / "broken.mp3").write_bytes(b"ID3" + bytes(range(256)) * 8)
    out = root / "out"
    run = run_cli("extract", str(root / "in"), "-o", str(out), "--quiet")
    assert run.returncode == 1, run.stderr  # 1: one input could not be analysed
    return out
