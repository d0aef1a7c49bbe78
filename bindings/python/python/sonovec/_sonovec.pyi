import os
from typing import Any, Iterable, Mapping

import numpy as np
from typing_extensions import disjoint_base

__all__ = ["Extractor", "_schema", "load", "__version__"]
__version__: str

@disjoint_base
class Extractor:
    def __new__(
        cls,
        model: str | os.PathLike[str] | None = ...,
        embed_seconds: float | None = None,
        jobs: int | None = 1,
        max_duration: float = 21600.0,
        beats: bool = False,
        vector_weights: str | Mapping[str, float] | None = None,
        bpm_range: str | tuple[float, float] | None = None,
    ) -> Extractor: ...
    def _extract(self, source: Any, name: str | None = None) -> dict[str, Any]: ...
    def _extract_batch(
        self, sources: Iterable[Any], paths: list[str | None] | None = None
    ) -> bytes: ...
    def _schema(self) -> bytes: ...
    @property
    def vector_version(self) -> str:
        """``vector_version`` of this extractor's vectors (names the model by content hash)."""
    @property
    def model_id(self) -> str | None:
        """Id of the embedding model, ``<name>@<sha256 prefix>``; ``None`` without one."""
    @property
    def model(self) -> str | None: ...
    @property
    def embed_seconds(self) -> float | None: ...
    @property
    def jobs(self) -> int: ...
    @property
    def max_duration(self) -> float: ...
    @property
    def beats(self) -> bool: ...
    @property
    def vector_weights(self) -> str | None: ...
    @property
    def bpm_range(self) -> str | None: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

def _schema(
    model: str | os.PathLike[str] | None = ...,
    vector_weights: str | Mapping[str, float] | None = None,
    bpm_range: str | tuple[float, float] | None = None,
) -> bytes: ...
def load(
    source: Any, sr: int | None = ..., mono: bool = True, max_duration: float = 21600.0
) -> tuple[np.ndarray, int]: ...
