"""Ray Data: a class UDF that analyses audio files, from their paths or their bytes.

>>> import ray, sonovec.ray
>>> ray.init(include_dashboard=False, log_to_driver=False)
>>> paths = ray.data.from_items([{"path": p} for p in uris])  # or read_parquet("manifest.parquet")
>>> tracks = paths.map_batches(sonovec.ray.SonovecUDF, compute=ray.data.ActorPoolStrategy(size=4),
...                           num_cpus=1, batch_size=8, batch_format="pyarrow")
>>> tracks.write_parquet("out/", ray_remote_args={"num_cpus": 0}, concurrency=1)

From paths each actor reads its own files (every actor must be able to open them: a local disk,
a shared mount, or URIs that ``pyarrow.fs`` opens): less memory and CPU than shipping the bytes.
When the actors cannot open them, let Ray read the files and ship their bytes:
``ray.data.read_binary_files("music/", include_paths=True, num_cpus=0, concurrency=1)``.

Each actor loads the model once (in ``__init__``) and analyses its batches with ``jobs``
threads (give it ``num_cpus=jobs``); a fixed pool of one actor per core is
``compute=ray.data.ActorPoolStrategy(size=cores)`` (``concurrency=`` on ``map_batches`` is
deprecated since Ray 2.51). Read and write with ``num_cpus=0``: when the actors hold every core,
a read task asking for one never starts, and a writer asking for one starts only after the
actors are done, with every row waiting in the object store until then. ``concurrency=1`` keeps
Ray Data from starting a read or write task, each in a worker process of its own, per block at
once. Rows are the records of :func:`sonovec.schema`; a file that cannot be analysed is a row
with ``error_kind`` and ``error_message``.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import pyarrow as pa

from . import Extractor
from ._sources import source_of


class SonovecUDF:
    """Callable class for ``Dataset.map_batches(..., batch_format="pyarrow")``.

    The batch has a ``bytes`` column (binary), as ``read_binary_files`` makes it, and then its
    ``path`` column, when present, labels the records and hints at each file's format. Or it has
    a ``path`` column alone (``ray.data.from_items([{"path": p} ...])``, a manifest read with
    ``read_parquet``): then the actor reads each file itself, a local path (or ``file://``)
    directly from Rust, a URI such as ``s3://…`` through ``pyarrow.fs``.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = "msd",
        embed_seconds: float | None = None,
        jobs: int = 1,
        max_duration: float = 21600.0,
        vector_weights: str | Mapping[str, float] | None = None,
        bpm_range: str | tuple[float, float] | None = None,
    ) -> None:
        self.extractor = Extractor(
            model,
            embed_seconds=embed_seconds,
            jobs=jobs,
            max_duration=max_duration,
            vector_weights=vector_weights,
            bpm_range=bpm_range,
        )

    def __call__(self, batch: pa.Table | Mapping[str, Any]) -> pa.Table:
        if isinstance(batch, Mapping):
            batch = pa.table(dict(batch))
        paths = batch.column("path").to_pylist() if "path" in batch.column_names else None
        if "bytes" in batch.column_names:
            # A pa.Buffer per file, a view of the batch; the native side copies it once into
            # Rust memory (the buffer protocol is not in Python 3.10's stable ABI, so Python
            # does the copy).
            data = _buffers(batch.column("bytes"))
        elif paths is not None:
            data = [source_of(p) for p in paths]
        else:
            raise ValueError("the batch needs a 'bytes' or a 'path' column")
        return self.extractor.extract_batch(data, paths=paths)


def _buffers(column: pa.ChunkedArray) -> list[Any]:
    out: list[Any] = []
    for chunk in column.chunks:
        for value in chunk:
            out.append(value.as_buffer() if value.is_valid else b"")
    return out
