"""sonovec.Extractor against the CLI: same records, every source type, errors, threads,
pickling, fork."""

from __future__ import annotations

import io
import multiprocessing
import pickle
import sys
import threading

import numpy as np
import pyarrow as pa
import pytest

import sonovec
from conftest import SAMPLES, read_jsonl, run_cli


def test_record_equals_the_cli_record(extractor, cli_out):
    """Each record of `sonovec extract` (tracks.jsonl), the broken file's included."""
    records = read_jsonl(cli_out / "tracks.jsonl")
    assert len(records) >= 5
    for expected in records:
        got = extractor.extract(expected["path"], errors="record")
        assert set(got) == set(expected), expected["path"]
        for key in ("vector", "embedding", "embedding_std"):
            if key in expected:
                assert isinstance(got[key], np.ndarray) and got[key].dtype == np.float32
                np.testing.assert_array_equal(got[key], np.asarray(expected[key], np.float32))
        plain = {k: v for k, v in got.items() if not isinstance(v, np.ndarray)}
        assert plain == {k: v for k, v in expected.items() if k in plain}


def test_every_source_type_gives_the_same_vector(extractor, samples):
    path = samples[0]
    data = path.read_bytes()
    by_path = extractor.extract(str(path))
    # Buffers of every shape the copy into Rust must read byte for byte: a NumPy view, a 2-D
    # array of wider items (C order), an Arrow buffer, and a strided view (not contiguous: the
    # slower path) of a buffer holding the file's bytes at every second position.
    even = len(data) // 16 * 16
    spread = bytearray(2 * len(data))
    spread[::2] = data
    buffers = (
        np.frombuffer(data, dtype=np.uint8),
        np.frombuffer(data[:even], dtype=np.uint32).reshape(4, -1),
        pa.py_buffer(data),
        memoryview(spread)[::2],
    )
    whole = (buffers[0], buffers[2], buffers[3])
    for source in (path, data, bytearray(data), memoryview(data), io.BytesIO(data), open(path, "rb")) + whole:
        record = extractor.extract(source)
        np.testing.assert_array_equal(record["vector"], by_path["vector"])
        assert record["id"] == by_path["id"]
    # The 2-D array holds the file cut to a multiple of 16 bytes: the same id as those bytes.
    assert extractor.extract(buffers[1], errors="record")["id"] == extractor.extract(
        data[:even], errors="record")["id"]
    assert extractor.extract(data, name="x.ogg")["path"] == "x.ogg"
    with open(path, "rb") as f:
        assert extractor.extract(f)["path"] == str(path)


def test_errors_raise_their_kind(extractor, tmp_path):
    with pytest.raises(sonovec.UnsupportedFormatError) as info:
        extractor.extract(b"this is not audio" * 100)
    assert isinstance(info.value, ValueError) and isinstance(info.value, sonovec.DecodeError)
    assert info.value.kind == "unsupported_format"
    assert info.value.record["error"]["kind"] == "unsupported_format"
    with pytest.raises(sonovec.EmptyFileError):
        extractor.extract(b"")
    with pytest.raises(sonovec.ReadError) as info:
        extractor.extract(tmp_path / "missing.flac")
    assert isinstance(info.value, OSError) and info.value.kind == "io"
    record = extractor.extract(b"junk", errors="record")
    assert record["error"]["kind"] == "unsupported_format" and "vector" not in record
    with pytest.raises(TypeError):
        extractor.extract(12345)


def test_batch_rows_match_extract_in_order(extractor, samples):
    sources = [samples[0], b"junk", *samples[1:]]
    paths = [None, "junk.mp3", *[None] * (len(samples) - 1)]
    table = extractor.extract_batch(sources, paths=paths)
    assert table.num_rows == len(sources)
    assert table.schema.equals(sonovec.schema(), check_metadata=True)
    rows = table.to_pylist()
    assert rows[1]["path"] == "junk.mp3" and rows[1]["error_kind"] == "unsupported_format"
    assert rows[1]["vector"] is None
    for row, path in zip(rows[:1] + rows[2:], samples):
        single = extractor.extract(path)
        assert row["path"] == str(path) and row["error_kind"] is None
        assert row["id"] == single["id"]
        np.testing.assert_array_equal(np.asarray(row["vector"], np.float32), single["vector"])
        assert row["tempo_bpm"] == single["tempo"]["bpm"]
        assert row["tags"] == pytest.approx([t["p"] for t in single["tags"]])
    with pytest.raises(ValueError):
        extractor.extract_batch(samples[:2], paths=["only one"])


