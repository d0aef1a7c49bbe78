"""What an engine's worker hands the extractor for a row that names its file instead of
carrying its bytes (Ray Data from paths or a manifest, Spark's ``binaryFile`` without its
``content`` column): the worker then reads the file itself, and no copy of it travels through
the engine."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pyarrow as pa


def source_of(path: str | None) -> Any:
    """What the extractor reads for one ``path`` value: the path itself when it is local (Rust
    opens it; a missing file is that row's ``io`` error), the bytes behind a URI otherwise."""
    if path is None:
        return b""
    scheme, _, rest = path.partition(":")
    if not rest or "/" in scheme or len(scheme) < 2:
        return path  # a plain path (or a Windows drive letter)
    if scheme == "file":
        return urllib.parse.unquote(urllib.parse.urlparse(path).path)
    import pyarrow.fs

    if scheme in ("s3a", "s3n"):
        path = "s3" + path[len(scheme) :]  # Hadoop's names for S3; pyarrow knows it as s3
    try:
        fs, inner = pyarrow.fs.FileSystem.from_uri(path)
        with fs.open_input_stream(inner) as stream:
            return stream.read()
    except (OSError, pa.ArrowInvalid):
        # Unreadable: the URI goes on as a path, which Rust fails to open, so the row is an
        # `io` error record and the batch goes on.
        return path
