"""Query embedding under a slow or failing model: a timeout that degrades the search to BM25, loading
locks per model, and failed loads backed off (service.embedding), with fake models."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import pytest

from govsearch.settings import Settings
from service.admission import Admission
from service.embedding import EmbedderPool, LoadedModels, ModelUnavailable, QueryEmbedder
from service.query import SearchRequest
from service.search import Searcher
from tests.unit.es_fakes import FakeBackend, aggregations, hit, kind, response

AGGS = aggregations()


class BlockedModel:
    """A query model whose every computation waits for `release`; counts how many run at once and records
    the texts of each. A text's vector is `vector_of(text)`."""

    def __init__(self, vector_of: Callable[[str], list[float]] = lambda text: [0.6, 0.8],
                 error: Exception | None = None) -> None:
        self.release = threading.Event()
        self.running = 0
        self.most_at_once = 0
        self.batches: list[list[str]] = []
        self.vector_of = vector_of
        self.error = error
        self._count = threading.Lock()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        with self._count:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.batches.append(list(texts))
        try:
            assert self.release.wait(10), "the test never released the model"
            if self.error is not None:
                raise self.error
            return np.array([self.vector_of(text) for text in texts])
        finally:
            with self._count:
                self.running -= 1


class OneModelPool:
    def __init__(self, model: BlockedModel) -> None:
        self.model = model

    def get(self, name: str) -> BlockedModel:
        return self.model


class NoNodeEs:
    """An AsyncElasticsearch with no node behind it: the live model stays the configured one."""

    def options(self, **_: Any) -> NoNodeEs:
        return self

    @property
    def indices(self) -> NoNodeEs:
        return self

    async def get_mapping(self, **_: Any) -> dict:
        raise ConnectionError("no node")


def query_embedder(model: BlockedModel, timeout: float, **options: Any) -> QueryEmbedder:
    return QueryEmbedder(cast(EmbedderPool, OneModelPool(model)), cast(Any, NoNodeEs()), "alias", "usem3",
                         timeout=timeout, max_concurrent=1, **options)


def numbered(text: str) -> list[float]:
    """查询7 → [7.0, 1.0]: a vector that tells which query it was computed for."""
    return [float(text.removeprefix("查询")), 1.0]


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


def test_a_slow_query_embedding_times_out_and_the_search_answers_from_bm25() -> None:
    model = BlockedModel()
    embedder = query_embedder(model, timeout=0.1)
    settings = Settings(_env_file=None, query_embedding_timeout=0.1)  # type: ignore[call-arg]
    backend = FakeBackend(bm25=response([hit("b1", 30.0)], AGGS))

    async def scenario() -> tuple[dict, float, list[float]]:
        started = time.monotonic()
        result = await Searcher(backend, embedder, settings).search(SearchRequest(q="港西镇", mode="hybrid"))
        waited = time.monotonic() - started
        model.release.set()
        while embedder._cache == {}:  # the abandoned computation finishes in its thread ...
            await asyncio.sleep(0.01)
        return result, waited, await embedder.embed("港西镇")  # ... and its vector serves the next query

    result, waited, vector = asyncio.run(scenario())
    assert waited < 2
    assert result["degraded"] is True and "longer than 0.1 s" in result["degraded_reason"]
    assert [kind(body) for body in backend.bodies] == ["bm25"] and [h["id"] for h in result["hits"]] == ["b1"]
    assert vector == pytest.approx([0.6, 0.8]) and embedder.hits == 1


def test_queries_that_stop_waiting_do_not_pile_up_embeddings() -> None:
    model = BlockedModel()
    embedder = query_embedder(model, timeout=0.05)

    async def scenario() -> list[BaseException | list[float]]:
        outcomes = await asyncio.gather(*(embedder.embed(f"查询{i}") for i in range(5)), return_exceptions=True)
        model.release.set()
        await _until(lambda: embedder._running == 0 and not embedder._pending)
        return outcomes

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    assert model.most_at_once == 1  # MAX_CONCURRENT_EMBEDDINGS holds even for computations nobody waits for
    # The first went on in its thread and filled the cache; the four nobody waited for any more were dropped.
    assert model.batches == [["查询0"]] and list(embedder._cache) == [("usem3", "查询0")]