def test_schema_names_the_vectors():
    msd = sonovec.schema()
    meta = {k.decode(): v.decode() for k, v in msd.metadata.items()}
    assert meta["vector_version"] == sonovec.Extractor().vector_version
    assert meta["model"].startswith("msd_musicnn@")
    mtt = sonovec.schema("mtt").metadata[b"vector_version"].decode()
    assert mtt != meta["vector_version"] and "mtt_musicnn@" in mtt
    assert sonovec.schema(None).metadata[b"model"] == b""
    for field in msd:
        assert field.metadata[b"json_pointer"].startswith(b"/")


def test_the_gil_is_released_during_analysis(samples):
    extractor = sonovec.Extractor(jobs=1)
    entered, done = threading.Event(), threading.Event()

    def work():
        entered.set()
        extractor.extract(samples[0])
        done.set()

    # With a long switch interval, the main thread runs during the analysis only if the
    # analysing thread gives the GIL up by itself.
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        worker = threading.Thread(target=work)
        worker.start()
        entered.wait()
        ran_meanwhile = 0
        while not done.is_set():
            ran_meanwhile += 1
        worker.join()
    finally:
        sys.setswitchinterval(old)
    assert ran_meanwhile > 1000, ran_meanwhile


def test_pickles_by_configuration(samples):
    extractor = sonovec.Extractor("mtt", embed_seconds=6, jobs=2, vector_weights={"tags": 0.5})
    copy = pickle.loads(pickle.dumps(extractor))
    assert type(copy) is sonovec.Extractor
    assert (copy.model, copy.embed_seconds, copy.jobs, copy.vector_version) == (
        "mtt", 6.0, 2, extractor.vector_version,
    )
    np.testing.assert_array_equal(
        copy.extract(samples[1])["vector"], extractor.extract(samples[1])["vector"]
    )
    none = pickle.loads(pickle.dumps(sonovec.Extractor(None)))
    assert none.model is None and none.vector_version.endswith("-descriptors")


def test_too_many_jobs_is_a_value_error_not_a_million_threads():
    with pytest.raises(ValueError, match="at most 1024"):
        sonovec.Extractor(None, jobs=1_000_000)
    assert sonovec.Extractor(None, jobs=1024).jobs == 1024


def test_a_bpm_range_reaches_the_record_the_vector_version_and_the_schema():
    dnb = str(SAMPLES / "dnb_174.opus")
    free = sonovec.Extractor(None).extract(dnb)["tempo"]["bpm"]
    extractor = sonovec.Extractor(None, bpm_range=(60, 120))
    record = extractor.extract(dnb)
    assert abs(free / 174 - 1) < 0.04 and abs(record["tempo"]["bpm"] / 87 - 1) < 0.04
    assert extractor.bpm_range == "60-120"
    assert extractor.vector_version.endswith("-descriptors+bpm60-120")
    assert record["vector_version"] == extractor.vector_version
    metadata = sonovec.schema(None, bpm_range="60-120").metadata
    assert metadata[b"vector_version"].decode() == extractor.vector_version
    copy = pickle.loads(pickle.dumps(extractor))
    assert copy.bpm_range == "60-120" and copy.extract(dnb)["tempo"] == record["tempo"]
    with pytest.raises(ValueError, match="at least an octave"):
        sonovec.Extractor(None, bpm_range=(150, 200))
    with pytest.raises(TypeError):
        sonovec.Extractor(None, bpm_range=150)


def _vector_in_child(extractor, path, queue):
    queue.put(extractor.extract(path)["vector"].tolist())


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_safe_after_fork(samples):
    extractor = sonovec.Extractor(jobs=2)
    # The parent's pool threads exist now; the child must not wait for them.
    parent = extractor.extract(samples[2])["vector"]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_vector_in_child, args=(extractor, samples[2], queue))
    child.start()
    vector = queue.get(timeout=120)
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(np.asarray(vector, np.float32), parent)


def test_load_decodes_and_resamples(extractor, samples):
    path = samples[0]
    record = extractor.extract(path)
    native, rate = sonovec.load(path, sr=None, mono=False)
    assert rate == record["sample_rate"] and native.dtype == np.float32
    assert native.shape == (record["channels"], round(record["duration_s"] * rate))
    mono_native, _ = sonovec.load(path, sr=None)
    np.testing.assert_allclose(mono_native, native.mean(axis=0), atol=1e-6)
    y, sr = sonovec.load(path)
    assert sr == 16000 and y.ndim == 1
    assert len(y) == int(np.ceil(native.shape[1] * 16000 / rate))
    # The same signal the analyzer hears: its RMS matches the record's frame RMS roughly.
    assert 0.001 < float(np.sqrt(np.mean(y**2))) < 1.0
    with pytest.raises(sonovec.DecodeError):
        sonovec.load(b"not audio at all")
