"""Query embeddings for the API: the right model, off the event loop, cached.

Queries must be embedded by the model that embedded the live index, which an
admin reindex may change while the API runs. The live index records its model
in its mapping `_meta`; the API follows it, loading a model the first time it
is needed and keeping it for later queries.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from pathlib import Path

from elasticsearch import AsyncElasticsearch

from indexer.embeddings import Embedder, load_embedder


class EmbedderPool:
    """Loaded models by name; loading is slow, so each is loaded once and shared (indexer jobs too)."""

    def __init__(self, cache_dir: Path | None, threads: int | None = None) -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self._models: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Embedder:
        with self._lock:
            if name not in self._models:
                self._models[name] = load_embedder(name, self.cache_dir, threads=self.threads)
            return self._models[name]


class QueryEmbedder:
    """Embeds a query with the live index's model, with an LRU cache in front."""

    def __init__(self, pool: EmbedderPool, es: AsyncElasticsearch, alias: str, default_model: str,
                 cache_size: int = 2048, meta_ttl: float = 5.0) -> None:
        self.pool = pool
        self.es = es
        self.alias = alias
        self.default_model = default_model
        self.cache_size = cache_size
        self.meta_ttl = meta_ttl
        self._cache: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._live_model: tuple[float, str] | None = None
        self._refresh: asyncio.Task[None] | None = None
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
        vector = await asyncio.to_thread(self._embed_sync, key[0], text)
        self._cache[key] = vector
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return vector

    def _embed_sync(self, model: str, text: str) -> list[float]:
        return self.pool.get(model).embed_query(text).tolist()
