"""sonovec: audio content features and vectors, computed in Rust.

>>> import sonovec
>>> ex = sonovec.Extractor()                  # loads the model once
>>> rec = ex.extract("song.flac")             # the CLI's JSON record, vectors as NumPy float32
>>> table = ex.extract_batch(["a.mp3", "b.ogg"])   # a pyarrow.Table, one row per input
"""

from __future__ import annotations

import os
from typing import IO, Any, Iterable, Literal, Mapping, Sequence, Union

import numpy as np
import pyarrow as pa

from . import _sonovec
from ._errors import (
    CorruptFileError,
    DecodeError,
    EmptyFileError,
    InternalError,
    ReadError,
    SonovecError,
    TooLongError,
    UnsupportedFormatError,
    raise_for_record,
)

__version__: str = _sonovec.__version__

__all__ = [
    "Extractor",
    "load",
    "schema",
    "SonovecError",
    "DecodeError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "EmptyFileError",
    "TooLongError",
    "ReadError",
    "InternalError",
]

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


def _table(ipc: bytes) -> pa.Table:
    # pyarrow maps the IPC buffer in place: the columns are views of `ipc`, not copies.
    return pa.ipc.open_stream(pa.py_buffer(ipc)).read_all()


class Extractor(_sonovec.Extractor):
    """Analyses tracks with one loaded model (see the class docstring in ``__init__.pyi``)."""

    def extract(
        self,
        source: Source,
        *,
        name: str | None = None,
        errors: Literal["raise", "record"] = "raise",
    ) -> dict[str, Any]:
        record: dict[str, Any] = self._extract(source, name)
        if errors == "raise":
            raise_for_record(record)
        elif errors != "record":
            raise ValueError("errors must be 'raise' or 'record'")
        return record

    def extract_batch(
        self, sources: Iterable[Source], paths: Sequence[str | None] | None = None
    ) -> pa.Table:
        return _table(self._extract_batch(sources, None if paths is None else list(paths)))

    def schema(self) -> pa.Schema:
        return _table(self._schema()).schema


def schema(
    model: str | os.PathLike[str] | None = "msd",
    vector_weights: str | Mapping[str, float] | None = None,
    bpm_range: str | tuple[float, float] | None = None,
) -> pa.Schema:
    return _table(_sonovec._schema(model, vector_weights, bpm_range)).schema


def load(
    source: Source,
    sr: int | None = 16000,
    mono: bool = True,
    max_duration: float = 21600.0,
) -> tuple[np.ndarray, int]:
    samples, rate = _sonovec.load(source, sr, mono, max_duration)
    return samples, rate
