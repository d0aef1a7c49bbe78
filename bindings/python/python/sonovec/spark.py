"""Spark: a ``mapInArrow`` function and its schema for ``spark.read.format("binaryFile")``.

>>> from pyspark.sql import SparkSession
>>> import sonovec.spark
>>> spark = SparkSession.builder.getOrCreate()
>>> files = spark.read.format("binaryFile").option("pathGlobFilter", "*.ogg").load("music/")
>>> tracks = files.mapInArrow(sonovec.spark.analyze(), sonovec.spark.schema())
>>> tracks.write.parquet("out/tracks")

Each Python worker makes one :class:`sonovec.Extractor` (the model loads once per worker
process) and analyses each Arrow batch of files with it. ``files.select("path")`` instead of
``files``: Spark lists the files without reading them and each worker reads its own (a local or
shared path, or a URI that ``pyarrow.fs`` opens), so the bytes never sit in the JVM. Spark has
no unsigned integers, so the counts (``sample_rate``, ``channels``, ``frames`` ...) become
``bigint``; everything else keeps the types of :func:`sonovec.schema`.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Iterator, Mapping

import pyarrow as pa

from . import Extractor
from . import schema as arrow_schema
from ._sources import source_of


def _spark_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_unsigned_integer(t):
        return pa.int64()
    if pa.types.is_list(t):
        return pa.list_(_spark_type(t.value_type))
    return t


def arrow_spark_schema(
    model: str | os.PathLike[str] | None = "msd",
    vector_weights: str | Mapping[str, float] | None = None,
    bpm_range: str | tuple[float, float] | None = None,
) -> pa.Schema:
    """:func:`sonovec.schema` with the types Spark has (unsigned integers as int64)."""
    s = arrow_schema(model, vector_weights, bpm_range)
    return pa.schema(
        [pa.field(f.name, _spark_type(f.type), f.nullable, f.metadata) for f in s],
        metadata=s.metadata,
    )


def schema(
    model: str | os.PathLike[str] | None = "msd",
    vector_weights: str | Mapping[str, float] | None = None,
    bpm_range: str | tuple[float, float] | None = None,
) -> Any:
    """The ``pyspark.sql.types.StructType`` of :func:`analyze`'s output."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_spark_schema(model, vector_weights, bpm_range))


def analyze(
    model: str | os.PathLike[str] | None = "msd",
    embed_seconds: float | None = None,
    jobs: int = 1,
    max_duration: float = 21600.0,
    vector_weights: str | Mapping[str, float] | None = None,
    bpm_range: str | tuple[float, float] | None = None,
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A function for ``DataFrame.mapInArrow`` over a ``binaryFile`` DataFrame (columns
    ``path`` and ``content``, or ``path`` alone); yields one row per file in the order of
    :func:`schema`."""
    settings = dict(
        model=model,
        embed_seconds=embed_seconds,
        jobs=jobs,
        max_duration=max_duration,
        vector_weights=vector_weights,
        bpm_range=bpm_range,
    )

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        extractor = _worker_extractor(settings)
        target = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            paths = batch.column("path").to_pylist()
            if "content" in batch.schema.names:
                content = batch.column("content")
                data = [v.as_buffer() if v.is_valid else b"" for v in content]
            else:
                # `.select("path")`: Spark lists the files without reading them, and each
                # Python worker reads its own (see the module docstring).
                data = [source_of(p) for p in paths]
            table = extractor.extract_batch(data, paths=paths)
            if target is None:
                target = pa.schema(
                    [pa.field(f.name, _spark_type(f.type), f.nullable) for f in table.schema]
                )
            yield from table.cast(target).to_batches()

    return run


_EXTRACTORS: dict[tuple[Any, ...], Extractor] = {}


def _worker_extractor(settings: dict[str, Any]) -> Extractor:
    # Spark reuses Python workers across tasks: keep one extractor (one model load) per worker.
    key = tuple(sorted((k, str(v)) for k, v in settings.items()))
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = Extractor(**settings)
    return _EXTRACTORS[key]
