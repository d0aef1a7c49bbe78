"""The CLI's tracks.parquet: the schema of sonovec.schema(), the values of tracks.jsonl."""

from __future__ import annotations

import math

import pyarrow.parquet as pq
import pytest

import sonovec
from conftest import read_jsonl


def _pointer(record: dict, pointer: str):
    value = record
    for part in pointer.lstrip("/").split("/"):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _leaves(value, prefix=""):
    """JSON pointers of every scalar or list-of-scalars value in a record."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}/{k}")
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        yield prefix  # tags: [{tag, p}], candidates: [{bpm, strength}]
    else:
        yield prefix


def test_parquet_equals_jsonl(cli_out):
    table = pq.read_table(cli_out / "tracks.parquet")
    records = read_jsonl(cli_out / "tracks.jsonl")
    assert table.num_rows == len(records) >= 4
    expected = sonovec.schema()
    assert table.schema.equals(expected, check_metadata=False)
    assert table.schema.metadata[b"vector_version"] == expected.metadata[b"vector_version"]
    assert table.schema.metadata[b"model"] == expected.metadata[b"model"]
    rows = table.to_pylist()
    for field in table.schema:
        pointer = field.metadata[b"json_pointer"].decode()
        for row, record in zip(rows, records):
            want = _pointer(record, pointer)
            if field.name == "tags" and want is not None:
                want = [t["p"] for t in want]
            got = row[field.name]
            if isinstance(want, list) and want and isinstance(want[0], float):
                assert got == pytest.approx(want, rel=1e-6, abs=1e-7), (field.name, record["path"])
            elif isinstance(want, float):
                assert math.isclose(got, want, rel_tol=1e-12), (field.name, record["path"])
            elif want == [] and field.name == "warnings":
                assert got in ([], None)
            else:
                assert got == want, (field.name, record["path"])


def test_every_record_value_has_a_column(cli_out):
    covered = {f.metadata[b"json_pointer"].decode() for f in sonovec.schema()}
    # Objects of named reasons and the ranked tempo hypotheses stay in the JSON only.
    json_only = ("/loudness/null_reasons", "/spectral/null_reasons", "/tonal/null_reasons",
                 "/tempo/candidates")
    for record in read_jsonl(cli_out / "tracks.jsonl"):
        for leaf in _leaves(record):
            if leaf.startswith(json_only):
                continue
            assert leaf in covered, f"{leaf} of tracks.jsonl has no column in tracks.parquet"