def test_queries_that_arrive_during_a_computation_are_embedded_together_in_the_next() -> None:
    model = BlockedModel(numbered)
    embedder = query_embedder(model, timeout=5)

    async def scenario() -> list[list[float]]:
        first = asyncio.ensure_future(embedder.embed("查询0"))
        await _until(lambda: model.running == 1)
        later = [asyncio.ensure_future(embedder.embed(f"查询{i}")) for i in range(1, 4)]
        await asyncio.sleep(0.05)
        model.release.set()
        return list(await asyncio.gather(first, *later))

    vectors = asyncio.run(scenario())
    assert model.batches == [["查询0"], ["查询1", "查询2", "查询3"]]
    assert vectors == [[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]  # each query its own row
    assert model.most_at_once == 1 and embedder.batches == 2 and embedder.misses == 4
    assert embedder._cache[("usem3", "查询2")] == [2.0, 1.0]


def test_a_batch_holds_at_most_max_batch_queries_oldest_first() -> None:
    model = BlockedModel(numbered)
    embedder = query_embedder(model, timeout=5, max_batch=2)

    async def scenario() -> None:
        first = asyncio.ensure_future(embedder.embed("查询0"))
        await _until(lambda: model.running == 1)
        later = [asyncio.ensure_future(embedder.embed(f"查询{i}")) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        model.release.set()
        await asyncio.gather(first, *later)

    asyncio.run(scenario())
    assert model.batches == [["查询0"], ["查询1", "查询2"], ["查询3", "查询4"], ["查询5"]]


def test_the_same_query_asked_while_it_is_computed_waits_for_that_computation() -> None:
    model = BlockedModel(numbered)
    embedder = query_embedder(model, timeout=5)

    async def scenario() -> list[list[float]]:
        asked = [asyncio.ensure_future(embedder.embed("查询1")) for _ in range(3)]
        await _until(lambda: model.running == 1)
        asked.append(asyncio.ensure_future(embedder.embed("查询1")))
        await asyncio.sleep(0.05)
        model.release.set()
        return list(await asyncio.gather(*asked))

    assert asyncio.run(scenario()) == [[1.0, 1.0]] * 4
    assert model.batches == [["查询1"]]


def test_a_failing_computation_fails_every_query_of_its_batch_and_the_next_batch_runs() -> None:
    model = BlockedModel(numbered, error=OSError("weights unreadable"))
    embedder = query_embedder(model, timeout=5)

    async def scenario() -> list[BaseException | list[float]]:
        asked = [asyncio.ensure_future(embedder.embed(f"查询{i}")) for i in range(3)]
        await _until(lambda: model.running == 1)
        model.release.set()
        outcomes = await asyncio.gather(*asked, return_exceptions=True)
        model.error = None
        return [*outcomes, await embedder.embed("查询0")]

    *failed, vector = asyncio.run(scenario())
    assert all(isinstance(outcome, OSError) for outcome in failed) and vector == [0.0, 1.0]
    assert model.batches == [["查询0"], ["查询1", "查询2"], ["查询0"]] and embedder._cache.keys() == {("usem3", "查询0")}


def test_searches_waiting_for_a_slot_have_their_vectors_computed_meanwhile_together() -> None:
    model = BlockedModel()
    embedder = query_embedder(model, timeout=5)
    admission = Admission(limit=1, queue_wait=5)
    backend = FakeBackend(bm25=response([hit("b1", 30.0)]), knn=response([hit("v1", 0.9)]))
    searcher = Searcher(backend, embedder, Settings(_env_file=None), admission)  # type: ignore[call-arg]

    async def scenario() -> list[dict]:
        gate = asyncio.Event()

        async def hold() -> None:  # another search's slot, held until the gate opens
            async with admission.slot():
                await gate.wait()

        holder = asyncio.ensure_future(hold())
        await _until(lambda: admission.in_flight == 1)
        searches = [asyncio.ensure_future(searcher.search(SearchRequest(q=q, mode="hybrid")))
                    for q in ("港西镇", "河长制", "垃圾分类")]
        await _until(lambda: model.running == 1)
        await asyncio.sleep(0.05)
        model.release.set()
        await _until(lambda: admission.waiting == 3)  # every vector computed, every search waiting for the slot
        assert backend.calls == []  # no candidate search yet (only the town names, read once, before any slot)
        gate.set()
        await holder
        return list(await asyncio.gather(*searches))

    results = asyncio.run(scenario())
    assert model.batches == [["港西镇"], ["河长制", "垃圾分类"]]
    assert all(not r["degraded"] and {h["id"] for h in r["hits"]} == {"b1", "v1"} for r in results)


def test_loading_one_model_does_not_wait_for_another() -> None:
    slow_started, release = threading.Event(), threading.Event()

    def load(name: str) -> str:
        if name == "slow":
            slow_started.set()
            assert release.wait(10)
        return f"model {name}"

    models: LoadedModels[str] = LoadedModels(load, retry_after=30)
    loading = threading.Thread(target=models.get, args=("slow",))
    loading.start()
    assert slow_started.wait(5)
    started = time.monotonic()
    assert models.get("fast") == "model fast"
    assert time.monotonic() - started < 1
    release.set()
    loading.join()
    assert models.get("slow") == "model slow"


def test_a_failing_model_is_not_reloaded_on_every_query_but_after_the_delay() -> None:
    clock = [1000.0]
    attempts: list[str] = []

    def load(name: str) -> str:
        attempts.append(name)
        if len(attempts) < 3:
            raise OSError("weights missing")
        return "loaded"

    models: LoadedModels[str] = LoadedModels(load, retry_after=30, clock=lambda: clock[0])
    for _ in range(5):
        with pytest.raises(ModelUnavailable, match="weights missing"):
            models.get("m")
    assert attempts == ["m"]
    clock[0] += 31
    with pytest.raises(ModelUnavailable):
        models.get("m")
    assert attempts == ["m", "m"]
    clock[0] += 31
    assert models.get("m") == "loaded" and models.get("m") == "loaded"
    assert attempts == ["m", "m", "m"]
