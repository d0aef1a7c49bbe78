"""The engines' UDFs on rows that name their files instead of carrying their bytes (Ray Data
from paths or a manifest, Spark's binaryFile with `.select("path")`): the worker reads each
file, and the rows equal those of the bytes it would have been shipped. No engine is needed:
both UDFs are plain callables over Arrow data."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pyarrow as pa

import sonovec.ray
import sonovec.spark
from sonovec._sources import source_of


def test_source_of_reads_local_paths_and_file_uris(tmp_path):
    spaced = tmp_path / "a b#1.ogg"
    assert source_of(str(spaced)) == str(spaced)
    assert source_of("relative/x.mp3") == "relative/x.mp3"
    # Spark writes `file:/…`, other tools `file:///…`, both percent-encoded.
    assert source_of("file:" + quote(str(spaced))) == str(spaced)
    assert source_of("file://" + quote(str(spaced))) == str(spaced)
    assert source_of(None) == b""
    # pyarrow's in-memory `mock://` filesystem is empty: unreadable, so it stays a path that
    # Rust then fails to open.
    assert source_of("mock://nowhere/x.ogg") == "mock://nowhere/x.ogg"


def _rows(table: pa.Table) -> dict[str, dict]:
    return {row["path"]: row for row in table.to_pylist()}


def test_ray_udf_reads_a_path_column_as_it_reads_bytes(samples, tmp_path):
    paths = [str(p) for p in samples[:3]] + [str(tmp_path / "missing.ogg")]
    udf = sonovec.ray.SonovecUDF()
    by_path = _rows(udf(pa.table({"path": paths})))
    shipped = pa.table(
        {"path": paths[:3], "bytes": pa.array([Path(p).read_bytes() for p in paths[:3]])}
    )
    by_bytes = _rows(udf(shipped))
    assert list(by_path) == paths
    for path in paths[:3]:
        assert by_path[path]["error_kind"] is None
        assert by_path[path] == by_bytes[path]
    assert by_path[paths[3]]["error_kind"] == "io"


def test_spark_function_reads_paths_when_content_is_not_selected(samples):
    uris = ["file:" + quote(str(p)) for p in samples[:2]]
    run = sonovec.spark.analyze()
    (batch,) = list(run(iter([pa.record_batch({"path": uris})])))
    shipped = pa.record_batch(
        {"path": uris, "content": pa.array([p.read_bytes() for p in samples[:2]])}
    )
    (expected,) = list(run(iter([shipped])))
    assert batch.num_rows == 2 and batch.column("error_kind").null_count == 2
    assert batch.to_pylist() == expected.to_pylist()
