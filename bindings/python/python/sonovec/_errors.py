"""The exceptions sonovec raises, one per error kind of the record (``error.kind``)."""

from __future__ import annotations

from typing import Any


class SonovecError(Exception):
    """An input sonovec could not analyse.

    ``kind`` is the record's ``error.kind`` (``unsupported_format``, ``corrupt``, ``empty``,
    ``too_long``, ``io``, ``internal``, ...), ``message`` its ``error.message`` and ``record``
    the whole error record (``None`` from :func:`sonovec.load`).
    """

    def __init__(self, kind: str, message: str, record: dict[str, Any] | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.record = record


class DecodeError(SonovecError, ValueError):
    """The input itself is at fault: not audio sonovec can decode, broken, empty, too long."""


class UnsupportedFormatError(DecodeError):
    """No container or codec sonovec can decode (``unsupported_format``)."""


class CorruptFileError(DecodeError):
    """A recognised format whose data is broken (``corrupt``)."""


class EmptyFileError(DecodeError):
    """No audio samples in the input (``empty``)."""


class TooLongError(DecodeError):
    """Longer than ``max_duration`` (``too_long``)."""


class ReadError(SonovecError, OSError):
    """The input could not be read: missing, a directory, no permission (``io``)."""


class InternalError(SonovecError, RuntimeError):
    """A bug in sonovec rather than a property of the input (``internal``)."""


_BY_KIND: dict[str, type[SonovecError]] = {
    "unsupported_format": UnsupportedFormatError,
    "corrupt": CorruptFileError,
    "empty": EmptyFileError,
    "too_long": TooLongError,
    "io": ReadError,
    "internal": InternalError,
}


def error_for(
    kind: str, message: str, bad_input: bool, record: dict[str, Any] | None = None
) -> SonovecError:
    """The exception for an error of ``kind``; a kind newer than this table falls back to
    :class:`DecodeError` when the input is at fault, else :class:`InternalError`."""
    cls = _BY_KIND.get(kind) or (DecodeError if bad_input else InternalError)
    return cls(kind, message, record)


def raise_for_record(record: dict[str, Any]) -> None:
    """Raises the exception of an error record; returns for a successful one."""
    error = record.get("error")
    if error is None:
        return
    kind = error.get("kind", "internal")
    bad_input = kind not in ("io", "internal")
    raise error_for(kind, error.get("message", ""), bad_input, record)
