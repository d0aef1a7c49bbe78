"""Ray Data and Spark in local mode: the Parquet each engine writes for samples/ equals
Extractor.extract_batch's table, row for row (rows matched by path)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sonovec

SAMPLES = Path(__file__).resolve().parents[4] / "samples"
AUDIO_EXT = ["ogg", "mp3", "flac", "opus"]


@pytest.fixture(scope="module")
def expected() -> dict[str, dict]:
    files = sorted(p for p in SAMPLES.iterdir() if p.suffix.lstrip(".") in AUDIO_EXT)
    assert len(files) >= 4
    table = sonovec.Extractor().extract_batch(files)
    return {row["path"]: row for row in table.to_pylist()}


def _compare(rows: list[dict], expected: dict[str, dict], strip: str = "") -> None:
    assert len(rows) == len(expected)
    for row in rows:
        path = row["path"].removeprefix(strip)
        want = dict(expected[path], path=row["path"])
        assert row["error_kind"] is None, row["error_message"]
        assert set(row) == set(want)
        for key in want:
            assert row[key] == want[key], (path, key)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_ray_data_writes_what_extract_batch_returns(tmp_path, expected):
    ray = pytest.importorskip("ray")
    import sonovec.ray

    # Ray Data warns, on its own logger, about arguments it has deprecated: the pipeline that
    # README.md, sonovec.ray and examples/ray_backfill.py show must use none.
    warnings = _Records()
    logging.getLogger("ray.data").addHandler(warnings)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        files = ray.data.read_binary_files(
            str(SAMPLES),
            include_paths=True,
            file_extensions=AUDIO_EXT,
            # Reading is I/O: with both CPUs held by the two actors, a read task that asks for
            # a CPU would wait for ever.
            num_cpus=0,
            concurrency=1,
        )
        tracks = files.map_batches(
            sonovec.ray.SonovecUDF,
            compute=ray.data.ActorPoolStrategy(size=2),
            num_cpus=1,
            batch_size=2,
            batch_format="pyarrow",
        )
        tracks.write_parquet(
            str(tmp_path / "ray"), ray_remote_args={"num_cpus": 0}, concurrency=1
        )
        # Paths alone: each actor reads its files (no read tasks, no bytes in the object store).
        paths = ray.data.from_items([{"path": path} for path in expected])
        paths.map_batches(
            sonovec.ray.SonovecUDF,
            compute=ray.data.ActorPoolStrategy(size=2),
            num_cpus=1,
            batch_size=2,
            batch_format="pyarrow",
        ).write_parquet(
            str(tmp_path / "ray-paths"),
            ray_remote_args={"num_cpus": 0},
            concurrency=1,
            min_rows_per_file=1000,
        )
    finally:
        ray.shutdown()
        logging.getLogger("ray.data").removeHandler(warnings)
    assert not [m for m in warnings.messages if "deprecated" in m], warnings.messages
    for out in ("ray", "ray-paths"):
        table = pq.read_table(tmp_path / out)
        assert table.schema.remove_metadata().equals(sonovec.schema().remove_metadata())
        _compare(table.to_pylist(), expected)
    # min_rows_per_file: one Parquet file for the few rows, not one per batch.
    assert len(list((tmp_path / "ray-paths").glob("*.parquet"))) == 1


def test_spark_writes_what_extract_batch_returns(tmp_path, expected):
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    import sonovec.spark

    # Spark's Python workers run `python3` from PATH unless told: use this venv's.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("sonovec-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "2")
        .config("spark.sql.files.maxPartitionBytes", "256k")
        .getOrCreate()
    )
    try:
        files = (
            spark.read.format("binaryFile")
            .option("pathGlobFilter", "*.{" + ",".join(AUDIO_EXT) + "}")
            .load(str(SAMPLES))
        )
        tracks = files.mapInArrow(sonovec.spark.analyze(), sonovec.spark.schema())
        tracks.write.parquet(str(tmp_path / "spark"))
        # Paths alone: Spark lists the files without reading them; the Python workers read.
        files.select("path").mapInArrow(
            sonovec.spark.analyze(), sonovec.spark.schema()
        ).write.parquet(str(tmp_path / "spark-paths"))
    finally:
        spark.stop()
    spark_schema = sonovec.spark.arrow_spark_schema()
    for out in ("spark", "spark-paths"):
        table = pq.read_table(tmp_path / out)
        assert table.schema.names == spark_schema.names
        for got, want in zip(table.schema, spark_schema):
            assert got.type.equals(want.type) or (
                pa.types.is_list(got.type) and got.type.value_type == want.type.value_type
            ), (got, want)
        # Spark labels local files `file:/…`; the records carry that label as their path.
        _compare(table.to_pylist(), expected, strip="file:")
