import os
from typing import IO, Any, Iterable, Literal, Mapping, Sequence, Union

import numpy as np
import pyarrow as pa

from . import _sonovec
from ._errors import (
    CorruptFileError as CorruptFileError,
    DecodeError as DecodeError,
    EmptyFileError as EmptyFileError,
    InternalError as InternalError,
    ReadError as ReadError,
    SonovecError as SonovecError,
    TooLongError as TooLongError,
    UnsupportedFormatError as UnsupportedFormatError,
)

__version__: str
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

Source = Union[str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes]]

class Extractor(_sonovec.Extractor):
    """Loads the embedding model once and analyses tracks with it.

    ``model``: ``"msd"`` (musicnn MSD: genre, mood, era), ``"mtt"`` (MagnaTagATune:
    instruments, timbre), ``None`` (no embedding: descriptors only) or a ``.safetensors`` path
    with its ``.json`` model card beside it. ``embed_seconds``: embed about this many seconds of
    evenly spaced 3 s patches instead of the whole track. ``jobs``: threads of this extractor
    (``None`` or 0: one per core, at most 1024); every call runs on them with the GIL released.
    ``max_duration``: longer tracks fail with ``too_long``. ``beats``: include
    ``tempo.beats_s``. ``vector_weights``: block weights, e.g. ``{"tags": 0.5}``.
    ``bpm_range``: report the tempo within ``(low, high)`` BPM (or ``"70-140"``), at least an
    octave wide, as the CLI's ``--bpm-range``: the catalog's convention for which metrical level
    is the beat; the vectors get their own ``vector_version``.

    Pickles by its configuration (the copy loads its own model) and is safe to use in a
    child process after ``fork``.
    """

    def extract(
        self,
        source: Source,
        *,
        name: str | None = None,
        errors: Literal["raise", "record"] = "raise",
    ) -> dict[str, Any]:
        """The record of one track (the CLI's JSON record) as a dict; ``vector``,
        ``embedding``, ``embedding_std`` and ``cf_vector`` are float32 NumPy arrays.
        ``source``: a path, bytes, a memoryview or a binary file object; ``name`` labels the
        record and hints at the format. A failure raises :class:`DecodeError` (bad input),
        :class:`ReadError` or :class:`InternalError`; with ``errors="record"`` it returns the
        error record instead."""
    def extract_batch(
        self, sources: Iterable[Source], paths: Sequence[str | None] | None = None
    ) -> pa.Table:
        """Analyses the sources in parallel; one row of :func:`schema` per source, in order.
        A failure is a row with ``error_kind`` and ``error_message``; nothing raises for a bad
        file. ``paths`` label the rows (one per source)."""
    def schema(self) -> pa.Schema:
        """The schema of this extractor's tables (metadata: ``vector_version``, ``model``)."""

def schema(
    model: str | os.PathLike[str] | None = "msd",
    vector_weights: str | Mapping[str, float] | None = None,
    bpm_range: str | tuple[float, float] | None = None,
) -> pa.Schema:
    """The Arrow schema of ``extract_batch`` and of the CLI's ``tracks.parquet``. Its metadata
    holds ``schema`` (layout version), ``vector_version``, ``model`` (id with content hash),
    ``tags`` (names of the ``tags`` values, JSON) and ``sonovec_version``; each field's
    metadata holds ``json_pointer``, where the value sits in the JSON record."""

def load(
    source: Source,
    sr: int | None = 16000,
    mono: bool = True,
    max_duration: float = 21600.0,
) -> tuple[np.ndarray, int]:
    """Decodes ``source`` with sonovec's decoders: float32 samples, shape ``(n,)`` when
    ``mono`` (the channel mean) else ``(channels, n)``, resampled to ``sr`` with sonovec's
    resampler (``None``: the native rate). Returns ``(samples, rate)``. Raises
    :class:`DecodeError` and kin like ``Extractor.extract``."""
